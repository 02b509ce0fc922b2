// Spec source latency: from a spec file's write (open, write, close) to SpecWatcher::Wait
// returning kChanged, over 200 writes, each made while Wait is blocked and spaced past the
// debounce. Reported as counters p50_ms / p99_ms / max_ms, and overhead_p50_ms (p50 minus the
// debounce: inotify delivery plus wake-up). The argument is the debounce in milliseconds (100 is
// the default). Real time on a real temp directory (tmpfs or disk, whatever /tmp is).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "controller/controller_io/spec_watcher.h"

namespace nsg::io {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kWrites = 200;
// After Wait returns, the writer waits this long so that the next write finds Wait blocked.
constexpr auto kGap = std::chrono::milliseconds(20);

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

void BM_SpecWatcherWriteToWake(benchmark::State& state) {
  const auto debounce = std::chrono::milliseconds(state.range(0));
  const fs::path dir = fs::temp_directory_path() / ("nsg_spec_watcher_bench_" +
                                                    std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  SpecWatcherOptions options;
  options.debounce = debounce;
  options.max_delay = std::max<base::Duration>(debounce, std::chrono::seconds(1));
  options.rescan_period = std::chrono::hours(1);
  auto watcher = SpecWatcher::Open(dir.string(), options);
  if (!watcher.ok()) {
    state.SkipWithError(watcher.status().ToString().c_str());
    return;
  }
  std::vector<double> latencies_ms;
  for (auto _ : state) {
    std::mutex mu;
    std::condition_variable cv;
    int returned = 0;          // Wait returns so far; guarded by mu
    Clock::time_point wrote;   // time of the latest write; guarded by mu
    std::jthread writer([&](std::stop_token stop) {
      for (int i = 0; i < kWrites && !stop.stop_requested(); ++i) {
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return returned == i || stop.stop_requested(); });
        }
        std::this_thread::sleep_for(kGap);
        const auto t = Clock::now();
        {
          std::lock_guard lock(mu);
          wrote = t;
        }
        std::ofstream(dir / ("s" + std::to_string(i % 10) + ".yaml")) << "n: " << i << "\n";
      }
    });
    std::stop_source stop;
    for (int i = 0; i < kWrites; ++i) {
      const WakeReason r = watcher.value()->Wait(stop.get_token());
      const auto now = Clock::now();
      std::lock_guard lock(mu);
      if (r == WakeReason::kChanged) {
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - wrote).count());
      }
      ++returned;
      cv.notify_all();
    }
    writer.request_stop();
    cv.notify_all();
  }
  fs::remove_all(dir);
  if (latencies_ms.empty()) {
    state.SkipWithError("no kChanged wake-ups");
    return;
  }
  const double p50 = Percentile(latencies_ms, 0.50);
  state.counters["p50_ms"] = p50;
  state.counters["p99_ms"] = Percentile(latencies_ms, 0.99);
  state.counters["max_ms"] = Percentile(latencies_ms, 1.0);
  state.counters["overhead_p50_ms"] = p50 - static_cast<double>(debounce.count());
  state.counters["wakes"] = static_cast<double>(latencies_ms.size());
}
BENCHMARK(BM_SpecWatcherWriteToWake)
    ->Arg(100)
    ->Arg(10)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace nsg::io
