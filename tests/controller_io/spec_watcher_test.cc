#include "controller/controller_io/spec_watcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_support/temp_dir.h"
#include "tests/test_support/wait.h"

namespace nsg::io {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

// The test's own limit for a Wait that should return: far above the watcher's delays.
constexpr Ms kLimit{5000};
// Short enough to keep the "not relevant" tests quick; long enough that a relevant event
// (reported after the 100 ms debounce) comes first.
constexpr Ms kShortRescan{400};

struct Waited {
  WakeReason reason;
  Ms took;
};

// Runs w.Wait on a helper thread, then `act` on this one; stops the Wait if it has not returned
// within `limit` (then the result is kStopped).
Waited WaitWithin(SpecWatcher& w, const std::function<void()>& act = {}, Ms limit = kLimit) {
  std::stop_source stop;
  std::atomic<bool> done{false};
  WakeReason reason = WakeReason::kStopped;
  const auto start = std::chrono::steady_clock::now();
  std::jthread waiter([&] {
    reason = w.Wait(stop.get_token());
    done.store(true);
  });
  if (act) act();
  if (!test_support::WaitUntil([&] { return done.load(); }, limit)) stop.request_stop();
  waiter.join();
  return {reason, std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - start)};
}

class SpecWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(root_ / "specs"); }

  // DIR for the watcher: root_/specs, so that tests can delete, replace and move things out.
  std::string Dir() const { return (root_ / "specs").string(); }
  fs::path P(const std::string& rel) const { return root_ / "specs" / rel; }

  void Write(const std::string& rel, const std::string& content = "kind: Singleton\n") {
    fs::path p = P(rel);
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }

  std::unique_ptr<SpecWatcher> Open(SpecWatcherOptions options = {}) {
    options.log = [this](const std::string& line) {
      std::lock_guard lock(log_mu_);
      log_.push_back(line);
    };
    auto w = SpecWatcher::Open(Dir(), std::move(options));
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? std::move(w).value() : nullptr;
  }
  // Options where only a relevant event can end a Wait within the test's limit.
  static SpecWatcherOptions NoRescan() {
    SpecWatcherOptions o;
    o.rescan_period = 1h;
    o.poll_fallback = 1h;
    return o;
  }
  static SpecWatcherOptions ShortRescan() {
    SpecWatcherOptions o;
    o.rescan_period = kShortRescan;
    o.poll_fallback = 1h;
    return o;
  }
  std::vector<std::string> Log() {
    std::lock_guard lock(log_mu_);
    return log_;
  }

  test_support::TestTempDir tmp_{"nsg_spec_watcher"};
  const fs::path root_ = tmp_.path();
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_F(SpecWatcherTest, WriteOfYamlFileWakesWithChanged) {
  auto w = Open(NoRescan());
  ASSERT_NE(w, nullptr);
  EXPECT_TRUE(w->inotify_active());
  Waited r = WaitWithin(*w, [&] { Write("a.yaml"); });
  EXPECT_EQ(r.reason, WakeReason::kChanged);
  // Reported after the debounce, not before.
  EXPECT_GE(r.took, Ms(90));
  Waited yml = WaitWithin(*w, [&] { Write("b.yml"); });
  EXPECT_EQ(yml.reason, WakeReason::kChanged);
  EXPECT_TRUE(Log().empty());
}

TEST_F(SpecWatcherTest, BurstOfWritesWithinTheDebounceIsOneWake) {
  auto w = Open(ShortRescan());
  ASSERT_NE(w, nullptr);
  Ms burst{0};
  Waited first = WaitWithin(*w, [&] {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i) {
      Write("burst" + std::to_string(i % 10) + ".yaml", std::to_string(i));
    }
    burst = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - start);
  });
  EXPECT_EQ(first.reason, WakeReason::kChanged);
  // Then the rescan. A report needs 100 ms without an event (or 1 s of events), so a burst that
  // took longer than the debounce on a loaded machine may be reported once more per 100 ms.
  int changed = 1;
  for (;;) {
    Waited next = WaitWithin(*w);
    ASSERT_NE(next.reason, WakeReason::kStopped);
    if (next.reason == WakeReason::kRescan) break;
    ++changed;
    ASSERT_LE(changed, 100);
  }
  EXPECT_LE(changed, std::max<int64_t>(2, 1 + burst.count() / 100))
      << "the burst took " << burst.count() << " ms";
}

TEST_F(SpecWatcherTest, SteadyStreamOfWritesIsReportedWithinMaxDelay) {
  SpecWatcherOptions o = NoRescan();
  o.debounce = 100ms;
  o.max_delay = 300ms;
  auto w = Open(o);
  ASSERT_NE(w, nullptr);
  // A writer that never pauses for the debounce: only max_delay can end the Wait.
  std::atomic<bool> writer_done{false};
  std::jthread writer([&](std::stop_token stop) {
    const auto until = std::chrono::steady_clock::now() + kLimit;
    for (int i = 0; !stop.stop_requested() && std::chrono::steady_clock::now() < until; ++i) {
      Write("stream.yaml", std::to_string(i));
      std::this_thread::sleep_for(5ms);  // pacing the writes, not waiting for anything
    }
    writer_done.store(true);
  });
  Waited r = WaitWithin(*w);
  EXPECT_FALSE(writer_done.load()) << "Wait returned only after the writes stopped";
  writer.request_stop();
  EXPECT_EQ(r.reason, WakeReason::kChanged);
  EXPECT_LT(r.took, Ms(2000));
}

TEST_F(SpecWatcherTest, FileInNewSubdirectoryIsSeenAndTheSubdirectoryIsWatched) {
  auto w = Open(NoRescan());
  ASSERT_NE(w, nullptr);
  // Created before the watcher can add a watch for the new directories: found by listing them.
  EXPECT_EQ(WaitWithin(*w, [&] { Write("team/deeper/a.yaml"); }).reason, WakeReason::kChanged);
  // Afterwards the new directory has its own watch.
  EXPECT_EQ(WaitWithin(*w, [&] { Write("team/deeper/b.yaml"); }).reason, WakeReason::kChanged);
}

TEST_F(SpecWatcherTest, EditorRenameOfTempFileIsSeenByItsTargetName) {
  auto w = Open(ShortRescan());
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(WaitWithin(*w, [&] { Write("x.yaml.tmp"); }).reason, WakeReason::kRescan);
  EXPECT_EQ(WaitWithin(*w, [&] { fs::rename(P("x.yaml.tmp"), P("x.yaml")); }).reason,
            WakeReason::kChanged);
}

TEST_F(SpecWatcherTest, DeletionAndMovingOutAreSeen) {
  Write("a.yaml");
  Write("b.yaml");
  auto w = Open(NoRescan());
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(WaitWithin(*w, [&] { fs::remove(P("a.yaml")); }).reason, WakeReason::kChanged);
  EXPECT_EQ(WaitWithin(*w, [&] { fs::rename(P("b.yaml"), root_ / "b.yaml"); }).reason,
            WakeReason::kChanged);
}

TEST_F(SpecWatcherTest, IrrelevantChangesWakeOnlyAtTheRescanTick) {
  Write("a.yaml");
  auto w = Open(ShortRescan());
  ASSERT_NE(w, nullptr);
  Waited r = WaitWithin(*w, [&] {
    Write("notes.txt");
    Write(".hidden.yaml");
    Write(".git/objects/x.yaml");  // a hidden directory is not read, so not watched
    Write("x.yaml.swp");
    fs::create_directories(P("empty/dir"));  // no spec file in it
    fs::permissions(P("a.yaml"), fs::perms::owner_exec, fs::perm_options::add);  // attributes
  });
  EXPECT_EQ(r.reason, WakeReason::kRescan);
  EXPECT_GE(r.took, kShortRescan / 2);  // the tick counts from Open, a little before
  // The rescan repeats every rescan period.
  EXPECT_EQ(WaitWithin(*w).reason, WakeReason::kRescan);
}

TEST_F(SpecWatcherTest, SubdirectoryMovedOutIsSeenAndNoLongerWatched) {
  Write("team/a.yaml");
  auto w = Open(ShortRescan());
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(WaitWithin(*w, [&] { fs::rename(P("team"), root_ / "team"); }).reason,
            WakeReason::kChanged);
  // Writes in the moved directory are outside DIR now.
  EXPECT_EQ(WaitWithin(*w, [&] { std::ofstream(root_ / "team" / "b.yaml") << "x"; }).reason,
            WakeReason::kRescan);
  // A subdirectory moved in is seen (it holds a spec) and watched.
  EXPECT_EQ(WaitWithin(*w, [&] { fs::rename(root_ / "team", P("moved")); }).reason,
            WakeReason::kChanged);
  EXPECT_EQ(WaitWithin(*w, [&] { Write("moved/c.yaml"); }).reason, WakeReason::kChanged);
}

TEST_F(SpecWatcherTest, StopTokenEndsWaitAtOnce) {
  auto w = Open(NoRescan());
  ASSERT_NE(w, nullptr);
  std::stop_source stopped;
  stopped.request_stop();
  EXPECT_EQ(w->Wait(stopped.get_token()), WakeReason::kStopped);

  std::stop_source stop;
  std::atomic<bool> done{false};
  WakeReason reason = WakeReason::kChanged;
  std::jthread waiter([&] {
    reason = w->Wait(stop.get_token());
    done.store(true);
  });
  EXPECT_FALSE(test_support::WaitUntil([&] { return done.load(); }, Ms(50)));  // it blocks
  const auto start = std::chrono::steady_clock::now();
  stop.request_stop();
  ASSERT_TRUE(test_support::WaitUntil([&] { return done.load(); }, Ms(1000)));
  EXPECT_EQ(reason, WakeReason::kStopped);
  EXPECT_LT(std::chrono::steady_clock::now() - start, Ms(500));
  waiter.join();
  // The watcher keeps working with a new token.
  EXPECT_EQ(WaitWithin(*w, [&] { Write("a.yaml"); }).reason, WakeReason::kChanged);
}

TEST_F(SpecWatcherTest, DirectoryDeletedAndRecreatedIsWatchedAgain) {
  Write("a.yaml");
  auto w = Open(NoRescan());  // no poll tick: only the parent directory's watch can re-arm
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(WaitWithin(*w, [&] { fs::remove_all(Dir()); }).reason, WakeReason::kChanged);
  EXPECT_FALSE(w->inotify_active());
  EXPECT_EQ(WaitWithin(*w, [&] { Write("b.yaml"); }).reason, WakeReason::kChanged);
  EXPECT_TRUE(w->inotify_active());
  EXPECT_EQ(WaitWithin(*w, [&] { Write("c.yaml"); }).reason, WakeReason::kChanged);
  std::vector<std::string> log = Log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[0].find("cannot watch " + Dir()), std::string::npos) << log[0];
  EXPECT_NE(log[1].find("watching " + Dir() + " with inotify"), std::string::npos) << log[1];
}

TEST_F(SpecWatcherTest, SymlinkSwapOfTheDirectoryIsFollowed) {
  fs::create_directories(root_ / "v1");
  fs::create_directories(root_ / "v2");
  fs::remove(Dir());
  fs::create_directory_symlink(root_ / "v1", Dir());
  auto w = Open(ShortRescan());
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(WaitWithin(*w, [&] { Write("a.yaml"); }).reason, WakeReason::kChanged);
  EXPECT_TRUE(fs::exists(root_ / "v1" / "a.yaml"));
  // The atomic swap deployment tools do: a new symlink renamed over the old one.
  EXPECT_EQ(WaitWithin(*w, [&] {
              fs::create_directory_symlink(root_ / "v2", root_ / "specs.new");
              fs::rename(root_ / "specs.new", Dir());
            }).reason,
            WakeReason::kChanged);
  EXPECT_EQ(WaitWithin(*w, [&] { std::ofstream(root_ / "v2" / "b.yaml") << "x"; }).reason,
            WakeReason::kChanged);
  EXPECT_EQ(WaitWithin(*w, [&] { std::ofstream(root_ / "v1" / "c.yaml") << "x"; }).reason,
            WakeReason::kRescan);
}

TEST_F(SpecWatcherTest, KubernetesDataLinkSwapIsSeen) {
  auto w = Open(NoRescan());
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(WaitWithin(*w, [&] {
              fs::create_directories(P("..2024_01_01"));
              fs::create_directory_symlink("..2024_01_01", P("..data_tmp"));
              fs::rename(P("..data_tmp"), P("..data"));
            }).reason,
            WakeReason::kChanged);
}

TEST_F(SpecWatcherTest, MissingDirectoryAtOpenIsWatchedOnceItAppears) {
  fs::remove(Dir());
  auto w = Open(NoRescan());
  ASSERT_NE(w, nullptr);
  EXPECT_FALSE(w->inotify_active());
  EXPECT_EQ(WaitWithin(*w, [&] { fs::create_directory(Dir()); }).reason, WakeReason::kChanged);
  EXPECT_TRUE(w->inotify_active());
  EXPECT_EQ(WaitWithin(*w, [&] { Write("a.yaml"); }).reason, WakeReason::kChanged);
}

TEST_F(SpecWatcherTest, WithoutInotifyItPolls) {
  SpecWatcherOptions o;
  o.use_inotify = false;
  o.poll_fallback = 100ms;
  auto w = Open(o);
  ASSERT_NE(w, nullptr);
  EXPECT_FALSE(w->inotify_active());
  Waited r = WaitWithin(*w, [&] { Write("a.yaml"); });
  EXPECT_EQ(r.reason, WakeReason::kRescan);
  EXPECT_GE(r.took, Ms(90));
  EXPECT_EQ(WaitWithin(*w).reason, WakeReason::kRescan);
  std::vector<std::string> log = Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("inotify is switched off; reading " + Dir() + " every 100ms instead"),
            std::string::npos)
      << log[0];
}

TEST_F(SpecWatcherTest, WatchLimitFallsBackToPollingAndLogsOnce) {
  Write("team/a.yaml");
  SpecWatcherOptions o = NoRescan();
  o.poll_fallback = 100ms;
  o.max_watches_for_test = 2;  // DIR and team/
  auto w = Open(o);
  ASSERT_NE(w, nullptr);
  EXPECT_TRUE(w->inotify_active());
  // A third directory is refused: the change is still reported, then the watcher polls.
  EXPECT_EQ(WaitWithin(*w, [&] { Write("other/b.yaml"); }).reason, WakeReason::kChanged);
  EXPECT_FALSE(w->inotify_active());
  EXPECT_EQ(WaitWithin(*w, [&] { Write("team/c.yaml"); }).reason, WakeReason::kRescan);
  EXPECT_EQ(WaitWithin(*w).reason, WakeReason::kRescan);
  std::vector<std::string> log = Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("fs.inotify.max_user_watches"), std::string::npos) << log[0];
  EXPECT_NE(log[0].find("every 100ms instead"), std::string::npos) << log[0];
}

TEST_F(SpecWatcherTest, OpenRejectsBadOptions) {
  SpecWatcherOptions o;
  o.max_delay = 50ms;  // shorter than the 100ms debounce
  auto w = SpecWatcher::Open(Dir(), o);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), base::StatusCode::kInvalidSpec);
  EXPECT_EQ(w.status().message(),
            "spec watcher: max delay 50ms is shorter than the debounce 100ms");
  o = {};
  o.rescan_period = 0s;
  EXPECT_EQ(SpecWatcher::Open(Dir(), o).status().code(), base::StatusCode::kInvalidSpec);
  EXPECT_EQ(SpecWatcher::Open("", {}).status().code(), base::StatusCode::kInvalidSpec);
}

}  // namespace
}  // namespace nsg::io
