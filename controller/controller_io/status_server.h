// StatusServer: the controller's small HTTP server for /metrics, /healthz, /readyz and /status.
//
// A civetweb server (the library prometheus-cpp's Exposer is built on) bound to one address;
// port 0 picks a free port, which BoundAddress() reports. Each path is served by a handler that
// returns the whole reply; handlers run on the server's threads (Options::threads), so they must
// be safe for concurrent use. GET is answered on the paths of HttpHandlers, POST on those of
// StatusServerOptions::post_handlers (anything else: 405); every reply closes its connection. A
// POST body must come with a Content-Length (411 otherwise) of at most
// StatusServerOptions::max_body_bytes (413 otherwise, before any of it is read).
//
// Slow and idle clients: a connection that has not sent its complete request headers within
// Options::request_timeout is closed, and there are several threads, so a few idle or slowloris
// connections cannot keep /healthz from answering (each can hold a thread for at most that long).
//
// Paths in Options::protected_paths require "Authorization: Bearer <token>" with the token that
// Options::bearer_token returns at the time of the request (compared in constant time); a missing
// or wrong token gets 401. An empty token from bearer_token refuses every protected request
// (503): a configured but unreadable token file must not open the path.
//
// Ownership: owns the server; the handlers (and whatever they capture) must outlive it. Start and
// the destructor are not thread-safe with each other; BoundAddress is.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "controller/base/status.h"

namespace nsg::io {

struct HttpReply {
  int code = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// path (exact) → handler.
using HttpHandlers = std::map<std::string, std::function<HttpReply()>>;

struct HttpServerRequest {
  std::map<std::string, std::string> headers;  // names in lowercase
  std::string body;
};
// path (exact) → POST handler. Not behind protected_paths: such a path authenticates its
// requests itself (e.g. a signed webhook body).
using HttpPostHandlers =
    std::map<std::string, std::function<HttpReply(const HttpServerRequest&)>>;

struct StatusServerOptions {
  int threads = 8;
  // Total time a connection may take to send its request headers (also the idle limit of a
  // connection that sends nothing).
  std::chrono::milliseconds request_timeout{3000};
  std::set<std::string> protected_paths;
  // Returns the current bearer token ("" = it cannot be read: protected paths answer 503); an
  // empty function = none of protected_paths is protected.
  std::function<std::string()> bearer_token;
  HttpPostHandlers post_handlers;
  size_t max_body_bytes = 1024 * 1024;
};

class StatusServer {
 public:
  // Binds `address` ("host:port"; port 0 = any free port) and starts serving. kUnavailable when
  // the address cannot be bound, kInvalidSpec when it is not host:port.
  static base::Result<std::unique_ptr<StatusServer>> Start(const std::string& address,
                                                           HttpHandlers handlers,
                                                           StatusServerOptions options = {});
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // "host:port" with the port actually bound.
  const std::string& BoundAddress() const { return bound_; }

 private:
  struct Impl;
  StatusServer() = default;
  std::unique_ptr<Impl> impl_;
  std::string bound_;
};

}  // namespace nsg::io
