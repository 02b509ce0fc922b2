// The public Cluster API of the Nomad model's server for jobs, evaluations and allocations:
// register (with check-and-set), deregister, plan, periodic launches, evaluate, reads and
// allocation stops, the program runs the tests inspect, and the state snapshot. The rest of the
// server is in state_store.cc (writes and events), scheduler.cc and scheduler_reconcile.cc (the
// scheduler) and nodes.cc (nodes and heartbeats); the client agent in client_agent.cc and
// alloc_runner.cc; cluster_impl.h holds the state they share.
#include "controller/sim/cluster.h"

#include <algorithm>

#include "controller/sim/cluster_impl.h"
#include "controller/sim/job_rules.h"

namespace nsg::sim {

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
