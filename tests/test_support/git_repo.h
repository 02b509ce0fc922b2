// Git fixtures for the git source's tests: GitTestRepo (a bare "remote" repository and a work
// clone that commits and pushes to it, through the git binary), GitDaemon (a loopback
// `git daemon` on 127.0.0.1 port 0: the test accepts each connection itself and hands it to
// `git daemon --inetd`, so the port is the kernel's pick and known before anything connects) and
// GitHttpServer (git's smart HTTP protocol on 127.0.0.1 port 0 through `git http-backend` as a
// CGI, behind HTTP basic auth with one password, as a git host checks a token).
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
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
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

// Accepts connections on 127.0.0.1 and hands each to `on_connection` on its own thread, until
// Stop() (or the destructor), which closes the socket: connections are refused from then on.
class LoopbackAcceptor {
 public:
  explicit LoopbackAcceptor(std::function<void(int fd)> on_connection)
      : on_connection_(std::move(on_connection)) {}
  ~LoopbackAcceptor() { Stop(); }
  LoopbackAcceptor(const LoopbackAcceptor&) = delete;
  LoopbackAcceptor& operator=(const LoopbackAcceptor&) = delete;

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
    thread_ = std::thread([this] { Serve(); });
    return true;
  }
  void Stop() {
    if (listen_fd_ < 0) return;
    [[maybe_unused]] ssize_t n = ::write(wake_[1], "x", 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
    listen_fd_ = -1;
  }
  int port() const { return port_; }

 private:
  void Serve() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) continue;
      if (fds[1].revents != 0) return;
      const int conn = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      on_connection_(conn);
      ::close(conn);
    }
  }

  const std::function<void(int fd)> on_connection_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
};

class GitDaemon {
 public:
  // Serves the repositories under `base` as git://127.0.0.1:<port>/<name>.
  explicit GitDaemon(std::filesystem::path base)
      : base_path_("--base-path=" + base.string()), acceptor_([this](int fd) { Spawn(fd); }) {}
  ~GitDaemon() { Stop(); }
  GitDaemon(const GitDaemon&) = delete;
  GitDaemon& operator=(const GitDaemon&) = delete;

  // Listens on 127.0.0.1:`port` (0: a free one). Returns false when the port cannot be bound.
  bool Start(int port = 0) { return acceptor_.Start(port); }

  // Closes the listening socket (connections are refused from now on) and waits for the
  // daemons serving earlier connections.
  void Stop() {
    acceptor_.Stop();
    for (pid_t pid : children_) ::waitpid(pid, nullptr, 0);
    children_.clear();
  }

  int port() const { return acceptor_.port(); }
  std::string Url(const std::string& repo) const {
    return "git://127.0.0.1:" + std::to_string(port()) + "/" + repo;
  }
  int connections() const { return connections_.load(); }

 private:
  // `git daemon --inetd` on the connection (argv built before fork: the child only redirects
  // and execs).
  void Spawn(int conn) {
    ++connections_;
    std::vector<const char*> argv = {"/usr/bin/git", "daemon", "--inetd", "--export-all",
                                     "--informative-errors", base_path_.c_str(), nullptr};
    const char* envp[] = {"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
                          "PATH=/usr/bin:/bin", nullptr};
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(conn, 0);
      ::dup2(conn, 1);
      ::execve(argv[0], const_cast<char* const*>(argv.data()), const_cast<char* const*>(envp));
      ::_exit(127);
    }
    if (pid > 0) children_.push_back(pid);
    // Reap the finished ones as we go.
    std::erase_if(children_, [](pid_t c) { return ::waitpid(c, nullptr, WNOHANG) == c; });
  }

  const std::string base_path_;
  std::vector<pid_t> children_;  // owned by the accept thread until Stop() joins it
  std::atomic<int> connections_{0};
  LoopbackAcceptor acceptor_;  // last: its thread stops before the members above go
};

// Serves the repositories under `base` as http://127.0.0.1:<port>/<name> with `git http-backend`,
// one connection at a time (each reply closes it), to requests whose Authorization is Basic
// `user`:`password`; others get 401 with a Basic challenge.
class GitHttpServer {
 public:
  GitHttpServer(std::filesystem::path base, std::string user, std::string password)
      : base_(std::move(base)),
        want_auth_("Basic " + Base64(user + ":" + password)),
        acceptor_([this](int fd) { Handle(fd); }) {
    if (!acceptor_.Start()) throw std::runtime_error("GitHttpServer: cannot listen");
  }
  GitHttpServer(const GitHttpServer&) = delete;
  GitHttpServer& operator=(const GitHttpServer&) = delete;

  std::string Url(const std::string& repo) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.port()) + "/" + repo;
  }
  int requests() const { return requests_.load(); }
  int refused() const { return refused_.load(); }

 private:
  static std::string Base64(const std::string& in) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (size_t i = 0; i < in.size(); i += 3) {
      uint32_t v = static_cast<uint8_t>(in[i]) << 16;
      if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
      if (i + 2 < in.size()) v |= static_cast<uint8_t>(in[i + 2]);
      out.push_back(kAlphabet[(v >> 18) & 63]);
      out.push_back(kAlphabet[(v >> 12) & 63]);
      out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
      out.push_back(i + 2 < in.size() ? kAlphabet[v & 63] : '=');
    }
    return out;
  }

  // Appends what one read(2) returns to `buf`; false on EOF or an error.
  static bool ReadMore(int fd, std::string& buf) {
    char chunk[65536];
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  }

  void Handle(int conn) {
    std::string buf;
    size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadMore(conn, buf)) return;
    }
    const std::string head = buf.substr(0, head_end + 2);
    std::string body = buf.substr(head_end + 4);
    auto header = [&](const std::string& name) {
      std::string lower_head = head;
      for (char& c : lower_head) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      const size_t at = lower_head.find("\r\n" + name + ":");
      if (at == std::string::npos) return std::string();
      size_t from = at + 3 + name.size();
      while (from < head.size() && head[from] == ' ') ++from;
      return head.substr(from, head.find("\r\n", from) - from);
    };
    const std::string request_line = head.substr(0, head.find("\r\n"));
    const std::string method = request_line.substr(0, request_line.find(' '));
    const size_t target_at = method.size() + 1;
    const std::string target =
        request_line.substr(target_at, request_line.find(' ', target_at) - target_at);
    if (header("transfer-encoding") == "chunked") {
      std::string decoded;
      size_t at = 0;
      for (;;) {
        size_t eol;
        while ((eol = body.find("\r\n", at)) == std::string::npos) {
          if (!ReadMore(conn, body)) return;
        }
        const size_t size = std::stoul(body.substr(at, eol - at), nullptr, 16);
        while (body.size() < eol + 2 + size + 2) {
          if (!ReadMore(conn, body)) return;
        }
        decoded += body.substr(eol + 2, size);
        at = eol + 2 + size + 2;
        if (size == 0) break;
      }
      body = std::move(decoded);
    } else if (const std::string cl = header("content-length"); !cl.empty()) {
      while (body.size() < std::stoul(cl)) {
        if (!ReadMore(conn, body)) return;
      }
    }
    ++requests_;
    std::string reply;
    if (header("authorization") != want_auth_) {
      ++refused_;
      reply = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n";
    } else {
      reply = Cgi(method, target, header("content-type"), body);
    }
    [[maybe_unused]] ssize_t n = ::write(conn, reply.data(), reply.size());
  }

  // Runs `git http-backend` for one request; the HTTP reply.
  std::string Cgi(const std::string& method, const std::string& target,
                  const std::string& content_type, const std::string& body) {
    const size_t q = target.find('?');
    const std::string env_strings[] = {
        "GIT_PROJECT_ROOT=" + base_.string(),
        "GIT_HTTP_EXPORT_ALL=1",
        "GIT_CONFIG_NOSYSTEM=1",
        "GIT_CONFIG_GLOBAL=/dev/null",
        "REQUEST_METHOD=" + method,
        "PATH_INFO=" + target.substr(0, q),
        "QUERY_STRING=" + (q == std::string::npos ? "" : target.substr(q + 1)),
        "CONTENT_TYPE=" + content_type,
        "CONTENT_LENGTH=" + std::to_string(body.size()),
        "REMOTE_ADDR=127.0.0.1",
        "PATH=/usr/bin:/bin"};
    std::vector<const char*> envp;
    for (const auto& e : env_strings) envp.push_back(e.c_str());
    envp.push_back(nullptr);
    const char* argv[] = {"/usr/bin/git", "http-backend", nullptr};
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return "";
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::execve(argv[0], const_cast<char* const*>(argv), const_cast<char* const*>(envp.data()));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    // The requests are small (ref advertisements, want/have lines): the body fits in the pipe.
    [[maybe_unused]] ssize_t n = ::write(in[1], body.data(), body.size());
    ::close(in[1]);
    std::string cgi;
    while (ReadMore(out[0], cgi)) {
    }
    ::close(out[0]);
    ::waitpid(pid, nullptr, 0);
    const size_t split = cgi.find("\r\n\r\n");
    if (split == std::string::npos) return "HTTP/1.1 500 Error\r\nContent-Length: 0\r\n\r\n";
    std::string headers = cgi.substr(0, split + 2);
    const std::string payload = cgi.substr(split + 4);
    std::string status = "200 OK";
    if (headers.rfind("Status: ", 0) == 0) {
      const size_t eol = headers.find("\r\n");
      status = headers.substr(8, eol - 8);
      headers = headers.substr(eol + 2);
    }
    return "HTTP/1.1 " + status + "\r\n" + headers + "Content-Length: " +
           std::to_string(payload.size()) + "\r\nConnection: close\r\n\r\n" + payload;
  }

  const std::filesystem::path base_;
  const std::string want_auth_;
  std::atomic<int> requests_{0};
  std::atomic<int> refused_{0};
  LoopbackAcceptor acceptor_;  // last: its thread stops before the members above go
};

}  // namespace nsg::test_support
