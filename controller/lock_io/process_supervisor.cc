#include "controller/lock_io/process_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <map>

extern char** environ;

namespace nsg::io {
namespace {

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Our environment without `unset` (names), with `extra` ("K=V") added or overriding.
std::vector<std::string> MergedEnv(const std::vector<std::string>& extra,
                                   const std::vector<std::string>& unset) {
  std::map<std::string, std::string> env;
  std::vector<std::string> order;
  auto put = [&](const std::string& kv) {
    const size_t eq = kv.find('=');
    const std::string key = eq == std::string::npos ? kv : kv.substr(0, eq);
    if (env.find(key) == env.end()) order.push_back(key);
    env[key] = kv;
  };
  for (char** e = environ; e && *e; ++e) put(*e);
  for (const auto& name : unset) env.erase(name);
  for (const auto& kv : extra) put(kv);
  std::vector<std::string> out;
  out.reserve(order.size());
  for (const auto& k : order) {
    if (auto it = env.find(k); it != env.end()) out.push_back(it->second);
  }
  return out;
}

std::vector<char*> CPtrs(std::vector<std::string>& v) {
  std::vector<char*> p;
  p.reserve(v.size() + 1);
  for (auto& s : v) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

}  // namespace

int ExitCodeFromWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

Result<std::string> FindExecutable(const std::string& name) {
  if (name.empty()) return Status::NotFound("empty command");
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), F_OK) != 0) return Status::NotFound(name + ": no such file");
    return name;
  }
  const char* path_env = std::getenv("PATH");
  const std::string path = path_env && *path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string candidate = end > start ? path.substr(start, end - start) : std::string(".");
    candidate.push_back('/');
    candidate.append(name);
    if (IsExecutableFile(candidate)) return candidate;
    start = end + 1;
  }
  return Status::NotFound(name + ": not found in PATH");
}

Result<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(const ProcessSpec& spec) {
  if (spec.argv.empty()) return Status::InvalidSpec("no command to run");
  auto exe = FindExecutable(spec.argv[0]);
  if (!exe.ok()) return exe.status();
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::string exe_path = *exe;
  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> envv = MergedEnv(spec.extra_env, spec.unset_env);
  std::vector<char*> argp = CPtrs(argv), envp = CPtrs(envv);
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return Status::Unavailable(std::string("pipe: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    return Status::Unavailable(std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    ::close(err_pipe[0]);
    if (spec.new_process_group) ::setpgid(0, 0);
    if (spec.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(137);  // the parent died before prctl took effect
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(exe_path.c_str(), argp.data(), envp.data());
    const int e = errno;
    ssize_t ignored = ::write(err_pipe[1], &e, sizeof e);
    (void)ignored;
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  if (spec.new_process_group) ::setpgid(pid, pid);  // also from here: no race with our signals
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    const std::string msg = "exec " + exe_path + ": " + std::strerror(exec_errno);
    if (exec_errno == ENOENT) return Status::NotFound(msg);
    if (exec_errno == EACCES || exec_errno == EPERM) return Status::PermissionDenied(msg);
    return Status::Unavailable(msg);
  }
  const int pidfd = PidfdOpen(pid);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, pidfd, spec.new_process_group));
}

ChildProcess::~ChildProcess() {
  if (!exit_code_) {
    SignalGroup(SIGKILL).ok();
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
  if (pidfd_ >= 0) ::close(pidfd_);
}

Status ChildProcess::SignalGroup(int sig) {
  const pid_t target = group_ ? -pid_ : pid_;
  if (::kill(target, sig) != 0 && errno != ESRCH) {
    return Status::Unavailable(std::string("kill: ") + std::strerror(errno));
  }
  return Status::Ok();
}

std::optional<int> ChildProcess::TryReap() {
  if (exit_code_) return exit_code_;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    exit_code_ = ExitCodeFromWaitStatus(st);
    // The group outlives its leader only through processes the workload left behind: they are
    // part of the workload, and must not run on once it is reported dead.
    if (group_) ::kill(-pid_, SIGKILL);
  } else if (r < 0 && errno == ECHILD) {
    exit_code_ = 255;  // reaped elsewhere; nothing left to wait for
  }
  return exit_code_;
}

void ReapOrphansIfInit(pid_t keep) {
  if (::getpid() != 1) return;
  for (int i = 0; i < 1024; ++i) {
    siginfo_t info{};
    // Peek first (WNOWAIT) so the workload's own status is left for TryReap().
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    if (info.si_pid == keep) return;  // the workload exited: the caller reaps it next
    int st = 0;
    ::waitpid(info.si_pid, &st, WNOHANG);
  }
}

bool WaitForExit(pid_t pid, int timeout_ms) {
  int fd = PidfdOpen(pid);
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  ::close(fd);
  return r > 0;
}

}  // namespace nsg::io
