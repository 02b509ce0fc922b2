// GET /v1/agent/self and GET /v1/namespaces (nomad-api.md §0; docs/nomad-compatibility.md).
//   * /v1/agent/self (command/agent/agent_endpoint.go AgentSelfRequest @ v2.0.5): needs
//     agent:read (AllowAgentRead); the simulator has no agent policies, so only a management
//     token (or ACLs off) passes, as for the controller's token. It reports the profile's version
//     as a server agent does: member.Tags.build and config.Version.
//   * /v1/namespaces: the simulator has no namespace table — a namespace exists once something
//     lives in it (KnownNamespaces). Every namespace is listed to any valid token.
//   * /v1/status/leader and /v1/status/peers (command/agent/status_endpoint.go @ v2.0.5): the RPC
//     address of the one simulated server, as a JSON string and a one-element list; no ACL check.
//   * /v1/regions (command/agent/region_endpoint.go @ v2.0.5): ["global"]; no ACL check.
#include <algorithm>

#include "controller/nomad/api_codec.h"
#include "controller/sim/router.h"

namespace nsg::sim {

Reply Router::RouteAgentSelf(Ctx& ctx) {
  if (ctx.req.method != "GET") return MethodNotAllowed();
  if (!ctx.who.ok() || !acl_.IsManagement(*ctx.who)) return Forbidden();
  return Json(200, nomad::EncodeAgentSelf(core_.Version().ToString(), "sim-server.global"));
}

Reply Router::RouteNamespaces(Ctx& ctx) {
  if (ctx.req.method != "GET") return MethodNotAllowed();
  if (!ctx.who.ok()) return Forbidden();
  const uint64_t index = std::max<uint64_t>(core_.Index(), 1);
  Reply r = Json(200, nomad::EncodeNamespaceList(KnownNamespaces(), index));
  AddIndex(r, index);
  AddQueryMeta(r);
  return r;
}

namespace {
// The one simulated server's RPC address (Nomad's default RPC port).
constexpr char kServerRpcAddr[] = "127.0.0.1:4647";
}  // namespace

Reply Router::RouteStatus(Ctx& ctx) {
  if (ctx.req.method != "GET") return MethodNotAllowed();
  const bool leader = ctx.req.path == "/v1/status/leader";
  return Json(200, leader ? std::string("\"") + kServerRpcAddr + "\""
                          : std::string("[\"") + kServerRpcAddr + "\"]");
}

Reply Router::RouteRegions(Ctx& ctx) {
  if (ctx.req.method != "GET") return MethodNotAllowed();
  return Json(200, "[\"global\"]");
}

}  // namespace nsg::sim
