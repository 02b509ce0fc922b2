#include "controller/spec/singleton.h"

#include <gtest/gtest.h>

namespace nsg::spec {
namespace {

TEST(SingletonTest, EnumNames) {
  EXPECT_STREQ(JobTypeName(JobType::kService), "service");
  EXPECT_STREQ(JobTypeName(JobType::kBatch), "batch");
  EXPECT_STREQ(LockModeName(LockMode::kShim), "shim");
  EXPECT_STREQ(LockModeName(LockMode::kSidecar), "sidecar");
  EXPECT_STREQ(LockModeName(LockMode::kSplit), "split");
  EXPECT_STREQ(AgentDriverName(AgentDriver::kRawExec), "raw_exec");
  EXPECT_STREQ(AgentDriverName(AgentDriver::kExec), "exec");
  EXPECT_STREQ(AgentDriverName(AgentDriver::kDocker), "docker");
}

TEST(SingletonTest, DefaultLockPath) {
  EXPECT_EQ(DefaultLockPath("billing"), "nomad/jobs/billing/lock");
}

TEST(SingletonTest, KeyGiveUpAndKillTimeout) {
  Singleton s;
  s.metadata.name = "app";
  EXPECT_EQ(s.Key(), "default/app");
  s.metadata.namespace_ = "prod";
  EXPECT_EQ(s.Key(), "prod/app");

  EXPECT_EQ(s.GiveUp(), kDefaultLockTtl);
  s.spec.lock.ttl = 20s;
  EXPECT_EQ(s.GiveUp(), 20s);
  s.spec.failover.give_up = 12s;
  EXPECT_EQ(s.GiveUp(), 12s);

  s.template_kill_timeout = 7s;
  EXPECT_EQ(s.KillTimeout(), 7s);
  s.spec.task = TaskSpec{};
  s.spec.task->kill_timeout = 3s;
  EXPECT_EQ(s.KillTimeout(), 3s);
}

TEST(SingletonTest, PositionOfFindsNearestWrittenParent) {
  Singleton s;
  s.source = {"f.yaml", 2, 1};
  s.positions["spec"] = {"f.yaml", 5, 1};
  s.positions["spec.lock"] = {"f.yaml", 6, 3};
  s.positions["spec.lock.ttl"] = {"f.yaml", 7, 10};
  s.positions["spec.datacenters[1]"] = {"f.yaml", 9, 20};
  s.positions["metadata.annotations"] = {"f.yaml", 3, 3};

  EXPECT_EQ(s.PositionOf("spec.lock.ttl").line, 7);
  EXPECT_EQ(s.PositionOf("spec.lock.ttl").column, 10);
  EXPECT_EQ(s.PositionOf("spec.lock.delay").line, 6);
  EXPECT_EQ(s.PositionOf("spec.lock.agent.resources.cpu").line, 6);
  EXPECT_EQ(s.PositionOf("spec.datacenters[1]").column, 20);
  EXPECT_EQ(s.PositionOf("spec.datacenters[0]").line, 5);  // nearest parent: spec
  EXPECT_EQ(s.PositionOf("metadata.annotations.nomad-singleton.io/keep-on-delete").line, 3);
  EXPECT_EQ(s.PositionOf("metadata.name").line, 2);  // nothing written: the document
  EXPECT_EQ(s.PositionOf("").line, 2);
  EXPECT_EQ(s.PositionOf("spec.lock.ttl").file, "f.yaml");
}

}  // namespace
}  // namespace nsg::spec
