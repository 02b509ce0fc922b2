#include "controller/nomad_client/http_nomad_api.h"

#include <charconv>

#include "controller/nomad/api_codec.h"
#include "controller/nomad/codec.h"
#include "controller/nomad_client/status_map.h"

namespace nsg::io {
namespace {

using nomad::QueryMeta;

std::string TrimSlashes(const std::string& path) {
  size_t b = path.find_first_not_of("/ ");
  if (b == std::string::npos) return "";
  size_t e = path.find_last_not_of("/ ");
  return path.substr(b, e - b + 1);
}

std::string VarPath(const std::string& path) { return "/v1/var/" + EscapePath(TrimSlashes(path)); }

uint64_t ParseUint(const std::string& s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// The code label of nomad_requests_total for an answer: its HTTP status, except "acl_disabled"
// for the coded 400 with which a cluster without ACLs refuses every ACL endpoint
// (nomad/acl_endpoint.go aclDisabled). The reconciler expects that answer (it probes for ACLs), so
// it must not count as an error.
std::string RequestCode(const HttpResponse& r) {
  if (r.status == 400 && r.body.find("ACL support disabled") != std::string::npos) {
    return "acl_disabled";
  }
  return std::to_string(r.status);
}

template <typename T>
Result<nomad::Query<T>> WithMeta(Result<T> value, const QueryMeta& meta) {
  if (!value.ok()) return value.status();
  return nomad::Query<T>{std::move(*value), meta};
}

}  // namespace

HttpNomadApi::HttpNomadApi(Transport& transport, ClientConfig config, const base::Clock& clock,
                           Sleeper& sleeper, Options options)
    : transport_(transport),
      config_(std::move(config)),
      tokens_(config_),
      clock_(clock),
      sleeper_(sleeper),
      options_(options) {}

std::string HttpNomadApi::EffectiveNamespace(const std::string& ns) const {
  return ns.empty() ? config_.namespace_ : ns;
}

HttpRequest HttpNomadApi::NewRequest(std::string method, std::string path, const std::string& ns,
                                     const std::string& region, bool with_namespace) const {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  if (with_namespace) {
    std::string n = EffectiveNamespace(ns);
    if (!n.empty()) r.query.emplace_back("namespace", n);
  }
  std::string reg = region.empty() ? config_.region : region;
  if (!reg.empty()) r.query.emplace_back("region", reg);
  if (std::string token = tokens_.Get(); !token.empty()) r.headers.Add("X-Nomad-Token", token);
  return r;
}

Duration HttpNomadApi::TimeoutFor(const Query& q) const {
  if (q.index == 0) return config_.request_timeout;
  Duration wait = (q.wait.count() <= 0 || q.wait > kMaxBlockingWait) ? kMaxBlockingWait : q.wait;
  return wait + wait / 16 + options_.blocking_margin;
}

HttpRequest HttpNomadApi::ReadRequest(std::string path, const Query& q,
                                      bool with_namespace) const {
  HttpRequest r = NewRequest("GET", std::move(path), q.namespace_, q.region, with_namespace);
  if (!q.prefix.empty()) r.query.emplace_back("prefix", q.prefix);
  if (q.index > 0) {
    r.query.emplace_back("index", std::to_string(q.index));
    if (q.wait.count() > 0) {
      r.query.emplace_back("wait", base::FormatDuration(std::min(q.wait, kMaxBlockingWait)));
    }
  }
  if (q.stale) r.query.emplace_back("stale", "true");
  return r;
}

std::string_view HttpNomadApi::OpName(Op op) {
  switch (op) {
    case Op::kJobRegister: return "job.register";
    case Op::kJobPlan: return "job.plan";
    case Op::kJobRead: return "job.read";
    case Op::kJobsList: return "jobs.list";
    case Op::kJobAllocations: return "job.allocations";
    case Op::kJobDeregister: return "job.deregister";
    case Op::kJobEvaluate: return "job.evaluate";
    case Op::kJobsParse: return "jobs.parse";
    case Op::kAllocsList: return "allocs.list";
    case Op::kAllocRead: return "alloc.read";
    case Op::kAllocStop: return "alloc.stop";
    case Op::kNodesList: return "nodes.list";
    case Op::kVarRead: return "var.read";
    case Op::kVarsList: return "vars.list";
    case Op::kVarWrite: return "var.write";
    case Op::kVarDelete: return "var.delete";
    case Op::kLockAcquire: return "lock.acquire";
    case Op::kLockRenew: return "lock.renew";
    case Op::kLockRelease: return "lock.release";
    case Op::kAclPolicyRead: return "acl.policy.read";
    case Op::kAclPolicyUpsert: return "acl.policy.upsert";
    case Op::kAclPolicyDelete: return "acl.policy.delete";
    case Op::kAclPoliciesList: return "acl.policies.list";
    case Op::kAgentSelf: return "agent.self";
    case Op::kNamespacesList: return "namespaces.list";
  }
  return "unknown";
}

Result<HttpResponse> HttpNomadApi::Execute(Op op, const HttpRequest& request, Retry retry,
                                           Duration timeout, HttpResponse* error_response) {
  const base::TimePoint start = clock_.Now();
  std::string code;
  Result<HttpResponse> r = Attempts(request, retry, timeout, error_response, &code);
  if (options_.observer) options_.observer(OpName(op), code, clock_.Now() - start);
  return r;
}

Result<HttpResponse> HttpNomadApi::Attempts(const HttpRequest& request, Retry retry,
                                            Duration timeout, HttpResponse* error_response,
                                            std::string* code) {
  const std::string what = request.method + " " + request.path;
  std::optional<Backoff> backoff;  // made on the first retry only
  const base::TimePoint start = clock_.Now();
  for (int attempt = 1;; ++attempt) {
    if (stop_.stop_requested()) {
      *code = "cancelled";
      return Status::Cancelled(what + ": client shut down");
    }
    Result<HttpResponse> r = transport_.RoundTrip(
        request, {timeout, stop_.get_token(), config_.max_response_bytes});
    Status st;
    if (!r.ok()) {
      *code = r.status().code() == base::StatusCode::kCancelled ? "cancelled" : "error";
      st = Status(r.status().code(), Redact(r.status().message(), tokens_.Get()));
    } else {
      *code = RequestCode(*r);
      st = StatusFromHttp(r->status, r->body, what, r->headers.Get("Location"));
      if (st.ok()) return r;
      st = Status(st.code(), Redact(st.message(), tokens_.Get()));
      if (error_response != nullptr) *error_response = *r;
    }
    if (st.code() != base::StatusCode::kUnavailable || retry == Retry::kSingle ||
        attempt >= options_.max_attempts) {
      return st;
    }
    if (!backoff) backoff.emplace(options_.backoff, options_.seed);
    Duration wait = backoff->Next();
    if (clock_.Now() - start + wait > options_.max_retry_elapsed) return st;
    if (!sleeper_.SleepFor(wait, stop_.get_token())) {
      *code = "cancelled";
      return Status::Cancelled(what + ": client shut down");
    }
  }
}

Result<HttpResponse> HttpNomadApi::Read(Op op, const HttpRequest& request, const Query& q) {
  return Execute(op, request, Retry::kRetried, TimeoutFor(q));
}

QueryMeta HttpNomadApi::MetaFrom(const HttpResponse& response, uint64_t requested_index) const {
  QueryMeta meta;
  meta.last_index = ParseUint(response.headers.Get("X-Nomad-Index"));
  // The index went backwards (snapshot restore, another server): start over with a plain read.
  if (requested_index > 0 && meta.last_index < requested_index) meta.last_index = 0;
  meta.known_leader = response.headers.Get("X-Nomad-KnownLeader") == "true";
  meta.last_contact =
      std::chrono::milliseconds(ParseUint(response.headers.Get("X-Nomad-LastContact")));
  return meta;
}

Status HttpNomadApi::Malformed(const HttpRequest& request, const Status& decode) const {
  return Status::Internal(request.method + " " + request.path +
                          ": unexpected response: " + Redact(decode.message(), tokens_.Get()));
}

// ---- Jobs ----

Result<nomad::WriteResult> HttpNomadApi::RegisterJob(const nomad::RegisterRequest& req,
                                                     const Write& w) {
  std::string ns = !w.namespace_.empty() ? w.namespace_ : req.job.namespace_;
  HttpRequest r = NewRequest("POST", "/v1/jobs", ns, w.region, true);
  r.body = nomad::EncodeRegisterRequest(req);
  return Call(Op::kJobRegister, r, req.enforce_index ? Retry::kSingle : Retry::kRetried,
              nomad::DecodeWriteResult);
}

Result<nomad::PlanResponse> HttpNomadApi::PlanJob(const nomad::Job& job, bool diff,
                                                  const Write& w) {
  std::string ns = !w.namespace_.empty() ? w.namespace_ : job.namespace_;
  HttpRequest r =
      NewRequest("POST", "/v1/job/" + EscapePathSegment(job.id) + "/plan", ns, w.region, true);
  r.body = nomad::EncodePlanRequest(job, diff);
  return Call(Op::kJobPlan, r, Retry::kRetried, nomad::DecodePlanResponse);
}

Result<nomad::Query<nomad::Job>> HttpNomadApi::ReadJob(const std::string& id, const Query& q) {
  HttpRequest r = ReadRequest("/v1/job/" + EscapePathSegment(id), q);
  auto resp = Read(Op::kJobRead, r, q);
  if (!resp.ok()) return resp.status();
  auto job = nomad::DecodeJob(resp->body);
  if (!job.ok()) return Malformed(r, job.status());
  return WithMeta(std::move(job), MetaFrom(*resp, q.index));
}

Result<nomad::Query<std::vector<nomad::JobStub>>> HttpNomadApi::ListJobs(const Query& q,
                                                                         bool meta) {
  HttpRequest r = ReadRequest("/v1/jobs", q);
  if (meta) r.query.emplace_back("meta", "true");
  auto resp = Read(Op::kJobsList, r, q);
  if (!resp.ok()) return resp.status();
  auto jobs = nomad::DecodeJobStubList(resp->body);
  if (!jobs.ok()) return Malformed(r, jobs.status());
  return WithMeta(std::move(jobs), MetaFrom(*resp, q.index));
}

Result<nomad::Query<std::vector<nomad::Allocation>>> HttpNomadApi::JobAllocations(
    const std::string& id, const Query& q, bool all) {
  HttpRequest r = ReadRequest("/v1/job/" + EscapePathSegment(id) + "/allocations", q);
  if (all) r.query.emplace_back("all", "true");
  auto resp = Read(Op::kJobAllocations, r, q);
  if (!resp.ok()) return resp.status();
  auto allocs = nomad::DecodeAllocationList(resp->body);
  if (!allocs.ok()) return Malformed(r, allocs.status());
  return WithMeta(std::move(allocs), MetaFrom(*resp, q.index));
}

Result<nomad::WriteResult> HttpNomadApi::DeregisterJob(const std::string& id, bool purge,
                                                       const Write& w) {
  HttpRequest r = NewRequest("DELETE", "/v1/job/" + EscapePathSegment(id), w.namespace_,
                             w.region, true);
  if (purge) r.query.emplace_back("purge", "true");
  return Call(Op::kJobDeregister, r, Retry::kRetried, nomad::DecodeWriteResult);
}

Result<nomad::WriteResult> HttpNomadApi::EvaluateJob(const std::string& id, bool force_reschedule,
                                                     const Write& w) {
  HttpRequest r = NewRequest("POST", "/v1/job/" + EscapePathSegment(id) + "/evaluate",
                             w.namespace_, w.region, true);
  r.body = nomad::EncodeEvaluateRequest(id, force_reschedule);
  return Call(Op::kJobEvaluate, r, Retry::kSingle, nomad::DecodeWriteResult);
}

Result<nomad::Job> HttpNomadApi::ParseHcl(const std::string& hcl, const Write& w) {
  HttpRequest r = NewRequest("POST", "/v1/jobs/parse", w.namespace_, w.region, true);
  r.body = nomad::EncodeParseRequest(hcl);
  auto resp = Execute(Op::kJobsParse, r, Retry::kRetried, config_.request_timeout);
  if (!resp.ok()) return resp.status();
  auto job = nomad::DecodeJob(resp->body);
  if (!job.ok()) return Malformed(r, job.status());
  return job;
}

// ---- Allocations and nodes ----

Result<nomad::Query<std::vector<nomad::Allocation>>> HttpNomadApi::ListAllocations(
    const Query& q) {
  HttpRequest r = ReadRequest("/v1/allocations", q);
  if (!q.task_states) r.query.emplace_back("task_states", "false");
  auto resp = Read(Op::kAllocsList, r, q);
  if (!resp.ok()) return resp.status();
  auto allocs = nomad::DecodeAllocationList(resp->body);
  if (!allocs.ok()) return Malformed(r, allocs.status());
  return WithMeta(std::move(allocs), MetaFrom(*resp, q.index));
}

Result<nomad::Query<nomad::Allocation>> HttpNomadApi::ReadAllocation(const std::string& id,
                                                                     const Query& q) {
  // Allocation IDs are global: no ?namespace (nomad-api.md §1.3).
  HttpRequest r = ReadRequest("/v1/allocation/" + EscapePathSegment(id), q, false);
  auto resp = Read(Op::kAllocRead, r, q);
  if (!resp.ok()) return resp.status();
  auto alloc = nomad::DecodeAllocation(resp->body);
  if (!alloc.ok()) return Malformed(r, alloc.status());
  return WithMeta(std::move(alloc), MetaFrom(*resp, q.index));
}

Result<nomad::WriteResult> HttpNomadApi::StopAllocation(const std::string& id,
                                                        bool no_shutdown_delay) {
  HttpRequest r =
      NewRequest("POST", "/v1/allocation/" + EscapePathSegment(id) + "/stop", "", "", false);
  if (no_shutdown_delay) r.query.emplace_back("no_shutdown_delay", "true");
  return Call(Op::kAllocStop, r, Retry::kSingle, nomad::DecodeWriteResult);
}

Result<nomad::Query<std::vector<nomad::Node>>> HttpNomadApi::ListNodes(const Query& q) {
  HttpRequest r = ReadRequest("/v1/nodes", q, false);
  auto resp = Read(Op::kNodesList, r, q);
  if (!resp.ok()) return resp.status();
  auto nodes = nomad::DecodeNodeList(resp->body);
  if (!nodes.ok()) return Malformed(r, nodes.status());
  return WithMeta(std::move(nodes), MetaFrom(*resp, q.index));
}

// ---- Variables and locks ----

Result<nomad::Query<nomad::Variable>> HttpNomadApi::ReadVariable(const std::string& path,
                                                                 const Query& q) {
  HttpRequest r = ReadRequest(VarPath(path), q);
  auto resp = Read(Op::kVarRead, r, q);
  if (!resp.ok()) return resp.status();
  auto var = nomad::DecodeVariable(resp->body);
  if (!var.ok()) return Malformed(r, var.status());
  return WithMeta(std::move(var), MetaFrom(*resp, q.index));
}

Result<nomad::Query<std::vector<nomad::Variable>>> HttpNomadApi::ListVariables(const Query& q) {
  HttpRequest r = ReadRequest("/v1/vars", q);
  auto resp = Read(Op::kVarsList, r, q);
  if (!resp.ok()) return resp.status();
  auto vars = nomad::DecodeVariableList(resp->body);
  if (!vars.ok()) return Malformed(r, vars.status());
  return WithMeta(std::move(vars), MetaFrom(*resp, q.index));
}

Result<nomad::Variable> HttpNomadApi::SetVariable(const nomad::Variable& v,
                                                  std::optional<uint64_t> cas, const Write& w,
                                                  nomad::Variable* conflict) {
  std::string ns = !w.namespace_.empty() ? w.namespace_ : v.namespace_;
  HttpRequest r = NewRequest("PUT", VarPath(v.path), ns, w.region, true);
  if (cas) r.query.emplace_back("cas", std::to_string(*cas));
  r.body = nomad::EncodeVariableSet(v, EffectiveNamespace(ns));
  HttpResponse error;
  auto resp = Execute(Op::kVarWrite, r, cas ? Retry::kSingle : Retry::kRetried,
                      config_.request_timeout, &error);
  if (!resp.ok()) {
    // The 409 body is the conflicting variable as JSON (nomad-api.md §2.5).
    if (resp.status().code() == base::StatusCode::kConflict && conflict != nullptr) {
      auto c = nomad::DecodeVariable(error.body);
      if (c.ok()) *conflict = std::move(*c);
    }
    return resp.status();
  }
  auto out = nomad::DecodeVariable(resp->body);
  if (!out.ok()) return Malformed(r, out.status());
  return out;
}

Status HttpNomadApi::DeleteVariable(const std::string& path, std::optional<uint64_t> cas,
                                    const Write& w) {
  HttpRequest r = NewRequest("DELETE", VarPath(path), w.namespace_, w.region, true);
  if (cas) r.query.emplace_back("cas", std::to_string(*cas));
  auto resp = Execute(Op::kVarDelete, r, cas ? Retry::kSingle : Retry::kRetried,
                      config_.request_timeout);
  return resp.ok() ? Status::Ok() : resp.status();
}

Result<nomad::Variable> HttpNomadApi::AcquireLock(const nomad::Variable& v, const Write& w) {
  std::string ns = !w.namespace_.empty() ? w.namespace_ : v.namespace_;
  HttpRequest r = NewRequest("PUT", VarPath(v.path), ns, w.region, true);
  r.query.emplace_back("lock-acquire", "");
  r.body = nomad::EncodeLockAcquire(v, EffectiveNamespace(ns));
  bool own_id = v.lock && !v.lock->id.empty();
  return Call(Op::kLockAcquire, r, own_id ? Retry::kRetried : Retry::kSingle,
              nomad::DecodeVariable);
}

Result<nomad::Variable> HttpNomadApi::RenewLock(const std::string& path,
                                                const std::string& lock_id, const Write& w) {
  // Renew reads the namespace only from the query (nomad-api.md §2.3).
  HttpRequest r = NewRequest("PUT", VarPath(path), w.namespace_, w.region, true);
  r.query.emplace_back("lock-renew", "");
  r.body = nomad::EncodeLockRef(TrimSlashes(path), lock_id, EffectiveNamespace(w.namespace_));
  return Call(Op::kLockRenew, r, Retry::kSingle, nomad::DecodeVariable);
}

Result<nomad::Variable> HttpNomadApi::ReleaseLock(const std::string& path,
                                                  const std::string& lock_id, const Write& w) {
  HttpRequest r = NewRequest("PUT", VarPath(path), w.namespace_, w.region, true);
  r.query.emplace_back("lock-release", "");
  r.body = nomad::EncodeLockRef(TrimSlashes(path), lock_id, EffectiveNamespace(w.namespace_));
  return Call(Op::kLockRelease, r, Retry::kSingle, nomad::DecodeVariable);
}

// ---- ACL policies (global objects: no namespace) ----

Result<nomad::AclPolicy> HttpNomadApi::ReadAclPolicy(const std::string& name) {
  HttpRequest r = NewRequest("GET", "/v1/acl/policy/" + EscapePathSegment(name), "", "", false);
  return Call(Op::kAclPolicyRead, r, Retry::kRetried, nomad::DecodeAclPolicy);
}

Result<nomad::Query<std::vector<nomad::AclPolicy>>> HttpNomadApi::ListAclPolicies() {
  HttpRequest r = NewRequest("GET", "/v1/acl/policies", "", "", false);
  auto resp = Read(Op::kAclPoliciesList, r, Query{});
  if (!resp.ok()) return resp.status();
  auto list = nomad::DecodeAclPolicyList(resp->body);
  if (!list.ok()) return Malformed(r, list.status());
  return WithMeta(std::move(list), MetaFrom(*resp, 0));
}

Result<std::string> HttpNomadApi::AgentVersion() {
  return Call(Op::kAgentSelf, NewRequest("GET", "/v1/agent/self", "", "", false), Retry::kRetried,
              &nomad::DecodeAgentSelfVersion);
}

Result<std::vector<std::string>> HttpNomadApi::ListNamespaces() {
  return Call(Op::kNamespacesList, NewRequest("GET", "/v1/namespaces", "", "", false),
              Retry::kRetried, &nomad::DecodeNamespaceNames);
}

Status HttpNomadApi::UpsertAclPolicy(const nomad::AclPolicy& policy) {
  HttpRequest r =
      NewRequest("POST", "/v1/acl/policy/" + EscapePathSegment(policy.name), "", "", false);
  r.body = nomad::EncodeAclPolicy(policy);
  auto resp = Execute(Op::kAclPolicyUpsert, r, Retry::kRetried, config_.request_timeout);
  return resp.ok() ? Status::Ok() : resp.status();
}

Status HttpNomadApi::DeleteAclPolicy(const std::string& name) {
  HttpRequest r =
      NewRequest("DELETE", "/v1/acl/policy/" + EscapePathSegment(name), "", "", false);
  auto resp = Execute(Op::kAclPolicyDelete, r, Retry::kRetried, config_.request_timeout);
  return resp.ok() ? Status::Ok() : resp.status();
}

}  // namespace nsg::io
