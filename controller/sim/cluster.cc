// The server half of the Nomad model: jobs, evaluations, the scheduler (a simplified generic
// reconciler), nodes and heartbeats, client-update application, and the public Cluster API.
// The client agent (alloc runners, task lifecycle) is in cluster_client.cc.
#include "controller/sim/cluster.h"

#include <algorithm>
#include <cmath>

#include "controller/sim/cluster_impl.h"
#include "controller/sim/job_rules.h"

namespace nsg::sim {

using namespace std::chrono_literals;
using nomad::Allocation;
using nomad::Evaluation;
using nomad::Job;

namespace {

constexpr char kAllocNotNeeded[] = "alloc not needed due to job update";
constexpr char kAllocMigrating[] = "alloc is being migrated";
constexpr char kAllocUpdating[] = "alloc is being updated due to job update";
constexpr char kAllocLost[] = "alloc is lost since its node is down";
constexpr char kAllocUnknown[] = "alloc is unknown since its node is disconnected";
constexpr char kAllocRescheduled[] = "alloc was rescheduled because it failed";
constexpr char kAllocReconnected[] = "alloc not needed due to disconnected client reconnect";
constexpr Duration kRescheduleWindow = 1s;
constexpr size_t kMaxPastRescheduleEvents = 5;

bool ClientTerminal(const std::string& s) {
  return s == nomad::kClientComplete || s == nomad::kClientFailed || s == nomad::kClientLost;
}
bool Terminal(const Allocation& a) {
  return a.desired_status != nomad::kDesiredRun || ClientTerminal(a.client_status);
}
bool EvalTerminal(const Evaluation& e) {
  return e.status == "complete" || e.status == "failed" || e.status == "canceled";
}
int NameIndex(const std::string& name) {
  size_t open = name.rfind('[');
  if (open == std::string::npos) return 0;
  return std::atoi(name.c_str() + open + 1);
}
const nomad::TaskGroup* FindGroup(const Job& j, const std::string& name) {
  for (const auto& tg : j.task_groups) {
    if (tg.name == name) return &tg;
  }
  return nullptr;
}
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

// ---- NodeClock ----------------------------------------------------------------------------------

NodeClock::~NodeClock() {
  for (auto& [id, t] : timers_) core_.Cancel(t.core_id);
}

TimePoint NodeClock::Now() const {
  Duration real = core_.Now() - base_global_;
  if (rate_ == 1.0) return base_local_ + real;
  return base_local_ + Duration(static_cast<int64_t>(std::llround(real.count() * rate_)));
}

void NodeClock::Arm(TimerId id, Timer& t) {
  Duration local_left = t.local_due - Now();
  if (local_left.count() < 0) local_left = Duration(0);
  Duration real = rate_ == 1.0 ? local_left
                               : Duration(static_cast<int64_t>(
                                     std::ceil(static_cast<double>(local_left.count()) / rate_)));
  t.core_id = core_.After(real, t.label, [this, id] {
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    std::function<void()> fn = std::move(it->second.fn);
    timers_.erase(it);
    fn();
  });
}

void NodeClock::SetRate(double rate) {
  base_local_ = Now();
  base_global_ = core_.Now();
  rate_ = rate;
  for (auto& [id, t] : timers_) {
    core_.Cancel(t.core_id);
    Arm(id, t);
  }
}

NodeClock::TimerId NodeClock::After(Duration local_delay, std::string label,
                                    std::function<void()> fn) {
  TimerId id = next_id_++;
  Timer& t = timers_[id];
  t.local_due = Now() + local_delay;
  t.label = std::move(label);
  t.fn = std::move(fn);
  Arm(id, t);
  return id;
}

void NodeClock::Cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  core_.Cancel(it->second.core_id);
  timers_.erase(it);
}

// ---- Writes and events --------------------------------------------------------------------------

namespace {

int64_t ToUnix(const SimCore& core, TimePoint t) { return core.UnixNanos(t); }
TimePoint FromUnix(const SimCore& core, int64_t unix_ns) {
  return TimePoint(Duration(unix_ns - core.UnixNanos(TimePoint{})));
}
Allocation FullView(const Allocation& a) {
  Allocation out = a;
  out.job.reset();
  out.job_type.clear();
  out.job_version = 0;
  return out;
}

}  // namespace

Cluster::Impl::Write Cluster::Impl::Begin(const std::string& type) {
  Write w;
  w.type = type;
  w.index = core.NextIndex();
  return w;
}

std::string Cluster::Impl::JobStatus(const JobRec& rec) const {
  const Job& job = rec.job;
  if (job.type == "system" || (job.periodic && job.periodic->enabled)) {
    return job.stop ? "dead" : "running";
  }
  bool has_alloc = false, has_eval = false;
  for (const std::string& id : AllocsOfJob({job.namespace_, job.id})) {
    const AllocRec& r = allocs.at(id);
    if (r.job_create_index != job.create_index) continue;
    has_alloc = true;
    if (!Terminal(r.a)) return "running";
  }
  for (const std::string& id : EvalsOfJob({job.namespace_, job.id})) {
    const Evaluation& e = evals.at(id);
    if (e.create_index < job.create_index) continue;
    has_eval = true;
    if (!EvalTerminal(e)) return "pending";
  }
  return (has_alloc || has_eval) ? "dead" : "pending";
}

nomad::Event Cluster::Impl::AllocEvent(const Write& w, const Allocation& a) const {
  nomad::Event ev;
  ev.topic = "Allocation";
  ev.type = w.type;
  ev.key = a.id;
  ev.namespace_ = a.namespace_;
  ev.filter_keys = {a.job_id, ""};
  ev.allocation = FullView(a);
  return ev;
}

void Cluster::Impl::Commit(Write& w) {
  std::set<JobKey> touched = w.status_jobs;
  for (const std::string& id : w.allocs) {
    auto it = allocs.find(id);
    if (it != allocs.end()) touched.insert({it->second.a.namespace_, it->second.a.job_id});
  }
  for (const std::string& id : w.evals) {
    auto it = evals.find(id);
    if (it != evals.end()) touched.insert({it->second.namespace_, it->second.job_id});
  }
  std::vector<JobKey> job_events = w.jobs;
  for (const JobKey& k : touched) {
    auto it = jobs.find(k);
    if (it == jobs.end()) continue;
    std::string s = JobStatus(it->second);
    if (s != it->second.job.status) {
      it->second.job.status = s;
      it->second.job.modify_index = w.index;
      if (std::find(job_events.begin(), job_events.end(), k) == job_events.end()) {
        job_events.push_back(k);
      }
    }
  }
  std::vector<nomad::Event> job_evs, eval_evs, alloc_evs, node_evs;
  for (const JobKey& k : job_events) {
    auto it = jobs.find(k);
    if (it == jobs.end()) continue;
    nomad::Event ev;
    ev.topic = "Job";
    ev.type = w.type;
    ev.key = k.second;
    ev.namespace_ = k.first;
    ev.job = it->second.job;
    job_evs.push_back(std::move(ev));
  }
  if (w.deleted_job) {
    nomad::Event ev;
    ev.topic = "Job";
    ev.type = w.type;
    ev.key = w.deleted_job->id;
    ev.namespace_ = w.deleted_job->namespace_;
    ev.job = *w.deleted_job;
    ev.deleted = true;
    job_evs.push_back(std::move(ev));
  }
  std::set<std::string> seen;
  for (const std::string& id : w.evals) {
    if (!seen.insert(id).second) continue;
    auto it = evals.find(id);
    if (it == evals.end()) continue;
    nomad::Event ev;
    ev.topic = "Evaluation";
    ev.type = w.type;
    ev.key = id;
    ev.namespace_ = it->second.namespace_;
    ev.filter_keys = {it->second.job_id, ""};
    ev.evaluation = it->second;
    eval_evs.push_back(std::move(ev));
  }
  seen.clear();
  for (const std::string& id : w.allocs) {
    if (!seen.insert(id).second) continue;
    auto it = allocs.find(id);
    if (it == allocs.end()) continue;
    alloc_evs.push_back(AllocEvent(w, it->second.a));
    RevokeIfTerminal(it->second.a);
  }
  seen.clear();
  for (const std::string& id : w.nodes) {
    if (!seen.insert(id).second) continue;
    auto it = nodes.find(id);
    if (it == nodes.end()) continue;
    nomad::Event ev;
    ev.topic = "Node";
    ev.type = w.type;
    ev.key = id;
    ev.node = it->second.node;
    node_evs.push_back(std::move(ev));
  }
  std::vector<nomad::Event> all;
  auto append = [&all](std::vector<nomad::Event>& v) {
    for (auto& e : v) all.push_back(std::move(e));
  };
  if (w.type == "JobRegistered" || w.type == "JobDeregistered") {
    append(job_evs);
    append(eval_evs);
    append(alloc_evs);
  } else {
    append(alloc_evs);
    append(eval_evs);
    append(job_evs);
  }
  append(node_evs);
  if (!job_events.empty() || w.deleted_job) cluster.jobs_index_ = w.index;
  if (!w.evals.empty()) cluster.evals_index_ = w.index;
  if (!w.allocs.empty()) cluster.allocs_index_ = w.index;
  if (!w.nodes.empty()) cluster.nodes_index_ = w.index;
  core.Events().Publish(w.index, std::move(all));
  for (const std::string& id : w.enqueue) Enqueue(id);
  for (const std::string& n : w.pull_nodes) SchedulePull(n);
}

// Workload identities stay valid until the allocation is client-terminal, not merely
// server-terminal (DesiredStatus stop): Nomad lets a stopping allocation's tasks — poststop ones,
// and a lock agent releasing its lock during a graceful stop — keep using their identity
// (hashicorp/nomad#19268 made the legacy Vault path match the workload-identity one).
void Cluster::Impl::RevokeIfTerminal(const Allocation& a) {
  if (!ClientTerminal(a.client_status) || !cluster.token_revoker_) return;
  cluster.token_revoker_(a.id);
}

Evaluation& Cluster::Impl::NewEval(Write& w, const std::string& ns, const std::string& job_id,
                                   int priority, const std::string& type,
                                   const std::string& trigger, const std::string& node_id) {
  Evaluation e;
  e.id = core.NewUuid();
  e.namespace_ = ns;
  e.priority = priority;
  e.type = type;
  e.triggered_by = trigger;
  e.job_id = job_id;
  e.node_id = node_id;
  e.status = "pending";
  e.create_index = e.modify_index = w.index;
  e.create_time = e.modify_time = core.UnixNanos();
  std::string id = e.id;
  w.evals.push_back(id);
  evals_by_job[{ns, job_id}].insert(id);
  return evals[id] = std::move(e);
}

void Cluster::Impl::Enqueue(const std::string& eval_id) {
  auto it = evals.find(eval_id);
  if (it == evals.end() || it->second.status != "pending") return;
  TimePoint at = core.Now() + opts.scheduler_latency;
  if (it->second.wait_until != 0) at = std::max(at, FromUnix(core, it->second.wait_until));
  At(at, "eval " + eval_id, [this, eval_id] { ProcessEval(eval_id); });
}

// ---- Scheduler ----------------------------------------------------------------------------------

std::vector<const Cluster::Impl::AllocRec*> Cluster::Impl::JobAllocRecs(
    const std::string& ns, const std::string& job_id,
    std::optional<uint64_t> create_index) const {
  std::vector<const AllocRec*> out;
  for (const std::string& id : AllocsOfJob({ns, job_id})) {
    const AllocRec& r = allocs.at(id);
    if (create_index && r.job_create_index != *create_index) continue;
    out.push_back(&r);
  }
  std::sort(out.begin(), out.end(), [](const AllocRec* a, const AllocRec* b) {
    return a->a.create_index != b->a.create_index ? a->a.create_index < b->a.create_index
                                                  : a->a.id < b->a.id;
  });
  return out;
}

namespace {
const std::set<std::string> kNoIds;
}  // namespace

const std::set<std::string>& Cluster::Impl::AllocsOfJob(const JobKey& key) const {
  auto it = allocs_by_job.find(key);
  return it == allocs_by_job.end() ? kNoIds : it->second;
}

const std::set<std::string>& Cluster::Impl::AllocsOnNode(const std::string& node_id) const {
  auto it = allocs_by_node.find(node_id);
  return it == allocs_by_node.end() ? kNoIds : it->second;
}

const std::set<std::string>& Cluster::Impl::EvalsOfJob(const JobKey& key) const {
  auto it = evals_by_job.find(key);
  return it == evals_by_job.end() ? kNoIds : it->second;
}

void Cluster::Impl::AddAlloc(AllocRec rec) {
  const std::string id = rec.a.id;
  allocs_by_job[{rec.a.namespace_, rec.a.job_id}].insert(id);
  allocs_by_node[rec.a.node_id].insert(id);
  allocs.emplace(id, std::move(rec));
}

const Job* Cluster::Impl::AllocJob(const AllocRec& rec) const {
  auto h = history.find({rec.a.namespace_, rec.a.job_id, rec.job_create_index});
  if (h == history.end()) return nullptr;
  auto v = h->second.find(rec.a.job_version);
  return v == h->second.end() ? nullptr : &v->second;
}

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
      w.pull_nodes.insert(r.a.node_id);
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
        w.pull_nodes.insert(node_id);
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

// ---- Jobs ---------------------------------------------------------------------------------------

uint64_t Cluster::Impl::RegisterInternal(Job job, const JobRec* existing, std::string* eval_id) {
  const JobKey key{job.namespace_, job.id};
  Write w = Begin("JobRegistered");
  job.version = existing != nullptr ? existing->job.version + 1 : 0;
  job.create_index = existing != nullptr ? existing->job.create_index : w.index;
  job.modify_index = job.job_modify_index = w.index;
  job.submit_time = core.UnixNanos();
  job.status = existing != nullptr ? existing->job.status : "pending";
  JobRec& rec = jobs[key];
  std::optional<SimCore::TimerId> timer = rec.periodic_timer;
  rec.job = job;
  rec.periodic_timer = timer;
  history[{key.first, key.second, job.create_index}][job.version] = job;
  w.jobs.push_back(key);
  w.status_jobs.insert(key);
  const bool periodic = job.periodic && job.periodic->enabled;
  if (!periodic) {
    Evaluation& e = NewEval(w, key.first, key.second, job.priority, job.type, "job-register");
    *eval_id = e.id;
    w.enqueue.push_back(e.id);
  }
  Commit(w);
  // Keep the stored version's status in step with the job for GET /versions.
  history[{key.first, key.second, job.create_index}][job.version].status = jobs[key].job.status;
  SchedulePeriodic(key);
  return w.index;
}

void Cluster::Impl::SchedulePeriodic(const JobKey& key) {
  auto it = jobs.find(key);
  if (it == jobs.end()) return;
  JobRec& rec = it->second;
  if (rec.periodic_timer) core.Cancel(*rec.periodic_timer);
  rec.periodic_timer.reset();
  const Job& j = rec.job;
  if (j.stop || !j.periodic || !j.periodic->enabled) return;
  auto spec = ParseCron(j.periodic->spec);
  if (!spec.ok()) return;
  auto next = NextCronTime(*spec, core.UnixNanos());
  if (!next) return;
  int64_t launch = *next;
  rec.periodic_timer = At(FromUnix(core, launch), "periodic " + key.second,
                               [this, key, launch] { LaunchPeriodic(key, launch); });
}

void Cluster::Impl::LaunchPeriodic(const JobKey& key, int64_t launch_unix_ns) {
  auto it = jobs.find(key);
  if (it == jobs.end()) return;
  it->second.periodic_timer.reset();
  const Job parent = it->second.job;
  const std::string prefix = parent.id + "/periodic-";
  bool overlap = false;
  if (parent.periodic->prohibit_overlap) {
    for (const auto& [k, r] : jobs) {
      if (k.first == key.first && k.second.rfind(prefix, 0) == 0 && r.job.status != "dead") {
        overlap = true;
      }
    }
  }
  if (!overlap) LaunchChild(parent, launch_unix_ns);
  SchedulePeriodic(key);
}

uint64_t Cluster::Impl::LaunchChild(const Job& parent, int64_t launch_unix_ns,
                                    std::string* eval_id) {
  // nomad/periodic.go deriveJob @ v2.0.5: "<parent>/periodic-<unix seconds>", ParentID set.
  Job child = parent;
  child.id = parent.id + "/periodic-" + std::to_string(launch_unix_ns / 1000000000);
  child.name = child.id;
  child.periodic.reset();
  child.stop = false;
  child.extra["ParentID"] = "\"" + parent.id + "\"";
  auto existing = jobs.find({parent.namespace_, child.id});
  std::string ignored;
  return RegisterInternal(child, existing != jobs.end() ? &existing->second : nullptr,
                          eval_id != nullptr ? eval_id : &ignored);
}

// ---- Heartbeats (server side) -------------------------------------------------------------------

void Cluster::Impl::ArmServerTimer(NodeRec& n, Duration d) {
  if (n.server_timer) core.Cancel(*n.server_timer);
  n.server_deadline = core.Now() + d;
  std::string id = n.node.id;
  n.server_timer = After(d, "heartbeat " + n.node.name, [this, id] {
    nodes.at(id).server_timer.reset();
    InvalidateHeartbeat(id);
  });
}

Duration Cluster::Impl::ServerHeartbeat(const std::string& node_id) {
  NodeRec& n = nodes.at(node_id);
  Duration ttl = opts.min_heartbeat_ttl;
  Duration rate_scaled(static_cast<int64_t>(static_cast<double>(nodes.size()) /
                                            opts.max_heartbeats_per_second * 1e9));
  ttl = std::max(ttl, rate_scaled);
  ttl += core.Jitter(ttl);
  ArmServerTimer(n, ttl + opts.heartbeat_grace);
  n.last_hb_server = core.Now();
  if (n.node.status == nomad::kNodeDown || n.node.status == nomad::kNodeDisconnected) {
    SetNodeStatus(n, nomad::kNodeInitializing, "");
  }
  return ttl;
}

bool Cluster::Impl::NodeHasDisconnectableAllocs(const std::string& node_id) const {
  const TimePoint now = core.Now();
  for (const std::string& id : AllocsOnNode(node_id)) {
    const AllocRec& r = allocs.at(id);
    if (r.a.desired_status != nomad::kDesiredRun || ClientTerminal(r.a.client_status)) {
      continue;
    }
    const Job* aj = AllocJob(r);
    const nomad::TaskGroup* tg = aj != nullptr ? FindGroup(*aj, r.a.task_group) : nullptr;
    if (tg == nullptr || !tg->disconnect || tg->disconnect->lost_after.count() <= 0) continue;
    if (r.a.client_status == nomad::kClientUnknown) {
      int64_t since = 0;
      for (const auto& s : r.a.alloc_states) {
        if (s.field == "ClientStatus" && s.value == nomad::kClientUnknown) since = s.time;
      }
      if (since != 0 && FromUnix(core, since) + tg->disconnect->lost_after <= now) continue;
    }
    return true;
  }
  return false;
}

void Cluster::Impl::InvalidateHeartbeat(const std::string& node_id) {
  NodeRec& n = nodes.at(node_id);
  if (n.node.status == nomad::kNodeDown) return;
  if (NodeHasDisconnectableAllocs(node_id)) {
    // A disconnected node keeps a heartbeat timer; when it fires with nothing left to wait for,
    // the node goes down.
    Duration ttl = std::max(opts.min_heartbeat_ttl,
                            Duration(static_cast<int64_t>(static_cast<double>(nodes.size()) /
                                                          opts.max_heartbeats_per_second * 1e9)));
    ArmServerTimer(n, ttl + core.Jitter(ttl) + opts.heartbeat_grace);
    SetNodeStatus(n, nomad::kNodeDisconnected, "");
    return;
  }
  SetNodeStatus(n, nomad::kNodeDown, "");
}

void Cluster::Impl::SetNodeStatus(NodeRec& n, const std::string& status, const std::string& desc) {
  if (n.node.status == status) return;
  Write w = Begin("NodeStreamEvent");
  n.node.status = status;
  n.node.status_description = desc;
  n.node.status_updated_at = core.UnixNanos() / 1000000000;
  n.node.modify_index = w.index;
  w.nodes.push_back(n.node.id);
  Commit(w);
  if (status == nomad::kNodeDown || status == nomad::kNodeDisconnected ||
      status == nomad::kNodeReady) {
    CreateNodeEvals(n.node.id, "node-update");
  }
  if (status == nomad::kNodeReady) UnblockEvals();
}

// ---- Client updates (server side) ---------------------------------------------------------------

void Cluster::Impl::ApplyClientUpdates(const std::string& node_id,
                                       std::vector<Allocation> updates) {
  if (updates.empty()) return;
  Write w = Begin("AllocationUpdated");
  const int64_t now_unix = core.UnixNanos();
  std::map<JobKey, std::string> eval_triggers;
  for (const Allocation& u : updates) {
    auto it = allocs.find(u.id);
    if (it == allocs.end() || it->second.a.node_id != node_id) continue;
    AllocRec& r = it->second;
    const bool was_unknown = r.a.client_status == nomad::kClientUnknown;
    r.a.client_status = u.client_status;
    r.a.client_description = u.client_description;
    r.a.task_states = u.task_states;
    r.a.modify_index = w.index;
    r.a.modify_time = now_unix;
    w.allocs.push_back(r.a.id);
    const JobKey k{r.a.namespace_, r.a.job_id};
    if (was_unknown && u.client_status != nomad::kClientUnknown &&
        r.a.desired_status == nomad::kDesiredRun) {
      r.reconnect_pending = true;
      r.a.alloc_states.push_back({"ClientStatus", u.client_status, now_unix});
      eval_triggers[k] = "reconnect";
    }
    if (u.client_status == nomad::kClientFailed && r.a.desired_status == nomad::kDesiredRun &&
        !eval_triggers.count(k)) {
      eval_triggers[k] = "alloc-failure";
    }
  }
  for (const auto& [k, trigger] : eval_triggers) {
    auto j = jobs.find(k);
    if (j == jobs.end()) continue;
    Evaluation& e = NewEval(w, k.first, k.second, j->second.job.priority, j->second.job.type,
                            trigger, node_id);
    w.enqueue.push_back(e.id);
  }
  Commit(w);
}

// ---- Program runs -------------------------------------------------------------------------------

void Cluster::Impl::StartRun(TaskRunner& tr, const AllocRunner& ar, const std::string& node_id) {
  ProgramRun run;
  run.id = cluster.program_runs_.size() + 1;
  run.namespace_ = ar.view.namespace_;
  run.job_id = ar.view.job_id;
  run.group = ar.group;
  run.task = tr.task.name;
  run.alloc_id = ar.id;
  run.node_id = node_id;
  run.driver = tr.task.driver;
  run.started = core.Now();
  run.description = tr.program ? tr.program->Describe() : "";
  cluster.program_runs_.push_back(run);
  tr.run = cluster.program_runs_.size();
  if (cluster.program_listener_) cluster.program_listener_(cluster.program_runs_.back());
}

void Cluster::Impl::EndRun(TaskRunner& tr, int exit_code, int signal, const std::string& reason) {
  if (tr.run == 0) return;
  ProgramRun& run = cluster.program_runs_[tr.run - 1];
  tr.run = 0;
  if (run.ended) return;
  run.ended = core.Now();
  run.exit_code = exit_code;
  run.signal = signal;
  run.end_reason = reason;
  if (cluster.program_listener_) cluster.program_listener_(run);
}

// ---- Cluster (public API) -----------------------------------------------------------------------

Cluster::Cluster(SimCore& core, const ProgramRegistry& programs, ClusterOptions opts)
    : core_(core), programs_(programs), opts_(std::move(opts)),
      impl_(std::make_unique<Impl>(*this)) {}

Cluster::~Cluster() {
  // Programs may own real resources (process_driver): end them before the model goes away.
  for (auto& [id, n] : impl_->nodes) {
    if (n.client) impl_->CrashPrograms(n, "cluster destroyed");
  }
}

Result<nomad::WriteResult> Cluster::Register(const nomad::RegisterRequest& req,
                                             const std::string& ns) {
  Job job = req.job;
  job.namespace_ = ns.empty() ? "default" : ns;
  CanonicalizeJob(job);
  std::vector<std::string> errs = ValidateJob(job);
  if (!errs.empty()) return Status::InvalidSpec(MultiErrorText(errs));
  const Impl::JobKey key{job.namespace_, job.id};
  auto it = impl_->jobs.find(key);
  const Impl::JobRec* existing = it != impl_->jobs.end() ? &it->second : nullptr;
  if (req.enforce_index) {
    const uint64_t jmi = req.job_modify_index;
    const std::string prefix = "Enforcing job modify index " + std::to_string(jmi);
    if (existing != nullptr) {
      if (jmi == 0) return Status::Conflict(prefix + ": job already exists");
      if (jmi != existing->job.job_modify_index) {
        return Status::Conflict(prefix + ": job exists with conflicting job modify index: " +
                                std::to_string(existing->job.job_modify_index));
      }
    } else if (jmi != 0) {
      return Status::Conflict(prefix + ": job does not exist");
    }
  }
  nomad::WriteResult res;
  const bool periodic = job.periodic && job.periodic->enabled;
  if (existing != nullptr && !SpecChanged(existing->job, job)) {
    // Nothing to write for the job; a new eval still goes out (nomad/job_endpoint.go:
    // reply.JobModifyIndex = existingJob.JobModifyIndex).
    res.job_modify_index = existing->job.job_modify_index;
    if (periodic) return res;
    Impl::Write w = impl_->Begin("EvaluationUpdated");
    const Job& cur = existing->job;
    nomad::Evaluation& e =
        impl_->NewEval(w, key.first, key.second, cur.priority, cur.type, "job-register");
    res.eval_id = e.id;
    w.enqueue.push_back(e.id);
    impl_->Commit(w);
    res.eval_create_index = res.index = w.index;
    return res;
  }
  std::string eval_id;
  uint64_t index = impl_->RegisterInternal(job, existing, &eval_id);
  res.eval_id = eval_id;
  res.eval_create_index = eval_id.empty() ? 0 : index;
  res.job_modify_index = index;
  res.index = index;
  return res;
}

Result<nomad::WriteResult> Cluster::Deregister(const std::string& ns, const std::string& job_id,
                                               bool purge) {
  const Impl::JobKey key{ns.empty() ? "default" : ns, job_id};
  auto it = impl_->jobs.find(key);
  if (it == impl_->jobs.end()) return nomad::WriteResult{};
  Impl::Write w = impl_->Begin("JobDeregistered");
  Job snapshot = it->second.job;
  if (it->second.periodic_timer) core_.Cancel(*it->second.periodic_timer);
  const bool periodic = snapshot.periodic && snapshot.periodic->enabled;
  if (purge) {
    w.deleted_job = snapshot;
    impl_->jobs.erase(it);
  } else {
    Job& j = it->second.job;
    it->second.periodic_timer.reset();
    j.stop = true;
    j.version += 1;
    j.modify_index = j.job_modify_index = w.index;
    j.submit_time = core_.UnixNanos();
    impl_->history[{key.first, key.second, j.create_index}][j.version] = j;
    w.jobs.push_back(key);
    w.status_jobs.insert(key);
  }
  nomad::WriteResult res;
  if (!periodic) {
    nomad::Evaluation& e = impl_->NewEval(w, key.first, key.second, snapshot.priority,
                                          snapshot.type, "job-deregister");
    res.eval_id = e.id;
    res.eval_create_index = w.index;
    w.enqueue.push_back(e.id);
  }
  impl_->Commit(w);
  res.job_modify_index = w.index;
  res.index = w.index;
  return res;
}

std::optional<Job> Cluster::GetJob(const std::string& ns, const std::string& job_id) const {
  auto it = impl_->jobs.find({ns, job_id});
  if (it == impl_->jobs.end()) return std::nullopt;
  return it->second.job;
}

std::vector<Job> Cluster::JobVersions(const std::string& ns, const std::string& job_id) const {
  std::vector<Job> out;
  auto it = impl_->jobs.find({ns, job_id});
  if (it == impl_->jobs.end()) return out;
  auto h = impl_->history.find({ns, job_id, it->second.job.create_index});
  if (h == impl_->history.end()) return out;
  for (auto v = h->second.rbegin(); v != h->second.rend(); ++v) out.push_back(v->second);
  if (!out.empty()) out.front() = it->second.job;
  return out;
}

std::vector<Job> Cluster::ListJobs(const std::string& ns, const std::string& prefix) const {
  std::vector<Job> out;
  for (const auto& [k, r] : impl_->jobs) {
    if (ns != "*" && k.first != ns) continue;
    if (k.second.rfind(prefix, 0) != 0) continue;
    out.push_back(r.job);
  }
  return out;
}

Result<nomad::PlanResponse> Cluster::Plan(const Job& submitted, const std::string& ns,
                                          bool diff) const {
  Job job = submitted;
  job.namespace_ = ns.empty() ? "default" : ns;
  CanonicalizeJob(job);
  std::vector<std::string> errs = ValidateJob(job);
  if (!errs.empty()) return Status::InvalidSpec(MultiErrorText(errs));
  auto it = impl_->jobs.find({job.namespace_, job.id});
  const Job* existing = it != impl_->jobs.end() ? &it->second.job : nullptr;
  nomad::PlanResponse r;
  if (existing != nullptr) {
    r.job_modify_index = existing->job_modify_index;
    job.create_index = existing->create_index;
    job.version = SpecChanged(*existing, job) ? existing->version + 1 : existing->version;
  }
  const bool periodic = job.periodic && job.periodic->enabled;
  if (periodic) {
    if (auto spec = ParseCron(job.periodic->spec); spec.ok()) {
      r.next_periodic_launch = NextCronTime(*spec, core_.UnixNanos()).value_or(0);
    }
  } else {
    std::vector<std::string> groups;
    for (const auto& tg : job.task_groups) groups.push_back(tg.name);
    if (existing != nullptr) {
      for (const auto* rec : impl_->JobAllocRecs(job.namespace_, job.id, existing->create_index)) {
        if (std::find(groups.begin(), groups.end(), rec->a.task_group) == groups.end()) {
          groups.push_back(rec->a.task_group);
        }
      }
    }
    for (const std::string& g : groups) {
      r.desired_tg_updates[g] =
          impl_->ReconcileGroup(&job, job.namespace_, job.id, g, "", job.stop).du;
    }
  }
  if (diff) {
    nomad::JobDiff d = DiffJobs(existing, job);
    for (auto& tgd : d.task_groups) {
      auto du = r.desired_tg_updates.find(tgd.name);
      if (du == r.desired_tg_updates.end()) continue;
      const nomad::DesiredUpdates& u = du->second;
      if (u.place) tgd.updates["create"] = u.place;
      if (u.stop) tgd.updates["destroy"] = u.stop;
      if (u.destructive_update) tgd.updates["create/destroy update"] = u.destructive_update;
      if (u.in_place_update) tgd.updates["in-place update"] = u.in_place_update;
      if (u.ignore) tgd.updates["ignore"] = u.ignore;
      if (u.migrate) tgd.updates["migrate"] = u.migrate;
    }
    r.diff = std::move(d);
  }
  return r;
}

Result<nomad::WriteResult> Cluster::ForcePeriodic(const std::string& ns,
                                                  const std::string& job_id) {
  // nomad/periodic_endpoint.go Force @ v2.0.5: uncoded errors; ForceEval launches a child now,
  // whatever ProhibitOverlap says.
  auto it = impl_->jobs.find({ns, job_id});
  if (it == impl_->jobs.end()) return Status::NotFound("job not found");
  if (!it->second.job.periodic || !it->second.job.periodic->enabled) {
    return Status::InvalidSpec("can't force launch non-periodic job");
  }
  const Job parent = it->second.job;
  nomad::WriteResult res;
  res.index = impl_->LaunchChild(parent, core_.UnixNanos(), &res.eval_id);
  res.eval_create_index = res.index;
  return res;
}

Result<nomad::WriteResult> Cluster::Evaluate(const std::string& ns, const std::string& job_id,
                                             bool force_reschedule) {
  auto it = impl_->jobs.find({ns, job_id});
  if (it == impl_->jobs.end()) return Status::NotFound("job not found");
  const Job& j = it->second.job;
  if (j.periodic && j.periodic->enabled) {
    return Status::InvalidSpec("can't evaluate periodic job");
  }
  Impl::Write w = impl_->Begin(force_reschedule ? "AllocationUpdateDesiredStatus"
                                                : "EvaluationUpdated");
  if (force_reschedule) {
    for (const std::string& id : impl_->AllocsOfJob({ns, job_id})) {
      Impl::AllocRec& r = impl_->allocs.at(id);
      if (r.a.client_status != nomad::kClientFailed ||
          r.a.desired_status != nomad::kDesiredRun || !r.a.next_allocation.empty()) {
        continue;
      }
      r.a.desired_transition.force_reschedule = true;
      r.a.modify_index = w.index;
      r.a.modify_time = core_.UnixNanos();
      w.allocs.push_back(id);
    }
  }
  nomad::Evaluation& e = impl_->NewEval(w, ns, job_id, j.priority, j.type, "job-register");
  nomad::WriteResult res;
  res.eval_id = e.id;
  res.job_modify_index = j.job_modify_index;
  w.enqueue.push_back(e.id);
  impl_->Commit(w);
  res.eval_create_index = res.index = w.index;
  return res;
}

std::vector<nomad::Evaluation> Cluster::JobEvaluations(const std::string& ns,
                                                       const std::string& job_id) const {
  if (ns == "*") {
    std::vector<nomad::Evaluation> out = ListEvaluations(ns);
    std::erase_if(out, [&](const nomad::Evaluation& e) { return e.job_id != job_id; });
    return out;
  }
  std::vector<nomad::Evaluation> out;
  for (const std::string& id : impl_->EvalsOfJob({ns, job_id})) out.push_back(impl_->evals.at(id));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.create_index != b.create_index ? a.create_index < b.create_index : a.id < b.id;
  });
  return out;
}

std::vector<nomad::Evaluation> Cluster::ListEvaluations(const std::string& ns) const {
  std::vector<nomad::Evaluation> out;
  for (const auto& [id, e] : impl_->evals) {
    if (ns == "*" || e.namespace_ == ns) out.push_back(e);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.create_index != b.create_index ? a.create_index < b.create_index : a.id < b.id;
  });
  return out;
}

std::optional<nomad::Evaluation> Cluster::GetEvaluation(const std::string& eval_id) const {
  auto it = impl_->evals.find(eval_id);
  if (it == impl_->evals.end()) return std::nullopt;
  return it->second;
}

namespace {

Allocation StubView(const Allocation& a) {
  Allocation s = a;
  s.job.reset();
  s.previous_allocation.clear();
  s.alloc_states.clear();
  s.alloc_modify_index = 0;
  return s;
}

}  // namespace

std::optional<Allocation> Cluster::GetAllocation(const std::string& alloc_id) const {
  auto it = impl_->allocs.find(alloc_id);
  if (it == impl_->allocs.end()) return std::nullopt;
  Allocation a = FullView(it->second.a);
  if (const Job* j = impl_->AllocJob(it->second)) a.job = *j;
  return a;
}

std::vector<Allocation> Cluster::ListAllocations(const std::string& ns,
                                                 const std::string& prefix) const {
  std::vector<const Impl::AllocRec*> recs;
  for (const auto& [id, r] : impl_->allocs) {
    if (ns != "*" && r.a.namespace_ != ns) continue;
    if (id.rfind(prefix, 0) != 0) continue;
    recs.push_back(&r);
  }
  if (prefix.empty()) {
    std::sort(recs.begin(), recs.end(), [](const auto* a, const auto* b) {
      return a->a.create_index != b->a.create_index ? a->a.create_index < b->a.create_index
                                                    : a->a.id < b->a.id;
    });
  }
  std::vector<Allocation> out;
  for (const auto* r : recs) out.push_back(StubView(r->a));
  return out;
}

std::vector<Allocation> Cluster::JobAllocations(const std::string& ns, const std::string& job_id,
                                                bool all) const {
  auto it = impl_->jobs.find({ns, job_id});
  std::optional<uint64_t> ci;
  if (!all && it != impl_->jobs.end()) ci = it->second.job.create_index;
  std::vector<Allocation> out;
  for (const auto* r : impl_->JobAllocRecs(ns, job_id, ci)) out.push_back(StubView(r->a));
  return out;
}

Result<nomad::WriteResult> Cluster::StopAllocation(const std::string& alloc_id,
                                                   bool no_shutdown_delay,
                                                   std::optional<bool> reschedule) {
  auto it = impl_->allocs.find(alloc_id);
  if (it == impl_->allocs.end()) return Status::NotFound("allocation not found");
  Allocation& a = it->second.a;
  Impl::Write w = impl_->Begin("AllocationUpdateDesiredStatus");
  a.desired_transition.migrate = true;
  if (no_shutdown_delay) a.desired_transition.no_shutdown_delay = true;
  if (reschedule) a.desired_transition.reschedule = *reschedule;
  a.modify_index = w.index;
  a.modify_time = core_.UnixNanos();
  w.allocs.push_back(alloc_id);
  int priority = 50;
  std::string type = a.job_type;
  if (const Job* j = impl_->AllocJob(it->second)) {
    priority = j->priority;
    type = j->type;
  }
  nomad::Evaluation& e = impl_->NewEval(w, a.namespace_, a.job_id, priority, type, "alloc-stop");
  nomad::WriteResult res;
  res.eval_id = e.id;
  w.enqueue.push_back(e.id);
  impl_->Commit(w);
  res.eval_create_index = res.index = w.index;
  return res;
}

std::string Cluster::AddNode(const NodeSpec& spec) {
  Impl::NodeRec n;
  n.node.id = core_.NewUuid();
  const size_t number = impl_->nodes.size() + 1;
  n.node.name = spec.name.empty() ? "node-" + std::to_string(number) : spec.name;
  n.node.datacenter = spec.datacenter;
  n.node.node_pool = spec.node_pool;
  n.node.address = "10.0." + std::to_string(number / 250) + "." + std::to_string(number % 250 + 1);
  n.node.status = nomad::kNodeInitializing;
  n.clock = std::make_unique<NodeClock>(core_);
  const std::string id = n.node.id;
  Impl::Write w = impl_->Begin("NodeRegistration");
  n.node.create_index = n.node.modify_index = w.index;
  n.node.status_updated_at = core_.UnixNanos() / 1000000000;
  impl_->nodes.emplace(id, std::move(n));
  impl_->node_order.push_back(id);
  w.nodes.push_back(id);
  impl_->Commit(w);
  impl_->StartClient(impl_->nodes.at(id), /*fresh=*/true);
  return id;
}

std::optional<nomad::Node> Cluster::GetNode(const std::string& node_id) const {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return std::nullopt;
  return it->second.node;
}

std::vector<nomad::Node> Cluster::ListNodes(const std::string& prefix) const {
  std::vector<nomad::Node> out;
  for (const std::string& id : impl_->node_order) {
    if (id.rfind(prefix, 0) == 0) out.push_back(impl_->nodes.at(id).node);
  }
  return out;
}

Status Cluster::CrashNode(const std::string& node_id) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  Impl::NodeRec& n = it->second;
  if (n.crashed) return Status::Ok();
  n.crashed = true;
  if (n.client) {
    impl_->CrashPrograms(n, "node crashed");
    impl_->CancelClientTimers(n);
    n.client.reset();
  }
  return Status::Ok();
}

Status Cluster::CrashClient(const std::string& node_id) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  Impl::NodeRec& n = it->second;
  if (n.crashed || n.client_crashed) return Status::Ok();
  n.client_crashed = true;
  if (n.client) {
    n.client->alive = false;
    impl_->CancelClientTimers(n);
  }
  return Status::Ok();
}

Status Cluster::Partition(const std::string& node_id) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  it->second.partitioned = true;
  return Status::Ok();
}

Status Cluster::Heal(const std::string& node_id) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  it->second.partitioned = false;
  // Blocking queries and pending alloc updates resume at once; heartbeats at the next retry.
  impl_->SchedulePull(node_id);
  if (it->second.client && it->second.client->alive) impl_->ClientFlush(node_id);
  return Status::Ok();
}

Status Cluster::RestartNode(const std::string& node_id) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  Impl::NodeRec& n = it->second;
  if (n.crashed) {
    n.crashed = false;
    n.client_crashed = false;
    impl_->StartClient(n, /*fresh=*/true);
    return Status::Ok();
  }
  if (n.client_crashed) {
    n.client_crashed = false;
    impl_->StartClient(n, /*fresh=*/false);
    return Status::Ok();
  }
  return Status::Conflict("node is running");
}

void Cluster::LoseLeadership() {
  for (const std::string& id : impl_->node_order) {
    Impl::NodeRec& n = impl_->nodes.at(id);
    if (n.node.status == nomad::kNodeDown) continue;
    impl_->ArmServerTimer(n, opts_.failover_heartbeat_ttl);
  }
}

Status Cluster::SkewClock(const std::string& node_id, double rate) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  if (!(rate > 0)) return Status::InvalidSpec("clock rate must be > 0");
  it->second.clock->SetRate(rate);
  return Status::Ok();
}

std::optional<std::string> Cluster::NodeOfAlloc(const std::string& alloc_id) const {
  auto it = impl_->allocs.find(alloc_id);
  if (it == impl_->allocs.end()) return std::nullopt;
  return it->second.a.node_id;
}

bool Cluster::IsPartitioned(const std::string& node_id) const {
  auto it = impl_->nodes.find(node_id);
  return it != impl_->nodes.end() && it->second.partitioned;
}

bool Cluster::IsReachable(const std::string& node_id) const {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return false;
  const Impl::NodeRec& n = it->second;
  return !n.crashed && !n.client_crashed && !n.partitioned && n.client && n.client->alive;
}

std::vector<std::string> Cluster::NodeIds() const { return impl_->node_order; }

std::vector<ProgramRun> Cluster::RunningPrograms() const {
  std::vector<ProgramRun> out;
  for (const ProgramRun& r : program_runs_) {
    if (!r.ended) out.push_back(r);
  }
  return out;
}

ClusterState Cluster::State() const {
  ClusterState s;
  for (const std::string& id : impl_->node_order) {
    const Impl::NodeRec& n = impl_->nodes.at(id);
    NodeState ns;
    ns.node = n.node;
    ns.crashed = n.crashed;
    ns.client_crashed = n.client_crashed;
    ns.partitioned = n.partitioned;
    ns.clock_rate = n.clock->Rate();
    ns.last_heartbeat_server = n.last_hb_server;
    ns.server_heartbeat_deadline = n.server_deadline;
    s.nodes.push_back(ns);
    if (n.client) {
      for (const auto& [aid, ar] : n.client->runners) {
        s.client_allocations[aid] = FullView(ar->view);
      }
    }
  }
  for (const Allocation& a : ListAllocations("*", "")) {
    s.allocations.push_back(FullView(impl_->allocs.at(a.id).a));
  }
  s.running = RunningPrograms();
  return s;
}

}  // namespace nsg::sim
