// SimCore: the shared heart of the Nomad simulator model — virtual time, a deterministic timer
// queue, the Raft-like index shared by every table, a seeded random source, and the event broker.
//
// Everything in the model (jobs, allocations, nodes, variables, locks, ACL, events) reads time and
// randomness only from here, so the same seed and the same inputs give the same history, byte for
// byte. No wall clock, no threads: a SimCore and everything built on it is owned by one thread (the
// HTTP front end serializes access with one mutex; the deterministic simulation runs it in its
// loop).
//
// Time moves only through AdvanceTo(): timers due at or before the target run in (time, creation)
// order, and Now() equals each timer's time while it runs. Timer callbacks may schedule and cancel
// timers, including ones due immediately.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "controller/base/clock.h"
#include "controller/nomad/version.h"
#include "controller/sim/event_broker.h"

namespace nsg::sim {

using base::Duration;
using base::TimePoint;

class SimCore {
 public:
  struct Options {
    uint64_t seed = 1;
    // Unix time (ns) that corresponds to TimePoint{} (the model's t=0): 2026-01-01T00:00:00Z.
    int64_t wall_epoch_ns = 1767225600LL * 1000000000LL;
    size_t event_buffer_size = 100;  // Nomad's event_buffer_size default (nomad-api.md §4.5)
    // The Nomad release the model behaves as (docs/nomad-compatibility.md): the Variable event
    // topic from 2.0.0, the hijacked event stream from 1.11.2, NOMAD_UNIX_ADDR from 1.10.3, and
    // what /v1/agent/self reports.
    nomad::NomadVersion version = nomad::kDefaultSimVersion;
  };
  using TimerId = uint64_t;

  explicit SimCore(Options opts);
  SimCore(const SimCore&) = delete;
  SimCore& operator=(const SimCore&) = delete;

  TimePoint Now() const { return now_; }
  const nomad::NomadVersion& Version() const { return opts_.version; }
  // Wall-clock unix nanoseconds of `t` (default: now), for CreateTime/ModifyTime and RFC 3339.
  int64_t UnixNanos() const { return UnixNanos(now_); }
  int64_t UnixNanos(TimePoint t) const { return opts_.wall_epoch_ns + base::ToNanos(t); }

  // The Raft index: Index() is the last one used; NextIndex() allocates a new write's index and
  // notifies every write listener (blocking queries wake on it).
  uint64_t Index() const { return index_; }
  uint64_t NextIndex();
  // Called with the new index after each NextIndex(). Returns an id for RemoveWriteListener.
  uint64_t AddWriteListener(std::function<void(uint64_t index)> fn);
  void RemoveWriteListener(uint64_t id);

  // Timers. `label` names the timer in traces. A timer at a time in the past runs at the next
  // AdvanceTo (at Now()).
  TimerId At(TimePoint t, std::string label, std::function<void()> fn);
  TimerId After(Duration d, std::string label, std::function<void()> fn) {
    return At(now_ + d, std::move(label), std::move(fn));
  }
  // Returns false if the timer already ran or was cancelled.
  bool Cancel(TimerId id);
  std::optional<TimePoint> NextTimerAt() const;
  size_t PendingTimers() const { return timers_.size(); }
  // Runs every timer due at or before `t` in order, then sets Now() to `t` (never backwards).
  void AdvanceTo(TimePoint t);
  void AdvanceBy(Duration d) { AdvanceTo(now_ + d); }
  // Runs the earliest timer if it is due at or before `limit` and returns true; otherwise runs
  // nothing and returns false. Lets a caller that waits inside a timer (the fault simulation's
  // synchronous API calls) move time one event at a time; re-entrant like AdvanceTo.
  bool RunNext(TimePoint limit);

  // Deterministic randomness.
  std::mt19937_64& Rng() { return rng_; }
  // Uniform in [lo, hi] (inclusive); lo <= hi.
  uint64_t Uniform(uint64_t lo, uint64_t hi);
  // Uniform in [0, max) for durations (0 when max <= 0).
  Duration Jitter(Duration max);
  // A random UUID in Nomad's format (8-4-4-4-12 lowercase hex), from the seeded source.
  std::string NewUuid();

  EventBroker& Events() { return events_; }
  const EventBroker& Events() const { return events_; }

 private:
  struct Timer {
    std::string label;
    std::function<void()> fn;
  };

  // Constant after construction.
  const Options opts_;
  // Mutable state (single-threaded).
  TimePoint now_{};
  uint64_t index_ = 1;  // Nomad starts near 1; the first write gets 2
  std::mt19937_64 rng_;
  TimerId next_timer_id_ = 1;
  std::map<std::pair<TimePoint, TimerId>, Timer> timers_;
  std::map<TimerId, TimePoint> timer_due_;
  uint64_t next_listener_id_ = 1;
  std::map<uint64_t, std::function<void(uint64_t)>> write_listeners_;
  EventBroker events_;
};

}  // namespace nsg::sim
