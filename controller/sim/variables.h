// Variables: the simulator's Nomad Variables store with locks (nomad-api.md §2, §12.6).
//
// It is the state store plus the RPC endpoint plus the leader's lock TTL timers, and it answers
// in the shape of the HTTP handler (status code, body, whether X-Nomad-Index is set), because
// most lock quirks live in that layer: a 409 from a lock operation has a zero-valued JSON body
// and no X-Nomad-Index; renew answers 404/409 with plain text and never sets an index; release
// answers 500 for a missing variable or lock. The router (routes_vars.cc) does only the
// HTTP-layer parsing (query keys, body decode, the 400 checks that precede the RPC) and encodes
// a VarReply with the codec.
//
// Lock lifecycle (§2.8), per variable:
//
//   (unlocked) --acquire--> LOCKED --renew (right ID)--> LOCKED, timer = 2×TTL again
//        ^                   |  \--release (right ID)--> (unlocked)  [Raft write]
//        |                   | timer 2×TTL fires
//        |                   v
//        |               EXPIRED (Lock still stored; acquire and renew get 409)
//        |                   | LockDelay later
//        +---- Raft write clearing Lock (ModifyIndex bumped, VariableUpdated event)
//
// Every write emits a Variable event (Topic Variable, Type VariableUpdated, Key = path,
// Payload {Metadata incl. Lock, Deleted}) through SimCore::Events() at its Raft index — on a
// version profile of 2.0.0 or later only: before, Nomad has no Variable topic.
//
// Options:
//   * stale_delay_timer_race (on by default: it is Nomad's behaviour): a pending LockDelay timer
//     clears whatever lock the variable holds when it fires, even one taken by a new holder after
//     the old holder released during the delay. Nomad's 2×TTL callback starts a detached
//     time.AfterFunc(LockDelay) that nothing cancels, and invalidateVariableLock applies
//     VarOpLockRelease with Lock = nil, which skips the lock-ID check (nomad/locks.go
//     CreateVariableLockTTLTimer, invalidateVariableLock; nomad/state/state_store_variables.go
//     VarLockRelease; v1.10.2–v2.0.5). Off: a release cancels the pending delay timer, and the
//     timer only clears the lock it expired (for tests that isolate other behaviour).
//   * set_resets_lock_ttl (UNCONFIRMED, §2.5; off): a Set carrying the holder's Lock.ID runs
//     Lock.Canonicalize() on the request and stores TTL/LockDelay 15s/15s.
//
// Leader elections (BeginLeaderElection): a new leader serves RPCs before it restores the lock
// TTL timers (nomad/leader.go establishLeadership → restoreLockTTLTimers, v1.10.2–v2.0.5); in
// between, RenewLock finds no timer and answers 409 although the lock is intact
// (nomad/variables_endpoint.go RenewLock). The restore gives every held lock a fresh 2×TTL.
//
// Model code: no I/O, time and randomness only from SimCore. Not synchronized — owned by the
// thread that owns the SimCore. `core` and `acl` must outlive this object.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controller/nomad/limits.h"
#include "controller/nomad/variable.h"
#include "controller/sim/acl.h"
#include "controller/sim/sim_core.h"

namespace nsg::sim {

// Limits and defaults of nomad/structs/variables.go (nomad/limits.h).
inline constexpr base::Duration kMinLockTtl = nomad::kMinLockTtl;
inline constexpr base::Duration kMaxLockTtl = nomad::kMaxLockTtl;
inline constexpr base::Duration kDefaultLockTtl = nomad::kDefaultLockTtl;
inline constexpr base::Duration kDefaultLockDelay = nomad::kDefaultLockDelay;
inline constexpr size_t kMaxVariableSize = 64 * 1024;

// What a variables handler answers, before encoding.
struct VarReply {
  enum class Body { kNone, kVariable, kList, kText };
  int status = 200;
  Body body = Body::kNone;
  nomad::Variable var;               // kVariable (Items and Lock as they should be encoded)
  std::vector<nomad::Variable> list;  // kList (metadata: no Items)
  std::string text;                   // kText: a plain-text error message
  std::optional<uint64_t> index;      // X-Nomad-Index, when the handler sets it
  bool query_meta = false;            // reads: X-Nomad-Knownleader / X-Nomad-Lastcontact too
  std::string next_token;             // list pagination: X-Nomad-Nexttoken when non-empty
};

class Variables {
 public:
  struct Options {
    bool stale_delay_timer_race = true;
    bool set_resets_lock_ttl = false;
  };

  Variables(SimCore& core, AclState& acl, Options opts);
  Variables(const Variables&) = delete;
  Variables& operator=(const Variables&) = delete;
  ~Variables();

  // GET /v1/var/:path. 200 + Variable (Lock hidden unless management), 404 "variable not found";
  // index = ModifyIndex, or the table index when missing. 403 without read.
  VarReply Read(const Identity& who, const std::string& ns, const std::string& path) const;
  // GET /v1/vars. `ns` may be "*". Filters by path prefix and by `list` on each path; sorted by
  // (namespace, path). per_page 0 = all; next_token "<ns>.<path>" resumes at that entry.
  VarReply List(const Identity& who, const std::string& ns, const std::string& prefix,
                size_t per_page = 0, const std::string& next_token = "") const;

  // PUT /v1/var/:path (after the HTTP-layer checks). `request_ns` is ?namespace (default
  // "default"); var.namespace_ wins when set; var.path is the URL path. `cas` set = CAS.
  VarReply Set(const Identity& who, const std::string& request_ns, nomad::Variable var,
               std::optional<uint64_t> cas);
  // DELETE /v1/var/:path.
  VarReply Delete(const Identity& who, const std::string& ns, const std::string& path,
                  std::optional<uint64_t> cas);
  // PUT ?lock-acquire. `var.lock` unset = {} (defaults apply).
  VarReply AcquireLock(const Identity& who, const std::string& request_ns, nomad::Variable var);
  // PUT ?lock-renew. Only `ns` (from the query) and `lock_id` (from the body) count.
  VarReply RenewLock(const Identity& who, const std::string& ns, const std::string& path,
                     const std::string& lock_id);
  // PUT ?lock-release (after the HTTP-layer checks: no Items, non-empty Lock.ID).
  VarReply ReleaseLock(const Identity& who, const std::string& request_ns, nomad::Variable var);

  // A new leader recreates a full 2×TTL timer for every locked variable (restoreLockTTLTimers),
  // also for a lock already in its LockDelay. Pending delay callbacks die with the old leader:
  // the new leader is another server, where the old one's Raft apply fails (it retries 6 times
  // over ~5 minutes, nomad/locks.go invalidateVariableLock: a leader that regains leadership
  // within that time applies it after all — a Nomad bug not modelled here; docs/failover.md).
  void RestoreLockTimers();
  // A leader election whose new leader restores the lock timers `restore_after` later: until then
  // no lock has a TTL timer, so renewals answer 409. 0 restores at once.
  void BeginLeaderElection(base::Duration restore_after);

  // Index of the variables table (1 before any write: Nomad never answers index 0).
  uint64_t TableIndex() const { return table_index_; }
  // Direct state access for the cluster model, the control API and tests.
  const nomad::Variable* Find(const std::string& ns, const std::string& path) const;
  std::vector<nomad::Variable> All() const;
  // Namespaces that hold at least one variable.
  std::vector<std::string> Namespaces() const;
  // Whether the lock's 2×TTL timer has fired (the lock is in its LockDelay).
  bool LockExpired(const std::string& ns, const std::string& path) const;

 private:
  using Key = std::pair<std::string, std::string>;  // (namespace, path)
  struct LockTimers {
    std::string lock_id;
    uint64_t ttl_timer = 0;    // Schedule() token; 0 = none (expired or not started)
    uint64_t delay_timer = 0;  // 0 = none (or detached, with stale_delay_timer_race)
    bool expired = false;
  };

  // VariableDecrypted.Validate without the lock part; the messages, empty when valid.
  static std::vector<std::string> Validate(const nomad::Variable& var);
  // Raft write helpers: allocate an index, store, publish the event.
  uint64_t WriteVar(nomad::Variable var);
  uint64_t WriteDelete(const Key& key);
  void Publish(uint64_t index, const nomad::Variable& meta, bool deleted);

  // SimCore timers owned by this object (cancelled on destruction); tokens, 0 = none.
  // Runs `fn` after `d` of virtual time; `fn` receives the token this call returns (a timer that
  // must know its own token, e.g. to leave the detached set, gets it without guessing).
  uint64_t Schedule(base::Duration d, std::string label, std::function<void(uint64_t)> fn);
  uint64_t Schedule(base::Duration d, std::string label, std::function<void()> fn) {
    return Schedule(d, std::move(label), [fn = std::move(fn)](uint64_t) { fn(); });
  }
  void CancelTimer(uint64_t& token);
  void StartTtlTimer(const Key& key, const std::string& lock_id, base::Duration ttl);
  void OnTtlExpired(const Key& key, const std::string& lock_id);
  void OnDelayExpired(const Key& key, const std::string& lock_id);
  void DropTimers(const Key& key);
  void DropDetached();

  // Shapes a conflict body: the conflicting variable without Items unless readable.
  static nomad::Variable ConflictBody(const nomad::Variable& conflict, bool can_read,
                                      bool show_lock);
  static nomad::Variable ZeroValued(const std::string& ns, const std::string& path);
  static std::string TargetNamespace(const std::string& request_ns, const nomad::Variable& var);
  static VarReply Text(int status, std::string msg);
  // go-multierror text: "1 error occurred:\n\t* msg\n\n".
  static std::string MultiError(const std::vector<std::string>& errs);

  SimCore& core_;
  AclState& acl_;
  const Options opts_;
  std::map<Key, nomad::Variable> vars_;
  std::map<Key, LockTimers> timers_;
  uint64_t table_index_ = 1;
  uint64_t next_token_ = 1;
  uint64_t restore_timer_ = 0;  // a pending BeginLeaderElection restore
  std::set<uint64_t> detached_;  // pending delay callbacks of expired locks (the race)
  std::map<uint64_t, SimCore::TimerId> live_;  // Schedule() token → SimCore timer
};

}  // namespace nsg::sim
