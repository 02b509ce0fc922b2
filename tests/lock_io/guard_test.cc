// The guard, run as the real static nomad-singleton-guard executable against lease files that the
// test writes: it starts the workload only on a valid lease and kills it on a stale, removed,
// revoked or lost one; its own death takes the workload with it.
#include "controller/lock_io/guard.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include "controller/lock_io/lease_file.h"
#include "controller/lock_io/process_supervisor.h"
#include "tests/lock_io/lock_runner_test_util.h"

namespace nsg::io {
namespace {

using namespace std::chrono_literals;
using base::StatusCode;
using testing::Dead;
using testing::PidIn;
using testing::TempDir;
using testing::WaitUntil;

class GuardTest : public ::testing::Test {
 protected:
  std::string lease_path() const { return dir_ / "singleton/lease"; }
  std::string state_path() const { return dir_ / "singleton/workload"; }

  void WriteValidLease(Duration valid_for, uint64_t epoch = 77, Duration kill = 300ms) {
    Lease l;
    l.state = LeaseState::kHeld;
    l.epoch = epoch;
    l.holder = "alloc-1";
    l.path = "nomad/jobs/x/lock";
    l.deadline = BootClock().Now() + valid_for;
    l.kill_timeout = kill;
    ASSERT_TRUE(MakeDirs(dir_ / "singleton").ok());
    ASSERT_TRUE(WriteLease(lease_path(), l).ok());
  }
  void SetLeaseState(LeaseState s) {
    auto l = ReadLease(lease_path());
    ASSERT_TRUE(l.ok());
    l->state = s;
    ASSERT_TRUE(WriteLease(lease_path(), *l).ok());
  }

  void StartGuard(bool ignore_term = false) {
    ProcessSpec spec;
    spec.argv = {NSG_GUARD_BINARY, "--lease", lease_path(), "--", "sh", "-c",
                 testing::SleeperScript(dir_.path(), ignore_term)};
    auto g = ChildProcess::Spawn(spec);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    guard_ = std::move(g).value();
  }
  std::optional<WorkloadPhase> Phase() {
    auto w = ReadWorkloadState(state_path());
    if (!w.ok()) return std::nullopt;
    return w->phase;
  }
  pid_t WaitForWorkload() {
    EXPECT_TRUE(WaitUntil([&] { return PidIn(dir_ / "pid") > 0; }));
    return PidIn(dir_ / "pid");
  }
  int GuardExitCode() {
    std::optional<int> code;
    EXPECT_TRUE(WaitUntil([&] { return (code = guard_->TryReap()).has_value(); }));
    return code.value_or(-1);
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> guard_;
};

TEST_F(GuardTest, WaitsForAValidLeaseThenStartsWithTheEpoch) {
  StartGuard();
  ASSERT_TRUE(WaitUntil([&] { return Phase() == WorkloadPhase::kWaiting; }));
  // An expired lease does not start anything.
  WriteValidLease(-1s);
  ASSERT_TRUE(WaitUntil([&] { return Phase() == WorkloadPhase::kWaiting; }));
  EXPECT_EQ(PidIn(dir_ / "pid"), 0);
  WriteValidLease(60s, 77);
  const pid_t w = WaitForWorkload();
  EXPECT_GT(w, 0);
  EXPECT_EQ(testing::Slurp(dir_ / "epoch_seen"), "77\n");
  ASSERT_TRUE(WaitUntil([&] { return Phase() == WorkloadPhase::kRunning; }));
  EXPECT_EQ(ReadWorkloadState(state_path())->pid, w);
  EXPECT_EQ(ReadWorkloadState(state_path())->epoch, 77u);
}

TEST_F(GuardTest, StaleLeaseKillsTheWorkload) {
  WriteValidLease(1500ms);
  StartGuard();
  const pid_t w = WaitForWorkload();
  // No renewal: the deadline passes and the guard TERMs the workload's group.
  EXPECT_TRUE(WaitUntil([&] { return Dead(w); }));
  EXPECT_EQ(GuardExitCode(), 128 + SIGTERM);
  auto st = ReadWorkloadState(state_path());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->phase, WorkloadPhase::kExited);
  EXPECT_EQ(st->exit_code, 128 + SIGTERM);
}

TEST_F(GuardTest, RenewedLeaseKeepsTheWorkloadRunning) {
  WriteValidLease(1500ms);
  StartGuard();
  const pid_t w = WaitForWorkload();
  // Keep extending for well past the first deadline.
  const auto until = BootClock().Now() + 3s;
  while (BootClock().Now() < until) {
    WriteValidLease(1500ms);
    ASSERT_FALSE(Dead(w));
    ASSERT_FALSE(WaitUntil([&] { return Dead(w); }, 200ms));
  }
  SetLeaseState(LeaseState::kStopping);
  EXPECT_TRUE(WaitUntil([&] { return Dead(w); }));
  EXPECT_EQ(GuardExitCode(), 128 + SIGTERM);
}

TEST_F(GuardTest, RemovedLeaseFileKillsTheWorkload) {
  WriteValidLease(60s);
  StartGuard();
  const pid_t w = WaitForWorkload();
  ASSERT_EQ(::unlink(lease_path().c_str()), 0);
  EXPECT_TRUE(WaitUntil([&] { return Dead(w); }, 3000ms));
  EXPECT_EQ(GuardExitCode(), 128 + SIGTERM);
}

TEST_F(GuardTest, RevokedLeaseTermsThenKillsAfterTheLeasesKillTimeout) {
  WriteValidLease(60s, 5, 400ms);
  StartGuard(/*ignore_term=*/true);
  const pid_t w = WaitForWorkload();
  const auto t0 = BootClock().Now();
  SetLeaseState(LeaseState::kStopping);
  ASSERT_TRUE(WaitUntil([&] { return Phase() == WorkloadPhase::kStopping; }));
  EXPECT_TRUE(WaitUntil([&] { return Dead(w); }));
  EXPECT_GE(BootClock().Now() - t0, 400ms);  // TERM was ignored: KILL after the kill timeout
  EXPECT_EQ(GuardExitCode(), 128 + SIGKILL);
  EXPECT_EQ(ReadWorkloadState(state_path())->phase, WorkloadPhase::kExited);
}

TEST_F(GuardTest, LostLeaseKillsAtOnce) {
  WriteValidLease(60s, 5, 30s);  // a kill timeout that must not be waited for
  StartGuard(/*ignore_term=*/true);
  const pid_t w = WaitForWorkload();
  SetLeaseState(LeaseState::kLost);
  EXPECT_TRUE(WaitUntil([&] { return Dead(w); }, 3000ms));
  EXPECT_EQ(GuardExitCode(), 128 + SIGKILL);
}

TEST_F(GuardTest, GuardPausedPastTheKillInstantKillsAtOnceWithoutGrace) {
  // A guard frozen (SIGSTOP, a frozen cgroup, a suspended VM) beyond lease deadline + kill
  // timeout wakes when a successor may already run: no TERM and no grace, KILL at once.
  WriteValidLease(700ms, 5, 300ms);
  StartGuard();  // the workload would exit on TERM (code 143): KILL must come first
  const pid_t w = WaitForWorkload();
  ASSERT_EQ(::kill(guard_->pid(), SIGSTOP), 0);
  const auto kill_instant = ReadLease(lease_path())->deadline + 300ms;
  ASSERT_TRUE(WaitUntil([&] { return BootClock().Now() > kill_instant + 200ms; }, 5000ms));
  ASSERT_EQ(::kill(guard_->pid(), SIGCONT), 0);
  EXPECT_TRUE(WaitUntil([&] { return Dead(w); }, 3000ms));
  EXPECT_EQ(GuardExitCode(), 128 + SIGKILL);
}

TEST(GuardStopSignalTest, TermWithinTheKillTimeoutKillWhenLostOrPastIt) {
  using base::Status;
  const TimePoint deadline = TimePoint{} + 100s;
  Lease l;
  l.epoch = 3;
  l.deadline = deadline;
  auto at = [&](Lease x, Duration after, uint64_t epoch = 3) {
    return GuardStopSignal(Result<Lease>(x), epoch, deadline + after, 5s);
  };
  EXPECT_EQ(at(l, -1s), 0);                      // valid: keep running
  EXPECT_EQ(at(l, 0s), SIGTERM);                 // the deadline: TERM, KILL after 5 s
  EXPECT_EQ(at(l, 4999ms), SIGTERM);
  EXPECT_EQ(at(l, 5s), SIGKILL);                 // woke past the kill instant
  EXPECT_EQ(at(l, 90s), SIGKILL);
  Lease stopping = l;
  stopping.state = LeaseState::kStopping;
  EXPECT_EQ(at(stopping, -50s), SIGTERM);         // a graceful revoke
  EXPECT_EQ(at(stopping, 6s), SIGKILL);
  Lease lost = l;
  lost.state = LeaseState::kLost;
  EXPECT_EQ(at(lost, -50s), SIGKILL);
  EXPECT_EQ(at(l, -50s, 4), SIGTERM);            // another epoch's lease
  EXPECT_EQ(GuardStopSignal(Result<Lease>(Status::NotFound("no lease")), 3, deadline, 5s),
            SIGTERM);
}

TEST_F(GuardTest, GuardKilledTakesTheWorkloadWithIt) {
  WriteValidLease(60s);
  StartGuard();
  const pid_t w = WaitForWorkload();
  ::kill(guard_->pid(), SIGKILL);
  EXPECT_TRUE(WaitUntil([&] { return Dead(w); }));
}

TEST_F(GuardTest, TermToTheGuardIsForwarded) {
  WriteValidLease(60s);
  StartGuard();
  const pid_t w = WaitForWorkload();
  ::kill(guard_->pid(), SIGTERM);
  EXPECT_TRUE(WaitUntil([&] { return Dead(w); }));
  EXPECT_EQ(GuardExitCode(), 128 + SIGTERM);
}

TEST_F(GuardTest, TermBeforeTheLeaseExitsCleanly) {
  StartGuard();
  ASSERT_TRUE(WaitUntil([&] { return Phase() == WorkloadPhase::kWaiting; }));
  ::kill(guard_->pid(), SIGTERM);
  EXPECT_EQ(GuardExitCode(), 0);
  EXPECT_EQ(ReadWorkloadState(state_path())->phase, WorkloadPhase::kExited);
}

TEST_F(GuardTest, WorkloadExitCodeIsTheGuardsExitCode) {
  WriteValidLease(60s);
  ProcessSpec spec;
  spec.argv = {NSG_GUARD_BINARY, "--lease", lease_path(), "--", "sh", "-c", "exit 7"};
  auto g = ChildProcess::Spawn(spec);
  ASSERT_TRUE(g.ok());
  guard_ = std::move(g).value();
  EXPECT_EQ(GuardExitCode(), 7);
  EXPECT_EQ(ReadWorkloadState(state_path())->exit_code, 7);
}

TEST_F(GuardTest, MissingCommandExits127) {
  WriteValidLease(60s);
  ProcessSpec spec;
  spec.argv = {NSG_GUARD_BINARY, "--lease", lease_path(), "--", "/nonexistent/nsg-cmd"};
  auto g = ChildProcess::Spawn(spec);
  ASSERT_TRUE(g.ok());
  guard_ = std::move(g).value();
  EXPECT_EQ(GuardExitCode(), 127);
}

TEST(GuardArgsTest, ParsesFlagsAndDefaultsFromTheAllocDir) {
  auto a = ParseGuardArgs({"--", "app", "-x"}, "/alloc");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->options.lease_path, "/alloc/singleton/lease");
  EXPECT_EQ(a->options.state_path, "/alloc/singleton/workload");
  EXPECT_EQ(a->options.command, (std::vector<std::string>{"app", "-x"}));
  auto b = ParseGuardArgs({"--lease=/x/l", "--poll", "100ms", "--kill-timeout=2s", "--", "a"}, "");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->options.lease_path, "/x/l");
  EXPECT_EQ(b->options.poll, 100ms);
  EXPECT_EQ(b->options.kill_timeout, 2s);
  EXPECT_TRUE(ParseGuardArgs({"--help"}, "")->help);
  EXPECT_FALSE(ParseGuardArgs({"--", "a"}, "").ok());          // no lease, no alloc dir
  EXPECT_FALSE(ParseGuardArgs({"app"}, "/alloc").ok());        // command without --
  EXPECT_FALSE(ParseGuardArgs({"--"}, "/alloc").ok());         // empty command
  EXPECT_FALSE(ParseGuardArgs({"--poll", "0s", "--", "a"}, "/alloc").ok());
  EXPECT_FALSE(ParseGuardArgs({"--poll"}, "/alloc").ok());
}

TEST(GuardInstallTest, CopiesTheStaticGuardBesideTheExecutable) {
  TempDir dir;
  const std::string dest = dir / "alloc/singleton/guard";
  // NSG_GUARD_BINARY lives beside the nomad-singleton binary, where the agent looks.
  const std::string self = std::string(NSG_GUARD_BINARY) + "-not-the-agent";
  ASSERT_TRUE(InstallGuardBinary(self, dest).ok());
  struct stat st {};
  ASSERT_EQ(::stat(dest.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  EXPECT_EQ(testing::Slurp(dest), testing::Slurp(NSG_GUARD_BINARY));
  ASSERT_TRUE(InstallGuardBinary(self, dest).ok());  // idempotent
  EXPECT_EQ(InstallGuardBinary("/nonexistent/dir/nomad-singleton", dir / "x").code(),
            ::getenv("PATH") && FindExecutable("nomad-singleton-guard").ok()
                ? StatusCode::kOk
                : StatusCode::kNotFound);
}

}  // namespace
}  // namespace nsg::io
