#include "controller/lock_io/process_supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include "tests/lock_io/lock_runner_test_util.h"

namespace nsg::io {
namespace {

using base::StatusCode;
using testing::Dead;
using testing::PidIn;
using testing::TempDir;
using testing::WaitUntil;

std::unique_ptr<ChildProcess> Sh(const std::string& script,
                                 std::vector<std::string> env = {}) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", script};
  spec.extra_env = std::move(env);
  auto c = ChildProcess::Spawn(spec);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

int WaitCode(ChildProcess& c) {
  std::optional<int> code;
  EXPECT_TRUE(WaitUntil([&] { return (code = c.TryReap()).has_value(); }));
  return code.value_or(-1);
}

TEST(ProcessSupervisorTest, ExitCodesFollowTheShellConvention) {
  EXPECT_EQ(WaitCode(*Sh("exit 7")), 7);
  EXPECT_EQ(WaitCode(*Sh("kill -TERM $$")), 128 + SIGTERM);
  EXPECT_EQ(WaitCode(*Sh("kill -KILL $$")), 128 + SIGKILL);
  EXPECT_EQ(ExitCodeFromWaitStatus(0), 0);
}

TEST(ProcessSupervisorTest, EnvironmentIsInheritedAndExtended) {
  TempDir dir;
  ::setenv("NSG_TEST_INHERITED", "yes", 1);
  auto c = Sh("echo \"$NSG_TEST_INHERITED $NOMAD_SINGLETON_EPOCH\" > " + (dir / "out"),
              {"NOMAD_SINGLETON_EPOCH=42"});
  EXPECT_EQ(WaitCode(*c), 0);
  EXPECT_EQ(testing::Slurp(dir / "out"), "yes 42\n");
}

TEST(ProcessSupervisorTest, UnsetVariablesAreNotInherited) {
  TempDir dir;
  ::setenv("NSG_TEST_SECRET", "s3cret", 1);
  ::setenv("NSG_TEST_KEPT", "kept", 1);
  ProcessSpec spec;
  spec.argv = {"sh", "-c",
               "echo \"${NSG_TEST_SECRET-unset} $NSG_TEST_KEPT\" > " + (dir / "out")};
  spec.unset_env = {"NSG_TEST_SECRET"};
  auto c = ChildProcess::Spawn(spec);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(WaitCode(**c), 0);
  EXPECT_EQ(testing::Slurp(dir / "out"), "unset kept\n");
}

TEST(ProcessSupervisorTest, MissingExecutableIsReportedAtSpawn) {
  ProcessSpec spec;
  spec.argv = {"/nonexistent/nsg-no-such-binary"};
  auto c = ChildProcess::Spawn(spec);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  spec.argv = {"nsg-no-such-binary-in-path"};
  EXPECT_EQ(ChildProcess::Spawn(spec).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(FindExecutable("sh").ok(), true);
}

TEST(ProcessSupervisorTest, SignalReachesTheWholeGroupAndReapKillsStragglers) {
  TempDir dir;
  // The workload forks a background child that stays in its group.
  // (sleep starts before the trap, so only the shell ignores TERM.)
  auto c = Sh("sleep 1000 & BG=$!; trap '' TERM; echo $BG > " + (dir / "bg.tmp") + " && mv " +
              (dir / "bg.tmp") + " " + (dir / "bg") + "; wait; exit 5");
  ASSERT_TRUE(WaitUntil([&] { return PidIn(dir / "bg") > 0; }));
  const pid_t bg = PidIn(dir / "bg");
  ASSERT_TRUE(c->SignalGroup(SIGTERM).ok());
  // sleep dies of TERM; the shell ignores it and then exits once `wait` returns.
  EXPECT_TRUE(WaitUntil([&] { return Dead(bg); }));
  EXPECT_EQ(WaitCode(*c), 5);
}

TEST(ProcessSupervisorTest, LeftoverGroupMembersDieWhenTheLeaderIsReaped) {
  TempDir dir;
  auto c = Sh("sleep 1000 & echo $! > " + (dir / "bg.tmp") + " && mv " + (dir / "bg.tmp") + " " +
              (dir / "bg") + "; exit 3");
  EXPECT_EQ(WaitCode(*c), 3);
  ASSERT_GT(PidIn(dir / "bg"), 0);
  EXPECT_TRUE(WaitUntil([&] { return Dead(PidIn(dir / "bg")); }));
}

TEST(ProcessSupervisorTest, ChildDiesWhenItsSupervisorIsKilled) {
  TempDir dir;
  // A supervisor process (forked from this test) spawns the workload, then is SIGKILLed.
  const pid_t supervisor = ::fork();
  ASSERT_GE(supervisor, 0);
  if (supervisor == 0) {
    ProcessSpec spec;
    spec.argv = {"sh", "-c", testing::SleeperScript(dir.path())};
    auto c = ChildProcess::Spawn(spec);
    if (!c.ok()) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  ASSERT_TRUE(WaitUntil([&] { return PidIn(dir / "pid") > 0; }));
  const pid_t workload = PidIn(dir / "pid");
  ASSERT_FALSE(Dead(workload));
  ::kill(supervisor, SIGKILL);
  int st = 0;
  ::waitpid(supervisor, &st, 0);
  EXPECT_TRUE(WaitUntil([&] { return Dead(workload); }));
}

TEST(ProcessSupervisorTest, DestructorKillsARunningChild) {
  TempDir dir;
  pid_t pid;
  {
    auto c = Sh(testing::SleeperScript(dir.path()));
    ASSERT_TRUE(WaitUntil([&] { return PidIn(dir / "pid") > 0; }));
    pid = PidIn(dir / "pid");
  }
  EXPECT_TRUE(Dead(pid));
}

TEST(ProcessSupervisorTest, PidfdBecomesReadableOnExit) {
  auto c = Sh("exit 0");
  ASSERT_GE(c->wait_fd(), 0);
  EXPECT_TRUE(WaitForExit(c->pid(), 10000));
  EXPECT_EQ(WaitCode(*c), 0);
}

}  // namespace
}  // namespace nsg::io
