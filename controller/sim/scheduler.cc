// The Nomad model's scheduler: evaluations processed one at a time (each task group's plan from
// ReconcileGroup applied: stops, placements on a feasible node, follow-up evaluations, blocked
// evaluations when nothing fits), blocked evaluations unblocked when capacity appears, and the
// evaluations a node's change of status creates.
#include <algorithm>

#include "controller/sim/cluster.h"
#include "controller/sim/cluster_impl.h"
#include "controller/sim/job_rules.h"

namespace nsg::sim {

namespace {

constexpr size_t kMaxPastRescheduleEvents = 5;

// Glob match with '*' (Nomad's datacenter patterns).
bool Glob(const std::string& pat, const std::string& s) {
  size_t p = 0, i = 0, star = std::string::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && pat[p] == s[i]) {
      ++p;
      ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

}  // namespace

std::string Cluster::Impl::PickNode(const Job& job, const std::string& avoid_node,
                                    const std::map<std::string, int>& load) {
  std::vector<std::string> cands;
  for (const std::string& id : node_order) {
    const nomad::Node& n = nodes.at(id).node;
    if (n.status != nomad::kNodeReady || n.scheduling_eligibility != "eligible" || n.drain) {
      continue;
    }
    bool dc = false;
    for (const std::string& pat : job.datacenters) dc = dc || Glob(pat, n.datacenter);
    if (!dc) continue;
    if (job.node_pool != "all" && job.node_pool != n.node_pool) continue;
    cands.push_back(id);
  }
  if (cands.empty()) return "";
  if (cands.size() > 1 && !avoid_node.empty()) {
    cands.erase(std::remove(cands.begin(), cands.end(), avoid_node), cands.end());
  }
  int best = INT32_MAX;
  for (const std::string& id : cands) {
    auto it = load.find(id);
    best = std::min(best, it == load.end() ? 0 : it->second);
  }
  std::vector<std::string> ties;
  for (const std::string& id : cands) {
    auto it = load.find(id);
    if ((it == load.end() ? 0 : it->second) == best) ties.push_back(id);
  }
  return ties[core.Uniform(0, ties.size() - 1)];
}

void Cluster::Impl::ProcessEval(const std::string& eval_id) {
  auto eit = evals.find(eval_id);
  if (eit == evals.end() || eit->second.status != "pending") return;
  const Evaluation eval = eit->second;
  const JobKey key{eval.namespace_, eval.job_id};
  auto jit = jobs.find(key);
  const Job* job = jit != jobs.end() ? &jit->second.job : nullptr;
  const bool periodic_parent = job != nullptr && job->periodic && job->periodic->enabled;
  const bool stopped = job == nullptr || job->stop;

  std::vector<std::string> groups;
  if (job != nullptr && !periodic_parent) {
    for (const auto& tg : job->task_groups) groups.push_back(tg.name);
  }
  for (const AllocRec* r : JobAllocRecs(
           key.first, key.second,
           job != nullptr ? std::optional(job->create_index) : std::nullopt)) {
    if (std::find(groups.begin(), groups.end(), r->a.task_group) == groups.end()) {
      groups.push_back(r->a.task_group);
    }
  }
  std::vector<GroupPlan> plans;
  for (const std::string& g : groups) {
    plans.push_back(ReconcileGroup(job, key.first, key.second, g, eval.id, stopped));
  }

  // Follow-up evals first (Nomad creates them before submitting the plan).
  std::vector<std::vector<std::string>> later_ids(plans.size());
  bool any_later = false;
  for (const auto& p : plans) any_later = any_later || !p.later.empty();
  if (any_later) {
    Write w = Begin("EvaluationUpdated");
    for (size_t i = 0; i < plans.size(); ++i) {
      for (const Later& l : plans[i].later) {
        Evaluation& e = NewEval(w, key.first, key.second, eval.priority, eval.type, l.trigger);
        e.wait_until = ToUnix(core, l.when);
        e.previous_eval = eval.id;
        later_ids[i].push_back(e.id);
        w.enqueue.push_back(e.id);
      }
    }
    Commit(w);
  }

  // The plan.
  bool any_change = false;
  for (const auto& p : plans) {
    any_change = any_change || !p.stops.empty() || !p.places.empty() || !p.inplace.empty() ||
                 !p.unknowns.empty() || !p.followups.empty() || !p.reconnected.empty() ||
                 !p.resched_marks.empty();
  }
  std::set<std::string> failed_groups;
  if (any_change) {
    Write w = Begin("PlanResult");
    const int64_t now_unix = core.UnixNanos();
    auto touch = [&](AllocRec& r) {
      r.a.modify_index = w.index;
      r.a.alloc_modify_index = w.index;
      r.a.modify_time = now_unix;
      w.allocs.push_back(r.a.id);
      w.pulls[r.a.node_id].insert(r.a.id);
    };
    std::map<std::string, int> load;
    for (const std::string& id : AllocsOfJob(key)) {
      const AllocRec& r = allocs.at(id);
      if (!Terminal(r.a)) ++load[r.a.node_id];
    }
    for (size_t i = 0; i < plans.size(); ++i) {
      GroupPlan& p = plans[i];
      for (const std::string& id : p.reconnected) allocs.at(id).reconnect_pending = false;
      for (const auto& [id, when] : p.resched_marks) allocs.at(id).resched_at = when;
      for (const Stop& s : p.stops) {
        AllocRec& r = allocs.at(s.alloc_id);
        if (r.a.desired_status == nomad::kDesiredRun && !ClientTerminal(r.a.client_status)) {
          --load[r.a.node_id];
        }
        r.a.desired_status = nomad::kDesiredStop;
        r.a.desired_description = s.desc;
        if (!s.client_status.empty()) {
          r.a.client_status = s.client_status;
          r.a.alloc_states.push_back({"ClientStatus", s.client_status, now_unix});
        }
        if (s.later >= 0) r.a.followup_eval_id = later_ids[i][s.later];
        touch(r);
      }
      for (const Unknown& u : p.unknowns) {
        AllocRec& r = allocs.at(u.alloc_id);
        r.a.client_status = nomad::kClientUnknown;
        r.a.client_description = kAllocUnknown;
        r.a.alloc_states.push_back({"ClientStatus", nomad::kClientUnknown, now_unix});
        if (u.later >= 0) r.a.followup_eval_id = later_ids[i][u.later];
        touch(r);
      }
      for (const auto& [id, li] : p.followups) {
        AllocRec& r = allocs.at(id);
        r.a.followup_eval_id = later_ids[i][li];
        touch(r);
      }
      for (const std::string& id : p.inplace) {
        AllocRec& r = allocs.at(id);
        r.a.job_version = job->version;
        r.a.eval_id = eval.id;
        touch(r);
      }
      for (const Place& pl : p.places) {
        const AllocRec* prev = nullptr;
        if (!pl.prev_alloc.empty()) prev = &allocs.at(pl.prev_alloc);
        std::string node_id = PickNode(*job, prev != nullptr ? prev->a.node_id : "", load);
        if (node_id.empty()) {
          failed_groups.insert(pl.group);
          continue;
        }
        const NodeRec& n = nodes.at(node_id);
        AllocRec rec;
        Allocation& a = rec.a;
        a.id = core.NewUuid();
        a.eval_id = eval.id;
        a.name = job->id + "." + pl.group + "[" + std::to_string(pl.name_index) + "]";
        a.namespace_ = job->namespace_;
        a.node_id = node_id;
        a.node_name = n.node.name;
        a.job_id = job->id;
        a.job_type = job->type;
        a.job_version = job->version;
        a.task_group = pl.group;
        a.desired_status = nomad::kDesiredRun;
        a.client_status = nomad::kClientPending;
        a.create_index = a.modify_index = a.alloc_modify_index = w.index;
        a.create_time = a.modify_time = now_unix;
        rec.job_create_index = job->create_index;
        if (prev != nullptr) {
          a.previous_allocation = prev->a.id;
          if (pl.reschedule) {
            const Job* pj = AllocJob(*prev);
            const nomad::TaskGroup* ptg = pj != nullptr ? FindGroup(*pj, pl.group) : nullptr;
            nomad::ReschedulePolicy rp;
            if (ptg != nullptr && ptg->reschedule_policy) rp = *ptg->reschedule_policy;
            const auto& old = prev->a.reschedule_events;
            if (rp.attempts > 0) {
              for (const auto& e : old) {
                const int64_t age = now_unix - e.reschedule_time;
                if (rp.interval.count() > 0 && age <= rp.interval.count()) {
                  a.reschedule_events.push_back(e);
                }
              }
            } else {
              size_t start = old.size() > kMaxPastRescheduleEvents
                                 ? old.size() - kMaxPastRescheduleEvents
                                 : 0;
              a.reschedule_events.assign(old.begin() + static_cast<std::ptrdiff_t>(start),
                                         old.end());
            }
            a.reschedule_events.push_back(
                {now_unix, prev->a.id, prev->a.node_id, NextDelay(prev->a, rp)});
          }
        }
        std::string id = a.id;
        AddAlloc(std::move(rec));
        ++load[node_id];
        w.allocs.push_back(id);
        w.pulls[node_id].insert(id);
        if (prev != nullptr) {
          AllocRec& pr = allocs.at(pl.prev_alloc);
          pr.a.next_allocation = id;
          pr.a.modify_index = w.index;
          pr.a.modify_time = now_unix;
          w.allocs.push_back(pr.a.id);
        }
      }
    }
    w.status_jobs.insert(key);
    Commit(w);
  }

  // Complete the eval; queue a blocked one for placements that found no node.
  Write w = Begin("EvaluationUpdated");
  Evaluation& done = evals.at(eval_id);
  done.status = "complete";
  done.modify_index = w.index;
  done.modify_time = core.UnixNanos();
  w.evals.push_back(eval_id);
  if (!failed_groups.empty()) {
    // One blocked eval per job (Nomad's blocked-evals tracker): the new one replaces the old.
    for (const std::string& id : EvalsOfJob(key)) {
      Evaluation& e = evals.at(id);
      if (e.status == "blocked") {
        e.status = "canceled";
        e.modify_index = w.index;
        e.modify_time = core.UnixNanos();
        w.evals.push_back(id);
      }
    }
    Evaluation& b = NewEval(w, key.first, key.second, eval.priority, eval.type, "queued-allocs");
    b.status = "blocked";
    b.previous_eval = eval.id;
    done.next_eval = b.id;
  }
  Commit(w);
}

void Cluster::Impl::UnblockEvals() {
  std::vector<std::string> blocked;
  for (const auto& [id, e] : evals) {
    if (e.status == "blocked") blocked.push_back(id);
  }
  if (blocked.empty()) return;
  Write w = Begin("EvaluationUpdated");
  for (const std::string& id : blocked) {
    Evaluation& e = evals.at(id);
    e.status = "pending";
    e.modify_index = w.index;
    e.modify_time = core.UnixNanos();
    w.evals.push_back(id);
    w.enqueue.push_back(id);
  }
  Commit(w);
}

void Cluster::Impl::CreateNodeEvals(const std::string& node_id, const std::string& trigger) {
  std::set<JobKey> keys;
  for (const std::string& id : AllocsOnNode(node_id)) {
    const AllocRec& r = allocs.at(id);
    keys.insert({r.a.namespace_, r.a.job_id});
  }
  std::vector<JobKey> live;
  for (const JobKey& k : keys) {
    if (jobs.count(k)) live.push_back(k);
  }
  if (live.empty()) return;
  Write w = Begin("EvaluationUpdated");
  for (const JobKey& k : live) {
    const Job& j = jobs.at(k).job;
    Evaluation& e = NewEval(w, k.first, k.second, j.priority, j.type, trigger, node_id);
    w.enqueue.push_back(e.id);
  }
  Commit(w);
}

}  // namespace nsg::sim
