#include "controller/reconcile/reconciler.h"

#include <algorithm>
#include <utility>

namespace nsg::reconcile {
namespace {

using base::Status;
using base::StatusCode;
using Outcome = ReconcileResult::Outcome;

std::pair<std::string, std::string> SplitKey(const SingletonKey& key) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

Outcome OutcomeOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return Outcome::kDone;
    case StatusCode::kInvalidSpec: return Outcome::kPermanent;
    case StatusCode::kCancelled: return Outcome::kCancelled;
    case StatusCode::kNotFound:
    case StatusCode::kConflict:
    case StatusCode::kUnavailable:
    case StatusCode::kPermissionDenied:
    case StatusCode::kInternal: return Outcome::kRetry;
  }
  return Outcome::kRetry;
}

// The Synced condition says what went wrong when an action failed.
void MarkFailed(PlanResult& plan, const Action& a, const Status& s) {
  for (auto& c : plan.conditions) {
    if (c.type != ConditionType::kSynced) continue;
    c.status = false;
    c.reason = s.code() == StatusCode::kInvalidSpec ? "RejectedByNomad"
               : s.code() == StatusCode::kPermissionDenied ? "PermissionDenied"
                                                           : "ActionFailed";
    c.message = Describe(a) + ": " + s.ToString();
  }
}

}  // namespace

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kDone: return "done";
    case Outcome::kRetry: return "retry";
    case Outcome::kPermanent: return "permanent";
    case Outcome::kCancelled: return "cancelled";
  }
  return "?";
}

Reconciler::Reconciler(nomad::NomadApi& api, ClusterView& view, const base::Clock& clock,
                       Options options)
    : api_(api), view_(view), clock_(clock), options_(options) {}

Status Reconciler::ReadLock(const Desired& d) {
  const auto [ns, name] = SplitKey(d.key);
  std::string path = view_.LockPathOf(d.key);
  if (path.empty() && d.rendered) {
    if (auto m = d.rendered->summary.Meta(render::kMetaLockPath)) path = *m;
  }
  if (path.empty()) return Status::Ok();
  nomad::QueryOptions q;
  q.namespace_ = ns;
  auto var = api_.ReadVariable(path, q);
  if (var.ok()) {
    view_.ApplyVariableRead(ns, path, var->value, var->meta.last_index);
  } else if (var.status().code() == StatusCode::kNotFound) {
    view_.ApplyVariableRead(ns, path, std::nullopt, 0);
  } else {
    return var.status();
  }
  return Status::Ok();
}

base::Result<Observed> Reconciler::Observe(const Desired& d, bool* lock_read) {
  Observed o = view_.ObservedFor(d.key);
  // The lock: read it when the view cannot say who holds it.
  if (!o.lock.known || (o.lock.holder && o.lock.holder->alloc_id.empty())) {
    if (Status st = ReadLock(d); !st.ok()) return st;
    if (lock_read) *lock_read = true;
    o = view_.ObservedFor(d.key);
  }
  // The policy: only a valid spec has one to compare with.
  const std::string policy_name = d.rendered ? d.rendered->policy.name : "";
  auto cached = d.state == SpecState::kValid ? CachedPolicy(policy_name) : std::nullopt;
  if (cached) {
    o.policy = *cached;
  } else if (d.state == SpecState::kValid && d.rendered && AclProbeDue()) {
    auto policy = api_.ReadAclPolicy(policy_name);
    if (policy.ok()) {
      o.policy = std::move(policy).value();
      StorePolicy(policy_name, o.policy);
      NoteAcls(/*disabled=*/false);
    } else if (policy.status().code() == StatusCode::kNotFound) {
      StorePolicy(policy_name, std::nullopt);
      NoteAcls(/*disabled=*/false);
    } else if (policy.status().code() == StatusCode::kInvalidSpec) {
      // A read by name is refused for good only by a cluster without ACLs ("ACL support
      // disabled"): there is no policy to keep.
      NoteAcls(/*disabled=*/true);
    } else {
      return policy.status();
    }
  }
  o.acl_disabled = AclsDisabled();
  return o;
}

void Reconciler::NotePolicyList(const std::vector<nomad::AclPolicy>& stubs) {
  std::lock_guard lock(acl_mu_);
  policy_list_known_ = true;
  listed_policies_.clear();
  for (const auto& p : stubs) listed_policies_[p.name] = p.modify_index;
}

std::optional<std::optional<nomad::AclPolicy>> Reconciler::CachedPolicy(
    const std::string& name) const {
  std::lock_guard lock(acl_mu_);
  if (!policy_list_known_ || name.empty()) return std::nullopt;
  auto c = policy_cache_.find(name);
  if (c == policy_cache_.end()) return std::nullopt;
  auto l = listed_policies_.find(name);
  if (!c->second) {  // known absent: still absent in the list
    if (l != listed_policies_.end()) return std::nullopt;
    return std::optional<nomad::AclPolicy>();
  }
  if (l == listed_policies_.end() || l->second != c->second->modify_index) return std::nullopt;
  return c->second;
}

void Reconciler::StorePolicy(const std::string& name,
                             const std::optional<nomad::AclPolicy>& policy) {
  std::lock_guard lock(acl_mu_);
  policy_cache_[name] = policy;
  // A read is newer than the list it follows.
  if (policy) {
    listed_policies_[name] = policy->modify_index;
  } else {
    listed_policies_.erase(name);
  }
}

void Reconciler::ForgetPolicy(const std::string& name) {
  std::lock_guard lock(acl_mu_);
  policy_cache_.erase(name);
}

bool Reconciler::AclProbeDue() const {
  std::lock_guard lock(acl_mu_);
  return !acl_disabled_ || clock_.Now() - acl_probed_at_ >= options_.acl_probe_interval;
}

void Reconciler::NoteAcls(bool disabled) {
  std::lock_guard lock(acl_mu_);
  if (disabled) acl_probed_at_ = clock_.Now();
  acl_disabled_ = disabled;
}

bool Reconciler::AclsDisabled() const {
  std::lock_guard lock(acl_mu_);
  return acl_disabled_;
}

void Reconciler::ReleaseDetailIfSettled(const Desired& desired,
                                        const std::optional<nomad::Job>& planned_on,
                                        bool detailed, const Memory& memory) {
  if (!planned_on || !detailed) return;
  if (!NeedsJobDetail(desired, planned_on->job_modify_index, planned_on->stop, memory)) {
    view_.ReleaseJobDetail(desired.key, planned_on->job_modify_index, planned_on->stop);
  }
}

Status Reconciler::RefreshJob(const std::string& ns, const std::string& id) {
  nomad::QueryOptions q;
  q.namespace_ = ns;
  auto job = api_.ReadJob(id, q);
  if (job.ok()) {
    view_.ApplyJobRead(job->value);
    return Status::Ok();
  }
  if (job.status().code() == StatusCode::kNotFound) {
    view_.ApplyJobMissing(ns, id, /*index=*/0);  // as of now
    return Status::Ok();
  }
  return job.status();
}

Status Reconciler::Execute(const Action& a, Memory& memory, ReconcileResult& out) {
  nomad::WriteOptions w;
  w.namespace_ = a.namespace_;
  switch (a.kind) {
    case Action::Kind::kUpsertPolicy: {
      // A policy Nomad refuses for good must not block the job: without ACLs the lock task needs
      // no policy, and with ACLs a missing policy fails closed (the lock task cannot take the
      // lock, so no workload starts).
      ForgetPolicy(a.policy.name);  // whatever happens, read it again next time
      Status st = api_.UpsertAclPolicy(a.policy);
      if (st.ok()) NoteAcls(/*disabled=*/false);
      if (st.code() == StatusCode::kInvalidSpec) {
        ++out.policies_skipped;
        return Status::Ok();
      }
      return st;
    }
    case Action::Kind::kRegisterJob: {
      nomad::RegisterRequest req = a.registration;
      if (a.rendered) {
        auto encoded = a.rendered->EncodedJob();
        if (!encoded.ok()) return encoded.status();
        req.encoded_job = std::move(encoded).value();
      }
      auto r = api_.RegisterJob(req, w);
      if (!r.ok()) return r.status();
      memory.written_job_modify_index = r->job_modify_index;
      return Status::Ok();
    }
    case Action::Kind::kStopAllocation: {
      auto r = api_.StopAllocation(a.alloc_id, /*no_shutdown_delay=*/false);
      if (r.ok()) {
        ++out.enforcement_stops;
        return Status::Ok();
      }
      return r.status().code() == StatusCode::kNotFound ? Status::Ok() : r.status();
    }
    case Action::Kind::kDeregisterJob: {
      auto r = api_.DeregisterJob(a.job_id, a.purge, w);
      return r.ok() ? Status::Ok() : r.status();
    }
  }
  return Status::Internal("unknown action kind");
}

base::Result<Observed> Reconciler::ObserveForPlan(const Desired& desired, const Memory& memory,
                                                  bool* lock_read, int& detail_reads) {
  auto observed = Observe(desired, lock_read);
  if (!observed.ok()) return observed;
  observed->memory = memory;
  if (observed->job_detailed || !NeedsJobDetail(desired, *observed)) return observed;
  // The view keeps a summary of the job; this plan compares every field: read it whole.
  const std::string ns = observed->job->namespace_, id = observed->job->id;
  if (Status st = RefreshJob(ns, id); !st.ok()) return st;
  ++detail_reads;
  observed = Observe(desired, lock_read);
  if (!observed.ok()) return observed;
  observed->memory = memory;
  if (!observed->job_detailed && NeedsJobDetail(desired, *observed)) {
    // The read was older than the summary the view holds (it keeps the newer one): never
    // compare against a summary; try again.
    return Status::Unavailable("job " + desired.key +
                               ": the read is older than the job the view holds");
  }
  return observed;
}

ReconcileResult Reconciler::Reconcile(const Desired& desired, Memory& memory) {
  ReconcileResult out;
  for (int attempt = 0;; ++attempt) {
    bool lock_read = false;
    auto observed = ObserveForPlan(desired, memory, &lock_read, out.job_detail_reads);
    if (!observed.ok()) {
      out.status = observed.status();
      out.outcome = OutcomeOf(out.status);
      return out;
    }
    PlanOptions po;
    po.now = clock_.Now();
    po.prune = options_.prune;
    po.holder_unknown_requeue = options_.holder_unknown_requeue;
    out.plan = Plan(desired, *observed, po);
    const bool stops = std::any_of(out.plan.actions.begin(), out.plan.actions.end(),
                                   [](const Action& a) {
                                     return a.kind == Action::Kind::kStopAllocation;
                                   });
    if (stops && !lock_read && !options_.dry_run) {
      // The view may lag the lock by an event: a holder it has not seen yet must never be taken
      // for an extra. Confirm who holds the lock now, then plan again on the same observation.
      if (Status st = ReadLock(desired); !st.ok()) {
        out.status = st;
        out.outcome = OutcomeOf(st);
        return out;
      }
      Observed again = view_.ObservedFor(desired.key);
      again.policy = observed->policy;
      again.acl_disabled = observed->acl_disabled;
      again.memory = memory;
      if (!again.job_detailed && NeedsJobDetail(desired, again)) {
        // A Job event brought a summary meanwhile (and queued the key again): plan on the first
        // observation's job, never on a summary the plan cannot compare.
        again.job = observed->job;
        again.job_detailed = observed->job_detailed;
      }
      out.plan = Plan(desired, again, po);
      observed = std::move(again);
    }
    out.requeue_after = out.plan.requeue_after;
    memory = out.plan.memory;
    if (options_.dry_run) return out;
    ReleaseDetailIfSettled(desired, observed->job, observed->job_detailed, memory);

    bool replan = false;
    for (const Action& a : out.plan.actions) {
      Status s = Execute(a, memory, out);
      if (s.ok()) {
        out.executed.push_back(Describe(a));
        continue;
      }
      if (a.kind == Action::Kind::kRegisterJob && s.code() == StatusCode::kConflict &&
          attempt < options_.max_conflict_retries) {
        // Lost the check-and-set: someone (or a stale view) moved the job. Re-read, plan again.
        ++out.conflicts;
        if (Status r = RefreshJob(a.namespace_, a.job_id); !r.ok()) s = r;
        else replan = true;
      }
      if (replan) break;
      MarkFailed(out.plan, a, s);
      out.status = s;
      out.outcome = OutcomeOf(s);
      return out;
    }
    if (!replan) {
      // A register moved the written index: the job planned on may now be settled.
      ReleaseDetailIfSettled(desired, observed->job, observed->job_detailed, memory);
      return out;
    }
  }
}

}  // namespace nsg::reconcile
