#include "controller/runtime/work_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace nsg::runtime {
namespace {

using base::TimePoint;
using base::VirtualClock;
using Queue = WorkQueue<std::string>;

// A queue whose retries use only the per-key backoff (the bucket is tested on its own).
std::unique_ptr<RateLimiter<std::string>> BackoffOnly(Duration base = 5ms, Duration cap = 1s) {
  return std::make_unique<ItemExponentialBackoff<std::string>>(base, cap);
}

// Takes every ready key (they become processing).
std::vector<std::string> Drain(Queue& q) {
  std::vector<std::string> out;
  while (auto k = q.TryGet()) out.push_back(*k);
  return out;
}

TEST(WorkQueueTest, DuplicateAddsAreHandedOutOnceInAddOrder) {
  VirtualClock clock;
  Queue q(clock);
  q.Add("ns/a");
  q.Add("ns/b");
  q.Add("ns/a");
  q.Add("ns/b");
  EXPECT_EQ(q.Len(), 2u);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"ns/a", "ns/b"}));
  EXPECT_FALSE(q.TryGet().has_value());
  EXPECT_EQ(q.Stats().adds_total, 2u);
}

TEST(WorkQueueTest, AKeyBeingProcessedIsNotHandedToASecondWorker) {
  VirtualClock clock;
  Queue q(clock);
  q.Add("k");
  ASSERT_EQ(q.TryGet(), std::optional<std::string>("k"));
  q.Add("k");  // an event while the first worker is busy
  q.Add("k");
  EXPECT_FALSE(q.TryGet().has_value()) << "k is still being processed";
  EXPECT_EQ(q.Stats().processing, 1u);
  q.Done("k");
  EXPECT_EQ(q.TryGet(), std::optional<std::string>("k"))
      << "re-added while processing: queued by Done";
  q.Done("k");
  EXPECT_FALSE(q.TryGet().has_value()) << "one re-add, one more round, no more";
}

TEST(WorkQueueTest, DoneWithoutReAddDoesNotRequeue) {
  VirtualClock clock;
  Queue q(clock);
  q.Add("k");
  ASSERT_TRUE(q.TryGet().has_value());
  q.Done("k");
  EXPECT_FALSE(q.TryGet().has_value());
  EXPECT_EQ(q.Stats().processing, 0u);
}

TEST(WorkQueueTest, DoneOfAKeyNotHandedOutDoesNotDuplicateIt) {
  VirtualClock clock;
  Queue q(clock);
  q.Add("k");
  q.Done("k");
  EXPECT_EQ(Drain(q), std::vector<std::string>{"k"});
}

TEST(WorkQueueTest, OtherKeysProceedWhileOneIsProcessing) {
  VirtualClock clock;
  Queue q(clock);
  q.Add("a");
  ASSERT_EQ(q.TryGet(), std::optional<std::string>("a"));
  q.Add("a");
  q.Add("b");
  EXPECT_EQ(q.TryGet(), std::optional<std::string>("b"));
  EXPECT_FALSE(q.TryGet().has_value());
}

TEST(WorkQueueTest, BackoffDoublesFromFiveMillisecondsToTheCap) {
  VirtualClock clock;
  Queue q(clock, BackoffOnly(5ms, 100ms));
  const std::vector<Duration> want = {5ms, 10ms, 20ms, 40ms, 80ms, 100ms, 100ms};
  for (size_t i = 0; i < want.size(); ++i) {
    const TimePoint start = clock.Now();
    q.AddRateLimited("k");
    ASSERT_EQ(q.NextReadyAt(), std::optional<TimePoint>(start + want[i])) << "retry " << i;
    EXPECT_FALSE(q.TryGet().has_value()) << "not due yet";
    clock.Advance(want[i] - 1ns);
    EXPECT_FALSE(q.TryGet().has_value()) << "1ns early";
    clock.Advance(1ns);
    ASSERT_EQ(q.TryGet(), std::optional<std::string>("k")) << "retry " << i;
    q.Done("k");
  }
  EXPECT_EQ(q.NumRequeues("k"), 7);
  EXPECT_EQ(q.Stats().retries_total, 7u);
}

TEST(WorkQueueTest, ForgetStartsTheBackoffOver) {
  VirtualClock clock;
  Queue q(clock, BackoffOnly());
  q.AddRateLimited("k");
  q.AddRateLimited("k");  // still waiting: the earlier due time (5ms) stays
  EXPECT_EQ(q.NextReadyAt(), std::optional<TimePoint>(clock.Now() + 5ms));
  clock.Advance(5ms);
  ASSERT_TRUE(q.TryGet().has_value());
  q.Done("k");
  EXPECT_EQ(q.NumRequeues("k"), 2);
  q.Forget("k");
  EXPECT_EQ(q.NumRequeues("k"), 0);
  q.AddRateLimited("k");
  EXPECT_EQ(q.NextReadyAt(), std::optional<TimePoint>(clock.Now() + 5ms));
}

TEST(WorkQueueTest, BackoffIsPerKey) {
  VirtualClock clock;
  Queue q(clock, BackoffOnly());
  q.AddRateLimited("a");
  q.AddRateLimited("a");
  q.AddRateLimited("a");
  EXPECT_EQ(q.NumRequeues("a"), 3);
  EXPECT_EQ(q.NumRequeues("b"), 0);
  clock.Advance(1s);
  Drain(q);
  q.Done("a");
  q.AddRateLimited("b");
  EXPECT_EQ(q.NextReadyAt(), std::optional<TimePoint>(clock.Now() + 5ms));
}

TEST(WorkQueueTest, GlobalBucketSpacesRetriesOfDifferentKeys) {
  VirtualClock clock;
  // Backoff 5ms, bucket 10/s with burst 2: the third and fourth retries of *different* keys wait
  // for tokens (100ms, 200ms) although each key failed only once.
  Queue q(clock, DefaultControllerRateLimiter<std::string>(
                     {.base_delay = 5ms, .max_delay = 1s, .qps = 10, .burst = 2}));
  const TimePoint t0 = clock.Now();
  q.AddRateLimited("a");
  q.AddRateLimited("b");
  q.AddRateLimited("c");
  q.AddRateLimited("d");
  clock.Advance(5ms);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(q.NextReadyAt(), std::optional<TimePoint>(t0 + 100ms));
  clock.Set(t0 + 100ms);
  EXPECT_EQ(Drain(q), std::vector<std::string>{"c"});
  clock.Set(t0 + 200ms);
  EXPECT_EQ(Drain(q), std::vector<std::string>{"d"});
  EXPECT_FALSE(q.NextReadyAt().has_value());
}

TEST(WorkQueueTest, AddAfterWaitsForItsDueTime) {
  VirtualClock clock;
  Queue q(clock);
  q.AddAfter("k", 2s);
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_EQ(q.Stats().waiting, 1u);
  clock.Advance(1999ms);
  EXPECT_FALSE(q.TryGet().has_value());
  clock.Advance(1ms);
  EXPECT_EQ(q.TryGet(), std::optional<std::string>("k"));
  EXPECT_FALSE(q.NextReadyAt().has_value());
}

TEST(WorkQueueTest, AddAfterKeepsTheEarlierDueTime) {
  VirtualClock clock;
  Queue q(clock);
  const TimePoint t0 = clock.Now();
  q.AddAfter("k", 10s);
  q.AddAfter("k", 3s);   // earlier: replaces
  q.AddAfter("k", 20s);  // later: ignored
  EXPECT_EQ(q.NextReadyAt(), std::optional<TimePoint>(t0 + 3s));
  EXPECT_EQ(q.Stats().waiting, 1u);
  clock.Advance(3s);
  EXPECT_EQ(Drain(q), std::vector<std::string>{"k"});
  EXPECT_FALSE(q.NextReadyAt().has_value()) << "the replaced 10s entry is gone too";
}

TEST(WorkQueueTest, AddAfterZeroIsAnAdd) {
  VirtualClock clock;
  Queue q(clock);
  q.AddAfter("k", 0s);
  EXPECT_EQ(q.Len(), 1u);
}

TEST(WorkQueueTest, DelayedKeysFallDueInTimeThenAddOrder) {
  VirtualClock clock;
  Queue q(clock);
  q.AddAfter("late", 2s);
  q.AddAfter("x", 1s);
  q.AddAfter("y", 1s);
  clock.Advance(5s);
  EXPECT_EQ(Drain(q), (std::vector<std::string>{"x", "y", "late"}));
}

TEST(WorkQueueTest, DueKeyThatIsProcessingWaitsForDone) {
  VirtualClock clock;
  Queue q(clock);
  q.Add("k");
  ASSERT_TRUE(q.TryGet().has_value());
  q.AddAfter("k", 1s);  // requeue_after from the reconcile in progress
  clock.Advance(1s);
  EXPECT_FALSE(q.TryGet().has_value());
  q.Done("k");
  EXPECT_EQ(q.TryGet(), std::optional<std::string>("k"));
}

TEST(WorkQueueTest, ShutDownStopsHandingOutAndDropsAdds) {
  VirtualClock clock;
  Queue q(clock);
  q.Add("a");
  q.AddAfter("b", 1s);
  ASSERT_EQ(q.TryGet(), std::optional<std::string>("a"));
  q.Add("c");
  q.ShutDown();
  EXPECT_TRUE(q.ShuttingDown());
  EXPECT_FALSE(q.TryGet().has_value());
  q.Add("d");
  q.AddRateLimited("e");
  clock.Advance(10s);
  EXPECT_FALSE(q.TryGet().has_value());
  EXPECT_FALSE(q.NextReadyAt().has_value());
  EXPECT_EQ(q.Len(), 0u);
  q.Done("a");  // a worker finishing after shutdown is fine
  EXPECT_FALSE(q.Get().has_value()) << "Get after ShutDown returns at once";
}

// ---- Real threads: the blocking Get. These wait on futures with a deadline, never sleep. ----

TEST(WorkQueueThreadTest, BlockingGetWakesOnAdd) {
  base::SystemClock clock;
  Queue q(clock);
  auto got = std::async(std::launch::async, [&q] { return q.Get(); });
  q.Add("k");
  ASSERT_EQ(got.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(got.get(), std::optional<std::string>("k"));
}

TEST(WorkQueueThreadTest, BlockingGetReturnsNulloptOnShutDown) {
  base::SystemClock clock;
  Queue q(clock);
  auto a = std::async(std::launch::async, [&q] { return q.Get(); });
  auto b = std::async(std::launch::async, [&q] { return q.Get(); });
  q.ShutDown();
  ASSERT_EQ(a.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  ASSERT_EQ(b.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_FALSE(a.get().has_value());
  EXPECT_FALSE(b.get().has_value());
}

TEST(WorkQueueThreadTest, BlockingGetWaitsForADelayedKey) {
  base::SystemClock clock;
  Queue q(clock);
  const TimePoint start = clock.Now();
  q.AddAfter("k", 20ms);
  auto got = q.Get();
  EXPECT_EQ(got, std::optional<std::string>("k"));
  EXPECT_GE(clock.Now() - start, 20ms);
}

TEST(WorkQueueThreadTest, NoKeyIsEverProcessedByTwoWorkersAtOnce) {
  base::SystemClock clock;
  Queue q(clock);
  constexpr int kKeys = 4;
  constexpr int kWorkers = 4;
  constexpr int kAddsPerKey = 2000;
  std::vector<std::atomic<int>> in_flight(kKeys);
  std::atomic<int> overlaps{0};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.Get()) {
        const int i = std::stoi(*key);
        if (in_flight[i].fetch_add(1) != 0) overlaps.fetch_add(1);
        processed.fetch_add(1);
        in_flight[i].fetch_sub(1);
        q.Done(*key);
      }
    });
  }
  for (int n = 0; n < kAddsPerKey; ++n) {
    for (int k = 0; k < kKeys; ++k) q.Add(std::to_string(k));
  }
  // Wait (with a deadline, by polling the queue's own state) until everything added was handled.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    WorkQueueStats s = q.Stats();
    if (s.ready == 0 && s.processing == 0) break;
    std::this_thread::yield();
  }
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GE(processed.load(), kKeys);  // each key at least once; duplicates were merged
  EXPECT_LE(processed.load(), kKeys * kAddsPerKey);
}

}  // namespace
}  // namespace nsg::runtime
