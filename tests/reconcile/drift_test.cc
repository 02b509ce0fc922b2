#include "controller/reconcile/drift.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/reconcile/fixtures.h"

namespace nsg::reconcile {
namespace {

using namespace std::chrono_literals;
using testing::Billing;
using testing::RenderOrDie;
using testing::ServerJob;
using Paths = std::vector<std::string>;

nomad::Job Desired(const std::string& mode = "sidecar") {
  return RenderOrDie(Billing(0, mode)).job;
}

nomad::Task& TaskOf(nomad::Job& j, const std::string& name) {
  for (auto& t : j.task_groups[0].tasks) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no task " + name);
}

std::vector<std::string> Reasons(const std::vector<InvariantDrift>& v) {
  std::vector<std::string> out;
  for (const auto& d : v) out.push_back(d.reason);
  return out;
}

TEST(FieldDriftTest, IdenticalJobsDoNotDrift) {
  const nomad::Job j = Desired();
  EXPECT_EQ(CheckDrift(j, j).fields, Paths{});
  EXPECT_TRUE(CheckDrift(j, j).invariants.empty());
}

TEST(FieldDriftTest, WhatOnlyTheServerFillsInIsIgnored) {
  for (const char* mode : {"sidecar", "shim", "split"}) {
    const nomad::Job want = Desired(mode);
    const nomad::Job got = ServerJob(want, 20);
    EXPECT_EQ(CheckDrift(want, got).fields, Paths{}) << mode;
    EXPECT_TRUE(CheckDrift(want, got).invariants.empty()) << mode;
  }
}

TEST(FieldDriftTest, UnsetDesiredStringsTakeAnyServerValue) {
  nomad::Job want = Desired();
  nomad::Job got = ServerJob(want, 20);
  ASSERT_TRUE(want.node_pool.empty());
  got.node_pool = "gpu";
  TaskOf(got, "main").user = "root";
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{});
  // ...but a value the desired job does set must be equal.
  want.node_pool = "default";
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{"NodePool"});
}

TEST(FieldDriftTest, TasksAndGroupsAreMatchedByNameNotPosition) {
  const nomad::Job want = Desired();
  nomad::Job got = ServerJob(want, 20);
  std::reverse(got.task_groups[0].tasks.begin(), got.task_groups[0].tasks.end());
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{});
}

TEST(FieldDriftTest, AddedAndMissingNamedElementsAreDrift) {
  const nomad::Job want = Desired();
  nomad::Job got = ServerJob(want, 20);
  nomad::TaskGroup extra;
  extra.name = "second";
  got.task_groups.push_back(extra);
  std::erase_if(got.task_groups[0].tasks, [](const nomad::Task& t) { return t.name == "main"; });
  EXPECT_EQ(CheckDrift(want, got).fields,
            (Paths{"TaskGroups[singleton].Tasks[main]", "TaskGroups[second]"}));
}

TEST(FieldDriftTest, ListsWithoutNamesCompareByPositionAndLength) {
  const nomad::Job want = Desired();
  nomad::Job got = ServerJob(want, 20);
  got.datacenters = {"dc1", "dc2"};
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{"Datacenters"});
  got.datacenters = {"dc2"};
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{"Datacenters[0]"});
}

TEST(FieldDriftTest, NumbersCompareByValueAndServerKeysAreExtra) {
  nomad::Job want = Desired();
  TaskOf(want, "main").config = R"({"command":"/app","port":8080})";
  nomad::Job got = ServerJob(want, 20);
  TaskOf(got, "main").config = R"({"command":"/app","port":8080.0,"added_by_driver":true})";
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{});
  TaskOf(got, "main").config = R"({"command":"/app","port":8081})";
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{"TaskGroups[singleton].Tasks[main].Config.port"});
}

TEST(FieldDriftTest, ZeroDesiredMatchesAMissingValueButOthersDoNot) {
  nomad::Job want = Desired();
  want.task_groups[0].extra["ShutdownDelay"] = "0";
  nomad::Job got = ServerJob(want, 20);
  got.task_groups[0].extra.erase("ShutdownDelay");
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{});
  want.task_groups[0].extra["ShutdownDelay"] = "5000000000";
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{"TaskGroups[singleton].ShutdownDelay"});
}

TEST(FieldDriftTest, AnObjectReplacedByNullIsDrift) {
  nomad::Job want = Desired();
  want.extra["Update"] = R"({"MaxParallel":1})";
  nomad::Job got = ServerJob(want, 20);
  got.extra["Update"] = "null";
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{"Update"});
}

TEST(FieldDriftTest, OnlySourceAndRevisionMetaAreExempt) {
  const nomad::Job want = Desired();
  nomad::Job got = ServerJob(want, 20);
  got.meta[render::kMetaSource] = "elsewhere.yaml";
  got.meta[render::kMetaRevision] = "ffff";
  got.meta["added-by-someone"] = "x";
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{});
  got.meta[render::kMetaLockPath] = "nomad/jobs/other/lock";
  EXPECT_EQ(CheckDrift(want, got).fields, Paths{"Meta.nomad-singleton/lock-path"});
}

TEST(CheckInvariantsTest, ReportsEveryBrokenInvariantInOrder) {
  const nomad::Job want = Desired();
  nomad::Job got = ServerJob(want, 20);
  got.stop = true;
  got.task_groups[0].count = 2;
  TaskOf(got, render::kLockTaskName).leader = false;
  got.task_groups[0].disconnect->replace = false;
  const auto inv = CheckDrift(want, got).invariants;
  EXPECT_EQ(Reasons(inv), (std::vector<std::string>{"JobStopped", "CountDrifted",
                                                    "LockTaskDrifted", "DisconnectDrifted"}));
  EXPECT_EQ(inv[1].message, "group singleton: Count is 2, want 1");
  EXPECT_EQ(inv[2].message, "group singleton: lock task singleton-lock changed: Leader");
  EXPECT_EQ(inv[3].message, "group singleton: Disconnect changed: Replace");
}

// CheckDrift reports both checks from one encoding of each job.
TEST(CheckDriftTest, ReportsInvariantsAndFieldsTogether) {
  const nomad::Job want = Desired();
  nomad::Job got = ServerJob(want, 20);
  EXPECT_TRUE(CheckDrift(want, got).invariants.empty());
  EXPECT_TRUE(CheckDrift(want, got).fields.empty());
  got.task_groups[0].count = 2;
  TaskOf(got, render::kLockTaskName).leader = false;
  got.priority = 70;
  const DriftReport r = CheckDrift(want, got);
  EXPECT_NE(std::find(r.fields.begin(), r.fields.end(), "Priority"), r.fields.end());
  EXPECT_EQ(Reasons(r.invariants), (std::vector<std::string>{"CountDrifted", "LockTaskDrifted"}));
  EXPECT_FALSE(r.fields.empty());
}

TEST(CheckInvariantsTest, WorkloadChangesAreNotLockTaskDrift) {
  const nomad::Job want = Desired();
  nomad::Job got = ServerJob(want, 20);
  TaskOf(got, "main").env["APP_MODE"] = "dev";
  EXPECT_TRUE(CheckDrift(want, got).invariants.empty());
  EXPECT_EQ(CheckDrift(want, got).fields,
            Paths{"TaskGroups[singleton].Tasks[main].Env.APP_MODE"});
}

TEST(CheckInvariantsTest, ShimModeGuardsTheWrappedWorkload) {
  const nomad::Job want = Desired("shim");
  nomad::Job got = ServerJob(want, 20);
  TaskOf(got, "main").config = R"({"command":"/usr/local/bin/app"})";  // the shim unwrapped
  EXPECT_EQ(Reasons(CheckDrift(want, got).invariants),
            std::vector<std::string>{"LockTaskDrifted"});
}

TEST(CheckInvariantsTest, MissingDisconnectAndDifferentStopOnClientAfter) {
  const nomad::Job want = Desired();
  nomad::Job got = ServerJob(want, 20);
  got.task_groups[0].disconnect->stop_on_client_after.reset();
  EXPECT_EQ(CheckDrift(want, got).invariants[0].message,
            "group singleton: Disconnect changed: StopOnClientAfter");
  got.task_groups[0].disconnect.reset();
  EXPECT_EQ(CheckDrift(want, got).invariants[0].message,
            "group singleton has no Disconnect block");
}

TEST(CheckInvariantsTest, UnsetDesiredReplaceAndReconcileTakeTheServerDefaults) {
  nomad::Job want = Desired();
  want.task_groups[0].disconnect->replace.reset();
  want.task_groups[0].disconnect->reconcile.clear();
  nomad::Job got = ServerJob(want, 20);
  got.task_groups[0].disconnect->replace = true;
  got.task_groups[0].disconnect->reconcile = "best_score";
  EXPECT_TRUE(CheckDrift(want, got).invariants.empty());
}

TEST(LockTaskNamesTest, OneNamePerAgentTaskOfEachShape) {
  EXPECT_EQ(LockTaskNames(Desired("sidecar")), std::vector<std::string>{"singleton-lock"});
  EXPECT_EQ(LockTaskNames(Desired("split")),
            (std::vector<std::string>{"singleton-acquire", "singleton-lock"}));
  EXPECT_EQ(LockTaskNames(Desired("shim")), std::vector<std::string>{"main"});
}

}  // namespace
}  // namespace nsg::reconcile
