// Durations as Go and Nomad write them.
//
// Nomad's job JSON carries durations as integer nanoseconds; its variable locks and its CLI use Go
// duration strings ("15s", "1m0s", "1h30m"). Specs accept Go duration strings. Pure functions; safe
// for concurrent use.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "controller/base/status.h"

namespace nsg::base {

using Duration = std::chrono::nanoseconds;
using namespace std::chrono_literals;  // 15s, 500ms in code that includes this header

// Parses a Go duration: an optional sign, then one or more decimal numbers each with a unit
// (ns, us, µs, ms, s, m, h), e.g. "1h30m", "1.5s", "300ms". "0" alone is allowed. Returns
// kInvalidSpec with a message naming the problem for anything else, including a bare number
// ("15" — say "15s") and overflow.
Result<Duration> ParseDuration(std::string_view text);

// Formats like Go's time.Duration.String(): "15s", "1m0s", "1h30m0s", "1.5s", "500ms", "0s".
std::string FormatDuration(Duration d);

// Seconds as a double, for metrics and plain-words output.
inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace nsg::base
