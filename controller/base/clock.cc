#include "controller/base/clock.h"

namespace nsg::base {

TimePoint SystemClock::Now() const {
  return TimePoint(std::chrono::duration_cast<Duration>(
      std::chrono::steady_clock::now().time_since_epoch()));
}

}  // namespace nsg::base
