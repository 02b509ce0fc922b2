// Router: the HTTP semantics of the simulated Nomad agent, shared by every front end — the real
// HTTP server (http_frontend.h) and in-process transports used by the deterministic simulation.
//
// A front end turns its transport's request into a Request (decoded path and query, lower-case
// header names) and hands it to Submit() with a completion callback; the router answers with a
// Reply (status, wire-case headers, content type, body). What the router reproduces
// (nomad-api.md §1, §2, §4, §12):
//   * routing: /v1/... paths, 404 with an empty body for unknown paths, 405 "Invalid method"
//     (400 for /v1/var/:path), plain-text error bodies (text/plain; charset=utf-8);
//   * tokens from X-Nomad-Token, else "Authorization: Bearer <t>"; 403 "Permission denied";
//   * X-Nomad-Index / X-Nomad-Knownleader / X-Nomad-Lastcontact as Nomad sets them;
//   * blocking queries (§1.6): ?index=N&wait=D on reads; 400 "Invalid index" / "Invalid wait
//     time"; wait defaults to 5m, is capped at 5m, plus up to wait/16 of seeded jitter. A parked
//     query is re-run after each SimCore write (on the same virtual instant, through a zero-delay
//     SimCore timer, so the write has been applied) and answered once the result index exceeds N,
//     or at its virtual deadline with the current data;
//   * the event stream (§4) through SubmitStream(), in either framing;
//   * the simulator control API under /v1/sim/ and injected faults (status, latency, drop) per
//     path prefix; requests carrying the workload token of an allocation whose node is
//     partitioned are never answered (the client times out), as a Task API call from a cut-off
//     client would be;
//   * request accounting for tests and benchmarks: every request outside /v1/sim/ is counted by
//     "METHOD route" (RouteTemplate) as it arrives, before faults and partitions, and handed to an
//     optional observer. Counting never changes what the model does.
//
// Completion callbacks run synchronously inside Submit() for immediate replies, and later inside
// SimCore::AdvanceTo() for parked or delayed ones. They must not call back into the router; nor
// may StreamSink methods. The router installs SimCore::Events()' (single) publish listener and a
// SimCore write listener, and removes both on destruction: one Router per SimCore.
//
// Not synchronized: the router and the model it serves (SimCore, AclState, Variables, Cluster)
// are owned by one thread at a time (the HTTP front end's model mutex, or the simulation loop).
// It borrows everything passed to the constructor; those must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/base/status.h"
#include "controller/nomad/codec.h"
#include "controller/sim/acl.h"
#include "controller/sim/sim_core.h"
#include "controller/sim/variables.h"

namespace nsg::sim {

class Deployments;

class Cluster;

struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // decoded, e.g. "/v1/var/nomad/jobs/x"
  std::multimap<std::string, std::string> query;  // decoded; a key without "=" has value ""
  std::map<std::string, std::string> headers;     // lower-case names
  std::string body;

  bool Has(const std::string& key) const { return query.count(key) > 0; }
  // The first value of `key` ("" when absent), as Go's url.Values.Get.
  std::string Get(const std::string& key) const;
  std::vector<std::string> GetAll(const std::string& key) const;
  std::string Header(const std::string& lower_name) const;
};

struct Reply {
  int status = 200;
  // Wire case, in the order to send: X-Nomad-Index, X-Nomad-Knownleader, X-Nomad-Lastcontact,
  // X-Nomad-Nexttoken, Location, Cache-Control, Connection.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;  // "" = no Content-Type header (empty bodies)
  std::string body;

  // The value of header `name` (case-insensitive), or "" when absent.
  std::string HeaderValue(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

inline constexpr char kContentTypeJson[] = "application/json";
inline constexpr char kContentTypeText[] = "text/plain; charset=utf-8";

// Receives one event stream. Calls arrive in the order Reply | (Open, Write*, Close).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // A complete ordinary reply (an error found before the stream started). Nothing follows.
  virtual void Reply(const sim::Reply& reply) = 0;
  // Status line and headers of the stream; body bytes follow.
  virtual void Open(const sim::Reply& head) = 0;
  // Body bytes: whole NDJSON lines, each ending in '\n'.
  virtual void Write(const std::string& data) = 0;
  // The server ends the stream (errors after the headers, shutdown). Nothing follows.
  virtual void Close() = 0;
};

// How the event-stream body is framed on the wire (nomad-api.md §4.2).
enum class StreamFraming {
  // Nomad < 1.11.2: an ordinary chunked response; ACL errors are real 403s.
  kChunked,
  // Nomad >= 1.11.2 (the 2.x baseline): the connection is hijacked, "200 OK" with
  // "Connection: close" is written before ACL checks, the body is raw NDJSON until close, and
  // every later error is "200, then EOF".
  kCloseDelimited,
};

class Router {
 public:
  struct Options {
    // Nomad's MaxBlockingRPCQueryTime and DefaultBlockingRPCQueryTime.
    base::Duration max_blocking_wait = std::chrono::minutes(5);
    base::Duration default_blocking_wait = std::chrono::minutes(5);
    // NewJsonStream(ctx, 30*time.Second).
    base::Duration event_heartbeat = std::chrono::seconds(30);
  };

  // An injected fault on every request whose path starts with `route` ("" or "*" = every path
  // outside /v1/sim/) and whose method equals `method` ("" = any).
  struct Fault {
    std::string route;
    std::string method;
    int status = 0;                  // != 0: answer this status with body `body`
    std::string body = "injected fault";
    base::Duration latency{0};       // the request is handled this much later (virtual time)
    bool drop = false;               // never answer (the client times out)
    int count = 0;                   // requests affected; 0 = until cleared
  };

  // `cluster` may be null: job, allocation, node and /v1/sim/ cluster routes then answer 404.
  Router(SimCore& core, AclState& acl, Variables& vars, Cluster* cluster, Options opts);
  Router(SimCore& core, AclState& acl, Variables& vars, Cluster* cluster)
      : Router(core, acl, vars, cluster, Options{}) {}
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;
  ~Router();

  // Handles one request; `done` is called exactly once, now or later (inside AdvanceTo), except
  // for dropped requests (faults, partitions), whose callbacks are kept until Shutdown().
  void Submit(Request req, std::function<void(Reply)> done);

  // Starts an event stream (GET /v1/event/stream). Returns an id for CancelStream, or 0 when the
  // request was answered at once with sink->Reply(). The router keeps `sink` until it calls
  // Close() or the front end calls CancelStream().
  uint64_t SubmitStream(Request req, std::shared_ptr<StreamSink> sink, StreamFraming framing);
  // The client went away: stop producing (no further sink calls).
  void CancelStream(uint64_t id);

  // Answers every parked, delayed and dropped request with 503 "simulator shutting down" and
  // closes every stream. The router stays usable.
  void Shutdown();

  // Faults.
  void AddFault(Fault fault);
  void ClearFaults();

  // Ends every open event stream as a server restart or a proxy's idle timeout would (the client
  // sees the body end and must reconnect). Returns how many were closed.
  size_t CloseStreams();

  // Requests that arrived (outside /v1/sim/), by "METHOD route" — e.g. "GET /v1/job/:id",
  // "POST /v1/allocation/:id/stop", "GET /v1/event/stream" — since construction or the last
  // ResetRequestCounts().
  const std::map<std::string, uint64_t>& RequestCounts() const { return request_counts_; }
  uint64_t RequestTotal() const;
  void ResetRequestCounts() { request_counts_.clear(); }
  // Called with every request that arrives (outside /v1/sim/), before faults and partitions, on
  // the thread that owns the router (so with the HTTP front end's model mutex held): it must be
  // quick and must not call back into the router or the model. Empty = none.
  void SetRequestObserver(std::function<void(const Request&)> observer) {
    request_observer_ = std::move(observer);
  }
  // The route of `path` with its parameters replaced: "/v1/job/x/allocations" →
  // "/v1/job/:id/allocations", "/v1/var/a/b" → "/v1/var/:path".
  static std::string RouteTemplate(const std::string& path);

  // Introspection for tests and the control API.
  size_t ParkedQueries() const { return parked_.size(); }
  size_t OpenStreams() const { return streams_.size(); }
  size_t DroppedRequests() const { return dropped_.size(); }

  // Token as Nomad's parseToken picks it: X-Nomad-Token, else "Authorization: Bearer <t>".
  static std::string TokenOf(const Request& req);

 private:
  // Per-request state passed to route handlers.
  struct Ctx {
    const Request& req;
    base::Result<Identity> who;
    std::string ns;              // ?namespace, default "default"
    nomad::EncodeOptions enc;    // ?pretty
    // Set by blocking-capable reads: the result's index (the query is parked while <= N).
    std::optional<uint64_t> block_index;
  };
  struct Parked {
    Request req;
    std::function<void(Reply)> done;
    uint64_t min_index = 0;
    uint64_t deadline_timer = 0;  // SimCore timer id
  };
  struct Stream {
    uint64_t id = 0;
    std::shared_ptr<StreamSink> sink;
    uint64_t sub = 0;  // EventBroker subscription
    std::string token;
    uint64_t heartbeat_timer = 0;  // SimCore timer id
  };

  // Dispatch after faults and partitions: query options, the route, and parking of blocking
  // reads.
  void Handle(Request req, std::function<void(Reply)> done);
  // Runs the route for `req`; returns the reply and sets ctx.block_index for blocking reads.
  Reply Route(Ctx& ctx);
  // Parses index/wait/stale for reads; a 400 reply on malformed values.
  static std::optional<Reply> ParseQueryOptions(const Request& req, uint64_t* index,
                                                base::Duration* wait);
  void RecheckParked();
  void ScheduleRecheck();
  void FinishParked(uint64_t id);
  Fault* MatchFault(const Request& req);
  // Counts `req` and tells the observer (see RequestCounts).
  void Account(const Request& req);
  bool FromPartitionedAlloc(const Request& req) const;

  // Routes (routes_*.cc).
  Reply RouteVar(Ctx& ctx);
  Reply RouteVars(Ctx& ctx);
  Reply RouteAclPolicy(Ctx& ctx);
  Reply RouteAclPolicies(Ctx& ctx);
  Reply RouteJobs(Ctx& ctx);
  Reply RouteJob(Ctx& ctx);
  Reply RouteAllocations(Ctx& ctx);  // routes_allocs.cc
  Reply RouteAllocation(Ctx& ctx);   // routes_allocs.cc
  Reply RouteNodes(Ctx& ctx);        // routes_allocs.cc
  Reply RouteNode(Ctx& ctx);         // routes_allocs.cc
  Reply RouteSim(Ctx& ctx);
  Reply RouteAgentSelf(Ctx& ctx);   // routes_agent.cc
  Reply RouteNamespaces(Ctx& ctx);  // routes_agent.cc
  Reply RouteStatus(Ctx& ctx);      // routes_agent.cc: /v1/status/leader, /v1/status/peers
  Reply RouteRegions(Ctx& ctx);     // routes_agent.cc
  Reply RouteAclTokenSelf(Ctx& ctx);  // routes_vars.cc
  Reply RouteValidateJob(Ctx& ctx);   // routes_jobs.cc
  Reply RouteJobsParse(Ctx& ctx);     // routes_parse.cc: POST/PUT /v1/jobs/parse
  Reply RouteEvaluations(Ctx& ctx);   // routes_evals.cc
  Reply RouteEvaluation(Ctx& ctx);    // routes_evals.cc

  // Event stream helpers (routes_events.cc).
  void PumpStreams();
  void PumpStream(Stream& s);
  void CloseStream(uint64_t id, bool notify_sink);
  void ArmHeartbeat(uint64_t id);
  std::vector<std::string> KnownNamespaces() const;

  // Reply builders.
  static Reply Text(int status, std::string msg);
  static Reply Json(int status, std::string body);
  static Reply Empty(int status);
  static void AddIndex(Reply& r, uint64_t index);
  static void AddQueryMeta(Reply& r);
  static Reply Forbidden() { return Text(403, "Permission denied"); }
  static Reply MethodNotAllowed() { return Text(405, "Invalid method"); }

  // Borrowed; constant after construction.
  SimCore& core_;
  AclState& acl_;
  Variables& vars_;
  Cluster* const cluster_;
  std::unique_ptr<Deployments> deployments_;  // with a cluster: its deployments (deployments.h)
  const Options opts_;

  // Mutable state (single-threaded).
  uint64_t write_listener_ = 0;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Parked> parked_;
  bool recheck_scheduled_ = false;
  uint64_t recheck_timer_ = 0;
  std::map<uint64_t, std::pair<uint64_t, std::function<void(Reply)>>> delayed_;  // id → timer
  std::map<uint64_t, std::function<void(Reply)>> dropped_;
  std::vector<Fault> faults_;
  std::map<uint64_t, std::unique_ptr<Stream>> streams_;
  std::vector<std::shared_ptr<StreamSink>> dropped_streams_;  // never answered (faults)
  std::map<std::string, uint64_t> request_counts_;  // "METHOD route" → requests
  std::function<void(const Request&)> request_observer_;
};

}  // namespace nsg::sim
