// Server-side rules of the Nomad model (controller/sim/cluster.h): register/versions/EnforceIndex,
// validation, placement, stop and replacement, rescheduling, node loss with and without the
// disconnect block, leadership loss, periodic jobs, plan, deregister, event shapes, determinism.
#include "controller/sim/cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "controller/nomad/limits.h"
#include "controller/sim/job_rules.h"
#include "tests/sim/cluster_test_util.h"

namespace nsg::sim {
namespace {

using namespace std::chrono_literals;
using testing::ClusterFixture;
using testing::MakeJob;
using testing::MockTask;

class ClusterTest : public ClusterFixture {};

// ---- Register, versions, EnforceIndex ----------------------------------------------------------

// A task's own restart policy sent whole keeps an explicit "Attempts": 0 (Go's api merge keeps a
// non-nil pointer); only a policy without a Mode is merged field by field under the group's.
TEST_F(ClusterTest, TaskRestartPolicySentWholeKeepsZeroAttempts) {
  nomad::Job j = MakeJob("web");
  nomad::RestartPolicy own;
  own.attempts = 0;
  own.interval = 10min;
  own.delay = 10s;
  own.mode = "fail";
  j.task_groups[0].tasks[0].restart_policy = own;
  Register(j);
  auto job = cluster_->GetJob("default", "web");
  ASSERT_TRUE(job);
  ASSERT_TRUE(job->task_groups[0].tasks[0].restart_policy);
  EXPECT_EQ(job->task_groups[0].tasks[0].restart_policy->attempts, 0);
  EXPECT_EQ(job->task_groups[0].tasks[0].restart_policy->mode, "fail");
}

// What the register path fills (api Job/TaskGroup/Task/Resources.Canonicalize, structs
// WorkloadIdentity.Canonicalize @ v2.0.5; docs/nomad-compatibility.md). The contract suite checks
// the same through HashiCorp's client; this keeps it checked where no Go toolchain exists.
TEST_F(ClusterTest, RegisterFillsNomadsDefaults) {
  nomad::Job j = MakeJob("web");
  nomad::WorkloadIdentity id;
  id.env = true;  // Name "" as users write it
  j.task_groups[0].tasks[0].identity = id;
  Register(j);
  auto job = cluster_->GetJob("default", "web");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->extra.at("ParentID"), "\"\"");
  EXPECT_EQ(job->extra.at("Stable"), "false");
  EXPECT_EQ(job->extra.at("StatusDescription"), "\"\"");
  const nomad::TaskGroup& g = job->task_groups[0];
  EXPECT_EQ(g.extra.at("EphemeralDisk"), R"({"Sticky":false,"Migrate":false,"SizeMB":300})");
  EXPECT_EQ(g.extra.at("Migrate"),
            R"({"MaxParallel":1,"HealthCheck":"checks","MinHealthyTime":10000000000,)"
            R"("HealthyDeadline":300000000000})");
  const nomad::Task& t = g.tasks[0];
  EXPECT_EQ(t.extra.at("LogConfig"), R"({"MaxFiles":10,"MaxFileSizeMB":10,"Disabled":false})");
  EXPECT_EQ(t.resources.extra.at("Cores"), "0");
  ASSERT_TRUE(t.identity);
  EXPECT_EQ(t.identity->name, "default");
  EXPECT_EQ(t.identity->audience, std::vector<std::string>{"nomadproject.io"});
  EXPECT_TRUE(t.identity->env);
}

TEST_F(ClusterTest, RegisterCreatesVersionZeroAndAnEvalInOneWrite) {
  DrainEvents();
  nomad::WriteResult r = Register(MakeJob("web"));
  EXPECT_FALSE(r.eval_id.empty());
  EXPECT_EQ(r.eval_create_index, r.index);
  EXPECT_EQ(r.job_modify_index, r.index);
  auto job = cluster_->GetJob("default", "web");
  ASSERT_TRUE(job);
  EXPECT_EQ(job->version, 0u);
  EXPECT_EQ(job->status, "pending");
  EXPECT_EQ(job->job_modify_index, r.index);
  EXPECT_EQ(job->name, "web");
  EXPECT_EQ(job->region, "global");
  ASSERT_TRUE(job->task_groups[0].restart_policy);
  EXPECT_EQ(job->task_groups[0].restart_policy->attempts, 2);  // service default (§10)
  EXPECT_EQ(job->task_groups[0].tasks[0].kill_timeout, 5s);
  auto evs = DrainEvents();
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].topic, "Job");
  EXPECT_EQ(evs[0].type, "JobRegistered");
  EXPECT_EQ(evs[1].topic, "Evaluation");
  EXPECT_EQ(evs[1].type, "JobRegistered");
  EXPECT_EQ(evs[1].index, r.index);
  EXPECT_EQ(evs[1].evaluation->triggered_by, "job-register");
}

TEST_F(ClusterTest, UnchangedReRegisterMakesOnlyANewEval) {
  nomad::WriteResult first = Register(MakeJob("web"));
  Run(2s);
  auto before = *cluster_->GetJob("default", "web");
  DrainEvents();
  nomad::WriteResult again = Register(MakeJob("web"));
  EXPECT_NE(again.eval_id, first.eval_id);
  EXPECT_FALSE(again.eval_id.empty());
  // nomad/job_endpoint.go: reply.JobModifyIndex = existingJob.JobModifyIndex.
  EXPECT_EQ(again.job_modify_index, before.job_modify_index);
  EXPECT_GT(again.index, before.modify_index);
  auto after = *cluster_->GetJob("default", "web");
  EXPECT_EQ(after.version, 0u);
  EXPECT_EQ(after.job_modify_index, before.job_modify_index);
  auto evs = DrainEvents();
  ASSERT_FALSE(evs.empty());
  EXPECT_EQ(evs[0].topic, "Evaluation");
  EXPECT_EQ(evs[0].type, "EvaluationUpdated");
  for (const auto& e : evs) EXPECT_NE(e.type, "JobRegistered");
  EXPECT_EQ(cluster_->JobVersions("default", "web").size(), 1u);
}

TEST_F(ClusterTest, ChangedSpecBumpsVersionAndJobModifyIndex) {
  Register(MakeJob("web"));
  nomad::Job j = MakeJob("web");
  j.meta["owner"] = "me";
  nomad::WriteResult r = Register(j);
  auto job = *cluster_->GetJob("default", "web");
  EXPECT_EQ(job.version, 1u);
  EXPECT_EQ(job.job_modify_index, r.index);
  EXPECT_EQ(r.job_modify_index, r.index);
  auto versions = cluster_->JobVersions("default", "web");
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].version, 1u);
  EXPECT_EQ(versions[1].version, 0u);
}

TEST_F(ClusterTest, EnforceIndexUsesNomadsMessages) {
  nomad::RegisterRequest req;
  req.job = MakeJob("web");
  req.enforce_index = true;
  req.job_modify_index = 5;
  auto r = cluster_->Register(req, "default");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::StatusCode::kConflict);
  EXPECT_EQ(r.status().message(), "Enforcing job modify index 5: job does not exist");

  req.job_modify_index = 0;
  auto created = cluster_->Register(req, "default");
  ASSERT_TRUE(created.ok());
  const uint64_t jmi = created->job_modify_index;

  auto again = cluster_->Register(req, "default");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), "Enforcing job modify index 0: job already exists");

  req.job_modify_index = jmi + 100;
  auto stale = cluster_->Register(req, "default");
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), base::StatusCode::kConflict);
  EXPECT_EQ(stale.status().message(),
            "Enforcing job modify index " + std::to_string(jmi + 100) +
                ": job exists with conflicting job modify index: " + std::to_string(jmi));

  req.job_modify_index = jmi;
  req.job.meta["v"] = "2";
  auto ok = cluster_->Register(req, "default");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
}

TEST_F(ClusterTest, ValidationErrorsUseMultierrorText) {
  nomad::Job j = MakeJob("web");
  nomad::Disconnect d;
  d.lost_after = 60s;
  d.stop_on_client_after = 30s;
  j.task_groups[0].disconnect = d;
  nomad::RegisterRequest req;
  req.job = j;
  auto r = cluster_->Register(req, "default");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::StatusCode::kInvalidSpec);
  EXPECT_EQ(r.status().message(),
            "1 error occurred:\n\t* Task group app validation failed: 1 error occurred:\n\t* "
            "Disconnect cannot be configured with both lost_after and stop_after\n\n\n\n");

  req.job = MakeJob("");
  auto missing = cluster_->Register(req, "default");
  ASSERT_FALSE(missing.ok());
  // The HTTP layer answers 400 before this; the server's own check also misses the name.
  EXPECT_EQ(missing.status().message(),
            "2 errors occurred:\n\t* Missing job ID\n\t* Missing job name\n\n");

  nomad::Job bad = MakeJob("web");
  nomad::RestartPolicy rp;
  rp.attempts = 3;
  rp.interval = 10s;
  rp.delay = 5s;
  rp.mode = "delay";
  bad.task_groups[0].restart_policy = rp;
  nomad::ReschedulePolicy rs;
  rs.attempts = 1;
  rs.unlimited = true;
  rs.interval = 1h;
  rs.delay = 30s;
  rs.delay_function = "linear";
  bad.task_groups[0].reschedule_policy = rs;
  req.job = bad;
  auto policy = cluster_->Register(req, "default");
  ASSERT_FALSE(policy.ok());
  const std::string& m = policy.status().message();
  EXPECT_NE(m.find("Nomad can't restart the TaskGroup 3 times in an interval of 10s with a delay "
                   "of 5s"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("If Attempts >0, Unlimited cannot also be set to true"), std::string::npos);
  EXPECT_NE(m.find("Invalid delay function \"linear\""), std::string::npos);
  EXPECT_FALSE(cluster_->GetJob("default", "web"));
}

TEST_F(ClusterTest, RegisterCanonicalizesTheDefaultUpdateStrategy) {
  // api/jobs.go Job.Canonicalize gives a service job DefaultUpdateStrategy; TaskGroup.Canonicalize
  // merges it under the group's own block (command/agent/job_endpoint.go keeps the whole group
  // block, MaxParallel 0 included).
  nomad::Job svc = MakeJob("svc");
  Register(svc);
  auto stored = cluster_->GetJob("default", "svc");
  ASSERT_TRUE(stored);
  auto u = nomad::UpdateStrategyOf(stored->task_groups[0]);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->max_parallel, 1);
  EXPECT_EQ(u->health_check, "checks");
  EXPECT_EQ(u->min_healthy_time, 10s);
  EXPECT_EQ(u->healthy_deadline, 5min);
  EXPECT_EQ(u->progress_deadline, 10min);

  nomad::Job off = MakeJob("off");
  off.task_groups[0].extra[nomad::kUpdateKey] = R"({"MaxParallel":0})";
  Register(off);
  u = nomad::UpdateStrategyOf(cluster_->GetJob("default", "off")->task_groups[0]);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->max_parallel, 0);
  EXPECT_EQ(u->healthy_deadline, 5min);

  Register(MakeJob("b", 1, nomad::kJobTypeBatch));
  EXPECT_FALSE(nomad::UpdateStrategyOf(cluster_->GetJob("default", "b")->task_groups[0]));
}

TEST_F(ClusterTest, UpdateBlockRulesUseNomadsMessages) {
  // TaskGroup.Validate: batch jobs may not have an update block; Task.Validate: a service task's
  // KillTimeout may not exceed the group's ProgressDeadline (10m by default).
  nomad::RegisterRequest req;
  req.job = MakeJob("b", 1, nomad::kJobTypeBatch);
  req.job.task_groups[0].extra[nomad::kUpdateKey] = R"({"MaxParallel":0})";
  auto batch = cluster_->Register(req, "default");
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.status().message(),
            "1 error occurred:\n\t* Task group app validation failed: 1 error occurred:\n\t* "
            "Job type \"batch\" does not allow update block\n\n\n\n");
  req.job = MakeJob("slow");
  req.job.task_groups[0].tasks[0].kill_timeout = 10min + 1s;
  auto slow = cluster_->Register(req, "default");
  ASSERT_FALSE(slow.ok());
  EXPECT_NE(slow.status().message().find(
                "KillTimout (10m1s) longer than the group's ProgressDeadline (10m0s)"),
            std::string::npos)
      << slow.status().message();
  req.job.task_groups[0].tasks[0].kill_timeout = 10min;
  EXPECT_TRUE(cluster_->Register(req, "default").ok());
}

TEST_F(ClusterTest, JobStatusGoesPendingRunningDead) {
  Register(MakeJob("web"));
  EXPECT_EQ(cluster_->GetJob("default", "web")->status, "pending");
  Run(1s);
  EXPECT_EQ(cluster_->GetJob("default", "web")->status, "running");
  auto d = cluster_->Deregister("default", "web", false);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->eval_id.empty());
  auto stopped = *cluster_->GetJob("default", "web");
  EXPECT_TRUE(stopped.stop);
  EXPECT_EQ(stopped.version, 1u);
  Run(2s);
  EXPECT_EQ(cluster_->GetJob("default", "web")->status, "dead");
  for (const auto& a : Allocs()) {
    EXPECT_EQ(a.desired_status, "stop");
    EXPECT_EQ(a.desired_description, "alloc not needed due to job update");
    EXPECT_EQ(a.client_status, "complete");
  }
  EXPECT_TRUE(cluster_->RunningPrograms().empty());
}

TEST_F(ClusterTest, DeregisterMissingJobIsZeroAndPurgeEmitsDeleted) {
  auto none = cluster_->Deregister("default", "nope", false);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->eval_id, "");
  EXPECT_EQ(none->index, 0u);

  Register(MakeJob("web"));
  Run(1s);
  DrainEvents();
  auto p = cluster_->Deregister("default", "web", true);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(cluster_->GetJob("default", "web"));
  auto evs = DrainEvents();
  ASSERT_GE(evs.size(), 2u);
  EXPECT_EQ(evs[0].topic, "Job");
  EXPECT_EQ(evs[0].type, "JobDeregistered");
  EXPECT_TRUE(evs[0].deleted);
  EXPECT_EQ(evs[1].evaluation->triggered_by, "job-deregister");
  Run(2s);
  for (const auto& a : Allocs()) EXPECT_EQ(a.desired_status, "stop");
  EXPECT_TRUE(cluster_->RunningPrograms().empty());
  // §5.7: the allocations of a purged job are still listed (no job → no incarnation filter).
  EXPECT_EQ(cluster_->JobAllocations("default", "web", false).size(), 1u);
}

// ---- Placement ------------------------------------------------------------------------------

TEST_F(ClusterTest, PlacementSpreadsOverNodesAndNamesAllocs) {
  Register(MakeJob("web", 3));
  Run(1s);
  auto allocs = Allocs();
  ASSERT_EQ(allocs.size(), 3u);
  std::set<std::string> nodes, names;
  for (const auto& a : allocs) {
    nodes.insert(a.node_id);
    names.insert(a.name);
    EXPECT_EQ(a.client_status, "running");
    EXPECT_EQ(a.job_type, "service");
  }
  EXPECT_EQ(nodes.size(), 3u);
  EXPECT_EQ(names, (std::set<std::string>{"web.app[0]", "web.app[1]", "web.app[2]"}));

  Register(MakeJob("api", 6));
  Run(1s);
  std::map<std::string, int> per_node;
  for (const auto& a : Allocs("api")) ++per_node[a.node_id];
  ASSERT_EQ(per_node.size(), 3u);
  for (const auto& [n, c] : per_node) EXPECT_EQ(c, 2);
}

TEST_F(ClusterTest, DatacenterAndPoolFilterAndBlockedEvalUnblocks) {
  nomad::Job j = MakeJob("web");
  j.datacenters = {"dc2"};
  Register(j);
  Run(1s);
  EXPECT_TRUE(Allocs().empty());
  bool blocked = false;
  for (const auto& e : cluster_->JobEvaluations("default", "web")) {
    blocked = blocked || e.status == "blocked";
  }
  EXPECT_TRUE(blocked);
  std::string n = cluster_->AddNode({"edge", "dc2", "default"});
  Run(1s);
  ASSERT_EQ(Allocs().size(), 1u);
  EXPECT_EQ(Allocs()[0].node_id, n);
  EXPECT_EQ(Allocs()[0].node_name, "edge");
}

TEST_F(ClusterTest, CountChangeAndDestructiveUpdate) {
  Register(MakeJob("web", 2));
  Run(1s);
  auto old_allocs = Allocs();
  nomad::Job j = MakeJob("web", 1, "service", R"({"run_for":"1h"})");
  Register(j);
  Run(2s);
  int live = 0, updated = 0;
  for (const auto& a : Allocs()) {
    if (a.desired_status == "run") {
      ++live;
      EXPECT_EQ(a.job_version, 1u);
      EXPECT_EQ(a.name, "web.app[0]");
    } else if (a.desired_description == "alloc is being updated due to job update") {
      ++updated;
    }
  }
  EXPECT_EQ(live, 1);
  EXPECT_EQ(updated, 1);
  // In-place: a count-only change keeps the alloc and bumps its version.
  nomad::Job j2 = j;
  j2.task_groups[0].count = 1;
  j2.priority = 70;
  Register(j2);
  Run(1s);
  EXPECT_EQ(Live().size(), 1u);
  EXPECT_EQ(Live()[0].job_version, 2u);
}

// ---- Stop and replacement (§6.1) -------------------------------------------------------------

TEST_F(ClusterTest, AllocStopMigratesAndLinksReplacement) {
  Register(MakeJob("web"));
  Run(1s);
  const std::string old_id = Allocs()[0].id;
  DrainEvents();
  auto r = cluster_->StopAllocation(old_id, false, std::nullopt);
  ASSERT_TRUE(r.ok());
  auto evs = DrainEvents();
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[0].topic, "Allocation");
  EXPECT_EQ(evs[0].type, "AllocationUpdateDesiredStatus");
  EXPECT_EQ(evs[0].allocation->desired_transition.migrate, true);
  EXPECT_EQ(evs[1].topic, "Evaluation");
  EXPECT_EQ(evs[1].type, "AllocationUpdateDesiredStatus");
  EXPECT_EQ(evs[1].evaluation->triggered_by, "alloc-stop");
  EXPECT_EQ(evs[1].key, r->eval_id);
  Run(1s);
  auto old_alloc = Alloc(old_id);
  EXPECT_EQ(old_alloc.desired_status, "stop");
  EXPECT_EQ(old_alloc.desired_description, "alloc is being migrated");
  EXPECT_EQ(old_alloc.client_status, "complete");
  ASSERT_FALSE(old_alloc.next_allocation.empty());
  auto repl = Alloc(old_alloc.next_allocation);
  EXPECT_EQ(repl.previous_allocation, old_id);
  EXPECT_EQ(repl.name, old_alloc.name);
  EXPECT_EQ(repl.client_status, "running");
  bool plan_result = false, client_update = false;
  for (const auto& e : DrainEvents()) {
    if (e.topic == "Allocation" && e.key == repl.id && e.type == "PlanResult") plan_result = true;
    if (e.topic == "Allocation" && e.key == old_id && e.type == "AllocationUpdated" &&
        e.allocation->client_status == "complete") {
      client_update = true;
    }
  }
  EXPECT_TRUE(plan_result);
  EXPECT_TRUE(client_update);
  EXPECT_FALSE(cluster_->StopAllocation("nope", false, std::nullopt).ok());
}

TEST_F(ClusterTest, AllocationEventsCarryNoJobAndFilterKeys) {
  Register(MakeJob("web"));
  Run(1s);
  bool saw_alloc = false, saw_node = false;
  for (const auto& e : DrainEvents()) {
    if (e.topic == "Allocation") {
      saw_alloc = true;
      ASSERT_TRUE(e.allocation);
      EXPECT_FALSE(e.allocation->job);
      EXPECT_EQ(e.allocation->job_version, 0u);
      EXPECT_EQ(e.filter_keys, (std::vector<std::string>{"web", ""}));
      EXPECT_EQ(e.namespace_, "default");
    }
    if (e.topic == "Node") {
      saw_node = true;
      EXPECT_EQ(e.namespace_, "");
      EXPECT_TRUE(e.type == "NodeRegistration" || e.type == "NodeStreamEvent") << e.type;
    }
  }
  EXPECT_TRUE(saw_alloc);
  EXPECT_TRUE(saw_node);
  auto full = cluster_->GetAllocation(Allocs()[0].id);
  ASSERT_TRUE(full->job);
  EXPECT_EQ(full->job->id, "web");
}

// ---- Rescheduling (§10) ------------------------------------------------------------------------

nomad::Job FailingBatch(int attempts, Duration delay, const std::string& fn = "constant") {
  nomad::Job j = MakeJob("web", 1, nomad::kJobTypeBatch, R"({"run_for":"1s","exit_code":1})");
  nomad::RestartPolicy rp;
  rp.attempts = 0;
  rp.interval = 1h;
  rp.delay = 15s;
  rp.mode = "fail";
  j.task_groups[0].restart_policy = rp;
  nomad::ReschedulePolicy rs;
  rs.attempts = attempts;
  rs.interval = 24h;
  rs.delay = delay;
  rs.delay_function = fn;
  rs.max_delay = 1h;
  j.task_groups[0].reschedule_policy = rs;
  return j;
}

TEST_F(ClusterTest, RescheduleWaitsItsDelayAndStopsAfterAttempts) {
  Register(FailingBatch(2, 10s));
  ASSERT_TRUE(RunUntil(
      [&] { return Allocs().size() == 1 && Allocs()[0].client_status == "failed"; },
                       10s));
  auto first = Allocs()[0];
  EXPECT_EQ(first.desired_status, "run");
  // The follow-up eval is delayed by the policy's delay.
  ASSERT_TRUE(RunUntil([&] { return !Alloc(first.id).followup_eval_id.empty(); }, 2s, 10ms));
  auto followup = *cluster_->GetEvaluation(Alloc(first.id).followup_eval_id);
  EXPECT_EQ(followup.triggered_by, "alloc-failure");
  EXPECT_EQ(followup.status, "pending");
  const int64_t fail_time = first.task_states.at("main").finished_at;
  EXPECT_EQ(followup.wait_until, fail_time + int64_t{10'000'000'000});
  EXPECT_EQ(cluster_->GetJob("default", "web")->status, "pending");
  ASSERT_TRUE(RunUntil([&] { return Allocs().size() == 2; }, 15s, 10ms));
  auto a1 = Alloc(first.id);
  EXPECT_EQ(a1.desired_status, "stop");
  EXPECT_EQ(a1.desired_description, "alloc was rescheduled because it failed");
  auto second = Alloc(a1.next_allocation);
  EXPECT_EQ(second.previous_allocation, first.id);
  ASSERT_EQ(second.reschedule_events.size(), 1u);
  EXPECT_EQ(second.reschedule_events[0].prev_alloc_id, first.id);
  EXPECT_EQ(second.reschedule_events[0].delay, 10s);
  EXPECT_NE(second.node_id, first.node_id);  // a different node when one is free
  EXPECT_GE(FromUnix(second.create_time), FromUnix(fail_time) + 10s);
  // Attempt 2, then nothing more.
  ASSERT_TRUE(RunUntil([&] { return Allocs().size() == 3; }, 30s, 100ms));
  Run(2min);
  EXPECT_EQ(Allocs().size(), 3u);
  EXPECT_EQ(cluster_->GetJob("default", "web")->status, "dead");
}

TEST_F(ClusterTest, ExponentialRescheduleDelaysDoubleUpToMaxDelay) {
  nomad::Job j = MakeJob("web", 1, "service", R"({"run_for":"1s","exit_code":3})");
  nomad::RestartPolicy rp;
  rp.attempts = 0;
  rp.interval = 1h;
  rp.delay = 15s;
  rp.mode = "fail";
  j.task_groups[0].restart_policy = rp;
  nomad::ReschedulePolicy rs;
  rs.unlimited = true;
  rs.delay = 5s;
  rs.delay_function = "exponential";
  rs.max_delay = 20s;
  j.task_groups[0].reschedule_policy = rs;
  Register(j);
  ASSERT_TRUE(RunUntil([&] { return Allocs().size() >= 5; }, 5min, 100ms));
  std::map<uint64_t, nomad::Allocation> by_index;
  for (const auto& a : Allocs()) by_index[a.create_index] = a;
  std::vector<Duration> delays;
  for (const auto& [i, a] : by_index) {
    auto full = Alloc(a.id);
    if (!full.reschedule_events.empty()) delays.push_back(full.reschedule_events.back().delay);
  }
  ASSERT_GE(delays.size(), 4u);
  EXPECT_EQ(delays[0], 5s);
  EXPECT_EQ(delays[1], 10s);
  EXPECT_EQ(delays[2], 20s);
  EXPECT_EQ(delays[3], 20s);
}

TEST_F(ClusterTest, ForcedEvaluateReschedulesAnExhaustedFailure) {
  Register(FailingBatch(0, 10s));  // Attempts 0, Unlimited false: rescheduling disabled
  ASSERT_TRUE(RunUntil(
      [&] { return Allocs().size() == 1 && Allocs()[0].client_status == "failed"; },
                       10s));
  Run(1min);
  EXPECT_EQ(Allocs().size(), 1u);
  EXPECT_EQ(cluster_->Evaluate("default", "nope", false).status().code(),
            base::StatusCode::kNotFound);
  auto r = cluster_->Evaluate("default", "web", true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Alloc(Allocs()[0].id).desired_transition.force_reschedule, true);
  Run(1s);
  ASSERT_EQ(Allocs().size(), 2u);
}

// ---- Node loss (§7) ----------------------------------------------------------------------------

TEST_F(ClusterTest, NodeDownMarksLostAndReplacesAtOnce) {
  Register(MakeJob("web"));
  Run(1s);
  auto a = Allocs()[0];
  const TimePoint crash = core_.Now();
  ASSERT_TRUE(cluster_->CrashNode(a.node_id).ok());
  EXPECT_TRUE(cluster_->RunningPrograms().empty());
  ASSERT_TRUE(RunUntil([&] { return cluster_->GetNode(a.node_id)->status == "down"; }, 60s, 10ms));
  const TimePoint down = core_.Now();
  EXPECT_LE(down - crash, 30s + 10ms);  // ttl (10–20s) + 10s grace after the last heartbeat
  ASSERT_TRUE(RunUntil([&] { return Live().size() == 1; }, 2s, 10ms));
  auto lost = Alloc(a.id);
  EXPECT_EQ(lost.client_status, "lost");
  EXPECT_EQ(lost.desired_status, "stop");
  EXPECT_EQ(lost.desired_description, "alloc is lost since its node is down");
  ASSERT_EQ(lost.alloc_states.size(), 1u);
  EXPECT_EQ(lost.alloc_states[0].value, "lost");
  auto repl = Alloc(lost.next_allocation);
  EXPECT_EQ(repl.previous_allocation, a.id);
  EXPECT_NE(repl.node_id, a.node_id);
  EXPECT_LE(FromUnix(repl.create_time) - down, 100ms);
  bool node_event = false;
  for (const auto& e : DrainEvents()) {
    if (e.topic == "Node" && e.key == a.node_id && e.node->status == "down") {
      node_event = true;
      EXPECT_EQ(e.type, "NodeStreamEvent");
    }
    if (e.topic == "Allocation" && e.key == a.id && e.allocation->client_status == "lost") {
      EXPECT_EQ(e.type, "PlanResult");
    }
  }
  EXPECT_TRUE(node_event);
}

nomad::Job StopAfterJob(Duration stop_after, Duration kill_timeout) {
  nomad::Job j = MakeJob("web");
  nomad::Disconnect d;
  d.stop_on_client_after = stop_after;
  j.task_groups[0].disconnect = d;
  j.task_groups[0].tasks[0].kill_timeout = kill_timeout;
  return j;
}

TEST_F(ClusterTest, StopOnClientAfterDelaysReplacementAndClientKillsOnItsOwn) {
  Register(StopAfterJob(60s, 10s));
  Run(1s);
  auto a = Allocs()[0];
  ASSERT_TRUE(cluster_->Partition(a.node_id).ok());
  TimePoint last_hb{};
  for (const auto& n : cluster_->State().nodes) {
    if (n.node.id == a.node_id) last_hb = n.last_heartbeat_server;
  }
  // The client kills its alloc once now > lastHeartbeat + D (heartbeatstop polls every
  // min(5s, D)), with no server involved.
  ASSERT_TRUE(RunUntil([&] { return RunsOf("main").front().ended.has_value(); }, 2min, 100ms));
  const TimePoint killed = *RunsOf("main").front().ended;
  EXPECT_GT(killed, last_hb + 60s);
  EXPECT_LE(killed, last_hb + 65s + 100ms);
  EXPECT_EQ(RunsOf("main").front().signal, kSigInt);
  // The server: node down → lost at lostTime; replacement at lostTime + D + the group's largest
  // kill timeout (≥ 5s).
  ASSERT_TRUE(RunUntil([&] { return Alloc(a.id).client_status == "lost"; }, 10s, 10ms));
  auto lost = Alloc(a.id);
  ASSERT_FALSE(lost.followup_eval_id.empty());
  const TimePoint lost_time = FromUnix(lost.alloc_states.at(0).time);
  auto followup = *cluster_->GetEvaluation(lost.followup_eval_id);
  EXPECT_EQ(followup.triggered_by, "alloc-failure");
  EXPECT_EQ(FromUnix(followup.wait_until), lost_time + 60s + 10s);
  ASSERT_TRUE(RunUntil([&] { return Allocs().size() == 2; }, 2min, 10ms));
  nomad::Allocation repl;
  for (const auto& x : Allocs()) {
    if (x.id != a.id) repl = Alloc(x.id);
  }
  const TimePoint placed = FromUnix(repl.create_time);
  EXPECT_GE(placed, lost_time + 70s);
  EXPECT_LE(placed, lost_time + 70s + 50ms);
  // The delayed placement is a fresh one (the lost alloc is terminal by then).
  EXPECT_EQ(repl.previous_allocation, "");
  EXPECT_EQ(repl.name, a.name);
  // Never two programs at once: the client killed the old one before the replacement started.
  Run(1s);
  auto runs = RunsOf("main");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_LT(*runs[0].ended, runs[1].started);
}

TEST_F(ClusterTest, StopOnClientAfterKeepsAPlacementWaitingForTheWholeGroup) {
  nomad::Job j = StopAfterJob(30s, 2s);  // max(KillTimeout, 5s) = 5s
  j.task_groups[0].count = 2;
  Register(j);
  Run(1s);
  auto allocs = Allocs();
  ASSERT_EQ(allocs.size(), 2u);
  ASSERT_TRUE(cluster_->CrashNode(allocs[0].node_id).ok());
  ASSERT_TRUE(RunUntil([&] { return Alloc(allocs[0].id).client_status == "lost"; }, 60s, 10ms));
  const TimePoint lost_time = FromUnix(Alloc(allocs[0].id).alloc_states.at(0).time);
  auto followup = *cluster_->GetEvaluation(Alloc(allocs[0].id).followup_eval_id);
  EXPECT_EQ(FromUnix(followup.wait_until), lost_time + 35s);
  Run(20s);
  EXPECT_EQ(Allocs().size(), 2u);  // nothing placed during the delay
  ASSERT_TRUE(RunUntil([&] { return Allocs().size() == 3; }, 30s, 10ms));
  EXPECT_GE(core_.Now(), lost_time + 35s);
}

nomad::Job LostAfterJob(Duration lost_after, bool replace, const std::string& reconcile) {
  nomad::Job j = MakeJob("web");
  nomad::Disconnect d;
  d.lost_after = lost_after;
  d.replace = replace;
  d.reconcile = reconcile;
  j.task_groups[0].disconnect = d;
  return j;
}

TEST_F(ClusterTest, LostAfterGivesDisconnectedUnknownThenLost) {
  Register(LostAfterJob(2min, true, "best_score"));
  Run(1s);
  auto a = Allocs()[0];
  ASSERT_TRUE(cluster_->Partition(a.node_id).ok());
  ASSERT_TRUE(RunUntil([&] { return cluster_->GetNode(a.node_id)->status == "disconnected"; },
                       60s, 10ms));
  const TimePoint disc = core_.Now();
  ASSERT_TRUE(RunUntil([&] { return Alloc(a.id).client_status == "unknown"; }, 2s, 10ms));
  auto unknown = Alloc(a.id);
  EXPECT_EQ(unknown.desired_status, "run");
  EXPECT_EQ(unknown.client_description, "alloc is unknown since its node is disconnected");
  ASSERT_FALSE(unknown.followup_eval_id.empty());
  auto timeout = *cluster_->GetEvaluation(unknown.followup_eval_id);
  EXPECT_EQ(timeout.triggered_by, "max-disconnect-timeout");
  EXPECT_NEAR(static_cast<double>((FromUnix(timeout.wait_until) - disc).count()), 120e9, 1e8);
  // Replacement follows the reschedule policy: the service default delay is 30s.
  Run(20s);
  EXPECT_EQ(Allocs().size(), 1u);
  ASSERT_TRUE(RunUntil([&] { return Allocs().size() == 2; }, 20s, 10ms));
  EXPECT_NEAR(static_cast<double>((core_.Now() - disc).count()), 30e9, 2e8);
  auto repl_id = Alloc(a.id).next_allocation;
  ASSERT_FALSE(repl_id.empty());
  EXPECT_EQ(Alloc(repl_id).previous_allocation, a.id);
  EXPECT_EQ(Alloc(a.id).client_status, "unknown");  // still unknown, still desired run
  // The program on the partitioned node keeps running (no stop_on_client_after).
  EXPECT_FALSE(RunsOf("main").front().ended);
  // After lost_after the original becomes lost; the node eventually goes down.
  ASSERT_TRUE(RunUntil([&] { return Alloc(a.id).client_status == "lost"; }, 2min, 100ms));
  EXPECT_GE(core_.Now(), disc + 120s);
  EXPECT_EQ(Alloc(a.id).desired_status, "stop");
  ASSERT_TRUE(RunUntil([&] { return cluster_->GetNode(a.node_id)->status == "down"; }, 2min));
}

TEST_F(ClusterTest, ReconnectKeepsOriginalAndStopsReplacement) {
  Register(LostAfterJob(10min, true, "keep_original"));
  Run(1s);
  auto a = Allocs()[0];
  ASSERT_TRUE(cluster_->Partition(a.node_id).ok());
  ASSERT_TRUE(RunUntil([&] { return Allocs().size() == 2; }, 2min, 100ms));
  const std::string repl = Alloc(a.id).next_allocation;
  ASSERT_TRUE(RunUntil([&] { return Alloc(repl).client_status == "running"; }, 5s));
  ASSERT_TRUE(cluster_->Heal(a.node_id).ok());
  ASSERT_TRUE(RunUntil([&] { return cluster_->GetNode(a.node_id)->status == "ready"; }, 60s));
  ASSERT_TRUE(RunUntil([&] { return Alloc(repl).desired_status == "stop"; }, 5s, 10ms));
  EXPECT_EQ(Alloc(repl).desired_description,
            "alloc not needed due to disconnected client reconnect");
  EXPECT_EQ(Alloc(a.id).client_status, "running");
  EXPECT_EQ(Alloc(a.id).desired_status, "run");
  Run(2s);
  EXPECT_EQ(Live().size(), 1u);
  EXPECT_EQ(Live()[0].id, a.id);
}

TEST_F(ClusterTest, PartitionWithoutDisconnectBlockKeepsRunningThenStopsOnHeal) {
  Register(MakeJob("web"));
  Run(1s);
  auto a = Allocs()[0];
  ASSERT_TRUE(cluster_->Partition(a.node_id).ok());
  ASSERT_TRUE(RunUntil([&] { return Live().size() == 1 && Live()[0].id != a.id; }, 60s));
  // Two programs run at once: the partitioned original and its replacement (§7.3).
  EXPECT_EQ(cluster_->RunningPrograms().size(), 2u);
  EXPECT_TRUE(cluster_->IsPartitioned(a.node_id));
  ASSERT_TRUE(cluster_->Heal(a.node_id).ok());
  ASSERT_TRUE(RunUntil([&] { return cluster_->RunningPrograms().size() == 1; }, 60s));
  EXPECT_EQ(Alloc(a.id).desired_status, "stop");
}

TEST_F(ClusterTest, LeadershipLossGivesEveryNodeTheFailoverTtl) {
  Register(MakeJob("web"));
  Run(1s);
  auto a = Allocs()[0];
  cluster_->LoseLeadership();
  const TimePoint lost = core_.Now();
  ASSERT_TRUE(cluster_->CrashNode(a.node_id).ok());
  Run(290s);
  EXPECT_EQ(cluster_->GetNode(a.node_id)->status, "ready");
  ASSERT_TRUE(RunUntil([&] { return cluster_->GetNode(a.node_id)->status == "down"; }, 20s, 10ms));
  EXPECT_NEAR(static_cast<double>((core_.Now() - lost).count()), 300e9, 2e7);
}

// ---- Periodic ---------------------------------------------------------------------------------

TEST_F(ClusterTest, PeriodicJobLaunchesChildrenOnSchedule) {
  nomad::Job j = MakeJob("cron", 1, nomad::kJobTypeBatch, R"({"run_for":"90s"})");
  nomad::PeriodicConfig p;
  p.spec = "*/5 * * * *";
  p.prohibit_overlap = true;
  j.periodic = p;
  nomad::WriteResult r = Register(j);
  EXPECT_EQ(r.eval_id, "");
  EXPECT_EQ(r.eval_create_index, 0u);
  EXPECT_EQ(cluster_->GetJob("default", "cron")->status, "running");
  // t=0 is 2026-01-01T00:00:00Z: the first launch is at 00:05.
  Run(5min + 1s);
  auto jobs = cluster_->ListJobs("default", "cron/periodic-");
  ASSERT_EQ(jobs.size(), 1u);
  const int64_t launch = core_.UnixNanos(TimePoint{} + 5min) / 1000000000;
  EXPECT_EQ(jobs[0].id, "cron/periodic-" + std::to_string(launch));
  EXPECT_EQ(jobs[0].extra.at("ParentID"), "\"cron\"");
  EXPECT_FALSE(jobs[0].periodic);
  Run(10min);
  EXPECT_EQ(cluster_->ListJobs("default", "cron/periodic-").size(), 3u);
  auto plan = cluster_->Plan(j, "default", false);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->next_periodic_launch, core_.UnixNanos(TimePoint{} + 20min));
}

TEST_F(ClusterTest, PeriodicProhibitOverlapSkipsLaunches) {
  nomad::Job j = MakeJob("cron", 1, nomad::kJobTypeBatch, R"({"run_for":"7m"})");
  nomad::PeriodicConfig p;
  p.spec = "*/5 * * * *";
  p.prohibit_overlap = true;
  j.periodic = p;
  Register(j);
  Run(11min);  // launch at 5m runs until 12m; the 10m launch is skipped
  EXPECT_EQ(cluster_->ListJobs("default", "cron/periodic-").size(), 1u);
  Run(5min);  // 15m: the first child is dead
  EXPECT_EQ(cluster_->ListJobs("default", "cron/periodic-").size(), 2u);
}

TEST(CronTest, MatchesFiveFieldSpecsInUtc) {
  constexpr int64_t kSec = 1000000000;
  const int64_t t0 = int64_t{1767225600} * kSec;  // 2026-01-01T00:00:00Z, a Thursday
  auto next = [&](const std::string& spec, int64_t after) {
    auto c = ParseCron(spec);
    EXPECT_TRUE(c.ok()) << spec << ": " << c.status().message();
    return c.ok() ? NextCronTime(*c, after).value_or(-1) : -1;
  };
  EXPECT_EQ(next("*/5 * * * *", t0), t0 + 300 * kSec);
  EXPECT_EQ(next("30 2 * * *", t0), t0 + (2 * 3600 + 1800) * kSec);
  EXPECT_EQ(next("@hourly", t0 + kSec), t0 + 3600 * kSec);
  EXPECT_EQ(next("0 0 * * MON", t0), t0 + 4 * 86400 * kSec);  // Monday 2026-01-05
  EXPECT_EQ(next("0 0 1 FEB *", t0), t0 + 31 * 86400 * kSec);
  EXPECT_EQ(next("0 12 15 * 5", t0), t0 + (86400 + 12 * 3600) * kSec);  // Friday 2nd (OR rule)
  EXPECT_EQ(next("0-10/5 1 * * *", t0), t0 + 3600 * kSec);
  EXPECT_FALSE(ParseCron("* * * *").ok());
  EXPECT_FALSE(ParseCron("61 * * * *").ok());
  EXPECT_FALSE(ParseCron("* * * * * *").ok());
}

// ---- Plan -------------------------------------------------------------------------------------

TEST_F(ClusterTest, PlanAnnotatesAndDiffsWithoutWriting) {
  auto fresh = cluster_->Plan(MakeJob("web", 2), "default", true);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->desired_tg_updates.at("app").place, 2u);
  ASSERT_TRUE(fresh->diff);
  EXPECT_EQ(fresh->diff->type, "Added");
  EXPECT_EQ(fresh->job_modify_index, 0u);
  EXPECT_FALSE(cluster_->GetJob("default", "web"));
  const uint64_t index = core_.Index();

  Register(MakeJob("web", 2));
  Run(1s);
  auto same = cluster_->Plan(MakeJob("web", 2), "default", true);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->diff->type, "None");
  EXPECT_EQ(same->desired_tg_updates.at("app").ignore, 2u);
  EXPECT_EQ(same->job_modify_index, cluster_->GetJob("default", "web")->job_modify_index);

  nomad::Job changed = MakeJob("web", 3);
  changed.task_groups[0].tasks[0].driver = "raw_exec";
  const uint64_t before = core_.Index();
  auto plan = cluster_->Plan(changed, "default", true);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(core_.Index(), before);  // nothing written
  const auto& du = plan->desired_tg_updates.at("app");
  EXPECT_EQ(du.destructive_update, 2u);
  EXPECT_EQ(du.place, 1u);
  const auto& d = *plan->diff;
  EXPECT_EQ(d.type, "Edited");
  ASSERT_EQ(d.task_groups.size(), 1u);
  EXPECT_EQ(d.task_groups[0].type, "Edited");
  EXPECT_EQ(d.task_groups[0].updates.at("create/destroy update"), 2u);
  bool count_field = false;
  for (const auto& f : d.task_groups[0].fields) {
    if (f.name == "Count") {
      count_field = true;
      EXPECT_EQ(f.type, "Edited");
      EXPECT_EQ(f.old_value, "2");
      EXPECT_EQ(f.new_value, "3");
    }
  }
  EXPECT_TRUE(count_field);
  ASSERT_EQ(d.task_groups[0].tasks.size(), 1u);
  EXPECT_EQ(d.task_groups[0].tasks[0].annotations,
            (std::vector<std::string>{"forces create/destroy update"}));
  EXPECT_EQ(d.task_groups[0].tasks[0].fields.at(0).name, "Driver");
  EXPECT_GT(index, 0u);
}

// ---- Indexes (issue 17) ------------------------------------------------------------------------

// The allocations and evaluations of one job (and of one node, behind client pulls and node
// evals) come from indexes, not from a scan of every allocation: after placements, a destructive
// update, a stop, a purge and re-register under the same ID, and a node loss, each job's lists
// equal a filtered scan of the cluster-wide ones, in the same order, and the allocations of the
// purged incarnation stay out of the current job's list.
TEST_F(ClusterTest, JobAndNodeIndexesMatchAFullScan) {
  Register(MakeJob("web", 2));
  Register(MakeJob("db", 1));
  Register(MakeJob("cache", 3));
  Run(1s);
  Register(MakeJob("web", 2, "service", R"({"run_for":"1h"})"));  // destructive
  ASSERT_TRUE(cluster_->StopAllocation(Allocs("cache")[0].id, false, std::nullopt).ok());
  Run(2s);
  const std::string old_db = Allocs("db")[0].id;
  ASSERT_TRUE(cluster_->Deregister("default", "db", /*purge=*/true).ok());
  Run(1s);
  Register(MakeJob("db", 2));
  Run(1s);
  const std::string node = Live("web")[0].node_id;
  ASSERT_TRUE(cluster_->CrashNode(node).ok());
  ASSERT_TRUE(RunUntil([&] { return cluster_->GetNode(node)->status == "down"; }, 60s, 10ms));
  Run(1s);  // the node's evals
  auto all_live = [&] {
    return Live("web").size() == 2 && Live("db").size() == 2 && Live("cache").size() == 3;
  };
  ASSERT_TRUE(RunUntil(all_live, 10s, 10ms));

  auto ids = [](const std::vector<nomad::Allocation>& allocs) {
    std::vector<std::string> out;
    for (const auto& a : allocs) out.push_back(a.id);
    return out;
  };
  const std::vector<nomad::Allocation> all = cluster_->ListAllocations("*", "");
  const std::vector<nomad::Evaluation> evals = cluster_->ListEvaluations("default");
  std::set<std::string> on_node;
  for (const char* job : {"web", "db", "cache"}) {
    std::vector<std::string> want;
    for (const auto& a : all) {
      if (a.job_id == job) want.push_back(a.id);
    }
    EXPECT_EQ(ids(Allocs(job)), want) << job;
    std::vector<std::string> want_evals, got_evals;
    for (const auto& e : evals) {
      if (e.job_id == job) want_evals.push_back(e.id);
    }
    for (const auto& e : cluster_->JobEvaluations("default", job)) got_evals.push_back(e.id);
    EXPECT_EQ(got_evals, want_evals) << job;
    EXPECT_EQ(cluster_->JobEvaluations("*", job).size(), want_evals.size()) << job;
    for (const auto& a : Allocs(job)) {
      if (a.node_id == node && a.desired_status == nomad::kDesiredRun) on_node.insert(a.id);
    }
  }
  // Every allocation the crashed node had is stopped: the node's evals found them all.
  EXPECT_TRUE(on_node.empty());
  // The current "db" lists only its own incarnation's allocations; "all" lists the purged one's.
  for (const auto& a : cluster_->JobAllocations("default", "db", /*all=*/false)) {
    EXPECT_NE(a.id, old_db);
  }
  EXPECT_EQ(ids(cluster_->JobAllocations("default", "db", true)).front(), old_db);
  EXPECT_EQ(cluster_->GetJob("default", "db")->status, "running");
}

// ---- Determinism ------------------------------------------------------------------------------

std::string Scenario(uint64_t seed) {
  SimCore::Options o;
  o.seed = seed;
  o.event_buffer_size = 100000;
  SimCore core(o);
  ProgramRegistry programs = ProgramRegistry::WithDefaults();
  Cluster c(core, programs);
  SubscribeRequest req;
  req.topics = {{"*", {}}};
  req.namespaces = {"*"};
  uint64_t sub = core.Events().Subscribe(req);
  std::vector<std::string> nodes;
  for (int i = 0; i < 4; ++i) nodes.push_back(c.AddNode({}));
  nomad::RegisterRequest r;
  r.job = testing::MakeJob("web", 2, "service", R"({"run_for":"45s","exit_code":1})");
  nomad::Disconnect d;
  d.stop_on_client_after = 30s;
  r.job.task_groups[0].disconnect = d;
  (void)c.Register(r, "default");
  r.job = testing::MakeJob("batch", 3, nomad::kJobTypeBatch, R"({"run_for":"20s"})");
  (void)c.Register(r, "default");
  core.AdvanceBy(10s);
  (void)c.Partition(nodes[0]);
  (void)c.CrashNode(nodes[1]);
  core.AdvanceBy(90s);
  (void)c.Heal(nodes[0]);
  (void)c.RestartNode(nodes[1]);
  core.AdvanceBy(5min);
  std::ostringstream out;
  for (const auto& f : core.Events().Drain(sub)) {
    out << "#" << f.index << "\n";
    for (const auto& e : f.events) {
      out << e.topic << " " << e.type << " " << e.key << " " << e.namespace_;
      if (e.allocation) {
        const auto& a = *e.allocation;
        out << " " << a.name << " " << a.node_id << " " << a.desired_status << " "
            << a.client_status << " " << a.previous_allocation << " " << a.next_allocation << " "
            << a.followup_eval_id << " " << a.modify_time;
        for (const auto& [t, st] : a.task_states) {
          out << " " << t << ":" << st.state << ":" << st.restarts << ":" << st.events.size();
        }
      }
      if (e.evaluation) {
        out << " " << e.evaluation->status << " " << e.evaluation->triggered_by << " "
            << e.evaluation->wait_until;
      }
      if (e.job) out << " " << e.job->status << " v" << e.job->version;
      if (e.node) out << " " << e.node->status;
      out << "\n";
    }
  }
  for (const auto& run : c.ProgramHistory()) {
    out << "run " << run.id << " " << run.alloc_id << " " << run.task << " "
        << run.started.time_since_epoch().count() << " "
        << (run.ended ? run.ended->time_since_epoch().count() : -1) << " " << run.end_reason
        << "\n";
  }
  return out.str();
}

TEST(ClusterDeterminismTest, SameSeedSameHistoryByteForByte) {
  std::string a = Scenario(42);
  std::string b = Scenario(42);
  EXPECT_GT(a.size(), 5000u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, Scenario(43));
}

}  // namespace
}  // namespace nsg::sim
