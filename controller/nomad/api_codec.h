// JSON for the NomadApi request and response shapes that codec.h does not cover: the job list
// stub, the plan request and response (with its Diff), and the bodies of the variable and lock
// writes, parse and evaluate (nomad-api.md §2.5-§2.7, §5.1, §5.4, §5.5, §5.8).
//
// Encoders write exactly the keys Nomad reads; decoders accept missing keys and null as zero
// values and return kInvalidSpec naming the JSON path on a type mismatch. nlohmann inside; no
// JSON library type here. Pure functions; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/base/status.h"
#include "controller/nomad/api.h"
#include "controller/nomad/job.h"
#include "controller/nomad/plan.h"
#include "controller/nomad/variable.h"

namespace nsg::nomad {

// GET /v1/jobs: a JSON array of JobListStub ("Meta" only with ?meta=true).
base::Result<std::vector<JobStub>> DecodeJobStubList(std::string_view json);
std::string EncodeJobStubList(const std::vector<JobStub>& jobs);

// POST /v1/job/:id/plan body: {"Job": <job as EncodeJob writes it>, "Diff": diff}.
std::string EncodePlanRequest(const Job& job, bool diff);
// JobPlanResponse: Annotations.DesiredTGUpdates, Diff, JobModifyIndex, NextPeriodicLaunch
// (RFC 3339), Warnings. FailedTGAllocs and CreatedEvals are not modelled and skipped.
base::Result<PlanResponse> DecodePlanResponse(std::string_view json);
std::string EncodePlanResponse(const PlanResponse& plan);

// Variable writes. `namespace_` "" leaves "Namespace" out (the query parameter decides).
// Set: {"Namespace","Path","Items"} plus "Lock":{"ID"} when v.lock carries an ID (a holder
// updating Items; TTL and LockDelay must not be sent, §2.5).
std::string EncodeVariableSet(const Variable& v, std::string_view namespace_);
// Acquire: {"Namespace","Path","Items":{...},"Lock":{"TTL","LockDelay","ID"}}; TTL and LockDelay
// as Go duration strings and left out when 0 (server defaults 15s/15s), ID left out when empty.
std::string EncodeLockAcquire(const Variable& v, std::string_view namespace_);
// Renew and release: {"Namespace","Path","Lock":{"ID"}} (never Items: release rejects them).
std::string EncodeLockRef(std::string_view path, std::string_view lock_id,
                          std::string_view namespace_);

// GET /v1/agent/self (command/agent/agent_endpoint.go agentSelf): the version of the server the
// agent is — "member"."Tags"."build" of a server agent, else "config"."Version" ("Version" +
// "VersionPrerelease" + "VersionMetadata") of a client agent. kInvalidSpec when neither is there.
base::Result<std::string> DecodeAgentSelfVersion(std::string_view json);
// The sim's answer: {"config":{"Version":{...}},"member":{"Name","Tags":{"build",...}},"stats":{}}.
std::string EncodeAgentSelf(std::string_view version, std::string_view node_name);

// GET /v1/namespaces: the names of the Namespace objects.
base::Result<std::vector<std::string>> DecodeNamespaceNames(std::string_view json);
std::string EncodeNamespaceList(const std::vector<std::string>& names, uint64_t index);

// POST /v1/jobs/parse body: {"JobHCL": hcl, "Canonicalize": true}.
std::string EncodeParseRequest(std::string_view hcl);
// POST /v1/job/:id/evaluate body: {"JobID": id, "EvalOptions": {"ForceReschedule": b}}.
std::string EncodeEvaluateRequest(std::string_view job_id, bool force_reschedule);

}  // namespace nsg::nomad
