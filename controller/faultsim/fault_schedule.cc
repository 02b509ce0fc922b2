// The fault schedule: which faults a world draws (the default mix and its weights, or the kinds
// asked for), when they fall, and what each one does to the model, the agents and the controllers
// — and when its effect heals.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "controller/faultsim/controller_actor.h"
#include "controller/faultsim/world_impl.h"

namespace nsg::faultsim {
namespace internal {
namespace {

// The default mix: fault kind → weight.
const std::vector<std::pair<std::string, int>>& DefaultMix() {
  static const std::vector<std::pair<std::string, int>> kinds = {
      {"node-crash", 4},   {"client-crash", 3},         {"partition", 4},
      {"api-errors", 2},   {"latency", 2},              {"stream-cut", 2},
      {"controller-crash", 2}, {"controller-partition", 1}, {"leadership-loss", 1},
      {"clock-skew", 1},   {"graceful-stop", 3},         {"agent-freeze", 2},
      {"alloc-freeze", 2}, {"controller-freeze", 2},     {"disk-full", 2}};
  return kinds;
}

}  // namespace

void World::AddRouterFault(sim::Router::Fault f, Duration for_how_long) {
  router_faults_.push_back(f);
  router_.AddFault(f);
  const size_t n = router_faults_.size();
  core_.After(for_how_long, "fault-heal", [this, n] {
    if (n - 1 < router_faults_.size()) router_faults_[n - 1].count = -1;  // expired
    router_.ClearFaults();
    for (const auto& g : router_faults_) {
      if (g.count >= 0) router_.AddFault(g);
    }
  });
}

// A fault target among `hooked` (allocations with freeze hooks): a holder's three times in four,
// else any running one; "" when there is none.
template <class Hooks>
std::string World::PickAllocation(const std::map<std::string, Hooks>& hooked) {
  std::vector<std::string> pick;
  for (const auto& [alloc, _] : holder_lock_) {
    if (hooked.count(alloc)) pick.push_back(alloc);
  }
  if (pick.empty() || core_.Uniform(0, 3) == 0) {
    pick.clear();
    for (const auto& [alloc, _] : hooked) {
      auto a = cluster_.GetAllocation(alloc);
      if (a && a->client_status == "running") pick.push_back(alloc);
    }
  }
  if (pick.empty()) return "";
  return pick[core_.Uniform(0, pick.size() - 1)];
}

void World::Fault(const std::string& kind) {
  const std::vector<std::string> nodes = cluster_.NodeIds();
  auto pick_node = [&] { return nodes[core_.Uniform(0, nodes.size() - 1)]; };
  auto node_name = [&](const std::string& id) {
    auto n = cluster_.GetNode(id);
    return n ? n->name : id;
  };
  auto heal_after = [&](uint64_t lo_s, uint64_t hi_s) {
    return Duration(std::chrono::milliseconds(core_.Uniform(lo_s * 1000, hi_s * 1000)));
  };
  // A node fault prefers the node running some singleton's workload, to exercise failover.
  auto holder_node = [&]() -> std::string {
    std::vector<std::string> busy;
    for (const auto& st : singletons_) {
      for (const auto& [_, where] : st.running) busy.push_back(where.substr(where.find('@') + 1));
    }
    if (busy.empty() || core_.Uniform(0, 3) == 0) return pick_node();
    const std::string name = busy[core_.Uniform(0, busy.size() - 1)];
    for (const auto& id : nodes) {
      if (node_name(id) == name) return id;
    }
    return pick_node();
  };
  ++report_.faults;
  auto healed_at = [this](Duration d) { last_heal_ = std::max(last_heal_, core_.Now() + d); };
  healed_at(Duration(0));
  if (kind == "node-crash" || kind == "client-crash" || kind == "partition") {
    const std::string node = holder_node();
    const std::string name = node_name(node);
    const Duration d = heal_after(5, 150);
    Log("FAULT " + kind + " " + name + " for " + base::FormatDuration(d));
    StartProbes(kind, [&](const std::string& where) { return where.substr(where.find('@') + 1) == name; });
    healed_at(d);
    Status st = kind == "node-crash"     ? cluster_.CrashNode(node)
                : kind == "client-crash" ? cluster_.CrashClient(node)
                                         : cluster_.Partition(node);
    if (!st.ok()) Log("fault not applied: " + st.ToString());
    core_.After(d, "heal", [this, kind, node, name] {
      Log("HEAL " + kind + " " + name);
      if (kind == "partition") {
        (void)cluster_.Heal(node);
      } else {
        (void)cluster_.RestartNode(node);
      }
    });
  } else if (kind == "graceful-stop") {
    std::vector<std::pair<int, std::string>> holders;  // singleton, alloc
    for (const auto& [alloc, lock_id] : holder_lock_) {
      auto a = cluster_.GetAllocation(alloc);
      if (!a || a->client_status != "running") continue;
      auto s = by_job_.find(a->namespace_ + "/" + a->job_id);
      if (s != by_job_.end()) holders.emplace_back(s->second, alloc);
    }
    if (holders.empty()) return;
    const auto [s, alloc] = holders[core_.Uniform(0, holders.size() - 1)];
    Log("FAULT graceful-stop of " + singletons_[s].name + "'s holder " + alloc.substr(0, 8));
    if (!singletons_[s].running.empty()) {
      Probe p;
      p.singleton = s;
      p.kind = kind;
      p.fault_at = core_.Now();
      probes_.push_back(p);
    }
    (void)cluster_.StopAllocation(alloc, false, std::nullopt);
  } else if (kind == "api-errors") {
    sim::Router::Fault f;
    f.route = "/v1/";
    f.status = core_.Uniform(0, 1) ? 500 : 503;
    const Duration d = heal_after(2, 30);
    Log("FAULT api-errors " + std::to_string(f.status) + " for " + base::FormatDuration(d));
    healed_at(d);
    AddRouterFault(f, d);
  } else if (kind == "latency") {
    sim::Router::Fault f;
    f.route = "/v1/";
    f.latency = heal_after(1, 4);
    const Duration d = heal_after(5, 40);
    Log("FAULT latency " + base::FormatDuration(f.latency) + " for " + base::FormatDuration(d));
    healed_at(d);
    AddRouterFault(f, d);
  } else if (kind == "stream-cut") {
    Log("FAULT event streams cut");
    for (auto& c : controllers_) {
      if (c->alive()) c->CutStream();
    }
  } else if (kind == "controller-crash") {
    std::vector<ControllerActor*> live;
    for (auto& c : controllers_) {
      if (c->alive()) live.push_back(c.get());
    }
    if (live.empty()) return;
    live[core_.Uniform(0, live.size() - 1)]->Crash();
    const Duration d = heal_after(5, 90);
    healed_at(d);
    core_.After(d, "controller-restart", [this] { StartController(controller_count_++); });
  } else if (kind == "controller-partition") {
    std::vector<ControllerActor*> live;
    for (auto& c : controllers_) {
      if (c->alive()) live.push_back(c.get());
    }
    if (live.empty()) return;
    ControllerActor* c = live[core_.Uniform(0, live.size() - 1)];
    const Duration d = heal_after(5, 90);
    Log("FAULT a controller is partitioned from the servers for " + base::FormatDuration(d));
    healed_at(d);
    c->SetPartitioned(true);
    core_.After(d, "heal", [this, c] {
      Log("HEAL controller partition");
      c->SetPartitioned(false);
    });
  } else if (kind == "leadership-loss") {
    // The new leader serves RPCs before it restores the lock TTL timers (nomad/leader.go,
    // v1.10.2–v2.0.5): renewals answer 409 in between, although every lock is intact.
    const Duration restore = Duration(std::chrono::milliseconds(core_.Uniform(200, 5000)));
    Log("FAULT server leadership lost (heartbeat TTLs become 300s; lock timers restored after " +
        base::FormatDuration(restore) + ")");
    healed_at(cluster_.Options().failover_heartbeat_ttl);
    cluster_.LoseLeadership();
    vars_.BeginLeaderElection(restore);
  } else if (kind == "agent-freeze") {
    // SIGSTOP of a lock agent (preferably a holder's), often past 2T + D: its guard must keep the
    // lease deadline, and once thawed it must not send a write the server could apply in the
    // LockDelay (a late release would free the lock for a successor that the delay callback then
    // strips).
    const std::string alloc = PickAllocation(agents_);
    if (alloc.empty()) return;
    const Duration d = heal_after(1, 120);
    healed_at(d);
    agents_[alloc](d);
  } else if (kind == "alloc-freeze") {
    // The whole allocation is frozen (cgroup freezer, a suspended VM, SIGSTOP of every task):
    // the agent, the guard and the workload stop together, often past 2T + D, while Nomad and a
    // standby carry on. At the thaw the guard must stop the workload before it runs beside the
    // successor.
    const std::string alloc = PickAllocation(pausables_);
    if (alloc.empty()) return;
    const Duration d = heal_after(1, 120);
    healed_at(d);
    Log("FAULT allocation " + alloc.substr(0, 8) + " frozen for " + base::FormatDuration(d));
    for (const auto& freeze : pausables_[alloc]) freeze(d);
  } else if (kind == "controller-freeze") {
    std::vector<ControllerActor*> live;
    for (auto& c : controllers_) {
      if (c->alive()) live.push_back(c.get());
    }
    if (live.empty()) return;
    const Duration d = heal_after(1, 90);
    healed_at(d);
    live[core_.Uniform(0, live.size() - 1)]->Freeze(d);
  } else if (kind == "disk-full") {
    // The allocation disk of a node (preferably a holder's) is full: lease writes fail.
    const std::string node = holder_node();
    const std::string name = node_name(node);
    const Duration d = heal_after(5, 150);
    Log("FAULT alloc disk of " + name + " full for " + base::FormatDuration(d));
    StartProbes(kind, [&](const std::string& where) { return where.substr(where.find('@') + 1) == name; });
    healed_at(d);
    disk_full_until_[node] = std::max(disk_full_until_[node], core_.Now() + d);
  } else if (kind == "forced-release") {
    // An operator force-releases a running holder's lock (management token, the holder's lock
    // ID): a standby may acquire at once while the holder runs until its next renew says so.
    std::vector<std::string> pick;
    for (const auto& [alloc, lock_id] : holder_lock_) {
      auto a = cluster_.GetAllocation(alloc);
      if (a && a->client_status == "running" && holder_grant_.count(alloc)) pick.push_back(alloc);
    }
    if (pick.empty()) return;
    const lock::Grant& g = holder_grant_.at(pick[core_.Uniform(0, pick.size() - 1)]);
    Log("FAULT an operator force-releases lock " + g.path + " of epoch " +
        std::to_string(g.epoch));
    sim::Identity operator_token;
    operator_token.management = true;
    nomad::Variable v;
    v.path = g.path;
    v.lock = nomad::VariableLock{Duration(0), Duration(0), g.lock_id};
    (void)vars_.ReleaseLock(operator_token, g.namespace_.empty() ? "default" : g.namespace_, v);
  } else if (kind == "clock-skew") {
    const std::string node = pick_node();
    // Within the ε the timer rule assumes (1%).
    const double rate = 0.99 + static_cast<double>(core_.Uniform(0, 200)) / 10000.0;
    Log("FAULT clock of " + node_name(node) + " runs at " + std::to_string(rate));
    (void)cluster_.SkewClock(node, rate);
  }
}

void World::ScheduleFaults(TimePoint end_of_faults) {
  const auto& kinds = DefaultMix();
  std::vector<std::pair<std::string, int>> chosen;
  for (const std::string& k : o_.fault_kinds) chosen.emplace_back(k, 1);
  const auto& mix = chosen.empty() ? kinds : chosen;
  int total = 0;
  for (const auto& k : mix) total += k.second;
  TimePoint t = core_.Now() + 1min;
  while (true) {
    t += Duration(std::chrono::milliseconds(core_.Uniform(20'000, 150'000)));
    if (t >= end_of_faults) break;
    int r = static_cast<int>(core_.Uniform(0, total - 1));
    std::string kind;
    for (const auto& k : mix) {
      if (r < k.second) {
        kind = k.first;
        break;
      }
      r -= k.second;
    }
    core_.At(t, "fault", [this, kind] { Fault(kind); });
  }
}

}  // namespace internal

const std::vector<std::string>& FaultKindNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [k, _] : internal::DefaultMix()) out.push_back(k);
    out.push_back("forced-release");
    return out;
  }();
  return names;
}

}  // namespace nsg::faultsim
