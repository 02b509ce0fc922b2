// The standard process_* metrics of Prometheus client libraries (client_golang's process
// collector, prometheus_client's ProcessCollector), read from /proc/self at each call: CPU time,
// resident and virtual memory, open and maximum file descriptors, start time. prometheus-cpp has
// no such collector. Stateless; safe for concurrent use.
#pragma once

#include <vector>

#include <prometheus/metric_family.h>

namespace nsg::io {

// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds. A family whose source cannot be
// read (no /proc: not Linux, or a sandbox) is left out rather than reported as 0.
std::vector<prometheus::MetricFamily> CollectProcessMetrics();

}  // namespace nsg::io
