#include "controller/sim/job_rules.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "controller/base/duration.h"
#include "controller/nomad/limits.h"

namespace nsg::sim {

using base::Duration;
using namespace std::chrono_literals;

std::string MultiErrorText(const std::vector<std::string>& errors) {
  if (errors.empty()) return "";
  if (errors.size() == 1) return "1 error occurred:\n\t* " + errors[0] + "\n\n";
  std::string out = std::to_string(errors.size()) + " errors occurred:\n\t";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) out += "\n\t";
    out += "* " + errors[i];
  }
  return out + "\n\n";
}

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

namespace {

std::string GoDur(Duration d) { return base::FormatDuration(d); }

std::vector<std::string> ValidateRestart(const nomad::RestartPolicy& r) {
  std::vector<std::string> errs;
  if (r.mode != "delay" && r.mode != "fail") {
    errs.push_back("Unsupported restart mode: \"" + r.mode + "\"");
  }
  if (r.attempts == 0 && r.mode != "fail") {
    errs.push_back("Restart policy \"" + r.mode + "\" with " + std::to_string(r.attempts) +
                   " attempts is ambiguous");
  }
  if (r.interval < 5s) {
    errs.push_back("Interval can not be less than 5s (got " + GoDur(r.interval) + ")");
  }
  if (r.delay * r.attempts > r.interval) {
    errs.push_back("Nomad can't restart the TaskGroup " + std::to_string(r.attempts) +
                   " times in an interval of " + GoDur(r.interval) + " with a delay of " +
                   GoDur(r.delay));
  }
  return errs;
}

// viableAttempts of nomad/structs ReschedulePolicy.
bool ViableAttempts(const nomad::ReschedulePolicy& r, int* possible, Duration* recommended) {
  *possible = 0;
  *recommended = Duration(0);
  bool valid = true;
  if (r.delay_function == "constant") {
    *recommended = r.delay * r.attempts;
    if (r.interval < *recommended) {
      *possible = r.delay.count() > 0 ? static_cast<int>(r.interval / r.delay) : 0;
      valid = false;
    }
  } else if (r.delay_function == "exponential") {
    for (int i = 0; i < r.attempts; ++i) {
      Duration next = r.delay * (int64_t{1} << std::min(i, 40));
      if (next > r.max_delay) {
        next = r.max_delay;
        *recommended += next;
      } else {
        *recommended = next;
      }
      if (*recommended < r.interval) ++*possible;
    }
    if (*possible < r.attempts) valid = false;
  } else if (r.delay_function == "fibonacci") {
    std::vector<Duration> slots = {r.delay, r.delay};
    bool ceiling = false;
    for (int i = 2; i < r.attempts; ++i) {
      Duration next;
      if (ceiling) {
        next = slots[i - 1] + r.max_delay;
      } else {
        next = slots[i - 1] + slots[i - 2];
        if (next > r.max_delay) {
          next = r.max_delay;
          ceiling = true;
        }
      }
      slots.push_back(next);
    }
    *recommended = slots.back();
    if (r.interval < *recommended) {
      valid = false;
      for (size_t i = 0; i < slots.size(); ++i) {
        if (slots[i] > r.interval) {
          *possible = static_cast<int>(i);
          break;
        }
      }
    }
  } else {
    return false;
  }
  return valid;
}

std::vector<std::string> ValidateReschedule(const nomad::ReschedulePolicy& r) {
  std::vector<std::string> errs;
  if (!(r.attempts > 0 || r.unlimited)) return errs;  // disabled: not validated (Nomad code)
  if (r.attempts > 0) {
    if (r.interval.count() <= 0) {
      errs.push_back("Interval must be a non zero value if Attempts > 0");
    }
    if (r.unlimited) {
      errs.push_back("Reschedule Policy with Attempts = " + std::to_string(r.attempts) +
                     ", Interval = " + GoDur(r.interval) + ", and Unlimited = true is ambiguous");
      errs.push_back("If Attempts >0, Unlimited cannot also be set to true");
    }
  }
  bool precheck = true;
  if (r.delay < 5s) {
    errs.push_back("Delay cannot be less than 5s (got " + GoDur(r.delay) + ")");
    precheck = false;
  }
  if (r.delay_function != "constant" && r.delay_function != "exponential" &&
      r.delay_function != "fibonacci") {
    errs.push_back("Invalid delay function \"" + r.delay_function +
                   "\", must be one of [\"constant\" \"exponential\" \"fibonacci\"]");
    precheck = false;
  }
  if (r.delay_function != "constant") {
    if (r.max_delay < 5s) {
      errs.push_back("Max Delay cannot be less than 5s (got " + GoDur(r.delay) + ")");
      precheck = false;
    }
    if (r.max_delay < r.delay) {
      errs.push_back("Max Delay cannot be less than Delay " + GoDur(r.delay) + " (got " +
                     GoDur(r.max_delay) + ")");
      precheck = false;
    }
  }
  if (!r.unlimited) {
    if (r.interval < 15s) {
      errs.push_back("Interval cannot be less than 15s (got " + GoDur(r.interval) + ")");
    }
    if (!precheck) return errs;
    int possible = 0;
    Duration recommended{0};
    if (!ViableAttempts(r, &possible, &recommended)) {
      std::vector<std::string> inner;
      if (r.delay_function == "constant") {
        inner.push_back("Nomad can only make " + std::to_string(possible) + " attempts in " +
                        GoDur(r.interval) + " with initial delay " + GoDur(r.delay) +
                        " and delay function \"" + r.delay_function + "\"");
      } else {
        inner.push_back("Nomad can only make " + std::to_string(possible) + " attempts in " +
                        GoDur(r.interval) + " with initial delay " + GoDur(r.delay) +
                        ", delay function \"" + r.delay_function + "\", and delay ceiling " +
                        GoDur(r.max_delay));
      }
      Duration rounded = std::chrono::round<std::chrono::seconds>(recommended);
      inner.push_back("Set the interval to at least " + GoDur(rounded) + " to accommodate " +
                      std::to_string(r.attempts) + " attempts");
      for (auto& e : inner) errs.push_back(e);
    }
  }
  return errs;
}

std::vector<std::string> ValidateDisconnect(const nomad::Disconnect& d, const std::string& type) {
  std::vector<std::string> errs;
  if (d.stop_on_client_after) {
    if (d.stop_on_client_after->count() < 0) {
      errs.push_back("stop_after cannot be a negative duration");
    }
    if (type != nomad::kJobTypeService && type != nomad::kJobTypeBatch) {
      errs.push_back("stop_after can only be used with service or batch job types");
    }
  }
  if (d.lost_after.count() < 0) errs.push_back("lost_after cannot be a negative duration");
  if (d.stop_on_client_after && d.lost_after.count() != 0) {
    errs.push_back("Disconnect cannot be configured with both lost_after and stop_after");
    return errs;
  }
  static const std::set<std::string> kReconcile = {"", "best_score", "longest_running",
                                                   "keep_original", "keep_replacement"};
  if (!kReconcile.count(d.reconcile)) {
    errs.push_back("reconcile option is invalid: " + d.reconcile);
  }
  return errs;
}

std::vector<std::string> ValidateTask(const nomad::Task& t, const nomad::TaskGroup& tg,
                                      const nomad::Job& job) {
  std::vector<std::string> errs;
  if (t.driver.empty()) errs.push_back("Missing task driver");
  if (t.kill_timeout && t.kill_timeout->count() < 0) {
    errs.push_back("KillTimeout must be a positive value");
  } else if (auto e = nomad::KillTimeoutError(job.type, tg, t)) {
    errs.push_back(*e);
  }
  if (t.lifecycle) {
    const std::string& h = t.lifecycle->hook;
    if (h != "prestart" && h != "poststart" && h != "poststop") {
      errs.push_back("invalid hook: " + h);
    }
  }
  return errs;
}

std::vector<std::string> ValidateGroup(const nomad::TaskGroup& tg, const nomad::Job& job) {
  std::vector<std::string> errs;
  if (tg.name.empty()) errs.push_back("Missing task group name");
  if (tg.count < 0) errs.push_back("Task group count can't be negative");
  if (tg.tasks.empty()) errs.push_back("Missing tasks for task group");
  if (tg.restart_policy) {
    // multierror.Append flattens nested lists into the group's list.
    for (auto& e : ValidateRestart(*tg.restart_policy)) errs.push_back(e);
  } else {
    errs.push_back("Task Group " + tg.name + " should have a restart policy");
  }
  if (job.type == "system" || job.type == "sysbatch") {
    if (tg.reschedule_policy) errs.push_back("System jobs should not have a reschedule policy");
  } else if (tg.reschedule_policy) {
    for (auto& e : ValidateReschedule(*tg.reschedule_policy)) errs.push_back(e);
  } else {
    errs.push_back("Task Group " + tg.name + " should have a reschedule policy");
  }
  for (auto& e : nomad::UpdateBlockErrors(job.type, tg)) errs.push_back(e);
  if (tg.disconnect) {
    for (auto& e : ValidateDisconnect(*tg.disconnect, job.type)) errs.push_back(e);
  }
  std::map<std::string, size_t> seen;
  int leaders = 0;
  for (size_t i = 0; i < tg.tasks.size(); ++i) {
    const nomad::Task& t = tg.tasks[i];
    if (t.name.empty()) {
      errs.push_back("Task " + std::to_string(i + 1) + " missing name");
    } else if (auto it = seen.find(t.name); it != seen.end()) {
      errs.push_back("Task " + std::to_string(i + 1) + " redefines '" + t.name + "' from task " +
                     std::to_string(it->second + 1));
    } else {
      seen[t.name] = i;
    }
    if (t.leader) ++leaders;
  }
  if (leaders > 1) errs.push_back("Only one task may be marked as leader");
  for (const nomad::Task& t : tg.tasks) {
    auto e = ValidateTask(t, tg, job);
    if (!e.empty()) errs.push_back("Task " + t.name + " validation failed: " + MultiErrorText(e));
  }
  return errs;
}

}  // namespace

std::vector<std::string> ValidateJob(const nomad::Job& job) {
  std::vector<std::string> errs;
  if (job.region.empty()) errs.push_back("Missing job region");
  if (auto e = nomad::JobIdError(job.id)) errs.push_back(*e);
  if (job.name.empty()) errs.push_back("Missing job name");
  static const std::set<std::string> kTypes = {"service", "batch", "system", "sysbatch"};
  if (job.type.empty()) {
    errs.push_back("Missing job type");
  } else if (!kTypes.count(job.type)) {
    errs.push_back("Invalid job type: \"" + job.type + "\"");
  }
  if (job.priority < 1 || job.priority > 100) {
    errs.push_back("Job priority must be between [1, 100]");
  }
  if (job.task_groups.empty()) errs.push_back("Missing job task groups");
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < job.task_groups.size(); ++i) {
    const nomad::TaskGroup& tg = job.task_groups[i];
    if (tg.name.empty()) {
      errs.push_back("Job task group " + std::to_string(i + 1) + " missing name");
    } else if (auto it = seen.find(tg.name); it != seen.end()) {
      errs.push_back("Job task group " + std::to_string(i + 1) + " redefines '" + tg.name +
                     "' from group " + std::to_string(it->second + 1));
    } else {
      seen[tg.name] = i;
    }
  }
  for (const nomad::TaskGroup& tg : job.task_groups) {
    auto e = ValidateGroup(tg, job);
    if (!e.empty()) {
      errs.push_back("Task group " + tg.name + " validation failed: " + MultiErrorText(e));
    }
  }
  if (job.periodic && job.periodic->enabled) {
    if (job.type != nomad::kJobTypeBatch) {
      errs.push_back("Periodic can only be used with \"batch\" scheduler");
    }
    if (job.periodic->spec_type != "cron") {
      errs.push_back("Periodic validation failed: Unknown periodic specification type \"" +
                     job.periodic->spec_type + "\"");
    } else if (auto c = ParseCron(job.periodic->spec); !c.ok()) {
      errs.push_back("Periodic validation failed: " +
                     MultiErrorText({"Invalid cron spec \"" + job.periodic->spec +
                                     "\": " + c.status().message()}));
    }
  }
  return errs;
}

namespace {

nomad::Job StripServerFields(nomad::Job j) {
  j.status.clear();
  j.version = 0;
  j.create_index = j.modify_index = j.job_modify_index = 0;
  j.submit_time = 0;
  return j;
}

}  // namespace

bool SpecChanged(const nomad::Job& stored, const nomad::Job& submitted) {
  return !(StripServerFields(stored) == StripServerFields(submitted));
}

namespace {

const nomad::TaskGroup* FindGroup(const nomad::Job& j, const std::string& name) {
  for (const auto& tg : j.task_groups) {
    if (tg.name == name) return &tg;
  }
  return nullptr;
}

nomad::StringMap CombinedMeta(const nomad::Job& j, const nomad::TaskGroup& tg,
                              const nomad::Task& t) {
  nomad::StringMap m = j.meta;
  for (const auto& [k, v] : tg.meta) m[k] = v;
  for (const auto& [k, v] : t.meta) m[k] = v;
  return m;
}

}  // namespace

bool DestructiveChange(const nomad::Job& old_job, const nomad::Job& new_job,
                       const std::string& group) {
  const nomad::TaskGroup* a = FindGroup(old_job, group);
  const nomad::TaskGroup* b = FindGroup(new_job, group);
  if (a == nullptr || b == nullptr) return true;
  if (a->extra != b->extra) return true;
  if (a->tasks.size() != b->tasks.size()) return true;
  for (const nomad::Task& ta : a->tasks) {
    const nomad::Task* tb = nullptr;
    for (const nomad::Task& t : b->tasks) {
      if (t.name == ta.name) tb = &t;
    }
    if (tb == nullptr) return true;
    if (ta.driver != tb->driver || ta.user != tb->user || ta.env != tb->env ||
        ta.resources != tb->resources || ta.lifecycle != tb->lifecycle ||
        ta.leader != tb->leader || ta.identity != tb->identity || ta.extra != tb->extra) {
      return true;
    }
    // Config is compared as JSON values, so key order and spacing do not matter.
    nlohmann::json ca = nlohmann::json::parse(ta.config, nullptr, false);
    nlohmann::json cb = nlohmann::json::parse(tb->config, nullptr, false);
    if (ca != cb) return true;
    if (CombinedMeta(old_job, *a, ta) != CombinedMeta(new_job, *b, *tb)) return true;
  }
  return false;
}

// ---- Diff ---------------------------------------------------------------------------------------

namespace {

using Fields = std::map<std::string, std::string>;  // name → value; absent = not set

std::string Bool(bool b) { return b ? "true" : "false"; }
std::string Ns(Duration d) { return std::to_string(d.count()); }

std::vector<nomad::FieldDiff> DiffFields(const Fields* a, const Fields* b) {
  static const Fields kEmpty;
  if (a == nullptr) a = &kEmpty;
  if (b == nullptr) b = &kEmpty;
  std::set<std::string> names;
  for (const auto& [k, v] : *a) names.insert(k);
  for (const auto& [k, v] : *b) names.insert(k);
  std::vector<nomad::FieldDiff> out;
  for (const std::string& n : names) {
    auto ia = a->find(n);
    auto ib = b->find(n);
    nomad::FieldDiff f;
    f.name = n;
    if (ia == a->end()) {
      f.type = "Added";
      f.new_value = ib->second;
    } else if (ib == b->end()) {
      f.type = "Deleted";
      f.old_value = ia->second;
    } else if (ia->second != ib->second) {
      f.type = "Edited";
      f.old_value = ia->second;
      f.new_value = ib->second;
    } else {
      continue;
    }
    out.push_back(std::move(f));
  }
  return out;
}

// An object diff, or nullopt when nothing changed.
std::optional<nomad::ObjectDiff> DiffObject(const std::string& name, const Fields* a,
                                            const Fields* b) {
  if (a == nullptr && b == nullptr) return std::nullopt;
  nomad::ObjectDiff o;
  o.name = name;
  o.fields = DiffFields(a, b);
  if (o.fields.empty()) return std::nullopt;
  o.type = a == nullptr ? "Added" : b == nullptr ? "Deleted" : "Edited";
  return o;
}

void AddMeta(Fields& f, const std::string& prefix, const nomad::StringMap& m) {
  for (const auto& [k, v] : m) f[prefix + "[" + k + "]"] = v;
}
void AddRaw(Fields& f, const nomad::RawFields& raw) {
  for (const auto& [k, v] : raw) f[k] = v;
}

Fields JobFields(const nomad::Job& j) {
  Fields f = {{"Name", j.name},         {"Namespace", j.namespace_},
              {"Region", j.region},     {"Type", j.type},
              {"Priority", std::to_string(j.priority)},
              {"NodePool", j.node_pool}, {"Stop", Bool(j.stop)}};
  AddMeta(f, "Meta", j.meta);
  AddRaw(f, j.extra);
  return f;
}
Fields DatacenterFields(const nomad::Job& j) {
  Fields f;
  for (const auto& dc : j.datacenters) f["Datacenters[" + dc + "]"] = dc;
  return f;
}
Fields PeriodicFields(const nomad::PeriodicConfig& p) {
  return {{"Enabled", Bool(p.enabled)},
          {"SpecType", p.spec_type},
          {"Spec", p.spec},
          {"ProhibitOverlap", Bool(p.prohibit_overlap)},
          {"TimeZone", p.time_zone}};
}
Fields RestartFields(const nomad::RestartPolicy& r) {
  return {{"Attempts", std::to_string(r.attempts)},
          {"Interval", Ns(r.interval)},
          {"Delay", Ns(r.delay)},
          {"Mode", r.mode},
          {"RenderTemplates", Bool(r.render_templates)}};
}
Fields RescheduleFields(const nomad::ReschedulePolicy& r) {
  return {{"Attempts", std::to_string(r.attempts)},   {"Interval", Ns(r.interval)},
          {"Delay", Ns(r.delay)},                     {"DelayFunction", r.delay_function},
          {"MaxDelay", Ns(r.max_delay)},              {"Unlimited", Bool(r.unlimited)}};
}
Fields DisconnectFields(const nomad::Disconnect& d) {
  Fields f = {{"LostAfter", Ns(d.lost_after)}, {"Reconcile", d.reconcile}};
  if (d.stop_on_client_after) f["StopOnClientAfter"] = Ns(*d.stop_on_client_after);
  if (d.replace) f["Replace"] = Bool(*d.replace);
  return f;
}
Fields ConfigFields(const std::string& config) {
  Fields f;
  nlohmann::json j = nlohmann::json::parse(config, nullptr, false);
  if (!j.is_object()) return f;
  std::function<void(const std::string&, const nlohmann::json&)> flatten =
      [&](const std::string& prefix, const nlohmann::json& v) {
        if (v.is_object()) {
          for (auto it = v.begin(); it != v.end(); ++it) {
            flatten(prefix.empty() ? it.key() : prefix + "." + it.key(), it.value());
          }
        } else if (v.is_array()) {
          for (size_t i = 0; i < v.size(); ++i) {
            flatten(prefix + "[" + std::to_string(i) + "]", v[i]);
          }
        } else if (v.is_string()) {
          f[prefix] = v.get<std::string>();
        } else {
          f[prefix] = v.dump();
        }
      };
  flatten("", j);
  return f;
}
Fields ResourceFields(const nomad::Resources& r) {
  Fields f = {{"CPU", std::to_string(r.cpu)},
              {"MemoryMB", std::to_string(r.memory_mb)},
              {"MemoryMaxMB", std::to_string(r.memory_max_mb)}};
  AddRaw(f, r.extra);
  return f;
}
Fields IdentityFields(const nomad::WorkloadIdentity& w) {
  Fields f = {{"Name", w.name}, {"Env", Bool(w.env)}, {"File", Bool(w.file)}};
  for (const auto& a : w.audience) f["Audience[" + a + "]"] = a;
  AddRaw(f, w.extra);
  return f;
}
Fields TaskFields(const nomad::Task& t) {
  Fields f = {{"Driver", t.driver},
              {"User", t.user},
              {"Leader", Bool(t.leader)},
              {"KillSignal", t.kill_signal}};
  if (t.kill_timeout) f["KillTimeout"] = Ns(*t.kill_timeout);
  AddMeta(f, "Env", t.env);
  AddMeta(f, "Meta", t.meta);
  AddRaw(f, t.extra);
  return f;
}
Fields GroupFields(const nomad::TaskGroup& tg) {
  Fields f = {{"Count", std::to_string(tg.count)}};
  AddMeta(f, "Meta", tg.meta);
  AddRaw(f, tg.extra);
  return f;
}

template <typename T, typename Fn>
void PushObject(std::vector<nomad::ObjectDiff>& out, const std::string& name, const T* a,
                const T* b, Fn fields) {
  std::optional<Fields> fa, fb;
  if (a != nullptr) fa = fields(*a);
  if (b != nullptr) fb = fields(*b);
  if (auto o = DiffObject(name, fa ? &*fa : nullptr, fb ? &*fb : nullptr)) {
    out.push_back(std::move(*o));
  }
}

template <typename T>
const T* Opt(const std::optional<T>& o) {
  return o ? &*o : nullptr;
}

nomad::TaskDiff DiffTask(const nomad::Task* a, const nomad::Task* b) {
  nomad::TaskDiff d;
  d.name = a != nullptr ? a->name : b->name;
  std::optional<Fields> fa, fb;
  if (a != nullptr) fa = TaskFields(*a);
  if (b != nullptr) fb = TaskFields(*b);
  d.fields = DiffFields(fa ? &*fa : nullptr, fb ? &*fb : nullptr);
  PushObject(d.objects, "Config", a ? &a->config : nullptr, b ? &b->config : nullptr,
             ConfigFields);
  PushObject(d.objects, "Resources", a ? &a->resources : nullptr, b ? &b->resources : nullptr,
             ResourceFields);
  PushObject(d.objects, "RestartPolicy", a ? Opt(a->restart_policy) : nullptr,
             b ? Opt(b->restart_policy) : nullptr, RestartFields);
  PushObject(d.objects, "Lifecycle", a ? Opt(a->lifecycle) : nullptr,
             b ? Opt(b->lifecycle) : nullptr, [](const nomad::Lifecycle& l) {
               return Fields{{"Hook", l.hook}, {"Sidecar", Bool(l.sidecar)}};
             });
  PushObject(d.objects, "Identity", a ? Opt(a->identity) : nullptr,
             b ? Opt(b->identity) : nullptr, IdentityFields);
  if (a == nullptr) {
    d.type = "Added";
    d.annotations = {"forces create"};
  } else if (b == nullptr) {
    d.type = "Deleted";
    d.annotations = {"forces destroy"};
  } else if (!d.fields.empty() || !d.objects.empty()) {
    d.type = "Edited";
  } else {
    d.type = "None";
  }
  return d;
}

nomad::TaskGroupDiff DiffGroup(const nomad::Job* ja, const nomad::TaskGroup* a,
                               const nomad::Job& jb, const nomad::TaskGroup* b) {
  nomad::TaskGroupDiff d;
  d.name = a != nullptr ? a->name : b->name;
  std::optional<Fields> fa, fb;
  if (a != nullptr) fa = GroupFields(*a);
  if (b != nullptr) fb = GroupFields(*b);
  d.fields = DiffFields(fa ? &*fa : nullptr, fb ? &*fb : nullptr);
  PushObject(d.objects, "RestartPolicy", a ? Opt(a->restart_policy) : nullptr,
             b ? Opt(b->restart_policy) : nullptr, RestartFields);
  PushObject(d.objects, "ReschedulePolicy", a ? Opt(a->reschedule_policy) : nullptr,
             b ? Opt(b->reschedule_policy) : nullptr, RescheduleFields);
  PushObject(d.objects, "Disconnect", a ? Opt(a->disconnect) : nullptr,
             b ? Opt(b->disconnect) : nullptr, DisconnectFields);
  std::vector<std::string> names;
  if (a != nullptr) {
    for (const auto& t : a->tasks) names.push_back(t.name);
  }
  if (b != nullptr) {
    for (const auto& t : b->tasks) {
      if (std::find(names.begin(), names.end(), t.name) == names.end()) names.push_back(t.name);
    }
  }
  std::sort(names.begin(), names.end());
  bool destructive = a != nullptr && b != nullptr && ja != nullptr &&
                     DestructiveChange(*ja, jb, d.name);
  for (const std::string& n : names) {
    const nomad::Task* ta = nullptr;
    const nomad::Task* tb = nullptr;
    if (a != nullptr) {
      for (const auto& t : a->tasks) {
        if (t.name == n) ta = &t;
      }
    }
    if (b != nullptr) {
      for (const auto& t : b->tasks) {
        if (t.name == n) tb = &t;
      }
    }
    nomad::TaskDiff td = DiffTask(ta, tb);
    if (td.type == "Edited") {
      td.annotations = {destructive ? "forces create/destroy update" : "forces in-place update"};
    }
    if (td.type != "None") d.tasks.push_back(std::move(td));
  }
  if (a == nullptr) {
    d.type = "Added";
  } else if (b == nullptr) {
    d.type = "Deleted";
  } else if (!d.fields.empty() || !d.objects.empty() || !d.tasks.empty()) {
    d.type = "Edited";
  } else {
    d.type = "None";
  }
  return d;
}

}  // namespace

nomad::JobDiff DiffJobs(const nomad::Job* old_job, const nomad::Job& new_job) {
  nomad::JobDiff d;
  d.id = new_job.id;
  std::optional<Fields> fa;
  if (old_job != nullptr) fa = JobFields(*old_job);
  Fields fb = JobFields(new_job);
  d.fields = DiffFields(fa ? &*fa : nullptr, &fb);
  std::optional<Fields> da;
  if (old_job != nullptr) da = DatacenterFields(*old_job);
  Fields db = DatacenterFields(new_job);
  if (auto o = DiffObject("Datacenters", da ? &*da : nullptr, &db)) d.objects.push_back(*o);
  PushObject(d.objects, "Periodic", old_job ? Opt(old_job->periodic) : nullptr,
             Opt(new_job.periodic), PeriodicFields);
  std::vector<std::string> names;
  if (old_job != nullptr) {
    for (const auto& tg : old_job->task_groups) names.push_back(tg.name);
  }
  for (const auto& tg : new_job.task_groups) {
    if (std::find(names.begin(), names.end(), tg.name) == names.end()) names.push_back(tg.name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    const nomad::TaskGroup* a = old_job ? FindGroup(*old_job, n) : nullptr;
    const nomad::TaskGroup* b = FindGroup(new_job, n);
    d.task_groups.push_back(DiffGroup(old_job, a, new_job, b));
  }
  bool changed = !d.fields.empty() || !d.objects.empty();
  for (const auto& tg : d.task_groups) changed = changed || tg.type != "None";
  d.type = old_job == nullptr ? "Added" : changed ? "Edited" : "None";
  return d;
}

// ---- Cron ---------------------------------------------------------------------------------------

namespace {

int NameValue(const std::string& s, bool month) {
  static const char* kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                  "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  static const char* kDays[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
  std::string up;
  for (char c : s) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (month) {
    for (int i = 0; i < 12; ++i) {
      if (up == kMonths[i]) return i + 1;
    }
  } else {
    for (int i = 0; i < 7; ++i) {
      if (up == kDays[i]) return i;
    }
  }
  return -1;
}

bool ParseNumber(const std::string& s, int lo, int hi, bool month, bool dow, int* out) {
  if (s.empty()) return false;
  if (std::isalpha(static_cast<unsigned char>(s[0]))) {
    if (!month && !dow) return false;
    *out = NameValue(s, month);
    return *out >= 0;
  }
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
    if (v > 1000) return false;
  }
  if (dow && v == 7) v = 0;
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

// Parses one field into a bit set; *star = the field was "*" (or "?").
bool ParseField(const std::string& field, int lo, int hi, bool month, bool dow, uint64_t* bits,
                bool* star) {
  *bits = 0;
  *star = field == "*" || field == "?";
  size_t start = 0;
  while (start <= field.size()) {
    size_t comma = field.find(',', start);
    std::string part = field.substr(start, comma == std::string::npos ? std::string::npos
                                                                      : comma - start);
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string::npos) {
      if (!ParseNumber(part.substr(slash + 1), 1, hi, false, false, &step) || step <= 0) {
        return false;
      }
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part == "*" || part == "?") {
      // full range
    } else if (size_t dash = part.find('-'); dash != std::string::npos) {
      if (!ParseNumber(part.substr(0, dash), lo, hi, month, dow, &a) ||
          !ParseNumber(part.substr(dash + 1), lo, hi == 6 ? 7 : hi, month, dow, &b)) {
        return false;
      }
      if (dow && b == 0) b = 6;  // "x-7" ends at Saturday once Sunday is 0
    } else {
      if (!ParseNumber(part, lo, hi, month, dow, &a)) return false;
      b = (step > 1) ? hi : a;
    }
    if (a > b) return false;
    for (int v = a; v <= b; v += step) *bits |= uint64_t{1} << v;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return *bits != 0;
}

// Days since 1970-01-01 → civil date (Howard Hinnant's algorithm).
void CivilFromDays(int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yy + (*m <= 2));
}

}  // namespace

base::Result<CronSpec> ParseCron(const std::string& text) {
  static const std::map<std::string, std::string> kDescriptors = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  std::string spec = text;
  if (auto it = kDescriptors.find(text); it != kDescriptors.end()) spec = it->second;
  std::vector<std::string> fields;
  std::string cur;
  for (char c : spec) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) fields.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) fields.push_back(cur);
  if (fields.size() != 5) {
    return base::Status::InvalidSpec("expected 5 fields (minute hour day month weekday), got " +
                                     std::to_string(fields.size()));
  }
  CronSpec c;
  uint64_t bits = 0;
  bool star = false;
  if (!ParseField(fields[0], 0, 59, false, false, &bits, &star)) {
    return base::Status::InvalidSpec("bad minute field \"" + fields[0] + "\"");
  }
  c.minutes = bits;
  if (!ParseField(fields[1], 0, 23, false, false, &bits, &star)) {
    return base::Status::InvalidSpec("bad hour field \"" + fields[1] + "\"");
  }
  c.hours = static_cast<uint32_t>(bits);
  if (!ParseField(fields[2], 1, 31, false, false, &bits, &star)) {
    return base::Status::InvalidSpec("bad day-of-month field \"" + fields[2] + "\"");
  }
  c.days = static_cast<uint32_t>(bits);
  c.dom_star = star;
  if (!ParseField(fields[3], 1, 12, true, false, &bits, &star)) {
    return base::Status::InvalidSpec("bad month field \"" + fields[3] + "\"");
  }
  c.months = static_cast<uint16_t>(bits);
  if (!ParseField(fields[4], 0, 6, false, true, &bits, &star)) {
    return base::Status::InvalidSpec("bad day-of-week field \"" + fields[4] + "\"");
  }
  c.weekdays = static_cast<uint8_t>(bits);
  c.dow_star = star;
  return c;
}

std::optional<int64_t> NextCronTime(const CronSpec& spec, int64_t after_unix_ns) {
  constexpr int64_t kMinuteNs = int64_t{60} * 1000000000;
  // First whole minute strictly after `after`.
  int64_t minute = after_unix_ns >= 0 ? after_unix_ns / kMinuteNs + 1
                                      : -((-after_unix_ns) / kMinuteNs);
  const int64_t limit = minute + int64_t{5} * 366 * 24 * 60;
  while (minute < limit) {
    int64_t day = minute >= 0 ? minute / 1440 : -((-minute + 1439) / 1440);
    int y, m, d;
    CivilFromDays(day, &y, &m, &d);
    int wd = static_cast<int>(((day % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
    bool dom = (spec.days >> d) & 1;
    bool dow = (spec.weekdays >> wd) & 1;
    bool day_ok = (spec.dom_star || spec.dow_star) ? (dom && dow) : (dom || dow);
    if (!((spec.months >> m) & 1) || !day_ok) {
      minute = (day + 1) * 1440;
      continue;
    }
    int64_t in_day = minute - day * 1440;
    int h = static_cast<int>(in_day / 60);
    int mi = static_cast<int>(in_day % 60);
    if (!((spec.hours >> h) & 1)) {
      minute = day * 1440 + (h + 1) * 60;
      continue;
    }
    if (!((spec.minutes >> mi) & 1)) {
      ++minute;
      continue;
    }
    return minute * kMinuteNs;
  }
  return std::nullopt;
}

}  // namespace nsg::sim
