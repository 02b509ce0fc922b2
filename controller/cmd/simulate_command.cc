// `nomad-singleton simulate`: the deterministic fault simulation (controller/faultsim/world.h,
// docs/failover.md) from the command line.
//
//   simulate [--seeds N] [--first-seed S]   N worlds, seeds S, S+1, ... (default 100 from 1)
//   simulate --seed S --trace               one world, its whole timeline
//   simulate PATH...                        the user's specs instead of random ones
//   simulate --compare                      the failover table (guide / defaults / hot standby /
//                                           plain count = 1) on the same seeds
//   simulate --control timer-rule|var-lock|plain   a negative control: must find overlaps
// Exit 0: no violation (a control: it found overlaps, as it must); 1: violations (a control:
// none found); 2: usage.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "controller/base/duration.h"
#include "controller/cmd/cli.h"
#include "controller/cmd/commands.h"
#include "controller/controller_io/spec_files.h"
#include "controller/faultsim/world.h"

namespace nsg::cmd {
namespace {

using faultsim::AgentKind;
using faultsim::Shape;
using faultsim::WorldOptions;
using faultsim::WorldReport;

const std::vector<FlagSpec>& SimulateFlags() {
  static const std::vector<FlagSpec> flags = {
      {"seeds", true, "N", "how many worlds to run (default 100)"},
      {"first-seed", true, "S", "seed of the first world (default 1)"},
      {"seed", true, "S", "run exactly this world (with --trace: print its timeline)"},
      {"duration", true, "D", "virtual time per world, faults included (default 20m)"},
      {"quiet", true, "D", "fault-free end of each world, to heal (default 10m)"},
      {"trace", false, "", "print every event of every world"},
      {"compare", false, "",
       "run the failover comparison (guide, defaults, hot standby, plain count = 1)"},
      {"control", true, "KIND",
       "negative control: timer-rule (G = 2T + D), var-lock (stock `nomad var lock`), plain "
       "(count = 1, no lock); it must report overlaps"},
      {"no-faults", false, "", "run the worlds without faults"},
      {"faults", true, "KIND,...",
       "draw only these fault kinds: node-crash, client-crash, partition, api-errors, latency, "
       "stream-cut, controller-crash, controller-partition, leadership-loss, clock-skew, "
       "graceful-stop, agent-freeze, alloc-freeze, controller-freeze, disk-full, forced-release "
       "(an operator's forced release: overlaps by design, never in the default mix)"},
      {"nomad-version", true, "V",
       "the Nomad release the simulated server behaves as: 1.10, 1.11, 2.0 (default) or a full "
       "version such as 1.10.2 (before 2.0 the controller follows locks without Variable "
       "events)"},
      {"shape", true, "SHAPE",
       "random (default), guide, defaults, standby (hot standby, TTL 10s) or plain specs"},
  };
  return flags;
}

void SimulateUsage(std::ostream& out) {
  out << "Usage: nomad-singleton simulate [--seeds N | --seed S] [--duration D] [--trace] "
         "[PATH...]\n\n"
         "Runs the controller, a lock agent in every allocation and a model of Nomad together\n"
         "in one process under virtual time, while a seeded schedule of faults hits them (node\n"
         "and client crashes, partitions, API errors and latency, event-stream cuts, controller\n"
         "crashes, partitions and freezes, leadership loss, clock skew, graceful stops, frozen\n"
         "lock agents and allocations, full allocation disks). At every instant\n"
         "it checks that at most one workload of each singleton runs, that holder epochs only\n"
         "grow, that the controller never touches a job that is not its own nor stops the lock\n"
         "holder, and at the end that every singleton runs again. A violation prints its seed\n"
         "and timeline; --seed S --trace replays it exactly. With PATH..., your own specs are\n"
         "simulated (random specs otherwise): a check of their timers before they ship.\n\n"
         "Exit codes: 0 no violation, 1 violations, 2 usage. With --control, 0 means the\n"
         "checker found the overlaps the control must have.\n\nFlags:\n";
  PrintFlags(out, SimulateFlags());
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

std::string Fmt(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

struct Totals {
  int worlds = 0, violating = 0, overlaps = 0, faults = 0, stale_stops = 0;
  double overlap_seconds = 0;
  std::map<std::string, std::vector<double>> downtime;
  std::map<std::string, int> violation_kinds;
  std::vector<double> recovery;
  double wall_seconds = 0;
};

void Add(Totals& t, const WorldReport& r) {
  ++t.worlds;
  if (!r.ok()) ++t.violating;
  t.overlaps += r.measured.overlaps;
  t.stale_stops += r.measured.stale_stops;
  t.faults += r.faults;
  t.overlap_seconds += r.measured.overlap_seconds;
  for (const auto& [k, v] : r.measured.downtime) {
    t.downtime[k].insert(t.downtime[k].end(), v.begin(), v.end());
  }
  for (const auto& v : r.violations) ++t.violation_kinds[v.kind];
  t.recovery.insert(t.recovery.end(), r.measured.recovery.begin(), r.measured.recovery.end());
}

void PrintViolation(const WorldReport& r) {
  std::cout << "seed " << r.seed << ": " << r.violations.size() << " violation(s)\n";
  for (const auto& v : r.violations) {
    std::cout << "  " << Fmt(v.at) << "s " << v.kind << ": " << v.message << "\n";
  }
  std::cout << "  singletons:\n";
  for (const auto& s : r.singletons) std::cout << "    " << s << "\n";
  std::cout << "  timeline before the first violation (replay: nomad-singleton simulate --seed "
            << r.seed << " --trace):\n";
  const size_t from = r.timeline.size() > 60 ? r.timeline.size() - 60 : 0;
  for (size_t i = from; i < r.timeline.size(); ++i) std::cout << "    " << r.timeline[i] << "\n";
}

void PrintDowntime(const Totals& t) {
  std::cout << "downtime after a fault that hit the holder (seconds):\n"
            << "  fault                             samples     p50     p99     max\n";
  for (const auto& [k, v] : t.downtime) {
    char line[128];
    std::snprintf(line, sizeof line, "  %-32s %8zu %7s %7s %7s\n", k.c_str(), v.size(),
                  Fmt(Percentile(v, 0.5)).c_str(), Fmt(Percentile(v, 0.99)).c_str(),
                  Fmt(v.empty() ? 0 : *std::max_element(v.begin(), v.end())).c_str());
    std::cout << line;
  }
  const auto& r = t.recovery;
  if (!r.empty()) {
    std::cout << "running again after the last fault healed (seconds): p50 " << Fmt(Percentile(r, 0.5))
              << ", p99 " << Fmt(Percentile(r, 0.99))
              << ", max " << Fmt(*std::max_element(r.begin(), r.end())) << " over " << r.size()
              << " singletons\n";
  }
}

// Runs `n` worlds from `first`; prints violations as they come unless `quiet`.
base::Result<Totals> RunMany(WorldOptions o, uint64_t first, int n, bool print) {
  Totals t;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    o.seed = first + static_cast<uint64_t>(i);
    auto r = faultsim::RunWorld(o);
    if (!r.ok()) return r.status();
    Add(t, r.value());
    if (print && !r.value().ok()) PrintViolation(r.value());
  }
  t.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return t;
}

int Compare(const WorldOptions& base, uint64_t first, int n) {
  struct Config {
    const char* name;
    Shape shape;
    AgentKind agent;
  };
  const Config configs[] = {
      {"(a) guide: `nomad var lock`, TTL 15s, delay 15s, stop_on_client_after 1m", Shape::kGuide,
       AgentKind::kVarLock},
      {"(b) nomad-singleton defaults (sidecar, TTL 15s, delay 15s, 30s)", Shape::kDefaults,
       AgentKind::kProject},
      {"(c) hot standby: standby 1, TTL 10s, delay 3s", Shape::kHotStandby, AgentKind::kProject},
      {"(d) plain count = 1, no lock", Shape::kPlain, AgentKind::kNone},
  };
  // Columns: fault kinds; "(standby waiting)" samples had a hot standby ready on another node.
  const std::vector<std::pair<const char*, std::vector<std::string>>> kinds = {
      {"node crash, standby waiting", {"node-crash (standby waiting)"}},
      {"node crash, no standby ready", {"node-crash"}},
      {"client crash", {"client-crash", "client-crash (standby waiting)"}},
      {"partition", {"partition", "partition (standby waiting)"}},
      {"graceful stop", {"graceful-stop", "graceful-stop (standby waiting)"}},
  };
  std::cout << "| configuration | overlap (s, total) | worlds with overlap |";
  for (const auto& k : kinds) std::cout << " " << k.first << ": p50 / p99 / max (s) (n) |";
  std::cout << "\n|---|---|---|";
  for (size_t i = 0; i < std::size(kinds); ++i) std::cout << "---|";
  std::cout << "\n";
  for (const auto& c : configs) {
    WorldOptions o = base;
    o.shape = c.shape;
    o.agent = c.agent;
    auto t = RunMany(o, first, n, false);
    if (!t.ok()) {
      std::cerr << "nomad-singleton simulate: " << t.status().message() << "\n";
      return kExitInvalid;
    }
    std::cout << "| " << c.name << " | " << Fmt(t.value().overlap_seconds) << " | "
              << t.value().violation_kinds["overlap"] << " / " << t.value().worlds << " |";
    for (const auto& k : kinds) {
      std::vector<double> v;
      for (const auto& name : k.second) {
        const auto& part = t.value().downtime[name];
        v.insert(v.end(), part.begin(), part.end());
      }
      if (v.empty()) {
        std::cout << " – |";
        continue;
      }
      std::cout << " " << Fmt(Percentile(v, 0.5)) << " / " << Fmt(Percentile(v, 0.99)) << " / "
                << Fmt(*std::max_element(v.begin(), v.end())) << " (" << v.size() << ") |";
    }
    std::cout << "\n";
  }
  return kExitOk;
}

}  // namespace

int SimulateMain(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv, SimulateFlags(), std::cerr);
  if (!args) return kExitUsage;
  if (args->Has("help")) {
    SimulateUsage(std::cout);
    return kExitOk;
  }
  auto usage = [](const std::string& msg) {
    std::cerr << "nomad-singleton simulate: " << msg << " (see --help)\n";
    return kExitUsage;
  };
  auto number = [&](const char* flag, uint64_t def, uint64_t lo) -> std::optional<uint64_t> {
    if (!args->Has(flag)) return def;
    const std::string v = args->Get(flag);
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < lo) return std::nullopt;
    return n;
  };
  WorldOptions o;
  auto seeds = number("seeds", 100, 1);
  auto first = number("first-seed", 1, 0);
  auto seed = number("seed", 0, 0);
  if (!seeds || !first || !seed) return usage("--seeds, --first-seed and --seed take a number");
  for (const char* flag : {"duration", "quiet"}) {
    if (!args->Has(flag)) continue;
    auto d = base::ParseDuration(args->Get(flag));
    if (!d.ok() || d.value() <= base::Duration(0)) {
      return usage(std::string("--") + flag + " must be a positive duration such as 20m");
    }
    (std::string(flag) == "duration" ? o.duration : o.quiet) = d.value();
  }
  if (o.quiet >= o.duration) return usage("--quiet must be shorter than --duration");
  o.faults = !args->Has("no-faults");
  if (args->Has("faults")) {
    const std::string list = args->Get("faults");
    size_t pos = 0;
    while (pos <= list.size()) {
      const size_t comma = std::min(list.find(',', pos), list.size());
      const std::string k = list.substr(pos, comma - pos);
      const auto& names = faultsim::FaultKindNames();
      if (std::find(names.begin(), names.end(), k) == names.end()) {
        return usage("--faults: unknown fault kind \"" + k + "\"");
      }
      o.fault_kinds.push_back(k);
      pos = comma + 1;
    }
  }
  if (args->Has("nomad-version")) {
    auto v = nomad::NomadVersion::FromProfile(args->Get("nomad-version"));
    if (!v.ok()) return usage("--nomad-version: " + v.status().message());
    o.version = v.value();
  }
  if (args->Has("shape")) {
    const std::string v = args->Get("shape");
    if (v == "random") {
      o.shape = Shape::kRandom;
    } else if (v == "guide") {
      o.shape = Shape::kGuide;
    } else if (v == "defaults") {
      o.shape = Shape::kDefaults;
    } else if (v == "standby") {
      o.shape = Shape::kHotStandby;
    } else if (v == "plain") {
      o.shape = Shape::kPlain;
    } else {
      return usage("--shape must be random, guide, defaults, standby or plain");
    }
  }
  const bool control = args->Has("control");
  if (control) {
    const std::string k = args->Get("control");
    if (k == "timer-rule") {
      o.break_timer_rule = true;
    } else if (k == "var-lock") {
      o.shape = Shape::kGuide;
      o.agent = AgentKind::kVarLock;
    } else if (k == "plain") {
      o.shape = Shape::kPlain;
      o.agent = AgentKind::kNone;
    } else {
      return usage("--control must be timer-rule, var-lock or plain");
    }
  }
  if (!args->positional.empty()) {
    const io::SpecFiles files = io::ReadSpecFiles(args->positional);
    for (const auto& e : files.errors) std::cerr << e.ToString() << "\n";
    if (!files.errors.empty()) return kExitInvalid;
    for (const auto& f : files.files) o.spec_files.emplace_back(f.path, f.content);
  }
  uint64_t from = *first;
  int n = static_cast<int>(*seeds);
  if (args->Has("seed")) {
    from = *seed;
    n = 1;
  }
  if (args->Has("trace")) o.trace = [](const std::string& line) { std::cout << line << "\n"; };
  if (args->Has("compare")) return Compare(o, from, n);

  auto t = RunMany(o, from, n, !control);
  if (!t.ok()) {
    std::cerr << "nomad-singleton simulate: " << t.status().message();
    return kExitInvalid;
  }
  const Totals& tt = t.value();
  std::cout << tt.worlds << " world(s) from seed " << from << ", Nomad "
            << o.version.ToString() << ", " << base::FormatDuration(o.duration) << " each, " << tt.faults << " faults: "
            << tt.violating << " with violations";
  for (const auto& [k, c] : tt.violation_kinds) std::cout << " [" << k << " " << c << "]";
  std::cout << "; overlap " << Fmt(tt.overlap_seconds) << " s; " << Fmt(tt.wall_seconds)
            << " s wall (" << Fmt(tt.worlds / std::max(tt.wall_seconds, 1e-9)) << " seeds/s)\n";
  PrintDowntime(tt);
  if (tt.stale_stops > 0) {
    std::cout << tt.stale_stops
              << " holder(s) stopped by a stop request that a controller freeze delayed after it "
                 "was decided (a failover each, never an overlap: docs/failover.md)\n";
  }
  if (control) {
    const bool found = tt.violation_kinds.count("overlap") != 0;
    std::cout << (found ? "control: overlaps found, as they must be\n"
                        : "control: NO overlap found — the checker or the control is broken\n");
    return found ? kExitOk : kExitInvalid;
  }
  return tt.violating == 0 ? kExitOk : kExitInvalid;
}

}  // namespace nsg::cmd
