package contract

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestJobs: register (EnforceIndex), info, list (blocking), plan with a diff, allocations,
// evaluations, summary, versions, latest deployment, validate, force evaluate, deregister,
// periodic jobs.
func TestJobs(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		id := uniq(t, "job")
		job := serviceJob(id)
		var reg *api.JobRegisterResponse

		check(t, "register", func(t *testing.T) { reg = register(t, c, job) })

		check(t, "register-enforce-index", func(t *testing.T) {
			// A stale index is refused with Nomad's 500 text; the current one is accepted.
			_, _, err := c.Jobs().EnforceRegister(serviceJob(id), 1, nil)
			wantStatus(t, err, 500, "conflicting job modify index")
			// 0 means "the job must not exist".
			_, _, err = c.Jobs().EnforceRegister(serviceJob(id), 0, nil)
			wantStatus(t, err, 500, "job already exists")
			cur, _, err := c.Jobs().Info(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			j := serviceJob(id)
			j.Meta = map[string]string{"rev": "2"}
			resp, _, err := c.Jobs().EnforceRegister(j, *cur.JobModifyIndex, nil)
			if err != nil {
				t.Fatalf("enforce register at %d: %v", *cur.JobModifyIndex, err)
			}
			if resp.JobModifyIndex <= *cur.JobModifyIndex {
				t.Fatalf("JobModifyIndex %d not after %d", resp.JobModifyIndex, *cur.JobModifyIndex)
			}
			nid := uniq(t, "fresh")
			if _, _, err := c.Jobs().EnforceRegister(serviceJob(nid), 0, nil); err != nil {
				t.Fatalf("enforce register of a new job at 0: %v", err)
			}
		})

		check(t, "info", func(t *testing.T) {
			got, meta, err := c.Jobs().Info(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if *got.ID != id || *got.Type != "service" || *got.Namespace != "default" || *got.Version != 1 {
				t.Fatalf("job: ID %q Type %q Namespace %q Version %d", *got.ID, *got.Type, *got.Namespace, *got.Version)
			}
			if meta.LastIndex == 0 || !meta.KnownLeader {
				t.Fatalf("query meta %+v", meta)
			}
			_, _, err = c.Jobs().Info(id+"-missing", nil)
			wantStatus(t, err, 404, "job not found")
		})

		check(t, "list-blocking", func(t *testing.T) {
			list, meta, err := c.Jobs().List(nil)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, j := range list {
				if j.ID == id && j.JobSummary != nil {
					_, hasApp := j.JobSummary.Summary["app"]
					found = j.Type == "service" && hasApp
				}
			}
			if !found {
				t.Fatalf("job %s not in the list", id)
			}
			wakesOn(t, "job list", meta.LastIndex, func(q *api.QueryOptions) (*api.QueryMeta, error) {
				_, m, err := c.Jobs().List(q)
				return m, err
			}, func() { register(t, c, serviceJob(uniq(t, "wake"))) })
			// A blocking query that sees no change answers at its wait (virtual time: the
			// simulator's clock) with the same index.
			start := time.Now()
			_, m2, err := c.Jobs().Info(id, &api.QueryOptions{WaitIndex: 1 << 40, WaitTime: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); m2.LastIndex >= 1<<40 || el < simTime(20*time.Second)/2 || el > 10*time.Second {
				t.Fatalf("timed-out blocking read: index %d after %v", m2.LastIndex, el)
			}
		})

		check(t, "plan-diff", func(t *testing.T) {
			cur, _, err := c.Jobs().Info(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			same := serviceJob(id)
			same.Meta = cur.Meta
			p, _, err := c.Jobs().Plan(same, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Diff == nil || p.Diff.Type != "None" {
				t.Fatalf("unchanged plan: diff %+v", p.Diff)
			}
			if p.JobModifyIndex != *cur.JobModifyIndex {
				t.Fatalf("plan JobModifyIndex %d, job's %d", p.JobModifyIndex, *cur.JobModifyIndex)
			}
			changed := serviceJob(id)
			changed.TaskGroups[0].Tasks[0].Config["image"] = "example/app:2"
			p, _, err = c.Jobs().Plan(changed, true, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Diff == nil || p.Diff.Type != "Edited" || len(p.Diff.TaskGroups) != 1 {
				t.Fatalf("changed plan: diff %+v", p.Diff)
			}
			if u := p.Annotations.DesiredTGUpdates["app"]; u == nil || u.DestructiveUpdate != 1 {
				t.Fatalf("changed plan: DesiredTGUpdates %+v", p.Annotations.DesiredTGUpdates)
			}
		})

		var allocs []*api.AllocationListStub
		check(t, "allocations", func(t *testing.T) {
			allocs = runningAllocs(t, c, id, 1)
			if allocs[0].JobID != id || allocs[0].TaskGroup != "app" || allocs[0].NodeID == "" {
				t.Fatalf("alloc stub %+v", allocs[0])
			}
		})

		check(t, "evaluations", func(t *testing.T) {
			evals, _, err := c.Jobs().Evaluations(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(evals) == 0 {
				t.Fatal("no evaluations for the job")
			}
			ev, meta, err := c.Evaluations().Info(reg.EvalID, nil)
			if err != nil {
				t.Fatalf("Evaluations().Info(%s): %v", reg.EvalID, err)
			}
			if ev.ID != reg.EvalID || ev.JobID != id || ev.TriggeredBy != "job-register" || meta.LastIndex == 0 {
				t.Fatalf("eval %+v", ev)
			}
			_, _, err = c.Evaluations().Info("00000000-0000-0000-0000-00000000dead", nil)
			wantStatus(t, err, 404, "eval not found")
			list, _, err := c.Evaluations().List(&api.QueryOptions{Filter: ""})
			if err != nil {
				t.Fatal(err)
			}
			seen := false
			for _, e := range list {
				seen = seen || e.ID == reg.EvalID
			}
			if !seen {
				t.Fatalf("eval %s not in /v1/evaluations", reg.EvalID)
			}
			pl, _, err := c.Evaluations().PrefixList(reg.EvalID[:8])
			if err != nil || len(pl) == 0 || pl[0].ID != reg.EvalID {
				t.Fatalf("prefix list: %v %v", pl, err)
			}
			if allocs == nil {
				t.Skip("no allocation to look up")
			}
			// The allocation's eval lists it.
			a, _, err := c.Allocations().Info(allocs[0].ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			ea, _, err := c.Evaluations().Allocations(a.EvalID, nil)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, x := range ea {
				found = found || x.ID == a.ID
			}
			if !found {
				t.Fatalf("alloc %s not among eval %s's allocations %v", a.ID, a.EvalID, ea)
			}
		})

		check(t, "summary", func(t *testing.T) {
			sum, _, err := c.Jobs().Summary(id, nil)
			if err != nil {
				t.Fatalf("Summary: %v", err)
			}
			if sum.JobID != id || sum.Namespace != "default" || sum.Summary["app"].Running != 1 {
				t.Fatalf("summary %+v", sum)
			}
			_, _, err = c.Jobs().Summary(id+"-missing", nil)
			wantStatus(t, err, 404, "job not found")
		})

		check(t, "versions", func(t *testing.T) {
			versions, _, _, err := c.Jobs().Versions(id, false, nil)
			if err != nil {
				t.Fatalf("Versions: %v", err)
			}
			if len(versions) < 2 || *versions[0].Version <= *versions[1].Version {
				t.Fatalf("versions not newest first: %d", len(versions))
			}
			_, _, _, err = c.Jobs().Versions(id+"-missing", false, nil)
			wantStatus(t, err, 404, "job versions not found")
		})

		check(t, "latest-deployment", func(t *testing.T) {
			// Registration gives a service group Nomad's default update strategy, so each new
			// version gets a deployment (scheduler/reconcile.go createDeployment @ v2.0.5).
			job, _, err := c.Jobs().Info(id, nil)
			if err != nil {
				t.Fatalf("Info: %v", err)
			}
			d, _, err := c.Jobs().LatestDeployment(id, nil)
			if err != nil {
				t.Fatalf("LatestDeployment: %v", err)
			}
			if d == nil || d.JobID != id || d.JobVersion != *job.Version ||
				d.TaskGroups["app"] == nil || d.TaskGroups["app"].DesiredTotal != 1 {
				t.Fatalf("latest deployment %+v for version %d", d, *job.Version)
			}
			if d.Status != "running" && d.Status != "successful" {
				t.Fatalf("deployment status %q (%s)", d.Status, d.StatusDescription)
			}
			all, _, err := c.Jobs().Deployments(id, false, nil)
			if err != nil || len(all) == 0 || all[0].ID != d.ID {
				t.Fatalf("Deployments: %v, %v; want the latest first", all, err)
			}
			none, _, err := c.Jobs().LatestDeployment(id+"-missing", nil)
			if err != nil || none != nil {
				t.Fatalf("a job without deployments: %+v, %v", none, err)
			}
		})

		check(t, "validate", func(t *testing.T) {
			ok, _, err := c.Jobs().Validate(serviceJob(id), nil)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if len(ok.ValidationErrors) != 0 || ok.Error != "" || !ok.DriverConfigValidated {
				t.Fatalf("valid job: %+v", ok)
			}
			bad := serviceJob(id)
			bad.TaskGroups[0].Tasks[0].Driver = ""
			res, _, err := c.Jobs().Validate(bad, nil)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if len(res.ValidationErrors) == 0 || !strings.Contains(res.Error, "error") {
				t.Fatalf("invalid job: %+v", res)
			}
		})

		check(t, "force-evaluate", func(t *testing.T) {
			evalID, _, err := c.Jobs().ForceEvaluate(id, nil)
			if err != nil || evalID == "" {
				t.Fatalf("ForceEvaluate: %q %v", evalID, err)
			}
			ev, _, err := c.Evaluations().Info(evalID, nil)
			if err != nil || ev.TriggeredBy != "job-register" && ev.TriggeredBy != "job-eval" {
				t.Fatalf("forced eval %+v %v", ev, err)
			}
		})

		check(t, "deregister", func(t *testing.T) {
			did := uniq(t, "dereg")
			register(t, c, serviceJob(did))
			evalID, _, err := c.Jobs().Deregister(did, false, nil)
			if err != nil || evalID == "" {
				t.Fatalf("Deregister: %q %v", evalID, err)
			}
			got, _, err := c.Jobs().Info(did, nil)
			if err != nil || !*got.Stop {
				t.Fatalf("stopped job: %v", err)
			}
			if _, _, err := c.Jobs().Deregister(did, true, nil); err != nil {
				t.Fatalf("purge: %v", err)
			}
			_, _, err = c.Jobs().Info(did, nil)
			wantStatus(t, err, 404, "job not found")
			// Deregistering a job that does not exist is not an error.
			if _, _, err := c.Jobs().Deregister(did, true, nil); err != nil {
				t.Fatalf("deregister of a missing job: %v", err)
			}
		})

		check(t, "periodic", func(t *testing.T) {
			pid := uniq(t, "cron")
			job := batchJob(pid)
			job.Periodic = &api.PeriodicConfig{Spec: ptr("0 3 * * *"), ProhibitOverlap: ptr(true)}
			register(t, c, job)
			got, _, err := c.Jobs().Info(pid, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Periodic == nil || *got.Periodic.SpecType != "cron" || !*got.Periodic.Enabled {
				t.Fatalf("periodic %+v", got.Periodic)
			}
			p, _, err := c.Jobs().Plan(job, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.NextPeriodicLaunch.IsZero() || p.NextPeriodicLaunch.UTC().Hour() != 3 {
				t.Fatalf("NextPeriodicLaunch %v", p.NextPeriodicLaunch)
			}
			evalID, _, err := c.Jobs().PeriodicForce(pid, nil)
			if err != nil || evalID == "" {
				t.Fatalf("PeriodicForce: %q %v", evalID, err)
			}
			children, _, err := c.Jobs().PrefixList(pid + "/periodic-")
			if err != nil || len(children) != 1 || children[0].ParentID != pid {
				t.Fatalf("children %v %v", children, err)
			}
			child, _, err := c.Jobs().Info(children[0].ID, nil)
			if err != nil || child.ParentID == nil || *child.ParentID != pid || child.Periodic != nil {
				t.Fatalf("child job: %v", err)
			}
		})
	})
}

func ptr[T any](v T) *T { return &v }
