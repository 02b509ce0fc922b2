package contract

import (
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/nomad/api"
)

// requiredRoutes are the routes the suite must have called on every simulator: each route the
// product uses (controller/nomad_client/http_nomad_api.cc, the event stream reader, the lock agent's
// variable calls; the demo and the fault simulation use the same ones) and the routes issue 12
// found missing. PUT and POST are one method here (Nomad accepts either for writes; the product
// sends POST, the api client PUT).
var requiredRoutes = []string{
	// Product.
	"PUT /v1/jobs", "GET /v1/jobs", "GET /v1/job/:id", "DELETE /v1/job/:id",
	"PUT /v1/job/:id/plan", "GET /v1/job/:id/allocations", "PUT /v1/job/:id/evaluate",
	"GET /v1/allocations", "GET /v1/allocation/:id", "PUT /v1/allocation/:id/stop",
	"GET /v1/nodes", "GET /v1/var/:path", "PUT /v1/var/:path", "DELETE /v1/var/:path",
	"GET /v1/vars", "GET /v1/acl/policies", "GET /v1/acl/policy/:name", "PUT /v1/acl/policy/:name",
	"DELETE /v1/acl/policy/:name", "GET /v1/namespaces", "GET /v1/agent/self",
	"GET /v1/event/stream",
	// Issue 12.
	"GET /v1/evaluations", "GET /v1/evaluation/:id", "GET /v1/evaluation/:id/allocations",
	"GET /v1/acl/token/self", "GET /v1/job/:id/summary", "GET /v1/job/:id/versions",
	"GET /v1/job/:id/deployment", "PUT /v1/validate/job", "GET /v1/status/leader",
	"GET /v1/status/peers", "GET /v1/regions", "PUT /v1/jobs/parse",
	// Also served.
	"GET /v1/job/:id/evaluations", "PUT /v1/job/:id/periodic/force", "GET /v1/node/:id",
	"GET /v1/node/:id/allocations",
}

// checkRouteCoverage asks each simulator which routes it was called on (GET /v1/sim/requests)
// and reports the required routes none of the tests called. Skipped when -run selects tests.
func checkRouteCoverage() error {
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		return nil
	}
	var missing []string
	for _, s := range sims {
		c, err := api.NewClient(&api.Config{Address: s.addr, SecretID: s.token})
		if err != nil {
			return err
		}
		var out struct{ Counts map[string]uint64 }
		if _, err := c.Raw().Query("/v1/sim/requests", &out, nil); err != nil {
			return fmt.Errorf("sim %s: GET /v1/sim/requests: %v", s.name, err)
		}
		seen := map[string]bool{}
		for route, n := range out.Counts {
			if n > 0 {
				seen[strings.Replace(route, "POST ", "PUT ", 1)] = true
			}
		}
		for _, r := range requiredRoutes {
			if !seen[r] {
				missing = append(missing, s.name+": "+r)
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("routes the suite never called:\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}
