package contract

import (
	"context"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestNamespaces: a second namespace and the `namespace=*` reads the controller relies on (job,
// allocation and variable lists, the event stream, which resolves `*` when it opens).
func TestNamespaces(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		h := fnv.New32a()
		h.Write([]byte(t.Name()))
		ns := fmt.Sprintf("team-%08x", h.Sum32())
		w := &api.WriteOptions{Namespace: ns}
		id := uniq(t, "nsjob")
		job := serviceJob(id)
		job.Namespace = ptr(ns)
		if _, _, err := c.Jobs().Register(job, w); err != nil {
			t.Fatal(err)
		}

		check(t, "namespaces-list", func(t *testing.T) {
			list, _, err := c.Namespaces().List(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range list {
				if n.Name == ns {
					return
				}
			}
			t.Fatalf("namespace %s not listed", ns)
		})
		check(t, "jobs-wildcard", func(t *testing.T) {
			all, _, err := c.Jobs().List(&api.QueryOptions{Namespace: "*"})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, j := range all {
				found = found || j.ID == id && j.Namespace == ns
			}
			if !found {
				t.Fatalf("job %s/%s not in the namespace=* list", ns, id)
			}
			def, _, err := c.Jobs().List(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range def {
				if j.ID == id {
					t.Fatalf("job of namespace %s listed in default", ns)
				}
			}
			if _, _, err := c.Jobs().Info(id, nil); statusOf(err) != 404 {
				t.Fatalf("job read in the default namespace: %v", err)
			}
			if _, _, err := c.Jobs().Info(id, &api.QueryOptions{Namespace: ns}); err != nil {
				t.Fatal(err)
			}
		})
		check(t, "allocations-wildcard", func(t *testing.T) {
			q := &api.QueryOptions{Namespace: ns}
			var allocs []*api.AllocationListStub
			waitFor(t, 20*time.Second, "an allocation in "+ns, func() (bool, error) {
				var err error
				allocs, _, err = c.Jobs().Allocations(id, false, q)
				return len(allocs) > 0, err
			})
			all, _, err := c.Allocations().List(&api.QueryOptions{Namespace: "*"})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range all {
				if a.ID == allocs[0].ID && a.Namespace == ns {
					return
				}
			}
			t.Fatalf("alloc %s not in the namespace=* list", allocs[0].ID)
		})
		check(t, "variables-wildcard", func(t *testing.T) {
			path := "nomad/jobs/" + id + "/lock"
			if _, _, err := c.Variables().AcquireLock(&api.Variable{Path: path, Namespace: ns,
				Lock: &api.VariableLock{TTL: "10s", LockDelay: "1s"}}, w); err != nil {
				t.Fatal(err)
			}
			list, _, err := c.Variables().PrefixList("nomad/jobs/", &api.QueryOptions{Namespace: "*"})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range list {
				if m.Path == path && m.Namespace == ns {
					return
				}
			}
			t.Fatalf("%s/%s not in the namespace=* variable list", ns, path)
		})
		check(t, "event-stream-wildcard", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch, err := c.EventStream().Stream(ctx, map[api.Topic][]string{api.TopicJob: {"*"}}, 0,
				&api.QueryOptions{Namespace: "*"})
			if err != nil {
				t.Fatal(err)
			}
			second := serviceJob(id + "-2")
			second.Namespace = ptr(ns)
			if _, _, err := c.Jobs().Register(second, w); err != nil {
				t.Fatal(err)
			}
			nextEvent(t, ch, 10*time.Second, "JobRegistered in "+ns, func(e *api.Event) bool {
				if e.Type != "JobRegistered" || e.Key != id+"-2" {
					return false
				}
				j, err := e.Job() // api.Event has no Namespace field: read the payload's
				return err == nil && j != nil && j.Namespace != nil && *j.Namespace == ns
			})
		})
	})
}
