// The controller end to end: `nomad-singleton controller` in-process (RunController) against the
// embedded Nomad simulator over real HTTP on 127.0.0.1, real time, dummy tasks (3 nodes, ACLs on).
// The simulator's request observer timestamps and counts what reaches it.
//
//   BM_SpecChangeToRegister/<rescan ms>  Rewrite one spec file (a new env value) 100 times and
//       measure from the rename to the arrival of its POST /v1/jobs at the simulator. Changes
//       are spaced by a seeded uniform delay in [0, P) — P = the argument, or 2 s — so that they
//       land at every phase of a polling timer. Argument 0 runs with the controller's default
//       flags (no --spec-rescan-period); any other value passes it. Counters p50_ms, p99_ms,
//       max_ms.
//   BM_ApiCallsPerResync/singletons:<N>/acl:<0|1>  Converge N singletons with --resync-period
//       5s (on a simulator with ACLs on or off), then count the requests of one full resync
//       cycle: from one relist (its first GET /v1/jobs) to the next, which includes the
//       reconciles of every key that the resync queues. Prints the count per route; counters
//       calls and calls_per_singleton.
//
// Only the time to the request's arrival is measured, so the benchmark is indifferent to how the
// controller learns of a change (polling today, inotify later).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "controller/sim/http_frontend.h"
#include "tests/cmd/controller_runner.h"

namespace nsg::cmd {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kChanges = 100;
constexpr auto kPhaseWindow = 2s;  // spacing of changes without a --spec-rescan-period argument

std::string Spec(const std::string& name, int value) {
  return "apiVersion: nomad-singleton.io/v1alpha1\n"
         "kind: Singleton\n"
         "metadata: {name: " +
         name +
         "}\n"
         "spec:\n"
         "  lock: {mode: shim, ttl: 10s, delay: 1s}\n"
         "  task:\n"
         "    driver: raw_exec\n"
         "    config: {command: /bin/sleep, args: [\"1000\"]}\n"
         "    env: {BENCH_VALUE: \"" +
         std::to_string(value) + "\"}\n";
}

// A temporary spec directory, a simulator whose requests are timestamped, and the controller.
class Harness {
 public:
  struct Arrival {
    Clock::time_point at;
    std::string route;  // "METHOD /v1/route/:param"
  };

  explicit Harness(bool acl = true) {
    dir_ = fs::temp_directory_path() / ("nsg-ctl-bench-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "specs");
    const sim::SimServer::Options opts = testing::SimOptions(dir_, acl);
    token_ = opts.acl.management_secret;
    server_ = std::make_unique<sim::SimServer>(opts);
    if (!server_->Start().ok()) throw std::runtime_error("the simulator did not start");
    server_->WithModel([&] {
      server_->router().SetRequestObserver([this](const sim::Request& r) {
        arrivals_.push_back({Clock::now(), r.method + " " + sim::Router::RouteTemplate(r.path)});
      });
    });
  }
  ~Harness() {
    controller_.reset();
    server_->WithModel([&] { server_->router().SetRequestObserver(nullptr); });
    server_->Stop();
    fs::remove_all(dir_);
  }

  void WriteSpec(const std::string& name, const std::string& text) {
    testing::WriteFileAtomically(dir_ / "specs" / (name + ".yaml"), text);
  }

  void StartController(std::vector<std::string> extra) {
    std::vector<std::string> argv = {"--specs",   (dir_ / "specs").string(),
                                     "--http-addr", "127.0.0.1:0",
                                     "--address", server_->Address(),
                                     "--token",   token_,
                                     "--log-level", "error"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    controller_ = std::make_unique<testing::RunningController>(argv);
    if (controller_->http().empty()) throw std::runtime_error("the controller did not start");
  }

  // Every arrival since the harness started (a copy).
  std::vector<Arrival> Arrivals() {
    std::vector<Arrival> out;
    server_->WithModel([&] { out = arrivals_; });
    return out;
  }
  size_t ArrivalCount() {
    size_t n = 0;
    server_->WithModel([&] { n = arrivals_.size(); });
    return n;
  }
  // How many requests of `route` arrived, and when the last one did.
  size_t Count(const std::string& route, Clock::time_point* last_at = nullptr) {
    size_t n = 0;
    server_->WithModel([&] {
      for (const auto& a : arrivals_) {
        if (a.route != route) continue;
        ++n;
        if (last_at != nullptr) *last_at = a.at;
      }
    });
    return n;
  }

  // Jobs registered and allocations running (DesiredStatus run).
  std::pair<size_t, size_t> JobsAndRunning() {
    std::pair<size_t, size_t> out;
    server_->WithModel([&] {
      out.first = server_->cluster().ListJobs("*", "").size();
      for (const auto& a : server_->cluster().State().allocations) {
        if (a.client_status == "running" && a.desired_status == "run") ++out.second;
      }
    });
    return out;
  }

 private:
  fs::path dir_;
  std::string token_;
  std::unique_ptr<sim::SimServer> server_;
  std::unique_ptr<testing::RunningController> controller_;
  std::vector<Arrival> arrivals_;  // guarded by the simulator's model mutex
};

// Polls `pred` every `poll` until it holds or `limit` passes.
template <typename Pred>
bool PollUntil(Pred pred, Clock::duration limit, Clock::duration poll = 1ms) {
  const auto deadline = Clock::now() + limit;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// Nearest-rank percentile (p in (0, 1]): with 100 samples p99 is the 99th smallest, not the max.
double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

void BM_SpecChangeToRegister(benchmark::State& state) {
  const auto period = state.range(0) == 0 ? std::chrono::milliseconds(kPhaseWindow)
                                          : std::chrono::milliseconds(state.range(0));
  std::vector<std::string> flags = {"--resync-period", "1h"};
  if (state.range(0) != 0) {
    flags.push_back("--spec-rescan-period");
    flags.push_back(std::to_string(state.range(0)) + "ms");
  }
  std::vector<double> ms;
  const char* error = nullptr;
  for (auto _ : state) {
    Harness h;
    const std::string kRegister = "POST /v1/jobs";
    h.WriteSpec("bench", Spec("bench", 0));
    h.StartController(flags);
    if (!PollUntil([&] { return h.Count(kRegister) == 1; }, 60s)) {
      error = "the first register never arrived";
      break;
    }
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int64_t> phase(0, period.count() - 1);
    for (int i = 1; i <= kChanges && error == nullptr; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(phase(rng)));
      const size_t before = h.Count(kRegister);
      const auto written = Clock::now();
      h.WriteSpec("bench", Spec("bench", i));
      Clock::time_point arrived{};
      if (!PollUntil([&] { return h.Count(kRegister, &arrived) > before; }, 60s)) {
        error = "a change was never registered";
        break;
      }
      ms.push_back(std::chrono::duration<double, std::milli>(arrived - written).count());
    }
  }
  if (error != nullptr) {
    state.SkipWithError(error);
    return;
  }
  state.counters["p50_ms"] = Percentile(ms, 0.50);
  state.counters["p99_ms"] = Percentile(ms, 0.99);
  state.counters["max_ms"] = Percentile(ms, 1.0);
  std::printf("spec change -> POST /v1/jobs, %s, %zu changes: p50 %.1f ms, p99 %.1f ms, "
              "max %.1f ms\n",
              state.range(0) == 0 ? "default flags"
                                  : ("--spec-rescan-period " + std::to_string(state.range(0)) +
                                     "ms").c_str(),
              ms.size(), Percentile(ms, 0.5), Percentile(ms, 0.99), Percentile(ms, 1.0));
}
BENCHMARK(BM_SpecChangeToRegister)
    ->Arg(0)
    ->Arg(100)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

void BM_ApiCallsPerResync(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const bool acl = state.range(1) != 0;
  std::map<std::string, uint64_t> cycle;
  const char* error = nullptr;
  for (auto _ : state) {
    Harness h(acl);
    for (size_t i = 0; i < n; ++i) {
      char name[32];
      std::snprintf(name, sizeof(name), "s%04zu", i);
      h.WriteSpec(name, Spec(name, 0));
    }
    h.StartController({"--resync-period", "5s"});
    if (!PollUntil([&] { return h.JobsAndRunning() == std::make_pair(n, n); }, 600s, 100ms)) {
      error = "the singletons did not converge";
      break;
    }
    // A relist starts with GET /v1/jobs after a quiet second without one (a paginated list
    // repeats it at once). Count from the second relist after convergence to the third.
    const size_t converged = h.ArrivalCount();
    std::vector<Harness::Arrival> arrivals;
    std::vector<size_t> starts;
    auto three_relists = [&] {
      arrivals = h.Arrivals();
      starts.clear();
      Clock::time_point last{};
      for (size_t i = converged; i < arrivals.size(); ++i) {
        if (arrivals[i].route != "GET /v1/jobs") continue;
        if (starts.empty() || arrivals[i].at - last > 1s) starts.push_back(i);
        last = arrivals[i].at;
      }
      return starts.size() >= 3;
    };
    if (!PollUntil(three_relists, 120s, 100ms)) {
      error = "no three resyncs within 120s";
      break;
    }
    for (size_t i = starts[1]; i < starts[2]; ++i) ++cycle[arrivals[i].route];
  }
  if (error != nullptr) {
    state.SkipWithError(error);
    return;
  }
  uint64_t total = 0;
  std::printf("one resync cycle with %zu singletons, ACLs %s:\n", n, acl ? "on" : "off");
  for (const auto& [route, count] : cycle) {
    std::printf("  %-36s %8llu\n", route.c_str(), static_cast<unsigned long long>(count));
    total += count;
  }
  std::printf("  %-36s %8llu  (%.2f per singleton)\n", "total",
              static_cast<unsigned long long>(total),
              static_cast<double>(total) / static_cast<double>(n));
  state.counters["calls"] = static_cast<double>(total);
  state.counters["calls_per_singleton"] = static_cast<double>(total) / static_cast<double>(n);
}
BENCHMARK(BM_ApiCallsPerResync)
    ->ArgNames({"singletons", "acl"})
    ->Args({1, 1})
    ->Args({100, 1})
    ->Args({1000, 1})
    ->Args({100, 0})
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace nsg::cmd
