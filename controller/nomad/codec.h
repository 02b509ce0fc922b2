// JSON codec for the Nomad value types (nlohmann inside, simdjson for allocations and event frames;
// no JSON library type in this header).
//
// Encoders write Nomad's wire form: PascalCase keys, durations as integer nanoseconds (except
// variable lock TTL/LockDelay, which are Go duration strings), unix-ns and RFC 3339 times as
// nomad-api.md §1.4 describes, unmodelled keys (`extra`) written back verbatim. Output is
// deterministic: modelled keys in declaration order, then `extra` keys sorted. Decoders accept
// what Nomad sends: missing keys and `null` leave a field at its default (the zero value, or the
// default the struct declares, e.g. Job.priority 50, TaskGroup.count 1 — Nomad's own API
// defaults), case-insensitive keys are NOT assumed (Nomad responses use exact PascalCase), RFC 3339
// or null for time.Time, string or number for lock durations. Unknown keys go to `extra` where the
// struct has one and are skipped elsewhere. Decoders return kInvalidSpec with a message naming the
// JSON path on malformed input, e.g. "Job.TaskGroups[0].Count: expected a number".
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
  // Job, RegisterRequest.Job and AclPolicy. false: a request body as the controller sends it — the
  // read-only fields (Stop, Status, Version, CreateIndex, ModifyIndex, JobModifyIndex, SubmitTime;
  // AclPolicy indexes) are left out, and so are unset values (nullopt, empty maps and lists, an
  // empty Task::config, an empty Disconnect.Reconcile). true: as the server answers (GET
  // /v1/job/:id): every modelled key, unset values written as null (Job is not omit-empty).
  bool server_fields = false;
};

std::string EncodeJob(const Job& job, EncodeOptions opts = {});
base::Result<Job> DecodeJob(std::string_view json);
// {"Job": {...}, "EnforceIndex": ..., "JobModifyIndex": ...}. Other request keys (PolicyOverride,
// Submission, ...) are ignored by the decoder; its error paths start at "Job", as DecodeJob's do.
// With req.encoded_job set, its bytes are the "Job" value as they are (compact, request form).
std::string EncodeRegisterRequest(const RegisterRequest& req, EncodeOptions opts = {});
// The job a request registers: `job`, or `encoded_job` decoded when it is set.
base::Result<Job> RegisteredJob(const RegisterRequest& req);
base::Result<RegisterRequest> DecodeRegisterRequest(std::string_view json);

std::string EncodeAclPolicy(const AclPolicy& policy, EncodeOptions opts = {});
base::Result<AclPolicy> DecodeAclPolicy(std::string_view json);
// GET /v1/acl/policies: ACLPolicyListStubs (Rules empty).
base::Result<std::vector<AclPolicy>> DecodeAclPolicyList(std::string_view json);

// The full Allocation (GET /v1/allocation/:id; `job` included when set, encoded as with
// server_fields). opts.omit_empty leaves every zero-valued field out, as Nomad does; otherwise
// every modelled key is written. Keys the struct does not model (AllocatedResources, Metrics,
// DeploymentStatus, the rarer TaskEvent fields, ...) are not written.
std::string EncodeAllocation(const Allocation& alloc, EncodeOptions opts = {});
// AllocListStub (§6.2): every stub key always present; never PreviousAllocation, AllocStates,
// DeploymentID or Job. EncodeAllocationList writes a JSON array of stubs (the list endpoints).
std::string EncodeAllocationStub(const Allocation& alloc, EncodeOptions opts = {});
std::string EncodeAllocationList(const std::vector<Allocation>& allocs, EncodeOptions opts = {});
// Accept the full shape, the stub shape and event payloads (simdjson; unknown keys skipped).
base::Result<Allocation> DecodeAllocation(std::string_view json);
base::Result<std::vector<Allocation>> DecodeAllocationList(std::string_view json);
// The simdjson decoders (DecodeFrame, DecodeAllocation, DecodeAllocationList) reuse one parser and
// buffer per thread, sized to the largest document parsed; after a document larger than this they
// free them instead, so a big list does not stay pinned in every thread that decoded one.
inline constexpr size_t kMaxRetainedDocumentBytes = size_t{1} << 20;
// What the calling thread's decoder scratch holds now (parser capacity + buffer capacity).
size_t ThreadDecodeScratchBytes();

// The full Node (GET /v1/node/:id, event payloads): HTTPAddr is `address` plus ":4646" when it has
// no port, StatusUpdatedAt in unix seconds, the legacy "Drain" bool and DrainStrategy.
std::string EncodeNode(const Node& node, EncodeOptions opts = {});
// NodeListStub (§7.1; it has no StatusUpdatedAt). EncodeNodeList writes a JSON array of stubs.
std::string EncodeNodeStub(const Node& node, EncodeOptions opts = {});
std::string EncodeNodeList(const std::vector<Node>& nodes, EncodeOptions opts = {});
// Accept a full node or a stub: `address` from "Address", else the host part of "HTTPAddr";
// `drain` from "Drain", else whether "DrainStrategy" is non-null.
base::Result<Node> DecodeNode(std::string_view json);
base::Result<std::vector<Node>> DecodeNodeList(std::string_view json);

// Items are left out when empty, Lock when nullopt (omitempty). EncodeVariableList writes
// VariableMetadata (never Items), as GET /v1/vars does.
std::string EncodeVariable(const Variable& var, EncodeOptions opts = {});
std::string EncodeVariableList(const std::vector<Variable>& vars, EncodeOptions opts = {});
// The zero-valued variable of the 409 conflict bodies (§2.5-§2.7):
// {"Namespace":ns,"Path":path,"CreateIndex":0,"CreateTime":0,"ModifyIndex":0,"ModifyTime":0};
// with_empty_lock adds "Lock":{"TTL":"","LockDelay":"","ID":""} after Path (release conflict seen
// by a caller that cannot read the variable).
std::string EncodeZeroVariable(std::string_view namespace_, std::string_view path,
                               bool with_empty_lock = false, EncodeOptions opts = {});
base::Result<Variable> DecodeVariable(std::string_view json);
base::Result<std::vector<Variable>> DecodeVariableList(std::string_view json);

// opts.omit_empty as for Allocation (Nomad's own encoding of evaluations).
std::string EncodeEvaluation(const Evaluation& eval, EncodeOptions opts = {});
std::string EncodeEvaluationList(const std::vector<Evaluation>& evals, EncodeOptions opts = {});
base::Result<Evaluation> DecodeEvaluation(std::string_view json);
base::Result<std::vector<Evaluation>> DecodeEvaluationList(std::string_view json);

// JobRegisterResponse shape (register, evaluate): {"EvalID","EvalCreateIndex","JobModifyIndex",
// "Warnings","Index","LastContact":0,"KnownLeader":false,"NextToken":""}. The decoder also reads
// the deregister and alloc-stop responses (missing keys stay zero).
std::string EncodeWriteResult(const WriteResult& result, EncodeOptions opts = {});
base::Result<WriteResult> DecodeWriteResult(std::string_view json);

// One event-stream line (a trailing newline and surrounding whitespace are fine). Heartbeats
// decode to an empty Frame. simdjson on the hot path; a thread_local parser and buffer are reused,
// so the call allocates only for the decoded values. Payloads are decoded for the topics Event
// models; a payload that does not match its event's topic is dropped. Malformed input (truncated,
// wrong types, an empty line) gives kInvalidSpec with the JSON path ("Frame.Events[0].Payload...").
//
// `detail` kSummary decodes of each Allocation payload only what a controller's cluster view
// keeps: ID, Namespace, Name, NodeID, JobID, JobType, JobVersion, TaskGroup, DesiredStatus,
// DesiredTransition, ClientStatus, the four indexes and times (CreateIndex, ModifyIndex,
// AllocModifyIndex, CreateTime, ModifyTime). The rest (TaskStates with their event histories,
// descriptions, links, RescheduleTracker, AllocStates) is skipped unread, as unknown keys are, so
// it is not checked either; it was ~40 % of the decode of a real event (docs/benchmarks.md). A
// Job payload is decoded to its JobSummary (nomad/job.h; Event::job_detailed false) with
// simdjson instead of whole with nlohmann: what the view keeps of a job until a plan needs all of
// it, which the reconciler then reads.
enum class PayloadDetail { kFull, kSummary };
base::Result<Frame> DecodeFrame(std::string_view line,
                                PayloadDetail detail = PayloadDetail::kFull);
// Nomad's framing of one line, including the trailing '\n': "{}\n" for a heartbeat, otherwise
// {"Index":..,"Events":[{"Topic","Type","Key","Namespace","FilterKeys","Index","Payload"}]} with
// payloads as §4.4 (Allocation omit-empty and without Job, Evaluation omit-empty, Variable as
// {"Metadata","Deleted"}, Job with "Deleted":true only on purge; `{}` for unmodelled topics).
std::string EncodeFrame(const Frame& frame);

// RFC 3339 with nanoseconds <-> unix ns; the zero time is "0001-01-01T00:00:00Z" (and decodes to 0).
std::string FormatRfc3339(int64_t unix_ns);
base::Result<int64_t> ParseRfc3339(std::string_view text);

}  // namespace nsg::nomad
