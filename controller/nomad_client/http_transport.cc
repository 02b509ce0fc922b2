// The only translation unit of nsg_nomad_http that includes cpprest.
#include "controller/nomad_client/http_transport.h"

#include <cpprest/http_client.h>
#include <pplx/threadpool.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>

#include "controller/nomad_client/unix_socket_transport.h"

namespace nsg::io {

namespace http = web::http;
namespace client = web::http::client;

namespace {

constexpr size_t kMaxClients = 8;
constexpr size_t kReadBlock = 64 * 1024;
// cpprest cannot disable its inactivity timeout (0 fails at once); a year is "never".
constexpr Duration kNever = std::chrono::hours(24 * 365);
// After cancelling, how long to wait for cpprest to finish the task before giving up on it.
constexpr auto kCancelGrace = std::chrono::seconds(5);

std::string ErrorText(const std::exception& e) {
  std::string text = e.what();
  if (auto* he = dynamic_cast<const http::http_exception*>(&e)) {
    int code = he->error_code().value();
    // TLS failures carry raw OpenSSL codes in a generic category (cpp-libs.md §9).
    if (code > 0xFFFF) {
      char buf[256];
      ERR_error_string_n(static_cast<unsigned long>(code), buf, sizeof buf);
      text += std::string(" (") + buf + ")";
    } else if (code == 110) {
      text += " (timed out)";
    }
  }
  return text;
}

Status NotSent(const std::exception& e) {
  return Status::InvalidSpec(std::string("cannot build the HTTP request: ") + e.what());
}

}  // namespace

struct CpprestTransport::Impl {
  std::string base_uri;  // scheme://host:port
  bool https = false;
  TlsConfig tls;

  std::mutex mu;
  std::map<int64_t, std::shared_ptr<client::http_client>> clients;  // guarded by mu

  std::shared_ptr<client::http_client> Client(Duration inactivity) {
    int64_t key = std::chrono::duration_cast<std::chrono::milliseconds>(inactivity).count();
    std::lock_guard lock(mu);
    auto it = clients.find(key);
    if (it != clients.end()) return it->second;
    if (clients.size() >= kMaxClients) clients.erase(clients.begin());  // in-flight calls keep theirs
    client::http_client_config cfg;
    // Redirects are never followed: cpprest would re-send X-Nomad-Token to whatever origin the
    // Location names. A 3xx is returned as it is and refused by the caller (status_map.h).
    cfg.set_max_redirects(0);
    cfg.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(
        std::max<Duration>(std::chrono::milliseconds(key), std::chrono::milliseconds(1))));
    if (https) {
      cfg.set_validate_certificates(!tls.skip_verify);
      TlsConfig t = tls;
      cfg.set_ssl_context_callback([t](boost::asio::ssl::context& ctx) {
        if (!t.ca_cert.empty() || !t.ca_path.empty()) {
          // Trust only the given CAs, as the Nomad CLI does (cpprest loaded the system store).
          SSL_CTX_set_cert_store(ctx.native_handle(), X509_STORE_new());
          if (!t.ca_cert.empty()) ctx.load_verify_file(t.ca_cert);
          if (!t.ca_path.empty()) ctx.add_verify_path(t.ca_path);
        }
        if (!t.client_cert.empty()) {
          ctx.use_certificate_chain_file(t.client_cert);
          ctx.use_private_key_file(t.client_key, boost::asio::ssl::context::pem);
        }
      });
    }
    auto c = std::make_shared<client::http_client>(base_uri, cfg);
    clients.emplace(key, c);
    return c;
  }

  http::http_request Build(const HttpRequest& request) const {
    http::http_request req(request.method);
    req.set_request_uri(web::uri(RequestTarget(request)));
    for (const auto& [name, value] : request.headers.fields()) {
      if (!IsValidHeaderValue(name) || !IsValidHeaderValue(value)) {
        throw std::invalid_argument("a header contains CR, LF or NUL");
      }
      req.headers().add(name, value);
    }
    // The certificate is verified against the Host header's name, and SNI carries it
    // (cpp-libs.md §9); it must not include the port.
    if (https && !tls.server_name.empty()) req.headers().add("Host", tls.server_name);
    if (!request.body.empty()) {
      // The byte-vector overload: set_body(std::string) reads a container_buffer<std::string>
      // through streambuf<uint8_t>, a type pun UBSan reports (vptr check) inside cpprest.
      req.headers().set_content_type("application/json");
      req.set_body(std::vector<unsigned char>(request.body.begin(), request.body.end()));
    }
    return req;
  }
};

namespace {

// Completion of a cpprest task, awaited with a deadline by the calling thread.
template <typename T>
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::optional<T> value;
  std::string error;

  void Finish(pplx::task<T> t) {
    std::optional<T> v;
    std::string err;
    try {
      v = t.get();
    } catch (const std::exception& e) {
      err = ErrorText(e);
    } catch (...) {
      err = "unknown error";
    }
    std::lock_guard lock(mu);
    value = std::move(v);
    error = std::move(err);
    done = true;
    cv.notify_all();
  }

  void Wake() {
    std::lock_guard lock(mu);
    cv.notify_all();
  }

  // Waits until done, `deadline` or a stop request. Returns true when done.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline, const std::stop_token& cancel) {
    std::unique_lock lock(mu);
    return cv.wait_until(lock, deadline, [&] { return done || cancel.stop_requested(); }) &&
           done;
  }

  void WaitAfterCancel() {
    std::unique_lock lock(mu);
    cv.wait_for(lock, kCancelGrace, [&] { return done; });
  }
};

// A body over the cap; the message is the Status message after "<what>: ".
struct ResponseTooLargeError : std::runtime_error {
  explicit ResponseTooLargeError(size_t cap) : std::runtime_error(ResponseTooLarge(cap)) {}
};

// Reads a response body block by block into `body`, failing with ResponseTooLargeError as soon
// as it would exceed `cap` (extract_vector() would read any size). cpprest keeps reading the
// socket into its own buffer meanwhile; the caller cancels the request on failure, which closes
// the connection.
struct CappedBodyReader : std::enable_shared_from_this<CappedBodyReader> {
  CappedBodyReader(concurrency::streams::streambuf<uint8_t> source, size_t cap_bytes)
      : sb(std::move(source)), cap(cap_bytes), block(kReadBlock) {}

  pplx::task<void> Next() {
    auto self = shared_from_this();
    return sb.getn(block.data(), block.size()).then([self](size_t got) -> pplx::task<void> {
      if (got == 0) return pplx::task_from_result();
      if (self->body.size() + got > self->cap) throw ResponseTooLargeError(self->cap);
      self->body.append(reinterpret_cast<const char*>(self->block.data()), got);
      return self->Next();
    });
  }

  concurrency::streams::streambuf<uint8_t> sb;
  const size_t cap;
  std::vector<uint8_t> block;
  std::string body;
};

std::chrono::steady_clock::time_point DeadlineAfter(Duration d) {
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::min(d, kNever));
}

Headers ToHeaders(const http::http_headers& in) {
  Headers out;
  for (const auto& [name, value] : in) out.Add(name, value);
  return out;
}

}  // namespace

CpprestTransport::CpprestTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CpprestTransport::~CpprestTransport() = default;

Result<std::unique_ptr<CpprestTransport>> CpprestTransport::Create(const ClientConfig& config) {
  if (config.scheme() == AddressScheme::kUnix) {
    return Status::InvalidSpec("CpprestTransport cannot use a unix:// address");
  }
  auto impl = std::make_unique<Impl>();
  impl->base_uri = config.endpoint();
  impl->https = config.scheme() == AddressScheme::kHttps;
  impl->tls = config.tls;
  try {
    web::uri check(impl->base_uri);
  } catch (const std::exception& e) {
    return Status::InvalidSpec("Nomad address \"" + impl->base_uri + "\": " + e.what());
  }
  return std::unique_ptr<CpprestTransport>(new CpprestTransport(std::move(impl)));
}

Result<HttpResponse> CpprestTransport::RoundTrip(const HttpRequest& request,
                                                 const CallOptions& options) {
  const std::string what = request.method + " " + request.path;
  if (options.cancel.stop_requested()) return Status::Cancelled(what + ": cancelled");
  http::http_request req;
  try {
    req = impl_->Build(request);
  } catch (const std::exception& e) {
    return NotSent(e);
  }
  auto deadline = DeadlineAfter(options.timeout);
  auto client = impl_->Client(std::min(options.timeout, kNever));
  pplx::cancellation_token_source cts;
  auto waiter = std::make_shared<Waiter<HttpResponse>>();
  const size_t cap = options.max_response_bytes;
  client->request(req, cts.get_token())
      .then([cap](http::http_response resp) {
        // The response task completes with the headers: a declared length over the cap fails
        // before any of the body is read.
        const auto declared = resp.headers().content_length();
        if (declared > cap) throw ResponseTooLargeError(cap);
        auto reader = std::make_shared<CappedBodyReader>(resp.body().streambuf(), cap);
        return reader->Next().then([resp, reader] {
          HttpResponse out;
          out.status = resp.status_code();
          out.headers = ToHeaders(resp.headers());
          out.body = std::move(reader->body);
          return out;
        });
      })
      .then([waiter](pplx::task<HttpResponse> t) { waiter->Finish(std::move(t)); });
  std::stop_callback on_stop(options.cancel, [&] {
    cts.cancel();
    waiter->Wake();
  });
  if (!waiter->WaitUntil(deadline, options.cancel)) {
    cts.cancel();
    waiter->WaitAfterCancel();
    if (options.cancel.stop_requested()) return Status::Cancelled(what + ": cancelled");
    return Status::Unavailable(what + ": deadline of " + base::FormatDuration(options.timeout) +
                               " exceeded");
  }
  if (options.cancel.stop_requested()) return Status::Cancelled(what + ": cancelled");
  if (!waiter->value) {
    cts.cancel();  // stop cpprest reading the rest of a refused body
    return Status::Unavailable(what + ": " + waiter->error);
  }
  return std::move(*waiter->value);
}

Status CpprestTransport::Stream(const HttpRequest& request, const StreamOptions& options,
                                StreamHandler& handler) {
  const std::string what = request.method + " " + request.path;
  if (options.cancel.stop_requested()) return Status::Cancelled(what + ": cancelled");
  http::http_request req;
  try {
    req = impl_->Build(request);
  } catch (const std::exception& e) {
    return NotSent(e);
  }
  Duration inactivity = options.idle_timeout.count() > 0
                            ? std::max(options.idle_timeout, options.header_timeout)
                            : kNever;
  auto client = impl_->Client(inactivity);
  pplx::cancellation_token_source cts;
  auto waiter = std::make_shared<Waiter<http::http_response>>();
  client->request(req, cts.get_token()).then([waiter](pplx::task<http::http_response> t) {
    waiter->Finish(std::move(t));
  });
  std::stop_callback on_stop(options.cancel, [&] {
    cts.cancel();
    waiter->Wake();
  });
  if (!waiter->WaitUntil(DeadlineAfter(options.header_timeout), options.cancel)) {
    cts.cancel();
    waiter->WaitAfterCancel();
    if (options.cancel.stop_requested()) return Status::Cancelled(what + ": cancelled");
    return Status::Unavailable(what + ": no response headers within " +
                               base::FormatDuration(options.header_timeout));
  }
  if (!waiter->value) {
    if (options.cancel.stop_requested()) return Status::Cancelled(what + ": cancelled");
    return Status::Unavailable(what + ": " + waiter->error);
  }
  http::http_response resp = *waiter->value;
  if (!handler.OnHeaders(resp.status_code(), ToHeaders(resp.headers()))) {
    cts.cancel();
    return Status::Ok();
  }
  // The block reader of cpp-libs.md §3: drain what is buffered with one getn, block on a
  // one-byte peek only when nothing is.
  auto sb = resp.body().streambuf();
  std::string block(kReadBlock, '\0');
  try {
    for (;;) {
      if (options.cancel.stop_requested()) break;
      size_t avail = sb.in_avail();
      if (avail == 0) {
        if (sb.getc().get() == concurrency::streams::streambuf<uint8_t>::traits::eof()) break;
        continue;
      }
      size_t got = sb.getn(reinterpret_cast<uint8_t*>(block.data()), std::min(avail, block.size()))
                       .get();
      if (got == 0) continue;
      if (!handler.OnData(std::string_view(block.data(), got))) {
        cts.cancel();
        return Status::Ok();
      }
    }
  } catch (const std::exception& e) {
    if (options.cancel.stop_requested()) return Status::Cancelled(what + ": cancelled");
    return Status::Unavailable(what + ": " + ErrorText(e));
  }
  if (options.cancel.stop_requested()) {
    cts.cancel();
    return Status::Cancelled(what + ": cancelled");
  }
  return Status::Ok();
}

namespace {

// RoundTrip through cpprest (pooled keep-alive connections), Stream through Asio.
class SplitTransport final : public Transport {
 public:
  SplitTransport(std::unique_ptr<Transport> calls, std::unique_ptr<Transport> streams)
      : calls_(std::move(calls)), streams_(std::move(streams)) {}
  Result<HttpResponse> RoundTrip(const HttpRequest& request, const CallOptions& options) override {
    return calls_->RoundTrip(request, options);
  }
  Status Stream(const HttpRequest& request, const StreamOptions& options,
                StreamHandler& handler) override {
    return streams_->Stream(request, options, handler);
  }

 private:
  std::unique_ptr<Transport> calls_;
  std::unique_ptr<Transport> streams_;
};

}  // namespace

bool SetHttpThreadPoolSize(size_t threads) {
  try {
    crossplat::threadpool::initialize_with_threads(threads);
    return true;
  } catch (const std::exception&) {
    return false;  // already initialized
  }
}

Result<std::unique_ptr<Transport>> MakeTransport(const ClientConfig& config) {
  auto asio = AsioTransport::Create(config);
  if (!asio.ok()) return asio.status();
  if (config.scheme() == AddressScheme::kUnix) {
    return std::unique_ptr<Transport>(std::move(*asio));
  }
  auto rest = CpprestTransport::Create(config);
  if (!rest.ok()) return rest.status();
  return std::unique_ptr<Transport>(
      std::make_unique<SplitTransport>(std::move(*rest), std::move(*asio)));
}

}  // namespace nsg::io
