// Job plan value types (POST /v1/job/:id/plan, nomad-api.md §5.4): the scheduler's dry-run
// annotations and the structured Diff that `nomad job plan` prints. Plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nsg::nomad {


// Diff types are "None", "Added", "Deleted", "Edited".
struct FieldDiff {
  std::string type;
  std::string name;
  std::string old_value;
  std::string new_value;
  std::vector<std::string> annotations;
  friend bool operator==(const FieldDiff&, const FieldDiff&) = default;
};
struct ObjectDiff {
  std::string type;
  std::string name;
  std::vector<FieldDiff> fields;
  std::vector<ObjectDiff> objects;
  friend bool operator==(const ObjectDiff&, const ObjectDiff&) = default;
};
struct TaskDiff {
  std::string type;
  std::string name;
  std::vector<FieldDiff> fields;
  std::vector<ObjectDiff> objects;
  std::vector<std::string> annotations;  // "forces create", "forces destroy", "forces create/destroy update"
  friend bool operator==(const TaskDiff&, const TaskDiff&) = default;
};
struct TaskGroupDiff {
  std::string type;
  std::string name;
  std::vector<FieldDiff> fields;
  std::vector<ObjectDiff> objects;
  std::vector<TaskDiff> tasks;
  std::map<std::string, uint64_t> updates;  // "create", "destroy", "ignore", "create/destroy update", "in-place update"
  friend bool operator==(const TaskGroupDiff&, const TaskGroupDiff&) = default;
};
struct JobDiff {
  std::string type;
  std::string id;
  std::vector<FieldDiff> fields;
  std::vector<ObjectDiff> objects;
  std::vector<TaskGroupDiff> task_groups;
  friend bool operator==(const JobDiff&, const JobDiff&) = default;
};
struct DesiredUpdates {
  uint64_t ignore = 0, place = 0, migrate = 0, stop = 0, in_place_update = 0,
           destructive_update = 0, canary = 0, preemptions = 0, disconnect = 0, reconnect = 0,
           reschedule_now = 0, reschedule_later = 0;
  friend bool operator==(const DesiredUpdates&, const DesiredUpdates&) = default;
};
struct PlanResponse {
  std::map<std::string, DesiredUpdates> desired_tg_updates;  // Annotations.DesiredTGUpdates
  std::optional<JobDiff> diff;                               // only when asked for
  uint64_t job_modify_index = 0;  // the stored job's JobModifyIndex (0 if new): use for EnforceIndex
  int64_t next_periodic_launch = 0;  // unix ns; 0 = the zero time
  std::string warnings;
};

// ---- Observation --------------------------------------------------------------------------------

}  // namespace nsg::nomad
