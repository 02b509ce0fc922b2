// LeaderElector against the Nomad simulator's HTTP front end, in process: two replicas (each with
// its own HttpNomadApi) campaign for one lock. The simulator enforces Nomad's 10s minimum TTL, so
// it runs ten times faster than real time and each replica's API scales the lock's TTL, LockDelay
// and blocking-query wait by the same factor: the agents keep short real timers (TTL 1s, renew
// every 333ms, G = 1s, K = 100ms, D = 200ms) while the server sees 10s / 2s. Every leader change
// checks the at-most-one invariant; waits are conditions with deadlines, never sleeps.
#include "controller/controller_io/leader_elector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/lock_io/lease_file.h"
#include "controller/nomad_client/client_config.h"
#include "controller/nomad_client/http_nomad_api.h"
#include "controller/nomad_client/http_transport.h"
#include "controller/sim/http_frontend.h"
#include "controller/timing/budget.h"
#include "tests/lock_io/lock_runner_fake_api.h"
#include "tests/test_support/wait.h"

// Sanitizer builds: suppress UBSan's vptr check inside cpprest headers only (see the file).
extern "C" const char* __ubsan_default_options() {
  return "suppressions=" NSG_SOURCE_DIR "/tests/nomad_client/ubsan_cpprest.supp";
}

namespace nsg::io {
namespace {

using namespace std::chrono_literals;
using base::Duration;
using base::Result;
using base::Status;
using base::StatusCode;
using base::TimePoint;
using test_support::WaitUntil;

constexpr double kScale = 10;  // simulator seconds per real second
constexpr Duration kTtl = 1s;
constexpr Duration kGiveUp = kTtl;  // the elector's default: G = T
constexpr Duration kDelay = 200ms;
constexpr char kPath[] = "nomad-singleton/leader";

Duration Scaled(Duration d) {
  return Duration(static_cast<int64_t>(static_cast<double>(d.count()) * kScale));
}
double Ms(Duration d) { return static_cast<double>(d.count()) / 1e6; }

// One replica's view of Nomad: an HttpNomadApi with the lock timers scaled to the simulator's
// time, call counters, and a switch that cuts the replica off (every call kUnavailable at once,
// as a partition between it and the servers would).
class ScaledApi final : public nomad::NomadApi {
 public:
  explicit ScaledApi(nomad::NomadApi& inner) : inner_(inner) {}

  std::atomic<bool> partitioned{false};
  std::atomic<int> acquired{0}, conflicts{0}, renewed{0}, released{0}, blocking_reads{0};

  Result<nomad::Variable> AcquireLock(const nomad::Variable& v,
                                      const nomad::WriteOptions& w) override {
    if (partitioned) return Cut();
    nomad::Variable scaled = v;
    if (scaled.lock) {
      scaled.lock->ttl = Scaled(scaled.lock->ttl);
      scaled.lock->lock_delay = Scaled(scaled.lock->lock_delay);
    }
    auto r = inner_.AcquireLock(scaled, w);
    ++(r.ok() ? acquired : r.status().code() == StatusCode::kConflict ? conflicts : other_);
    return r;
  }
  Result<nomad::Variable> RenewLock(const std::string& path, const std::string& id,
                                    const nomad::WriteOptions& w) override {
    return Counted(renewed, [&] { return inner_.RenewLock(path, id, w); });
  }
  Result<nomad::Variable> ReleaseLock(const std::string& path, const std::string& id,
                                      const nomad::WriteOptions& w) override {
    return Counted(released, [&] { return inner_.ReleaseLock(path, id, w); });
  }
  Result<nomad::Query<nomad::Variable>> ReadVariable(const std::string& path,
                                                     const nomad::QueryOptions& q) override {
    if (partitioned) return Cut();
    nomad::QueryOptions scaled = q;
    scaled.wait = Scaled(q.wait);
    if (q.index > 0) ++blocking_reads;
    return inner_.ReadVariable(path, scaled);
  }

  // ---- the rest passes through unchanged ----
  Result<nomad::WriteResult> RegisterJob(const nomad::RegisterRequest& r,
                                         const nomad::WriteOptions& w) override {
    return inner_.RegisterJob(r, w);
  }
  Result<nomad::PlanResponse> PlanJob(const nomad::Job& j, bool diff,
                                      const nomad::WriteOptions& w) override {
    return inner_.PlanJob(j, diff, w);
  }
  Result<nomad::Query<nomad::Job>> ReadJob(const std::string& id,
                                           const nomad::QueryOptions& q) override {
    return inner_.ReadJob(id, q);
  }
  Result<nomad::Query<std::vector<nomad::JobStub>>> ListJobs(const nomad::QueryOptions& q,
                                                             bool meta) override {
    return inner_.ListJobs(q, meta);
  }
  Result<nomad::Query<std::vector<nomad::Allocation>>> JobAllocations(
      const std::string& id, const nomad::QueryOptions& q, bool all) override {
    return inner_.JobAllocations(id, q, all);
  }
  Result<nomad::WriteResult> DeregisterJob(const std::string& id, bool purge,
                                           const nomad::WriteOptions& w) override {
    return inner_.DeregisterJob(id, purge, w);
  }
  Result<nomad::WriteResult> EvaluateJob(const std::string& id, bool force,
                                         const nomad::WriteOptions& w) override {
    return inner_.EvaluateJob(id, force, w);
  }
  Result<nomad::Job> ParseHcl(const std::string& hcl, const nomad::WriteOptions& w) override {
    return inner_.ParseHcl(hcl, w);
  }
  Result<nomad::Query<std::vector<nomad::Allocation>>> ListAllocations(
      const nomad::QueryOptions& q) override {
    return inner_.ListAllocations(q);
  }
  Result<nomad::Query<nomad::Allocation>> ReadAllocation(const std::string& id,
                                                         const nomad::QueryOptions& q) override {
    return inner_.ReadAllocation(id, q);
  }
  Result<nomad::WriteResult> StopAllocation(const std::string& id, bool no_delay) override {
    return inner_.StopAllocation(id, no_delay);
  }
  Result<nomad::Query<std::vector<nomad::Node>>> ListNodes(const nomad::QueryOptions& q) override {
    return inner_.ListNodes(q);
  }
  Result<nomad::Query<std::vector<nomad::Variable>>> ListVariables(
      const nomad::QueryOptions& q) override {
    return inner_.ListVariables(q);
  }
  Result<nomad::Variable> SetVariable(const nomad::Variable& v, std::optional<uint64_t> cas,
                                      const nomad::WriteOptions& w,
                                      nomad::Variable* conflict) override {
    return inner_.SetVariable(v, cas, w, conflict);
  }
  Status DeleteVariable(const std::string& path, std::optional<uint64_t> cas,
                        const nomad::WriteOptions& w) override {
    return inner_.DeleteVariable(path, cas, w);
  }
  Result<nomad::AclPolicy> ReadAclPolicy(const std::string& name) override {
    return inner_.ReadAclPolicy(name);
  }
  Status UpsertAclPolicy(const nomad::AclPolicy& p) override { return inner_.UpsertAclPolicy(p); }
  Status DeleteAclPolicy(const std::string& name) override { return inner_.DeleteAclPolicy(name); }

 private:
  static Status Cut() { return Status::Unavailable("partitioned from Nomad (test)"); }
  // The call unless partitioned; counts its successes in `ok`.
  template <typename Call>
  Result<nomad::Variable> Counted(std::atomic<int>& ok, Call call) {
    if (partitioned) return Cut();
    auto r = call();
    if (r.ok()) ++ok;
    return r;
  }

  nomad::NomadApi& inner_;
  std::atomic<int> other_{0};
};

// The short timers described at the top, for replica `name` (written to the lock's Items).
LeaderElectorOptions ShortTimers(const std::string& name) {
  LeaderElectorOptions o;
  o.path = kPath;
  o.ttl = kTtl;
  o.lock_delay = kDelay;
  o.stop_timeout = 100ms;
  o.holder_items = {{"replica", name}};
  o.agent.min_ttl_for_test = 100ms;
  o.agent.assumptions.margin = 100ms;
  o.agent.backoff_initial = 50ms;
  o.agent.min_acquire_spacing = 10ms;
  o.agent.stop_margin = 500ms;
  o.agent.release_timeout = 500ms;
  return o;
}

class LeaderElectorTest : public ::testing::Test {
 protected:
  struct Replica {
    std::string name;
    std::unique_ptr<Transport> transport;
    std::unique_ptr<HttpNomadApi> http;
    std::unique_ptr<ScaledApi> api;
    std::unique_ptr<LeaderElector> elector;

    std::mutex mu;
    std::vector<TimePoint> started_at, stopped_at;  // guarded by mu
    std::vector<uint64_t> epochs;                   // guarded by mu
    std::string holder_at_stop;  // the sim's lock holder when on_stopped_leading ran (guarded)

    bool leading() const { return elector->leading(); }
    TimePoint started(size_t i) {
      std::lock_guard<std::mutex> l(mu);
      return i < started_at.size() ? started_at[i] : TimePoint{};
    }
    TimePoint stopped(size_t i) {
      std::lock_guard<std::mutex> l(mu);
      return i < stopped_at.size() ? stopped_at[i] : TimePoint{};
    }
    size_t starts() {
      std::lock_guard<std::mutex> l(mu);
      return started_at.size();
    }
  };

  void SetUp() override {
    sim::SimServer::Options o;
    o.http.time_scale = kScale;
    server_ = std::make_unique<sim::SimServer>(o);
    ASSERT_TRUE(server_->Start().ok());
  }

  void TearDown() override {
    for (auto& r : replicas_) r->elector->RequestStop();
    for (auto& r : replicas_) {
      r->elector->Wait();
      r->http->Shutdown();  // a standby's parked blocking query returns at once
      r->elector.reset();
    }
    replicas_.clear();
    server_->Stop();
    EXPECT_EQ(violations_.load(), 0) << "two replicas led at once";
  }

  // Who holds the lock according to the simulator: the holder's "replica" item, "" when unlocked.
  std::string SimHolder() {
    std::string holder;
    server_->WithModel([&] {
      const nomad::Variable* v = server_->variables().Find("default", kPath);
      if (v != nullptr && v->lock) {
        auto it = v->items.find("replica");
        holder = it == v->items.end() ? "?" : it->second;
      }
    });
    return holder;
  }

  Replica& Start(const std::string& name) {
    auto r = std::make_unique<Replica>();
    Replica* rp = r.get();
    r->name = name;
    ClientConfig cfg;
    cfg.address = server_->Address();
    cfg.request_timeout = kTtl / 3;  // as the controller should: a hung call ends within T/3
    EXPECT_TRUE(cfg.Validate().ok());
    auto t = MakeTransport(cfg);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    r->transport = std::move(t).value();
    HttpNomadApi::Options ho;
    ho.blocking_margin = 1s;
    r->http = std::make_unique<HttpNomadApi>(*r->transport, cfg, clock_, sleeper_, ho);
    r->api = std::make_unique<ScaledApi>(*r->http);

    LeaderElectorOptions o = ShortTimers(name);
    o.on_started_leading = [this, rp](uint64_t epoch) {
      if (++leaders_ > 1) ++violations_;
      std::lock_guard<std::mutex> l(rp->mu);
      rp->started_at.push_back(clock_.Now());
      rp->epochs.push_back(epoch);
    };
    o.on_stopped_leading = [this, rp] {
      const TimePoint now = clock_.Now();
      const std::string holder = SimHolder();
      --leaders_;
      std::lock_guard<std::mutex> l(rp->mu);
      rp->stopped_at.push_back(now);
      rp->holder_at_stop = holder;
    };
    o.log = [rp](const std::string& line) {
      std::fprintf(stderr, "[%s] %s\n", rp->name.c_str(), line.c_str());
    };
    auto e = LeaderElector::Create(std::move(o), *r->api, clock_);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    r->elector = std::move(e).value();
    r->elector->Start();
    replicas_.push_back(std::move(r));
    return *rp;
  }

  // Starts replicas a and b and waits until one leads and the other is parked on a blocking
  // query after a 409. Returns {leader, standby}.
  std::pair<Replica*, Replica*> StartTwo() {
    Replica& a = Start("a");
    Replica& b = Start("b");
    EXPECT_TRUE(WaitUntil([&] { return a.leading() || b.leading(); }, 5000ms));
    Replica* leader = a.leading() ? &a : &b;
    Replica* standby = leader == &a ? &b : &a;
    EXPECT_TRUE(WaitUntil(
        [&] { return standby->api->conflicts >= 1 && standby->api->blocking_reads >= 1; },
        5000ms));
    return {leader, standby};
  }

  BootClock clock_;
  RealSleeper sleeper_;
  std::unique_ptr<sim::SimServer> server_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::atomic<int> leaders_{0};     // replicas between on_started_leading and on_stopped_leading
  std::atomic<int> violations_{0};  // times a second replica started leading
};

TEST_F(LeaderElectorTest, ExactlyOneOfTwoReplicasLeads) {
  auto [leader, standby] = StartTwo();
  // Seven renewals span more than 2T + D: without them the lock would have passed to the standby.
  ASSERT_TRUE(WaitUntil([&] { return leader->api->renewed >= 7; }, 10000ms));
  EXPECT_TRUE(leader->leading());
  EXPECT_FALSE(standby->leading());
  EXPECT_EQ(leader->starts(), 1u);
  EXPECT_EQ(standby->starts(), 0u);
  EXPECT_GT(leader->elector->epoch(), 0u);
  EXPECT_EQ(standby->elector->epoch(), 0u);
  EXPECT_EQ(SimHolder(), leader->name) << "the lock's Items name the leader";
  // The standby waits on blocking queries, not by re-acquiring: at most one acquire per jittered
  // T/2 poll (+ the first) over the ≥ 2.3s above.
  EXPECT_LE(standby->api->conflicts, 8);
}

TEST_F(LeaderElectorTest, RequestStopReleasesAndTheStandbyTakesOverAtOnce) {
  auto [leader, standby] = StartTwo();
  const TimePoint stop = clock_.Now();
  leader->elector->RequestStop();
  ASSERT_TRUE(WaitUntil([&] { return standby->leading(); }, 5000ms));
  ASSERT_TRUE(WaitUntil([&] { return leader->elector->done(); }, 2000ms));
  EXPECT_FALSE(leader->leading());
  EXPECT_EQ(leader->api->released, 1);
  EXPECT_EQ(leader->holder_at_stop, leader->name) << "stopped leading while still holding";
  EXPECT_LT(leader->stopped(0), standby->started(0)) << "the old leader stopped first";
  const Duration handover = standby->started(0) - stop;
  std::printf("graceful handover: %.1f ms (RequestStop → the standby leads)\n", Ms(handover));
  // Without the release the standby would wait for the expiry, ≥ 2T + D − T/3 ≈ 1.87s.
  EXPECT_LT(handover, kTtl);
  EXPECT_GT(standby->elector->epoch(), leader->elector->epoch()) << "fencing epoch grows";
  EXPECT_EQ(SimHolder(), standby->name);
}

TEST_F(LeaderElectorTest, LeaderCutOffFromNomadStepsDownBeforeTheLockPasses) {
  auto [leader, standby] = StartTwo();
  const TimePoint cut = clock_.Now();
  leader->api->partitioned = true;
  ASSERT_TRUE(WaitUntil([&] { return leader->stopped(0) != TimePoint{}; }, 3000ms))
      << "the cut-off leader never stepped down";
  const Duration stepped_down = leader->stopped(0) - cut;
  // G counts from the last successful renew's send, which is before the cut.
  EXPECT_LE(stepped_down, kGiveUp + 250ms);
  EXPECT_EQ(leader->holder_at_stop, leader->name)
      << "on_stopped_leading ran after the server had let the lock go";
  ASSERT_TRUE(WaitUntil([&] { return standby->leading(); }, 5000ms));
  EXPECT_LT(leader->stopped(0), standby->started(0));
  std::printf("cut-off leader: stepped down %.0f ms after the cut (G = %.0f ms); the standby led "
              "%.0f ms later (2T + D = %.0f ms after the last renew)\n",
              Ms(stepped_down), Ms(kGiveUp), Ms(standby->started(0) - leader->stopped(0)),
              Ms(2 * kTtl + kDelay));
  EXPECT_GT(standby->elector->epoch(), leader->elector->epoch());

  // Reconnected, the old leader campaigns again and is refused: it stays a standby.
  const int refused = leader->api->conflicts;
  leader->api->partitioned = false;
  ASSERT_TRUE(WaitUntil([&] { return leader->api->conflicts > refused; }, 5000ms));
  EXPECT_FALSE(leader->leading());
  EXPECT_EQ(leader->starts(), 1u);
  EXPECT_TRUE(standby->leading());
}

// ---- configuration (no Nomad needed) ----

LeaderElectorOptions WithCallbacks(LeaderElectorOptions o) {
  o.on_started_leading = [](uint64_t) {};
  o.on_stopped_leading = [] {};
  return o;
}

Status CreateStatus(LeaderElectorOptions o) {
  testing::FakeNomadApi api;
  BootClock clock;
  auto e = LeaderElector::Create(std::move(o), api, clock);
  return e.ok() ? Status::Ok() : e.status();
}

TEST(LeaderElectorConfig, InvalidConfigurationIsAClearError) {
  struct Case {
    std::string what;
    std::function<void(LeaderElectorOptions&)> change;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"TTL below Nomad's 10s", [](auto& o) { o.ttl = 5s; }, "between 10s and 24h"},
      {"reserved prefix", [](auto& o) { o.path = "nomad/leader"; }, "reserved \"nomad/\" prefix"},
      {"bad character", [](auto& o) { o.path = "leader lock"; }, "may contain only letters"},
      {"empty segment", [](auto& o) { o.path = "a//b"; }, "empty segment"},
      {"empty path", [](auto& o) { o.path = ""; }, "1 to 128 characters"},
      {"G below two renewals", [](auto& o) { o.give_up = 5s; }, "two renew intervals"},
      {"timer rule", [](auto& o) { o.stop_timeout = 30s; }, "timer rule broken"},
      {"no callback", [](auto& o) { o.on_stopped_leading = nullptr; }, "both required"},
  };
  for (const Case& c : cases) {
    LeaderElectorOptions o = WithCallbacks({});
    c.change(o);
    Status st = CreateStatus(std::move(o));
    EXPECT_EQ(st.code(), StatusCode::kInvalidSpec) << c.what;
    EXPECT_NE(st.message().find(c.message), std::string::npos) << c.what << ": " << st.message();
    EXPECT_EQ(st.message().rfind("leader election: ", 0), 0u) << c.what << ": " << st.message();
  }
  // A 1s TTL needs the test override.
  LeaderElectorOptions o = WithCallbacks(ShortTimers("x"));
  EXPECT_TRUE(CreateStatus(o).ok());
  o.agent.min_ttl_for_test = lock::kMinTtl;
  EXPECT_EQ(CreateStatus(o).code(), StatusCode::kInvalidSpec);
}

TEST(LeaderElectorConfig, DefaultsKeepTheTimerRuleForEveryTtl) {
  LeaderElectorOptions o = WithCallbacks({});
  EXPECT_EQ(o.path, "nomad-singleton/leader");
  EXPECT_TRUE(CreateStatus(o).ok());
  const lock::Config c = LeaderElector::AgentConfig(o);
  EXPECT_EQ(c.ttl, 15s);
  EXPECT_EQ(c.give_up, 15s);  // G = T
  EXPECT_EQ(c.delay, 5s);
  EXPECT_EQ(c.kill_timeout, 5s);
  EXPECT_EQ(c.guard_poll, Duration(0));
  timing::Timers t;
  t.ttl = c.ttl;
  t.delay = c.delay;
  t.give_up = c.give_up;
  t.kill_timeout = c.kill_timeout;
  const timing::Budget b = timing::Compute(t, c.assumptions);
  EXPECT_TRUE(b.safe());
  // (15 + 5) × 1.01 + 1 = 21.2s against (30 + 5) × 0.99 = 34.65s.
  EXPECT_NEAR(Ms(b.worst_case_overlap), -13450, 1);
  for (Duration ttl : {Duration(10s), Duration(60s), Duration(std::chrono::hours(24))}) {
    LeaderElectorOptions other = o;
    other.ttl = ttl;
    EXPECT_TRUE(CreateStatus(other).ok()) << base::FormatDuration(ttl);
  }
}

}  // namespace
}  // namespace nsg::io
