// Reconciler: one reconcile of one singleton key — observe, Plan, execute the plan through the
// NomadApi port.
//
//   1. Observe: the ClusterView's Observed for the key, completed by fresh reads — the ACL policy
//      (the view does not follow policies) and, when the view cannot name the lock holder, the
//      lock variable (events carry no Items; nomad-api.md §2.9), which is fed back into the view.
//   2. Plan(desired, observed, {now = clock.Now(), prune}).
//   3. Execute the actions in order (policy, register, stops, deregister), stopping at the first
//      error. A lost check-and-set on register (kConflict) re-reads the job into the view and
//      plans again at once, at most Options::max_conflict_retries times.
//
// What the caller (a worker) does next follows Outcome, as controller-runtime does:
//   kDone       Forget(key) — the backoff starts over; AddAfter(key, requeue_after) when set.
//   kRetry      AddRateLimited(key): kUnavailable (network, 5xx), kPermissionDenied (ACL; say it
//               loudly), kConflict still lost after the retries, kNotFound/kInternal surprises.
//   kPermanent  Forget(key) and count it; do not retry until something changes (Nomad rejected
//               what we rendered as invalid: kInvalidSpec).
//   kCancelled  shutdown; nothing to requeue.
// A stop of an allocation Nomad no longer has (kNotFound) is success: it is gone.
//
// A cluster without ACLs refuses the policy endpoints for good ("ACL support disabled",
// kInvalidSpec). The Reconciler remembers that (for all keys, for its lifetime): the plan then
// neither compares nor upserts a policy, and the policy read — the probe that notices ACLs being
// turned on — is sent at most once per Options::acl_probe_interval instead of on every
// reconcile. A policy read or upsert that succeeds forgets it at once.
//
// Memory (the singleton's status between reconciles) belongs to the caller; Reconcile updates it
// even when an action fails, because what was observed (a failover start, a duplicate counted)
// stays true.
//
// Ownership: borrows `api`, `view` and `clock`; they must outlive the Reconciler. Thread-safety:
// Reconcile may run concurrently for different keys (the WorkQueue hands a key to one worker at a
// time); `api` and `view` are safe for concurrent use.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/base/clock.h"
#include "controller/base/status.h"
#include "controller/nomad/api.h"
#include "controller/reconcile/cluster_view.h"
#include "controller/reconcile/plan.h"

namespace nsg::reconcile {

// How many times a lost check-and-set is re-read and retried within one reconcile.
inline constexpr int kDefaultMaxConflictRetries = 3;
// On a cluster without ACLs, how often the policy is read again to notice ACLs being enabled.
inline constexpr Duration kDefaultAclProbeInterval = 5min;

struct ReconcileResult {
  enum class Outcome { kDone, kRetry, kPermanent, kCancelled };
  Outcome outcome = Outcome::kDone;
  base::Status status;  // the error behind kRetry / kPermanent / kCancelled
  PlanResult plan;      // the last plan made (conditions amended when an action failed)
  std::vector<std::string> executed;  // Describe() of every action that succeeded
  int enforcement_stops = 0;          // allocations stopped (enforcement_stops_total)
  int conflicts = 0;                  // lost check-and-sets re-read and retried
  int policies_skipped = 0;  // policy upserts Nomad refused for good (e.g. ACLs disabled)
  // Reads of a job the view held as a summary, for a plan that compares every field.
  int job_detail_reads = 0;
  std::optional<Duration> requeue_after;
};

const char* OutcomeName(ReconcileResult::Outcome o);  // "done", "retry", ... (reconcile_total)

class Reconciler {
 public:
  struct Options {
    bool prune = false;    // --prune
    bool dry_run = false;  // --dry-run: plan and report, change nothing
    int max_conflict_retries = kDefaultMaxConflictRetries;
    Duration holder_unknown_requeue = kDefaultHolderUnknownRequeue;
    Duration acl_probe_interval = kDefaultAclProbeInterval;
  };

  Reconciler(nomad::NomadApi& api, ClusterView& view, const base::Clock& clock, Options options);

  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // One reconcile of desired.key. `memory` is read and updated.
  ReconcileResult Reconcile(const Desired& desired, Memory& memory);

  // The ModifyIndex of every ACL policy as of a list (GET /v1/acl/policies), which the controller
  // makes once per resync. From then on a policy is read by name only when its index moved (or
  // after our own upsert), so a resync costs one list call, not one read per singleton. Without
  // a list, every reconcile reads its policy.
  void NotePolicyList(const std::vector<nomad::AclPolicy>& stubs);

 private:
  // Fresh reads that complete the view's Observed. Error: the read failed (not 404).
  // `*lock_read` (optional) is set when the lock variable was read fresh.
  base::Result<Observed> Observe(const Desired& desired, bool* lock_read = nullptr);
  // Observe with the memory set, reading the job whole first when the view holds only its summary
  // and the plan compares every field (NeedsJobDetail; each read counts in `detail_reads`).
  base::Result<Observed> ObserveForPlan(const Desired& desired, const Memory& memory,
                                        bool* lock_read, int& detail_reads);
  // Reads the lock variable into the view (no-op without a lock path).
  base::Status ReadLock(const Desired& desired);
  // Re-reads the job after a lost check-and-set.
  base::Status RefreshJob(const std::string& ns, const std::string& id);
  // After a reconcile: the view keeps only a summary of the job it planned on when no later plan
  // needs more (NeedsJobDetail with the updated memory), unless the job moved meanwhile.
  void ReleaseDetailIfSettled(const Desired& desired, const std::optional<nomad::Job>& planned_on,
                              bool detailed, const Memory& memory);
  base::Status Execute(const Action& a, Memory& memory, ReconcileResult& out);
  // Whether to read the policy now: always, unless the cluster is known to have no ACLs and the
  // last probe is younger than acl_probe_interval.
  bool AclProbeDue() const;
  // A policy call answered: `disabled` = refused for good (ACL support disabled).
  void NoteAcls(bool disabled);
  bool AclsDisabled() const;
  // The policy named `name` when the cache says it is unchanged since the last list (outer
  // optional: a hit; inner: the policy, or nullopt for "no such policy"). Stores read results.
  std::optional<std::optional<nomad::AclPolicy>> CachedPolicy(const std::string& name) const;
  void StorePolicy(const std::string& name, const std::optional<nomad::AclPolicy>& policy);
  void ForgetPolicy(const std::string& name);

  // Constant after construction.
  nomad::NomadApi& api_;
  ClusterView& view_;
  const base::Clock& clock_;
  const Options options_;

  // What this Reconciler learnt about the cluster's ACLs. Guarded by acl_mu_.
  mutable std::mutex acl_mu_;
  bool acl_disabled_ = false;
  TimePoint acl_probed_at_{};  // when a policy read last found ACLs disabled
  // Policies by name as last read, and the index each had in the newest list (or read).
  bool policy_list_known_ = false;
  std::map<std::string, uint64_t> listed_policies_;
  std::map<std::string, std::optional<nomad::AclPolicy>> policy_cache_;
};

}  // namespace nsg::reconcile
