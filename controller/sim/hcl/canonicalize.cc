// api.Job.Canonicalize on the JSON of an api.Job: what `POST /v1/jobs/parse` with
// "Canonicalize": true runs (command/agent/job_endpoint.go JobsParseRequest @ v2.0.5 calls
// jobStruct.Canonicalize(), the api package's, and nothing of the server's). Each function below
// names the Go function it follows (api/jobs.go, api/tasks.go, api/resources.go,
// api/services.go @ v2.0.5; unchanged at v1.10.2 and v1.11.3 for these fields). Not followed:
// Multiregion, Consul blocks, Connect, ScalingPolicy, CSI plugin, device and NUMA defaults.
#include <string>

#include "controller/sim/hcl/decode.h"
#include "controller/sim/hcl/jobspec.h"

namespace nsg::sim::hcl {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

// `if x.F == nil { x.F = default }` for each default.
void Fill(Value& obj, const Value& defaults) {
  for (auto it = defaults.begin(); it != defaults.end(); ++it) {
    if (!obj.contains(it.key()) || obj[it.key()].is_null()) obj[it.key()] = it.value();
  }
}

// The api Merge pattern: every non-null field of `over` replaces `base`'s.
Value Merged(Value base, const Value& over) {
  for (auto it = over.begin(); it != over.end(); ++it) {
    if (!it.value().is_null()) base[it.key()] = it.value();
  }
  return base;
}

// DefaultUpdateStrategy.
Value DefaultUpdate() {
  return Value{{"Stagger", 30 * kSecond},       {"MaxParallel", 1},
               {"HealthCheck", "checks"},      {"MinHealthyTime", 10 * kSecond},
               {"HealthyDeadline", 300 * kSecond}, {"ProgressDeadline", 600 * kSecond},
               {"AutoRevert", false},          {"Canary", 0},
               {"AutoPromote", false}};
}

// UpdateStrategy.Empty: no field set to a non-zero value.
bool EmptyUpdate(const Value& u) {
  for (auto it = u.begin(); it != u.end(); ++it) {
    const Value& v = it.value();
    if ((v.is_number() && v != 0) || (v.is_string() && v != "") || (v.is_boolean() && v == true)) {
      return false;
    }
  }
  return true;
}

// NewDefaultReschedulePolicy.
Value DefaultReschedule(const std::string& type) {
  if (type == "service") {
    return Value{{"Attempts", 0}, {"Interval", 0}, {"Delay", 30 * kSecond},
                 {"DelayFunction", "exponential"}, {"MaxDelay", 3600 * kSecond},
                 {"Unlimited", true}};
  }
  if (type == "batch") {
    return Value{{"Attempts", 1}, {"Interval", 86400 * kSecond}, {"Delay", 5 * kSecond},
                 {"DelayFunction", "constant"}, {"MaxDelay", 0}, {"Unlimited", false}};
  }
  return Value{{"Attempts", 0}, {"Interval", 0}, {"Delay", 0}, {"DelayFunction", ""},
               {"MaxDelay", 0}, {"Unlimited", false}};
}

// defaultServiceJobRestartPolicy / defaultBatchJobRestartPolicy.
Value DefaultRestart(const std::string& type) {
  const bool service = type == "service" || type == "system";
  return Value{{"Interval", service ? 1800 * kSecond : 86400 * kSecond},
               {"Attempts", service ? 2 : 3},
               {"Delay", 15 * kSecond},
               {"Mode", "fail"},
               {"RenderTemplates", false}};
}

// job.X merged under group.X (Copy + Merge), or the job's alone.
void InheritFromJob(const Value& job_value, Value& group_value) {
  if (job_value.is_null()) return;
  group_value = group_value.is_null() ? job_value : Merged(job_value, group_value);
}

void CanonicalizeService(Value& s, const Value& job, const Value& tg, const Value* task) {
  // Service.Canonicalize (api/services.go).
  if (s["Name"] == "") {
    std::string name = job["Name"].get<std::string>() + "-" + tg["Name"].get<std::string>();
    if (task != nullptr) name += "-" + (*task)["Name"].get<std::string>();
    s["Name"] = name;
  }
  if (s["AddressMode"] == "") s["AddressMode"] = "auto";
  if (s["OnUpdate"] == "") s["OnUpdate"] = "require_healthy";
  if (s["Provider"] == "") s["Provider"] = "consul";
  if (s["Cluster"] == "") s["Cluster"] = "default";
  for (const char* k : {"Meta", "CanaryMeta", "TaggedAddresses"}) {
    if (s[k].is_object() && s[k].empty()) s[k] = nullptr;
  }
  if (!s["Checks"].is_array()) return;
  for (Value& c : s["Checks"]) {
    Value restart = s["CheckRestart"];
    if (c["CheckRestart"].is_object()) {
      restart = restart.is_null() ? c["CheckRestart"] : Merged(restart, c["CheckRestart"]);
    }
    if (restart.is_object()) Fill(restart, Value{{"Grace", kSecond}});
    c["CheckRestart"] = restart;
    for (const char* k : {"SuccessBeforePassing", "FailuresBeforeCritical",
                          "FailuresBeforeWarning"}) {
      if (c[k].is_number() && c[k].get<int64_t>() < 0) c[k] = 0;
    }
    if (c["OnUpdate"] == "") c["OnUpdate"] = s["OnUpdate"];
  }
}

void CanonicalizeTask(Value& t, const Value& tg, const Value& job) {
  // Task.Canonicalize (api/tasks.go), Resources.Canonicalize (api/resources.go).
  if (t["Resources"].is_null()) t["Resources"] = Decoder::Skeleton(StructIndex("Resources"));
  Value& r = t["Resources"];
  if (r["Cores"].is_null()) {
    r["Cores"] = 0;
    if (r["CPU"].is_null()) r["CPU"] = 100;
  }
  if (r["CPU"].is_null()) r["CPU"] = 0;
  if (r["MemoryMB"].is_null()) r["MemoryMB"] = 300;
  if (t["KillTimeout"].is_null()) t["KillTimeout"] = 5 * kSecond;
  if (t["LogConfig"].is_null()) t["LogConfig"] = Decoder::Skeleton(StructIndex("LogConfig"));
  Fill(t["LogConfig"], Value{{"MaxFiles", 10}, {"MaxFileSizeMB", 10}, {"Disabled", false}});
  if (t["Artifacts"].is_array()) {
    for (Value& a : t["Artifacts"]) {
      Fill(a, Value{{"GetterMode", "any"}, {"GetterInsecure", false}, {"GetterSource", ""}});
      for (const char* k : {"GetterOptions", "GetterHeaders"}) {
        if (a[k].is_object() && a[k].empty()) a[k] = nullptr;
      }
      if (a["RelativeDest"].is_null()) {
        std::string dest = "local/";
        if (a["GetterMode"] == "file") {
          std::string src = a["GetterSource"].get<std::string>();
          while (src.size() > 1 && src.back() == '/') src.pop_back();
          const size_t slash = src.rfind('/');
          dest = "local/" + (slash == std::string::npos ? src : src.substr(slash + 1));
        }
        a["RelativeDest"] = dest;
      }
    }
  }
  if (t["Vault"].is_object()) {
    Value& v = t["Vault"];
    Fill(v, Value{{"Env", true}, {"DisableFile", false}, {"Namespace", ""},
                  {"ChangeMode", "restart"}, {"ChangeSignal", "SIGHUP"},
                  {"AllowTokenExpiration", false}});
    if (v["Cluster"] == "") v["Cluster"] = "default";
  }
  if (t["Templates"].is_array()) {
    for (Value& tmpl : t["Templates"]) {
      // Template.Canonicalize.
      Fill(tmpl, Value{{"SourcePath", ""}, {"DestPath", ""}, {"EmbeddedTmpl", ""},
                       {"ChangeMode", "restart"}});
      if (tmpl["ChangeSignal"].is_null()) {
        tmpl["ChangeSignal"] = tmpl["ChangeMode"] == "signal" ? "SIGHUP" : "";
      } else {
        std::string sig = tmpl["ChangeSignal"].get<std::string>();
        for (char& c : sig) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        tmpl["ChangeSignal"] = sig;
      }
      if (tmpl["ChangeScript"].is_object()) {
        Fill(tmpl["ChangeScript"], Value{{"Command", ""}, {"Args", Value::array()},
                                         {"Timeout", 5 * kSecond}, {"FailOnError", false},
                                         {"RunOnFirstRender", false}});
      }
      Fill(tmpl, Value{{"Once", false}, {"Splay", 5 * kSecond}, {"Perms", "0644"},
                       {"LeftDelim", "{{"}, {"RightDelim", "}}"}, {"Envvars", false},
                       {"ErrMissingKey", false}, {"VaultGrace", 0}});
    }
  }
  if (t["Services"].is_array()) {
    for (Value& s : t["Services"]) CanonicalizeService(s, job, tg, &t);
  }
  if (t["Affinities"].is_array()) {
    for (Value& a : t["Affinities"]) Fill(a, Value{{"Weight", 50}});
  }
  if (t["VolumeMounts"].is_array()) {
    for (Value& vm : t["VolumeMounts"]) {
      Fill(vm, Value{{"PropagationMode", "private"}, {"ReadOnly", false}, {"SELinuxLabel", ""}});
    }
  }
  // TaskLifecycle.Empty: no hook and not a sidecar.
  if (t["Lifecycle"].is_object() && t["Lifecycle"]["Hook"] == "" &&
      t["Lifecycle"]["Sidecar"] != true) {
    t["Lifecycle"] = nullptr;
  }
  t["RestartPolicy"] =
      t["RestartPolicy"].is_null() ? tg["RestartPolicy"] : Merged(tg["RestartPolicy"], t["RestartPolicy"]);
}

void CanonicalizeGroup(Value& g, const Value& job) {
  // TaskGroup.Canonicalize (api/tasks.go).
  const std::string type = job["Type"].get<std::string>();
  if (g["Name"].is_null()) g["Name"] = "";
  if (g["Count"].is_null()) {
    const Value& scaling = g["Scaling"];
    g["Count"] = scaling.is_object() && !scaling["Min"].is_null() ? scaling["Min"] : Value(1);
  }
  if (g["EphemeralDisk"].is_null()) g["EphemeralDisk"] = Decoder::Skeleton(StructIndex("EphemeralDisk"));
  Fill(g["EphemeralDisk"], Value{{"Sticky", false}, {"Migrate", false}, {"SizeMB", 300}});
  const Value& ju = job["Update"];
  if (!ju.is_null() && (!g["Update"].is_null() || !EmptyUpdate(ju))) {
    InheritFromJob(ju, g["Update"]);
  }
  if (g["Update"].is_object()) Fill(g["Update"], DefaultUpdate());
  InheritFromJob(job["Reschedule"], g["ReschedulePolicy"]);
  if (g["ReschedulePolicy"].is_null() && type != "sysbatch" && type != "system") {
    g["ReschedulePolicy"] = DefaultReschedule(type);
  }
  if (g["ReschedulePolicy"].is_object()) Fill(g["ReschedulePolicy"], DefaultReschedule(type));
  InheritFromJob(job["Migrate"], g["Migrate"]);
  if (g["Migrate"].is_null() && type == "service") {
    g["Migrate"] = Decoder::Skeleton(StructIndex("MigrateStrategy"));
  }
  if (g["Migrate"].is_object()) {
    Fill(g["Migrate"], Value{{"MaxParallel", 1}, {"HealthCheck", "checks"},
                             {"MinHealthyTime", 10 * kSecond},
                             {"HealthyDeadline", 300 * kSecond}});
  }
  g["RestartPolicy"] = g["RestartPolicy"].is_null()
                           ? DefaultRestart(type)
                           : Merged(DefaultRestart(type), g["RestartPolicy"]);
  if (g["Tasks"].is_array()) {
    for (Value& t : g["Tasks"]) CanonicalizeTask(t, g, job);
  }
  for (const char* k : {"Spreads", "Affinities"}) {
    if (!g[k].is_array()) continue;
    for (Value& s : g[k]) Fill(s, Value{{"Weight", 50}});
  }
  if (g["Services"].is_array()) {
    for (Value& s : g["Services"]) CanonicalizeService(s, job, g, nullptr);
  }
  if (g["Disconnect"].is_object()) {
    Fill(g["Disconnect"], Value{{"Replace", true}, {"Reconcile", "best_score"}});
  }
}

}  // namespace

void CanonicalizeApiJob(Value& job) {
  // Job.Canonicalize (api/jobs.go).
  if (job["ID"].is_null()) job["ID"] = "";
  if (job["Name"].is_null()) job["Name"] = job["ID"];
  Fill(job, Value{{"ParentID", ""}, {"Namespace", "default"}, {"Priority", 50}, {"Stop", false},
                  {"Region", "global"}, {"NodePool", ""}, {"Type", "service"},
                  {"AllAtOnce", false}, {"ConsulNamespace", ""}, {"VaultNamespace", ""},
                  {"NomadTokenID", ""}, {"Status", ""}, {"StatusDescription", ""},
                  {"Stable", false}, {"Version", 0}, {"CreateIndex", 0}, {"ModifyIndex", 0},
                  {"JobModifyIndex", 0}});
  if (job["Periodic"].is_object()) {
    Value& p = job["Periodic"];
    // PeriodicConfig.Canonicalize.
    Fill(p, Value{{"Enabled", true}, {"Spec", ""}, {"Specs", Value::array()}, {"SpecType", "cron"},
                  {"ProhibitOverlap", false}});
    if (p["TimeZone"].is_null() || p["TimeZone"] == "") p["TimeZone"] = "UTC";
  }
  const std::string type = job["Type"].get<std::string>();
  if (job["Update"].is_object()) {
    Fill(job["Update"], DefaultUpdate());
  } else if (type == "service" || type == "system") {
    job["Update"] = DefaultUpdate();
  }
  if (job["TaskGroups"].is_array()) {
    for (Value& g : job["TaskGroups"]) CanonicalizeGroup(g, job);
  }
  for (const char* k : {"Spreads", "Affinities"}) {
    if (!job[k].is_array()) continue;
    for (Value& s : job[k]) Fill(s, Value{{"Weight", 50}});
  }
}

}  // namespace nsg::sim::hcl
