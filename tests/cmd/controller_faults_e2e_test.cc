// End to end under faults: `nomad-singleton controller` (in-process) against the Nomad simulator
// over HTTP, with the simulator's virtual time running 10× faster than the wall clock so that
// heartbeat, lock and stop_on_client_after timers pass in seconds. The tasks are the simulator's
// dummy programs (they run until killed), so the test itself plays the lock agent: it takes,
// renews and lets lapse the singleton's lock variable in the model, exactly as the agent inside
// the allocation would. Scenarios:
//   * a healed partition leaves the old holder's allocation running beside the new holder: the
//     controller stops the old one (POST /v1/allocation/:id/stop), never the holder;
//   * the holder's node crashes: the controller times the failover to the standby;
//   * Nomad answers nothing but errors for a while: the controller backs off (its requests are
//     counted at the simulator), then converges;
//   * the event stream is cut and its buffer overwritten: the re-list catches the change the
//     stream can no longer deliver.
// Every wait is on a condition with a deadline.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "controller/nomad/variable.h"
#include "controller/nomad/version.h"
#include "controller/render/job_renderer.h"
#include "controller/sim/http_frontend.h"
#include "tests/cmd/controller_e2e_util.h"
#include "tests/test_support/wait.h"

namespace nsg {
namespace {

using namespace std::chrono_literals;
using cmd::testing::ControllerSimTest;
using cmd::testing::SpecYaml;
using test_support::WaitUntil;

constexpr char kKey[] = "default/alpha";
constexpr double kTimeScale = 10;  // virtual seconds per wall second

std::string Series(const std::string& metric) {
  return "nomad_singleton_" + metric + "{singleton=\"" + kKey + "\"}";
}

class ControllerFaults : public ControllerSimTest {
 protected:
  void ConfigureSim(sim::SimServer::Options& opts) override {
    opts.http.time_scale = kTimeScale;
    opts.core.version = nomad::NomadVersion::FromProfile(profile_).value();
    // A node that stops heartbeating is down after 2 × TTL + grace at most (virtual time).
    opts.cluster.min_heartbeat_ttl = heartbeat_ttl_;
    opts.cluster.heartbeat_grace = heartbeat_ttl_;
  }
  void TearDown() override {
    renewer_ = {};  // joins
    controller_.reset();
    server_->WithModel([&] { server_->router().SetRequestObserver(nullptr); });
    ControllerSimTest::TearDown();
  }

  // Waits until the lock is free (the old lease lapsed: 2 × TTL + delay) and takes it.
  std::string AcquireWhenFree(const std::string& alloc_id) {
    std::string id;
    WaitUntil([&] { return !(id = Acquire(alloc_id)).empty(); }, 20s);
    return id;
  }
  // Renews `lock_id` every 200 ms of wall time (2 s of virtual time; the TTL is 10 s) until
  // StopRenewing(), as a live lock agent does.
  void KeepRenewing(const std::string& lock_id) {
    const std::string path = LockPath();
    renewer_ = std::jthread([this, lock_id, path](std::stop_token stop) {
      std::mutex mu;
      std::condition_variable_any cv;
      while (!stop.stop_requested()) {
        server_->WithModel(
            [&] { server_->variables().RenewLock(Management(), "default", path, lock_id); });
        std::unique_lock lock(mu);
        cv.wait_for(lock, stop, 200ms, [] { return false; });
      }
    });
  }
  void StopRenewing() { renewer_ = {}; }

  std::string NodeOf(const std::string& alloc_id) {
    std::string node;
    server_->WithModel([&] {
      for (const auto& a : server_->cluster().State().allocations) {
        if (a.id == alloc_id) node = a.node_id;
      }
    });
    return node;
  }
  std::optional<nomad::Allocation> Alloc(const std::string& id) {
    std::optional<nomad::Allocation> out;
    server_->WithModel([&] {
      for (const auto& a : server_->cluster().State().allocations) {
        if (a.id == id) out = a;
      }
    });
    return out;
  }

  bool ReadyWithHolder() {
    auto ready = ConditionOf(kKey, "Ready");
    return ready && ready->first && ready->second == "HolderRunning";
  }

  // alpha (no standby) registered and in sync, the event stream connected; returns the job (an
  // empty ID when it did not converge).
  nomad::Job ConvergeOne() {
    WriteSpec("alpha", SpecYaml("alpha", "1000"));
    StartController();
    EXPECT_TRUE(WaitUntil([&] { return Reconciled({kKey}, 0, "InSync"); }, 30s))
        << Status().dump(2);
    EXPECT_TRUE(WaitUntil([&] { return Metric("nomad_singleton_event_stream_up") == 1; }, 10s));
    return Job("alpha").value_or(nomad::Job{});
  }

  // alpha with one hot standby, converged: both allocations running, the older one (returned
  // first) holding the lock, and the controller has seen it hold it.
  std::pair<std::string, std::string> ConvergeWithHolder(std::vector<std::string> flags = {},
                                                         const std::string& extra_spec = "") {
    WriteSpec("alpha", SpecYaml("alpha", "1000", "  standby: 1\n" + extra_spec));
    StartController(std::move(flags));
    EXPECT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 2; }, 30s)) << Status().dump(2);
    const auto running = RunningAllocList("alpha");
    if (running.size() != 2) return {};
    const std::string holder = running[0].id;
    const std::string standby = running[1].id;
    lock_id_ = Acquire(holder);
    EXPECT_FALSE(lock_id_.empty());
    EXPECT_TRUE(WaitUntil([&] { return ReadyWithHolder(); }, 30s)) << Status().dump(2);
    return {holder, standby};
  }

  base::Duration heartbeat_ttl_ = 60s;  // set before SetUp by fixtures that need faster detection
  // The Nomad version profile (set before SetUp). The scenarios that turn on lock changes run on
  // the 1.x profiles, where the controller follows locks without Variable events; the stream-gap
  // scenario floods the buffer with variable writes, which are events only from 2.0.
  std::string profile_ = "2.0";
  std::string lock_id_;
  std::jthread renewer_;
  std::vector<std::string> stops_;  // POST /v1/allocation/... paths, guarded by the model mutex
};

// A partition cuts the holder's lock agent off: its lease lapses and the standby takes the lock.
// The partition heals before the node is declared down (heartbeat TTL + grace = 120 s virtual),
// so the old holder's allocation reconnects still running: two live allocations claim the lock.
// The controller stops the old holder's allocation — never the current holder — and counts it.
class ControllerFaultsOn1_11 : public ControllerFaults {
 protected:
  ControllerFaultsOn1_11() { profile_ = "1.11"; }
};

TEST_F(ControllerFaultsOn1_11, ReconnectedOldHolderIsStoppedAndTheHolderKept) {
  // The partitioned client must not stop the allocation on its own before the heal (that takes
  // stop_on_client_after, 30 s virtual = 3 s wall by default: too close to the lease's 21 s under
  // load), so it is raised; node-down detection (120 s virtual) still bounds the window.
  const auto [old_holder, standby] =
      ConvergeWithHolder({}, "  failover: {stopOnClientAfter: 10m}\n");
  ASSERT_FALSE(old_holder.empty());
  server_->WithModel([&] {
    server_->router().SetRequestObserver([this](const sim::Request& r) {
      if (r.method == "POST" && r.path.rfind("/v1/allocation/", 0) == 0) stops_.push_back(r.path);
    });
  });
  const std::string node = NodeOf(old_holder);
  server_->WithModel([&] { ASSERT_TRUE(server_->cluster().Partition(node).ok()); });

  // The old lease lapses (no renewals: 2 × 10 s + 1 s virtual); the partition heals; the standby's
  // agent takes the lock.
  const std::string new_lock = AcquireWhenFree(standby);
  ASSERT_FALSE(new_lock.empty()) << "the old lease never lapsed";
  server_->WithModel([&] { ASSERT_TRUE(server_->cluster().Heal(node).ok()); });
  // The old holder's allocation still runs on the healed node. (The controller may already have
  // asked Nomad to stop it: once the standby holds the lock, a live past holder is a duplicate,
  // even while its node is cut off.)
  ASSERT_TRUE(Alloc(old_holder) && Alloc(old_holder)->client_status == "running")
      << "the partition must heal before the node is declared down: "
      << (Alloc(old_holder) ? Alloc(old_holder)->client_status + "/" +
                                  Alloc(old_holder)->desired_status
                            : std::string("gone"));

  ASSERT_TRUE(WaitUntil([&] { return Alloc(old_holder)->desired_status == "stop"; }, 30s))
      << Status().dump(2);
  ASSERT_TRUE(WaitUntil([&] { return Metric(Series("duplicates_total")) == 1; }, 10s))
      << Metrics();
  EXPECT_GE(Metric(Series("enforcement_stops_total")), 1);
  // The holder survived; only the old holder's allocation was stopped, through the stop endpoint.
  const auto holder = Alloc(standby);
  ASSERT_TRUE(holder);
  EXPECT_EQ(holder->desired_status, "run");
  EXPECT_EQ(holder->client_status, "running");
  server_->WithModel([&] {
    EXPECT_FALSE(stops_.empty());
    for (const auto& p : stops_) {
      EXPECT_EQ(p, "/v1/allocation/" + old_holder + "/stop") << "stopped something else";
    }
  });
  // Nomad places a new standby for the stopped allocation; the holder stays Ready.
  EXPECT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 2 && ReadyWithHolder(); }, 30s))
      << Status().dump(2);
  EXPECT_EQ(Metric(Series("duplicates_total")), 1) << "one duplicate counted once";
  EXPECT_EQ(controller_->Stop(), 0);
}

class ControllerNodeCrash : public ControllerFaults {
 protected:
  ControllerNodeCrash() {
    heartbeat_ttl_ = 2s;  // a crashed node is down after ≤ 6 s virtual
    profile_ = "1.10";
  }
};

// The holder's node crashes. Nomad declares it down within seconds (virtual) and the controller
// starts timing a failover; the holder's lease lapses 2 × TTL + delay after its last renewal,
// the standby's agent takes the lock, and the controller records the failover's duration.
TEST_F(ControllerNodeCrash, FailoverToTheStandbyIsTimed) {
  const auto [old_holder, standby] = ConvergeWithHolder();
  ASSERT_FALSE(old_holder.empty());
  ASSERT_NE(NodeOf(old_holder), NodeOf(standby)) << "the standby must run on another node";
  KeepRenewing(lock_id_);
  EXPECT_EQ(Metric(Series("failovers_total")), 0);

  const std::string node = NodeOf(old_holder);
  const auto crashed_at = std::chrono::steady_clock::now();
  StopRenewing();  // the agent dies with its node
  server_->WithModel([&] { ASSERT_TRUE(server_->cluster().CrashNode(node).ok()); });
  // Nomad marks the allocation lost; the controller sees its holder gone.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto d = ConditionOf(kKey, "Degraded");
        return d && d->second == "FailoverInProgress";
      },
      30s))
      << Status().dump(2);
  const std::string new_lock = AcquireWhenFree(standby);
  ASSERT_FALSE(new_lock.empty());
  const double bound =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - crashed_at).count() + 10;

  ASSERT_TRUE(WaitUntil(
      [&] { return Metric(Series("failover_duration_seconds_count")) == 1; }, 30s))
      << Metrics();
  EXPECT_EQ(Metric(Series("failovers_total")), 1);
  const double took = Metric(Series("failover_duration_seconds_sum"));
  EXPECT_GT(took, 0);
  EXPECT_LT(took, bound) << "measured from the holder's loss, not from some earlier time";
  EXPECT_TRUE(WaitUntil([&] { return ReadyWithHolder(); }, 10s)) << Status().dump(2);
  EXPECT_EQ(Alloc(standby)->desired_status, "run");
  EXPECT_EQ(Metric(Series("enforcement_stops_total")), 0) << "a failover is not a duplicate";
  EXPECT_EQ(controller_->Stop(), 0);
}

// Nomad answers every call with 500 "No cluster leader" and its event streams end, for 3 s of
// wall time, while a spec changes. The controller keeps trying with backoff — counted at the
// simulator, its requests stay bounded — and registers the change once Nomad is back.
TEST_F(ControllerFaults, OutageIsRetriedWithBackoffThenConverges) {
  const nomad::Job before = ConvergeOne();
  ASSERT_FALSE(before.id.empty());

  std::map<std::string, uint64_t> during;
  server_->WithModel([&] {
    sim::Router::Fault f;
    f.route = "";  // every Nomad path
    f.status = 500;
    f.body = "No cluster leader";
    server_->router().AddFault(f);
    server_->router().CloseStreams();
    server_->router().ResetRequestCounts();
  });
  WriteSpec("alpha", SpecYaml("alpha", "2000"));
  const auto outage = std::chrono::steady_clock::now();
  // The outage lasts 3 s; wait for that while checking that the change is not applied.
  EXPECT_FALSE(WaitUntil([&] { return Job("alpha")->version > before.version; }, 3s));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - outage).count();
  server_->WithModel([&] {
    during = server_->router().RequestCounts();
    server_->router().ClearFaults();
  });
  uint64_t total = 0;
  std::string counts;
  for (const auto& [route, n] : during) {
    total += n;
    counts += route + ": " + std::to_string(n) + "\n";
  }
  // Backoff: the event stream reconnects from 500 ms doubling (full jitter: about 4 attempts in
  // 3 s), the changed key is retried from 5 ms doubling (about 10 reconciles, each stopping at its
  // first failed read). Measured: 17-23 requests in 3 s. A loop without backoff would make
  // thousands.
  EXPECT_GT(total, 0u) << "the controller did not notice the outage";
  EXPECT_LE(total, 60u) << seconds << " s of outage:\n" << counts;
  EXPECT_LE(during["GET /v1/event/stream"], 10u) << counts;

  const double back = Now();
  ASSERT_TRUE(WaitUntil([&] { return Job("alpha")->version > before.version; }, 30s))
      << Status().dump(2);
  EXPECT_TRUE(WaitUntil([&] { return Reconciled({kKey}, back, "InSync"); }, 30s))
      << Status().dump(2);
  EXPECT_TRUE(WaitUntil([&] { return Metric("nomad_singleton_event_stream_up") == 1; }, 30s));
  EXPECT_EQ(controller_->Stop(), 0);
}

// The event stream ends; before the controller reconnects, the job is scaled by hand and 150
// unrelated writes push that change out of Nomad's 100-entry event buffer, so the resumed stream
// cannot deliver it. The reconnect is a possible gap: the controller re-lists, sees the drift and
// reverts it.
TEST_F(ControllerFaults, StreamGapIsReListedAndTheMissedChangeActedOn) {
  const nomad::Job before = ConvergeOne();
  ASSERT_FALSE(before.id.empty());
  const double gaps = Metric("nomad_singleton_event_stream_gaps_total");

  server_->WithModel([&] {  // one step: the controller cannot reconnect in between
    EXPECT_EQ(server_->router().CloseStreams(), 1u);
    auto job = *server_->cluster().GetJob("default", "alpha");
    job.task_groups.at(0).count = 2;
    ASSERT_TRUE(server_->cluster().Register({job, false, 0}, "default").ok());
    for (int i = 0; i < 150; ++i) {
      nomad::Variable v;
      v.path = "flood/" + std::to_string(i);
      v.items["i"] = std::to_string(i);
      ASSERT_EQ(server_->variables().Set(Management(), "default", v, std::nullopt).status, 200);
    }
  });

  ASSERT_TRUE(WaitUntil(
      [&] { return Metric("nomad_singleton_event_stream_gaps_total") >= gaps + 1; }, 30s))
      << Metrics();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto j = Job("alpha");
        return j->version > before.version + 1 && j->task_groups.at(0).count == 1;
      },
      30s))
      << "the hand scaling was missed\n" << Status().dump(2);
  EXPECT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 1; }, 30s));
  EXPECT_EQ(controller_->Stop(), 0);
}

}  // namespace
}  // namespace nsg
