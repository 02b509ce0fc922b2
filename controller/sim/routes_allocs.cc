// Routes for allocations and nodes: the HTTP layer of command/agent/alloc_endpoint.go and
// node_endpoint.go (nomad-api.md §6–§7) over the Cluster model. The alloc-stop response, which
// the codec does not cover, is written here with nlohmann, in Nomad's key order.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "controller/sim/cluster.h"
#include "controller/sim/router.h"
#include "controller/sim/routes_internal.h"

namespace nsg::sim {

// --- /v1/allocations, /v1/allocation/:id[/stop] ----------------------------------------------

Reply Router::RouteAllocations(Ctx& ctx) {
  const Request& req = ctx.req;
  if (req.method != "GET") return MethodNotAllowed();
  if (!ctx.who.ok()) return Forbidden();
  if (ctx.ns != "*" && !acl_.AllowNamespace(*ctx.who, ctx.ns, "read-job")) return Forbidden();
  // Field selection (allocsListRequest @ v1.10.2, v2.0.5): parseBool's error is a plain one
  // there, so a 500. The stubs carry no resources to leave out; the value is only checked.
  auto resources = BoolParam(req, "resources", /*absent=*/true);
  if (!resources.ok()) return Text(500, resources.status().message());
  auto task_states_param = BoolParam(req, "task_states", /*absent=*/true);
  if (!task_states_param.ok()) return Text(500, task_states_param.status().message());
  const bool task_states = *task_states_param;
  std::vector<nomad::Allocation> allocs;
  for (nomad::Allocation& a : cluster_->ListAllocations(ctx.ns, req.Get("prefix"))) {
    if (!acl_.AllowNamespace(*ctx.who, a.namespace_, "read-job")) continue;
    if (!task_states) a.task_states.clear();
    allocs.push_back(std::move(a));
  }
  if (req.Get("reverse") == "true") std::reverse(allocs.begin(), allocs.end());
  uint64_t index = std::max<uint64_t>(cluster_->AllocsIndex(), 1);
  ctx.block_index = index;
  Reply r = Json(200, nomad::EncodeAllocationList(allocs, ctx.enc));
  AddIndex(r, index);
  AddQueryMeta(r);
  return r;
}

Reply Router::RouteAllocation(Ctx& ctx) {
  const Request& req = ctx.req;
  std::string rest = req.path.substr(std::string_view("/v1/allocation/").size());
  if (EndsWith(rest, "/stop")) {
    std::string id = rest.substr(0, rest.size() - std::string_view("/stop").size());
    if (req.method != "PUT" && req.method != "POST") return MethodNotAllowed();
    auto nsd = BoolParam(req, "no_shutdown_delay");
    if (!nsd.ok()) return Text(400, nsd.status().message());
    auto reschedule = OptionalBoolParam(req, "reschedule");
    if (!reschedule.ok()) return Text(400, reschedule.status().message());
    if (!ctx.who.ok()) return Forbidden();
    // The ACL check uses the allocation's own namespace (alloc IDs are global).
    std::optional<nomad::Allocation> alloc = cluster_->GetAllocation(id);
    if (alloc && !acl_.AllowNamespace(*ctx.who, alloc->namespace_, "alloc-lifecycle")) {
      return Forbidden();
    }
    auto res = cluster_->StopAllocation(id, *nsd, *reschedule);
    if (!res.ok()) {
      int status = res.status().code() == base::StatusCode::kNotFound ? 404 : 500;
      return Text(status, res.status().message());
    }
    NJson j = NJson::object();  // AllocStopResponse
    j["EvalID"] = res->eval_id;
    j["Index"] = res->index;
    Reply r = Json(200, Dump(j, ctx.enc));
    AddIndex(r, res->index);
    return r;
  }
  if (rest.find('/') != std::string::npos) return Empty(404);  // services, checks: not modelled
  if (req.method != "GET") return MethodNotAllowed();
  if (!ctx.who.ok()) return Forbidden();
  std::optional<nomad::Allocation> alloc = cluster_->GetAllocation(rest);
  uint64_t index = alloc ? alloc->modify_index : std::max<uint64_t>(cluster_->AllocsIndex(), 1);
  if (alloc && !acl_.AllowNamespace(*ctx.who, alloc->namespace_, "read-job")) return Forbidden();
  ctx.block_index = index;
  Reply r;
  if (alloc) {
    nomad::EncodeOptions enc = ctx.enc;
    enc.omit_empty = true;  // Allocation carries `_struct bool codec:",omitempty"`
    r = Json(200, nomad::EncodeAllocation(*alloc, enc));
  } else {
    r = Text(404, "alloc not found");
  }
  AddIndex(r, index);
  AddQueryMeta(r);
  return r;
}

// --- /v1/nodes, /v1/node/:id -----------------------------------------------------------------

Reply Router::RouteNodes(Ctx& ctx) {
  const Request& req = ctx.req;
  if (req.method != "GET") return MethodNotAllowed();
  if (!ctx.who.ok() || !acl_.AllowNode(*ctx.who, /*write=*/false)) return Forbidden();
  uint64_t index = std::max<uint64_t>(cluster_->NodesIndex(), 1);
  ctx.block_index = index;
  Reply r = Json(200, nomad::EncodeNodeList(cluster_->ListNodes(req.Get("prefix")), ctx.enc));
  AddIndex(r, index);
  AddQueryMeta(r);
  return r;
}

Reply Router::RouteNode(Ctx& ctx) {
  const Request& req = ctx.req;
  std::string id = req.path.substr(std::string_view("/v1/node/").size());
  if (EndsWith(id, "/allocations")) {
    // nodeAllocations (command/agent/node_endpoint.go) @ v2.0.5: the node's full allocations
    // (node:read plus read-job per namespace, Node.GetAllocs); the index is the allocs table's,
    // and the query wakes when one of this node's allocations changes.
    id.resize(id.size() - std::string_view("/allocations").size());
    if (req.method != "GET") return MethodNotAllowed();
    if (!ctx.who.ok() || !acl_.AllowNode(*ctx.who, /*write=*/false)) return Forbidden();
    std::vector<nomad::Allocation> out;
    uint64_t node_index = 1;
    for (const nomad::Allocation& stub : cluster_->ListAllocations("*", "")) {
      if (stub.node_id != id || !acl_.AllowNamespace(*ctx.who, stub.namespace_, "read-job")) {
        continue;
      }
      if (std::optional<nomad::Allocation> a = cluster_->GetAllocation(stub.id)) {
        node_index = std::max(node_index, a->modify_index);
        out.push_back(std::move(*a));
      }
    }
    ctx.block_index = node_index;
    nomad::EncodeOptions enc;
    enc.omit_empty = true;
    NJson list = NJson::array();
    for (const nomad::Allocation& a : out) {
      list.push_back(NJson::parse(nomad::EncodeAllocation(a, enc)));
    }
    Reply r = Json(200, Dump(list, ctx.enc));
    AddIndex(r, std::max<uint64_t>(cluster_->AllocsIndex(), 1));
    AddQueryMeta(r);
    return r;
  }
  if (id.find('/') != std::string::npos) return Empty(404);  // drain, eligibility, ...
  if (req.method != "GET") return MethodNotAllowed();
  if (!ctx.who.ok() || !acl_.AllowNode(*ctx.who, /*write=*/false)) return Forbidden();
  std::optional<nomad::Node> node = cluster_->GetNode(id);
  uint64_t index = node ? node->modify_index : std::max<uint64_t>(cluster_->NodesIndex(), 1);
  ctx.block_index = index;
  Reply r = node ? Json(200, nomad::EncodeNode(*node, ctx.enc)) : Text(404, "node not found");
  AddIndex(r, index);
  AddQueryMeta(r);
  return r;
}

}  // namespace nsg::sim
