// The Singleton spec model (apiVersion nomad-singleton.io/v1alpha1, kind Singleton).
//
// A Singleton is what a user keeps in git: a small declarative description of a workload of which
// at most one instance may run. The loader (loader.h) turns YAML into these values, filling every
// default from the named constants below; the renderer turns one into a Nomad job. The JSON Schema
// in crd/ documents the same fields and defaults. Plain values; no synchronization.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/base/duration.h"
#include "controller/nomad/limits.h"

namespace nsg::spec {

using base::Duration;
using namespace std::chrono_literals;

inline constexpr char kApiVersion[] = "nomad-singleton.io/v1alpha1";
inline constexpr char kKind[] = "Singleton";

// ---- Defaults (each documented in docs/spec.md and the CRD schema) ----
inline constexpr char kDefaultNamespace[] = "default";
inline constexpr char kDefaultRegion[] = "global";
// Lock TTL and LockDelay: Nomad's API defaults (nomad-api.md §2.3). With them the server keeps a
// dead holder's lock 2×15s + 15s = 45s (ARCHITECTURE.md §3).
inline constexpr Duration kDefaultLockTtl = 15s;
inline constexpr Duration kDefaultLockDelay = 15s;
// The lock agent binary inside the allocation (raw_exec / exec) and the image for docker.
inline constexpr char kDefaultAgentCommand[] = "/usr/local/bin/nomad-singleton";
// The image is a variable of the build (CMake cache variable NSG_DEFAULT_LOCK_IMAGE, default
// "nomad-singleton:<project version>"): the project publishes to no registry of its own, so the
// default names the image the repository's Dockerfile builds; a site that pushes it somewhere
// sets its own name. Defined in singleton.cc, so changing it recompiles one file.
extern const char kDefaultAgentImage[];
inline constexpr int kDefaultAgentCpu = 50;      // MHz
inline constexpr int kDefaultAgentMemoryMb = 32;
// The guide uses stop_on_client_after = "1m"; 30s halves the no-standby crash failover while
// staying above two missed heartbeat TTLs of a small cluster (nomad-api.md §7.2).
inline constexpr Duration kDefaultStopOnClientAfter = 30s;
// A client heartbeats every max(10s, nodes/50) + up to as much stagger (nomad-api.md §7.2) and
// stops its allocations when it has not heartbeated for stop_on_client_after: anything at or
// below the heartbeat interval stops healthy allocations. 30s covers clusters up to 500 nodes;
// larger clusters need more (docs/spec.md).
inline constexpr Duration kMinStopOnClientAfter = 30s;
inline constexpr Duration kMaxStopOnClientAfter = 24h;
// Give-up window G: the agent kills the workload when no renew has succeeded for G since the
// send time of the last successful one. The guide: retry "up to the TTL".
// (When unset, G = the lock TTL.)
inline constexpr int kDefaultPriority = 50;
inline constexpr int kMaxStandby = 5;
inline constexpr char kDefaultTaskName[] = "main";
inline constexpr int kDefaultTaskCpu = 100;        // MHz, Nomad's default
inline constexpr int kDefaultTaskMemoryMb = 300;   // Nomad's default
inline constexpr Duration kDefaultKillTimeout = 5s;  // Nomad's default
// Restart in place: Nomad's service defaults (nomad-api.md §10), delay shortened so a crashed
// workload is back within one TTL (the guide's restart advice).
inline constexpr int kDefaultRestartAttempts = 2;
inline constexpr Duration kDefaultRestartInterval = 30min;
inline constexpr Duration kDefaultRestartDelay = 5s;
// Reschedule: unlimited, exponential from 10s to 5m (service); batch: Nomad's 1 attempt / 24h.
inline constexpr Duration kDefaultRescheduleDelay = 10s;
inline constexpr Duration kDefaultRescheduleMaxDelay = 5min;
inline constexpr char kDefaultRescheduleDelayFunction[] = "exponential";
inline constexpr char kDefaultRestartMode[] = "fail";
// Batch jobs (type batch, or a schedule) get Nomad's batch defaults (nomad-api.md §10): a batch
// run that exits 0 is complete, so restarts only follow failures; one reschedule a day.
inline constexpr int kDefaultBatchRestartAttempts = 3;
inline constexpr Duration kDefaultBatchRestartInterval = 24h;
inline constexpr Duration kDefaultBatchRestartDelay = 15s;
inline constexpr int kDefaultBatchRescheduleAttempts = 1;
inline constexpr Duration kDefaultBatchRescheduleInterval = 24h;
inline constexpr Duration kDefaultBatchRescheduleDelay = 5s;
inline constexpr char kDefaultBatchRescheduleDelayFunction[] = "constant";
inline constexpr bool kDefaultBatchRescheduleUnlimited = false;

// ---- Limits the loader enforces (Nomad's own, from nomad/limits.h, and §10) ----
inline constexpr Duration kMinLockTtl = nomad::kMinLockTtl;
inline constexpr Duration kMaxLockTtl = nomad::kMaxLockTtl;
// Ours: Nomad has no upper bound on LockDelay (and turns 0 into 15s, so the loader refuses 0).
inline constexpr Duration kMaxLockDelay = 24h;
inline constexpr int kMinPriority = 1;
inline constexpr int kMaxPriority = 100;
inline constexpr Duration kMinRestartInterval = 5s;
inline constexpr Duration kMinRescheduleDelay = 5s;
inline constexpr Duration kMinRescheduleInterval = 15s;  // when attempts are limited

enum class JobType { kService, kBatch };
enum class LockMode { kShim, kSidecar, kSplit };
enum class AgentDriver { kRawExec, kExec, kDocker };

const char* JobTypeName(JobType t);        // "service" | "batch"
const char* LockModeName(LockMode m);      // "shim" | "sidecar" | "split"
const char* AgentDriverName(AgentDriver d);  // "raw_exec" | "exec" | "docker"

// The lock path used when spec.lock.path is not written: "nomad/jobs/<job_id>/lock". Under the
// job's own prefix, but not readable through Nomad's implicit workload policy: that covers only
// nomad/jobs, nomad/jobs/<job>, .../<group> and .../<group>/<task> exactly (acl/acl.go
// matchingVariablesCapabilitySet); the rendered JobACL policy grants access to the lock path.
std::string DefaultLockPath(const std::string& job_id);

// Where a value came from, 1-based; line 0 means "not from a file" (a default).
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;
};

struct Resources {
  int cpu = kDefaultTaskCpu;  // MHz
  int memory_mb = kDefaultTaskMemoryMb;
  int memory_max_mb = 0;  // 0 = unset
};

// How the lock agent (the `nomad-singleton lock` / `guard` commands) runs in the allocation.
struct LockAgent {
  AgentDriver driver = AgentDriver::kRawExec;
  std::string command = kDefaultAgentCommand;  // raw_exec / exec: path of nomad-singleton
  std::string image = kDefaultAgentImage;      // docker only
  Resources resources{kDefaultAgentCpu, kDefaultAgentMemoryMb, 0};
};

struct LockSpec {
  std::string path;  // default: nomad/jobs/<metadata.name>/lock
  Duration ttl = kDefaultLockTtl;
  Duration delay = kDefaultLockDelay;
  LockMode mode = LockMode::kSidecar;
  LockAgent agent;
};

struct RestartSpec {
  int attempts = kDefaultRestartAttempts;
  Duration interval = kDefaultRestartInterval;
  Duration delay = kDefaultRestartDelay;
  std::string mode = kDefaultRestartMode;  // fail | delay
};

struct RescheduleSpec {
  int attempts = 0;        // 0 with unlimited = true: reschedule forever
  Duration interval{0};
  Duration delay = kDefaultRescheduleDelay;
  std::string delay_function = kDefaultRescheduleDelayFunction;
  Duration max_delay = kDefaultRescheduleMaxDelay;
  bool unlimited = true;
};

struct FailoverSpec {
  Duration stop_on_client_after = kDefaultStopOnClientAfter;
  std::optional<Duration> give_up;  // G; unset = the lock TTL
  RestartSpec restart;
  RescheduleSpec reschedule;
};

// The simple form: one protected workload task.
struct TaskSpec {
  std::string name = kDefaultTaskName;
  std::string driver;  // required
  std::string config_json = "{}";  // the driver config map, as compact JSON with sorted keys
  std::map<std::string, std::string> env;
  Resources resources;
  Duration kill_timeout = kDefaultKillTimeout;
  std::string user;
};

struct Metadata {
  std::string name;  // the Nomad job ID
  std::string namespace_ = kDefaultNamespace;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

// Annotation that keeps a job when its spec is deleted even with --prune.
inline constexpr char kAnnotationKeep[] = "nomad-singleton.io/keep-on-delete";

struct SingletonSpec {
  JobType type = JobType::kService;
  std::string schedule;  // cron; non-empty makes a periodic batch job
  std::string region = kDefaultRegion;
  std::vector<std::string> datacenters;  // empty = Nomad's default ["*"]
  std::string node_pool;                 // empty = "default"
  int priority = kDefaultPriority;
  LockSpec lock;
  int standby = 0;
  FailoverSpec failover;
  bool adopt = false;  // take over an existing job with the same ID that is not ours
  // Exactly one of task / template_json is set.
  std::optional<TaskSpec> task;
  std::string template_json;  // a full Nomad job (API JSON) as compact JSON; one task group
};

struct Singleton {
  Metadata metadata;
  SingletonSpec spec;
  SourcePos source;  // the document's position (its first key)
  // Where each field that was written in the file is: "spec.lock.ttl" → position of its value.
  // Fields left at their default have no entry (report the nearest parent that has one).
  std::map<std::string, SourcePos> positions;

  // "namespace/name": the key used everywhere (SingletonKey).
  std::string Key() const { return metadata.namespace_ + "/" + metadata.name; }
  // The give-up window G in effect.
  Duration GiveUp() const { return spec.failover.give_up.value_or(spec.lock.ttl); }
  // The workload's kill timeout K (task form: task.kill_timeout; template form: filled in by the
  // loader from the template's workload task, or the default).
  Duration KillTimeout() const {
    return spec.task ? spec.task->kill_timeout : template_kill_timeout;
  }
  Duration template_kill_timeout = kDefaultKillTimeout;
  // The largest KillTimeout written on any task of the template (0 when none is written).
  Duration template_max_kill_timeout{0};

  // The position of `field`, or of its nearest parent that was written, or of the document.
  SourcePos PositionOf(const std::string& field) const;
};

}  // namespace nsg::spec
