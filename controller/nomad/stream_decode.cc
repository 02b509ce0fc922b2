// simdjson (ondemand) half of the codec: event-stream frames and allocations, the hot path
// (cpp-libs.md §5). Error-code API only: simdjson exceptions are never enabled here. Keys are
// dispatched in whatever order they come, so the decoder does not depend on Go's field order.

#include <cstdint>
#include <limits>
#include <simdjson.h>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "controller/nomad/codec.h"
#include "controller/nomad/codec_internal.h"

namespace nsg::nomad {
namespace {

namespace od = simdjson::ondemand;
using internal::DecodeError;

bool Invalid(simdjson::error_code ec, DecodeError& e) {
  return e.Fail(std::string("invalid JSON: ") + simdjson::error_message(ec));
}

// A type mismatch gets "expected <what>"; anything else is malformed JSON.
bool Mismatch(simdjson::error_code ec, DecodeError& e, const char* what) {
  switch (ec) {
    case simdjson::INCORRECT_TYPE:
    case simdjson::NUMBER_ERROR:
      return e.Fail(std::string("expected ") + what);
    case simdjson::NUMBER_OUT_OF_RANGE:
      return e.Fail("out of range");
    default:
      return Invalid(ec, e);
  }
}

// Returns true (and consumes the value) when it is JSON null. `ok` is false on malformed input.
bool TakeNull(od::value& v, bool& ok, DecodeError& e) {
  od::json_type t;
  if (auto ec = v.type().get(t)) {
    ok = Invalid(ec, e);
    return true;
  }
  if (t != od::json_type::null) return false;
  bool is_null = false;
  if (auto ec = v.is_null().get(is_null)) {
    ok = Invalid(ec, e);
  } else if (!is_null) {
    ok = e.Fail("invalid JSON: bad literal");
  }
  return true;
}

// After a typed get failed with `ec`: JSON null is accepted (and consumed), anything else is an
// error. Typed gets do not advance on a type mismatch, so the value can still be tested for null.
bool NullOr(od::value& v, simdjson::error_code ec, DecodeError& e, const char* what) {
  if (ec == simdjson::INCORRECT_TYPE) {
    bool is_null = false;
    if (v.is_null().get(is_null) == simdjson::SUCCESS && is_null) return true;
  }
  return Mismatch(ec, e, what);
}

bool ReadString(od::value v, std::string& out, DecodeError& e) {
  std::string_view s;
  if (auto ec = v.get_string().get(s)) return NullOr(v, ec, e, "a string");
  out.assign(s.data(), s.size());
  return true;
}

bool ReadBool(od::value v, bool& out, DecodeError& e) {
  bool b = false;
  if (auto ec = v.get_bool().get(b)) return NullOr(v, ec, e, "a boolean");
  out = b;
  return true;
}

bool ReadOptionalBool(od::value v, std::optional<bool>& out, DecodeError& e) {
  bool b = false;
  if (auto ec = v.get_bool().get(b)) {
    out.reset();
    return NullOr(v, ec, e, "a boolean");
  }
  out = b;
  return true;
}

// A failed integer read: null is fine; otherwise say whether it was a number at all.
bool IntError(od::value& v, simdjson::error_code ec, DecodeError& e, const char* what) {
  od::json_type t;
  if (v.type().get(t) == simdjson::SUCCESS && t != od::json_type::number) {
    return NullOr(v, simdjson::INCORRECT_TYPE, e, "a number");
  }
  return Mismatch(ec, e, what);
}

template <typename Int>
bool ReadInt(od::value v, Int& out, DecodeError& e) {
  static_assert(std::is_integral_v<Int>);
  if constexpr (std::is_unsigned_v<Int>) {
    uint64_t u = 0;
    if (auto ec = v.get_uint64().get(u)) return IntError(v, ec, e, "a non-negative integer");
    if (u > std::numeric_limits<Int>::max()) return e.Fail("out of range");
    out = static_cast<Int>(u);
  } else {
    int64_t i = 0;
    if (auto ec = v.get_int64().get(i)) return IntError(v, ec, e, "an integer");
    if (i < std::numeric_limits<Int>::min() || i > std::numeric_limits<Int>::max()) {
      return e.Fail("out of range");
    }
    out = static_cast<Int>(i);
  }
  return true;
}

bool ReadDuration(od::value v, Duration& out, DecodeError& e) {
  int64_t ns = out.count();
  if (!ReadInt(v, ns, e)) return false;
  out = Duration(ns);
  return true;
}

bool ReadTime(od::value v, int64_t& out, DecodeError& e) {
  std::string_view s;
  if (auto ec = v.get_string().get(s)) return NullOr(v, ec, e, "an RFC 3339 time string");
  auto t = ParseRfc3339(s);
  if (!t.ok()) return e.Fail(t.status().message());
  out = *t;
  return true;
}

// A member's key. Keys without escapes (all of Nomad's) are read in place, which is much cheaper
// than unescaping them into the parser's string buffer; the scan cannot run past the zero padding
// WithDocument puts after the text.
bool FieldKey(od::field& field, std::string_view& key, DecodeError& e) {
  const char* raw = field.key().raw();
  for (size_t n = 0;; ++n) {
    const char c = raw[n];
    if (c == '"') {
      key = std::string_view(raw, n);
      return true;
    }
    if (c == '\\' || c == '\0') break;
  }
  if (auto ec = field.unescaped_key().get(key)) return Invalid(ec, e);
  return true;
}

// Calls fn(key, value) -> bool for each member; a false return gets the key added to the path.
// Null counts as an empty object.
template <typename F>
bool ForEachField(od::value v, DecodeError& e, F&& fn) {
  od::object obj;
  if (auto ec = v.get_object().get(obj)) return NullOr(v, ec, e, "an object");
  for (auto field_result : obj) {
    if (auto ec = field_result.error()) return Invalid(ec, e);
    od::field& field = field_result.value_unsafe();  // no copy of the field
    std::string_view key;
    if (!FieldKey(field, key, e)) return false;
    if (!fn(key, field.value())) return e.Key(key);
  }
  return true;
}

// Calls fn(index, value) -> bool for each element; null counts as an empty array.
template <typename F>
bool ForEachElement(od::value v, DecodeError& e, F&& fn) {
  od::array arr;
  if (auto ec = v.get_array().get(arr)) return NullOr(v, ec, e, "an array");
  size_t i = 0;
  for (auto elem_result : arr) {
    od::value elem;
    if (auto ec = std::move(elem_result).get(elem)) return Invalid(ec, e);
    if (!fn(i, elem)) return e.Index(i);
    ++i;
  }
  return true;
}

bool ReadStringMap(od::value v, StringMap& out, DecodeError& e) {
  out.clear();
  return ForEachField(v, e, [&](std::string_view k, od::value x) {
    return ReadString(x, out[std::string(k)], e);
  });
}

bool ReadStringList(od::value v, std::vector<std::string>& out, DecodeError& e) {
  out.clear();
  return ForEachElement(v, e, [&](size_t, od::value x) {
    return ReadString(x, out.emplace_back(), e);
  });
}

// The JSON text of an object value, for the nlohmann decoders. Null gives `is_null`.
bool RawObject(od::value v, std::string_view& raw, bool& is_null, DecodeError& e) {
  bool ok = true;
  is_null = TakeNull(v, ok, e);
  if (is_null) return ok;
  od::object obj;
  if (auto ec = v.get_object().get(obj)) return Mismatch(ec, e, "an object");
  if (auto ec = obj.raw_json().get(raw)) return Invalid(ec, e);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Allocation

bool ReadTaskEvent(od::value v, TaskEvent& ev, DecodeError& e) {
  return ForEachField(v, e, [&](std::string_view k, od::value x) {
    if (k == "Type") return ReadString(x, ev.type, e);
    if (k == "Time") return ReadInt(x, ev.time, e);
    if (k == "DisplayMessage") return ReadString(x, ev.display_message, e);
    if (k == "Message") return ReadString(x, ev.message, e);
    if (k == "ExitCode") return ReadInt(x, ev.exit_code, e);
    if (k == "Signal") return ReadInt(x, ev.signal, e);
    if (k == "FailsTask") return ReadBool(x, ev.fails_task, e);
    if (k == "Details") return ReadStringMap(x, ev.details, e);
    return true;
  });
}

bool ReadTaskState(od::value v, TaskState& s, DecodeError& e) {
  return ForEachField(v, e, [&](std::string_view k, od::value x) {
    if (k == "State") return ReadString(x, s.state, e);
    if (k == "Failed") return ReadBool(x, s.failed, e);
    if (k == "Restarts") return ReadInt(x, s.restarts, e);
    if (k == "LastRestart") return ReadTime(x, s.last_restart, e);
    if (k == "StartedAt") return ReadTime(x, s.started_at, e);
    if (k == "FinishedAt") return ReadTime(x, s.finished_at, e);
    if (k == "Events") {
      s.events.clear();
      return ForEachElement(x, e, [&](size_t, od::value ev) {
        return ReadTaskEvent(ev, s.events.emplace_back(), e);
      });
    }
    return true;
  });
}

bool ReadDesiredTransition(od::value v, DesiredTransition& t, DecodeError& e) {
  return ForEachField(v, e, [&](std::string_view k, od::value x) {
    if (k == "Migrate") return ReadOptionalBool(x, t.migrate, e);
    if (k == "Reschedule") return ReadOptionalBool(x, t.reschedule, e);
    if (k == "ForceReschedule") return ReadOptionalBool(x, t.force_reschedule, e);
    if (k == "NoShutdownDelay") return ReadOptionalBool(x, t.no_shutdown_delay, e);
    return true;
  });
}

bool ReadRescheduleTracker(od::value v, std::vector<RescheduleEvent>& events, DecodeError& e) {
  events.clear();
  return ForEachField(v, e, [&](std::string_view k, od::value x) {
    if (k != "Events") return true;
    return ForEachElement(x, e, [&](size_t, od::value item) {
      RescheduleEvent& ev = events.emplace_back();
      return ForEachField(item, e, [&](std::string_view f, od::value y) {
        if (f == "RescheduleTime") return ReadInt(y, ev.reschedule_time, e);
        if (f == "PrevAllocID") return ReadString(y, ev.prev_alloc_id, e);
        if (f == "PrevNodeID") return ReadString(y, ev.prev_node_id, e);
        if (f == "Delay") return ReadDuration(y, ev.delay, e);
        return true;
      });
    });
  });
}

bool ReadAllocStates(od::value v, std::vector<AllocState>& states, DecodeError& e) {
  states.clear();
  return ForEachElement(v, e, [&](size_t, od::value item) {
    AllocState& s = states.emplace_back();
    return ForEachField(item, e, [&](std::string_view f, od::value y) {
      if (f == "Field") return ReadString(y, s.field, e);
      if (f == "Value") return ReadString(y, s.value, e);
      if (f == "Time") return ReadTime(y, s.time, e);
      return true;
    });
  });
}

// The summary fields (PayloadDetail::kSummary) first; then, for the full detail, the rest.
bool ReadAllocation(od::value v, Allocation& a, DecodeError& e,
                    PayloadDetail detail = PayloadDetail::kFull) {
  const bool full = detail == PayloadDetail::kFull;
  return ForEachField(v, e, [&](std::string_view k, od::value x) {
    if (k == "ID") return ReadString(x, a.id, e);
    if (k == "Namespace") return ReadString(x, a.namespace_, e);
    if (k == "Name") return ReadString(x, a.name, e);
    if (k == "NodeID") return ReadString(x, a.node_id, e);
    if (k == "JobID") return ReadString(x, a.job_id, e);
    if (k == "TaskGroup") return ReadString(x, a.task_group, e);
    if (k == "DesiredStatus") return ReadString(x, a.desired_status, e);
    if (k == "DesiredTransition") return ReadDesiredTransition(x, a.desired_transition, e);
    if (k == "ClientStatus") return ReadString(x, a.client_status, e);
    if (k == "CreateIndex") return ReadInt(x, a.create_index, e);
    if (k == "ModifyIndex") return ReadInt(x, a.modify_index, e);
    if (k == "AllocModifyIndex") return ReadInt(x, a.alloc_modify_index, e);
    if (k == "CreateTime") return ReadInt(x, a.create_time, e);
    if (k == "ModifyTime") return ReadInt(x, a.modify_time, e);
    if (k == "JobType") return ReadString(x, a.job_type, e);
    if (k == "JobVersion") return ReadInt(x, a.job_version, e);
    if (!full) return true;  // skipped unread, as the unmodelled keys below
    if (k == "EvalID") return ReadString(x, a.eval_id, e);
    if (k == "NodeName") return ReadString(x, a.node_name, e);
    if (k == "DesiredDescription") return ReadString(x, a.desired_description, e);
    if (k == "ClientDescription") return ReadString(x, a.client_description, e);
    if (k == "TaskStates") {
      a.task_states.clear();
      return ForEachField(x, e, [&](std::string_view task, od::value s) {
        return ReadTaskState(s, a.task_states[std::string(task)], e);
      });
    }
    if (k == "PreviousAllocation") return ReadString(x, a.previous_allocation, e);
    if (k == "NextAllocation") return ReadString(x, a.next_allocation, e);
    if (k == "FollowupEvalID") return ReadString(x, a.followup_eval_id, e);
    if (k == "RescheduleTracker") return ReadRescheduleTracker(x, a.reschedule_events, e);
    if (k == "AllocStates") return ReadAllocStates(x, a.alloc_states, e);
    if (k == "Job") {
      std::string_view raw;
      bool is_null = false;
      if (!RawObject(x, raw, is_null, e)) return false;
      if (is_null) {
        a.job.reset();
        return true;
      }
      return internal::DecodeJobText(raw, a.job.emplace(), e);
    }
    return true;  // AllocatedResources, Metrics, DeploymentStatus, ...: skipped unread
  });
}

// ---------------------------------------------------------------------------------------------
// Job summary (PayloadDetail::kSummary): the fields of nomad::JobSummary, the rest skipped unread.

bool ReadPeriodicSummary(od::value v, std::optional<PeriodicConfig>& out, DecodeError& e) {
  bool ok = true;
  if (TakeNull(v, ok, e)) {
    out.reset();
    return ok;
  }
  PeriodicConfig& p = out.emplace();
  return ForEachField(v, e, [&](std::string_view k, od::value x) {
    if (k == "Enabled") return ReadBool(x, p.enabled, e);
    if (k == "SpecType") return ReadString(x, p.spec_type, e);
    if (k == "Spec") return ReadString(x, p.spec, e);
    if (k == "ProhibitOverlap") return ReadBool(x, p.prohibit_overlap, e);
    if (k == "TimeZone") return ReadString(x, p.time_zone, e);
    return true;
  });
}

bool ReadJobSummary(od::value v, Job& job, DecodeError& e) {
  return ForEachField(v, e, [&](std::string_view k, od::value x) {
    if (k == "ID") return ReadString(x, job.id, e);
    if (k == "Name") return ReadString(x, job.name, e);
    if (k == "Namespace") return ReadString(x, job.namespace_, e);
    if (k == "Region") return ReadString(x, job.region, e);
    if (k == "Type") return ReadString(x, job.type, e);
    if (k == "Priority") return ReadInt(x, job.priority, e);
    if (k == "Datacenters") return ReadStringList(x, job.datacenters, e);
    if (k == "NodePool") return ReadString(x, job.node_pool, e);
    if (k == "TaskGroups") {
      job.task_groups.clear();
      return ForEachElement(x, e, [&](size_t, od::value item) {
        bool ok = true;
        if (TakeNull(item, ok, e)) return ok ? e.Fail("expected an object") : false;
        TaskGroup& g = job.task_groups.emplace_back();
        return ForEachField(item, e, [&](std::string_view f, od::value y) {
          if (f == "Name") return ReadString(y, g.name, e);
          if (f == "Count") return ReadInt(y, g.count, e);
          return true;
        });
      });
    }
    if (k == "Periodic") return ReadPeriodicSummary(x, job.periodic, e);
    if (k == "Meta") return ReadStringMap(x, job.meta, e);
    if (k == "Stop") return ReadBool(x, job.stop, e);
    if (k == "Status") return ReadString(x, job.status, e);
    if (k == "Version") return ReadInt(x, job.version, e);
    if (k == "CreateIndex") return ReadInt(x, job.create_index, e);
    if (k == "ModifyIndex") return ReadInt(x, job.modify_index, e);
    if (k == "JobModifyIndex") return ReadInt(x, job.job_modify_index, e);
    if (k == "SubmitTime") return ReadInt(x, job.submit_time, e);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Frames

// Decodes a payload value whose topic is `topic` ("" when Payload came before Topic: then every
// modelled payload key is decoded and the event sorts it out afterwards).
bool ReadPayload(od::value v, std::string_view topic, Event& ev, DecodeError& e,
                 PayloadDetail detail) {
  const bool any = topic.empty();
  return ForEachField(v, e, [&](std::string_view k, od::value x) {
    if (k == "Allocation" && (any || topic == "Allocation")) {
      bool ok = true;
      if (TakeNull(x, ok, e)) return ok;
      return ReadAllocation(x, ev.allocation.emplace(), e, detail);
    }
    if (k == "Deleted" && (any || topic == "Job" || topic == "Variable")) {
      return ReadBool(x, ev.deleted, e);
    }
    if (k == "Job" && (any || topic == "Job") && detail == PayloadDetail::kSummary) {
      bool ok = true;
      if (TakeNull(x, ok, e)) return ok;
      ev.job_detailed = false;
      return ReadJobSummary(x, ev.job.emplace(), e);
    }
    // The rarer payloads go through the nlohmann decoders on the object's raw text.
    enum { kNone, kJob, kNode, kEval, kVar } which = kNone;
    if (k == "Job" && (any || topic == "Job")) which = kJob;
    if (k == "Node" && (any || topic == "Node")) which = kNode;
    if (k == "Evaluation" && (any || topic == "Evaluation")) which = kEval;
    if (k == "Metadata" && (any || topic == "Variable")) which = kVar;
    if (which == kNone) return true;
    std::string_view raw;
    bool is_null = false;
    if (!RawObject(x, raw, is_null, e)) return false;
    if (is_null) return true;
    switch (which) {
      case kJob: return internal::DecodeJobText(raw, ev.job.emplace(), e);
      case kNode: return internal::DecodeNodeText(raw, ev.node.emplace(), e);
      case kEval: return internal::DecodeEvaluationText(raw, ev.evaluation.emplace(), e);
      case kVar: return internal::DecodeVariableText(raw, ev.variable.emplace(), e);
      case kNone: break;
    }
    return true;
  });
}

// Keeps only the payload that matches the event's topic.
void KeepTopicPayload(Event& ev) {
  if (ev.topic != "Allocation") ev.allocation.reset();
  if (ev.topic != "Job") {
    ev.job.reset();
    ev.job_detailed = true;
  }
  if (ev.topic != "Node") ev.node.reset();
  if (ev.topic != "Evaluation") ev.evaluation.reset();
  if (ev.topic != "Variable") ev.variable.reset();
  if (ev.topic != "Job" && ev.topic != "Variable") ev.deleted = false;
}

bool ReadEvent(od::value v, Event& ev, DecodeError& e, PayloadDetail detail) {
  bool ok = true;
  if (TakeNull(v, ok, e)) return ok ? e.Fail("expected an object") : false;
  const bool fields_ok = ForEachField(v, e, [&](std::string_view k, od::value x) {
    if (k == "Topic") return ReadString(x, ev.topic, e);
    if (k == "Type") return ReadString(x, ev.type, e);
    if (k == "Key") return ReadString(x, ev.key, e);
    if (k == "Namespace") return ReadString(x, ev.namespace_, e);
    if (k == "FilterKeys") return ReadStringList(x, ev.filter_keys, e);
    if (k == "Index") return ReadInt(x, ev.index, e);
    if (k == "Payload") return ReadPayload(x, ev.topic, ev, e, detail);
    return true;
  });
  if (!fields_ok) return false;
  KeepTopicPayload(ev);
  return true;
}

bool ReadFrame(od::value v, Frame& frame, DecodeError& e, PayloadDetail detail) {
  return ForEachField(v, e, [&](std::string_view k, od::value x) {
    if (k == "Index") return ReadInt(x, frame.index, e);
    if (k == "Events") {
      frame.events.clear();
      return ForEachElement(x, e, [&](size_t, od::value item) {
        return ReadEvent(item, frame.events.emplace_back(), e, detail);
      });
    }
    return true;
  });
}

// The thread's reusable parser and padded buffer. simdjson sizes the parser to the largest
// document it has parsed (about 5 bytes per input byte) and keeps it; one 10k-singleton allocation
// list would pin tens of MB in every thread that ever decoded one (issue 17: RSS across resyncs).
struct DecodeScratch {
  od::parser parser;
  std::string buffer;
};
DecodeScratch& ThreadScratch() {
  thread_local DecodeScratch scratch;
  return scratch;
}

// Frees the scratch after a document larger than kMaxRetainedDocumentBytes; smaller ones (event
// frames, single objects) keep reusing it. Declared before the document so that it runs after the
// document (which points into the parser) is gone.
class ReleaseLargeScratch {
 public:
  ReleaseLargeScratch(DecodeScratch& s, size_t document_bytes) : s_(s), bytes_(document_bytes) {}
  ~ReleaseLargeScratch() {
    if (bytes_ <= kMaxRetainedDocumentBytes) return;
    s_.parser = od::parser{};
    std::string().swap(s_.buffer);
  }
  ReleaseLargeScratch(const ReleaseLargeScratch&) = delete;
  ReleaseLargeScratch& operator=(const ReleaseLargeScratch&) = delete;

 private:
  DecodeScratch& s_;
  size_t bytes_;
};

// Parses `text` with the thread's reusable parser and padded buffer, runs fn on the root value,
// and checks that nothing but whitespace follows it.
template <typename F>
bool WithDocument(std::string_view text, DecodeError& e, F&& fn) {
  DecodeScratch& scratch = ThreadScratch();
  ReleaseLargeScratch release(scratch, text.size());
  od::parser& parser = scratch.parser;
  std::string& buffer = scratch.buffer;
  // The text plus SIMDJSON_PADDING zero bytes: simdjson may read the padding, and FieldKey's
  // scan for a key's closing quote always stops inside it.
  buffer.reserve(text.size() + simdjson::SIMDJSON_PADDING);
  buffer.assign(text.data(), text.size());
  buffer.append(simdjson::SIMDJSON_PADDING, '\0');
  od::document doc;
  if (auto ec = parser.iterate(simdjson::padded_string_view(buffer.data(), text.size(),
                                                            buffer.size()))
                    .get(doc)) {
    return Invalid(ec, e);
  }
  bool scalar = false;
  if (auto ec = doc.is_scalar().get(scalar)) return Invalid(ec, e);
  if (scalar) return e.Fail("expected an object or an array");
  od::value root;
  if (auto ec = doc.get_value().get(root)) return Invalid(ec, e);
  if (!fn(root)) return false;
  const char* end = nullptr;
  if (doc.current_location().get(end) != simdjson::OUT_OF_BOUNDS) {
    return e.Fail("invalid JSON: unexpected content after the value");
  }
  return true;
}

}  // namespace

size_t ThreadDecodeScratchBytes() {
  const DecodeScratch& s = ThreadScratch();
  // A string's inline capacity is not heap.
  const size_t inline_capacity = std::string().capacity();
  return s.parser.capacity() + (s.buffer.capacity() > inline_capacity ? s.buffer.capacity() : 0);
}

base::Result<Frame> DecodeFrame(std::string_view line, PayloadDetail detail) {
  DecodeError e;
  Frame frame;
  const bool ok = WithDocument(line, e, [&](od::value root) {
    od::json_type t;
    if (auto ec = root.type().get(t)) return Invalid(ec, e);
    if (t != od::json_type::object) return e.Fail("expected an object");
    return ReadFrame(root, frame, e, detail);
  });
  if (!ok) return e.ToStatus("Frame");
  return frame;
}

base::Result<Allocation> DecodeAllocation(std::string_view json) {
  DecodeError e;
  Allocation alloc;
  const bool ok = WithDocument(json, e, [&](od::value root) {
    od::json_type t;
    if (auto ec = root.type().get(t)) return Invalid(ec, e);
    if (t != od::json_type::object) return e.Fail("expected an object");
    return ReadAllocation(root, alloc, e);
  });
  if (!ok) return e.ToStatus("Allocation");
  return alloc;
}

base::Result<std::vector<Allocation>> DecodeAllocationList(std::string_view json) {
  DecodeError e;
  std::vector<Allocation> allocs;
  const bool ok = WithDocument(json, e, [&](od::value root) {
    od::json_type t;
    if (auto ec = root.type().get(t)) return Invalid(ec, e);
    if (t != od::json_type::array) return e.Fail("expected an array");
    return ForEachElement(root, e, [&](size_t, od::value item) {
      return ReadAllocation(item, allocs.emplace_back(), e);
    });
  });
  if (!ok) return e.ToStatus("Allocations");
  return allocs;
}

}  // namespace nsg::nomad
