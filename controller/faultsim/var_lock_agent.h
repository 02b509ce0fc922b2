// faultsim::VarLockAgent: a sans-IO model of HashiCorp's stock `nomad var lock` CLI (the Go
// `api.LockLeaser`), the negative control of the deterministic fault simulation.
//
// It has the driving interface of lock::Agent and speaks its Action types, so the simulation can
// run either agent through one template. It models what /work/shared/nomad-api.md §3.2–§3.3
// (lines 357–388) say the CLI does, refined by the code those sections cite (`api/locks.go
// start()/maintainLease()`, `api/retry.go retryPut()`, `command/var_lock.go`), including the
// unsafe parts: a renew 409 does not stop the child, and a later acquire starts a second one.
//
//        Start(): sleep 0–99 ms (§3.2.1)
//              │
//     ┌────────▼────────┐  409: wait 1.1×TTL after the answer, retry forever (§3.2.2)
//  ┌─►│   kAcquiring    │◄──────┐     other error: → return error (exit 1, no release)
//  │  └────────┬────────┘───────┘
//  │       200 │ StartHolder (child n+1; earlier children keep running)
//  │  ┌────────▼────────┐  ticker every 0.7×TTL from the acquire answer (§3.2.3): renew
//  │  │ kHolding        │  SIGTERM/SIGINT: forwarded (StopHolder), keep renewing (§3.2.4)
//  │  │ (kStopping once │
//  └──│  a stop came)   │── renew 409: NO StopHolder/KillHolder, back to acquiring (§3.2.8)
//     └─┬─────────────┬─┘
//       │ child exits │ renew fails otherwise (after §3.3 retries): KillHolder at once,
//       │ (0 → exit 0,│ release, exit 1 (§3.2.7)
//       │  else 1)    │
//     ┌─▼─────────────▼─┐
//     │   kReleasing    │  one release (with §3.3 retries), then Exit
//     └────────┬────────┘
//              ▼
//     kReleased (release 200) · kLost (release failed, or the process died before it) ·
//     kFailed (never locked: acquire error) · kLosing (hung forever, see "Go races" below)
//
// The model follows the goroutines of `start()` (api/locks.go) event by event:
// * Every Send* action is ONE HTTP attempt; the agent runs retryPut's policy itself (§3.3): first
//   attempt at once; only 429 and 501–510 retried, after 1s·2^(n−1), at most 5 retries; no retry
//   once the answer came more than TTL after the call's first attempt. The HTTP status is read
//   from the message io::StatusFromHttp writes ("...: HTTP 503: ..."); a kUnavailable without one
//   is a transport error and, like 500, is not retried. kConflict is the 409 (ErrLockConflict).
// * The first acquire sends lock ID "" (the CLI sends none; the server picks one); every later
//   acquire, renew and release sends the ID of the latest granted lock (`l.variable.Lock =
//   out.Lock`). Config::lock_id is ignored.
// * Renews run on a Go ticker started when the acquire answer arrives: due at t0 + k·0.7×TTL; a
//   renew that outlasts a tick sends the next one as soon as it returns, later missed ticks are
//   dropped. A 404, 403, 500 or network error is "non-409" and kills the child (§3.2.7), it is
//   not treated as the lock being gone.
// * Children: a renew 409 leaves the running child alone; the next acquire success starts
//   another (§3.2.8). The k-th StartHolder is child k (1-based). StopHolder and KillHolder apply
//   to every running child of this agent (signals are forwarded by each child's goroutine; a
//   cancelled context kills every child). A child that exits 0 cancels the leaser's context
//   (`cancel()` after the protected function): the other children are SIGKILLed and the agent
//   releases and exits 0. A child that exits non-zero puts its error in the one-slot errChannel.
// * A stop signal while no child runs kills the CLI itself (Go's default disposition:
//   signal.Notify is active only inside the protected function, command/var_lock.go): Exit with
//   128 + signal, no release.
// * StartHolder::lease_until is TimePoint::max(): the CLI gives its child no lease; no
//   ExtendLease is ever emitted. Reads are never sent (OnReadResult ignores everything).
// * Go races, resolved deterministically: errChannel has one slot; a goroutine whose send finds
//   it full blocks. If that goroutine is the main loop (a renew or acquire error while a child's
//   error is already queued), the CLI hangs for good: no renews, no release, no exit
//   (state kLosing, done() false). Once start() has returned the channel is closed, and a killed
//   child's exit report makes the process panic: Exit 2 (§3.2.7's UNCONFIRMED risk), whatever is
//   in flight. When start()'s select has both its context done and an error queued, the seeded
//   generator picks (Go picks uniformly). maintainLease prefers its context's end to a pending
//   tick (Go picks at random; the other choice only adds a cancelled renew).
//
// The driver builds request bodies from Config path/namespace_/ttl/delay/holder_items as it does
// for lock::Agent; of the rest the model reads only ttl, seed and jitter.
// Create() checks only what the Go client needs (a path, TTL > 0, jitter in [0, 1)); no timer
// rule: the control must be able to run the timers users really write. Config::jitter > 0 turns
// on the random 0–99 ms start delay (drawn from Config::seed); 0 starts at once (tests).
//
// Not thread-safe: owned by one thread (the simulation loop).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/base/clock.h"
#include "controller/base/duration.h"
#include "controller/base/status.h"
#include "controller/lock/agent.h"
#include "controller/nomad/api.h"
#include "controller/nomad/variable.h"

namespace nsg::faultsim {

using base::Duration;
using base::Result;
using base::Status;
using base::TimePoint;

// The Go constants (api/locks.go, api/retry.go; nomad-api.md §3.2–§3.3).
inline constexpr double kLeaseRenewalFactor = 0.7;  // lockLeaseRenewalFactor
inline constexpr double kRetryBackoffFactor = 1.1;  // lockRetryBackoffFactor (no -backoff flag)
inline constexpr int kMaxRetries = 5;               // defaultNumberOfRetries (-max-retry)
inline constexpr Duration kRetryDelayBase = std::chrono::seconds(1);
inline constexpr int kMaxStartDelayMs = 99;         // rand.Intn(100) ms
// Go's exit status after a panic (a send on the closed errChannel).
inline constexpr int kExitPanic = 2;

class VarLockAgent {
 public:
  // Fails with kInvalidSpec for an empty path, TTL ≤ 0 or jitter outside [0, 1).
  static Result<VarLockAgent> Create(lock::Config config);

  // Sleeps the start delay, then acquires.
  lock::Actions Start(TimePoint now);

  lock::Actions OnAcquireResult(TimePoint now, uint64_t id, const Result<nomad::Variable>& r);
  lock::Actions OnRenewResult(TimePoint now, uint64_t id, const Result<nomad::Variable>& r);
  lock::Actions OnReleaseResult(TimePoint now, uint64_t id, const Status& s);
  // Never asked for: ignored.
  lock::Actions OnReadResult(TimePoint now, uint64_t id,
                             const Result<nomad::Query<nomad::Variable>>& r);
  // The oldest running child exited with `code` (128 + signal when a signal ended it).
  lock::Actions OnHolderExited(TimePoint now, int code);
  // Child `child` (1-based, in StartHolder order) exited; unknown or dead children are ignored.
  lock::Actions OnChildExited(TimePoint now, uint32_t child, int code);
  // SIGTERM/SIGINT to the CLI process.
  lock::Actions OnStopRequested(TimePoint now, int signal);
  // Call when now ≥ NextWakeup() (earlier or more often is harmless).
  lock::Actions OnTimer(TimePoint now);

  // When OnTimer must next be called; nullopt when only an input can move the agent.
  std::optional<TimePoint> NextWakeup() const;

  lock::State state() const;
  bool done() const { return pc_ == Pc::kExited; }
  // The exit code, once done(): 0, 1, kExitPanic or 128 + signal.
  int exit_code() const { return exit_code_; }
  const lock::Config& config() const { return cfg_; }

  // The latest grant (valid once a child was started).
  const lock::Grant& grant() const { return grant_; }
  uint32_t children_started() const { return static_cast<uint32_t>(children_.size()); }
  // The children not yet reported exited, in start order.
  std::vector<uint32_t> running_children() const;
  Duration renew_period() const { return renew_period_; }
  Duration wait_period() const { return wait_period_; }

 private:
  // Where start()'s main goroutine is.
  enum class Pc {
    kIdle,
    kStartDelay,   // waitWithContext(randomDelay)
    kAcquire,      // Acquire() in flight or between attempts
    kMaintain,     // maintainLease(funcCtx of the newest child)
    kWaitTicker,   // the select at the loop's end
    kRelease,      // Start()'s release after start() returned
    kBlocked,      // blocked for good on a send to the full errChannel
    kExited,
  };
  enum class Op { kNone, kAcquire, kRenew, kRelease };
  enum class Outcome { kOk, kConflict, kError };
  struct Child {
    bool running = true;
    bool ctx_live = true;  // its funcCtx is not cancelled
  };
  // One retryPut call.
  struct Call {
    Op op = Op::kNone;
    uint64_t id = 0;        // of the attempt in flight
    bool in_flight = false;
    int attempt = 0;
    TimePoint started{};    // retryPut's startTime
    TimePoint sent{};       // the latest attempt's send time
    TimePoint next_attempt{};
  };

  explicit VarLockAgent(lock::Config config);

  void BeginCall(Op op, TimePoint now, lock::Actions& out);
  void SendAttempt(TimePoint now, lock::Actions& out);
  bool CallContextDone() const;
  // Whether `id` answers the attempt in flight of `op` (stale answers are ignored); marks it
  // answered.
  bool Answered(Op op, uint64_t id);
  // retryPut after a failed attempt: retry later, or end the call.
  void OnFailedAttempt(TimePoint now, const Status& st, lock::Actions& out);
  void FinishCall(TimePoint now, Outcome o, const std::string& error, lock::Actions& out);
  void AcquireSucceeded(TimePoint now, TimePoint sent, const nomad::Variable& v,
                        lock::Actions& out);
  void AfterAcquire(TimePoint now, Outcome o, const std::string& error, lock::Actions& out);
  void AfterRenew(TimePoint now, Outcome o, const std::string& error, lock::Actions& out);
  // maintainLease's loop: end it once the newest child's context is done, else renew on a tick.
  void MaintainStep(TimePoint now, lock::Actions& out);
  void LoopTail(TimePoint now, lock::Actions& out);
  void Select(TimePoint now, lock::Actions& out);
  void ReturnFromStart(TimePoint now, std::optional<std::string> error, lock::Actions& out);
  // Go's `errChannel <- err` from the main goroutine; false when it blocks for good.
  bool SendFromMain(std::string error);
  // The same from a child's goroutine; its funcCtx is cancelled once the send went through.
  void SendFromChild(Child* child, std::string error);
  void CancelAll(lock::Actions& out);
  // Moves the main goroutine after a context was cancelled or an error was queued.
  void React(TimePoint now, lock::Actions& out);
  void Exit(lock::State terminal, int code, std::string reason, lock::Actions& out);
  void Stamp(TimePoint now) { now_ = std::max(now_, now); }
  uint64_t NextRandom();

  // Constant after construction.
  lock::Config cfg_;
  Duration renew_period_;
  Duration wait_period_;

  Pc pc_ = Pc::kIdle;
  TimePoint now_{};
  uint64_t rng_;
  uint64_t next_id_ = 1;
  Call call_;
  TimePoint wake_at_{};        // kStartDelay / kWaitTicker deadline
  // The renew ticker of kMaintain: ticks at ticker_origin_ + k·renew_period_.
  TimePoint ticker_origin_{};
  int64_t ticks_consumed_ = 0;

  std::string lock_id_;         // l.variable.Lock.ID: "" until the first grant
  bool locked_ = false;         // ll.locked: a grant was ever received
  lock::Grant grant_;
  std::vector<Child> children_;
  bool stop_requested_ = false;

  // start()'s context, errChannel (one slot) and the goroutines blocked on it.
  bool ctx_done_ = false;
  std::optional<std::string> err_slot_;
  int blocked_senders_ = 0;
  bool channel_closed_ = false;
  std::optional<std::string> start_error_;

  lock::State terminal_ = lock::State::kReleased;
  int exit_code_ = 0;
};

}  // namespace nsg::faultsim
