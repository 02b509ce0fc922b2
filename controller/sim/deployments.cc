#include "controller/sim/deployments.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "controller/nomad/codec.h"
#include "controller/nomad/limits.h"

namespace nsg::sim {
namespace {

using base::Duration;
using Json = nlohmann::ordered_json;

bool IsTerminal(const nomad::Allocation& a) {
  return a.client_status == "complete" || a.client_status == "failed" ||
         a.client_status == "lost";
}

}  // namespace

Deployments::Deployments(SimCore& core, Cluster& cluster) : core_(core), cluster_(cluster) {
  SubscribeRequest req;
  req.topics = {{"Job", {"*"}}, {"Allocation", {"*"}}};
  req.namespaces = {"*"};
  req.index = core_.Events().NewestIndex() + 1;
  sub_ = core_.Events().Subscribe(req);
}

Deployments::~Deployments() {
  core_.Events().Unsubscribe(sub_);
  for (SimCore::TimerId id : timers_) core_.Cancel(id);
}

void Deployments::Pump() {
  for (const nomad::Frame& f : core_.Events().Drain(sub_)) {
    for (const nomad::Event& ev : f.events) {
      if (ev.topic == "Job" && ev.job) OnJob(ev, f.index);
      if (ev.topic == "Allocation" && ev.allocation) OnAlloc(*ev.allocation, f.index);
    }
  }
}

Deployment* Deployments::Running(const std::string& ns, const std::string& job_id) {
  auto it = by_job_.find({ns, job_id});
  if (it == by_job_.end() || it->second.empty()) return nullptr;
  Deployment& d = by_id_.at(it->second.back());
  return d.status == "running" ? &d : nullptr;
}

void Deployments::OnJob(const nomad::Event& ev, uint64_t index) {
  const nomad::Job& job = *ev.job;
  const std::string ns = job.namespace_.empty() ? "default" : job.namespace_;
  Deployment* running = Running(ns, job.id);
  if (ev.deleted || job.stop) {
    if (running) Finish(*running, "cancelled", "Cancelled because job is stopped", index);
    return;
  }
  auto list = by_job_.find({ns, job.id});
  if (list != by_job_.end() && !list->second.empty()) {
    const Deployment& latest = by_id_.at(list->second.back());
    if (latest.job_version == job.version && latest.job_create_index == job.create_index) return;
  }
  if (running) Finish(*running, "cancelled", "Cancelled due to newer version of job", index);
  if (job.type != "service") return;
  Deployment d;
  for (const nomad::TaskGroup& g : job.task_groups) {
    auto u = nomad::UpdateStrategyOf(g);
    if (!u || u->max_parallel <= 0 || g.count <= 0) continue;  // UpdateStrategy.IsEmpty
    DeploymentGroup dg;
    dg.desired_total = g.count;
    dg.progress_deadline = u->progress_deadline;
    d.groups[g.name] = dg;
  }
  if (d.groups.empty()) return;  // no update strategy: no deployment (scheduler/reconcile.go)
  d.id = core_.NewUuid();
  d.namespace_ = ns;
  d.job_id = job.id;
  d.job_version = job.version;
  d.job_modify_index = job.job_modify_index;
  d.job_create_index = job.create_index;
  d.priority = job.priority;
  d.create_index = d.modify_index = index;
  d.create_time = d.modify_time = core_.UnixNanos();
  for (auto& [_, g] : d.groups) ArmProgress(d, g);
  by_job_[{ns, job.id}].push_back(d.id);
  by_id_.emplace(d.id, std::move(d));
}

void Deployments::ArmProgress(Deployment& d, DeploymentGroup& g) {
  if (g.progress_deadline <= Duration(0)) return;
  g.require_progress_by = core_.UnixNanos() + g.progress_deadline.count();
  Timer(g.progress_deadline, "deployment-progress", [this, id = d.id, by = g.require_progress_by] {
    Deployment& dd = by_id_.at(id);
    if (dd.status != "running") return;
    for (const auto& [_, gg] : dd.groups) {
      if (gg.require_progress_by == by && gg.healthy < gg.desired_total) {
        Finish(dd, "failed", "Failed due to progress deadline", core_.Index());
        return;
      }
    }
  });
}

void Deployments::OnAlloc(const nomad::Allocation& a, uint64_t index) {
  if (allocs_.count(a.id) == 0) {
    Deployment* d = Running(a.namespace_.empty() ? "default" : a.namespace_, a.job_id);
    if (d == nullptr || d->groups.count(a.task_group) == 0 || IsTerminal(a)) return;
    auto full = cluster_.GetAllocation(a.id);  // the job version it runs (events carry none)
    if (!full || !full->job || full->job->version != d->job_version) return;
    Tracked t;
    t.deployment_id = d->id;
    t.group = a.task_group;
    Duration healthy_deadline{0};
    for (const auto& g : full->job->task_groups) {
      if (g.name != a.task_group) continue;
      for (const auto& task : g.tasks) t.hooks[task.name] = task.lifecycle ? task.lifecycle->hook : "";
      if (auto u = nomad::UpdateStrategyOf(g)) {
        healthy_deadline = u->healthy_deadline;
        t.min_healthy = u->min_healthy_time;
      }
    }
    ++d->groups.at(a.task_group).placed;
    d->modify_index = index;
    Tracked& tr = Track(a.id, std::move(t));
    // The client's tracker gives up at HealthyDeadline after it starts watching.
    if (healthy_deadline > Duration(0)) {
      tr.deadline_timer = Timer(healthy_deadline, "alloc-healthy-deadline", [this, id = a.id] {
        auto it = allocs_.find(id);
        if (it != allocs_.end()) SetHealth(it->second, id, false, core_.Index());
      });
    }
  }
  Evaluate(a, index);
}

SimCore::TimerId Deployments::Timer(Duration d, const char* label, std::function<void()> fn) {
  std::weak_ptr<int> alive = alive_;
  auto holder = std::make_shared<SimCore::TimerId>(0);
  *holder = core_.After(d, label, [this, alive, holder, fn = std::move(fn)] {
    if (alive.expired()) return;
    timers_.erase(*holder);
    fn();
  });
  timers_.insert(*holder);
  return *holder;
}

void Deployments::CancelTimer(SimCore::TimerId& id) {
  if (id == 0) return;
  core_.Cancel(id);
  timers_.erase(id);
  id = 0;
}

void Deployments::Evaluate(const nomad::Allocation& a, uint64_t index) {
  auto it = allocs_.find(a.id);
  if (it == allocs_.end()) return;
  Tracked& t = it->second;
  if (a.client_status == "failed") {
    SetHealth(t, a.id, false, index);
    return;
  }
  int64_t latest = 0;
  bool pending = a.task_states.size() < t.hooks.size();  // a task not even reported yet
  for (const auto& [name, st] : a.task_states) {
    auto h = t.hooks.find(name);
    const std::string hook = h == t.hooks.end() ? "" : h->second;
    if (hook == "poststop") continue;
    if (hook == "poststart" && st.state == "dead" && !st.failed) continue;
    if (st.failed || (st.finished_at != 0 && hook != "prestart")) {
      SetHealth(t, a.id, false, index);
      return;
    }
    if (st.state == "pending") pending = true;
    latest = std::max(latest, st.started_at);
  }
  if (pending || latest == 0) {
    CancelTimer(t.healthy_timer);
    t.all_started_at = 0;
    return;
  }
  if (latest == t.all_started_at && t.healthy_timer != 0) return;
  t.all_started_at = latest;
  CancelTimer(t.healthy_timer);
  const Duration wait =
      std::max(Duration(0), Duration(latest + t.min_healthy.count() - core_.UnixNanos()));
  t.healthy_timer = Timer(wait, "alloc-min-healthy", [this, id = a.id, latest] {
    auto it2 = allocs_.find(id);
    if (it2 == allocs_.end() || it2->second.all_started_at != latest) return;
    it2->second.healthy_timer = 0;
    SetHealth(it2->second, id, true, core_.Index());
  });
}

void Deployments::SetHealth(Tracked& t, const std::string& alloc_id, bool healthy,
                            uint64_t index) {
  const std::string deployment_id = t.deployment_id, group = t.group;
  CancelTimer(t.healthy_timer);
  CancelTimer(t.deadline_timer);
  decided_[alloc_id] = healthy;
  // Decided: no longer watched (`t` is gone from here on).
  if (auto it = allocs_.find(alloc_id); it != allocs_.end()) Untrack(it);
  Deployment& d = by_id_.at(deployment_id);
  if (d.status != "running") return;
  DeploymentGroup& g = d.groups.at(group);
  d.modify_index = std::max(d.modify_index, index);
  d.modify_time = core_.UnixNanos();
  if (!healthy) {
    ++g.unhealthy;
    if (g.progress_deadline <= Duration(0)) {
      Finish(d, "failed", "Failed due to unhealthy allocations", index);
    }
    return;
  }
  ++g.healthy;
  ArmProgress(d, g);  // each healthy allocation moves RequireProgressBy forward
  const bool done = std::all_of(d.groups.begin(), d.groups.end(), [](const auto& kv) {
    return kv.second.healthy >= kv.second.desired_total;
  });
  if (done) Finish(d, "successful", "Deployment completed successfully", index);
}

void Deployments::Finish(Deployment& d, const std::string& status, const std::string& why,
                         uint64_t index) {
  d.status = status;
  d.status_description = why;
  d.modify_index = std::max(d.modify_index, index);
  d.modify_time = core_.UnixNanos();
  auto ids = allocs_by_deployment_.find(d.id);
  if (ids == allocs_by_deployment_.end()) return;
  const std::set<std::string> mine = ids->second;  // Untrack edits the index
  for (const auto& id : mine) {
    auto it = allocs_.find(id);
    if (it == allocs_.end()) continue;
    CancelTimer(it->second.healthy_timer);
    CancelTimer(it->second.deadline_timer);
    Untrack(it);
  }
}

Deployments::Tracked& Deployments::Track(const std::string& alloc_id, Tracked t) {
  allocs_by_deployment_[t.deployment_id].insert(alloc_id);
  return allocs_.insert_or_assign(alloc_id, std::move(t)).first->second;
}

void Deployments::Untrack(std::map<std::string, Tracked>::iterator it) {
  auto ids = allocs_by_deployment_.find(it->second.deployment_id);
  if (ids != allocs_by_deployment_.end() && ids->second.erase(it->first) && ids->second.empty()) {
    allocs_by_deployment_.erase(ids);
  }
  allocs_.erase(it);
}

std::vector<Deployment> Deployments::ForJob(const std::string& ns,
                                            const std::string& job_id) const {
  std::vector<Deployment> out;
  auto it = by_job_.find({ns, job_id});
  if (it == by_job_.end()) return out;
  for (auto r = it->second.rbegin(); r != it->second.rend(); ++r) out.push_back(by_id_.at(*r));
  return out;
}

std::optional<Deployment> Deployments::Latest(const std::string& ns,
                                               const std::string& job_id) const {
  auto all = ForJob(ns, job_id);
  if (all.empty()) return std::nullopt;
  return all.front();
}

std::optional<bool> Deployments::AllocHealthy(const std::string& alloc_id) const {
  auto it = decided_.find(alloc_id);
  if (it == decided_.end()) return std::nullopt;
  return it->second;
}

uint64_t Deployments::JobIndex(const std::string& ns, const std::string& job_id) const {
  uint64_t index = 1;
  for (const Deployment& d : ForJob(ns, job_id)) index = std::max(index, d.modify_index);
  return index;
}

std::string Deployments::Encode(const Deployment& d) {
  Json groups = Json::object();
  for (const auto& [name, g] : d.groups) {
    Json j;
    j["AutoRevert"] = g.auto_revert;
    j["AutoPromote"] = false;
    j["ProgressDeadline"] = g.progress_deadline.count();
    j["RequireProgressBy"] = g.require_progress_by == 0 ? "0001-01-01T00:00:00Z"
                                                         : nomad::FormatRfc3339(g.require_progress_by);
    j["Promoted"] = false;
    j["PlacedCanaries"] = nullptr;
    j["DesiredCanaries"] = 0;
    j["DesiredTotal"] = g.desired_total;
    j["PlacedAllocs"] = g.placed;
    j["HealthyAllocs"] = g.healthy;
    j["UnhealthyAllocs"] = g.unhealthy;
    groups[name] = std::move(j);
  }
  Json j;
  j["ID"] = d.id;
  j["Namespace"] = d.namespace_;
  j["JobID"] = d.job_id;
  j["JobVersion"] = d.job_version;
  j["JobModifyIndex"] = d.job_modify_index;
  j["JobSpecModifyIndex"] = d.job_modify_index;
  j["JobCreateIndex"] = d.job_create_index;
  j["IsMultiregion"] = false;
  j["TaskGroups"] = std::move(groups);
  j["Status"] = d.status;
  j["StatusDescription"] = d.status_description;
  j["EvalPriority"] = d.priority;
  j["CreateIndex"] = d.create_index;
  j["ModifyIndex"] = d.modify_index;
  j["CreateTime"] = d.create_time;
  j["ModifyTime"] = d.modify_time;
  return j.dump();
}

}  // namespace nsg::sim
