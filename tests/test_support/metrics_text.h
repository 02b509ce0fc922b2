// MetricValue: one sample of a Prometheus text exposition (what /metrics serves), for tests that
// read the controller's metrics. Header-only, no state; safe to call from any thread.
#pragma once

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>

namespace nsg::test_support {

// The value of the sample `series` (name and labels exactly as serialized, e.g.
// `nomad_singleton_duplicates_total{singleton="default/alpha"}`); nullopt when absent.
inline std::optional<double> MetricValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return std::nullopt;
}

}  // namespace nsg::test_support
