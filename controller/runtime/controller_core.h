// ControllerCore: the controller's logic between its I/O edges (ARCHITECTURE.md §2, issue 5).
//
//   SpecSet ──ApplySpecs──► desired per key ──changed keys──┐
//   NomadApi lists ──Relist──► ClusterView ◄──OnFrame── event stream   ├──► WorkQueue ──► Process(key):
//                                      └──────touched keys───────────┘     Reconciler.Reconcile
//
// It owns the ClusterView, the WorkQueue and the Reconciler, the desired state (the latest
// SpecSet), and per key the reconcile Memory and the last result. It has no threads, sockets,
// files or wall clock of its own: Nomad only through the NomadApi port, time only through the
// Clock. `nomad-singleton controller` wraps it in threads (an informer that calls Relist/OnFrame,
// N workers that call queue().Get() + Process); the deterministic fault simulation calls the same
// methods from one thread under virtual time (queue().TryGet()).
//
//   * Relist: the full lists (jobs with meta=true, allocations, nodes, variables — every namespace)
//     → ClusterView::Reset. The cost of a resync does not grow with the number of singletons in
//     API calls: a job is read in full only when its list stub's ModifyIndex differs from the copy
//     read before, and a lock variable (for its Items: the holder's allocation) only when its
//     ModifyIndex moved. A steady cluster costs four list calls per resync.
//   * Leadership: SetActive(false) closes the write gate at once — an in-flight reconcile's next
//     write fails with kCancelled (Nomad's EnforceIndex fences the rest) — and keys taken while
//     inactive are dropped. SetActive(true) wakes every key. A core starts active.
//   * Lock watch (Nomad before 2.0.0, which has no Variable event topic — nomad/structs/event.go):
//     WatchLocks is a blocking list of the variables' metadata under the lock paths' common
//     prefix. The Lock itself is hidden from lists for non-management tokens and a renew does not
//     move the ModifyIndex (nomad/variables_endpoint.go RenewLock @ v2.0.5), so only a moved
//     ModifyIndex of a lock variable is used: it makes the core re-read that variable (with Items)
//     and wake its keys. A host with its own I/O loop (the fault simulation) issues the query from
//     LockWatchQuery itself and hands the result to ApplyLockList.
//   * Restarts write nothing: Plan compares the rendered job with what is registered, and the
//     spec hash in its Meta (reconcile/plan.h).
//   * Deletions are confirmed, not inferred: a job of ours with no spec is deregistered (--prune)
//     only under DeletionUnconfirmed's rule, which reads nothing but the current SpecSet and the
//     job's Meta — so a restart while the source is broken deletes nothing either.
//
// Ownership: borrows `api`, `clock` and `observer` (all must outlive the core). Thread-safety: every
// public method is safe for concurrent use; Process may run for different keys at once (the queue
// hands a key to one worker at a time); Relist calls are serialized.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/base/clock.h"
#include "controller/base/duration.h"
#include "controller/base/status.h"
#include "controller/nomad/api.h"
#include "controller/reconcile/cluster_view.h"
#include "controller/reconcile/plan.h"
#include "controller/reconcile/reconciler.h"
#include "controller/runtime/gated_api.h"
#include "controller/runtime/work_queue.h"

namespace nsg::runtime {

using base::Duration;
using base::TimePoint;
using reconcile::SingletonKey;

// One singleton as the spec source last saw it.
struct SpecEntry {
  reconcile::Desired desired;
  std::string source;               // the file it came from
  std::string revision;             // the git revision of the spec directory ("" unknown)
  std::string lock_path;            // "" when the spec is invalid
  std::vector<std::string> errors;  // kInvalid: the diagnostics of its document
  // Changes whenever what the reconciler sees changes (not with the revision alone: a commit that
  // leaves a spec as it was must not re-register its job).
  std::string fingerprint;
};

// An immutable snapshot of the spec source.
struct SpecSet {
  std::map<SingletonKey, SpecEntry> entries;
  std::vector<std::string> file_errors;  // diagnostics not attributable to a key
  std::string revision;                  // git HEAD of the spec directory, "" unknown
  // The spec directory as given ("" when the specs did not come from a directory).
  std::string dir;
  // "path: why" for every path that kept this read from being complete: the directory or a
  // subdirectory that could not be listed, a spec file that could not be read or is not a
  // regular file, a file that holds no document, a document whose key cannot be read. While
  // there is any, no key counts as deleted (see DeletionUnconfirmed).
  std::vector<std::string> unreadable;
};

// Why a job of ours whose key has no entry in `specs` must not be taken for deleted: the Invalid
// reason (reconcile::kReasonSource*) and a message; nullopt when the deletion is confirmed. The
// deletion rule of --prune (docs/controller.md, "What --prune deletes"): a spec counts as deleted
// only when the whole spec directory was read without an error (`unreadable` is empty), it holds
// at least one spec (an empty source never deletes), and `job`'s Meta source file lies inside
// that directory (the job came from it; this holds across restarts, as the Meta is in Nomad).
// Whether `path` names something inside directory `dir`, lexically (no I/O): both as the
// controller spells them, so a job registered under another --specs spelling is not inside.
bool IsInsideDirectory(const std::string& path, const std::string& dir);

struct UnconfirmedDeletion {
  std::string reason;
  std::string message;
};
std::optional<UnconfirmedDeletion> DeletionUnconfirmed(const SpecSet& specs,
                                                        const nomad::Job& job);

// What one Relist read and wrote.
struct SyncStats {
  uint64_t index = 0;
  size_t jobs = 0, allocations = 0, nodes = 0, locks = 0;
  size_t job_reads = 0, variable_reads = 0;  // full reads beyond the lists
  size_t changed_keys = 0;
};

// The last reconcile of a key (for /status).
struct KeyStatus {
  // Without the plan's actions, events and memory (Process drops them: nothing here reads them).
  reconcile::ReconcileResult last;
  TimePoint at{};  // clock time of the reconcile
  // When each condition last changed its status (clock time), as Kubernetes' lastTransitionTime.
  std::map<reconcile::ConditionType, TimePoint> transitions;
};

// What the core tells its host (metrics, logs). Called on the thread that made the call that caused
// it; implementations must be thread-safe when the host is multi-threaded. Defaults do nothing.
class ControllerObserver {
 public:
  virtual ~ControllerObserver() = default;
  // A key's spec was added or changed (`previous` null: added), or deleted (`now` null).
  virtual void OnSpecChanged(const SingletonKey& /*key*/, const SpecEntry* /*previous*/,
                             const SpecEntry* /*now*/) {}
  // The file errors differ from the last SpecSet's.
  virtual void OnFileErrors(const std::vector<std::string>& /*errors*/) {}
  // SpecSet::unreadable differs from the last SpecSet's (empty: the source is read completely).
  virtual void OnSourceUnreadable(const std::vector<std::string>& /*paths*/) {}
  virtual void OnSynced(const SyncStats& /*stats*/) {}
  virtual void OnReconciled(const SingletonKey& /*key*/, const reconcile::Desired& /*desired*/,
                            const reconcile::ReconcileResult& /*result*/, Duration /*took*/) {}
  // The key is gone (spec deleted and its job handled): forget its per-key metrics.
  virtual void OnForgotten(const SingletonKey& /*key*/) {}
};

class ControllerCore {
 public:
  struct Options {
    bool prune = false;
    bool dry_run = false;
  };

  ControllerCore(nomad::NomadApi& api, base::Clock& clock, Options options,
                 ControllerObserver* observer = nullptr);
  ControllerCore(const ControllerCore&) = delete;
  ControllerCore& operator=(const ControllerCore&) = delete;

  // Replaces the desired state; wakes the keys whose fingerprint, presence or lock path changed,
  // and every key when whether a deletion can be confirmed changed (SpecSet::unreadable, dir, or
  // whether it holds any spec).
  void ApplySpecs(SpecSet next);
  // Full lists → ClusterView::Reset; wakes the keys whose observed state changed. The first
  // success makes the core synced().
  base::Status Relist(SyncStats* stats = nullptr);
  // One event-stream frame: wakes the keys it touched.
  void OnFrame(const nomad::Frame& frame);
  // The lock watch (see the header comment). LockWatchQuery: GET /v1/vars with namespace "*", the
  // common prefix of every followed lock path, and the blocking index/wait given.
  nomad::QueryOptions LockWatchQuery(uint64_t index, Duration wait) const;
  // Re-reads each followed lock variable whose listed ModifyIndex differs from the last one read
  // (or that vanished), applies the reads to the view and wakes their keys. `listed` is the
  // list's result, `index` its X-Nomad-Index. Returns how many variables changed; a failed read
  // is returned (the next list sees the same difference again).
  base::Result<size_t> ApplyLockList(const std::vector<nomad::Variable>& listed, uint64_t index);
  // One round for a threaded host: the blocking list, then ApplyLockList. Returns the index for
  // the next round (0 after an index reset).
  base::Result<uint64_t> WatchLocks(uint64_t index, Duration wait);
  // Wakes every key with a spec or in the view (after the first sync, a resync, a new leader).
  void QueueAll();
  // Reconciles `key` (taken from queue()), then Forget/AddAfter/AddRateLimited and Done.
  void Process(const SingletonKey& key);

  // Leadership (see the header comment).
  void SetActive(bool active);
  bool active() const { return gate_.open(); }

  WorkQueue<SingletonKey>& queue() { return queue_; }
  const reconcile::ClusterView& view() const { return view_; }
  bool synced() const { return synced_.load(); }
  const Options& options() const { return options_; }

  // Copies for /status.
  SpecSet Specs() const;
  std::map<SingletonKey, KeyStatus> Statuses() const;
  // Every key with a spec or in the view, sorted.
  std::vector<SingletonKey> AllKeys() const;
  // The Desired a reconcile of `key` would use now. A key without a spec whose job in the view is
  // ours is kAbsent only when DeletionUnconfirmed says nothing; else kInvalid with its reason.
  reconcile::Desired DesiredFor(const SingletonKey& key) const;

 private:
  struct CachedVariable {
    uint64_t modify_index = 0;
    nomad::Variable var;
  };

  // Constant after construction.
  GatedApi gate_;
  base::Clock& clock_;
  const Options options_;
  ControllerObserver* const observer_;

  reconcile::ClusterView view_;  // safe for concurrent use
  WorkQueue<SingletonKey> queue_;
  reconcile::Reconciler reconciler_;
  std::atomic<bool> synced_{false};

  std::mutex relist_mu_;  // one Relist at a time; guards the caches
  std::map<std::pair<std::string, std::string>, CachedVariable> var_cache_;  // (ns, path)

  mutable std::mutex mu_;
  // Guarded by mu_.
  SpecSet specs_;
  std::map<SingletonKey, bool> deleted_keep_;  // keep annotation of deleted specs
  std::map<SingletonKey, reconcile::Memory> memory_;
  std::map<SingletonKey, KeyStatus> status_;
};

}  // namespace nsg::runtime
