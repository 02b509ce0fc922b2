package contract

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// guideJob is the split-shape job of HashiCorp's "Configure singleton deployments" guide
// (shared/seeds/000_*.txt), verbatim: its `driver` sits inside `config`, so jobspec2 keeps it in
// the free-form Config and the task's Driver stays empty.
const guideJob = `job "example" {
group "group" {

disconnect {
stop_on_client_after = "1m"
}

task "acquire" {
lifecycle {
hook = "prestart"
sidecar = false
}
config {
driver = "raw_exec"
command = "/opt/lock-acquire-script.sh"
}
identity {
env = true # make NOMAD_TOKEN available to lock command
}
}

task "heartbeat" {
leader = true
config {
driver = "raw_exec"
command = "/opt/lock-heartbeat-script.sh"
pid_mode = "host"
}
identity {
env = true # make NOMAD_TOKEN available to lock command
}
}

task "application" {
lifecycle {
hook = "poststart"
sidecar = true
}

config {
driver = "docker"
image = "example/app:1"
}
}
}
}
`

// blocksJob exercises the blocks the simulator's jobspec decoder supports (docs/simulator.md).
const blocksJob = `
variable "id" {
  type = string
}
variable "cmd" {
  default = "/bin/sleep"
}
job "JOBID" {
  datacenters = ["dc1"]
  type        = "service"
  meta        = { owner = "contract" }
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  update {
    max_parallel = 1
  }
  group "g" {
    count = 1
    restart {
      attempts = 1
      delay    = "5s"
      mode     = "fail"
    }
    disconnect {
      stop_on_client_after = "30s"
    }
    network {
      port "http" {}
    }
    task "lock" {
      driver = "raw_exec"
      leader = true
      config {
        command = var.cmd
        args    = ["3600"]
      }
      env {
        SINGLETON = "${var.id}"
      }
      resources {
        cpu    = 50
        memory = 64
      }
      identity {
        env = true
      }
      identity {
        name = "extra"
        aud  = ["other"]
      }
      kill_timeout = "10s"
    }
  }
}
`

// TestParseHCL: POST /v1/jobs/parse through Jobs().ParseHCL / ParseHCLOpts
// (command/agent/job_endpoint.go JobsParseRequest, jobspec2 @ v2.0.5).
func TestParseHCL(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		check(t, "guide-job", func(t *testing.T) {
			job, err := c.Jobs().ParseHCL(guideJob, false)
			if err != nil {
				t.Fatal(err)
			}
			if *job.ID != "example" || *job.Name != "example" || job.Type != nil || job.Region != nil {
				t.Fatalf("job %+v", job)
			}
			tg := job.TaskGroups[0]
			if *tg.Name != "group" || tg.Count != nil || *tg.Disconnect.StopOnClientAfter != time.Minute ||
				tg.Disconnect.Replace != nil || len(tg.Tasks) != 3 {
				t.Fatalf("group %+v", tg)
			}
			acquire, heartbeat, app := tg.Tasks[0], tg.Tasks[1], tg.Tasks[2]
			if acquire.Name != "acquire" || acquire.Lifecycle.Hook != "prestart" || acquire.Lifecycle.Sidecar ||
				acquire.Driver != "" || acquire.Config["driver"] != "raw_exec" ||
				acquire.Config["command"] != "/opt/lock-acquire-script.sh" {
				t.Fatalf("acquire %+v", acquire)
			}
			// jobspec2 moves the unnamed identity to Task.Identity.
			for _, task := range []*api.Task{acquire, heartbeat} {
				if task.Identity == nil || !task.Identity.Env || task.Identity.Name != "" || len(task.Identities) != 0 {
					t.Fatalf("%s identity %+v / %+v", task.Name, task.Identity, task.Identities)
				}
			}
			if !heartbeat.Leader || heartbeat.Config["pid_mode"] != "host" || heartbeat.KillTimeout != nil {
				t.Fatalf("heartbeat %+v", heartbeat)
			}
			if app.Lifecycle.Hook != "poststart" || !app.Lifecycle.Sidecar || app.Identity != nil ||
				app.Config["image"] != "example/app:1" {
				t.Fatalf("application %+v", app)
			}
		})
		check(t, "canonicalize-and-register", func(t *testing.T) {
			id := uniq(t, "parsed")
			hcl := strings.Replace(blocksJob, "JOBID", id, 1)
			job, err := c.Jobs().ParseHCLOpts(&api.JobsParseRequest{
				JobHCL: hcl, Variables: `id = "` + id + `"`, Canonicalize: true})
			if err != nil {
				t.Fatal(err)
			}
			if *job.Region != "global" || *job.Namespace != "default" || *job.Priority != 50 ||
				*job.Type != "service" || *job.Update.Stagger != 30*time.Second || job.Meta["owner"] != "contract" {
				t.Fatalf("job defaults %+v", job)
			}
			if job.Constraints[0].LTarget != "${attr.kernel.name}" || job.Constraints[0].Operand != "=" {
				t.Fatalf("constraint %+v", job.Constraints[0])
			}
			tg := job.TaskGroups[0]
			if *tg.EphemeralDisk.SizeMB != 300 || *tg.RestartPolicy.Attempts != 1 || *tg.RestartPolicy.Interval != 30*time.Minute ||
				*tg.Disconnect.Replace != true || *tg.Disconnect.Reconcile != "best_score" ||
				*tg.ReschedulePolicy.DelayFunction != "exponential" || tg.Networks[0].DynamicPorts[0].Label != "http" {
				t.Fatalf("group defaults %+v", tg)
			}
			task := tg.Tasks[0]
			if task.Env["SINGLETON"] != id || task.Config["command"] != "/bin/sleep" || *task.KillTimeout != 10*time.Second ||
				*task.Resources.CPU != 50 || *task.Resources.Cores != 0 || *task.LogConfig.MaxFiles != 10 ||
				task.Identity == nil || !task.Identity.Env || len(task.Identities) != 1 || task.Identities[0].Name != "extra" {
				t.Fatalf("task %+v", task)
			}
			register(t, c, job)
			got, _, err := c.Jobs().Info(id, nil)
			if err != nil || *got.TaskGroups[0].Tasks[0].KillTimeout != 10*time.Second {
				t.Fatalf("registered job %+v %v", got, err)
			}
		})
		check(t, "errors", func(t *testing.T) {
			_, err := c.Jobs().ParseHCL("", false)
			wantStatus(t, err, 400, "Job spec is empty")
			_, err = c.Jobs().ParseHCL("job \"x\" {\n  bogus = 1\n}\n", false)
			wantStatus(t, err, 400, `Failed to parse job: input.hcl:2,3-8: Unsupported argument; An argument named "bogus" is not expected here.`)
			_, err = c.Jobs().ParseHCL("job \"x\" {\n  meta = { k = file(\"/etc/hosts\") }\n}\n", false)
			wantStatus(t, err, 400, `Call to function "file" failed: filesystem function disabled.`)
			_, err = c.Jobs().ParseHCLOpts(&api.JobsParseRequest{JobHCL: blocksJob})
			wantStatus(t, err, 400, `Unset variable "id"`)
		})
		if !s.acl {
			return
		}
		check(t, "acl", func(t *testing.T) {
			for name, rules := range map[string]string{
				"parser":    `namespace "default" { capabilities = ["parse-job"] }`,
				"submitter": `namespace "default" { capabilities = ["submit-job"] }`,
				"lister":    `namespace "default" { capabilities = ["list-jobs"] }`,
			} {
				policy := uniq(t, name)
				if _, err := c.ACLPolicies().Upsert(&api.ACLPolicy{Name: policy, Rules: rules}, nil); err != nil {
					t.Fatal(err)
				}
				_, err := s.clientWith(t, clientToken(t, s, policy)).Jobs().ParseHCL(guideJob, false)
				if name == "lister" {
					wantStatus(t, err, 403, "Permission denied")
				} else if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			_, err := s.clientWith(t, "").Jobs().ParseHCL(guideJob, false)
			wantStatus(t, err, 403, "Permission denied")
		})
	})
}
