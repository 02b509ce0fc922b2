// nlohmann exceptions are caught here and never leave this file.
#include "controller/nomad/api_codec.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "controller/base/duration.h"
#include "controller/nomad/codec.h"

namespace nsg::nomad {
namespace {

using Json = nlohmann::ordered_json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// A decode failure with its JSON path; thrown inside this file only.
struct PathError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw PathError(path + ": " + what);
}

const Json* Member(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

void GetString(const Json& obj, const char* key, std::string& out, const std::string& path) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return;
  if (!v->is_string()) Fail(path + "." + key, "expected a string");
  out = v->get<std::string>();
}

void GetBool(const Json& obj, const char* key, bool& out, const std::string& path) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return;
  if (!v->is_boolean()) Fail(path + "." + key, "expected a boolean");
  out = v->get<bool>();
}

template <typename Int>
void GetInt(const Json& obj, const char* key, Int& out, const std::string& path) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return;
  if (!v->is_number_integer()) Fail(path + "." + key, "expected an integer");
  if constexpr (std::is_unsigned_v<Int>) {
    if (v->is_number_unsigned()) {
      out = static_cast<Int>(v->get<uint64_t>());
    } else {
      int64_t x = v->get<int64_t>();
      if (x < 0) Fail(path + "." + key, "out of range");
      out = static_cast<Int>(x);
    }
  } else {
    out = static_cast<Int>(v->get<int64_t>());
  }
}

void GetStringList(const Json& obj, const char* key, std::vector<std::string>& out,
                   const std::string& path) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return;
  if (!v->is_array()) Fail(path + "." + key, "expected an array");
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) {
      Fail(path + "." + key + "[" + std::to_string(i) + "]", "expected a string");
    }
    out.push_back((*v)[i].get<std::string>());
  }
}

template <typename T, typename F>
void GetList(const Json& obj, const char* key, std::vector<T>& out, const std::string& path,
             F&& fn) {
  const Json* v = Member(obj, key);
  if (v == nullptr) return;
  if (!v->is_array()) Fail(path + "." + key, "expected an array");
  for (size_t i = 0; i < v->size(); ++i) {
    std::string p = path + "." + key + "[" + std::to_string(i) + "]";
    if (!(*v)[i].is_object()) Fail(p, "expected an object");
    T item{};
    fn((*v)[i], item, p);
    out.push_back(std::move(item));
  }
}

Json Parse(std::string_view text, const std::string& root) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) Fail(root, "invalid JSON");
  return j;
}

template <typename T, typename F>
base::Result<T> Decode(std::string_view text, const std::string& root, F&& fn) {
  try {
    Json j = Parse(text, root);
    T out{};
    fn(j, out, root);
    return out;
  } catch (const PathError& e) {
    return base::Status::InvalidSpec(e.what());
  } catch (const std::exception& e) {
    return base::Status::InvalidSpec(root + ": " + e.what());
  }
}

// ---- JobStub ----

void DecodeJobStub(const Json& v, JobStub& s, const std::string& p) {
  GetString(v, "ID", s.id, p);
  GetString(v, "Name", s.name, p);
  GetString(v, "Namespace", s.namespace_, p);
  GetString(v, "Type", s.type, p);
  GetString(v, "Status", s.status, p);
  GetBool(v, "Stop", s.stop, p);
  GetBool(v, "Periodic", s.periodic, p);
  GetInt(v, "Version", s.version, p);
  GetInt(v, "CreateIndex", s.create_index, p);
  GetInt(v, "ModifyIndex", s.modify_index, p);
  GetInt(v, "JobModifyIndex", s.job_modify_index, p);
  GetInt(v, "SubmitTime", s.submit_time, p);
  if (const Json* m = Member(v, "Meta")) {
    if (!m->is_object()) Fail(p + ".Meta", "expected an object");
    for (auto it = m->begin(); it != m->end(); ++it) {
      if (!it.value().is_string()) Fail(p + ".Meta." + it.key(), "expected a string");
      s.meta[it.key()] = it.value().get<std::string>();
    }
  }
}

// ---- Plan ----

void DecodeFieldDiff(const Json& v, FieldDiff& f, const std::string& p) {
  GetString(v, "Type", f.type, p);
  GetString(v, "Name", f.name, p);
  GetString(v, "Old", f.old_value, p);
  GetString(v, "New", f.new_value, p);
  GetStringList(v, "Annotations", f.annotations, p);
}

void DecodeObjectDiff(const Json& v, ObjectDiff& o, const std::string& p) {
  GetString(v, "Type", o.type, p);
  GetString(v, "Name", o.name, p);
  GetList(v, "Fields", o.fields, p, DecodeFieldDiff);
  GetList(v, "Objects", o.objects, p, DecodeObjectDiff);
}

void DecodeTaskDiff(const Json& v, TaskDiff& t, const std::string& p) {
  GetString(v, "Type", t.type, p);
  GetString(v, "Name", t.name, p);
  GetList(v, "Fields", t.fields, p, DecodeFieldDiff);
  GetList(v, "Objects", t.objects, p, DecodeObjectDiff);
  GetStringList(v, "Annotations", t.annotations, p);
}

void DecodeTaskGroupDiff(const Json& v, TaskGroupDiff& g, const std::string& p) {
  GetString(v, "Type", g.type, p);
  GetString(v, "Name", g.name, p);
  GetList(v, "Fields", g.fields, p, DecodeFieldDiff);
  GetList(v, "Objects", g.objects, p, DecodeObjectDiff);
  GetList(v, "Tasks", g.tasks, p, DecodeTaskDiff);
  if (const Json* u = Member(v, "Updates")) {
    if (!u->is_object()) Fail(p + ".Updates", "expected an object");
    for (auto it = u->begin(); it != u->end(); ++it) {
      if (!it.value().is_number_unsigned() && !it.value().is_number_integer()) {
        Fail(p + ".Updates." + it.key(), "expected an integer");
      }
      g.updates[it.key()] = it.value().get<uint64_t>();
    }
  }
}

void DecodeJobDiff(const Json& v, JobDiff& d, const std::string& p) {
  GetString(v, "Type", d.type, p);
  GetString(v, "ID", d.id, p);
  GetList(v, "Fields", d.fields, p, DecodeFieldDiff);
  GetList(v, "Objects", d.objects, p, DecodeObjectDiff);
  GetList(v, "TaskGroups", d.task_groups, p, DecodeTaskGroupDiff);
}

void DecodeDesiredUpdates(const Json& v, DesiredUpdates& u, const std::string& p) {
  GetInt(v, "Ignore", u.ignore, p);
  GetInt(v, "Place", u.place, p);
  GetInt(v, "Migrate", u.migrate, p);
  GetInt(v, "Stop", u.stop, p);
  GetInt(v, "InPlaceUpdate", u.in_place_update, p);
  GetInt(v, "DestructiveUpdate", u.destructive_update, p);
  GetInt(v, "Canary", u.canary, p);
  GetInt(v, "Preemptions", u.preemptions, p);
  GetInt(v, "Disconnect", u.disconnect, p);
  GetInt(v, "Reconnect", u.reconnect, p);
  GetInt(v, "RescheduleNow", u.reschedule_now, p);
  GetInt(v, "RescheduleLater", u.reschedule_later, p);
}

void DecodePlan(const Json& v, PlanResponse& r, const std::string& p) {
  if (!v.is_object()) Fail(p, "expected an object");
  if (const Json* a = Member(v, "Annotations")) {
    if (!a->is_object()) Fail(p + ".Annotations", "expected an object");
    if (const Json* d = Member(*a, "DesiredTGUpdates")) {
      if (!d->is_object()) Fail(p + ".Annotations.DesiredTGUpdates", "expected an object");
      for (auto it = d->begin(); it != d->end(); ++it) {
        std::string q = p + ".Annotations.DesiredTGUpdates." + it.key();
        if (it.value().is_null()) continue;
        if (!it.value().is_object()) Fail(q, "expected an object");
        DecodeDesiredUpdates(it.value(), r.desired_tg_updates[it.key()], q);
      }
    }
  }
  if (const Json* d = Member(v, "Diff")) {
    if (!d->is_object()) Fail(p + ".Diff", "expected an object");
    r.diff.emplace();
    DecodeJobDiff(*d, *r.diff, p + ".Diff");
  }
  GetInt(v, "JobModifyIndex", r.job_modify_index, p);
  std::string launch;
  GetString(v, "NextPeriodicLaunch", launch, p);
  if (!launch.empty()) {
    base::Result<int64_t> t = ParseRfc3339(launch);
    if (!t.ok()) Fail(p + ".NextPeriodicLaunch", t.status().message());
    r.next_periodic_launch = *t;
  }
  GetString(v, "Warnings", r.warnings, p);
}

Json FieldDiffJson(const FieldDiff& f) {
  Json annotations = f.annotations.empty() ? Json(nullptr) : Json(f.annotations);
  return Json{{"Type", f.type},
              {"Name", f.name},
              {"Old", f.old_value},
              {"New", f.new_value},
              {"Annotations", annotations}};
}

template <typename T, typename F>
Json ListJson(const std::vector<T>& items, F&& fn) {
  if (items.empty()) return Json(nullptr);
  Json j = Json::array();
  for (const T& item : items) j.push_back(fn(item));
  return j;
}

Json ObjectDiffJson(const ObjectDiff& o) {
  return Json{{"Type", o.type},
              {"Name", o.name},
              {"Fields", ListJson(o.fields, FieldDiffJson)},
              {"Objects", ListJson(o.objects, ObjectDiffJson)}};
}

Json TaskDiffJson(const TaskDiff& t) {
  return Json{{"Type", t.type},
              {"Name", t.name},
              {"Fields", ListJson(t.fields, FieldDiffJson)},
              {"Objects", ListJson(t.objects, ObjectDiffJson)},
              {"Annotations", t.annotations.empty() ? Json(nullptr) : Json(t.annotations)}};
}

Json TaskGroupDiffJson(const TaskGroupDiff& g) {
  Json updates = Json(nullptr);
  if (!g.updates.empty()) {
    updates = Json::object();
    for (const auto& [k, n] : g.updates) updates[k] = n;
  }
  return Json{{"Type", g.type},
              {"Name", g.name},
              {"Fields", ListJson(g.fields, FieldDiffJson)},
              {"Objects", ListJson(g.objects, ObjectDiffJson)},
              {"Tasks", ListJson(g.tasks, TaskDiffJson)},
              {"Updates", updates}};
}

Json DesiredUpdatesJson(const DesiredUpdates& u) {
  return Json{{"Ignore", u.ignore},
              {"Place", u.place},
              {"Migrate", u.migrate},
              {"Stop", u.stop},
              {"InPlaceUpdate", u.in_place_update},
              {"DestructiveUpdate", u.destructive_update},
              {"Canary", u.canary},
              {"Preemptions", u.preemptions},
              {"Disconnect", u.disconnect},
              {"Reconnect", u.reconnect},
              {"RescheduleNow", u.reschedule_now},
              {"RescheduleLater", u.reschedule_later}};
}

std::string LockDuration(Duration d) { return base::FormatDuration(d); }

}  // namespace

base::Result<std::vector<JobStub>> DecodeJobStubList(std::string_view json) {
  return Decode<std::vector<JobStub>>(
      json, "JobList", [](const Json& j, std::vector<JobStub>& out, const std::string& p) {
        if (j.is_null()) return;
        if (!j.is_array()) Fail(p, "expected an array");
        for (size_t i = 0; i < j.size(); ++i) {
          std::string q = p + "[" + std::to_string(i) + "]";
          if (!j[i].is_object()) Fail(q, "expected an object");
          JobStub s;
          DecodeJobStub(j[i], s, q);
          out.push_back(std::move(s));
        }
      });
}

base::Result<std::string> DecodeAgentSelfVersion(std::string_view json) {
  return Decode<std::string>(
      json, "AgentSelf", [](const Json& j, std::string& out, const std::string& p) {
        if (!j.is_object()) Fail(p, "expected an object");
        if (const Json* member = Member(j, "member"); member != nullptr && member->is_object()) {
          if (const Json* tags = Member(*member, "Tags"); tags != nullptr && tags->is_object()) {
            GetString(*tags, "build", out, p + ".member.Tags");
            if (!out.empty()) return;
          }
        }
        const Json* config = Member(j, "config");
        const Json* version = config != nullptr && config->is_object()
                                  ? Member(*config, "Version")
                                  : nullptr;
        if (version == nullptr || !version->is_object()) {
          Fail(p, "neither member.Tags.build nor config.Version is present");
        }
        std::string pre, meta;
        GetString(*version, "Version", out, p + ".config.Version");
        GetString(*version, "VersionPrerelease", pre, p + ".config.Version");
        GetString(*version, "VersionMetadata", meta, p + ".config.Version");
        if (out.empty()) Fail(p + ".config.Version.Version", "empty");
        if (!pre.empty()) out += "-" + pre;
        if (!meta.empty()) out += "+" + meta;
      });
}

std::string EncodeAgentSelf(std::string_view version, std::string_view node_name) {
  Json j;
  j["config"]["Version"] = {{"Revision", "simulated"},
                            {"Version", std::string(version)},
                            {"VersionPrerelease", ""},
                            {"VersionMetadata", ""}};
  j["member"] = {{"Name", std::string(node_name)},
                 {"Tags", {{"role", "nomad"}, {"build", std::string(version)}}},
                 {"Status", "alive"}};
  j["stats"] = Json::object();
  return Dump(j);
}

base::Result<std::vector<std::string>> DecodeNamespaceNames(std::string_view json) {
  return Decode<std::vector<std::string>>(
      json, "NamespaceList",
      [](const Json& j, std::vector<std::string>& out, const std::string& p) {
        if (j.is_null()) return;
        if (!j.is_array()) Fail(p, "expected an array");
        for (size_t i = 0; i < j.size(); ++i) {
          std::string q = p + "[" + std::to_string(i) + "]";
          if (!j[i].is_object()) Fail(q, "expected an object");
          std::string name;
          GetString(j[i], "Name", name, q);
          out.push_back(std::move(name));
        }
      });
}

std::string EncodeNamespaceList(const std::vector<std::string>& names, uint64_t index) {
  Json arr = Json::array();
  for (const auto& n : names) {
    arr.push_back({{"Name", n},
                   {"Description", n == "default" ? "Default shared namespace" : ""},
                   {"Quota", ""},
                   {"Meta", nullptr},
                   {"CreateIndex", 1},
                   {"ModifyIndex", index}});
  }
  return Dump(arr);
}

std::string EncodeJobStubList(const std::vector<JobStub>& jobs) {
  Json j = Json::array();
  for (const JobStub& s : jobs) {
    Json o{{"ID", s.id},
           {"ParentID", ""},
           {"Name", s.name},
           {"Namespace", s.namespace_},
           {"Datacenters", Json::array()},
           {"Type", s.type},
           {"Priority", 50},
           {"Periodic", s.periodic},
           {"ParameterizedJob", false},
           {"Stop", s.stop},
           {"Status", s.status},
           {"StatusDescription", ""},
           {"JobSummary", nullptr},
           {"CreateIndex", s.create_index},
           {"ModifyIndex", s.modify_index},
           {"JobModifyIndex", s.job_modify_index},
           {"SubmitTime", s.submit_time},
           {"Version", s.version}};
    if (!s.meta.empty()) o["Meta"] = Json(s.meta);
    j.push_back(std::move(o));
  }
  return Dump(j);
}

std::string EncodePlanRequest(const Job& job, bool diff) {
  Json j = Json::object();
  j["Job"] = Json::parse(EncodeJob(job), nullptr, /*allow_exceptions=*/false);
  j["Diff"] = diff;
  j["PolicyOverride"] = false;
  return Dump(j);
}

base::Result<PlanResponse> DecodePlanResponse(std::string_view json) {
  return Decode<PlanResponse>(json, "PlanResponse", DecodePlan);
}

std::string EncodePlanResponse(const PlanResponse& plan) {
  Json updates = Json::object();
  for (const auto& [tg, u] : plan.desired_tg_updates) updates[tg] = DesiredUpdatesJson(u);
  Json j = Json::object();
  j["Annotations"] = Json{{"DesiredTGUpdates", updates}, {"PreemptedAllocs", nullptr}};
  j["FailedTGAllocs"] = nullptr;
  j["JobModifyIndex"] = plan.job_modify_index;
  j["CreatedEvals"] = nullptr;
  if (plan.diff) {
    const JobDiff& d = *plan.diff;
    j["Diff"] = Json{{"Type", d.type},
                     {"ID", d.id},
                     {"Fields", ListJson(d.fields, FieldDiffJson)},
                     {"Objects", ListJson(d.objects, ObjectDiffJson)},
                     {"TaskGroups", ListJson(d.task_groups, TaskGroupDiffJson)}};
  } else {
    j["Diff"] = nullptr;
  }
  j["NextPeriodicLaunch"] = FormatRfc3339(plan.next_periodic_launch);
  j["Warnings"] = plan.warnings;
  j["Index"] = 0;
  return Dump(j);
}

std::string EncodeVariableSet(const Variable& v, std::string_view namespace_) {
  Json j = Json::object();
  if (!namespace_.empty()) j["Namespace"] = namespace_;
  j["Path"] = v.path;
  j["Items"] = Json(v.items);
  if (v.lock && !v.lock->id.empty()) j["Lock"] = Json{{"ID", v.lock->id}};
  return Dump(j);
}

std::string EncodeLockAcquire(const Variable& v, std::string_view namespace_) {
  Json j = Json::object();
  if (!namespace_.empty()) j["Namespace"] = namespace_;
  j["Path"] = v.path;
  j["Items"] = Json(v.items);
  Json lock = Json::object();
  if (v.lock) {
    if (v.lock->ttl.count() > 0) lock["TTL"] = LockDuration(v.lock->ttl);
    if (v.lock->lock_delay.count() > 0) lock["LockDelay"] = LockDuration(v.lock->lock_delay);
    if (!v.lock->id.empty()) lock["ID"] = v.lock->id;
  }
  j["Lock"] = std::move(lock);
  return Dump(j);
}

std::string EncodeLockRef(std::string_view path, std::string_view lock_id,
                          std::string_view namespace_) {
  Json j = Json::object();
  if (!namespace_.empty()) j["Namespace"] = namespace_;
  j["Path"] = path;
  j["Lock"] = Json{{"ID", lock_id}};
  return Dump(j);
}

std::string EncodeParseRequest(std::string_view hcl) {
  return Dump(Json{{"JobHCL", hcl}, {"Canonicalize", true}});
}

std::string EncodeEvaluateRequest(std::string_view job_id, bool force_reschedule) {
  return Dump(Json{{"JobID", job_id}, {"EvalOptions", {{"ForceReschedule", force_reschedule}}}});
}

}  // namespace nsg::nomad
