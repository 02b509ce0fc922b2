#include "controller/nomad_client/retry.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

namespace nsg::io {

Backoff::Backoff(BackoffPolicy policy, uint64_t seed)
    : policy_(policy), rng_(seed != 0 ? seed : std::random_device{}()) {}

Duration Backoff::Ceiling() const {
  Duration ceiling = policy_.base;
  for (int i = 0; i < attempt_ && ceiling < policy_.cap; ++i) ceiling *= 2;
  return std::min(ceiling, policy_.cap);
}

Duration Backoff::Next() {
  Duration ceiling = Ceiling();
  ++attempt_;
  if (ceiling.count() <= 0) return Duration(0);
  std::uniform_int_distribution<int64_t> dist(0, ceiling.count());
  return Duration(dist(rng_));
}

bool RealSleeper::SleepFor(Duration d, std::stop_token cancel) {
  if (cancel.stop_requested()) return false;
  if (d.count() <= 0) return true;
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  // The predicate is "stop requested"; wait_for returns it, also when the stop woke it.
  bool stopped = cv.wait_for(lock, cancel, d, [&] { return cancel.stop_requested(); });
  return !stopped && !cancel.stop_requested();
}

}  // namespace nsg::io
