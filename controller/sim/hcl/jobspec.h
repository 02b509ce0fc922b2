// jobspec2 for the simulator: an HCL2 job file (plus an HCL var-file's text) to the api.Job JSON
// that `POST /v1/jobs/parse` answers, as Nomad's jobspec2.ParseWithConfig does with
// {Path: "input.hcl", AllowFS: false, VarContent: ...} (command/agent/job_endpoint.go
// JobsParseRequest, jobspec2/parse.go, parse_job.go, types.config.go, types.variables.go,
// hcl_conversions.go @ v2.0.5; the same at v1.10.2 and v1.11.3 for what is supported here).
//
// Supported: `variable "x" { type, default, description }` and `variables { }` blocks, the
// var-file's values overriding defaults (with string/number/bool type conversion), `locals`,
// one `job "<id>"` block with every block and attribute of api.Job reachable through its `hcl`
// tags (api_schema.h), jobspec2's special cases (meta/env as attributes or blocks, constraint and
// affinity shorthands, job- and group-level vault and secret blocks inherited by tasks, job-level
// task blocks as their own groups, durations as Go duration strings or nanoseconds, periodic
// SpecType "cron", network port normalization, template and vault defaults, and the default
// identity moved from Identities to Task.Identity), and, with `canonicalize`, api.Job.Canonicalize
// (canonicalize.cc). Not supported (a clear error): JSON jobspecs, variable validation blocks,
// `dynamic` blocks, task `scaling` blocks, and the HCL features syntax.h lists.
//
// Pure functions; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>

#include "controller/base/status.h"
#include "controller/sim/hcl/syntax.h"

namespace nsg::sim::hcl {

// The parsed job, or kInvalidSpec whose message is the text Nomad puts after
// "Failed to parse job: " (hcl diagnostics as "input.hcl:L,C-C: Summary; Detail").
base::Result<Value> ParseJob(std::string_view job_hcl, std::string_view variables,
                             bool canonicalize);

// api.Job.Canonicalize (api/jobs.go @ v2.0.5) and what it calls, on the JSON of an api.Job.
void CanonicalizeApiJob(Value& job);

}  // namespace nsg::sim::hcl
