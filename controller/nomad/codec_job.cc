// The codec of Nomad jobs (nlohmann): a job and everything inside it — task groups, tasks,
// restart, reschedule and disconnect policies, lifecycle, resources, workload identities,
// periodic — encoded as a register body or as the server answers it, and decoded; and the
// register request around a job.
#include <string>
#include <string_view>
#include <utility>

#include "controller/nomad/codec.h"
#include "controller/nomad/codec_json_internal.h"

namespace nsg::nomad {
namespace internal {
namespace {

// ---------------------------------------------------------------------------------------------
// Job encoding

Json RestartPolicyJson(const RestartPolicy& p) {
  Json j = Json::object();
  j["Attempts"] = p.attempts;
  j["Interval"] = Ns(p.interval);
  j["Delay"] = Ns(p.delay);
  j["Mode"] = p.mode;
  j["RenderTemplates"] = p.render_templates;
  return j;
}

Json ReschedulePolicyJson(const ReschedulePolicy& p) {
  Json j = Json::object();
  j["Attempts"] = p.attempts;
  j["Interval"] = Ns(p.interval);
  j["Delay"] = Ns(p.delay);
  j["DelayFunction"] = p.delay_function;
  j["MaxDelay"] = Ns(p.max_delay);
  j["Unlimited"] = p.unlimited;
  return j;
}

Json DisconnectJson(const Disconnect& d, JobMode mode) {
  Json j = Json::object();
  j["LostAfter"] = Ns(d.lost_after);
  PutOptional(j, "StopOnClientAfter", d.stop_on_client_after, mode,
              [](Duration v) { return Json(Ns(v)); });
  PutOptional(j, "Replace", d.replace, mode, [](bool v) { return Json(v); });
  // Nomad canonicalizes a missing Reconcile to best_score; an explicit "" is not sent.
  if (!d.reconcile.empty() || mode.server) j["Reconcile"] = d.reconcile;
  return j;
}

Json LifecycleJson(const Lifecycle& l) {
  Json j = Json::object();
  j["Hook"] = l.hook;
  j["Sidecar"] = l.sidecar;
  return j;
}

Json ResourcesJson(const Resources& r) {
  Json j = Json::object();
  j["CPU"] = r.cpu;
  j["MemoryMB"] = r.memory_mb;
  j["MemoryMaxMB"] = r.memory_max_mb;
  AddExtra(j, r.extra);
  return j;
}

Json IdentityJson(const WorkloadIdentity& w, JobMode mode) {
  Json j = Json::object();
  j["Name"] = w.name;
  PutList(j, "Audience", w.audience, mode);
  j["Env"] = w.env;
  j["File"] = w.file;
  AddExtra(j, w.extra);
  return j;
}

Json TaskJson(const Task& t, JobMode mode) {
  Json j = Json::object();
  j["Name"] = t.name;
  j["Driver"] = t.driver;
  j["User"] = t.user;
  if (!t.config.empty()) {
    j["Config"] = ParseRaw(t.config);
  } else if (mode.server) {
    j["Config"] = nullptr;
  }
  PutMap(j, "Env", t.env, mode);
  j["Resources"] = ResourcesJson(t.resources);
  PutOptional(j, "RestartPolicy", t.restart_policy, mode, RestartPolicyJson);
  PutOptional(j, "Lifecycle", t.lifecycle, mode, LifecycleJson);
  j["Leader"] = t.leader;
  PutOptional(j, "KillTimeout", t.kill_timeout, mode, [](Duration v) { return Json(Ns(v)); });
  j["KillSignal"] = t.kill_signal;
  PutMap(j, "Meta", t.meta, mode);
  PutOptional(j, "Identity", t.identity, mode,
              [mode](const WorkloadIdentity& w) { return IdentityJson(w, mode); });
  AddExtra(j, t.extra);
  return j;
}

Json TaskGroupJson(const TaskGroup& g, JobMode mode) {
  Json j = Json::object();
  j["Name"] = g.name;
  j["Count"] = g.count;
  if (!g.tasks.empty()) {
    Json tasks = Json::array();
    for (const Task& t : g.tasks) tasks.push_back(TaskJson(t, mode));
    j["Tasks"] = std::move(tasks);
  } else if (mode.server) {
    j["Tasks"] = nullptr;
  }
  PutOptional(j, "RestartPolicy", g.restart_policy, mode, RestartPolicyJson);
  PutOptional(j, "ReschedulePolicy", g.reschedule_policy, mode, ReschedulePolicyJson);
  PutOptional(j, "Disconnect", g.disconnect, mode,
              [mode](const Disconnect& d) { return DisconnectJson(d, mode); });
  PutMap(j, "Meta", g.meta, mode);
  AddExtra(j, g.extra);
  return j;
}

Json PeriodicJson(const PeriodicConfig& p) {
  Json j = Json::object();
  j["Enabled"] = p.enabled;
  j["SpecType"] = p.spec_type;
  j["Spec"] = p.spec;
  j["ProhibitOverlap"] = p.prohibit_overlap;
  j["TimeZone"] = p.time_zone;
  AddExtra(j, p.extra);
  return j;
}

}  // namespace

Json JobJson(const Job& job, JobMode mode) {
  Json j = Json::object();
  j["ID"] = job.id;
  j["Name"] = job.name;
  j["Namespace"] = job.namespace_;
  j["Region"] = job.region;
  j["Type"] = job.type;
  j["Priority"] = job.priority;
  PutList(j, "Datacenters", job.datacenters, mode);
  j["NodePool"] = job.node_pool;
  if (!job.task_groups.empty()) {
    Json groups = Json::array();
    for (const TaskGroup& g : job.task_groups) groups.push_back(TaskGroupJson(g, mode));
    j["TaskGroups"] = std::move(groups);
  } else if (mode.server) {
    j["TaskGroups"] = nullptr;
  }
  PutOptional(j, "Periodic", job.periodic, mode, PeriodicJson);
  PutMap(j, "Meta", job.meta, mode);
  if (mode.server) {
    j["Stop"] = job.stop;
    j["Status"] = job.status;
    j["Version"] = job.version;
    j["CreateIndex"] = job.create_index;
    j["ModifyIndex"] = job.modify_index;
    j["JobModifyIndex"] = job.job_modify_index;
    j["SubmitTime"] = job.submit_time;
  }
  AddExtra(j, job.extra);
  return j;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Job decoding

bool DecodeRestartPolicyJ(const Json& v, RestartPolicy& p, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Attempts") return GetInt(x, p.attempts, e);
    if (k == "Interval") return GetDuration(x, p.interval, e);
    if (k == "Delay") return GetDuration(x, p.delay, e);
    if (k == "Mode") return GetString(x, p.mode, e);
    if (k == "RenderTemplates") return GetBool(x, p.render_templates, e);
    return true;
  });
}

bool DecodeReschedulePolicyJ(const Json& v, ReschedulePolicy& p, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Attempts") return GetInt(x, p.attempts, e);
    if (k == "Interval") return GetDuration(x, p.interval, e);
    if (k == "Delay") return GetDuration(x, p.delay, e);
    if (k == "DelayFunction") return GetString(x, p.delay_function, e);
    if (k == "MaxDelay") return GetDuration(x, p.max_delay, e);
    if (k == "Unlimited") return GetBool(x, p.unlimited, e);
    return true;
  });
}

bool DecodeDisconnectJ(const Json& v, Disconnect& d, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "LostAfter") return GetDuration(x, d.lost_after, e);
    if (k == "StopOnClientAfter") return GetOptional(x, d.stop_on_client_after, e, GetDuration);
    if (k == "Replace") return GetOptional(x, d.replace, e, GetBool);
    if (k == "Reconcile") return GetString(x, d.reconcile, e);
    return true;
  });
}

bool DecodeLifecycleJ(const Json& v, Lifecycle& l, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Hook") return GetString(x, l.hook, e);
    if (k == "Sidecar") return GetBool(x, l.sidecar, e);
    return true;
  });
}

bool DecodeResourcesJ(const Json& v, Resources& r, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "CPU") return GetInt(x, r.cpu, e);
    if (k == "MemoryMB") return GetInt(x, r.memory_mb, e);
    if (k == "MemoryMaxMB") return GetInt(x, r.memory_max_mb, e);
    r.extra[k] = Dump(x);
    return true;
  });
}

bool DecodeIdentityJ(const Json& v, WorkloadIdentity& w, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Name") return GetString(x, w.name, e);
    if (k == "Audience") return GetStringList(x, w.audience, e);
    if (k == "Env") return GetBool(x, w.env, e);
    if (k == "File") return GetBool(x, w.file, e);
    w.extra[k] = Dump(x);
    return true;
  });
}

bool DecodeTaskJ(const Json& v, Task& t, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Name") return GetString(x, t.name, e);
    if (k == "Driver") return GetString(x, t.driver, e);
    if (k == "User") return GetString(x, t.user, e);
    if (k == "Config") {
      if (x.is_null()) return true;
      if (!x.is_object()) return e.Fail("expected an object");
      t.config = Dump(x);
      return true;
    }
    if (k == "Env") return GetStringMap(x, t.env, e);
    if (k == "Resources") return DecodeResourcesJ(x, t.resources, e);
    if (k == "RestartPolicy") return GetOptional(x, t.restart_policy, e, DecodeRestartPolicyJ);
    if (k == "Lifecycle") return GetOptional(x, t.lifecycle, e, DecodeLifecycleJ);
    if (k == "Leader") return GetBool(x, t.leader, e);
    if (k == "KillTimeout") return GetOptional(x, t.kill_timeout, e, GetDuration);
    if (k == "KillSignal") return GetString(x, t.kill_signal, e);
    if (k == "Meta") return GetStringMap(x, t.meta, e);
    if (k == "Identity") return GetOptional(x, t.identity, e, DecodeIdentityJ);
    t.extra[k] = Dump(x);
    return true;
  });
}

bool DecodeTaskGroupJ(const Json& v, TaskGroup& g, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Name") return GetString(x, g.name, e);
    if (k == "Count") return GetInt(x, g.count, e);
    if (k == "Tasks") return GetList(x, g.tasks, e, DecodeTaskJ);
    if (k == "RestartPolicy") return GetOptional(x, g.restart_policy, e, DecodeRestartPolicyJ);
    if (k == "ReschedulePolicy") {
      return GetOptional(x, g.reschedule_policy, e, DecodeReschedulePolicyJ);
    }
    if (k == "Disconnect") return GetOptional(x, g.disconnect, e, DecodeDisconnectJ);
    if (k == "Meta") return GetStringMap(x, g.meta, e);
    g.extra[k] = Dump(x);
    return true;
  });
}

bool DecodePeriodicJ(const Json& v, PeriodicConfig& p, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Enabled") return GetBool(x, p.enabled, e);
    if (k == "SpecType") return GetString(x, p.spec_type, e);
    if (k == "Spec") return GetString(x, p.spec, e);
    if (k == "ProhibitOverlap") return GetBool(x, p.prohibit_overlap, e);
    if (k == "TimeZone") return GetString(x, p.time_zone, e);
    p.extra[k] = Dump(x);
    return true;
  });
}

bool DecodeJobJ(const Json& v, Job& job, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "ID") return GetString(x, job.id, e);
    if (k == "Name") return GetString(x, job.name, e);
    if (k == "Namespace") return GetString(x, job.namespace_, e);
    if (k == "Region") return GetString(x, job.region, e);
    if (k == "Type") return GetString(x, job.type, e);
    if (k == "Priority") return GetInt(x, job.priority, e);
    if (k == "Datacenters") return GetStringList(x, job.datacenters, e);
    if (k == "NodePool") return GetString(x, job.node_pool, e);
    if (k == "TaskGroups") return GetList(x, job.task_groups, e, DecodeTaskGroupJ);
    if (k == "Periodic") return GetOptional(x, job.periodic, e, DecodePeriodicJ);
    if (k == "Meta") return GetStringMap(x, job.meta, e);
    if (k == "Stop") return GetBool(x, job.stop, e);
    if (k == "Status") return GetString(x, job.status, e);
    if (k == "Version") return GetInt(x, job.version, e);
    if (k == "CreateIndex") return GetInt(x, job.create_index, e);
    if (k == "ModifyIndex") return GetInt(x, job.modify_index, e);
    if (k == "JobModifyIndex") return GetInt(x, job.job_modify_index, e);
    if (k == "SubmitTime") return GetInt(x, job.submit_time, e);
    job.extra[k] = Dump(x);
    return true;
  });
}

}  // namespace

bool DecodeJobText(std::string_view text, Job& out, DecodeError& e) {
  Json j;
  return Parse(text, j, e) && DecodeJobJ(j, out, e);
}

}  // namespace internal

using internal::DecodeError;
using internal::DecodeJobJ;
using internal::DecodeText;
using internal::Finish;
using internal::GetBool;
using internal::GetInt;
using internal::Json;
using internal::JobJson;
using internal::JobMode;
using internal::Parse;

std::string EncodeJob(const Job& job, EncodeOptions opts) {
  return Finish(JobJson(job, JobMode{.server = opts.server_fields}), opts);
}

base::Result<Job> DecodeJob(std::string_view json) {
  return DecodeText<Job>(json, "Job", DecodeJobJ);
}

std::string EncodeRegisterRequest(const RegisterRequest& req, EncodeOptions opts) {
  if (req.encoded_job && (opts.pretty || opts.server_fields)) {
    // Another layout: from the decoded job. Bytes that do not decode are sent as they are below
    // (never `job`, which then holds only the ID and Namespace).
    auto job = DecodeJob(*req.encoded_job);
    if (job.ok()) {
      return EncodeRegisterRequest(
          RegisterRequest(std::move(job).value(), req.enforce_index, req.job_modify_index), opts);
    }
  }
  if (req.encoded_job) {
    // What the Json below dumps, with the job's bytes as they were encoded.
    std::string out;
    out.reserve(req.encoded_job->size() + 64);
    out += "{\"Job\":";
    out += *req.encoded_job;
    out += req.enforce_index ? ",\"EnforceIndex\":true" : ",\"EnforceIndex\":false";
    out += ",\"JobModifyIndex\":";
    out += std::to_string(req.job_modify_index);
    out += '}';
    return out;
  }
  Json j = Json::object();
  j["Job"] = JobJson(req.job, JobMode{.server = opts.server_fields});
  j["EnforceIndex"] = req.enforce_index;
  j["JobModifyIndex"] = req.job_modify_index;
  return Finish(j, opts);
}

base::Result<Job> RegisteredJob(const RegisterRequest& req) {
  if (!req.encoded_job) return req.job;
  return DecodeJob(*req.encoded_job);
}

base::Result<RegisterRequest> DecodeRegisterRequest(std::string_view json) {
  DecodeError e;
  Json j;
  RegisterRequest req;
  if (!Parse(json, j, e)) return e.ToStatus("RegisterRequest");
  if (!j.is_object()) {
    e.Fail("expected an object");
    return e.ToStatus("RegisterRequest");
  }
  // The job's path starts at "Job", as in DecodeJob's messages.
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "Job") {
      if (!it.value().is_null() && !DecodeJobJ(it.value(), req.job, e)) return e.ToStatus("Job");
    } else if (k == "EnforceIndex") {
      if (!GetBool(it.value(), req.enforce_index, e)) return e.ToStatus("EnforceIndex");
    } else if (k == "JobModifyIndex") {
      if (!GetInt(it.value(), req.job_modify_index, e)) return e.ToStatus("JobModifyIndex");
    }
  }
  return req;
}

}  // namespace nsg::nomad
