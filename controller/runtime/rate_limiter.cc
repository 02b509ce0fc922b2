#include "controller/runtime/rate_limiter.h"

#include <cmath>

namespace nsg::runtime {

Duration ExponentialDelay(Duration base, Duration cap, int failures) {
  if (base <= Duration(0)) return Duration(0);
  Duration d = base;
  for (int i = 0; i < failures; ++i) {
    if (d >= cap || d > Duration::max() / 2) return cap;
    d *= 2;
  }
  return std::min(d, cap);
}

TokenBucket::TokenBucket(double qps, int burst)
    : qps_(qps), burst_(static_cast<double>(burst)), tokens_(static_cast<double>(burst)) {}

double TokenBucket::Refilled(TimePoint now) const {
  if (!last_ || now <= *last_) return tokens_;
  const double elapsed_s = std::chrono::duration<double>(now - *last_).count();
  return std::min(burst_, tokens_ + elapsed_s * qps_);
}

double TokenBucket::TokensAt(TimePoint now) const { return Refilled(now); }

Duration TokenBucket::Reserve(TimePoint now) {
  // A bucket that never refills limits nothing (golang's rate.Inf is the same idea).
  if (qps_ <= 0.0) return Duration(0);
  tokens_ = Refilled(now);
  if (!last_ || now > *last_) last_ = now;
  tokens_ -= 1.0;
  if (tokens_ >= 0.0) return Duration(0);
  return Duration(std::llround(-tokens_ / qps_ * 1e9));
}

}  // namespace nsg::runtime
