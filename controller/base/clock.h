// Time for nomad-singleton: a monotonic time point type, the Clock port, and its two
// implementations.
//
// The cores (spec, render, timing, reconcile, lock) read time only through Clock& or a `now`
// argument (ARCHITECTURE.md §2), so the same code runs under wall time and under virtual time in
// the deterministic simulation. TimePoint counts nanoseconds from an arbitrary epoch (the host's
// CLOCK_MONOTONIC for SystemClock, 0 for a fresh VirtualClock); it is never wall-clock time.
#pragma once

#include <chrono>
#include <cstdint>

#include "controller/base/duration.h"

namespace nsg::base {

struct MonotonicClockTag {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<MonotonicClockTag, duration>;
  static constexpr bool is_steady = true;
};
using TimePoint = MonotonicClockTag::time_point;

// Nanoseconds since the epoch of the time point's clock, for logs and files.
inline int64_t ToNanos(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromNanos(int64_t ns) { return TimePoint(Duration(ns)); }

// The Clock port. Implementations are safe for concurrent use.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The host's monotonic clock (CLOCK_MONOTONIC through std::chrono::steady_clock).
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
};

// A clock that moves only when told. Not synchronized: owned by one thread (the simulation loop or
// a test).
class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(TimePoint start = TimePoint{}) : now_(start) {}
  TimePoint Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }
  void Set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

}  // namespace nsg::base
