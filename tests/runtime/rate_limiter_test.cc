#include "controller/runtime/rate_limiter.h"

#include <gtest/gtest.h>

#include <string>

namespace nsg::runtime {
namespace {

TimePoint At(Duration d) { return TimePoint(d); }

TEST(ExponentialDelayTest, DoublesFromBaseAndStopsAtTheCap) {
  EXPECT_EQ(ExponentialDelay(5ms, 1s, 0), 5ms);
  EXPECT_EQ(ExponentialDelay(5ms, 1s, 1), 10ms);
  EXPECT_EQ(ExponentialDelay(5ms, 1s, 7), 640ms);
  EXPECT_EQ(ExponentialDelay(5ms, 1s, 8), 1s);
  EXPECT_EQ(ExponentialDelay(5ms, 1s, 1000000), 1s) << "no overflow for huge counts";
  EXPECT_EQ(ExponentialDelay(0ms, 1s, 3), 0ms);
}

TEST(ItemExponentialBackoffTest, DefaultSequenceStartsAtFiveMilliseconds) {
  ItemExponentialBackoff<std::string> l;
  EXPECT_EQ(l.When("k", At(0s)), 5ms);
  EXPECT_EQ(l.When("k", At(0s)), 10ms);
  EXPECT_EQ(l.When("k", At(0s)), 20ms);
  EXPECT_EQ(l.NumRequeues("k"), 3);
  for (int i = 0; i < 40; ++i) (void)l.When("k", At(0s));
  EXPECT_EQ(l.When("k", At(0s)), kDefaultMaxDelay);
  l.Forget("k");
  EXPECT_EQ(l.NumRequeues("k"), 0);
  EXPECT_EQ(l.When("k", At(0s)), 5ms);
}

TEST(TokenBucketTest, BurstThenOneTokenPerIntervalWithDebt) {
  TokenBucket b(/*qps=*/10, /*burst=*/3);
  EXPECT_EQ(b.Reserve(At(0s)), 0ms);
  EXPECT_EQ(b.Reserve(At(0s)), 0ms);
  EXPECT_EQ(b.Reserve(At(0s)), 0ms);
  EXPECT_EQ(b.Reserve(At(0s)), 100ms);
  EXPECT_EQ(b.Reserve(At(0s)), 200ms) << "each reservation adds to the debt";
  EXPECT_DOUBLE_EQ(b.TokensAt(At(0s)), -2.0);
  // 150ms later 1.5 tokens have been paid back: debt 0.5 → the next waits 150ms.
  EXPECT_EQ(b.Reserve(At(150ms)), 150ms);
}

TEST(TokenBucketTest, RefillsOnlyUpToTheBurst) {
  TokenBucket b(10, 2);
  EXPECT_EQ(b.Reserve(At(0s)), 0ms);
  EXPECT_DOUBLE_EQ(b.TokensAt(At(1h)), 2.0);
  EXPECT_EQ(b.Reserve(At(1h)), 0ms);
  EXPECT_EQ(b.Reserve(At(1h)), 0ms);
  EXPECT_EQ(b.Reserve(At(1h)), 100ms);
}

TEST(TokenBucketTest, TimeGoingBackwardsDoesNotMintTokens) {
  TokenBucket b(10, 1);
  EXPECT_EQ(b.Reserve(At(10s)), 0ms);
  EXPECT_EQ(b.Reserve(At(5s)), 100ms);
}

TEST(MaxOfRateLimiterTest, TakesTheLongestAndForgetsEverywhere) {
  auto l = DefaultControllerRateLimiter<std::string>(
      {.base_delay = 5ms, .max_delay = 10s, .qps = 1, .burst = 1});
  EXPECT_EQ(l->When("a", At(0s)), 5ms) << "bucket has a token: backoff wins";
  EXPECT_EQ(l->When("b", At(0s)), 1s) << "bucket empty: its 1s wins over b's 5ms";
  EXPECT_EQ(l->NumRequeues("a"), 1);
  EXPECT_EQ(l->NumRequeues("b"), 1);
  l->Forget("b");
  EXPECT_EQ(l->NumRequeues("b"), 0);
}

}  // namespace
}  // namespace nsg::runtime
