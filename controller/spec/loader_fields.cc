// The Singleton's fields for the spec loader: metadata, spec (datacenters, lock and its agent,
// standby, failover with its restart and reschedule policies, task and resources, template,
// periodic), each with its rules (Nomad's own checks included, so that a spec Nomad would refuse
// is caught offline) and its defaults, and every position recorded for later checks.
#include <algorithm>
#include <cstdint>
#include <exception>

#include "controller/nomad/limits.h"
#include "controller/spec/loader_internal.h"

namespace nsg::spec::internal {

bool DocDecoder::Decode(const YAML::Node& root, Singleton& s, std::string& key,
                        SourcePos& name_pos) {
  s_ = &s;
  s.source = Pos(root.Mark());
  if (root.IsMap() && root.size() > 0) s.source = Pos(root.begin()->first.Mark());
  if (!root.IsMap()) {
    Error(s.source, "",
          std::string("a Singleton document must be a mapping, got ") + KindName(root));
    return false;
  }
  if (!Scan(root, "", 0)) return false;

  Field doc;
  doc.present = true;
  doc.value = root;
  doc.key_pos = s.source;
  doc.value_pos = s.source;
  Mapping top(*this, doc, {"apiVersion", "kind", "metadata", "spec"});

  if (Field f = top.Require("apiVersion"); f.present) {
    auto v = String(f);
    if (v && *v != kApiVersion) {
      Error(f, "unsupported apiVersion " + Quote(*v) + ": must be " + Quote(kApiVersion));
    }
  }
  if (Field f = top.Require("kind"); f.present) {
    auto v = String(f);
    if (v && *v != kKind) Error(f, "unsupported kind " + Quote(*v) + ": must be " + Quote(kKind));
  }
  if (Field f = top.Require("metadata"); f.present) {
    DecodeMetadata(f);
    if (!s.metadata.name.empty()) {
      key = key_namespace_ + "/" + s.metadata.name;
      name_pos = s.PositionOf("metadata.name");
    }
  }
  if (Field f = top.Require("spec"); f.present) DecodeSpec(f);
  return error_count_ == 0;
}

void DocDecoder::DecodeMetadata(const Field& f) {
  Mapping m(*this, f, {"name", "namespace", "labels", "annotations"});
  if (!m.ok()) return;
  Metadata& md = s_->metadata;
  if (Field c = m.Get("namespace"); c.present) {
    auto v = String(c);
    if (v) key_namespace_ = *v;  // even when invalid: it is still this document's key
    if (v && !MatchesNamespace(*v)) {
      Error(c, "invalid namespace " + Quote(*v) +
                   ": must be 1 to 128 letters, digits and '-' (^[a-zA-Z0-9-]{1,128}$)");
    } else if (v) {
      md.namespace_ = *v;
    }
  }
  if (Field c = m.Require("name"); c.present) {
    auto v = String(c);
    if (v && !MatchesJobId(*v)) {
      Error(c, "invalid name " + Quote(*v) +
                   ": must start with a letter or digit and have at most 128 letters, digits, "
                   "'_', '.' and '-' (^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$)");
    } else if (v) {
      md.name = *v;
      name_ok_ = true;
    }
  }
  if (Field c = m.Get("labels"); c.present) StringMap(c, md.labels, false);
  if (Field c = m.Get("annotations"); c.present) StringMap(c, md.annotations, false);
}

void DocDecoder::DecodeSpec(const Field& f) {
  Mapping m(*this, f,
            {"type", "schedule", "region", "datacenters", "nodePool", "priority", "adopt", "lock",
             "standby", "failover", "task", "template"});
  if (!m.ok()) return;
  SingletonSpec& sp = s_->spec;

  Field type_f = m.Get("type");
  if (type_f.present) {
    auto t = Enum<JobType>(type_f, {{"service", JobType::kService}, {"batch", JobType::kBatch}});
    if (t) {
      sp.type = *t;
      type_written_ = true;
    }
  }
  if (Field c = m.Get("schedule"); c.present) {
    auto v = String(c);
    if (v && !IsPlausibleCron(*v)) {
      Error(c, "invalid cron expression " + Quote(*v) +
                   ": expected 5 to 7 fields (minute hour day-of-month month day-of-week "
                   "[year]) or a macro such as @daily");
    } else if (v) {
      sp.schedule = *v;
    }
    if (v && !v->empty()) {
      if (!type_f.present) {
        sp.type = JobType::kBatch;
      } else if (type_written_ && sp.type == JobType::kService) {
        Error(c, "a schedule needs type batch (a periodic job is a batch job), but type is "
                 "service");
      }
    }
  }
  const bool batch = sp.type == JobType::kBatch;

  if (Field c = m.Get("region"); c.present) {
    if (auto v = NonEmptyString(c)) sp.region = *v;
  }
  if (Field c = m.Get("datacenters"); c.present) {
    if (auto v = StringList(c)) sp.datacenters = *v;
  }
  if (Field c = m.Get("nodePool"); c.present) {
    if (auto v = String(c)) sp.node_pool = *v;
  }
  if (Field c = m.Get("priority"); c.present) {
    if (auto v = IntInRange(c, kMinPriority, kMaxPriority)) sp.priority = *v;
  }
  if (Field c = m.Get("adopt"); c.present) {
    if (auto v = Bool(c)) sp.adopt = *v;
  }

  sp.lock.mode = batch ? LockMode::kShim : LockMode::kSidecar;
  if (Field c = m.Get("lock"); c.present) DecodeLock(c);
  if (name_ok_ && s_->positions.count("spec.lock.path") == 0) {
    sp.lock.path = DefaultLockPath(s_->metadata.name);
    if (auto why = CheckVariablePath(sp.lock.path)) {
      const size_t room = nomad::kMaxVariablePathLength - DefaultLockPath("").size();
      std::string msg = "the default lock path " + Quote(sp.lock.path) + " " + *why;
      if (sp.lock.path.size() > nomad::kMaxVariablePathLength) {
        msg += " (it has " + std::to_string(sp.lock.path.size()) + "): use a name of at most " +
               std::to_string(room) + " characters, or set spec.lock.path";
      } else {
        msg += ": set spec.lock.path for a name with '.'";
      }
      Error(s_->PositionOf("metadata.name"), "metadata.name", msg);
    }
  }
  if (batch && sp.lock.mode != LockMode::kShim) {
    Error(s_->PositionOf("spec.lock.mode"), "spec.lock.mode",
          "use mode: shim for batch jobs: a sidecar lock task is the job's leader and would keep "
          "a batch job running forever");
  }

  if (Field c = m.Get("standby"); c.present) {
    if (auto v = IntInRange(c, 0, kMaxStandby)) {
      sp.standby = *v;
      if (batch && *v > 0) {
        Error(c, "must be 0 for type batch: a batch run is not kept waiting for the lock");
      }
    }
  }

  if (batch) {
    RestartSpec& r = sp.failover.restart;
    r.attempts = kDefaultBatchRestartAttempts;
    r.interval = kDefaultBatchRestartInterval;
    r.delay = kDefaultBatchRestartDelay;
    r.mode = kDefaultRestartMode;
    RescheduleSpec& rs = sp.failover.reschedule;
    rs.attempts = kDefaultBatchRescheduleAttempts;
    rs.interval = kDefaultBatchRescheduleInterval;
    rs.delay = kDefaultBatchRescheduleDelay;
    rs.delay_function = kDefaultBatchRescheduleDelayFunction;
    rs.unlimited = kDefaultBatchRescheduleUnlimited;
  }
  if (Field c = m.Get("failover"); c.present) DecodeFailover(c);

  Field task_f = m.Get("task");
  Field template_f = m.Get("template");
  if (task_f.present && template_f.present) {
    Error(template_f.key_pos, template_f.path,
          "task and template are mutually exclusive: set exactly one of them");
  } else if (!task_f.present && !template_f.present) {
    Error(f.key_pos, "spec.task",
          "required field is missing: set exactly one of task (the simple form) or template (a "
          "full Nomad job)");
  }
  if (task_f.present) DecodeTask(task_f);
  if (template_f.present) DecodeTemplate(template_f);
}

void DocDecoder::DecodeLock(const Field& f) {
  Mapping m(*this, f, {"path", "ttl", "delay", "mode", "agent"});
  if (!m.ok()) return;
  LockSpec& l = s_->spec.lock;
  if (Field c = m.Get("path"); c.present) {
    if (auto v = String(c)) {
      if (auto why = CheckVariablePath(*v)) {
        Error(c, "invalid lock path " + Quote(*v) + ": " + *why);
      } else {
        l.path = *v;
      }
    }
  }
  if (Field c = m.Get("ttl"); c.present) {
    if (auto v = Dur(c)) {
      if (*v < kMinLockTtl || *v > kMaxLockTtl) {
        Error(c, "must be between 10s and 24h (Nomad's lock TTL limits), got " +
                     base::FormatDuration(*v));
      } else {
        l.ttl = *v;
      }
    }
  }
  if (Field c = m.Get("delay"); c.present) {
    if (auto v = Dur(c)) {
      if (*v > kMaxLockDelay) {
        Error(c, "must be more than 0s and at most 24h, got " + base::FormatDuration(*v));
      } else if (nomad::EffectiveLockDelay(*v) != *v) {
        Error(c, "Nomad cannot apply a lock delay of 0s: VariableLock.Canonicalize turns 0 into "
                 "its default " + base::FormatDuration(nomad::EffectiveLockDelay(*v)) +
                     "; leave delay out for that, or write a positive delay such as 1s");
      } else {
        l.delay = *v;
      }
    }
  }
  if (Field c = m.Get("mode"); c.present) {
    auto v = Enum<LockMode>(c, {{"shim", LockMode::kShim},
                                {"sidecar", LockMode::kSidecar},
                                {"split", LockMode::kSplit}});
    if (v) l.mode = *v;
  }
  if (Field c = m.Get("agent"); c.present) DecodeAgent(c);
}

void DocDecoder::DecodeAgent(const Field& f) {
  Mapping m(*this, f, {"driver", "command", "image", "resources"});
  if (!m.ok()) return;
  LockAgent& a = s_->spec.lock.agent;
  if (Field c = m.Get("driver"); c.present) {
    auto v = Enum<AgentDriver>(c, {{"raw_exec", AgentDriver::kRawExec},
                                   {"exec", AgentDriver::kExec},
                                   {"docker", AgentDriver::kDocker}});
    if (v) a.driver = *v;
  }
  if (Field c = m.Get("command"); c.present) {
    if (auto v = NonEmptyString(c)) a.command = *v;
  }
  if (Field c = m.Get("image"); c.present) {
    if (auto v = String(c)) a.image = *v;
  }
  if (a.driver == AgentDriver::kDocker && a.image.empty()) {
    Error(s_->PositionOf("spec.lock.agent.image"), "spec.lock.agent.image",
          "an image is required when the agent's driver is docker");
  }
  if (Field c = m.Get("resources"); c.present) DecodeResources(c, a.resources);
}

void DocDecoder::DecodeResources(const Field& f, Resources& r) {
  Mapping m(*this, f, {"cpu", "memoryMB", "memoryMaxMB"});
  if (!m.ok()) return;
  if (Field c = m.Get("cpu"); c.present) {
    if (auto v = IntInRange(c, 1, INT_MAX)) r.cpu = *v;
  }
  if (Field c = m.Get("memoryMB"); c.present) {
    if (auto v = IntInRange(c, 1, INT_MAX)) r.memory_mb = *v;
  }
  if (Field c = m.Get("memoryMaxMB"); c.present) {
    if (auto v = IntInRange(c, 1, INT_MAX)) {
      if (*v < r.memory_mb) {
        Error(c, "must be at least memoryMB (" + std::to_string(r.memory_mb) + "), got " +
                     std::to_string(*v));
      } else {
        r.memory_max_mb = *v;
      }
    }
  }
}

void DocDecoder::DecodeFailover(const Field& f) {
  Mapping m(*this, f, {"stopOnClientAfter", "giveUp", "restart", "reschedule"});
  if (!m.ok()) return;
  FailoverSpec& fo = s_->spec.failover;
  if (Field c = m.Get("stopOnClientAfter"); c.present) {
    if (auto v = Dur(c)) {
      if (*v < kMinStopOnClientAfter || *v > kMaxStopOnClientAfter) {
        Error(c, "must be between " + base::FormatDuration(kMinStopOnClientAfter) + " and " +
                     base::FormatDuration(kMaxStopOnClientAfter) + ", got " +
                     base::FormatDuration(*v) +
                     " (a Nomad client stops its allocations when it has not heartbeated for "
                     "this long, and healthy clients of a small cluster heartbeat only every "
                     "10-20s: a shorter value stops healthy singletons)");
      } else {
        fo.stop_on_client_after = *v;
      }
    }
  }
  if (Field c = m.Get("giveUp"); c.present) {
    if (auto v = Dur(c)) {
      if (*v == Duration(0)) {
        Error(c, "must be greater than 0");
      } else {
        fo.give_up = *v;
      }
    }
  }
  if (Field c = m.Get("restart"); c.present) DecodeRestart(c);
  if (Field c = m.Get("reschedule"); c.present) DecodeReschedule(c);
}

void DocDecoder::DecodeRestart(const Field& f) {
  Mapping m(*this, f, {"attempts", "interval", "delay", "mode"});
  if (!m.ok()) return;
  int before = error_count_;
  RestartSpec& r = s_->spec.failover.restart;
  if (Field c = m.Get("attempts"); c.present) {
    if (auto v = IntInRange(c, 0, INT_MAX)) r.attempts = *v;
  }
  if (Field c = m.Get("interval"); c.present) {
    if (auto v = Dur(c)) r.interval = *v;
  }
  if (Field c = m.Get("delay"); c.present) {
    if (auto v = Dur(c)) r.delay = *v;
  }
  if (Field c = m.Get("mode"); c.present) {
    auto v = Enum<std::string_view>(c, {{"fail", "fail"}, {"delay", "delay"}});
    if (v) r.mode = std::string(*v);
  }
  if (error_count_ == before) CheckRestart();
}

// The restart policy checks Nomad's RestartPolicy.Validate makes (nomad-api.md §10), so that a
// spec Nomad would refuse is caught offline.
void DocDecoder::CheckRestart() {
  const RestartSpec& r = s_->spec.failover.restart;
  const std::string p = "spec.failover.restart";
  if (r.interval < kMinRestartInterval) {
    Error(s_->PositionOf(p + ".interval"), p + ".interval",
          "must be at least 5s (Nomad's minimum), got " + base::FormatDuration(r.interval));
  } else if (r.delay.count() > 0 && r.attempts > r.interval.count() / r.delay.count()) {
    // attempts × delay > interval, without the overflow.
    Error(s_->PositionOf(p), p,
          std::to_string(r.attempts) + " attempts with delay " + base::FormatDuration(r.delay) +
              " do not fit in interval " + base::FormatDuration(r.interval) +
              " (Nomad refuses this: attempts × delay must be at most the interval)");
  }
  if (r.attempts == 0 && r.mode != "fail") {
    Error(s_->PositionOf(p + ".mode"), p + ".mode",
          "mode " + Quote(r.mode) + " with 0 attempts is ambiguous (Nomad refuses it): use fail");
  }
}

void DocDecoder::DecodeReschedule(const Field& f) {
  Mapping m(*this, f, {"attempts", "interval", "delay", "delayFunction", "maxDelay", "unlimited"});
  if (!m.ok()) return;
  int before = error_count_;
  RescheduleSpec& r = s_->spec.failover.reschedule;
  if (Field c = m.Get("attempts"); c.present) {
    if (auto v = IntInRange(c, 0, INT_MAX)) r.attempts = *v;
  }
  if (Field c = m.Get("interval"); c.present) {
    if (auto v = Dur(c)) r.interval = *v;
  }
  if (Field c = m.Get("delay"); c.present) {
    if (auto v = Dur(c)) r.delay = *v;
  }
  if (Field c = m.Get("delayFunction"); c.present) {
    auto v = Enum<std::string_view>(
        c, {{"constant", "constant"}, {"exponential", "exponential"}, {"fibonacci", "fibonacci"}});
    if (v) r.delay_function = std::string(*v);
  }
  if (Field c = m.Get("maxDelay"); c.present) {
    if (auto v = Dur(c)) r.max_delay = *v;
  }
  if (Field c = m.Get("unlimited"); c.present) {
    if (auto v = Bool(c)) r.unlimited = *v;
  }
  if (error_count_ == before) CheckReschedule();
}

// Nomad's ReschedulePolicy.Validate (nomad-api.md §10); it checks only an enabled policy
// (attempts > 0 or unlimited). Attempts 0 with unlimited false disables rescheduling.
void DocDecoder::CheckReschedule() {
  const RescheduleSpec& r = s_->spec.failover.reschedule;
  const std::string p = "spec.failover.reschedule";
  if (r.attempts == 0 && !r.unlimited) return;
  if (r.attempts > 0 && r.unlimited) {
    Error(s_->PositionOf(p + ".unlimited"), p + ".unlimited",
          "attempts " + std::to_string(r.attempts) +
              " with unlimited true is ambiguous (Nomad refuses it): set attempts 0 for unlimited "
              "rescheduling, or unlimited false for a limit");
    return;
  }
  if (r.delay < kMinRescheduleDelay) {
    Error(s_->PositionOf(p + ".delay"), p + ".delay",
          "must be at least 5s (Nomad's minimum), got " + base::FormatDuration(r.delay));
    return;
  }
  if (r.delay_function != "constant" && r.max_delay < r.delay) {
    Error(s_->PositionOf(p + ".maxDelay"), p + ".maxDelay",
          "must be at least delay (" + base::FormatDuration(r.delay) +
              ") unless delayFunction is constant, got " + base::FormatDuration(r.max_delay));
  }
  if (!r.unlimited) {
    if (r.interval < kMinRescheduleInterval) {
      Error(s_->PositionOf(p + ".interval"), p + ".interval",
            "must be at least 15s when attempts are limited (Nomad's minimum), got " +
                base::FormatDuration(r.interval));
    } else if (r.delay_function == "constant" &&
               r.attempts > r.interval.count() / r.delay.count()) {
      Error(s_->PositionOf(p), p,
            std::to_string(r.attempts) + " attempts with constant delay " +
                base::FormatDuration(r.delay) + " do not fit in interval " +
                base::FormatDuration(r.interval) +
                " (Nomad refuses this: attempts × delay must be at most the interval)");
    }
  }
}

void DocDecoder::DecodeTask(const Field& f) {
  Mapping m(*this, f, {"name", "driver", "config", "env", "resources", "killTimeout", "user"});
  if (!m.ok()) return;
  TaskSpec t;
  if (Field c = m.Get("name"); c.present) {
    if (auto v = NonEmptyString(c)) {
      if (v->find('/') != std::string::npos) {
        Error(c, "invalid task name " + Quote(*v) + ": must not contain '/'");
      } else {
        t.name = *v;
      }
    }
  }
  if (Field c = m.Require("driver"); c.present) {
    if (auto v = NonEmptyString(c)) t.driver = *v;
  }
  if (Field c = m.Get("config"); c.present) {
    if (!c.value.IsMap()) {
      Error(c, std::string("expected a mapping (the driver's config), got ") + KindName(c.value));
    } else {
      t.config_json = ToJson(c.value, c.path, c.value_pos, false).dump();
    }
  }
  if (Field c = m.Get("env"); c.present) StringMap(c, t.env, true);
  if (Field c = m.Get("resources"); c.present) DecodeResources(c, t.resources);
  if (Field c = m.Get("killTimeout"); c.present) {
    if (auto v = Dur(c)) t.kill_timeout = *v;
  }
  if (Field c = m.Get("user"); c.present) {
    if (auto v = String(c)) t.user = *v;
  }
  s_->spec.task = std::move(t);
}

void DocDecoder::DecodeTemplate(const Field& f) {
  if (!f.value.IsMap()) {
    Error(f, std::string("expected a mapping (a Nomad job in API JSON form), got ") +
                 KindName(f.value));
    return;
  }
  int before = error_count_;
  const Json job = ToJson(f.value, f.path, f.value_pos, true);
  auto pos = [&](const std::string& field) { return s_->PositionOf(field); };
  const std::string p = f.path;

  if (job.contains("ID")) {
    const Json& id = job["ID"];
    if (!id.is_string()) {
      Error(pos(p + ".ID"), p + ".ID", "expected a string");
    } else if (name_ok_ && id.get<std::string>() != s_->metadata.name) {
      Error(pos(p + ".ID"), p + ".ID",
            "must equal metadata.name " + Quote(s_->metadata.name) + ", got " +
                Quote(id.get<std::string>()) + " (or leave it out)");
    }
  }
  if (job.contains("Namespace")) {
    const Json& ns = job["Namespace"];
    if (!ns.is_string() || ns.get<std::string>() != s_->metadata.namespace_) {
      Error(pos(p + ".Namespace"), p + ".Namespace",
            "must equal metadata.namespace " + Quote(s_->metadata.namespace_) +
                " (or leave it out)");
    }
  }
  if (!job.contains("TaskGroups")) {
    Error(f.key_pos, p + ".TaskGroups", "required field is missing");
  } else if (const Json& groups = job["TaskGroups"]; !groups.is_array() || groups.size() != 1) {
    Error(pos(p + ".TaskGroups"), p + ".TaskGroups",
          groups.is_array() ? "must have exactly one task group, got " +
                                  std::to_string(groups.size())
                            : "expected a list with exactly one task group");
  } else if (const Json& group = groups[0]; !group.is_object()) {
    Error(pos(p + ".TaskGroups[0]"), p + ".TaskGroups[0]", "expected a mapping (a task group)");
  } else if (!group.contains("Tasks")) {
    Error(pos(p + ".TaskGroups[0]"), p + ".TaskGroups[0].Tasks", "required field is missing");
  } else if (const Json& tasks = group["Tasks"]; !tasks.is_array() || tasks.empty()) {
    Error(pos(p + ".TaskGroups[0].Tasks"), p + ".TaskGroups[0].Tasks",
          "expected a list with at least one task");
  } else {
    std::vector<size_t> workloads;
    std::vector<std::string> workload_names;
    for (size_t i = 0; i < tasks.size(); ++i) {
      const std::string tp = p + ".TaskGroups[0].Tasks[" + std::to_string(i) + "]";
      const Json& task = tasks[i];
      if (!task.is_object()) {
        Error(pos(tp), tp, "expected a mapping (a task)");
        continue;
      }
      for (const char* req : {"Name", "Driver"}) {
        if (!task.contains(req)) {
          Error(pos(tp), tp + "." + req, "required field is missing");
        } else if (!task[req].is_string() || task[req].get<std::string>().empty()) {
          Error(pos(tp + "." + req), tp + "." + req, "expected a non-empty string");
        }
      }
      if (task.contains("KillTimeout") && task["KillTimeout"].is_number_integer()) {
        s_->template_max_kill_timeout =
            std::max(s_->template_max_kill_timeout, Duration(task["KillTimeout"].get<int64_t>()));
      }
      if (!task.contains("Lifecycle") || task["Lifecycle"].is_null()) {
        workloads.push_back(i);
        workload_names.push_back(task.contains("Name") && task["Name"].is_string()
                                     ? Quote(task["Name"].get<std::string>())
                                     : "#" + std::to_string(i));
      }
    }
    const std::string tsp = p + ".TaskGroups[0].Tasks";
    if (workloads.empty()) {
      Error(pos(tsp), tsp,
            "no workload task: exactly one task must have no Lifecycle (the protected "
            "workload)");
    } else if (workloads.size() > 1) {
      std::string names;
      for (const auto& n : workload_names) names += (names.empty() ? "" : ", ") + n;
      Error(pos(tsp), tsp,
            std::to_string(workloads.size()) + " tasks have no Lifecycle (" + names +
                "): exactly one task, the protected workload, may have none; give the others a "
                "Lifecycle");
    } else {
      const Json& w = tasks[workloads[0]];
      if (w.contains("KillTimeout")) {
        const Json& kt = w["KillTimeout"];
        const std::string kp = tsp + "[" + std::to_string(workloads[0]) + "].KillTimeout";
        if (kt.is_number_integer() && kt.get<int64_t>() >= 0) {
          s_->template_kill_timeout = Duration(kt.get<int64_t>());
        } else if (!kt.is_string()) {  // a string is a duration that did not parse: reported
          Error(pos(kp), kp, "expected a duration (\"10s\") or non-negative nanoseconds");
        }
      }
    }
  }
  if (error_count_ == before) s_->spec.template_json = job.dump();
}

}  // namespace nsg::spec::internal
