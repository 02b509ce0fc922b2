// End to end: the real `nomad-singleton lock` binary as the shim of a rendered job with one hot
// standby, run as real processes by the project's Nomad simulator (HTTP, real time). The workload
// appends "start"/"stop" lines to a marks file; the test asserts that at most one workload runs at
// any time, that a graceful stop of the holder hands the lock to the standby, and that the fencing
// epoch grows. Waits are on conditions with deadlines.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller/nomad/version.h"
#include "controller/render/job_renderer.h"
#include "controller/sim/http_frontend.h"
#include "controller/sim/process_driver.h"
#include "controller/spec/loader.h"
#include "tests/test_support/wait.h"

namespace nsg {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::WaitUntil;

struct Mark {
  std::string what;  // start | stop
  std::string alloc;
  uint64_t epoch = 0;
  double at = 0;  // unix seconds
  int pid = 0;
};

std::vector<Mark> ReadMarks(const fs::path& p) {
  std::vector<Mark> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    Mark m;
    ss >> m.what >> m.alloc >> m.epoch >> m.at >> m.pid;
    if (!m.what.empty()) out.push_back(m);
  }
  return out;
}

// Starts and stops never interleave: every start follows the stop of the previous start.
void ExpectAtMostOne(const std::vector<Mark>& marks) {
  int running = 0;
  for (const Mark& m : marks) {
    running += m.what == "start" ? 1 : -1;
    EXPECT_LE(running, 1) << "two workloads ran at once (at " << m.alloc << ")";
  }
}

// A rendered job of the given lock mode with one hot standby (lock ttl 10s, delay 1s) running on a
// 2-node simulator.
class LockSimEndToEnd : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) c = c == '/' ? '-' : c;
    dir_ = fs::temp_directory_path() / ("nsg-e2e-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    marks_ = dir_ / "marks";
    const std::string line = " $NOMAD_ALLOC_ID $NOMAD_SINGLETON_EPOCH $(date +%s.%N) $$\" >> " +
                             marks_.string();
    const fs::path script = dir_ / "workload.sh";
    std::ofstream(script) << "echo \"start" << line << "\n"
                          // Ignore further signals first: the guard may forward Nomad's
                          // signal and also TERM the workload, and "stop" must be written once.
                          << "trap 'trap \"\" TERM INT; echo \"stop" << line
                          << "; exit 0' TERM INT\n"
                          << "while :; do sleep 0.05; done\n";
    const std::string yaml = std::string(R"(apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata: {name: e2e}
spec:
  standby: 1
  lock:
    mode: )") + GetParam() + R"(
    ttl: 10s
    delay: 1s
    agent: {command: )" + NSG_BINARY + R"(}
  task:
    driver: raw_exec
    killTimeout: 2s
    config:
      command: /bin/sh
      args: [")" + script.string() + R"("]
)";
    auto loaded = spec::LoadSpecs({{"e2e.yaml", yaml}}, render::CheckSpec);
    for (const auto& e : loaded.errors) ADD_FAILURE() << e.ToString();
    ASSERT_EQ(loaded.valid.size(), 1u);
    auto rendered = render::Render(loaded.valid[0]);
    ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();

    driver_->RegisterWith(programs_);
    sim::SimServer::Options opts;
    // The modes are spread over the Nomad version profiles rather than multiplied by them: shim
    // on 1.10.2 (no NOMAD_UNIX_ADDR in the task environment), sidecar on 1.11 (no Variable
    // events), split on 2.0.
    opts.core.version = nomad::NomadVersion::FromProfile(GetParam() == "shim"      ? "1.10.2"
                                                         : GetParam() == "sidecar" ? "1.11"
                                                                                   : "2.0")
                            .value();
    opts.nodes = 2;
    opts.cluster.alloc_root = (dir_ / "allocs").string();
    server_ = std::make_unique<sim::SimServer>(opts, programs_);
    ASSERT_TRUE(server_->Start().ok());
    server_->WithModel([&] {
      auto r = server_->cluster().Register({rendered->job, true, 0}, "default");
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    });
    // One holder starts its workload; the other allocation's shim waits on the lock.
    ASSERT_TRUE(WaitUntil([&] { return ReadMarks(marks_).size() >= 1; }, 20s))
        << "no workload started:\n" << Dump();
    first_ = ReadMarks(marks_)[0];
    // In split mode the prestart acquire task writes the lease, so the workload can start before
    // the heartbeat task's process has reached main() and blocked its signals; a stop in that
    // window kills it without a release (safe: the standby then waits 2T + D). Stop only once
    // the holder's heartbeat has logged its start line, which it prints after blocking signals.
    if (GetParam() == "split") {
      const fs::path log =
          dir_ / "allocs" / first_.alloc / "alloc" / "logs" / "singleton-lock.stderr.0";
      EXPECT_TRUE(WaitUntil(
          [&] {
            std::ifstream in(log);
            std::stringstream ss;
            ss << in.rdbuf();
            return ss.str().find("nomad-singleton lock:") != std::string::npos;
          },
          10s))
          << "the holder's heartbeat task never started: " << log;
    }
    EXPECT_EQ(first_.what, "start");
    EXPECT_GT(first_.epoch, 0u) << "NOMAD_SINGLETON_EPOCH not handed to the workload";
    // Programs: shim — two shims; sidecar — lock task + guard in each allocation; split — the
    // holder's heartbeat and guard, and the standby's prestart acquire, still waiting.
    const size_t expected = GetParam() == "shim" ? 2 : GetParam() == "sidecar" ? 4 : 3;
    size_t programs = 0;
    EXPECT_TRUE(WaitUntil(
        [&] {
          server_->WithModel([&] { programs = server_->cluster().State().running.size(); });
          return programs == expected;
        },
        5s))
        << programs << " programs run, expected " << expected;
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    driver_.reset();  // kills every process group still running
    // Keep the allocation logs of a failed run for inspection.
    std::error_code ec;
    if (!HasFailure()) fs::remove_all(dir_, ec);
  }
  // The marks, then every task's events as the simulator recorded them.
  std::string Dump() {
    std::ostringstream ss;
    ss << std::ifstream(marks_).rdbuf();
    server_->WithModel([&] {
      for (const auto& a : server_->cluster().State().allocations) {
        auto full = server_->cluster().GetAllocation(a.id);
        if (!full) continue;
        for (const auto& [task, st] : full->task_states) {
          ss << a.id.substr(0, 8) << " " << task << " " << st.state << ":";
          for (const auto& e : st.events) ss << " [" << e.type << " " << e.display_message << "]";
          ss << "\n";
        }
      }
    });
    return ss.str();
  }

  // The holder's workload stops (a mark), and only then, at least 5s later, the standby's starts.
  void ExpectStopThenTakeover(const std::string& fault) {
    ASSERT_TRUE(WaitUntil([&] { return ReadMarks(marks_).size() >= 3; }, 40s))
        << "no takeover; marks:\n" << Dump();
    auto after = ReadMarks(marks_);
    ExpectAtMostOne(after);
    EXPECT_EQ(after[1].what, "stop") << Dump();
    EXPECT_EQ(after[1].alloc, first_.alloc);
    EXPECT_EQ(after[2].what, "start");
    EXPECT_NE(after[2].alloc, first_.alloc);
    const double margin = after[2].at - after[1].at;
    EXPECT_GE(margin, 5.0) << fault << ": the old workload stopped only " << margin
                           << "s before the standby's started";
    std::cout << fault << ": old workload stopped " << margin << " s before the new one started\n";
  }

  fs::path dir_, marks_;
  std::unique_ptr<sim::ProcessDriver> driver_ = std::make_unique<sim::ProcessDriver>();
  sim::ProgramRegistry programs_ = sim::ProgramRegistry::WithDefaults();
  std::unique_ptr<sim::SimServer> server_;
  Mark first_;
};

TEST_P(LockSimEndToEnd, GracefulStopHandsTheLockToTheStandby) {
  // The holder's shim stops the workload, releases the lock, and the standby takes over.
  server_->WithModel([&] {
    auto r = server_->cluster().StopAllocation(first_.alloc, false, false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  });
  ASSERT_TRUE(WaitUntil([&] { return ReadMarks(marks_).size() >= 3; }, 20s))
      << "no handover; marks:\n" << Dump();
  auto after = ReadMarks(marks_);
  ExpectAtMostOne(after);
  EXPECT_EQ(after[1].what, "stop");
  EXPECT_EQ(after[1].alloc, first_.alloc);
  EXPECT_EQ(after[2].what, "start");
  EXPECT_NE(after[2].alloc, first_.alloc);
  EXPECT_GT(after[2].epoch, first_.epoch) << "the fencing epoch must grow across holders";
  const double handover = after[2].at - after[1].at;
  EXPECT_GE(handover, 0.0);
  // A release, not an expiry: without it the standby could take the lock only after 2 x TTL + delay
  // (21 s here). Typically 20-400 ms (docs/benchmarks.md); the bound leaves room for a loaded CI
  // machine (1.42 s seen once with two builds beside the suite on 2 cores).
  EXPECT_LT(handover, 5.0) << "graceful handover took " << handover << "s";
  std::cout << "graceful handover: " << handover * 1000 << " ms\n";
}

TEST_P(LockSimEndToEnd, HolderNodeCrashStandbyTakesOverAfterTheLockExpires) {
  if (GetParam() == "split") GTEST_SKIP() << "covered by shim and sidecar (21s of real time each)";
  // The holder's node dies: its shim is SIGKILLed, the workload follows (parent-death signal), the
  // lock stays held on the server for 2×TTL after the last renew, then LockDelay.
  std::string node;
  server_->WithModel([&] { node = server_->cluster().NodeOfAlloc(first_.alloc).value_or(""); });
  ASSERT_FALSE(node.empty());
  const auto crash_at = std::chrono::system_clock::now();
  server_->WithModel([&] { ASSERT_TRUE(server_->cluster().CrashNode(node).ok()); });
  EXPECT_TRUE(WaitUntil([&] { return ::kill(first_.pid, 0) != 0; }, 10s))
      << "the crashed holder's workload (pid " << first_.pid << ") outlived its agent";
  ASSERT_TRUE(WaitUntil([&] { return ReadMarks(marks_).size() >= 2; }, 40s))
      << "the standby never took over; marks:\n" << Dump();
  auto after = ReadMarks(marks_);
  ASSERT_EQ(after.size(), 2u) << Dump();
  EXPECT_EQ(after[1].what, "start");
  EXPECT_NE(after[1].alloc, first_.alloc);
  EXPECT_GT(after[1].epoch, first_.epoch);
  const double takeover =
      after[1].at - std::chrono::duration<double>(crash_at.time_since_epoch()).count();
  // The last renew was at most TTL/3 before the crash: the lock frees 2T + D − T/3 ≥ 17.6s after
  // it, and the standby's blocking query acquires within a second of that.
  EXPECT_GE(takeover, 17.6) << "the standby acquired before the lock could have expired";
  EXPECT_LE(takeover, 22.0);
  std::cout << GetParam() << " crash takeover: " << takeover << " s\n";
}

TEST_P(LockSimEndToEnd, PartitionedHolderKillsItsWorkloadBeforeTheLockCanMove) {
  if (GetParam() != "shim") GTEST_SKIP() << "covered by shim (21s of real time)";
  // The simulator never answers requests carrying the partitioned allocation's token: renewals
  // time out, the agent gives up G = 10s after its last successful renew and stops the workload;
  // the lock frees 2T + D = 21s after that renew, so the standby starts only after the stop.
  std::string node;
  server_->WithModel([&] { node = server_->cluster().NodeOfAlloc(first_.alloc).value_or(""); });
  ASSERT_FALSE(node.empty());
  server_->WithModel([&] { ASSERT_TRUE(server_->cluster().Partition(node).ok()); });
  ExpectStopThenTakeover("partition");
  server_->WithModel([&] { ASSERT_TRUE(server_->cluster().Heal(node).ok()); });
}

// The parent process ID from /proc/PID/stat, or 0.
int ParentOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  int ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

std::string CmdlineOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (char& c : s) c = c == '\0' ? ' ' : c;
  return s;
}

// The "Threads:" line of /proc/<pid>/status (0 when unreadable).
int ThreadsOf(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return 0;
}

TEST_P(LockSimEndToEnd, FrozenShimAgentCannotKeepItsWorkloadPastTheLease) {
  if (GetParam() != "shim") {
    GTEST_SKIP() << "sidecar and split run the guard in another task (covered by shim: 21s)";
  }
  // Issue 16: SIGSTOP the holder's lock agent past 2T + D. Its command runs under a guard child,
  // which kills the workload when the lease runs out (G + P after the last renew), before the
  // server frees the lock (2T + D after it) and the standby starts.
  const int guard = ParentOf(first_.pid);
  ASSERT_GT(guard, 1);
  EXPECT_NE(CmdlineOf(guard).find(" guard "), std::string::npos) << CmdlineOf(guard);
  const int agent = ParentOf(guard);
  ASSERT_GT(agent, 1);
  ASSERT_NE(CmdlineOf(agent).find(" lock "), std::string::npos) << CmdlineOf(agent);
  // Issue 17: the agent runs in every allocation with a handful of threads (main, two request
  // workers, two HTTP threads and asio's), not cpprest's default pool of 40 (44 before).
  EXPECT_GT(ThreadsOf(agent), 0);
  EXPECT_LE(ThreadsOf(agent), 8);
  ASSERT_EQ(::kill(agent, SIGSTOP), 0);
  struct Thaw {
    int pid;
    ~Thaw() { ::kill(pid, SIGCONT); }
  } thaw{agent};
  ExpectStopThenTakeover("frozen agent");
}

INSTANTIATE_TEST_SUITE_P(Modes, LockSimEndToEnd, ::testing::Values("shim", "sidecar", "split"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace nsg
