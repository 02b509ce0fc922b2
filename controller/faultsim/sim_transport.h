// In-process plumbing between the fault simulation's actors and the simulated Nomad (sim::Router),
// all on one thread under the SimCore's virtual time.
//
//   * SimTransport: an io::Transport for io::HttpNomadApi — the same client code the controller
//     uses in production. RoundTrip submits the request to the router after a one-way latency and
//     then runs the simulation forward, one timer at a time (SimCore::RunNext), until the reply has
//     travelled back or the call's timeout passes (kUnavailable). Other actors keep running while
//     a call is in flight, as they would on other hosts. The caller's own actor must not be
//     re-entered meanwhile: the world marks it busy.
//   * AsyncCall: the asynchronous form for the lock agents' state machines, whose requests never
//     block the loop: the callback runs once, with the response or with kUnavailable at timeout.
//   * SimClock / SimSleeper: base::Clock and io::Sleeper on virtual time (the sleeper runs the
//     simulation forward like RoundTrip).
// A request whose Endpoint is unreachable (a partitioned node or controller, a crashed client's
// Task API) is never answered: the caller times out, as over a real cut.
//
// Borrows the SimCore and Router; not synchronized (the simulation is single-threaded).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "controller/base/clock.h"
#include "controller/nomad_client/retry.h"
#include "controller/nomad_client/transport.h"
#include "controller/sim/router.h"
#include "controller/sim/sim_core.h"

namespace nsg::faultsim {

using base::Duration;
using base::TimePoint;

// Where a request comes from: decides reachability and latency at send time.
struct Endpoint {
  std::function<bool()> reachable;    // null: always
  std::function<Duration()> latency;  // one-way; null: 0
};

sim::Request ToSimRequest(const io::HttpRequest& r);
io::HttpResponse FromSimReply(const sim::Reply& r);

// Sends `req` and calls `done` exactly once: with the reply, or kUnavailable after `timeout`.
// `observe` (optional) sees every request as it leaves (invariant checks).
void AsyncCall(sim::SimCore& core, sim::Router& router, const Endpoint& from, io::HttpRequest req,
               Duration timeout, std::function<void(base::Result<io::HttpResponse>)> done);

class SimTransport final : public io::Transport {
 public:
  // `observe` sees each request as it is sent, and whether a pause delayed it (below).
  SimTransport(sim::SimCore& core, sim::Router& router, Endpoint from,
               std::function<void(const io::HttpRequest&, bool paused)> observe = nullptr)
      : core_(core), router_(router), from_(std::move(from)), observe_(std::move(observe)) {}

  // The caller's process is frozen until the instant this returns (a SIGSTOP): a request about to
  // be sent waits for it, so a pause can fall between a reconcile's read and its write.
  void SetPausedUntil(std::function<TimePoint()> paused_until) {
    paused_until_ = std::move(paused_until);
  }

  base::Result<io::HttpResponse> RoundTrip(const io::HttpRequest& request,
                                           const io::CallOptions& options) override;
  // Event streams are not sent through here: the world subscribes with Router::SubmitStream.
  base::Status Stream(const io::HttpRequest& request, const io::StreamOptions& options,
                      io::StreamHandler& handler) override;

 private:
  sim::SimCore& core_;
  sim::Router& router_;
  const Endpoint from_;
  const std::function<void(const io::HttpRequest&, bool paused)> observe_;
  std::function<TimePoint()> paused_until_;
};

class SimClock final : public base::Clock {
 public:
  explicit SimClock(sim::SimCore& core) : core_(core) {}
  TimePoint Now() const override { return core_.Now(); }

 private:
  sim::SimCore& core_;
};

class SimSleeper final : public io::Sleeper {
 public:
  explicit SimSleeper(sim::SimCore& core) : core_(core) {}
  bool SleepFor(Duration d, std::stop_token cancel) override;

 private:
  sim::SimCore& core_;
};

// Runs the simulation until `until` passes or `done()` is true (checked after every timer).
void RunUntil(sim::SimCore& core, TimePoint until, const std::function<bool()>& done);

}  // namespace nsg::faultsim
