// JSON codec for the Nomad value types (nlohmann inside; no JSON library type in this header).
//
// Encoders write Nomad's wire form: PascalCase keys, durations as integer nanoseconds (except
// variable lock TTL/LockDelay, which are Go duration strings), unix-ns and RFC 3339 times as
// nomad-api.md §1.4 describes, unmodelled keys (`extra`) written back verbatim. Decoders accept
// what Nomad sends: missing keys and `null` as zero values, case-insensitive keys are NOT assumed
// (Nomad responses use exact PascalCase), RFC 3339 or null for time.Time, string or number for lock
// durations. Decoders return kInvalidSpec with a message naming the JSON path on malformed input.
// Pure functions; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/base/status.h"
#include "controller/nomad/allocation.h"
#include "controller/nomad/event.h"
#include "controller/nomad/job.h"
#include "controller/nomad/variable.h"

namespace nsg::nomad {

// How an encoder lays out its output.
struct EncodeOptions {
  bool pretty = false;      // 2-space indent (golden files, `render`)
  bool omit_empty = false;  // Allocation/Evaluation: leave zero-valued fields out (§1.4)
};

std::string EncodeJob(const Job& job, EncodeOptions opts = {});
base::Result<Job> DecodeJob(std::string_view json);
// {"Job": {...}, "EnforceIndex": ..., "JobModifyIndex": ...}
std::string EncodeRegisterRequest(const RegisterRequest& req, EncodeOptions opts = {});
base::Result<RegisterRequest> DecodeRegisterRequest(std::string_view json);

std::string EncodeAclPolicy(const AclPolicy& policy, EncodeOptions opts = {});
base::Result<AclPolicy> DecodeAclPolicy(std::string_view json);

std::string EncodeAllocation(const Allocation& alloc, EncodeOptions opts = {});
base::Result<Allocation> DecodeAllocation(std::string_view json);
base::Result<std::vector<Allocation>> DecodeAllocationList(std::string_view json);

std::string EncodeNode(const Node& node, EncodeOptions opts = {});
base::Result<std::vector<Node>> DecodeNodeList(std::string_view json);

std::string EncodeVariable(const Variable& var, EncodeOptions opts = {});
base::Result<Variable> DecodeVariable(std::string_view json);
base::Result<std::vector<Variable>> DecodeVariableList(std::string_view json);

std::string EncodeEvaluation(const Evaluation& eval, EncodeOptions opts = {});

// One event-stream line. Heartbeats decode to an empty Frame.
base::Result<Frame> DecodeFrame(std::string_view line);

// RFC 3339 with nanoseconds <-> unix ns; the zero time is "0001-01-01T00:00:00Z" (and decodes to 0).
std::string FormatRfc3339(int64_t unix_ns);
base::Result<int64_t> ParseRfc3339(std::string_view text);

}  // namespace nsg::nomad
