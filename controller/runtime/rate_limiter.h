// Rate limiters for the WorkQueue, with controller-runtime (client-go workqueue) semantics.
//
// A RateLimiter answers "how long must this key wait before it is retried?" after a failure.
// The controller's default is the maximum of two limiters (STYLE.md, "Reconcile semantics"):
//   * per key, exponential backoff: 5ms, 10ms, 20ms, ... doubling up to a cap; Forget() on
//     success starts the key over at 5ms;
//   * global, a token bucket (qps refill, burst capacity) shared by every key, so a Nomad outage
//     that fails every singleton at once cannot turn into a retry storm.
//
// Time is an argument (`now`), never read from a clock here, so the same limiters run under
// virtual time in the deterministic simulation.
//
// Thread-safety: limiters are NOT synchronized. The WorkQueue calls them only while holding its
// own lock; anything else that shares a limiter must do the same.
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "controller/base/clock.h"
#include "controller/base/duration.h"

namespace nsg::runtime {

using base::Duration;
using base::TimePoint;
using namespace std::chrono_literals;

// ---- Defaults (controller-runtime's DefaultControllerRateLimiter, cap shortened) ----
// First retry after a failure; each further failure doubles it.
inline constexpr Duration kDefaultBaseDelay = 5ms;
// The cap: controller-runtime uses 1000s. Five minutes keeps a singleton whose Nomad calls failed
// for a long time from waiting a quarter of an hour after Nomad is back.
inline constexpr Duration kDefaultMaxDelay = 5min;
// Global bucket: 10 retries per second sustained, bursts of 100 (controller-runtime's values).
inline constexpr double kDefaultQps = 10.0;
inline constexpr int kDefaultBurst = 100;

template <typename Key>
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // How long `key` must wait, from `now`, before it is retried. Every call counts as one more
  // failure of `key` (and takes one token from a bucket).
  virtual Duration When(const Key& key, TimePoint now) = 0;
  // `key` succeeded: forget its failures.
  virtual void Forget(const Key& key) = 0;
  // How many failures of `key` have been counted since it was last forgotten.
  virtual int NumRequeues(const Key& key) const = 0;
};

// base × 2^failures, capped at `cap`, without overflow for any `failures` ≥ 0.
Duration ExponentialDelay(Duration base, Duration cap, int failures);

// Per-key exponential backoff: the n-th failure (counting from 0) waits base × 2^n, at most cap.
template <typename Key>
class ItemExponentialBackoff final : public RateLimiter<Key> {
 public:
  explicit ItemExponentialBackoff(Duration base = kDefaultBaseDelay,
                                  Duration cap = kDefaultMaxDelay)
      : base_(base), cap_(cap) {}

  Duration When(const Key& key, TimePoint /*now*/) override {
    int& failures = failures_[key];
    Duration d = ExponentialDelay(base_, cap_, failures);
    if (failures < kMaxCountedFailures) ++failures;
    return d;
  }
  void Forget(const Key& key) override { failures_.erase(key); }
  int NumRequeues(const Key& key) const override {
    auto it = failures_.find(key);
    return it == failures_.end() ? 0 : it->second;
  }

 private:
  // Far beyond any cap (2^62 × 1ns); stops the counter from overflowing.
  static constexpr int kMaxCountedFailures = 1 << 20;
  const Duration base_;
  const Duration cap_;
  std::map<Key, int> failures_;
};

// A token bucket like golang.org/x/time/rate's Reserve(): the bucket starts full (`burst`
// tokens), refills at `qps` tokens per second up to `burst`, and every Reserve() takes one token,
// going into debt when the bucket is empty; it returns how long until the taken token exists.
class TokenBucket {
 public:
  TokenBucket(double qps, int burst);
  // Takes one token at `now`; returns the wait (0 when a token was available).
  Duration Reserve(TimePoint now);
  // Tokens available at `now` (negative while in debt), without taking one.
  double TokensAt(TimePoint now) const;

 private:
  double Refilled(TimePoint now) const;

  const double qps_;
  const double burst_;
  double tokens_;
  std::optional<TimePoint> last_;  // when tokens_ was last brought up to date
};

// The global bucket as a RateLimiter: the same bucket for every key; keeps no per-key state.
template <typename Key>
class BucketRateLimiter final : public RateLimiter<Key> {
 public:
  BucketRateLimiter(double qps = kDefaultQps, int burst = kDefaultBurst) : bucket_(qps, burst) {}
  Duration When(const Key& /*key*/, TimePoint now) override { return bucket_.Reserve(now); }
  void Forget(const Key& /*key*/) override {}
  int NumRequeues(const Key& /*key*/) const override { return 0; }

 private:
  TokenBucket bucket_;
};

// The longest wait any of its limiters asks for. Every limiter sees every call, so each keeps
// counting.
template <typename Key>
class MaxOfRateLimiter final : public RateLimiter<Key> {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter<Key>>> limiters)
      : limiters_(std::move(limiters)) {}

  Duration When(const Key& key, TimePoint now) override {
    Duration longest{0};
    for (auto& l : limiters_) longest = std::max(longest, l->When(key, now));
    return longest;
  }
  void Forget(const Key& key) override {
    for (auto& l : limiters_) l->Forget(key);
  }
  int NumRequeues(const Key& key) const override {
    int most = 0;
    for (const auto& l : limiters_) most = std::max(most, l->NumRequeues(key));
    return most;
  }

 private:
  std::vector<std::unique_ptr<RateLimiter<Key>>> limiters_;
};

struct RateLimiterOptions {
  Duration base_delay = kDefaultBaseDelay;
  Duration max_delay = kDefaultMaxDelay;
  double qps = kDefaultQps;
  int burst = kDefaultBurst;
};

// Per-key exponential backoff and the global token bucket, combined by MaxOf.
template <typename Key>
std::unique_ptr<RateLimiter<Key>> DefaultControllerRateLimiter(const RateLimiterOptions& o = {}) {
  std::vector<std::unique_ptr<RateLimiter<Key>>> v;
  v.push_back(std::make_unique<ItemExponentialBackoff<Key>>(o.base_delay, o.max_delay));
  v.push_back(std::make_unique<BucketRateLimiter<Key>>(o.qps, o.burst));
  return std::make_unique<MaxOfRateLimiter<Key>>(std::move(v));
}

}  // namespace nsg::runtime
