// Retry building blocks for the Nomad client: a capped exponential backoff with full jitter, and
// the Sleeper port through which every wait happens (so tests never really sleep).
//
// Backoff (the "full jitter" of the AWS architecture blog): before retry n (n = 1, 2, ...), wait
// a duration drawn uniformly from [0, min(cap, base * 2^(n-1))]. Full jitter spreads a herd of
// clients that failed together.
//
// Backoff is not synchronized (one per call or per loop). Sleeper implementations are safe for
// concurrent use.
#pragma once

#include <cstdint>
#include <random>
#include <stop_token>

#include "controller/base/duration.h"

namespace nsg::io {

using base::Duration;

struct BackoffPolicy {
  Duration base = std::chrono::milliseconds(250);
  Duration cap = std::chrono::seconds(5);
};

class Backoff {
 public:
  // `seed` 0 draws one from std::random_device.
  explicit Backoff(BackoffPolicy policy, uint64_t seed = 0);
  // The wait before the next retry; each call doubles the ceiling up to the cap.
  Duration Next();
  // The ceiling the next Next() draws under.
  Duration Ceiling() const;
  // Back to the first step (after a success).
  void Reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  BackoffPolicy policy_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

// Waits. Returns true when the full duration elapsed, false when `cancel` was triggered first.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual bool SleepFor(Duration d, std::stop_token cancel) = 0;
};

// Sleeps on the host's monotonic clock; wakes at once on a stop request.
class RealSleeper final : public Sleeper {
 public:
  bool SleepFor(Duration d, std::stop_token cancel) override;
};

}  // namespace nsg::io
