// ProcessDriver (controller/sim/process_driver.h): real /bin/sh processes run as simulated tasks.
// Virtual time drives the model; real time only passes while WaitForActivity() blocks on a child
// (a condition wait with a deadline, no sleeps) or while a killed group is confirmed gone.
#include "controller/sim/process_driver.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "controller/sim/cluster.h"
#include "controller/sim/sim_core.h"

namespace nsg::sim {
namespace {

using namespace std::chrono_literals;

// Live (non-zombie) processes whose process group is `pgid`, from /proc.
int LiveGroupMembers(pid_t pgid) {
  int n = 0;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state = 0;
    long ppid = 0, pgrp = 0;
    rest >> state >> ppid >> pgrp;
    if (pgrp == pgid && state != 'Z' && state != 'X') ++n;
  }
  ::closedir(d);
  return n;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

class ProcessDriverTest : public ::testing::Test {
 protected:
  ProcessDriverTest() : core_(SimCore::Options{}) {
    char tmpl[] = "/tmp/nsg-sim-process-XXXXXX";
    root_ = ::mkdtemp(tmpl);
    driver_.RegisterWith(programs_);
    ClusterOptions opts;
    opts.alloc_root = root_ + "/allocs";
    cluster_ = std::make_unique<Cluster>(core_, programs_, opts);
    node_ = cluster_->AddNode({});
  }
  ~ProcessDriverTest() override {
    cluster_.reset();
    std::string cmd = "rm -rf '" + root_ + "'";
    int rc = std::system(cmd.c_str());
    (void)rc;
  }

  nomad::Job ShellJob(const std::string& type, const std::string& script) {
    nomad::Job j;
    j.id = "proc";
    j.type = type;
    j.datacenters = {"dc1"};
    nomad::TaskGroup g;
    g.name = "app";
    nomad::RestartPolicy rp;
    rp.attempts = 0;
    rp.interval = 1h;
    rp.delay = 15s;
    rp.mode = "fail";
    g.restart_policy = rp;
    nomad::ReschedulePolicy rs;
    rs.interval = 1h;
    rs.delay = 5s;
    rs.delay_function = "constant";
    g.reschedule_policy = rs;
    nomad::Task t;
    t.name = "main";
    t.driver = "raw_exec";
    t.config = R"({"command":"/bin/sh","args":["-c",)" + JsonString(script) + "]}";
    t.env = {{"GREETING", "hello"}};
    g.tasks.push_back(t);
    j.task_groups.push_back(g);
    return j;
  }
  void Register(const nomad::Job& j) {
    nomad::RegisterRequest req;
    req.job = j;
    ASSERT_TRUE(cluster_->Register(req, "default").ok());
  }
  const ProgramRun& FirstRun() { return cluster_->ProgramHistory().at(0); }
  // Lets virtual time follow the real processes until the first run ends (real deadline 20s).
  bool RunUntilFirstRunEnds() {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!cluster_->ProgramHistory().empty() && FirstRun().ended) return true;
      driver_.WaitForActivity(2000ms);
      core_.AdvanceBy(100ms);
    }
    return false;
  }
  nomad::Allocation OnlyAlloc() { return cluster_->JobAllocations("default", "proc", true).at(0); }

  SimCore core_;
  std::string root_;
  ProcessDriver driver_;
  ProgramRegistry programs_ = ProgramRegistry::WithDefaults();
  std::unique_ptr<Cluster> cluster_;
  std::string node_;
};

TEST_F(ProcessDriverTest, RunsShellWithTaskEnvAndCapturesExitCode) {
  Register(ShellJob(nomad::kJobTypeBatch,
                    R"(echo "$NOMAD_ALLOC_ID $GREETING $NOMAD_JOB_ID" > "$NOMAD_TASK_DIR/out"; )"
                    R"(echo to-stdout; pwd > "$NOMAD_ALLOC_DIR/cwd"; exit 7)"));
  core_.AdvanceBy(1s);
  ASSERT_EQ(cluster_->ProgramHistory().size(), 1u);
  ASSERT_TRUE(RunUntilFirstRunEnds());
  EXPECT_EQ(FirstRun().exit_code, 7);
  EXPECT_EQ(FirstRun().signal, 0);
  EXPECT_EQ(FirstRun().end_reason, "exited");
  core_.AdvanceBy(1s);
  nomad::Allocation a = OnlyAlloc();
  EXPECT_EQ(a.client_status, "failed");
  const auto& ev = a.task_states.at("main").events;
  bool terminated = false;
  for (const auto& e : ev) {
    if (e.type == "Terminated") {
      terminated = true;
      EXPECT_EQ(e.exit_code, 7);
    }
  }
  EXPECT_TRUE(terminated);
  const std::string alloc_root = root_ + "/allocs/" + a.id;
  std::ifstream out(alloc_root + "/main/local/out");
  std::string line;
  ASSERT_TRUE(std::getline(out, line));
  EXPECT_EQ(line, a.id + " hello proc");
  std::ifstream cwd(alloc_root + "/alloc/cwd");
  ASSERT_TRUE(std::getline(cwd, line));
  EXPECT_EQ(line, alloc_root + "/main");
  std::ifstream log(alloc_root + "/alloc/logs/main.stdout.0");
  ASSERT_TRUE(std::getline(log, line));
  EXPECT_EQ(line, "to-stdout");
  EXPECT_EQ(driver_.RunningCount(), 0u);
}

TEST_F(ProcessDriverTest, NodeCrashKillsTheWholeProcessGroup) {
  Register(ShellJob(nomad::kJobTypeService, "sleep 300 & sleep 300"));
  core_.AdvanceBy(1s);
  nomad::Allocation a = OnlyAlloc();
  auto pid = driver_.PidOf(a.id, "main");
  ASSERT_TRUE(pid);
  // Both the shell's children are up once the group has three members (sh + 2 × sleep).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (LiveGroupMembers(*pid) < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ(LiveGroupMembers(*pid), 3);
  ASSERT_TRUE(cluster_->CrashNode(node_).ok());
  EXPECT_TRUE(FirstRun().ended);
  EXPECT_EQ(FirstRun().end_reason, "node crashed");
  deadline = std::chrono::steady_clock::now() + 10s;
  while (LiveGroupMembers(*pid) > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(LiveGroupMembers(*pid), 0);
  EXPECT_EQ(driver_.RunningCount(), 0u);
}

TEST_F(ProcessDriverTest, StopSendsTheKillSignalToTheGroup) {
  Register(ShellJob(nomad::kJobTypeService,
                    R"(trap 'exit 3' INT; echo ready > "$NOMAD_TASK_DIR/ready"; )"
                    R"(while true; do sleep 0.05; done)"));
  core_.AdvanceBy(1s);
  nomad::Allocation a = OnlyAlloc();
  const std::string ready = root_ + "/allocs/" + a.id + "/main/local/ready";
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!std::ifstream(ready).good() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(cluster_->StopAllocation(a.id, false, std::nullopt).ok());
  core_.AdvanceBy(100ms);  // eval + pull: the client sends SIGINT
  ASSERT_TRUE(RunUntilFirstRunEnds());
  EXPECT_EQ(FirstRun().exit_code, 3);
  EXPECT_EQ(FirstRun().end_reason, "killed");
}

TEST_F(ProcessDriverTest, MissingCommandIsADriverFailure) {
  nomad::Job j = ShellJob(nomad::kJobTypeBatch, "true");
  j.task_groups[0].tasks[0].config = R"({"command":"/nonexistent/nsg-bin"})";
  Register(j);
  core_.AdvanceBy(1s);
  nomad::Allocation a = OnlyAlloc();
  EXPECT_EQ(a.client_status, "failed");
  const auto& ev = a.task_states.at("main").events;
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev[2].type, "Driver Failure");
  EXPECT_EQ(ev[2].display_message,
            "failed to start \"/nonexistent/nsg-bin\": No such file or directory");
}

}  // namespace
}  // namespace nsg::sim
