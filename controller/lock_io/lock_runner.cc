// io::LockRunner (lock_runner.h): the runtime holders (a process, a lease for the guard, a guarded
// process), the API worker and the Run() loop that feeds lock::Agent. One file (~600 lines)
// because the holders, the worker and the loop share the runner's state and read as one event
// loop.
#include "controller/lock_io/lock_runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "controller/lock_io/lease_file.h"
#include "controller/lock_io/process_supervisor.h"

namespace nsg::io {
namespace {

using base::Result;
using base::Status;
using base::StatusCode;

// What a lease file takes (a few hundred bytes) with room to spare: the size CanHold() probes.
constexpr size_t kLeaseProbeBytes = 1024;

void WriteEpochFile(const std::string& dir, uint64_t epoch,
                    const std::function<void(const std::string&)>& log) {
  if (dir.empty()) return;
  if (Status st = MakeDirs(dir); !st.ok()) {
    log("cannot create " + dir + ": " + st.ToString());
    return;
  }
  if (Status st = WriteFileAtomic(dir + "/" + kEpochFile, std::to_string(epoch) + "\n");
      !st.ok()) {
    log("cannot write the epoch file: " + st.ToString());
  }
}

// Shim mode: the workload is our child.
class ProcessHolder final : public RuntimeHolder {
 public:
  ProcessHolder(std::vector<std::string> command, std::string state_dir,
                std::function<void(const std::string&)> log)
      : command_(std::move(command)), state_dir_(std::move(state_dir)), log_(std::move(log)) {}

  void Start(const lock::Grant& grant, TimePoint) override {
    WriteEpochFile(state_dir_, grant.epoch, log_);
    ProcessSpec spec;
    spec.argv = command_;
    spec.extra_env = {"NOMAD_SINGLETON_EPOCH=" + std::to_string(grant.epoch)};
    spec.unset_env.assign(std::begin(kWorkloadUnsetEnv), std::end(kWorkloadUnsetEnv));
    auto c = ChildProcess::Spawn(spec);
    if (!c.ok()) {
      log_("cannot start the workload: " + c.status().message());
      failed_code_ = c.status().code() == StatusCode::kNotFound ? 127 : 126;
      return;
    }
    child_ = std::move(c).value();
    log_("started the workload, pid " + std::to_string(child_->pid()) + ", epoch " +
         std::to_string(grant.epoch));
  }
  void Extend(TimePoint) override {}
  void Stop(int signal) override {
    if (child_) child_->SignalGroup(signal).ok();
  }
  void Kill() override {
    if (child_) child_->SignalGroup(SIGKILL).ok();
  }
  void Forward(int signal) override {
    if (child_) child_->SignalGroup(signal).ok();
  }
  int wait_fd() const override { return child_ && !child_->exited() ? child_->wait_fd() : -1; }
  std::optional<TimePoint> next_check() const override {
    if (failed_code_) return TimePoint{};
    if (child_ && !child_->exited() && child_->wait_fd() < 0) {
      return last_poll_ + std::chrono::milliseconds(20);  // no pidfd: poll waitpid
    }
    if (child_ && !child_->exited() && ::getpid() == 1) {
      return last_poll_ + std::chrono::seconds(1);  // a container's init: reap orphans
    }
    return std::nullopt;
  }
  std::optional<int> Poll(TimePoint now) override {
    last_poll_ = now;
    if (failed_code_) return failed_code_;
    if (!child_) return std::nullopt;
    ReapOrphansIfInit(child_->pid());
    return child_->TryReap();
  }

 private:
  std::vector<std::string> command_;
  std::string state_dir_;
  std::function<void(const std::string&)> log_;
  std::unique_ptr<ChildProcess> child_;
  std::optional<int> failed_code_;
  TimePoint last_poll_{};
};

// Sidecar and split mode: the workload runs under a guard in another task, which follows the
// lease file and reports in the workload file.
class LeaseHolder final : public RuntimeHolder {
 public:
  LeaseHolder(const LockRunnerOptions& o, bool write_handoff)
      : dir_(o.state_dir),
        write_handoff_(write_handoff),
        poll_(o.confirm_poll),
        guard_stops_within_(o.config.guard_poll + o.config.kill_timeout + o.config.stop_margin),
        log_(o.log) {
    lease_.holder = o.holder;
    lease_.path = o.config.path;
    lease_.kill_timeout = o.config.kill_timeout;
  }

  void Start(const lock::Grant& grant, TimePoint lease_until) override {
    lease_.state = LeaseState::kHeld;
    lease_.epoch = grant.epoch;
    lease_.deadline = lease_until;
    Write();
    WriteEpochFile(dir_, grant.epoch, log_);
    if (write_handoff_) {
      Handoff h{grant.path, grant.namespace_, grant.lock_id, grant.epoch, grant.acquired_at, ""};
      if (Status st = WriteHandoff(dir_ + "/" + kHandoffFile, h); !st.ok()) {
        log_("cannot write the handoff for the heartbeat task: " + st.ToString());
      }
    }
  }
  Status CanHold() const override {
    return ProbeWritable(dir_ + "/" + kLeaseFile, kLeaseProbeBytes);
  }
  void Extend(TimePoint lease_until) override {
    // After a failed write (a full disk) the guard stops the workload at the last deadline it
    // read; extending later could start it again beside a successor, so never extend again.
    if (lease_.state != LeaseState::kHeld || write_failed_) return;
    lease_.deadline = lease_until;
    Write();
  }
  void Stop(int) override {
    if (lease_.state == LeaseState::kHeld) lease_.state = LeaseState::kStopping;
    Write();
    watching_ = true;
  }
  void Kill() override {
    lease_.state = LeaseState::kLost;
    Write();
    watching_ = true;
  }
  std::optional<TimePoint> next_check() const override {
    if (write_failed_ && !watching_) return written_deadline_ + guard_stops_within_;
    if (!watching_) return std::nullopt;
    return last_poll_ + poll_;
  }
  std::optional<int> Poll(TimePoint now) override {
    if (write_failed_ && !watching_ && now >= written_deadline_ + guard_stops_within_) {
      // The guard's own deadline has killed the workload (it notices within its poll, TERM →
      // KILL within the kill timeout): report it dead so the agent releases the lock and a
      // standby takes over, instead of renewing a lock with nothing running (issue 16).
      log_("the lease could not be written since " + FormatDeadline() +
           ": the guard has stopped the workload at that deadline; giving the lock up");
      return kExitLeaseUnwritable;
    }
    if (!watching_) return std::nullopt;
    last_poll_ = now;
    // The lease was revoked before this read (guard.h explains why waiting or no file is proof).
    auto w = ReadWorkloadState(dir_ + "/" + kWorkloadFile);
    if (!w.ok()) {
      if (w.status().code() == StatusCode::kNotFound) return 0;
      return std::nullopt;  // unreadable: no proof either way
    }
    switch (w->phase) {
      case WorkloadPhase::kWaiting: return 0;
      case WorkloadPhase::kExited: return w->exit_code;
      default: return std::nullopt;
    }
  }

 private:
  void Write() {
    if (Status st = WriteLease(dir_ + "/" + kLeaseFile, lease_); !st.ok()) {
      // The guard kills the workload at the last deadline it saw: failing to extend is safe.
      log_("cannot write the lease: " + st.ToString());
      if (lease_.state == LeaseState::kHeld) write_failed_ = true;
      return;
    }
    written_deadline_ = lease_.deadline;
  }
  std::string FormatDeadline() const {
    return "a deadline " + base::FormatDuration(guard_stops_within_) + " ago";
  }

  std::string dir_;
  bool write_handoff_;
  Duration poll_;
  Duration guard_stops_within_;  // P + K + margin after a deadline, the workload is dead
  std::function<void(const std::string&)> log_;
  Lease lease_;
  bool watching_ = false;
  TimePoint last_poll_{};
  bool write_failed_ = false;
  TimePoint written_deadline_{};  // the latest deadline the guard can have read
};

// Shim mode with a guard: the command runs under `guard`, our child, which follows a lease file
// that this runner writes exactly as in sidecar mode. The guard keeps the lease's deadline on its
// own, so a frozen agent (SIGSTOP, a stalled thread) cannot keep the workload running past G + P
// + K (issue 16). Signals go to the guard, which forwards them to the workload; SIGKILL of the
// guard takes the workload with it (its parent-death signal).
class GuardedProcessHolder final : public RuntimeHolder {
 public:
  explicit GuardedProcessHolder(const LockRunnerOptions& o)
      : lease_(o, /*write_handoff=*/false), process_(GuardArgv(o), o.state_dir, o.log) {}

  void Start(const lock::Grant& grant, TimePoint lease_until) override {
    lease_.Start(grant, lease_until);  // before the guard looks at it
    process_.Start(grant, lease_until);
  }
  void Extend(TimePoint lease_until) override { lease_.Extend(lease_until); }
  Status CanHold() const override { return lease_.CanHold(); }
  // The stop signal goes to the guard (it forwards it, and KILLs after the kill timeout); the
  // lease keeps its deadline, which the guard enforces should the workload outlive it.
  void Stop(int signal) override { process_.Stop(signal); }
  void Kill() override {
    lease_.Kill();
    process_.Kill();
  }
  void Forward(int signal) override { process_.Forward(signal); }
  int wait_fd() const override { return process_.wait_fd(); }
  std::optional<TimePoint> next_check() const override { return process_.next_check(); }
  std::optional<int> Poll(TimePoint now) override { return process_.Poll(now); }

 private:
  static std::vector<std::string> GuardArgv(const LockRunnerOptions& o) {
    std::vector<std::string> argv = o.guard_command;
    const std::vector<std::string> flags = {"--lease", o.state_dir + "/" + kLeaseFile,
                                            "--kill-timeout",
                                            base::FormatDuration(o.config.kill_timeout), "--"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), o.command.begin(), o.command.end());
    return argv;
  }

  LeaseHolder lease_;
  ProcessHolder process_;
};

}  // namespace

// A thread that runs posted calls one at a time, in order.
class LockRunner::Worker {
 public:
  Worker() : thread_([this] { Loop(); }) {}
  ~Worker() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Post(std::function<void()> fn) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back(std::move(fn));
    }
    cv_.notify_all();
  }

 private:
  void Loop() {
    while (true) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [this] { return stop_ || !q_.empty(); });
        if (q_.empty()) return;
        fn = std::move(q_.front());
        q_.pop_front();
      }
      fn();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  bool stop_ = false;
  std::thread thread_;
};

Result<std::unique_ptr<LockRunner>> LockRunner::Create(LockRunnerOptions options,
                                                       nomad::NomadApi& api,
                                                       const base::Clock& clock) {
  return Create(std::move(options), nullptr, api, clock);
}

Result<std::unique_ptr<LockRunner>> LockRunner::Create(LockRunnerOptions options,
                                                       std::unique_ptr<RuntimeHolder> holder,
                                                       nomad::NomadApi& api,
                                                       const base::Clock& clock) {
  const bool in_process = options.mode == LockMode::kInProcess;
  if (in_process != (holder != nullptr)) {
    return Status::InvalidSpec(
        "in-process mode needs the caller's holder; no other mode takes one");
  }
  if (options.mode == LockMode::kShim && options.command.empty()) {
    return Status::InvalidSpec("no command: nomad-singleton lock [flags] -- CMD [ARGS...]");
  }
  if (options.mode != LockMode::kShim && !options.command.empty()) {
    return Status::InvalidSpec("a command is only for shim mode (the guard runs the workload)");
  }
  if (options.mode != LockMode::kShim && !in_process && options.state_dir.empty()) {
    return Status::InvalidSpec(
        "sidecar and split mode need a state directory (NOMAD_ALLOC_DIR is not set)");
  }
  const bool guarded_shim = options.mode == LockMode::kShim && !options.guard_command.empty();
  if (guarded_shim && options.state_dir.empty()) {
    return Status::InvalidSpec("a guarded shim needs a state directory for its lease");
  }
  options.config.exit_after_acquire = options.mode == LockMode::kAcquireOnly;
  if (!options.log) options.log = DefaultLockLog();
  auto agent = lock::Agent::Create(options.config);
  if (!agent.ok()) return agent.status();
  if (guarded_shim) {
    holder = std::make_unique<GuardedProcessHolder>(options);
  } else if (options.mode == LockMode::kShim) {
    holder = std::make_unique<ProcessHolder>(options.command, options.state_dir, options.log);
  } else if (!in_process) {
    holder = std::make_unique<LeaseHolder>(options, options.mode == LockMode::kAcquireOnly);
  }
  return std::unique_ptr<LockRunner>(new LockRunner(
      std::move(options), std::move(agent).value(), std::move(holder), api, clock));
}

LockRunner::LockRunner(LockRunnerOptions options, lock::Agent agent,
                       std::unique_ptr<RuntimeHolder> holder, nomad::NomadApi& api,
                       const base::Clock& clock)
    : opts_(std::move(options)),
      api_(api),
      clock_(clock),
      agent_(std::move(agent)),
      holder_(std::move(holder)) {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  ops_ = std::make_unique<Worker>();
  reads_ = std::make_unique<Worker>();
}

LockRunner::~LockRunner() {
  ops_.reset();  // joins: calls in flight finish first
  reads_.reset();
  holder_.reset();  // a still-running shim workload is killed and reaped
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void LockRunner::Log(const std::string& line) const { opts_.log(line); }

void LockRunner::RequestStop(int signal) {
  Post([signal](lock::Agent& a, TimePoint now) { return a.OnStopRequested(now, signal); });
}

void LockRunner::Post(Completion c) {
  {
    std::lock_guard<std::mutex> l(mu_);
    completions_.push_back(std::move(c));
  }
  const uint64_t one = 1;
  ssize_t n = ::write(wake_fd_, &one, sizeof one);
  (void)n;
}

int LockRunner::Prepare() {
  if (opts_.mode == LockMode::kInProcess) return 0;
  if (opts_.mode == LockMode::kShim && opts_.guard_command.empty()) return 0;
  if (Status st = MakeDirs(opts_.state_dir); !st.ok()) {
    Log(st.ToString());
    return lock::kExitFailed;
  }
  const std::string lease_path = opts_.state_dir + "/" + kLeaseFile;
  if (opts_.mode == LockMode::kHeartbeat) {
    auto h = ReadHandoff(opts_.state_dir + "/" + kHandoffFile);
    if (!h.ok()) {
      Log("no lock to keep: cannot read the handoff of the acquire task: " +
          h.status().ToString());
      return lock::kExitFailed;
    }
    if (h->path != opts_.config.path) {
      Log("the handoff is for lock " + h->path + ", not " + opts_.config.path);
      return lock::kExitFailed;
    }
    resume_ = lock::Grant{h->path, h->namespace_, h->lock_id, h->epoch, h->acquired_at};
    return 0;
  }
  // A lease left by an earlier agent in this allocation must not let a guard start anything.
  auto old = ReadLease(lease_path);
  if (old.ok() && old->state != LeaseState::kLost) {
    old->state = LeaseState::kLost;
    WriteLease(lease_path, *old).ok();
  }
  return 0;
}

void LockRunner::Execute(lock::Actions actions) {
  const lock::Config& cfg = opts_.config;
  nomad::WriteOptions w;
  w.namespace_ = cfg.namespace_;
  const TimePoint exec_time = clock_.Now();
  for (lock::Action& a : actions) {
    if (auto* start = std::get_if<lock::StartHolder>(&a)) {
      Log("lock acquired: epoch " + std::to_string(start->grant.epoch) + ", lease valid for " +
          base::FormatDuration(start->lease_until - exec_time));
    } else if (auto* stop = std::get_if<lock::StopHolder>(&a)) {
      Log("stopping the workload (signal " + std::to_string(stop->signal) + ")");
    } else if (std::holds_alternative<lock::KillHolder>(a)) {
      Log("killing the workload");
    } else if (opts_.verbose && !std::holds_alternative<lock::Exit>(a)) {
      Log(lock::Describe(a));
    }
    if (lock::ApplyToHolder(a, *holder_)) continue;
    if (auto* acq = std::get_if<lock::SendAcquire>(&a)) {
      if (Status ready = holder_->CanHold(); !ready.ok()) {
        // Not sent: to the agent an acquire whose outcome is unknown, so it backs off and tries
        // again (and, should this last G/2, starts over with a new lock ID).
        if (!cannot_hold_logged_) {
          Log("not campaigning for the lock while the lease cannot be written: " +
              ready.ToString());
          cannot_hold_logged_ = true;
        }
        const uint64_t id = acq->id;
        Post([id, ready](lock::Agent& ag, TimePoint now) {
          return ag.OnAcquireResult(now, id, ready);
        });
        continue;
      }
      if (cannot_hold_logged_) {
        Log("the lease can be written again: campaigning");
        cannot_hold_logged_ = false;
      }
      nomad::Variable v;
      v.namespace_ = cfg.namespace_;
      v.path = cfg.path;
      v.items = cfg.holder_items;
      v.items["acquired_at"] = WallClockRfc3339();
      v.lock = nomad::VariableLock{cfg.ttl, cfg.delay, acq->lock_id};
      const uint64_t id = acq->id;
      ops_->Post([this, v, w, id] {
        auto r = api_.AcquireLock(v, w);
        if (!r.ok() && r.status().code() != StatusCode::kConflict) {
          Log("acquire failed: " + r.status().ToString() +
              (r.status().code() == StatusCode::kPermissionDenied
                   ? " (does the job's ACL policy grant write on " + opts_.config.path + "?)"
                   : ""));
        }
        Post([id, r](lock::Agent& ag, TimePoint now) { return ag.OnAcquireResult(now, id, r); });
      });
    } else if (auto* ren = std::get_if<lock::SendRenew>(&a)) {
      const uint64_t id = ren->id;
      const std::string lock_id = ren->lock_id;
      ops_->Post([this, w, id, lock_id] {
        auto r = api_.RenewLock(opts_.config.path, lock_id, w);
        if (!r.ok()) Log("renew failed: " + r.status().ToString());
        Post([id, r](lock::Agent& ag, TimePoint now) { return ag.OnRenewResult(now, id, r); });
      });
    } else if (auto* rel = std::get_if<lock::SendRelease>(&a)) {
      const uint64_t id = rel->id;
      const std::string lock_id = rel->lock_id;
      ops_->Post([this, w, id, lock_id] {
        auto r = api_.ReleaseLock(opts_.config.path, lock_id, w);
        Status st = r.ok() ? Status::Ok() : r.status();
        if (!st.ok()) Log("release failed: " + st.ToString());
        Post([id, st](lock::Agent& ag, TimePoint now) { return ag.OnReleaseResult(now, id, st); });
      });
    } else if (auto* rd = std::get_if<lock::ReadVariable>(&a)) {
      nomad::QueryOptions q;
      q.namespace_ = cfg.namespace_;
      q.index = rd->index;
      q.wait = rd->wait;
      const uint64_t id = rd->id;
      reads_->Post([this, q, id] {
        auto r = api_.ReadVariable(opts_.config.path, q);
        if (!r.ok() && opts_.verbose) Log("read failed: " + r.status().ToString());
        Post([id, r](lock::Agent& ag, TimePoint now) { return ag.OnReadResult(now, id, r); });
      });
    } else if (auto* ex = std::get_if<lock::Exit>(&a)) {
      Log("exit " + std::to_string(ex->code) + ": " + ex->reason);
    }
  }
  const lock::State st = agent_.state();
  if (st == lock::State::kStandby && !standby_logged_) {
    Log("the lock is held by another allocation: waiting as a hot standby");
    standby_logged_ = true;
  }
}

int LockRunner::Run() {
  if (int code = Prepare(); code != 0) return code;
  TimePoint now = clock_.Now();
  Execute(resume_ ? agent_.Resume(now, *resume_) : agent_.Start(now));
  while (!agent_.done()) {
    now = clock_.Now();
    std::optional<TimePoint> wake = agent_.NextWakeup();
    if (!holder_reported_) {
      if (auto hc = holder_->next_check(); hc && (!wake || *hc < *wake)) wake = hc;
    }
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {wake_fd_, POLLIN, 0};
    if (opts_.signal_fd >= 0) fds[n++] = {opts_.signal_fd, POLLIN, 0};
    const int hfd = holder_reported_ ? -1 : holder_->wait_fd();
    if (hfd >= 0) fds[n++] = {hfd, POLLIN, 0};
    timespec ts{};
    timespec* tsp = nullptr;
    if (wake) {
      const Duration d = std::max(*wake - now, Duration(0));
      ts.tv_sec = static_cast<time_t>(d.count() / 1000000000);
      ts.tv_nsec = static_cast<long>(d.count() % 1000000000);
      tsp = &ts;
    }
    ::ppoll(fds, n, tsp, nullptr);
    now = clock_.Now();

    if (opts_.signal_fd >= 0) {
      signalfd_siginfo si;
      while (::read(opts_.signal_fd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        const int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
          Log("received signal " + std::to_string(sig) + ": stopping");
          Execute(agent_.OnStopRequested(now, sig));
        } else {
          holder_->Forward(sig);
        }
      }
    }
    uint64_t count;
    while (::read(wake_fd_, &count, sizeof count) > 0) {
    }
    std::vector<Completion> done;
    {
      std::lock_guard<std::mutex> l(mu_);
      done.swap(completions_);
    }
    for (auto& c : done) Execute(c(agent_, now));
    if (!holder_reported_ && !agent_.done()) {
      if (auto code = holder_->Poll(now)) {
        holder_reported_ = true;
        Log("workload ended with code " + std::to_string(*code));
        Execute(agent_.OnHolderExited(now, *code));
      }
    }
    if (!agent_.done()) Execute(agent_.OnTimer(now));
  }
  return agent_.exit_code();
}

std::optional<std::string> LockAgentAddress(
    const std::function<const char*(const char*)>& getenv,
    const std::function<bool(const std::string&)>& exists) {
  const char* addr = getenv("NOMAD_ADDR");
  if (addr && std::string(addr).rfind("unix://", 0) == 0) return std::string(addr);
  const char* token = getenv("NOMAD_TOKEN");
  if (!token || !*token) return std::nullopt;  // the Task API always needs a token
  if (const char* unix_addr = getenv("NOMAD_UNIX_ADDR"); unix_addr && *unix_addr) {
    std::string a = unix_addr;
    const std::string p = a.rfind("unix://", 0) == 0 ? a.substr(7) : a;
    if (exists(p)) return "unix://" + p;
  }
  if (const char* secrets = getenv("NOMAD_SECRETS_DIR"); secrets && *secrets) {
    const std::string p = std::string(secrets) + "/api.sock";
    if (exists(p)) return "unix://" + p;
  }
  return std::nullopt;
}

std::function<void(const std::string&)> DefaultLockLog(const std::string& prefix) {
  return [prefix](const std::string& line) {
    const auto t = std::chrono::system_clock::now();
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    const long ms = static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() %
        1000);
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
    std::fprintf(stderr, "%s.%03ldZ %s: %s\n", stamp, ms, prefix.c_str(), line.c_str());
    std::fflush(stderr);
  };
}

std::string RandomLockId() {
  unsigned char b[16] = {};
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

std::string WallClockRfc3339() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace nsg::io
