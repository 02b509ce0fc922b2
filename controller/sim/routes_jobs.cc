// Routes for jobs: the HTTP layer of command/agent/job_endpoint.go (nomad-api.md §5) over the
// Cluster model; allocations and nodes are in routes_allocs.cc. The response envelopes the codec
// does not cover (JobListStub, the deregister response, JobPlanResponse) are written here with
// nlohmann, in Nomad's key order.
#include <cctype>

#include <nlohmann/json.hpp>

#include "controller/sim/cluster.h"
#include "controller/sim/deployments.h"
#include "controller/sim/job_rules.h"
#include "controller/sim/router.h"
#include "controller/sim/routes_internal.h"

namespace nsg::sim {
namespace {

NJson StringListOrNull(const std::vector<std::string>& v) {
  if (v.empty()) return nullptr;
  return NJson(v);
}

NJson FieldDiffsJson(const std::vector<nomad::FieldDiff>& fields) {
  if (fields.empty()) return nullptr;
  NJson out = NJson::array();
  for (const nomad::FieldDiff& f : fields) {
    NJson j = NJson::object();
    j["Type"] = f.type;
    j["Name"] = f.name;
    j["Old"] = f.old_value;
    j["New"] = f.new_value;
    j["Annotations"] = StringListOrNull(f.annotations);
    out.push_back(std::move(j));
  }
  return out;
}

NJson ObjectDiffsJson(const std::vector<nomad::ObjectDiff>& objects) {
  if (objects.empty()) return nullptr;
  NJson out = NJson::array();
  for (const nomad::ObjectDiff& o : objects) {
    NJson j = NJson::object();
    j["Type"] = o.type;
    j["Name"] = o.name;
    j["Fields"] = FieldDiffsJson(o.fields);
    j["Objects"] = ObjectDiffsJson(o.objects);
    out.push_back(std::move(j));
  }
  return out;
}

NJson PlanJson(const nomad::PlanResponse& p) {
  NJson updates = NJson::object();
  for (const auto& [tg, u] : p.desired_tg_updates) {
    NJson j = NJson::object();
    j["Ignore"] = u.ignore;
    j["Place"] = u.place;
    j["Migrate"] = u.migrate;
    j["Stop"] = u.stop;
    j["InPlaceUpdate"] = u.in_place_update;
    j["DestructiveUpdate"] = u.destructive_update;
    j["Canary"] = u.canary;
    j["Preemptions"] = u.preemptions;
    j["Disconnect"] = u.disconnect;
    j["Reconnect"] = u.reconnect;
    j["RescheduleNow"] = u.reschedule_now;
    j["RescheduleLater"] = u.reschedule_later;
    updates[tg] = std::move(j);
  }
  NJson out = NJson::object();
  NJson ann = NJson::object();
  ann["DesiredTGUpdates"] = p.desired_tg_updates.empty() ? NJson(nullptr) : updates;
  ann["PreemptedAllocs"] = nullptr;
  out["Annotations"] = std::move(ann);
  out["FailedTGAllocs"] = nullptr;
  out["JobModifyIndex"] = p.job_modify_index;
  out["CreatedEvals"] = nullptr;
  if (p.diff) {
    const nomad::JobDiff& d = *p.diff;
    NJson diff = NJson::object();
    diff["Type"] = d.type;
    diff["ID"] = d.id;
    diff["Fields"] = FieldDiffsJson(d.fields);
    diff["Objects"] = ObjectDiffsJson(d.objects);
    NJson tgs = NJson::array();
    for (const nomad::TaskGroupDiff& tg : d.task_groups) {
      NJson t = NJson::object();
      t["Type"] = tg.type;
      t["Name"] = tg.name;
      t["Fields"] = FieldDiffsJson(tg.fields);
      t["Objects"] = ObjectDiffsJson(tg.objects);
      NJson tasks = NJson::array();
      for (const nomad::TaskDiff& task : tg.tasks) {
        NJson k = NJson::object();
        k["Type"] = task.type;
        k["Name"] = task.name;
        k["Fields"] = FieldDiffsJson(task.fields);
        k["Objects"] = ObjectDiffsJson(task.objects);
        k["Annotations"] = StringListOrNull(task.annotations);
        tasks.push_back(std::move(k));
      }
      t["Tasks"] = tg.tasks.empty() ? NJson(nullptr) : tasks;
      t["Updates"] = tg.updates.empty() ? NJson(nullptr) : NJson(tg.updates);
      tgs.push_back(std::move(t));
    }
    diff["TaskGroups"] = d.task_groups.empty() ? NJson(nullptr) : tgs;
    out["Diff"] = std::move(diff);
  } else {
    out["Diff"] = nullptr;
  }
  out["NextPeriodicLaunch"] = nomad::FormatRfc3339(p.next_periodic_launch);
  out["Warnings"] = p.warnings;
  out["Index"] = 0;
  return out;
}

// JobSummary (nomad/structs JobSummary): allocation counts per group by client status.
NJson JobSummaryJson(const Cluster& cluster, const nomad::Job& job) {
  NJson summary = NJson::object();
  summary["JobID"] = job.id;
  summary["Namespace"] = job.namespace_;
  NJson groups = NJson::object();
  for (const nomad::TaskGroup& tg : job.task_groups) {
    NJson g = NJson::object();
    for (const char* k : {"Queued", "Complete", "Failed", "Running", "Starting", "Lost",
                          "Unknown"}) {
      g[k] = 0;
    }
    groups[tg.name] = std::move(g);
  }
  for (const nomad::Allocation& a : cluster.JobAllocations(job.namespace_, job.id, false)) {
    if (!groups.contains(a.task_group)) continue;
    const std::string& c = a.client_status;
    const char* k = c == nomad::kClientPending    ? "Starting"
                    : c == nomad::kClientRunning  ? "Running"
                    : c == nomad::kClientComplete ? "Complete"
                    : c == nomad::kClientFailed   ? "Failed"
                    : c == nomad::kClientLost     ? "Lost"
                                                  : "Unknown";
    groups[a.task_group][k] = groups[a.task_group][k].get<int>() + 1;
  }
  summary["Summary"] = std::move(groups);
  summary["Children"] = NJson{{"Pending", 0}, {"Running", 0}, {"Dead", 0}};
  summary["CreateIndex"] = job.create_index;
  summary["ModifyIndex"] = job.modify_index;
  return summary;
}

// A plan or validate body ({"Job": {...}, ...}): the body as JSON and the decoded job, or the
// text of the 400 Nomad answers (kInvalidSpec).
base::Result<std::pair<NJson, nomad::Job>> DecodeJobBody(const std::string& text) {
  NJson raw;
  try {
    raw = NJson::parse(text.empty() ? std::string("null") : text);
  } catch (const NJson::exception&) {
    return base::Status::InvalidSpec("invalid character in request body");
  }
  if (!raw.is_object() || !raw.contains("Job") || raw["Job"].is_null()) {
    return base::Status::InvalidSpec("Job must be specified");
  }
  auto job = nomad::DecodeJob(raw["Job"].dump());
  if (!job.ok()) return base::Status::InvalidSpec(job.status().message());
  return std::make_pair(std::move(raw), std::move(job).value());
}

}  // namespace

// --- /v1/jobs --------------------------------------------------------------------------------

namespace {

// namespaceForJob: ?namespace, then the body's WriteRequest.Namespace, then Job.Namespace.
std::string NamespaceForJob(const Request& req, const NJson& body, const nomad::Job& job) {
  if (std::string q = req.Get("namespace"); !q.empty()) return q;
  if (body.is_object() && body.contains("Namespace") && body["Namespace"].is_string()) {
    std::string ns = body["Namespace"].get<std::string>();
    if (!ns.empty()) return ns;
  }
  if (!job.namespace_.empty()) return job.namespace_;
  return "default";
}

}  // namespace

// Register through POST /v1/jobs or /v1/job/:id (`url_id` set for the latter).
static Reply RegisterJob(Cluster& cluster, const AclState& acl, const Request& req,
                         const base::Result<Identity>& who, const std::string* url_id,
                         const nomad::EncodeOptions& enc) {
  auto text = [](int status, std::string msg) {
    Reply r;
    r.status = status;
    r.content_type = kContentTypeText;
    r.body = std::move(msg);
    return r;
  };
  NJson raw;
  try {
    raw = NJson::parse(req.body.empty() ? std::string("null") : req.body);
  } catch (const NJson::exception&) {
    return text(400, "invalid character in request body");
  }
  if (!raw.is_object() || !raw.contains("Job") || raw["Job"].is_null()) {
    return text(400, "Job must be specified");
  }
  auto decoded = nomad::DecodeRegisterRequest(req.body);
  if (!decoded.ok()) return text(400, decoded.status().message());
  nomad::RegisterRequest rr = std::move(decoded).value();
  if (rr.job.id.empty()) return text(400, "Job ID hasn't been provided");
  if (url_id != nullptr && rr.job.id != *url_id) return text(400, "Job ID does not match name");
  std::string ns = NamespaceForJob(req, raw, rr.job);
  if (!who.ok() || !acl.AllowNamespace(*who, ns, "submit-job")) return text(403, "Permission denied");
  auto res = cluster.Register(rr, ns);
  if (!res.ok()) {
    // Validation errors and EnforceIndex mismatches are uncoded Go errors: 500.
    return text(500, res.status().message());
  }
  Reply r;
  r.content_type = kContentTypeJson;
  r.body = nomad::EncodeWriteResult(*res, enc);
  r.headers.emplace_back("X-Nomad-Index", std::to_string(res->index));
  return r;
}

Reply Router::RouteJobs(Ctx& ctx) {
  const Request& req = ctx.req;
  if (req.method == "PUT" || req.method == "POST") {
    return RegisterJob(*cluster_, acl_, req, ctx.who, nullptr, ctx.enc);
  }
  if (req.method != "GET") return MethodNotAllowed();
  if (!ctx.who.ok()) return Forbidden();
  auto meta = BoolParam(req, "meta");
  if (!meta.ok()) return Text(400, meta.status().message());
  if (ctx.ns != "*" && !acl_.AllowNamespace(*ctx.who, ctx.ns, "list-jobs")) return Forbidden();
  NJson list = NJson::array();
  for (const nomad::Job& job : cluster_->ListJobs(ctx.ns, req.Get("prefix"))) {
    if (!acl_.AllowNamespace(*ctx.who, job.namespace_, "list-jobs")) continue;
    // JobListStub (not omit-empty: every key present).
    NJson j = NJson::object();
    j["ID"] = job.id;
    // A periodic child's ParentID (kept in `extra` at launch); "" for every other job.
    j["ParentID"] = "";
    if (auto it = job.extra.find("ParentID"); it != job.extra.end()) {
      NJson parent = NJson::parse(it->second, nullptr, /*allow_exceptions=*/false);
      if (parent.is_string()) j["ParentID"] = parent;
    }
    j["Name"] = job.name;
    j["Namespace"] = job.namespace_;
    j["Datacenters"] = job.datacenters;
    j["NodePool"] = job.node_pool;
    j["Multiregion"] = nullptr;
    j["Type"] = job.type;
    j["Priority"] = job.priority;
    j["Periodic"] = job.periodic.has_value();
    j["ParameterizedJob"] = false;
    j["Stop"] = job.stop;
    j["Status"] = job.status;
    j["StatusDescription"] = "";
    j["JobSummary"] = JobSummaryJson(*cluster_, job);
    j["CreateIndex"] = job.create_index;
    j["ModifyIndex"] = job.modify_index;
    j["JobModifyIndex"] = job.job_modify_index;
    j["SubmitTime"] = job.submit_time;
    if (*meta && !job.meta.empty()) j["Meta"] = job.meta;  // omitempty; only with meta=true
    list.push_back(std::move(j));
  }
  uint64_t index = std::max<uint64_t>(cluster_->JobsIndex(), 1);
  ctx.block_index = index;
  Reply r = Json(200, Dump(list, ctx.enc));
  AddIndex(r, index);
  AddQueryMeta(r);
  return r;
}

// --- /v1/job/:id[/...] -----------------------------------------------------------------------

Reply Router::RouteJob(Ctx& ctx) {
  const Request& req = ctx.req;
  std::string rest = req.path.substr(std::string_view("/v1/job/").size());
  // Sub-routes are chosen by suffix, as jobSpecificRequest does.
  if (EndsWith(rest, "/allocations")) {
    std::string id = rest.substr(0, rest.size() - std::string_view("/allocations").size());
    if (req.method != "GET") return MethodNotAllowed();
    auto all = BoolParam(req, "all");
    if (!all.ok()) return Text(400, all.status().message());
    if (!ctx.who.ok() || !acl_.AllowNamespace(*ctx.who, ctx.ns, "read-job")) return Forbidden();
    std::vector<nomad::Allocation> allocs = cluster_->JobAllocations(ctx.ns, id, *all);
    // The index of the global allocs table, but the query only wakes when this job's
    // allocations change (nomad-api.md §1.6).
    uint64_t job_index = 1;
    for (const nomad::Allocation& a : allocs) job_index = std::max(job_index, a.modify_index);
    ctx.block_index = job_index;
    Reply r = Json(200, nomad::EncodeAllocationList(allocs, ctx.enc));
    AddIndex(r, std::max<uint64_t>(cluster_->AllocsIndex(), 1));
    AddQueryMeta(r);
    return r;
  }
  if (EndsWith(rest, "/evaluate")) {
    std::string id = rest.substr(0, rest.size() - std::string_view("/evaluate").size());
    if (req.method != "PUT" && req.method != "POST") return MethodNotAllowed();
    bool force = false;
    if (!req.body.empty()) {
      NJson b;
      try {
        b = NJson::parse(req.body);
      } catch (const NJson::exception&) {
        return Text(400, "invalid character in request body");
      }
      if (b.is_object()) {
        if (b.contains("JobID") && b["JobID"].is_string() && b["JobID"].get<std::string>() != id) {
          return Text(400, "JobID not same as job name");
        }
        if (b.contains("EvalOptions") && b["EvalOptions"].is_object()) {
          const NJson& o = b["EvalOptions"];
          force = o.contains("ForceReschedule") && o["ForceReschedule"].is_boolean() &&
                  o["ForceReschedule"].get<bool>();
        }
      }
    }
    if (!ctx.who.ok() || !acl_.AllowNamespace(*ctx.who, ctx.ns, "submit-job")) return Forbidden();
    auto res = cluster_->Evaluate(ctx.ns, id, force);
    if (!res.ok()) return Text(500, res.status().message());
    Reply r = Json(200, nomad::EncodeWriteResult(*res, ctx.enc));
    AddIndex(r, res->index);
    return r;
  }
  if (EndsWith(rest, "/plan")) {
    std::string id = rest.substr(0, rest.size() - std::string_view("/plan").size());
    if (req.method != "PUT" && req.method != "POST") return MethodNotAllowed();
    auto body = DecodeJobBody(req.body);
    if (!body.ok()) return Text(400, body.status().message());
    const NJson& raw = body->first;
    const nomad::Job& job = body->second;
    if (job.id != id) return Text(400, "Job ID does not match");
    bool diff = raw.contains("Diff") && raw["Diff"].is_boolean() && raw["Diff"].get<bool>();
    std::string ns = NamespaceForJob(req, raw, job);
    if (!ctx.who.ok() || !acl_.AllowNamespace(*ctx.who, ns, "submit-job")) return Forbidden();
    auto plan = cluster_->Plan(job, ns, diff);
    if (!plan.ok()) return Text(500, plan.status().message());
    return Json(200, Dump(PlanJson(*plan), ctx.enc));
  }
  if (EndsWith(rest, "/evaluations")) {
    std::string id = rest.substr(0, rest.size() - std::string_view("/evaluations").size());
    if (req.method != "GET") return MethodNotAllowed();
    if (!ctx.who.ok() || !acl_.AllowNamespace(*ctx.who, ctx.ns, "read-job")) return Forbidden();
    nomad::EncodeOptions enc = ctx.enc;
    enc.omit_empty = true;
    uint64_t index = std::max<uint64_t>(cluster_->EvalsIndex(), 1);
    ctx.block_index = index;
    Reply r = Json(200, nomad::EncodeEvaluationList(cluster_->JobEvaluations(ctx.ns, id), enc));
    AddIndex(r, index);
    AddQueryMeta(r);
    return r;
  }

  if (EndsWith(rest, "/periodic/force")) {
    // periodicForceRequest @ v2.0.5: PeriodicForceResponse {EvalID, EvalCreateIndex, Index}.
    std::string id = rest.substr(0, rest.size() - std::string_view("/periodic/force").size());
    if (req.method != "PUT" && req.method != "POST") return MethodNotAllowed();
    // dispatch-job, submit-job or force-periodic-job (nomad/periodic_endpoint.go Force).
    if (!ctx.who.ok() || (!acl_.AllowNamespace(*ctx.who, ctx.ns, "dispatch-job") &&
                          !acl_.AllowNamespace(*ctx.who, ctx.ns, "submit-job"))) {
      return Forbidden();
    }
    auto res = cluster_->ForcePeriodic(ctx.ns, id);
    if (!res.ok()) return Text(500, res.status().message());
    NJson j = NJson::object();
    j["EvalID"] = res->eval_id;
    j["EvalCreateIndex"] = res->eval_create_index;
    j["Index"] = res->index;
    Reply r = Json(200, Dump(j, ctx.enc));
    AddIndex(r, res->index);
    return r;
  }
  if (EndsWith(rest, "/summary")) {
    // jobSummaryRequest @ v2.0.5: 404 "job not found" without a summary.
    std::string id = rest.substr(0, rest.size() - std::string_view("/summary").size());
    if (req.method != "GET") return MethodNotAllowed();
    if (!ctx.who.ok() || !acl_.AllowNamespace(*ctx.who, ctx.ns, "read-job")) return Forbidden();
    std::optional<nomad::Job> job = cluster_->GetJob(ctx.ns, id);
    uint64_t index = job ? job->modify_index : std::max<uint64_t>(cluster_->JobsIndex(), 1);
    // The summary table's index moves with the job's allocations too.
    if (job) {
      for (const nomad::Allocation& a : cluster_->JobAllocations(ctx.ns, id, false)) {
        index = std::max(index, a.modify_index);
      }
    }
    ctx.block_index = index;
    Reply r = job ? Json(200, Dump(JobSummaryJson(*cluster_, *job), ctx.enc))
                  : Text(404, "job not found");
    AddIndex(r, index);
    AddQueryMeta(r);
    return r;
  }
  if (EndsWith(rest, "/versions")) {
    // jobVersions @ v2.0.5: JobVersionsResponse, newest first; 404 "job versions not found".
    std::string id = rest.substr(0, rest.size() - std::string_view("/versions").size());
    if (req.method != "GET") return MethodNotAllowed();
    auto diffs = BoolParam(req, "diffs");
    if (!diffs.ok()) return Text(400, diffs.status().message());
    if (!ctx.who.ok() || !acl_.AllowNamespace(*ctx.who, ctx.ns, "read-job")) return Forbidden();
    std::vector<nomad::Job> versions = cluster_->JobVersions(ctx.ns, id);
    uint64_t index = versions.empty() ? std::max<uint64_t>(cluster_->JobsIndex(), 1)
                                      : versions.front().modify_index;
    ctx.block_index = index;
    Reply r;
    if (versions.empty()) {
      r = Text(404, "job versions not found");
    } else {
      nomad::EncodeOptions enc;
      enc.server_fields = true;
      NJson list = NJson::array();
      for (const nomad::Job& v : versions) list.push_back(NJson::parse(nomad::EncodeJob(v, enc)));
      NJson j = NJson::object();
      j["Versions"] = std::move(list);
      j["Diffs"] = nullptr;  // not modelled: ?diffs=true answers no diffs
      j["Index"] = index;
      j["LastContact"] = 0;
      j["KnownLeader"] = true;
      j["NextToken"] = "";
      r = Json(200, Dump(j, ctx.enc));
    }
    AddIndex(r, index);
    AddQueryMeta(r);
    return r;
  }
  if (EndsWith(rest, "/deployment") || EndsWith(rest, "/deployments")) {
    // jobLatestDeployment / jobDeployments @ v2.0.5 (deployments.h says what is modelled): the
    // latest is JSON null and the list empty for a job that never had one.
    const bool latest = EndsWith(rest, "/deployment");
    if (req.method != "GET") return MethodNotAllowed();
    if (!ctx.who.ok() || !acl_.AllowNamespace(*ctx.who, ctx.ns, "read-job")) return Forbidden();
    const std::string job_id = rest.substr(0, rest.rfind('/'));
    const uint64_t index = deployments_->JobIndex(ctx.ns, job_id);
    ctx.block_index = index;
    std::string body;
    if (latest) {
      auto d = deployments_->Latest(ctx.ns, job_id);
      body = d ? Deployments::Encode(*d) : "null";
    } else {
      body = "[";
      for (const Deployment& d : deployments_->ForJob(ctx.ns, job_id)) {
        body += (body.size() > 1 ? "," : "") + Deployments::Encode(d);
      }
      body += "]";
    }
    Reply r = Json(200, body);
    AddIndex(r, index);
    AddQueryMeta(r);
    return r;
  }

  const std::string& id = rest;
  if (req.method == "GET") {
    if (!ctx.who.ok() || !acl_.AllowNamespace(*ctx.who, ctx.ns, "read-job")) return Forbidden();
    std::optional<nomad::Job> job = cluster_->GetJob(ctx.ns, id);
    uint64_t index = job ? job->modify_index : std::max<uint64_t>(cluster_->JobsIndex(), 1);
    ctx.block_index = index;
    Reply r;
    if (job) {
      nomad::EncodeOptions enc = ctx.enc;
      enc.server_fields = true;
      r = Json(200, nomad::EncodeJob(*job, enc));
    } else {
      r = Text(404, "job not found");
    }
    AddIndex(r, index);
    AddQueryMeta(r);
    return r;
  }
  if (req.method == "PUT" || req.method == "POST") {
    return RegisterJob(*cluster_, acl_, req, ctx.who, &id, ctx.enc);
  }
  if (req.method == "DELETE") {
    auto purge = BoolParam(req, "purge");
    if (!purge.ok()) return Text(400, purge.status().message());
    if (!ctx.who.ok() || !acl_.AllowNamespace(*ctx.who, ctx.ns, "submit-job")) return Forbidden();
    auto res = cluster_->Deregister(ctx.ns, id, *purge);
    if (!res.ok()) return Text(500, res.status().message());
    NJson j = NJson::object();  // JobDeregisterResponse
    j["EvalID"] = res->eval_id;
    j["EvalCreateIndex"] = res->eval_create_index;
    j["JobModifyIndex"] = res->job_modify_index;
    j["VolumeEvalID"] = "";
    j["VolumeEvalIndex"] = 0;
    j["Index"] = res->index;
    j["LastContact"] = 0;
    j["KnownLeader"] = false;
    j["NextToken"] = "";
    Reply r = Json(200, Dump(j, ctx.enc));
    AddIndex(r, res->index);
    return r;
  }
  return MethodNotAllowed();
}

// --- /v1/validate/job -------------------------------------------------------------------------

// ValidateJobRequest (command/agent/job_endpoint.go) and Job.Validate (nomad/job_endpoint.go)
// @ v2.0.5: the admission mutators, then the validators; errors come back in a 200
// JobValidateResponse, not as an error status.
Reply Router::RouteValidateJob(Ctx& ctx) {
  const Request& req = ctx.req;
  if (req.method != "PUT" && req.method != "POST") return MethodNotAllowed();
  auto body = DecodeJobBody(req.body);
  if (!body.ok()) return Text(400, body.status().message());
  const NJson& raw = body->first;
  nomad::Job& job = body->second;
  std::string ns = NamespaceForJob(req, raw, job);
  if (!ctx.who.ok() || !acl_.AllowNamespace(*ctx.who, ns, "read-job")) return Forbidden();
  job.namespace_ = ns;
  CanonicalizeJob(job);
  std::vector<std::string> errors = ValidateJob(job);
  NJson j = NJson::object();
  j["DriverConfigValidated"] = true;
  j["ValidationErrors"] = errors.empty() ? NJson(nullptr) : NJson(errors);
  j["Error"] = MultiErrorText(errors);
  j["Warnings"] = "";
  j["Index"] = 0;
  j["LastContact"] = 0;
  j["KnownLeader"] = false;
  j["NextToken"] = "";
  return Json(200, Dump(j, ctx.enc));
}

}  // namespace nsg::sim
