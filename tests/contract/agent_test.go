package contract

import (
	"strings"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// TestAgent: status (leader, peers), regions, agent self (the profile's version), namespaces.
func TestAgent(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		check(t, "status-leader", func(t *testing.T) {
			leader, err := c.Status().Leader()
			if err != nil || !strings.Contains(leader, ":") {
				t.Fatalf("Status().Leader: %q %v", leader, err)
			}
			peers, err := c.Status().Peers()
			if err != nil || len(peers) != 1 || peers[0] != leader {
				t.Fatalf("Status().Peers: %v %v", peers, err)
			}
		})
		check(t, "regions", func(t *testing.T) {
			regions, err := c.Regions().List()
			if err != nil || len(regions) != 1 || regions[0] != "global" {
				t.Fatalf("Regions().List: %v %v", regions, err)
			}
		})
		check(t, "agent-self", func(t *testing.T) {
			self, err := c.Agent().Self()
			if err != nil {
				t.Fatal(err)
			}
			build := self.Member.Tags["build"]
			if !strings.HasPrefix(build, s.profile+".") {
				t.Fatalf("build tag %q, want profile %s", build, s.profile)
			}
			if s.acl {
				// Agent().Self wraps the error with %s: only its text is left.
				_, err := s.clientWith(t, "").Agent().Self()
				if err == nil || !strings.Contains(err.Error(), "403 (Permission denied)") {
					t.Fatalf("anonymous agent self: %v", err)
				}
			}
		})
		check(t, "namespaces", func(t *testing.T) {
			register(t, c, serviceJob(uniq(t, "ns")))
			list, _, err := c.Namespaces().List(nil)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, n := range list {
				found = found || n.Name == "default"
			}
			if !found {
				t.Fatalf("namespaces %v lack default", list)
			}
		})
		check(t, "evaluations-list-blocking", func(t *testing.T) {
			_, meta, err := c.Evaluations().List(nil)
			if err != nil {
				t.Fatal(err)
			}
			wakesOn(t, "evaluation list", meta.LastIndex, func(q *api.QueryOptions) (*api.QueryMeta, error) {
				_, m, err := c.Evaluations().List(q)
				return m, err
			}, func() { register(t, c, serviceJob(uniq(t, "evwake"))) })
		})
	})
}
