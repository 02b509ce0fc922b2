// Nomad event stream value types (GET /v1/event/stream, nomad-api.md §4).
//
// A Frame is one NDJSON line: a heartbeat `{}` (index 0, no events) or an Events object. Payloads
// are decoded for the topics nomad-singleton follows (Job, Allocation, Node, Variable, Evaluation);
// other topics keep only the envelope. Plain values; no synchronization.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "controller/nomad/allocation.h"
#include "controller/nomad/variable.h"

namespace nsg::nomad {

struct Event {
  std::string topic;  // Job | Allocation | Node | Variable | Evaluation | ...
  std::string type;   // JobRegistered, PlanResult, AllocationUpdated, NodeStreamEvent, ...
  std::string key;
  std::string namespace_;
  std::vector<std::string> filter_keys;
  uint64_t index = 0;
  // Exactly one payload is set, matching the topic (none for topics not modelled).
  std::optional<Job> job;
  // false: `job` is JobSummary of the payload (DecodeFrame with PayloadDetail::kSummary).
  bool job_detailed = true;
  std::optional<Allocation> allocation;
  std::optional<Node> node;
  std::optional<Evaluation> evaluation;
  std::optional<Variable> variable;  // Variable topic: payload "Metadata"
  bool deleted = false;              // Job purge, Variable delete
};

struct Frame {
  uint64_t index = 0;
  std::vector<Event> events;
  bool IsHeartbeat() const { return index == 0 && events.empty(); }
};

}  // namespace nsg::nomad
