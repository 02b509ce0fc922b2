// StatusServer: the controller's small HTTP server for /metrics, /healthz, /readyz and /status.
//
// A civetweb server (the library prometheus-cpp's Exposer is built on) bound to one address;
// port 0 picks a free port, which BoundAddress() reports. Each path is served by a handler that
// returns the whole reply; handlers run on the server's threads (two), so they must be safe for
// concurrent use. Only GET is answered.
//
// Ownership: owns the server; the handlers (and whatever they capture) must outlive it. Start and
// the destructor are not thread-safe with each other; BoundAddress is.
#pragma once

#include <functional>
#include <map>
#include <memory>
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

class StatusServer {
 public:
  // Binds `address` ("host:port"; port 0 = any free port) and starts serving. kUnavailable when
  // the address cannot be bound, kInvalidSpec when it is not host:port.
  static base::Result<std::unique_ptr<StatusServer>> Start(const std::string& address,
                                                           HttpHandlers handlers);
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
