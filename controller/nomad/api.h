// NomadApi: the port through which the controller and the lock agent talk to Nomad.
//
// Implementations: HttpNomadApi (controller/nomad_client, over HTTP or the Task API socket) and,
// in tests and the deterministic simulation, the same HTTP client over an in-process transport to
// the simulator.
// Every Nomad quirk is mapped once, below this interface (nomad-api.md): callers see typed values
// and Status codes chosen for what they do next:
//   kNotFound          404 (job/alloc/variable/policy not found; renew on a missing variable)
//   kConflict          409 (CAS or lock conflict), and the 500 of an EnforceIndex mismatch
//   kPermissionDenied  403
//   kInvalidSpec       400, and the 500 of a job validation error (the request can never succeed)
//   kUnavailable       connection errors, timeouts, 429 and other 5xx (retried first, then given)
//   kCancelled         the call was cancelled (shutdown)
// Implementations are safe for concurrent use by several threads unless they say otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/base/duration.h"
#include "controller/base/status.h"
#include "controller/nomad/allocation.h"
#include "controller/nomad/job.h"
#include "controller/nomad/plan.h"
#include "controller/nomad/variable.h"

namespace nsg::nomad {

using base::Result;
using base::Status;

// Options of a read. index > 0 makes it a blocking query (nomad-api.md §1.6): it returns when the
// result's index exceeds `index` or after `wait` (Nomad caps it at 5m; 0 = Nomad's default 5m).
struct QueryOptions {
  std::string namespace_;  // "" = the client's default namespace; "*" for list endpoints
  std::string region;      // "" = the client's default region
  std::string prefix;      // list endpoints
  uint64_t index = 0;
  Duration wait{0};
  bool stale = false;
  // ListAllocations only: false asks for the stubs without their TaskStates (`task_states=false`,
  // command/agent/alloc_endpoint.go @ v1.10.2, v2.0.5), which are most of an allocation's size.
  bool task_states = true;
};

// Metadata of a read response.
struct QueryMeta {
  uint64_t last_index = 0;  // X-Nomad-Index
  bool known_leader = false;
  Duration last_contact{0};
};

template <typename T>
struct Query {
  T value;
  QueryMeta meta;
};

struct WriteOptions {
  std::string namespace_;
  std::string region;
};

// An entry of GET /v1/jobs (JobListStub). Meta only with ListJobs(meta = true).
struct JobStub {
  std::string id;
  std::string name;
  std::string namespace_;
  std::string type;
  std::string status;
  bool stop = false;
  bool periodic = false;
  uint64_t version = 0;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  uint64_t job_modify_index = 0;
  int64_t submit_time = 0;
  StringMap meta;
  friend bool operator==(const JobStub&, const JobStub&) = default;
};

class NomadApi {
 public:
  virtual ~NomadApi() = default;

  // ---- Jobs ----
  // POST /v1/jobs. With enforce_index, a lost check-and-set is kConflict.
  virtual Result<WriteResult> RegisterJob(const RegisterRequest& req, const WriteOptions& w) = 0;
  // POST /v1/job/:id/plan (writes nothing).
  virtual Result<PlanResponse> PlanJob(const Job& job, bool diff, const WriteOptions& w) = 0;
  // GET /v1/job/:id.
  virtual Result<Query<Job>> ReadJob(const std::string& id, const QueryOptions& q) = 0;
  // GET /v1/jobs (meta=true adds Meta; namespace "*" lists every namespace).
  virtual Result<Query<std::vector<JobStub>>> ListJobs(const QueryOptions& q, bool meta) = 0;
  // GET /v1/job/:id/allocations (stubs; [] for a missing job).
  virtual Result<Query<std::vector<Allocation>>> JobAllocations(const std::string& id,
                                                                const QueryOptions& q,
                                                                bool all) = 0;
  // DELETE /v1/job/:id (a missing job is not an error: Nomad answers 200 with zero values).
  virtual Result<WriteResult> DeregisterJob(const std::string& id, bool purge,
                                            const WriteOptions& w) = 0;
  // POST /v1/job/:id/evaluate.
  virtual Result<WriteResult> EvaluateJob(const std::string& id, bool force_reschedule,
                                          const WriteOptions& w) = 0;
  // POST /v1/jobs/parse: HCL → job (Canonicalize true).
  virtual Result<Job> ParseHcl(const std::string& hcl, const WriteOptions& w) = 0;

  // ---- Allocations and nodes ----
  // GET /v1/allocations (stubs).
  virtual Result<Query<std::vector<Allocation>>> ListAllocations(const QueryOptions& q) = 0;
  // GET /v1/allocation/:id (full allocation, with Job).
  virtual Result<Query<Allocation>> ReadAllocation(const std::string& id,
                                                   const QueryOptions& q) = 0;
  // POST /v1/allocation/:id/stop.
  virtual Result<WriteResult> StopAllocation(const std::string& id, bool no_shutdown_delay) = 0;
  // GET /v1/nodes (stubs).
  virtual Result<Query<std::vector<Node>>> ListNodes(const QueryOptions& q) = 0;

  // ---- Variables and locks ----
  // GET /v1/var/:path. Lock is present only for management tokens (nomad-api.md §2.2).
  virtual Result<Query<Variable>> ReadVariable(const std::string& path, const QueryOptions& q) = 0;
  // GET /v1/vars (metadata only, no Items).
  virtual Result<Query<std::vector<Variable>>> ListVariables(const QueryOptions& q) = 0;
  // PUT /v1/var/:path[?cas=N]. On kConflict, *conflict (if given) receives the conflicting
  // variable as Nomad returned it.
  virtual Result<Variable> SetVariable(const Variable& v, std::optional<uint64_t> cas,
                                       const WriteOptions& w, Variable* conflict = nullptr) = 0;
  // DELETE /v1/var/:path[?cas=N].
  virtual Status DeleteVariable(const std::string& path, std::optional<uint64_t> cas,
                                const WriteOptions& w) = 0;
  // PUT ?lock-acquire with v.path, v.items and v.lock {ttl, lock_delay, id (may be empty)}.
  // Success returns the variable with Lock (its ID is the lease). A held lock is kConflict.
  virtual Result<Variable> AcquireLock(const Variable& v, const WriteOptions& w) = 0;
  // PUT ?lock-renew. A lost lock is kConflict; a deleted variable kNotFound.
  virtual Result<Variable> RenewLock(const std::string& path, const std::string& lock_id,
                                     const WriteOptions& w) = 0;
  // PUT ?lock-release.
  virtual Result<Variable> ReleaseLock(const std::string& path, const std::string& lock_id,
                                       const WriteOptions& w) = 0;

  // ---- ACL policies ----
  virtual Result<AclPolicy> ReadAclPolicy(const std::string& name) = 0;
  // GET /v1/acl/policies: ACLPolicyListStub (no Rules). Not every implementation lists policies;
  // the default answers kUnavailable and callers fall back to reading by name.
  virtual Result<Query<std::vector<AclPolicy>>> ListAclPolicies() {
    return base::Status::Unavailable("ListAclPolicies: not supported by this client");
  }
  virtual Status UpsertAclPolicy(const AclPolicy& policy) = 0;
  virtual Status DeleteAclPolicy(const std::string& name) = 0;
};

}  // namespace nsg::nomad
