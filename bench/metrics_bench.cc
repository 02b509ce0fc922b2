// The controller's per-singleton metrics at scale (issue 17): the heap one singleton's series
// cost, and one /metrics scrape (Serialize) with N singletons. Each singleton gets what a
// reconcile of a healthy service singleton sets (spec_valid, info, running/lock_held/up, the
// three conditions Ready, Synced, Degraded); every 100th has had a failover.
// `cmake --build build --target run_metrics_bench`.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <chrono>
#include <memory>
#include <string>

#include "controller/controller_io/metrics_exporter.h"

namespace {

using nsg::io::ControllerMetrics;

void Fill(ControllerMetrics& m, int n) {
  for (int s = 0; s < n; ++s) {
    const std::string key = "default/svc-" + std::to_string(s);
    m.SetSpecValid(key, true);
    m.SetInfo(key, "service", s % 3 == 0 ? "shim" : s % 3 == 1 ? "sidecar" : "split");
    m.SetObserved(key, 1, true, true);
    m.SetConditions(key, {{"Ready", true}, {"Synced", true}, {"Degraded", false}});
    if (s % 100 == 0) m.ObserveFailover(key, std::chrono::seconds(21));
  }
}

// Heap in use (glibc's mallinfo2) per singleton after filling N.
void BM_HeapPerSingleton(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  double per = 0;
  for (auto _ : state) {
    const size_t before = mallinfo2().uordblks;
    auto m = std::make_unique<ControllerMetrics>("0.1.0", "bench");
    Fill(*m, n);
    per = static_cast<double>(mallinfo2().uordblks - before) / n;
    state.PauseTiming();
    m.reset();
    state.ResumeTiming();
  }
  state.counters["bytes_per_singleton"] = per;
  state.counters["target_total_budget_bytes_per_singleton"] = 4096;
}
BENCHMARK(BM_HeapPerSingleton)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(3);

// One scrape: the exposition text of everything with N singletons.
void BM_Serialize(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  ControllerMetrics m("0.1.0", "bench");
  Fill(m, n);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = m.Serialize();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["scrape_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Serialize)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
