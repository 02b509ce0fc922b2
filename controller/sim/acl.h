// AclState: the simulator's model of Nomad's ACL system (nomad-api.md §1.2, §8).
//
// It holds whether ACLs are enabled, the management token, ACL policies (Raft-indexed through
// SimCore), plain client tokens bound to policies, and workload-identity tokens. A workload token
// is an opaque random secret standing in for the task's JWT; it carries the claims
// {namespace, job, group, task, allocation}. Resolve() turns a secret into an Identity, and the
// Allow*/VariableCapabilities() calls answer authorization questions with Nomad's rules:
//   * ACLs disabled: everything is allowed and every caller counts as management
//     (aclObj.IsManagement() is true when ACLs are off);
//   * variables (§8.1–§8.3): capabilities come from the policies attached to the token — for a
//     workload token, the policies whose JobACL matches its claims (empty Group/Task = any) — with
//     HCL rules parsed just enough for `namespace "x" { policy = ".." capabilities = [..]
//     variables { path "p" { capabilities = [..] } } }` (exact paths and `*` globs; an exact
//     match beats a glob, a longer glob beats a shorter one, `deny` wins); `read` implies `list`,
//     `write` does NOT imply `read`; a workload also gets implicit read+list on the exact paths
//     nomad/jobs, nomad/jobs/<job>, nomad/jobs/<job>/<group>, nomad/jobs/<job>/<group>/<task>
//     (only when the caller asks for the claim-based check, as Nomad's Read/List do and its
//     Apply/RenewLock do not).
//
// Model code: no I/O, time and randomness only from SimCore. Not synchronized — owned by the
// thread that owns the SimCore (the HTTP front end's model mutex, or the simulation loop). The
// SimCore must outlive this object.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/base/status.h"
#include "controller/nomad/job.h"
#include "controller/sim/sim_core.h"

namespace nsg::sim {

// Variable capabilities as a bit set (acl/policy.go expandVariablesCapabilities).
enum VarCap : unsigned {
  kVarList = 1u << 0,
  kVarRead = 1u << 1,
  kVarWrite = 1u << 2,
  kVarDestroy = 1u << 3,
  kVarDeny = 1u << 4,
};

// The claims of a workload identity (the JWT's nomad_namespace, nomad_job_id, ...).
struct WorkloadClaims {
  std::string namespace_;
  std::string job_id;
  std::string group;
  std::string task;
  std::string alloc_id;
};

// Who is calling. Exactly one of: management, workload claims, a client token's policies, or
// anonymous (no token; no policies unless an "anonymous" policy exists).
struct Identity {
  bool management = false;
  std::optional<WorkloadClaims> workload;
  std::vector<std::string> policies;  // client tokens (and "anonymous" for no token)
  bool anonymous = false;
};

class AclState {
 public:
  // Parsed policy rules.
  struct PathRule {
    unsigned caps = 0;  // union of kVar* bits; kVarDeny overrides the rest
  };
  struct NamespaceRule {
    std::set<std::string> caps;                  // expanded namespace capabilities
    std::map<std::string, PathRule> var_paths;   // path pattern → capabilities
  };
  struct ParsedPolicy {
    std::map<std::string, NamespaceRule> namespaces;  // namespace pattern → rule
    std::string node_policy;                          // "", deny, read, write
  };
  struct Options {
    bool enabled = false;
    std::string management_secret = "00000000-0000-0000-0000-000000000001";
  };

  AclState(SimCore& core, Options opts);
  AclState(const AclState&) = delete;
  AclState& operator=(const AclState&) = delete;

  bool Enabled() const { return opts_.enabled; }
  void SetEnabled(bool enabled) { opts_.enabled = enabled; }
  const std::string& ManagementSecret() const { return opts_.management_secret; }

  // --- Policies (Raft-indexed). ---
  // Validates (name syntax, JobACL rules of §8.1, rules parse) and stores the policy at a new
  // index. Returns the write index, or kInvalidSpec with Nomad's message.
  base::Result<uint64_t> UpsertPolicy(nomad::AclPolicy policy);
  // nullopt when there is no such policy.
  std::optional<nomad::AclPolicy> GetPolicy(const std::string& name) const;
  // Sorted by name.
  std::vector<nomad::AclPolicy> ListPolicies() const;
  // Returns the write index (a delete of a missing policy still writes, as Nomad does).
  uint64_t DeletePolicy(const std::string& name);
  // Index of the acl_policy table (for blocking queries and X-Nomad-Index).
  uint64_t PoliciesIndex() const { return policies_index_; }

  // --- Tokens. ---
  // A client (non-management) token bound to `policies`; returns its secret.
  std::string CreateClientToken(std::vector<std::string> policies);
  // Issues the workload-identity secret for one task of one allocation (the cluster calls this
  // when it starts a task with Identity.Env). Deterministic: secrets come from SimCore's RNG.
  std::string IssueWorkloadToken(const std::string& ns, const std::string& job_id,
                                 const std::string& group, const std::string& task,
                                 const std::string& alloc_id);
  // Forgets every workload token of `alloc_id` (the allocation stopped or was GC'd).
  void RevokeAllocTokens(const std::string& alloc_id);
  // An ACL token as GET /v1/acl/token/self shows it (nomad/structs ACLToken).
  struct TokenInfo {
    std::string accessor_id;
    std::string secret_id;
    std::string name;
    std::string type;  // "management" | "client"
    std::vector<std::string> policies;
  };
  // The ACL token behind `secret`, as ACL.WhoAmI resolves it (nomad/acl_endpoint.go,
  // nomad/auth/auth.go Authenticate @ v2.0.5): with ACLs off every secret but a workload
  // identity resolves to `ACLsDisabledToken`; "" to `AnonymousACLToken`. nullopt for a workload
  // identity (its claims carry no ACL token) or an unknown secret.
  std::optional<TokenInfo> TokenBySecret(std::string_view secret) const;
  // The allocation a workload secret belongs to (nullopt for other secrets).
  std::optional<std::string> AllocIdForToken(std::string_view secret) const;

  // Resolves a request's secret ("" = no token). With ACLs disabled every secret resolves to
  // management. Unknown secrets → kPermissionDenied "ACL token not found".
  base::Result<Identity> Resolve(std::string_view secret) const;

  // --- Authorization. ---
  bool IsManagement(const Identity& who) const { return !opts_.enabled || who.management; }
  // The variable capabilities `who` holds on `path` in `ns`. With `use_claims` the implicit
  // workload read/list on the job's own paths is included (Nomad's Read/List pass the claims;
  // Apply and RenewLock do not). Management (or ACLs off) gets every capability.
  unsigned VariableCapabilities(const Identity& who, const std::string& ns,
                                const std::string& path, bool use_claims) const;
  // Whether `who` has any variables access in `ns` (event stream Variable topic subscription).
  bool HasAnyVariableAccess(const Identity& who, const std::string& ns) const;
  // Namespace capability such as "read-job", "list-jobs", "submit-job", "alloc-lifecycle".
  bool AllowNamespace(const Identity& who, const std::string& ns, std::string_view cap) const;
  // node:read / node:write.
  bool AllowNode(const Identity& who, bool write) const;

  // Parses HCL policy rules (exposed for tests). kInvalidSpec on syntax errors.
  static base::Result<ParsedPolicy> ParseRules(std::string_view rules);
  // Glob match with `*` matching any run of characters (including '/').
  static bool GlobMatch(std::string_view pattern, std::string_view text);

 private:
  struct StoredPolicy {
    nomad::AclPolicy policy;
    ParsedPolicy parsed;
  };

  // The parsed policies that apply to `who`.
  std::vector<const ParsedPolicy*> PoliciesFor(const Identity& who) const;
  // Merged rule for `ns` over `pols` (exact namespace beats globs).
  static NamespaceRule MergedNamespaceRule(const std::vector<const ParsedPolicy*>& pols,
                                           const std::string& ns);

  SimCore& core_;
  Options opts_;
  std::map<std::string, StoredPolicy> policies_;
  uint64_t policies_index_ = 0;
  std::map<std::string, std::vector<std::string>> client_tokens_;  // secret → policies
  std::map<std::string, WorkloadClaims> workload_tokens_;          // secret → claims
};

}  // namespace nsg::sim
