#include "controller/reconcile/cluster_view.h"

#include <algorithm>

#include "controller/render/job_renderer.h"

namespace nsg::reconcile {
namespace {

bool IsChildJobId(const std::string& id) {
  return id.find("/periodic-") != std::string::npos || id.find("/dispatch-") != std::string::npos;
}

void Merge(KeySet& into, const KeySet& more) { into.insert(more.begin(), more.end()); }

// The version of an update: the event's index, or for a read the object's own ModifyIndex.
uint64_t VersionOf(uint64_t event_index, uint64_t modify_index) {
  return event_index != 0 ? event_index : modify_index;
}

bool OwnedSlim(const nomad::SlimJob& s) {
  return s.Meta(render::kMetaManagedBy) == std::string_view(render::kManagedByValue);
}

// What the view keeps of an allocation: everything but what nothing in the controller reads —
// the task states with their event histories, the reschedule and state histories, the
// descriptions and links to other allocations and evaluations. Those were most of an
// allocation's ~3 KB in the view at 10k singletons (docs/benchmarks.md). The controller's event
// stream decodes no more than this (nomad::PayloadDetail::kSummary, the same fields); reads and
// lists come whole and are slimmed here. Copied either way: a plan sees the allocation with
// these fields and the rest empty.
template <typename To, typename From>
To CopyAllocFields(const From& a) {
  To s;
  s.id = a.id;
  s.name = a.name;
  s.namespace_ = a.namespace_;
  s.node_id = a.node_id;
  s.job_id = a.job_id;
  s.job_type = a.job_type;
  s.job_version = a.job_version;
  s.task_group = a.task_group;
  s.desired_status = a.desired_status;
  s.desired_transition = a.desired_transition;
  s.client_status = a.client_status;
  s.create_index = a.create_index;
  s.modify_index = a.modify_index;
  s.alloc_modify_index = a.alloc_modify_index;
  s.create_time = a.create_time;
  s.modify_time = a.modify_time;
  return s;
}
ClusterView::SlimAlloc Slim(const nomad::Allocation& a) {
  return CopyAllocFields<ClusterView::SlimAlloc>(a);
}
nomad::Allocation Whole(const ClusterView::SlimAlloc& s) {
  return CopyAllocFields<nomad::Allocation>(s);
}

}  // namespace

SingletonKey KeyOf(const std::string& ns, const std::string& job_id) {
  std::string id = job_id;
  for (const char* marker : {"/periodic-", "/dispatch-"}) {
    auto at = id.find(marker);
    if (at != std::string::npos) id.resize(at);
  }
  return ns + "/" + id;
}

// ---- Public methods: take the lock, delegate ----

KeySet ClusterView::Watch(const std::map<SingletonKey, std::string>& lock_paths) {
  std::lock_guard lock(mu_);
  KeySet touched;
  for (const auto& [key, path] : lock_paths) {
    auto it = watched_.find(key);
    if (it == watched_.end() || it->second != path) touched.insert(key);
  }
  for (const auto& [key, path] : watched_) {
    if (lock_paths.count(key) == 0) touched.insert(key);
  }
  watched_ = lock_paths;
  for (const auto& key : touched) IndexLockLocked(key);
  // Foreign jobs were kept only because a spec named them.
  std::vector<SingletonKey> drop;
  for (const auto& [key, e] : jobs_) {
    if (!TrackedLocked(key)) drop.push_back(key);
  }
  for (const auto& key : drop) DropKeyLocked(key);
  return touched;
}

KeySet ClusterView::Apply(const nomad::Frame& frame) {
  std::lock_guard lock(mu_);
  KeySet touched;
  for (const nomad::Event& ev : frame.events) {
    const uint64_t index = ev.index != 0 ? ev.index : frame.index;
    if (ev.topic == "Job" && ev.job) {
      if (ev.deleted) {
        Merge(touched, DeleteJobLocked(ev.job->namespace_, ev.job->id, index, IsOwned(*ev.job),
                                     /*read=*/false));
      } else {
        Merge(touched, ApplyJobLocked(*ev.job, VersionOf(index, ev.job->modify_index),
                                      /*read=*/false, ev.job_detailed));
      }
    } else if (ev.topic == "Allocation" && ev.allocation) {
      Merge(touched, ApplyAllocLocked(*ev.allocation,
                                      VersionOf(index, ev.allocation->modify_index),
                                      /*read=*/false));
    } else if (ev.topic == "Node" && ev.node) {
      Merge(touched,
            ApplyNodeLocked(*ev.node, VersionOf(index, ev.node->modify_index), /*read=*/false));
    } else if (ev.topic == "Variable" && ev.variable) {
      const nomad::Variable& v = *ev.variable;
      const std::string ns = v.namespace_.empty() ? ev.namespace_ : v.namespace_;
      const std::string path = v.path.empty() ? ev.key : v.path;
      // Metadata has no Items; if a payload does carry the holder, use it.
      const bool items_known = v.items.count(kLockItemAllocId) != 0;
      Merge(touched, ApplyVariableLocked(ns, path, ev.deleted ? nullptr : &v, items_known,
                                         VersionOf(index, v.modify_index), /*read=*/false));
    }
    Bump(index);
  }
  Bump(frame.index);
  return touched;
}

KeySet ClusterView::Reset(Snapshot snap) {
  std::lock_guard lock(mu_);
  // The jobs the snapshot names as held stay as they are (the entry itself is kept), so the
  // before/after comparison leaves them out rather than copying each.
  std::set<SingletonKey> held_keys;
  for (const auto& h : snap.held_jobs) {
    const SingletonKey key = h.namespace_ + "/" + h.id;
    auto it = jobs_.find(key);
    if (it != jobs_.end() && it->second.slim.modify_index >= h.modify_index) held_keys.insert(key);
  }
  std::map<SingletonKey, Observed> before;
  for (const auto& key : AllKeysLocked()) {
    before.emplace(key, ObservedLocked(key, /*with_job=*/held_keys.count(key) == 0));
  }
  std::map<SingletonKey, JobEntry> held;
  for (const auto& key : held_keys) held.emplace(key, std::move(jobs_.at(key)));

  // Past holders are in no list: keep them.
  std::map<LockRef, std::vector<LockHolder>> histories;
  for (auto& [ref, e] : locks_) {
    std::vector<LockHolder> h = std::move(e.history);
    if (e.held && e.alloc_known) h.insert(h.begin(), LockHolder{e.alloc_id, e.epoch});
    if (h.size() > kMaxHolderHistory) h.resize(kMaxHolderHistory);
    histories.emplace(ref, std::move(h));
  }
  jobs_.clear();
  lock_ref_of_.clear();
  keys_by_lock_.clear();
  for (const auto& [key, path] : watched_) IndexLockLocked(key);
  job_tombstones_.clear();
  allocs_.clear();
  alloc_ids_by_key_.clear();
  alloc_ids_by_node_.clear();
  nodes_.clear();
  locks_.clear();

  for (auto& [key, entry] : held) {
    jobs_.emplace(key, std::move(entry));
    IndexLockLocked(key);
  }
  // The snapshot's jobs move into the view: after a restart every job was read whole, and a
  // copy of each beside the snapshot doubled the relist's peak (issue 17).
  for (auto& j : snap.jobs) {
    ApplyJobLocked(j, j.modify_index, /*read=*/true, /*detailed=*/true, &j);
    j = nomad::Job{};  // whatever was not taken goes now, not with the snapshot
  }
  for (const auto& n : snap.nodes) ApplyNodeLocked(n, n.modify_index, /*read=*/true);
  for (const auto& a : snap.allocations) ApplyAllocLocked(a, a.modify_index, /*read=*/true);
  for (const auto& v : snap.variables) {
    ApplyVariableLocked(v.namespace_, v.path, &v, /*items_known=*/true, v.modify_index,
                        /*read=*/true);
  }
  // A tracked key whose lock variable is not in the snapshot: the lock is free (known).
  for (const auto& key : AllKeysLocked()) {
    const std::string path = LockPathLocked(key);
    if (path.empty()) continue;
    const LockRef ref{key.substr(0, key.find('/')), path};
    auto [it, added] = locks_.try_emplace(ref);
    if (added) it->second.version = snap.index;
  }
  // Restore history (a holder that came back in the snapshot is not its own past holder).
  for (auto& [ref, e] : locks_) {
    auto h = histories.find(ref);
    if (h == histories.end()) continue;
    for (const auto& past : h->second) {
      if (e.held && past.alloc_id == e.alloc_id && past.epoch == e.epoch) continue;
      if (e.history.size() < kMaxHolderHistory) e.history.push_back(past);
    }
  }
  floor_ = snap.index;
  Bump(snap.index);

  KeySet touched;
  for (const auto& key : AllKeysLocked()) {
    auto b = before.find(key);
    if (b == before.end() ||
        !(b->second == ObservedLocked(key, /*with_job=*/held_keys.count(key) == 0))) {
      touched.insert(key);
    }
  }
  for (const auto& [key, obs] : before) {
    if (touched.count(key) == 0 &&
        !(obs == ObservedLocked(key, /*with_job=*/held_keys.count(key) == 0))) {
      touched.insert(key);
    }
  }
  return touched;
}

bool ClusterView::HoldsJobAt(const std::string& ns, const std::string& id,
                             uint64_t modify_index) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(ns + "/" + id);
  return it != jobs_.end() && it->second.slim.modify_index == modify_index;
}

KeySet ClusterView::ApplyJobRead(const nomad::Job& job) {
  std::lock_guard lock(mu_);
  Bump(job.modify_index);
  return ApplyJobLocked(job, job.modify_index, /*read=*/true);
}

KeySet ClusterView::ApplyJobMissing(const std::string& ns, const std::string& id, uint64_t index) {
  std::lock_guard lock(mu_);
  return DeleteJobLocked(ns, id, std::max(index, last_index_), /*owned=*/false, /*read=*/true);
}

KeySet ClusterView::ApplyAllocationRead(const nomad::Allocation& alloc) {
  std::lock_guard lock(mu_);
  Bump(alloc.modify_index);
  return ApplyAllocLocked(alloc, alloc.modify_index, /*read=*/true);
}

KeySet ClusterView::ApplyVariableRead(const std::string& ns, const std::string& path,
                                      const std::optional<nomad::Variable>& var, uint64_t index) {
  std::lock_guard lock(mu_);
  // A 404 carries no useful index here: it is the state as of now (the newest index seen).
  const uint64_t version =
      var ? std::max(var->modify_index, index) : std::max(index, last_index_);
  KeySet touched = ApplyVariableLocked(ns, path, var ? &*var : nullptr, /*items_known=*/true,
                                       version, /*read=*/true);
  Bump(version);
  return touched;
}

KeySet ClusterView::ApplyNodeRead(const nomad::Node& node) {
  std::lock_guard lock(mu_);
  Bump(node.modify_index);
  return ApplyNodeLocked(node, node.modify_index, /*read=*/true);
}

Observed ClusterView::ObservedFor(const SingletonKey& key) const {
  std::lock_guard lock(mu_);
  return ObservedLocked(key);
}

std::string ClusterView::LockPathOf(const SingletonKey& key) const {
  std::lock_guard lock(mu_);
  return LockPathLocked(key);
}

std::vector<SingletonKey> ClusterView::Keys() const {
  std::lock_guard lock(mu_);
  KeySet all = AllKeysLocked();
  return {all.begin(), all.end()};
}

uint64_t ClusterView::LastIndex() const {
  std::lock_guard lock(mu_);
  return last_index_;
}

// ---- Internals (mu_ held) ----

bool ClusterView::TrackedLocked(const SingletonKey& key) const {
  if (watched_.count(key) != 0) return true;
  auto it = jobs_.find(key);
  return it != jobs_.end() && OwnedSlim(it->second.slim);
}

KeySet ClusterView::AllKeysLocked() const {
  KeySet keys;
  for (const auto& [key, path] : watched_) keys.insert(key);
  for (const auto& [key, e] : jobs_) keys.insert(key);
  return keys;
}

std::string ClusterView::LockPathLocked(const SingletonKey& key) const {
  auto j = jobs_.find(key);
  if (j != jobs_.end() && OwnedSlim(j->second.slim)) {
    auto m = j->second.slim.Meta(render::kMetaLockPath);
    if (m && !m->empty()) return std::string(*m);
  }
  auto w = watched_.find(key);
  return w == watched_.end() ? "" : w->second;
}

KeySet ClusterView::KeysForLockLocked(const std::string& ns, const std::string& path) const {
  auto it = keys_by_lock_.find(LockRef{ns, path});
  return it == keys_by_lock_.end() ? KeySet{} : it->second;
}

void ClusterView::IndexLockLocked(const SingletonKey& key) {
  std::optional<LockRef> want;
  if (watched_.count(key) != 0 || jobs_.count(key) != 0) {
    const std::string path = LockPathLocked(key);
    if (!path.empty()) want = LockRef{key.substr(0, key.find('/')), path};
  }
  auto old = lock_ref_of_.find(key);
  if (old != lock_ref_of_.end()) {
    if (want && old->second == *want) return;
    auto keys = keys_by_lock_.find(old->second);
    if (keys != keys_by_lock_.end() && keys->second.erase(key) && keys->second.empty()) {
      keys_by_lock_.erase(keys);
    }
    lock_ref_of_.erase(old);
  }
  if (want) {
    keys_by_lock_[*want].insert(key);
    lock_ref_of_.emplace(key, *want);
  }
}

void ClusterView::DropKeyLocked(const SingletonKey& key) {
  jobs_.erase(key);
  IndexLockLocked(key);
  auto ids = alloc_ids_by_key_.find(key);
  if (ids == alloc_ids_by_key_.end()) return;
  const std::set<std::string> drop = ids->second;
  for (const auto& id : drop) EraseAllocLocked(id);
}

void ClusterView::PutAllocLocked(const nomad::Allocation& full, const SingletonKey& key,
                                 uint64_t version) {
  SlimAlloc alloc = Slim(full);
  auto it = allocs_.find(alloc.id);
  if (it != allocs_.end()) {
    // An update (most events): the indexes already hold it unless its node or key moved.
    if (it->second.alloc.node_id != alloc.node_id) {
      auto n = alloc_ids_by_node_.find(it->second.alloc.node_id);
      if (n != alloc_ids_by_node_.end() && n->second.erase(alloc.id) && n->second.empty()) {
        alloc_ids_by_node_.erase(n);
      }
      alloc_ids_by_node_[alloc.node_id].insert(alloc.id);
    }
    if (it->second.key != key) {
      auto k = alloc_ids_by_key_.find(it->second.key);
      if (k != alloc_ids_by_key_.end() && k->second.erase(alloc.id) && k->second.empty()) {
        alloc_ids_by_key_.erase(k);
      }
      alloc_ids_by_key_[key].insert(alloc.id);
      it->second.key = key;
    }
    it->second.alloc = std::move(alloc);
    it->second.version = version;
  } else {
    alloc_ids_by_key_[key].insert(alloc.id);
    alloc_ids_by_node_[alloc.node_id].insert(alloc.id);
    const std::string id = alloc.id;
    allocs_.emplace(id, AllocEntry{std::move(alloc), key, version});
  }
}

void ClusterView::EraseAllocLocked(const std::string& alloc_id) {
  auto it = allocs_.find(alloc_id);
  if (it == allocs_.end()) return;
  auto k = alloc_ids_by_key_.find(it->second.key);
  if (k != alloc_ids_by_key_.end() && k->second.erase(alloc_id) && k->second.empty()) {
    alloc_ids_by_key_.erase(k);
  }
  auto n = alloc_ids_by_node_.find(it->second.alloc.node_id);
  if (n != alloc_ids_by_node_.end() && n->second.erase(alloc_id) && n->second.empty()) {
    alloc_ids_by_node_.erase(n);
  }
  allocs_.erase(it);
}

KeySet ClusterView::ApplyJobLocked(const nomad::Job& job, uint64_t version, bool read,
                                   bool detailed, nomad::Job* movable) {
  if (IsChildJobId(job.id)) return {};
  const SingletonKey key = job.namespace_ + "/" + job.id;
  auto it = jobs_.find(key);
  if (it != jobs_.end()) {
    // The same version again only brings back the detail of a summarized job (the reconciler
    // reads it for a full drift check).
    if (version < it->second.version ||
        (version == it->second.version && (it->second.whole != nullptr || !detailed))) {
      return {};
    }
  } else {
    auto tomb = job_tombstones_.find(key);
    if (tomb != job_tombstones_.end() && version <= tomb->second) return {};
    if (!read && version <= floor_) return {};
  }
  const bool was_tracked = it != jobs_.end();
  if (!IsOwned(job) && watched_.count(key) == 0) {
    // Not ours and no spec names it: forget it (it may have been ours until now).
    if (!was_tracked) return {};
    DropKeyLocked(key);
    job_tombstones_[key] = version;
    return {key};
  }
  job_tombstones_.erase(key);
  JobEntry entry{nomad::SlimOf(job), nullptr, version};
  if (detailed && movable != nullptr) {
    entry.whole = std::make_shared<const nomad::Job>(std::move(*movable));  // not read again
  } else if (detailed) {
    entry.whole = std::make_shared<const nomad::Job>(job);
  }
  jobs_[key] = std::move(entry);
  IndexLockLocked(key);
  Bump(version);
  return {key};
}

KeySet ClusterView::DeleteJobLocked(const std::string& ns, const std::string& id,
                                    uint64_t version, bool owned, bool read) {
  if (IsChildJobId(id)) return {};
  const SingletonKey key = ns + "/" + id;
  Bump(version);
  auto it = jobs_.find(key);
  // A tombstone stops a late update from bringing back a job the view could track.
  if (it != jobs_.end() || owned || watched_.count(key) != 0) {
    uint64_t& tomb = job_tombstones_[key];
    tomb = std::max(tomb, version);
  }
  // A read (404) is the newest word on the job, also at the same index.
  if (it == jobs_.end() || version < it->second.version ||
      (version == it->second.version && !read)) {
    return {};
  }
  jobs_.erase(it);
  IndexLockLocked(key);
  // Allocations of a watched key stay (Nomad stops them; until it has they still run); those of
  // an orphan go with it.
  if (watched_.count(key) == 0) DropKeyLocked(key);
  return {key};
}

void ClusterView::PruneTerminalLocked(const SingletonKey& key) {
  auto ids = alloc_ids_by_key_.find(key);
  if (ids == alloc_ids_by_key_.end() || ids->second.size() <= kMaxTerminalAllocations) return;
  std::vector<const AllocEntry*> terminal;
  for (const auto& id : ids->second) {
    const AllocEntry& e = allocs_.at(id);
    if (nomad::IsClientTerminal(e.alloc.client_status)) terminal.push_back(&e);
  }
  if (terminal.size() <= kMaxTerminalAllocations) return;
  std::sort(terminal.begin(), terminal.end(), [](auto* a, auto* b) {
    if (a->alloc.create_index != b->alloc.create_index) {
      return a->alloc.create_index > b->alloc.create_index;
    }
    return a->alloc.id > b->alloc.id;
  });
  std::vector<std::string> drop;
  for (size_t i = kMaxTerminalAllocations; i < terminal.size(); ++i) {
    drop.push_back(terminal[i]->alloc.id);
  }
  for (const auto& id : drop) EraseAllocLocked(id);
}

KeySet ClusterView::ApplyAllocLocked(const nomad::Allocation& alloc, uint64_t version,
                                     bool read) {
  const SingletonKey key = KeyOf(alloc.namespace_, alloc.job_id);
  auto it = allocs_.find(alloc.id);
  if (it != allocs_.end()) {
    if (version <= it->second.version) return {};
  } else if (!read && version <= floor_) {
    return {};
  }
  if (jobs_.count(key) == 0 && watched_.count(key) == 0) return {};
  PutAllocLocked(alloc, key, version);
  PruneTerminalLocked(key);
  return {key};
}

KeySet ClusterView::ApplyNodeLocked(const nomad::Node& node, uint64_t version, bool read) {
  auto it = nodes_.find(node.id);
  std::string old_status;
  if (it != nodes_.end()) {
    if (version <= it->second.version) return {};
    old_status = it->second.node.status;
    it->second = NodeEntry{node, version};
  } else {
    if (!read && version <= floor_) return {};
    nodes_.emplace(node.id, NodeEntry{node, version});
  }
  if (old_status == node.status) return {};
  // Only keys with allocations on this node see the node (Observed::node_status).
  KeySet touched;
  auto ids = alloc_ids_by_node_.find(node.id);
  if (ids == alloc_ids_by_node_.end()) return touched;
  for (const auto& id : ids->second) touched.insert(allocs_.at(id).key);
  return touched;
}

KeySet ClusterView::ApplyVariableLocked(const std::string& ns, const std::string& path,
                                        const nomad::Variable* var, bool items_known,
                                        uint64_t version, bool read) {
  const KeySet keys = KeysForLockLocked(ns, path);
  if (keys.empty()) return {};
  const LockRef ref{ns, path};
  auto it = locks_.find(ref);
  const bool fresh = it == locks_.end();
  if (!fresh) {
    LockEntry& e = it->second;
    // At the same index only a read is news (it names the holder an event could not, or it is
    // a 404 "as of now").
    if (version < e.version || (version == e.version && !read)) return {};
  } else if (!read && version <= floor_) {
    return {};
  }
  LockEntry& e = locks_[ref];
  const LockState before = fresh ? LockState{} : LockStateLocked(*keys.begin());
  auto retire = [&e] {
    if (e.held && e.alloc_known) {
      e.history.insert(e.history.begin(), LockHolder{e.alloc_id, e.epoch});
      if (e.history.size() > kMaxHolderHistory) e.history.resize(kMaxHolderHistory);
    }
  };
  e.version = version;
  const bool held = var != nullptr && var->lock.has_value();
  if (!held) {
    retire();
    e.held = false;
    e.lock_id.clear();
    e.alloc_known = false;
    e.alloc_id.clear();
    e.epoch = 0;
  } else {
    if (!e.held || var->lock->id != e.lock_id) {
      retire();  // a new lease: a new holder
      e.held = true;
      e.lock_id = var->lock->id;
      e.epoch = var->modify_index != 0 ? var->modify_index : version;
      e.alloc_known = false;
      e.alloc_id.clear();
    }
    if (items_known) {
      auto item = var->items.find(kLockItemAllocId);
      e.alloc_known = true;
      e.alloc_id = item == var->items.end() ? "" : item->second;
    }
  }
  const LockState after = LockStateLocked(*keys.begin());
  if (!fresh && before == after) return {};
  return keys;
}

LockState ClusterView::LockStateLocked(const SingletonKey& key) const {
  LockState s;
  const std::string path = LockPathLocked(key);
  if (path.empty()) return s;
  auto it = locks_.find({key.substr(0, key.find('/')), path});
  if (it == locks_.end()) return s;
  const LockEntry& e = it->second;
  s.known = true;
  if (e.held) s.holder = LockHolder{e.alloc_known ? e.alloc_id : "", e.epoch};
  s.history = e.history;
  return s;
}

void ClusterView::ReleaseJobDetail(const SingletonKey& key, uint64_t job_modify_index,
                                   bool stop) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end() || it->second.whole == nullptr) return;
  const nomad::Job& full = *it->second.whole;
  if (full.job_modify_index != job_modify_index || full.stop != stop) return;
  it->second.whole.reset();
}

Observed ClusterView::ObservedLocked(const SingletonKey& key, bool with_job) const {
  Observed o;
  auto j = jobs_.find(key);
  if (with_job && j != jobs_.end()) {
    o.job = j->second.whole ? *j->second.whole : nomad::WholeOf(j->second.slim);
    o.job_detailed = j->second.whole != nullptr;
  }
  std::vector<const SlimAlloc*> allocs;
  if (auto ids = alloc_ids_by_key_.find(key); ids != alloc_ids_by_key_.end()) {
    for (const auto& id : ids->second) allocs.push_back(&allocs_.at(id).alloc);
  }
  std::sort(allocs.begin(), allocs.end(), [](auto* a, auto* b) {
    if (a->create_index != b->create_index) return a->create_index < b->create_index;
    return a->id < b->id;
  });
  o.allocations.reserve(allocs.size());
  for (const auto* a : allocs) {
    o.allocations.push_back(Whole(*a));
    auto n = nodes_.find(a->node_id);
    if (n != nodes_.end()) o.node_status[a->node_id] = n->second.node.status;
  }
  o.lock = LockStateLocked(key);
  return o;
}

}  // namespace nsg::reconcile
