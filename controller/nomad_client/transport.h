// Transport: the port through which the Nomad client sends HTTP requests.
//
// A Transport turns an HttpRequest into bytes on some connection (TCP, TLS, the Task API Unix
// socket, or an in-memory fake in tests) and reports what came back. It knows nothing about
// Nomad: status codes are returned as numbers, never mapped (status_map.h maps them), and nothing
// is retried here (HttpNomadApi and EventStreamReader decide that).
//
// Implementations: CpprestTransport (http_transport.h; http:// and https://),
// UnixSocketTransport (unix_socket_transport.h; unix://), and fakes in tests. MakeTransport()
// picks one from a ClientConfig.
//
// Errors of both calls: kUnavailable for anything on the wire (connect refused, TLS handshake,
// reset, malformed response, deadline or idle timeout), kCancelled when the caller's stop_token
// was triggered, kInvalidSpec for a request that cannot be sent (bad header bytes). Messages
// never contain header values, so a token can never leak through them.
//
// Implementations are safe for concurrent use: several threads may call RoundTrip and Stream on
// one Transport at once.
#pragma once

#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/base/duration.h"
#include "controller/base/status.h"

namespace nsg::io {

using base::Duration;
using base::Result;
using base::Status;

// HTTP header fields in wire order. Lookups compare names case-insensitively (Go canonicalizes
// "X-Nomad-KnownLeader" to "X-Nomad-Knownleader" on the wire; nomad-api.md §1.5).
class Headers {
 public:
  void Add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field named `name` by one with `value`.
  void Set(std::string name, std::string value);
  // The first value of `name`, or nullptr when absent.
  const std::string* Find(std::string_view name) const;
  // The first value of `name`, or "" when absent.
  std::string Get(std::string_view name) const;
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

struct HttpRequest {
  std::string method = "GET";
  // The path, already percent-encoded where needed (see EscapePathSegment), e.g. "/v1/job/web".
  std::string path;
  // Query parameters in order; a key may repeat (topic=...&topic=...). Values are raw: the
  // transport encodes them. An empty value is sent as "key" alone (Nomad's "?lock-acquire").
  std::vector<std::pair<std::string, std::string>> query;
  Headers headers;
  std::string body;  // sent with Content-Type: application/json when non-empty
};

struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

// The default cap on a RoundTrip's response body (CallOptions::max_response_bytes).
inline constexpr size_t kDefaultMaxResponseBytes = 64 * 1024 * 1024;

// Options of one RoundTrip.
struct CallOptions {
  // Total deadline for the whole exchange: connect, TLS, send, headers and the full body. Not an
  // inactivity timeout. Must be > 0.
  Duration timeout = std::chrono::seconds(30);
  std::stop_token cancel;  // stop requested → the call ends with kCancelled promptly
  // A body larger than this fails the call with kUnavailable ResponseTooLarge(): at once when the
  // Content-Length says so, else as soon as this many bytes have arrived; the rest is not read
  // (the connection is closed), so a hostile or broken server cannot make the caller allocate
  // more than about this much.
  size_t max_response_bytes = kDefaultMaxResponseBytes;
};

// Options of one Stream.
struct StreamOptions {
  // Deadline for connect, TLS, send and the response headers.
  Duration header_timeout = std::chrono::seconds(30);
  // The body fails with kUnavailable when no byte arrives for this long; 0 = no limit (the
  // caller keeps its own watchdog and cancels through `cancel`).
  Duration idle_timeout{0};
  std::stop_token cancel;
};

// Receives a streamed response. Called on the thread that called Stream(), in order: OnHeaders
// once, then OnData zero or more times with de-framed body bytes (chunked framing removed; a
// chunk boundary may fall anywhere, even inside a line). Returning false ends the stream early.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  virtual bool OnHeaders(int status, const Headers& headers) = 0;
  virtual bool OnData(std::string_view bytes) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends `request` and returns the complete response, whatever its status code.
  virtual Result<HttpResponse> RoundTrip(const HttpRequest& request,
                                         const CallOptions& options) = 0;

  // Sends `request` and hands the response to `handler` as it arrives. Returns when the body has
  // ended (OK: final chunk, Content-Length reached, or the server closed a close-delimited
  // body), when the handler returned false (OK), on an error (kUnavailable) or on cancellation
  // (kCancelled).
  virtual Status Stream(const HttpRequest& request, const StreamOptions& options,
                        StreamHandler& handler) = 0;
};

// "response larger than N bytes", the message (after "<what>: ") of a capped RoundTrip.
std::string ResponseTooLarge(size_t max_response_bytes);

// "/path?k=v&k2" with query values percent-encoded (RFC 3986 unreserved characters kept).
std::string RequestTarget(const HttpRequest& request);
// Percent-encodes everything except RFC 3986 unreserved characters.
std::string PercentEncode(std::string_view s);
// A single path segment (a job ID, a policy name): as PercentEncode.
inline std::string EscapePathSegment(std::string_view s) { return PercentEncode(s); }
// A variable path: every segment percent-encoded, the '/' separators kept.
std::string EscapePath(std::string_view path);
// True if `s` may be sent as a header value (no CR, LF or NUL).
bool IsValidHeaderValue(std::string_view s);

}  // namespace nsg::io
