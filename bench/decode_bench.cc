// Codec benchmarks: the event-stream hot path (DecodeFrame on a realistic ~5.5 KB allocation
// event) and the job codec (DecodeJob / EncodeJob on a realistic ~12 KB job).

#include <benchmark/benchmark.h>

#include <string>

#include "bench/fixture.h"
#include "controller/nomad/codec.h"

namespace nsg::nomad {
namespace {

using nsg::bench::NomadFixture;

// Argument 1: the Allocation summary (PayloadDetail::kSummary, the controller's stream); 0: the
// full allocation.
void BM_DecodeFrameAllocation(benchmark::State& state) {
  const std::string line = NomadFixture("alloc_event.json");
  const auto detail = state.range(0) != 0 ? PayloadDetail::kSummary : PayloadDetail::kFull;
  for (auto _ : state) {
    auto frame = DecodeFrame(line, detail);
    if (!frame.ok()) {
      state.SkipWithError(frame.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());  // one event per frame: items/s = events/s
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line.size()));
  state.counters["line_bytes"] = static_cast<double>(line.size());
}
BENCHMARK(BM_DecodeFrameAllocation)->ArgName("summary")->Arg(0)->Arg(1);

void BM_DecodeFrameHeartbeat(benchmark::State& state) {
  for (auto _ : state) {
    auto frame = DecodeFrame("{}");
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeFrameHeartbeat);

void BM_EncodeFrameAllocation(benchmark::State& state) {
  auto frame = DecodeFrame(NomadFixture("alloc_event.json"));
  if (!frame.ok()) {
    state.SkipWithError(frame.status().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    std::string line = EncodeFrame(*frame);
    benchmark::DoNotOptimize(line);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeFrameAllocation);

void BM_DecodeJob(benchmark::State& state) {
  const std::string json = NomadFixture("job_server.json");
  for (auto _ : state) {
    auto job = DecodeJob(json);
    if (!job.ok()) {
      state.SkipWithError(job.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(job);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
}
BENCHMARK(BM_DecodeJob);

// Arg 0: a register body (server_fields=false); arg 1: as GET /v1/job/:id answers.
void BM_EncodeJob(benchmark::State& state) {
  auto job = DecodeJob(NomadFixture("job_server.json"));
  if (!job.ok()) {
    state.SkipWithError(job.status().ToString().c_str());
    return;
  }
  const EncodeOptions opts{.server_fields = state.range(0) != 0};
  size_t bytes = 0;
  for (auto _ : state) {
    std::string json = EncodeJob(*job, opts);
    bytes = json.size();
    benchmark::DoNotOptimize(json);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodeJob)->ArgName("server_fields")->Arg(0)->Arg(1);

}  // namespace
}  // namespace nsg::nomad
