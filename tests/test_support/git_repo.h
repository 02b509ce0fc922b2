// Git fixtures for the git source's tests: GitTestRepo (a bare "remote" repository and a work
// clone that commits and pushes to it, through the git binary) and GitDaemon (a loopback
// `git daemon` on 127.0.0.1 port 0: the test accepts each connection itself and hands it to
// `git daemon --inetd`, so the port is the kernel's pick and known before anything connects).
//
// Header-only, test-only. The git commands run with no system or global configuration. GitDaemon
// owns its listening socket and accept thread; Stop() (or the destructor) closes the socket, so
// the remote refuses connections, and reaps the daemons it started.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace nsg::test_support {

// Runs `git <args>` (a shell word list; the paths of these tests have no spaces) and returns its
// standard output without the trailing newline; throws when git fails.
inline std::string RunGit(const std::string& args) {
  const std::string cmd =
      "env GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 git "
      "-c user.name=test -c user.email=test@example.com -c init.defaultBranch=main "
      "-c commit.gpgsign=false " +
      args + " 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen: " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  if (status != 0) throw std::runtime_error("git " + args + " failed:\n" + out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class GitTestRepo {
 public:
  // Creates <root>/remote.git (bare, default branch main) and <root>/work (its clone).
  explicit GitTestRepo(const std::filesystem::path& root)
      : bare_(root / "remote.git"), work_(root / "work") {
    RunGit("init -q --bare " + bare_.string());
    RunGit("init -q " + work_.string());
    RunGit("-C " + work_.string() + " remote add origin " + bare_.string());
  }

  void Write(const std::string& rel, const std::string& text) {
    const std::filesystem::path p = work_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::trunc) << text;
  }
  void Remove(const std::string& rel) { std::filesystem::remove(work_ / rel); }

  // Commits everything in the work tree and pushes it to the remote's main (forced when
  // `force`); returns the new commit.
  std::string CommitAndPush(const std::string& message, bool force = false) {
    RunGit("-C " + work_.string() + " add -A");
    RunGit("-C " + work_.string() + " commit -q --allow-empty -m '" + message + "'");
    RunGit("-C " + work_.string() + " push -q " + (force ? "--force " : "") +
           "origin HEAD:refs/heads/main");
    return Head();
  }
  // Moves the work tree back to `commit` (the next CommitAndPush with force rewrites history).
  void ResetTo(const std::string& commit) {
    RunGit("-C " + work_.string() + " reset -q --hard " + commit);
  }
  std::string Head() { return RunGit("-C " + work_.string() + " rev-parse HEAD"); }

  const std::filesystem::path& bare() const { return bare_; }

 private:
  std::filesystem::path bare_;
  std::filesystem::path work_;
};

class GitDaemon {
 public:
  // Serves the repositories under `base` as git://127.0.0.1:<port>/<name>.
  explicit GitDaemon(std::filesystem::path base) : base_(std::move(base)) {}
  ~GitDaemon() { Stop(); }
  GitDaemon(const GitDaemon&) = delete;
  GitDaemon& operator=(const GitDaemon&) = delete;

  // Listens on 127.0.0.1:`port` (0: a free one). Returns false when the port cannot be bound.
  bool Start(int port = 0) {
    Stop();
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) return false;
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        ::pipe2(wake_, O_CLOEXEC) != 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
      return false;
    }
    port_ = ntohs(addr.sin_port);
    git_ = RunGitPath();
    thread_ = std::thread([this] { Serve(); });
    return true;
  }

  // Closes the listening socket (connections are refused from now on) and waits for the
  // daemons serving earlier connections.
  void Stop() {
    if (listen_fd_ < 0) return;
    [[maybe_unused]] ssize_t n = ::write(wake_[1], "x", 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
    listen_fd_ = -1;
    for (pid_t pid : children_) ::waitpid(pid, nullptr, 0);
    children_.clear();
  }

  int port() const { return port_; }
  std::string Url(const std::string& repo) const {
    return "git://127.0.0.1:" + std::to_string(port_) + "/" + repo;
  }
  int connections() const { return connections_.load(); }

 private:
  static std::string RunGitPath() {
    for (const char* p : {"/usr/bin/git", "/usr/local/bin/git", "/bin/git"}) {
      if (::access(p, X_OK) == 0) return p;
    }
    return "git";
  }

  void Serve() {
    // argv built before fork: the child only redirects and execs.
    const std::string base_path = "--base-path=" + base_.string();
    std::vector<const char*> argv = {git_.c_str(), "daemon", "--inetd", "--export-all",
                                     "--informative-errors", base_path.c_str(), nullptr};
    const char* envp[] = {"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
                          "PATH=/usr/bin:/bin", nullptr};
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      const int conn = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      ++connections_;
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::dup2(conn, 0);
        ::dup2(conn, 1);
        ::execve(argv[0], const_cast<char* const*>(argv.data()), const_cast<char* const*>(envp));
        ::_exit(127);
      }
      ::close(conn);
      if (pid > 0) children_.push_back(pid);
      // Reap the finished ones as we go.
      std::erase_if(children_, [](pid_t c) { return ::waitpid(c, nullptr, WNOHANG) == c; });
    }
  }

  const std::filesystem::path base_;
  std::string git_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
  std::vector<pid_t> children_;  // owned by the accept thread until Stop() joins it
  std::atomic<int> connections_{0};
};

}  // namespace nsg::test_support
