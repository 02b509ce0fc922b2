#include "controller/runtime/controller_core.h"

#include <filesystem>
#include <set>
#include <utility>

#include "controller/render/job_renderer.h"

namespace nsg::runtime {

using base::Status;
using base::StatusCode;
using reconcile::KeySet;
using Outcome = reconcile::ReconcileResult::Outcome;

namespace {

bool IsChildJob(const std::string& id) {
  return id.find("/periodic-") != std::string::npos ||
         id.find("/dispatch-") != std::string::npos;
}

// What decides DeletionUnconfirmed, to tell when it may have changed.
bool SameDeletionBasis(const SpecSet& a, const SpecSet& b) {
  return a.unreadable == b.unreadable && a.dir == b.dir && a.entries.empty() == b.entries.empty();
}

}  // namespace

bool IsInsideDirectory(const std::string& path, const std::string& dir) {
  namespace fs = std::filesystem;
  fs::path d = fs::path(dir).lexically_normal();
  if (!d.has_filename() && d.has_relative_path()) d = d.parent_path();  // "specs/"
  const fs::path rel = fs::path(path).lexically_normal().lexically_relative(d);
  return !rel.empty() && *rel.begin() != ".." && *rel.begin() != ".";
}

std::optional<UnconfirmedDeletion> DeletionUnconfirmed(const SpecSet& specs,
                                                        const nomad::Job& job) {
  if (!specs.unreadable.empty()) {
    std::string msg = "the spec source could not be read completely (" + specs.unreadable.front();
    if (specs.unreadable.size() > 1) {
      msg += "; and " + std::to_string(specs.unreadable.size() - 1) + " more";
    }
    msg += "): no spec counts as deleted until it can be read; the job is left as it is";
    return UnconfirmedDeletion{reconcile::kReasonSourceUnreadable, std::move(msg)};
  }
  const std::string where = specs.dir.empty() ? "the spec source" : specs.dir;
  if (specs.entries.empty()) {
    return UnconfirmedDeletion{
        reconcile::kReasonSourceEmpty,
        where + " holds no spec: an empty spec source never deletes anything (is it the right "
                "directory, or still being populated?); the job is left as it is"};
  }
  if (specs.dir.empty()) return std::nullopt;
  auto source = job.meta.find(render::kMetaSource);
  if (source == job.meta.end() || source->second.empty()) {
    return UnconfirmedDeletion{reconcile::kReasonSourceUnknown,
                               "the job's Meta records no source file; it is left as it is"};
  }
  if (!IsInsideDirectory(source->second, specs.dir)) {
    return UnconfirmedDeletion{
        reconcile::kReasonSourceUnknown,
        "the job came from " + source->second + ", which is not in " + specs.dir +
            "; it is left as it is (deregister it by hand if it is no longer wanted)"};
  }
  return std::nullopt;
}

ControllerCore::ControllerCore(nomad::NomadApi& api, base::Clock& clock, Options options,
                               ControllerObserver* observer)
    : gate_(api),
      clock_(clock),
      options_(options),
      observer_(observer),
      queue_(clock_),
      reconciler_(gate_, view_, clock_,
                  reconcile::Reconciler::Options{.prune = options_.prune,
                                                 .dry_run = options_.dry_run}) {}

void ControllerCore::ApplySpecs(SpecSet next) {
  struct Change {
    SingletonKey key;
    std::optional<SpecEntry> previous, now;
  };
  std::vector<Change> changes;
  KeySet wake;
  std::optional<std::vector<std::string>> file_errors;  // set when they changed
  std::optional<std::vector<std::string>> unreadable;   // set when it changed
  bool wake_all = false;
  std::map<SingletonKey, std::string> lock_paths;
  {
    std::lock_guard lock(mu_);
    // Keys without a spec (in the view only) may now be confirmed deleted, or no longer.
    wake_all = !SameDeletionBasis(specs_, next);
    if (next.unreadable != specs_.unreadable) unreadable = next.unreadable;
    for (const auto& [key, e] : next.entries) {
      auto prev = specs_.entries.find(key);
      if (prev != specs_.entries.end() && prev->second.fingerprint == e.fingerprint) continue;
      wake.insert(key);
      changes.push_back({key,
                         prev == specs_.entries.end() ? std::nullopt
                                                      : std::optional<SpecEntry>(prev->second),
                         e});
    }
    for (const auto& [key, e] : specs_.entries) {
      if (next.entries.count(key) != 0) continue;
      wake.insert(key);
      deleted_keep_[key] = e.desired.keep_on_delete;
      changes.push_back({key, e, std::nullopt});
    }
    for (const auto& key : wake) {
      if (next.entries.count(key) != 0) deleted_keep_.erase(key);
    }
    if (next.file_errors != specs_.file_errors) file_errors = next.file_errors;
    specs_ = std::move(next);
    for (const auto& [key, e] : specs_.entries) lock_paths[key] = e.lock_path;
  }
  if (observer_) {
    for (const auto& c : changes) {
      observer_->OnSpecChanged(c.key, c.previous ? &*c.previous : nullptr,
                               c.now ? &*c.now : nullptr);
    }
    if (file_errors) observer_->OnFileErrors(*file_errors);
    if (unreadable) observer_->OnSourceUnreadable(*unreadable);
  }
  for (const auto& key : view_.Watch(lock_paths)) wake.insert(key);
  if (wake_all) {
    for (const auto& key : view_.Keys()) wake.insert(key);
  }
  for (const auto& key : wake) queue_.Add(key);
}

Status ControllerCore::Relist(SyncStats* stats_out) {
  std::lock_guard relist(relist_mu_);
  std::map<SingletonKey, std::string> lock_paths;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, e] : specs_.entries) lock_paths[key] = e.lock_path;
  }
  SyncStats stats;
  nomad::QueryOptions all;
  all.namespace_ = "*";
  reconcile::Snapshot snap;

  auto jobs = gate_.ListJobs(all, /*meta=*/true);
  if (!jobs.ok()) return jobs.status();
  uint64_t index = jobs.value().meta.last_index;
  std::set<std::pair<std::string, std::string>> locks;  // namespace, path
  for (const auto& stub : jobs.value().value) {
    if (IsChildJob(stub.id)) continue;
    const auto key = reconcile::KeyOf(stub.namespace_, stub.id);
    auto managed = stub.meta.find(render::kMetaManagedBy);
    const bool ours = managed != stub.meta.end() && managed->second == render::kManagedByValue;
    if (!ours && lock_paths.count(key) == 0) continue;
    // The view already holds the job at the listed index when an earlier list, a read or a Job
    // event brought it: it keeps that copy, and nothing is read or copied again (issue 17).
    // (The list's Meta is the job's: meta=true.)
    if (view_.HoldsJobAt(stub.namespace_, stub.id, stub.modify_index)) {
      auto lp = stub.meta.find(render::kMetaLockPath);
      if (lp != stub.meta.end() && !lp->second.empty()) {
        locks.insert({stub.namespace_, lp->second});
      }
      snap.held_jobs.push_back({stub.namespace_, stub.id, stub.modify_index});
      continue;
    }
    nomad::QueryOptions q;
    q.namespace_ = stub.namespace_;
    auto job = gate_.ReadJob(stub.id, q);
    ++stats.job_reads;
    if (!job.ok() && job.status().code() == StatusCode::kNotFound) continue;
    if (!job.ok()) return job.status();
    nomad::Job known = std::move(job.value().value);
    auto lp = known.meta.find(render::kMetaLockPath);
    if (lp != known.meta.end() && !lp->second.empty()) {
      locks.insert({stub.namespace_, lp->second});
    }
    snap.jobs.push_back(std::move(known));
  }
  // Without TaskStates: the view keeps none (ClusterView), and they are most of each stub.
  nomad::QueryOptions all_allocs = all;
  all_allocs.task_states = false;
  auto allocs = gate_.ListAllocations(all_allocs);
  if (!allocs.ok()) return allocs.status();
  index = std::min(index, allocs.value().meta.last_index);
  snap.allocations = std::move(allocs.value().value);
  auto nodes = gate_.ListNodes({});
  if (!nodes.ok()) return nodes.status();
  index = std::min(index, nodes.value().meta.last_index);
  snap.nodes = std::move(nodes.value().value);

  for (const auto& [key, path] : lock_paths) {
    if (!path.empty()) locks.insert({key.substr(0, key.find('/')), path});
  }
  std::map<std::pair<std::string, std::string>, CachedVariable> var_cache;
  if (!locks.empty()) {
    // Metadata of every variable: a lock variable is read (for its Items) only when it moved.
    auto vars = gate_.ListVariables(all);
    if (!vars.ok()) return vars.status();
    std::map<std::pair<std::string, std::string>, uint64_t> listed;
    for (const auto& v : vars.value().value) listed[{v.namespace_, v.path}] = v.modify_index;
    for (const auto& ref : locks) {
      auto l = listed.find(ref);
      if (l == listed.end()) continue;  // no variable: the lock is free
      CachedVariable entry;
      auto cached = var_cache_.find(ref);
      if (cached != var_cache_.end() && cached->second.modify_index == l->second) {
        entry = cached->second;
      } else {
        nomad::QueryOptions q;
        q.namespace_ = ref.first;
        auto var = gate_.ReadVariable(ref.second, q);
        ++stats.variable_reads;
        if (!var.ok() && var.status().code() == StatusCode::kNotFound) continue;
        if (!var.ok()) return var.status();
        entry.var = std::move(var.value().value);
        entry.modify_index = entry.var.modify_index;
      }
      snap.variables.push_back(entry.var);
      var_cache.emplace(ref, std::move(entry));
    }
  }
  var_cache_ = std::move(var_cache);
  // ACL policies: one list; the reconciler then reads a policy only when its index moved.
  // (Clusters without ACLs refuse the list; the reconciler handles them on its own.)
  if (auto policies = gate_.ListAclPolicies(); policies.ok()) {
    reconciler_.NotePolicyList(policies.value().value);
  }

  snap.index = index;
  stats.index = index;
  stats.jobs = snap.jobs.size() + snap.held_jobs.size();
  stats.allocations = snap.allocations.size();
  stats.nodes = snap.nodes.size();
  stats.locks = snap.variables.size();
  const KeySet changed = view_.Reset(std::move(snap));
  stats.changed_keys = changed.size();
  for (const auto& key : changed) queue_.Add(key);
  synced_ = true;
  if (observer_) observer_->OnSynced(stats);
  if (stats_out) *stats_out = stats;
  return Status::Ok();
}

namespace {

// The (namespace, path) of every lock the view follows.
std::set<std::pair<std::string, std::string>> LockRefs(const reconcile::ClusterView& view,
                                                       const std::vector<SingletonKey>& keys) {
  std::set<std::pair<std::string, std::string>> refs;
  for (const auto& key : keys) {
    std::string path = view.LockPathOf(key);
    if (!path.empty()) refs.insert({key.substr(0, key.find('/')), std::move(path)});
  }
  return refs;
}

}  // namespace

nomad::QueryOptions ControllerCore::LockWatchQuery(uint64_t index, Duration wait) const {
  nomad::QueryOptions q;
  q.namespace_ = "*";
  q.index = index;
  q.wait = wait;
  const auto refs = LockRefs(view_, AllKeys());
  bool first = true;
  for (const auto& [ns, path] : refs) {
    if (first) {
      q.prefix = path;
      first = false;
      continue;
    }
    size_t n = 0;
    while (n < q.prefix.size() && n < path.size() && q.prefix[n] == path[n]) ++n;
    q.prefix.resize(n);
  }
  return q;
}

base::Result<size_t> ControllerCore::ApplyLockList(const std::vector<nomad::Variable>& listed,
                                                   uint64_t index) {
  std::lock_guard relist(relist_mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> seen;
  for (const auto& v : listed) seen[{v.namespace_, v.path}] = v.modify_index;
  size_t changed = 0;
  for (const auto& ref : LockRefs(view_, AllKeys())) {
    auto l = seen.find(ref);
    auto cached = var_cache_.find(ref);
    if (l == seen.end()) {
      if (cached == var_cache_.end()) continue;
      var_cache_.erase(cached);  // deleted: the lock is free
      for (const auto& key : view_.ApplyVariableRead(ref.first, ref.second, std::nullopt, index)) {
        queue_.Add(key);
      }
      ++changed;
      continue;
    }
    if (cached != var_cache_.end() && cached->second.modify_index == l->second) continue;
    nomad::QueryOptions q;
    q.namespace_ = ref.first;
    auto var = gate_.ReadVariable(ref.second, q);
    std::optional<nomad::Variable> read;
    uint64_t at = index;
    if (var.ok()) {
      read = var.value().value;
      at = var.value().meta.last_index;
      var_cache_[ref] = CachedVariable{read->modify_index, *read};
    } else if (var.status().code() == StatusCode::kNotFound) {
      var_cache_.erase(ref);
    } else {
      return var.status();
    }
    for (const auto& key : view_.ApplyVariableRead(ref.first, ref.second, read, at)) {
      queue_.Add(key);
    }
    ++changed;
  }
  return changed;
}

base::Result<uint64_t> ControllerCore::WatchLocks(uint64_t index, Duration wait) {
  auto list = gate_.ListVariables(LockWatchQuery(index, wait));
  if (!list.ok()) return list.status();
  const uint64_t next = list.value().meta.last_index;
  auto applied = ApplyLockList(list.value().value, next);
  if (!applied.ok()) return applied.status();
  return next;
}

void ControllerCore::OnFrame(const nomad::Frame& frame) {
  for (const auto& key : view_.Apply(frame)) queue_.Add(key);
}

void ControllerCore::QueueAll() {
  for (const auto& key : AllKeys()) queue_.Add(key);
}

void ControllerCore::SetActive(bool active) {
  const bool was = gate_.open();
  gate_.SetOpen(active);
  if (active && !was) QueueAll();
}

std::vector<SingletonKey> ControllerCore::AllKeys() const {
  std::set<SingletonKey> keys;
  for (const auto& k : view_.Keys()) keys.insert(k);
  {
    std::lock_guard lock(mu_);
    for (const auto& [k, e] : specs_.entries) keys.insert(k);
  }
  return {keys.begin(), keys.end()};
}

reconcile::Desired ControllerCore::DesiredFor(const SingletonKey& key) const {
  {
    std::lock_guard lock(mu_);
    auto it = specs_.entries.find(key);
    if (it != specs_.entries.end()) return it->second.desired;
  }
  // No spec. Read outside mu_ (the view has its own lock): only a job of ours needs a confirmed
  // deletion.
  const std::optional<nomad::Job> job = view_.ObservedFor(key).job;
  std::lock_guard lock(mu_);
  auto it = specs_.entries.find(key);
  if (it != specs_.entries.end()) return it->second.desired;  // added meanwhile
  reconcile::Desired d;
  d.key = key;
  d.state = reconcile::SpecState::kAbsent;
  if (job && reconcile::IsOwned(*job)) {
    if (auto why = DeletionUnconfirmed(specs_, *job)) {
      d.state = reconcile::SpecState::kInvalid;
      d.invalid_reason = std::move(why->reason);
      d.invalid_message = std::move(why->message);
      return d;
    }
  }
  auto keep = deleted_keep_.find(key);
  d.keep_on_delete = keep != deleted_keep_.end() && keep->second;
  return d;
}

SpecSet ControllerCore::Specs() const {
  std::lock_guard lock(mu_);
  return specs_;
}

std::map<SingletonKey, KeyStatus> ControllerCore::Statuses() const {
  std::lock_guard lock(mu_);
  return status_;
}

void ControllerCore::Process(const SingletonKey& key) {
  if (!gate_.open()) {
    // Not the leader: the new leader (or this replica, once it leads again) wakes every key.
    queue_.Forget(key);
    queue_.Done(key);
    return;
  }
  const reconcile::Desired desired = DesiredFor(key);
  reconcile::Memory memory;
  {
    std::lock_guard lock(mu_);
    memory = memory_[key];
  }
  const TimePoint t0 = clock_.Now();
  reconcile::ReconcileResult r = reconciler_.Reconcile(desired, memory);
  const Duration took = clock_.Now() - t0;
  if (observer_) observer_->OnReconciled(key, desired, r, took);
  const reconcile::Condition* synced = r.plan.Find(reconcile::ConditionType::kSynced);
  const bool gone = desired.state == reconcile::SpecState::kAbsent &&
                    r.outcome == Outcome::kDone && synced && synced->reason == "Deleted";
  {
    std::lock_guard lock(mu_);
    if (gone) {
      memory_.erase(key);
      status_.erase(key);
      deleted_keep_.erase(key);
    } else {
      memory_[key] = memory;
      if (r.outcome != Outcome::kCancelled) {
        // /status shows the conditions, the limit and each executed action's description
        // (`executed`). The actions themselves (a register's job and policy), the plan's events
        // (the observer has seen them) and its memory (memory_ holds it) would be another
        // ~1-2 KB per key (issue 17): not kept.
        r.plan.actions = {};
        r.plan.events = {};
        r.plan.memory = {};
        KeyStatus next{r, clock_.Now(), {}};
        auto prev = status_.find(key);
        for (const auto& c : r.plan.conditions) {
          next.transitions[c.type] = next.at;
          if (prev == status_.end()) continue;
          const reconcile::Condition* old = prev->second.last.plan.Find(c.type);
          auto t = prev->second.transitions.find(c.type);
          if (old && old->status == c.status && t != prev->second.transitions.end()) {
            next.transitions[c.type] = t->second;
          }
        }
        status_[key] = std::move(next);
      }
    }
  }
  if (gone && observer_) observer_->OnForgotten(key);
  switch (r.outcome) {
    case Outcome::kDone:
      queue_.Forget(key);
      if (r.requeue_after) queue_.AddAfter(key, *r.requeue_after);
      break;
    case Outcome::kRetry:
      queue_.AddRateLimited(key);
      break;
    case Outcome::kPermanent:
      queue_.Forget(key);
      break;
    case Outcome::kCancelled:
      break;
  }
  queue_.Done(key);
}

}  // namespace nsg::runtime
