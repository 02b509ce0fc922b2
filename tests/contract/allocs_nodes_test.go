package contract

import (
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestAllocations: info, list, stop with a replacement (PreviousAllocation / NextAllocation).
func TestAllocations(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		id := uniq(t, "alloc")
		register(t, c, serviceJob(id))
		stub := runningAllocs(t, c, id, 1)[0]

		check(t, "info", func(t *testing.T) {
			a, meta, err := c.Allocations().Info(stub.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a.ID != stub.ID || a.JobID != id || a.Job == nil || *a.Job.ID != id || a.EvalID == "" ||
				a.ClientStatus != "running" || a.TaskStates["app"] == nil || a.TaskStates["app"].State != "running" {
				t.Fatalf("allocation %+v", a)
			}
			if meta.LastIndex == 0 {
				t.Fatal("no index")
			}
			_, _, err = c.Allocations().Info("00000000-0000-0000-0000-00000000dead", nil)
			wantStatus(t, err, 404, "alloc not found")
		})

		check(t, "list", func(t *testing.T) {
			list, _, err := c.Allocations().List(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range list {
				if a.ID == stub.ID {
					return
				}
			}
			t.Fatalf("alloc %s not listed", stub.ID)
		})

		// Field selection (command/agent/alloc_endpoint.go @ v2.0.5): the controller's relist asks
		// for stubs without TaskStates.
		check(t, "list-without-task-states", func(t *testing.T) {
			find := func(params map[string]string) *api.AllocationListStub {
				list, _, err := c.Allocations().List(&api.QueryOptions{Params: params})
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range list {
					if a.ID == stub.ID {
						return a
					}
				}
				t.Fatalf("alloc %s not listed", stub.ID)
				return nil
			}
			if a := find(nil); a.TaskStates["app"] == nil {
				t.Fatalf("TaskStates missing by default: %+v", a.TaskStates)
			}
			if a := find(map[string]string{"task_states": "false"}); a.TaskStates != nil {
				t.Fatalf("task_states=false: TaskStates %+v", a.TaskStates)
			}
			_, _, err := c.Allocations().List(&api.QueryOptions{Params: map[string]string{"task_states": "maybe"}})
			wantStatus(t, err, 500, "as a bool")
		})

		check(t, "stop-replaces", func(t *testing.T) {
			a, _, err := c.Allocations().Info(stub.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Allocations().Stop(a, nil)
			if err != nil || resp.EvalID == "" || resp.LastIndex == 0 {
				t.Fatalf("Stop: %+v %v", resp, err)
			}
			var repl *api.Allocation
			waitFor(t, 20*time.Second, "a replacement allocation", func() (bool, error) {
				old, _, err := c.Allocations().Info(stub.ID, nil)
				if err != nil || old.NextAllocation == "" {
					return false, err
				}
				repl, _, err = c.Allocations().Info(old.NextAllocation, nil)
				return err == nil && old.DesiredStatus == "stop", err
			})
			if repl.PreviousAllocation != stub.ID {
				t.Fatalf("replacement's PreviousAllocation %q, want %q", repl.PreviousAllocation, stub.ID)
			}
			runningAllocs(t, c, id, 1)
			_, err = c.Allocations().Stop(&api.Allocation{ID: "00000000-0000-0000-0000-00000000dead"}, nil)
			wantStatus(t, err, 404, "not found")
		})
	})
}

// TestNodes: list (blocking), info, the node's allocations.
func TestNodes(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		var nodes []*api.NodeListStub
		check(t, "list", func(t *testing.T) {
			var meta *api.QueryMeta
			var err error
			nodes, meta, err = c.Nodes().List(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(nodes) < 3 || meta.LastIndex == 0 {
				t.Fatalf("%d nodes, index %d", len(nodes), meta.LastIndex)
			}
			for _, n := range nodes {
				if n.Status != "ready" || n.Datacenter != "dc1" || n.NodePool != "default" || n.ID == "" {
					t.Fatalf("node %+v", n)
				}
			}
		})
		check(t, "list-blocking", func(t *testing.T) {
			_, meta, err := c.Nodes().List(nil)
			if err != nil {
				t.Fatal(err)
			}
			// A node added through the control API wakes a blocking list.
			wakesOn(t, "node list", meta.LastIndex, func(q *api.QueryOptions) (*api.QueryMeta, error) {
				_, m, err := c.Nodes().List(q)
				return m, err
			}, func() {
				simPost(t, s, "/v1/sim/nodes", map[string]any{"Count": 1, "Datacenter": "dc9"}, nil)
			})
		})
		check(t, "info", func(t *testing.T) {
			if len(nodes) == 0 {
				t.Skip("no nodes")
			}
			n, _, err := c.Nodes().Info(nodes[0].ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if n.ID != nodes[0].ID || n.Status != "ready" || n.Name == "" {
				t.Fatalf("node %+v", n)
			}
			_, _, err = c.Nodes().Info("00000000-0000-0000-0000-00000000dead", nil)
			wantStatus(t, err, 404, "node not found")
		})
		check(t, "allocations", func(t *testing.T) {
			id := uniq(t, "nodealloc")
			register(t, c, serviceJob(id))
			stub := runningAllocs(t, c, id, 1)[0]
			allocs, _, err := c.Nodes().Allocations(stub.NodeID, nil)
			if err != nil {
				t.Fatalf("Nodes().Allocations: %v", err)
			}
			for _, a := range allocs {
				if a.ID == stub.ID {
					if a.Job == nil || a.NodeID != stub.NodeID {
						t.Fatalf("node allocation %+v", a)
					}
					return
				}
			}
			t.Fatalf("alloc %s not among node %s's allocations", stub.ID, stub.NodeID)
		})
	})
}
