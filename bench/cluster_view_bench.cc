// The controller's in-memory view of the cluster at scale (issue 17): the cost of one allocation
// update (what every Allocation event and allocation read costs) and of one singleton's Observed
// (what every reconcile reads), with N singletons of two allocations each. Both must cost what
// they touch, not grow with N. And event ingest inside the controller: one Allocation event line
// decoded and applied to the view (the target: 200k events/s per core at 10k).
// `cmake --build build --target run_cluster_view_bench`.
#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

#include "bench/fixture.h"
#include "controller/nomad/codec.h"
#include "controller/reconcile/cluster_view.h"

namespace {

using nsg::reconcile::ClusterView;

nsg::nomad::Allocation Alloc(int singleton, int i, uint64_t index) {
  nsg::nomad::Allocation a;
  a.id = "alloc-" + std::to_string(singleton) + "-" + std::to_string(i);
  a.namespace_ = "default";
  a.job_id = "svc-" + std::to_string(singleton);
  a.node_id = "node-" + std::to_string((singleton + i) % 50);
  a.client_status = "running";
  a.desired_status = "run";
  a.create_index = index;
  a.modify_index = index;
  return a;
}

// A view with N watched singletons, each with its job and two running allocations, on 50 nodes.
void Fill(ClusterView& view, int n) {
  std::map<std::string, std::string> watched;
  nsg::reconcile::Snapshot snap;
  uint64_t index = 1;
  for (int s = 0; s < n; ++s) {
    watched["default/svc-" + std::to_string(s)] = "nomad/jobs/svc-" + std::to_string(s) + "/lock";
    nsg::nomad::Job job;
    job.id = "svc-" + std::to_string(s);
    job.namespace_ = "default";
    job.modify_index = index++;
    snap.jobs.push_back(job);
    for (int i = 0; i < 2; ++i) snap.allocations.push_back(Alloc(s, i, index++));
  }
  for (int i = 0; i < 50; ++i) {
    nsg::nomad::Node node;
    node.id = "node-" + std::to_string(i);
    node.status = "ready";
    node.modify_index = index++;
    snap.nodes.push_back(node);
  }
  snap.index = index;
  view.Watch(watched);
  view.Reset(snap);
}

// Runs `op(view, s, index)` once per iteration on a view of N singletons (the benchmark's
// argument), cycling s through them; `index` is a fresh Raft index each time.
template <typename Op>
void Cycle(benchmark::State& state, Op op) {
  const int n = static_cast<int>(state.range(0));
  ClusterView view;
  Fill(view, n);
  uint64_t index = 10 * static_cast<uint64_t>(n) + 100;
  int s = 0;
  for (auto _ : state) {
    op(view, s, ++index);
    s = (s + 1) % n;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_ClusterViewAllocationUpdate(benchmark::State& state) {
  Cycle(state, [](ClusterView& view, int s, uint64_t index) {
    auto a = Alloc(s, 0, index);
    a.create_index = 1;
    benchmark::DoNotOptimize(view.ApplyAllocationRead(a));
  });
}
BENCHMARK(BM_ClusterViewAllocationUpdate)->Arg(1000)->Arg(10000);

void BM_ClusterViewObserved(benchmark::State& state) {
  Cycle(state, [](ClusterView& view, int s, uint64_t) {
    benchmark::DoNotOptimize(view.ObservedFor("default/svc-" + std::to_string(s)));
  });
}
BENCHMARK(BM_ClusterViewObserved)->Arg(1000)->Arg(10000);

// One lock variable update (a Variable event: every acquire, renew and release on Nomad 2.0).
void BM_ClusterViewLockUpdate(benchmark::State& state) {
  Cycle(state, [](ClusterView& view, int s, uint64_t index) {
    nsg::nomad::Variable v;
    v.namespace_ = "default";
    v.path = "nomad/jobs/svc-" + std::to_string(s) + "/lock";
    v.lock = nsg::nomad::VariableLock{};
    v.lock->id = "lease-" + std::to_string(index);
    v.modify_index = index;
    benchmark::DoNotOptimize(view.ApplyVariableRead("default", v.path, v, v.modify_index));
  });
}
BENCHMARK(BM_ClusterViewLockUpdate)->Arg(1000)->Arg(10000);

// Event ingest inside the controller: a realistic ~5.5 KB Allocation event line
// (tests/fixtures/nomad/alloc_event.json, rewritten to belong to singleton s) decoded by the
// stream's decoder and applied to the view, as the informer does with each frame. Items/s =
// events/s on one core; what the informer adds (reading the socket, the work queue) is not here.
// Second argument: 1 decodes the Allocation summary, as the controller's stream does
// (PayloadDetail::kSummary); 0 the full allocation, for comparison.
void BM_IngestAllocationEvent(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto detail = state.range(1) != 0 ? nsg::nomad::PayloadDetail::kSummary
                                          : nsg::nomad::PayloadDetail::kFull;
  const std::string fixture = nsg::bench::NomadFixture("alloc_event.json");
  auto parsed = nsg::nomad::DecodeFrame(fixture);
  if (!parsed.ok() || parsed->events.size() != 1 || !parsed->events[0].allocation) {
    state.SkipWithError("alloc_event.json is not one Allocation event");
    return;
  }
  const nsg::nomad::Allocation& model = *parsed->events[0].allocation;
  // The fixture's text with singleton s's IDs substituted: the wire's full ~5.5 KB shape, which
  // the decoder must skip through, not the smaller one EncodeFrame would write.
  auto replace_all = [](std::string text, const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
    return text;
  };
  std::vector<std::string> lines;
  lines.reserve(static_cast<size_t>(n));
  for (int s = 0; s < n; ++s) {
    const nsg::nomad::Allocation mine = Alloc(s, 0, 1);
    std::string line = replace_all(fixture, model.id, mine.id);
    line = replace_all(line, model.node_id, mine.node_id);
    line = replace_all(line, "\"JobID\":\"" + model.job_id + "\"", "\"JobID\":\"" + mine.job_id + "\"");
    lines.push_back(std::move(line));
  }
  ClusterView view;
  Fill(view, n);
  uint64_t index = 10 * static_cast<uint64_t>(n) + 100;
  // The events must reach a watched singleton (or the view drops them and this measures nothing).
  if (auto first = nsg::nomad::DecodeFrame(lines[0]); !first.ok() || view.Apply(*first).empty()) {
    state.SkipWithError("the rewritten event does not reach singleton 0");
    return;
  }
  size_t bytes = 0;
  int s = 0;
  for (auto _ : state) {
    auto frame = nsg::nomad::DecodeFrame(lines[static_cast<size_t>(s)], detail);
    if (!frame.ok()) {
      state.SkipWithError(frame.status().ToString().c_str());
      break;
    }
    // A fresh Raft index, as the stream would carry: the view must not take it for a replay.
    ++index;
    frame->index = index;
    frame->events[0].index = index;
    frame->events[0].allocation->modify_index = index;
    benchmark::DoNotOptimize(view.Apply(*frame));
    bytes += lines[static_cast<size_t>(s)].size();
    s = (s + 1) % n;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_IngestAllocationEvent)
    ->ArgNames({"singletons", "summary"})
    ->Args({1000, 1})
    ->Args({10000, 1})
    ->Args({10000, 0});

}  // namespace
