#include "controller/io/status_server.h"

#include <CivetServer.h>
#include <civetweb.h>

#include <exception>
#include <utility>
#include <vector>

namespace nsg::io {

namespace {

class Handler final : public CivetHandler {
 public:
  explicit Handler(std::function<HttpReply()> fn) : fn_(std::move(fn)) {}
  bool handleGet(CivetServer* /*server*/, mg_connection* conn) override {
    HttpReply r;
    try {
      r = fn_();
    } catch (const std::exception& e) {
      r = {500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n"};
    }
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n",
              r.code, mg_get_response_code_text(conn, r.code), r.content_type.c_str(),
              r.body.size());
    mg_write(conn, r.body.data(), r.body.size());
    return true;
  }

 private:
  std::function<HttpReply()> fn_;
};

}  // namespace

struct StatusServer::Impl {
  std::vector<std::unique_ptr<Handler>> handlers;  // outlive the server (declared first)
  std::unique_ptr<CivetServer> server;
};

base::Result<std::unique_ptr<StatusServer>> StatusServer::Start(const std::string& address,
                                                                HttpHandlers handlers) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return base::Status::InvalidSpec("--http-addr must be HOST:PORT, got \"" + address + "\"");
  }
  const std::string host = address.substr(0, colon);
  std::unique_ptr<StatusServer> s(new StatusServer());
  s->impl_ = std::make_unique<Impl>();
  std::vector<std::string> options = {"listening_ports", address, "num_threads", "2"};
  try {
    s->impl_->server = std::make_unique<CivetServer>(options);
  } catch (const std::exception& e) {
    return base::Status::Unavailable("cannot listen on " + address + ": " + e.what());
  }
  for (auto& [path, fn] : handlers) {
    s->impl_->handlers.push_back(std::make_unique<Handler>(std::move(fn)));
    s->impl_->server->addHandler(path, s->impl_->handlers.back().get());
  }
  const std::vector<int> ports = s->impl_->server->getListeningPorts();
  if (ports.empty()) return base::Status::Unavailable("cannot listen on " + address);
  s->bound_ = host + ":" + std::to_string(ports[0]);
  return s;
}

StatusServer::~StatusServer() {
  if (impl_ && impl_->server) impl_->server->close();
}

}  // namespace nsg::io
