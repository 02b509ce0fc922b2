#include "controller/sim/variables.h"

#include <algorithm>
#include <functional>
#include <set>

namespace nsg::sim {
namespace {

constexpr char kPermissionDenied[] = "Permission denied";

size_t ItemsSize(const nomad::StringMap& items) {
  size_t n = 0;
  for (const auto& [k, v] : items) n += k.size() + v.size();
  return n;
}

// The metadata of a variable as the event payload and the list endpoint carry it.
nomad::Variable Metadata(const nomad::Variable& v) {
  nomad::Variable m = v;
  m.items.clear();
  return m;
}

}  // namespace

Variables::Variables(SimCore& core, AclState& acl, Options opts)
    : core_(core), acl_(acl), opts_(opts) {}

Variables::~Variables() {
  for (const auto& [token, id] : live_) core_.Cancel(id);
}

std::string Variables::MultiError(const std::vector<std::string>& errs) {
  // go-multierror's default format.
  std::string out = errs.size() == 1 ? "1 error occurred:\n"
                                     : std::to_string(errs.size()) + " errors occurred:\n";
  for (const std::string& e : errs) out += "\t* " + e + "\n";
  out += "\n";
  return out;
}

VarReply Variables::Text(int status, std::string msg) {
  VarReply r;
  r.status = status;
  r.body = VarReply::Body::kText;
  r.text = std::move(msg);
  return r;
}

std::vector<std::string> Variables::Validate(const nomad::Variable& var) {
  std::vector<std::string> errs;
  if (var.namespace_ == "*") errs.push_back("can not target wildcard (\"*\")namespace");
  if (ItemsSize(var.items) > kMaxVariableSize) {
    errs.push_back("variables are limited to 64KiB in total size");
  }
  if (auto e = nomad::VariablePathError(var.path)) errs.push_back(*e);
  return errs;
}

std::string Variables::TargetNamespace(const std::string& request_ns, const nomad::Variable& var) {
  if (!var.namespace_.empty()) return var.namespace_;
  return request_ns.empty() ? "default" : request_ns;
}

nomad::Variable Variables::ZeroValued(const std::string& ns, const std::string& path) {
  nomad::Variable v;
  v.namespace_ = ns;
  v.path = path;
  return v;
}

nomad::Variable Variables::ConflictBody(const nomad::Variable& conflict, bool can_read,
                                        bool show_lock) {
  nomad::Variable v = conflict;
  if (!can_read) v.items.clear();
  if (!show_lock) v.lock.reset();
  return v;
}

void Variables::Publish(uint64_t index, const nomad::Variable& var, bool deleted) {
  // Before 2.0.0 a variable write emits no event: there is no Variable topic
  // (nomad/structs/event.go @ v1.11.3 has no TopicVariable; nomad/state/events.go no VarApplyState).
  if (!nomad::HasVariableTopic(core_.Version())) return;
  nomad::Event ev;
  ev.topic = "Variable";
  ev.type = "VariableUpdated";
  ev.key = var.path;
  ev.namespace_ = var.namespace_;
  ev.index = index;
  ev.variable = Metadata(var);
  ev.deleted = deleted;
  std::vector<nomad::Event> events;
  events.push_back(std::move(ev));
  core_.Events().Publish(index, std::move(events));
}

uint64_t Variables::WriteVar(nomad::Variable var) {
  uint64_t index = core_.NextIndex();
  Key key{var.namespace_, var.path};
  auto it = vars_.find(key);
  if (it == vars_.end()) {
    var.create_index = index;
    var.create_time = core_.UnixNanos();
  } else {
    var.create_index = it->second.create_index;
    var.create_time = it->second.create_time;
  }
  var.modify_index = index;
  var.modify_time = core_.UnixNanos();
  table_index_ = index;
  vars_[key] = var;
  Publish(index, var, /*deleted=*/false);
  return index;
}

uint64_t Variables::WriteDelete(const Key& key) {
  uint64_t index = core_.NextIndex();
  auto it = vars_.find(key);
  if (it == vars_.end()) return index;  // nothing to delete: the table does not change
  nomad::Variable gone = it->second;
  vars_.erase(it);
  table_index_ = index;
  Publish(index, gone, /*deleted=*/true);
  return index;
}

// --- Reads ---------------------------------------------------------------------------------

VarReply Variables::Read(const Identity& who, const std::string& ns,
                         const std::string& path) const {
  if (!(acl_.VariableCapabilities(who, ns, path, /*use_claims=*/true) & kVarRead)) {
    return Text(403, kPermissionDenied);
  }
  VarReply r;
  r.query_meta = true;
  auto it = vars_.find(Key{ns, path});
  if (it == vars_.end()) {
    r.status = 404;
    r.body = VarReply::Body::kText;
    r.text = "variable not found";
    r.index = table_index_;
    return r;
  }
  r.body = VarReply::Body::kVariable;
  r.var = it->second;
  if (!acl_.IsManagement(who)) r.var.lock.reset();
  r.index = it->second.modify_index;
  return r;
}

VarReply Variables::List(const Identity& who, const std::string& ns, const std::string& prefix,
                         size_t per_page, const std::string& next_token) const {
  VarReply r;
  r.query_meta = true;
  r.body = VarReply::Body::kList;
  r.index = table_index_;
  bool management = acl_.IsManagement(who);
  for (const auto& [key, v] : vars_) {
    if (ns != "*" && key.first != ns) continue;
    if (v.path.rfind(prefix, 0) != 0) continue;
    if (!(acl_.VariableCapabilities(who, key.first, key.second, /*use_claims=*/true) & kVarList)) {
      continue;
    }
    std::string token = key.first + "." + key.second;
    if (!next_token.empty() && token < next_token) continue;
    if (per_page > 0 && r.list.size() == per_page) {
      r.next_token = token;
      break;
    }
    nomad::Variable m = Metadata(v);
    if (!management) m.lock.reset();
    r.list.push_back(std::move(m));
  }
  return r;
}

// --- Set and delete ------------------------------------------------------------------------

VarReply Variables::Set(const Identity& who, const std::string& request_ns, nomad::Variable var,
                        std::optional<uint64_t> cas) {
  var.namespace_ = TargetNamespace(request_ns, var);
  // svePreApply: ACL (write, without the workload's implicit claims) before validation.
  unsigned caps = acl_.VariableCapabilities(who, var.namespace_, var.path, /*use_claims=*/false);
  if (!(caps & kVarWrite)) return Text(403, kPermissionDenied);
  bool can_read = (caps & kVarRead) != 0;
  if (auto errs = Validate(var); !errs.empty()) return Text(500, MultiError(errs));

  Key key{var.namespace_, var.path};
  auto it = vars_.find(key);
  const nomad::Variable* existing = it == vars_.end() ? nullptr : &it->second;
  bool management = acl_.IsManagement(who);
  auto conflict = [&](nomad::Variable body) {
    VarReply r;
    r.status = 409;
    r.body = VarReply::Body::kVariable;
    r.index = body.modify_index;  // setIndex(conflict.ModifyIndex) runs before WriteHeader
    r.var = std::move(body);
    return r;
  };
  auto owner = [&](const nomad::Variable& stored) {
    return stored.lock && var.lock && var.lock->id == stored.lock->id;
  };

  if (cas) {
    if (*cas == 0 && existing) {
      return conflict(ConflictBody(*existing, can_read, management || owner(*existing)));
    }
    if (*cas > 0 && !existing) return conflict(ZeroValued(var.namespace_, var.path));
    if (*cas > 0 && existing->modify_index != *cas) {
      return conflict(ConflictBody(*existing, can_read, management || owner(*existing)));
    }
  }
  if (existing && existing->lock && !owner(*existing)) {
    return conflict(ZeroValued(var.namespace_, var.path));
  }

  nomad::Variable stored = var;
  stored.lock.reset();
  if (existing && existing->lock) {
    stored.lock = existing->lock;
    if (opts_.set_resets_lock_ttl) {
      stored.lock->ttl = kDefaultLockTtl;
      stored.lock->lock_delay = kDefaultLockDelay;
    }
  }
  // A Lock.ID sent for a variable that holds no lock is dropped (the state store has no lock
  // to match it against); UNCONFIRMED what Nomad stores in that case.

  VarReply r;
  r.body = VarReply::Body::kVariable;
  if (existing && existing->items == stored.items && existing->lock == stored.lock) {
    // Identical value: the Raft entry is applied but the row, its ModifyIndex and the table
    // index stay as they were, and no event is emitted.
    r.index = core_.NextIndex();
    r.var = *existing;
  } else {
    r.index = WriteVar(stored);
    r.var = vars_.at(key);
  }
  r.var.items = var.items;  // "the writer may read back its own write"
  if (!(management || owner(r.var))) r.var.lock.reset();
  return r;
}

VarReply Variables::Delete(const Identity& who, const std::string& ns, const std::string& path,
                           std::optional<uint64_t> cas) {
  unsigned caps = acl_.VariableCapabilities(who, ns, path, /*use_claims=*/false);
  if (!(caps & kVarDestroy)) return Text(403, kPermissionDenied);
  bool can_read = (caps & kVarRead) != 0;
  bool management = acl_.IsManagement(who);
  Key key{ns, path};
  auto it = vars_.find(key);
  const nomad::Variable* existing = it == vars_.end() ? nullptr : &it->second;
  auto conflict = [&](nomad::Variable body) {
    VarReply r;
    r.status = 409;
    r.body = VarReply::Body::kVariable;
    r.index = body.modify_index;
    r.var = std::move(body);
    return r;
  };
  if (cas) {
    if (*cas == 0 && existing) return conflict(ConflictBody(*existing, can_read, management));
    if (*cas > 0 && !existing) return conflict(ZeroValued(ns, path));
    if (*cas > 0 && existing->modify_index != *cas) {
      return conflict(ConflictBody(*existing, can_read, management));
    }
  }
  // The HTTP delete handler never reads a body, so it can never present the lock ID: a locked
  // variable cannot be deleted, not even by a management token (§2.6).
  if (existing && existing->lock) return conflict(ZeroValued(ns, path));
  VarReply r;
  r.status = 204;
  r.index = WriteDelete(key);
  return r;
}

// --- Locks ---------------------------------------------------------------------------------

VarReply Variables::AcquireLock(const Identity& who, const std::string& request_ns,
                                nomad::Variable var) {
  var.namespace_ = TargetNamespace(request_ns, var);
  if (!var.lock) var.lock = nomad::VariableLock{};
  unsigned caps = acl_.VariableCapabilities(who, var.namespace_, var.path, /*use_claims=*/false);
  if (!(caps & kVarWrite)) return Text(403, kPermissionDenied);

  // VariableLock.Canonicalize, then Validate.
  nomad::VariableLock& lock = *var.lock;
  lock.ttl = nomad::EffectiveLockTtl(lock.ttl);
  lock.lock_delay = nomad::EffectiveLockDelay(lock.lock_delay);
  if (lock.id.empty()) lock.id = core_.NewUuid();
  std::vector<std::string> errs = Validate(var);
  if (lock.ttl < base::Duration(0) || lock.lock_delay < base::Duration(0)) {
    errs.push_back("Lock delay and TTL must be positive");
  } else if (lock.ttl < kMinLockTtl || lock.ttl > kMaxLockTtl) {
    errs.push_back("TTL must be between 10 seconds and 24 hours");
  }
  if (!errs.empty()) return Text(500, MultiError(errs));

  Key key{var.namespace_, var.path};
  auto it = vars_.find(key);
  if (it != vars_.end() && it->second.lock && it->second.lock->id != lock.id) {
    // Locked by someone else (or expired but still inside its LockDelay). WriteHeader(409) runs
    // before the deferred setIndex, so there is no X-Nomad-Index.
    VarReply r;
    r.status = 409;
    r.body = VarReply::Body::kVariable;
    r.var = ZeroValued(var.namespace_, var.path);
    return r;
  }
  bool relock = it != vars_.end() && it->second.lock.has_value();
  // "IMPORTANT: this method overwrites the variable, data included" — even with no Items.
  VarReply r;
  r.body = VarReply::Body::kVariable;
  r.index = WriteVar(var);
  auto t = timers_.find(key);
  bool has_live_timer = t != timers_.end() && t->second.lock_id == lock.id &&
                        t->second.ttl_timer != 0;
  // Same ID again: the leader logs "attempting to recreate existing lock" and keeps its timer.
  if (!relock || !has_live_timer) StartTtlTimer(key, lock.id, lock.ttl);
  r.var = vars_.at(key);
  r.var.items = var.items;  // the response echoes the request's Items
  return r;                 // the caller is the owner: Lock included
}

VarReply Variables::RenewLock(const Identity& who, const std::string& ns, const std::string& path,
                              const std::string& lock_id) {
  unsigned caps = acl_.VariableCapabilities(who, ns, path, /*use_claims=*/false);
  if (!(caps & kVarWrite)) return Text(403, kPermissionDenied);
  if (lock_id.empty()) return Text(500, MultiError({"missing lock ID"}));
  auto it = vars_.find(Key{ns, path});
  if (it == vars_.end()) return Text(404, "variable doesn't exist");
  const nomad::Variable& v = it->second;
  if (!v.lock) return Text(409, "variable doesn't hold a lock");
  if (v.lock->id != lock_id) return Text(409, "attempting to modify locked variable");
  auto t = timers_.find(Key{ns, path});
  if (t == timers_.end() || t->second.lock_id != lock_id || t->second.expired ||
      t->second.ttl_timer == 0) {
    return Text(409, "attempting to modify locked variable");
  }
  // Not a Raft write: only the leader's timer moves, to 2×TTL as stored in state.
  StartTtlTimer(Key{ns, path}, lock_id, v.lock->ttl);
  VarReply r;
  r.body = VarReply::Body::kVariable;
  r.var = Metadata(v);  // Lock included for every caller; no X-Nomad-Index
  return r;
}

VarReply Variables::ReleaseLock(const Identity& who, const std::string& request_ns,
                                nomad::Variable var) {
  var.namespace_ = TargetNamespace(request_ns, var);
  unsigned caps = acl_.VariableCapabilities(who, var.namespace_, var.path, /*use_claims=*/false);
  if (!(caps & kVarWrite)) return Text(403, kPermissionDenied);
  bool can_read = (caps & kVarRead) != 0;
  if (auto errs = Validate(var); !errs.empty()) return Text(500, MultiError(errs));
  Key key{var.namespace_, var.path};
  auto it = vars_.find(key);
  // Uncoded state-store errors: 500 (renew answers 404/409 for the same cases).
  if (it == vars_.end()) return Text(500, "variable doesn't exist");
  if (!it->second.lock) return Text(500, "variable doesn't hold a lock");
  std::string request_id = var.lock ? var.lock->id : "";
  if (it->second.lock->id != request_id) {
    VarReply r;
    r.status = 409;
    r.body = VarReply::Body::kVariable;
    r.var = ZeroValued(var.namespace_, var.path);
    if (!can_read) r.var.lock = nomad::VariableLock{};  // {"TTL":"","LockDelay":"","ID":""}
    return r;
  }
  nomad::Variable stored = it->second;
  stored.lock.reset();  // Items are kept
  DropTimers(key);
  VarReply r;
  r.body = VarReply::Body::kVariable;
  r.index = WriteVar(stored);
  r.var = vars_.at(key);
  r.var.items = var.items;  // echoes the request's Items: none
  return r;
}

// --- Timers --------------------------------------------------------------------------------

uint64_t Variables::Schedule(base::Duration d, std::string label,
                             std::function<void(uint64_t)> fn) {
  uint64_t token = next_token_++;
  SimCore::TimerId id =
      core_.After(d, std::move(label), [this, token, fn = std::move(fn)]() {
        live_.erase(token);
        fn(token);
      });
  live_[token] = id;
  return token;
}

void Variables::CancelTimer(uint64_t& token) {
  if (token == 0) return;
  auto it = live_.find(token);
  if (it != live_.end()) {
    core_.Cancel(it->second);
    live_.erase(it);
  }
  token = 0;
}

void Variables::StartTtlTimer(const Key& key, const std::string& lock_id, base::Duration ttl) {
  LockTimers& t = timers_[key];
  CancelTimer(t.ttl_timer);
  CancelTimer(t.delay_timer);  // only set when the race is not reproduced
  t = LockTimers{};
  t.lock_id = lock_id;
  // "grace period to compensate for network and processing delays"
  t.ttl_timer = Schedule(2 * ttl, "var-lock-ttl " + key.first + "/" + key.second,
                         [this, key, lock_id]() { OnTtlExpired(key, lock_id); });
}

void Variables::OnTtlExpired(const Key& key, const std::string& lock_id) {
  auto t = timers_.find(key);
  if (t == timers_.end() || t->second.lock_id != lock_id) return;
  t->second.ttl_timer = 0;
  t->second.expired = true;
  auto v = vars_.find(key);
  base::Duration delay =
      v != vars_.end() && v->second.lock ? v->second.lock->lock_delay : kDefaultLockDelay;
  const uint64_t token =
      Schedule(delay, "var-lock-delay " + key.first + "/" + key.second,
               std::function<void(uint64_t)>([this, key, lock_id](uint64_t self) {
                 detached_.erase(self);
                 OnDelayExpired(key, lock_id);
               }));
  // With the race reproduced, the delay timer is a detached time.AfterFunc that nothing
  // cancels but a change of leader (its Raft apply then fails). Otherwise it belongs to the lock,
  // and a release or a new lock cancels it.
  if (opts_.stale_delay_timer_race) {
    detached_.insert(token);
  } else {
    t->second.delay_timer = token;
  }
}

void Variables::OnDelayExpired(const Key& key, const std::string& lock_id) {
  auto t = timers_.find(key);
  if (t != timers_.end() && t->second.lock_id == lock_id) {
    t->second.delay_timer = 0;
    timers_.erase(t);
  } else if (!opts_.stale_delay_timer_race) {
    return;  // the lock this timer belonged to is gone
  }
  auto v = vars_.find(key);
  if (v == vars_.end() || !v->second.lock) return;  // VarLockRelease fails; nothing changes
  if (!opts_.stale_delay_timer_race && v->second.lock->id != lock_id) return;
  // VarOpLockRelease with Lock=nil skips the ID check and clears whatever lock is stored.
  nomad::Variable stored = v->second;
  stored.lock.reset();
  WriteVar(stored);
}

void Variables::DropTimers(const Key& key) {
  auto t = timers_.find(key);
  if (t == timers_.end()) return;
  CancelTimer(t->second.ttl_timer);
  CancelTimer(t->second.delay_timer);
  timers_.erase(t);
}

void Variables::RestoreLockTimers() {
  std::vector<Key> keys;
  for (const auto& [key, t] : timers_) keys.push_back(key);
  for (const Key& k : keys) DropTimers(k);
  DropDetached();
  for (const auto& [key, v] : vars_) {
    if (v.lock) StartTtlTimer(key, v.lock->id, v.lock->ttl);
  }
}

void Variables::DropDetached() {
  for (uint64_t token : detached_) {
    uint64_t t = token;
    CancelTimer(t);
  }
  detached_.clear();
}

void Variables::BeginLeaderElection(base::Duration restore_after) {
  CancelTimer(restore_timer_);
  if (restore_after <= base::Duration(0)) {
    RestoreLockTimers();
    return;
  }
  std::vector<Key> keys;
  for (const auto& [key, t] : timers_) keys.push_back(key);
  for (const Key& k : keys) DropTimers(k);
  DropDetached();
  restore_timer_ = Schedule(restore_after, "var-lock-restore", [this] {
    restore_timer_ = 0;
    RestoreLockTimers();
  });
}

// --- Direct access -------------------------------------------------------------------------

const nomad::Variable* Variables::Find(const std::string& ns, const std::string& path) const {
  auto it = vars_.find(Key{ns, path});
  return it == vars_.end() ? nullptr : &it->second;
}

std::vector<nomad::Variable> Variables::All() const {
  std::vector<nomad::Variable> out;
  for (const auto& [key, v] : vars_) out.push_back(v);
  return out;
}

std::vector<std::string> Variables::Namespaces() const {
  std::set<std::string> ns;
  for (const auto& [key, v] : vars_) ns.insert(key.first);
  return {ns.begin(), ns.end()};
}

bool Variables::LockExpired(const std::string& ns, const std::string& path) const {
  auto t = timers_.find(Key{ns, path});
  return t != timers_.end() && t->second.expired;
}

}  // namespace nsg::sim
