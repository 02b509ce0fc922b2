// nlohmann-based half of the codec: every encoder, and the decoders of everything except
// Allocation and event frames (stream_decode.cc, simdjson). nlohmann exceptions are caught here
// and never leave this file.

#include "controller/nomad/codec.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "controller/nomad/codec_internal.h"

namespace nsg::nomad {
namespace {

// ordered_json keeps keys in insertion order (deterministic output, and user JSON kept in `extra`
// or Task::config keeps its own key order).
using Json = nlohmann::ordered_json;
using internal::DecodeError;

// ---------------------------------------------------------------------------------------------
// Output helpers

std::string Dump(const Json& j, bool pretty = false) {
  // `replace` so that invalid UTF-8 in a string never throws.
  return j.dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace);
}

std::string Finish(const Json& j, const EncodeOptions& opts) { return Dump(j, opts.pretty); }

// Parses raw JSON text kept in `extra`/config. Invalid text (never produced by a decoder) becomes
// null rather than an exception.
Json ParseRaw(std::string_view raw) {
  Json j = Json::parse(raw.begin(), raw.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Json(nullptr);
  return j;
}

void AddExtra(Json& j, const RawFields& extra) {
  for (const auto& [key, raw] : extra) {  // std::map: sorted
    if (j.contains(key)) continue;         // a modelled field wins over a stray duplicate
    j[key] = ParseRaw(raw);
  }
}

Json StringMapJson(const StringMap& m) {
  Json j = Json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

Json StringListJson(const std::vector<std::string>& v) {
  Json j = Json::array();
  for (const auto& s : v) j.push_back(s);
  return j;
}

int64_t Ns(Duration d) { return static_cast<int64_t>(d.count()); }

// How a job (and the types inside it) is laid out.
struct JobMode {
  // false: a register body (read-only fields left out, unset values omitted);
  // true: as the server answers it (every modelled key; unset values as null).
  bool server = false;
};

// Empty maps and lists are Go nil: null from the server, left out of a register body.
void PutMap(Json& j, const char* key, const StringMap& m, JobMode mode) {
  if (!m.empty()) {
    j[key] = StringMapJson(m);
  } else if (mode.server) {
    j[key] = nullptr;
  }
}

void PutList(Json& j, const char* key, const std::vector<std::string>& v, JobMode mode) {
  if (!v.empty()) {
    j[key] = StringListJson(v);
  } else if (mode.server) {
    j[key] = nullptr;
  }
}

template <typename T, typename F>
void PutOptional(Json& j, const char* key, const std::optional<T>& v, JobMode mode, F&& encode) {
  if (v.has_value()) {
    j[key] = encode(*v);
  } else if (mode.server) {
    j[key] = nullptr;
  }
}

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

// ---------------------------------------------------------------------------------------------
// Allocation, evaluation, node, variable encoding

// Writes key=value unless omitting empties and the value is its zero.
class Writer {
 public:
  explicit Writer(bool omit_empty) : omit_(omit_empty) {}
  Json& json() { return j_; }

  void Str(const char* key, const std::string& v) {
    if (!(omit_ && v.empty())) j_[key] = v;
  }
  template <typename N>
  void Num(const char* key, N v) {
    if (!(omit_ && v == 0)) j_[key] = v;
  }
  // An RFC 3339 time.Time; its zero is 0.
  void Time(const char* key, int64_t unix_ns) {
    if (!(omit_ && unix_ns == 0)) j_[key] = FormatRfc3339(unix_ns);
  }
  // A value that is null when empty (nil pointer, nil map or slice).
  void Nullable(const char* key, bool empty, Json v) {
    if (!empty) {
      j_[key] = std::move(v);
    } else if (!omit_) {
      j_[key] = nullptr;
    }
  }

 private:
  bool omit_;
  Json j_ = Json::object();
};

Json OptionalBool(const std::optional<bool>& b) { return b ? Json(*b) : Json(nullptr); }

Json DesiredTransitionJson(const DesiredTransition& t) {
  Json j = Json::object();
  j["Migrate"] = OptionalBool(t.migrate);
  j["Reschedule"] = OptionalBool(t.reschedule);
  j["ForceReschedule"] = OptionalBool(t.force_reschedule);
  j["NoShutdownDelay"] = OptionalBool(t.no_shutdown_delay);
  return j;
}

bool IsEmpty(const DesiredTransition& t) { return t == DesiredTransition{}; }

Json TaskEventJson(const TaskEvent& ev) {
  Json j = Json::object();
  j["Type"] = ev.type;
  j["Time"] = ev.time;
  j["Message"] = ev.message;
  j["DisplayMessage"] = ev.display_message;
  j["Details"] = ev.details.empty() ? Json(nullptr) : StringMapJson(ev.details);
  j["FailsTask"] = ev.fails_task;
  j["ExitCode"] = ev.exit_code;
  j["Signal"] = ev.signal;
  return j;
}

Json TaskStateJson(const TaskState& s) {
  Json j = Json::object();
  j["State"] = s.state;
  j["Failed"] = s.failed;
  j["Restarts"] = s.restarts;
  j["LastRestart"] = FormatRfc3339(s.last_restart);
  j["StartedAt"] = FormatRfc3339(s.started_at);
  j["FinishedAt"] = FormatRfc3339(s.finished_at);
  if (s.events.empty()) {
    j["Events"] = nullptr;
  } else {
    Json events = Json::array();
    for (const TaskEvent& ev : s.events) events.push_back(TaskEventJson(ev));
    j["Events"] = std::move(events);
  }
  return j;
}

Json TaskStatesJson(const std::map<std::string, TaskState>& states) {
  Json j = Json::object();
  for (const auto& [task, state] : states) j[task] = TaskStateJson(state);
  return j;
}

Json RescheduleTrackerJson(const std::vector<RescheduleEvent>& events) {
  Json list = Json::array();
  for (const RescheduleEvent& ev : events) {
    Json e = Json::object();
    e["RescheduleTime"] = ev.reschedule_time;
    e["PrevAllocID"] = ev.prev_alloc_id;
    e["PrevNodeID"] = ev.prev_node_id;
    e["Delay"] = Ns(ev.delay);
    list.push_back(std::move(e));
  }
  Json j = Json::object();
  j["Events"] = std::move(list);
  return j;
}

Json AllocStatesJson(const std::vector<AllocState>& states) {
  Json list = Json::array();
  for (const AllocState& s : states) {
    Json e = Json::object();
    e["Field"] = s.field;
    e["Value"] = s.value;
    e["Time"] = FormatRfc3339(s.time);
    list.push_back(std::move(e));
  }
  return list;
}

// The full Allocation in Go field order (nomad/structs/alloc.go). include_job=false for event
// payloads, which never carry the job.
Json AllocationJson(const Allocation& a, bool omit_empty, bool include_job) {
  Writer w(omit_empty);
  w.Str("ID", a.id);
  w.Str("Namespace", a.namespace_);
  w.Str("EvalID", a.eval_id);
  w.Str("Name", a.name);
  w.Str("NodeID", a.node_id);
  w.Str("NodeName", a.node_name);
  w.Str("JobID", a.job_id);
  if (include_job) {
    w.Nullable("Job", !a.job.has_value(),
               a.job ? JobJson(*a.job, JobMode{.server = true}) : Json(nullptr));
  }
  w.Str("TaskGroup", a.task_group);
  w.Str("DesiredStatus", a.desired_status);
  w.Str("DesiredDescription", a.desired_description);
  if (!(omit_empty && IsEmpty(a.desired_transition))) {
    w.json()["DesiredTransition"] = DesiredTransitionJson(a.desired_transition);
  }
  w.Str("ClientStatus", a.client_status);
  w.Str("ClientDescription", a.client_description);
  w.Nullable("TaskStates", a.task_states.empty(), TaskStatesJson(a.task_states));
  w.Nullable("AllocStates", a.alloc_states.empty(), AllocStatesJson(a.alloc_states));
  w.Str("PreviousAllocation", a.previous_allocation);
  w.Str("NextAllocation", a.next_allocation);
  w.Nullable("RescheduleTracker", a.reschedule_events.empty(),
             RescheduleTrackerJson(a.reschedule_events));
  w.Str("FollowupEvalID", a.followup_eval_id);
  w.Num("CreateIndex", a.create_index);
  w.Num("ModifyIndex", a.modify_index);
  w.Num("AllocModifyIndex", a.alloc_modify_index);
  w.Num("CreateTime", a.create_time);
  w.Num("ModifyTime", a.modify_time);
  return std::move(w.json());
}

// AllocListStub: every key, always (nomad-api.md §6.2); AllocatedResources is omitempty and not
// modelled, so it is left out.
Json AllocationStubJson(const Allocation& a) {
  Json j = Json::object();
  j["ID"] = a.id;
  j["EvalID"] = a.eval_id;
  j["Name"] = a.name;
  j["Namespace"] = a.namespace_;
  j["NodeID"] = a.node_id;
  j["NodeName"] = a.node_name;
  j["JobID"] = a.job_id;
  j["JobType"] = a.job_type;
  j["JobVersion"] = a.job_version;
  j["TaskGroup"] = a.task_group;
  j["DesiredStatus"] = a.desired_status;
  j["DesiredDescription"] = a.desired_description;
  j["ClientStatus"] = a.client_status;
  j["ClientDescription"] = a.client_description;
  j["DesiredTransition"] = DesiredTransitionJson(a.desired_transition);
  j["TaskStates"] = a.task_states.empty() ? Json(nullptr) : TaskStatesJson(a.task_states);
  j["DeploymentStatus"] = nullptr;
  j["FollowupEvalID"] = a.followup_eval_id;
  j["NextAllocation"] = a.next_allocation;
  j["RescheduleTracker"] =
      a.reschedule_events.empty() ? Json(nullptr) : RescheduleTrackerJson(a.reschedule_events);
  j["PreemptedAllocations"] = nullptr;
  j["PreemptedByAllocation"] = "";
  j["CreateIndex"] = a.create_index;
  j["ModifyIndex"] = a.modify_index;
  j["CreateTime"] = a.create_time;
  j["ModifyTime"] = a.modify_time;
  return j;
}

Json EvaluationJson(const Evaluation& ev, bool omit_empty) {
  Writer w(omit_empty);
  w.Str("ID", ev.id);
  w.Str("Namespace", ev.namespace_);
  w.Num("Priority", ev.priority);
  w.Str("Type", ev.type);
  w.Str("TriggeredBy", ev.triggered_by);
  w.Str("JobID", ev.job_id);
  w.Str("NodeID", ev.node_id);
  w.Str("Status", ev.status);
  w.Time("WaitUntil", ev.wait_until);
  w.Str("NextEval", ev.next_eval);
  w.Str("PreviousEval", ev.previous_eval);
  w.Num("CreateIndex", ev.create_index);
  w.Num("ModifyIndex", ev.modify_index);
  w.Num("CreateTime", ev.create_time);
  w.Num("ModifyTime", ev.modify_time);
  return std::move(w.json());
}

constexpr int kDefaultHttpPort = 4646;

// "10.0.0.1" -> "10.0.0.1:4646", "::1" -> "[::1]:4646"; an address with a port is kept.
std::string HttpAddr(const std::string& address) {
  if (address.empty()) return "";
  const size_t colons = std::count(address.begin(), address.end(), ':');
  if (colons == 0) return address + ":" + std::to_string(kDefaultHttpPort);
  if (address.front() == '[') return address;  // "[::1]:4646"
  if (colons == 1) return address;              // "host:port"
  return "[" + address + "]:" + std::to_string(kDefaultHttpPort);
}

// The host part of an HTTPAddr (Go's net.SplitHostPort, lenient).
std::string HostOf(const std::string& http_addr) {
  if (!http_addr.empty() && http_addr.front() == '[') {
    const size_t close = http_addr.find(']');
    if (close != std::string::npos) return http_addr.substr(1, close - 1);
    return http_addr;
  }
  const size_t colon = http_addr.find(':');
  if (colon != std::string::npos && http_addr.find(':', colon + 1) == std::string::npos) {
    return http_addr.substr(0, colon);
  }
  return http_addr;
}

// The full Node (GET /v1/node/:id and event payloads, sanitized: no SecretID). Go field order,
// plus the legacy "Drain" bool that event payloads carry.
Json NodeJson(const Node& n) {
  Json j = Json::object();
  j["ID"] = n.id;
  j["Datacenter"] = n.datacenter;
  j["Name"] = n.name;
  j["HTTPAddr"] = HttpAddr(n.address);
  j["NodePool"] = n.node_pool;
  j["Drain"] = n.drain;
  if (n.drain) {
    Json strategy = Json::object();
    strategy["Deadline"] = 0;
    strategy["IgnoreSystemJobs"] = false;
    strategy["ForceDeadline"] = FormatRfc3339(0);
    strategy["StartedAt"] = FormatRfc3339(0);
    j["DrainStrategy"] = std::move(strategy);
  } else {
    j["DrainStrategy"] = nullptr;
  }
  j["SchedulingEligibility"] = n.scheduling_eligibility;
  j["Status"] = n.status;
  j["StatusDescription"] = n.status_description;
  j["StatusUpdatedAt"] = n.status_updated_at;
  j["CreateIndex"] = n.create_index;
  j["ModifyIndex"] = n.modify_index;
  return j;
}

// NodeListStub (nomad-api.md §7.1): every key always; Attributes, NodeResources and
// ReservedResources are omitempty and not modelled.
Json NodeStubJson(const Node& n) {
  Json j = Json::object();
  j["Address"] = n.address;
  j["ID"] = n.id;
  j["Datacenter"] = n.datacenter;
  j["Name"] = n.name;
  j["NodePool"] = n.node_pool;
  j["NodeClass"] = "";
  j["Version"] = "";
  j["Drain"] = n.drain;
  j["SchedulingEligibility"] = n.scheduling_eligibility;
  j["Status"] = n.status;
  j["StatusDescription"] = n.status_description;
  j["Drivers"] = nullptr;
  j["HostVolumes"] = nullptr;
  j["LastDrain"] = nullptr;
  j["CreateIndex"] = n.create_index;
  j["ModifyIndex"] = n.modify_index;
  return j;
}

// Go's VariableLock.MarshalJSON: duration strings, "" for zero.
std::string LockDuration(Duration d) { return d.count() == 0 ? "" : base::FormatDuration(d); }

Json VariableJson(const Variable& v, bool with_items) {
  Json j = Json::object();
  j["Namespace"] = v.namespace_;
  j["Path"] = v.path;
  if (v.lock) {
    Json lock = Json::object();
    lock["TTL"] = LockDuration(v.lock->ttl);
    lock["LockDelay"] = LockDuration(v.lock->lock_delay);
    lock["ID"] = v.lock->id;
    j["Lock"] = std::move(lock);
  }
  j["CreateIndex"] = v.create_index;
  j["CreateTime"] = v.create_time;
  j["ModifyIndex"] = v.modify_index;
  j["ModifyTime"] = v.modify_time;
  if (with_items && !v.items.empty()) j["Items"] = StringMapJson(v.items);
  return j;
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers. Missing keys and null leave the field at its default.

bool Parse(std::string_view text, Json& out, DecodeError& e) {
  try {
    out = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& ex) {
    std::string what = ex.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    if (const size_t close = what.find("] "); !what.empty() && what[0] == '[' &&
                                               close != std::string::npos) {
      what.erase(0, close + 2);
    }
    return e.Fail("invalid JSON: " + what);
  }
  return true;
}

bool GetString(const Json& v, std::string& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (!v.is_string()) return e.Fail("expected a string");
  out = v.get_ref<const std::string&>();
  return true;
}

bool GetBool(const Json& v, bool& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (!v.is_boolean()) return e.Fail("expected a boolean");
  out = v.get<bool>();
  return true;
}

template <typename Int>
bool GetInt(const Json& v, Int& out, DecodeError& e) {
  static_assert(std::is_integral_v<Int>);
  if (v.is_null()) return true;
  if (!v.is_number()) return e.Fail("expected a number");
  if (v.is_number_float()) return e.Fail("expected an integer");
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<Int>::max())) return e.Fail("out of range");
    out = static_cast<Int>(u);
    return true;
  }
  const int64_t i = v.get<int64_t>();
  if constexpr (std::is_unsigned_v<Int>) {
    if (i < 0) return e.Fail("expected a non-negative integer");
    if (static_cast<uint64_t>(i) > std::numeric_limits<Int>::max()) return e.Fail("out of range");
  } else {
    if (i < std::numeric_limits<Int>::min() || i > std::numeric_limits<Int>::max()) {
      return e.Fail("out of range");
    }
  }
  out = static_cast<Int>(i);
  return true;
}

bool GetDuration(const Json& v, Duration& out, DecodeError& e) {
  int64_t ns = out.count();
  if (!GetInt(v, ns, e)) return false;
  out = Duration(ns);
  return true;
}

bool GetTime(const Json& v, int64_t& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (!v.is_string()) return e.Fail("expected an RFC 3339 time string");
  auto t = ParseRfc3339(v.get_ref<const std::string&>());
  if (!t.ok()) return e.Fail(t.status().message());
  out = *t;
  return true;
}

bool GetStringMap(const Json& v, StringMap& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (!v.is_object()) return e.Fail("expected an object");
  out.clear();
  for (auto it = v.begin(); it != v.end(); ++it) {
    std::string s;
    if (!GetString(it.value(), s, e)) return e.Key(it.key());
    out[it.key()] = std::move(s);
  }
  return true;
}

bool GetStringList(const Json& v, std::vector<std::string>& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (!v.is_array()) return e.Fail("expected an array");
  out.clear();
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    std::string s;
    if (!GetString(v[i], s, e)) return e.Index(i);
    out.push_back(std::move(s));
  }
  return true;
}

// Null leaves the optional empty; otherwise decodes a T with `fn`.
template <typename T, typename F>
bool GetOptional(const Json& v, std::optional<T>& out, DecodeError& e, F&& fn) {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  T value{};
  if (!fn(v, value, e)) return false;
  out = std::move(value);
  return true;
}

// Calls fn(key, value) -> bool for each member of an object; a false return gets the key added to
// the error path. Null is an empty object.
template <typename F>
bool ForEachMember(const Json& v, DecodeError& e, F&& fn) {
  if (v.is_null()) return true;
  if (!v.is_object()) return e.Fail("expected an object");
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!fn(it.key(), it.value())) return e.Key(it.key());
  }
  return true;
}

template <typename T, typename F>
bool GetList(const Json& v, std::vector<T>& out, DecodeError& e, F&& fn) {
  if (v.is_null()) return true;
  if (!v.is_array()) return e.Fail("expected an array");
  out.clear();
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    T item{};
    if (!fn(v[i], item, e)) return e.Index(i);
    out.push_back(std::move(item));
  }
  return true;
}

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

// ---------------------------------------------------------------------------------------------
// Other decoders

bool DecodeJobAclJ(const Json& v, JobAcl& a, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Namespace") return GetString(x, a.namespace_, e);
    if (k == "JobID") return GetString(x, a.job_id, e);
    if (k == "Group") return GetString(x, a.group, e);
    if (k == "Task") return GetString(x, a.task, e);
    return true;
  });
}

bool DecodeAclPolicyJ(const Json& v, AclPolicy& p, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Name") return GetString(x, p.name, e);
    if (k == "Description") return GetString(x, p.description, e);
    if (k == "Rules") return GetString(x, p.rules, e);
    if (k == "JobACL") return GetOptional(x, p.job_acl, e, DecodeJobAclJ);
    if (k == "CreateIndex") return GetInt(x, p.create_index, e);
    if (k == "ModifyIndex") return GetInt(x, p.modify_index, e);
    return true;
  });
}

bool DecodeNodeJ(const Json& v, Node& n, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  bool saw_address = false, saw_drain = false, has_drain_strategy = false;
  std::string http_addr;
  const bool ok = ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "ID") return GetString(x, n.id, e);
    if (k == "Name") return GetString(x, n.name, e);
    if (k == "Datacenter") return GetString(x, n.datacenter, e);
    if (k == "NodePool") return GetString(x, n.node_pool, e);
    if (k == "Address") {
      saw_address = true;
      return GetString(x, n.address, e);
    }
    if (k == "HTTPAddr") return GetString(x, http_addr, e);
    if (k == "Status") return GetString(x, n.status, e);
    if (k == "StatusDescription") return GetString(x, n.status_description, e);
    if (k == "SchedulingEligibility") return GetString(x, n.scheduling_eligibility, e);
    if (k == "Drain") {
      saw_drain = true;
      return GetBool(x, n.drain, e);
    }
    if (k == "DrainStrategy") {
      if (!x.is_null() && !x.is_object()) return e.Fail("expected an object");
      has_drain_strategy = !x.is_null();
      return true;
    }
    if (k == "StatusUpdatedAt") return GetInt(x, n.status_updated_at, e);
    if (k == "CreateIndex") return GetInt(x, n.create_index, e);
    if (k == "ModifyIndex") return GetInt(x, n.modify_index, e);
    return true;
  });
  if (!ok) return false;
  if (!saw_address) n.address = HostOf(http_addr);
  if (!saw_drain) n.drain = has_drain_strategy;
  return true;
}

bool DecodeLockDuration(const Json& v, Duration& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.empty()) {
      out = Duration(0);
      return true;
    }
    auto d = base::ParseDuration(s);
    if (!d.ok()) return e.Fail(d.status().message());
    out = *d;
    return true;
  }
  if (v.is_number()) return GetDuration(v, out, e);
  return e.Fail("expected a duration string or a number of nanoseconds");
}

bool DecodeLockJ(const Json& v, VariableLock& l, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "TTL") return DecodeLockDuration(x, l.ttl, e);
    if (k == "LockDelay") return DecodeLockDuration(x, l.lock_delay, e);
    if (k == "ID") return GetString(x, l.id, e);
    return true;
  });
}

bool DecodeVariableJ(const Json& v, Variable& var, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Namespace") return GetString(x, var.namespace_, e);
    if (k == "Path") return GetString(x, var.path, e);
    if (k == "Lock") return GetOptional(x, var.lock, e, DecodeLockJ);
    if (k == "Items") return GetStringMap(x, var.items, e);
    if (k == "CreateIndex") return GetInt(x, var.create_index, e);
    if (k == "CreateTime") return GetInt(x, var.create_time, e);
    if (k == "ModifyIndex") return GetInt(x, var.modify_index, e);
    if (k == "ModifyTime") return GetInt(x, var.modify_time, e);
    return true;
  });
}

bool DecodeEvaluationJ(const Json& v, Evaluation& ev, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "ID") return GetString(x, ev.id, e);
    if (k == "Namespace") return GetString(x, ev.namespace_, e);
    if (k == "Priority") return GetInt(x, ev.priority, e);
    if (k == "Type") return GetString(x, ev.type, e);
    if (k == "TriggeredBy") return GetString(x, ev.triggered_by, e);
    if (k == "JobID") return GetString(x, ev.job_id, e);
    if (k == "NodeID") return GetString(x, ev.node_id, e);
    if (k == "Status") return GetString(x, ev.status, e);
    if (k == "PreviousEval") return GetString(x, ev.previous_eval, e);
    if (k == "NextEval") return GetString(x, ev.next_eval, e);
    if (k == "WaitUntil") return GetTime(x, ev.wait_until, e);
    if (k == "CreateIndex") return GetInt(x, ev.create_index, e);
    if (k == "ModifyIndex") return GetInt(x, ev.modify_index, e);
    if (k == "CreateTime") return GetInt(x, ev.create_time, e);
    if (k == "ModifyTime") return GetInt(x, ev.modify_time, e);
    return true;
  });
}

bool DecodeWriteResultJ(const Json& v, WriteResult& w, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "EvalID") return GetString(x, w.eval_id, e);
    if (k == "EvalCreateIndex") return GetInt(x, w.eval_create_index, e);
    if (k == "JobModifyIndex") return GetInt(x, w.job_modify_index, e);
    if (k == "Warnings") return GetString(x, w.warnings, e);
    if (k == "Index") return GetInt(x, w.index, e);
    return true;
  });
}

// Parses `text` and runs `fn` on it; errors carry the path from `root`.
template <typename T, typename F>
base::Result<T> DecodeText(std::string_view text, std::string_view root, F&& fn) {
  DecodeError e;
  Json j;
  T out{};
  if (!Parse(text, j, e) || !fn(j, out, e)) return e.ToStatus(root);
  return out;
}

template <typename T, typename F>
base::Result<std::vector<T>> DecodeListText(std::string_view text, std::string_view root, F&& fn) {
  DecodeError e;
  Json j;
  std::vector<T> out;
  if (!Parse(text, j, e)) return e.ToStatus(root);
  if (!j.is_array()) {
    e.Fail("expected an array");
    return e.ToStatus(root);
  }
  if (!GetList(j, out, e, fn)) return e.ToStatus(root);
  return out;
}

template <typename T, typename F>
std::string EncodeList(const std::vector<T>& items, const EncodeOptions& opts, F&& fn) {
  Json j = Json::array();
  for (const T& item : items) j.push_back(fn(item));
  return Finish(j, opts);
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// Internal entry points (codec_internal.h)

namespace internal {

bool DecodeJobText(std::string_view text, Job& out, DecodeError& e) {
  Json j;
  return Parse(text, j, e) && DecodeJobJ(j, out, e);
}
bool DecodeNodeText(std::string_view text, Node& out, DecodeError& e) {
  Json j;
  return Parse(text, j, e) && DecodeNodeJ(j, out, e);
}
bool DecodeEvaluationText(std::string_view text, Evaluation& out, DecodeError& e) {
  Json j;
  return Parse(text, j, e) && DecodeEvaluationJ(j, out, e);
}
bool DecodeVariableText(std::string_view text, Variable& out, DecodeError& e) {
  Json j;
  return Parse(text, j, e) && DecodeVariableJ(j, out, e);
}

}  // namespace internal

// -----------------------------------------------------------------------------------------------
// Public API

std::string EncodeJob(const Job& job, EncodeOptions opts) {
  return Finish(JobJson(job, JobMode{.server = opts.server_fields}), opts);
}

base::Result<Job> DecodeJob(std::string_view json) {
  return DecodeText<Job>(json, "Job", DecodeJobJ);
}

std::string EncodeRegisterRequest(const RegisterRequest& req, EncodeOptions opts) {
  Json j = Json::object();
  j["Job"] = JobJson(req.job, JobMode{.server = opts.server_fields});
  j["EnforceIndex"] = req.enforce_index;
  j["JobModifyIndex"] = req.job_modify_index;
  return Finish(j, opts);
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

std::string EncodeAclPolicy(const AclPolicy& policy, EncodeOptions opts) {
  Json j = Json::object();
  j["Name"] = policy.name;
  j["Description"] = policy.description;
  j["Rules"] = policy.rules;
  if (policy.job_acl) {
    Json acl = Json::object();
    acl["Namespace"] = policy.job_acl->namespace_;
    acl["JobID"] = policy.job_acl->job_id;
    acl["Group"] = policy.job_acl->group;
    acl["Task"] = policy.job_acl->task;
    j["JobACL"] = std::move(acl);
  } else if (opts.server_fields) {
    j["JobACL"] = nullptr;
  }
  if (opts.server_fields) {
    j["CreateIndex"] = policy.create_index;
    j["ModifyIndex"] = policy.modify_index;
  }
  return Finish(j, opts);
}

base::Result<AclPolicy> DecodeAclPolicy(std::string_view json) {
  return DecodeText<AclPolicy>(json, "AclPolicy", DecodeAclPolicyJ);
}

base::Result<std::vector<AclPolicy>> DecodeAclPolicyList(std::string_view json) {
  return DecodeListText<AclPolicy>(json, "AclPolicies", DecodeAclPolicyJ);
}

std::string EncodeAllocation(const Allocation& alloc, EncodeOptions opts) {
  return Finish(AllocationJson(alloc, opts.omit_empty, /*include_job=*/true), opts);
}

std::string EncodeAllocationStub(const Allocation& alloc, EncodeOptions opts) {
  return Finish(AllocationStubJson(alloc), opts);
}

std::string EncodeAllocationList(const std::vector<Allocation>& allocs, EncodeOptions opts) {
  return EncodeList(allocs, opts, AllocationStubJson);
}

std::string EncodeNode(const Node& node, EncodeOptions opts) { return Finish(NodeJson(node), opts); }

std::string EncodeNodeStub(const Node& node, EncodeOptions opts) {
  return Finish(NodeStubJson(node), opts);
}

std::string EncodeNodeList(const std::vector<Node>& nodes, EncodeOptions opts) {
  return EncodeList(nodes, opts, NodeStubJson);
}

base::Result<Node> DecodeNode(std::string_view json) {
  return DecodeText<Node>(json, "Node", DecodeNodeJ);
}

base::Result<std::vector<Node>> DecodeNodeList(std::string_view json) {
  return DecodeListText<Node>(json, "Nodes", DecodeNodeJ);
}

std::string EncodeVariable(const Variable& var, EncodeOptions opts) {
  return Finish(VariableJson(var, /*with_items=*/true), opts);
}

std::string EncodeVariableList(const std::vector<Variable>& vars, EncodeOptions opts) {
  return EncodeList(vars, opts, [](const Variable& v) { return VariableJson(v, false); });
}

std::string EncodeZeroVariable(std::string_view namespace_, std::string_view path,
                               bool with_empty_lock, EncodeOptions opts) {
  Variable v;
  v.namespace_ = std::string(namespace_);
  v.path = std::string(path);
  if (with_empty_lock) v.lock = VariableLock{};
  return EncodeVariable(v, opts);
}

base::Result<Variable> DecodeVariable(std::string_view json) {
  return DecodeText<Variable>(json, "Variable", DecodeVariableJ);
}

base::Result<std::vector<Variable>> DecodeVariableList(std::string_view json) {
  return DecodeListText<Variable>(json, "Variables", DecodeVariableJ);
}

std::string EncodeEvaluation(const Evaluation& eval, EncodeOptions opts) {
  return Finish(EvaluationJson(eval, opts.omit_empty), opts);
}

std::string EncodeEvaluationList(const std::vector<Evaluation>& evals, EncodeOptions opts) {
  return EncodeList(evals, opts,
                    [&opts](const Evaluation& ev) { return EvaluationJson(ev, opts.omit_empty); });
}

base::Result<Evaluation> DecodeEvaluation(std::string_view json) {
  return DecodeText<Evaluation>(json, "Evaluation", DecodeEvaluationJ);
}

base::Result<std::vector<Evaluation>> DecodeEvaluationList(std::string_view json) {
  return DecodeListText<Evaluation>(json, "Evaluations", DecodeEvaluationJ);
}

std::string EncodeWriteResult(const WriteResult& result, EncodeOptions opts) {
  Json j = Json::object();
  j["EvalID"] = result.eval_id;
  j["EvalCreateIndex"] = result.eval_create_index;
  j["JobModifyIndex"] = result.job_modify_index;
  j["Warnings"] = result.warnings;
  j["Index"] = result.index;
  j["LastContact"] = 0;
  j["KnownLeader"] = false;
  j["NextToken"] = "";
  return Finish(j, opts);
}

base::Result<WriteResult> DecodeWriteResult(std::string_view json) {
  return DecodeText<WriteResult>(json, "WriteResult", DecodeWriteResultJ);
}

std::string EncodeFrame(const Frame& frame) {
  if (frame.IsHeartbeat()) return "{}\n";
  Json events = Json::array();
  for (const Event& ev : frame.events) {
    Json e = Json::object();
    e["Topic"] = ev.topic;
    e["Type"] = ev.type;
    e["Key"] = ev.key;
    e["Namespace"] = ev.namespace_;
    e["FilterKeys"] = ev.filter_keys.empty() ? Json(nullptr) : StringListJson(ev.filter_keys);
    e["Index"] = ev.index;
    Json payload = Json::object();
    if (ev.allocation) {
      payload["Allocation"] = AllocationJson(*ev.allocation, /*omit_empty=*/true, false);
    } else if (ev.job) {
      payload["Job"] = JobJson(*ev.job, JobMode{.server = true});
      if (ev.deleted) payload["Deleted"] = true;
    } else if (ev.node) {
      payload["Node"] = NodeJson(*ev.node);
    } else if (ev.evaluation) {
      payload["Evaluation"] = EvaluationJson(*ev.evaluation, /*omit_empty=*/true);
    } else if (ev.variable) {
      payload["Metadata"] = VariableJson(*ev.variable, /*with_items=*/false);
      payload["Deleted"] = ev.deleted;
    }
    e["Payload"] = std::move(payload);
    events.push_back(std::move(e));
  }
  Json j = Json::object();
  j["Index"] = frame.index;
  j["Events"] = std::move(events);
  return Dump(j) + "\n";
}

}  // namespace nsg::nomad
