// Cluster: the Nomad model of the simulator — jobs, evaluations, a scheduler, nodes with
// heartbeats, allocations, and a client-side alloc runner per node (nomad-api.md §5-§7, §9,
// §10).
//
// No I/O, no wall clock: time, timers, the Raft index, randomness and the event broker all come
// from the SimCore passed in, so the same seed and the same calls give the same history byte for
// byte. Every state change takes a SimCore::NextIndex() and publishes its events with the Type of
// the Raft message that Nomad would apply (§4.3):
//   JobRegistered / JobDeregistered        Job (+ the Evaluation created with it)
//   PlanResult                             Allocation (placements, stops, lost/unknown marks),
//                                          Job (status changes), Evaluation (follow-ups)
//   AllocationUpdated                      Allocation (client updates), Job (status)
//   AllocationUpdateDesiredStatus          Allocation + Evaluation (alloc stop)
//   EvaluationUpdated                      Evaluation (created, completed)
//   NodeRegistration / NodeStreamEvent     Node (registered / status changes)
// Allocation payloads never carry Job; Allocation and Evaluation events have FilterKeys
// [JobID, DeploymentID=""]; Node events have no namespace.
//
// Server side vs client side. The server keeps the authoritative tables (jobs with versions,
// evals, allocs, nodes). Each node has a client agent that pulls its allocations, runs them with
// an AllocRunner (task lifecycle, restart policy, kill timeout) and pushes ClientStatus/TaskStates
// back every `client_sync_interval` — only while the node is connected and the agent alive. A
// partitioned node keeps running its tasks and reports after Heal(). The client's own timers
// (heartbeats, restarts, kill timeouts, stop_on_client_after, program timers) run on the node's
// clock, which SkewClock() can make run at rate × real.
//
// Allocation lifecycle (server view; C = ClientStatus, D = DesiredStatus):
//
//   placed C=pending D=run --tasks start--> C=running --all tasks done ok--> C=complete
//     |                                       |
//     |                                       +--a task fails beyond restarts--> C=failed
//     |                                       |    (reschedule policy: replacement now, or
//     |                                       |     later through FollowupEvalID, or never)
//     |                                       |
//     |  alloc stop / job update / count -----+--> D=stop --client kills--> C=complete
//     |
//     +--node down--> C=lost D=stop; replacement now, or at
//     |               lostTime + stop_on_client_after + max(KillTimeout, 5s) when that is set
//     |
//     +--node disconnected (lost_after L > 0)--> C=unknown D=run --L passes--> C=lost D=stop
//                                                  |
//                                                  +--client reconnects--> C=running; the
//                                                     original or its replacement is stopped
//                                                     per disconnect.reconcile
//
// Task lifecycle (client view, one per task of an alloc):
//
//   pending --start--> running --exit--> restart tracker --"Restarting" (delay+jitter)--> pending
//      |                  |                   |
//      |                  |                   +--"Terminated" (ok, no restart) or
//      |                  |                      "Not Restarting" (failed)--> dead
//      |                  |
//      |                  +--kill (stop, leader dead, sibling failed, stop_on_client_after)-->
//      |                     "Killing" --exit, or KillTimeout then SIGKILL--> "Killed" --> dead
//      |
//      +--killed before it ever started--> dead
//   Order inside an alloc: prestart tasks first; main tasks once every prestart non-sidecar task
//   completed successfully (and prestart sidecars run); poststart tasks once the main tasks run;
//   poststop tasks once every other task is dead. A dead leader kills every other task; a failed
//   task kills its siblings ("Sibling Task Failed"); only sidecars left alive -> "Main Tasks Dead".
//
// Simplifications (what is NOT modelled): resources/capacity (any node takes any alloc),
// constraints/affinities/spreads beyond datacenter globs and node pool, deployments/update blocks
// (destructive updates replace all at once), canaries, drains, system/sysbatch scheduling,
// parameterized jobs, services/checks, templates/artifacts/volumes, shutdown_delay, eval broker
// priorities, GC of old evals/allocs/jobs, namespaces' existence, multi-region. The reconciler is
// a simplified port of scheduler/reconciler (filterByTainted, filterByRescheduleable, lost /
// disconnect / reconnect handling); see scheduler_reconcile.cc. Periodic cron: 5 fields, UTC
// (job_rules.h).
//
// Ownership: a Cluster borrows `core` and `programs`, which must outlive it. It owns its programs'
// instances. Single-threaded like SimCore (the HTTP front end serializes access with its mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/base/status.h"
#include "controller/nomad/allocation.h"
#include "controller/nomad/job.h"
#include "controller/nomad/plan.h"
#include "controller/sim/programs.h"
#include "controller/sim/sim_core.h"

namespace nsg::sim {

using base::Result;
using base::Status;

// Server and client tunables; the defaults are Nomad's (nomad-api.md §7.2).
struct ClusterOptions {
  std::string region = "global";
  Duration min_heartbeat_ttl = std::chrono::seconds(10);
  double max_heartbeats_per_second = 50.0;
  Duration heartbeat_grace = std::chrono::seconds(10);
  Duration failover_heartbeat_ttl = std::chrono::seconds(300);
  Duration max_kill_timeout = std::chrono::seconds(30);  // client max_kill_timeout cap
  // Model latencies (not Nomad settings): eval queue → plan applied; server write → client sees
  // it; client batches its status updates (Nomad's allocSyncIntv is 200ms).
  Duration scheduler_latency = std::chrono::milliseconds(5);
  Duration client_pull_latency = std::chrono::milliseconds(10);
  Duration client_sync_interval = std::chrono::milliseconds(200);
  // NOMAD_ADDR given to tasks, and the root under which alloc directories are named.
  std::string nomad_addr = "http://127.0.0.1:4646";
  std::string alloc_root = "/tmp/nsg-sim/allocs";
};

struct NodeSpec {
  std::string name;  // "" → "node-<n>"
  std::string datacenter = "dc1";
  std::string node_pool = "default";
};

// Plan types (JobDiff, DesiredUpdates, PlanResponse) are nomad::* from controller/nomad/plan.h.

// ---- Observation --------------------------------------------------------------------------------

// One program instance (one start of one task). Tests use the history to check invariants such as
// "at most one workload running at any instant".
struct ProgramRun {
  uint64_t id = 0;  // 1, 2, ... in start order
  std::string namespace_, job_id, group, task, alloc_id, node_id, driver;
  TimePoint started{};
  std::optional<TimePoint> ended;  // nullopt while running
  int exit_code = 0;
  int signal = 0;
  std::string end_reason;  // "exited", "killed", "node crashed", "start error"
  std::string description;  // TaskProgram::Describe() at start
};

// The node as the model sees it, beyond nomad::Node (GET /v1/sim/state).
struct NodeState {
  nomad::Node node;
  bool crashed = false;         // whole machine down: no programs, no agent
  bool client_crashed = false;  // agent down: programs keep running unobserved
  bool partitioned = false;
  double clock_rate = 1.0;
  TimePoint last_heartbeat_server{};  // when the server last heard from it
  TimePoint server_heartbeat_deadline{};  // when the server's heartbeat timer fires
};
struct ClusterState {
  std::vector<NodeState> nodes;               // in creation order
  std::vector<nomad::Allocation> allocations;  // server view, by CreateIndex, no Job
  std::vector<ProgramRun> running;             // programs running now
  // The client's view of each alloc it runs, by alloc ID (may differ from the server's while
  // partitioned).
  std::map<std::string, nomad::Allocation> client_allocations;
};

// Issues a workload identity token for NOMAD_TOKEN (the ACL store's IssueWorkloadToken) and
// revokes them when the alloc is gone.
using TokenIssuer = std::function<std::string(const std::string& ns, const std::string& job_id,
                                              const std::string& group, const std::string& task,
                                              const std::string& alloc_id)>;
using TokenRevoker = std::function<void(const std::string& alloc_id)>;

class Cluster {
 public:
  // Borrows `core` and `programs` (both must outlive the Cluster).
  Cluster(SimCore& core, const ProgramRegistry& programs, ClusterOptions opts = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Without an issuer NOMAD_TOKEN is "" even with Identity.Env.
  void SetTokenIssuer(TokenIssuer issuer) { token_issuer_ = std::move(issuer); }
  void SetTokenRevoker(TokenRevoker revoker) { token_revoker_ = std::move(revoker); }
  // Called whenever a program instance starts (ended = nullopt) or ends.
  void SetProgramListener(std::function<void(const ProgramRun&)> fn) {
    program_listener_ = std::move(fn);
  }

  // ---- Jobs (nomad-api.md §5) ----
  // Register (POST /v1/jobs). `ns` is the namespace chosen by the HTTP layer (§1.3); it is written
  // into Job.Namespace. The job is canonicalized (§5.10) and validated. Returns EvalID,
  // EvalCreateIndex, JobModifyIndex, Index (EvalID "" for periodic jobs). An unchanged job creates
  // only a new eval (an EvaluationUpdated write; no new version) and returns the stored job's
  // JobModifyIndex, as nomad/job_endpoint.go does (nomad-api.md §5.2 says ModifyIndex; the code
  // says `reply.JobModifyIndex = existingJob.JobModifyIndex`).
  // Errors (Nomad answers all of these with HTTP 500):
  //   kInvalidSpec — validation, message in go-multierror form ("1 error occurred:\n\t* ...\n\n");
  //   kConflict    — EnforceIndex mismatch, message "Enforcing job modify index N: job exists with
  //                  conflicting job modify index: M" (or "...: job does not exist" for N>0 and
  //                  no job, "...: job already exists" for N=0 and an existing job).
  Result<nomad::WriteResult> Register(const nomad::RegisterRequest& req, const std::string& ns);
  // Deregister (DELETE /v1/job/:id). Stop keeps the job with Stop=true; purge deletes it. A missing
  // job gives a zero WriteResult (not an error). Periodic jobs get no eval.
  Result<nomad::WriteResult> Deregister(const std::string& ns, const std::string& job_id,
                                        bool purge);
  std::optional<nomad::Job> GetJob(const std::string& ns, const std::string& job_id) const;
  // Every stored version, newest first (GET /v1/job/:id/versions).
  std::vector<nomad::Job> JobVersions(const std::string& ns, const std::string& job_id) const;
  // Jobs in `ns` ("*" = all), IDs starting with `prefix`, ordered by (namespace, ID).
  std::vector<nomad::Job> ListJobs(const std::string& ns, const std::string& prefix) const;
  // Dry run (POST /v1/job/:id/plan); writes nothing. kInvalidSpec as for Register.
  Result<nomad::PlanResponse> Plan(const nomad::Job& job, const std::string& ns, bool diff) const;
  // Force evaluation (POST /v1/job/:id/evaluate). kNotFound "job not found".
  Result<nomad::WriteResult> Evaluate(const std::string& ns, const std::string& job_id,
                                      bool force_reschedule);
  std::vector<nomad::Evaluation> JobEvaluations(const std::string& ns,
                                                const std::string& job_id) const;
  std::optional<nomad::Evaluation> GetEvaluation(const std::string& eval_id) const;
  // POST /v1/job/:id/periodic/force: launches a child of the periodic job now.
  Result<nomad::WriteResult> ForcePeriodic(const std::string& ns, const std::string& job_id);
  // Every evaluation in `ns` ("*" = all), by creation.
  std::vector<nomad::Evaluation> ListEvaluations(const std::string& ns) const;

  // ---- Allocations (nomad-api.md §6) ----
  // The full allocation including the Job version it runs.
  std::optional<nomad::Allocation> GetAllocation(const std::string& alloc_id) const;
  // Stubs (Job cleared, JobType/JobVersion set) in `ns` ("*" = all) with ID prefix, by CreateIndex.
  std::vector<nomad::Allocation> ListAllocations(const std::string& ns,
                                                 const std::string& prefix) const;
  // The job's allocations (stubs); without `all`, only those of the current incarnation (§5.7).
  std::vector<nomad::Allocation> JobAllocations(const std::string& ns, const std::string& job_id,
                                                bool all) const;
  // POST /v1/allocation/:id/stop: DesiredTransition.Migrate (+NoShutdownDelay, Reschedule) and an
  // "alloc-stop" eval in one write (AllocationUpdateDesiredStatus). Returns EvalID and Index.
  // kNotFound "allocation not found".
  Result<nomad::WriteResult> StopAllocation(const std::string& alloc_id, bool no_shutdown_delay,
                                            std::optional<bool> reschedule);

  // ---- Nodes (nomad-api.md §7) ----
  // Registers a ready node (NodeRegistration) and starts its client; returns its ID.
  std::string AddNode(const NodeSpec& spec);
  std::optional<nomad::Node> GetNode(const std::string& node_id) const;
  std::vector<nomad::Node> ListNodes(const std::string& prefix) const;  // by creation order

  // ---- Faults (all return kNotFound for an unknown node/alloc/task) ----
  // The machine dies: every program ends at once, the agent stops, no heartbeats.
  Status CrashNode(const std::string& node_id);
  // The client agent dies: programs keep running, but nobody restarts, kills or reports them.
  Status CrashClient(const std::string& node_id);
  // No traffic between the node and the servers, both ways: no heartbeats, no pulls, no updates.
  // Tasks keep running; the client applies stop_on_client_after on its own.
  Status Partition(const std::string& node_id);
  Status Heal(const std::string& node_id);
  // Boots a crashed node (fresh agent; allocs still desired there are started again) or restarts a
  // crashed client (re-attaches to the programs that kept running). kConflict if neither crashed.
  Status RestartNode(const std::string& node_id);
  // The task's current program exits with `exit_code` (as if it crashed). kConflict if the task is
  // not running.
  Status FailTask(const std::string& alloc_id, const std::string& task, int exit_code = 1);
  // A leader election: every node's server-side heartbeat timer becomes failover_heartbeat_ttl.
  void LoseLeadership();
  // The node's client clock runs at rate × real from now on (rate > 0).
  Status SkewClock(const std::string& node_id, double rate);

  // ---- Lookups for the HTTP layer and tests ----
  std::optional<std::string> NodeOfAlloc(const std::string& alloc_id) const;
  bool IsPartitioned(const std::string& node_id) const;
  // True when the node can talk to the servers: it exists, is not crashed, its client is alive
  // and it is not partitioned.
  bool IsReachable(const std::string& node_id) const;
  std::vector<std::string> NodeIds() const;
  ClusterState State() const;
  const std::vector<ProgramRun>& ProgramHistory() const { return program_runs_; }
  std::vector<ProgramRun> RunningPrograms() const;
  // Table indexes for blocking queries (the last write that touched each table).
  uint64_t JobsIndex() const { return jobs_index_; }
  uint64_t AllocsIndex() const { return allocs_index_; }
  uint64_t EvalsIndex() const { return evals_index_; }
  uint64_t NodesIndex() const { return nodes_index_; }
  const ClusterOptions& Options() const { return opts_; }
  // The NOMAD_ADDR tasks get, for front ends that learn their port only when they start.
  void SetNomadAddr(std::string addr) { opts_.nomad_addr = std::move(addr); }

 private:
  struct Impl;
  // Constant after construction (but for opts_.nomad_addr, see SetNomadAddr).
  SimCore& core_;
  const ProgramRegistry& programs_;
  ClusterOptions opts_;
  // Mutable model state (single-threaded).
  TokenIssuer token_issuer_;
  TokenRevoker token_revoker_;
  std::function<void(const ProgramRun&)> program_listener_;
  std::vector<ProgramRun> program_runs_;
  uint64_t jobs_index_ = 0, allocs_index_ = 0, evals_index_ = 0, nodes_index_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nsg::sim
