// Nomad allocation, evaluation and node value types (nomad-api.md §6, §7).
//
// One Allocation struct serves the full allocation (GET /v1/allocation/:id, event payloads) and the
// list stub (AllocListStub): fields the stub lacks stay at their zero value. Unix times are int64
// nanoseconds as on the wire; RFC 3339 times are kept as int64 unix nanoseconds too (0 = the zero
// time). Plain values; no synchronization.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/nomad/job.h"

namespace nsg::nomad {

inline constexpr char kDesiredRun[] = "run";
inline constexpr char kDesiredStop[] = "stop";
inline constexpr char kDesiredEvict[] = "evict";

inline constexpr char kClientPending[] = "pending";
inline constexpr char kClientRunning[] = "running";
inline constexpr char kClientComplete[] = "complete";
inline constexpr char kClientFailed[] = "failed";
inline constexpr char kClientLost[] = "lost";
inline constexpr char kClientUnknown[] = "unknown";

// complete, failed and lost are client-terminal.
bool IsClientTerminal(const std::string& client_status);

struct TaskEvent {
  std::string type;  // "Received", "Started", "Terminated", "Killing", "Killed", ...
  int64_t time = 0;  // unix ns
  std::string display_message;
  std::string message;
  int exit_code = 0;
  int signal = 0;
  bool fails_task = false;
  StringMap details;
  friend bool operator==(const TaskEvent&, const TaskEvent&) = default;
};

struct TaskState {
  std::string state;  // pending | running | dead
  bool failed = false;
  uint64_t restarts = 0;
  int64_t last_restart = 0;  // RFC 3339 on the wire
  int64_t started_at = 0;    // RFC 3339 on the wire
  int64_t finished_at = 0;   // RFC 3339 on the wire
  std::vector<TaskEvent> events;
  friend bool operator==(const TaskState&, const TaskState&) = default;
};

struct DesiredTransition {
  std::optional<bool> migrate;
  std::optional<bool> reschedule;
  std::optional<bool> force_reschedule;
  std::optional<bool> no_shutdown_delay;
  friend bool operator==(const DesiredTransition&, const DesiredTransition&) = default;
};

struct RescheduleEvent {
  int64_t reschedule_time = 0;  // unix ns
  std::string prev_alloc_id;
  std::string prev_node_id;
  Duration delay{0};
  friend bool operator==(const RescheduleEvent&, const RescheduleEvent&) = default;
};

struct AllocState {
  std::string field;  // "ClientStatus"
  std::string value;  // "unknown", "lost"
  int64_t time = 0;   // RFC 3339 on the wire
  friend bool operator==(const AllocState&, const AllocState&) = default;
};

struct Allocation {
  std::string id;
  std::string eval_id;
  std::string name;  // "job.group[idx]"
  std::string namespace_;
  std::string node_id;
  std::string node_name;
  std::string job_id;
  std::string job_type;    // stub only
  uint64_t job_version = 0;  // stub only
  std::string task_group;
  std::string desired_status;
  std::string desired_description;
  DesiredTransition desired_transition;
  std::string client_status;
  std::string client_description;
  std::map<std::string, TaskState> task_states;
  std::string previous_allocation;  // full allocation only
  std::string next_allocation;
  std::string followup_eval_id;
  std::vector<RescheduleEvent> reschedule_events;
  std::vector<AllocState> alloc_states;  // full allocation only
  std::optional<Job> job;                // GET /v1/allocation/:id only; never in events
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  uint64_t alloc_modify_index = 0;
  int64_t create_time = 0;  // unix ns
  int64_t modify_time = 0;  // unix ns
  friend bool operator==(const Allocation&, const Allocation&) = default;
};

struct Evaluation {
  std::string id;
  std::string namespace_;
  int priority = 0;
  std::string type;
  std::string triggered_by;  // job-register, alloc-stop, node-update, alloc-failure, ...
  std::string job_id;
  std::string node_id;
  std::string status;  // pending | complete | blocked | canceled | failed
  std::string previous_eval;
  std::string next_eval;
  int64_t wait_until = 0;  // RFC 3339 on the wire
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  int64_t create_time = 0;
  int64_t modify_time = 0;
  friend bool operator==(const Evaluation&, const Evaluation&) = default;
};

inline constexpr char kNodeInitializing[] = "initializing";
inline constexpr char kNodeReady[] = "ready";
inline constexpr char kNodeDown[] = "down";
inline constexpr char kNodeDisconnected[] = "disconnected";

struct Node {
  std::string id;
  std::string name;
  std::string datacenter;
  std::string node_pool;
  std::string address;
  std::string status;
  std::string status_description;
  std::string scheduling_eligibility = "eligible";
  bool drain = false;
  int64_t status_updated_at = 0;  // unix SECONDS (the one exception, nomad-api.md §1.4)
  uint64_t create_index = 0;
  uint64_t modify_index = 0;
  friend bool operator==(const Node&, const Node&) = default;
};

// Response of writes that create an evaluation: register, deregister, evaluate, alloc stop.
struct WriteResult {
  std::string eval_id;
  uint64_t eval_create_index = 0;
  uint64_t job_modify_index = 0;
  std::string warnings;
  uint64_t index = 0;
};

}  // namespace nsg::nomad
