// Private to controller/faultsim's world: what world.cc, workload.cc, agent_program.cc,
// controller_actor.cc, invariants.cc, fault_schedule.cc and report.cc share — the World class
// (the state of one run), the per-allocation lease, one run of a protected workload, and the lock
// requests a lock agent sends. Not part of the public API (that is world.h); include only from
// those files. Single-threaded like the world.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/controller_io/spec_set.h"
#include "controller/faultsim/sim_transport.h"
#include "controller/faultsim/world.h"
#include "controller/lock/agent.h"
#include "controller/nomad_client/http_nomad_api.h"
#include "controller/sim/acl.h"
#include "controller/sim/cluster.h"
#include "controller/sim/programs.h"
#include "controller/sim/router.h"
#include "controller/sim/sim_core.h"
#include "controller/sim/variables.h"
#include "controller/timing/budget.h"

namespace nsg::faultsim::internal {

using base::Result;
using base::Status;
using base::TimePoint;

constexpr Duration kGuardPoll = 250ms;     // the guard's lease poll (timing::Assumptions)

inline double Secs(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}
inline double Secs(Duration d) { return std::chrono::duration<double>(d).count(); }

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// ---------------------------------------------------------------------------------------------
// Per-allocation shared state: the lease file between a lock task and its guard.

struct Lease {
  bool held = false, stopping = false, lost = false;
  TimePoint until{};  // node-local
  uint64_t epoch = 0;
  std::optional<lock::Grant> handoff;   // split mode: acquire-only → heartbeat
  bool workload_dead = false;           // the guard's report after a stop
  int workload_code = 0;
  std::function<void()> wake_guard;     // set by the guard
};

class World;

// One run of a protected workload inside a program (a child process, in reality).
class Workload {
 public:
  Workload(World& w, int singleton) : world_(w), singleton_(singleton) {}
  bool running() const { return id_ != 0; }
  void Start(sim::TaskContext& ctx, uint64_t epoch);
  // SIGTERM: exits by itself after a short delay, or ignores it (the owner then kills it after
  // the kill timeout). `on_exit` runs (posted) once it is dead.
  void Term(sim::TaskContext& ctx, Duration kill_timeout, std::function<void(int)> on_exit);
  void Kill();  // SIGKILL: dead now
  // Its whole allocation is frozen (SIGSTOP of the cgroup, a suspended VM): a paused workload
  // does no work, so it does not count as running until Resume(); a pending exit waits too.
  void Pause();
  void Resume();
  bool paused() const { return paused_; }
  void ArmTermExit(Duration in);

 private:
  World& world_;
  const int singleton_;
  uint64_t id_ = 0;
  uint64_t term_timer_ = 0;
  TimePoint term_at_{};  // node-local, while term_timer_ is armed
  std::function<void(int)> term_done_;
  std::optional<Duration> term_left_;  // a TERM exit that a pause postponed
  bool paused_ = false;
  sim::TaskContext* ctx_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// The world

struct SingletonState {
  std::string ns = "default", name, key, mode;
  int standby = 0;
  timing::Timers timers;
  timing::Budget budget;
  bool conflict = false;  // a foreign job owns the ID: never expected to run
  bool long_running = true;  // a service (not batch, not periodic): must run at the end
  Duration reschedule_max_delay{0};
  TimePoint up_since{};  // the latest moment a workload started with none running
  std::map<uint64_t, std::string> running;  // workload id → "alloc@node"
  std::map<uint64_t, std::string> paused;   // workloads whose allocation is frozen
  uint64_t last_epoch = 0;
  bool overlap_reported = false;
  std::optional<TimePoint> overlap_since;
  std::optional<TimePoint> down_since;  // no workload running since
  TimePoint last_start{};
};

struct Probe {  // a downtime measurement in progress
  int singleton = 0;
  std::string kind;
  TimePoint fault_at{};
  bool went_down = false;
  TimePoint down_at{};
};

class ControllerActor;

class World {
 public:
  explicit World(const WorldOptions& o);
  ~World();
  Result<WorldReport> Run();

  // ---- for actors ----
  sim::SimCore& core() { return core_; }
  sim::Router& router() { return router_; }
  sim::Cluster& cluster() { return cluster_; }
  const WorldOptions& options() const { return o_; }
  Duration Latency() { return Duration(std::chrono::microseconds(core_.Uniform(300, 3000))); }
  void Log(const std::string& line);
  bool tracing() const { return static_cast<bool>(o_.trace); }
  void Violate(const std::string& kind, const std::string& msg);
  std::shared_ptr<Lease> LeaseFor(const std::string& alloc) {
    auto& l = leases_[alloc];
    if (!l) l = std::make_shared<Lease>();
    return l;
  }
  // A lock agent's freeze hook (SIGSTOP for a duration), for the agent-freeze fault.
  void RegisterAgent(const std::string& alloc, std::function<void(Duration)> freeze) {
    agents_[alloc] = std::move(freeze);
  }
  uint64_t WorkloadStarted(int s, const sim::TaskSpec& spec, uint64_t epoch);
  void WorkloadEnded(int s, uint64_t id, bool paused = false);
  // A frozen allocation's workload stops counting as running, and counts again when it thaws
  // (then as a start: beside another running workload it is an overlap).
  void WorkloadPaused(int s, uint64_t id);
  void WorkloadResumed(int s, uint64_t id, const sim::TaskSpec& spec);
  // The programs of an allocation that freeze together (the alloc-freeze fault).
  void RegisterPausable(const std::string& alloc, std::function<void(Duration)> freeze) {
    pausables_[alloc].push_back(std::move(freeze));
  }
  // A full allocation disk on `node` (the disk-full fault): lease writes fail.
  bool DiskFull(const std::string& node) const {
    auto it = disk_full_until_.find(node);
    return it != disk_full_until_.end() && core_.Now() < it->second;
  }
  void HolderStarted(int s, const std::string& alloc, const lock::Grant& g, bool resumed);
  void HolderEnded(const std::string& alloc) { holder_lock_.erase(alloc); }
  // Which lock agents wait as hot standbys (alloc → node), to tell a failover that had a standby
  // ready from one that had to wait for a replacement.
  void NoteStandby(const std::string& alloc, const std::string& node, bool standby) {
    if (standby) {
      standbys_[alloc] = node;
    } else {
      standbys_.erase(alloc);
    }
  }
  // `paused`: a freeze of the controller delayed this request after it was decided.
  void ObserveRequest(int controller, const io::HttpRequest& r, bool paused);
  std::string ManagementToken() const { return acl_.ManagementSecret(); }
  AgentKind agent_kind() const { return o_.agent; }
  Endpoint NodeEndpoint(const std::string& node) {
    return Endpoint{[this, node] { return cluster_.IsReachable(node); },
                    [this] { return Latency(); }};
  }

 private:
  friend class ControllerActor;
  std::unique_ptr<sim::TaskProgram> MakeProgram(const sim::TaskSpec& spec);
  Status BuildSpecs();
  void ScheduleFaults(TimePoint end_of_faults);
  void Fault(const std::string& kind);
  template <class Hooks>
  std::string PickAllocation(const std::map<std::string, Hooks>& hooked);
  void StartProbes(const std::string& kind, const std::function<bool(const std::string&)>& hit);
  void ProbeTransition(int s, bool up);
  void AddRouterFault(sim::Router::Fault f, Duration for_how_long);
  void StartController(int id);
  void CheckLiveness();
  void Enter(int s, uint64_t id, const std::string& where, const char* verb);
  void Leave(int s, uint64_t id, const char* verb);

  // Declaration order is destruction order reversed: the router and the cluster (whose programs
  // report to the world state as they are killed) go first, the world state after them.
  const WorldOptions o_;
  sim::SimCore core_;
  sim::AclState acl_;
  sim::Variables vars_;
  sim::ProgramRegistry programs_;

  std::vector<SingletonState> singletons_;
  std::map<std::string, int> by_job_;  // "ns/id" → singleton
  runtime::SpecSet specs_;
  std::map<std::string, std::shared_ptr<Lease>> leases_;
  std::map<std::string, std::string> holder_lock_;  // alloc → lock id it holds (agent's view)
  std::map<std::string, lock::Grant> holder_grant_;  // alloc → its latest grant
  std::map<std::string, std::string> standbys_;     // alloc → node of agents in kStandby
  std::map<std::string, std::function<void(Duration)>> agents_;  // alloc → freeze hook
  std::map<std::string, std::vector<std::function<void(Duration)>>> pausables_;  // alloc → hooks
  std::map<std::string, TimePoint> disk_full_until_;  // node → end of its full disk
  uint64_t next_workload_ = 1;
  std::vector<std::unique_ptr<ControllerActor>> controllers_;  // live and crashed (kept)
  int controller_count_ = 1;
  std::vector<sim::Router::Fault> router_faults_;
  std::vector<Probe> probes_;
  WorldReport report_;
  std::deque<std::string> timeline_;
  bool frozen_timeline_ = false;
  TimePoint faults_end_{};
  TimePoint last_heal_{};  // when the last fault's effect ended

  sim::Cluster cluster_;
  sim::Router router_;
};

// ---------------------------------------------------------------------------------------------
// Lock requests (the HTTP the lock agent sends; decoded as io::HttpNomadApi decodes it)

enum class LockOp { kAcquire, kRenew, kRelease, kRead };

// A lock agent's request, from the lock operations and reads among its actions.
struct LockCall {
  LockOp op = LockOp::kRead;
  uint64_t id = 0;
  std::string lock_id;
  uint64_t index = 0;
  Duration wait{0};
  // The client's timeout: a blocking read's wait plus margin, else `plain`.
  Duration Timeout(Duration plain) const {
    return op == LockOp::kRead && index > 0 ? wait + wait / 16 + 10s : plain;
  }
};

// The lock operation or read among a lock agent's actions, else nullopt.
std::optional<LockCall> AsLockCall(const lock::Action& a);
// The HTTP request of `call` for the lock `c`, with `token` (none when empty).
io::HttpRequest LockRequest(const LockCall& call, const lock::Config& c, const std::string& token);
// The variable in a lock request's answer, as io::HttpNomadApi decodes it.
Result<nomad::Variable> DecodeLockReply(const io::HttpRequest& req,
                                        const Result<io::HttpResponse>& r);

// Feeds a lock request's answer to the agent that sent it (lock::Agent or VarLockAgent).
template <class A>
lock::Actions Deliver(A& agent, LockOp op, uint64_t id, const io::HttpRequest& req,
                      const Result<io::HttpResponse>& r, TimePoint now) {
  auto v = DecodeLockReply(req, r);
  switch (op) {
    case LockOp::kAcquire:
      return agent.OnAcquireResult(now, id, v);
    case LockOp::kRenew:
      return agent.OnRenewResult(now, id, v);
    case LockOp::kRelease:
      return agent.OnReleaseResult(now, id, v.ok() ? Status::Ok() : v.status());
    case LockOp::kRead:
      break;
  }
  if (!v.ok()) return agent.OnReadResult(now, id, v.status());
  nomad::QueryMeta meta;
  meta.last_index = std::stoull("0" + r->headers.Get("X-Nomad-Index"));
  return agent.OnReadResult(now, id, nomad::Query<nomad::Variable>{std::move(v.value()), meta});
}

// The task programs (workload.cc): the guard that runs the workload while the lease is valid
// (sidecar and split mode's workload task, the child of a guarded shim), and a workload without
// any lock (`singleton` -1: not a protected workload; `exits_at_once`: a task that only installs
// something).
std::unique_ptr<sim::TaskProgram> NewGuardProgram(World& w, int singleton, Duration kill_timeout);
std::unique_ptr<sim::TaskProgram> NewPlainProgram(World& w, int singleton, Duration kill_timeout,
                                                  bool exits_at_once);

}  // namespace nsg::faultsim::internal
