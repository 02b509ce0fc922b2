// Tests of faultsim::VarLockAgent, the model of the stock `nomad var lock` CLI, under virtual
// time: the schedule of nomad-api.md §3.2 (start delay, 1.1×TTL acquire retries, 0.7×TTL renew
// ticker), the retry policy of §3.3, and the unsafe behaviour the negative control must show
// (a renew 409 leaves the child running and a later acquire starts a second one).
#include "controller/faultsim/var_lock_agent.h"

#include <gtest/gtest.h>

#include <csignal>
#include <set>
#include <string>
#include <vector>

namespace nsg::faultsim {
namespace {

using base::StatusCode;
using lock::State;
using Strings = std::vector<std::string>;
using namespace std::chrono_literals;

TimePoint At(Duration d) { return TimePoint(d); }

lock::Config Defaults() {
  lock::Config c;
  c.path = "nomad/jobs/example/lock";
  c.namespace_ = "default";
  c.ttl = 15s;
  c.delay = 15s;
  c.jitter = 0;  // no start delay: exact times
  return c;
}

nomad::Variable Var(uint64_t modify_index, const std::string& lock_id) {
  nomad::Variable v;
  v.path = "nomad/jobs/example/lock";
  v.namespace_ = "default";
  v.modify_index = modify_index;
  v.lock = nomad::VariableLock{15s, 15s, lock_id};
  return v;
}

// An HTTP error answer as io::StatusFromHttp writes it (the agent reads the status from it).
Status Http(int code) {
  StatusCode c = StatusCode::kUnavailable;
  if (code == 409) c = StatusCode::kConflict;
  if (code == 404) c = StatusCode::kNotFound;
  if (code == 403) c = StatusCode::kPermissionDenied;
  if (code == 400) c = StatusCode::kInvalidSpec;
  return Status(c, "PUT /v1/var/nomad/jobs/example/lock: HTTP " + std::to_string(code) +
                       ": injected");
}
// A network error: kUnavailable with no HTTP status.
Status Transport() {
  return Status::Unavailable("PUT /v1/var/nomad/jobs/example/lock: connection refused");
}

// Drives a VarLockAgent like the simulation does and remembers the latest request of each kind.
class Harness {
 public:
  explicit Harness(lock::Config c = Defaults())
      : agent_(VarLockAgent::Create(std::move(c)).value()) {}

  Strings Start(Duration t = 0s) { return Run(agent_.Start(At(t))); }
  Strings AcquireOk(Duration t, uint64_t epoch, const std::string& id) {
    return Run(agent_.OnAcquireResult(At(t), acquire_, Var(epoch, id)));
  }
  Strings AcquireErr(Duration t, const Status& st) {
    return Run(agent_.OnAcquireResult(At(t), acquire_, st));
  }
  Strings RenewOk(Duration t) { return Run(agent_.OnRenewResult(At(t), renew_, Var(1, "x"))); }
  Strings RenewErr(Duration t, const Status& st) {
    return Run(agent_.OnRenewResult(At(t), renew_, st));
  }
  Strings ReleaseOk(Duration t) { return Run(agent_.OnReleaseResult(At(t), release_, {})); }
  Strings ReleaseErr(Duration t, const Status& st) {
    return Run(agent_.OnReleaseResult(At(t), release_, st));
  }
  Strings HolderExited(Duration t, int code) { return Run(agent_.OnHolderExited(At(t), code)); }
  Strings ChildExited(Duration t, uint32_t child, int code) {
    return Run(agent_.OnChildExited(At(t), child, code));
  }
  Strings Stop(Duration t, int sig = SIGTERM) { return Run(agent_.OnStopRequested(At(t), sig)); }
  // Fires every wakeup up to and including `t` and returns what they did.
  Strings RunUntil(Duration t) {
    Strings all;
    while (auto w = agent_.NextWakeup()) {
      if (*w > At(t)) break;
      Strings s = Run(agent_.OnTimer(*w));
      all.insert(all.end(), s.begin(), s.end());
      if (s.empty() && agent_.NextWakeup() == w) break;
    }
    return all;
  }
  std::optional<Duration> Wakeup() const {
    auto w = agent_.NextWakeup();
    if (!w) return std::nullopt;
    return w->time_since_epoch();
  }

  VarLockAgent& agent() { return agent_; }
  State state() const { return agent_.state(); }
  const lock::Actions& last() const { return last_; }
  uint64_t renew_id() const { return renew_; }
  // The lock ID sent with the latest request of each kind.
  const std::string& acquire_lock_id() const { return acquire_lock_id_; }
  const std::string& renew_lock_id() const { return renew_lock_id_; }
  const std::string& release_lock_id() const { return release_lock_id_; }

 private:
  Strings Run(lock::Actions a) {
    last_ = a;
    Strings out;
    for (const lock::Action& x : a) {
      if (auto* p = std::get_if<lock::SendAcquire>(&x)) {
        acquire_ = p->id;
        acquire_lock_id_ = p->lock_id;
      }
      if (auto* p = std::get_if<lock::SendRenew>(&x)) {
        renew_ = p->id;
        renew_lock_id_ = p->lock_id;
      }
      if (auto* p = std::get_if<lock::SendRelease>(&x)) {
        release_ = p->id;
        release_lock_id_ = p->lock_id;
      }
      if (auto* p = std::get_if<lock::StartHolder>(&x)) {
        // The CLI gives its child no lease.
        EXPECT_EQ(p->lease_until, TimePoint::max());
        out.push_back("start epoch=" + std::to_string(p->grant.epoch));
        continue;
      }
      out.push_back(lock::Describe(x));
    }
    return out;
  }

  VarLockAgent agent_;
  lock::Actions last_;
  uint64_t acquire_ = 0, renew_ = 0, release_ = 0;
  std::string acquire_lock_id_, renew_lock_id_, release_lock_id_;
};

// Holds lock "L1" (epoch 120): acquire sent at 0, answered at 0.1s; renews are due at
// 0.1s + k·10.5s.
Harness Holding(lock::Config c = Defaults()) {
  Harness h(std::move(c));
  EXPECT_EQ(h.Start(0s), (Strings{"acquire#1"}));
  EXPECT_EQ(h.AcquireOk(100ms, 120, "L1"), (Strings{"start epoch=120"}));
  return h;
}

// Child 1 started at 0.1s with "L1"; its renew got 409 at 10.7s; the re-acquire sent at 27.2s
// started child 2 ("L2", epoch 200) at 27.3s. Child 2's renews are due at 27.3s + k·10.5s.
Harness TwoChildren() {
  Harness h = Holding();
  EXPECT_EQ(h.RunUntil(10600ms), (Strings{"renew#2"}));
  EXPECT_EQ(h.RenewErr(10700ms, Http(409)), Strings{});
  EXPECT_EQ(h.RunUntil(27200ms), (Strings{"acquire#3"}));
  EXPECT_EQ(h.AcquireOk(27300ms, 200, "L2"), (Strings{"start epoch=200"}));
  return h;
}

// ---- creation and the schedule ----

TEST(VarLockAgentTest, CreateChecksOnlyWhatTheGoClientNeeds) {
  // Timers the timer rule rejects (G far beyond 2T + D) are exactly what the control must run.
  lock::Config unsafe = Defaults();
  unsafe.ttl = 10s;
  unsafe.delay = 0s;
  unsafe.give_up = 120s;
  EXPECT_FALSE(lock::Agent::Create(unsafe).ok());
  EXPECT_TRUE(VarLockAgent::Create(unsafe).ok());

  lock::Config c = Defaults();
  c.path = "";
  EXPECT_EQ(VarLockAgent::Create(c).status().code(), StatusCode::kInvalidSpec);
  c = Defaults();
  c.ttl = 0s;
  EXPECT_EQ(VarLockAgent::Create(c).status().code(), StatusCode::kInvalidSpec);
  c = Defaults();
  c.jitter = 1.0;
  EXPECT_EQ(VarLockAgent::Create(c).status().code(), StatusCode::kInvalidSpec);
}

TEST(VarLockAgentTest, PeriodsAreGoFactorsOfTheTtl) {
  Harness h;
  EXPECT_EQ(h.agent().renew_period(), 10500ms);  // 0.7 × 15s (§3.2.3)
  EXPECT_EQ(h.agent().wait_period(), 16500ms);   // 1.1 × 15s (§3.2.2)
  lock::Config c = Defaults();
  c.ttl = 30s;
  Harness h30(c);
  EXPECT_EQ(h30.agent().renew_period(), 21s);
  EXPECT_EQ(h30.agent().wait_period(), 33s);
}

TEST(VarLockAgentTest, StartSleepsZeroTo99MsWithJitter) {
  std::set<int64_t> delays;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    lock::Config c = Defaults();
    c.jitter = 0.2;
    c.seed = seed;
    Harness h(c);
    Strings s = h.Start(0s);
    std::optional<Duration> w = h.Wakeup();
    if (s.empty()) {
      ASSERT_TRUE(w.has_value());
      EXPECT_GT(*w, 0ms);
      EXPECT_LE(*w, 99ms);
      delays.insert(w->count());
      EXPECT_EQ(h.RunUntil(*w), (Strings{"acquire#1"}));
    } else {
      EXPECT_EQ(s, (Strings{"acquire#1"}));  // drew 0 ms
      delays.insert(0);
    }
    EXPECT_EQ(h.acquire_lock_id(), "");  // the CLI sends no lock ID: the server picks one
  }
  EXPECT_GT(delays.size(), 5u);  // seeded, not constant
}

TEST(VarLockAgentTest, AcquireStartsTheChildAndRenewsOnTheTickerGrid) {
  Harness h = Holding();
  EXPECT_EQ(h.state(), State::kHolding);
  EXPECT_EQ(h.agent().grant().lock_id, "L1");
  EXPECT_EQ(h.agent().grant().epoch, 120u);
  EXPECT_EQ(h.agent().grant().acquired_at, At(0s));
  EXPECT_EQ(h.agent().children_started(), 1u);

  // The ticker starts when the acquire answer arrives; renews send the granted ID.
  EXPECT_EQ(h.Wakeup(), 10600ms);
  EXPECT_EQ(h.RunUntil(10599ms), Strings{});
  EXPECT_EQ(h.RunUntil(10600ms), (Strings{"renew#2"}));
  EXPECT_EQ(h.renew_lock_id(), "L1");
  EXPECT_EQ(h.RenewOk(10700ms), Strings{});  // nothing tells the child (no ExtendLease)
  // The grid does not move with the renew's answer.
  EXPECT_EQ(h.Wakeup(), 21100ms);
  EXPECT_EQ(h.RunUntil(21100ms), (Strings{"renew#3"}));
  // An answer after the next tick (31.6s) sends the buffered tick at once; later ticks stay on
  // the grid (42.1s).
  EXPECT_EQ(h.RenewOk(33s), (Strings{"renew#4"}));
  EXPECT_EQ(h.RenewOk(33100ms), Strings{});
  EXPECT_EQ(h.Wakeup(), 42100ms);
  // A renew slower than two ticks: the missed ones are dropped, one is sent at once.
  EXPECT_EQ(h.RunUntil(42100ms), (Strings{"renew#5"}));
  EXPECT_EQ(h.RenewOk(70s), (Strings{"renew#6"}));  // ticks 52.6 and 63.1 passed
  EXPECT_EQ(h.RenewOk(70100ms), Strings{});
  EXPECT_EQ(h.Wakeup(), 73600ms);
  EXPECT_EQ(h.state(), State::kHolding);
}

TEST(VarLockAgentTest, AcquireConflictRetriesEvery1_1TtlForever) {
  Harness h;
  EXPECT_EQ(h.Start(0s), (Strings{"acquire#1"}));
  Duration t = 200ms;
  for (int i = 2; i <= 6; ++i) {
    EXPECT_EQ(h.AcquireErr(t, Http(409)), Strings{});  // a 409 is not retried by retryPut
    EXPECT_EQ(h.state(), State::kAcquiring);
    EXPECT_EQ(h.Wakeup(), t + 16500ms);  // waitPeriod from the answer
    EXPECT_EQ(h.RunUntil(t + 16500ms), (Strings{"acquire#" + std::to_string(i)}));
    t += 16600ms;
  }
  EXPECT_FALSE(h.agent().done());
  EXPECT_EQ(h.agent().children_started(), 0u);
}

TEST(VarLockAgentTest, AcquireErrorOtherThan409ExitsOneWithoutRelease) {
  for (const Status& st : {Http(500), Http(403), Http(404), Transport()}) {
    Harness h;
    h.Start(0s);
    EXPECT_EQ(h.AcquireErr(100ms, st), (Strings{"exit 1"})) << st.ToString();
    EXPECT_EQ(h.state(), State::kFailed);
    EXPECT_EQ(h.agent().exit_code(), 1);
  }
  // 503 is retried (§3.3), then may succeed.
  Harness h;
  h.Start(0s);
  EXPECT_EQ(h.AcquireErr(100ms, Http(503)), Strings{});
  EXPECT_EQ(h.RunUntil(1100ms), (Strings{"acquire#2"}));
  EXPECT_EQ(h.AcquireOk(1200ms, 7, "L1"), (Strings{"start epoch=7"}));
  EXPECT_EQ(h.agent().grant().acquired_at, At(1100ms));
}

// ---- the unsafe part: a lost lock does not stop the child ----

TEST(VarLockAgentTest, RenewConflictKeepsTheChildAndReacquireStartsASecondOne) {
  Harness h = Holding();
  EXPECT_EQ(h.RunUntil(10600ms), (Strings{"renew#2"}));
  // The server's 2×TTL timer fired, or someone else holds the lock: 409.
  EXPECT_EQ(h.RenewErr(10700ms, Http(409)), Strings{});  // no stop, no kill (§3.2.8)
  EXPECT_EQ(h.state(), State::kAcquiring);
  EXPECT_EQ(h.agent().running_children(), (std::vector<uint32_t>{1}));
  EXPECT_FALSE(h.agent().done());

  // Re-acquire 1.1×TTL later, with the old lock's ID (`l.variable.Lock = out.Lock`).
  EXPECT_EQ(h.Wakeup(), 27200ms);
  EXPECT_EQ(h.RunUntil(27200ms), (Strings{"acquire#3"}));
  EXPECT_EQ(h.acquire_lock_id(), "L1");
  EXPECT_EQ(h.AcquireErr(27300ms, Http(409)), Strings{});  // still held elsewhere

  // A signal now is forwarded to the orphaned child, which keeps the CLI alive.
  EXPECT_EQ(h.Stop(40s), (Strings{"stop sig=15"}));
  EXPECT_FALSE(h.agent().done());
  EXPECT_EQ(h.RunUntil(43800ms), (Strings{"acquire#4"}));

  // The acquire succeeds: a SECOND child starts while the first still runs.
  EXPECT_EQ(h.AcquireOk(43900ms, 200, "L2"), (Strings{"start epoch=200"}));
  EXPECT_EQ(h.agent().children_started(), 2u);
  EXPECT_EQ(h.agent().running_children(), (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(h.state(), State::kStopping);
  EXPECT_EQ(h.agent().grant().lock_id, "L2");
  EXPECT_EQ(h.RunUntil(54400ms), (Strings{"renew#5"}));
  EXPECT_EQ(h.renew_lock_id(), "L2");
}

TEST(VarLockAgentTest, OldChildExitingZeroKillsTheNewOneAndReleases) {
  Harness h = TwoChildren();
  // Child 1 ends by itself: its goroutine calls start()'s cancel(), whose context every funcCtx
  // derives from: child 2 is SIGKILLed, the lock released, exit 0.
  EXPECT_EQ(h.ChildExited(30s, 1, 0), (Strings{"kill", "release#4"}));
  EXPECT_EQ(h.release_lock_id(), "L2");
  EXPECT_EQ(h.ReleaseOk(30100ms), (Strings{"exit 0"}));
  EXPECT_EQ(h.state(), State::kReleased);
}

TEST(VarLockAgentTest, ErrorQueuedByAnOldChildHangsTheCliOnTheNextRenewError) {
  Harness h = TwoChildren();
  // Child 1 fails: its error waits in errChannel while maintainLease watches child 2.
  EXPECT_EQ(h.ChildExited(30s, 1, 2), Strings{});
  EXPECT_EQ(h.state(), State::kHolding);
  EXPECT_EQ(h.RunUntil(37800ms), (Strings{"renew#4"}));
  // A 500 on child 2's renew: the main goroutine's send finds the slot full and blocks for
  // good: no kill, no more renews, no release, no exit.
  EXPECT_EQ(h.RenewErr(37900ms, Http(500)), Strings{});
  EXPECT_EQ(h.state(), State::kLosing);
  EXPECT_FALSE(h.agent().done());
  EXPECT_EQ(h.Wakeup(), std::nullopt);
  EXPECT_EQ(h.agent().running_children(), (std::vector<uint32_t>{2}));
  EXPECT_EQ(h.Stop(60s), (Strings{"stop sig=15"}));  // forwarding still works
}

TEST(VarLockAgentTest, QueuedErrorIsReturnedAtTheNextLoopEnd) {
  Harness h = TwoChildren();
  h.ChildExited(30s, 1, 2);
  h.RunUntil(37800ms);
  // Child 2's renew gets 409: the loop ends, the select takes child 1's error: child 2 is
  // killed, the lock released, exit 1.
  EXPECT_EQ(h.RenewErr(37900ms, Http(409)), (Strings{"kill", "release#5"}));
  EXPECT_EQ(h.ReleaseOk(38s), (Strings{"exit 1"}));
}

// ---- renew failures other than 409 (§3.2.7, §3.3) ----

TEST(VarLockAgentTest, Renew5xxIsRetriedWithBackoffWithoutTouchingTheChild) {
  for (int code : {503, 429, 501, 510}) {
    Harness h = Holding();
    EXPECT_EQ(h.RunUntil(10600ms), (Strings{"renew#2"}));
    EXPECT_EQ(h.RenewErr(10700ms, Http(code)), Strings{}) << code;
    EXPECT_EQ(h.Wakeup(), 11700ms);  // 1s
    EXPECT_EQ(h.RunUntil(11700ms), (Strings{"renew#3"}));
    EXPECT_EQ(h.RenewErr(11800ms, Http(code)), Strings{});
    EXPECT_EQ(h.Wakeup(), 13800ms);  // 2s
    EXPECT_EQ(h.RunUntil(13800ms), (Strings{"renew#4"}));
    EXPECT_EQ(h.RenewErr(13900ms, Http(code)), Strings{});
    EXPECT_EQ(h.Wakeup(), 17900ms);  // 4s
    EXPECT_EQ(h.RunUntil(17900ms), (Strings{"renew#5"}));
    EXPECT_EQ(h.RenewOk(18s), Strings{});
    EXPECT_EQ(h.state(), State::kHolding);
    EXPECT_EQ(h.Wakeup(), 21100ms);  // back on the grid
  }
}

TEST(VarLockAgentTest, RenewRetriesEndOnceTtlHasElapsedThenTheChildIsKilled) {
  Harness h = Holding();
  h.RunUntil(10600ms);  // renew#2, the call's first attempt
  h.RenewErr(10700ms, Http(503));
  h.RunUntil(11700ms);
  h.RenewErr(11800ms, Http(503));
  h.RunUntil(13800ms);
  h.RenewErr(13900ms, Http(503));
  h.RunUntil(17900ms);
  EXPECT_EQ(h.RenewErr(18s, Http(503)), Strings{});  // 7.4s elapsed: wait 8s more
  EXPECT_EQ(h.RunUntil(26s), (Strings{"renew#6"}));  // sent past TTL: Go does not check here
  // 15.5s > TTL since the first attempt: the call ends with the error.
  EXPECT_EQ(h.RenewErr(26100ms, Http(503)), (Strings{"kill", "release#7"}));
  EXPECT_EQ(h.state(), State::kReleasing);
}

TEST(VarLockAgentTest, RenewRetriesAtMostFiveTimes) {
  lock::Config c = Defaults();
  c.ttl = 60s;  // long enough that the count, not the TTL, ends the retries
  Harness h = Holding(c);
  const Duration first = 100ms + 42s;
  EXPECT_EQ(h.RunUntil(first), (Strings{"renew#2"}));
  Duration t = first;
  for (Duration wait : {1s, 2s, 4s, 8s, 16s}) {
    EXPECT_EQ(h.RenewErr(t, Http(503)), Strings{});
    t += wait;
    EXPECT_EQ(h.Wakeup(), t);
    EXPECT_EQ(h.RunUntil(t).size(), 1u);
  }
  EXPECT_EQ(h.RenewErr(t, Http(503)), (Strings{"kill", "release#8"}));
}

TEST(VarLockAgentTest, RenewNon409FailureKillsTheChildAtOnceAndReleases) {
  // 404 too: §3.2.7 lists it as a non-409 error (the child is killed, not kept).
  for (const Status& st : {Http(500), Http(404), Http(403), Transport()}) {
    Harness h = Holding();
    h.RunUntil(10600ms);
    EXPECT_EQ(h.RenewErr(10700ms, st), (Strings{"kill", "release#3"})) << st.ToString();
    EXPECT_EQ(h.release_lock_id(), "L1");
    EXPECT_EQ(h.state(), State::kReleasing);
    Strings exit = h.ReleaseOk(10800ms);
    EXPECT_EQ(exit, (Strings{"exit 1"}));
    EXPECT_EQ(h.state(), State::kReleased);
    const auto& e = std::get<lock::Exit>(h.last().back());
    EXPECT_NE(e.reason.find("error renewing the lease"), std::string::npos) << e.reason;
  }
}

TEST(VarLockAgentTest, KilledChildReportedBeforeTheReleaseAnswerPanics) {
  Harness h = Holding();
  h.RunUntil(10600ms);
  EXPECT_EQ(h.RenewErr(10700ms, Http(500)), (Strings{"kill", "release#3"}));
  // The SIGKILLed child's goroutine sends on the closed errChannel: Go panics, exit 2.
  EXPECT_EQ(h.HolderExited(10710ms, 137), (Strings{"exit 2"}));
  EXPECT_EQ(h.state(), State::kLost);
  EXPECT_EQ(h.ReleaseOk(10800ms), Strings{});  // the process is gone
}

// ---- stop and normal ends ----

TEST(VarLockAgentTest, StopIsForwardedAndTheLockReleasedAfterTheChildExits) {
  for (int code : {0, 128 + SIGTERM}) {
    Harness h = Holding();
    EXPECT_EQ(h.Stop(5s), (Strings{"stop sig=15"}));
    EXPECT_EQ(h.state(), State::kStopping);
    // The CLI keeps renewing while the child shuts down.
    EXPECT_EQ(h.RunUntil(10600ms), (Strings{"renew#2"}));
    EXPECT_EQ(h.RenewOk(10700ms), Strings{});
    EXPECT_EQ(h.HolderExited(12s, code), (Strings{"release#3"}));
    EXPECT_EQ(h.state(), State::kReleasing);
    EXPECT_EQ(h.release_lock_id(), "L1");
    // §3.2.5–6: exit 0 after a clean child, 1 otherwise (the child's code is not propagated).
    EXPECT_EQ(h.ReleaseOk(12100ms), (Strings{code == 0 ? "exit 0" : "exit 1"}));
    EXPECT_EQ(h.state(), State::kReleased);
  }
}

TEST(VarLockAgentTest, ChildExitDuringARenewReleasesAfterTheRenewAnswer) {
  Harness h = Holding();
  h.RunUntil(10600ms);
  // The put in flight cannot be interrupted; the release follows its answer.
  EXPECT_EQ(h.HolderExited(10650ms, 0), Strings{});
  EXPECT_EQ(h.RenewOk(10700ms), (Strings{"release#3"}));
  EXPECT_EQ(h.ReleaseOk(10800ms), (Strings{"exit 0"}));
}

TEST(VarLockAgentTest, ReleaseIsRetriedOn5xxAndAFailedReleaseExitsOne) {
  Harness h = Holding();
  EXPECT_EQ(h.HolderExited(5s, 0), (Strings{"release#2"}));
  EXPECT_EQ(h.ReleaseErr(5100ms, Http(502)), Strings{});
  EXPECT_EQ(h.RunUntil(6100ms), (Strings{"release#3"}));
  EXPECT_EQ(h.ReleaseErr(6200ms, Http(409)), (Strings{"exit 1"}));
  EXPECT_EQ(h.state(), State::kLost);
}

TEST(VarLockAgentTest, StopWithoutARunningChildEndsTheCliWithoutRelease) {
  Harness h;
  h.Start(0s);
  h.AcquireErr(100ms, Http(409));
  // No signal.Notify is active outside the protected function: Go's default disposition.
  EXPECT_EQ(h.Stop(1s, SIGINT), (Strings{"exit 130"}));
  EXPECT_EQ(h.state(), State::kReleased);  // never held
  EXPECT_EQ(h.Wakeup(), std::nullopt);
}

TEST(VarLockAgentTest, StaleAndUnaskedAnswersAreIgnored) {
  Harness h = Holding();
  h.RunUntil(10600ms);
  const uint64_t old = h.renew_id();
  EXPECT_EQ(h.RenewOk(10700ms), Strings{});
  lock::Actions a = h.agent().OnRenewResult(At(10800ms), old, Http(500));
  EXPECT_TRUE(a.empty());
  a = h.agent().OnReadResult(At(10800ms), 99, Status::NotFound("x"));
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(h.agent().OnChildExited(At(10800ms), 5, 0).size(), 0u);
  EXPECT_EQ(h.state(), State::kHolding);
}

}  // namespace
}  // namespace nsg::faultsim
