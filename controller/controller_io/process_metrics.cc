#include "controller/controller_io/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>

namespace nsg::io {

namespace {

// The fields of /proc/self/stat (proc(5)) we export, by their 1-based number.
constexpr int kUtime = 14;
constexpr int kStime = 15;
constexpr int kStartTime = 22;
constexpr int kVsize = 23;
constexpr int kRss = 24;

struct Stat {
  double utime_ticks = 0;
  double stime_ticks = 0;
  double start_ticks = 0;  // since boot
  double vsize_bytes = 0;
  double rss_pages = 0;
};

std::optional<Stat> ReadStat() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // Field 2 is the command in parentheses and may contain spaces and ')': split after the last.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  Stat s;
  std::string field;
  for (int n = 3; fields >> field; ++n) {
    double* into = n == kUtime      ? &s.utime_ticks
                   : n == kStime    ? &s.stime_ticks
                   : n == kStartTime ? &s.start_ticks
                   : n == kVsize    ? &s.vsize_bytes
                   : n == kRss      ? &s.rss_pages
                                    : nullptr;
    if (into != nullptr) *into = std::strtod(field.c_str(), nullptr);
    if (n == kRss) return s;
  }
  return std::nullopt;
}

// The boot time in Unix seconds ("btime" of /proc/stat).
std::optional<double> BootTime() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

std::optional<double> OpenFds() {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/self/fd", ec);
  if (ec) return std::nullopt;
  double n = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return std::nullopt;
    ++n;
  }
  return n;
}

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily f{name, help, type, {}};
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

std::vector<prometheus::MetricFamily> CollectProcessMetrics() {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  if (std::optional<Stat> s = ReadStat(); s && ticks > 0 && page > 0) {
    out.push_back(Family("process_cpu_seconds_total", "Total user and system CPU time spent in "
                         "seconds.", MetricType::Counter,
                         (s->utime_ticks + s->stime_ticks) / static_cast<double>(ticks)));
    out.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                         MetricType::Gauge, s->rss_pages * static_cast<double>(page)));
    out.push_back(Family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                         MetricType::Gauge, s->vsize_bytes));
    if (std::optional<double> boot = BootTime()) {
      out.push_back(Family("process_start_time_seconds",
                           "Start time of the process since unix epoch in seconds.",
                           MetricType::Gauge,
                           *boot + s->start_ticks / static_cast<double>(ticks)));
    }
  }
  if (std::optional<double> fds = OpenFds()) {
    out.push_back(Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
                         *fds));
  }
  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    out.push_back(Family("process_max_fds", "Maximum number of open file descriptors.",
                         MetricType::Gauge, static_cast<double>(rl.rlim_cur)));
  }
  return out;
}

}  // namespace nsg::io
