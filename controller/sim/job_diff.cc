// Two versions of a job compared in the Nomad model: whether the spec changed (SpecChanged),
// whether a group's update is destructive (DestructiveChange), and the plan's Diff (DiffJobs,
// Nomad's non-contextual diff; nomad-api.md §5.2, §5.4). Declared in job_rules.h.
#include "controller/sim/job_rules.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "controller/base/duration.h"

namespace nsg::sim {

using base::Duration;

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

}  // namespace nsg::sim
