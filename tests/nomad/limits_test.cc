// Tests for controller/nomad/limits.{h,cc}: Nomad's limits and server defaults, each at its edge.
#include "controller/nomad/limits.h"

#include <gtest/gtest.h>

namespace nsg::nomad {
namespace {

using namespace std::chrono_literals;

TEST(LimitsTest, PolicyNameAndDescription) {
  // nomad/structs/structs.go ValidPolicyName and maxPolicyDescriptionLength.
  EXPECT_FALSE(PolicyNameError(std::string(128, 'a')));
  EXPECT_EQ(PolicyNameError(std::string(129, 'a')), "invalid name '" + std::string(129, 'a') + "'");
  EXPECT_EQ(PolicyNameError("a_b"), "invalid name 'a_b'");
  EXPECT_EQ(PolicyNameError(""), "invalid name ''");
  EXPECT_FALSE(PolicyDescriptionError(std::string(256, 'd')));
  EXPECT_EQ(PolicyDescriptionError(std::string(257, 'd')), "description longer than 256");
  AclPolicy p;
  p.name = "x y";
  p.description = std::string(300, 'd');
  p.job_acl = JobAcl{"", "job", "", "t"};
  EXPECT_EQ(AclPolicyErrors(p),
            (std::vector<std::string>{"invalid name 'x y'", "description longer than 256",
                                      "namespace must be set to set job ID",
                                      "group must be set to set task"}));
}

TEST(LimitsTest, JobIdAndNamespace) {
  EXPECT_EQ(JobIdError(""), "Missing job ID");
  EXPECT_EQ(JobIdError("a b"), "Job ID contains a space");
  EXPECT_EQ(JobIdError(std::string("a\0b", 3)), "Job ID contains a null character");
  EXPECT_FALSE(JobIdError(std::string(500, 'j')));  // Nomad sets no length limit
  EXPECT_TRUE(ValidNamespace(std::string(128, 'n')));
  EXPECT_FALSE(ValidNamespace(std::string(129, 'n')));
  EXPECT_FALSE(ValidNamespace("a_b"));
}

TEST(LimitsTest, VariablePathFollowsTheOldestSupportedNomad) {
  for (const char* ok : {"a", "nomad/jobs", "nomad/jobs/x/lock", "nomad/job-templates/t",
                         "a~b_c-D/9"}) {
    EXPECT_FALSE(VariablePathError(ok)) << ok;
  }
  EXPECT_FALSE(VariablePathError(std::string(128, 'p')));
  EXPECT_EQ(VariablePathError(std::string(129, 'p')),
            "invalid path \"" + std::string(129, 'p') + "\"");
  EXPECT_EQ(VariablePathError(""), "variable requires path");
  EXPECT_EQ(VariablePathError("a.b"), "invalid path \"a.b\"");
  EXPECT_NE(VariablePathError("nomad")->find("reserved top-level"), std::string::npos);
  EXPECT_NE(VariablePathError("nomad/job-templates")->find("reserved directory"),
            std::string::npos);
  // Allowed only from 1.11.2 (nomad/structs/variables.go ValidatePath).
  EXPECT_TRUE(VariablePathError("nomad/sentinel/x"));
  EXPECT_TRUE(VariablePathError("nomad/job-templates/a/b"));
}

TEST(LimitsTest, LockCanonicalization) {
  EXPECT_EQ(EffectiveLockDelay(0s), 15s);
  EXPECT_EQ(EffectiveLockDelay(1ns), 1ns);
  EXPECT_EQ(EffectiveLockTtl(0s), 15s);
  EXPECT_EQ(EffectiveLockTtl(20s), 20s);
}

TEST(LimitsTest, WaitClientStopUsesTheLargestKillTimeoutInTheGroup) {
  TaskGroup g;
  g.tasks.resize(2);
  EXPECT_EQ(WaitClientStopKillTimeout(g), 5s);  // DefaultKillTimeout
  g.tasks[0].kill_timeout = 1s;
  EXPECT_EQ(WaitClientStopKillTimeout(g), 5s);
  g.tasks[1].kill_timeout = 12s;
  EXPECT_EQ(WaitClientStopKillTimeout(g), 12s);
}

TEST(LimitsTest, UpdateStrategiesAreCanonicalizedLikeRegistration) {
  Job j;
  j.type = kJobTypeService;
  j.task_groups.resize(2);
  j.task_groups[1].extra[kUpdateKey] = R"({"MaxParallel":0,"HealthyDeadline":60000000000})";
  CanonicalizeUpdateStrategies(j);
  auto a = UpdateStrategyOf(j.task_groups[0]);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->max_parallel, 1);
  EXPECT_EQ(a->health_check, "checks");
  EXPECT_EQ(a->min_healthy_time, 10s);
  EXPECT_EQ(a->healthy_deadline, 5min);
  EXPECT_EQ(a->progress_deadline, 10min);
  auto b = UpdateStrategyOf(j.task_groups[1]);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->max_parallel, 0);
  EXPECT_EQ(b->healthy_deadline, 60s);
  EXPECT_EQ(b->progress_deadline, 10min);
  EXPECT_EQ(j.extra.at(kUpdateKey), R"({"MaxParallel":1,"Stagger":30000000000})");

  Job batch;
  batch.type = kJobTypeBatch;
  batch.task_groups.resize(1);
  CanonicalizeUpdateStrategies(batch);
  EXPECT_FALSE(UpdateStrategyOf(batch.task_groups[0]));
  EXPECT_TRUE(UpdateBlockErrors(kJobTypeBatch, batch.task_groups[0]).empty());
  batch.task_groups[0].extra[kUpdateKey] = "{}";
  EXPECT_EQ(UpdateBlockErrors(kJobTypeBatch, batch.task_groups[0]),
            std::vector<std::string>{"Job type \"batch\" does not allow update block"});
}

TEST(LimitsTest, KillTimeoutMayNotExceedTheProgressDeadline) {
  Job j;
  j.type = kJobTypeService;
  j.task_groups.resize(1);
  CanonicalizeUpdateStrategies(j);
  Task t;
  t.kill_timeout = 10min;
  EXPECT_FALSE(KillTimeoutError(kJobTypeService, j.task_groups[0], t));
  t.kill_timeout = 10min + 1s;
  EXPECT_EQ(KillTimeoutError(kJobTypeService, j.task_groups[0], t),
            "KillTimout (10m1s) longer than the group's ProgressDeadline (10m0s)");
  // progress_deadline 0 turns the check off; batch jobs are not checked.
  j.task_groups[0].extra[kUpdateKey] = R"({"ProgressDeadline":0})";
  EXPECT_FALSE(KillTimeoutError(kJobTypeService, j.task_groups[0], t));
  EXPECT_FALSE(KillTimeoutError(kJobTypeBatch, j.task_groups[0], t));
}

}  // namespace
}  // namespace nsg::nomad
