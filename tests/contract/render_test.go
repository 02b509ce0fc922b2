package contract

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/nomad/api"
)

// strictDecode decodes b into out refusing unknown fields and trailing data.
func strictDecode(b []byte, out any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err == nil {
		return &json.SyntaxError{}
	}
	return nil
}

// TestRender: every `render` output (the example specs and the renderer's test specs) decodes
// into the api package's types with unknown fields refused — so every field the product sends
// is one Nomad's HTTP agent reads — and so do the request fixtures of the codec tests.
func TestRender(t *testing.T) {
	t.Parallel()
	var specs []string
	for _, glob := range []string{"manifests/examples/*.yaml", "tests/render/specs/*.yaml"} {
		m, err := filepath.Glob(filepath.Join(repoDir, glob))
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, m...)
	}
	if len(specs) == 0 {
		t.Fatalf("no specs under %s", repoDir)
	}
	for _, spec := range specs {
		spec := spec
		t.Run(filepath.Base(spec), func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(nsgBin, "render", spec, "--format", "json").Output()
			if err != nil {
				t.Fatalf("render %s: %v", spec, err)
			}
			var rendered []struct {
				Singleton string
				Source    string
				Register  json.RawMessage
				ACLPolicy json.RawMessage
			}
			if err := json.Unmarshal(out, &rendered); err != nil {
				t.Fatalf("render output: %v", err)
			}
			if len(rendered) == 0 {
				t.Fatal("nothing rendered")
			}
			for _, r := range rendered {
				var reg api.JobRegisterRequest
				if err := strictDecode(r.Register, &reg); err != nil {
					t.Errorf("%s: register body into api.JobRegisterRequest: %v", r.Singleton, err)
					continue
				}
				if reg.Job == nil || reg.Job.ID == nil || len(reg.Job.TaskGroups) != 1 {
					t.Errorf("%s: register body without a job", r.Singleton)
				}
				var pol api.ACLPolicy
				if err := strictDecode(r.ACLPolicy, &pol); err != nil {
					t.Errorf("%s: policy into api.ACLPolicy: %v", r.Singleton, err)
				} else if pol.JobACL == nil || pol.JobACL.JobID != *reg.Job.ID {
					t.Errorf("%s: policy JobACL %+v", r.Singleton, pol.JobACL)
				}
			}
		})
	}
	// What the product sends, as the codec tests pin it.
	for file, into := range map[string]any{
		"register_body.json":            &api.JobRegisterRequest{},
		"job_template.json":             &api.Job{},
		"variable_acquire_request.json": &api.Variable{},
	} {
		file, into := file, into
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(repoDir, "tests/fixtures/nomad", file))
			if err != nil {
				t.Fatal(err)
			}
			if err := strictDecode(b, into); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
		})
	}
}
