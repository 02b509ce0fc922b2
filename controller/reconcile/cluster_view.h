// ClusterView: the controller's in-memory picture of the parts of Nomad it manages.
//
// It holds the jobs that are ours (Meta managed-by) or that have a spec (watched keys, so a foreign
// job with a spec's ID can be reported as a Conflict or adopted), their allocations, every node,
// and the lock variables of those singletons. It is built from list results (Reset) and then kept
// current by event-stream frames (Apply) and by the reconciler's fresh reads (Apply*Read).
//
//   * De-duplicated by index: every object remembers the index of the update that last changed
//     it; an update at or below it is stale and ignored (the stream replays the entry it resumes
//     at, delivers an event that matches two filter keys twice, and answers an index beyond the
//     newest with an older entry — nomad-api.md §4.4, §4.5). A deleted job leaves a tombstone, and
//     an object the view does not know is ignored when its update is not newer than the last
//     Reset, so a late event cannot bring back something that is gone.
//   * Every update returns the singleton keys ("namespace/name") whose observed state it changed,
//     so that only those are woken (level-triggered: the key, never the payload, goes on the
//     WorkQueue).
//   * Reset replaces everything from fresh lists, after connecting and after a possible gap in
//     the stream (the stream gives no gap marker, §4.5); it returns the keys whose observed state
//     differs from before. Past lock holders survive a Reset (they are not in any list).
//   * Lock holders: the lock agent writes its allocation ID in the variable's Items
//     (kLockItemAllocId) when it acquires; the variable's ModifyIndex at acquisition is the
//     holder's epoch. Variable events carry metadata without Items (§2.9), so an event for a new
//     lock ID leaves the holder's allocation unknown until the reconciler reads the variable
//     (ApplyVariableRead). The Lock field is visible only to a management token (§2.2): the
//     controller must use one.
//   * Periodic and dispatched children ("<id>/periodic-<n>", "<id>/dispatch-<n>") are not tracked
//     as jobs; their allocations belong to the parent's key.
//
// Pure (no I/O, no clock). Thread-safety: safe for concurrent use — the informer applies updates
// while workers take Observed copies; every method takes the view's lock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "controller/nomad/allocation.h"
#include "controller/nomad/event.h"
#include "controller/nomad/job.h"
#include "controller/nomad/variable.h"
#include "controller/reconcile/plan.h"

namespace nsg::reconcile {

using KeySet = std::set<SingletonKey>;

// Past holders kept per lock (for stale-claimant detection).
inline constexpr size_t kMaxHolderHistory = 8;
// Client-terminal allocations kept per key (the newest); live ones are always kept.
inline constexpr size_t kMaxTerminalAllocations = 8;

// Fresh list results. The caller reads the full job (GET /v1/job/:id) of every job the jobs list
// (meta=true) shows as ours or as a watched key, the allocations (any others are dropped), the
// nodes, and the lock variables with their Items (GET /v1/var/:path).
struct Snapshot {
  // The lowest X-Nomad-Index of the lists: the state is complete as of this index.
  uint64_t index = 0;
  std::vector<nomad::Job> jobs;
  // Jobs the list showed at a ModifyIndex the view already holds (HoldsJobAt): Reset keeps the
  // view's own copy (or a newer one that an event brought meanwhile) instead of a second copy in
  // `jobs`, so a relist neither reads nor copies an unchanged job (issue 17).
  struct HeldJob {
    std::string namespace_;
    std::string id;
    uint64_t modify_index = 0;
  };
  std::vector<HeldJob> held_jobs;
  std::vector<nomad::Allocation> allocations;
  std::vector<nomad::Node> nodes;
  std::vector<nomad::Variable> variables;
};

class ClusterView {
 public:
  ClusterView() = default;
  ClusterView(const ClusterView&) = delete;
  ClusterView& operator=(const ClusterView&) = delete;

  // The singletons that have a spec now, each with its lock path (spec.lock.path). Returns the
  // keys that were added or removed. Foreign jobs of keys no longer watched are dropped.
  KeySet Watch(const std::map<SingletonKey, std::string>& lock_paths);

  // One event-stream frame (heartbeats are fine: nothing happens).
  KeySet Apply(const nomad::Frame& frame);

  // Replaces the whole view from fresh lists (taken by value: move it in, its jobs are moved).
  KeySet Reset(Snapshot snapshot);

  // Fresh reads by the reconciler. A read is authoritative as of its index: it is applied unless
  // the view already holds a newer update of the object (the Reset floor, which guards against
  // late events, does not apply to reads).
  KeySet ApplyJobRead(const nomad::Job& job);
  // GET /v1/job/:id answered 404, as of `index` (0: as of now, i.e. LastIndex()).
  KeySet ApplyJobMissing(const std::string& ns, const std::string& id, uint64_t index);
  KeySet ApplyAllocationRead(const nomad::Allocation& alloc);
  // GET /v1/var/:path: the variable (with Items) as of `index`, or nullopt for a 404 (as of now).
  KeySet ApplyVariableRead(const std::string& ns, const std::string& path,
                           const std::optional<nomad::Variable>& var, uint64_t index);
  KeySet ApplyNodeRead(const nomad::Node& node);

  // Everything the view knows about `key`, allocations ordered by CreateIndex then ID. The ACL
  // policy (not followed by the view) is left nullopt and Memory empty: the reconciler fills them.
  Observed ObservedFor(const SingletonKey& key) const;

  // Replaces the job held for `key` by its summary when it is still the one at `job_modify_index`
  // with `stop`: identity, type, priority, datacenters, node pool, Meta, Periodic, Stop, Status,
  // Version, indexes and each group's name and Count — what every check but the full drift check
  // reads. The reconciler calls it after a reconcile that leaves no need for more
  // (NeedsJobDetail); the next Job event or read brings the whole job back. A whole server job is
  // ~18 KB of heap (tests/fixtures/nomad/job_server.json); the view held one per singleton.
  void ReleaseJobDetail(const SingletonKey& key, uint64_t job_modify_index, bool stop);

  // Whether the view holds the job `ns`/`id` at ModifyIndex `modify_index`: the same job a
  // GET /v1/job/:id would return at that index (from a read, a list or a Job event's payload), so
  // a relist need not read it again (Snapshot::held_jobs).
  bool HoldsJobAt(const std::string& ns, const std::string& id, uint64_t modify_index) const;

  // The lock path the view follows for `key` ("" when none is known): the path in our job's Meta
  // (what the running allocations use), else the spec's.
  std::string LockPathOf(const SingletonKey& key) const;

  // Every key the view tracks (watched, or with a job of ours), sorted.
  std::vector<SingletonKey> Keys() const;

  // The highest index applied; resume the event stream at LastIndex() + 1.
  uint64_t LastIndex() const;

  // What the view keeps of an allocation (Slim in cluster_view.cc): the fields the controller
  // reads, as nomad::Allocation names them. ~330 bytes and its strings, where a whole
  // nomad::Allocation is 1.26 KB with every field empty (docs/benchmarks.md, seventh slice).
  struct SlimAlloc {
    std::string id;
    std::string name;
    std::string namespace_;
    std::string node_id;
    std::string job_id;
    std::string job_type;
    std::string task_group;
    std::string desired_status;
    std::string client_status;
    nomad::DesiredTransition desired_transition;
    uint64_t job_version = 0;
    uint64_t create_index = 0;
    uint64_t modify_index = 0;
    uint64_t alloc_modify_index = 0;
    int64_t create_time = 0;
    int64_t modify_time = 0;
  };

 private:
  struct JobEntry {
    nomad::SlimJob slim;
    // The whole job, while the reconciler needs it for a full drift check (a read, a list after
    // a restart); null once ReleaseJobDetail summarized it, or when only a summary came (a Job
    // event).
    std::shared_ptr<const nomad::Job> whole;
    uint64_t version = 0;
  };
  struct AllocEntry {
    SlimAlloc alloc;
    SingletonKey key;
    uint64_t version = 0;
  };
  struct NodeEntry {
    nomad::Node node;
    uint64_t version = 0;
  };
  struct LockEntry {
    uint64_t version = 0;
    bool held = false;
    std::string lock_id;
    bool alloc_known = false;
    std::string alloc_id;
    uint64_t epoch = 0;
    std::vector<LockHolder> history;  // newest first
  };
  using LockRef = std::pair<std::string, std::string>;  // namespace, path

  // All *Locked methods require mu_.
  // read: a fresh read or list result (authoritative as of its index; not subject to floor_)
  // rather than an event.
  // detailed false: `job` is a JobSummary (a Job event decoded as a summary).
  // movable: `job` itself, which the view may take (Reset's snapshot) instead of copying it.
  KeySet ApplyJobLocked(const nomad::Job& job, uint64_t version, bool read, bool detailed = true,
                        nomad::Job* movable = nullptr);
  // owned: the deleted job's payload says it was ours.
  KeySet DeleteJobLocked(const std::string& ns, const std::string& id, uint64_t version,
                         bool owned, bool read);
  KeySet ApplyAllocLocked(const nomad::Allocation& alloc, uint64_t version, bool read);
  KeySet ApplyNodeLocked(const nomad::Node& node, uint64_t version, bool read);
  // items_known: the holder's Items are present (always for a read).
  KeySet ApplyVariableLocked(const std::string& ns, const std::string& path,
                             const nomad::Variable* var, bool items_known, uint64_t version,
                             bool read);
  void DropKeyLocked(const SingletonKey& key);
  // allocs_ and its two indexes change only through these.
  void PutAllocLocked(const nomad::Allocation& alloc, const SingletonKey& key, uint64_t version);
  void EraseAllocLocked(const std::string& alloc_id);
  // Brings keys_by_lock_ up to date for `key` after its job or its watched lock path changed.
  void IndexLockLocked(const SingletonKey& key);
  void PruneTerminalLocked(const SingletonKey& key);
  bool TrackedLocked(const SingletonKey& key) const;
  std::string LockPathLocked(const SingletonKey& key) const;
  KeySet KeysForLockLocked(const std::string& ns, const std::string& path) const;
  LockState LockStateLocked(const SingletonKey& key) const;
  // with_job false: Observed::job is left nullopt (Reset compares a held job by identity).
  Observed ObservedLocked(const SingletonKey& key, bool with_job = true) const;
  KeySet AllKeysLocked() const;
  void Bump(uint64_t index) { last_index_ = std::max(last_index_, index); }

  mutable std::mutex mu_;
  // Guarded by mu_.
  std::map<SingletonKey, std::string> watched_;  // key → spec lock path
  std::unordered_map<SingletonKey, JobEntry> jobs_;  // hashed, as allocs_
  std::map<SingletonKey, uint64_t> job_tombstones_;
  // By allocation ID; hashed, as nothing walks it in order (the indexes below are ordered): an
  // event's lookup is then one hash of the ID, not ~14 string comparisons at 10k.
  std::unordered_map<std::string, AllocEntry> allocs_;
  // Indexes of allocs_, so that an event or a reconcile costs what it touches, not the cluster.
  std::map<SingletonKey, std::set<std::string>> alloc_ids_by_key_;
  std::map<std::string, std::set<std::string>> alloc_ids_by_node_;
  // Which tracked keys follow which lock variable (LockPathLocked), for Variable events.
  std::map<SingletonKey, std::pair<std::string, std::string>> lock_ref_of_;
  std::map<std::pair<std::string, std::string>, KeySet> keys_by_lock_;
  std::map<std::string, NodeEntry> nodes_;    // by node ID
  std::map<LockRef, LockEntry> locks_;
  uint64_t floor_ = 0;  // index of the last Reset
  uint64_t last_index_ = 0;
};

// The key an allocation's or job's ID belongs to: "ns/<parent>" for periodic and dispatched
// children, else "ns/<id>".
SingletonKey KeyOf(const std::string& ns, const std::string& job_id);

}  // namespace nsg::reconcile
