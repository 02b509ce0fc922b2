// AsioTransport: a small HTTP/1.1 client on Boost.Asio for the Unix-domain Task API socket
// (unix://, nomad-api.md §8.4) and for event streams over TCP and TLS.
//
// Why it exists next to CpprestTransport: cpprest reads a close-delimited body (no
// Content-Length, no chunked framing) with transfer_exactly(min(64 KiB, ...)), so the event
// stream of Nomad ≥ 1.11.2, which hijacks the connection and writes raw NDJSON (§4.2), would
// reach the reader only per 64 KiB or at close — heartbeats would never arrive live. This client
// hands every read to the caller at once, for all three framings, and reads only when the caller
// returns (real TCP backpressure; cpprest buffers without bound, cpp-libs.md P4). It cannot speak
// to a Unix socket through cpprest either.
//
// One connection per call with "Connection: close" (the Task API is local; streams are long-lived
// anyway); no pooling. Every step has a deadline on the host's monotonic clock; a stop request
// closes the socket at once. TLS: the CA file/dir replace the system store when given; the
// certificate is verified against tls.server_name when set, else the address host; SNI carries the
// same name; skip_verify turns verification off.
//
// Safe for concurrent use: every call has its own io_context and socket; the TLS context is
// read-only after construction.
#pragma once

#include <memory>
#include <string>

#include "controller/nomad_client/client_config.h"
#include "controller/nomad_client/transport.h"

namespace nsg::io {

class AsioTransport final : public Transport {
 public:
  // From a validated config (any scheme). kInvalidSpec when the TLS files cannot be loaded.
  static Result<std::unique_ptr<AsioTransport>> Create(const ClientConfig& config);
  // A unix:// transport for `socket_path` (tests, the lock agent).
  static std::unique_ptr<AsioTransport> ForUnixSocket(std::string socket_path);

  ~AsioTransport() override;

  Result<HttpResponse> RoundTrip(const HttpRequest& request, const CallOptions& options) override;
  Status Stream(const HttpRequest& request, const StreamOptions& options,
                StreamHandler& handler) override;

  struct Impl;

 private:
  explicit AsioTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;  // constant after construction
};

// The Task API transport is the unix:// instance of AsioTransport.
using UnixSocketTransport = AsioTransport;

}  // namespace nsg::io
