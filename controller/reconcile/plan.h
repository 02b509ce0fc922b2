// Plan: the pure heart of the controller. Plan(desired, observed, options) → the actions that
// move Nomad towards the spec, the singleton's conditions, and what to remember for next time.
//
// Level-triggered (controller-runtime): Plan sees the whole desired and observed state of one
// singleton and never an event; running it twice on the same inputs gives the same result, and an
// unchanged spec on a healthy cluster gives zero actions. It does no I/O and reads no clock (`now`
// is PlanOptions::now), so the same code runs against Nomad and inside the deterministic
// simulation. Pure function; safe for concurrent use.
//
// Singleton lifecycle (one key, as the conditions report it):
//
//                 spec added                 Register(EI=0)
//   +--------+ ---------------> +---------+ -----------------> +------------------+
//   | Absent |                  | Pending |                    | Registered       |
//   +--------+                  +---------+                    | (lock not held)  |
//       ^                          |  job with this ID,        +------------------+
//       |                          v  not ours                          | lock acquired
//       |                     +----------+  adopt: Register(EI=JMI)     v
//       |                     | Conflict | ----------------------> +-------------+
//       |                     +----------+                         |    Ready    | <------------+
//       |                                                          | holder runs |              |
//       |  spec deleted: Deregister (prune, not keep)              +-------------+              |
//       +--------------- or Orphaned (job kept) <--------------- any state of an owned job      |
//                                                                    |    |    |                |
//   +---------+  spec broken: the job is left alone (still enforced) |    |    | drift, spec    |
//   | Invalid | <----------------------------------------------------+    |    | change:        |
//   +---------+  spec fixed: planned afresh                               |    | Register(EI=JMI)
//                                                                         |    +-> stays Ready -+
//         holder's alloc lost/failed/unknown or its node down             |                     |
//         +---------------------------------------------------------------+                     |
//         v                                                                                     |
//   +-------------+  newer holder epoch: FailoverCompleted (now - start) ------------------------+
//   | FailingOver |  same holder back with its lock: FailoverAborted ----------------------------+
//   +-------------+                                                                             |
//   +------------+   live allocations > 1 + standby, or a past holder still live:               |
//   | Duplicates |   StopAllocation(extras), never the holder ----------------------------------+
//   +------------+
//
// Decision table. Job rows are checked top to bottom; the first match decides the job action and
// Synced's reason (every matching drift reason goes into Synced's message). A job of ours (or one
// being adopted) then also gets the enforcement rows, in every spec state, unless it is being
// deregistered.
//
//   spec     job in Nomad                        job/policy actions        Synced, other conditions
//   -------  ----------------------------------  ------------------------  ------------------------
//   valid    none                                [Policy] Register(EI=0)   F Creating
//   valid    foreign, !adopt                     -                         F Conflict; Conflict=T
//   valid    foreign, adopt                      [Policy] Register(JMI)    F Adopting
//   valid    ours, Stop = true                   [Policy] Register(JMI)    F JobStopped
//   valid    ours, Meta spec hash differs        [Policy] Register(JMI)    F SpecChanged
//   valid    ours, Count != 1 + standby          [Policy] Register(JMI)    F CountDrifted
//   valid    ours, lock task missing/changed *   [Policy] Register(JMI)    F LockTaskDrifted
//   valid    ours, Disconnect missing/changed *  [Policy] Register(JMI)    F DisconnectDrifted
//   valid    ours, other rendered field *        [Policy] Register(JMI)    F Drifted
//   valid    ours, only the policy differs       UpsertPolicy              F PolicyDrifted
//   valid    ours, all equal                     -                         T InSync
//   invalid  any: the job is left alone          -                         F InvalidSpec; Invalid=T
//                                                                          (Conflict=T if foreign)
//                                                                          (reason: invalid_reason,
//                                                                          e.g. SourceUnreadable)
//   absent   ours, not stopped, prune, !keep     Deregister(purge=false)   F Deleting
//   absent   ours, not stopped, keep or !prune   -                         F Orphaned; Orphaned=T
//   absent   ours and stopped, foreign, none     -                         T Deleted
//
//   * only when the job's JobModifyIndex > Memory::written_job_modify_index (someone else wrote
//     the job after us). Otherwise a difference is the server's normalization of what we sent;
//     re-sending would change nothing, so the fields are not compared at all (Synced=T).
//   [Policy] = UpsertPolicy first, when the policy is missing or differs (name, description,
//   rules, JobACL), unless the cluster has no ACLs. Register(JMI) = EnforceIndex on the observed
//   job's JobModifyIndex.
//
//   enforcement                                  actions and events        conditions
//   -------------------------------------------  ------------------------  ------------------------
//   lock state unknown, or held by an alloc the  no stops; requeue_after   Ready=F HolderUnknown
//     view has not named yet
//   live allocations > limit, or a past holder   StopAllocation(extras)    Degraded=T Duplicates
//     still live besides the current holder      DuplicateObserved (once)
//   holder's alloc lost/failed/unknown, or its   FailoverStarted           Degraded=T
//     node down/disconnected (none remembered)   (remembered in Memory)    FailoverInProgress
//   failover remembered, newer holder epoch      FailoverCompleted(now-t)  Ready from the holder
//   failover remembered, same holder running     FailoverAborted
//   holder epoch changed, no failover            HolderChanged (handover)
//   live allocations < limit                     -                         Degraded=T
//                                                                          MissingAllocations
//   holder's alloc running, its node up          -                         Ready=T HolderRunning
//   periodic parent, no run holding the lock     -                         Ready=T Scheduled; never
//                                                                          MissingAllocations
//
// limit = the desired group Count (1 + standby), or the observed job's Count when the spec is
// invalid or deleted. "Live" = client status running, pending or unknown, with DesiredStatus run
// and no stop already requested (DesiredTransition.Migrate). Extras are chosen deterministically:
// live past holders first (with the lock free, the newest of them stays), then the newest by
// CreateIndex (ties: larger ID first); never the holder. A holder whose allocation is being failed
// over does not count against the limit, so the replacement Nomad places for it is never taken
// for a duplicate. Actions are ordered: UpsertPolicy, RegisterJob, StopAllocation, DeregisterJob.
//
// Periodic jobs (spec.schedule; the desired job's, or for an invalid or deleted spec the observed
// job's, Periodic block): the parent has no allocations; Observed::allocations holds its runs'
// ("<id>/periodic-<ts>" children, filed under the parent's key by the ClusterView), and the
// enforcement rows apply to them with the same limit: two runs that are live at once keep the
// lock holder and stop the rest. Ready is true while the parent is registered (HolderRunning
// during a run that holds the lock, else Scheduled); fewer live allocations than the limit is
// normal between runs.
//
// A cluster without ACLs (Observed::acl_disabled): no policy is compared or upserted.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/base/clock.h"
#include "controller/base/duration.h"
#include "controller/nomad/allocation.h"
#include "controller/nomad/job.h"
#include "controller/reconcile/drift.h"
#include "controller/render/compact.h"
#include "controller/render/job_renderer.h"
#include "controller/spec/singleton.h"

namespace nsg::reconcile {

using base::Duration;
using base::TimePoint;
using namespace std::chrono_literals;

// "namespace/name" (spec::Singleton::Key(); also namespace/job ID in Nomad).
using SingletonKey = std::string;

// The Items key in which the lock agent records which allocation holds the lock. Acquire
// overwrites a variable's Items (nomad-api.md §2.7), so each holder writes its own.
inline constexpr char kLockItemAllocId[] = "alloc_id";

// ---- Defaults for PlanOptions ----
// How soon to look again when the lock is held but the view has not read who holds it (events
// carry variable metadata without Items, nomad-api.md §2.9).
inline constexpr Duration kDefaultHolderUnknownRequeue = 1s;

// ---------------------------------------------------------------------------------------------
// Inputs

enum class SpecState {
  kValid,    // the spec loaded and rendered
  kInvalid,  // the spec exists but does not load or render: leave Nomad alone, say why
  kAbsent,   // the spec was deleted
};

// Reasons of the Invalid condition (stable: alerts and scripts match them).
inline constexpr char kReasonInvalidSpec[] = "InvalidSpec";
// The spec source (a directory, a subdirectory or a spec file) could not be read completely.
inline constexpr char kReasonSourceUnreadable[] = "SourceUnreadable";
// The spec source holds no spec at all: an empty source never deletes (Argo CD's allowEmpty).
inline constexpr char kReasonSourceEmpty[] = "SourceEmpty";
// The job's Meta source file is not in the spec directory (another --specs, or none recorded).
inline constexpr char kReasonSourceUnknown[] = "SourceUnknown";

struct Desired {
  SingletonKey key;  // required in every state
  SpecState state = SpecState::kAbsent;
  // Set iff state == kValid. Shared and immutable: the spec set holds it, and each reconcile's
  // Desired is a copy that must not copy the job. The compact form (render/compact.h): plans
  // read its summary; the whole job is decoded only for a full drift comparison.
  std::shared_ptr<const render::CompactRendered> rendered;
  // kInvalid: why (the loader's or renderer's message), for the Invalid condition.
  std::string invalid_message;
  // kInvalid: the reason of the Invalid and Synced conditions: "" means kReasonInvalidSpec (the
  // spec was read and is wrong); the kReasonSource* values say that a spec may have been
  // deleted but the deletion is not confirmed (the job is left alone all the same).
  std::string invalid_reason;
  // spec.adopt: take over a job with this ID that is not ours.
  bool adopt = false;
  // The spec::kAnnotationKeep annotation. For a deleted spec, the caller passes what the last
  // spec it saw said.
  bool keep_on_delete = false;
};

// The lock's holder: the allocation the lock agent recorded in the variable's Items, and the
// variable's ModifyIndex when that holder acquired (its epoch; a later holder has a larger one).
struct LockHolder {
  std::string alloc_id;  // "" = held, but the view has not read the Items yet
  uint64_t epoch = 0;
  friend bool operator==(const LockHolder&, const LockHolder&) = default;
};

struct LockState {
  // False until the view has read (or been told by an event) the lock variable's state; Plan then
  // treats the holder as unknown.
  bool known = false;
  std::optional<LockHolder> holder{};  // nullopt: free, or no variable yet
  // Earlier holders, newest first (bounded). A past holder whose allocation is still live may
  // still believe it holds the lock: a duplicate.
  std::vector<LockHolder> history{};
  friend bool operator==(const LockState&, const LockState&) = default;
};

// A failover the controller has seen start and not yet seen end.
struct FailoverRecord {
  TimePoint started_at;
  std::string from_alloc;
  uint64_t from_epoch = 0;
  std::string cause;  // "allocation lost", "node down", ...
  friend bool operator==(const FailoverRecord&, const FailoverRecord&) = default;
};

// What the controller remembers about one singleton between reconciles (its status). Plan
// returns the next value; the caller keeps it and passes it back in Observed.
struct Memory {
  // JobModifyIndex of the controller's own last successful register (the executor sets it from
  // the register response). A job whose JobModifyIndex is larger was changed by someone else; one
  // whose JobModifyIndex is not larger still holds what we sent, so a field that differs was
  // normalized by the server and is not drift. 0 = unknown (e.g. after a restart).
  uint64_t written_job_modify_index = 0;
  std::optional<FailoverRecord> failover{};
  std::optional<LockHolder> last_holder{};  // the holder the last plan saw
  // Allocations already counted as duplicates (duplicates_total counts each once).
  std::set<std::string> counted_duplicates{};
  // The last drift check of the job (drift.h): checked again only when the job's
  // JobModifyIndex or Stop, or the spec hash, moved.
  std::optional<DriftMemo> drift{};
  friend bool operator==(const Memory&, const Memory&) = default;
};

struct Observed {
  std::optional<nomad::Job> job;              // GET /v1/job/:id; nullopt = no such job
  // false: `job` is the view's summary of it (ClusterView::ReleaseJobDetail: no tasks, no group
  // policies, no unmodelled fields), enough for every check but the full drift check; the
  // reconciler reads the job again before a plan that needs that one (NeedsJobDetail).
  bool job_detailed = true;
  std::vector<nomad::Allocation> allocations;  // of this job, any status
  std::map<std::string, std::string> node_status;  // node ID → Node.Status, for those allocations
  std::optional<nomad::AclPolicy> policy;     // nullopt = no policy with the rendered name
  // The cluster has no ACLs (Nomad refuses the policy endpoints, "ACL support disabled"): there
  // is no policy to compare or write, and the job alone decides Synced.
  bool acl_disabled = false;
  LockState lock;
  Memory memory;
  friend bool operator==(const Observed&, const Observed&) = default;
};

struct PlanOptions {
  TimePoint now;
  bool prune = false;  // --prune: deregister jobs whose spec was deleted
  Duration holder_unknown_requeue = kDefaultHolderUnknownRequeue;
};

// ---------------------------------------------------------------------------------------------
// Outputs

struct Action {
  enum class Kind { kUpsertPolicy, kRegisterJob, kStopAllocation, kDeregisterJob };
  Kind kind = Kind::kRegisterJob;
  std::string reason;  // the condition reason that called for it ("SpecChanged", "Duplicates")
  nomad::AclPolicy policy;            // kUpsertPolicy
  // kRegisterJob: EnforceIndex is always true; `registration.job` holds only the job's ID and
  // Namespace, and `rendered` the job to send (RegisterRequest::encoded_job, made when the action
  // is executed).
  nomad::RegisterRequest registration;
  std::shared_ptr<const render::CompactRendered> rendered;
  std::string alloc_id;               // kStopAllocation
  std::string job_id;                 // kDeregisterJob (and kRegisterJob, for logs)
  std::string namespace_;             // kDeregisterJob, kRegisterJob
  bool purge = false;                 // kDeregisterJob: always false (the job stays, stopped)
};

// One line per action, stable, for logs and tests: "upsert-policy NAME", "register ns/id
// enforce=N (REASON)", "stop ALLOC (REASON)", "deregister ns/id".
std::string Describe(const Action& a);

enum class ConditionType { kReady, kSynced, kDegraded, kConflict, kOrphaned, kInvalid };
const char* ConditionTypeName(ConditionType t);  // "Ready", "Synced", ...

struct Condition {
  ConditionType type = ConditionType::kReady;
  bool status = false;
  std::string reason;   // CamelCase, stable (scripts may match it)
  std::string message;  // for people
  friend bool operator==(const Condition&, const Condition&) = default;
};

// Something that happened, for logs, Nomad-style events and metrics.
struct PlanEvent {
  enum class Kind {
    kFailoverStarted,    // alloc = old holder
    kFailoverCompleted,  // alloc = old holder, to_alloc = new holder, duration set
    kFailoverAborted,    // alloc = holder that came back with its lock
    kHolderChanged,      // alloc = old holder ("" if none known), to_alloc = new holder
    kDuplicateObserved,  // alloc = an allocation counted as a duplicate for the first time
  };
  Kind kind = Kind::kFailoverStarted;
  std::string alloc_id;
  std::string to_alloc;
  Duration duration{0};
  std::string message;
  friend bool operator==(const PlanEvent&, const PlanEvent&) = default;
};

// Per-singleton gauges of ARCHITECTURE.md §4.3, as observed by this plan.
struct PlanStats {
  int running_allocations = 0;  // ClientStatus running, DesiredStatus run
  int live_allocations = 0;     // see "Live" above
  int limit = 0;                // 1 + standby (0 when there is no job of ours)
  bool lock_held = false;
  bool up = false;              // the holder's allocation is running and nothing else claims
  int duplicates = 0;           // allocations chosen to stop this time
};

struct PlanResult {
  std::vector<Action> actions;
  // Always Ready, Synced and Degraded (in that order), then Conflict/Orphaned/Invalid when true.
  std::vector<Condition> conditions;
  std::vector<PlanEvent> events;
  PlanStats stats;
  Memory memory;  // pass back in Observed::memory next time (after the executor updates it)
  std::optional<Duration> requeue_after;

  const Condition* Find(ConditionType t) const;
};

// Whether Plan may run the full drift check on `o.job` (CheckDriftMemo): a valid spec, and a job
// written by someone else after the controller's last write whose report is not remembered for
// its JobModifyIndex, Stop flag and the spec's hash. A summarized job (Observed::job_detailed
// false) must be read again first. Conservative: true may mean an unneeded read, never a missed
// check.
bool NeedsJobDetail(const Desired& d, const Observed& o);
// The same for a job at `job_modify_index` with `stop`, given the memory `m`.
bool NeedsJobDetail(const Desired& d, uint64_t job_modify_index, bool stop, const Memory& m);

PlanResult Plan(const Desired& desired, const Observed& observed, const PlanOptions& options);

// True when Meta[kMetaManagedBy] says the job is ours.
bool IsOwned(const nomad::Job& job);

// True for a periodic parent job (an enabled Periodic block): it launches "<id>/periodic-<ts>"
// children and has no allocations of its own.
bool IsPeriodic(const nomad::Job& job);

// Whether an allocation counts as live for at-most-one (see "Live" above).
bool IsLive(const nomad::Allocation& a);

}  // namespace nsg::reconcile
