// lock::Agent: the lock agent's state machine, sans-IO (ARCHITECTURE.md §2–§3, issue 6).
//
// The agent holds a Nomad Variable lock and keeps a *holder* (the protected workload, or later the
// controller's leader-only worker side) running only while the lock is surely ours. It does no I/O:
// every input is a value plus `now`, every output is an Action for the caller to carry out, and
// NextWakeup() says when to call OnTimer(). The same object therefore runs under real time (the
// io::LockRunner wires it to a NomadApi, processes and signals) and under virtual time (tests and
// the deterministic simulation).
//
//                                   Start()
//                                      │
//          index moved /      ┌────────▼────────┐  5xx, 403, network: back off, retry
//          poll fired         │   kAcquiring    │◄──────┐
//        ┌───────────────────►│                 │───────┘
//        │                    └─┬─────────┬───┬─┘
//        │                  409 │     200 │   └── 400 ──────────────────────────────► kFailed
//   ┌────┴─────────────┐        │         │ epoch = ModifyIndex; StartHolder
//   │    kStandby      │◄───────┘         │ (acquire-only: ──► kHandedOff, exit 0, no release)
//   │ read, then block │          ┌───────▼───────┐  renew 200: ExtendLease
//   │ on the index N   │ Resume()►│   kHolding    │◄───┐ renew error: retry after backoff
//   └──────────────────┘          └─┬─────┬─────┬─┘────┘
//             SIGTERM/SIGINT:       │     │     │ the holder exited by itself
//             StopHolder(sig),      │     │     └───────────────────────────────┐
//             KILL after K          │     │ renew 404 (or 409 + moved index):   │
//                                   │     │ KillHolder at once                  │
//                       ┌───────────▼─┐   │ now ≥ last_ok_send + G:             │
//                       │  kStopping  │   │   StopHolder(TERM), KILL after K    │
//                       │ (renewing)  │ ┌─▼───────────┐                         │
//                       └──┬───────┬──┘ │   kLosing   │── dead, lease lost ──► kLost (exit 3)
//          renew 409/404 ──┼───────┼───►│ (no renew)  │── no proof of death by K + margin ──►
//                          │       │    └──────┬──────┘                   kLost (exit 5)
//     no proof of death    │       │ dead      │ dead, gave up            │
//     by K + margin:       │       ▼           ▼                          │
//     kLost (exit 5)  ◄────┘  ┌──────────────────────┐◄───────────────────┘
//                             │      kReleasing      │ release; retried until release_timeout
//                             └──────────┬───────────┘
//                                        ▼
//                                    kReleased  (exit: the holder's code; 4 after a give-up)
//
// Rules (the timer rule is in timing/budget.h):
// * Renew every T/3; the first renew is due T/3 after the acquire's SEND time.
// * G is measured from the SEND time of the last successful renew or acquire. When the agent
//   sends its own lock ID (Config::lock_id), an acquire retried after an ambiguous failure may
//   succeed on a lock the server granted to the earlier attempt, so the acquire's "send time" is
//   that of the earliest attempt since the last definite answer.
// * At now ≥ last_ok_send + G: TERM the holder, KILL it K later, release only once it is dead,
//   exit kExitGaveUp. A renew 404 (the lock is gone): KILL at once, never start again, no
//   release, exit kExitLockLost. A renew 409 is ambiguous on Nomad (another holder, or our lock
//   without a TTL timer while a new server leader restores its timers): it counts as a failed
//   renew and the agent reads the variable; only if its ModifyIndex moved off the epoch (some
//   write replaced our lock) does it KILL at once as for a 404. The holder is never started
//   twice by one Agent.
// * No lock operation after write_deadline() = last_ok_send + WriteWindow(T): a release that
//   could land after the server's 2×TTL timer fired is skipped (the lock then expires after
//   2T + D), because Nomad's delay callback would clear a successor's lock; and no renew is sent
//   either, because a renew accepted by a new leader's restored timer would not cancel the delay
//   callback already pending for our lock (WriteWindow below). Both matter only when G or a
//   frozen agent reaches past the window.
// * Stop (SIGTERM/SIGINT): forward the signal, KILL K later, keep renewing until the holder is
//   dead, then release (graceful handover) and exit with the holder's code. Without proof of death
//   by K + stop_margin: do not release (the lock then expires after 2T + D, which is safe) and exit
//   kExitUnconfirmed.
// * Hot standby: after a 409 the agent reads the variable (index N), then waits with a blocking
//   query at N whose wait is a jittered T/2 (± Config::jitter) and tries to acquire the moment it
//   returns; a read that hangs is overtaken by the same jittered poll.
// * At most one lock operation (acquire, renew, release) and one read are in flight at a time;
//   results carry the request id of their action and stale ones are ignored. Every request must
//   eventually be answered (an API client's timeout turns a hang into kUnavailable); deadlines
//   (give-up, kill, confirmation, release) fire regardless of what is in flight.
//
// Not thread-safe: owned by one thread (the runner's event loop or the simulation loop).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "controller/base/clock.h"
#include "controller/base/duration.h"
#include "controller/base/status.h"
#include "controller/nomad/api.h"
#include "controller/nomad/variable.h"
#include "controller/timing/budget.h"

namespace nsg::lock {

using base::Duration;
using base::Result;
using base::Status;
using base::TimePoint;
using namespace std::chrono_literals;

// Exit codes of the agent. After a graceful stop, or when the holder ends by itself, the agent
// exits with the holder's own code (128 + signal when a signal ended it).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;        // permanent error: bad request, bad hand-off, ...
inline constexpr int kExitLockLost = 3;      // renew got 409/404: the lock may belong to another
inline constexpr int kExitGaveUp = 4;        // no renew succeeded for the give-up window G
inline constexpr int kExitUnconfirmed = 5;   // the holder's death was not confirmed: not released

// Nomad's bounds on a lock TTL (nomad-api.md §2.3).
inline constexpr Duration kMinTtl = 10s;
inline constexpr Duration kMaxTtl = 24h;

struct Config {
  std::string path;        // the lock variable (a dedicated one: acquire overwrites its Items)
  std::string namespace_;  // "" = the API client's default
  Duration ttl = 15s;      // T
  Duration delay = 15s;    // D
  Duration give_up = 15s;  // G
  Duration kill_timeout = 5s;  // K: stop signal → SIGKILL
  Duration guard_poll{0};  // P of the timer rule: 0 in shim mode, 250ms with a guard
  // Split mode's prestart task: exit 0 as soon as the lock is held, without releasing it.
  bool exit_after_acquire = false;
  // Sent with every acquire so that a retry after an ambiguous failure is idempotent (Nomad
  // answers 200 to an acquire with the holder's own ID). "" lets the server choose. When
  // unanswered attempts pile up for G/2 the agent re-keys (LockIdGeneration) and abandons them.
  std::string lock_id;
  // Holder metadata sent as the variable's Items with the acquire.
  nomad::StringMap holder_items;
  // How long past the kill timeout to wait for proof that the holder is dead.
  Duration stop_margin = 2s;
  // How long to keep trying to release once the holder is dead (Nomad force-kills the agent
  // timing::kAgentKillGrace = 5s after the kill timeout).
  Duration release_timeout = 3s;
  // Retry backoff: initial, doubling; capped at T/6 for renewals (so several fit into G ≥ 2T/3)
  // and T/2 for acquires.
  Duration backoff_initial = 500ms;
  // Consecutive acquire attempts are at least this far apart, even when a read wakes at once.
  Duration min_acquire_spacing = 250ms;
  // Relative jitter of backoffs and standby polls (0 = exact, for tests); seed of its generator.
  double jitter = 0.2;
  uint64_t seed = 0x9e3779b97f4a7c15ULL;
  timing::Assumptions assumptions;
  // Nomad's lower bound on the TTL; tests that run real processes under short real timers lower
  // it (never the CLI).
  Duration min_ttl_for_test = kMinTtl;
  // The fault simulation's negative control ("the timer rule deliberately broken") builds agents
  // whose timers break the rule; Create() then skips Validate(). Never set outside faultsim.
  bool unchecked_negative_control = false;
};

// Checks what Nomad and the timer rule require: a path in Nomad's alphabet; T in [10s, 24h];
// D ≥ 0; K ≥ 0; G ≥ 2T/3 (two renew intervals); and the timer rule
// (G + P + K)(1 + ε) + margin ≤ (2T + D)(1 − ε) (timing::Compute). kInvalidSpec names the fix.
Status Validate(const Config& c);

// What the holder is given when the lock is ours.
struct Grant {
  std::string path;
  std::string namespace_;
  std::string lock_id;
  uint64_t epoch = 0;        // the acquire's ModifyIndex: strictly increasing across holders
  TimePoint acquired_at{};   // the acquire's send time (agent clock): G counts from here
  friend bool operator==(const Grant&, const Grant&) = default;
};

// ---- Actions ----
// Lock operations and reads carry an id; report their result with the same id.
// PUT ?lock-acquire with Config path/namespace/ttl/delay/holder_items and `lock_id` ("" lets
// the server choose).
struct SendAcquire {
  uint64_t id = 0;
  std::string lock_id;
};
struct SendRenew {
  uint64_t id = 0;
  std::string lock_id;
};
struct SendRelease {
  uint64_t id = 0;
  std::string lock_id;
};
// GET the variable. index 0: a plain read; index N > 0: a blocking query that returns once the
// variable's ModifyIndex exceeds N or after `wait`.
struct ReadVariable {
  uint64_t id = 0;
  uint64_t index = 0;
  Duration wait{0};
};
// The lock is ours: start the holder. Its lease is valid until `lease_until` (agent clock).
struct StartHolder {
  Grant grant;
  TimePoint lease_until{};
};
// A renew succeeded: the lease is valid until `lease_until`.
struct ExtendLease {
  TimePoint lease_until{};
};
// Ask the holder to stop (forward `signal`; revoke the lease for a guard).
struct StopHolder {
  int signal = 0;
};
// Kill the holder now (SIGKILL; mark the lease lost for a guard).
struct KillHolder {};
// The agent is done: exit the process with `code`.
struct Exit {
  int code = 0;
  std::string reason;
};
using Action = std::variant<SendAcquire, SendRenew, SendRelease, ReadVariable, StartHolder,
                            ExtendLease, StopHolder, KillHolder, Exit>;
using Actions = std::vector<Action>;

// How long after the send of its last successful renew (or acquire) the holder may still send a
// lock write: (2T(1 − ε) − margin)/(1 + ε), so that the write lands before the server's 2×TTL
// timer can have fired. Nomad's LockDelay callback clears whatever lock the variable holds when it
// fires, even one taken after a release during the delay (nomad/locks.go, v1.10.2–v2.0.5), so a
// release must never land in [2T, 2T + D].
Duration WriteWindow(Duration ttl, const timing::Assumptions& a);

// The lock ID of the `generation`th re-keying of `base` (generation 0 is `base`). A UUID stays a
// UUID (its last 8 hex digits change); anything else gets "-g<generation>".
std::string LockIdGeneration(const std::string& base, uint32_t generation);

// One line per action for logs and tests, e.g. "renew#3", "start epoch=120 until=15s",
// "read#4 index=17 wait=7.5s", "exit 3". Time points print as time since the clock's epoch.
std::string Describe(const Action& a);

enum class State {
  kIdle,
  kAcquiring,
  kStandby,
  kHolding,
  kStopping,
  kLosing,
  kReleasing,
  // Terminal:
  kReleased,   // stopped or finished, lock released (or never held)
  kLost,       // lease lost or holder's death unconfirmed: lock not released
  kHandedOff,  // acquire-only: exited holding the lock for the heartbeat task
  kFailed,     // permanent error
};
std::string_view StateName(State s);

class Agent {
 public:
  // Fails with kInvalidSpec when Validate(config) does.
  static Result<Agent> Create(Config config);

  // Begins acquiring.
  Actions Start(TimePoint now);
  // Begins holding a lock acquired by another process (split mode's heartbeat task): the lease
  // counts from grant.acquired_at, a renew is sent at once, and the holder is (re)started.
  Actions Resume(TimePoint now, const Grant& grant);

  Actions OnAcquireResult(TimePoint now, uint64_t id, const Result<nomad::Variable>& r);
  Actions OnRenewResult(TimePoint now, uint64_t id, const Result<nomad::Variable>& r);
  Actions OnReleaseResult(TimePoint now, uint64_t id, const Status& s);
  Actions OnReadResult(TimePoint now, uint64_t id,
                       const Result<nomad::Query<nomad::Variable>>& r);
  // The holder is dead (the workload exited, or the guard confirmed it). `code` is its exit code.
  Actions OnHolderExited(TimePoint now, int code);
  // SIGTERM/SIGINT (or the caller's own shutdown): a graceful stop.
  Actions OnStopRequested(TimePoint now, int signal);
  // Call when now ≥ NextWakeup() (calling earlier or more often is harmless).
  Actions OnTimer(TimePoint now);

  // When OnTimer must next be called; nullopt when only an input can move the agent.
  std::optional<TimePoint> NextWakeup() const;

  State state() const { return state_; }
  bool done() const;
  const Config& config() const { return cfg_; }
  // Valid once the lock was acquired (or resumed).
  const Grant& grant() const { return grant_; }
  // The lease deadline: last successful send + G (meaningful while holding).
  TimePoint lease_until() const { return last_ok_send_ + cfg_.give_up; }
  // The last instant at which the agent may send a lock write (a release): last successful send
  // + WriteWindow(T). Later, the agent leaves the lock to expire.
  TimePoint write_deadline() const { return last_ok_send_ + write_window_; }
  // The exit code, once done().
  int exit_code() const { return exit_code_; }

 private:
  enum class Op { kNone, kAcquire, kRenew, kRelease };

  explicit Agent(Config config);

  void Advance(TimePoint now, Actions& out);
  void SendAcquireNow(TimePoint now, Actions& out);
  void SendRenewNow(TimePoint now, Actions& out);
  void SendReleaseNow(TimePoint now, Actions& out);
  void GiveUp(TimePoint now, Actions& out);
  void Lose(TimePoint now, Actions& out);
  void VerifyLock(Actions& out);
  void EnterReleasing(TimePoint now, int code, Actions& out);
  void Finish(State terminal, int code, std::string reason, Actions& out);
  void EnterStandby(TimePoint now, Actions& out);
  void Stamp(TimePoint now);

  Duration Jitter(Duration d);
  Duration Backoff(int failures, Duration cap);
  Duration Poll();

  // Constant after construction.
  Config cfg_;
  Duration renew_interval_;
  Duration write_window_;

  State state_ = State::kIdle;
  TimePoint now_{};  // the latest `now` seen (time never runs backwards inside the agent)
  uint64_t next_id_ = 1;
  uint64_t order_ = 0;  // orders read completions against acquire sends
  uint64_t rng_;

  // The lock operation in flight.
  Op op_ = Op::kNone;
  uint64_t op_id_ = 0;
  TimePoint op_sent_{};
  // The read in flight.
  bool read_in_flight_ = false;
  uint64_t read_id_ = 0;

  // Acquiring and standby.
  std::string acquire_lock_id_;  // the ID sent with acquires (Config::lock_id, re-keyed)
  uint32_t lock_id_generation_ = 0;
  std::optional<TimePoint> first_unresolved_acquire_;
  TimePoint retry_at_{};
  TimePoint last_acquire_sent_{};
  uint64_t last_acquire_order_ = 0;
  int acquire_failures_ = 0;
  uint64_t known_index_ = 0;
  uint64_t known_index_order_ = 0;

  // Holding.
  Grant grant_;
  TimePoint last_ok_send_{};
  TimePoint next_renew_at_{};
  int renew_failures_ = 0;
  bool verifying_ = false;  // a read checks whether a renew's 409 means the lock is gone

  // Stopping, losing, releasing.
  bool stop_requested_ = false;
  TimePoint stop_deadline_{};  // a stop while an acquire is in flight waits at most until here
  std::optional<TimePoint> kill_at_;
  TimePoint confirm_deadline_{};
  bool lost_ = false;
  bool gave_up_ = false;
  bool release_wanted_ = false;
  int release_failures_ = 0;
  TimePoint release_retry_at_{};
  TimePoint release_deadline_{};
  int exit_code_ = kExitOk;
};

}  // namespace nsg::lock
