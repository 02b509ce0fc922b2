// SpecWatcher: tells the controller when to read its spec directory again.
//
// It watches DIR recursively with inotify and wakes the caller when something that
// io::ReadSpecFiles would read may have changed; the caller then re-reads the whole directory and
// diffs (level-triggered: the watcher says "look again", never what changed). A periodic full
// rescan is the safety net for what inotify cannot see (symlink targets outside DIR, network file
// systems, a lost event).
//
//   event ──► relevant? ──no──► dropped
//                 │yes
//                 ▼
//   PENDING: report kChanged once no relevant event came for `debounce`, or `max_delay` after the
//            first one (a steady stream of writes still reports at least every max_delay)
//   no event: report kRescan `rescan_period` after the previous report (of either kind)
//
// Relevant (the rules of io::ReadSpecFiles): in DIR or a non-hidden subdirectory of it, a *.yaml
// or *.yml name that is not hidden (starts with '.') was created, written and closed, moved in or
// out, or deleted — so an editor's `x.yaml.tmp` → `x.yaml` rename counts by its target name and
// `git checkout` (unlink + create, or rename) is seen. Also relevant: a non-hidden subdirectory
// that holds spec files appearing, any non-hidden subdirectory being deleted or moved out, a
// Kubernetes ConfigMap mount's `..data` symlink being swapped, DIR itself being deleted, moved or
// replaced (its parent directory is watched for DIR's name, which covers a symlink swap), and an
// inotify queue overflow. Attribute changes are not relevant. New subdirectories get watches as
// they appear (hidden and symlinked ones are not followed, as ReadSpecFiles does not), removed
// ones are dropped.
//
// Fallback: when inotify cannot be used (inotify_init1 fails, e.g. fs.inotify.max_user_instances;
// a watch cannot be added, e.g. fs.inotify.max_user_watches; or options.use_inotify is false) the
// watcher logs once and from then on reports kRescan every `poll_fallback`: the polling the
// controller did before. While DIR does not exist (or is not a directory) the watcher also ticks
// every `poll_fallback` with kRescan, tries to watch DIR again at each tick and reports kChanged
// as soon as it succeeds (usually at once, through the parent directory's watch).
//
// Threads: Wait() must not be called from two threads at once; the stop token may be triggered
// from any thread. inotify_active() and dir() are safe from any thread. Owns its inotify and
// eventfd descriptors (closed by the destructor).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <stop_token>
#include <string>
#include <unordered_map>

#include "controller/base/duration.h"
#include "controller/base/status.h"

namespace nsg::io {

inline constexpr base::Duration kDefaultSpecDebounce = std::chrono::milliseconds(100);
inline constexpr base::Duration kDefaultSpecMaxDelay = std::chrono::seconds(1);
inline constexpr base::Duration kDefaultSpecRescanPeriod = std::chrono::seconds(30);
inline constexpr base::Duration kDefaultSpecPollFallback = std::chrono::seconds(2);

struct SpecWatcherOptions {
  // Quiet time after the last relevant event before kChanged is reported (> 0).
  base::Duration debounce = kDefaultSpecDebounce;
  // Longest time from the first relevant event to the report (>= debounce).
  base::Duration max_delay = kDefaultSpecMaxDelay;
  // kRescan this long after the previous report when nothing was seen (> 0).
  base::Duration rescan_period = kDefaultSpecRescanPeriod;
  // The tick when inotify cannot be used or DIR is missing (> 0).
  base::Duration poll_fallback = kDefaultSpecPollFallback;
  // false: poll only (e.g. DIR is on NFS, where inotify misses other hosts' writes).
  bool use_inotify = true;
  // One line per state change (fallback to polling, DIR lost, DIR watched again). Called from the
  // Wait() thread or Open(). Default: none.
  std::function<void(const std::string&)> log;
  // Test hook: behave as if the kernel refused watches beyond this many (0: no limit of ours).
  int max_watches_for_test = 0;
};

enum class WakeReason {
  kChanged,  // something relevant changed (or may have: overflow, DIR replaced): read DIR again
  kRescan,   // the periodic safety-net rescan, or a poll tick in fallback mode: read DIR again
  kStopped,  // the stop token was triggered
};

std::string_view WakeReasonName(WakeReason reason);  // "changed", "rescan", "stopped"

class SpecWatcher {
 public:
  // Starts watching `dir` (a directory, or a symlink to one). A missing `dir` is not an error:
  // the watcher waits for it to appear (see above). Returns kInvalidSpec for an empty `dir` or
  // options that break the (> 0, >=) rules above; kInternal when an eventfd cannot be made.
  // inotify problems never fail Open: they switch to polling.
  static base::Result<std::unique_ptr<SpecWatcher>> Open(std::string dir,
                                                         SpecWatcherOptions options = {});
  ~SpecWatcher();
  SpecWatcher(const SpecWatcher&) = delete;
  SpecWatcher& operator=(const SpecWatcher&) = delete;

  // Blocks until there is something to report. Returns kStopped at once (within a poll wake-up)
  // when `stop` is triggered, also while blocked. Events that arrive between two calls are kept
  // and reported by the next call.
  WakeReason Wait(std::stop_token stop);

  // True while inotify covers DIR: not in fallback mode, and DIR exists and is watched.
  bool inotify_active() const { return inotify_active_.load(); }
  const std::string& dir() const { return dir_; }

 private:
  using Clock = std::chrono::steady_clock;

  SpecWatcher(std::string dir, std::string root, std::string parent, std::string basename,
              SpecWatcherOptions options, int wake_fd);

  void Log(const std::string& line) const;
  std::string Path(const std::string& rel) const;
  // Switches to polling for good (logs `why` once).
  void FallBack(const std::string& why);
  // Watches DIR and its tree from scratch. Returns whether DIR is now watched.
  bool Arm();
  void Disarm();
  // Adds watches for `rel` (relative to DIR; "" is DIR itself) and every non-hidden directory
  // below it. Returns whether a spec file name was found below it; sets `failed` when a watch
  // was refused for lack of kernel resources (then the caller falls back to polling).
  bool WatchTree(const std::string& rel, bool& failed);
  void DropTree(const std::string& rel);
  // Reads every queued event; returns whether any was relevant.
  bool DrainEvents();
  bool HandleEvent(int wd, uint32_t mask, const std::string& name);
  WakeReason Report(WakeReason reason, Clock::time_point now);

  // Constant after construction.
  const std::string dir_;       // as given, for logs
  const std::string root_;      // DIR, absolute and lexically normal
  const std::string parent_;    // DIR's parent directory ("" when DIR is /)
  const std::string basename_;  // DIR's name in parent_
  const SpecWatcherOptions options_;
  const int wake_fd_;  // eventfd written by the stop callback

  // Owned by the Wait() thread.
  int inotify_fd_ = -1;
  bool fallback_ = false;  // polling for good
  bool armed_ = false;     // DIR is watched
  bool said_missing_ = false;  // logged that DIR cannot be watched; log again when it can
  int root_wd_ = -1;
  int parent_wd_ = -1;
  std::unordered_map<int, std::string> wd_path_;  // watch → directory relative to DIR
  std::map<std::string, int> path_wd_;            // the inverse, ordered for subtree removal
  std::optional<Clock::time_point> first_event_;  // pending report: first relevant event
  Clock::time_point last_event_;
  Clock::time_point next_report_;  // next kRescan (or poll tick)

  std::atomic<bool> inotify_active_{false};
};

}  // namespace nsg::io
