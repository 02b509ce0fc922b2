package contract

import (
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestCanonicalize: what a registered job comes back with — api.Job.Canonicalize (api/jobs.go),
// TaskGroup/Task.Canonicalize (api/tasks.go), Resources.Canonicalize (api/resources.go), and the
// server's structs Job/TaskGroup/Task.Canonicalize and WorkloadIdentity.Canonicalize
// (nomad/structs) — all @ v2.0.5.
func TestCanonicalize(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		id := uniq(t, "canon")
		register(t, c, serviceJob(id))
		job, _, err := c.Jobs().Info(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		tg := job.TaskGroups[0]
		task := tg.Tasks[0]

		check(t, "job-fields", func(t *testing.T) {
			if job.ParentID == nil || *job.ParentID != "" || job.Stable == nil || job.StatusDescription == nil ||
				job.AllAtOnce == nil || *job.AllAtOnce || job.Region == nil || *job.Region != "global" ||
				job.NodePool == nil || *job.NodePool != "default" || job.Priority == nil || *job.Priority != 50 ||
				job.ConsulNamespace == nil || job.VaultNamespace == nil || job.NomadTokenID == nil {
				t.Fatalf("job defaults missing: %+v", job)
			}
		})
		check(t, "update-strategy", func(t *testing.T) {
			d := api.DefaultUpdateStrategy()
			for name, u := range map[string]*api.UpdateStrategy{"job": job.Update, "group": tg.Update} {
				if u == nil || *u.MaxParallel != *d.MaxParallel || *u.Stagger != *d.Stagger {
					t.Fatalf("%s update %+v, want DefaultUpdateStrategy", name, u)
				}
			}
			if *tg.Update.HealthCheck != "checks" || *tg.Update.MinHealthyTime != 10*time.Second ||
				*tg.Update.HealthyDeadline != 5*time.Minute || *tg.Update.ProgressDeadline != 10*time.Minute {
				t.Fatalf("group update %+v", tg.Update)
			}
		})
		check(t, "group-fields", func(t *testing.T) {
			if tg.EphemeralDisk == nil || *tg.EphemeralDisk.SizeMB != 300 || *tg.EphemeralDisk.Sticky || *tg.EphemeralDisk.Migrate {
				t.Fatalf("EphemeralDisk %+v", tg.EphemeralDisk)
			}
			m := tg.Migrate
			if m == nil || *m.MaxParallel != 1 || *m.HealthCheck != "checks" || *m.MinHealthyTime != 10*time.Second || *m.HealthyDeadline != 5*time.Minute {
				t.Fatalf("Migrate %+v", m)
			}
			r := tg.RestartPolicy
			if r == nil || *r.Attempts != 2 || *r.Interval != 30*time.Minute || *r.Delay != 15*time.Second || *r.Mode != "fail" {
				t.Fatalf("RestartPolicy %+v", r)
			}
			rs := tg.ReschedulePolicy
			if rs == nil || *rs.DelayFunction != "exponential" || !*rs.Unlimited || *rs.Delay != 30*time.Second || *rs.MaxDelay != time.Hour {
				t.Fatalf("ReschedulePolicy %+v", rs)
			}
		})
		check(t, "task-fields", func(t *testing.T) {
			if task.LogConfig == nil || *task.LogConfig.MaxFiles != 10 || *task.LogConfig.MaxFileSizeMB != 10 {
				t.Fatalf("LogConfig %+v", task.LogConfig)
			}
			res := task.Resources
			if res == nil || res.CPU == nil || *res.CPU != 100 || res.MemoryMB == nil || *res.MemoryMB != 300 || res.Cores == nil || *res.Cores != 0 {
				t.Fatalf("Resources %+v", res)
			}
			if task.KillTimeout == nil || *task.KillTimeout != 5*time.Second {
				t.Fatalf("KillTimeout %v", task.KillTimeout)
			}
			if task.RestartPolicy == nil || *task.RestartPolicy.Attempts != 2 {
				t.Fatalf("task RestartPolicy %+v", task.RestartPolicy)
			}
			wi := task.Identity
			if wi == nil || wi.Name != "default" || len(wi.Audience) != 1 || wi.Audience[0] != "nomadproject.io" {
				t.Fatalf("Identity %+v", wi)
			}
		})
		check(t, "identity-name-filled", func(t *testing.T) {
			wid := uniq(t, "winame")
			j := serviceJob(wid)
			j.TaskGroups[0].Tasks[0].Identity = &api.WorkloadIdentity{Env: true, Audience: []string{"other"}}
			register(t, c, j)
			got, _, err := c.Jobs().Info(wid, nil)
			if err != nil {
				t.Fatal(err)
			}
			wi := got.TaskGroups[0].Tasks[0].Identity
			if wi == nil || wi.Name != "default" || len(wi.Audience) != 1 || wi.Audience[0] != "nomadproject.io" || !wi.Env {
				t.Fatalf("Identity{Name:\"\", Env:true} came back as %+v", wi)
			}
		})
		check(t, "batch-and-periodic", func(t *testing.T) {
			bid := uniq(t, "batch")
			j := batchJob(bid)
			j.Periodic = &api.PeriodicConfig{Spec: ptr("*/5 * * * *")}
			register(t, c, j)
			got, _, err := c.Jobs().Info(bid, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Update != nil && got.Update.MaxParallel != nil && *got.Update.MaxParallel != 0 {
				t.Fatalf("batch job got an update strategy %+v", got.Update)
			}
			g := got.TaskGroups[0]
			if g.Update != nil || g.Migrate != nil {
				t.Fatalf("batch group update %+v migrate %+v", g.Update, g.Migrate)
			}
			if g.EphemeralDisk == nil || g.RestartPolicy == nil || *g.RestartPolicy.Attempts != 3 || *g.ReschedulePolicy.Attempts != 1 {
				t.Fatalf("batch group defaults %+v", g)
			}
			if got.Periodic == nil || got.Periodic.TimeZone == nil || *got.Periodic.TimeZone != "UTC" ||
				*got.Periodic.ProhibitOverlap || !*got.Periodic.Enabled {
				t.Fatalf("Periodic %+v", got.Periodic)
			}
		})
	})
}
