// Client-side rules of the Nomad model: the alloc runner's task lifecycle, restart policy, kill
// timeout, leader/sibling kills, client crash, partitions, clock skew, and the task environment.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "controller/sim/cluster.h"
#include "tests/sim/cluster_test_util.h"

namespace nsg::sim {
namespace {

using namespace std::chrono_literals;
using testing::ClusterFixture;
using testing::MakeJob;
using testing::MockTask;

class RunnerTest : public ClusterFixture {
 protected:
  static nomad::RestartPolicy Restart(int attempts, Duration interval, Duration delay,
                                      const std::string& mode) {
    nomad::RestartPolicy rp;
    rp.attempts = attempts;
    rp.interval = interval;
    rp.delay = delay;
    rp.mode = mode;
    return rp;
  }
  static nomad::ReschedulePolicy NoReschedule() {
    nomad::ReschedulePolicy rs;
    rs.interval = 1h;
    rs.delay = 5s;
    rs.delay_function = "constant";
    return rs;
  }
  static nomad::Task Hooked(const std::string& name, const std::string& hook, bool sidecar,
                            const std::string& config = "{}") {
    nomad::Task t = MockTask(name, config);
    t.lifecycle = nomad::Lifecycle{hook, sidecar};
    return t;
  }
  std::vector<std::string> EventTypes(const nomad::Allocation& a, const std::string& task) {
    std::vector<std::string> out;
    for (const auto& e : a.task_states.at(task).events) out.push_back(e.type);
    return out;
  }
  // The job's single allocation (empty before placement, or when there are several).
  nomad::Allocation Only() {
    auto all = Allocs();
    return all.size() != 1 ? nomad::Allocation{} : Alloc(all[0].id);
  }
};

TEST_F(RunnerTest, ServiceRestartsInPlaceAndCountsExitZero) {
  nomad::Job j = MakeJob("web", 1, "service", R"({"run_for":"2s","exit_code":0})");
  j.task_groups[0].restart_policy = Restart(2, 30min, 15s, "fail");
  j.task_groups[0].reschedule_policy = NoReschedule();
  Register(j);
  ASSERT_TRUE(RunUntil([&] { return RunsOf("main").size() == 3; }, 2min));
  auto runs = RunsOf("main");
  for (size_t i = 1; i < runs.size(); ++i) {
    Duration gap = runs[i].started - *runs[i - 1].ended;
    EXPECT_GE(gap, 15s);                 // Delay
    EXPECT_LT(gap, 15s + 15s / 4);       // + up to 25 % jitter
    EXPECT_EQ(runs[i].alloc_id, runs[0].alloc_id);  // in place, same alloc
  }
  ASSERT_TRUE(RunUntil([&] { return Only().client_status == "failed"; }, 10s));
  auto a = Only();
  const auto& st = a.task_states.at("main");
  EXPECT_EQ(st.state, "dead");
  EXPECT_TRUE(st.failed);
  EXPECT_EQ(st.restarts, 2u);
  const auto& last = st.events.back();
  EXPECT_EQ(last.type, "Not Restarting");
  EXPECT_TRUE(last.fails_task);
  EXPECT_EQ(last.display_message,
            "Exceeded allowed attempts 2 in interval 30m0s and mode is \"fail\"");
  EXPECT_EQ(a.client_description, "Failed tasks");
  Run(5min);
  EXPECT_EQ(Allocs().size(), 1u);  // rescheduling disabled
}

TEST_F(RunnerTest, BatchExitZeroCompletes) {
  Register(MakeJob("web", 1, nomad::kJobTypeBatch, R"({"run_for":"3s"})"));
  ASSERT_TRUE(RunUntil([&] { return Only().client_status == "complete"; }, 10s));
  auto a = Only();
  EXPECT_EQ(a.task_states.at("main").state, "dead");
  EXPECT_FALSE(a.task_states.at("main").failed);
  EXPECT_EQ(EventTypes(a, "main"),
            (std::vector<std::string>{"Received", "Task Setup", "Started", "Terminated"}));
  EXPECT_EQ(RunsOf("main").size(), 1u);
  Run(1s);
  EXPECT_EQ(cluster_->GetJob("default", "web")->status, "dead");
  Run(5min);
  EXPECT_EQ(Allocs().size(), 1u);
}

TEST_F(RunnerTest, RestartModeDelayWaitsForTheIntervalEnd) {
  nomad::Job j = MakeJob("web", 1, "service", R"({"run_for":"1s","exit_code":1})");
  j.task_groups[0].restart_policy = Restart(1, 1min, 5s, "delay");
  Register(j);
  ASSERT_TRUE(RunUntil([&] { return RunsOf("main").size() == 3; }, 3min));
  auto runs = RunsOf("main");
  const TimePoint first_start = runs[0].started;
  // Run 2 restarts within policy; after its exit the attempts are used up: wait for the
  // interval (started with the tracker at alloc start) to end.
  EXPECT_LT(runs[1].started - *runs[0].ended, 5s + 5s / 4);
  EXPECT_GE(runs[2].started, first_start + 1min - 100ms);
  EXPECT_LT(runs[2].started, first_start + 1min + 1s);
}

TEST_F(RunnerTest, LeaderDeathKillsSiblings) {
  nomad::Job j = MakeJob("web");
  j.task_groups[0].tasks[0].leader = true;
  j.task_groups[0].tasks[0].name = "lock";
  j.task_groups[0].tasks.push_back(MockTask("app"));
  j.task_groups[0].restart_policy = Restart(0, 30min, 15s, "fail");
  j.task_groups[0].reschedule_policy = NoReschedule();
  Register(j);
  Run(1s);
  auto a = Only();
  ASSERT_EQ(a.client_status, "running");
  ASSERT_TRUE(cluster_->FailTask(a.id, "lock", 1).ok());
  Run(1s);
  a = Only();
  EXPECT_EQ(a.client_status, "failed");
  EXPECT_EQ(EventTypes(a, "app"),
            (std::vector<std::string>{"Received", "Task Setup", "Started", "Leader Task Dead",
                                      "Killing", "Terminated", "Killed"}));
  EXPECT_FALSE(a.task_states.at("app").failed);
  EXPECT_TRUE(a.task_states.at("lock").failed);
  EXPECT_EQ(*RunsOf("app")[0].ended, *RunsOf("lock")[0].ended);
  EXPECT_TRUE(cluster_->RunningPrograms().empty());
}

TEST_F(RunnerTest, FailedTaskKillsSiblings) {
  nomad::Job j = MakeJob("web");
  j.task_groups[0].tasks.push_back(MockTask("helper", R"({"run_for":"2s","exit_code":2})"));
  j.task_groups[0].restart_policy = Restart(0, 30min, 15s, "fail");
  j.task_groups[0].reschedule_policy = NoReschedule();
  Register(j);
  ASSERT_TRUE(RunUntil([&] { return Only().client_status == "failed"; }, 10s));
  Run(1s);
  auto a = Only();
  auto types = EventTypes(a, "main");
  ASSERT_GE(types.size(), 4u);
  EXPECT_EQ(types[3], "Sibling Task Failed");
  EXPECT_EQ(a.task_states.at("main").events[3].display_message,
            "Task's sibling \"helper\" failed");
  EXPECT_EQ(a.task_states.at("main").state, "dead");
}

TEST_F(RunnerTest, PrestartCompletesBeforeMainStarts) {
  nomad::Job j = MakeJob("web");
  j.task_groups[0].tasks.insert(j.task_groups[0].tasks.begin(),
                                Hooked("init", "prestart", false, R"({"run_for":"3s"})"));
  Register(j);
  ASSERT_TRUE(RunUntil([&] { return RunsOf("main").size() == 1; }, 10s, 10ms));
  auto init = RunsOf("init");
  ASSERT_EQ(init.size(), 1u);  // a prestart task is not restarted after success
  ASSERT_TRUE(init[0].ended);
  EXPECT_EQ(init[0].exit_code, 0);
  EXPECT_EQ(RunsOf("main")[0].started, *init[0].ended);
  Run(30s);
  EXPECT_EQ(RunsOf("init").size(), 1u);
  auto a = Only();
  EXPECT_EQ(a.client_status, "running");
  EXPECT_EQ(a.task_states.at("init").state, "dead");
  EXPECT_FALSE(a.task_states.at("init").failed);
}

TEST_F(RunnerTest, SidecarsAndPoststartFollowTheMainTask) {
  nomad::Job j = MakeJob("web", 1, nomad::kJobTypeBatch, R"({"run_for":"3s"})");
  auto& tasks = j.task_groups[0].tasks;
  tasks.push_back(Hooked("post", "poststart", true));
  tasks.push_back(Hooked("side", "prestart", true));
  Register(j);
  Run(1s);
  ASSERT_EQ(RunsOf("side").size(), 1u);
  ASSERT_EQ(RunsOf("main").size(), 1u);
  ASSERT_EQ(RunsOf("post").size(), 1u);
  EXPECT_LT(RunsOf("side")[0].id, RunsOf("main")[0].id);
  EXPECT_LT(RunsOf("main")[0].id, RunsOf("post")[0].id);
  EXPECT_EQ(cluster_->RunningPrograms().size(), 3u);
  // The main task completes; only sidecars are left, so they are killed ("Main Tasks Dead").
  ASSERT_TRUE(RunUntil([&] { return Only().client_status == "complete"; }, 10s));
  auto a = Only();
  auto side = EventTypes(a, "side");
  EXPECT_NE(std::find(side.begin(), side.end(), "Main Tasks Dead"), side.end());
  EXPECT_EQ(*RunsOf("side")[0].ended, *RunsOf("main")[0].ended);
  EXPECT_TRUE(cluster_->RunningPrograms().empty());
}

TEST_F(RunnerTest, PoststopRunsAfterMainTasksAreDead) {
  nomad::Job j = MakeJob("web", 1, nomad::kJobTypeBatch, R"({"run_for":"2s"})");
  j.task_groups[0].tasks.push_back(Hooked("cleanup", "poststop", false, R"({"run_for":"1s"})"));
  Register(j);
  ASSERT_TRUE(RunUntil([&] { return Only().client_status == "complete"; }, 10s, 10ms));
  auto main = RunsOf("main");
  auto cleanup = RunsOf("cleanup");
  ASSERT_EQ(cleanup.size(), 1u);
  EXPECT_EQ(cleanup[0].started, *main[0].ended);
  EXPECT_EQ(*cleanup[0].ended, cleanup[0].started + 1s);
}

TEST_F(RunnerTest, KillTimeoutForcesTheKill) {
  nomad::Job j = MakeJob("web", 1, "service", R"({"kill_after":"20s"})");
  j.task_groups[0].tasks[0].kill_timeout = 3s;
  j.task_groups[0].tasks[0].kill_signal = "SIGTERM";
  Register(j);
  Run(1s);
  auto a = Only();
  ASSERT_TRUE(cluster_->StopAllocation(a.id, false, std::nullopt).ok());
  ASSERT_TRUE(RunUntil([&] { return RunsOf("main")[0].ended.has_value(); }, 10s, 10ms));
  auto run = RunsOf("main")[0];
  EXPECT_EQ(run.signal, kSigKill);
  EXPECT_EQ(run.end_reason, "killed");
  Run(1s);
  auto old = Alloc(a.id);
  EXPECT_EQ(old.client_status, "complete");
  const auto& ev = old.task_states.at("main").events;
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev[ev.size() - 3].type, "Killing");
  EXPECT_EQ(ev[ev.size() - 3].display_message, "Sent interrupt. Waiting 3s before force killing");
  EXPECT_EQ(ev[ev.size() - 2].type, "Terminated");
  EXPECT_EQ(ev[ev.size() - 2].signal, 9);
  EXPECT_EQ(ev.back().type, "Killed");
  EXPECT_EQ(FromUnix(ev.back().time) - FromUnix(ev[ev.size() - 3].time), 3s);
}

TEST_F(RunnerTest, ClientCrashLeavesProgramsRunning) {
  Register(MakeJob("web"));
  Run(1s);
  auto a = Only();
  ASSERT_TRUE(cluster_->CrashClient(a.node_id).ok());
  EXPECT_FALSE(cluster_->IsReachable(a.node_id));
  ASSERT_TRUE(RunUntil([&] { return Alloc(a.id).client_status == "lost"; }, 60s));
  ASSERT_TRUE(RunUntil([&] { return Live().size() == 1; }, 5s));
  // Nobody killed the original: two programs run (the hazard the singleton design guards).
  EXPECT_EQ(cluster_->RunningPrograms().size(), 2u);
  EXPECT_FALSE(RunsOf("main")[0].ended);
  // The agent comes back, learns the alloc was stopped, and kills it.
  ASSERT_TRUE(cluster_->RestartNode(a.node_id).ok());
  ASSERT_TRUE(RunUntil([&] { return RunsOf("main")[0].ended.has_value(); }, 10s));
  EXPECT_EQ(cluster_->RunningPrograms().size(), 1u);
  EXPECT_EQ(cluster_->GetNode(a.node_id)->status, "ready");
}

TEST_F(RunnerTest, PartitionedClientReportsAfterHeal) {
  Register(MakeJob("web", 1, nomad::kJobTypeBatch, R"({"run_for":"15s"})"));
  Run(1s);
  auto a = Only();
  ASSERT_TRUE(cluster_->Partition(a.node_id).ok());
  Run(16s);  // the program ended while partitioned; the server (node still ready) cannot know
  EXPECT_TRUE(RunsOf("main")[0].ended);
  EXPECT_EQ(Alloc(a.id).client_status, "running");
  EXPECT_EQ(cluster_->State().client_allocations.at(a.id).client_status, "complete");
  ASSERT_TRUE(cluster_->Heal(a.node_id).ok());
  Run(1s);
  EXPECT_EQ(Alloc(a.id).client_status, "complete");
}

TEST_F(RunnerTest, SkewedClockScalesClientTimers) {
  Register(MakeJob("web", 1, nomad::kJobTypeBatch, R"({"run_for":"10s"})"));
  Run(1s);
  auto a = Only();
  // Make this node's clock run twice as fast: its 10 s take 5 real seconds... for the run that
  // starts after the skew. Restart the program by stopping and re-placing.
  ASSERT_TRUE(cluster_->SkewClock(a.node_id, 2.0).ok());
  ASSERT_TRUE(RunUntil([&] { return RunsOf("main")[0].ended.has_value(); }, 10s, 10ms));
  // 1 s of the run passed at rate 1 (started at ~10 ms); the other 9 local s took 4.5 s.
  const Duration took = *RunsOf("main")[0].ended - RunsOf("main")[0].started;
  EXPECT_GT(took, 5s);
  EXPECT_LT(took, 6s);
  EXPECT_FALSE(cluster_->SkewClock(a.node_id, 0).ok());
}

TEST_F(RunnerTest, TaskEnvironmentAndWorkloadToken) {
  std::map<std::string, std::string> seen;
  programs_.Register("capture", [&seen](const TaskSpec& spec) {
    seen = spec.env;
    return MakeRunUntilKilledProgram();
  });
  std::vector<std::string> issued;
  cluster_->SetTokenIssuer([&issued](const std::string& ns, const std::string& job,
                                     const std::string& group, const std::string& task,
                                     const std::string& alloc) {
    issued.push_back(ns + "/" + job + "/" + group + "/" + task + "/" + alloc);
    return "secret-" + task;
  });
  std::vector<std::string> revoked;
  cluster_->SetTokenRevoker([&revoked](const std::string& alloc) { revoked.push_back(alloc); });
  nomad::Job j = MakeJob("web");
  j.task_groups[0].tasks[0].driver = "capture";
  j.task_groups[0].tasks[0].env = {{"APP_MODE", "prod"}};
  nomad::WorkloadIdentity id;
  id.env = true;
  j.task_groups[0].tasks[0].identity = id;
  Register(j);
  Run(1s);
  auto a = Only();
  EXPECT_EQ(seen.at("APP_MODE"), "prod");
  EXPECT_EQ(seen.at("NOMAD_TOKEN"), "secret-main");
  EXPECT_EQ(seen.at("NOMAD_ALLOC_ID"), a.id);
  EXPECT_EQ(seen.at("NOMAD_NAMESPACE"), "default");
  EXPECT_EQ(seen.at("NOMAD_JOB_ID"), "web");
  EXPECT_EQ(seen.at("NOMAD_ADDR"), "http://127.0.0.1:4646");
  EXPECT_EQ(seen.at("NOMAD_ALLOC_DIR"), "/tmp/nsg-sim/allocs/" + a.id + "/alloc");
  EXPECT_EQ(seen.at("NOMAD_SECRETS_DIR"), "/tmp/nsg-sim/allocs/" + a.id + "/main/secrets");
  EXPECT_EQ(seen.at("NOMAD_UNIX_ADDR"),
            "unix:///tmp/nsg-sim/allocs/" + a.id + "/main/secrets/api.sock");
  EXPECT_EQ(issued, (std::vector<std::string>{"default/web/app/main/" + a.id}));
  ASSERT_TRUE(cluster_->StopAllocation(a.id, false, std::nullopt).ok());
  Run(1s);
  EXPECT_NE(std::find(revoked.begin(), revoked.end(), a.id), revoked.end());
}

// client/taskenv/env.go sets NOMAD_UNIX_ADDR from 1.10.3 (absent @ v1.10.2); before that a task
// finds the Task API socket under NOMAD_SECRETS_DIR.
class RunnerVersionTest : public ClusterFixture,
                          public ::testing::WithParamInterface<std::pair<const char*, bool>> {
 protected:
  RunnerVersionTest()
      : ClusterFixture(7, 3, nomad::NomadVersion::Parse(GetParam().first).value()) {}
};

TEST_P(RunnerVersionTest, UnixAddrInTheTaskEnvironmentFrom1_10_3) {
  std::map<std::string, std::string> seen;
  programs_.Register("capture", [&seen](const TaskSpec& spec) {
    seen = spec.env;
    return MakeRunUntilKilledProgram();
  });
  cluster_->SetTokenIssuer([](const std::string&, const std::string&, const std::string&,
                              const std::string& task, const std::string&) { return "t-" + task; });
  nomad::Job j = MakeJob("web");
  j.task_groups[0].tasks[0].driver = "capture";
  nomad::WorkloadIdentity id;
  id.env = true;
  j.task_groups[0].tasks[0].identity = id;
  Register(j);
  Run(1s);
  ASSERT_EQ(seen.count("NOMAD_TOKEN"), 1u);
  EXPECT_EQ(seen.count("NOMAD_SECRETS_DIR"), 1u);
  EXPECT_EQ(seen.count("NOMAD_UNIX_ADDR"), GetParam().second ? 1u : 0u) << GetParam().first;
}

INSTANTIATE_TEST_SUITE_P(Versions, RunnerVersionTest,
                         ::testing::Values(std::make_pair("1.10.2", false),
                                           std::make_pair("1.10.3", true),
                                           std::make_pair("1.11.0", true),
                                           std::make_pair("2.0.5", true)));

TEST_F(RunnerTest, StartErrorIsADriverFailure) {
  nomad::Job j = MakeJob("web", 1, "service", R"({"start_error":"no such image"})");
  j.task_groups[0].reschedule_policy = NoReschedule();
  Register(j);
  ASSERT_TRUE(RunUntil([&] { return Only().client_status == "failed"; }, 5s));
  auto a = Only();
  EXPECT_EQ(EventTypes(a, "main"),
            (std::vector<std::string>{"Received", "Task Setup", "Driver Failure",
                                      "Not Restarting"}));
  EXPECT_EQ(RunsOf("main")[0].end_reason, "start error");
}

}  // namespace
}  // namespace nsg::sim
