#include "controller/controller_io/spec_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

namespace nsg::io {
namespace {

namespace fs = std::filesystem;
using base::Status;

// What io::ReadSpecFiles reads (spec_files.cc): names not starting with '.', ending in .yaml/.yml.
bool IsHidden(const std::string& name) { return !name.empty() && name[0] == '.'; }
bool HasSpecExtension(const std::string& name) {
  const std::string ext = fs::path(name).extension().string();
  return ext == ".yaml" || ext == ".yml";
}
// Kubernetes' AtomicWriter (ConfigMap and Secret volumes) publishes a new version by renaming the
// `..data` symlink; the visible files are symlinks through it.
constexpr std::string_view kKubernetesDataLink = "..data";

constexpr uint32_t kTreeMask = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO |
                               IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK |
                               IN_ONLYDIR;
// DIR's parent: only DIR's own name matters there, and file writes in it do not.
constexpr uint32_t kParentMask =
    IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_EXCL_UNLINK | IN_ONLYDIR;

std::string Errno(int err) { return std::generic_category().message(err); }

constexpr const char* kWatchLimit =
    "out of inotify watches or kernel memory (see sysctl fs.inotify.max_user_watches)";

// A watch refused for lack of kernel resources: polling is the only way left.
bool IsResourceError(int err) { return err == ENOSPC || err == ENOMEM || err == EMFILE; }

}  // namespace

std::string_view WakeReasonName(WakeReason reason) {
  switch (reason) {
    case WakeReason::kChanged: return "changed";
    case WakeReason::kRescan: return "rescan";
    case WakeReason::kStopped: return "stopped";
  }
  return "unknown";
}

base::Result<std::unique_ptr<SpecWatcher>> SpecWatcher::Open(std::string dir,
                                                            SpecWatcherOptions options) {
  if (dir.empty()) return Status::InvalidSpec("spec watcher: the spec directory is empty");
  if (options.debounce <= base::Duration::zero() || options.rescan_period <= base::Duration::zero() ||
      options.poll_fallback <= base::Duration::zero()) {
    return Status::InvalidSpec(
        "spec watcher: debounce, rescan period and poll interval must be positive");
  }
  if (options.max_delay < options.debounce) {
    return Status::InvalidSpec("spec watcher: max delay " + base::FormatDuration(options.max_delay) +
                               " is shorter than the debounce " +
                               base::FormatDuration(options.debounce));
  }
  std::error_code ec;
  fs::path root = fs::absolute(dir, ec);
  if (ec) return Status::InvalidSpec("spec watcher: " + dir + ": " + ec.message());
  root = root.lexically_normal();
  if (!root.has_filename() && root.has_relative_path()) root = root.parent_path();  // "a/b/"
  std::string parent;
  std::string basename;
  if (root.has_relative_path()) {  // not "/"
    parent = root.parent_path().string();
    basename = root.filename().string();
  }
  const int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) return Status::Internal("spec watcher: eventfd: " + Errno(errno));
  return std::unique_ptr<SpecWatcher>(new SpecWatcher(std::move(dir), root.string(),
                                                      std::move(parent), std::move(basename),
                                                      std::move(options), wake_fd));
}

SpecWatcher::SpecWatcher(std::string dir, std::string root, std::string parent,
                         std::string basename, SpecWatcherOptions options, int wake_fd)
    : dir_(std::move(dir)),
      root_(std::move(root)),
      parent_(std::move(parent)),
      basename_(std::move(basename)),
      options_(std::move(options)),
      wake_fd_(wake_fd) {
  next_report_ = Clock::now() + options_.rescan_period;
  if (!options_.use_inotify) {
    FallBack("inotify is switched off");
    return;
  }
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    FallBack("inotify_init1: " + Errno(errno) + " (see fs.inotify.max_user_instances)");
    return;
  }
  Arm();
}

SpecWatcher::~SpecWatcher() {
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  ::close(wake_fd_);
}

void SpecWatcher::Log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

std::string SpecWatcher::Path(const std::string& rel) const {
  return rel.empty() ? root_ : root_ + "/" + rel;
}

void SpecWatcher::FallBack(const std::string& why) {
  if (fallback_) return;
  fallback_ = true;
  Disarm();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);  // drops every watch, the parent's too
  inotify_fd_ = -1;
  parent_wd_ = -1;
  next_report_ = std::min(next_report_, Clock::now() + options_.poll_fallback);
  Log("spec watcher: " + why + "; reading " + dir_ + " every " +
      base::FormatDuration(options_.poll_fallback) + " instead");
}

void SpecWatcher::Disarm() {
  if (inotify_fd_ >= 0) {
    for (const auto& [wd, rel] : wd_path_) ::inotify_rm_watch(inotify_fd_, wd);
  }
  wd_path_.clear();
  path_wd_.clear();
  root_wd_ = -1;
  armed_ = false;
  inotify_active_.store(false);
}

bool SpecWatcher::Arm() {
  Disarm();
  if (fallback_ || inotify_fd_ < 0) return false;
  if (parent_wd_ < 0 && !parent_.empty()) {
    // Best effort: without it a replaced DIR is found at the next poll tick instead of at once.
    const int wd = ::inotify_add_watch(inotify_fd_, parent_.c_str(), kParentMask);
    if (wd >= 0) {
      parent_wd_ = wd;
    } else if (IsResourceError(errno)) {
      FallBack("cannot watch " + parent_ + ": " + kWatchLimit);
      return false;
    }
  }
  bool failed = false;
  WatchTree("", failed);
  const int err = errno;  // from DIR's inotify_add_watch when that failed (it returns at once)
  if (failed) {
    FallBack("cannot watch every directory under " + dir_ + ": " + kWatchLimit);
    return false;
  }
  if (root_wd_ < 0) {
    next_report_ = std::min(next_report_, Clock::now() + options_.poll_fallback);
    if (!said_missing_) {
      Log("spec watcher: cannot watch " + dir_ + ": " + Errno(err) + "; reading it every " +
          base::FormatDuration(options_.poll_fallback) + " until it can be watched");
      said_missing_ = true;
    }
    return false;
  }
  if (said_missing_) {
    Log("spec watcher: watching " + dir_ + " with inotify");
    said_missing_ = false;
  }
  armed_ = true;
  inotify_active_.store(true);
  return true;
}

bool SpecWatcher::WatchTree(const std::string& rel, bool& failed) {
  if (options_.max_watches_for_test > 0 &&
      wd_path_.size() >= static_cast<size_t>(options_.max_watches_for_test)) {
    failed = true;
    return false;
  }
  const std::string path = Path(rel);
  // DIR itself may be a symlink (followed, as ReadSpecFiles does); directories below are not.
  const uint32_t mask = rel.empty() ? kTreeMask : kTreeMask | IN_DONT_FOLLOW;
  const int wd = ::inotify_add_watch(inotify_fd_, path.c_str(), mask);
  if (wd < 0) {
    // Gone already, replaced by a file or a symlink, or unreadable: nothing to watch there.
    if (IsResourceError(errno)) failed = true;
    return false;
  }
  wd_path_[wd] = rel;
  path_wd_[rel] = wd;
  if (rel.empty()) root_wd_ = wd;
  // Listed after the watch is in place: whatever appears later is an event, whatever was there
  // before is listed, so nothing falls between the two.
  bool has_specs = false;
  std::error_code ec;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (IsHidden(name)) continue;
    std::error_code type_ec;
    if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) {
      if (WatchTree(rel.empty() ? name : rel + "/" + name, failed)) has_specs = true;
      if (failed) return has_specs;
    } else if (HasSpecExtension(name)) {
      has_specs = true;
    }
  }
  return has_specs;
}

void SpecWatcher::DropTree(const std::string& rel) {
  const std::string prefix = rel + "/";
  for (auto it = path_wd_.lower_bound(rel); it != path_wd_.end();) {
    if (it->first != rel && it->first.compare(0, prefix.size(), prefix) != 0) break;
    ::inotify_rm_watch(inotify_fd_, it->second);  // its IN_IGNORED finds no entry: fine
    wd_path_.erase(it->second);
    it = path_wd_.erase(it);
  }
}

bool SpecWatcher::HandleEvent(int wd, uint32_t mask, const std::string& name) {
  if ((mask & IN_Q_OVERFLOW) != 0) {  // events were lost: start over
    Arm();
    return true;
  }
  if (wd == parent_wd_ && parent_wd_ >= 0) {
    if ((mask & IN_IGNORED) != 0) {
      parent_wd_ = -1;  // the parent is gone; Arm() tries again
      return false;
    }
    if (name != basename_) return false;
    Arm();  // DIR was created, deleted, moved or replaced (e.g. a symlink swap)
    return true;
  }
  auto found = wd_path_.find(wd);
  if (found == wd_path_.end()) return false;  // a watch dropped earlier
  const std::string rel = found->second;
  if (wd == root_wd_ && (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) != 0) {
    Arm();  // usually fails (DIR is gone) and then polls until DIR is back
    return true;
  }
  if ((mask & IN_IGNORED) != 0) {
    auto back = path_wd_.find(rel);
    if (back != path_wd_.end() && back->second == wd) path_wd_.erase(back);
    wd_path_.erase(found);
    return false;
  }
  // A subdirectory's own deletion or move is seen, and handled, as an event in its parent.
  if ((mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0 || name.empty()) return false;
  if (IsHidden(name)) return name == kKubernetesDataLink;
  const std::string child = rel.empty() ? name : rel + "/" + name;
  if ((mask & IN_ISDIR) != 0) {
    if ((mask & (IN_CREATE | IN_MOVED_TO)) != 0) {
      bool failed = false;
      const bool has_specs = WatchTree(child, failed);
      if (failed) {
        FallBack("cannot watch " + Path(child) + ": " + kWatchLimit);
        return true;
      }
      return has_specs;
    }
    DropTree(child);  // deleted or moved out: whatever it held is gone from DIR
    return true;
  }
  return HasSpecExtension(name);
}

bool SpecWatcher::DrainEvents() {
  alignas(struct inotify_event) char buf[64 * 1024];
  bool relevant = false;
  while (inotify_fd_ >= 0) {
    const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) FallBack("reading inotify events: " + Errno(errno));
      break;
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n && inotify_fd_ >= 0;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + off);
      const std::string name = ev->len > 0 ? std::string(ev->name) : std::string();
      if (HandleEvent(ev->wd, ev->mask, name)) relevant = true;
      off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
    }
  }
  return relevant;
}

WakeReason SpecWatcher::Report(WakeReason reason, Clock::time_point now) {
  first_event_.reset();
  next_report_ = now + (fallback_ || !armed_ ? options_.poll_fallback : options_.rescan_period);
  return reason;
}

WakeReason SpecWatcher::Wait(std::stop_token stop) {
  if (stop.stop_requested()) return WakeReason::kStopped;
  const int wake_fd = wake_fd_;
  std::stop_callback on_stop(stop, [wake_fd] {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd, &one, sizeof one);  // full only after 2^64-1
  });
  for (;;) {
    if (stop.stop_requested()) return WakeReason::kStopped;
    const Clock::time_point now = Clock::now();
    Clock::time_point deadline = next_report_;
    if (first_event_) {
      // A pending change is reported within max_delay and is followed by a full read anyway, so
      // the rescan tick waits for it instead of cutting the debounce short.
      deadline = std::min(last_event_ + options_.debounce, *first_event_ + options_.max_delay);
      if (now >= deadline) return Report(WakeReason::kChanged, now);
    } else if (now >= next_report_) {
      // Covers DIR coming back when its parent could not be watched either.
      if (!armed_ && !fallback_ && Arm()) return Report(WakeReason::kChanged, now);
      return Report(WakeReason::kRescan, now);
    }
    struct pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    const nfds_t nfds = inotify_fd_ >= 0 ? 2 : 1;
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
    struct timespec timeout;
    timeout.tv_sec = static_cast<time_t>(left.count() / 1000000000);
    timeout.tv_nsec = static_cast<long>(left.count() % 1000000000);
    const int ready = ::ppoll(fds, nfds, &timeout, nullptr);
    if (ready < 0) {
      if (errno == EINTR) continue;
      // Cannot happen with valid descriptors; polling keeps the controller working regardless.
      FallBack("ppoll: " + Errno(errno));
      return Report(WakeReason::kRescan, Clock::now());
    }
    if ((fds[0].revents & POLLIN) != 0) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
    }
    if (nfds == 2 && fds[1].revents != 0 && DrainEvents()) {
      const Clock::time_point seen = Clock::now();
      if (!first_event_) first_event_ = seen;
      last_event_ = seen;
    }
  }
}

}  // namespace nsg::io
