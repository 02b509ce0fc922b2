package contract

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// nextEvent returns the first event on ch that match accepts.
func nextEvent(t *testing.T, ch <-chan *api.Events, timeout time.Duration, what string, match func(e *api.Event) bool) *api.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case evs, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended waiting for %s", what)
			}
			if evs.Err != nil {
				t.Fatalf("stream error waiting for %s: %v", what, evs.Err)
			}
			for i := range evs.Events {
				if match(&evs.Events[i]) {
					return &evs.Events[i]
				}
			}
		case <-deadline:
			t.Fatalf("no %s within %v", what, timeout)
		}
	}
}

// TestEvents: Job and Allocation events, FilterKeys, heartbeats, resume from an index, the
// Variable topic (2.0), and a denied stream per profile.
func TestEvents(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		id := uniq(t, "ev")
		var registered *api.Event

		check(t, "job-and-allocation", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch, err := c.EventStream().Stream(ctx, map[api.Topic][]string{
				api.TopicJob: {id}, api.TopicAllocation: {id}}, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			register(t, c, serviceJob(id))
			registered = nextEvent(t, ch, 10*time.Second, "JobRegistered", func(e *api.Event) bool {
				return e.Topic == api.TopicJob && e.Type == "JobRegistered" && e.Key == id
			})
			j, err := registered.Job()
			if err != nil || j == nil || *j.ID != id {
				t.Fatalf("Job payload: %v %v", j, err)
			}
			ae := nextEvent(t, ch, 10*time.Second, "an Allocation event", func(e *api.Event) bool {
				return e.Topic == api.TopicAllocation
			})
			a, err := ae.Allocation()
			if err != nil || a == nil || a.JobID != id || a.Job != nil {
				t.Fatalf("Allocation payload (no Job in it): %+v %v", a, err)
			}
			found := false
			for _, k := range ae.FilterKeys {
				found = found || k == id
			}
			if !found {
				t.Fatalf("FilterKeys %v lack the job ID", ae.FilterKeys)
			}
		})

		check(t, "resume-from-index", func(t *testing.T) {
			if registered == nil {
				t.Skip("no event to resume from")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch, err := c.EventStream().Stream(ctx, map[api.Topic][]string{api.TopicJob: {id}}, registered.Index, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The start index is inclusive: the same event comes again.
			e := nextEvent(t, ch, 10*time.Second, "the replayed JobRegistered", func(e *api.Event) bool { return true })
			if e.Index != registered.Index || e.Type != "JobRegistered" {
				t.Fatalf("resumed at %d %s, want %d JobRegistered", e.Index, e.Type, registered.Index)
			}
		})

		check(t, "heartbeats", func(t *testing.T) {
			// The api client drops heartbeats, so read the raw stream: "{}" at once, then every
			// 30 virtual seconds.
			ctx := ctxTimeout(t, 15*time.Second)
			req, _ := http.NewRequestWithContext(ctx, "GET", s.addr+"/v1/event/stream?topic=Job:"+id+"-none", nil)
			if s.token != "" {
				req.Header.Set("X-Nomad-Token", s.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			r := bufio.NewReader(resp.Body)
			start := time.Now()
			for n := 0; n < 2; n++ {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatalf("heartbeat %d: %v", n, err)
				}
				if strings.TrimSpace(line) != "{}" {
					t.Fatalf("heartbeat %d: %q", n, line)
				}
			}
			// Loosely: the simulator's loop may lag behind wall time under load.
			if el := time.Since(start); el < simTime(30*time.Second)/2 {
				t.Fatalf("second heartbeat after %v, want about %v", el, simTime(30*time.Second))
			}
		})

		check(t, "variable-topic", func(t *testing.T) {
			if s.profile != "2.0" {
				t.Skip("the Variable topic exists from Nomad 2.0.0")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			path := "contract/" + uniq(t, "evvar")
			ch, err := c.EventStream().Stream(ctx, map[api.Topic][]string{"Variable": {"*"}}, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Variables().Create(&api.Variable{Path: path, Items: api.VariableItems{"a": "b"}}, nil); err != nil {
				t.Fatal(err)
			}
			nextEvent(t, ch, 10*time.Second, "a Variable event", func(e *api.Event) bool {
				return e.Topic == "Variable" && e.Key == path
			})
		})

		check(t, "denied", func(t *testing.T) {
			if !s.acl {
				t.Skip("ACLs off")
			}
			anon := s.clientWith(t, "")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch, err := anon.EventStream().Stream(ctx, map[api.Topic][]string{api.TopicJob: {"*"}}, 0, nil)
			if s.profile == "1.10" {
				// Before 1.11.2 a denied stream is a real 403.
				wantStatus(t, err, 403, "Permission denied")
				return
			}
			// From 1.11.2 the handler hijacks: 200, then the body ends.
			if err != nil {
				t.Fatalf("want 200 then EOF, got %v", err)
			}
			select {
			case evs, ok := <-ch:
				if ok && evs.Err == nil {
					t.Fatalf("denied stream delivered %+v", evs)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("denied stream stayed open")
			}
		})
	})
}
