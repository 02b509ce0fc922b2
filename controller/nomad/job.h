// Nomad job value types: the parts of api.Job that nomad-singleton renders, reads and compares.
//
// Field names follow Nomad's JSON keys (nomad-api.md §5.9). Durations are base::Duration here and
// integer nanoseconds on the wire. Every struct keeps the JSON keys it does not model in `extra`
// (key → raw JSON text, compact), so a template job written by a user, or a job read back from
// Nomad, round-trips through decode → encode without losing fields. Plain values; no
// synchronization.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/base/duration.h"

namespace nsg::nomad {

using base::Duration;

// JSON keys not modelled by a struct: key → compact raw JSON text of the value.
using RawFields = std::map<std::string, std::string>;
using StringMap = std::map<std::string, std::string>;

inline constexpr char kJobTypeService[] = "service";
inline constexpr char kJobTypeBatch[] = "batch";

struct RestartPolicy {
  int attempts = 0;
  Duration interval{0};
  Duration delay{0};
  std::string mode;  // "fail" | "delay"
  bool render_templates = false;
  friend bool operator==(const RestartPolicy&, const RestartPolicy&) = default;
};

struct ReschedulePolicy {
  int attempts = 0;
  Duration interval{0};
  Duration delay{0};
  std::string delay_function;  // "constant" | "exponential" | "fibonacci"
  Duration max_delay{0};
  bool unlimited = false;
  friend bool operator==(const ReschedulePolicy&, const ReschedulePolicy&) = default;
};

struct Disconnect {
  Duration lost_after{0};
  std::optional<Duration> stop_on_client_after;  // nil ≠ 0 (nomad-api.md §9)
  std::optional<bool> replace;
  std::string reconcile;  // "" | keep_original | keep_replacement | best_score | longest_running
  friend bool operator==(const Disconnect&, const Disconnect&) = default;
};

struct Lifecycle {
  std::string hook;  // prestart | poststart | poststop
  bool sidecar = false;
  friend bool operator==(const Lifecycle&, const Lifecycle&) = default;
};

struct Resources {
  int cpu = 0;        // MHz
  int memory_mb = 0;
  int memory_max_mb = 0;  // 0 = unset
  RawFields extra;
  friend bool operator==(const Resources&, const Resources&) = default;
};

struct WorkloadIdentity {
  std::string name;  // "" or "default" for the default identity
  std::vector<std::string> audience;
  bool env = false;
  bool file = false;
  RawFields extra;
  friend bool operator==(const WorkloadIdentity&, const WorkloadIdentity&) = default;
};

struct Task {
  std::string name;
  std::string driver;
  std::string user;
  std::string config;  // the driver config object as compact JSON text ("{}" when empty)
  StringMap env;
  Resources resources;
  std::optional<RestartPolicy> restart_policy;  // merged over the group's by Nomad
  std::optional<Lifecycle> lifecycle;
  bool leader = false;
  std::optional<Duration> kill_timeout;
  std::string kill_signal;
  StringMap meta;
  std::optional<WorkloadIdentity> identity;
  RawFields extra;
  friend bool operator==(const Task&, const Task&) = default;
};

struct TaskGroup {
  std::string name;
  int count = 1;
  std::vector<Task> tasks;
  std::optional<RestartPolicy> restart_policy;
  std::optional<ReschedulePolicy> reschedule_policy;
  std::optional<Disconnect> disconnect;
  StringMap meta;
  RawFields extra;
  friend bool operator==(const TaskGroup&, const TaskGroup&) = default;
};

struct PeriodicConfig {
  bool enabled = true;
  std::string spec_type = "cron";
  std::string spec;
  bool prohibit_overlap = false;
  std::string time_zone;
  RawFields extra;
  friend bool operator==(const PeriodicConfig&, const PeriodicConfig&) = default;
};

struct Job {
  // Written by the controller.
  std::string id;
  std::string name;
  std::string namespace_;  // JSON "Namespace"
  std::string region;
  std::string type;  // service | batch | system | sysbatch
  int priority = 50;
  std::vector<std::string> datacenters;
  std::string node_pool;
  std::vector<TaskGroup> task_groups;
  std::optional<PeriodicConfig> periodic;
  StringMap meta;
  // Read-only, filled in by the server (left at zero/false when rendering).
  bool stop = false;
  std::string status;
  uint64_t version = 0;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  uint64_t job_modify_index = 0;
  int64_t submit_time = 0;  // unix ns
  RawFields extra;
  friend bool operator==(const Job&, const Job&) = default;
};

// A job without what only a full comparison reads: identity, type, priority, datacenters, node
// pool, each group's name and Count, Periodic (without unmodelled fields), Meta, Stop, Status,
// Version, indexes and SubmitTime; no tasks, group policies or unmodelled fields. What the
// controller's cluster view keeps of a settled job and decodes from a Job event
// (PayloadDetail::kSummary); DecodeFrame's summary of a Job payload equals JobSummary of its full
// decode.
Job JobSummary(const Job& full);

// JobSummary's fields, flat: a group is its name and Count, Meta one buffer in key order. What the
// controller keeps of a job it does not need whole (the cluster view's settled jobs, a rendered
// job's summary): ~0.6-0.8 KB less per job than a summary held as a Job.
struct SlimJob {
  std::string id;
  std::string name;
  std::string namespace_;
  std::string region;
  std::string type;
  std::string node_pool;
  std::string status;
  int priority = 0;
  bool stop = false;
  std::vector<std::string> datacenters;
  std::vector<std::pair<std::string, int>> groups;  // name, Count
  std::shared_ptr<const PeriodicConfig> periodic;   // without unmodelled fields
  // Meta in one buffer, in key order: for each entry a 4-byte key length, the key, a 4-byte value
  // length, the value (one allocation instead of a node and two strings per key; Meta keys such
  // as "nomad-singleton/spec-hash" are longer than std::string's inline buffer).
  std::string meta;
  uint64_t version = 0;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  uint64_t job_modify_index = 0;
  int64_t submit_time = 0;
  // The Meta value of `key`, or nullopt.
  std::optional<std::string_view> Meta(std::string_view key) const;
};
SlimJob SlimOf(const Job& job);
// The job a SlimJob stands for: WholeOf(SlimOf(j)) == JobSummary(j).
Job WholeOf(const SlimJob& slim);

// POST /v1/jobs body (nomad-api.md §5.2).
struct RegisterRequest {
  RegisterRequest() = default;
  RegisterRequest(Job j, bool enforce, uint64_t index)
      : job(std::move(j)), enforce_index(enforce), job_modify_index(index) {}
  Job job;
  bool enforce_index = false;
  uint64_t job_modify_index = 0;
  // The job already encoded as EncodeJob writes it (the request form), when the caller keeps it so
  // (the controller's rendered jobs, render/compact.h): EncodeRegisterRequest sends these bytes
  // as "Job", and `job` then needs only ID and Namespace (paths, logs). Null: `job` is encoded.
  std::shared_ptr<const std::string> encoded_job;
};

// JobACL attachment of an ACL policy (nomad-api.md §8.1).
struct JobAcl {
  std::string namespace_;
  std::string job_id;
  std::string group;
  std::string task;
  friend bool operator==(const JobAcl&, const JobAcl&) = default;
};

// An ACL policy (POST /v1/acl/policy/:name body, GET response).
struct AclPolicy {
  std::string name;
  std::string description;
  std::string rules;  // HCL text
  std::optional<JobAcl> job_acl;
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  friend bool operator==(const AclPolicy&, const AclPolicy&) = default;
};

}  // namespace nsg::nomad
