// POST/PUT /v1/jobs/parse: HCL2 job text to an api.Job (nomad-api.md §5.5), as
// command/agent/job_endpoint.go JobsParseRequest @ v2.0.5 (the same at v1.10.2 and v1.11.3):
// 405 for other methods; the ACL check (parse-job or submit-job in ?namespace) before the body
// is read; 400 with the JSON decoder's error; 400 "Job spec is empty"; 400 "Failed to parse job:
// <jobspec2 error>"; then, with "Canonicalize": true, api.Job.Canonicalize. The parsing is
// controller/sim/hcl (jobspec.h).
#include <cctype>

#include <nlohmann/json.hpp>

#include "controller/sim/hcl/jobspec.h"
#include "controller/sim/router.h"

namespace nsg::sim {
namespace {

// encoding/json matches keys to field names case-insensitively.
const nlohmann::json* FindKey(const nlohmann::json& obj, std::string_view name) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& k = it.key();
    if (k.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < k.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(k[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return &it.value();
  }
  return nullptr;
}

}  // namespace

Reply Router::RouteJobsParse(Ctx& ctx) {
  const Request& req = ctx.req;
  if (req.method != "PUT" && req.method != "POST") return MethodNotAllowed();
  if (!ctx.who.ok() || (!acl_.AllowNamespace(*ctx.who, ctx.ns, "parse-job") &&
                        !acl_.AllowNamespace(*ctx.who, ctx.ns, "submit-job"))) {
    return Forbidden();
  }
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(req.body.empty() ? std::string("{}") : req.body);
  } catch (const nlohmann::json::exception&) {
    return Text(400, "invalid character in request body");
  }
  std::string job_hcl;
  std::string variables;
  bool canonicalize = false;
  if (body.is_object()) {
    const nlohmann::json* hcl = FindKey(body, "JobHCL");
    const nlohmann::json* vars = FindKey(body, "Variables");
    const nlohmann::json* canon = FindKey(body, "Canonicalize");
    if ((hcl != nullptr && !hcl->is_string() && !hcl->is_null()) ||
        (vars != nullptr && !vars->is_string() && !vars->is_null()) ||
        (canon != nullptr && !canon->is_boolean() && !canon->is_null())) {
      return Text(400, "json: cannot unmarshal request body into Go struct field of type "
                       "api.JobsParseRequest");
    }
    if (hcl != nullptr && hcl->is_string()) job_hcl = hcl->get<std::string>();
    if (vars != nullptr && vars->is_string()) variables = vars->get<std::string>();
    if (canon != nullptr && canon->is_boolean()) canonicalize = canon->get<bool>();
  } else if (!body.is_null()) {
    return Text(400, "json: cannot unmarshal request body into Go value of type "
                     "api.JobsParseRequest");
  }
  if (job_hcl.empty()) return Text(400, "Job spec is empty");
  base::Result<hcl::Value> job = hcl::ParseJob(job_hcl, variables, canonicalize);
  if (!job.ok()) return Text(400, "Failed to parse job: " + job.status().message());
  return Json(200, ctx.enc.pretty ? job->dump(4) : job->dump());
}

}  // namespace nsg::sim
