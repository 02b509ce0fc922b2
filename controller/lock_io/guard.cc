#include "controller/lock_io/guard.h"

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>

#include "controller/lock_io/lease_file.h"
#include "controller/lock_io/process_supervisor.h"

namespace nsg::io {
namespace {

using base::FormatDuration;
using base::ParseDuration;
using base::Result;
using base::Status;
using base::TimePoint;

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void Log(const std::string& msg) {
  std::fprintf(stderr, "nomad-singleton guard: %s\n", msg.c_str());
  std::fflush(stderr);
}

sigset_t GuardSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
  return set;
}

// The guard's view of its workload; each change is written to the workload file.
class Reporter {
 public:
  explicit Reporter(std::string path) : path_(std::move(path)) { state_.guard_pid = ::getpid(); }
  void Set(WorkloadPhase phase, uint64_t epoch, int64_t pid, int code = 0) {
    state_.phase = phase;
    state_.epoch = epoch;
    state_.pid = pid;
    state_.exit_code = code;
    if (Status st = WriteWorkloadState(path_, state_); !st.ok()) {
      Log("cannot report the workload state: " + st.ToString());
    }
  }

 private:
  std::string path_;
  WorkloadState state_;
};

}  // namespace

std::string GuardUsage() {
  return "Usage: nomad-singleton guard [--lease PATH] [--poll DURATION] [--kill-timeout DURATION] "
         "-- CMD [ARGS...]\n\n"
         "Runs CMD only while the lock agent's lease is valid, and kills CMD's process group\n"
         "(TERM, then KILL after the lease's kill timeout) as soon as it is not.\n\n"
         "  --lease PATH            the lease file (default $NOMAD_ALLOC_DIR/singleton/lease)\n"
         "  --poll DURATION         how often to re-check the lease besides inotify (default "
         "250ms)\n"
         "  --kill-timeout DURATION TERM → KILL when the lease gives none (default 5s)\n"
         "  -h, --help              show this help\n";
}

Result<GuardArgs> ParseGuardArgs(const std::vector<std::string>& argv,
                                 const std::string& alloc_dir) {
  GuardArgs out;
  size_t i = 0;
  auto value = [&](const std::string& flag, std::string& dst) -> Status {
    const std::string& a = argv[i];
    if (a.size() > flag.size() && a.compare(0, flag.size() + 1, flag + "=") == 0) {
      dst = a.substr(flag.size() + 1);
      return Status::Ok();
    }
    if (i + 1 >= argv.size()) return Status::InvalidSpec("flag " + flag + " needs a value");
    dst = argv[++i];
    return Status::Ok();
  };
  for (; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      out.options.command.assign(argv.begin() + static_cast<std::ptrdiff_t>(i) + 1, argv.end());
      break;
    }
    if (a == "-h" || a == "--help") {
      out.help = true;
      return out;
    }
    std::string v;
    if (a.rfind("--lease", 0) == 0) {
      if (Status st = value("--lease", v); !st.ok()) return st;
      out.options.lease_path = v;
    } else if (a.rfind("--poll", 0) == 0 || a.rfind("--kill-timeout", 0) == 0) {
      const bool poll = a.rfind("--poll", 0) == 0;
      if (Status st = value(poll ? "--poll" : "--kill-timeout", v); !st.ok()) return st;
      auto d = ParseDuration(v);
      if (!d.ok()) return d.status();
      if (*d <= Duration(0) && poll) return Status::InvalidSpec("--poll must be positive");
      if (*d < Duration(0)) return Status::InvalidSpec("--kill-timeout must not be negative");
      (poll ? out.options.poll : out.options.kill_timeout) = *d;
    } else {
      return Status::InvalidSpec("unknown argument \"" + a + "\" (the command goes after --)");
    }
  }
  if (out.options.command.empty()) {
    return Status::InvalidSpec("no command: nomad-singleton guard [flags] -- CMD [ARGS...]");
  }
  if (out.options.lease_path.empty()) {
    if (alloc_dir.empty()) {
      return Status::InvalidSpec("--lease is required when NOMAD_ALLOC_DIR is not set");
    }
    out.options.lease_path = alloc_dir + "/" + kStateDirName + "/" + kLeaseFile;
  }
  out.options.state_path = DirOf(out.options.lease_path) + "/" + kWorkloadFile;
  return out;
}

int GuardStopSignal(const Result<Lease>& lease, uint64_t epoch, TimePoint now,
                    Duration kill_timeout) {
  if (lease.ok() && LeaseAllowsRunning(*lease, now) && lease->epoch == epoch) return 0;
  if (!lease.ok() || lease->epoch != epoch) return SIGTERM;
  if (lease->state == LeaseState::kLost) return SIGKILL;
  if (now >= lease->deadline + kill_timeout) return SIGKILL;
  return SIGTERM;
}

int RunGuard(const GuardOptions& o, int signal_fd) {
  BootClock clock;
  int sfd = signal_fd;
  if (sfd < 0) {
    sigset_t set = GuardSignals();
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  }
  const std::string dir = DirOf(o.lease_path);
  if (Status st = MakeDirs(dir); !st.ok()) Log(st.ToString());
  const int ifd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (ifd >= 0) {
    ::inotify_add_watch(ifd, dir.c_str(),
                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                            IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
  }
  Reporter report(o.state_path);
  report.Set(WorkloadPhase::kWaiting, 0, 0);

  std::unique_ptr<ChildProcess> child;
  uint64_t epoch = 0;
  Duration kill_timeout = o.kill_timeout;
  std::optional<TimePoint> kill_at;
  bool stopping = false;   // the workload has been told to stop
  bool killed = false;     // SIGKILL sent
  bool stop_requested = false;
  bool waiting_logged = false;

  auto stop_workload = [&](TimePoint now, int sig, const std::string& why) {
    if (!child) return;
    if (sig == SIGKILL) {
      if (!killed) Log("killing the workload: " + why);
      child->SignalGroup(SIGKILL).ok();
      killed = true;
      kill_at.reset();
    } else {
      Log("stopping the workload (signal " + std::to_string(sig) + "): " + why);
      child->SignalGroup(sig).ok();
      if (!kill_at && !killed) kill_at = now + kill_timeout;
    }
    if (!stopping) {
      stopping = true;
      report.Set(WorkloadPhase::kStopping, epoch, child->pid());
    }
  };

  while (true) {
    TimePoint now = clock.Now();
    ReapOrphansIfInit(child ? child->pid() : 0);
    if (child) {
      if (auto code = child->TryReap()) {
        report.Set(WorkloadPhase::kExited, epoch, child->pid(), *code);
        Log("workload exited with code " + std::to_string(*code));
        if (ifd >= 0) ::close(ifd);
        return *code;
      }
    }
    auto lease = ReadLease(o.lease_path);
    const bool allowed = lease.ok() && LeaseAllowsRunning(*lease, now) &&
                         (!child || lease->epoch == epoch);
    if (!child) {
      if (stop_requested) {
        report.Set(WorkloadPhase::kExited, 0, 0, 0);
        if (ifd >= 0) ::close(ifd);
        return 0;
      }
      if (allowed) {
        // "starting" first, then the lease once more: see the protocol in guard.h.
        report.Set(WorkloadPhase::kStarting, lease->epoch, 0);
        auto again = ReadLease(o.lease_path);
        now = clock.Now();
        if (again.ok() && LeaseAllowsRunning(*again, now) && again->epoch == lease->epoch) {
          epoch = again->epoch;
          if (again->kill_timeout > Duration(0)) kill_timeout = again->kill_timeout;
          ProcessSpec spec;
          spec.argv = o.command;
          spec.extra_env = {"NOMAD_SINGLETON_EPOCH=" + std::to_string(epoch)};
          auto started = ChildProcess::Spawn(spec);
          if (!started.ok()) {
            const int code = started.status().code() == base::StatusCode::kNotFound ? 127 : 126;
            Log("cannot start the workload: " + started.status().message());
            report.Set(WorkloadPhase::kExited, epoch, 0, code);
            if (ifd >= 0) ::close(ifd);
            return code;
          }
          child = std::move(started).value();
          report.Set(WorkloadPhase::kRunning, epoch, child->pid());
          Log("lease valid (epoch " + std::to_string(epoch) + "): started the workload, pid " +
              std::to_string(child->pid()));
          continue;
        }
        report.Set(WorkloadPhase::kWaiting, 0, 0);
      } else if (!waiting_logged) {
        Log("waiting for a valid lease at " + o.lease_path);
        waiting_logged = true;
      }
    } else if (!allowed) {
      std::string why = !lease.ok() ? lease.status().message()
                        : lease->epoch != epoch ? "the lease belongs to another epoch"
                        : lease->state != LeaseState::kHeld
                            ? "the lease is " + std::string(LeaseStateName(lease->state))
                            : "the lease deadline passed without a renewal";
      const int sig = GuardStopSignal(lease, epoch, now, kill_timeout);
      if (sig == SIGKILL) {
        if (lease.ok() && lease->state != LeaseState::kLost) {
          why += " by " + FormatDuration(now - lease->deadline) +
                 ", more than the kill timeout: the guard was paused past the instant the workload "
                 "had to be dead";
        }
        stop_workload(now, SIGKILL, why);
      } else if (!stopping) {
        stop_workload(now, SIGTERM, why);
      }
    }
    if (kill_at && now >= *kill_at) stop_workload(now, SIGKILL, "the kill timeout passed");

    // Sleep until something can change: a file event, a signal, the child's exit, the lease
    // deadline, the kill time, or the poll.
    Duration wait = o.poll;
    if (child && allowed && !stopping) wait = std::min(wait, lease->deadline - now);
    if (kill_at) wait = std::min(wait, *kill_at - now);
    if (child && child->wait_fd() < 0) wait = std::min<Duration>(wait, std::chrono::milliseconds(20));
    // (As PID 1, orphans are reaped at least every poll.)
    wait = std::max(wait, Duration(0));
    pollfd fds[3];
    nfds_t n = 0;
    if (sfd >= 0) fds[n++] = {sfd, POLLIN, 0};
    if (ifd >= 0) fds[n++] = {ifd, POLLIN, 0};
    if (child && child->wait_fd() >= 0) fds[n++] = {child->wait_fd(), POLLIN, 0};
    timespec ts{static_cast<time_t>(wait.count() / 1000000000),
                static_cast<long>(wait.count() % 1000000000)};
    ::ppoll(fds, n, &ts, nullptr);
    if (ifd >= 0) {
      char buf[4096];
      while (::read(ifd, buf, sizeof buf) > 0) {
      }
    }
    if (sfd >= 0) {
      signalfd_siginfo si;
      while (::read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        const int sig = static_cast<int>(si.ssi_signo);
        now = clock.Now();
        if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
          stop_requested = true;
          if (child) {
            // Forward even when already stopping: a second signal means "hurry".
            child->SignalGroup(sig).ok();
            if (!stopping) stop_workload(now, sig, "the guard was asked to stop");
          }
        } else if (child) {
          child->SignalGroup(sig).ok();
        }
      }
    }
  }
}

int GuardCommand(const std::vector<std::string>& argv) {
  const char* alloc = std::getenv("NOMAD_ALLOC_DIR");
  auto args = ParseGuardArgs(argv, alloc ? alloc : "");
  if (!args.ok()) {
    std::fprintf(stderr, "nomad-singleton guard: %s\n", args.status().message().c_str());
    return 2;
  }
  if (args->help) {
    std::fputs(GuardUsage().c_str(), stdout);
    return 0;
  }
  return RunGuard(args->options);
}

Status InstallGuardBinary(const std::string& self_exe, const std::string& dest) {
  std::string src = DirOf(self_exe) + "/nomad-singleton-guard";
  if (::access(src.c_str(), X_OK) != 0) {
    auto found = FindExecutable("nomad-singleton-guard");
    if (!found.ok()) {
      return Status::NotFound("nomad-singleton-guard is neither beside " + self_exe +
                              " nor in PATH; the guarded workload cannot start");
    }
    src = *found;
  }
  auto bytes = ReadSmallFile(src);
  if (!bytes.ok() && bytes.status().code() == base::StatusCode::kInvalidSpec) {
    // ReadSmallFile caps at 1 MiB; read the executable in full.
    std::FILE* f = std::fopen(src.c_str(), "rb");
    if (!f) return Status::Unavailable("open " + src + ": " + std::strerror(errno));
    std::string all;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) all.append(buf, n);
    std::fclose(f);
    bytes = all;
  }
  if (!bytes.ok()) return bytes.status();
  FILE* existing = std::fopen(dest.c_str(), "rb");
  if (existing) {
    std::string cur;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, existing)) > 0) cur.append(buf, n);
    std::fclose(existing);
    if (cur == *bytes) return Status::Ok();
  }
  if (Status st = MakeDirs(DirOf(dest)); !st.ok()) return st;
  return WriteFileAtomic(dest, *bytes, 0755);
}

}  // namespace nsg::io
