#include "controller/reconcile/plan.h"

#include <algorithm>

#include "controller/reconcile/drift.h"

namespace nsg::reconcile {
namespace {

using Kind = Action::Kind;

struct Sync {
  bool ok = true;
  std::string reason;
  std::string message;
};

std::string JobRef(const std::string& ns, const std::string& id) { return ns + "/" + id; }

bool SamePolicy(const nomad::AclPolicy& a, const nomad::AclPolicy& b) {
  return a.name == b.name && a.description == b.description && a.rules == b.rules &&
         a.job_acl == b.job_acl;
}

int TotalCount(const nomad::Job& job) {
  int n = 0;
  for (const auto& g : job.task_groups) n += g.count;
  return n;
}

const nomad::Allocation* FindAlloc(const Observed& o, const std::string& id) {
  for (const auto& a : o.allocations) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

std::string Short(const std::string& id) { return id.substr(0, 8); }

// Why the holder's allocation can no longer be trusted to run the workload; "" when it can.
std::string LostCause(const Observed& o, const nomad::Allocation& a) {
  if (a.client_status == nomad::kClientLost || a.client_status == nomad::kClientFailed ||
      a.client_status == nomad::kClientUnknown) {
    return "allocation " + a.client_status;
  }
  auto n = o.node_status.find(a.node_id);
  if (n != o.node_status.end() &&
      (n->second == nomad::kNodeDown || n->second == nomad::kNodeDisconnected)) {
    return "node " + n->second;
  }
  return "";
}

bool IsRunning(const nomad::Allocation& a) {
  return a.client_status == nomad::kClientRunning && a.desired_status == nomad::kDesiredRun;
}

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string s;
  for (const auto& id : ids) s += (s.empty() ? "" : ", ") + Short(id);
  return s;
}

Action RegisterAction(const std::shared_ptr<const render::CompactRendered>& r, uint64_t enforce,
                      const std::string& reason) {
  Action a;
  a.kind = Kind::kRegisterJob;
  a.reason = reason;
  a.registration.job.id = r->summary.id;
  a.registration.job.namespace_ = r->summary.namespace_;
  a.registration.enforce_index = true;
  a.registration.job_modify_index = enforce;
  a.rendered = r;
  a.job_id = r->summary.id;
  a.namespace_ = r->summary.namespace_;
  return a;
}

Action PolicyAction(const nomad::AclPolicy& p, const std::string& reason) {
  Action a;
  a.kind = Kind::kUpsertPolicy;
  a.reason = reason;
  a.policy = p;
  return a;
}

// Picks the allocations to stop so that at most `limit` stay live and only one lock claimant
// stays: past holders that are still live first (newest epoch first), then the newest remaining
// allocations. Never the holder.
std::vector<std::string> ChooseExtras(const Observed& o,
                                      const std::vector<const nomad::Allocation*>& live,
                                      const std::string& holder, int limit) {
  std::vector<std::string> extras;
  auto is_live = [&](const std::string& id) {
    return std::any_of(live.begin(), live.end(), [&](auto* a) { return a->id == id; });
  };
  auto chosen = [&](const std::string& id) {
    return std::find(extras.begin(), extras.end(), id) != extras.end();
  };
  // Past holders still live. With no current holder, the newest of them may keep going.
  bool kept_one = !holder.empty();
  for (const auto& h : o.lock.history) {  // newest first
    if (h.alloc_id.empty() || h.alloc_id == holder || !is_live(h.alloc_id) || chosen(h.alloc_id)) {
      continue;
    }
    if (!kept_one) {
      kept_one = true;
      continue;
    }
    extras.push_back(h.alloc_id);
  }
  std::vector<const nomad::Allocation*> rest;
  for (auto* a : live) {
    if (a->id != holder && !chosen(a->id)) rest.push_back(a);
  }
  std::sort(rest.begin(), rest.end(), [](auto* x, auto* y) {
    if (x->create_index != y->create_index) return x->create_index > y->create_index;
    return x->id > y->id;
  });
  // Allocations beyond the count are stopped only while someone holds the lock: with the lock
  // free, the next to acquire it could be any of them (stopping it would stop the new holder),
  // and none runs its workload, so waiting for a holder costs nothing.
  if (holder.empty()) return extras;
  int remaining = static_cast<int>(live.size() - extras.size());
  for (auto* a : rest) {
    if (remaining <= limit) break;
    extras.push_back(a->id);
    --remaining;
  }
  return extras;
}

}  // namespace

bool IsOwned(const nomad::Job& job) {
  auto it = job.meta.find(render::kMetaManagedBy);
  return it != job.meta.end() && it->second == render::kManagedByValue;
}

bool IsPeriodic(const nomad::Job& job) { return job.periodic && job.periodic->enabled; }

bool IsLive(const nomad::Allocation& a) {
  const bool active = a.client_status == nomad::kClientRunning ||
                      a.client_status == nomad::kClientPending ||
                      a.client_status == nomad::kClientUnknown;
  return active && a.desired_status == nomad::kDesiredRun &&
         !a.desired_transition.migrate.value_or(false);
}

const char* ConditionTypeName(ConditionType t) {
  switch (t) {
    case ConditionType::kReady: return "Ready";
    case ConditionType::kSynced: return "Synced";
    case ConditionType::kDegraded: return "Degraded";
    case ConditionType::kConflict: return "Conflict";
    case ConditionType::kOrphaned: return "Orphaned";
    case ConditionType::kInvalid: return "Invalid";
  }
  return "?";
}

std::string Describe(const Action& a) {
  switch (a.kind) {
    case Kind::kUpsertPolicy:
      return "upsert-policy " + a.policy.name + " (" + a.reason + ")";
    case Kind::kRegisterJob:
      return "register " + JobRef(a.namespace_, a.job_id) +
             " enforce=" + std::to_string(a.registration.job_modify_index) + " (" + a.reason + ")";
    case Kind::kStopAllocation:
      return "stop " + a.alloc_id + " (" + a.reason + ")";
    case Kind::kDeregisterJob:
      return "deregister " + JobRef(a.namespace_, a.job_id) + (a.purge ? " purge" : "") + " (" +
             a.reason + ")";
  }
  return "?";
}

const Condition* PlanResult::Find(ConditionType t) const {
  for (const auto& c : conditions) {
    if (c.type == t) return &c;
  }
  return nullptr;
}

bool NeedsJobDetail(const Desired& d, uint64_t job_modify_index, bool stop, const Memory& m) {
  if (d.state != SpecState::kValid || !d.rendered) return false;
  if (job_modify_index <= m.written_job_modify_index) return false;
  // CheckDriftMemo's key: a remembered report needs no job fields.
  return !(m.drift && m.drift->job_modify_index == job_modify_index && m.drift->stop == stop &&
           m.drift->spec_hash == d.rendered->spec_hash);
}

bool NeedsJobDetail(const Desired& d, const Observed& o) {
  return o.job && NeedsJobDetail(d, o.job->job_modify_index, o.job->stop, o.memory);
}

PlanResult Plan(const Desired& d, const Observed& o, const PlanOptions& opt) {
  PlanResult r;
  r.memory = o.memory;
  const nomad::Job* job = o.job ? &*o.job : nullptr;
  if (job == nullptr) r.memory.drift.reset();
  const bool valid = d.state == SpecState::kValid && d.rendered != nullptr;
  // The rendered job's summary as a Job (the checks below take Jobs): ~1 µs per plan.
  const std::optional<nomad::Job> want_summary =
      valid ? std::optional<nomad::Job>(nomad::WholeOf(d.rendered->summary)) : std::nullopt;
  const bool owned = job != nullptr && IsOwned(*job);
  const bool adopting = job != nullptr && !owned && valid && d.adopt;
  const bool ours = owned || adopting;
  const std::string job_ref = job ? JobRef(job->namespace_, job->id) : d.key;

  Sync sync;
  std::vector<Condition> extra_conditions;
  bool deregistering = false;

  // ---- The job and its policy ----
  if (job != nullptr && !ours && d.state != SpecState::kAbsent) {
    extra_conditions.push_back(
        {ConditionType::kConflict, true, "JobNotOwned",
         "job " + job_ref + " exists and is not managed by nomad-singleton (Meta " +
             render::kMetaManagedBy + " is not \"" + render::kManagedByValue +
             "\"); it is left alone. Set spec.adopt: true to take it over"});
  }
  switch (d.state) {
    case SpecState::kValid: {
      if (!valid) break;  // a kValid Desired without Rendered is a caller bug: do nothing
      const render::CompactRendered& want = *d.rendered;
      // Without ACLs there is no policy to keep (Nomad refuses the policy endpoints).
      const bool policy_differs =
          !o.acl_disabled && (!o.policy || !SamePolicy(*o.policy, want.policy));
      if (job == nullptr) {
        if (policy_differs) r.actions.push_back(PolicyAction(want.policy, "Creating"));
        r.actions.push_back(RegisterAction(d.rendered, 0, "Creating"));
        sync = {false, "Creating", "job " + d.key + " does not exist; registering it"};
        break;
      }
      if (!ours) {
        sync = {false, "Conflict", "a job with this ID exists and is not ours"};
        break;
      }
      // Reasons to register, most specific first.
      std::vector<std::pair<std::string, std::string>> why;
      const bool changed_outside = job->job_modify_index > o.memory.written_job_modify_index;
      if (adopting) why.push_back({"Adopting", "taking over job " + job_ref + " (spec.adopt)"});
      auto hash = job->meta.find(render::kMetaSpecHash);
      const std::string got_hash = hash == job->meta.end() ? "" : hash->second;
      // Field-level differences only count when someone else wrote the job after us; otherwise
      // they are the server's normalization of what we sent (re-sending would change nothing),
      // and only Stop and Count are checked: encoding and comparing the two jobs is most of a
      // reconcile's cost.
      DriftReport drift;
      if (changed_outside) {
        drift = CheckDriftMemo(want, *job, r.memory.drift);
      } else {
        drift.invariants = CheckStopAndCount(*want_summary, *job);
        r.memory.drift.reset();
      }
      const std::vector<InvariantDrift>& inv = drift.invariants;
      for (const auto& i : inv) {
        if (i.reason == "JobStopped") why.push_back({i.reason, i.message});
      }
      if (!adopting && got_hash != want.spec_hash) {
        why.push_back({"SpecChanged", "spec hash " + (got_hash.empty() ? "(none)" : got_hash) +
                                          " -> " + want.spec_hash});
      }
      for (const auto& i : inv) {
        if (i.reason == "CountDrifted") why.push_back({i.reason, i.message});
      }
      const std::vector<std::string>& fields = drift.fields;
      if (changed_outside) {
        for (const auto& i : inv) {
          if (i.reason == "LockTaskDrifted" || i.reason == "DisconnectDrifted") {
            why.push_back({i.reason, i.message});
          }
        }
      }
      if (changed_outside && !fields.empty()) {
        std::string list;
        for (const auto& f : fields) list += (list.empty() ? "" : ", ") + f;
        why.push_back({"Drifted", "changed outside the controller: " + list});
      }
      if (policy_differs) {
        r.actions.push_back(
            PolicyAction(want.policy, why.empty() ? "PolicyDrifted" : why.front().first));
      }
      if (!why.empty()) {
        r.actions.push_back(
            RegisterAction(d.rendered, job->job_modify_index, why.front().first));
        std::string msg;
        for (const auto& [reason, m] : why) msg += (msg.empty() ? "" : "; ") + m;
        sync = {false, why.front().first, msg};
      } else if (policy_differs) {
        sync = {false, "PolicyDrifted",
                o.policy ? "ACL policy " + want.policy.name + " differs; updating it"
                         : "ACL policy " + want.policy.name + " is missing; creating it"};
      } else {
        sync = {true, "InSync",
                o.acl_disabled ? "job matches the spec (the cluster has no ACLs: no policy)"
                               : "job and ACL policy match the spec"};
      }
      break;
    }
    case SpecState::kInvalid: {
      const std::string reason = d.invalid_reason.empty() ? kReasonInvalidSpec : d.invalid_reason;
      extra_conditions.push_back({ConditionType::kInvalid, true, reason, d.invalid_message});
      sync = {false, reason,
              reason == kReasonInvalidSpec
                  ? "the spec is invalid; the job in Nomad is left as it is until the spec is fixed"
                  : "the spec could not be read or its deletion is not confirmed; the job in Nomad "
                    "is left as it is"};
      break;
    }
    case SpecState::kAbsent: {
      if (owned && !job->stop) {
        if (opt.prune && !d.keep_on_delete) {
          Action a;
          a.kind = Kind::kDeregisterJob;
          a.reason = "Deleting";
          a.job_id = job->id;
          a.namespace_ = job->namespace_;
          a.purge = false;
          r.actions.push_back(a);
          deregistering = true;
          sync = {false, "Deleting", "the spec was deleted; deregistering job " + job_ref +
                                         " (without purge)"};
        } else {
          const std::string why_kept =
              d.keep_on_delete ? "KeepOnDelete" : "PruneDisabled";
          const std::string msg =
              d.keep_on_delete
                  ? std::string("the spec was deleted; the job is kept (annotation ") +
                        spec::kAnnotationKeep + ")"
                  : "the spec was deleted; the job is kept because --prune is off";
          extra_conditions.push_back({ConditionType::kOrphaned, true, why_kept, msg});
          sync = {false, "Orphaned", msg};
        }
      } else if (owned) {
        sync = {true, "Deleted", "the spec was deleted and job " + job_ref + " is stopped"};
      } else if (job != nullptr) {
        sync = {true, "Deleted", "the spec was deleted; job " + job_ref + " is not ours"};
      } else {
        sync = {true, "Deleted", "the spec was deleted and there is no job"};
      }
      break;
    }
  }

  // ---- Enforcement and failover tracking (jobs of ours only) ----
  const bool enforce = ours && !deregistering;
  // A periodic parent has no allocations of its own: its runs are child jobs
  // ("<id>/periodic-<ts>") whose allocations the ClusterView files under the parent's key, so
  // at-most-one is enforced over the children (ProhibitOverlap keeps runs apart; a run that
  // overlaps anyway is a duplicate like any other), and no live allocation between runs is normal.
  const nomad::Job* shape = valid ? &*want_summary : job;
  const bool periodic = shape != nullptr && IsPeriodic(*shape);
  const std::optional<LockHolder>& holder = o.lock.holder;
  const bool holder_unknown = !o.lock.known || (holder && holder->alloc_id.empty());
  const std::string holder_id = holder ? holder->alloc_id : "";
  std::vector<std::string> extras;
  std::vector<const nomad::Allocation*> live;
  if (enforce) {
    for (const auto& a : o.allocations) {
      if (IsLive(a)) live.push_back(&a);
      if (IsRunning(a)) ++r.stats.running_allocations;
    }
    r.stats.live_allocations = static_cast<int>(live.size());
    r.stats.limit = valid ? TotalCount(*want_summary) : TotalCount(*job);
    r.stats.lock_held = holder.has_value();
    const nomad::Allocation* holder_alloc =
        holder && !holder_unknown ? FindAlloc(o, holder_id) : nullptr;
    const std::string cause = holder_alloc ? LostCause(o, *holder_alloc) : "";
    if (holder_unknown) {
      // Cannot tell the holder from the rest: stopping anything might stop the holder.
      r.requeue_after = opt.holder_unknown_requeue;
    } else {
      // A holder that is being failed over (its allocation unknown, its node down) does not count
      // against the limit: Nomad is replacing it, and the replacement is the failover target.
      std::vector<const nomad::Allocation*> counted;
      for (auto* a : live) {
        if (cause.empty() || a->id != holder_id) counted.push_back(a);
      }
      extras = ChooseExtras(o, counted, holder_id, r.stats.limit);
      if (holder_id.empty() && static_cast<int>(counted.size() - extras.size()) > r.stats.limit) {
        r.requeue_after = opt.holder_unknown_requeue;  // extras wait for a holder
      }
    }
    std::set<std::string> present;
    for (const auto& a : o.allocations) present.insert(a.id);
    std::erase_if(r.memory.counted_duplicates,
                  [&](const std::string& id) { return present.count(id) == 0; });
    for (const auto& id : extras) {
      Action a;
      a.kind = Kind::kStopAllocation;
      a.reason = "Duplicates";
      a.alloc_id = id;
      r.actions.push_back(a);
      if (r.memory.counted_duplicates.insert(id).second) {
        r.events.push_back({PlanEvent::Kind::kDuplicateObserved, id, "", Duration(0),
                            "allocation " + id + " is a duplicate; stopping it"});
      }
    }
    r.stats.duplicates = static_cast<int>(extras.size());

    // Failover: started when the holder's allocation is lost (or its node is), completed when a
    // newer holder appears.
    bool completed = false;
    if (r.memory.failover) {
      const FailoverRecord& f = *r.memory.failover;
      if (holder && !holder_unknown && holder->epoch > f.from_epoch) {
        const Duration took = opt.now - f.started_at;
        r.events.push_back({PlanEvent::Kind::kFailoverCompleted, f.from_alloc, holder_id, took,
                            "failover from " + Short(f.from_alloc) + " to " + Short(holder_id) +
                                " took " + base::FormatDuration(took)});
        r.memory.failover.reset();
        completed = true;
      } else if (holder && holder_id == f.from_alloc && holder->epoch == f.from_epoch &&
                 holder_alloc != nullptr && cause.empty() && IsRunning(*holder_alloc)) {
        r.events.push_back({PlanEvent::Kind::kFailoverAborted, holder_id, "", Duration(0),
                            "holder " + Short(holder_id) + " is back with its lock"});
        r.memory.failover.reset();
      }
    }
    if (!r.memory.failover && holder_alloc != nullptr && !cause.empty()) {
      r.memory.failover = FailoverRecord{opt.now, holder_id, holder->epoch, cause};
      r.events.push_back({PlanEvent::Kind::kFailoverStarted, holder_id, "", Duration(0),
                          "holder " + Short(holder_id) + ": " + cause + "; failover started"});
    }
    if (holder && !holder_unknown) {
      const auto& last = r.memory.last_holder;
      if (!completed && last && last->epoch != holder->epoch) {
        r.events.push_back({PlanEvent::Kind::kHolderChanged, last->alloc_id, holder_id,
                            Duration(0),
                            "lock passed from " + Short(last->alloc_id) + " to " +
                                Short(holder_id)});
      }
      r.memory.last_holder = *holder;
    }
  } else {
    r.memory.failover.reset();
    r.memory.last_holder.reset();
    r.memory.counted_duplicates.clear();
  }

  // ---- Conditions ----
  Condition ready{ConditionType::kReady, false, "", ""};
  if (d.state == SpecState::kAbsent && (!owned || job->stop || deregistering)) {
    ready.reason = "Deleted";
    ready.message = "the spec was deleted";
  } else if (job == nullptr) {
    ready.reason = "JobMissing";
    ready.message = "job " + d.key + " does not exist";
  } else if (!ours) {
    ready.reason = "Conflict";
    ready.message = "job " + job_ref + " is not ours";
  } else if (job->stop) {
    ready.reason = "JobStopped";
    ready.message = "job " + job_ref + " is stopped";
  } else if (periodic) {
    // The parent is what the spec asks for; a run in progress only refines the message.
    const nomad::Allocation* ha = holder && !holder_unknown ? FindAlloc(o, holder_id) : nullptr;
    ready.status = true;
    if (ha != nullptr && IsRunning(*ha) && LostCause(o, *ha).empty()) {
      ready.reason = "HolderRunning";
      ready.message = "run allocation " + holder_id + " (job " + ha->job_id +
                      ") holds the lock and runs";
    } else {
      ready.reason = "Scheduled";
      ready.message = "periodic job " + job_ref + " is registered (schedule \"" +
                      shape->periodic->spec + "\"); ";
      if (r.stats.live_allocations == 0) {
        ready.message += "no run in progress";
      } else if (holder_unknown) {
        ready.message += "a run is live; reading which allocation holds the lock";
      } else {
        ready.message += std::to_string(r.stats.live_allocations) +
                         " run allocation(s) live, none running with the lock";
      }
    }
  } else if (holder_unknown) {
    ready.reason = "HolderUnknown";
    ready.message = o.lock.known ? "the lock is held; reading which allocation holds it"
                                 : "the lock variable has not been read yet";
  } else if (!holder) {
    ready.reason = "NoHolder";
    ready.message = "no allocation holds the lock";
  } else {
    const nomad::Allocation* ha = FindAlloc(o, holder_id);
    if (ha == nullptr || !IsRunning(*ha) || !LostCause(o, *ha).empty()) {
      ready.reason = "HolderNotRunning";
      ready.message = "holder " + holder_id + " is " +
                      (ha == nullptr ? std::string("not an allocation of this job")
                                     : ha->client_status + "/" + ha->desired_status);
    } else {
      ready.status = true;
      ready.reason = "HolderRunning";
      ready.message = "allocation " + holder_id + " holds the lock and runs";
    }
  }
  r.stats.up = ready.status && extras.empty();

  Condition degraded{ConditionType::kDegraded, false, "AsExpected", ""};
  if (!extras.empty()) {
    degraded = {ConditionType::kDegraded, true, "Duplicates",
                std::to_string(extras.size()) + " allocation(s) beyond 1 + standby or claiming " +
                    "the lock: stopping " + JoinIds(extras)};
  } else if (r.memory.failover) {
    const FailoverRecord& f = *r.memory.failover;
    degraded = {ConditionType::kDegraded, true, "FailoverInProgress",
                "holder " + Short(f.from_alloc) + ": " + f.cause + " " +
                    base::FormatDuration(opt.now - f.started_at) +
                    " ago; waiting for a new holder"};
  } else if (enforce && !job->stop && !periodic && r.stats.live_allocations < r.stats.limit) {
    degraded = {ConditionType::kDegraded, true, "MissingAllocations",
                std::to_string(r.stats.live_allocations) + " of " +
                    std::to_string(r.stats.limit) + " allocations are live"};
  }

  r.conditions.push_back(ready);
  r.conditions.push_back({ConditionType::kSynced, sync.ok, sync.reason, sync.message});
  r.conditions.push_back(degraded);
  for (auto& c : extra_conditions) r.conditions.push_back(std::move(c));
  return r;
}

}  // namespace nsg::reconcile
