#include "tests/nomad_client/test_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace nsg::io::testing {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Conn final : public TestConn {
 public:
  Conn(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}
  ~Conn() override {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }

  bool Write(std::string_view bytes) override {
    while (!bytes.empty()) {
      long n = ssl_ != nullptr ? SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()))
                               : ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    if (ssl_ != nullptr) SSL_shutdown(ssl_);
    ::shutdown(fd_, SHUT_RDWR);
  }

  bool WaitPeerClosed(int timeout_ms) override {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
      long n = ssl_ != nullptr ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
    return false;
  }

  // Reads into `buf`; false at EOF or error.
  bool Read(std::string& buf) {
    char tmp[16384];
    long n = ssl_ != nullptr ? SSL_read(ssl_, tmp, sizeof tmp) : ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    return true;
  }

  bool closed() const { return closed_; }

 private:
  int fd_;
  SSL* ssl_;
  bool closed_ = false;
};

// Parses one request from `buf` (reading more as needed). False at EOF.
bool ReadRequest(Conn& conn, std::string& buf, ServedRequest& req) {
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!conn.Read(buf)) return false;
  }
  std::string head = buf.substr(0, end);
  buf.erase(0, end + 4);
  size_t eol = head.find("\r\n");
  std::string line = head.substr(0, eol);
  size_t sp1 = line.find(' ');
  size_t sp2 = line.rfind(' ');
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t pos = eol == std::string::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string h = head.substr(pos, e - pos);
    pos = e + 2;
    size_t colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string value = h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    req.headers.emplace_back(Lower(h.substr(0, colon)), value);
  }
  size_t length = 0;
  std::string cl = req.Header("content-length");
  if (!cl.empty()) length = std::stoul(cl);
  while (buf.size() < length) {
    if (!conn.Read(buf)) return false;
  }
  req.body = buf.substr(0, length);
  buf.erase(0, length);
  return true;
}

bool Run(const std::string& cmd, std::string* error) {
  std::string full = cmd + " >/dev/null 2>&1";
  if (std::system(full.c_str()) != 0) {
    if (error != nullptr) *error = "command failed: " + cmd;
    return false;
  }
  return true;
}

}  // namespace

std::string ServedRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return "";
}

std::unique_ptr<TestHttpServer> TestHttpServer::StartTcp(Handler handler,
                                                         std::optional<TlsServerFiles> tls) {
  // SSL_write on a connection the client has closed raises SIGPIPE; a test must see an error.
  ::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<TestHttpServer> s(new TestHttpServer());
  s->handler_ = std::move(handler);
  if (tls) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, tls->key.c_str(), SSL_FILETYPE_PEM) != 1) {
      SSL_CTX_free(ctx);
      return nullptr;
    }
    if (!tls->client_ca.empty()) {
      SSL_CTX_load_verify_locations(ctx, tls->client_ca.c_str(), nullptr);
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    s->ssl_ctx_ = ctx;
    s->tls_ = true;
  }
  s->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(s->listen_fd_, 64) != 0) {
    return nullptr;
  }
  socklen_t len = sizeof addr;
  ::getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  s->port_ = ntohs(addr.sin_port);
  if (::pipe(s->wake_pipe_) != 0) return nullptr;
  s->acceptor_ = std::thread([p = s.get()] { p->AcceptLoop(); });
  return s;
}

std::unique_ptr<TestHttpServer> TestHttpServer::StartUnix(const std::string& path,
                                                          Handler handler) {
  std::unique_ptr<TestHttpServer> s(new TestHttpServer());
  s->handler_ = std::move(handler);
  s->unix_path_ = path;
  ::unlink(path.c_str());
  s->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return nullptr;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(s->listen_fd_, 64) != 0) {
    return nullptr;
  }
  if (::pipe(s->wake_pipe_) != 0) return nullptr;
  s->acceptor_ = std::thread([p = s.get()] { p->AcceptLoop(); });
  return s;
}

TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  if (wake_pipe_[1] >= 0) {
    char c = 0;
    (void)!::write(wake_pipe_[1], &c, 1);
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
  if (ssl_ctx_ != nullptr) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
}

std::string TestHttpServer::url() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

std::vector<ServedRequest> TestHttpServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

void TestHttpServer::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) <= 0) continue;
    if (fds[1].revents != 0 || stopping_) break;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (unix_path_.empty()) {
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ++connections_;
    std::lock_guard lock(mu_);
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void TestHttpServer::Serve(int fd) {
  SSL* ssl = nullptr;
  if (ssl_ctx_ != nullptr) {
    ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
      ++tls_failures_;
      SSL_free(ssl);
      ssl = nullptr;
      std::lock_guard lock(mu_);
      std::erase(open_fds_, fd);
      ::close(fd);
      return;
    }
  }
  {
    Conn conn(fd, ssl);
    std::string buf;
    while (!stopping_ && !conn.closed()) {
      ServedRequest req;
      if (!ReadRequest(conn, buf, req)) break;
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      handler_(req, conn);
      if (Lower(req.Header("connection")) == "close") conn.Close();
    }
  }
  std::lock_guard lock(mu_);
  std::erase(open_fds_, fd);
  ::close(fd);
}

std::string HttpResponseBytes(int status, std::string_view body,
                              const std::vector<std::pair<std::string, std::string>>& headers,
                              std::string_view content_type) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  if (!body.empty() && !content_type.empty()) {
    out += "Content-Type: " + std::string(content_type) + "\r\n";
  }
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

std::string Chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

bool MakeTestPki(const std::string& dir, std::string* error) {
  const std::string d = dir + "/";
  {
    std::ofstream ext(d + "server.ext");
    ext << "subjectAltName=DNS:server.global.nomad,DNS:localhost\n"
           "extendedKeyUsage=serverAuth,clientAuth\n";
    std::ofstream cext(d + "client.ext");
    cext << "extendedKeyUsage=clientAuth\n";
  }
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  return Run("openssl req -x509" + ec + " -keyout " + d + "ca.key -out " + d +
                 "ca.pem -days 2 -subj /CN=nsg-test-ca",
             error) &&
         Run("openssl req -x509" + ec + " -keyout " + d + "other_ca.key -out " + d +
                 "other_ca.pem -days 2 -subj /CN=nsg-other-ca",
             error) &&
         Run("openssl req" + ec + " -keyout " + d + "server.key -out " + d +
                 "server.csr -subj /CN=server.global.nomad",
             error) &&
         Run("openssl x509 -req -in " + d + "server.csr -CA " + d + "ca.pem -CAkey " + d +
                 "ca.key -CAcreateserial -out " + d + "server.pem -days 2 -extfile " + d +
                 "server.ext",
             error) &&
         Run("openssl req" + ec + " -keyout " + d + "client.key -out " + d +
                 "client.csr -subj /CN=cli.global.nomad",
             error) &&
         Run("openssl x509 -req -in " + d + "client.csr -CA " + d + "ca.pem -CAkey " + d +
                 "ca.key -CAcreateserial -out " + d + "client.pem -days 2 -extfile " + d +
                 "client.ext",
             error) &&
         Run("mkdir -p " + d + "cadir && cp " + d + "ca.pem " + d + "cadir/ && openssl rehash " +
                 d + "cadir",
             error);
}

}  // namespace nsg::io::testing
