#include "controller/reconcile/drift.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "controller/nomad/codec.h"
#include "controller/render/job_renderer.h"

namespace nsg::reconcile {
namespace {

using nlohmann::json;

// The codec writes what it was given; parse cannot fail on its output, but a failure must never
// throw out of a core, so it becomes null (compared as "unset" on the desired side).
json Parse(const std::string& text) {
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

json DesiredJson(const nomad::Job& job) {
  json j = Parse(nomad::EncodeJob(job));
  if (j.is_discarded()) return json();
  // Where the spec came from is not something Nomad runs (drift.h).
  if (j.contains("Meta") && j["Meta"].is_object()) {
    j["Meta"].erase(render::kMetaSource);
    j["Meta"].erase(render::kMetaRevision);
  }
  return j;
}

json ObservedJson(const nomad::Job& job) {
  json j = Parse(nomad::EncodeJob(job, {.server_fields = true}));
  return j.is_discarded() ? json() : j;
}

// Unset on the desired side: the server fills in a default, so any observed value is fine.
bool IsUnset(const json& v) {
  return v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty()) ||
         (v.is_array() && v.empty()) || (v.is_object() && v.empty());
}

// A zero scalar matches a missing or null observed value (Go leaves zero values out or writes
// null for them in places).
bool IsZeroScalar(const json& v) {
  return (v.is_boolean() && !v.get<bool>()) || (v.is_number() && v == 0);
}

bool IsNamedList(const json& v) {
  if (!v.is_array() || v.empty()) return false;
  return std::all_of(v.begin(), v.end(), [](const json& e) {
    return e.is_object() && e.contains("Name") && e["Name"].is_string();
  });
}

const json* FindNamed(const json& list, const std::string& name) {
  if (!list.is_array()) return nullptr;
  for (const auto& e : list) {
    if (e.is_object() && e.contains("Name") && e["Name"] == name) return &e;
  }
  return nullptr;
}

// j[key], or null when j is not an object or has no such key (never throws).
const json& Child(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Appends the path of every value `want` sets that `got` does not hold (desired ⊆ observed).
void Diff(const json& want, const json& got, const std::string& path,
          std::vector<std::string>& out) {
  if (IsUnset(want)) return;
  if (want.is_object()) {
    if (!got.is_object()) {
      out.push_back(path);
      return;
    }
    for (auto it = want.begin(); it != want.end(); ++it) {
      auto g = got.find(it.key());
      Diff(it.value(), g == got.end() ? json() : *g, Join(path, it.key()), out);
    }
    return;
  }
  if (want.is_array()) {
    if (!got.is_array()) {
      out.push_back(path);
      return;
    }
    if (IsNamedList(want)) {
      // Matched by name; an element added by hand (a second task group, an extra task) is drift
      // too: it would run outside the lock.
      std::set<std::string> names;
      for (const auto& w : want) {
        const std::string name = w["Name"].get<std::string>();
        names.insert(name);
        const std::string at = path + "[" + name + "]";
        const json* g = FindNamed(got, name);
        if (g == nullptr) {
          out.push_back(at);
        } else {
          Diff(w, *g, at, out);
        }
      }
      for (const auto& g : got) {
        if (g.is_object() && g.contains("Name") && g["Name"].is_string() &&
            names.count(g["Name"].get<std::string>()) == 0) {
          out.push_back(path + "[" + g["Name"].get<std::string>() + "]");
        }
      }
      return;
    }
    if (want.size() != got.size()) {
      out.push_back(path);
      return;
    }
    for (size_t i = 0; i < want.size(); ++i) {
      Diff(want[i], got[i], path + "[" + std::to_string(i) + "]", out);
    }
    return;
  }
  if (got.is_null() && IsZeroScalar(want)) return;
  if (want != got) out.push_back(path);
}

const nomad::TaskGroup* FindGroup(const nomad::Job& job, const std::string& name) {
  for (const auto& g : job.task_groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

std::string DisconnectDiff(const nomad::Disconnect& want, const nomad::Disconnect& got) {
  std::vector<std::string> bad;
  if (want.lost_after != got.lost_after) bad.push_back("LostAfter");
  if (want.stop_on_client_after != got.stop_on_client_after) bad.push_back("StopOnClientAfter");
  if (want.replace && want.replace != got.replace) bad.push_back("Replace");
  if (!want.reconcile.empty() && want.reconcile != got.reconcile) bad.push_back("Reconcile");
  std::string s;
  for (const auto& b : bad) s += (s.empty() ? "" : ", ") + b;
  return s;
}

std::string JoinList(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::vector<std::string> LockTaskNames(const nomad::Job& desired) {
  std::vector<std::string> names;
  auto mode = desired.meta.find(render::kMetaLockMode);
  const bool shim = mode != desired.meta.end() && mode->second == "shim";
  for (const auto& g : desired.task_groups) {
    for (const auto& t : g.tasks) {
      const bool agent = t.name == render::kLockTaskName || t.name == render::kAcquireTaskName;
      if (agent || (shim && !t.lifecycle)) names.push_back(t.name);
    }
  }
  return names;
}

std::vector<InvariantDrift> CheckStopAndCount(const nomad::Job& desired,
                                              const nomad::Job& observed) {
  std::vector<InvariantDrift> out;
  if (observed.stop) out.push_back({"JobStopped", "the job was stopped (Stop = true)"});
  for (const auto& want : desired.task_groups) {
    const nomad::TaskGroup* got = FindGroup(observed, want.name);
    if (got == nullptr) {
      out.push_back({"CountDrifted", "group " + want.name + " is missing"});
    } else if (got->count != want.count) {
      out.push_back({"CountDrifted", "group " + want.name + ": Count is " +
                                         std::to_string(got->count) + ", want " +
                                         std::to_string(want.count)});
    }
  }
  return out;
}

namespace {

// The invariants, on the jobs and on their JSON forms (each encoded once by the caller).
std::vector<InvariantDrift> Invariants(const nomad::Job& desired, const nomad::Job& observed,
                                       const json& want_j, const json& got_j) {
  std::vector<InvariantDrift> out = CheckStopAndCount(desired, observed);

  const std::vector<std::string> lock_tasks = LockTaskNames(desired);
  for (const auto& want : desired.task_groups) {
    const nomad::TaskGroup* got = FindGroup(observed, want.name);
    if (got == nullptr) continue;  // reported as CountDrifted
    const json* wg = FindNamed(Child(want_j, "TaskGroups"), want.name);
    const json* gg = FindNamed(Child(got_j, "TaskGroups"), want.name);
    for (const auto& t : want.tasks) {
      if (std::find(lock_tasks.begin(), lock_tasks.end(), t.name) == lock_tasks.end()) continue;
      const json* wt = wg ? FindNamed(Child(*wg, "Tasks"), t.name) : nullptr;
      const json* gt = gg ? FindNamed(Child(*gg, "Tasks"), t.name) : nullptr;
      if (gt == nullptr) {
        out.push_back({"LockTaskDrifted", "group " + want.name + ": lock task " + t.name +
                                              " is missing"});
        continue;
      }
      std::vector<std::string> paths;
      if (wt != nullptr) Diff(*wt, *gt, "", paths);
      if (!paths.empty()) {
        out.push_back({"LockTaskDrifted", "group " + want.name + ": lock task " + t.name +
                                              " changed: " + JoinList(paths)});
      }
    }
    if (want.disconnect) {
      if (!got->disconnect) {
        out.push_back({"DisconnectDrifted", "group " + want.name + " has no Disconnect block"});
      } else if (std::string d = DisconnectDiff(*want.disconnect, *got->disconnect); !d.empty()) {
        out.push_back({"DisconnectDrifted", "group " + want.name + ": Disconnect changed: " + d});
      }
    }
  }
  return out;
}

}  // namespace

DriftReport CheckDrift(const nomad::Job& desired, const nomad::Job& observed) {
  const json want_j = DesiredJson(desired);
  const json got_j = ObservedJson(observed);
  DriftReport r;
  r.invariants = Invariants(desired, observed, want_j, got_j);
  Diff(want_j, got_j, "", r.fields);
  return r;
}

DriftReport CheckDriftMemo(const render::CompactRendered& desired, const nomad::Job& observed,
                           std::optional<DriftMemo>& memo) {
  if (memo && memo->job_modify_index == observed.job_modify_index &&
      memo->stop == observed.stop && memo->spec_hash == desired.spec_hash) {
    return memo->report;
  }
  auto whole = desired.Job();
  if (!whole.ok()) {
    // Not remembered: the next reconcile tries again.
    memo.reset();
    DriftReport r;
    r.invariants = CheckStopAndCount(nomad::WholeOf(desired.summary), observed);
    r.fields = {"(rendered job unreadable: " + whole.status().message() + ")"};
    return r;
  }
  memo = DriftMemo{observed.job_modify_index, observed.stop, desired.spec_hash,
                   CheckDrift(*whole, observed)};
  return memo->report;
}

}  // namespace nsg::reconcile
