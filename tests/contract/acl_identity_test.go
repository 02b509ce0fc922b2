package contract

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestACL: policies with JobACL, tokens (self), what an anonymous and a client token may do,
// and the ACL endpoints on a cluster without ACLs.
func TestACL(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		name := uniq(t, "pol")
		if !s.acl {
			check(t, "disabled", func(t *testing.T) {
				_, _, err := c.ACLPolicies().List(nil)
				wantStatus(t, err, 400, "ACL support disabled")
				_, err = c.ACLPolicies().Upsert(&api.ACLPolicy{Name: name, Rules: `namespace "default" { policy = "read" }`}, nil)
				wantStatus(t, err, 400, "ACL support disabled")
				_, _, err = c.ACLPolicies().Info(name, nil)
				wantStatus(t, err, 400, "ACL support disabled")
				_, err = c.ACLPolicies().Delete(name, nil)
				wantStatus(t, err, 400, "ACL support disabled")
			})
			check(t, "token-self", func(t *testing.T) {
				tok, _, err := c.ACLTokens().Self(nil)
				if err != nil {
					t.Fatalf("ACLTokens().Self: %v", err)
				}
				if tok.AccessorID != "acls-disabled" {
					t.Fatalf("token %+v, want ACLsDisabledToken", tok)
				}
			})
			return
		}
		rules := `namespace "default" {
  variables {
    path "nomad/jobs/` + name + `/lock" { capabilities = ["write", "read"] }
  }
}`
		check(t, "policy-jobacl", func(t *testing.T) {
			p := &api.ACLPolicy{Name: name, Description: "contract", Rules: rules,
				JobACL: &api.JobACL{Namespace: "default", JobID: name}}
			if _, err := c.ACLPolicies().Upsert(p, nil); err != nil {
				t.Fatal(err)
			}
			got, _, err := c.ACLPolicies().Info(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Rules != rules || got.JobACL == nil || got.JobACL.JobID != name || got.JobACL.Namespace != "default" || got.ModifyIndex == 0 {
				t.Fatalf("policy %+v", got)
			}
			list, _, err := c.ACLPolicies().List(nil)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, l := range list {
				found = found || l.Name == name && l.JobACL != nil
			}
			if !found {
				t.Fatal("policy not listed with its JobACL")
			}
		})
		check(t, "policy-invalid", func(t *testing.T) {
			_, err := c.ACLPolicies().Upsert(&api.ACLPolicy{Name: "bad name", Rules: rules}, nil)
			wantStatus(t, err, 400, "invalid name")
			_, err = c.ACLPolicies().Upsert(&api.ACLPolicy{Name: name + "-d", Rules: rules, Description: strings.Repeat("x", 257)}, nil)
			wantStatus(t, err, 400, "description longer than 256")
			_, err = c.ACLPolicies().Upsert(&api.ACLPolicy{Name: name + "-j", Rules: rules, JobACL: &api.JobACL{JobID: "x"}}, nil)
			wantStatus(t, err, 400, "namespace must be set to set job ID")
		})
		check(t, "policy-delete", func(t *testing.T) {
			dn := name + "-del"
			if _, err := c.ACLPolicies().Upsert(&api.ACLPolicy{Name: dn, Rules: rules}, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ACLPolicies().Delete(dn, nil); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.ACLPolicies().Info(dn, nil)
			wantStatus(t, err, 404, "ACL policy not found")
		})
		check(t, "token-self", func(t *testing.T) {
			tok, _, err := c.ACLTokens().Self(nil)
			if err != nil {
				t.Fatalf("ACLTokens().Self: %v", err)
			}
			if tok.Type != "management" || tok.SecretID != s.token || tok.AccessorID == "" {
				t.Fatalf("management token %+v", tok)
			}
			reader := name + "-reader"
			if _, err := c.ACLPolicies().Upsert(&api.ACLPolicy{Name: reader, Rules: `namespace "default" { policy = "read" }`}, nil); err != nil {
				t.Fatal(err)
			}
			secret := clientToken(t, s, reader)
			ct, _, err := s.clientWith(t, secret).ACLTokens().Self(nil)
			if err != nil || ct.Type != "client" || len(ct.Policies) != 1 || ct.Policies[0] != reader || ct.AccessorID == tok.AccessorID {
				t.Fatalf("client token %+v %v", ct, err)
			}
			at, _, err := s.clientWith(t, "").ACLTokens().Self(nil)
			if err != nil || at.AccessorID != "anonymous" {
				t.Fatalf("anonymous token %+v %v", at, err)
			}
			_, _, err = s.clientWith(t, "00000000-0000-0000-0000-00000000bad0").ACLTokens().Self(nil)
			wantStatus(t, err, 403, "")
		})
		check(t, "token-permissions", func(t *testing.T) {
			_, _, err := s.clientWith(t, "").Jobs().List(nil)
			wantStatus(t, err, 403, "Permission denied")
			reader := name + "-ro"
			if _, err := c.ACLPolicies().Upsert(&api.ACLPolicy{Name: reader, Rules: `namespace "default" { policy = "read" }`}, nil); err != nil {
				t.Fatal(err)
			}
			ro := s.clientWith(t, clientToken(t, s, reader))
			if _, _, err := ro.Jobs().List(nil); err != nil {
				t.Fatalf("read token lists jobs: %v", err)
			}
			_, _, err = ro.Jobs().Register(serviceJob(uniq(t, "ro")), nil)
			wantStatus(t, err, 403, "Permission denied")
			_, _, err = ro.ACLPolicies().Info(reader, nil)
			if err != nil {
				t.Fatalf("a token reads its own policy: %v", err)
			}
		})
	})
}

// TestWorkloadIdentity: a real raw_exec task with Identity {Env: true}: its environment, its
// token's implicit variable access, a JobACL policy for its lock, and its token at
// /v1/acl/token/self.
func TestWorkloadIdentity(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		id := uniq(t, "wi")
		dir := t.TempDir()
		envFile := filepath.Join(dir, "env")
		job := serviceJob(id)
		task := api.NewTask("wl", "raw_exec").
			SetConfig("command", "/bin/sh").
			SetConfig("args", []string{"-c", `env > "$0.tmp" && mv "$0.tmp" "$0" && exec sleep 300`, envFile})
		task.Identity = &api.WorkloadIdentity{Env: true} // Name "" as users write it
		job.TaskGroups[0].Tasks = []*api.Task{task}
		register(t, c, job)
		t.Cleanup(func() { c.Jobs().Deregister(id, true, nil) })
		runningAllocs(t, c, id, 1)
		env := map[string]string{}
		waitFor(t, 20*time.Second, "the task's environment file", func() (bool, error) {
			b, err := os.ReadFile(envFile)
			if err != nil {
				return false, err
			}
			for _, l := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(l, "="); ok {
					env[k] = v
				}
			}
			return true, nil
		})
		token := env["NOMAD_TOKEN"]

		check(t, "environment", func(t *testing.T) {
			if token == "" || env["NOMAD_JOB_ID"] != id || env["NOMAD_NAMESPACE"] != "default" ||
				env["NOMAD_ALLOC_ID"] == "" || env["NOMAD_SECRETS_DIR"] == "" || env["NOMAD_ADDR"] == "" {
				t.Fatalf("task environment lacks the identity: %v", env)
			}
			// Every supported profile (1.10.5, 1.11.3, 2.0.5) sets NOMAD_UNIX_ADDR (from 1.10.3).
			if env["NOMAD_UNIX_ADDR"] == "" {
				t.Fatal("no NOMAD_UNIX_ADDR")
			}
		})

		check(t, "identity-canonicalized", func(t *testing.T) {
			got, _, err := c.Jobs().Info(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			wi := got.TaskGroups[0].Tasks[0].Identity
			if wi == nil || wi.Name != "default" || len(wi.Audience) != 1 || wi.Audience[0] != "nomadproject.io" || !wi.Env {
				t.Fatalf("identity %+v, want Name default, Audience [nomadproject.io], Env", wi)
			}
		})

		check(t, "implicit-variable-read", func(t *testing.T) {
			if _, _, err := c.Variables().Create(&api.Variable{Path: "nomad/jobs/" + id, Items: api.VariableItems{"x": "1"}}, nil); err != nil {
				t.Fatal(err)
			}
			wc := s.clientWith(t, token)
			v, _, err := wc.Variables().Read("nomad/jobs/"+id, nil)
			if err != nil || v.Items["x"] != "1" {
				t.Fatalf("workload reads its job's variable: %+v %v", v, err)
			}
			if s.acl {
				_, _, err = wc.Variables().Read("nomad/jobs/"+id+"-other", nil)
				wantStatus(t, err, 403, "")
			}
		})

		check(t, "lock-needs-jobacl-policy", func(t *testing.T) {
			wc := s.clientWith(t, token)
			lockPath := "nomad/jobs/" + id + "/lock"
			if s.acl {
				_, _, err := wc.Variables().AcquireLock(lockVar(lockPath), nil)
				wantStatus(t, err, 403, "")
				rules := `namespace "default" {
  variables {
    path "` + lockPath + `" { capabilities = ["write", "read"] }
  }
}`
				if _, err := c.ACLPolicies().Upsert(&api.ACLPolicy{Name: id, Rules: rules,
					JobACL: &api.JobACL{Namespace: "default", JobID: id}}, nil); err != nil {
					t.Fatal(err)
				}
			}
			v, _, err := wc.Variables().AcquireLock(lockVar(lockPath), nil)
			if err != nil || v.Lock == nil || v.Lock.ID == "" {
				t.Fatalf("workload acquires its lock: %+v %v", v, err)
			}
			if _, _, err := wc.Variables().ReleaseLock(&api.Variable{Path: lockPath, Lock: &api.VariableLock{ID: v.Lock.ID}}, nil); err != nil {
				t.Fatal(err)
			}
		})

		check(t, "token-self", func(t *testing.T) {
			// A workload identity carries claims, not an ACL token (ACL.WhoAmI).
			_, _, err := s.clientWith(t, token).ACLTokens().Self(nil)
			wantStatus(t, err, 404, "ACL token not found")
		})
	})
}
