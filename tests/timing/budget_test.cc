#include "controller/timing/budget.h"

#include <gtest/gtest.h>

namespace nsg::timing {
namespace {

using namespace std::chrono_literals;

Timers Defaults() {
  Timers t;
  t.ttl = 15s;
  t.delay = 15s;
  t.give_up = 15s;
  t.kill_timeout = 5s;
  t.stop_on_client_after = 30s;
  t.guard_poll = 250ms;
  return t;
}

TEST(BudgetTest, DefaultsAreSafeWithTheExpectedMargin) {
  Budget b = Compute(Defaults());
  // server: 45s × 0.99 = 44.55s; holder: (15 + 0.25 + 5)s × 1.01 + 1s = 21.4525s.
  EXPECT_EQ(b.server_hold, 44550ms);
  EXPECT_EQ(b.kill_deadline, Duration(21452500000));
  EXPECT_EQ(b.worst_case_overlap, b.kill_deadline - b.server_hold);
  EXPECT_TRUE(b.safe());
}

TEST(BudgetTest, OverlapIsPositiveWhenGiveUpOutlivesTheLock) {
  Timers t = Defaults();
  t.ttl = 10s;
  t.delay = 0s;
  t.give_up = 20s;  // 20 + 0.25 + 5 > 20
  Budget b = Compute(t);
  EXPECT_FALSE(b.safe());
  EXPECT_GT(b.worst_case_overlap, Duration(0));
}

TEST(BudgetTest, SafetyFlipsOnceAsGiveUpGrows) {
  // Overlap grows with G: the rule holds up to some G and never again after it.
  Timers t = Defaults();
  bool was_safe = true;
  int flips = 0;
  t.give_up = 0s;
  Duration last = Compute(t).worst_case_overlap;
  for (Duration g = 1s; g <= 60s; g += 100ms) {
    t.give_up = g;
    Budget b = Compute(t);
    EXPECT_GT(b.worst_case_overlap, last);
    last = b.worst_case_overlap;
    if (b.safe() != was_safe) ++flips;
    was_safe = b.safe();
  }
  EXPECT_EQ(flips, 1);
  EXPECT_FALSE(was_safe);
}

TEST(BudgetTest, EverySuggestionMakesTheRuleHold) {
  Timers bad = Defaults();
  bad.ttl = 10s;
  bad.delay = 1s;
  bad.give_up = 15s;
  bad.kill_timeout = 10s;
  ASSERT_FALSE(Compute(bad).safe());
  std::vector<std::string> s = Suggestions(bad);
  ASSERT_FALSE(s.empty());
  // Apply each suggestion by parsing its number back and check it fixes the overlap.
  for (const std::string& line : s) {
    Timers fixed = bad;
    auto pos = line.find(" to ");
    ASSERT_NE(pos, std::string::npos) << line;
    std::string value = line.substr(pos + 4, line.find(' ', pos + 4) - pos - 4);
    auto d = base::ParseDuration(value);
    ASSERT_TRUE(d.ok()) << line;
    if (line.find("giveUp") != std::string::npos) fixed.give_up = *d;
    else if (line.find("lock.delay") != std::string::npos) fixed.delay = *d;
    else if (line.find("lock.ttl") != std::string::npos) fixed.ttl = *d;
    else if (line.find("kill timeout") != std::string::npos) fixed.kill_timeout = *d;
    else FAIL() << "unexpected suggestion: " << line;
    EXPECT_TRUE(Compute(fixed).safe()) << line;
  }
}

TEST(BudgetTest, AHugeKillTimeoutIsToBeLoweredNotTheLockDelayRaised) {
  Timers t = Defaults();
  t.kill_timeout = 100h;
  ASSERT_FALSE(Compute(t).safe());
  const std::vector<std::string> s = Suggestions(t);
  ASSERT_EQ(s.size(), 1u) << ::testing::PrintToString(s);
  EXPECT_EQ(s[0].rfind("lower the workload's kill timeout to ", 0), 0u) << s[0];
}

TEST(BudgetTest, CrashFailoverWithAndWithoutStandby) {
  Timers t = Defaults();
  Assumptions a;
  // No standby: 30s detection + 30s stop_on_client_after + max(5s,5s) + 1s placement = 66s >
  // 45.45s (lock free on a fast server clock), + 0.5s acquire.
  EXPECT_EQ(Compute(t, a).crash_failover, 66500ms);
  t.standby = 1;
  // Standby: 45s × 1.01 + 0.5s.
  EXPECT_EQ(Compute(t, a).crash_failover, 45950ms);
  // Graceful with standby: K + acquire.
  EXPECT_EQ(Compute(t, a).graceful_handover, 5500ms);
}

TEST(BudgetTest, RenewIntervalIsAThirdOfTheTtl) { EXPECT_EQ(RenewInterval(15s), 5s); }

spec::Singleton SingletonWith(Duration ttl, Duration delay, std::optional<Duration> give_up) {
  spec::Singleton s;
  s.metadata.name = "x";
  s.source = {"x.yaml", 1, 1};
  s.spec.lock.path = "nomad/jobs/x/lock";
  s.spec.lock.ttl = ttl;
  s.spec.lock.delay = delay;
  s.spec.failover.give_up = give_up;
  s.spec.task = spec::TaskSpec{};
  s.positions["spec.lock.ttl"] = {"x.yaml", 9, 10};
  s.positions["spec.failover.giveUp"] = {"x.yaml", 12, 13};
  return s;
}

TEST(CheckTimerRuleTest, AcceptsDefaults) {
  std::vector<spec::Diagnostic> out;
  CheckTimerRule(SingletonWith(15s, 15s, std::nullopt), out);
  EXPECT_TRUE(out.empty());
}

TEST(CheckTimerRuleTest, RejectsOverlapAtTheGiveUpField) {
  std::vector<spec::Diagnostic> out;
  CheckTimerRule(SingletonWith(10s, 1ms, 20s), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].field, "spec.failover.giveUp");
  EXPECT_EQ(out[0].pos.line, 12);
  EXPECT_NE(out[0].message.find("timer rule broken"), std::string::npos) << out[0].message;
  EXPECT_NE(out[0].message.find("lower failover.giveUp to"), std::string::npos) << out[0].message;
  EXPECT_NE(out[0].message.find("raise lock.delay to"), std::string::npos) << out[0].message;
}

TEST(CheckTimerRuleTest, RejectsAGiveUpShorterThanTwoRenewals) {
  std::vector<spec::Diagnostic> out;
  CheckTimerRule(SingletonWith(30s, 15s, 10s), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].field, "spec.failover.giveUp");
  EXPECT_NE(out[0].message.find("use at least 20s"), std::string::npos) << out[0].message;
}

TEST(ExplainTest, SaysSafeAndNamesTheNumbers) {
  auto lines = Explain(SingletonWith(15s, 15s, std::nullopt));
  std::string all;
  for (auto& l : lines) all += l + "\n";
  EXPECT_NE(all.find("renewed every 5s"), std::string::npos) << all;
  EXPECT_NE(all.find("45s after its last renew"), std::string::npos) << all;
  EXPECT_NE(all.find("(safe:"), std::string::npos) << all;
}

TEST(TimersOfTest, UsesTheDelayTheServerApplies) {
  // VariableLock.Canonicalize (nomad/structs/variables.go) turns a zero LockDelay into 15s; the
  // loader refuses 0, and a Singleton built another way is still budgeted for what Nomad applies.
  EXPECT_EQ(TimersOf(SingletonWith(15s, 0s, std::nullopt)).delay, 15s);
  EXPECT_EQ(TimersOf(SingletonWith(15s, 1ms, std::nullopt)).delay, 1ms);
}

TEST(TimersOfTest, CrashFailoverWaitsForTheGroupsLargestKillTimeout) {
  // Allocation.WaitClientStop (nomad/structs/alloc.go): the replacement is placed
  // stop_on_client_after + the largest kill timeout of any task in the group after the alloc is
  // lost. The lock agent's task has K + 5s (kAgentKillGrace), so with K = 5s that is 10s, not 5s:
  // 30s detection + 30s + 10s + 1s placement + 0.5s acquire.
  spec::Singleton s = SingletonWith(15s, 15s, std::nullopt);
  const Timers t = TimersOf(s);
  EXPECT_EQ(t.group_kill_timeout, 10s);
  EXPECT_EQ(Compute(t).crash_failover, 71500ms);
  std::string all;
  for (auto& l : Explain(s)) all += l + "\n";
  EXPECT_NE(all.find("worst-case downtime after a crash or partition: 71.5s"), std::string::npos)
      << all;
  EXPECT_NE(all.find("the group's largest kill timeout 10s"), std::string::npos) << all;
  // A template task with a longer kill timeout (a log shipper, say) counts too.
  s.template_max_kill_timeout = 60s;
  EXPECT_EQ(TimersOf(s).group_kill_timeout, 60s);
  EXPECT_EQ(Compute(TimersOf(s)).crash_failover, 121500ms);
}

}  // namespace
}  // namespace nsg::timing
