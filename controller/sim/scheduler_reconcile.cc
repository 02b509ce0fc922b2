// The scheduler's reconciler (Nomad's scheduler/reconcile.go, simplified): for one task group of
// a job, which allocations keep running, which stop (job update, lost or disconnected node,
// reconnect), which are replaced, rescheduled now or later under the reschedule policy, and
// where new ones are placed — a pure plan that ProcessEval (scheduler.cc) applies.
#include <algorithm>
#include <cstdlib>

#include "controller/sim/cluster.h"
#include "controller/sim/cluster_impl.h"
#include "controller/sim/job_rules.h"

namespace nsg::sim {

using namespace std::chrono_literals;

namespace {

constexpr char kAllocNotNeeded[] = "alloc not needed due to job update";
constexpr char kAllocMigrating[] = "alloc is being migrated";
constexpr char kAllocUpdating[] = "alloc is being updated due to job update";
constexpr char kAllocLost[] = "alloc is lost since its node is down";
constexpr char kAllocRescheduled[] = "alloc was rescheduled because it failed";
constexpr char kAllocReconnected[] = "alloc not needed due to disconnected client reconnect";
constexpr Duration kRescheduleWindow = 1s;

int NameIndex(const std::string& name) {
  size_t open = name.rfind('[');
  if (open == std::string::npos) return 0;
  return std::atoi(name.c_str() + open + 1);
}
int64_t LastEventTime(const Allocation& a) {
  int64_t t = 0;
  for (const auto& [name, st] : a.task_states) t = std::max(t, st.finished_at);
  return t != 0 ? t : a.modify_time;
}
bool RanSuccessfully(const Allocation& a) {
  if (a.client_status != nomad::kClientComplete) return false;
  for (const auto& [name, st] : a.task_states) {
    if (st.failed) return false;
  }
  return true;
}
// shouldFilter of Nomad's reconciler: (untainted, ignore).
std::pair<bool, bool> ShouldFilter(const Allocation& a, bool batch) {
  if (batch) {
    if (a.desired_status == nomad::kDesiredStop) {
      return RanSuccessfully(a) ? std::make_pair(true, false) : std::make_pair(false, true);
    }
    if (a.desired_status == nomad::kDesiredEvict) return {false, true};
    if (a.client_status == nomad::kClientFailed) return {false, false};
    return {true, false};
  }
  if (a.desired_status == nomad::kDesiredStop || a.desired_status == nomad::kDesiredEvict) {
    return {false, true};
  }
  if (a.client_status == nomad::kClientComplete || a.client_status == nomad::kClientLost) {
    return {false, true};
  }
  return {false, false};
}

}  // namespace

// Allocation.NextDelay.
Duration NextDelay(const Allocation& a, const nomad::ReschedulePolicy& p) {
  Duration d = p.delay;
  const auto& ev = a.reschedule_events;
  if (ev.empty()) return d;
  if (p.delay_function == "exponential") {
    d = ev.back().delay * 2;
  } else if (p.delay_function == "fibonacci") {
    if (ev.size() >= 2) {
      Duration n1 = ev[ev.size() - 1].delay, n2 = ev[ev.size() - 2].delay;
      d = (n2 == p.max_delay && n1 == p.delay) ? n1 : n1 + n2;
    }
  } else {
    return d;
  }
  if (p.max_delay.count() > 0 && d > p.max_delay) {
    d = p.max_delay;
    int64_t diff = LastEventTime(a) - ev.back().reschedule_time;
    if (diff > d.count()) d = p.delay;
  }
  return d;
}

namespace {

bool RescheduleEligible(const Allocation& a, const nomad::ReschedulePolicy& p, int64_t fail_time) {
  if (!(p.attempts > 0 || p.unlimited)) return false;
  if (p.unlimited) return true;
  if (a.reschedule_events.empty()) return true;
  int attempted = 0;
  for (auto it = a.reschedule_events.rbegin(); it != a.reschedule_events.rend(); ++it) {
    if (fail_time - it->reschedule_time < p.interval.count()) ++attempted;
  }
  return attempted < p.attempts;
}

}  // namespace

Cluster::Impl::GroupPlan Cluster::Impl::ReconcileGroup(const Job* job, const std::string& ns,
                                                       const std::string& job_id,
                                                       const std::string& group,
                                                       const std::string& eval_id,
                                                       bool job_stopped) const {
  GroupPlan p;
  const TimePoint now = core.Now();
  const nomad::TaskGroup* tg = job != nullptr ? FindGroup(*job, group) : nullptr;
  std::vector<const AllocRec*> all;
  for (const AllocRec* r :
       JobAllocRecs(ns, job_id, job != nullptr ? std::optional(job->create_index) : std::nullopt)) {
    if (r->a.task_group == group) all.push_back(r);
  }
  if (job_stopped || tg == nullptr) {
    for (const AllocRec* r : all) {
      if (Terminal(r->a)) continue;
      p.stops.push_back({r->a.id, kAllocNotNeeded, "", -1});
      ++p.du.stop;
    }
    return p;
  }
  const bool batch = job->type == nomad::kJobTypeBatch;
  const Duration lost_after = tg->disconnect ? tg->disconnect->lost_after : Duration(0);
  const bool supports = lost_after.count() > 0;
  const bool replace = !tg->disconnect || tg->disconnect->replace.value_or(true);
  const nomad::ReschedulePolicy* policy = tg->reschedule_policy ? &*tg->reschedule_policy : nullptr;
  auto policy_of = [this, policy](const AllocRec* r) -> const nomad::ReschedulePolicy* {
    const Job* aj = AllocJob(*r);
    const nomad::TaskGroup* atg = aj != nullptr ? FindGroup(*aj, r->a.task_group) : nullptr;
    if (atg != nullptr && atg->reschedule_policy) return &*atg->reschedule_policy;
    return policy;
  };
  auto unknown_since = [](const Allocation& a) -> int64_t {
    for (auto it = a.alloc_states.rbegin(); it != a.alloc_states.rend(); ++it) {
      if (it->field == "ClientStatus" && it->value == nomad::kClientUnknown) return it->time;
    }
    return 0;
  };
  auto expired = [&](const Allocation& a) {
    int64_t since = unknown_since(a);
    return since != 0 && FromUnix(core, since) + lost_after <= now;
  };

  // 1. Reconnecting allocs: keep the original or its replacement per `reconcile`.
  std::set<std::string> handled;
  for (const AllocRec* r : all) {
    if (!r->reconnect_pending || r->a.desired_status != nomad::kDesiredRun) continue;
    p.reconnected.push_back(r->a.id);
    ++p.du.reconnect;
    if (r->a.client_status == nomad::kClientFailed) {
      p.stops.push_back({r->a.id, kAllocReconnected, "", -1});
      handled.insert(r->a.id);
      continue;
    }
    auto repl = allocs.find(r->a.next_allocation);
    if (repl == allocs.end() || Terminal(repl->second.a)) continue;
    std::string strategy = tg->disconnect ? tg->disconnect->reconcile : "best_score";
    bool keep_original = true;
    if (strategy == "keep_replacement") {
      keep_original = false;
    } else if (strategy == "longest_running") {
      auto first_start = [](const Allocation& a) {
        int64_t t = INT64_MAX;
        for (const auto& [n, st] : a.task_states) {
          if (st.started_at != 0) t = std::min(t, st.started_at);
        }
        return t;
      };
      keep_original = first_start(r->a) <= first_start(repl->second.a);
    }
    const std::string& loser = keep_original ? repl->second.a.id : r->a.id;
    p.stops.push_back({loser, kAllocReconnected, "", -1});
    ++p.du.stop;
    handled.insert(loser);
  }

  // 2. Classify (filterByTainted).
  std::vector<const AllocRec*> untainted, migrate, lost, disconnecting, expiring;
  for (const AllocRec* r : all) {
    if (handled.count(r->a.id)) continue;
    const Allocation& a = r->a;
    auto n = nodes.find(a.node_id);
    const std::string nstatus = n != nodes.end() ? n->second.node.status : "";
    const bool terminal = Terminal(a);
    if (nstatus == nomad::kNodeDisconnected && !terminal) {
      if (supports) {
        if (a.client_status == nomad::kClientRunning) {
          disconnecting.push_back(r);
          continue;
        }
        if (a.client_status == nomad::kClientPending) {
          lost.push_back(r);
          continue;
        }
      } else {
        lost.push_back(r);
        continue;
      }
    }
    if (terminal) {
      if (supports && a.desired_status != nomad::kDesiredRun) continue;
      untainted.push_back(r);
      continue;
    }
    if (a.desired_transition.migrate.value_or(false)) {
      migrate.push_back(r);
      continue;
    }
    if (supports && a.client_status == nomad::kClientUnknown) {
      (expired(a) ? expiring : untainted).push_back(r);
      continue;
    }
    if (n == nodes.end() || nstatus == nomad::kNodeDown) {
      lost.push_back(r);
      continue;
    }
    untainted.push_back(r);
  }

  // 3. Rescheduling of failed allocs (filterByRescheduleable).
  std::vector<const AllocRec*> counting, resched_now, disc_replaced;
  std::map<TimePoint, std::vector<std::string>> resched_later;
  auto count_in = [&counting](const AllocRec* r) {
    if (std::find(counting.begin(), counting.end(), r) == counting.end()) counting.push_back(r);
  };
  for (const AllocRec* r : untainted) {
    const Allocation& a = r->a;
    if (!a.next_allocation.empty() && Terminal(a)) continue;
    auto [keep, ignore] = ShouldFilter(a, batch);
    if (keep) count_in(r);
    if (ignore) continue;
    bool now_ok = false, later_ok = false;
    TimePoint when{};
    const nomad::ReschedulePolicy* rp = policy_of(r);
    if (a.client_status == nomad::kClientFailed && a.desired_status == nomad::kDesiredRun) {
      if (a.desired_transition.force_reschedule.value_or(false)) now_ok = true;
      if (rp != nullptr) {
        int64_t fail = LastEventTime(a);
        when = FromUnix(core, fail) + NextDelay(a, *rp);
        bool eligible = RescheduleEligible(a, *rp, fail);
        if (eligible && (a.followup_eval_id == eval_id || when - now <= kRescheduleWindow)) {
          now_ok = true;
        } else if (eligible && a.followup_eval_id.empty()) {
          later_ok = true;
        }
      }
    }
    if (now_ok) {
      resched_now.push_back(r);
      continue;
    }
    count_in(r);
    if (later_ok) resched_later[when].push_back(a.id);
    // A disconnected alloc whose delayed replacement is due now.
    if (a.client_status == nomad::kClientUnknown && replace && a.next_allocation.empty() &&
        r->resched_at && *r->resched_at <= now + kRescheduleWindow) {
      counting.erase(std::find(counting.begin(), counting.end(), r));
      disc_replaced.push_back(r);
    }
  }

  // 4. Disconnecting: unknown now, lost after lost_after; maybe replaced per reschedule policy.
  for (const AllocRec* r : disconnecting) {
    p.later.push_back({now + lost_after, "max-disconnect-timeout", {r->a.id}, true});
    p.unknowns.push_back({r->a.id, static_cast<int>(p.later.size()) - 1});
    ++p.du.disconnect;
    const nomad::ReschedulePolicy* rp = policy_of(r);
    if (replace && rp != nullptr && RescheduleEligible(r->a, *rp, core.UnixNanos())) {
      Duration delay = NextDelay(r->a, *rp);
      if (delay <= kRescheduleWindow) {
        disc_replaced.push_back(r);
        continue;
      }
      p.later.push_back({now + delay, "alloc-failure", {}, false});
      p.resched_marks.push_back({r->a.id, now + delay});
    }
    counting.push_back(r);
  }

  // 5. Expired unknown allocs become lost.
  std::vector<const AllocRec*> lost_now;
  for (const AllocRec* r : expiring) {
    p.stops.push_back({r->a.id, kAllocLost, nomad::kClientLost, -1});
    ++p.du.stop;
    if (r->a.next_allocation.empty()) lost_now.push_back(r);
  }

  // 6. Lost allocs; stop_on_client_after delays their replacement and every placement.
  std::map<TimePoint, std::vector<std::string>> lost_later;
  const bool stop_after = tg->disconnect && tg->disconnect->stop_on_client_after &&
                          tg->disconnect->stop_on_client_after->count() > 0;
  for (const AllocRec* r : lost) {
    if (stop_after) {
      const Job* aj = AllocJob(*r);
      const nomad::TaskGroup* atg = aj != nullptr ? FindGroup(*aj, group) : tg;
      if (atg == nullptr) atg = tg;
      const Duration kill = nomad::WaitClientStopKillTimeout(*atg);
      int64_t lost_at = 0;
      for (const auto& s : r->a.alloc_states) {
        if (s.field == "ClientStatus" && s.value == nomad::kClientLost) {
          lost_at = s.time;
          break;
        }
      }
      TimePoint lost_time = lost_at != 0 ? FromUnix(core, lost_at) : now;
      TimePoint when = lost_time + *tg->disconnect->stop_on_client_after + kill;
      if (when > now) {
        lost_later[when].push_back(r->a.id);
        continue;
      }
    }
    lost_now.push_back(r);
  }
  for (auto& [when, ids] : lost_later) {
    p.later.push_back({when, "alloc-failure", ids, true});
    for (const std::string& id : ids) {
      p.stops.push_back({id, kAllocLost, nomad::kClientLost, static_cast<int>(p.later.size()) - 1});
      ++p.du.stop;
    }
  }
  for (const AllocRec* r : lost) {
    if (std::find(lost_now.begin(), lost_now.end(), r) == lost_now.end()) continue;
    p.stops.push_back({r->a.id, kAllocLost, nomad::kClientLost, -1});
    ++p.du.stop;
  }

  // 7. Migrations, delayed and immediate reschedules.
  for (const AllocRec* r : migrate) {
    p.stops.push_back({r->a.id, kAllocMigrating, "", -1});
    ++p.du.migrate;
  }
  for (auto& [when, ids] : resched_later) {
    p.later.push_back({when, "alloc-failure", ids, true});
    for (const std::string& id : ids) {
      p.followups.push_back({id, static_cast<int>(p.later.size()) - 1});
      ++p.du.reschedule_later;
    }
  }
  for (const AllocRec* r : resched_now) {
    p.stops.push_back({r->a.id, kAllocRescheduled, "", -1});
    ++p.du.reschedule_now;
  }

  // 8. Names in use, then stop what exceeds Count (highest index first).
  std::set<int> used;
  for (const auto* v : {&counting, &migrate, &resched_now, &lost, &disc_replaced, &expiring}) {
    for (const AllocRec* r : *v) used.insert(NameIndex(r->a.name));
  }
  int existing = static_cast<int>(counting.size() + migrate.size() + resched_now.size() +
                                  disc_replaced.size());
  if (existing > tg->count) {
    std::vector<const AllocRec*> order = counting;
    std::stable_sort(order.begin(), order.end(), [](const AllocRec* a, const AllocRec* b) {
      bool ta = Terminal(a->a), tb = Terminal(b->a);
      if (ta != tb) return tb;  // non-terminal first
      return NameIndex(a->a.name) > NameIndex(b->a.name);
    });
    for (const AllocRec* r : order) {
      if (existing <= tg->count) break;
      if (Terminal(r->a)) break;
      p.stops.push_back({r->a.id, kAllocNotNeeded, "", -1});
      ++p.du.stop;
      counting.erase(std::find(counting.begin(), counting.end(), r));
      --existing;
    }
  }

  // 9. Updates of the allocs that stay: ignore, in place, or destructive (stop + place).
  for (const AllocRec* r : counting) {
    if (Terminal(r->a) || r->a.job_version == job->version) {
      ++p.du.ignore;
      continue;
    }
    const Job* aj = AllocJob(*r);
    if (aj == nullptr || DestructiveChange(*aj, *job, group)) {
      p.stops.push_back({r->a.id, kAllocUpdating, "", -1});
      Place pl;
      pl.group = group;
      pl.name_index = NameIndex(r->a.name);
      pl.prev_alloc = r->a.id;
      pl.destructive = true;
      p.places.push_back(pl);
      ++p.du.destructive_update;
    } else {
      p.inplace.push_back(r->a.id);
      ++p.du.in_place_update;
    }
  }

  // 10. Placements, unless a stop_on_client_after delay is pending for the group.
  if (!lost_later.empty()) return p;
  auto place = [&](int idx, const AllocRec* prev, bool reschedule, bool keep_prev) {
    Place pl;
    pl.group = group;
    pl.name_index = idx;
    if (prev != nullptr) pl.prev_alloc = prev->a.id;
    pl.reschedule = reschedule;
    pl.keep_prev_running = keep_prev;
    p.places.push_back(pl);
    ++p.du.place;
  };
  for (const AllocRec* r : resched_now) place(NameIndex(r->a.name), r, true, false);
  for (const AllocRec* r : disc_replaced) place(NameIndex(r->a.name), r, true, true);
  for (const AllocRec* r : migrate) place(NameIndex(r->a.name), r, false, false);
  for (const AllocRec* r : lost_now) {
    if (existing >= tg->count) break;
    ++existing;
    place(NameIndex(r->a.name), r, false, false);
  }
  for (int i = 0; existing < tg->count; ++i) {
    if (used.count(i)) continue;
    used.insert(i);
    ++existing;
    place(i, nullptr, false, false);
  }
  return p;
}

}  // namespace nsg::sim
