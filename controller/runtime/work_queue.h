// WorkQueue<Key>: the controller's queue of singleton keys, with controller-runtime semantics.
//
// Events only wake a key (level-triggered): a request carries the key, never the event payload.
//   * De-duplicating: a key added many times before a worker takes it is handed out once.
//   * One worker per key: a key being processed (taken, not yet Done) is never handed to a second
//     worker; adding it again marks it dirty and it is queued again when the first worker calls
//     Done.
//   * AddRateLimited: retry after the rate limiter's delay (per-key exponential backoff from 5ms,
//     doubling to a cap, combined with a global token bucket); Forget on success resets the
//     backoff.
//   * AddAfter: add once a delay has passed (the reconciler's requeue_after). A key already
//     waiting keeps the earlier of its two due times.
//   * ShutDown: later adds are dropped; Get/TryGet return nullopt at once; keys being processed
//     may still be marked Done.
//
// Key states (a key can be both processing and dirty/waiting):
//
//            Add / due                   Get / TryGet                 Done
//   (none) ──────────► dirty+queued ──────────────────► processing ─────────► (none)
//      │                  ▲                                │   ▲                │
//      │ AddAfter(d>0)    │ due at clock.Now()      Add    │   │ dirty          │ was dirty:
//      ▼                  │                                ▼   │                ▼ back to queued
//   waiting ──────────────┘                        processing+dirty ───Done───► dirty+queued
//
// Time comes only through the base::Clock given at construction. Two ways to take work:
//   * deterministic (simulation, tests): TryGet() never blocks; NextReadyAt() says when the next
//     delayed key falls due, so a virtual-time loop can advance its clock to it;
//   * real worker threads: Get() blocks on a condition variable until a key is ready or ShutDown;
//     it waits for delayed keys with real time (clock.Now() deltas), so use it with SystemClock.
//
// Ownership: does not take ownership of `clock`; it must outlive the queue. Owns the limiter.
// Thread-safety: safe for concurrent use; every method takes the queue's lock (the limiter is
// called under it).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "controller/base/clock.h"
#include "controller/runtime/rate_limiter.h"

namespace nsg::runtime {

// Counters and gauges for the metrics (workqueue_depth, workqueue_retries_total).
struct WorkQueueStats {
  size_t ready = 0;        // queued, waiting for a worker (workqueue_depth)
  size_t processing = 0;   // taken by a worker, not yet Done
  size_t waiting = 0;      // delayed (AddAfter, AddRateLimited), not yet due
  uint64_t adds_total = 0;     // Add calls that queued or dirtied a key (duplicates not counted)
  uint64_t retries_total = 0;  // AddRateLimited calls (workqueue_retries_total)
};

template <typename Key>
class WorkQueue {
 public:
  // `limiter` null: DefaultControllerRateLimiter<Key>().
  explicit WorkQueue(base::Clock& clock, std::unique_ptr<RateLimiter<Key>> limiter = nullptr)
      : clock_(clock),
        limiter_(limiter ? std::move(limiter) : DefaultControllerRateLimiter<Key>()) {}

  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Marks `key` as needing work. No-op after ShutDown or while it is already queued.
  void Add(const Key& key) {
    std::lock_guard lock(mu_);
    AddLocked(key);
  }

  // Adds `key` once `delay` has passed (at once when delay ≤ 0). A key already waiting keeps the
  // earlier due time.
  void AddAfter(const Key& key, Duration delay) {
    std::lock_guard lock(mu_);
    AddAfterLocked(key, delay);
  }

  // Adds `key` after the rate limiter's delay for it; counts one retry.
  void AddRateLimited(const Key& key) {
    std::lock_guard lock(mu_);
    if (shutting_down_) return;
    ++stats_.retries_total;
    AddAfterLocked(key, limiter_->When(key, clock_.Now()));
  }

  // `key` succeeded: its backoff starts over.
  void Forget(const Key& key) {
    std::lock_guard lock(mu_);
    limiter_->Forget(key);
  }

  int NumRequeues(const Key& key) const {
    std::lock_guard lock(mu_);
    return limiter_->NumRequeues(key);
  }

  // Never blocks. Moves keys whose delay is over (at clock.Now()) to the queue, then hands out the
  // oldest queued key, which becomes processing until Done. nullopt when nothing is ready or the
  // queue is shut down.
  std::optional<Key> TryGet() {
    std::lock_guard lock(mu_);
    PromoteDueLocked(clock_.Now());
    return PopLocked();
  }

  // When the earliest waiting key falls due; nullopt when no key waits.
  std::optional<TimePoint> NextReadyAt() const {
    std::lock_guard lock(mu_);
    if (waiting_.empty()) return std::nullopt;
    return std::get<0>(*waiting_.begin());
  }

  // Blocks until a key is ready (then as TryGet) or the queue is shut down (nullopt).
  std::optional<Key> Get() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (shutting_down_) return std::nullopt;
      PromoteDueLocked(clock_.Now());
      if (!queue_.empty()) return PopLocked();
      if (waiting_.empty()) {
        cv_.wait(lock);
      } else {
        const Duration until = std::get<0>(*waiting_.begin()) - clock_.Now();
        if (until > Duration(0)) cv_.wait_for(lock, until);
      }
    }
  }

  // The worker has finished with `key`. If it was added again meanwhile, it is queued again.
  void Done(const Key& key) {
    std::lock_guard lock(mu_);
    if (processing_.erase(key) == 0) return;  // not handed out: nothing to finish
    if (dirty_.count(key) != 0 && !shutting_down_) {
      queue_.push_back(key);
      cv_.notify_one();
    }
  }

  // Stops handing out work: Get and TryGet return nullopt from now on, adds are dropped, waiting
  // keys are forgotten. Wakes every blocked Get.
  void ShutDown() {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    queue_.clear();
    dirty_.clear();
    waiting_.clear();
    waiting_by_key_.clear();
    cv_.notify_all();
  }

  bool ShuttingDown() const {
    std::lock_guard lock(mu_);
    return shutting_down_;
  }

  // Keys queued and waiting for a worker (the workqueue_depth gauge).
  size_t Len() const {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

  WorkQueueStats Stats() const {
    std::lock_guard lock(mu_);
    WorkQueueStats s = stats_;
    s.ready = queue_.size();
    s.processing = processing_.size();
    s.waiting = waiting_.size();
    return s;
  }

 private:
  void AddLocked(const Key& key) {
    if (shutting_down_ || dirty_.count(key) != 0) return;
    ++stats_.adds_total;
    dirty_.insert(key);
    if (processing_.count(key) != 0) return;  // queued again by Done
    queue_.push_back(key);
    cv_.notify_one();
  }

  void AddAfterLocked(const Key& key, Duration delay) {
    if (shutting_down_) return;
    if (delay <= Duration(0)) {
      AddLocked(key);
      return;
    }
    const TimePoint due = clock_.Now() + delay;
    auto it = waiting_by_key_.find(key);
    if (it != waiting_by_key_.end()) {
      if (it->second.first <= due) return;
      waiting_.erase({it->second.first, it->second.second, key});
      waiting_by_key_.erase(it);
    }
    const uint64_t seq = next_seq_++;
    waiting_.insert({due, seq, key});
    waiting_by_key_.emplace(key, std::make_pair(due, seq));
    // A blocked Get may be sleeping until a later due time.
    cv_.notify_one();
  }

  void PromoteDueLocked(TimePoint now) {
    while (!waiting_.empty() && std::get<0>(*waiting_.begin()) <= now) {
      Key key = std::get<2>(*waiting_.begin());
      waiting_.erase(waiting_.begin());
      waiting_by_key_.erase(key);
      AddLocked(key);
    }
  }

  std::optional<Key> PopLocked() {
    if (shutting_down_ || queue_.empty()) return std::nullopt;
    Key key = std::move(queue_.front());
    queue_.pop_front();
    dirty_.erase(key);
    processing_.insert(key);
    return key;
  }

  // Constant after construction.
  base::Clock& clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Guarded by mu_.
  std::unique_ptr<RateLimiter<Key>> limiter_;
  std::deque<Key> queue_;    // ready keys, FIFO; each also in dirty_
  std::set<Key> dirty_;      // needs work (queued, or re-added while processing)
  std::set<Key> processing_;
  // Delayed keys ordered by (due, insertion sequence) so equal due times keep their add order.
  std::set<std::tuple<TimePoint, uint64_t, Key>> waiting_;
  std::map<Key, std::pair<TimePoint, uint64_t>> waiting_by_key_;
  uint64_t next_seq_ = 0;
  bool shutting_down_ = false;
  WorkQueueStats stats_;
};

}  // namespace nsg::runtime
