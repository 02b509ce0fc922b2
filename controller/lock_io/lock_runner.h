// LockRunner: lock::Agent wired to a NomadApi, real time (CLOCK_BOOTTIME), signals, and a holder
// — the workload process (shim) or the lease file a guard watches (sidecar and split mode).
// Issue 6; docs/lock-agent.md.
//
//   mode         holder                         on StartHolder
//   kShim        the command, a child process   write the lease, spawn `guard -- CMD` (own
//                under a guard (guard_command)  process group, parent-death signal,
//                                               NOMAD_SINGLETON_EPOCH, no NOMAD_TOKEN), epoch
//                                               file; without a guard_command: spawn CMD itself
//   kSidecar     lease file for the guard       write lease (held) + epoch file
//   kAcquireOnly lease file + handoff           write lease, epoch and handoff, then exit 0
//   kHeartbeat   lease file (from the handoff)  Resume(): renew at once, rewrite the lease
//   kInProcess   the caller's RuntimeHolder     its Start() (the controller's leader election,
//                                               leader_elector.h)
//
// Graceful stop in sidecar/split mode (Nomad stops the leader task first): the runner marks the
// lease "stopping", the guard TERMs the workload (KILL after the kill timeout) and reports it dead
// in the workload file; only then does the agent release the lock. Without that report within the
// kill timeout + margin it exits without releasing (the lock expires after 2T + D: safe).
//
// Threads: Run() owns the calling thread, which must live as long as the process (the workload's
// parent-death signal follows the thread that forked it). API calls run on two worker threads
// (lock operations; reads, which may block for a blocking query) so a slow call never delays a
// deadline; their results come back through an eventfd. No sleeps: the loop waits in ppoll() for
// the next deadline, a signal, a result or the holder. RequestStop() is safe from any thread.
//
// Borrows `api` and `clock`; both must outlive the runner. Every NomadApi call must eventually
// return (HttpNomadApi's per-request timeout turns a hang into kUnavailable); the destructor joins
// the workers, so shut the API down (HttpNomadApi::Shutdown) before destroying a runner whose call
// may hang.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/base/clock.h"
#include "controller/lock/agent.h"
#include "controller/lock/holder.h"
#include "controller/nomad/api.h"

namespace nsg::io {

using base::Duration;
using base::TimePoint;

enum class LockMode { kShim, kSidecar, kAcquireOnly, kHeartbeat, kInProcess };

// The holder's "exit code" when the lease file could not be written (a full disk) and the guard
// has surely stopped the workload at the last deadline it read: the agent then releases the lock
// and exits with it, so Nomad restarts the task and a standby can take over.
inline constexpr int kExitLeaseUnwritable = 75;  // EX_TEMPFAIL

// What a shim's workload (and its guard) does not inherit from the agent: NOMAD_TOKEN is the
// task's workload identity, which can write the lock variable; the workload never needs it.
inline constexpr const char* kWorkloadUnsetEnv[] = {"NOMAD_TOKEN"};

struct LockRunnerOptions {
  lock::Config config;
  LockMode mode = LockMode::kShim;
  std::vector<std::string> command;  // kShim: the workload and its arguments
  // kShim: how to run the guard ({"/proc/self/exe", "guard"}); the command then runs under it and
  // the guard enforces the lease deadline even while this process is frozen. Empty: the command
  // is our direct child and this process is its only deadline (tests of the runner itself).
  std::vector<std::string> guard_command;
  // $NOMAD_ALLOC_DIR/singleton: lease, workload, handoff and epoch files. Required except in an
  // unguarded shim, where it only receives the epoch file.
  std::string state_dir;
  std::string holder;  // the allocation ID, recorded in the lease
  // A signalfd for SIGTERM/SIGINT/SIGQUIT (stop) and SIGHUP/SIGUSR1/SIGUSR2 (forwarded), owned by
  // the caller; -1 = none (RequestStop only).
  int signal_fd = -1;
  // How often a stopping sidecar re-reads the guard's workload file.
  Duration confirm_poll = std::chrono::milliseconds(50);
  bool verbose = false;
  // One line per event; default: stderr with a "nomad-singleton lock: " prefix. Called from the
  // Run() thread and the API worker threads: must be thread-safe.
  std::function<void(const std::string&)> log;
};

// The port a runner drives its holder through: lock::Holder plus what an event loop needs.
class RuntimeHolder : public lock::Holder {
 public:
  // A pollable fd that becomes readable when Poll() may have news (-1: none).
  virtual int wait_fd() const { return -1; }
  // When Poll() must be called next without an fd event (nullopt: not needed).
  virtual std::optional<TimePoint> next_check() const { return std::nullopt; }
  // The holder's exit code once it is (confirmed) dead.
  virtual std::optional<int> Poll(TimePoint now) = 0;
  // Signals to pass on as they are (HUP, USR1, USR2).
  virtual void Forward(int signal) { (void)signal; }
  // Whether Start() could work now. A holder that writes a lease file probes that a write of it
  // would go through: a standby on a full allocation disk must not take the lock only to give it
  // up again (issue 16), so the runner does not send an acquire while this fails.
  virtual base::Status CanHold() const { return base::Status::Ok(); }
};

class LockRunner {
 public:
  // Fails with kInvalidSpec for a bad configuration (lock::Validate, a missing command or state
  // directory).
  static base::Result<std::unique_ptr<LockRunner>> Create(LockRunnerOptions options,
                                                          nomad::NomadApi& api,
                                                          const base::Clock& clock);
  // kInProcess: the runner drives `holder` (owned, called only from the Run() thread). Fails as
  // above, and when the mode is not kInProcess or `holder` is null.
  static base::Result<std::unique_ptr<LockRunner>> Create(LockRunnerOptions options,
                                                          std::unique_ptr<RuntimeHolder> holder,
                                                          nomad::NomadApi& api,
                                                          const base::Clock& clock);
  ~LockRunner();
  LockRunner(const LockRunner&) = delete;
  LockRunner& operator=(const LockRunner&) = delete;

  // Runs the agent to the end and returns the process exit code (lock::kExit* or the workload's).
  int Run();
  // A graceful stop, as SIGTERM would (`signal` is forwarded to the workload). Thread-safe.
  void RequestStop(int signal);

  // For tests: the agent's state (only between Run() calls or from the Run() thread).
  lock::State state() const { return agent_.state(); }

 private:
  class Worker;
  using Completion = std::function<lock::Actions(lock::Agent&, TimePoint)>;

  LockRunner(LockRunnerOptions options, lock::Agent agent, std::unique_ptr<RuntimeHolder> holder,
             nomad::NomadApi& api, const base::Clock& clock);
  void Execute(lock::Actions actions);
  void Post(Completion c);
  void Log(const std::string& line) const;
  int Prepare();  // heartbeat: read the handoff; sidecar: revoke a stale lease. 0 or exit code.

  // Constant after construction.
  LockRunnerOptions opts_;
  nomad::NomadApi& api_;
  const base::Clock& clock_;
  int wake_fd_ = -1;  // eventfd

  // Owned by the Run() thread.
  lock::Agent agent_;
  std::unique_ptr<RuntimeHolder> holder_;
  bool holder_reported_ = false;
  bool standby_logged_ = false;
  bool cannot_hold_logged_ = false;
  std::optional<lock::Grant> resume_;

  // Guarded by mu_.
  std::mutex mu_;
  std::vector<Completion> completions_;

  std::unique_ptr<Worker> ops_;    // acquire, renew, release
  std::unique_ptr<Worker> reads_;  // variable reads (blocking queries)
};

// The address the lock agent should use, before the Nomad CLI environment is applied:
// NOMAD_ADDR when it is a unix:// address; else the Task API socket when a token is set
// (NOMAD_TOKEN) and the socket exists (NOMAD_UNIX_ADDR, else $NOMAD_SECRETS_DIR/api.sock): a
// partitioned client then fails renewals at once (nomad-api.md §8.4, §11); else nullopt (use
// NOMAD_ADDR or the default).
std::optional<std::string> LockAgentAddress(
    const std::function<const char*(const char*)>& getenv,
    const std::function<bool(const std::string&)>& exists);

// The default log: "HH:MM:SS.mmmZ <prefix>: <line>" on stderr. Thread-safe.
std::function<void(const std::string&)> DefaultLockLog(
    const std::string& prefix = "nomad-singleton lock");

// A random UUID (version 4) from getrandom(2): a lock ID of our own, so that a retried acquire is
// idempotent (lock::Config::lock_id).
std::string RandomLockId();

// RFC 3339 UTC wall time with seconds ("2026-11-21T05:41:07Z"), for holder metadata only.
std::string WallClockRfc3339();

}  // namespace nsg::io
