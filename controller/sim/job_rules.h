// Job rules of the Nomad model: canonicalization, validation, spec comparison, plan diffs and the
// cron matcher for periodic jobs (nomad-api.md §5.2, §5.4, §5.10, §9, §10). Pure functions on
// values; safe for concurrent use. Used by Cluster (cluster.h); no state, no time except arguments.
// One header, four files: job_defaults.cc (default policies, CanonicalizeJob), job_validate.cc
// (ValidateJob, MultiErrorText), job_diff.cc (SpecChanged, DestructiveChange, DiffJobs),
// job_cron.cc (ParseCron, NextCronTime).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/base/status.h"
#include "controller/nomad/job.h"
#include "controller/nomad/limits.h"
#include "controller/nomad/plan.h"

namespace nsg::sim {

// go-multierror's ListFormatFunc: "1 error occurred:\n\t* a\n\n" or
// "2 errors occurred:\n\t* a\n\t* b\n\n". Empty input gives "".
std::string MultiErrorText(const std::vector<std::string>& errors);

// Nomad's restart/reschedule defaults for a job type (§10). nullopt for types without one.
std::optional<nomad::RestartPolicy> DefaultRestartPolicy(const std::string& job_type);
std::optional<nomad::ReschedulePolicy> DefaultReschedulePolicy(const std::string& job_type);
inline constexpr base::Duration kDefaultKillTimeout = nomad::kDefaultKillTimeout;

// Fills the API and server defaults (§5.10): Name, Region, Type, Priority, Datacenters ["*"],
// NodePool "default", group restart/reschedule policies, Disconnect.Replace/Reconcile, task
// KillTimeout 5s, Resources 100 MHz/300 MB, the task restart policy (the group's, task fields
// overriding), the default workload identity (a given identity's empty Name becomes "default",
// whose Audience is ["nomadproject.io"]), and the keys the model keeps in `extra`: ParentID,
// AllAtOnce, Stable, StatusDescription, ..., Periodic.TimeZone "UTC", group EphemeralDisk and
// (service) Migrate, task LogConfig and Resources.Cores (docs/nomad-compatibility.md, "Corrections
// found by the contract suite"). Clears the server-owned fields (Status, Version, indexes,
// SubmitTime). Namespace is left as given.
void CanonicalizeJob(nomad::Job& job);

// Validates a canonicalized job the way the server does. Returns the top-level error list (empty =
// valid); MultiErrorText of it is Nomad's message. Covers: missing ID/task groups/tasks/names,
// job type, duplicate groups/tasks, counts, more than one leader, restart policy, reschedule
// policy, disconnect (lost_after with stop_on_client_after, negatives, reconcile, job type),
// lifecycle hooks, periodic only for batch and its cron spec.
std::vector<std::string> ValidateJob(const nomad::Job& job);

// Whether `submitted` differs from `stored` in anything but server-owned fields (Nomad's
// Job.SpecChanged): Status, Version, indexes, SubmitTime are ignored; Stop is compared.
bool SpecChanged(const nomad::Job& stored, const nomad::Job& submitted);

// Whether moving allocs of `group` from `old_job` to `new_job` needs a destructive update (stop and
// place) rather than an in-place one. Destructive: tasks added/removed or changed in driver, user,
// config, env, resources, lifecycle, leader, identity, unmodelled task fields; combined meta (job +
// group + task); unmodelled group fields. In place: count, restart/reschedule/disconnect policies,
// kill timeout/signal, priority, datacenters.
bool DestructiveChange(const nomad::Job& old_job, const nomad::Job& new_job,
                       const std::string& group);

// The plan Diff of `old_job` (nullptr: the job is new) → `new_job`. Only changed fields and objects
// are listed (Nomad's non-contextual diff); task groups and tasks are listed when changed.
// TaskGroupDiff.Updates is left empty for the caller to fill from the annotations.
nomad::JobDiff DiffJobs(const nomad::Job* old_job, const nomad::Job& new_job);

// A 5-field cron expression (minute hour day-of-month month day-of-week) with `*`, numbers,
// ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n`, month/day names (JAN, MON), and the
// descriptors @yearly @annually @monthly @weekly @daily @midnight @hourly. As in cron, when both
// day fields are restricted a day matches if either matches. Limits: no seconds or year field, no
// `L`, `W`, `#`, `?`; UTC only (Periodic.TimeZone is ignored).
struct CronSpec {
  uint64_t minutes = 0;   // bit i = minute i
  uint32_t hours = 0;
  uint32_t days = 0;      // bit d = day d (1..31)
  uint16_t months = 0;    // bit m = month m (1..12)
  uint8_t weekdays = 0;   // bit w = weekday w (0 = Sunday)
  bool dom_star = true;
  bool dow_star = true;
};
base::Result<CronSpec> ParseCron(const std::string& text);
// The first matching minute strictly after `after_unix_ns` (unix ns, UTC), within ~5 years.
std::optional<int64_t> NextCronTime(const CronSpec& spec, int64_t after_unix_ns);

}  // namespace nsg::sim
