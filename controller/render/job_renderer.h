// Render: a Singleton spec → the Nomad job that runs it safely, plus the job's ACL policy.
//
// The job follows the singleton guide's shapes (nomad-api.md §11, ARCHITECTURE.md §4.2):
//   shim     the workload task's command is wrapped: `nomad-singleton lock [flags] -- CMD...`
//   sidecar  prestart `lock --install-guard` + lock task (Leader, `lock --sidecar`) + workload as a
//            poststart sidecar whose command is
//            wrapped by the guard `${NOMAD_ALLOC_DIR}/singleton/guard -- CMD...`; the guard starts
//            CMD only while the lock task's lease file is valid and kills it when it goes stale
//   split    prestart `lock --acquire-only` + leader `lock --heartbeat` + guarded poststart workload
// Lock tasks get `Identity {Env: true}`; the group gets `Count = 1 + standby`,
// `Disconnect {StopOnClientAfter}` and restart/reschedule policies; batch specs render batch jobs,
// `schedule` renders `Periodic {cron, ProhibitOverlap}`. Meta records ownership, the spec hash, the
// source file and the git revision. The ACL policy grants `write` and `read` on the lock path only,
// attached to the job with JobACL.
//
// Deterministic and offline: the same spec and options give byte-identical output. Pure functions;
// safe for concurrent use.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controller/base/status.h"
#include "controller/nomad/job.h"
#include "controller/spec/loader.h"
#include "controller/spec/singleton.h"

namespace nsg::render {

// Job Meta keys written on every rendered job (contract: the controller finds its jobs by these).
inline constexpr char kMetaManagedBy[] = "nomad-singleton/managed-by";
inline constexpr char kManagedByValue[] = "nomad-singleton";
inline constexpr char kMetaSpecHash[] = "nomad-singleton/spec-hash";
inline constexpr char kMetaSource[] = "nomad-singleton/source";
inline constexpr char kMetaRevision[] = "nomad-singleton/revision";
inline constexpr char kMetaLockPath[] = "nomad-singleton/lock-path";
inline constexpr char kMetaLockMode[] = "nomad-singleton/lock-mode";

// Names of the tasks the renderer adds.
inline constexpr char kLockTaskName[] = "singleton-lock";
inline constexpr char kAcquireTaskName[] = "singleton-acquire";
inline constexpr char kInstallTaskName[] = "singleton-install";
inline constexpr char kGroupName[] = "singleton";
// Where the lock task places the guard binary, as Nomad interpolates it for every driver.
inline constexpr char kGuardPath[] = "${NOMAD_ALLOC_DIR}/singleton/guard";
// Nomad has no environment variable for the node ID; lock tasks get it through interpolation so
// the agent can record it in the lock's holder metadata.
inline constexpr char kNodeIdEnv[] = "NOMAD_SINGLETON_NODE_ID";
inline constexpr char kNodeIdInterpolation[] = "${node.unique.id}";

struct RenderOptions {
  std::string source_path;   // Meta source; default: the spec's file
  std::string git_revision;  // Meta revision; omitted when empty
};

struct Rendered {
  nomad::Job job;
  nomad::AclPolicy policy;
  std::string spec_hash;  // also in job.meta[kMetaSpecHash]
};

// Renders `s`. Fails with kInvalidSpec when the spec cannot be rendered safely (e.g. a docker
// workload without a command for the guard to wrap, or a template the codec cannot decode), or
// when Nomad would refuse what it renders (nomad/limits.h: ACL policy name and description, job
// ID, lock path, update block, kill timeouts against the progress deadline).
//
// Update strategy per shape: batch jobs get none (Nomad refuses one). Service jobs get Nomad's
// default (max_parallel 1, health_check "checks", which without services means "all tasks running
// for min_healthy_time"), which fits every shape whose allocations run all their tasks while they
// wait for the lock: shim and sidecar, and split without standbys. A split-mode standby waits in
// its prestart acquire task forever, so it never turns healthy and every deployment would fail;
// split with standbys gets MaxParallel 0: no deployment, all allocations replaced at once, the old
// holder releases and one new allocation acquires.
base::Result<Rendered> Render(const spec::Singleton& s, const RenderOptions& opts = {});

// The spec::SpecCheck that `validate`, `render` and the controller use: the timer rule
// (timing::CheckTimerRule) plus a trial render, so that a spec that validates always renders. A
// render failure is reported at spec.task (or spec.template).
void CheckSpec(const spec::Singleton& s, std::vector<spec::Diagnostic>& out);
// CheckSpec rendering with `options`: the rendered singleton when no diagnostic was added (the
// controller's spec loading keeps it rather than rendering each spec twice).
std::optional<Rendered> CheckAndRender(const spec::Singleton& s, const RenderOptions& options,
                                       std::vector<spec::Diagnostic>& out);

// The ACL policy name for a singleton: "nomad-singleton-<namespace>-<name>", sanitized to Nomad's
// policy-name alphabet, with a hash suffix when sanitizing changed it or it is too long.
std::string PolicyName(const spec::Singleton& s);

// The HCL rules of the lock policy.
std::string PolicyRules(const std::string& ns, const std::string& lock_path);

// The arguments of the lock agent for `s` (after the agent's own command), e.g.
// {"lock", "--sidecar", "--path", "nomad/jobs/x/lock", "--ttl", "15s", ...}.
std::vector<std::string> AgentArgs(const spec::Singleton& s, const std::string& role);

// FNV-1a 64 of `text` as 16 lowercase hex digits (change detection, not security).
std::string Fnv1a64Hex(const std::string& text);

}  // namespace nsg::render
