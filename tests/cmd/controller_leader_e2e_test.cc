// Two controller replicas with --leader-elect against the simulator over HTTP: only the holder of
// the leader lock writes, the other one stays synced and ready but does not register anything,
// and stopping the leader hands over at once (it releases the lock). Only the leader exports
// per-singleton metrics. Every wait has a deadline.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/cmd/controller_e2e_util.h"
#include "tests/test_support/wait.h"

namespace nsg {
namespace {

using namespace std::chrono_literals;
using cmd::testing::ControllerSimTest;
using cmd::testing::HttpGet;
using cmd::testing::MetricValue;
using cmd::testing::RunningController;
using cmd::testing::SpecYaml;
using test_support::WaitUntil;

class ControllerLeaderElection : public ControllerSimTest {
 protected:
  std::unique_ptr<RunningController> Replica() {
    return std::make_unique<RunningController>(std::vector<std::string>{
        "--specs", (dir_ / "specs").string(), "--http-addr", "127.0.0.1:0", "--address",
        server_->Address(), "--token", token_, "--leader-elect"});
  }
  static std::string MetricsOf(const RunningController& c) {
    auto r = HttpGet(c.http(), "/metrics");
    return r ? r->second : "";
  }
  static double Leader(const RunningController& c) {
    return MetricValue(MetricsOf(c), "nomad_singleton_leader").value_or(-1);
  }
  static bool Registered(const RunningController& c) {
    return MetricsOf(c).find("op=\"job.register\"") != std::string::npos;
  }
  static bool Ready(const RunningController& c) {
    auto r = HttpGet(c.http(), "/readyz");
    return r && r->first == 200;
  }
  uint64_t Version() {
    auto j = Job("alpha");
    return j ? j->version : UINT64_MAX;
  }
};

TEST_F(ControllerLeaderElection, OnlyTheLeaderWritesAndStoppingItHandsOver) {
  WriteSpec("alpha", SpecYaml("alpha", "1000"));
  auto first = Replica();
  ASSERT_FALSE(first->http().empty());
  ASSERT_TRUE(WaitUntil([&] { return Leader(*first) == 1; }, 30s)) << MetricsOf(*first);
  ASSERT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 1; }, 30s));

  auto second = Replica();
  ASSERT_FALSE(second->http().empty());
  ASSERT_TRUE(WaitUntil([&] { return Ready(*second); }, 30s));
  EXPECT_EQ(Leader(*second), 0) << "two leaders";
  // The standby exports no per-singleton series (its up=0 would page SingletonDown), but the same
  // controller_info as the leader; the leader exports alpha's (reconciled: it runs).
  const std::string standby = MetricsOf(*second);
  EXPECT_EQ(standby.find("singleton=\""), std::string::npos) << standby;
  const std::string info = "nomad_singleton_controller_info{leader_lock=\"nomad-singleton/leader\"";
  EXPECT_NE(standby.find(info), std::string::npos) << standby;
  EXPECT_TRUE(MetricValue(MetricsOf(*first), "nomad_singleton_up{singleton=\"default/alpha\"}"))
      << MetricsOf(*first);

  // A spec change is written by the leader only.
  const uint64_t v0 = Version();
  WriteSpec("alpha", SpecYaml("alpha", "2000"));
  // Default flags: the full rescan is 30 s away, so only the inotify watcher can be this quick.
  ASSERT_TRUE(WaitUntil([&] { return Version() != v0 && Version() != UINT64_MAX; }, 10s));
  // The request metric is recorded once the call returns, a moment after Nomad applied it.
  EXPECT_TRUE(WaitUntil([&] { return Registered(*first); }, 10s));
  EXPECT_FALSE(Registered(*second)) << "the standby replica registered a job";
  EXPECT_EQ(Leader(*second), 0);

  // The leader stops: it releases the lock and the standby leads at once (no 2T + D wait).
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(first->Stop(), 0);
  ASSERT_TRUE(WaitUntil([&] { return Leader(*second) == 1; }, 10s)) << MetricsOf(*second);
  const auto handover = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(handover, 10s);
  // The new leader exports the per-singleton series.
  EXPECT_TRUE(WaitUntil(
      [&] {
        return MetricsOf(*second).find("nomad_singleton_up{singleton=\"default/alpha\"}") !=
               std::string::npos;
      },
      10s))
      << MetricsOf(*second);

  // ...and it now writes.
  const uint64_t v1 = Version();
  WriteSpec("alpha", SpecYaml("alpha", "3000"));
  ASSERT_TRUE(WaitUntil([&] { return Version() != v1 && Version() != UINT64_MAX; }, 10s));
  EXPECT_TRUE(WaitUntil([&] { return Registered(*second); }, 10s));
  EXPECT_EQ(second->Stop(), 0);
}

}  // namespace
}  // namespace nsg
