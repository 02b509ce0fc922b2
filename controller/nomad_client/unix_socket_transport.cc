#include "controller/nomad_client/unix_socket_transport.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <optional>

#include "controller/nomad_client/http_wire.h"

namespace nsg::io {

namespace asio = boost::asio;
using boost::system::error_code;
using SteadyTime = std::chrono::steady_clock::time_point;

namespace {

constexpr size_t kReadBuffer = 64 * 1024;

SteadyTime DeadlineAfter(Duration d) {
  if (d.count() <= 0) return SteadyTime::max();
  auto now = std::chrono::steady_clock::now();
  if (d > std::chrono::hours(24 * 365)) return SteadyTime::max();
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

std::string SslErrorText(const error_code& ec) {
  if (ec.category() == asio::error::get_ssl_category()) {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
    return buf;
  }
  return ec.message();
}

}  // namespace

struct AsioTransport::Impl {
  AddressScheme scheme = AddressScheme::kHttp;
  std::string unix_path;
  std::string host;      // for TCP: host name or IP (IPv6 without brackets)
  std::string port;      // for TCP
  std::string host_header;
  std::string verify_name;  // TLS: name checked against the certificate and sent as SNI
  std::optional<asio::ssl::context> tls;  // https only

  std::string Describe() const {
    return scheme == AddressScheme::kUnix ? "unix socket " + unix_path : host_header;
  }
};

namespace {

// One connection, used by one thread for one exchange. Every operation runs the private
// io_context until it completes or its deadline passes; a stop request posts a close.
class Conn {
 public:
  Conn(const AsioTransport::Impl& target, std::stop_token cancel)
      : target_(target),
        unix_(ioc_),
        tcp_(ioc_),
        stop_cb_(std::move(cancel), [this] {
          cancelled_ = true;
          asio::post(ioc_, [this] { CloseAll(); });
        }) {}

  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  ~Conn() { CloseAll(); }

  bool cancelled() const { return cancelled_; }

  Status Connect(SteadyTime deadline) {
    if (cancelled_) return Cancelled();
    error_code ec;
    if (target_.scheme == AddressScheme::kUnix) {
      asio::local::stream_protocol::endpoint ep;
      try {
        ep = asio::local::stream_protocol::endpoint(target_.unix_path);
      } catch (const std::exception&) {
        return Status::Unavailable(target_.Describe() + ": path too long");
      }
      ec = Run([&](auto done) { unix_.async_connect(ep, [done](error_code e) { done(e, 0); }); },
               deadline);
      return Check(ec, "connect");
    }
    asio::ip::tcp::resolver resolver(ioc_);
    asio::ip::tcp::resolver::results_type endpoints;
    ec = Run(
        [&](auto done) {
          resolver.async_resolve(target_.host, target_.port,
                                 [done, &endpoints](error_code e, auto results) {
                                   endpoints = results;
                                   done(e, 0);
                                 });
        },
        deadline, [&] { resolver.cancel(); });
    if (Status s = Check(ec, "resolve"); !s.ok()) return s;
    ec = Run(
        [&](auto done) {
          asio::async_connect(tcp_, endpoints, [done](error_code e, const auto&) { done(e, 0); });
        },
        deadline);
    if (Status s = Check(ec, "connect"); !s.ok()) return s;
    tcp_.set_option(asio::ip::tcp::no_delay(true), ec);
    if (!target_.tls) return Status::Ok();

    ssl_.emplace(std::move(tcp_), const_cast<asio::ssl::context&>(*target_.tls));
    SSL* ssl = ssl_->native_handle();
    // SNI and the name the certificate must carry.
    asio::ip::make_address(target_.verify_name, ec);  // ec set: a host name, not an IP
    if (ec) {
      SSL_set_tlsext_host_name(ssl, target_.verify_name.c_str());
    }
    if (SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      int ok = ec ? X509_VERIFY_PARAM_set1_host(param, target_.verify_name.c_str(), 0)
                  : X509_VERIFY_PARAM_set1_ip_asc(param, target_.verify_name.c_str());
      if (ok != 1) return Status::Internal("cannot set the TLS verification name");
    }
    ec = Run(
        [&](auto done) {
          ssl_->async_handshake(asio::ssl::stream_base::client,
                                [done](error_code e) { done(e, 0); });
        },
        deadline);
    if (ec && !cancelled_ && ec != asio::error::operation_aborted) {
      long verify = SSL_get_verify_result(ssl);
      std::string why = SslErrorText(ec);
      if (verify != X509_V_OK) {
        why += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
      }
      return Status::Unavailable(target_.Describe() + ": TLS handshake failed: " + why);
    }
    return Check(ec, "TLS handshake");
  }

  Status WriteAll(std::string_view data, SteadyTime deadline) {
    error_code ec = Run(
        [&](auto done) {
          auto handler = [done](error_code e, size_t n) { done(e, n); };
          if (ssl_) {
            asio::async_write(*ssl_, asio::buffer(data.data(), data.size()), handler);
          } else if (target_.scheme == AddressScheme::kUnix) {
            asio::async_write(unix_, asio::buffer(data.data(), data.size()), handler);
          } else {
            asio::async_write(tcp_, asio::buffer(data.data(), data.size()), handler);
          }
        },
        deadline);
    return Check(ec, "send");
  }

  // Bytes read, or 0 at EOF.
  Result<size_t> ReadSome(char* buf, size_t size, SteadyTime deadline, bool* timed_out) {
    size_t got = 0;
    error_code ec = Run(
        [&](auto done) {
          auto handler = [done, &got](error_code e, size_t n) {
            got = n;
            done(e, n);
          };
          if (ssl_) {
            ssl_->async_read_some(asio::buffer(buf, size), handler);
          } else if (target_.scheme == AddressScheme::kUnix) {
            unix_.async_read_some(asio::buffer(buf, size), handler);
          } else {
            tcp_.async_read_some(asio::buffer(buf, size), handler);
          }
        },
        deadline);
    if (timed_out != nullptr) *timed_out = timed_out_;
    if (ec == asio::error::eof || (ssl_ && ec == asio::ssl::error::stream_truncated)) {
      return size_t{0};
    }
    if (Status s = Check(ec, "receive"); !s.ok()) return s;
    return got;
  }

 private:
  Status Cancelled() const { return Status::Cancelled(target_.Describe() + ": cancelled"); }

  Status Check(const error_code& ec, const char* step) {
    if (cancelled_) return Cancelled();
    if (timed_out_) {
      return Status::Unavailable(target_.Describe() + ": " + step + ": deadline exceeded");
    }
    if (ec) return Status::Unavailable(target_.Describe() + ": " + step + ": " + SslErrorText(ec));
    return Status::Ok();
  }

  void CloseAll() {
    error_code ec;
    if (unix_.is_open()) unix_.close(ec);
    if (tcp_.is_open()) tcp_.close(ec);
    if (ssl_ && ssl_->lowest_layer().is_open()) ssl_->lowest_layer().close(ec);
  }

  // Starts one async operation through `start(done)` and runs the io_context until it completes.
  // At the deadline the socket is closed (and `on_timeout` run) so the operation completes with
  // an error; timed_out_ records why.
  template <typename Start, typename OnTimeout = void (*)()>
  error_code Run(Start&& start, SteadyTime deadline, OnTimeout on_timeout = [] {}) {
    timed_out_ = false;
    bool done = false;
    error_code result;
    start([&done, &result](error_code e, size_t) {
      done = true;
      result = e;
    });
    ioc_.restart();
    while (!done) {
      if (deadline == SteadyTime::max()) {
        ioc_.run_one();
        continue;
      }
      if (ioc_.run_one_until(deadline) == 0 && !done &&
          std::chrono::steady_clock::now() >= deadline) {
        timed_out_ = true;
        on_timeout();
        CloseAll();
        ioc_.restart();
        while (!done) ioc_.run_one();
      }
    }
    return result;
  }

  const AsioTransport::Impl& target_;
  asio::io_context ioc_;
  asio::local::stream_protocol::socket unix_;
  asio::ip::tcp::socket tcp_;
  std::optional<asio::ssl::stream<asio::ip::tcp::socket>> ssl_;
  bool timed_out_ = false;
  std::atomic<bool> cancelled_{false};
  std::stop_callback<std::function<void()>> stop_cb_;  // last: may fire during construction
};

// Opens a connection and sends the request.
Status Open(Conn& conn, const AsioTransport::Impl& target, const HttpRequest& request,
            SteadyTime deadline) {
  if (Status s = conn.Connect(deadline); !s.ok()) return s;
  Result<std::string> wire = SerializeRequest(request, target.host_header, true);
  if (!wire.ok()) return wire.status();
  return conn.WriteAll(*wire, deadline);
}

}  // namespace

AsioTransport::AsioTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AsioTransport::~AsioTransport() = default;

std::unique_ptr<AsioTransport> AsioTransport::ForUnixSocket(std::string socket_path) {
  auto impl = std::make_unique<Impl>();
  impl->scheme = AddressScheme::kUnix;
  impl->unix_path = std::move(socket_path);
  // Go's server requires a Host header; the Go client sends the socket's dummy host.
  impl->host_header = "localhost";
  return std::unique_ptr<AsioTransport>(new AsioTransport(std::move(impl)));
}

Result<std::unique_ptr<AsioTransport>> AsioTransport::Create(const ClientConfig& config) {
  if (config.scheme() == AddressScheme::kUnix) return ForUnixSocket(config.endpoint());
  auto impl = std::make_unique<Impl>();
  impl->scheme = config.scheme();
  std::string ep = config.endpoint();  // scheme://host[:port]
  std::string hostport = ep.substr(ep.find("://") + 3);
  impl->host_header = hostport;
  std::string host = hostport;
  std::string port = impl->scheme == AddressScheme::kHttps ? "443" : "80";
  size_t bracket = hostport.rfind(']');
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  impl->host = host;
  impl->port = port;
  if (impl->scheme == AddressScheme::kHttps) {
    const TlsConfig& tls = config.tls;
    impl->verify_name = tls.server_name.empty() ? host : tls.server_name;
    try {
      impl->tls.emplace(asio::ssl::context::tls_client);
      asio::ssl::context& ctx = *impl->tls;
      if (!tls.ca_cert.empty() || !tls.ca_path.empty()) {
        if (!tls.ca_cert.empty()) ctx.load_verify_file(tls.ca_cert);
        if (!tls.ca_path.empty()) ctx.add_verify_path(tls.ca_path);
      } else {
        ctx.set_default_verify_paths();
      }
      if (!tls.client_cert.empty()) {
        ctx.use_certificate_chain_file(tls.client_cert);
        ctx.use_private_key_file(tls.client_key, asio::ssl::context::pem);
      }
      ctx.set_verify_mode(tls.skip_verify ? asio::ssl::verify_none : asio::ssl::verify_peer);
    } catch (const boost::system::system_error& e) {
      return Status::InvalidSpec("cannot load the TLS files: " + SslErrorText(e.code()));
    }
  }
  return std::unique_ptr<AsioTransport>(new AsioTransport(std::move(impl)));
}

Result<HttpResponse> AsioTransport::RoundTrip(const HttpRequest& request,
                                              const CallOptions& options) {
  SteadyTime deadline = DeadlineAfter(options.timeout);
  Conn conn(*impl_, options.cancel);
  if (Status s = Open(conn, *impl_, request, deadline); !s.ok()) return s;
  HttpResponseParser parser(request.method == "HEAD");
  HttpResponse response;
  bool too_big = false;
  const size_t cap = options.max_response_bytes;
  auto on_body = [&](std::string_view part) {
    if ((parser.framing() == HttpResponseParser::Framing::kLength &&
         parser.content_length() > cap) ||
        response.body.size() + part.size() > cap) {
      too_big = true;
      return false;
    }
    response.body.append(part);
    return true;
  };
  std::string buf(kReadBuffer, '\0');
  while (!parser.done()) {
    Result<size_t> got = conn.ReadSome(buf.data(), buf.size(), deadline, nullptr);
    if (!got.ok()) return got.status();
    if (*got == 0) {
      if (Status s = parser.FinishEof(); !s.ok()) {
        return Status::Unavailable(impl_->Describe() + ": " + s.message());
      }
      break;
    }
    if (Status s = parser.Feed(std::string_view(buf.data(), *got), on_body); !s.ok()) {
      return Status::Unavailable(impl_->Describe() + ": " + s.message());
    }
    if (too_big) return Status::Unavailable(impl_->Describe() + ": " + ResponseTooLarge(cap));
  }
  response.status = parser.status();
  response.headers = parser.headers();
  return response;
}

Status AsioTransport::Stream(const HttpRequest& request, const StreamOptions& options,
                             StreamHandler& handler) {
  SteadyTime header_deadline = DeadlineAfter(options.header_timeout);
  Conn conn(*impl_, options.cancel);
  if (Status s = Open(conn, *impl_, request, header_deadline); !s.ok()) return s;
  HttpResponseParser parser(request.method == "HEAD");
  bool reported = false;
  bool stop = false;
  auto report = [&] {
    if (reported) return;
    reported = true;
    if (!handler.OnHeaders(parser.status(), parser.headers())) stop = true;
  };
  auto on_body = [&](std::string_view part) {
    report();
    if (stop) return false;
    if (!handler.OnData(part)) stop = true;
    return !stop;
  };
  std::string buf(kReadBuffer, '\0');
  while (!parser.done() && !stop) {
    SteadyTime deadline =
        parser.headers_done() ? DeadlineAfter(options.idle_timeout) : header_deadline;
    bool timed_out = false;
    Result<size_t> got = conn.ReadSome(buf.data(), buf.size(), deadline, &timed_out);
    if (!got.ok()) {
      if (timed_out && !conn.cancelled()) {
        return Status::Unavailable(
            impl_->Describe() +
            (parser.headers_done()
                 ? ": no data for " + base::FormatDuration(options.idle_timeout)
                 : ": no response headers within " + base::FormatDuration(options.header_timeout)));
      }
      return got.status();
    }
    if (*got == 0) {
      if (Status s = parser.FinishEof(); !s.ok()) {
        return Status::Unavailable(impl_->Describe() + ": " + s.message());
      }
      break;
    }
    if (Status s = parser.Feed(std::string_view(buf.data(), *got), on_body); !s.ok()) {
      return Status::Unavailable(impl_->Describe() + ": " + s.message());
    }
    if (parser.headers_done()) report();
  }
  if (parser.headers_done()) report();
  return Status::Ok();
}

}  // namespace nsg::io
