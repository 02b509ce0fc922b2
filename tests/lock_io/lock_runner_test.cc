// LockRunner end to end with real processes (the workload, the static guard) and a FakeNomadApi,
// under short real timers (TTL 2s, renewals every 667ms). Nothing sleeps to wait: every wait is a condition with a
// deadline.
#include "controller/lock_io/lock_runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <future>
#include <map>
#include <set>

#include "controller/lock_io/guard.h"
#include "controller/lock_io/lease_file.h"
#include "controller/lock_io/process_supervisor.h"
#include "tests/lock_io/lock_runner_fake_api.h"
#include "tests/lock_io/lock_runner_test_util.h"

namespace nsg::io {
namespace {

using namespace std::chrono_literals;
using base::Status;
using testing::Dead;
using testing::FakeNomadApi;
using testing::PidIn;
using testing::TempDir;
using testing::WaitUntil;

lock::Config ShortTimers() {
  lock::Config c;
  c.path = "nomad/jobs/t/lock";
  c.namespace_ = "default";
  c.min_ttl_for_test = 100ms;
  c.ttl = 2s;
  c.delay = 2s;
  c.give_up = 2s;
  c.kill_timeout = 300ms;
  c.stop_margin = 1s;
  c.release_timeout = 1s;
  c.backoff_initial = 50ms;
  c.min_acquire_spacing = 10ms;
  c.assumptions.margin = 100ms;
  c.lock_id = "test-lock-id";
  c.holder_items = {{"alloc_id", "alloc-1"}, {"job_id", "t"}};
  return c;
}

class Logs {
 public:
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& s) {
      std::lock_guard<std::mutex> l(mu_);
      lines_.push_back(s);
    };
  }
  std::string all() {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    for (const auto& s : lines_) out += s + "\n";
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

class LockRunnerTest : public ::testing::Test {
 protected:
  LockRunnerOptions Options(LockMode mode) {
    LockRunnerOptions o;
    o.config = ShortTimers();
    o.mode = mode;
    o.state_dir = dir_ / "singleton";
    o.holder = "alloc-1";
    o.log = logs_.sink();
    o.confirm_poll = 20ms;
    return o;
  }
  // Starts Run() on its own thread.
  void Start(LockRunnerOptions o) {
    auto r = LockRunner::Create(std::move(o), api_, clock_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    runner_ = std::move(r).value();
    LockRunner* p = runner_.get();
    code_ = std::async(std::launch::async, [p] { return p->Run(); });
  }
  int ExitCode() {
    if (code_.wait_for(15s) != std::future_status::ready) {
      ADD_FAILURE() << "the runner did not exit; log:\n" << logs_.all();
      runner_->RequestStop(SIGKILL);
      return -1;
    }
    return code_.get();
  }
  std::string Sleeper(bool ignore_term = false) {
    // Appends to `starts` on each start, so a second start is visible.
    return "echo x >> " + (dir_ / "starts") + "; " + testing::SleeperScript(dir_.path(), ignore_term);
  }
  pid_t WaitForWorkload() {
    EXPECT_TRUE(WaitUntil([&] { return PidIn(dir_ / "pid") > 0; })) << logs_.all();
    return PidIn(dir_ / "pid");
  }
  std::string lease_path() { return dir_ / "singleton/lease"; }

  TempDir dir_;
  FakeNomadApi api_;
  BootClock clock_;
  Logs logs_;
  std::unique_ptr<LockRunner> runner_;
  std::future<int> code_;
};

// ---- shim ----

TEST_F(LockRunnerTest, ShimHandsTheEpochToTheWorkloadAndReleasesWhenItExits) {
  auto o = Options(LockMode::kShim);
  o.command = {"sh", "-c", "echo \"$NOMAD_SINGLETON_EPOCH\" > " + (dir_ / "epoch_seen") + "; exit 7"};
  Start(o);
  EXPECT_EQ(ExitCode(), 7) << logs_.all();
  EXPECT_EQ(testing::Slurp(dir_ / "epoch_seen"), "101\n");  // the acquire's ModifyIndex
  EXPECT_EQ(testing::Slurp(dir_ / "singleton/epoch"), "101\n");
  EXPECT_EQ(api_.calls().front(), "acquire");
  EXPECT_EQ(api_.calls().back(), "release");
  EXPECT_EQ(api_.count("release"), 1);
  // Holder metadata and our own lock ID went with the acquire.
  const nomad::Variable req = api_.last_acquire();
  EXPECT_EQ(req.items.at("alloc_id"), "alloc-1");
  EXPECT_EQ(req.items.at("acquired_at").size(), 20u);  // RFC 3339, seconds, Z
  ASSERT_TRUE(req.lock.has_value());
  EXPECT_EQ(req.lock->id, "test-lock-id");
  EXPECT_EQ(req.lock->ttl, 2s);
  EXPECT_EQ(req.lock->lock_delay, 2s);
}

TEST_F(LockRunnerTest, ShimWorkloadDoesNotGetTheAgentsToken) {
  ::setenv("NOMAD_TOKEN", "agent-identity-token", 1);
  for (const bool guarded : {false, true}) {
    SCOPED_TRACE(guarded ? "under the guard" : "direct child");
    const std::string out = dir_ / (guarded ? "env_guarded" : "env_direct");
    auto o = Options(LockMode::kShim);
    if (guarded) o.guard_command = {NSG_GUARD_BINARY};
    o.command = {"sh", "-c", "echo \"${NOMAD_TOKEN-unset} $NOMAD_SINGLETON_EPOCH\" > " + out};
    Start(o);
    EXPECT_EQ(ExitCode(), 0) << logs_.all();
    const std::string seen = testing::Slurp(out);
    EXPECT_EQ(seen.substr(0, 6), "unset ") << seen;
    EXPECT_GT(seen.size(), 7u) << "the epoch still arrives: " << seen;
  }
  ::unsetenv("NOMAD_TOKEN");
}

TEST_F(LockRunnerTest, ShimGracefulStopStopsTheWorkloadBeforeReleasing) {
  auto o = Options(LockMode::kShim);
  o.command = {"sh", "-c", Sleeper()};
  std::atomic<bool> dead_at_release{false};
  pid_t workload = 0;
  api_.before_release = [&] { dead_at_release = workload > 0 && Dead(workload); };
  Start(o);
  workload = WaitForWorkload();
  runner_->RequestStop(SIGTERM);
  EXPECT_EQ(ExitCode(), 128 + SIGTERM) << logs_.all();
  EXPECT_TRUE(Dead(workload));
  EXPECT_EQ(api_.count("release"), 1);
  EXPECT_TRUE(dead_at_release) << "released while the workload was alive";
}

TEST_F(LockRunnerTest, ShimStubbornWorkloadIsKilledAfterTheKillTimeout) {
  auto o = Options(LockMode::kShim);
  o.command = {"sh", "-c", Sleeper(/*ignore_term=*/true)};
  Start(o);
  const pid_t workload = WaitForWorkload();
  const auto t0 = clock_.Now();
  runner_->RequestStop(SIGTERM);
  EXPECT_EQ(ExitCode(), 128 + SIGKILL) << logs_.all();
  EXPECT_GE(clock_.Now() - t0, 300ms);
  EXPECT_TRUE(Dead(workload));
  EXPECT_EQ(api_.count("release"), 1);
}

TEST_F(LockRunnerTest, ShimRenewConflictKillsAtOnceAndNeverRestarts) {
  auto o = Options(LockMode::kShim);
  o.command = {"sh", "-c", Sleeper(/*ignore_term=*/true)};
  api_.on_renew = [this](int) {
    api_.Bump();  // another holder wrote the variable: the read after the 409 shows it moved
    return Status::Conflict("attempting to modify locked variable");
  };
  Start(o);
  const pid_t workload = WaitForWorkload();
  EXPECT_EQ(ExitCode(), lock::kExitLockLost) << logs_.all();
  EXPECT_TRUE(Dead(workload));
  EXPECT_EQ(testing::Slurp(dir_ / "starts"), "x\n");  // started exactly once
  EXPECT_EQ(api_.count("acquire"), 1);
  EXPECT_EQ(api_.count("release"), 0);  // not ours any more
  // The 409 counts as a failed renew until the read shows the variable moved; a retried renew
  // may go out meanwhile (a loaded machine delays the read), never a second workload.
  EXPECT_GE(api_.count("renew"), 1);
  EXPECT_EQ(api_.count("read index=0"), 1);
}

TEST_F(LockRunnerTest, ShimGiveUpKillsTheWorkloadThenTriesToRelease) {
  auto o = Options(LockMode::kShim);
  o.command = {"sh", "-c", Sleeper()};
  api_.on_renew = [](int) { return Status::Unavailable("connection refused"); };
  std::atomic<bool> dead_at_release{false};
  pid_t workload = 0;
  api_.before_release = [&] { dead_at_release = workload > 0 && Dead(workload); };
  const auto t0 = clock_.Now();
  Start(o);
  workload = WaitForWorkload();
  EXPECT_EQ(ExitCode(), lock::kExitGaveUp) << logs_.all();
  EXPECT_GE(clock_.Now() - t0, 2s);  // G after the acquire's send time
  EXPECT_TRUE(Dead(workload));
  EXPECT_GE(api_.count("renew"), 3);  // retried with backoff in between
  EXPECT_EQ(api_.count("release"), 1);
  EXPECT_TRUE(dead_at_release);
}

TEST_F(LockRunnerTest, ShimAgentSigkilledTakesTheWorkloadWithIt) {
  const pid_t agent = ::fork();
  ASSERT_GE(agent, 0);
  if (agent == 0) {
    FakeNomadApi api;
    BootClock clock;
    LockRunnerOptions o = Options(LockMode::kShim);
    o.log = [](const std::string&) {};
    o.command = {"sh", "-c", Sleeper()};
    auto r = LockRunner::Create(o, api, clock);
    ::_exit(r.ok() ? (*r)->Run() : 99);
  }
  const pid_t workload = WaitForWorkload();
  ASSERT_FALSE(Dead(workload));
  ::kill(agent, SIGKILL);
  int st = 0;
  ::waitpid(agent, &st, 0);
  EXPECT_TRUE(WaitUntil([&] { return Dead(workload); }));
}

TEST_F(LockRunnerTest, ShimMissingCommandReleasesAndExits127) {
  auto o = Options(LockMode::kShim);
  o.command = {"/nonexistent/nsg-workload"};
  Start(o);
  EXPECT_EQ(ExitCode(), 127) << logs_.all();
  EXPECT_EQ(api_.count("release"), 1);
}

// ---- hot standby ----

TEST_F(LockRunnerTest, StandbyWakesOnTheIndexChangeAndNeverStartsBefore) {
  auto o = Options(LockMode::kShim);
  o.config.ttl = 10s;  // a 5s poll: only the index change can wake it within the test's deadline
  o.config.give_up = 10s;
  o.config.delay = 10s;
  o.command = {"sh", "-c", Sleeper()};
  std::atomic<bool> held_elsewhere{true};
  api_.on_acquire = [&](int, const nomad::Variable& v) -> FakeNomadApi::VarResult {
    if (held_elsewhere) return Status::Conflict("held");
    nomad::Variable out = v;
    out.modify_index = 500;
    return out;
  };
  Start(o);
  // acquire (409) → read → acquire (409) → blocking read at the index it learnt.
  ASSERT_TRUE(WaitUntil([&] { return api_.count("read index=100") > 0; })) << logs_.all();
  EXPECT_EQ(PidIn(dir_ / "pid"), 0);
  EXPECT_EQ(api_.count("acquire"), 2);
  const auto t0 = clock_.Now();
  held_elsewhere = false;
  api_.Bump();  // the holder released
  const pid_t workload = WaitForWorkload();
  EXPECT_LT(clock_.Now() - t0, 3s);
  EXPECT_EQ(testing::Slurp(dir_ / "epoch_seen"), "500\n");
  runner_->RequestStop(SIGTERM);
  EXPECT_EQ(ExitCode(), 128 + SIGTERM);
  EXPECT_TRUE(Dead(workload));
}

TEST_F(LockRunnerTest, StandbyStoppedExitsZeroWithoutRelease) {
  auto o = Options(LockMode::kShim);
  o.command = {"sh", "-c", Sleeper()};
  api_.on_acquire = [](int, const nomad::Variable&) -> FakeNomadApi::VarResult {
    return Status::Conflict("held");
  };
  Start(o);
  ASSERT_TRUE(WaitUntil([&] { return api_.count("read") > 0; }));
  runner_->RequestStop(SIGTERM);
  EXPECT_EQ(ExitCode(), 0);
  EXPECT_EQ(api_.count("release"), 0);
  EXPECT_EQ(PidIn(dir_ / "pid"), 0);
}

// ---- sidecar, with the real static guard ----

class SidecarTest : public LockRunnerTest {
 protected:
  void StartGuard(bool ignore_term = false) {
    ProcessSpec spec;
    spec.argv = {NSG_GUARD_BINARY, "--lease", lease_path(), "--", "sh", "-c", Sleeper(ignore_term)};
    auto g = ChildProcess::Spawn(spec);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    guard_ = std::move(g).value();
  }
  std::unique_ptr<ChildProcess> guard_;
};

TEST_F(SidecarTest, GuardStartsTheWorkloadOnlyOnceTheLockIsHeld) {
  std::atomic<bool> held_elsewhere{true};
  api_.on_acquire = [&](int, const nomad::Variable& v) -> FakeNomadApi::VarResult {
    if (held_elsewhere) return Status::Conflict("held");
    nomad::Variable out = v;
    out.modify_index = 700;
    return out;
  };
  StartGuard();
  auto o = Options(LockMode::kSidecar);
  Start(o);
  ASSERT_TRUE(WaitUntil([&] { return api_.count("acquire") >= 2; }));
  EXPECT_EQ(PidIn(dir_ / "pid"), 0);  // standby: the guard waits
  held_elsewhere = false;
  api_.Bump();
  const pid_t workload = WaitForWorkload();
  EXPECT_EQ(testing::Slurp(dir_ / "epoch_seen"), "700\n");
  EXPECT_EQ(testing::Slurp(dir_ / "singleton/epoch"), "700\n");
  runner_->RequestStop(SIGTERM);
  EXPECT_EQ(ExitCode(), 128 + SIGTERM) << logs_.all();
  EXPECT_TRUE(Dead(workload));
}

TEST_F(SidecarTest, GracefulStopRevokesWaitsForTheGuardThenReleases) {
  StartGuard();
  std::atomic<bool> confirmed_at_release{false};
  pid_t workload = 0;
  api_.before_release = [&] {
    auto w = ReadWorkloadState(dir_ / "singleton/workload");
    confirmed_at_release = workload > 0 && Dead(workload) && w.ok() &&
                           w->phase == WorkloadPhase::kExited;
  };
  Start(Options(LockMode::kSidecar));
  workload = WaitForWorkload();
  // Renewals keep the lease fresh well past the first deadline (G = 2s).
  const auto until = clock_.Now() + 3s;
  EXPECT_FALSE(WaitUntil([&] { return Dead(workload); }, 3000ms));
  EXPECT_GE(clock_.Now(), until);
  EXPECT_GE(api_.count("renew"), 4);
  runner_->RequestStop(SIGTERM);
  EXPECT_EQ(ExitCode(), 128 + SIGTERM) << logs_.all();
  EXPECT_TRUE(confirmed_at_release) << "released before the guard confirmed the workload dead";
  EXPECT_EQ(api_.count("release"), 1);
  auto lease = ReadLease(lease_path());
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->state, LeaseState::kStopping);
}

TEST_F(SidecarTest, UnconfirmedDeathIsNotReleased) {
  // A guard that never reports (hung): the workload file says running forever.
  ASSERT_TRUE(MakeDirs(dir_ / "singleton").ok());
  Start(Options(LockMode::kSidecar));
  ASSERT_TRUE(WaitUntil([&] { return ReadLease(lease_path()).ok(); }));
  ASSERT_TRUE(WriteWorkloadState(dir_ / "singleton/workload",
                                 {WorkloadPhase::kRunning, 101, 4242, 4241, 0, ""})
                  .ok());
  runner_->RequestStop(SIGTERM);
  EXPECT_EQ(ExitCode(), lock::kExitUnconfirmed) << logs_.all();
  EXPECT_EQ(api_.count("release"), 0);
}

TEST_F(SidecarTest, LostLeaseMakesTheGuardKillAtOnce) {
  StartGuard(/*ignore_term=*/true);
  api_.on_renew = [](int) { return Status::NotFound("variable doesn't exist"); };
  Start(Options(LockMode::kSidecar));
  const pid_t workload = WaitForWorkload();
  EXPECT_EQ(ExitCode(), lock::kExitLockLost) << logs_.all();
  EXPECT_TRUE(Dead(workload));
  EXPECT_EQ(ReadLease(lease_path())->state, LeaseState::kLost);
  EXPECT_EQ(api_.count("release"), 0);
}

// Issue 16: a full alloc disk. The lease cannot be written any more, so the guard stops the
// workload at the last deadline it read; the agent must then give the lock up (release, exit) so
// that a standby elsewhere can take over, instead of renewing a lock with nothing running.
TEST_F(SidecarTest, UnwritableLeaseStopsTheWorkloadAndGivesTheLockUp) {
  StartGuard();
  Start(Options(LockMode::kSidecar));
  const pid_t workload = WaitForWorkload();
  // Every later write of the lease fails: its temporary file's name is taken by a directory.
  const std::filesystem::path tmp = lease_path() + ".tmp." + std::to_string(::getpid());
  std::filesystem::create_directories(tmp);
  EXPECT_EQ(ExitCode(), kExitLeaseUnwritable) << logs_.all();
  EXPECT_TRUE(Dead(workload));
  EXPECT_EQ(api_.count("release"), 1);
  EXPECT_NE(logs_.all().find("giving the lock up"), std::string::npos) << logs_.all();
  std::filesystem::remove_all(tmp);
}

// Issue 16: a standby on a full alloc disk would take the lock only to give it up at once (its
// lease cannot be written), again and again, while a healthy standby elsewhere waits. It does not
// campaign until a lease write would go through.
TEST_F(SidecarTest, StandbyThatCannotWriteItsLeaseDoesNotCampaign) {
  ASSERT_TRUE(MakeDirs(dir_ / "singleton").ok());
  // Every write of the lease fails: its temporary file's name is taken by a directory.
  const std::filesystem::path tmp = lease_path() + ".tmp." + std::to_string(::getpid());
  std::filesystem::create_directories(tmp);
  Start(Options(LockMode::kSidecar));
  ASSERT_TRUE(WaitUntil([&] {
    return logs_.all().find("not campaigning for the lock") != std::string::npos;
  }, 5000ms)) << logs_.all();
  EXPECT_EQ(api_.count("acquire"), 0);
  std::filesystem::remove_all(tmp);
  ASSERT_TRUE(WaitUntil([&] {
    auto l = ReadLease(lease_path());
    return l.ok() && l->state == LeaseState::kHeld;
  }, 10000ms)) << logs_.all();
  EXPECT_EQ(api_.count("acquire"), 1);
  EXPECT_NE(logs_.all().find("campaigning"), std::string::npos);
  runner_->RequestStop(SIGTERM);
  ExitCode();
}

// ---- split: acquire-only, then heartbeat ----

TEST_F(SidecarTest, SplitAcquireOnlyHandsOffToTheHeartbeat) {
  Start(Options(LockMode::kAcquireOnly));
  EXPECT_EQ(ExitCode(), 0) << logs_.all();
  EXPECT_EQ(api_.calls(), std::vector<std::string>({"acquire"}));  // no release
  auto h = ReadHandoff(dir_ / "singleton/handoff");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->lock_id, "test-lock-id");
  EXPECT_EQ(h->epoch, 101u);
  EXPECT_TRUE(ReadLease(lease_path()).ok());

  // The heartbeat task (leader) starts; then Nomad starts the guarded workload (poststart).
  Start(Options(LockMode::kHeartbeat));
  ASSERT_TRUE(WaitUntil([&] { return api_.count("renew") >= 1; }));
  EXPECT_EQ(api_.calls()[1], "renew");  // renews at once: no second acquire
  StartGuard();
  const pid_t workload = WaitForWorkload();
  EXPECT_EQ(testing::Slurp(dir_ / "epoch_seen"), "101\n");
  runner_->RequestStop(SIGTERM);
  EXPECT_EQ(ExitCode(), 128 + SIGTERM) << logs_.all();
  EXPECT_TRUE(Dead(workload));
  EXPECT_EQ(api_.count("release"), 1);
}

TEST_F(LockRunnerTest, HeartbeatWithoutHandoffFails) {
  Start(Options(LockMode::kHeartbeat));
  EXPECT_EQ(ExitCode(), lock::kExitFailed);
  EXPECT_TRUE(api_.calls().empty());
}

// ---- configuration ----

TEST_F(LockRunnerTest, CreateRejectsBadConfigurations) {
  auto shim = Options(LockMode::kShim);
  EXPECT_FALSE(LockRunner::Create(shim, api_, clock_).ok());  // no command
  auto side = Options(LockMode::kSidecar);
  side.command = {"x"};
  EXPECT_FALSE(LockRunner::Create(side, api_, clock_).ok());
  side.command.clear();
  side.state_dir.clear();
  EXPECT_FALSE(LockRunner::Create(side, api_, clock_).ok());
  auto rule = Options(LockMode::kShim);
  rule.command = {"x"};
  rule.config.give_up = 6s;  // breaks the timer rule with T = 2s, D = 2s
  auto r = LockRunner::Create(rule, api_, clock_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("timer rule"), std::string::npos);
}

TEST(LockAgentAddressTest, PrefersTheTaskApiSocket) {
  struct Case {
    std::map<std::string, std::string> env;
    std::set<std::string> files;
    std::optional<std::string> want;
  };
  const Case cases[] = {
      {{}, {}, std::nullopt},
      {{{"NOMAD_ADDR", "unix:///s/api.sock"}}, {}, "unix:///s/api.sock"},
      {{{"NOMAD_ADDR", "http://10.0.0.1:4646"}}, {}, std::nullopt},
      {{{"NOMAD_TOKEN", "t"}, {"NOMAD_SECRETS_DIR", "/sec"}}, {"/sec/api.sock"},
       "unix:///sec/api.sock"},
      // The socket wins over an http NOMAD_ADDR: a partitioned client then fails renewals fast.
      {{{"NOMAD_ADDR", "http://10.0.0.1:4646"}, {"NOMAD_TOKEN", "t"}, {"NOMAD_SECRETS_DIR", "/sec"}},
       {"/sec/api.sock"},
       "unix:///sec/api.sock"},
      {{{"NOMAD_TOKEN", "t"}, {"NOMAD_UNIX_ADDR", "unix:///u/api.sock"}}, {"/u/api.sock"},
       "unix:///u/api.sock"},
      {{{"NOMAD_SECRETS_DIR", "/sec"}}, {"/sec/api.sock"}, std::nullopt},  // no token
      {{{"NOMAD_TOKEN", "t"}, {"NOMAD_SECRETS_DIR", "/sec"}}, {}, std::nullopt},  // no socket
  };
  for (const auto& c : cases) {
    auto got = LockAgentAddress(
        [&](const char* k) -> const char* {
          auto it = c.env.find(k);
          return it == c.env.end() ? nullptr : it->second.c_str();
        },
        [&](const std::string& p) { return c.files.count(p) > 0; });
    EXPECT_EQ(got, c.want);
  }
}

}  // namespace
}  // namespace nsg::io
