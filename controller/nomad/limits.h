// Nomad's limits and server-side defaults for the objects nomad-singleton writes, in one place.
//
// Three users check against these and nothing else: the spec loader (`validate` rejects what Nomad
// would), the renderer (it never produces what Nomad refuses) and the simulator (it refuses what
// Nomad refuses, with Nomad's messages). Each rule cites its Nomad source; the table in
// docs/nomad-compatibility.md lists them with the tags they were checked at. Where the supported
// versions (1.10.2+, 1.11.x, 2.0.x) differ, the rule is the strictest of them.
//
// Pure functions over values; safe for concurrent use.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/nomad/job.h"

namespace nsg::nomad {

using namespace std::chrono_literals;

// nomad/structs/structs.go: ValidPolicyName = ^[a-zA-Z0-9-]{1,128}$, maxPolicyDescriptionLength.
inline constexpr size_t kMaxPolicyNameLength = 128;
inline constexpr size_t kMaxPolicyDescriptionLength = 256;
// nomad/structs/structs.go: validNamespaceName = ^[a-zA-Z0-9-]{1,128}$.
inline constexpr size_t kMaxNamespaceLength = 128;
// nomad/structs/variables.go: validVariablePath = ^[a-zA-Z0-9-_~/]{1,128}$.
inline constexpr size_t kMaxVariablePathLength = 128;
// nomad/structs/variables.go: minVariableLockTTL, maxVariableLockTTL, defaultLockTTL,
// defaultLockDelay (VariableLock.Canonicalize turns a zero TTL or LockDelay into these).
inline constexpr Duration kMinLockTtl = 10s;
inline constexpr Duration kMaxLockTtl = 24h;
inline constexpr Duration kDefaultLockTtl = 15s;
inline constexpr Duration kDefaultLockDelay = 15s;
// nomad/structs/structs.go: DefaultKillTimeout.
inline constexpr Duration kDefaultKillTimeout = 5s;

// Nomad's reason for refusing an ACL policy name ("invalid name '<name>'"), or nullopt.
std::optional<std::string> PolicyNameError(std::string_view name);
// Nomad's reason for refusing an ACL policy description ("description longer than 256"), or
// nullopt. The limit is in bytes (Go's len()).
std::optional<std::string> PolicyDescriptionError(std::string_view description);
// ACLPolicy.Validate (nomad/structs/acl.go, 2.0.x; structs.go before) without the rules parse, which
// needs an HCL parser: every reason, in Nomad's order and wording. Empty when valid.
std::vector<std::string> AclPolicyErrors(const AclPolicy& policy);

// Whether `ns` is a namespace name Nomad accepts.
bool ValidNamespace(std::string_view ns);

// Job.Validate's reason for refusing a job ID ("Missing job ID", "Job ID contains a space",
// "Job ID contains a null character"), or nullopt. Nomad sets no length limit on job IDs; what
// limits them is the variable path a lock under nomad/jobs/<job> needs (VariablePathError).
std::optional<std::string> JobIdError(std::string_view id);

// ValidatePath (nomad/structs/variables.go): why Nomad refuses `path` for a variable, in Nomad's
// wording, or nullopt. Under the reserved top-level "nomad/" the supported versions agree only on
// nomad/jobs[/...] and nomad/job-templates/<one segment>: nomad/sentinel arrived in 1.11.2, so it
// is refused here.
std::optional<std::string> VariablePathError(std::string_view path);

// VariableLock.Canonicalize: the TTL and LockDelay the server applies for a requested value (a
// zero value becomes the 15s default).
Duration EffectiveLockTtl(Duration requested);
Duration EffectiveLockDelay(Duration requested);

// api/jobs.go DefaultUpdateStrategy (the same values as nomad/structs/structs.go's): what every
// service (and system) job without an update block gets at registration.
inline constexpr Duration kDefaultUpdateStagger = 30s;
inline constexpr int kDefaultUpdateMaxParallel = 1;
inline constexpr char kDefaultUpdateHealthCheck[] = "checks";
inline constexpr Duration kDefaultUpdateMinHealthyTime = 10s;
inline constexpr Duration kDefaultUpdateHealthyDeadline = 5min;
inline constexpr Duration kDefaultUpdateProgressDeadline = 10min;

// The JSON key of the update block (job and group level; kept in `extra`, see job.h).
inline constexpr char kUpdateKey[] = "Update";

// What registration does to update blocks (api Job.Canonicalize and TaskGroup.Canonicalize, then
// command/agent/job_endpoint.go ApiJobToStructJob): a service or system job without a job-level
// block gets DefaultUpdateStrategy; each group's block is the job's with the group's own fields
// over it, missing fields from the default; the job level keeps only Stagger and MaxParallel, and
// only when MaxParallel > 0. Jobs of other types are left alone (Nomad refuses their blocks).
// A group whose MaxParallel is 0 has no update strategy (UpdateStrategy.IsEmpty): Nomad creates no
// deployment for it and replaces all its allocations at once on a destructive update.
void CanonicalizeUpdateStrategies(Job& job);

// The update strategy of a group after CanonicalizeUpdateStrategies, read back from `extra`.
struct UpdateStrategy {
  int max_parallel = 0;
  std::string health_check;
  Duration min_healthy_time{0};
  Duration healthy_deadline{0};
  Duration progress_deadline{0};
};
std::optional<UpdateStrategy> UpdateStrategyOf(const TaskGroup& group);

// TaskGroup.Validate and Task.Validate on the update block, in Nomad's wording: a batch job may
// not have one ("Job type \"batch\" does not allow update block"), and in a service job no task's
// kill timeout may exceed the group's ProgressDeadline ("KillTimout (…) longer than the group's
// ProgressDeadline (…)", Nomad's spelling). `group` must be canonicalized. Empty when valid.
std::vector<std::string> UpdateBlockErrors(const std::string& job_type, const TaskGroup& group);
std::optional<std::string> KillTimeoutError(const std::string& job_type, const TaskGroup& group,
                                            const Task& task);

// Allocation.WaitClientStop: after a lost allocation's stop_on_client_after, the server waits the
// largest kill timeout of any task in the group (at least DefaultKillTimeout) before it places the
// replacement. Tasks without a KillTimeout count as the default.
Duration WaitClientStopKillTimeout(const TaskGroup& group);
// The same for a group whose tasks' kill timeouts are `kill_timeouts`.
Duration LargestKillTimeout(const std::vector<Duration>& kill_timeouts);

}  // namespace nsg::nomad
