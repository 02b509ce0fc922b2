// What a world reports: the timeline (every line to the trace, the last ones kept for a
// violation's report), the violations, and the downtime probes that measure how long each fault
// kept a singleton's workload down.
#include <cstdio>
#include <string>
#include <utility>

#include "controller/faultsim/world_impl.h"

namespace nsg::faultsim::internal {
namespace {

constexpr size_t kTimelineKeep = 400;

}  // namespace

void World::Log(const std::string& line) {
  char head[32];
  std::snprintf(head, sizeof head, "%10.3fs ", Secs(core_.Now()));
  std::string full = head + line;
  if (o_.trace) o_.trace(full);
  if (frozen_timeline_) return;
  timeline_.push_back(std::move(full));
  if (timeline_.size() > kTimelineKeep) timeline_.pop_front();
}

void World::Violate(const std::string& kind, const std::string& msg) {
  Log("VIOLATION " + kind + ": " + msg);
  report_.violations.push_back({Secs(core_.Now()), kind, msg});
  if (!frozen_timeline_) {
    report_.timeline.assign(timeline_.begin(), timeline_.end());
    frozen_timeline_ = true;
  }
}

void World::StartProbes(const std::string& kind, const std::function<bool(const std::string&)>& hit) {
  for (size_t i = 0; i < singletons_.size(); ++i) {
    const SingletonState& st = singletons_[i];
    for (const auto& [_, where] : st.running) {
      if (!hit(where)) continue;
      // Was a hot standby of this singleton waiting on another node?
      bool standby_ready = false;
      for (const auto& [alloc, node] : standbys_) {
        auto a = cluster_.GetAllocation(alloc);
        if (!a || a->job_id != st.name || a->namespace_ != st.ns) continue;
        auto n = cluster_.GetNode(node);
        if (n && !hit("@" + n->name)) standby_ready = true;
      }
      Probe p;
      p.singleton = static_cast<int>(i);
      p.kind = standby_ready ? kind + " (standby waiting)" : kind;
      p.fault_at = core_.Now();
      probes_.push_back(p);
      break;
    }
  }
}

void World::ProbeTransition(int s, bool up) {
  for (auto it = probes_.begin(); it != probes_.end();) {
    if (it->singleton != s) {
      ++it;
      continue;
    }
    if (!up && !it->went_down) {
      it->went_down = true;
      it->down_at = core_.Now();
      ++it;
    } else if (up && it->went_down) {
      report_.measured.downtime[it->kind].push_back(Secs(core_.Now() - it->down_at));
      Log("downtime of " + singletons_[s].name + " after " + it->kind + ": " +
          base::FormatDuration(core_.Now() - it->down_at));
      it = probes_.erase(it);
    } else if (up) {
      // A start while still running elsewhere (overlap) or a new holder before the old one
      // stopped: no downtime from this fault.
      report_.measured.downtime[it->kind].push_back(0);
      it = probes_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace nsg::faultsim::internal
