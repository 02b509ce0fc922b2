// WaitUntil: the one way a test waits for something another thread or process does — poll a
// condition until it holds or a real-time deadline passes. Tests never sleep a fixed time to let
// something happen (STYLE.md, Tests); they wait on a condition with a deadline.
//
// Polling starts at 1 ms and doubles to 20 ms, so a condition that holds quickly is seen quickly
// and a slow one (a real process, an HTTP round trip in the predicate) is not polled hot. The
// condition is checked once more at the deadline, so a limit of 0 is a plain check.
//
// Header-only, no state; safe to call from any thread (the predicate must be, too).
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

namespace nsg::test_support {

inline constexpr std::chrono::milliseconds kDefaultWaitLimit{10000};

// Calls `pred` until it returns true or `limit` has passed; returns whether it held.
template <typename Pred>
bool WaitUntil(Pred&& pred, std::chrono::milliseconds limit = kDefaultWaitLimit) {
  using Clock = std::chrono::steady_clock;
  constexpr std::chrono::milliseconds kMaxPoll{20};
  const auto deadline = Clock::now() + limit;
  std::chrono::milliseconds poll{1};
  while (!pred()) {
    const auto now = Clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(poll, deadline - now));
    poll = std::min(poll * 2, kMaxPoll);
  }
  return true;
}

}  // namespace nsg::test_support
