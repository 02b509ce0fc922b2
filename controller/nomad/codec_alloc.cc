// The codec of Nomad allocations and evaluations (nlohmann): the full Allocation in Go field
// order (task states and events, desired transitions, reschedule tracker, allocation states), the
// allocation list stub, and evaluations, encoded and (evaluations) decoded. Allocations are
// decoded with simdjson in stream_decode.cc.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/nomad/codec.h"
#include "controller/nomad/codec_json_internal.h"

namespace nsg::nomad {
namespace internal {
namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

bool DecodeEvaluationText(std::string_view text, Evaluation& out, DecodeError& e) {
  Json j;
  return Parse(text, j, e) && DecodeEvaluationJ(j, out, e);
}

}  // namespace internal

using internal::AllocationJson;
using internal::AllocationStubJson;
using internal::DecodeEvaluationJ;
using internal::DecodeListText;
using internal::DecodeText;
using internal::EncodeList;
using internal::EvaluationJson;
using internal::Finish;

std::string EncodeAllocation(const Allocation& alloc, EncodeOptions opts) {
  return Finish(AllocationJson(alloc, opts.omit_empty, /*include_job=*/true), opts);
}

std::string EncodeAllocationStub(const Allocation& alloc, EncodeOptions opts) {
  return Finish(AllocationStubJson(alloc), opts);
}

std::string EncodeAllocationList(const std::vector<Allocation>& allocs, EncodeOptions opts) {
  return EncodeList(allocs, opts, AllocationStubJson);
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

}  // namespace nsg::nomad
