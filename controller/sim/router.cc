#include "controller/sim/router.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "controller/base/duration.h"
#include "controller/sim/cluster.h"
#include "controller/sim/deployments.h"

namespace nsg::sim {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

// --- Request / Reply -------------------------------------------------------------------------

std::string Request::Get(const std::string& key) const {
  auto it = query.find(key);
  return it == query.end() ? "" : it->second;
}

std::vector<std::string> Request::GetAll(const std::string& key) const {
  std::vector<std::string> out;
  auto [lo, hi] = query.equal_range(key);
  for (auto it = lo; it != hi; ++it) out.push_back(it->second);
  return out;
}

std::string Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string Reply::HeaderValue(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

bool Reply::HasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& kv) { return EqualsIgnoreCase(kv.first, name); });
}

Reply Router::Text(int status, std::string msg) {
  Reply r;
  r.status = status;
  r.content_type = kContentTypeText;
  r.body = std::move(msg);
  return r;
}

Reply Router::Json(int status, std::string body) {
  Reply r;
  r.status = status;
  r.content_type = kContentTypeJson;
  r.body = std::move(body);
  return r;
}

Reply Router::Empty(int status) {
  Reply r;
  r.status = status;
  return r;
}

void Router::AddIndex(Reply& r, uint64_t index) {
  r.headers.emplace_back("X-Nomad-Index", std::to_string(index));
}

void Router::AddQueryMeta(Reply& r) {
  // One simulated server, always the leader.
  r.headers.emplace_back("X-Nomad-Knownleader", "true");
  r.headers.emplace_back("X-Nomad-Lastcontact", "0");
}

std::string Router::TokenOf(const Request& req) {
  std::string token = req.Header("x-nomad-token");
  if (!token.empty()) return token;
  std::string auth = req.Header("authorization");
  if (auth.empty()) return "";
  size_t sp = auth.find(' ');
  if (sp == std::string::npos || !EqualsIgnoreCase(auth.substr(0, sp), "bearer")) return "";
  std::string rest = auth.substr(sp + 1);
  size_t start = rest.find_first_not_of(' ');
  if (start == std::string::npos) return "";
  rest = rest.substr(start);
  return rest.substr(0, rest.find(' '));
}

// --- Lifecycle -------------------------------------------------------------------------------

Router::Router(SimCore& core, AclState& acl, Variables& vars, Cluster* cluster, Options opts)
    : core_(core), acl_(acl), vars_(vars), cluster_(cluster), opts_(opts) {
  write_listener_ = core_.AddWriteListener([this](uint64_t) { ScheduleRecheck(); });
  if (cluster_ != nullptr) deployments_ = std::make_unique<Deployments>(core_, *cluster_);
  core_.Events().SetPublishListener([this]() {
    if (deployments_) deployments_->Pump();
    PumpStreams();
  });
}

Router::~Router() {
  core_.RemoveWriteListener(write_listener_);
  core_.Events().SetPublishListener(nullptr);
  if (recheck_scheduled_) core_.Cancel(recheck_timer_);
  for (auto& [id, p] : parked_) core_.Cancel(p.deadline_timer);
  for (auto& [id, d] : delayed_) core_.Cancel(d.first);
  std::vector<uint64_t> ids;
  for (auto& [id, s] : streams_) ids.push_back(id);
  for (uint64_t id : ids) CloseStream(id, /*notify_sink=*/false);
}

void Router::Shutdown() {
  auto parked = std::move(parked_);
  parked_.clear();
  for (auto& [id, p] : parked) {
    core_.Cancel(p.deadline_timer);
    p.done(Text(503, "simulator shutting down"));
  }
  auto delayed = std::move(delayed_);
  delayed_.clear();
  for (auto& [id, d] : delayed) {
    core_.Cancel(d.first);
    d.second(Text(503, "simulator shutting down"));
  }
  auto dropped = std::move(dropped_);
  dropped_.clear();
  for (auto& [id, done] : dropped) done(Text(503, "simulator shutting down"));
  auto dropped_streams = std::move(dropped_streams_);
  dropped_streams_.clear();
  for (auto& sink : dropped_streams) sink->Reply(Text(503, "simulator shutting down"));
  std::vector<uint64_t> ids;
  for (auto& [id, s] : streams_) ids.push_back(id);
  for (uint64_t id : ids) CloseStream(id, /*notify_sink=*/true);
}

// --- Faults and partitions -------------------------------------------------------------------

void Router::AddFault(Fault fault) {
  if (fault.route == "*") fault.route.clear();
  faults_.push_back(std::move(fault));
}

void Router::ClearFaults() { faults_.clear(); }

// --- Request accounting ----------------------------------------------------------------------

std::string Router::RouteTemplate(const std::string& path) {
  // Collection prefixes whose next segment(s) name one object; the object's own sub-resources
  // (the last segment, when it is one of these) are kept.
  struct Prefix {
    std::string_view prefix;
    std::string_view param;
    std::vector<std::string_view> subs;
  };
  static const std::vector<Prefix> kPrefixes = {
      {"/v1/job/", ":id",
       {"allocations", "plan", "evaluate", "evaluations", "versions", "summary", "deployments",
        "deployment", "scale", "dispatch", "periodic/force"}},
      {"/v1/evaluation/", ":id", {"allocations"}},
      {"/v1/allocation/", ":id", {"stop"}},
      {"/v1/node/", ":id", {"allocations", "drain", "eligibility", "purge"}},
      {"/v1/var/", ":path", {}},
      {"/v1/acl/policy/", ":name", {}},
  };
  for (const Prefix& p : kPrefixes) {
    if (!StartsWith(path, p.prefix) || path.size() == p.prefix.size()) continue;
    const std::string_view rest = std::string_view(path).substr(p.prefix.size());
    for (std::string_view sub : p.subs) {
      if (rest.size() > sub.size() + 1 && rest.substr(rest.size() - sub.size()) == sub &&
          rest[rest.size() - sub.size() - 1] == '/') {
        return std::string(p.prefix) + std::string(p.param) + "/" + std::string(sub);
      }
    }
    return std::string(p.prefix) + std::string(p.param);
  }
  return path;
}

uint64_t Router::RequestTotal() const {
  uint64_t n = 0;
  for (const auto& [route, count] : request_counts_) n += count;
  return n;
}

void Router::Account(const Request& req) {
  if (StartsWith(req.path, "/v1/sim/")) return;
  ++request_counts_[req.method + " " + RouteTemplate(req.path)];
  if (request_observer_) request_observer_(req);
}

Router::Fault* Router::MatchFault(const Request& req) {
  // The longest matching route wins; ties go to the fault added first.
  Fault* best = nullptr;
  for (Fault& f : faults_) {
    if (!StartsWith(req.path, f.route)) continue;
    if (!f.method.empty() && f.method != req.method) continue;
    if (best == nullptr || f.route.size() > best->route.size()) best = &f;
  }
  return best;
}

bool Router::FromPartitionedAlloc(const Request& req) const {
  if (cluster_ == nullptr) return false;
  std::optional<std::string> alloc = acl_.AllocIdForToken(TokenOf(req));
  if (!alloc) return false;
  std::optional<std::string> node = cluster_->NodeOfAlloc(*alloc);
  return node && cluster_->IsPartitioned(*node);
}

// --- Dispatch --------------------------------------------------------------------------------

void Router::Submit(Request req, std::function<void(Reply)> done) {
  Account(req);
  if (!StartsWith(req.path, "/v1/sim/")) {
    if (FromPartitionedAlloc(req)) {
      dropped_.emplace(next_id_++, std::move(done));
      return;
    }
    if (Fault* match = MatchFault(req)) {
      Fault f = *match;
      if (match->count > 0 && --match->count == 0) {
        faults_.erase(faults_.begin() + (match - faults_.data()));
      }
      if (f.drop) {
        dropped_.emplace(next_id_++, std::move(done));
        return;
      }
      if (f.latency > base::Duration(0)) {
        uint64_t id = next_id_++;
        uint64_t timer = core_.After(f.latency, "fault-latency " + req.path, [this, id, f,
                                                                               req]() mutable {
          auto it = delayed_.find(id);
          if (it == delayed_.end()) return;
          std::function<void(Reply)> cb = std::move(it->second.second);
          delayed_.erase(it);
          if (f.status != 0) {
            cb(Text(f.status, f.body));
          } else {
            Handle(std::move(req), std::move(cb));
          }
        });
        delayed_.emplace(id, std::make_pair(timer, std::move(done)));
        return;
      }
      if (f.status != 0) {
        done(Text(f.status, f.body));
        return;
      }
    }
  }
  Handle(std::move(req), std::move(done));
}

std::optional<Reply> Router::ParseQueryOptions(const Request& req, uint64_t* index,
                                               base::Duration* wait) {
  // command/agent/http.go parseWait, then parseConsistency.
  if (std::string w = req.Get("wait"); !w.empty()) {
    auto d = base::ParseDuration(w);
    if (!d.ok()) return Text(400, "Invalid wait time");
    *wait = *d;
  }
  if (std::string i = req.Get("index"); !i.empty()) {
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(i.data(), i.data() + i.size(), v);
    if (ec != std::errc() || ptr != i.data() + i.size()) return Text(400, "Invalid index");
    *index = v;
  }
  if (req.Has("stale")) {
    std::string s = req.Get("stale");
    if (!s.empty() && s != "true" && s != "false") {
      return Text(400, "Expect `true` or `false` for `stale` query string parameter");
    }
  }
  return std::nullopt;
}

void Router::Handle(Request req, std::function<void(Reply)> done) {
  uint64_t min_index = 0;
  base::Duration wait{0};
  bool is_read = req.method == "GET" && StartsWith(req.path, "/v1/") &&
                 !StartsWith(req.path, "/v1/sim/");
  if (is_read) {
    if (auto bad = ParseQueryOptions(req, &min_index, &wait)) {
      done(std::move(*bad));
      return;
    }
  }
  Ctx ctx{req, acl_.Resolve(TokenOf(req)), {}, {}, std::nullopt};
  Reply r = Route(ctx);
  if (is_read && min_index > 0 && ctx.block_index && *ctx.block_index <= min_index) {
    // nomad/structs TimeToBlock + blockingRPC's RandomStagger(wait / JitterFraction=16).
    if (wait <= base::Duration(0)) wait = opts_.default_blocking_wait;
    if (wait > opts_.max_blocking_wait) wait = opts_.max_blocking_wait;
    wait += core_.Jitter(wait / 16);
    uint64_t id = next_id_++;
    Parked p;
    p.req = std::move(req);
    p.done = std::move(done);
    p.min_index = min_index;
    p.deadline_timer = core_.After(wait, "blocking-query-deadline", [this, id]() {
      auto it = parked_.find(id);
      if (it == parked_.end()) return;
      Parked q = std::move(it->second);
      parked_.erase(it);
      Ctx c{q.req, acl_.Resolve(TokenOf(q.req)), {}, {}, std::nullopt};
      q.done(Route(c));  // timeout: 200 with the current data, index possibly unchanged
    });
    parked_.emplace(id, std::move(p));
    return;
  }
  done(std::move(r));
}

void Router::ScheduleRecheck() {
  if (recheck_scheduled_ || parked_.empty()) return;
  recheck_scheduled_ = true;
  // The write listener runs inside NextIndex(), before the write is applied: look again once
  // the current model call has finished, at the same virtual instant.
  recheck_timer_ = core_.After(base::Duration(0), "blocking-query-recheck", [this]() {
    recheck_scheduled_ = false;
    RecheckParked();
  });
}

void Router::RecheckParked() {
  std::vector<uint64_t> ids;
  for (const auto& [id, p] : parked_) ids.push_back(id);
  for (uint64_t id : ids) {
    auto it = parked_.find(id);
    if (it == parked_.end()) continue;
    Ctx c{it->second.req, acl_.Resolve(TokenOf(it->second.req)), {}, {}, std::nullopt};
    Reply r = Route(c);
    if (c.block_index && *c.block_index <= it->second.min_index) continue;
    Parked q = std::move(it->second);
    parked_.erase(it);
    core_.Cancel(q.deadline_timer);
    q.done(std::move(r));
  }
}

Reply Router::Route(Ctx& ctx) {
  const Request& req = ctx.req;
  ctx.ns = req.Get("namespace");
  if (ctx.ns.empty()) ctx.ns = "default";
  if (req.Has("pretty")) ctx.enc.pretty = req.Get("pretty") != "0";
  const std::string& p = req.path;
  Reply r;
  if (p == "/") {
    r = Empty(307);
    r.headers.emplace_back("Location", "/ui/");
    return r;
  }
  if (StartsWith(p, "/v1/var/")) {
    r = RouteVar(ctx);
  } else if (p == "/v1/vars") {
    r = RouteVars(ctx);
  } else if (p == "/v1/event/stream") {
    r = Text(500, "the event stream needs a streaming transport (SubmitStream)");
  } else if (StartsWith(p, "/v1/acl/policy/")) {
    r = RouteAclPolicy(ctx);
  } else if (p == "/v1/acl/policies") {
    r = RouteAclPolicies(ctx);
  } else if (StartsWith(p, "/v1/sim/")) {
    r = RouteSim(ctx);
  } else if (p == "/v1/agent/self") {
    r = RouteAgentSelf(ctx);
  } else if (p == "/v1/namespaces") {
    r = RouteNamespaces(ctx);
  } else if (p == "/v1/acl/token/self") {
    r = RouteAclTokenSelf(ctx);
  } else if (p == "/v1/status/leader" || p == "/v1/status/peers") {
    r = RouteStatus(ctx);
  } else if (p == "/v1/regions") {
    r = RouteRegions(ctx);
  } else if (cluster_ != nullptr && p == "/v1/validate/job") {
    r = RouteValidateJob(ctx);
  } else if (cluster_ != nullptr && p == "/v1/evaluations") {
    r = RouteEvaluations(ctx);
  } else if (cluster_ != nullptr && StartsWith(p, "/v1/evaluation/")) {
    r = RouteEvaluation(ctx);
  } else if (p == "/v1/jobs/parse") {
    r = RouteJobsParse(ctx);
  } else if (cluster_ != nullptr && p == "/v1/jobs") {
    r = RouteJobs(ctx);
  } else if (cluster_ != nullptr && StartsWith(p, "/v1/job/")) {
    r = RouteJob(ctx);
  } else if (cluster_ != nullptr && p == "/v1/allocations") {
    r = RouteAllocations(ctx);
  } else if (cluster_ != nullptr && StartsWith(p, "/v1/allocation/")) {
    r = RouteAllocation(ctx);
  } else if (cluster_ != nullptr && p == "/v1/nodes") {
    r = RouteNodes(ctx);
  } else if (cluster_ != nullptr && StartsWith(p, "/v1/node/")) {
    r = RouteNode(ctx);
  } else {
    return Empty(404);  // handleRootFallthrough: empty body
  }
  // ?pretty adds a trailing newline after the indented JSON.
  if (ctx.enc.pretty && r.content_type == kContentTypeJson && !r.body.empty()) r.body += "\n";
  return r;
}

}  // namespace nsg::sim
