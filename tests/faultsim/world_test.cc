// The deterministic fault simulation (issue 7): hundreds of seeded worlds with faults must show no
// violation; the same seed must replay the same history; and the negative controls must make the
// checker fail — otherwise a green run proves nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "controller/faultsim/world.h"

namespace nsg::faultsim {
namespace {

#ifdef NSG_FAULTSIM_SANITIZED
constexpr int kSeedsPerShard = 10;  // sanitizers run the cores ~10x slower; test.sh adds 300 Release worlds
constexpr int kFocusedWorlds = 3;   // the single-fault-kind tests below
#else
constexpr int kSeedsPerShard = 100;  // 5 shards: 500 seeds
constexpr int kFocusedWorlds = 6;
#endif

std::string Describe(const WorldReport& r) {
  std::string out = "seed " + std::to_string(r.seed) + " (replay: nomad-singleton simulate --seed " +
                    std::to_string(r.seed) + " --trace)\n";
  for (const auto& v : r.violations) out += "  " + v.kind + ": " + v.message + "\n";
  for (const auto& s : r.singletons) out += "  spec " + s + "\n";
  const size_t from = r.timeline.size() > 40 ? r.timeline.size() - 40 : 0;
  for (size_t i = from; i < r.timeline.size(); ++i) out += "  | " + r.timeline[i] + "\n";
  return out;
}

class SeedShard : public ::testing::TestWithParam<int> {};

// The shards split the seeds across the Nomad version profiles (1.10, 1.11, 2.0, 1.10, 1.11):
// before 2.0 the controllers follow locks with a blocking list, not Variable events.
TEST_P(SeedShard, NoViolationUnderFaults) {
  WorldOptions o;
  const std::string profile =
      nomad::VersionProfiles()[static_cast<size_t>(GetParam()) % nomad::VersionProfiles().size()];
  o.version = nomad::NomadVersion::FromProfile(profile).value();
  SCOPED_TRACE("nomad " + o.version.ToString() + " (simulate --nomad-version " + profile + ")");
  int faults = 0, samples = 0;
  for (int i = 0; i < kSeedsPerShard; ++i) {
    o.seed = 1 + static_cast<uint64_t>(GetParam() * 1000 + i);
    auto r = RunWorld(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r.value().ok()) << Describe(r.value());
    faults += r.value().faults;
    for (const auto& [_, v] : r.value().measured.downtime) samples += static_cast<int>(v.size());
  }
  // The schedule must really hit the workloads, or "no violation" would mean nothing.
  EXPECT_GT(faults, kSeedsPerShard * 3);
  EXPECT_GT(samples, kSeedsPerShard);
}

INSTANTIATE_TEST_SUITE_P(FaultSim, SeedShard, ::testing::Range(0, 5));

TEST(FaultSim, SameSeedSameHistory) {
  WorldOptions o;
  o.seed = 4242;
  std::vector<std::string> a, b;
  o.trace = [&a](const std::string& l) { a.push_back(l); };
  ASSERT_TRUE(RunWorld(o).ok());
  o.trace = [&b](const std::string& l) { b.push_back(l); };
  ASSERT_TRUE(RunWorld(o).ok());
  ASSERT_GT(a.size(), 100u);
  EXPECT_EQ(a, b);
}

// Each control must report an overlap within a handful of worlds; returns how many worlds it took
// (0: none of `seeds` showed one).
int WorldsWithOverlap(WorldOptions o, int seeds) {
  for (int i = 0; i < seeds; ++i) {
    o.seed = 7000 + static_cast<uint64_t>(i);
    auto r = RunWorld(o);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) continue;
    for (const auto& v : r.value().violations) {
      if (v.kind == "overlap") return i + 1;
    }
  }
  return 0;
}

TEST(FaultSimControl, BrokenTimerRuleOverlaps) {
  WorldOptions o;
  o.break_timer_rule = true;
  EXPECT_GT(WorldsWithOverlap(o, 10), 0);
}

TEST(FaultSimControl, StockVarLockOverlaps) {
  WorldOptions o;
  o.shape = Shape::kGuide;
  o.agent = AgentKind::kVarLock;
  EXPECT_GT(WorldsWithOverlap(o, 10), 0);
}

TEST(FaultSimControl, PlainCountOneOverlaps) {
  WorldOptions o;
  o.shape = Shape::kPlain;
  o.agent = AgentKind::kNone;
  EXPECT_GT(WorldsWithOverlap(o, 10), 0);
}

// The failover budget, measured in virtual time (deterministic): a hot standby (TTL 10 s, delay
// 3 s) takes over from a crashed holder within 2T + D + 0.5 s and from a graceful stop within 1 s.
TEST(FaultSim, HotStandbyFailsOverWithinTheBudget) {
  WorldOptions o;
  o.shape = Shape::kHotStandby;
  std::vector<double> crash, graceful;
  for (int i = 0; i < 30; ++i) {
    o.seed = 500 + static_cast<uint64_t>(i);
    auto r = RunWorld(o);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r.value().ok()) << Describe(r.value());
    const auto& d = r.value().measured.downtime;
    if (auto it = d.find("node-crash (standby waiting)"); it != d.end()) {
      crash.insert(crash.end(), it->second.begin(), it->second.end());
    }
    for (const char* k : {"graceful-stop", "graceful-stop (standby waiting)"}) {
      if (auto it = d.find(k); it != d.end()) {
        graceful.insert(graceful.end(), it->second.begin(), it->second.end());
      }
    }
  }
  ASSERT_GE(crash.size(), 10u);
  ASSERT_GE(graceful.size(), 5u);
  EXPECT_LE(*std::max_element(crash.begin(), crash.end()), 2 * 10 + 3 + 0.5);
  EXPECT_LE(*std::max_element(graceful.begin(), graceful.end()), 1.0);
}

// Issue 11 (4): a new Nomad leader answers renewals with 409 until it restores its lock timers
// (0.2–5 s here). The holders check the variable, see no write since their acquire, and keep
// running: no workload is stopped, so every singleton's workload starts exactly once.
TEST(FaultSim, LeaderElectionsWithLateTimerRestoreStopNoHolder) {
  WorldOptions o;
  o.shape = Shape::kHotStandby;
  o.fault_kinds = {"leadership-loss"};
  o.controllers = 1;
  for (int i = 0; i < kFocusedWorlds; ++i) {
    o.seed = 800 + static_cast<uint64_t>(i);
    auto r = RunWorld(o);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r.value().ok()) << Describe(r.value());
    EXPECT_GT(r.value().faults, 2);
    EXPECT_EQ(r.value().measured.workload_starts, static_cast<int>(r.value().singletons.size()))
        << Describe(r.value());
  }
}

// An operator's forced release breaks at-most-one by design (a standby acquires at once); what
// nomad-singleton promises is that the old holder's workload dies within its next renew (T/3),
// the guard's poll and a second of latency. docs/nomad-compatibility.md, known bugs.
TEST(FaultSim, ForcedReleaseOverlapEndsAtTheHoldersNextRenew) {
  WorldOptions o;
  o.shape = Shape::kHotStandby;
  o.fault_kinds = {"forced-release"};
  int episodes = 0;
  for (int i = 0; i < kFocusedWorlds; ++i) {
    o.seed = 900 + static_cast<uint64_t>(i);
    auto r = RunWorld(o);
    ASSERT_TRUE(r.ok());
    for (const auto& [length, bound] : r.value().measured.overlap_episodes) {
      ++episodes;
      EXPECT_LE(length, bound) << Describe(r.value());
    }
  }
  EXPECT_GE(episodes, kFocusedWorlds / 3);  // the standbys did take over at once
}

// Issue 16: process pauses and a full disk. Each focused test counts the timeline lines that show
// the fault really hit (a workload frozen and killed at the thaw, a controller frozen, a lease
// left unwritten), so "no violation" cannot come from a fault that never landed.
struct FocusedRun {
  int violations = 0, faults = 0;
  std::map<std::string, int> lines;  // needle → lines that contain it
  std::map<std::string, std::vector<double>> downtime;
  int stale_stops = 0;
  std::string first_failure;
};

FocusedRun RunFocused(const std::string& kind, uint64_t first_seed, int worlds,
                      const std::vector<std::string>& needles, bool graceful_guard = false) {
  FocusedRun out;
  for (int i = 0; i < worlds; ++i) {
    WorldOptions o;
    o.shape = Shape::kHotStandby;
    o.fault_kinds = {kind};
    o.graceful_guard_after_pause = graceful_guard;
    o.seed = first_seed + static_cast<uint64_t>(i);
    o.version = nomad::NomadVersion::FromProfile(
                    nomad::VersionProfiles()[static_cast<size_t>(i) %
                                             nomad::VersionProfiles().size()])
                    .value();
    o.trace = [&](const std::string& line) {
      for (const auto& n : needles) {
        if (line.find(n) != std::string::npos) ++out.lines[n];
      }
    };
    auto r = RunWorld(o);
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      continue;
    }
    out.faults += r.value().faults;
    out.stale_stops += r.value().measured.stale_stops;
    if (!r.value().ok()) {
      ++out.violations;
      if (out.first_failure.empty()) out.first_failure = Describe(r.value());
    }
    for (const auto& [k, v] : r.value().measured.downtime) {
      out.downtime[k].insert(out.downtime[k].end(), v.begin(), v.end());
    }
  }
  return out;
}

// A whole allocation frozen (agent, guard and workload) past 2T + D: a standby takes the lock;
// at the thaw the guard KILLs the old workload before it runs beside the successor.
TEST(FaultSim, FrozenAllocationThawsWithoutOverlap) {
  const FocusedRun r = RunFocused("alloc-freeze", 1100, kFocusedWorlds * 2,
                                  {"killed while frozen", "frozen for"});
  EXPECT_EQ(r.violations, 0) << r.first_failure;
  EXPECT_GT(r.lines.count("frozen for") ? r.lines.at("frozen for") : 0, kFocusedWorlds);
  // Some freeze outlasted the lease while a successor took over, and its workload died at the thaw.
  EXPECT_GE(r.lines.count("killed while frozen") ? r.lines.at("killed while frozen") : 0, 1);
}

// The negative control: a guard that still grants the kill timeout's grace after such a pause
// lets the thawed workload run beside the successor; the checker must see it.
TEST(FaultSimControl, GracefulGuardAfterAPauseOverlaps) {
  const FocusedRun r =
      RunFocused("alloc-freeze", 1100, kFocusedWorlds * 2, {}, /*graceful_guard=*/true);
  EXPECT_GE(r.violations, 1);
}

// A controller frozen at any point, mid-reconcile too (a request decided before the freeze leaves
// after it): it never writes over a newer leader's job nor causes an overlap. A stop it decided
// before the freeze may still hit a new holder (no client-side check can fence a pause between the
// check and the send; Nomad's allocation stop has no check-and-set): that costs a failover and is
// counted, not hidden.
TEST(FaultSim, FrozenControllerWritesNothingStale) {
  const FocusedRun r = RunFocused("controller-freeze", 1200, kFocusedWorlds * 2, {"frozen for"});
  EXPECT_EQ(r.violations, 0) << r.first_failure;
  EXPECT_GT(r.lines.count("frozen for") ? r.lines.at("frozen for") : 0, kFocusedWorlds);
  std::cout << "stale stops after a controller freeze: " << r.stale_stops << "\n";
}

// A full allocation disk: the lease cannot be extended, the guard stops the workload at the last
// deadline it read, and the agent then gives the lock up, so a hot standby takes over (issue 16,
// item 4), typically within the crash budget of the shape (2T + D + 0.5 s with T = 10 s,
// D = 3 s). A standby whose own lease cannot be written does not campaign (before, it took the
// lock and gave it up in turn: 34 s in seed 1304, now 4.9 s); the maximum stays a loose bound.
TEST(FaultSim, FullAllocDiskFailsOverToTheStandby) {
  const FocusedRun r = RunFocused("disk-full", 1300, kFocusedWorlds * 2,
                                  {"cannot write the lease", "giving the lock up"});
  EXPECT_EQ(r.violations, 0) << r.first_failure;
  EXPECT_GE(r.lines.count("giving the lock up") ? r.lines.at("giving the lock up") : 0, 1);
  auto it = r.downtime.find("disk-full (standby waiting)");
  ASSERT_NE(it, r.downtime.end());
  ASSERT_FALSE(it->second.empty());
  std::vector<double> d = it->second;
  std::sort(d.begin(), d.end());
  EXPECT_LE(d[d.size() / 2], 2 * 10 + 3 + 0.5);
  EXPECT_LE(d.back(), 60.0);
}

TEST(FaultSim, NoFaultsMeansEveryoneRunsAndNobodyOverlaps) {
  WorldOptions o;
  o.faults = false;
  o.seed = 9;
  o.duration = std::chrono::minutes(3);
  o.quiet = std::chrono::minutes(2);
  auto r = RunWorld(o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().ok()) << Describe(r.value());
  EXPECT_EQ(r.value().measured.overlaps, 0);
}

TEST(FaultSim, UserSpecsThatDoNotLoadAreAnError) {
  WorldOptions o;
  o.spec_files = {{"bad.yaml", "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\n"}};
  auto r = RunWorld(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.yaml"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace nsg::faultsim
