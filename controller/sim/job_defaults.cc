// Job defaults of the Nomad model: the restart and reschedule policies of each job type, and
// CanonicalizeJob, the register-time defaults of the API and the server, both for the modelled
// fields and for those the model keeps in `extra` (nomad-api.md §5.10, §10). Declared in
// job_rules.h.
#include "controller/sim/job_rules.h"

#include <nlohmann/json.hpp>

#include "controller/nomad/limits.h"

namespace nsg::sim {

using namespace std::chrono_literals;

std::optional<nomad::RestartPolicy> DefaultRestartPolicy(const std::string& job_type) {
  nomad::RestartPolicy p;
  p.delay = 15s;
  p.mode = "fail";
  if (job_type == nomad::kJobTypeService || job_type == "system") {
    p.attempts = 2;
    p.interval = 30min;
    return p;
  }
  if (job_type == nomad::kJobTypeBatch || job_type == "sysbatch") {
    p.attempts = 3;
    p.interval = 24h;
    return p;
  }
  return std::nullopt;
}

std::optional<nomad::ReschedulePolicy> DefaultReschedulePolicy(const std::string& job_type) {
  nomad::ReschedulePolicy p;
  if (job_type == nomad::kJobTypeService) {
    p.delay = 30s;
    p.delay_function = "exponential";
    p.max_delay = 1h;
    p.unlimited = true;
    return p;
  }
  if (job_type == nomad::kJobTypeBatch) {
    p.attempts = 1;
    p.interval = 24h;
    p.delay = 5s;
    p.delay_function = "constant";
    return p;
  }
  return std::nullopt;
}

namespace {

using RawJson = nlohmann::ordered_json;

// The object kept under `key` in `extra` (an empty object when absent or not an object).
RawJson ExtraObject(const nomad::RawFields& extra, const std::string& key) {
  auto it = extra.find(key);
  if (it == extra.end()) return RawJson::object();
  RawJson j = RawJson::parse(it->second, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : RawJson::object();
}

bool HasNonNull(const nomad::RawFields& extra, const std::string& key) {
  auto it = extra.find(key);
  return it != extra.end() && it->second != "null";
}

// Sets `key` to `value` unless the caller sent a non-null value.
void DefaultField(nomad::RawFields& extra, const std::string& key, const RawJson& value) {
  if (!HasNonNull(extra, key)) extra[key] = value.dump();
}

// `key`'s object with `defaults` under every field the caller left out or sent as null (the
// api package's `if x.F == nil { x.F = default }` Canonicalize pattern).
void DefaultObject(nomad::RawFields& extra, const std::string& key, const RawJson& defaults) {
  RawJson own = ExtraObject(extra, key);
  for (auto it = defaults.begin(); it != defaults.end(); ++it) {
    if (!own.contains(it.key()) || own[it.key()].is_null()) own[it.key()] = it.value();
  }
  extra[key] = own.dump();
}

constexpr int64_t kNsPerSecond = 1'000'000'000;

// api/tasks.go DefaultMigrateStrategy @ v2.0.5 (nomad/structs DefaultMigrateStrategy agrees).
RawJson DefaultMigrate() {
  return RawJson{{"MaxParallel", 1},
                 {"HealthCheck", "checks"},
                 {"MinHealthyTime", 10 * kNsPerSecond},
                 {"HealthyDeadline", 300 * kNsPerSecond}};
}

// Register-time defaults outside the modelled fields: api.Job.Canonicalize (api/jobs.go),
// TaskGroup.Canonicalize and Task.Canonicalize (api/tasks.go), Resources.Canonicalize
// (api/resources.go), then the server's structs Job/TaskGroup/Task.Canonicalize
// (nomad/structs/structs.go) and WorkloadIdentity.Canonicalize (nomad/structs/workload_id.go),
// all @ v2.0.5 (the same at v1.10.2 and v1.11.0 for these fields).
void CanonicalizeExtras(nomad::Job& job) {
  for (const char* k : {"ParentID", "ConsulNamespace", "VaultNamespace", "NomadTokenID",
                        "StatusDescription"}) {
    DefaultField(job.extra, k, "");
  }
  for (const char* k : {"AllAtOnce", "Stable", "Dispatched"}) DefaultField(job.extra, k, false);
  if (job.periodic && job.periodic->time_zone.empty()) job.periodic->time_zone = "UTC";
  const bool service = job.type == nomad::kJobTypeService;
  const bool job_migrate = HasNonNull(job.extra, "Migrate");
  for (nomad::TaskGroup& tg : job.task_groups) {
    DefaultObject(tg.extra, "EphemeralDisk",
                  RawJson{{"Sticky", false}, {"Migrate", false}, {"SizeMB", 300}});
    // The job's migrate block under the group's own; service groups always get one.
    if (job_migrate || HasNonNull(tg.extra, "Migrate") || service) {
      RawJson merged = job_migrate ? ExtraObject(job.extra, "Migrate") : RawJson::object();
      const RawJson own = ExtraObject(tg.extra, "Migrate");
      for (auto it = own.begin(); it != own.end(); ++it) {
        if (!it.value().is_null()) merged[it.key()] = it.value();
      }
      tg.extra["Migrate"] = merged.dump();
      DefaultObject(tg.extra, "Migrate", DefaultMigrate());
    }
    for (nomad::Task& t : tg.tasks) {
      DefaultObject(t.extra, "LogConfig",
                    RawJson{{"MaxFiles", 10}, {"MaxFileSizeMB", 10}, {"Disabled", false}});
      DefaultField(t.resources.extra, "Cores", 0);
      if (t.identity) {
        if (t.identity->name.empty()) t.identity->name = "default";
        if (t.identity->name == "default") t.identity->audience = {"nomadproject.io"};
      }
    }
  }
}

}  // namespace

void CanonicalizeJob(nomad::Job& job) {
  if (job.name.empty()) job.name = job.id;
  if (job.region.empty()) job.region = "global";
  if (job.type.empty()) job.type = nomad::kJobTypeService;
  if (job.priority == 0) job.priority = 50;
  if (job.datacenters.empty()) job.datacenters = {"*"};
  if (job.node_pool.empty()) job.node_pool = "default";
  job.status.clear();
  job.version = 0;
  job.create_index = job.modify_index = job.job_modify_index = 0;
  job.submit_time = 0;
  nomad::CanonicalizeUpdateStrategies(job);
  for (nomad::TaskGroup& tg : job.task_groups) {
    if (!tg.restart_policy) tg.restart_policy = DefaultRestartPolicy(job.type);
    if (!tg.reschedule_policy) tg.reschedule_policy = DefaultReschedulePolicy(job.type);
    if (tg.disconnect) {
      if (!tg.disconnect->replace) tg.disconnect->replace = true;
      if (tg.disconnect->reconcile.empty()) tg.disconnect->reconcile = "best_score";
    }
    for (nomad::Task& t : tg.tasks) {
      if (!t.kill_timeout) t.kill_timeout = kDefaultKillTimeout;
      if (t.resources.cpu == 0 && t.resources.extra.count("Cores") == 0) t.resources.cpu = 100;
      if (t.resources.memory_mb == 0) t.resources.memory_mb = 300;
      if (t.config.empty()) t.config = "{}";
      if (tg.restart_policy) {
        if (!t.restart_policy) {
          t.restart_policy = tg.restart_policy;
        } else {
          // api.Task.Canonicalize merges the group's policy under the task's set fields (Go
          // pointers: an explicit 0 is set). The decoded value types cannot tell 0 from absent,
          // so a task policy that names its Mode is taken as fully set — as a client that sends
          // the whole object (the project's renderer does: "Attempts": 0 means no restart) has it.
          nomad::RestartPolicy merged = *tg.restart_policy;
          const nomad::RestartPolicy& own = *t.restart_policy;
          const bool whole = !own.mode.empty();
          if (whole || own.attempts != 0) merged.attempts = own.attempts;
          if (whole || own.interval.count() != 0) merged.interval = own.interval;
          if (whole || own.delay.count() != 0) merged.delay = own.delay;
          if (!own.mode.empty()) merged.mode = own.mode;
          merged.render_templates = merged.render_templates || own.render_templates;
          t.restart_policy = merged;
        }
      }
      if (!t.identity) {
        nomad::WorkloadIdentity id;
        id.name = "default";
        id.audience = {"nomadproject.io"};
        t.identity = id;
      }
    }
  }
  CanonicalizeExtras(job);
}

}  // namespace nsg::sim
