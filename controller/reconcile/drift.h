// Drift: does the job Nomad has still say what the controller rendered?
//
// Two checks, both "desired ⊆ observed" (only what the controller sets is compared; whatever the
// server fills in or adds is ignored):
//   * the singleton invariants, on the typed values, each with its own reason: the job is not
//     stopped, the group Count is 1 + standby, the lock tasks are there and unchanged, the group's
//     Disconnect block is there and unchanged;
//   * every other rendered field, on the codec's JSON: every key the desired register body sets
//     must hold an equal value in the observed job (server form), recursively. Arrays of objects
//     with a "Name" (task groups, tasks) are matched by name, other arrays by position and length.
//     A desired empty string or null is "unset" (the server fills in a default). The Meta keys that
//     record where a spec came from (source file, git revision) are not compared: a moved file or
//     a new commit that changes nothing else must not re-register the job.
//
// Pure functions; safe for concurrent use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/nomad/job.h"
#include "controller/render/compact.h"

namespace nsg::reconcile {

// A broken singleton invariant.
struct InvariantDrift {
  std::string reason;   // JobStopped | CountDrifted | LockTaskDrifted | DisconnectDrifted
  std::string message;  // e.g. "group singleton: Count is 3, want 1"
  friend bool operator==(const InvariantDrift&, const InvariantDrift&) = default;
};

// Both checks of a job that exists, each job encoded once (the encoding is most of the cost):
//   invariants  every broken invariant of `observed` against `desired`, in the order listed above;
//   fields      the paths of rendered fields whose observed value differs, e.g.
//               "TaskGroups[singleton].Tasks[main].Config.args[2]" or "Priority"; empty when
//               desired ⊆ observed.
struct DriftReport {
  std::vector<InvariantDrift> invariants;
  std::vector<std::string> fields;
  friend bool operator==(const DriftReport&, const DriftReport&) = default;
};
DriftReport CheckDrift(const nomad::Job& desired, const nomad::Job& observed);

// The invariants that hold against any writer, the controller included, on the typed values
// alone (no encoding): JobStopped and CountDrifted, as CheckDrift reports them. For a job that
// still holds what the controller last wrote, field differences are the server's normalization
// and not drift (plan.h), so Plan asks only this.
std::vector<InvariantDrift> CheckStopAndCount(const nomad::Job& desired,
                                              const nomad::Job& observed);

// A drift check remembered between reconciles (Plan keeps it in Memory): the report for the
// observed job at `job_modify_index` (with its `stop` flag) against the desired job of
// `spec_hash`. Nomad gives a job a new JobModifyIndex whenever anything but its status, version,
// submit time and indexes changes (Job.SpecChanged, nomad/structs/structs.go @ v1.10.2, v2.0.5),
// and the spec hash covers every field the check compares (render::Render), so the same key
// means the same report: a steady reconcile does not encode and compare the two jobs again.
struct DriftMemo {
  uint64_t job_modify_index = 0;
  bool stop = false;
  std::string spec_hash;
  DriftReport report;
  friend bool operator==(const DriftMemo&, const DriftMemo&) = default;
};

// CheckDrift of `desired`'s whole job (decoded from its compact form only when needed), or the
// remembered report when `memo` holds one for the same key; `memo` is set to what was used. A
// whole job that cannot be decoded (corrupted memory: never by design) is reported as drift of
// every field, "(rendered job unreadable: ...)", so the plan registers again what it keeps.
DriftReport CheckDriftMemo(const render::CompactRendered& desired, const nomad::Job& observed,
                           std::optional<DriftMemo>& memo);

// The names of the tasks that carry the lock agent: the lock and acquire tasks in sidecar/split
// mode; in shim mode (Meta lock-mode "shim") the wrapped workload tasks.
std::vector<std::string> LockTaskNames(const nomad::Job& desired);

}  // namespace nsg::reconcile
