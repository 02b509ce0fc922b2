#include "controller/faultsim/sim_transport.h"

#include <cctype>
#include <utility>

namespace nsg::faultsim {

sim::Request ToSimRequest(const io::HttpRequest& r) {
  sim::Request out;
  out.method = r.method;
  out.path = r.path;  // HttpNomadApi escapes segments; the model's names never need escaping
  for (const auto& [k, v] : r.query) out.query.emplace(k, v);
  for (const auto& [name, value] : r.headers.fields()) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[lower] = value;
  }
  out.body = r.body;
  return out;
}

io::HttpResponse FromSimReply(const sim::Reply& r) {
  io::HttpResponse out;
  out.status = r.status;
  for (const auto& [k, v] : r.headers) out.headers.Add(k, v);
  if (!r.content_type.empty()) out.headers.Add("Content-Type", r.content_type);
  out.body = r.body;
  return out;
}

void RunUntil(sim::SimCore& core, TimePoint until, const std::function<bool()>& done) {
  while (!done()) {
    if (!core.RunNext(until)) {
      core.AdvanceTo(until);
      return;
    }
  }
}

namespace {

struct CallState {
  bool finished = false;
  std::function<void(base::Result<io::HttpResponse>)> done;
  uint64_t timeout_timer = 0;
};

}  // namespace

void AsyncCall(sim::SimCore& core, sim::Router& router, const Endpoint& from, io::HttpRequest req,
               Duration timeout, std::function<void(base::Result<io::HttpResponse>)> done) {
  auto st = std::make_shared<CallState>();
  st->done = std::move(done);
  const std::string what = req.method + " " + req.path;
  st->timeout_timer = core.After(timeout, "call-timeout", [st, what] {
    if (st->finished) return;
    st->finished = true;
    st->done(base::Status::Unavailable(what + ": timeout"));
  });
  if (from.reachable && !from.reachable()) return;  // never answered
  const Duration out = from.latency ? from.latency() : Duration(0);
  const Duration back = from.latency ? from.latency() : Duration(0);
  sim::Request sreq = ToSimRequest(req);
  core.After(out, "net-send", [&core, &router, st, back, sreq = std::move(sreq)]() mutable {
    router.Submit(std::move(sreq), [&core, st, back](sim::Reply reply) {
      core.After(back, "net-reply", [&core, st, reply = std::move(reply)] {
        if (st->finished) return;
        st->finished = true;
        core.Cancel(st->timeout_timer);
        st->done(FromSimReply(reply));
      });
    });
  });
}

base::Result<io::HttpResponse> SimTransport::RoundTrip(const io::HttpRequest& request,
                                                       const io::CallOptions& options) {
  if (options.cancel.stop_requested()) return base::Status::Cancelled("cancelled");
  bool paused = false;
  // A freeze that a fault extends while this waits (the loop) keeps the request back as well.
  for (TimePoint until; paused_until_ && (until = paused_until_()) > core_.Now();) {
    paused = true;
    RunUntil(core_, until, [] { return false; });
  }
  if (observe_) observe_(request, paused);
  std::optional<base::Result<io::HttpResponse>> result;
  AsyncCall(core_, router_, from_, request, options.timeout,
            [&result](base::Result<io::HttpResponse> r) { result = std::move(r); });
  // The timeout timer guarantees an answer by core.Now() + timeout.
  while (!result) {
    if (!core_.RunNext(TimePoint::max())) break;
  }
  if (!result) return base::Status::Unavailable(request.method + " " + request.path + ": no answer");
  return std::move(*result);
}

base::Status SimTransport::Stream(const io::HttpRequest& request, const io::StreamOptions&,
                                  io::StreamHandler&) {
  return base::Status::Unavailable(request.path + ": streams are not carried by SimTransport");
}

bool SimSleeper::SleepFor(Duration d, std::stop_token cancel) {
  const TimePoint until = core_.Now() + d;
  RunUntil(core_, until, [&] { return cancel.stop_requested(); });
  return !cancel.stop_requested();
}

}  // namespace nsg::faultsim
