// A controller replica of the fault simulation (controller_actor.h): connecting, the event stream
// or lock watch, the work tick, the resync and the leader election, each paused while the
// replica is frozen and stopped once it crashed.
#include "controller/faultsim/controller_actor.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <type_traits>
#include <utility>
#include <variant>

#include "controller/nomad/codec.h"
#include "controller/reconcile/plan.h"

namespace nsg::faultsim::internal {
namespace {

constexpr char kLeaderPath[] = "nomad-singleton/leader";
constexpr Duration kWorkTick = 100ms;      // a controller worker looks for work
constexpr Duration kResync = 5min;         // the controller's default resync period
constexpr Duration kStreamRetry = 1s;
constexpr Duration kLockWatchWait = 30s;  // as `nomad-singleton controller` (Nomad before 2.0.0)

}  // namespace

ControllerActor::ControllerActor(World& w, int id)
    : world_(w),
      id_(id),
      clock_(w.core()),
      sleeper_(w.core()),
      transport_(w.core(), w.router(),
                 Endpoint{[this] { return alive_ && !partitioned_; }, [this] { return world_.Latency(); }},
                 [this](const io::HttpRequest& r, bool paused) {
                   world_.ObserveRequest(id_, r, paused);
                 }),
      api_(transport_, ClientConfigFor(w), clock_, sleeper_, ApiOptions(w)),
      core_(api_, clock_, runtime::ControllerCore::Options{.prune = false, .dry_run = false},
            this) {
  core_.SetActive(false);
  transport_.SetPausedUntil([this] { return frozen_until_; });
}

void ControllerActor::Start(const runtime::SpecSet& specs) {
  core_.ApplySpecs(specs);
  Connect();
  Tick();
  ScheduleResync();
  StartElection();
}

void ControllerActor::Crash() {
  if (!alive_) return;
  alive_ = false;
  core_.SetActive(false);
  CloseStream();
  world_.Log("controller-" + std::to_string(id_) + " crashed");
}

void ControllerActor::SetPartitioned(bool p) {
  partitioned_ = p;
  if (p) CloseStream();
}

void ControllerActor::Freeze(Duration d) {
  if (!alive_) return;
  frozen_until_ = std::max(frozen_until_, world_.core().Now() + d);
  world_.Log("FAULT controller-" + std::to_string(id_) + " frozen for " +
             base::FormatDuration(d));
}

void ControllerActor::OnReconciled(const reconcile::SingletonKey& key, const reconcile::Desired&,
                                   const reconcile::ReconcileResult& r, Duration) {
  for (const auto& a : r.executed) world_.Log("controller-" + std::to_string(id_) + " " + key + ": " + a);
  if (!r.executed.empty() && world_.tracing()) {
    for (const auto& c : r.plan.conditions) {
      world_.Log("controller-" + std::to_string(id_) + " " + key + ": " +
                 reconcile::ConditionTypeName(c.type) + "=" + (c.status ? "T" : "F") + " " +
                 c.reason + ": " + c.message);
    }
  }
}

io::ClientConfig ControllerActor::ClientConfigFor(World& w) {
  io::ClientConfig c;
  c.address = "http://nomad.sim:4646";
  c.token = w.ManagementToken();
  c.request_timeout = 10s;
  return c;
}

io::HttpNomadApi::Options ControllerActor::ApiOptions(World& w) {
  io::HttpNomadApi::Options o;
  o.seed = w.core().Uniform(1, UINT64_MAX - 1);
  return o;
}

void ControllerActor::Guarded(const char* label, std::function<void()> fn) {
  if (!alive_) return;
  if (Frozen()) {
    world_.core().At(frozen_until_, label, [this, label, fn] { Guarded(label, fn); });
    return;
  }
  if (busy_) {
    world_.core().After(5ms, label, [this, label, fn] { Guarded(label, fn); });
    return;
  }
  busy_ = true;
  fn();
  busy_ = false;
}

void ControllerActor::Connect() {
  Guarded("ctl-connect", [this] {
    if (partitioned_) {
      world_.core().After(kStreamRetry, "ctl-connect", [this] { Connect(); });
      return;
    }
    Status st = core_.Relist();
    if (!alive_) return;
    if (!st.ok()) {
      world_.core().After(kStreamRetry * 2, "ctl-connect", [this] { Connect(); });
      return;
    }
    core_.QueueAll();
    Subscribe();
    ++watch_gen_;
    if (!nomad::HasVariableTopic(world_.core().Version())) WatchLocks(watch_gen_, 0);
  });
}

void ControllerActor::WatchLocks(uint64_t gen, uint64_t index) {
  if (!alive_ || gen != watch_gen_) return;
  const nomad::QueryOptions q = core_.LockWatchQuery(index, kLockWatchWait);
  io::HttpRequest req;
  req.path = "/v1/vars";
  req.query = {{"namespace", q.namespace_}, {"prefix", q.prefix}};
  if (index > 0) {
    req.query.emplace_back("index", std::to_string(index));
    req.query.emplace_back("wait", base::FormatDuration(kLockWatchWait));
  }
  req.headers.Add("X-Nomad-Token", world_.ManagementToken());
  AsyncCall(world_.core(), world_.router(),
            Endpoint{[this] { return alive_ && !partitioned_; }, [this] { return world_.Latency(); }},
            req, kLockWatchWait + 10s,
            [this, gen, index](Result<io::HttpResponse> r) {
              if (!alive_ || gen != watch_gen_) return;
              std::optional<std::vector<nomad::Variable>> list;
              uint64_t next = 0;
              if (r.ok() && r.value().status == 200) {
                auto vars = nomad::DecodeVariableList(r.value().body);
                if (vars.ok()) list = std::move(vars.value());
                next = std::strtoull(r.value().headers.Get("X-Nomad-Index").c_str(), nullptr,
                                     10);
                if (next < index) next = 0;  // an index reset: read afresh
              }
              if (!list) {
                world_.core().After(kStreamRetry, "ctl-lock-watch",
                                    [this, gen] { WatchLocks(gen, 0); });
                return;
              }
              Guarded("ctl-lock-watch", [this, gen, next, l = std::move(*list)] {
                if (gen != watch_gen_) return;
                if (core_.ApplyLockList(l, next).ok()) {
                  WatchLocks(gen, next);
                } else {
                  world_.core().After(kStreamRetry, "ctl-lock-watch",
                                      [this, gen] { WatchLocks(gen, 0); });
                }
              });
            });
}

class ControllerActor::Sink final : public sim::StreamSink {
 public:
  Sink(ControllerActor& c, uint64_t gen) : c_(c), gen_(gen) {}
  void Reply(const sim::Reply&) override { c_.StreamEnded(gen_); }
  void Open(const sim::Reply&) override {}
  void Write(const std::string& data) override {
    buf_ += data;
    size_t nl;
    while ((nl = buf_.find('\n')) != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      c_.StreamLine(gen_, std::move(line));
    }
  }
  void Close() override { c_.StreamEnded(gen_); }

 private:
  ControllerActor& c_;
  const uint64_t gen_;
  std::string buf_;
};

void ControllerActor::Subscribe() {
  sim::Request req;
  req.method = "GET";
  req.path = "/v1/event/stream";
  for (const char* t : {"Job", "Allocation", "Node", "Variable"}) req.query.emplace("topic", t);
  req.query.emplace("namespace", "*");
  req.query.emplace("index", std::to_string(core_.view().LastIndex() + 1));
  req.headers["x-nomad-token"] = world_.ManagementToken();
  const uint64_t gen = ++stream_gen_;
  // The in-process sink reads raw bytes: the hijacked framing of 1.11.2+ where the profile has it.
  const sim::StreamFraming framing = nomad::HijacksEventStream(world_.core().Version())
                                         ? sim::StreamFraming::kCloseDelimited
                                         : sim::StreamFraming::kChunked;
  stream_id_ = world_.router().SubmitStream(req, std::make_shared<Sink>(*this, gen), framing);
}

void ControllerActor::StreamLine(uint64_t gen, std::string line) {
  if (gen != stream_gen_ || !alive_ || partitioned_) return;
  // As the controller's event stream decodes them (app/controller.cc).
  auto frame = nomad::DecodeFrame(line, nomad::PayloadDetail::kSummary);
  if (!frame.ok()) return;
  world_.core().After(world_.Latency(), "ctl-frame", [this, gen, f = std::move(frame.value())] {
    if (gen != stream_gen_ || !alive_) return;
    // Frames that arrive while frozen are read after the thaw, in order (FIFO at one instant).
    Guarded("ctl-frame", [this, gen, f] {
      if (gen == stream_gen_ && alive_) core_.OnFrame(f);
    });
  });
}

void ControllerActor::StreamEnded(uint64_t gen) {
  if (gen != stream_gen_) return;
  stream_id_ = 0;
  ++stream_gen_;
  if (!alive_) return;
  // A reconnect may have a gap: re-list, then follow the stream again.
  world_.core().After(kStreamRetry, "ctl-reconnect", [this] { Connect(); });
}

void ControllerActor::CloseStream() {
  if (stream_id_ != 0) world_.router().CancelStream(stream_id_);
  const bool had = stream_id_ != 0;
  stream_id_ = 0;
  ++stream_gen_;
  if (had && alive_) world_.core().After(kStreamRetry, "ctl-reconnect", [this] { Connect(); });
}

void ControllerActor::Tick() {
  world_.core().After(kWorkTick, "ctl-work", [this] {
    if (!alive_) return;
    // As `nomad-singleton controller`: no worker runs before the first full sync.
    if (core_.synced() && !Frozen()) Guarded("ctl-work", [this] {
      for (int i = 0; i < 16 && alive_; ++i) {
        auto key = core_.queue().TryGet();
        if (!key) break;
        core_.Process(*key);
      }
    });
    Tick();
  });
}

void ControllerActor::ScheduleResync() {
  world_.core().After(kResync, "ctl-resync", [this] {
    if (!alive_) return;
    Guarded("ctl-resync", [this] {
      if (!partitioned_ && core_.Relist().ok()) core_.QueueAll();
    });
    ScheduleResync();
  });
}

void ControllerActor::StartElection() {
  lock::Config c;
  c.path = kLeaderPath;
  c.ttl = 15s;
  c.delay = 5s;
  c.give_up = 15s;
  c.kill_timeout = 1s;
  c.lock_id = "controller-" + std::to_string(id_) + "-" + std::to_string(world_.core().Uniform(1, 1u << 30));
  c.seed = world_.core().Uniform(1, UINT64_MAX - 1);
  c.holder_items["controller"] = std::to_string(id_);
  ++elector_gen_;
  auto a = lock::Agent::Create(c);
  if (!a.ok()) {
    world_.Violate("setup", "leader election config: " + a.status().message());
    return;
  }
  elector_cfg_ = c;
  elector_.emplace(std::move(a.value()));
  ElectorRun(elector_->Start(world_.core().Now()));
}

void ControllerActor::ElectorRun(lock::Actions acts) {
  for (auto& a : acts) {
    if (!alive_) return;
    if (auto call = AsLockCall(a)) {
      ElectorSend(*call);
      continue;
    }
    std::visit(Overloaded{
                   [&](const lock::StartHolder& x) {
                     world_.Log("controller-" + std::to_string(id_) + " leads (epoch " +
                                std::to_string(x.grant.epoch) + ")");
                     core_.SetActive(true);
                   },
                   [&](const lock::ExtendLease&) {},
                   [&](const auto& x) {
                     using T = std::decay_t<decltype(x)>;
                     if constexpr (std::is_same_v<T, lock::StopHolder> ||
                                   std::is_same_v<T, lock::KillHolder>) {
                       world_.Log("controller-" + std::to_string(id_) + " stops leading");
                       core_.SetActive(false);
                       world_.core().After(Duration(0), "elector-holder-dead", [this] {
                         ElectorThawed([this] {
                           if (alive_) ElectorRun(elector_->OnHolderExited(world_.core().Now(), 0));
                         });
                       });
                     } else if constexpr (std::is_same_v<T, lock::Exit>) {
                       // Lost or gave up: campaign again, as a restarted replica would.
                       world_.core().After(kStreamRetry, "elector-restart", [this] {
                         if (alive_) StartElection();
                       });
                     }
                   },
               },
               a);
  }
  if (!alive_ || !elector_ || elector_->done()) return;
  if (elector_timer_ != 0) world_.core().Cancel(elector_timer_);
  elector_timer_ = 0;
  if (auto w = elector_->NextWakeup()) {
    elector_timer_ = world_.core().At(std::max(*w, world_.core().Now()), "elector-timer", [this] {
      elector_timer_ = 0;
      ElectorThawed([this] {
        if (alive_ && elector_) ElectorRun(elector_->OnTimer(world_.core().Now()));
      });
    });
  }
}

void ControllerActor::ElectorSend(const LockCall& call) {
  const LockOp op = call.op;
  const uint64_t id = call.id;
  io::HttpRequest req = LockRequest(call, elector_cfg_, world_.ManagementToken());
  const Duration timeout = call.Timeout(5s);
  const uint64_t gen = elector_gen_;
  AsyncCall(world_.core(), world_.router(),
            Endpoint{[this] { return alive_ && !partitioned_; }, [this] { return world_.Latency(); }}, req,
            timeout, [this, gen, op, id, req](Result<io::HttpResponse> r) {
              ElectorThawed([this, gen, op, id, req, r] {
                if (!alive_ || gen != elector_gen_ || !elector_) return;
                ElectorRun(Deliver(*elector_, op, id, req, r, world_.core().Now()));
              });
            });
}

void ControllerActor::ElectorThawed(std::function<void()> fn) {
  if (!alive_) return;
  if (Frozen()) {
    world_.core().At(frozen_until_ + 1ms, "elector-thaw",
                     [this, fn] { ElectorThawed(fn); });
    return;
  }
  fn();
}

}  // namespace nsg::faultsim::internal
