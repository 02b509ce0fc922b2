// CpprestTransport: Transport over cpprestsdk's http_client, for http:// and https:// Nomad
// addresses; and MakeTransport(), which picks the transports for a ClientConfig.
//
// cpprest is hidden behind a pimpl: only http_transport.cc includes its headers (each such
// translation unit costs ~9 s to compile, cpp-libs.md §2).
//
// How the cpprest pitfalls are handled (cpp-libs.md §3, §9):
//   * Its timeout is an inactivity timeout. Each RoundTrip enforces CallOptions::timeout as a
//     total deadline itself (waits with a deadline, then cancels through the
//     cancellation_token), and sets the inactivity timeout to the same value. One http_client is
//     kept per distinct timeout (normal calls and blocking queries differ), at most 8.
//   * TLS: CA file/dir replace the system store (as the Nomad CLI does), client certificate and
//     key for mTLS, the server name through the Host header (no port), skip_verify through
//     set_validate_certificates(false).
//   * Cancellation: a stop request cancels the cpprest token; the call returns kCancelled.
//   * cpprest re-sends a request once by itself when a pooled keep-alive connection turns out
//     closed by the server. Our retry policy (http_nomad_api.h) cannot see or prevent that.
//   * Stream() works live for chunked bodies only: a close-delimited body (Nomad ≥ 1.11.2 event
//     streams) arrives per 64 KiB or at close. MakeTransport therefore routes streams to
//     AsioTransport (unix_socket_transport.h).
//
// Safe for concurrent use.
#pragma once

#include <memory>

#include "controller/nomad_client/client_config.h"
#include "controller/nomad_client/transport.h"

namespace nsg::io {

class CpprestTransport final : public Transport {
 public:
  // `config` must have passed Validate() and have an http:// or https:// address.
  static Result<std::unique_ptr<CpprestTransport>> Create(const ClientConfig& config);
  ~CpprestTransport() override;

  Result<HttpResponse> RoundTrip(const HttpRequest& request, const CallOptions& options) override;
  Status Stream(const HttpRequest& request, const StreamOptions& options,
                StreamHandler& handler) override;

  struct Impl;

 private:
  explicit CpprestTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The Transport for `config` (which must have passed Validate()):
//   unix://           AsioTransport for everything;
//   http://, https:// CpprestTransport for RoundTrip, AsioTransport for Stream.
Result<std::unique_ptr<Transport>> MakeTransport(const ClientConfig& config);

// Sizes cpprest's process-wide thread pool, which otherwise starts 40 threads on first use. For a
// process that makes a few requests at a time (the lock agent, in every allocation: issue 17).
// Call before the first request; false (and no change) when the pool already exists.
bool SetHttpThreadPoolSize(size_t threads);

}  // namespace nsg::io
