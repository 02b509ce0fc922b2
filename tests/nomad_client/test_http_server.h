// TestHttpServer: a tiny scripted HTTP/1.1 server for transport tests, on 127.0.0.1 port 0 (TCP,
// optionally TLS/mTLS through OpenSSL) or on a Unix socket. Each connection gets its own thread;
// the test's handler writes raw response bytes, so every framing (Content-Length, chunked,
// close-delimited) and every fault (silence, early close) can be produced exactly.
//
// Also: a throwaway CA and certificates made with the `openssl` CLI (MakeTestPki).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace nsg::io::testing {

struct ServedRequest {
  std::string method;
  std::string target;  // path?query as sent
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string Header(std::string_view lower_name) const;
};

// One server-side connection. Write and Close may be called from the handler's thread only.
class TestConn {
 public:
  virtual ~TestConn() = default;
  virtual bool Write(std::string_view bytes) = 0;
  // Closes the connection (after the handler returns, nothing more is read).
  virtual void Close() = 0;
  // Blocks until the peer closes or resets the connection, or `timeout_ms` passes. True when it
  // closed.
  virtual bool WaitPeerClosed(int timeout_ms) = 0;
};

using Handler = std::function<void(const ServedRequest&, TestConn&)>;

struct TlsServerFiles {
  std::string cert;
  std::string key;
  std::string client_ca;  // non-empty: require a client certificate signed by this CA
};

class TestHttpServer {
 public:
  static std::unique_ptr<TestHttpServer> StartTcp(Handler handler,
                                                  std::optional<TlsServerFiles> tls = {});
  static std::unique_ptr<TestHttpServer> StartUnix(const std::string& path, Handler handler);
  ~TestHttpServer();

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" (or https://).
  std::string url() const;
  std::vector<ServedRequest> requests() const;
  int connections() const { return connections_.load(); }
  int tls_failures() const { return tls_failures_.load(); }

  struct Impl;

 private:
  TestHttpServer() = default;
  void AcceptLoop();
  void Serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  bool tls_ = false;
  std::string unix_path_;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> tls_failures_{0};
  mutable std::mutex mu_;
  std::vector<std::thread> workers_;     // guarded by mu_
  std::vector<int> open_fds_;            // guarded by mu_
  std::vector<ServedRequest> requests_;  // guarded by mu_
};

// A full response with Content-Length.
std::string HttpResponseBytes(int status, std::string_view body,
                              const std::vector<std::pair<std::string, std::string>>& headers = {},
                              std::string_view content_type = "application/json");
// One chunk of a chunked body ("" gives the final zero chunk).
std::string Chunk(std::string_view data);

// A throwaway PKI in `dir`, made with the openssl CLI: ca.pem/ca.key, a second unrelated
// other_ca.pem, server.pem/server.key (SAN DNS:server.global.nomad, DNS:localhost; no IP SAN),
// client.pem/client.key (CN cli.global.nomad, clientAuth), and cadir/ holding ca.pem under
// its hashed name (for NOMAD_CAPATH). Returns false (and a message) when the
// CLI fails.
bool MakeTestPki(const std::string& dir, std::string* error);

}  // namespace nsg::io::testing
