// The simulator control API under /v1/sim/ (not part of Nomad). Token-free: it drives the
// model, it is not a Nomad endpoint. Bodies and answers are JSON.
//
//   GET    /v1/sim/state                                  time, index, nodes, allocs, programs, vars
//   POST   /v1/sim/nodes          {"Count":1,"Name":"","Datacenter":"dc1","NodePool":"default"}
//   POST   /v1/sim/node/<id>/{crash,client-crash,partition,heal,restart}
//   POST   /v1/sim/alloc/<id>/task/<task>/fail            {"ExitCode":1}
//   POST   /v1/sim/faults  {"Route","Method","Status","Body","Latency","Drop","Count"}
//   DELETE /v1/sim/faults                                 clears every fault
//   POST   /v1/sim/leader-election {"RestoreAfter":"2s"}  new leader: heartbeat TTLs; lock timers
//                                                          restored after RestoreAfter (default 0)
//   POST   /v1/sim/acl/token      {"Policies":["p"]}      → {"SecretID":"..."}
//   POST   /v1/sim/streams/close                          ends every event stream → {"Closed":n}
//   GET    /v1/sim/requests                               → {"Total":n,"Counts":{"GET /v1/jobs":n}}
//   DELETE /v1/sim/requests                               resets the request counters
// Latency and RestoreAfter are Go duration strings or integer nanoseconds.
#include <nlohmann/json.hpp>

#include "controller/sim/cluster.h"
#include "controller/sim/router.h"

namespace nsg::sim {
namespace {

using NJson = nlohmann::ordered_json;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

int StatusToHttp(const base::Status& s) {
  switch (s.code()) {
    case base::StatusCode::kOk: return 200;
    case base::StatusCode::kNotFound: return 404;
    case base::StatusCode::kConflict: return 409;
    case base::StatusCode::kInvalidSpec: return 400;
    default: return 500;
  }
}

NJson ParseOrNull(const std::string& text) {
  try {
    return NJson::parse(text);
  } catch (const NJson::exception&) {
    return nullptr;
  }
}

}  // namespace

Reply Router::RouteSim(Ctx& ctx) {
  const Request& req = ctx.req;
  std::string rest = req.path.substr(std::string_view("/v1/sim/").size());
  std::vector<std::string> parts = Split(rest, '/');
  NJson body = nullptr;
  if (!req.body.empty()) {
    try {
      body = NJson::parse(req.body);
    } catch (const NJson::exception&) {
      return Text(400, "invalid JSON body");
    }
  }
  auto get = [&](const char* key) -> const NJson* {
    if (!body.is_object() || !body.contains(key)) return nullptr;
    return &body[key];
  };
  // A Go duration string or integer nanoseconds.
  auto duration = [](const NJson& v) -> base::Result<base::Duration> {
    if (v.is_number_integer()) return base::Duration(v.get<int64_t>());
    if (v.is_string()) return base::ParseDuration(v.get<std::string>());
    return base::Status::InvalidSpec("a duration is a string like \"2s\" or nanoseconds");
  };
  auto ok = [&]() { return Json(200, "{}"); };
  bool write = req.method == "POST" || req.method == "PUT";

  if (rest == "faults") {
    if (req.method == "DELETE") {
      ClearFaults();
      return ok();
    }
    if (!write) return MethodNotAllowed();
    Fault f;
    if (auto* v = get("Route"); v && v->is_string()) f.route = v->get<std::string>();
    if (auto* v = get("Method"); v && v->is_string()) f.method = v->get<std::string>();
    if (auto* v = get("Status"); v && v->is_number_integer()) f.status = v->get<int>();
    if (auto* v = get("Body"); v && v->is_string()) f.body = v->get<std::string>();
    if (auto* v = get("Drop"); v && v->is_boolean()) f.drop = v->get<bool>();
    if (auto* v = get("Count"); v && v->is_number_integer()) f.count = v->get<int>();
    if (auto* v = get("Latency")) {
      auto d = duration(*v);
      if (!d.ok()) return Text(400, d.status().message());
      f.latency = *d;
    }
    AddFault(std::move(f));
    return ok();
  }
  if (rest == "streams/close") {
    if (!write) return MethodNotAllowed();
    NJson out = NJson::object();
    out["Closed"] = CloseStreams();
    return Json(200, out.dump());
  }
  if (rest == "requests") {
    if (req.method == "DELETE") {
      ResetRequestCounts();
      return ok();
    }
    if (req.method != "GET") return MethodNotAllowed();
    NJson out = NJson::object();
    out["Total"] = RequestTotal();
    NJson counts = NJson::object();
    for (const auto& [route, n] : RequestCounts()) counts[route] = n;
    out["Counts"] = std::move(counts);
    return Json(200, out.dump());
  }
  if (rest == "acl/token") {
    if (!write) return MethodNotAllowed();
    std::vector<std::string> policies;
    if (auto* v = get("Policies"); v && v->is_array()) {
      for (const NJson& p : *v) {
        if (p.is_string()) policies.push_back(p.get<std::string>());
      }
    }
    NJson out = NJson::object();
    out["SecretID"] = acl_.CreateClientToken(std::move(policies));
    return Json(200, out.dump());
  }
  if (rest == "state") {
    if (req.method != "GET") return MethodNotAllowed();
    NJson out = NJson::object();
    out["Now"] = base::ToNanos(core_.Now());
    out["UnixNanos"] = core_.UnixNanos();
    out["Index"] = core_.Index();
    NJson vars = NJson::array();
    for (const nomad::Variable& v : vars_.All()) {
      NJson j = ParseOrNull(nomad::EncodeVariable(v));
      j["LockExpired"] = vars_.LockExpired(v.namespace_, v.path);
      vars.push_back(std::move(j));
    }
    out["Variables"] = std::move(vars);
    out["ParkedQueries"] = parked_.size();
    out["OpenStreams"] = streams_.size();
    out["DroppedRequests"] = dropped_.size();
    if (cluster_ != nullptr) {
      ClusterState st = cluster_->State();
      NJson nodes = NJson::array();
      for (const NodeState& n : st.nodes) {
        NJson j = NJson::object();
        j["Node"] = ParseOrNull(nomad::EncodeNode(n.node));
        j["Crashed"] = n.crashed;
        j["ClientCrashed"] = n.client_crashed;
        j["Partitioned"] = n.partitioned;
        j["ClockRate"] = n.clock_rate;
        nodes.push_back(std::move(j));
      }
      out["Nodes"] = std::move(nodes);
      NJson allocs = NJson::array();
      for (const nomad::Allocation& a : st.allocations) {
        nomad::EncodeOptions enc;
        enc.omit_empty = true;
        allocs.push_back(ParseOrNull(nomad::EncodeAllocation(a, enc)));
      }
      out["Allocations"] = std::move(allocs);
      NJson running = NJson::array();
      for (const ProgramRun& p : st.running) {
        NJson j = NJson::object();
        j["ID"] = p.id;
        j["Namespace"] = p.namespace_;
        j["JobID"] = p.job_id;
        j["Group"] = p.group;
        j["Task"] = p.task;
        j["AllocID"] = p.alloc_id;
        j["NodeID"] = p.node_id;
        j["Driver"] = p.driver;
        j["Started"] = base::ToNanos(p.started);
        running.push_back(std::move(j));
      }
      out["Running"] = std::move(running);
    }
    return Json(200, ctx.enc.pretty ? out.dump(4) : out.dump());
  }
  if (rest == "leader-election") {
    if (!write) return MethodNotAllowed();
    base::Duration restore_after{0};
    if (auto* v = get("RestoreAfter")) {
      auto d = duration(*v);
      if (!d.ok()) return Text(400, d.status().message());
      restore_after = *d;
    }
    if (cluster_ != nullptr) cluster_->LoseLeadership();
    vars_.BeginLeaderElection(restore_after);
    return ok();
  }
  if (cluster_ == nullptr) return Empty(404);
  if (rest == "nodes") {
    if (!write) return MethodNotAllowed();
    int count = 1;
    NodeSpec spec;
    if (auto* v = get("Count"); v && v->is_number_integer()) count = v->get<int>();
    if (auto* v = get("Name"); v && v->is_string()) spec.name = v->get<std::string>();
    if (auto* v = get("Datacenter"); v && v->is_string()) spec.datacenter = v->get<std::string>();
    if (auto* v = get("NodePool"); v && v->is_string()) spec.node_pool = v->get<std::string>();
    NJson ids = NJson::array();
    for (int i = 0; i < count; ++i) {
      NodeSpec s = spec;
      if (count > 1 && !s.name.empty()) s.name += "-" + std::to_string(i + 1);
      ids.push_back(cluster_->AddNode(s));
    }
    NJson out = NJson::object();
    out["NodeIDs"] = std::move(ids);
    return Json(200, out.dump());
  }
  if (parts.size() == 3 && parts[0] == "node") {
    if (!write) return MethodNotAllowed();
    const std::string& id = parts[1];
    const std::string& op = parts[2];
    base::Status s;
    if (op == "crash") {
      s = cluster_->CrashNode(id);
    } else if (op == "client-crash") {
      s = cluster_->CrashClient(id);
    } else if (op == "partition") {
      s = cluster_->Partition(id);
    } else if (op == "heal") {
      s = cluster_->Heal(id);
    } else if (op == "restart") {
      s = cluster_->RestartNode(id);
    } else if (op == "skew") {
      double rate = 1.0;
      if (auto* v = get("Rate"); v && v->is_number()) rate = v->get<double>();
      s = cluster_->SkewClock(id, rate);
    } else {
      return Empty(404);
    }
    if (!s.ok()) return Text(StatusToHttp(s), s.message());
    return ok();
  }
  if (parts.size() == 5 && parts[0] == "alloc" && parts[2] == "task" && parts[4] == "fail") {
    if (!write) return MethodNotAllowed();
    int exit_code = 1;
    if (auto* v = get("ExitCode"); v && v->is_number_integer()) exit_code = v->get<int>();
    base::Status s = cluster_->FailTask(parts[1], parts[3], exit_code);
    if (!s.ok()) return Text(StatusToHttp(s), s.message());
    return ok();
  }
  return Empty(404);
}

}  // namespace nsg::sim
