// LeaderElector: leader election for controller replicas on a Nomad Variable lock
// (`nomad-singleton controller --leader-elect`; docs/controller.md, "Leader election").
//
// Every replica campaigns for the same lock variable. The one that holds it *leads*: the elector
// calls on_started_leading(epoch) and the controller runs its worker side. The others wait as hot
// standbys (a blocking query on the variable) and take over the moment the lock is released or
// expires. The lock is kept by the lock agent's own state machine (lock::Agent, driven by an
// io::LockRunner in kInProcess mode), so the leader obeys the same rules as a workload under
// `nomad-singleton lock`: renew every T/3; when no renew has succeeded for the give-up window G,
// or a renew answers 409/404 (the lock is gone), on_stopped_leading() runs *before* the lock can
// pass to another replica (the timer rule, docs/timing.md). Writes are fenced by EnforceIndex
// anyway; `epoch` (the acquire's ModifyIndex) strictly increases across leaders.
//
//          Start()
//             │
//             ▼                 acquire 200
//   ┌───────────────────┐ ────────────────────► ┌────────────────────────┐
//   │   campaigning     │                       │        leading         │
//   │ acquire; after a  │                       │ on_started_leading(    │
//   │ 409 a hot standby │   a new term (fresh   │   epoch); renew T/3    │
//   │ blocking on the   │ ◄──────────────────── └──┬──────────────────┬──┘
//   │ variable          │   lock ID; backoff       │ no renew for G,  │ RequestStop():
//   └─────────┬─────────┘   after a 400)           │ renew 409/404:   │ on_stopped_leading,
//             │                  ▲                 │ on_stopped_      │ release: a standby
//             │ RequestStop()    └─────────────────┘ leading          │ takes over at once
//             ▼                                                       │
//           done ◄────────────────────────────────────────────────────┘
//
// A term is one lock::Agent run; after losing the lock the replica starts a new term with a new
// lock ID and is a standby again (it never re-acquires the old lock under its old ID: the server
// would keep that lock's timer, not restart it).
//
// Callbacks and threads: on_started_leading and on_stopped_leading run on the election thread
// (the one in Run()), one at a time, alternating, started first. Renewals wait while a callback
// runs: on_started_leading must start the worker side and return promptly; on_stopped_leading
// must stop it (cancel in-flight work) and return within `stop_timeout` (K of the timer rule): the
// elector reports the holder dead when it returns, and the lock may be released right after.
// `log` may be called from the election thread and the lock runner's API threads: it must be
// thread-safe. Start(), RequestStop(), leading(), epoch() and done() are safe from any thread.
//
// Ownership: borrows `api` and `clock` (both must outlive the elector). Give it the raw API, not a
// leader-gated one, and preferably its own HttpNomadApi with a request timeout of at most T/3 (as
// `nomad-singleton lock` does), so a hung call cannot hold a term past its deadlines. The
// destructor stops the election and joins its threads, which waits for NomadApi calls in flight:
// shut the API down (HttpNomadApi::Shutdown) after Wait() and before destroying the elector when a
// call (a standby's blocking query) may still be parked. Use io::BootClock so a suspended host's
// lease is seen as expired on resume.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "controller/base/clock.h"
#include "controller/base/duration.h"
#include "controller/base/status.h"
#include "controller/lock/agent.h"
#include "controller/nomad/api.h"

namespace nsg::io {

class LockRunner;

// Defaults (docs/controller.md, "Leader election"). With them the timer rule holds for every TTL
// Nomad accepts: (G + K)(1 + ε) + margin ≤ (2T + D)(1 − ε) with G = T, K = 5s, D = 5s, ε = 1%,
// margin 1s; for T = 15s: 21.2s ≤ 34.65s (13.45s to spare). A crashed leader is replaced after
// 2T + D = 35s; a graceful stop hands over at once.
inline constexpr char kDefaultLeaderLockPath[] = "nomad-singleton/leader";
inline constexpr base::Duration kDefaultLeaderTtl = std::chrono::seconds(15);
// D: short, because G + K already ends well before 2T; it only widens the safety gap.
inline constexpr base::Duration kDefaultLeaderLockDelay = std::chrono::seconds(5);
// K: how long on_stopped_leading may take to stop the worker side.
inline constexpr base::Duration kDefaultLeaderStopTimeout = std::chrono::seconds(5);

struct LeaderElectorOptions {
  std::string path = kDefaultLeaderLockPath;  // the lock variable (a dedicated one)
  std::string namespace_;                     // "" = the API client's default
  base::Duration ttl = kDefaultLeaderTtl;     // T (Nomad accepts 10s–24h)
  base::Duration lock_delay = kDefaultLeaderLockDelay;  // D
  base::Duration give_up{0};                  // G: step down after no renew for G; 0 = the TTL
  base::Duration stop_timeout = kDefaultLeaderStopTimeout;  // K
  // Who holds the lock, for people reading the variable (e.g. hostname, pid, http_addr); sent as
  // the variable's Items with every acquire, plus acquired_at.
  nomad::StringMap holder_items;
  // Required. See the header comment for threads and timing.
  std::function<void(uint64_t epoch)> on_started_leading;
  std::function<void()> on_stopped_leading;
  // One line per event (acquired, standby, stepping down, released...); thread-safe. Default:
  // stderr, prefixed "leader election: ".
  std::function<void(const std::string&)> log;
  // The lock agent's remaining knobs (backoffs, stop and release margins, jitter, clock-error
  // assumptions, min_ttl_for_test). The fields above replace its path, namespace, ttl, delay,
  // give_up, kill_timeout, lock_id and holder_items. Tests shorten timers here.
  lock::Config agent;
};

class LeaderElector {
 public:
  // The lock agent's configuration for these options (lock ID left empty: each term picks one).
  static lock::Config AgentConfig(const LeaderElectorOptions& options);

  // Fails with kInvalidSpec, naming the fix, for a lock path Nomad would refuse, a TTL outside
  // 10s–24h (unless agent.min_ttl_for_test allows it), timers that break the timer rule or leave G
  // below two renew intervals, or a missing callback.
  static base::Result<std::unique_ptr<LeaderElector>> Create(LeaderElectorOptions options,
                                                             nomad::NomadApi& api,
                                                             const base::Clock& clock);
  // Requests a stop and waits for the election to end (see the header comment).
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Campaigns until a stop is requested (RequestStop() or `stop`), then returns once this replica
  // no longer leads and the release was tried (bounded by stop_timeout + agent.stop_margin +
  // agent.release_timeout, and by the API's timeout for a call in flight). Call at most once, and
  // not together with Start().
  void Run(std::stop_token stop = {});
  // Run() on a thread owned by the elector.
  void Start();
  // A graceful stop: if leading, on_stopped_leading() runs and the lock is released so a standby
  // takes over at once; a standby just stops. Returns at once; idempotent.
  void RequestStop();
  // Blocks until the owned thread's Run() has returned (after RequestStop()); no-op without
  // Start().
  void Wait();

  // Whether this replica leads now: true from just before on_started_leading until just before
  // on_stopped_leading (the `leader` metric).
  bool leading() const { return leading_.load(); }
  // The fencing epoch of the current or last term this replica led; 0 before the first.
  uint64_t epoch() const { return epoch_.load(); }
  // Whether Run() has returned.
  bool done() const { return done_.load(); }

 private:
  class TermHolder;

  LeaderElector(LeaderElectorOptions options, nomad::NomadApi& api, const base::Clock& clock);
  void BeginLeading(uint64_t epoch);
  void EndLeading();

  // Constant after construction.
  const LeaderElectorOptions opts_;
  nomad::NomadApi& api_;
  const base::Clock& clock_;

  std::atomic<bool> leading_{false};
  std::atomic<uint64_t> epoch_{0};
  std::atomic<bool> done_{false};

  // Guarded by mu_.
  std::mutex mu_;
  std::condition_variable cv_;  // wakes the backoff between terms on a stop
  bool stop_requested_ = false;
  LockRunner* current_ = nullptr;  // the running term's runner (owned by runner_)

  // Owned by the Run() thread; the last term's runner lives until the destructor, so Run() does
  // not wait for its API calls in flight (a standby's blocking query).
  std::unique_ptr<LockRunner> runner_;
  std::jthread thread_;  // Start()
};

}  // namespace nsg::io
