#include "controller/nomad/limits.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace nsg::nomad {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ^[a-zA-Z0-9-]{1,max}$: policy names and namespace names.
bool AlnumDash(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}

using Json = nlohmann::json;

Json DefaultUpdate() {
  return Json{{"Stagger", kDefaultUpdateStagger.count()},
              {"MaxParallel", kDefaultUpdateMaxParallel},
              {"HealthCheck", kDefaultUpdateHealthCheck},
              {"MinHealthyTime", kDefaultUpdateMinHealthyTime.count()},
              {"HealthyDeadline", kDefaultUpdateHealthyDeadline.count()},
              {"ProgressDeadline", kDefaultUpdateProgressDeadline.count()},
              {"AutoRevert", false},
              {"AutoPromote", false},
              {"Canary", 0}};
}

// The object stored under kUpdateKey in `extra`, or null when there is none (or it is JSON null).
Json UpdateIn(const RawFields& extra) {
  auto it = extra.find(kUpdateKey);
  if (it == extra.end()) return nullptr;
  Json j = Json::parse(it->second, nullptr, false);
  return j.is_object() ? j : Json(nullptr);
}

// `over`'s non-null fields over `base` (api UpdateStrategy.Merge).
Json Merged(Json base, const Json& over) {
  for (auto it = over.begin(); it != over.end(); ++it) {
    if (!it.value().is_null()) base[it.key()] = it.value();
  }
  return base;
}

int64_t IntField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

void CanonicalizeUpdateStrategies(Job& job) {
  if (job.type != kJobTypeService && job.type != "system") return;
  Json job_update = UpdateIn(job.extra);
  job_update = job_update.is_null() ? DefaultUpdate() : Merged(DefaultUpdate(), job_update);
  for (TaskGroup& g : job.task_groups) {
    const Json own = UpdateIn(g.extra);
    g.extra[kUpdateKey] = (own.is_null() ? job_update : Merged(job_update, own)).dump();
  }
  Json kept = Json::object();
  if (IntField(job_update, "MaxParallel") > 0) {
    kept["Stagger"] = IntField(job_update, "Stagger");
    kept["MaxParallel"] = IntField(job_update, "MaxParallel");
  }
  job.extra[kUpdateKey] = kept.dump();
}

std::optional<UpdateStrategy> UpdateStrategyOf(const TaskGroup& group) {
  const Json j = UpdateIn(group.extra);
  if (j.is_null()) return std::nullopt;
  UpdateStrategy u;
  u.max_parallel = static_cast<int>(IntField(j, "MaxParallel"));
  if (auto it = j.find("HealthCheck"); it != j.end() && it->is_string()) {
    u.health_check = it->get<std::string>();
  }
  u.min_healthy_time = Duration(IntField(j, "MinHealthyTime"));
  u.healthy_deadline = Duration(IntField(j, "HealthyDeadline"));
  u.progress_deadline = Duration(IntField(j, "ProgressDeadline"));
  return u;
}

std::vector<std::string> UpdateBlockErrors(const std::string& job_type, const TaskGroup& group) {
  std::vector<std::string> errs;
  if (!UpdateStrategyOf(group)) return errs;
  if (job_type != kJobTypeService && job_type != "system") {
    errs.push_back("Job type \"" + job_type + "\" does not allow update block");
  }
  return errs;
}

std::optional<std::string> KillTimeoutError(const std::string& job_type, const TaskGroup& group,
                                            const Task& task) {
  const std::optional<UpdateStrategy> u = UpdateStrategyOf(group);
  const Duration kill = task.kill_timeout.value_or(kDefaultKillTimeout);
  if (job_type != kJobTypeService || !u || u->progress_deadline <= Duration(0) ||
      kill <= u->progress_deadline) {
    return std::nullopt;
  }
  return "KillTimout (" + base::FormatDuration(kill) + ") longer than the group's ProgressDeadline (" +
         base::FormatDuration(u->progress_deadline) + ")";
}

std::optional<std::string> PolicyNameError(std::string_view name) {
  if (AlnumDash(name, kMaxPolicyNameLength)) return std::nullopt;
  return "invalid name '" + std::string(name) + "'";
}

std::optional<std::string> PolicyDescriptionError(std::string_view description) {
  if (description.size() <= kMaxPolicyDescriptionLength) return std::nullopt;
  return "description longer than " + std::to_string(kMaxPolicyDescriptionLength);
}

std::vector<std::string> AclPolicyErrors(const AclPolicy& policy) {
  std::vector<std::string> errs;
  if (auto e = PolicyNameError(policy.name)) errs.push_back(*e);
  if (auto e = PolicyDescriptionError(policy.description)) errs.push_back(*e);
  if (policy.job_acl) {
    const JobAcl& j = *policy.job_acl;
    if (!j.job_id.empty() && j.namespace_.empty()) {
      errs.push_back("namespace must be set to set job ID");
    }
    if (!j.group.empty() && j.job_id.empty()) errs.push_back("job ID must be set to set group");
    if (!j.task.empty() && j.group.empty()) errs.push_back("group must be set to set task");
  }
  return errs;
}

bool ValidNamespace(std::string_view ns) { return AlnumDash(ns, kMaxNamespaceLength); }

std::optional<std::string> JobIdError(std::string_view id) {
  if (id.empty()) return "Missing job ID";
  if (id.find(' ') != std::string_view::npos) return "Job ID contains a space";
  if (id.find('\0') != std::string_view::npos) return "Job ID contains a null character";
  return std::nullopt;
}

std::optional<std::string> VariablePathError(std::string_view path) {
  if (path.empty()) return "variable requires path";
  const bool chars_ok = std::all_of(path.begin(), path.end(), [](char c) {
    return IsAlnum(c) || c == '-' || c == '_' || c == '~' || c == '/';
  });
  if (!chars_ok || path.size() > kMaxVariablePathLength) {
    return "invalid path \"" + std::string(path) + "\"";
  }
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts[0] != "nomad") return std::nullopt;
  if (parts.size() == 1) {
    return "\"nomad\" is a reserved top-level directory path, but you may write variables to "
           "\"nomad/jobs\", \"nomad/job-templates\", or below";
  }
  if (parts[1] == "jobs") return std::nullopt;
  if (parts[1] == "job-templates" && parts.size() == 3) return std::nullopt;
  if (parts[1] == "job-templates") {
    return "\"nomad/job-templates\" is a reserved directory path, but you may write variables at "
           "the level below it, for example, \"nomad/job-templates/template-name\"";
  }
  return "only paths at \"nomad/jobs\" or \"nomad/job-templates\" and below are valid paths under "
         "the top-level \"nomad\" directory";
}

Duration EffectiveLockTtl(Duration requested) {
  return requested == Duration(0) ? kDefaultLockTtl : requested;
}

Duration EffectiveLockDelay(Duration requested) {
  return requested == Duration(0) ? kDefaultLockDelay : requested;
}

Duration LargestKillTimeout(const std::vector<Duration>& kill_timeouts) {
  Duration kill = kDefaultKillTimeout;
  for (Duration k : kill_timeouts) kill = std::max(kill, k);
  return kill;
}

Duration WaitClientStopKillTimeout(const TaskGroup& group) {
  std::vector<Duration> kills;
  for (const Task& t : group.tasks) kills.push_back(t.kill_timeout.value_or(kDefaultKillTimeout));
  return LargestKillTimeout(kills);
}

}  // namespace nsg::nomad
