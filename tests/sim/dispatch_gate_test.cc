// DispatchGate: the simulator's HTTP front end lets cpprest's request continuations reach it
// only through the gate, and frees itself only after closing it. These checks pin what that
// shutdown depends on: a continuation that got in keeps a live target until it leaves, Close()
// waits for it (and says so when it cannot), and one that comes after Close() gets nothing.
#include "controller/sim/dispatch_gate.h"

#include <chrono>
#include <future>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

namespace nsg::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Target {
  int dispatched = 0;
};

TEST(DispatchGate, NothingGetsThroughBeforeOpenOrAfterClose) {
  DispatchGate<Target> gate;
  Target t;
  {
    DispatchGate<Target>::Pass pass(gate);
    EXPECT_EQ(pass.target(), nullptr);
  }
  gate.Open(&t);
  {
    DispatchGate<Target>::Pass pass(gate);
    ASSERT_EQ(pass.target(), &t);
    pass.target()->dispatched++;
  }
  EXPECT_TRUE(gate.Close(seconds(5)));
  DispatchGate<Target>::Pass late(gate);
  EXPECT_EQ(late.target(), nullptr);
  EXPECT_EQ(t.dispatched, 1);
}

TEST(DispatchGate, CloseWaitsForThePassInsideAndReportsTheDeadline) {
  auto gate = std::make_shared<DispatchGate<Target>>();
  auto target = std::make_unique<Target>();
  gate->Open(target.get());

  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  // A continuation on another thread, inside Dispatch until told to leave.
  std::thread continuation([gate, &entered, released] {
    DispatchGate<Target>::Pass pass(*gate);
    ASSERT_NE(pass.target(), nullptr);
    entered.set_value();
    ASSERT_EQ(released.wait_for(seconds(30)), std::future_status::ready);
    pass.target()->dispatched++;  // the target must still be alive here
  });
  ASSERT_EQ(entered.get_future().wait_for(seconds(30)), std::future_status::ready);

  // While it is inside, Close() cannot finish: with a short deadline it says so.
  EXPECT_FALSE(gate->Close(milliseconds(20)));
  // A continuation arriving now is turned away even though the first is still inside.
  {
    DispatchGate<Target>::Pass pass(*gate);
    EXPECT_EQ(pass.target(), nullptr);
  }
  // Close() on another thread returns once the continuation leaves, and only then.
  auto closed = std::async(std::launch::async, [gate] { return gate->Close(seconds(30)); });
  EXPECT_EQ(closed.wait_for(milliseconds(20)), std::future_status::timeout);
  release.set_value();
  ASSERT_EQ(closed.wait_for(seconds(30)), std::future_status::ready);
  EXPECT_TRUE(closed.get());
  continuation.join();
  EXPECT_EQ(target->dispatched, 1);
  target.reset();  // what the front end's destructor does after Close() returned true
}

}  // namespace
}  // namespace nsg::sim
