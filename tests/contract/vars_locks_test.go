package contract

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/nomad/api"
)

// TestVariables: create, read, peek, list, check-and-set update and delete, blocking read.
func TestVariables(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		path := "contract/" + uniq(t, "var")
		var created *api.Variable

		check(t, "create-read", func(t *testing.T) {
			v, _, err := c.Variables().Create(&api.Variable{Path: path, Items: api.VariableItems{"k": "v1"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v.ModifyIndex == 0 || v.Namespace != "default" || v.Items["k"] != "v1" {
				t.Fatalf("created %+v", v)
			}
			created = v
			got, _, err := c.Variables().Read(path, nil)
			if err != nil || got.Items["k"] != "v1" || got.ModifyIndex != v.ModifyIndex {
				t.Fatalf("read %+v %v", got, err)
			}
			_, _, err = c.Variables().Read(path+"-missing", nil)
			if !errors.Is(err, api.ErrVariablePathNotFound) {
				t.Fatalf("read of a missing variable: %v", err)
			}
			p, _, err := c.Variables().Peek(path+"-missing", nil)
			if err != nil || p != nil {
				t.Fatalf("peek of a missing variable: %+v %v", p, err)
			}
		})

		check(t, "list", func(t *testing.T) {
			list, _, err := c.Variables().PrefixList("contract/", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range list {
				if m.Path == path {
					return
				}
			}
			t.Fatalf("%s not listed", path)
		})

		check(t, "cas", func(t *testing.T) {
			if created == nil {
				t.Skip("no variable")
			}
			stale := &api.Variable{Path: path, Items: api.VariableItems{"k": "v2"}, ModifyIndex: created.ModifyIndex + 1000}
			_, _, err := c.Variables().CheckedUpdate(stale, nil)
			var cas api.ErrCASConflict
			if !errors.As(err, &cas) || cas.Conflict == nil || cas.Conflict.ModifyIndex != created.ModifyIndex {
				t.Fatalf("stale CAS: %v", err)
			}
			fresh := &api.Variable{Path: path, Items: api.VariableItems{"k": "v2"}, ModifyIndex: created.ModifyIndex}
			upd, _, err := c.Variables().CheckedUpdate(fresh, nil)
			if err != nil || upd.ModifyIndex <= created.ModifyIndex {
				t.Fatalf("CAS update: %+v %v", upd, err)
			}
			// CheckedCreate of an existing variable conflicts.
			_, _, err = c.Variables().CheckedCreate(&api.Variable{Path: path, Items: api.VariableItems{"k": "x"}}, nil)
			if !errors.As(err, &cas) {
				t.Fatalf("checked create of an existing variable: %v", err)
			}
			_, err = c.Variables().CheckedDelete(path, created.ModifyIndex, nil)
			if !errors.As(err, &cas) {
				t.Fatalf("stale checked delete: %v", err)
			}
			if _, err := c.Variables().CheckedDelete(path, upd.ModifyIndex, nil); err != nil {
				t.Fatalf("checked delete: %v", err)
			}
			if p, _, err := c.Variables().Peek(path, nil); err != nil || p != nil {
				t.Fatalf("deleted variable still there: %+v %v", p, err)
			}
		})

		check(t, "blocking-read", func(t *testing.T) {
			bp := path + "-blocking"
			v, _, err := c.Variables().Create(&api.Variable{Path: bp, Items: api.VariableItems{"n": "1"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan *api.Variable, 1)
			go func() {
				got, _, err := c.Variables().Read(bp, &api.QueryOptions{WaitIndex: v.ModifyIndex, WaitTime: 5 * time.Minute})
				if err != nil {
					got = nil
				}
				done <- got
			}()
			if _, _, err := c.Variables().Update(&api.Variable{Path: bp, Items: api.VariableItems{"n": "2"}}, nil); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-done:
				if got == nil || got.Items["n"] != "2" {
					t.Fatalf("blocking read woke with %+v", got)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("blocking read did not wake")
			}
		})
	})
}

// lockVar is a variable with a lock of TTL 2m and LockDelay 1s: 2×TTL is 12 s of wall time, so
// a check's acquire … release sequence cannot outlive the lock on a loaded machine.
func lockVar(path string) *api.Variable {
	return &api.Variable{Path: path, Lock: &api.VariableLock{TTL: "2m0s", LockDelay: "1s"}}
}

// shortLockVar has the minimum TTL, 10s: 2×TTL + LockDelay is 21 virtual seconds.
func shortLockVar(path string) *api.Variable {
	return &api.Variable{Path: path, Lock: &api.VariableLock{TTL: "10s", LockDelay: "1s"}}
}

// TestLocks: the single lock calls (acquire, renew, release, conflict, takeover after 2×TTL +
// LockDelay) and the api.Locks / LockLeaser helpers.
func TestLocks(t *testing.T) {
	forEachSim(t, func(t *testing.T, s *sim) {
		c := s.client(t)
		base := "nomad/jobs/" + uniq(t, "lock")

		check(t, "acquire-renew-release", func(t *testing.T) {
			path := base + "/a"
			v, _, err := c.Variables().AcquireLock(lockVar(path), nil)
			if err != nil {
				t.Fatal(err)
			}
			if v.Lock == nil || v.Lock.ID == "" || v.Lock.TTL != "2m0s" || v.Lock.LockDelay != "1s" {
				t.Fatalf("acquired %+v", v.Lock)
			}
			m, _, err := c.Variables().RenewLock(&api.Variable{Path: path, Lock: &api.VariableLock{ID: v.Lock.ID}}, nil)
			if err != nil || m.ModifyIndex != v.ModifyIndex {
				t.Fatalf("renew: %+v %v (a renew must not move ModifyIndex %d)", m, err, v.ModifyIndex)
			}
			rel, _, err := c.Variables().ReleaseLock(&api.Variable{Path: path, Lock: &api.VariableLock{ID: v.Lock.ID}}, nil)
			if err != nil || rel.Lock != nil {
				t.Fatalf("release: %+v %v", rel, err)
			}
			_, _, err = c.Variables().RenewLock(&api.Variable{Path: path, Lock: &api.VariableLock{ID: v.Lock.ID}}, nil)
			wantStatus(t, err, 409, "")
		})

		check(t, "conflict", func(t *testing.T) {
			path := base + "/b"
			v, _, err := c.Variables().AcquireLock(lockVar(path), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = c.Variables().AcquireLock(lockVar(path), nil)
			wantStatus(t, err, 409, "")
			_, _, err = c.Variables().RenewLock(&api.Variable{Path: path, Lock: &api.VariableLock{ID: "00000000-0000-0000-0000-000000000bad"}}, nil)
			wantStatus(t, err, 409, "")
			_, err = c.Variables().Delete(path, nil)
			wantStatus(t, err, 409, "")
			if _, _, err := c.Variables().ReleaseLock(&api.Variable{Path: path, Lock: &api.VariableLock{ID: v.Lock.ID}}, nil); err != nil {
				t.Fatal(err)
			}
		})

		check(t, "takeover-after-2ttl-plus-delay", func(t *testing.T) {
			path := base + "/c"
			first, _, err := c.Variables().AcquireLock(shortLockVar(path), nil)
			if err != nil {
				t.Fatal(err)
			}
			// Nothing renews it: the server clears the lock 2×TTL + LockDelay after the acquire (a
			// write a blocking read sees). Times are the simulator's (virtual) ModifyTimes.
			cleared, _, err := c.Variables().Read(path, &api.QueryOptions{WaitIndex: first.ModifyIndex, WaitTime: 5 * time.Minute})
			if err != nil || cleared.ModifyIndex <= first.ModifyIndex || cleared.Lock != nil {
				t.Fatalf("lock not cleared: %+v %v", cleared, err)
			}
			if gap := time.Duration(cleared.ModifyTime - first.ModifyTime); gap < 21*time.Second {
				t.Fatalf("lock cleared %v after the acquire, before 2×TTL + LockDelay (21s)", gap)
			}
			second, _, err := c.Variables().AcquireLock(shortLockVar(path), nil)
			if err != nil {
				t.Fatalf("acquire after the lock was cleared: %v", err)
			}
			if second.Lock.ID == first.Lock.ID {
				t.Fatal("the same lock ID after takeover")
			}
			_, _, err = c.Variables().RenewLock(&api.Variable{Path: path, Lock: &api.VariableLock{ID: first.Lock.ID}}, nil)
			wantStatus(t, err, 409, "")
		})

		check(t, "locks-helper", func(t *testing.T) {
			path := base + "/d"
			l1 := newScaledLocks(t, c, path, 2*time.Minute)
			l2 := newScaledLocks(t, c, path, 2*time.Minute)
			ctx := ctxTimeout(t, 20*time.Second)
			if _, err := l1.Acquire(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := l2.Acquire(ctx); !errors.Is(err, api.ErrLockConflict) {
				t.Fatalf("second Acquire: %v, want ErrLockConflict", err)
			}
			if err := l1.Renew(ctx); err != nil {
				t.Fatal(err)
			}
			// The api's comment says Renew of a lock not held returns ErrLockConflict; that holds
			// for a stale lock ID (409). A Locks that never acquired sends no ID, and the server
			// answers 500 "missing lock ID" (nomad/structs/variables.go errNoLock,
			// VariablesRenewLockRequest.Validate @ v2.0.5).
			if err := l2.Renew(ctx); statusOf(err) != 500 || !strings.Contains(err.Error(), "missing lock ID") {
				t.Fatalf("Renew without a lock ID: %v", err)
			}
			if err := l1.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if err := l1.Renew(ctx); !errors.Is(err, api.ErrLockConflict) {
				t.Fatalf("Renew of a released lock: %v, want ErrLockConflict", err)
			}
			if _, err := l2.Acquire(ctx); err != nil {
				t.Fatalf("Acquire after release: %v", err)
			}
			if err := l2.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})

		check(t, "lock-leaser-takeover", func(t *testing.T) {
			// A holder that stops renewing loses the lock to a waiting leaser once the server's
			// 2×TTL and then the LockDelay have run out — not before.
			path := base + "/f"
			ctx := ctxTimeout(t, 30*time.Second)
			held := make(chan struct{}, 1)
			stop := make(chan struct{})
			defer close(stop)
			go c.NewLockLeaser(frozenLocks{newScaledLocks(t, c, path, leaserTTL)}).Start(ctx, func(fctx context.Context) error {
				held <- struct{}{}
				select {
				case <-stop:
				case <-fctx.Done():
				}
				return nil
			})
			select {
			case <-held:
			case <-ctx.Done():
				t.Fatal("the frozen holder did not acquire")
			}
			frozen, _, err := c.Variables().Read(path, nil)
			if err != nil || frozen.Lock == nil {
				t.Fatalf("frozen holder's lock: %+v %v", frozen, err)
			}
			var took time.Duration
			if err := c.NewLockLeaser(newScaledLocks(t, c, path, leaserTTL)).Start(ctx, func(context.Context) error {
				v, _, err := c.Variables().Read(path, nil)
				if err != nil {
					return err
				}
				took = time.Duration(v.ModifyTime - frozen.ModifyTime) // virtual time
				return nil
			}); err != nil {
				t.Fatalf("successor leaser: %v", err)
			}
			if min := 2*leaserTTL + time.Second; took < min {
				t.Fatalf("successor acquired %v after the holder froze, before 2×TTL + LockDelay (%v)", took, min)
			}
		})

		check(t, "lock-leaser", func(t *testing.T) {
			path := base + "/e"
			ctx := ctxTimeout(t, 30*time.Second)
			var running atomic.Int32
			stop1 := make(chan struct{})
			leaser1 := c.NewLockLeaser(newScaledLocks(t, c, path, leaserTTL))
			started := make(chan struct{})
			res1 := make(chan error, 1)
			go func() {
				res1 <- leaser1.Start(ctx, func(fctx context.Context) error {
					running.Add(1)
					close(started)
					select {
					case <-stop1:
					case <-fctx.Done():
					}
					running.Add(-1)
					return nil
				})
			}()
			select {
			case <-started:
			case <-ctx.Done():
				t.Fatal("leaser 1 did not start")
			}
			// Renewals (0.7×TTL) keep it: the variable does not change for longer than 2×TTL +
			// LockDelay (a blocking read that times out), and it is still locked.
			held, _, err := c.Variables().Read(path, nil)
			if err != nil || held.Lock == nil {
				t.Fatalf("lock variable: %+v %v", held, err)
			}
			after, _, err := c.Variables().Read(path, &api.QueryOptions{WaitIndex: held.ModifyIndex, WaitTime: 2*leaserTTL + 5*time.Second})
			if err != nil || after.ModifyIndex != held.ModifyIndex || after.Lock == nil || after.Lock.ID != held.Lock.ID {
				t.Fatalf("the leaser lost the lock: %+v %v", after, err)
			}
			if _, err := newScaledLocks(t, c, path, leaserTTL).Acquire(ctx); !errors.Is(err, api.ErrLockConflict) {
				t.Fatalf("lock not held by the leaser: %v", err)
			}
			// A second leaser with early return gives up on a held lock.
			early := c.NewLockLeaser(newScaledLocks(t, c, path, leaserTTL), api.LockLeaserOptionWithEarlyReturn(true))
			if err := early.Start(ctx, func(context.Context) error {
				t.Error("protected function ran while the lock was held")
				return nil
			}); err != nil {
				t.Fatalf("early-return leaser: %v", err)
			}
			close(stop1)
			if err := <-res1; err != nil {
				t.Fatalf("leaser 1: %v", err)
			}
			// Released: the next leaser runs at once.
			ran := false
			if err := c.NewLockLeaser(newScaledLocks(t, c, path, leaserTTL)).Start(ctx, func(context.Context) error {
				ran = running.Load() == 0
				return nil
			}); err != nil || !ran {
				t.Fatalf("leaser after release: ran %v, %v", ran, err)
			}
		})
	})
}

// frozenLocks acquires for real but never renews nor releases: a holder that hangs or dies.
type frozenLocks struct{ api.Locker }

func (frozenLocks) Renew(context.Context) error   { return nil }
func (frozenLocks) Release(context.Context) error { return nil }

// scaledLocks is api.Locks with LockTTL in wall time: the simulator's clock runs timeScale times
// faster, so the leaser's renew period (0.7×TTL) and wait (1.1×TTL) must shrink with it.
type scaledLocks struct{ *api.Locks }

func (l scaledLocks) LockTTL() time.Duration { return simTime(l.Locks.LockTTL()) }

// leaserTTL is the lock TTL of the LockLeaser checks: 45 virtual seconds give the leaser's
// renewals (every 0.7×TTL ≈ 1.6 s of wall time) about 3 s of slack before the server's 2×TTL
// runs out, so a loaded CI machine (the ASan tree) cannot make a late renew look like a
// simulator bug.
const leaserTTL = 45 * time.Second

// newScaledLocks is an api.Locks on path with the lock TTL `ttl` (virtual), its LockTTL scaled
// to wall time.
func newScaledLocks(t *testing.T, c *api.Client, path string, ttl time.Duration) api.Locker {
	t.Helper()
	v := lockVar(path)
	v.Lock.TTL = ttl.String()
	l, err := c.Locks(api.WriteOptions{}, *v, api.LocksOptionWithMaxRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	return scaledLocks{l}
}
