// The Nomad model's state store: one Raft write at a time (Begin, then Commit, which derives the
// job statuses and emits the events of everything the write touched), evaluations created and
// queued for the scheduler, workload identities revoked, and the indexes of allocations and
// evaluations by job and node.
#include <algorithm>

#include "controller/sim/cluster.h"
#include "controller/sim/cluster_impl.h"

namespace nsg::sim {

namespace {

bool EvalTerminal(const Evaluation& e) {
  return e.status == "complete" || e.status == "failed" || e.status == "canceled";
}

}  // namespace

// ---- Writes and events --------------------------------------------------------------------------

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
  // Each client pulls the allocations of this write that are on its node.
  for (const auto& [node, ids] : w.pulls) SchedulePull(node, ids);
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

}  // namespace nsg::sim
