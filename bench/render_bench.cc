// Offline pipeline cost at scale: load (YAML decode + validation + timer rule), render, and encode
// the register body for N singletons. `cmake --build build --target bench` runs it.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <memory>
#include <string>
#include <vector>

#include "controller/nomad/codec.h"
#include "controller/render/compact.h"
#include "controller/render/job_renderer.h"
#include "controller/spec/loader.h"
#include "controller/timing/budget.h"

namespace {

std::string Docs(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += "---\napiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\nmetadata:\n  name: svc-" +
            std::to_string(i) +
            "\n  namespace: prod\n  labels: {team: t" + std::to_string(i % 17) +
            "}\nspec:\n  datacenters: [dc1, dc2]\n  standby: " + std::to_string(i % 2) +
            "\n  lock: {ttl: 10s, delay: 3s, mode: " +
            (i % 3 == 0 ? "shim" : i % 3 == 1 ? "sidecar" : "split") +
            "}\n  failover: {stopOnClientAfter: 45s}\n  task:\n    driver: raw_exec\n"
            "    config: {command: /usr/local/bin/worker, args: [\"--shard\", \"" +
            std::to_string(i) + "\"]}\n    env: {MODE: prod, SHARD: \"" + std::to_string(i) +
            "\"}\n    resources: {cpu: 200, memoryMB: 128}\n";
  }
  return text;
}

void BM_Load(benchmark::State& state) {
  const std::vector<nsg::spec::SourceFile> files = {{"bench.yaml", Docs(state.range(0))}};
  for (auto _ : state) {
    auto r = nsg::spec::LoadSpecs(files, nsg::timing::CheckTimerRule);
    if (r.valid.size() != static_cast<size_t>(state.range(0))) state.SkipWithError("invalid");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Load)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_RenderAndEncode(benchmark::State& state) {
  auto loaded = nsg::spec::LoadSpecs({{"bench.yaml", Docs(state.range(0))}});
  for (auto _ : state) {
    size_t bytes = 0;
    for (const auto& s : loaded.valid) {
      auto r = nsg::render::Render(s);
      bytes += nsg::nomad::EncodeRegisterRequest({r->job, true, 0}).size();
    }
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_RenderAndEncode)->Arg(10000)->Unit(benchmark::kMillisecond);

// What the controller's spec loading does per valid spec beyond the render (kept: 1), and what
// each register then does (kept: 0, the body from the kept bytes; 2, the body encoded from the
// whole job as before the compact form).
void BM_CompactAndRegisterBody(benchmark::State& state) {
  auto loaded = nsg::spec::LoadSpecs({{"bench.yaml", Docs(1000)}});
  std::vector<nsg::render::Rendered> rendered;
  for (const auto& s : loaded.valid) rendered.push_back(*nsg::render::Render(s));
  std::vector<nsg::render::CompactRendered> kept;
  for (const auto& r : rendered) kept.push_back(nsg::render::CompactRendered::From(r));
  for (auto _ : state) {
    size_t bytes = 0;
    for (size_t i = 0; i < rendered.size(); ++i) {
      if (state.range(0) == 1) {
        bytes += nsg::render::CompactRendered::From(rendered[i]).kept_bytes();
      } else if (state.range(0) == 0) {
        nsg::nomad::RegisterRequest req;
        req.job.id = kept[i].summary.id;
        req.encoded_job = *kept[i].EncodedJob();
        bytes += nsg::nomad::EncodeRegisterRequest(req).size();
      } else {
        bytes += nsg::nomad::EncodeRegisterRequest({rendered[i].job, true, 0}).size();
      }
    }
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(rendered.size()));
}
BENCHMARK(BM_CompactAndRegisterBody)->ArgName("step")->Arg(0)->Arg(1)->Arg(2)
    ->Unit(benchmark::kMillisecond);

// Heap (glibc's mallinfo2) held per singleton by what the controller's spec set could keep: the
// parsed spec (rendered: 0), its rendered job and policy (1), or the compact form the controller
// keeps (2: render/compact.h; the deflated job, its summary, the policy). Against the issue's
// budget of 4 KiB per singleton for the whole controller.
void BM_HeapPerSpec(benchmark::State& state) {
  const int n = 2000;
  const std::vector<nsg::spec::SourceFile> files = {{"bench.yaml", Docs(n)}};
  double per = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto loaded = std::make_unique<nsg::spec::LoadResult>(nsg::spec::LoadSpecs(files));
    state.ResumeTiming();
    const size_t before = mallinfo2().uordblks;
    if (state.range(0) == 0) {
      auto copy = std::make_unique<std::vector<nsg::spec::Singleton>>(loaded->valid);
      per = static_cast<double>(mallinfo2().uordblks - before) / n;
    } else if (state.range(0) == 1) {
      std::vector<nsg::render::Rendered> rendered;
      rendered.reserve(n);
      for (const auto& s : loaded->valid) rendered.push_back(std::move(*nsg::render::Render(s)));
      per = static_cast<double>(mallinfo2().uordblks - before) / n;
    } else {
      std::vector<nsg::render::CompactRendered> kept;
      kept.reserve(n);
      for (const auto& s : loaded->valid) {
        kept.push_back(nsg::render::CompactRendered::From(*nsg::render::Render(s)));
      }
      per = static_cast<double>(mallinfo2().uordblks - before) / n;
    }
  }
  state.counters["bytes_per_singleton"] = per;
}
BENCHMARK(BM_HeapPerSpec)->ArgName("rendered")->Arg(0)->Arg(1)->Arg(2)->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
