// Private to the Cluster's files: the state and helpers behind Cluster. The server is in
// cluster.cc (the public API for jobs, evaluations and allocations), state_store.cc (writes,
// events, indexes), scheduler.cc and scheduler_reconcile.cc (the scheduler) and nodes.cc (nodes,
// heartbeats, client updates); the client agent in client_agent.cc and alloc_runner.cc. Not part
// of the public API; include only from those files. Single-threaded like Cluster.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "controller/nomad/event.h"
#include "controller/sim/cluster.h"

namespace nsg::sim {

// The Cluster's files name the model's main types unqualified.
using nomad::Allocation;
using nomad::Evaluation;
using nomad::Job;

// A node's client clock: local = base_local + (global - base_global) × rate. Its timers are kept
// in local time and re-armed on the SimCore when the rate changes.
class NodeClock {
 public:
  using TimerId = uint64_t;
  explicit NodeClock(SimCore& core)
      : core_(core), base_global_(core.Now()), base_local_(core.Now()) {}
  NodeClock(const NodeClock&) = delete;
  NodeClock& operator=(const NodeClock&) = delete;
  ~NodeClock();

  TimePoint Now() const;
  double Rate() const { return rate_; }
  void SetRate(double rate);
  TimerId After(Duration local_delay, std::string label, std::function<void()> fn);
  void Cancel(TimerId id);

 private:
  struct Timer {
    TimePoint local_due;
    std::string label;
    std::function<void()> fn;
    SimCore::TimerId core_id = 0;
  };
  void Arm(TimerId id, Timer& t);

  SimCore& core_;
  double rate_ = 1.0;
  TimePoint base_global_;
  TimePoint base_local_;
  TimerId next_id_ = 1;
  std::map<TimerId, Timer> timers_;
};

// ---- Helpers the server's files share ----

inline constexpr char kAllocUnknown[] = "alloc is unknown since its node is disconnected";

inline bool ClientTerminal(const std::string& s) {
  return s == nomad::kClientComplete || s == nomad::kClientFailed || s == nomad::kClientLost;
}
inline bool Terminal(const nomad::Allocation& a) {
  return a.desired_status != nomad::kDesiredRun || ClientTerminal(a.client_status);
}
inline const nomad::TaskGroup* FindGroup(const nomad::Job& j, const std::string& name) {
  for (const auto& tg : j.task_groups) {
    if (tg.name == name) return &tg;
  }
  return nullptr;
}
inline int64_t ToUnix(const SimCore& core, TimePoint t) { return core.UnixNanos(t); }
inline TimePoint FromUnix(const SimCore& core, int64_t unix_ns) {
  return TimePoint(Duration(unix_ns - core.UnixNanos(TimePoint{})));
}
// The full Allocation view (events, GET /v1/allocation/:id): no Job, no stub-only fields.
inline nomad::Allocation FullView(const nomad::Allocation& a) {
  nomad::Allocation out = a;
  out.job.reset();
  out.job_type.clear();
  out.job_version = 0;
  return out;
}
// Allocation.NextDelay: the delay before the next reschedule (scheduler_reconcile.cc).
Duration NextDelay(const nomad::Allocation& a, const nomad::ReschedulePolicy& p);

struct Cluster::Impl {
  using JobKey = std::pair<std::string, std::string>;  // (namespace, id)
  using VersionKey = std::tuple<std::string, std::string, uint64_t>;  // (ns, id, job create index)

  // ---- Server state ----
  struct JobRec {
    nomad::Job job;  // the stored job: latest version + status, Stop, indexes
    std::optional<SimCore::TimerId> periodic_timer;
  };
  struct AllocRec {
    nomad::Allocation a;  // server view, Job cleared
    uint64_t job_create_index = 0;
    bool reconnect_pending = false;        // the client reported back after `unknown`
    std::optional<TimePoint> resched_at;   // a disconnect replacement is due then
  };
  struct NodeRec;
  struct Write;

  // ---- Client state ----
  class TaskCtx;
  struct TaskRunner {
    nomad::Task task;
    std::string kind;  // "prestart", "prestart-sidecar", "main", "poststart", "poststop"
    nomad::TaskState st;
    std::unique_ptr<TaskProgram> program;
    std::unique_ptr<TaskCtx> ctx;
    size_t run = 0;  // index into program_runs_ + 1 (0 = none)
    bool started_ever = false;
    bool killing = false;
    bool start_error = false;
    int restart_count = 0;
    TimePoint tracker_start{};  // local time the restart interval started
    NodeClock::TimerId restart_timer = 0;
    NodeClock::TimerId kill_timer = 0;
    int attempt = 0;
    // An exit that happened while the client agent was down (processed on restart).
    std::optional<std::pair<int, int>> detached_exit;
  };
  struct AllocRunner {
    std::string id;
    nomad::Allocation view;  // the client's report: ClientStatus, TaskStates (+ server fields)
    nomad::Job job;
    std::string group;
    std::vector<TaskRunner> tasks;
    bool stopping = false;     // the server said stop, or stop_on_client_after fired
    bool kill_issued = false;  // a leader/sibling kill went out
    bool destroyed = false;    // node crashed: nothing runs any more
  };
  struct Client {
    bool alive = true;
    bool have_heartbeated = false;
    TimePoint last_ok{};  // local time of the last successful heartbeat
    Duration ttl{0};
    std::set<NodeClock::TimerId> timers;  // the agent's own timers (not programs')
    NodeClock::TimerId hb_timer = 0, stop_timer = 0, sync_timer = 0;
    std::map<std::string, std::unique_ptr<AllocRunner>> runners;
    std::set<std::string> dirty;
    bool pull_pending = false;
    // What the next pull reads: every allocation on the node (start, rejoin, heal: as a real
    // client's first pull after a gap), or only those the server changed since the last pull
    // (a real client's blocking query returns the changed allocations' indexes, and it fetches
    // those). Reading every allocation on every pull made each placement cost the node's whole
    // allocation count (issue 17).
    bool pull_all = true;
    std::set<std::string> pull_ids;
    std::map<std::string, std::map<std::string, std::string>> tokens;  // alloc → task → secret
  };
  struct NodeRec {
    nomad::Node node;
    bool crashed = false;
    bool client_crashed = false;
    bool partitioned = false;
    std::unique_ptr<NodeClock> clock;
    TimePoint last_hb_server{};
    TimePoint server_deadline{};
    std::optional<SimCore::TimerId> server_timer;
    std::unique_ptr<Client> client;
  };

  // One Raft write: its index, Type, and the objects it touched (events are built at Commit from
  // their final state).
  struct Write {
    std::string type;
    uint64_t index = 0;
    std::vector<JobKey> jobs;  // explicit Job events (register/deregister)
    std::optional<nomad::Job> deleted_job;
    std::vector<std::string> evals;
    std::vector<std::string> allocs;
    std::vector<std::string> nodes;
    std::set<JobKey> status_jobs;  // jobs whose status may have changed
    std::vector<std::string> enqueue;  // evals to hand to the scheduler after the commit
    // Clients to tell about server-side alloc changes: node → the allocations changed there.
    std::map<std::string, std::set<std::string>> pulls;
  };

  // ---- Scheduler decisions (pure: computed, then applied) ----
  struct Place {
    std::string group;
    int name_index = 0;
    std::string prev_alloc;
    bool reschedule = false;
    bool keep_prev_running = false;  // disconnect replacement: the original stays `unknown`
    bool destructive = false;
  };
  struct Stop {
    std::string alloc_id;
    std::string desc;
    std::string client_status;  // "" or "lost"
    int later = -1;             // index into GroupPlan::later → FollowupEvalID
  };
  struct Later {
    TimePoint when{};
    std::string trigger;
    std::vector<std::string> allocs;  // allocs to get FollowupEvalID (when set_followup)
    bool set_followup = true;
  };
  struct Unknown {
    std::string alloc_id;
    int later = -1;
  };
  struct GroupPlan {
    std::vector<Stop> stops;
    std::vector<Place> places;
    std::vector<std::string> inplace;
    std::vector<Unknown> unknowns;
    std::vector<Later> later;
    std::vector<std::pair<std::string, int>> followups;  // alloc → later index
    std::vector<std::string> reconnected;
    std::vector<std::pair<std::string, TimePoint>> resched_marks;
    nomad::DesiredUpdates du;
  };

  Impl(Cluster& c) : cluster(c), core(c.core_), opts(c.opts_) {}

  Cluster& cluster;
  SimCore& core;
  const ClusterOptions& opts;

  std::map<JobKey, JobRec> jobs;
  std::map<VersionKey, std::map<uint64_t, nomad::Job>> history;
  std::map<std::string, AllocRec> allocs;
  std::map<std::string, nomad::Evaluation> evals;
  // Indexes of `allocs` and `evals`, so that an operation on one job or node costs what it
  // touches, not every allocation of the cluster (issue 17). Both maps only ever grow, and an
  // allocation's namespace, job and node and an evaluation's namespace and job never change, so
  // an entry is added once (AddAlloc, NewEval) and never moves. Each set keeps IDs in the map's
  // order: a walk visits the same entries in the same order as a filtered scan of the map did.
  std::map<JobKey, std::set<std::string>> allocs_by_job;
  std::map<std::string, std::set<std::string>> allocs_by_node;
  std::map<JobKey, std::set<std::string>> evals_by_job;
  const std::set<std::string>& AllocsOfJob(const JobKey& key) const;
  const std::set<std::string>& AllocsOnNode(const std::string& node_id) const;
  const std::set<std::string>& EvalsOfJob(const JobKey& key) const;
  void AddAlloc(AllocRec rec);
  std::map<std::string, NodeRec> nodes;
  std::vector<std::string> node_order;
  // Program instances and contexts that ended while one of their methods may still be on the
  // stack; freed at the next timer tick.
  std::vector<std::unique_ptr<TaskProgram>> graveyard;
  std::vector<std::unique_ptr<TaskCtx>> ctx_graveyard;
  bool gc_scheduled = false;
  // Every SimCore timer callback checks this token, so timers left in the SimCore after the
  // Cluster is gone do nothing (the SimCore outlives the Cluster).
  std::shared_ptr<int> alive = std::make_shared<int>(0);

  SimCore::TimerId At(TimePoint t, std::string label, std::function<void()> fn) {
    std::weak_ptr<int> token = alive;
    return core.At(t, std::move(label), [token, f = std::move(fn)] {
      if (!token.expired()) f();
    });
  }
  SimCore::TimerId After(Duration d, std::string label, std::function<void()> fn) {
    return At(core.Now() + d, std::move(label), std::move(fn));
  }

  // ---- The server (cluster.cc, state_store.cc, scheduler*.cc, nodes.cc) ----
  Write Begin(const std::string& type);
  void Commit(Write& w);
  std::string JobStatus(const JobRec& rec) const;
  nomad::Event AllocEvent(const Write& w, const nomad::Allocation& a) const;
  nomad::Evaluation& NewEval(Write& w, const std::string& ns, const std::string& job_id,
                             int priority, const std::string& type, const std::string& trigger,
                             const std::string& node_id = "");
  void Enqueue(const std::string& eval_id);
  void ProcessEval(const std::string& eval_id);
  GroupPlan ReconcileGroup(const nomad::Job* job, const std::string& ns, const std::string& job_id,
                           const std::string& group, const std::string& eval_id,
                           bool job_stopped) const;
  std::vector<const AllocRec*> JobAllocRecs(const std::string& ns, const std::string& job_id,
                                            std::optional<uint64_t> create_index) const;
  const nomad::Job* AllocJob(const AllocRec& rec) const;
  std::string PickNode(const nomad::Job& job, const std::string& avoid_node,
                       const std::map<std::string, int>& load);
  void CreateNodeEvals(const std::string& node_id, const std::string& trigger);
  void UnblockEvals();
  uint64_t RegisterInternal(nomad::Job job, const JobRec* existing, std::string* eval_id);
  void SchedulePeriodic(const JobKey& key);
  void LaunchPeriodic(const JobKey& key, int64_t launch_unix_ns);
  // Registers the child of periodic `parent` for a launch at `launch_unix_ns`; returns the
  // write index and sets *eval_id (when given).
  uint64_t LaunchChild(const nomad::Job& parent, int64_t launch_unix_ns,
                       std::string* eval_id = nullptr);
  // Heartbeats (server side).
  Duration ServerHeartbeat(const std::string& node_id);  // returns the TTL given to the client
  void ArmServerTimer(NodeRec& n, Duration d);
  void InvalidateHeartbeat(const std::string& node_id);
  void SetNodeStatus(NodeRec& n, const std::string& status, const std::string& desc);
  bool NodeHasDisconnectableAllocs(const std::string& node_id) const;
  // Client → server.
  void ApplyClientUpdates(const std::string& node_id, std::vector<nomad::Allocation> updates);
  void RevokeIfTerminal(const nomad::Allocation& a);
  void StartRun(TaskRunner& tr, const AllocRunner& ar, const std::string& node_id);
  void EndRun(TaskRunner& tr, int exit_code, int signal, const std::string& reason);
  void Bury(TaskRunner& tr);

  // ---- The client agent (client_agent.cc, alloc_runner.cc) ----
  void StartClient(NodeRec& n, bool fresh);
  NodeClock::TimerId ClientTimer(NodeRec& n, Duration d, std::string label,
                                 std::function<void()> fn);
  void CancelClientTimers(NodeRec& n);
  void ClientHeartbeat(const std::string& node_id);
  Duration HeartbeatRetryInterval(NodeRec& n);
  void StopAfterTick(const std::string& node_id);
  // A pull of every allocation on the node.
  void SchedulePull(const std::string& node_id);
  // A pull of the server's changes to these allocations (a full pull when the client cannot
  // pull now: it will read everything when it can).
  void SchedulePull(const std::string& node_id, const std::set<std::string>& alloc_ids);
  void ClientPull(const std::string& node_id);
  void MarkDirty(NodeRec& n, const std::string& alloc_id);
  void ClientFlush(const std::string& node_id);
  void NewRunner(NodeRec& n, const AllocRec& rec);
  void Advance(NodeRec& n, AllocRunner& ar);
  void StartTask(NodeRec& n, AllocRunner& ar, TaskRunner& tr);
  void KillTask(NodeRec& n, AllocRunner& ar, TaskRunner& tr, const nomad::TaskEvent* reason);
  void ForceKill(const std::string& node_id, const std::string& alloc_id, size_t task_index);
  void OnProgramExit(TaskCtx* ctx, int exit_code, int signal);
  void HandleExit(NodeRec& n, AllocRunner& ar, TaskRunner& tr, int exit_code, int signal,
                  bool already_ended);
  void AppendEvent(TaskRunner& tr, nomad::TaskEvent ev);
  void StopAlloc(NodeRec& n, AllocRunner& ar);
  void UpdateClientStatus(NodeRec& n, AllocRunner& ar);
  void CrashPrograms(NodeRec& n, const std::string& reason);
  nomad::TaskEvent Event(const std::string& type, const std::string& msg) const;
  TaskSpec MakeSpec(NodeRec& n, const AllocRunner& ar, const TaskRunner& tr);
  void ScheduleGc();
};

// The runner's TaskContext for one program instance.
class Cluster::Impl::TaskCtx final : public TaskContext {
 public:
  TaskCtx(Impl& impl, NodeRec& n, std::string alloc, size_t task_index, TaskSpec spec)
      : impl_(impl), clock_(*n.clock), node_id(n.node.id), alloc_id(std::move(alloc)),
        index(task_index), spec_(std::move(spec)) {}
  ~TaskCtx() override { End(); }

  const TaskSpec& Spec() const override { return spec_; }
  TimePoint LocalNow() const override { return clock_.Now(); }
  TimePoint GlobalNow() const override { return impl_.core.Now(); }
  TimerId After(Duration local_delay, std::string label, std::function<void()> fn) override {
    if (ended_) return 0;
    auto holder = std::make_shared<TimerId>(0);
    TimerId id = clock_.After(local_delay, std::move(label), [this, holder, f = std::move(fn)] {
      timers_.erase(*holder);
      f();
    });
    *holder = id;
    timers_.insert(id);
    return id;
  }
  void Cancel(TimerId id) override {
    if (timers_.erase(id) > 0) clock_.Cancel(id);
  }
  void Exit(int exit_code, int signal) override {
    if (ended_) return;
    impl_.OnProgramExit(this, exit_code, signal);
  }
  uint64_t Uniform(uint64_t lo, uint64_t hi) override { return impl_.core.Uniform(lo, hi); }

  // The instance is over: no more timers, no more exits.
  void End() {
    ended_ = true;
    for (TimerId id : timers_) clock_.Cancel(id);
    timers_.clear();
  }

 private:
  Impl& impl_;
  NodeClock& clock_;

 public:
  const std::string node_id;
  const std::string alloc_id;
  const size_t index;

 private:
  const TaskSpec spec_;
  std::set<TimerId> timers_;
  bool ended_ = false;
};

}  // namespace nsg::sim
