// The fault simulation's invariants, checked at every instant: at most one workload of a
// singleton running anywhere (each start, end, freeze and thaw reported by the task programs),
// epochs strictly increasing across holders, no controller write to a job that is not its own,
// no needless re-register, no stop of the allocation that holds the lock (each request a
// controller sends), and, at the end, a holder running again once the faults healed.
#include <algorithm>
#include <string>

#include <nlohmann/json.hpp>

#include "controller/faultsim/world_impl.h"
#include "controller/reconcile/plan.h"
#include "controller/render/job_renderer.h"

namespace nsg::faultsim::internal {
namespace {

using Json = nlohmann::json;

}  // namespace

uint64_t World::WorkloadStarted(int s, const sim::TaskSpec& spec, uint64_t epoch) {
  const uint64_t id = next_workload_++;
  if (s < 0) return id;
  ++report_.measured.workload_starts;
  Enter(s, id, spec.alloc_id.substr(0, 8) + "@" + spec.node_name,
        ("started (epoch " + std::to_string(epoch) + ")").c_str());
  return id;
}

void World::WorkloadResumed(int s, uint64_t id, const sim::TaskSpec& spec) {
  if (s < 0) return;
  singletons_[s].paused.erase(id);
  Enter(s, id, spec.alloc_id.substr(0, 8) + "@" + spec.node_name, "thawed");
}

void World::Enter(int s, uint64_t id, const std::string& where, const char* verb) {
  SingletonState& st = singletons_[s];
  Log("workload " + st.name + " " + verb + " in " + where);
  if (!st.running.empty()) {
    std::string others;
    for (const auto& [_, w] : st.running) others += (others.empty() ? "" : ", ") + w;
    if (!st.overlap_reported) {
      Violate("overlap", st.name + ": a workload " + verb + " in " + where + " while " + others +
                             " still runs");
      st.overlap_reported = true;
    }
    ++report_.measured.overlaps;
    if (!st.overlap_since) st.overlap_since = core_.Now();
  }
  if (st.running.empty()) st.up_since = core_.Now();
  st.running[id] = where;
  st.last_start = core_.Now();
  ProbeTransition(s, true);
  st.down_since.reset();
}

void World::WorkloadEnded(int s, uint64_t id, bool paused) {
  if (s < 0) return;
  if (paused) {
    SingletonState& st = singletons_[s];
    auto it = st.paused.find(id);
    if (it == st.paused.end()) return;
    Log("workload " + st.name + " killed while frozen in " + it->second);
    st.paused.erase(it);
    return;
  }
  Leave(s, id, "ended");
}

void World::WorkloadPaused(int s, uint64_t id) {
  if (s < 0) return;
  SingletonState& st = singletons_[s];
  auto it = st.running.find(id);
  if (it != st.running.end()) st.paused[id] = it->second;
  Leave(s, id, "frozen");
}

void World::Leave(int s, uint64_t id, const char* verb) {
  SingletonState& st = singletons_[s];
  auto it = st.running.find(id);
  if (it == st.running.end()) return;
  Log("workload " + st.name + " " + verb + " in " + it->second);
  st.running.erase(it);
  if (st.running.size() < 2 && st.overlap_since) {
    const double length = Secs(core_.Now() - *st.overlap_since);
    report_.measured.overlap_seconds += length;
    report_.measured.overlap_episodes.emplace_back(
        length, Secs(timing::RenewInterval(st.timers.ttl) + kGuardPoll + 1s));
    st.overlap_since.reset();
  }
  if (st.running.empty()) {
    st.down_since = core_.Now();
    ProbeTransition(s, false);
  }
}

void World::HolderStarted(int s, const std::string& alloc, const lock::Grant& g, bool resumed) {
  SingletonState& st = singletons_[s];
  holder_lock_[alloc] = g.lock_id;
  holder_grant_[alloc] = g;
  Log("holder " + st.name + ": " + alloc.substr(0, 8) + (resumed ? " resumes" : " acquires") +
      " epoch " + std::to_string(g.epoch));
  // Only an acquisition makes a new holder; a resume (split mode's heartbeat task, also after a
  // restart) continues the hand-off it was given, and its lease decides whether anything runs.
  if (!resumed && g.epoch <= st.last_epoch && o_.agent == AgentKind::kProject) {
    Violate("epoch", st.name + ": holder " + alloc.substr(0, 8) + " got epoch " +
                         std::to_string(g.epoch) + " after epoch " + std::to_string(st.last_epoch));
  }
  st.last_epoch = std::max(st.last_epoch, g.epoch);
}

void World::ObserveRequest(int controller, const io::HttpRequest& r, bool paused) {
  const std::string who = "controller-" + std::to_string(controller);
  if (r.method == "POST" && (r.path == "/v1/jobs" || r.path.rfind("/v1/job/", 0) == 0) &&
      r.path.find("/plan") == std::string::npos && r.path.find("/evaluate") == std::string::npos) {
    Json body = Json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("Job")) return;
    const std::string id = body["Job"].value("ID", "");
    std::string ns = body["Job"].value("Namespace", "");
    if (ns.empty()) ns = "default";
    auto existing = cluster_.GetJob(ns, id);
    if (existing && !reconcile::IsOwned(*existing)) {
      Violate("foreign-write", who + " registered " + ns + "/" + id + ", a job that is not ours");
    }
    // Nobody edits jobs behind the controllers' backs here and specs never change, so a register
    // of a running job that already carries the desired spec hash is a false drift: a needless
    // new version (and, for a destructive diff, replaced allocations).
    const std::string hash =
        body["Job"].contains("Meta") && body["Job"]["Meta"].is_object()
            ? body["Job"]["Meta"].value(render::kMetaSpecHash, "")
            : "";
    // A register whose check-and-set fails writes nothing (EnforceIndex fences a stale view).
    const bool applies = !body.value("EnforceIndex", false) ||
                         (existing && body.value("JobModifyIndex", uint64_t{0}) ==
                                          existing->job_modify_index);
    if (existing && !existing->stop && !hash.empty() && applies) {
      auto h = existing->meta.find(render::kMetaSpecHash);
      if (h != existing->meta.end() && h->second == hash) {
        Violate("needless-write", who + " re-registered " + ns + "/" + id +
                                      " although its spec and the job are unchanged");
      }
    }
    return;
  }
  if (r.method == "DELETE" && r.path.rfind("/v1/job/", 0) == 0) {
    const std::string id = r.path.substr(8);
    std::string ns = "default";
    for (const auto& [k, v] : r.query) {
      if (k == "namespace") ns = v;
    }
    auto existing = cluster_.GetJob(ns, id);
    if (existing && !reconcile::IsOwned(*existing)) {
      Violate("foreign-write", who + " deregistered " + ns + "/" + id + ", a job that is not ours");
    }
    return;
  }
  const std::string stop_prefix = "/v1/allocation/";
  if (r.method == "POST" && r.path.rfind(stop_prefix, 0) == 0 &&
      r.path.size() > 5 && r.path.compare(r.path.size() - 5, 5, "/stop") == 0) {
    const std::string alloc = r.path.substr(stop_prefix.size(), r.path.size() - stop_prefix.size() - 5);
    auto held = holder_lock_.find(alloc);
    if (held == holder_lock_.end()) return;
    auto a = cluster_.GetAllocation(alloc);
    if (!a) return;
    auto s = by_job_.find(a->namespace_ + "/" + a->job_id);
    if (s == by_job_.end()) return;
    sim::Identity mgmt;
    mgmt.management = true;
    std::string path;
    if (auto job = cluster_.GetJob(a->namespace_, a->job_id)) {
      auto lp = job->meta.find(render::kMetaLockPath);
      if (lp != job->meta.end()) path = lp->second;
    }
    sim::VarReply v = vars_.Read(mgmt, a->namespace_, path);
    if (v.status == 200 && v.var.lock && v.var.lock->id == held->second) {
      Log(who + " stops " + alloc.substr(0, 8) + ", the lock holder of " + singletons_[s->second].name);
      if (paused) {
        ++report_.measured.stale_stops;
        Log("(a stale stop: decided before the controller's freeze, sent after it)");
        return;
      }
      Violate("stopped-holder", who + " stopped allocation " + alloc.substr(0, 8) +
                                    ", the current lock holder of " + singletons_[s->second].name);
    }
  }
}

void World::CheckLiveness() {
  for (const auto& st : singletons_) {
    if (st.conflict || !st.long_running) continue;
    // After the last fault healed, a holder must run again within the crash failover budget
    // (timing::Compute) plus what Nomad's reschedule policy may add after repeated failures.
    const Duration bound = st.budget.crash_failover + st.reschedule_max_delay + 30s;
    if (st.running.empty()) {
      Violate("liveness", st.name + ": no workload runs " +
                              base::FormatDuration(core_.Now() - last_heal_) +
                              " after the last fault healed (bound " + base::FormatDuration(bound) +
                              ")");
      continue;
    }
    const Duration recovery = std::max(Duration(0), st.up_since - last_heal_);
    report_.measured.recovery.push_back(Secs(recovery));
    if (recovery > bound) {
      Violate("liveness", st.name + ": ran again " + base::FormatDuration(recovery) +
                              " after the last fault healed (bound " + base::FormatDuration(bound) +
                              ": crash failover " + base::FormatDuration(st.budget.crash_failover) +
                              " + reschedule max delay + 30s)");
    }
  }
}

}  // namespace nsg::faultsim::internal
