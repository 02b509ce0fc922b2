// Table tests of lock::Agent under virtual time: every transition, the exact deadlines, and the
// promises of issue 6 (no second start, release on a graceful stop, standby wake-up on an index
// change, refusal of timers that break the timer rule).
#include "controller/lock/agent.h"

#include <gtest/gtest.h>

#include <csignal>
#include <string>
#include <vector>

namespace nsg::lock {
namespace {

using base::StatusCode;
using Strings = std::vector<std::string>;

TimePoint At(Duration d) { return TimePoint(d); }

Config Defaults() {
  Config c;
  c.path = "nomad/jobs/example/lock";
  c.namespace_ = "default";
  c.ttl = 15s;
  c.delay = 15s;
  c.give_up = 15s;
  c.kill_timeout = 5s;
  c.lock_id = "L";
  c.jitter = 0;  // exact times; one test below covers the jitter
  return c;
}

nomad::Variable Var(uint64_t modify_index, const std::string& lock_id = "L") {
  nomad::Variable v;
  v.path = "nomad/jobs/example/lock";
  v.namespace_ = "default";
  v.modify_index = modify_index;
  if (!lock_id.empty()) v.lock = nomad::VariableLock{15s, 15s, lock_id};
  return v;
}

nomad::Query<nomad::Variable> Read(uint64_t index) {
  nomad::Query<nomad::Variable> q;
  q.value = Var(index, "");
  q.meta.last_index = index;
  return q;
}

Status Err(StatusCode c) { return Status(c, "injected"); }

// Drives an Agent like the runner does and remembers the id of the latest request of each kind.
class Harness {
 public:
  explicit Harness(Config c = Defaults()) : agent_(Agent::Create(std::move(c)).value()) {}

  Strings Start(Duration t = 0s) { return Run(agent_.Start(Now(t))); }
  Strings Resume(Duration t, const Grant& g) { return Run(agent_.Resume(Now(t), g)); }
  Strings AcquireOk(Duration t, uint64_t epoch, const std::string& id = "L") {
    return Run(agent_.OnAcquireResult(Now(t), acquire_, Var(epoch, id)));
  }
  Strings AcquireErr(Duration t, StatusCode c) {
    return Run(agent_.OnAcquireResult(Now(t), acquire_, Err(c)));
  }
  Strings RenewOk(Duration t) { return Run(agent_.OnRenewResult(Now(t), renew_, Var(120))); }
  Strings RenewErr(Duration t, StatusCode c) {
    return Run(agent_.OnRenewResult(Now(t), renew_, Err(c)));
  }
  Strings ReleaseOk(Duration t) { return Run(agent_.OnReleaseResult(Now(t), release_, {})); }
  Strings ReleaseErr(Duration t, StatusCode c) {
    return Run(agent_.OnReleaseResult(Now(t), release_, Err(c)));
  }
  Strings ReadOk(Duration t, uint64_t index) {
    return Run(agent_.OnReadResult(Now(t), read_, Read(index)));
  }
  Strings ReadErr(Duration t, StatusCode c) {
    return Run(agent_.OnReadResult(Now(t), read_, Err(c)));
  }
  Strings HolderExited(Duration t, int code) {
    return Run(agent_.OnHolderExited(Now(t), code));
  }
  Strings Stop(Duration t, int sig = SIGTERM) {
    return Run(agent_.OnStopRequested(Now(t), sig));
  }
  // Fires every wakeup up to and including `t`, as a runner would, and returns what they did.
  Strings RunUntil(Duration t) {
    Strings all;
    while (auto w = agent_.NextWakeup()) {
      if (*w > At(t)) break;
      Strings s = Run(agent_.OnTimer(Now(w->time_since_epoch())));
      all.insert(all.end(), s.begin(), s.end());
      if (s.empty() && agent_.NextWakeup() == w) break;  // no progress: avoid spinning
    }
    now_ = std::max(now_, At(t));
    return all;
  }
  std::optional<Duration> Wakeup() const {
    auto w = agent_.NextWakeup();
    if (!w) return std::nullopt;
    return w->time_since_epoch();
  }

  Agent& agent() { return agent_; }
  State state() const { return agent_.state(); }
  const Actions& last() const { return last_; }
  const std::string& last_acquire_lock_id() const { return acquire_lock_id_; }
  uint64_t read_id() const { return read_; }

 private:
  TimePoint Now(Duration t) {
    now_ = At(t);
    return now_;
  }
  Strings Run(Actions a) {
    last_ = a;
    Strings out;
    for (const Action& x : a) {
      if (auto* p = std::get_if<SendAcquire>(&x)) {
        acquire_ = p->id;
        acquire_lock_id_ = p->lock_id;
      }
      if (auto* p = std::get_if<SendRenew>(&x)) renew_ = p->id;
      if (auto* p = std::get_if<SendRelease>(&x)) release_ = p->id;
      if (auto* p = std::get_if<ReadVariable>(&x)) read_ = p->id;
      out.push_back(Describe(x));
    }
    return out;
  }

  Agent agent_;
  TimePoint now_{};
  Actions last_;
  uint64_t acquire_ = 0, renew_ = 0, release_ = 0, read_ = 0;
  std::string acquire_lock_id_;
};

// A harness that already holds the lock (epoch 120, acquire sent at 0, answered at 0.1s).
Harness Holding(Config c = Defaults()) {
  Harness h(std::move(c));
  h.Start(0s);
  h.AcquireOk(100ms, 120);
  return h;
}

// ---------------------------------------------------------------------------------------------
// Validation: the timer rule and Nomad's bounds.

struct ValidateCase {
  std::string name;
  void (*mutate)(Config&);
  std::string want;  // "" = valid; else a substring of the error
};

TEST(AgentValidateTest, Table) {
  const ValidateCase cases[] = {
      {"defaults", [](Config&) {}, ""},
      {"sidecar guard poll", [](Config& c) { c.guard_poll = 250ms; }, ""},
      {"empty path", [](Config& c) { c.path = ""; }, "a lock path is 1-128 characters"},
      {"bad path char", [](Config& c) { c.path = "nomad/jobs/x y"; }, "a lock path"},
      {"long path", [](Config& c) { c.path = std::string(129, 'a'); }, "a lock path"},
      {"ttl below 10s", [](Config& c) { c.ttl = 9s; }, "between 10s and 24h"},
      {"ttl above 24h", [](Config& c) { c.ttl = 25h; }, "between 10s and 24h"},
      {"negative delay", [](Config& c) { c.delay = -1s; }, "--delay must not be negative"},
      {"negative kill", [](Config& c) { c.kill_timeout = -1s; }, "--kill-timeout"},
      {"give-up under two renew intervals", [](Config& c) { c.give_up = 9s; },
       "leaves less than two renew intervals"},
      {"give-up exactly two renew intervals", [](Config& c) { c.give_up = 10s; }, ""},
      // (40 + 5)·1.01 + 1 = 46.45 > 45·0.99 = 44.55.
      {"give-up outlives the lock", [](Config& c) { c.give_up = 40s; }, "timer rule broken"},
      {"kill timeout outlives the lock", [](Config& c) { c.kill_timeout = 30s; },
       "timer rule broken"},
      // T = 10s, D = 1ms: server side 19.80099s; (10 + 5)·1.01 + 1 = 16.15 ≤ 19.8.
      {"short ttl, tiny delay", [](Config& c) { c.ttl = 10s; c.delay = 1ms; c.give_up = 10s; },
       ""},
      // (14 + 5)·1.01 + 1 = 20.19 > 19.8.
      {"short ttl, long give-up", [](Config& c) { c.ttl = 10s; c.delay = 1ms; c.give_up = 14s; },
       "raise lock.delay"},
      // Nomad would apply 15s, not 0 (VariableLock.Canonicalize).
      {"zero delay", [](Config& c) { c.delay = 0s; }, "Nomad turns a zero lock delay into"},
      {"jitter out of range", [](Config& c) { c.jitter = 1.5; }, "jitter"},
  };
  for (const auto& tc : cases) {
    Config c = Defaults();
    tc.mutate(c);
    Status st = Validate(c);
    if (tc.want.empty()) {
      EXPECT_TRUE(st.ok()) << tc.name << ": " << st.ToString();
    } else {
      EXPECT_EQ(st.code(), StatusCode::kInvalidSpec) << tc.name;
      EXPECT_NE(st.message().find(tc.want), std::string::npos) << tc.name << ": " << st.message();
    }
    EXPECT_EQ(Agent::Create(c).ok(), tc.want.empty()) << tc.name;
  }
}

TEST(AgentValidateTest, BoundaryOfTheTimerRuleIsExact) {
  // With T = D = 15s and K = 5s the largest safe G satisfies (G + 5)·1.01 + 1 ≤ 44.55.
  Config c = Defaults();
  c.give_up = 38s;  // 44.43 ≤ 44.55
  EXPECT_TRUE(Validate(c).ok());
  c.give_up = 38200ms;  // 44.632 > 44.55
  EXPECT_FALSE(Validate(c).ok());
}

// ---------------------------------------------------------------------------------------------
// Acquire.

TEST(AgentAcquireTest, StartSendsAcquireWithOwnLockId) {
  Harness h;
  EXPECT_EQ(h.Start(0s), Strings({"acquire#1"}));
  EXPECT_EQ(h.state(), State::kAcquiring);
  EXPECT_EQ(h.last_acquire_lock_id(), "L");
  EXPECT_EQ(h.Wakeup(), std::nullopt);  // only the answer moves it
}

TEST(AgentAcquireTest, SuccessStartsHolderWithEpochAndLeaseFromSendTime) {
  Harness h;
  h.Start(0s);
  EXPECT_EQ(h.AcquireOk(300ms, 120), Strings({"start epoch=120 until=15s"}));
  EXPECT_EQ(h.state(), State::kHolding);
  const auto& start = std::get<StartHolder>(h.last()[0]);
  EXPECT_EQ(start.grant.lock_id, "L");
  EXPECT_EQ(start.grant.path, "nomad/jobs/example/lock");
  EXPECT_EQ(start.grant.acquired_at, At(0s));
  // First renew T/3 after the acquire's SEND time, not its answer.
  EXPECT_EQ(h.Wakeup(), 5s);
}

TEST(AgentAcquireTest, ServerChosenLockIdIsUsed) {
  Config c = Defaults();
  c.lock_id = "";
  Harness h(c);
  h.Start(0s);
  EXPECT_EQ(h.last_acquire_lock_id(), "");
  h.AcquireOk(100ms, 7, "server-id");
  EXPECT_EQ(h.agent().grant().lock_id, "server-id");
  h.RunUntil(5s);
  EXPECT_EQ(std::get<SendRenew>(h.last()[0]).lock_id, "server-id");
}

TEST(AgentAcquireTest, MissingLockIdFailsPermanently) {
  Config c = Defaults();
  c.lock_id = "";
  Harness h(c);
  h.Start(0s);
  EXPECT_EQ(h.AcquireOk(100ms, 7, ""), Strings({"exit 1"}));
  EXPECT_EQ(h.state(), State::kFailed);
}

struct AcquireErrorCase {
  StatusCode code;
  Strings want;
  State state;
};

TEST(AgentAcquireTest, ErrorTable) {
  const AcquireErrorCase cases[] = {
      {StatusCode::kUnavailable, {}, State::kAcquiring},
      {StatusCode::kPermissionDenied, {}, State::kAcquiring},
      {StatusCode::kInternal, {}, State::kAcquiring},
      {StatusCode::kNotFound, {}, State::kAcquiring},
      {StatusCode::kCancelled, {}, State::kAcquiring},
      {StatusCode::kInvalidSpec, {"exit 1"}, State::kFailed},
      {StatusCode::kConflict, {"read#2 index=0"}, State::kStandby},
  };
  for (const auto& tc : cases) {
    Harness h;
    h.Start(0s);
    EXPECT_EQ(h.AcquireErr(1s, tc.code), tc.want) << base::StatusCodeName(tc.code);
    EXPECT_EQ(h.state(), tc.state) << base::StatusCodeName(tc.code);
  }
}

TEST(AgentAcquireTest, RetriesBackOffExponentiallyToHalfTheTtl) {
  Harness h;
  h.Start(0s);
  Duration t = 0s;
  const Duration want[] = {500ms, 1s, 2s, 4s, 7500ms, 7500ms};
  for (Duration gap : want) {
    h.AcquireErr(t, StatusCode::kUnavailable);
    EXPECT_EQ(h.Wakeup(), t + gap);
    EXPECT_EQ(h.RunUntil(t + gap - 1ns), Strings{});
    t += gap;
    EXPECT_EQ(h.RunUntil(t).size(), 1u);
  }
  // A success resets the backoff.
  h.AcquireOk(t, 9);
  EXPECT_EQ(h.state(), State::kHolding);
}

TEST(AgentAcquireTest, AmbiguousFailureCountsLeaseFromTheFirstAttempt) {
  // A 503 may have been applied: the server's timer could have started with the first attempt.
  Harness h;
  h.Start(0s);
  h.AcquireErr(200ms, StatusCode::kUnavailable);
  EXPECT_EQ(h.RunUntil(700ms), Strings({"acquire#2"}));  // 0.5s backoff
  EXPECT_EQ(h.AcquireOk(800ms, 121), Strings({"start epoch=121 until=15s"}));
  EXPECT_EQ(h.Wakeup(), 5s);
}

TEST(AgentAcquireTest, DefiniteRefusalsResetTheFirstAttempt) {
  // 403: nothing was applied, so the retry at 0.6s is the first attempt that can have won.
  Harness h;
  h.Start(0s);
  h.AcquireErr(100ms, StatusCode::kPermissionDenied);
  EXPECT_EQ(h.RunUntil(600ms), Strings({"acquire#2"}));
  EXPECT_EQ(h.AcquireOk(700ms, 9), Strings({"start epoch=9 until=15.6s"}));
  // 409: the same, for the acquire after the standby read (0.25s: spacing from the first).
  Harness g;
  g.Start(0s);
  g.AcquireErr(100ms, StatusCode::kConflict);
  g.ReadOk(200ms, 5);
  EXPECT_EQ(g.RunUntil(250ms), Strings({"acquire#3"}));
  EXPECT_EQ(g.AcquireOk(300ms, 9), Strings({"start epoch=9 until=15.25s"}));
}

TEST(AgentAcquireTest, ServerChosenIdCountsOnlyTheWinningAttempt) {
  Config c = Defaults();
  c.lock_id = "";
  Harness h(c);
  h.Start(0s);
  h.AcquireErr(200ms, StatusCode::kUnavailable);
  h.RunUntil(700ms);
  EXPECT_EQ(h.AcquireOk(800ms, 121, "srv"), Strings({"start epoch=121 until=15.7s"}));
}

TEST(AgentAcquireTest, RekeysAfterUnansweredAttemptsPileUpForHalfTheGiveUp) {
  Harness h;
  h.Start(0s);
  Duration t = 0s;
  while (t < 7500ms) {  // G/2
    h.AcquireErr(t, StatusCode::kUnavailable);
    t = *h.Wakeup();
    h.RunUntil(t);
    if (t < 7500ms) {
      EXPECT_EQ(h.last_acquire_lock_id(), "L") << base::FormatDuration(t);
    }
  }
  EXPECT_EQ(h.last_acquire_lock_id(), "L-g1");
  // The new key's lease counts from its own first attempt.
  Strings s = h.AcquireOk(t + 100ms, 50, "L-g1");
  EXPECT_EQ(s, Strings({"start epoch=50 until=" + base::FormatDuration(t + 15s)}));
}

TEST(AgentAcquireTest, LockIdGenerationKeepsUuidShape) {
  const std::string base = "4a1c2f3e-0b1d-4c2e-8f00-123456789abc";
  EXPECT_EQ(LockIdGeneration(base, 0), base);
  const std::string g1 = LockIdGeneration(base, 1), g2 = LockIdGeneration(base, 2);
  EXPECT_EQ(g1.size(), 36u);
  EXPECT_EQ(g1.substr(0, 28), base.substr(0, 28));
  EXPECT_NE(g1, base);
  EXPECT_NE(g1, g2);
  EXPECT_EQ(LockIdGeneration("abc", 3), "abc-g3");
}

TEST(AgentAcquireTest, AnswerSlowerThanGiveUpIsReleasedNotStarted) {
  Harness h;
  h.Start(0s);
  EXPECT_EQ(h.AcquireOk(15s, 9), Strings({"release#2"}));
  EXPECT_EQ(h.state(), State::kReleasing);
  EXPECT_EQ(h.ReleaseOk(15100ms), Strings({"exit 4"}));
}

// ---------------------------------------------------------------------------------------------
// Hot standby.

TEST(AgentStandbyTest, ConflictReadsThenBlocksOnTheIndexAndWakesOnChange) {
  Harness h;
  h.Start(0s);
  EXPECT_EQ(h.AcquireErr(100ms, StatusCode::kConflict), Strings({"read#2 index=0"}));
  // The read completed after the 409: acquire once more so a release in between is not missed.
  EXPECT_EQ(h.ReadOk(300ms, 17), Strings({"acquire#3"}));
  EXPECT_EQ(h.AcquireErr(400ms, StatusCode::kConflict), Strings({"read#4 index=17 wait=7.5s"}));
  EXPECT_EQ(h.state(), State::kStandby);
  // Fallback for a hung read: wait + wait/16 + 1s.
  EXPECT_EQ(h.Wakeup(), 400ms + 7500ms + 468750us + 1s);
  // The holder released: the index moves and the standby acquires at once.
  EXPECT_EQ(h.ReadOk(4s, 18), Strings({"acquire#5"}));
  EXPECT_EQ(h.AcquireOk(4100ms, 19), Strings({"start epoch=19 until=19s"}));
}

TEST(AgentStandbyTest, BlockingQueryTimeoutIsThePoll) {
  Harness h;
  h.Start(0s);
  h.AcquireErr(0s, StatusCode::kConflict);
  h.ReadOk(0s, 17);
  EXPECT_EQ(h.RunUntil(250ms), Strings({"acquire#3"}));
  EXPECT_EQ(h.AcquireErr(250ms, StatusCode::kConflict), Strings({"read#4 index=17 wait=7.5s"}));
  // Nomad answers an unchanged index when the wait runs out: try again then.
  EXPECT_EQ(h.ReadOk(7750ms, 17), Strings({"acquire#5"}));
}

TEST(AgentStandbyTest, HungReadIsOvertakenByThePoll) {
  Harness h;
  h.Start(0s);
  h.AcquireErr(0s, StatusCode::kConflict);
  h.ReadOk(0s, 17);
  h.RunUntil(250ms);
  h.AcquireErr(250ms, StatusCode::kConflict);
  const Duration fallback = *h.Wakeup();
  EXPECT_EQ(h.RunUntil(fallback - 1ns), Strings{});
  EXPECT_EQ(h.RunUntil(fallback), Strings({"acquire#5"}));
  // Still held elsewhere; the hung read is still out, so no second read: poll again at T/2.
  EXPECT_EQ(h.AcquireErr(fallback + 100ms, StatusCode::kConflict), Strings{});
  EXPECT_EQ(h.Wakeup(), fallback + 100ms + 7500ms);
  // The hung read finally answers: try at once.
  EXPECT_EQ(h.ReadOk(fallback + 1s, 30), Strings({"acquire#6"}));
}

TEST(AgentStandbyTest, ReadNotFoundAcquiresAtOnceAndOtherErrorsPoll) {
  Harness h;
  h.Start(0s);
  h.AcquireErr(0s, StatusCode::kConflict);
  EXPECT_EQ(h.ReadErr(1s, StatusCode::kNotFound), Strings({"acquire#3"}));
  h.AcquireErr(1100ms, StatusCode::kConflict);
  EXPECT_EQ(h.ReadErr(1200ms, StatusCode::kPermissionDenied), Strings{});
  EXPECT_EQ(h.Wakeup(), 1100ms + 7500ms);  // the poll armed by the 409
}

TEST(AgentStandbyTest, AcquiresAreSpacedEvenWhenReadsReturnAtOnce) {
  Harness h;
  h.Start(0s);
  h.AcquireErr(10ms, StatusCode::kConflict);
  EXPECT_EQ(h.ReadOk(20ms, 17), Strings{});
  EXPECT_EQ(h.Wakeup(), 250ms);
  EXPECT_EQ(h.RunUntil(250ms), Strings({"acquire#3"}));
}

TEST(AgentStandbyTest, StandbyNeverStartsTheHolder) {
  Harness h;
  h.Start(0s);
  Duration t = 0s;
  for (int i = 0; i < 50; ++i) {
    Strings s = h.AcquireErr(t, StatusCode::kConflict);
    for (const auto& a : s) EXPECT_EQ(a.rfind("start", 0), std::string::npos);
    t += 100ms;
    if (h.read_id() && !s.empty()) h.ReadOk(t, 17 + static_cast<uint64_t>(i));
    t = std::max(t, h.Wakeup().value_or(t));
    h.RunUntil(t);
  }
  EXPECT_NE(h.state(), State::kHolding);
}

TEST(AgentStandbyTest, PollIsJitteredWithinTwentyPercent) {
  Config c = Defaults();
  c.jitter = 0.2;
  c.seed = 42;
  Harness h(c);
  h.Start(0s);
  h.AcquireErr(0s, StatusCode::kConflict);
  h.ReadOk(0s, 17);
  h.RunUntil(250ms);
  std::vector<Duration> waits;
  Duration t = 250ms;
  for (int i = 0; i < 20; ++i) {
    h.AcquireErr(t, StatusCode::kConflict);
    const auto& read = std::get<ReadVariable>(h.last().at(0));
    EXPECT_GE(read.wait, 6s);
    EXPECT_LE(read.wait, 9s);
    waits.push_back(read.wait);
    t += read.wait;
    h.ReadOk(t, 17);
    t = *h.Wakeup();
    h.RunUntil(t);
  }
  EXPECT_NE(waits.front(), waits.back());
}

// ---------------------------------------------------------------------------------------------
// Holding and renewing.

TEST(AgentRenewTest, RenewsEveryThirdOfTheTtlFromTheSendTime) {
  Harness h = Holding();
  EXPECT_EQ(h.RunUntil(5s - 1ns), Strings{});
  EXPECT_EQ(h.RunUntil(5s), Strings({"renew#2"}));
  EXPECT_EQ(h.Wakeup(), 15s);  // lease; no renew while one is in flight
  // Answered late: the lease counts from the send time (5s), not the answer (9s).
  EXPECT_EQ(h.RenewOk(9s), Strings({"extend until=20s"}));
  EXPECT_EQ(h.Wakeup(), 10s);
  EXPECT_EQ(h.RunUntil(10s), Strings({"renew#3"}));
  EXPECT_EQ(h.RenewOk(10100ms), Strings({"extend until=25s"}));
}

struct RenewErrorCase {
  StatusCode code;
  Strings want;
  State state;
};

TEST(AgentRenewTest, ErrorTable) {
  const RenewErrorCase cases[] = {
      // A 409 is checked by reading the variable (a new leader answers 409 before it restores
      // its lock timers); a 404 means the lock is gone.
      {StatusCode::kConflict, {"read#3 index=0"}, State::kHolding},
      {StatusCode::kNotFound, {"kill"}, State::kLosing},
      {StatusCode::kUnavailable, {}, State::kHolding},
      {StatusCode::kPermissionDenied, {}, State::kHolding},
      {StatusCode::kInternal, {}, State::kHolding},
      {StatusCode::kInvalidSpec, {}, State::kHolding},
      {StatusCode::kCancelled, {}, State::kHolding},
  };
  for (const auto& tc : cases) {
    Harness h = Holding();
    h.RunUntil(5s);
    EXPECT_EQ(h.RenewErr(5200ms, tc.code), tc.want) << base::StatusCodeName(tc.code);
    EXPECT_EQ(h.state(), tc.state) << base::StatusCodeName(tc.code);
    if (tc.state == State::kHolding) {
      EXPECT_EQ(h.Wakeup(), 5700ms);  // retry after 0.5s
    }
  }
}

TEST(AgentRenewTest, RetryBackoffIsCappedAtASixthOfTheTtl) {
  Harness h = Holding();
  h.RunUntil(5s);
  Duration t = 5s;
  const Duration want[] = {500ms, 1s, 2s, 2500ms, 2500ms};
  for (Duration gap : want) {
    h.RenewErr(t, StatusCode::kUnavailable);
    EXPECT_EQ(h.Wakeup(), t + gap);
    t += gap;
    EXPECT_EQ(h.RunUntil(t).size(), 1u);
  }
}

TEST(AgentRenewTest, RenewConflictOnAChangedVariableKillsAtOnceAndNeverStartsAgain) {
  Harness h = Holding();
  h.RunUntil(5s);
  EXPECT_EQ(h.RenewErr(5100ms, StatusCode::kConflict), Strings({"read#3 index=0"}));
  // The variable was written since our acquire (epoch 120): our lock was replaced.
  EXPECT_EQ(h.ReadOk(5100ms, 130), Strings({"kill"}));
  EXPECT_EQ(h.Wakeup(), 5100ms + 5s + 2s);  // wait for proof of death
  // Nothing may start it again: stray inputs are ignored.
  EXPECT_EQ(h.AcquireOk(5200ms, 500), Strings{});
  EXPECT_EQ(h.Stop(5300ms), Strings{});
  // Dead: exit non-zero, without releasing (the lock is not ours).
  EXPECT_EQ(h.HolderExited(5400ms, 137), Strings({"exit 3"}));
  EXPECT_EQ(h.state(), State::kLost);
  EXPECT_EQ(h.RunUntil(100s), Strings{});
}

// Issue 11 (4): a new Nomad leader serves RPCs before it restores the lock TTL timers, and a renew
// then answers 409 although the lock is intact. Killing the workload would be a needless outage;
// while the variable shows no write since our acquire nobody else can hold the lock, and the
// give-up deadline G still bounds the holder as for any failed renew.
TEST(AgentRenewTest, RenewConflictOnAnUnchangedVariableIsAFailedRenew) {
  Harness h = Holding();
  h.RunUntil(5s);
  EXPECT_EQ(h.RenewErr(5100ms, StatusCode::kConflict), Strings({"read#3 index=0"}));
  EXPECT_EQ(h.ReadOk(5200ms, 120), Strings{});
  EXPECT_EQ(h.state(), State::kHolding);
  EXPECT_EQ(h.Wakeup(), 5600ms);  // the renew is retried after the backoff
  EXPECT_EQ(h.RunUntil(5600ms), Strings({"renew#4"}));
  // The new leader restored its timers: the lease extends from this renew's send.
  EXPECT_EQ(h.RenewOk(5700ms), Strings({"extend until=20.6s"}));
}

TEST(AgentRenewTest, RenewConflictsOnAnUnchangedVariableStillGiveUpAtG) {
  Harness h = Holding();
  Duration t = 5s;
  h.RunUntil(t);
  while (h.state() == State::kHolding) {
    h.RenewErr(t, StatusCode::kConflict);
    h.ReadOk(t, 120);
    t = *h.Wakeup();
    if (t >= 15s) break;
    h.RunUntil(t);
  }
  EXPECT_EQ(h.RunUntil(15s), Strings({"stop sig=15"}));
  EXPECT_EQ(h.state(), State::kLosing);
}

TEST(AgentRenewTest, RenewConflictWithAFailedCheckKills) {
  Harness h = Holding();
  h.RunUntil(5s);
  h.RenewErr(5100ms, StatusCode::kConflict);
  EXPECT_EQ(h.ReadErr(5200ms, StatusCode::kUnavailable), Strings({"kill"}));
  EXPECT_EQ(h.state(), State::kLosing);
  Harness g = Holding();
  g.RunUntil(5s);
  g.RenewErr(5100ms, StatusCode::kConflict);
  EXPECT_EQ(g.ReadErr(5200ms, StatusCode::kNotFound), Strings({"kill"}));
}

TEST(AgentRenewTest, LostAndDeathUnconfirmedExitsAfterKillTimeoutPlusMargin) {
  Harness h = Holding();
  h.RunUntil(5s);
  h.RenewErr(5s, StatusCode::kNotFound);
  EXPECT_EQ(h.RunUntil(12s - 1ns), Strings{});
  EXPECT_EQ(h.RunUntil(12s), Strings({"exit 3"}));
}

// ---------------------------------------------------------------------------------------------
// Give-up: the exact kill deadline.

TEST(AgentGiveUpTest, KillDeadlineIsGiveUpAfterTheLastSuccessfulSend) {
  Harness h = Holding();
  Strings all;
  // Every renew fails: 5s, 5.5s, 6.5s, 8.5s, 11s, 13.5s.
  Duration t = 5s;
  h.RunUntil(t);
  int renews = 1;
  while (true) {
    h.RenewErr(t + 10ms, StatusCode::kUnavailable);
    Duration next = *h.Wakeup();
    if (next >= 15s) break;
    t = next;
    Strings s = h.RunUntil(t);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].rfind("renew#", 0), 0u);
    ++renews;
  }
  EXPECT_EQ(renews, 6);
  EXPECT_EQ(h.RunUntil(15s - 1ns), Strings{});
  EXPECT_EQ(h.RunUntil(15s), Strings({"stop sig=15"}));
  EXPECT_EQ(h.state(), State::kLosing);
  // No more renewals; SIGKILL exactly K later.
  EXPECT_EQ(h.RunUntil(20s - 1ns), Strings{});
  EXPECT_EQ(h.RunUntil(20s), Strings({"kill"}));
  // Dead: release (try), then exit non-zero.
  EXPECT_EQ(h.HolderExited(20100ms, 137), Strings({"release#8"}));
  EXPECT_EQ(h.ReleaseErr(20200ms, StatusCode::kUnavailable), Strings{});
  EXPECT_EQ(h.RunUntil(23100ms), Strings({"release#9", "exit 4"}));
}

// Issue 11 (3): with G > 2T (allowed when D is long), a release sent after a give-up could land
// in the LockDelay, where it frees the lock for a standby whose lock Nomad's pending delay
// callback then clears. No lock write leaves the agent once the server's 2×TTL may have run out.
// T = 10s, D = 30s (the timer rule then allows G up to ~37s), holding from an acquire sent at 0;
// every renew fails until the agent gives up, at the returned time.
Duration HoldWithLongDelayAndFailEveryRenew(Harness& h) {
  Duration t = 3333333333ns;  // the first renew: T/3
  h.RunUntil(t);
  while (h.state() == State::kHolding) {
    h.RenewErr(t, StatusCode::kUnavailable);
    t = *h.Wakeup();
    h.RunUntil(t);
  }
  return t;
}

Config LongDelay(Duration give_up, Duration kill_timeout) {
  Config c = Defaults();
  c.ttl = 10s;
  c.delay = 30s;
  c.give_up = give_up;
  c.kill_timeout = kill_timeout;
  return c;
}

TEST(AgentGiveUpTest, NoReleaseOnceTheServersTwoTtlMayHaveRunOut) {
  Harness h = Holding(LongDelay(30s, 10s));
  // (2T(1 − ε) − margin)/(1 + ε) = (19.8s − 1s)/1.01 after the last successful send (0).
  EXPECT_EQ(h.agent().write_deadline(), At(WriteWindow(10s, {})));
  EXPECT_GT(WriteWindow(10s, {}), 18600ms);
  EXPECT_LT(WriteWindow(10s, {}), 18700ms);
  EXPECT_EQ(HoldWithLongDelayAndFailEveryRenew(h), 30s);
  EXPECT_EQ(h.HolderExited(31s, 143), Strings({"exit 4"}));
  EXPECT_EQ(h.state(), State::kLost);
}

TEST(AgentGiveUpTest, ReleaseRetriesStopAtTheWriteDeadline) {
  Config c = LongDelay(15s, 3s);
  c.release_timeout = 3s;
  Harness h = Holding(c);
  EXPECT_EQ(HoldWithLongDelayAndFailEveryRenew(h), 15s);
  // Gave up at 15s, dead at 17.5s: the release goes out and is retried 0.5s after a failure,
  // but the retry after the next failure (1s later) would be past the write deadline (~18.6s),
  // although the release timeout (20.5s) is not.
  Strings first = h.HolderExited(17500ms, 143);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].rfind("release#", 0), 0u);
  EXPECT_EQ(h.ReleaseErr(17600ms, StatusCode::kUnavailable), Strings{});
  Strings retry = h.RunUntil(18100ms);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].rfind("release#", 0), 0u);
  EXPECT_EQ(h.ReleaseErr(18200ms, StatusCode::kUnavailable), Strings{});
  EXPECT_EQ(h.RunUntil(25s), Strings({"exit 4"}));
  EXPECT_EQ(h.state(), State::kLost);
}

TEST(AgentGiveUpTest, HolderThatStopsOnTermIsReleasedWithoutKill) {
  Harness h = Holding();
  h.RunUntil(5s);
  h.RenewErr(5s, StatusCode::kUnavailable);
  // Silence after that: the renew in flight never answers.
  h.RunUntil(5500ms);
  EXPECT_EQ(h.RunUntil(15s), Strings({"stop sig=15"}));
  EXPECT_EQ(h.HolderExited(16s, 143), Strings{});  // the renew is still in flight
  EXPECT_EQ(h.RenewErr(16500ms, StatusCode::kUnavailable), Strings({"release#4"}));
  EXPECT_EQ(h.ReleaseOk(16600ms), Strings({"exit 4"}));
  EXPECT_EQ(h.state(), State::kReleased);
}

TEST(AgentGiveUpTest, UnconfirmedDeathIsNotReleased) {
  Harness h = Holding();
  h.RunUntil(5s);
  h.RenewErr(5s, StatusCode::kUnavailable);
  h.RunUntil(20s);  // stop at 15s, kill at 20s
  EXPECT_EQ(h.RunUntil(22s), Strings({"exit 5"}));
  EXPECT_EQ(h.state(), State::kLost);
}

TEST(AgentGiveUpTest, LateRenewSuccessDoesNotUndoTheGiveUp) {
  Harness h = Holding();
  h.RunUntil(5s);
  h.RenewErr(5s, StatusCode::kUnavailable);
  h.RunUntil(5500ms);  // renew#3 in flight
  h.RunUntil(15s);
  EXPECT_EQ(h.RenewOk(15500ms), Strings{});
  EXPECT_EQ(h.state(), State::kLosing);
  EXPECT_EQ(h.RunUntil(20s), Strings({"kill"}));
}

TEST(AgentGiveUpTest, RenewConflictDuringGiveUpEscalatesToKillAndSkipsRelease) {
  Harness h = Holding();
  h.RunUntil(5s);
  h.RenewErr(5s, StatusCode::kUnavailable);
  h.RunUntil(5500ms);
  h.RunUntil(15s);
  EXPECT_EQ(h.RenewErr(16s, StatusCode::kConflict), Strings({"kill"}));
  EXPECT_EQ(h.HolderExited(16100ms, 137), Strings({"exit 3"}));
}

// ---------------------------------------------------------------------------------------------
// Graceful stop and handover.

TEST(AgentStopTest, StopForwardsSignalKeepsRenewingThenKillsThenReleases) {
  Harness h = Holding();
  EXPECT_EQ(h.Stop(4s), Strings({"stop sig=15"}));
  EXPECT_EQ(h.state(), State::kStopping);
  // Renewals go on while the workload is still alive (no lease extension for a stopping holder).
  EXPECT_EQ(h.RunUntil(5s), Strings({"renew#2"}));
  EXPECT_EQ(h.RenewOk(5100ms), Strings{});
  EXPECT_EQ(h.RunUntil(9s - 1ns), Strings{});
  EXPECT_EQ(h.RunUntil(9s), Strings({"kill"}));
  EXPECT_EQ(h.HolderExited(9100ms, 137), Strings({"release#3"}));
  EXPECT_EQ(h.ReleaseOk(9200ms), Strings({"exit 137"}));
  EXPECT_EQ(h.state(), State::kReleased);
}

TEST(AgentStopTest, WorkloadExitCodeIsTheAgentsExitCode) {
  Harness h = Holding();
  h.Stop(2s, SIGINT);
  EXPECT_EQ(std::get<StopHolder>(h.last()[0]).signal, SIGINT);
  EXPECT_EQ(h.HolderExited(2500ms, 0), Strings({"release#2"}));
  EXPECT_EQ(h.ReleaseOk(2600ms), Strings({"exit 0"}));
}

TEST(AgentStopTest, RepeatedSignalIsForwarded) {
  Harness h = Holding();
  h.Stop(2s, SIGTERM);
  EXPECT_EQ(h.Stop(3s, SIGINT), Strings({"stop sig=2"}));
  EXPECT_EQ(h.Wakeup(), 5s);  // renew; the kill stays at 2s + K = 7s
  h.RunUntil(5s);
  EXPECT_EQ(h.RunUntil(7s), Strings({"kill"}));
}

TEST(AgentStopTest, ReleaseWaitsForTheRenewInFlight) {
  Harness h = Holding();
  h.RunUntil(5s);  // renew#2 in flight
  h.Stop(5100ms);
  EXPECT_EQ(h.HolderExited(5200ms, 0), Strings{});
  EXPECT_EQ(h.RenewOk(5300ms), Strings({"release#3"}));
  EXPECT_EQ(h.ReleaseOk(5400ms), Strings({"exit 0"}));
}

TEST(AgentStopTest, UnconfirmedStopDoesNotRelease) {
  Harness h = Holding();
  h.Stop(1s);
  EXPECT_EQ(h.RunUntil(6s), Strings({"renew#2", "kill"}));
  EXPECT_EQ(h.RunUntil(8s - 1ns), Strings{});
  EXPECT_EQ(h.RunUntil(8s), Strings({"exit 5"}));
  EXPECT_EQ(h.state(), State::kLost);
}

TEST(AgentStopTest, RenewConflictDuringStopKillsAndExitsLost) {
  Harness h = Holding();
  h.Stop(4s);
  h.RunUntil(5s);
  EXPECT_EQ(h.RenewErr(5100ms, StatusCode::kConflict), Strings({"read#3 index=0"}));
  EXPECT_EQ(h.ReadOk(5150ms, 121), Strings({"kill"}));
  EXPECT_EQ(h.HolderExited(5200ms, 137), Strings({"exit 3"}));
}

TEST(AgentStopTest, ReleaseRetriesUntilItsTimeout) {
  Harness h = Holding();
  h.Stop(1s);
  h.HolderExited(1500ms, 0);  // release#2
  EXPECT_EQ(h.ReleaseErr(1600ms, StatusCode::kUnavailable), Strings{});
  EXPECT_EQ(h.RunUntil(2100ms), Strings({"release#3"}));
  EXPECT_EQ(h.ReleaseErr(2200ms, StatusCode::kUnavailable), Strings{});
  EXPECT_EQ(h.RunUntil(3200ms), Strings({"release#4"}));
  EXPECT_EQ(h.ReleaseErr(3300ms, StatusCode::kUnavailable), Strings{});
  // Backoff capped at 1s; the release timeout (3s after the holder died) ends it.
  EXPECT_EQ(h.RunUntil(4500ms), Strings({"release#5", "exit 0"}));
}

struct ReleaseAnswerCase {
  Status status;
  Strings want;
};

TEST(AgentStopTest, ReleaseAnswerTable) {
  const ReleaseAnswerCase cases[] = {
      {Status::Ok(), {"exit 0"}},
      {Err(StatusCode::kConflict), {"exit 0"}},
      {Err(StatusCode::kNotFound), {"exit 0"}},
      {Err(StatusCode::kInvalidSpec), {"exit 0"}},
      {Err(StatusCode::kUnavailable), {}},
      {Err(StatusCode::kPermissionDenied), {}},
  };
  for (const auto& tc : cases) {
    Harness h = Holding();
    h.Stop(1s);
    h.HolderExited(1500ms, 0);
    Strings s = tc.status.ok() ? h.ReleaseOk(1600ms) : h.ReleaseErr(1600ms, tc.status.code());
    EXPECT_EQ(s, tc.want) << tc.status.ToString();
  }
}

TEST(AgentStopTest, WorkloadExitingByItselfIsReleasedWithItsCode) {
  Harness h = Holding();
  EXPECT_EQ(h.HolderExited(3s, 7), Strings({"release#2"}));
  EXPECT_EQ(h.ReleaseOk(3100ms), Strings({"exit 7"}));
}

struct StopBeforeHoldingCase {
  std::string name;
  void (*setup)(Harness&);
  Strings want;
  State state;
};

TEST(AgentStopTest, StopInEveryStateBeforeHolding) {
  const StopBeforeHoldingCase cases[] = {
      {"idle", [](Harness&) {}, {"exit 0"}, State::kReleased},
      {"acquire in flight", [](Harness& h) { h.Start(0s); }, {}, State::kAcquiring},
      {"acquire backoff",
       [](Harness& h) {
         h.Start(0s);
         h.AcquireErr(0s, StatusCode::kUnavailable);
       },
       {"exit 0"},
       State::kReleased},
      {"standby",
       [](Harness& h) {
         h.Start(0s);
         h.AcquireErr(0s, StatusCode::kConflict);
       },
       {"exit 0"},
       State::kReleased},
  };
  for (const auto& tc : cases) {
    Harness h;
    tc.setup(h);
    EXPECT_EQ(h.Stop(1s), tc.want) << tc.name;
    EXPECT_EQ(h.state(), tc.state) << tc.name;
  }
}

TEST(AgentStopTest, StopDuringAcquireReleasesAWonLockWithoutStarting) {
  Harness h;
  h.Start(0s);
  h.Stop(100ms);
  EXPECT_EQ(h.AcquireOk(200ms, 9), Strings({"release#2"}));
  EXPECT_EQ(h.ReleaseOk(300ms), Strings({"exit 0"}));
}

TEST(AgentStopTest, StopDuringAcquireThatConflictsOrFailsExits) {
  for (StatusCode c : {StatusCode::kConflict, StatusCode::kUnavailable}) {
    Harness h;
    h.Start(0s);
    h.Stop(100ms);
    EXPECT_EQ(h.AcquireErr(200ms, c), Strings({"exit 0"}));
  }
}

TEST(AgentStopTest, StopDuringAcquireThatNeverAnswersExitsAfterReleaseTimeout) {
  Harness h;
  h.Start(0s);
  h.Stop(100ms);
  EXPECT_EQ(h.RunUntil(3100ms - 1ns), Strings{});
  EXPECT_EQ(h.RunUntil(3100ms), Strings({"exit 0"}));
}

// ---------------------------------------------------------------------------------------------
// Split mode: acquire-only and heartbeat.

TEST(AgentSplitTest, AcquireOnlyHandsOffWithoutRelease) {
  Config c = Defaults();
  c.exit_after_acquire = true;
  Harness h(c);
  h.Start(0s);
  EXPECT_EQ(h.AcquireOk(100ms, 33), Strings({"start epoch=33 until=15s", "exit 0"}));
  EXPECT_EQ(h.state(), State::kHandedOff);
  EXPECT_EQ(h.RunUntil(100s), Strings{});
}

TEST(AgentSplitTest, AcquireOnlyStoppedBeforeTheLockExitsNonZero) {
  Config c = Defaults();
  c.exit_after_acquire = true;
  Harness h(c);
  h.Start(0s);
  h.AcquireErr(0s, StatusCode::kConflict);
  EXPECT_EQ(h.Stop(1s), Strings({"exit 1"}));
}

TEST(AgentSplitTest, HeartbeatResumesAndRenewsAtOnce) {
  Harness h;
  Grant g{"nomad/jobs/example/lock", "default", "L", 33, At(1s)};
  EXPECT_EQ(h.Resume(3s, g), Strings({"start epoch=33 until=16s", "renew#1"}));
  EXPECT_EQ(h.state(), State::kHolding);
  EXPECT_EQ(h.RenewOk(3100ms), Strings({"extend until=18s"}));
  EXPECT_EQ(h.Wakeup(), 8s);
}

TEST(AgentSplitTest, HeartbeatWithAnExpiredLeaseGivesUp) {
  Harness h;
  Grant g{"nomad/jobs/example/lock", "default", "L", 33, At(1s)};
  EXPECT_EQ(h.Resume(20s, g), Strings({"start epoch=33 until=16s", "stop sig=15"}));
  EXPECT_EQ(h.state(), State::kLosing);
}

// ---------------------------------------------------------------------------------------------
// Stale and unexpected inputs.

TEST(AgentInputTest, StaleIdsAreIgnored) {
  Harness h = Holding();
  h.RunUntil(5s);
  EXPECT_EQ(h.agent().OnRenewResult(At(5100ms), 999, Var(1)).size(), 0u);
  EXPECT_EQ(h.agent().OnAcquireResult(At(5100ms), 1, Var(1)).size(), 0u);
  EXPECT_EQ(h.agent().OnReleaseResult(At(5100ms), 2, {}).size(), 0u);
  EXPECT_EQ(h.agent().OnReadResult(At(5100ms), 1, Read(3)).size(), 0u);
  EXPECT_EQ(h.state(), State::kHolding);
}

TEST(AgentInputTest, TimeNeverRunsBackwards) {
  Harness h = Holding();
  h.RunUntil(5s);
  h.RenewOk(6s);
  // An input stamped earlier than one already seen is taken at the latest time.
  EXPECT_EQ(h.agent().OnTimer(At(1s)).size(), 0u);
  EXPECT_EQ(h.Wakeup(), 10s);
}

TEST(AgentInputTest, DoneAgentIgnoresEverything) {
  Harness h;
  h.Stop(0s);
  EXPECT_TRUE(h.agent().done());
  EXPECT_EQ(h.Start(1s), Strings{});
  EXPECT_EQ(h.HolderExited(1s, 0), Strings{});
  EXPECT_EQ(h.Wakeup(), std::nullopt);
}

}  // namespace
}  // namespace nsg::lock
