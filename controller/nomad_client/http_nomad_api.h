// HttpNomadApi: nomad::NomadApi over a Transport (HTTP, HTTPS or the Task API socket).
//
// Every request carries X-Nomad-Token (when the config has a token), ?region= and ?namespace=
// (the call's value, else the config's; job register and plan use the job's own namespace before
// the config's, because Nomad lets ?namespace= override Job.Namespace, nomad-api.md §1.3).
// Responses are mapped to Status by StatusFromHttp (status_map.h) — the only place that does it.
//
// Retries (capped exponential backoff with full jitter, retry.h): at most
// Options::max_attempts attempts, and no retry would start later than Options::max_retry_elapsed
// after the first attempt. Only kUnavailable outcomes (connection errors, timeouts, 429, 5xx
// other than the ones status_map.h recognizes) are retried, and only for calls that are safe to
// repeat when the first attempt may have been applied without us seeing the answer:
//
//   retried   every GET; PlanJob and ParseHcl (write nothing); DeregisterJob; RegisterJob
//             without EnforceIndex (a repeat creates one more evaluation, nothing else);
//             SetVariable and DeleteVariable without cas; Upsert/DeleteAclPolicy;
//             AcquireLock only when the caller chose the Lock.ID (re-acquiring with the same ID
//             succeeds, §2.7).
//   single    RegisterJob with EnforceIndex, SetVariable/DeleteVariable with cas (a repeat of an
//             applied write reports a false conflict); AcquireLock with a server-generated ID (a
//             repeat of an applied acquire gets 409 while we hold the lock without knowing its
//             ID); RenewLock (the lock agent owns the renew deadline — it must see each failure
//             to keep its give-up window, ARCHITECTURE.md §3); ReleaseLock (a repeat after an
//             applied release answers 500 "doesn't hold a lock"); StopAllocation and EvaluateJob
//             (each attempt creates an evaluation).
//   never     kConflict, kNotFound, kPermissionDenied, kInvalidSpec, kCancelled.
//
// Note: cpprest itself re-sends a request once when a pooled connection was closed by the server
// before answering (cpp-libs.md §9); that is below this policy.
//
// Deadlines: an ordinary call has ClientConfig::request_timeout per attempt. A blocking query
// (QueryOptions::index > 0) has wait + wait/16 (Nomad's jitter) + Options::blocking_margin, where
// wait is QueryOptions::wait capped at Nomad's 5m (0 = Nomad's default 5m).
//
// Blocking-query index reset: when a blocking query returns an X-Nomad-Index lower than the index
// asked for (a server restored from a snapshot, or a different server), QueryMeta::last_index is
// reported as 0, as Nomad's and Consul's watchers do, so the caller's next query is a plain read
// that re-learns the current index instead of blocking until the old index comes round again.
// This happens in HttpNomadApi::MetaFrom — the one place.
//
// Shutdown() cancels calls in flight and makes later calls return kCancelled at once.
//
// Observation (metrics): Options::observer, when set, is called once per API call (after its last
// attempt, retries included) with the call's fixed operation name (OpName below: "job.register",
// "var.read", ...; one per NomadApi method, so label cardinality stays bounded), the outcome code
// of the last attempt ("200", "404", "500", ...; "error" for a transport failure such as a refused
// connection or a timeout; "cancelled" after Shutdown) and the time the call took, backoff sleeps
// included, by `clock`. A 2xx whose body does not decode still reports its HTTP status. The
// observer runs on the calling thread, possibly on several threads at once, and must not call
// back into this object.
//
// Borrows `transport`, `clock` and `sleeper`; they must outlive this object. Safe for concurrent
// use. Logs nothing: every outcome is a Status, and no message contains the token (error bodies
// are scrubbed of it too).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "controller/base/clock.h"
#include "controller/nomad/api.h"
#include "controller/nomad_client/client_config.h"
#include "controller/nomad_client/retry.h"
#include "controller/nomad_client/transport.h"

namespace nsg::io {

// Called once per API call: (op, code, took). See "Observation" above.
using RequestObserver =
    std::function<void(std::string_view op, std::string_view code, Duration took)>;

class HttpNomadApi final : public nomad::NomadApi {
 public:
  struct Options {
    BackoffPolicy backoff;
    int max_attempts = 4;
    Duration max_retry_elapsed = std::chrono::seconds(60);
    Duration blocking_margin = std::chrono::seconds(10);
    uint64_t seed = 0;  // jitter seed; 0 = random
    RequestObserver observer;  // may be empty
  };

  // The operation names passed to the observer, one per NomadApi method.
  enum class Op {
    kJobRegister, kJobPlan, kJobRead, kJobsList, kJobAllocations, kJobDeregister, kJobEvaluate,
    kJobsParse, kAllocsList, kAllocRead, kAllocStop, kNodesList, kVarRead, kVarsList, kVarWrite,
    kVarDelete, kLockAcquire, kLockRenew, kLockRelease, kAclPolicyRead, kAclPolicyUpsert,
    kAclPolicyDelete, kAclPoliciesList, kAgentSelf, kNamespacesList,
  };
  static std::string_view OpName(Op op);

  // Nomad's cap on a blocking query's wait (MaxBlockingRPCQueryTime, nomad-api.md §1.6).
  static constexpr Duration kMaxBlockingWait = std::chrono::minutes(5);

  HttpNomadApi(Transport& transport, ClientConfig config, const base::Clock& clock,
               Sleeper& sleeper, Options options);
  HttpNomadApi(Transport& transport, ClientConfig config, const base::Clock& clock,
               Sleeper& sleeper)
      : HttpNomadApi(transport, std::move(config), clock, sleeper, Options{}) {}

  void Shutdown() { stop_.request_stop(); }

  // The per-attempt timeout used for a read with these options.
  Duration TimeoutFor(const nomad::QueryOptions& q) const;

  using Query = nomad::QueryOptions;
  using Write = nomad::WriteOptions;

  Result<nomad::WriteResult> RegisterJob(const nomad::RegisterRequest& req,
                                         const Write& w) override;
  Result<nomad::PlanResponse> PlanJob(const nomad::Job& job, bool diff, const Write& w) override;
  Result<nomad::Query<nomad::Job>> ReadJob(const std::string& id, const Query& q) override;
  Result<nomad::Query<std::vector<nomad::JobStub>>> ListJobs(const Query& q, bool meta) override;
  Result<nomad::Query<std::vector<nomad::Allocation>>> JobAllocations(const std::string& id,
                                                                      const Query& q,
                                                                      bool all) override;
  Result<nomad::WriteResult> DeregisterJob(const std::string& id, bool purge,
                                           const Write& w) override;
  Result<nomad::WriteResult> EvaluateJob(const std::string& id, bool force_reschedule,
                                         const Write& w) override;
  Result<nomad::Job> ParseHcl(const std::string& hcl, const Write& w) override;

  Result<nomad::Query<std::vector<nomad::Allocation>>> ListAllocations(const Query& q) override;
  Result<nomad::Query<nomad::Allocation>> ReadAllocation(const std::string& id,
                                                         const Query& q) override;
  Result<nomad::WriteResult> StopAllocation(const std::string& id,
                                            bool no_shutdown_delay) override;
  Result<nomad::Query<std::vector<nomad::Node>>> ListNodes(const Query& q) override;

  Result<nomad::Query<nomad::Variable>> ReadVariable(const std::string& path,
                                                     const Query& q) override;
  Result<nomad::Query<std::vector<nomad::Variable>>> ListVariables(const Query& q) override;
  Result<nomad::Variable> SetVariable(const nomad::Variable& v, std::optional<uint64_t> cas,
                                      const Write& w, nomad::Variable* conflict) override;
  Status DeleteVariable(const std::string& path, std::optional<uint64_t> cas,
                        const Write& w) override;
  Result<nomad::Variable> AcquireLock(const nomad::Variable& v, const Write& w) override;
  Result<nomad::Variable> RenewLock(const std::string& path, const std::string& lock_id,
                                    const Write& w) override;
  Result<nomad::Variable> ReleaseLock(const std::string& path, const std::string& lock_id,
                                      const Write& w) override;

  Result<nomad::AclPolicy> ReadAclPolicy(const std::string& name) override;
  Result<nomad::Query<std::vector<nomad::AclPolicy>>> ListAclPolicies() override;
  Status UpsertAclPolicy(const nomad::AclPolicy& policy) override;
  Status DeleteAclPolicy(const std::string& name) override;

  // Beyond the NomadApi port (the controller's edge only):
  // GET /v1/agent/self → the agent's Nomad version ("2.0.5"; see DecodeAgentSelfVersion). Needs
  // agent:read (a management token has it).
  Result<std::string> AgentVersion();
  // GET /v1/namespaces → the names of every namespace the token may see.
  Result<std::vector<std::string>> ListNamespaces();

 private:
  enum class Retry { kSingle, kRetried };

  HttpRequest NewRequest(std::string method, std::string path, const std::string& ns,
                         const std::string& region, bool with_namespace) const;
  HttpRequest ReadRequest(std::string path, const Query& q, bool with_namespace = true) const;
  // Sends with retries and reports the call to the observer. A 2xx returns the response;
  // anything else its Status, and a non-2xx response is also copied to *error_response when
  // given.
  Result<HttpResponse> Execute(Op op, const HttpRequest& request, Retry retry, Duration timeout,
                               HttpResponse* error_response = nullptr);
  // The retry loop of Execute; *code receives the outcome code of the last attempt.
  Result<HttpResponse> Attempts(const HttpRequest& request, Retry retry, Duration timeout,
                                HttpResponse* error_response, std::string* code);
  Result<HttpResponse> Read(Op op, const HttpRequest& request, const Query& q);
  nomad::QueryMeta MetaFrom(const HttpResponse& response, uint64_t requested_index) const;
  std::string EffectiveNamespace(const std::string& ns) const;
  Status Malformed(const HttpRequest& request, const Status& decode) const;
  // Execute with the normal timeout, then decode a 2xx body (a body that does not decode is
  // reported by Malformed()).
  template <typename T>
  Result<T> Call(Op op, const HttpRequest& request, Retry retry,
                 base::Result<T> (*decode)(std::string_view)) {
    auto resp = Execute(op, request, retry, config_.request_timeout);
    if (!resp.ok()) return resp.status();
    auto out = decode(resp->body);
    if (!out.ok()) return Malformed(request, out.status());
    return out;
  }

  // Constant after construction.
  Transport& transport_;
  const ClientConfig config_;
  const TokenSource tokens_;  // config_'s token, or its token file re-read when it changes
  const base::Clock& clock_;
  Sleeper& sleeper_;
  const Options options_;
  std::stop_source stop_;  // thread-safe
};

}  // namespace nsg::io
