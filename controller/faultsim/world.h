// The deterministic fault simulation (issue 7; docs/failover.md): the real cores — controller
// (runtime::ControllerCore with reconcile, enforcement and leader election on lock::Agent), a lock
// agent in every allocation, and the Nomad model (sim::Cluster, Variables, ACL, Router) — run
// together in one thread under virtual time, from a seed, while a seeded schedule of faults hits
// them.
//
// A world:
//   * N nodes (3–7), M singletons (1–20) with random valid specs (shim, sidecar, split; standby
//     0–2; timers across the allowed range) or the user's specs, 1–2 controllers with leader
//     election, each talking to the model through io::HttpNomadApi over an in-process transport
//     with latency (sim_transport.h).
//   * Task programs: the lock task runs lock::Agent (or, for the controls, the stock `nomad var
//     lock` model, or nothing), the workload runs under it (shim) or under a guard that follows the
//     lease (every mode: nomad-singleton's shim runs its command under a guard child; the guard
//     notices a lease change within its poll interval; the stock CLI's child has none). Every
//     workload's running interval is recorded.
//   * Faults: node crash/restart, client crash/restart, partitions (a node; a controller), API
//     error bursts and latency spikes, event-stream cuts, controller crash and restart, server
//     leadership loss (300 s heartbeat TTL; lock TTL timers restored 0.2–5 s after the new
//     leader starts serving, renewals answering 409 in between), clock-rate skew within ε,
//     graceful alloc stops, and lock agents frozen (SIGSTOP) for 1–120 s while their guard and
//     workload run on. The Nomad model clears whatever lock a variable holds when a LockDelay
//     callback fires, as Nomad does. The last part of the run is quiet so the system can heal.
//   * Invariants, checked at every instant: per singleton at most one workload running anywhere
//     (partitioned and crashed-client nodes included); epochs strictly increasing across holders;
//     a holder runs again once the faults healed; the controller never registers or deregisters a
//     job that is not its own and never stops the allocation that holds the lock.
// A violation carries the seed and a timeline of what led to it; the same seed replays it exactly.
//
// Single-threaded; a World object runs once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "controller/base/duration.h"
#include "controller/base/status.h"
#include "controller/nomad/version.h"

namespace nsg::faultsim {

using base::Duration;
using namespace std::chrono_literals;

// What the lock task runs.
enum class AgentKind {
  kProject,  // nomad-singleton's lock::Agent
  kVarLock,  // the stock `nomad var lock` (VarLockAgent): a negative control
  kNone,     // no lock at all: the workload just runs (plain count = 1): a negative control
};

// The specs a world is made of.
enum class Shape {
  kRandom,          // random valid specs (every mode, standby 0–2, timers across the range)
  kGuide,           // the guide: TTL 15s, LockDelay 15s, stop_on_client_after 1m, no standby
  kDefaults,        // nomad-singleton's defaults
  kHotStandby,      // standby 1, TTL 10s, LockDelay by the timer rule
  kPlain,           // count = 1, no lock (use with AgentKind::kNone)
};

struct WorldOptions {
  uint64_t seed = 1;
  Duration duration = 20min;  // faults fall in [1m, duration − quiet]
  Duration quiet = 10min;     // fault-free end: everything must have healed
  int nodes = 0;              // 0: drawn from 3..7
  int singletons = 0;         // 0: drawn from 1..20 (kRandom) or 3 (other shapes)
  int controllers = 0;        // 0: drawn from 1..2
  Shape shape = Shape::kRandom;
  AgentKind agent = AgentKind::kProject;
  // Negative control: agents whose give-up window ignores the timer rule (G = 2T + D).
  bool break_timer_rule = false;
  // Negative control: a guard that, woken from a pause past the workload's kill instant, still
  // TERMs with the kill timeout's grace instead of KILLing at once (io::GuardStopSignal).
  bool graceful_guard_after_pause = false;
  bool faults = true;
  // The fault kinds to draw from (names as in the timeline, e.g. "node-crash"); empty = the
  // default mix. "forced-release" (an operator releases a running holder's lock with a management
  // token) is never in the default mix: it breaks at-most-one by design, and the test of it
  // checks how long each overlap lasts (Measurements::overlap_episodes).
  std::vector<std::string> fault_kinds;
  // The Nomad release the simulated server behaves as (sim::SimCore::Options::version): before
  // 2.0.0 the controllers follow locks with a blocking list instead of Variable events.
  nomad::NomadVersion version = nomad::kDefaultSimVersion;
  // The user's specs (YAML documents with file names); when non-empty they replace the shape.
  std::vector<std::pair<std::string, std::string>> spec_files;  // name, content
  // Every timeline line as it happens (nullptr: only kept for a violation's report).
  std::function<void(const std::string&)> trace;
};

struct Violation {
  double at = 0;     // seconds of virtual time
  std::string kind;  // "overlap", "epoch", "liveness", "foreign-write", "stopped-holder"
  std::string message;
};

// Downtime samples (seconds) per fault kind, and the overlap seen.
struct Measurements {
  std::map<std::string, std::vector<double>> downtime;  // fault kind → samples
  double overlap_seconds = 0;
  int overlaps = 0;
  // Each overlap's length (s), with the bound the at-most-one design promises after a forced
  // release: T/3 (the next renew) + the guard's poll + 1 s of request and kill latency.
  std::vector<std::pair<double, double>> overlap_episodes;
  int workload_starts = 0;  // of singletons' workloads
  // Holders stopped by a controller whose stop request a freeze (SIGSTOP) delayed after it was
  // decided: no client-side check can fence that (the pause may fall between the check and the
  // send, and Nomad's allocation stop has no check-and-set); it costs a failover, never overlap.
  int stale_stops = 0;
  // Per service singleton: how long after the last fault healed a workload ran again (0 when it
  // kept running).
  std::vector<double> recovery;
};

struct WorldReport {
  uint64_t seed = 0;
  std::vector<Violation> violations;
  std::vector<std::string> timeline;  // the last lines before the first violation (or the end)
  Measurements measured;
  std::vector<std::string> singletons;  // "name mode standby ttl delay"
  uint64_t events = 0;                  // timers run
  int faults = 0;
  bool ok() const { return violations.empty(); }
};

// Every fault kind a world can draw, as WorldOptions::fault_kinds names them: the default mix,
// then "forced-release" (never in the default mix).
const std::vector<std::string>& FaultKindNames();

// Builds and runs one world. kInvalidSpec when the user's specs do not load.
base::Result<WorldReport> RunWorld(const WorldOptions& options);

}  // namespace nsg::faultsim
