// HttpFrontend: serves a simulated Nomad (a Router over its model) on a real HTTP port.
//
// It runs a cpprestsdk http_listener on 127.0.0.1 (port 0 picks a free port; Port() tells which)
// and a driver thread that maps wall time to virtual time — virtual = start + (wall - wall_start)
// × time_scale — by calling SimCore::AdvanceTo every `tick`. Every model access (request dispatch,
// the driver's AdvanceTo, WithModel) holds one mutex. Handlers never block: a request is handed to
// Router::Submit with a completion callback that replies (cpp-libs.md §4), so parked blocking
// queries cost no thread. Event streams are streamed from a producer_consumer_buffer with sync()
// after every line; a stream whose client went away is cancelled within one tick.
//
// Framing gap (nomad-api.md §4.2): cpprest's listener cannot hijack a connection, so it cannot
// send a close-delimited body: the bytes always go out with Transfer-Encoding: chunked and no
// "Connection: close" header. What a client can observe of the 1.11.2+ hijack does follow the
// version profile (SimCore::Options::version): from 1.11.2 the stream is submitted with
// StreamFraming::kCloseDelimited semantics, so "200 OK" is sent before the ACL check and an ACL
// failure is "200, then EOF"; before 1.11.2 it is a real 403.
//
// Ownership: borrows `core` and `router` (and, through the router, the whole model); they must
// outlive this object. Start/Stop/Port/WithModel are safe to call from any thread; Stop() is
// idempotent and also runs on destruction.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "controller/base/duration.h"
#include "controller/base/status.h"
#include "controller/sim/acl.h"
#include "controller/sim/cluster.h"
#include "controller/sim/programs.h"
#include "controller/sim/router.h"
#include "controller/sim/sim_core.h"
#include "controller/sim/variables.h"

namespace nsg::sim {

class HttpFrontend {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 0;  // 0: any free port
    // Virtual seconds per wall second (1 = real time; 10 = ten times faster).
    double time_scale = 1.0;
    // How often the driver thread moves virtual time.
    base::Duration tick = std::chrono::milliseconds(5);
  };

  HttpFrontend(SimCore& core, Router& router, Options opts);
  HttpFrontend(const HttpFrontend&) = delete;
  HttpFrontend& operator=(const HttpFrontend&) = delete;
  ~HttpFrontend();

  // Opens the listener and starts the driver. kUnavailable when the port cannot be bound.
  base::Status Start();
  // Answers pending requests with 503, closes streams, stops the listener and the driver.
  void Stop();
  // The bound port (0 before Start()).
  uint16_t Port() const;
  // "http://127.0.0.1:<port>".
  std::string Address() const;

  // Runs `fn` with the model mutex held (virtual time brought up to date first), for callers that
  // touch the model directly (tests, the `sim` command's setup).
  void WithModel(const std::function<void()>& fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SimServer: a whole simulated Nomad — SimCore, ACL, variables, the cluster (with workload
// identity tokens wired from the cluster to the ACL store), the router and the HTTP front end —
// as `nomad-singleton sim` and the HTTP conformance suite run it. Owns everything it builds.
// Touch the model only inside WithModel() once Start() has run.
class SimServer {
 public:
  struct Options {
    SimCore::Options core;
    AclState::Options acl;
    Variables::Options vars;
    ClusterOptions cluster;
    Router::Options router;
    HttpFrontend::Options http;
    int nodes = 0;  // ready nodes registered before the listener opens
  };

  explicit SimServer(Options opts, ProgramRegistry programs = ProgramRegistry::WithDefaults());
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;
  ~SimServer();

  base::Status Start();
  void Stop();
  uint16_t Port() const { return http_.Port(); }
  std::string Address() const { return http_.Address(); }
  void WithModel(const std::function<void()>& fn) { http_.WithModel(fn); }

  // The model; use only inside WithModel() while the server runs.
  SimCore& core() { return core_; }
  AclState& acl() { return acl_; }
  Variables& variables() { return vars_; }
  Cluster& cluster() { return cluster_; }
  Router& router() { return router_; }

 private:
  const Options opts_;
  const ProgramRegistry programs_;
  SimCore core_;
  AclState acl_;
  Variables vars_;
  Cluster cluster_;
  Router router_;
  HttpFrontend http_;
};

}  // namespace nsg::sim
