#include "controller/sim/sim_core.h"

#include <cstdio>

namespace nsg::sim {

SimCore::SimCore(Options opts)
    : opts_(opts), rng_(opts.seed), events_(opts.event_buffer_size) {}

uint64_t SimCore::NextIndex() {
  ++index_;
  // Copy: a listener may add or remove listeners.
  auto listeners = write_listeners_;
  for (auto& [id, fn] : listeners) fn(index_);
  return index_;
}

uint64_t SimCore::AddWriteListener(std::function<void(uint64_t)> fn) {
  uint64_t id = next_listener_id_++;
  write_listeners_.emplace(id, std::move(fn));
  return id;
}

void SimCore::RemoveWriteListener(uint64_t id) { write_listeners_.erase(id); }

SimCore::TimerId SimCore::At(TimePoint t, std::string label, std::function<void()> fn) {
  if (t < now_) t = now_;
  TimerId id = next_timer_id_++;
  timers_.emplace(std::make_pair(t, id), Timer{std::move(label), std::move(fn)});
  timer_due_.emplace(id, t);
  return id;
}

bool SimCore::Cancel(TimerId id) {
  auto it = timer_due_.find(id);
  if (it == timer_due_.end()) return false;
  timers_.erase(std::make_pair(it->second, id));
  timer_due_.erase(it);
  return true;
}

std::optional<TimePoint> SimCore::NextTimerAt() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first.first;
}

void SimCore::AdvanceTo(TimePoint t) {
  while (RunNext(t)) {
  }
  if (t > now_) now_ = t;
}

bool SimCore::RunNext(TimePoint limit) {
  if (timers_.empty() || timers_.begin()->first.first > limit) return false;
  auto it = timers_.begin();
  TimePoint due = it->first.first;
  TimerId id = it->first.second;
  Timer timer = std::move(it->second);
  timers_.erase(it);
  timer_due_.erase(id);
  if (due > now_) now_ = due;
  timer.fn();
  return true;
}

uint64_t SimCore::Uniform(uint64_t lo, uint64_t hi) {
  // Not std::uniform_int_distribution: its algorithm is implementation-defined, and histories must
  // be identical across standard libraries.
  uint64_t span = hi - lo + 1;
  if (span == 0) return rng_();  // the full 64-bit range
  uint64_t limit = UINT64_MAX - UINT64_MAX % span;
  uint64_t v;
  do v = rng_();
  while (v >= limit);
  return lo + v % span;
}

Duration SimCore::Jitter(Duration max) {
  if (max.count() <= 0) return Duration(0);
  return Duration(static_cast<int64_t>(Uniform(0, static_cast<uint64_t>(max.count()) - 1)));
}

std::string SimCore::NewUuid() {
  uint64_t a = rng_(), b = rng_();
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(a & 0xffff), static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

}  // namespace nsg::sim
