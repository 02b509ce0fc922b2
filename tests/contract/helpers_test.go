package contract

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// serviceJob is a one-group, one-task service job as a user of the api package writes it:
// not canonicalized on the client side, so the server's defaults are what comes back.
func serviceJob(id string) *api.Job {
	return withTask(api.NewServiceJob(id, id, "global", 50), "app", "example/app:1")
}

// batchJob is a one-group, one-task batch job.
func batchJob(id string) *api.Job {
	return withTask(api.NewBatchJob(id, id, "global", 50), "work", "example/batch:1")
}

// withTask gives job datacenter dc1 and one group `name` with one docker task `name` (the
// simulator runs a stand-in for it).
func withTask(job *api.Job, name, image string) *api.Job {
	job.Datacenters = []string{"dc1"}
	tg := api.NewTaskGroup(name, 1)
	tg.AddTask(api.NewTask(name, "docker").SetConfig("image", image))
	job.AddTaskGroup(tg)
	return job
}

// register registers job and fails the test on error.
func register(t *testing.T, c *api.Client, job *api.Job) *api.JobRegisterResponse {
	t.Helper()
	resp, _, err := c.Jobs().Register(job, nil)
	if err != nil {
		t.Fatalf("register %s: %v", *job.ID, err)
	}
	// A periodic (parent) job gets no evaluation (nomad/job_endpoint.go Register @ v2.0.5).
	if (resp.EvalID == "" && job.Periodic == nil) || resp.JobModifyIndex == 0 {
		t.Fatalf("register %s: want an eval and an index, got %+v", *job.ID, resp)
	}
	return resp
}

// runningAllocs waits (blocking queries on the job's allocations) until n allocations of the job
// are running, and returns them.
func runningAllocs(t *testing.T, c *api.Client, jobID string, n int) []*api.AllocationListStub {
	t.Helper()
	var out []*api.AllocationListStub
	var index uint64
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		allocs, meta, err := c.Jobs().Allocations(jobID, false,
			&api.QueryOptions{WaitIndex: index, WaitTime: 20 * time.Second})
		if err != nil {
			t.Fatalf("allocations of %s: %v", jobID, err)
		}
		index = meta.LastIndex
		out = out[:0]
		for _, a := range allocs {
			if a.ClientStatus == api.AllocClientStatusRunning && a.DesiredStatus == api.AllocDesiredStatusRun {
				out = append(out, a)
			}
		}
		if len(out) == n {
			return out
		}
	}
	t.Fatalf("job %s: %d running allocations, want %d", jobID, len(out), n)
	return nil
}

// wakesOn checks that a blocking query at `index` (query runs it with the options given and
// returns its meta) answers with a higher index once write has run.
func wakesOn(t *testing.T, what string, index uint64, query func(*api.QueryOptions) (*api.QueryMeta, error), write func()) {
	t.Helper()
	done := make(chan uint64, 1)
	go func() {
		m, err := query(&api.QueryOptions{WaitIndex: index, WaitTime: 5 * time.Minute})
		if err != nil {
			done <- 0
			return
		}
		done <- m.LastIndex
	}()
	write()
	select {
	case idx := <-done:
		if idx <= index {
			t.Fatalf("blocking %s woke at index %d, not after %d", what, idx, index)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("blocking %s did not wake", what)
	}
}

// statusOf is the HTTP status of an api error (0 if it is not an UnexpectedResponseError).
func statusOf(err error) int {
	var ue api.UnexpectedResponseError
	if errors.As(err, &ue) {
		return ue.StatusCode()
	}
	return 0
}

// wantStatus fails unless err is an api error with that HTTP status (and, if given, body text).
func wantStatus(t *testing.T, err error, code int, body string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want HTTP %d %q, got success", code, body)
	}
	if got := statusOf(err); got != code {
		t.Fatalf("want HTTP %d, got %d (%v)", code, got, err)
	}
	if body != "" && !strings.Contains(err.Error(), body) {
		t.Fatalf("want %q in the error, got %v", body, err)
	}
}

// simPost calls the simulator's control API (/v1/sim/...) with the management token.
func simPost(t *testing.T, s *sim, path string, in, out any) {
	t.Helper()
	c := s.client(t)
	if _, err := c.Raw().Write(path, in, out, nil); err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
}

// clientToken makes a client token with `policies` through the control API.
func clientToken(t *testing.T, s *sim, policies ...string) string {
	t.Helper()
	var out struct{ SecretID string }
	simPost(t, s, "/v1/sim/acl/token", map[string]any{"Policies": policies}, &out)
	if out.SecretID == "" {
		t.Fatal("no SecretID from /v1/sim/acl/token")
	}
	return out.SecretID
}

var _ = http.StatusOK
