#include "controller/sim/process_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <map>
#include <utility>

namespace nsg::sim {

namespace {

// mkdir -p; returns false on failure.
bool MakeDirs(const std::string& path) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

std::string Dirname(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

struct ProcessDriver::State {
  struct Proc {
    pid_t pid = 0;
    int pidfd = -1;
    std::string alloc_id, task;
  };
  std::map<pid_t, Proc> procs;

  void Forget(pid_t pid) {
    auto it = procs.find(pid);
    if (it == procs.end()) return;
    if (it->second.pidfd >= 0) ::close(it->second.pidfd);
    procs.erase(it);
  }
  static void KillGroup(pid_t pid) {
    if (pid > 0) ::kill(-pid, SIGKILL);
  }
};

namespace {

class ProcessProgram final : public TaskProgram {
 public:
  ProcessProgram(std::shared_ptr<ProcessDriver::State> state, ProcessDriverOptions opts,
                 TaskSpec spec)
      : state_(std::move(state)), opts_(std::move(opts)), spec_(std::move(spec)) {}
  ~ProcessProgram() override {
    if (pid_ > 0) Kill();
  }

  std::string Start(TaskContext& ctx) override {
    nlohmann::json cfg = nlohmann::json::parse(spec_.task.config, nullptr, false);
    if (!cfg.is_object() || !cfg.contains("command") || !cfg["command"].is_string()) {
      return "missing command in task config";
    }
    std::vector<std::string> argv = {cfg["command"].get<std::string>()};
    if (auto it = cfg.find("args"); it != cfg.end() && it->is_array()) {
      for (const auto& a : *it) argv.push_back(a.is_string() ? a.get<std::string>() : a.dump());
    }
    const std::string task_root = Dirname(spec_.task_dir);
    const std::string logs = spec_.alloc_dir + "/logs";
    for (const std::string& d : {spec_.alloc_dir, logs, spec_.task_dir, spec_.secrets_dir,
                                 task_root + "/tmp"}) {
      if (!MakeDirs(d)) return "failed to create " + d + ": " + std::strerror(errno);
    }
    std::vector<std::string> env;
    bool has_path = false;
    for (const auto& [k, v] : spec_.env) {
      env.push_back(k + "=" + v);
      has_path = has_path || k == "PATH";
    }
    if (!has_path) env.push_back("PATH=" + opts_.default_path);
    std::vector<char*> cargv, cenv;
    for (auto& s : argv) cargv.push_back(s.data());
    cargv.push_back(nullptr);
    for (auto& s : env) cenv.push_back(s.data());
    cenv.push_back(nullptr);
    const std::string out = logs + "/" + spec_.task.name + ".stdout.0";
    const std::string err = logs + "/" + spec_.task.name + ".stderr.0";

    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) return std::string("pipe: ") + std::strerror(errno);
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(pipefd[0]);
      ::close(pipefd[1]);
      return std::string("fork: ") + std::strerror(errno);
    }
    if (pid == 0) {
      // Child: own process group, task directory, logs, exact environment. Only async-signal-safe
      // calls from here on.
      ::setpgid(0, 0);
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      int n = ::open("/dev/null", O_RDONLY);
      if (o >= 0) ::dup2(o, 1);
      if (e >= 0) ::dup2(e, 2);
      if (n >= 0) ::dup2(n, 0);
      if (::chdir(task_root.c_str()) != 0) {
        int code = errno;
        ssize_t w = ::write(pipefd[1], &code, sizeof code);
        (void)w;
        ::_exit(127);
      }
      ::execvpe(cargv[0], cargv.data(), cenv.data());
      int code = errno;
      ssize_t w = ::write(pipefd[1], &code, sizeof code);
      (void)w;
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also in the parent: no race with an early Signal()
    ::close(pipefd[1]);
    int child_errno = 0;
    ssize_t got = ::read(pipefd[0], &child_errno, sizeof child_errno);
    ::close(pipefd[0]);
    if (got == static_cast<ssize_t>(sizeof child_errno)) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      return "failed to start \"" + argv[0] + "\": " + std::strerror(child_errno);
    }
    pid_ = pid;
    ctx_ = &ctx;
    ProcessDriver::State::Proc p;
    p.pid = pid;
    p.pidfd = PidfdOpen(pid);
    p.alloc_id = spec_.alloc_id;
    p.task = spec_.task.name;
    state_->procs[pid] = p;
    SchedulePoll();
    return "";
  }

  void Signal(int signal) override {
    if (pid_ > 0) ::kill(-pid_, signal);
  }

  void Kill() override {
    if (pid_ <= 0) return;
    ProcessDriver::State::KillGroup(pid_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    state_->Forget(pid_);
    pid_ = 0;
    ctx_ = nullptr;
  }

  std::string Describe() const override {
    return "raw_exec pid " + std::to_string(pid_);
  }

 private:
  void SchedulePoll() {
    ctx_->After(opts_.poll_interval, "process poll", [this] { Poll(); });
  }
  void Poll() {
    if (pid_ <= 0 || ctx_ == nullptr) return;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) {
      SchedulePoll();
      return;
    }
    int code = 0, sig = 0;
    if (r == pid_ && WIFEXITED(status)) {
      code = WEXITSTATUS(status);
    } else if (r == pid_ && WIFSIGNALED(status)) {
      sig = WTERMSIG(status);
      code = 128 + sig;
    } else {
      code = 255;  // lost track of the child (waitpid error)
    }
    // The task is over: nothing of its process group may outlive it.
    ProcessDriver::State::KillGroup(pid_);
    state_->Forget(pid_);
    pid_ = 0;
    TaskContext* ctx = ctx_;
    ctx_ = nullptr;
    ctx->Exit(code, sig);  // may destroy this program later, never during this call
  }

  std::shared_ptr<ProcessDriver::State> state_;
  const ProcessDriverOptions opts_;
  const TaskSpec spec_;
  pid_t pid_ = 0;
  TaskContext* ctx_ = nullptr;
};

}  // namespace

ProcessDriver::ProcessDriver(ProcessDriverOptions opts)
    : opts_(std::move(opts)), state_(std::make_shared<State>()) {}

ProcessDriver::~ProcessDriver() {
  for (auto& [pid, p] : state_->procs) {
    State::KillGroup(pid);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (p.pidfd >= 0) ::close(p.pidfd);
  }
  state_->procs.clear();
}

void ProcessDriver::RegisterWith(ProgramRegistry& registry,
                                 const std::vector<std::string>& drivers) {
  for (const std::string& d : drivers) {
    registry.Register(d, [this](const TaskSpec& spec) { return Create(spec); });
  }
}

std::unique_ptr<TaskProgram> ProcessDriver::Create(const TaskSpec& spec) {
  return std::make_unique<ProcessProgram>(state_, opts_, spec);
}

bool ProcessDriver::WaitForActivity(std::chrono::milliseconds timeout) {
  if (state_->procs.empty()) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    // Exited but not yet reaped?
    std::vector<pollfd> fds;
    for (const auto& [pid, p] : state_->procs) {
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        return true;
      }
      if (p.pidfd >= 0) fds.push_back({p.pidfd, POLLIN, 0});
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    // Block on the pidfds; without pidfd support fall back to short waits.
    const int64_t ms = fds.size() == state_->procs.size() ? left.count()
                                                          : std::min<int64_t>(left.count(), 10);
    const int wait_ms = static_cast<int>(ms);
    int n = ::poll(fds.data(), fds.size(), wait_ms);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

std::optional<pid_t> ProcessDriver::PidOf(const std::string& alloc_id,
                                          const std::string& task) const {
  for (const auto& [pid, p] : state_->procs) {
    if (p.alloc_id == alloc_id && p.task == task) return pid;
  }
  return std::nullopt;
}

size_t ProcessDriver::RunningCount() const { return state_->procs.size(); }

}  // namespace nsg::sim
