// Routes for /v1/evaluations and /v1/evaluation/:id[/allocations]: the HTTP layer of
// command/agent/eval_endpoint.go (EvalsRequest, EvalSpecificRequest) @ v2.0.5 over the Cluster
// model. Evaluations are read with the job's read-job capability in their own namespace
// (nomad/eval_endpoint.go GetEval, List, Allocations @ v2.0.5); like allocation IDs, evaluation
// IDs are global, so GET /v1/evaluation/:id needs no ?namespace.
#include <algorithm>

#include "controller/sim/cluster.h"
#include "controller/sim/router.h"

namespace nsg::sim {

Reply Router::RouteEvaluations(Ctx& ctx) {
  const Request& req = ctx.req;
  if (req.method != "GET") return MethodNotAllowed();
  if (!ctx.who.ok()) return Forbidden();
  if (ctx.ns != "*" && !acl_.AllowNamespace(*ctx.who, ctx.ns, "read-job")) return Forbidden();
  const std::string prefix = req.Get("prefix");
  const std::string job = req.Get("job");
  const std::string status = req.Get("status");
  std::vector<nomad::Evaluation> evals;
  for (nomad::Evaluation& e : cluster_->ListEvaluations(ctx.ns)) {
    if (e.id.rfind(prefix, 0) != 0) continue;
    if (!job.empty() && e.job_id != job) continue;
    if (!status.empty() && e.status != status) continue;
    if (!acl_.AllowNamespace(*ctx.who, e.namespace_, "read-job")) continue;
    evals.push_back(std::move(e));
  }
  if (req.Get("reverse") == "true") std::reverse(evals.begin(), evals.end());
  nomad::EncodeOptions enc = ctx.enc;
  enc.omit_empty = true;  // Evaluation carries `_struct bool codec:",omitempty"`
  const uint64_t index = std::max<uint64_t>(cluster_->EvalsIndex(), 1);
  ctx.block_index = index;
  Reply r = Json(200, nomad::EncodeEvaluationList(evals, enc));
  AddIndex(r, index);
  AddQueryMeta(r);
  return r;
}

Reply Router::RouteEvaluation(Ctx& ctx) {
  const Request& req = ctx.req;
  std::string rest = req.path.substr(std::string_view("/v1/evaluation/").size());
  constexpr std::string_view kAllocs = "/allocations";
  const bool allocs = rest.size() > kAllocs.size() &&
                      rest.compare(rest.size() - kAllocs.size(), kAllocs.size(), kAllocs) == 0;
  if (allocs) rest.resize(rest.size() - kAllocs.size());
  if (rest.empty() || rest.find('/') != std::string::npos) return Empty(404);
  if (req.method != "GET") return MethodNotAllowed();
  if (!ctx.who.ok()) return Forbidden();
  std::optional<nomad::Evaluation> eval = cluster_->GetEvaluation(rest);
  if (eval && !acl_.AllowNamespace(*ctx.who, eval->namespace_, "read-job")) return Forbidden();
  if (allocs) {
    // EvalAllocationsRequest: the eval's allocations as AllocListStubs; the index is the allocs
    // table's, and an unknown eval answers an empty list (Eval.Allocations @ v2.0.5).
    std::vector<nomad::Allocation> out;
    for (nomad::Allocation& a : cluster_->ListAllocations("*", "")) {
      if (a.eval_id == rest) out.push_back(std::move(a));
    }
    uint64_t index = 1;
    for (const nomad::Allocation& a : out) index = std::max(index, a.modify_index);
    ctx.block_index = index;
    Reply r = Json(200, nomad::EncodeAllocationList(out, ctx.enc));
    AddIndex(r, std::max<uint64_t>(cluster_->AllocsIndex(), 1));
    AddQueryMeta(r);
    return r;
  }
  const uint64_t index =
      eval ? eval->modify_index : std::max<uint64_t>(cluster_->EvalsIndex(), 1);
  ctx.block_index = index;
  Reply r;
  if (eval) {
    nomad::EncodeOptions enc = ctx.enc;
    enc.omit_empty = true;
    r = Json(200, nomad::EncodeEvaluation(*eval, enc));
  } else {
    r = Text(404, "eval not found");
  }
  AddIndex(r, index);
  AddQueryMeta(r);
  return r;
}

}  // namespace nsg::sim
