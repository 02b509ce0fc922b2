#include "controller/controller_io/status_server.h"

#include <CivetServer.h>
#include <civetweb.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace nsg::io {

namespace {

constexpr char kText[] = "text/plain; charset=utf-8";

// Compares without an early exit, so the time taken does not tell how much of a guess was right
// (it does tell the length, which is not the secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(static_cast<unsigned char>(a[i]) ^
                                       static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

void Reply(mg_connection* conn, const HttpReply& r) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
            "Connection: close\r\n\r\n",
            r.code, mg_get_response_code_text(conn, r.code), r.content_type.c_str(),
            r.body.size(), r.code == 401 ? "WWW-Authenticate: Bearer\r\n" : "");
  mg_write(conn, r.body.data(), r.body.size());
}

template <typename Fn, typename... Args>
HttpReply Call(const Fn& fn, const Args&... args) {
  try {
    return fn(args...);
  } catch (const std::exception& e) {
    return {500, kText, std::string("internal error: ") + e.what() + "\n"};
  }
}

const HttpReply kNotAllowed{405, kText, "method not allowed\n"};

class Handler final : public CivetHandler {
 public:
  // `bearer_token` empty: the path is open. Either function may be empty: that method is 405.
  Handler(std::function<HttpReply()> fn, std::function<std::string()> bearer_token,
          std::function<HttpReply(const HttpServerRequest&)> post = nullptr,
          size_t max_body_bytes = 0)
      : fn_(std::move(fn)),
        bearer_token_(std::move(bearer_token)),
        post_(std::move(post)),
        max_body_bytes_(max_body_bytes) {}

  bool handleGet(CivetServer* /*server*/, mg_connection* conn) override {
    if (!fn_) {
      Reply(conn, kNotAllowed);
    } else if (std::optional<HttpReply> refused = Authorize(conn)) {
      Reply(conn, *refused);
    } else {
      Reply(conn, Call(fn_));
    }
    return true;
  }

  bool handlePost(CivetServer* /*server*/, mg_connection* conn) override {
    if (!post_) {
      Reply(conn, kNotAllowed);
      return true;
    }
    const mg_request_info* info = mg_get_request_info(conn);
    if (info->content_length < 0) {
      Reply(conn, {411, kText, "a Content-Length is required\n"});
      return true;
    }
    if (static_cast<unsigned long long>(info->content_length) > max_body_bytes_) {
      Reply(conn, {413, kText, "the body is larger than " + std::to_string(max_body_bytes_) +
                                   " bytes\n"});
      return true;
    }
    HttpServerRequest req;
    for (int i = 0; i < info->num_headers; ++i) {
      std::string name = info->http_headers[i].name != nullptr ? info->http_headers[i].name : "";
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      req.headers[name] = info->http_headers[i].value != nullptr ? info->http_headers[i].value : "";
    }
    req.body.resize(static_cast<size_t>(info->content_length));
    size_t got = 0;
    while (got < req.body.size()) {
      const int n = mg_read(conn, req.body.data() + got, req.body.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got < req.body.size()) {
      Reply(conn, {400, kText, "the body is shorter than its Content-Length\n"});
      return true;
    }
    Reply(conn, Call(post_, req));
    return true;
  }

 private:
  // nullopt when the request may be served.
  std::optional<HttpReply> Authorize(mg_connection* conn) const {
    if (!bearer_token_) return std::nullopt;
    const std::string want = bearer_token_();
    if (want.empty()) {
      return HttpReply{503, kText, "the status token cannot be read; see the controller's log\n"};
    }
    const char* header = mg_get_header(conn, "Authorization");
    constexpr std::string_view kScheme = "Bearer ";
    std::string_view got = header != nullptr ? header : "";
    if (got.substr(0, kScheme.size()) != kScheme ||
        !ConstantTimeEquals(got.substr(kScheme.size()), want)) {
      return HttpReply{401, kText, "a bearer token is required (--http-token-file)\n"};
    }
    return std::nullopt;
  }

  std::function<HttpReply()> fn_;
  std::function<std::string()> bearer_token_;
  std::function<HttpReply(const HttpServerRequest&)> post_;
  size_t max_body_bytes_;
};

}  // namespace

struct StatusServer::Impl {
  std::vector<std::unique_ptr<Handler>> handlers;  // outlive the server (declared first)
  std::unique_ptr<CivetServer> server;
};

base::Result<std::unique_ptr<StatusServer>> StatusServer::Start(const std::string& address,
                                                                HttpHandlers handlers,
                                                                StatusServerOptions options) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return base::Status::InvalidSpec("--http-addr must be HOST:PORT, got \"" + address + "\"");
  }
  const std::string host = address.substr(0, colon);
  std::unique_ptr<StatusServer> s(new StatusServer());
  s->impl_ = std::make_unique<Impl>();
  // request_timeout_ms bounds the whole request head (civetweb measures from the connection's
  // accept, not per read), so a slowloris client cannot hold a thread longer than that.
  const std::vector<std::string> civet_options = {
      "listening_ports", address,
      "num_threads", std::to_string(std::max(1, options.threads)),
      "request_timeout_ms", std::to_string(options.request_timeout.count()),
      "enable_keep_alive", "no"};
  try {
    s->impl_->server = std::make_unique<CivetServer>(civet_options);
  } catch (const std::exception& e) {
    return base::Status::Unavailable("cannot listen on " + address + ": " + e.what());
  }
  for (auto& [path, fn] : handlers) {
    if (options.post_handlers.count(path) > 0) {
      return base::Status::InvalidSpec("http: " + path + " has a GET and a POST handler");
    }
    const bool guarded = options.bearer_token && options.protected_paths.count(path) > 0;
    s->impl_->handlers.push_back(std::make_unique<Handler>(
        std::move(fn), guarded ? options.bearer_token : nullptr));
    s->impl_->server->addHandler(path, s->impl_->handlers.back().get());
  }
  for (auto& [path, fn] : options.post_handlers) {
    s->impl_->handlers.push_back(std::make_unique<Handler>(nullptr, nullptr, std::move(fn),
                                                           options.max_body_bytes));
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
