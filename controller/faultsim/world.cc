#include "controller/faultsim/world.h"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "controller/faultsim/sim_transport.h"
#include "controller/faultsim/var_lock_agent.h"
#include "controller/io/client_config.h"
#include "controller/io/http_nomad_api.h"
#include "controller/io/spec_set.h"
#include "controller/io/status_map.h"
#include "controller/lock/agent.h"
#include "controller/nomad/api_codec.h"
#include "controller/nomad/codec.h"
#include "controller/reconcile/plan.h"
#include "controller/render/job_renderer.h"
#include "controller/runtime/controller_core.h"
#include "controller/sim/acl.h"
#include "controller/sim/cluster.h"
#include "controller/sim/programs.h"
#include "controller/sim/router.h"
#include "controller/sim/sim_core.h"
#include "controller/sim/variables.h"
#include "controller/spec/loader.h"
#include "controller/timing/budget.h"

namespace nsg::faultsim {
namespace {

using base::Result;
using base::Status;
using base::TimePoint;
using Json = nlohmann::json;

constexpr char kLeaderPath[] = "nomad-singleton/leader";
constexpr size_t kTimelineKeep = 400;
constexpr Duration kGuardPoll = 250ms;     // the guard's lease poll (timing::Assumptions)
constexpr Duration kConfirmPoll = 50ms;    // a stopping sidecar re-reads the guard's report
constexpr Duration kWorkTick = 100ms;      // a controller worker looks for work
constexpr Duration kResync = 5min;         // the controller's default resync period
constexpr Duration kStreamRetry = 1s;
constexpr Duration kLockWatchWait = 30s;  // as `nomad-singleton controller` (Nomad before 2.0.0)

double Secs(TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }
double Secs(Duration d) { return std::chrono::duration<double>(d).count(); }

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// ---------------------------------------------------------------------------------------------
// Specs

struct Draw {
  std::string mode = "sidecar";
  int standby = 0;
  int ttl_s = 15, delay_s = 15, kill_s = 5, stop_after_s = 30;
  std::optional<int> give_up_s;
};

std::string SpecYaml(const std::string& name, const Draw& d) {
  std::ostringstream y;
  y << "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\nmetadata:\n  name: " << name
    << "\n  namespace: default\nspec:\n  datacenters: [\"dc1\"]\n  standby: " << d.standby
    << "\n  lock:\n    ttl: " << d.ttl_s << "s\n    delay: " << d.delay_s << "s\n    mode: "
    << d.mode << "\n  failover:\n    stopOnClientAfter: " << d.stop_after_s << "s\n";
  if (d.give_up_s) y << "    giveUp: " << *d.give_up_s << "s\n";
  y << "  task:\n    name: work\n    driver: raw_exec\n    config:\n      command: /usr/bin/work\n"
       "      args: [\"--name\", \""
    << name << "\"]\n    killTimeout: " << d.kill_s << "s\n";
  return y.str();
}

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
// Workload

void Workload::Start(sim::TaskContext& ctx, uint64_t epoch) {
  if (id_ != 0) return;
  ctx_ = &ctx;
  id_ = world_.WorkloadStarted(singleton_, ctx.Spec(), epoch);
}

void Workload::Term(sim::TaskContext& ctx, Duration kill_timeout, std::function<void(int)> on_exit) {
  if (id_ == 0) {
    ctx.After(Duration(0), "workload-dead", [on_exit] { on_exit(0); });
    return;
  }
  if (term_timer_ != 0 || term_left_) return;  // already terminating
  // One in ten workloads ignores SIGTERM; the others exit within 80% of the kill timeout.
  if (ctx.Uniform(0, 9) == 0) return;
  const auto span = static_cast<uint64_t>(std::max<int64_t>(1, (kill_timeout * 8 / 10).count()));
  const Duration exit_in(static_cast<int64_t>(ctx.Uniform(0, span)));
  term_done_ = std::move(on_exit);
  if (paused_) {
    term_left_ = exit_in;  // handled once it runs again
    return;
  }
  ArmTermExit(exit_in);
}

void Workload::ArmTermExit(Duration in) {
  term_at_ = ctx_->LocalNow() + in;
  term_timer_ = ctx_->After(in, "workload-exit", [this] {
    term_timer_ = 0;
    auto done = std::move(term_done_);
    Kill();
    if (done) done(143);
  });
}

void Workload::Pause() {
  if (id_ == 0 || paused_) return;
  paused_ = true;
  if (term_timer_ != 0) {
    term_left_ = std::max(Duration(0), term_at_ - ctx_->LocalNow());
    ctx_->Cancel(term_timer_);
    term_timer_ = 0;
  }
  world_.WorkloadPaused(singleton_, id_);
}

void Workload::Resume() {
  if (!paused_) return;
  paused_ = false;
  if (id_ == 0) return;
  world_.WorkloadResumed(singleton_, id_, ctx_->Spec());
  if (term_left_) {
    const Duration left = *term_left_;
    term_left_.reset();
    ArmTermExit(left);
  }
}

void Workload::Kill() {
  if (term_timer_ != 0 && ctx_ != nullptr) ctx_->Cancel(term_timer_);
  term_timer_ = 0;
  term_left_.reset();
  term_done_ = nullptr;
  if (id_ == 0) return;
  if (paused_) {
    world_.WorkloadEnded(singleton_, id_, /*paused=*/true);
    paused_ = false;
  } else {
    world_.WorkloadEnded(singleton_, id_);
  }
  id_ = 0;
}

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

std::optional<LockCall> AsLockCall(const lock::Action& a) {
  if (auto* x = std::get_if<lock::SendAcquire>(&a)) return LockCall{LockOp::kAcquire, x->id, x->lock_id};
  if (auto* x = std::get_if<lock::SendRenew>(&a)) return LockCall{LockOp::kRenew, x->id, x->lock_id};
  if (auto* x = std::get_if<lock::SendRelease>(&a)) return LockCall{LockOp::kRelease, x->id, x->lock_id};
  if (auto* x = std::get_if<lock::ReadVariable>(&a)) {
    return LockCall{LockOp::kRead, x->id, "", x->index, x->wait};
  }
  return std::nullopt;
}

io::HttpRequest LockRequest(const LockCall& call, const lock::Config& c, const std::string& token) {
  const LockOp op = call.op;
  const std::string& lock_id = call.lock_id;
  const uint64_t index = call.index;
  const Duration wait = call.wait;
  io::HttpRequest r;
  r.path = "/v1/var/" + c.path;
  const std::string ns = c.namespace_.empty() ? "default" : c.namespace_;
  r.query.emplace_back("namespace", ns);
  if (!token.empty()) r.headers.Add("X-Nomad-Token", token);
  switch (op) {
    case LockOp::kAcquire: {
      r.method = "PUT";
      r.query.emplace_back("lock-acquire", "");
      nomad::Variable v;
      v.path = c.path;
      v.items = c.holder_items;
      v.lock = nomad::VariableLock{c.ttl, c.delay, lock_id};
      r.body = nomad::EncodeLockAcquire(v, ns);
      break;
    }
    case LockOp::kRenew:
    case LockOp::kRelease:
      r.method = "PUT";
      r.query.emplace_back(op == LockOp::kRenew ? "lock-renew" : "lock-release", "");
      r.body = nomad::EncodeLockRef(c.path, lock_id, ns);
      break;
    case LockOp::kRead:
      r.method = "GET";
      if (index > 0) {
        r.query.emplace_back("index", std::to_string(index));
        if (wait.count() > 0) r.query.emplace_back("wait", base::FormatDuration(wait));
      }
      break;
  }
  return r;
}

Result<nomad::Variable> DecodeLockReply(const io::HttpRequest& req,
                                        const Result<io::HttpResponse>& r) {
  if (!r.ok()) return r.status();
  Status st = io::StatusFromHttp(r->status, r->body, req.method + " " + req.path);
  if (!st.ok()) return st;
  return nomad::DecodeVariable(r->body);
}

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

// The workload task of sidecar and split mode (and the child of a shim): runs the workload while
// the lease is valid.
class GuardProgram final : public sim::TaskProgram {
 public:
  GuardProgram(World& w, int singleton, Duration kill_timeout)
      : singleton_(singleton), kill_timeout_(kill_timeout), workload_(w, singleton), world_(w) {}

  std::string Start(sim::TaskContext& ctx) override {
    ctx_ = &ctx;
    lease_ = world_.LeaseFor(ctx.Spec().alloc_id);
    auto alive = alive_;
    lease_->wake_guard = [this, alive] {
      if (*alive) Check();
    };
    world_.RegisterPausable(ctx.Spec().alloc_id, [this, alive](Duration d) {
      if (*alive) Freeze(d);
    });
    Check();
    return "";
  }
  void Signal(int) override {
    Thawed([this] {
      stop_requested_ = true;
      auto alive = alive_;
      Terminate([this, alive](int) {
        if (!*alive) return;
        *alive = false;
        ctx_->Exit(0);
      });
    });
  }
  // The whole allocation is frozen for `d`: the guard and its workload stop together. At the thaw
  // the guard looks at the lease before the workload runs on (both wake at once; a workload past
  // its kill instant is KILLed at once, see io::GuardStopSignal).
  void Freeze(Duration d) {
    const TimePoint until = ctx_->LocalNow() + d;
    if (until <= frozen_until_) return;
    frozen_until_ = until;
    workload_.Pause();
    auto alive = alive_;
    ctx_->After(d, "guard-thaw", [this, alive] {
      if (!*alive || ctx_->LocalNow() < frozen_until_) return;
      Check();
      workload_.Resume();
    });
  }
  void Kill() override {
    *alive_ = false;
    workload_.Kill();
    lease_->workload_dead = true;
  }
  std::string Describe() const override { return "guard"; }

 private:
  bool Frozen() const { return ctx_->LocalNow() < frozen_until_; }
  // Runs `fn` now, or after the thaw (a frozen guard handles nothing).
  void Thawed(std::function<void()> fn) {
    if (!Frozen()) {
      fn();
      return;
    }
    auto alive = alive_;
    ctx_->After(frozen_until_ - ctx_->LocalNow(), "guard-thawed", [this, alive, fn] {
      if (*alive) Thawed(fn);
    });
  }

  void Check() {
    if (Frozen()) return;  // the thaw checks
    const TimePoint now = ctx_->LocalNow();
    const bool valid = lease_->held && !lease_->stopping && !lease_->lost && now < lease_->until;
    if (!workload_.running() && !terminating_ && valid && !stop_requested_) {
      lease_->workload_dead = false;
      workload_.Start(*ctx_, lease_->epoch);
    }
    if (!workload_.running()) {
      if (!valid) lease_->workload_dead = true;
      return;
    }
    // Lost, or woken past the instant the workload had to be dead (deadline + kill timeout): KILL
    // at once, no grace (io::GuardStopSignal).
    const bool overdue = !valid && lease_->held && now >= lease_->until + kill_timeout_ &&
                         !world_.options().graceful_guard_after_pause;
    if (lease_->lost || overdue) {
      workload_.Kill();
      terminating_ = false;  // a TERM in progress ends here too
      lease_->workload_code = 137;
      lease_->workload_dead = true;
      return;
    }
    if (!valid) {
      Terminate([](int) {});
      return;
    }
    // Re-check when the lease runs out (noticed within one poll).
    if (expiry_timer_ != 0) ctx_->Cancel(expiry_timer_);
    auto alive = alive_;
    const Duration d = std::max(Duration(0), lease_->until - now) +
                       Duration(static_cast<int64_t>(ctx_->Uniform(0, kGuardPoll.count())));
    expiry_timer_ = ctx_->After(d, "lease-expiry", [this, alive] {
      if (!*alive) return;
      expiry_timer_ = 0;
      Check();
    });
  }

  // TERM, KILL after the kill timeout; report the death in the lease.
  void Terminate(std::function<void(int)> then) {
    if (!workload_.running()) {
      lease_->workload_dead = true;
      ctx_->After(Duration(0), "guard-done", [then] { then(0); });
      return;
    }
    terminating_ = true;
    auto alive = alive_;
    auto finish = [this, alive, then](int code) {
      if (!*alive) return;
      terminating_ = false;
      lease_->workload_code = code;
      lease_->workload_dead = true;
      then(code);
    };
    workload_.Term(*ctx_, kill_timeout_, finish);
    ctx_->After(kill_timeout_, "guard-kill", [this, alive, finish] {
      if (!*alive) return;
      Thawed([this, finish] {
        if (!workload_.running()) {
          terminating_ = false;
          return;
        }
        workload_.Kill();
        finish(137);
      });
    });
  }

  const int singleton_;
  const Duration kill_timeout_;
  Workload workload_;
  World& world_;
  sim::TaskContext* ctx_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::shared_ptr<Lease> lease_;
  bool terminating_ = false, stop_requested_ = false;
  uint64_t expiry_timer_ = 0;
  TimePoint frozen_until_{};  // node-local
};

// ---------------------------------------------------------------------------------------------
// The lock task program (lock::Agent or the VarLockAgent control)

enum class AgentMode { kShim, kSidecar, kAcquireOnly, kHeartbeat };

template <class A>
class AgentProgram final : public sim::TaskProgram {
 public:
  AgentProgram(World& w, int singleton, AgentMode mode, lock::Config cfg)
      : world_(w), singleton_(singleton), mode_(mode), cfg_(std::move(cfg)) {}

  std::string Start(sim::TaskContext& ctx) override {
    ctx_ = &ctx;
    const sim::TaskSpec& spec = ctx.Spec();
    alloc_ = spec.alloc_id;
    node_ = spec.node_id;
    world_.RegisterAgent(alloc_, [this, alive = alive_](Duration d) {
      if (*alive) Freeze(d);
    });
    world_.RegisterPausable(alloc_, [this, alive = alive_](Duration d) {
      if (*alive) Freeze(d, /*quiet=*/true);
    });
    auto tok = spec.env.find("NOMAD_TOKEN");
    token_ = tok == spec.env.end() ? "" : tok->second;
    cfg_.holder_items[reconcile::kLockItemAllocId] = alloc_;
    cfg_.seed = ctx.Uniform(1, UINT64_MAX - 1);
    cfg_.lock_id = alloc_.substr(0, 28) + std::to_string(ctx.Uniform(10000000, 99999999));
    auto a = A::Create(cfg_);
    if (!a.ok()) return "lock agent: " + a.status().message();
    agent_.emplace(std::move(a.value()));
    lease_ = world_.LeaseFor(alloc_);
    if (guarded_shim()) {
      // nomad-singleton's shim runs its command under a guard child that follows the lease.
      guard_ = std::make_unique<GuardProgram>(world_, singleton_, cfg_.kill_timeout);
      guard_->Start(ctx);
    }
    lock::Actions acts;
    if constexpr (std::is_same_v<A, lock::Agent>) {
      if (mode_ == AgentMode::kHeartbeat) {
        if (!lease_->handoff) return "no hand-off from the acquire task";
        acts = agent_->Resume(ctx.LocalNow(), *lease_->handoff);
      } else {
        acts = agent_->Start(ctx.LocalNow());
      }
    } else {
      acts = agent_->Start(ctx.LocalNow());
    }
    Execute(std::move(acts));
    return "";
  }

  void Signal(int signal) override {
    Thawed([this, signal] { Execute(agent_->OnStopRequested(ctx_->LocalNow(), signal)); });
  }

  void Kill() override {
    *alive_ = false;
    world_.HolderEnded(alloc_);
    world_.NoteStandby(alloc_, node_, false);
    if (mode_ == AgentMode::kShim) KillChildren();  // parent-death signal
  }

  // SIGSTOP for `d`: the agent handles nothing (answers, timers, signals wait), while its guard
  // and the workload run on.
  void Freeze(Duration d, bool quiet = false) {
    const TimePoint until = ctx_->LocalNow() + d;
    if (until <= frozen_until_) return;
    frozen_until_ = until;
    if (!quiet) {
      world_.Log("FAULT agent " + alloc_.substr(0, 8) + " frozen for " + base::FormatDuration(d));
    }
  }

  std::string Describe() const override { return "lock agent"; }

 private:
  void Execute(lock::Actions acts) {
    // Exit() may end (and free) this program: check a copy of the flag, never a member.
    auto alive = alive_;
    for (auto& a : acts) {
      if (!*alive) return;
      if (world_.tracing()) {
        world_.Log("agent " + alloc_.substr(0, 8) + ": " + lock::Describe(a) + " [" +
                   std::string(lock::StateName(agent_->state())) + "]");
      }
      if (auto call = AsLockCall(a)) {
        Send(*call);
        continue;
      }
      std::visit(Overloaded{
                     [&](const lock::StartHolder& x) { StartHolder(x); },
                     [&](const lock::ExtendLease& x) { ExtendLease(x.lease_until); },
                     [&](const lock::StopHolder&) { StopHolder(); },
                     [&](const lock::KillHolder&) { KillHolder(); },
                     [&](const lock::Exit& x) { Exit(x.code); },
                     [&](const auto&) {},  // lock operations and reads: sent above
                 },
                 a);
    }
    if (*alive) {
      world_.NoteStandby(alloc_, node_, agent_->state() == lock::State::kStandby);
      Arm();
    } else {
      world_.NoteStandby(alloc_, node_, false);
    }
  }

  // Whether this agent's holder is a lease file (io::LeaseHolder): sidecar, split, guarded shim.
  bool WritesLease() const {
    if constexpr (!std::is_same_v<A, lock::Agent>) return false;
    return mode_ != AgentMode::kShim || guarded_shim();
  }

  bool guarded_shim() const {
    return mode_ == AgentMode::kShim && std::is_same_v<A, lock::Agent>;
  }

  // Runs `fn` now, or once the agent thaws; never after the agent died.
  void Thawed(std::function<void()> fn) {
    if (!*alive_) return;
    const TimePoint now = ctx_->LocalNow();
    if (now < frozen_until_) {
      auto alive = alive_;
      ctx_->After(frozen_until_ - now, "agent-thaw", [this, alive, fn] {
        if (*alive) Thawed(fn);
      });
      return;
    }
    fn();
  }

  void Arm() {
    if (timer_ != 0) ctx_->Cancel(timer_);
    timer_ = 0;
    auto w = agent_->NextWakeup();
    if (!w) return;
    Duration d = std::max(Duration(0), *w - ctx_->LocalNow());
    auto alive = alive_;
    timer_ = ctx_->After(d, "agent-timer", [this, alive] {
      if (!*alive) return;
      timer_ = 0;
      Thawed([this] { Execute(agent_->OnTimer(ctx_->LocalNow())); });
    });
  }

  void Send(const LockCall& call) {
    if (call.op == LockOp::kAcquire && WritesLease() && world_.DiskFull(node_)) {
      // io::LockRunner: a lease holder that cannot write its lease does not campaign; the
      // agent sees an acquire of unknown outcome and backs off.
      auto alive = alive_;
      ctx_->After(Duration(0), "acquire-not-sent", [this, alive, id = call.id] {
        if (!*alive) return;
        Thawed([this, id] {
          Execute(agent_->OnAcquireResult(ctx_->LocalNow(), id,
                                          Status::Unavailable("the lease cannot be written")));
        });
      });
      return;
    }
    io::HttpRequest req = LockRequest(call, cfg_, token_);
    // The agent's client timeout: T/3 for lock operations (lock_command.cc). The stock CLI's Go
    // client has none: a request into a partition hangs.
    Duration timeout = call.Timeout(timing::RenewInterval(cfg_.ttl));
    if constexpr (!std::is_same_v<A, lock::Agent>) timeout = 24h;
    auto alive = alive_;
    AsyncCall(world_.core(), world_.router(), world_.NodeEndpoint(node_), req, timeout,
              [this, alive, op = call.op, id = call.id, req](Result<io::HttpResponse> r) {
                if (!*alive) return;
                const TimePoint now = ctx_->LocalNow();
                if (world_.tracing() && (!r.ok() || r->status != 200)) {
                  world_.Log("agent " + alloc_.substr(0, 8) + ": " + req.method + " " + req.path +
                             " → " + (r.ok() ? std::to_string(r->status) + " " + r->body
                                             : r.status().ToString()));
                }
                (void)now;
                Thawed([this, op, id, req, r] {
                  Execute(Deliver(*agent_, op, id, req, r, ctx_->LocalNow()));
                });
              });
  }

  void StartHolder(const lock::StartHolder& s) {
    const bool resumed = mode_ == AgentMode::kHeartbeat;
    world_.HolderStarted(singleton_, alloc_, s.grant, resumed);
    switch (mode_) {
      case AgentMode::kShim:
        if (!guarded_shim()) {
          // The stock CLI may start a second child while the first still runs (§3.2.8).
          children_.push_back(std::make_unique<Workload>(world_, singleton_));
          children_.back()->Start(*ctx_, s.grant.epoch);
          break;
        }
        [[fallthrough]];
      case AgentMode::kAcquireOnly:
        if (mode_ == AgentMode::kAcquireOnly && !world_.DiskFull(node_)) lease_->handoff = s.grant;
        [[fallthrough]];
      case AgentMode::kSidecar:
      case AgentMode::kHeartbeat:
        if (!WriteLease()) {
          LeaseUnwritable();
          break;
        }
        lease_->held = true;
        lease_->stopping = lease_->lost = false;
        lease_->until = written_until_ = s.lease_until;
        lease_->epoch = s.grant.epoch;
        WakeGuard();
        break;
    }
  }

  // The lease file (io::LeaseHolder): a full allocation disk fails its writes. After a failed
  // start or extension the guard stops the workload at the last deadline it read, and the agent
  // never extends again (that could restart the workload beside a successor); once the guard has
  // surely stopped it (P + K + margin after that deadline) the agent reports the holder dead
  // (exit 75), so the lock is released and a standby takes over.
  bool WriteLease() {
    if (!world_.DiskFull(node_)) return true;
    world_.Log("agent " + alloc_.substr(0, 8) + ": cannot write the lease (alloc disk full)");
    return false;
  }
  void ExtendLease(TimePoint until) {
    if (write_failed_) return;
    if (!WriteLease()) {
      LeaseUnwritable();
      return;
    }
    lease_->until = written_until_ = until;
  }
  void LeaseUnwritable() {
    if (write_failed_) return;
    write_failed_ = true;
    const TimePoint at = written_until_ + kGuardPoll + cfg_.kill_timeout + cfg_.stop_margin;
    auto alive = alive_;
    ctx_->After(std::max(Duration(0), at - ctx_->LocalNow()), "lease-unwritable", [this, alive] {
      if (!*alive) return;
      Thawed([this] {
        if (lease_->stopping || lease_->lost) return;  // already stopping: the guard reports
        world_.Log("agent " + alloc_.substr(0, 8) +
                   ": the lease could not be written; the guard has stopped the workload; "
                   "giving the lock up");
        Execute(agent_->OnHolderExited(ctx_->LocalNow(), 75));
      });
    });
  }

  void StopHolder() {
    auto alive = alive_;
    if (mode_ == AgentMode::kShim && !guarded_shim()) {
      for (auto& child : children_) {
        if (!child->running()) continue;
        child->Term(*ctx_, cfg_.kill_timeout, [this, alive](int code) {
          if (*alive) Execute(agent_->OnHolderExited(ctx_->LocalNow(), code));
        });
      }
      return;
    }
    if (WriteLease()) lease_->stopping = true;
    WakeGuard();
    WaitForGuard();
  }

  void KillHolder() {
    auto alive = alive_;
    if (mode_ == AgentMode::kShim && !guarded_shim()) {
      for (auto& child : children_) {
        if (!child->running()) continue;
        child->Kill();
        ctx_->After(Duration(0), "holder-killed", [this, alive] {
          if (*alive) Execute(agent_->OnHolderExited(ctx_->LocalNow(), 137));
        });
      }
      return;
    }
    if (WriteLease()) lease_->lost = true;
    WakeGuard();
    WaitForGuard();
  }

  // A stopping sidecar re-reads the guard's report every kConfirmPoll.
  void WaitForGuard() {
    auto alive = alive_;
    ctx_->After(kConfirmPoll, "confirm-poll", [this, alive] {
      if (!*alive) return;
      Thawed([this] {
        if (lease_->workload_dead) {
          Execute(agent_->OnHolderExited(ctx_->LocalNow(), lease_->workload_code));
        } else {
          WaitForGuard();
        }
      });
    });
  }

  void WakeGuard() {
    if (!lease_->wake_guard) return;
    auto wake = lease_->wake_guard;
    ctx_->After(Duration(static_cast<int64_t>(ctx_->Uniform(0, kGuardPoll.count()))), "guard-poll",
                [wake] { wake(); });
  }

  void Exit(int code) {
    *alive_ = false;
    world_.HolderEnded(alloc_);
    if (timer_ != 0) ctx_->Cancel(timer_);
    if (mode_ == AgentMode::kShim) KillChildren();
    ctx_->Exit(code);
  }

  void KillChildren() {
    for (auto& child : children_) child->Kill();
    if (guard_) guard_->Kill();  // the guard's parent-death signal; its workload follows
  }

  World& world_;
  const int singleton_;
  const AgentMode mode_;
  lock::Config cfg_;
  std::vector<std::unique_ptr<Workload>> children_;  // unguarded shim (stock CLI): the workload(s)
  std::unique_ptr<sim::TaskProgram> guard_;          // guarded shim: the guard child
  TimePoint frozen_until_{};                         // node-local
  TimePoint written_until_{};                        // the last lease deadline written
  bool write_failed_ = false;                        // a lease write failed (full disk)
  sim::TaskContext* ctx_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::optional<A> agent_;
  std::shared_ptr<Lease> lease_;
  std::string alloc_, node_, token_;
  uint64_t timer_ = 0;
};

// A workload without any lock (count = 1 control; foreign jobs; tasks we do not model).
class PlainProgram final : public sim::TaskProgram {
 public:
  PlainProgram(World& w, int singleton, Duration kill_timeout, bool exits_at_once)
      : workload_(w, singleton), kill_timeout_(kill_timeout), exits_at_once_(exits_at_once) {}
  std::string Start(sim::TaskContext& ctx) override {
    ctx_ = &ctx;
    if (exits_at_once_) {
      auto alive = alive_;
      ctx.After(10ms, "install", [this, alive] {
        if (!*alive) return;
        *alive = false;
        ctx_->Exit(0);
      });
      return "";
    }
    workload_.Start(ctx, 0);
    return "";
  }
  void Signal(int) override {
    auto alive = alive_;
    workload_.Term(*ctx_, kill_timeout_, [this, alive](int code) {
      if (!*alive) return;
      *alive = false;
      ctx_->Exit(0, code == 143 ? 15 : 0);
    });
  }
  void Kill() override {
    *alive_ = false;
    workload_.Kill();
  }

 private:
  Workload workload_;
  const Duration kill_timeout_;
  const bool exits_at_once_;
  sim::TaskContext* ctx_ = nullptr;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// ---------------------------------------------------------------------------------------------
// A controller replica: ControllerCore over HttpNomadApi over SimTransport, an informer on the
// router's event stream, workers on a tick, the resync, and leader election on lock::Agent.

class ControllerActor final : public runtime::ControllerObserver {
 public:
  ControllerActor(World& w, int id)
      : world_(w),
        id_(id),
        clock_(w.core()),
        sleeper_(w.core()),
        transport_(w.core(), w.router(),
                   Endpoint{[this] { return alive_ && !partitioned_; }, [this] { return world_.Latency(); }},
                   [this](const io::HttpRequest& r, bool paused) {
                     world_.ObserveRequest(id_, r, paused);
                   }),
        api_(transport_, ClientConfigFor(w), clock_, sleeper_, ApiOptions(w)),
        core_(api_, clock_, runtime::ControllerCore::Options{.prune = false, .dry_run = false},
              this) {
    core_.SetActive(false);
    transport_.SetPausedUntil([this] { return frozen_until_; });
  }

  void Start(const runtime::SpecSet& specs) {
    core_.ApplySpecs(specs);
    Connect();
    Tick();
    ScheduleResync();
    StartElection();
  }

  void Crash() {
    if (!alive_) return;
    alive_ = false;
    core_.SetActive(false);
    CloseStream();
    world_.Log("controller-" + std::to_string(id_) + " crashed");
  }
  bool alive() const { return alive_; }
  void SetPartitioned(bool p) {
    partitioned_ = p;
    if (p) CloseStream();
  }
  void CutStream() { CloseStream(); }
  // SIGSTOP for `d`: nothing of this replica runs (a request about to leave waits, inside a
  // reconcile too; frames, timers and answers wait), then everything resumes at once.
  void Freeze(Duration d) {
    if (!alive_) return;
    frozen_until_ = std::max(frozen_until_, world_.core().Now() + d);
    world_.Log("FAULT controller-" + std::to_string(id_) + " frozen for " +
               base::FormatDuration(d));
  }

  void OnReconciled(const reconcile::SingletonKey& key, const reconcile::Desired&,
                    const reconcile::ReconcileResult& r, Duration) override {
    for (const auto& a : r.executed) world_.Log("controller-" + std::to_string(id_) + " " + key + ": " + a);
    if (!r.executed.empty() && world_.tracing()) {
      for (const auto& c : r.plan.conditions) {
        world_.Log("controller-" + std::to_string(id_) + " " + key + ": " +
                   reconcile::ConditionTypeName(c.type) + "=" + (c.status ? "T" : "F") + " " +
                   c.reason + ": " + c.message);
      }
    }
  }

 private:
  static io::ClientConfig ClientConfigFor(World& w) {
    io::ClientConfig c;
    c.address = "http://nomad.sim:4646";
    c.token = w.ManagementToken();
    c.request_timeout = 10s;
    return c;
  }
  static io::HttpNomadApi::Options ApiOptions(World& w) {
    io::HttpNomadApi::Options o;
    o.seed = w.core().Uniform(1, UINT64_MAX - 1);
    return o;
  }

  // Runs `fn` unless this replica is busy in a call (then retries shortly).
  void Guarded(const char* label, std::function<void()> fn) {
    if (!alive_) return;
    if (Frozen()) {
      world_.core().At(frozen_until_, label, [this, label, fn] { Guarded(label, fn); });
      return;
    }
    if (busy_) {
      world_.core().After(5ms, label, [this, label, fn] { Guarded(label, fn); });
      return;
    }
    busy_ = true;
    fn();
    busy_ = false;
  }

  void Connect() {
    Guarded("ctl-connect", [this] {
      if (partitioned_) {
        world_.core().After(kStreamRetry, "ctl-connect", [this] { Connect(); });
        return;
      }
      Status st = core_.Relist();
      if (!alive_) return;
      if (!st.ok()) {
        world_.core().After(kStreamRetry * 2, "ctl-connect", [this] { Connect(); });
        return;
      }
      core_.QueueAll();
      Subscribe();
      ++watch_gen_;
      if (!nomad::HasVariableTopic(world_.core().Version())) WatchLocks(watch_gen_, 0);
    });
  }

  // Nomad before 2.0.0 has no Variable topic: a blocking list of the lock variables, as the
  // controller's lock watcher (ControllerCore::WatchLocks), sent asynchronously so the loop runs
  // on while it is parked. A chain ends when a newer Connect starts one (watch_gen_).
  void WatchLocks(uint64_t gen, uint64_t index) {
    if (!alive_ || gen != watch_gen_) return;
    const nomad::QueryOptions q = core_.LockWatchQuery(index, kLockWatchWait);
    io::HttpRequest req;
    req.path = "/v1/vars";
    req.query = {{"namespace", q.namespace_}, {"prefix", q.prefix}};
    if (index > 0) {
      req.query.emplace_back("index", std::to_string(index));
      req.query.emplace_back("wait", base::FormatDuration(kLockWatchWait));
    }
    req.headers.Add("X-Nomad-Token", world_.ManagementToken());
    AsyncCall(world_.core(), world_.router(),
              Endpoint{[this] { return alive_ && !partitioned_; }, [this] { return world_.Latency(); }},
              req, kLockWatchWait + 10s,
              [this, gen, index](Result<io::HttpResponse> r) {
                if (!alive_ || gen != watch_gen_) return;
                std::optional<std::vector<nomad::Variable>> list;
                uint64_t next = 0;
                if (r.ok() && r.value().status == 200) {
                  auto vars = nomad::DecodeVariableList(r.value().body);
                  if (vars.ok()) list = std::move(vars.value());
                  next = std::strtoull(r.value().headers.Get("X-Nomad-Index").c_str(), nullptr,
                                       10);
                  if (next < index) next = 0;  // an index reset: read afresh
                }
                if (!list) {
                  world_.core().After(kStreamRetry, "ctl-lock-watch",
                                      [this, gen] { WatchLocks(gen, 0); });
                  return;
                }
                Guarded("ctl-lock-watch", [this, gen, next, l = std::move(*list)] {
                  if (gen != watch_gen_) return;
                  if (core_.ApplyLockList(l, next).ok()) {
                    WatchLocks(gen, next);
                  } else {
                    world_.core().After(kStreamRetry, "ctl-lock-watch",
                                        [this, gen] { WatchLocks(gen, 0); });
                  }
                });
              });
  }

  class Sink final : public sim::StreamSink {
   public:
    Sink(ControllerActor& c, uint64_t gen) : c_(c), gen_(gen) {}
    void Reply(const sim::Reply&) override { c_.StreamEnded(gen_); }
    void Open(const sim::Reply&) override {}
    void Write(const std::string& data) override {
      buf_ += data;
      size_t nl;
      while ((nl = buf_.find('\n')) != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        c_.StreamLine(gen_, std::move(line));
      }
    }
    void Close() override { c_.StreamEnded(gen_); }

   private:
    ControllerActor& c_;
    const uint64_t gen_;
    std::string buf_;
  };

  void Subscribe() {
    sim::Request req;
    req.method = "GET";
    req.path = "/v1/event/stream";
    for (const char* t : {"Job", "Allocation", "Node", "Variable"}) req.query.emplace("topic", t);
    req.query.emplace("namespace", "*");
    req.query.emplace("index", std::to_string(core_.view().LastIndex() + 1));
    req.headers["x-nomad-token"] = world_.ManagementToken();
    const uint64_t gen = ++stream_gen_;
    // The in-process sink reads raw bytes: the hijacked framing of 1.11.2+ where the profile has it.
    const sim::StreamFraming framing = nomad::HijacksEventStream(world_.core().Version())
                                           ? sim::StreamFraming::kCloseDelimited
                                           : sim::StreamFraming::kChunked;
    stream_id_ = world_.router().SubmitStream(req, std::make_shared<Sink>(*this, gen), framing);
  }

  void StreamLine(uint64_t gen, std::string line) {
    if (gen != stream_gen_ || !alive_ || partitioned_) return;
    auto frame = nomad::DecodeFrame(line);
    if (!frame.ok()) return;
    world_.core().After(world_.Latency(), "ctl-frame", [this, gen, f = std::move(frame.value())] {
      if (gen != stream_gen_ || !alive_) return;
      // Frames that arrive while frozen are read after the thaw, in order (FIFO at one instant).
      Guarded("ctl-frame", [this, gen, f] {
        if (gen == stream_gen_ && alive_) core_.OnFrame(f);
      });
    });
  }

  void StreamEnded(uint64_t gen) {
    if (gen != stream_gen_) return;
    stream_id_ = 0;
    ++stream_gen_;
    if (!alive_) return;
    // A reconnect may have a gap: re-list, then follow the stream again.
    world_.core().After(kStreamRetry, "ctl-reconnect", [this] { Connect(); });
  }

  void CloseStream() {
    if (stream_id_ != 0) world_.router().CancelStream(stream_id_);
    const bool had = stream_id_ != 0;
    stream_id_ = 0;
    ++stream_gen_;
    if (had && alive_) world_.core().After(kStreamRetry, "ctl-reconnect", [this] { Connect(); });
  }

  void Tick() {
    world_.core().After(kWorkTick, "ctl-work", [this] {
      if (!alive_) return;
      // As `nomad-singleton controller`: no worker runs before the first full sync.
      if (core_.synced() && !Frozen()) Guarded("ctl-work", [this] {
        for (int i = 0; i < 16 && alive_; ++i) {
          auto key = core_.queue().TryGet();
          if (!key) break;
          core_.Process(*key);
        }
      });
      Tick();
    });
  }

  void ScheduleResync() {
    world_.core().After(kResync, "ctl-resync", [this] {
      if (!alive_) return;
      Guarded("ctl-resync", [this] {
        if (!partitioned_ && core_.Relist().ok()) core_.QueueAll();
      });
      ScheduleResync();
    });
  }

  // ---- leader election: lock::Agent whose holder is the write gate ----
  void StartElection() {
    lock::Config c;
    c.path = kLeaderPath;
    c.ttl = 15s;
    c.delay = 5s;
    c.give_up = 15s;
    c.kill_timeout = 1s;
    c.lock_id = "controller-" + std::to_string(id_) + "-" + std::to_string(world_.core().Uniform(1, 1u << 30));
    c.seed = world_.core().Uniform(1, UINT64_MAX - 1);
    c.holder_items["controller"] = std::to_string(id_);
    ++elector_gen_;
    auto a = lock::Agent::Create(c);
    if (!a.ok()) {
      world_.Violate("setup", "leader election config: " + a.status().message());
      return;
    }
    elector_cfg_ = c;
    elector_.emplace(std::move(a.value()));
    ElectorRun(elector_->Start(world_.core().Now()));
  }

  void ElectorRun(lock::Actions acts) {
    for (auto& a : acts) {
      if (!alive_) return;
      if (auto call = AsLockCall(a)) {
        ElectorSend(*call);
        continue;
      }
      std::visit(Overloaded{
                     [&](const lock::StartHolder& x) {
                       world_.Log("controller-" + std::to_string(id_) + " leads (epoch " +
                                  std::to_string(x.grant.epoch) + ")");
                       core_.SetActive(true);
                     },
                     [&](const lock::ExtendLease&) {},
                     [&](const auto& x) {
                       using T = std::decay_t<decltype(x)>;
                       if constexpr (std::is_same_v<T, lock::StopHolder> ||
                                     std::is_same_v<T, lock::KillHolder>) {
                         world_.Log("controller-" + std::to_string(id_) + " stops leading");
                         core_.SetActive(false);
                         world_.core().After(Duration(0), "elector-holder-dead", [this] {
                           ElectorThawed([this] {
                             if (alive_) ElectorRun(elector_->OnHolderExited(world_.core().Now(), 0));
                           });
                         });
                       } else if constexpr (std::is_same_v<T, lock::Exit>) {
                         // Lost or gave up: campaign again, as a restarted replica would.
                         world_.core().After(kStreamRetry, "elector-restart", [this] {
                           if (alive_) StartElection();
                         });
                       }
                     },
                 },
                 a);
    }
    if (!alive_ || !elector_ || elector_->done()) return;
    if (elector_timer_ != 0) world_.core().Cancel(elector_timer_);
    elector_timer_ = 0;
    if (auto w = elector_->NextWakeup()) {
      elector_timer_ = world_.core().At(std::max(*w, world_.core().Now()), "elector-timer", [this] {
        elector_timer_ = 0;
        ElectorThawed([this] {
          if (alive_ && elector_) ElectorRun(elector_->OnTimer(world_.core().Now()));
        });
      });
    }
  }

  void ElectorSend(const LockCall& call) {
    const LockOp op = call.op;
    const uint64_t id = call.id;
    io::HttpRequest req = LockRequest(call, elector_cfg_, world_.ManagementToken());
    const Duration timeout = call.Timeout(5s);
    const uint64_t gen = elector_gen_;
    AsyncCall(world_.core(), world_.router(),
              Endpoint{[this] { return alive_ && !partitioned_; }, [this] { return world_.Latency(); }}, req,
              timeout, [this, gen, op, id, req](Result<io::HttpResponse> r) {
                ElectorThawed([this, gen, op, id, req, r] {
                  if (!alive_ || gen != elector_gen_ || !elector_) return;
                  ElectorRun(Deliver(*elector_, op, id, req, r, world_.core().Now()));
                });
              });
  }

  bool Frozen() const { return world_.core().Now() < frozen_until_; }

  // Runs `fn` now, or when the election thread runs again after a freeze: a moment after the
  // worker, whose write may leave first (the order a thawed process gives is not ours to pick).
  void ElectorThawed(std::function<void()> fn) {
    if (!alive_) return;
    if (Frozen()) {
      world_.core().At(frozen_until_ + 1ms, "elector-thaw",
                       [this, fn] { ElectorThawed(fn); });
      return;
    }
    fn();
  }

  World& world_;
  const int id_;
  bool alive_ = true;
  bool partitioned_ = false;
  bool busy_ = false;
  TimePoint frozen_until_{};
  SimClock clock_;
  SimSleeper sleeper_;
  SimTransport transport_;
  io::HttpNomadApi api_;
  runtime::ControllerCore core_;
  uint64_t stream_id_ = 0, stream_gen_ = 0;
  uint64_t watch_gen_ = 0;
  lock::Config elector_cfg_;
  std::optional<lock::Agent> elector_;
  uint64_t elector_timer_ = 0, elector_gen_ = 0;
};

// ---------------------------------------------------------------------------------------------
// World implementation

World::World(const WorldOptions& o)
    : o_(o),
      core_(sim::SimCore::Options{.seed = o.seed, .version = o.version}),
      acl_(core_, sim::AclState::Options{.enabled = true}),
      vars_(core_, acl_, sim::Variables::Options{}),
      cluster_(core_, programs_, sim::ClusterOptions{}),
      router_(core_, acl_, vars_, &cluster_) {
  cluster_.SetTokenIssuer([this](const std::string& ns, const std::string& job,
                                 const std::string& group, const std::string& task,
                                 const std::string& alloc) {
    return acl_.IssueWorkloadToken(ns, job, group, task, alloc);
  });
  cluster_.SetTokenRevoker([this](const std::string& alloc) { acl_.RevokeAllocTokens(alloc); });
  for (const char* driver : {"raw_exec", "exec", "docker", "java"}) {
    programs_.Register(driver, [this](const sim::TaskSpec& spec) { return MakeProgram(spec); });
  }
  report_.seed = o.seed;
}

World::~World() {
  // Programs hold references into the world: end them before the model goes.
  router_.Shutdown();
}

void World::Log(const std::string& line) {
  char head[32];
  std::snprintf(head, sizeof head, "%10.3fs ", Secs(core_.Now()));
  std::string full = head + line;
  if (o_.trace) o_.trace(full);
  if (frozen_timeline_) return;
  timeline_.push_back(std::move(full));
  if (timeline_.size() > kTimelineKeep) timeline_.pop_front();
}

void World::Violate(const std::string& kind, const std::string& msg) {
  Log("VIOLATION " + kind + ": " + msg);
  report_.violations.push_back({Secs(core_.Now()), kind, msg});
  if (!frozen_timeline_) {
    report_.timeline.assign(timeline_.begin(), timeline_.end());
    frozen_timeline_ = true;
  }
}

std::unique_ptr<sim::TaskProgram> World::MakeProgram(const sim::TaskSpec& spec) {
  auto it = by_job_.find(spec.namespace_ + "/" + spec.job_id);
  const int s = it == by_job_.end() ? -1 : it->second;
  Json cfg = Json::parse(spec.task.config, nullptr, false);
  std::vector<std::string> args;
  std::string command;
  if (cfg.is_object()) {
    if (cfg.contains("command") && cfg["command"].is_string()) command = cfg["command"];
    // docker: the guard or the agent is the entrypoint.
    if (cfg.contains("entrypoint") && cfg["entrypoint"].is_array() && !cfg["entrypoint"].empty() &&
        cfg["entrypoint"][0].is_string()) {
      command = cfg["entrypoint"][0].get<std::string>();
    }
    if (cfg.contains("args") && cfg["args"].is_array()) {
      for (const auto& a : cfg["args"]) {
        if (a.is_string()) args.push_back(a.get<std::string>());
      }
    }
  }
  const Duration kill = spec.task.kill_timeout.value_or(Duration(5s));
  const bool is_lock = !args.empty() && args[0] == "lock";
  auto has = [&](const char* f) { return std::find(args.begin(), args.end(), f) != args.end(); };
  if (s < 0) return std::make_unique<PlainProgram>(*this, -1, kill, false);
  if (is_lock && has("--install-guard")) return std::make_unique<PlainProgram>(*this, -1, kill, true);
  if (command.find("singleton/guard") != std::string::npos) {
    if (o_.agent == AgentKind::kNone) return std::make_unique<PlainProgram>(*this, s, kill, false);
    return std::make_unique<GuardProgram>(*this, s, singletons_[s].timers.kill_timeout);
  }
  // Any other task of the group (a template's log shipper, ...) is not the protected workload.
  if (!is_lock) return std::make_unique<PlainProgram>(*this, -1, kill, false);
  AgentMode mode = AgentMode::kShim;
  if (has("--sidecar")) mode = AgentMode::kSidecar;
  if (has("--acquire-only")) mode = AgentMode::kAcquireOnly;
  if (has("--heartbeat")) mode = AgentMode::kHeartbeat;
  if (o_.agent == AgentKind::kNone) {
    // No lock: the shim's command just runs; a sidecar's lock task does nothing.
    return std::make_unique<PlainProgram>(*this, mode == AgentMode::kShim ? s : -1, kill,
                                          mode == AgentMode::kAcquireOnly);
  }
  const SingletonState& st = singletons_[s];
  lock::Config c;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--path") c.path = args[i + 1];
  }
  c.namespace_ = st.ns;
  c.ttl = st.timers.ttl;
  c.delay = st.timers.delay;
  c.give_up = st.timers.give_up;
  c.kill_timeout = st.timers.kill_timeout;
  c.guard_poll = kGuardPoll;  // a shim runs its command under a guard too
  c.exit_after_acquire = mode == AgentMode::kAcquireOnly;
  if (o_.break_timer_rule) {
    c.give_up = 2 * c.ttl + c.delay + 2 * c.kill_timeout;
    c.unchecked_negative_control = true;
  }
  if (o_.agent == AgentKind::kVarLock) {
    return std::make_unique<AgentProgram<VarLockAgent>>(*this, s, AgentMode::kShim, c);
  }
  return std::make_unique<AgentProgram<lock::Agent>>(*this, s, mode, c);
}

uint64_t World::WorkloadStarted(int s, const sim::TaskSpec& spec, uint64_t epoch) {
  const uint64_t id = next_workload_++;
  if (s < 0) return id;
  ++report_.measured.workload_starts;
  Enter(s, id, spec.alloc_id.substr(0, 8) + "@" + spec.node_name,
        ("started (epoch " + std::to_string(epoch) + ")").c_str());
  return id;
}

void World::WorkloadResumed(int s, uint64_t id, const sim::TaskSpec& spec) {
  if (s < 0) return;
  singletons_[s].paused.erase(id);
  Enter(s, id, spec.alloc_id.substr(0, 8) + "@" + spec.node_name, "thawed");
}

void World::Enter(int s, uint64_t id, const std::string& where, const char* verb) {
  SingletonState& st = singletons_[s];
  Log("workload " + st.name + " " + verb + " in " + where);
  if (!st.running.empty()) {
    std::string others;
    for (const auto& [_, w] : st.running) others += (others.empty() ? "" : ", ") + w;
    if (!st.overlap_reported) {
      Violate("overlap", st.name + ": a workload " + verb + " in " + where + " while " + others +
                             " still runs");
      st.overlap_reported = true;
    }
    ++report_.measured.overlaps;
    if (!st.overlap_since) st.overlap_since = core_.Now();
  }
  if (st.running.empty()) st.up_since = core_.Now();
  st.running[id] = where;
  st.last_start = core_.Now();
  ProbeTransition(s, true);
  st.down_since.reset();
}

void World::WorkloadEnded(int s, uint64_t id, bool paused) {
  if (s < 0) return;
  if (paused) {
    SingletonState& st = singletons_[s];
    auto it = st.paused.find(id);
    if (it == st.paused.end()) return;
    Log("workload " + st.name + " killed while frozen in " + it->second);
    st.paused.erase(it);
    return;
  }
  Leave(s, id, "ended");
}

void World::WorkloadPaused(int s, uint64_t id) {
  if (s < 0) return;
  SingletonState& st = singletons_[s];
  auto it = st.running.find(id);
  if (it != st.running.end()) st.paused[id] = it->second;
  Leave(s, id, "frozen");
}

void World::Leave(int s, uint64_t id, const char* verb) {
  SingletonState& st = singletons_[s];
  auto it = st.running.find(id);
  if (it == st.running.end()) return;
  Log("workload " + st.name + " " + verb + " in " + it->second);
  st.running.erase(it);
  if (st.running.size() < 2 && st.overlap_since) {
    const double length = Secs(core_.Now() - *st.overlap_since);
    report_.measured.overlap_seconds += length;
    report_.measured.overlap_episodes.emplace_back(
        length, Secs(timing::RenewInterval(st.timers.ttl) + kGuardPoll + 1s));
    st.overlap_since.reset();
  }
  if (st.running.empty()) {
    st.down_since = core_.Now();
    ProbeTransition(s, false);
  }
}

void World::HolderStarted(int s, const std::string& alloc, const lock::Grant& g, bool resumed) {
  SingletonState& st = singletons_[s];
  holder_lock_[alloc] = g.lock_id;
  holder_grant_[alloc] = g;
  Log("holder " + st.name + ": " + alloc.substr(0, 8) + (resumed ? " resumes" : " acquires") +
      " epoch " + std::to_string(g.epoch));
  // Only an acquisition makes a new holder; a resume (split mode's heartbeat task, also after a
  // restart) continues the hand-off it was given, and its lease decides whether anything runs.
  if (!resumed && g.epoch <= st.last_epoch && o_.agent == AgentKind::kProject) {
    Violate("epoch", st.name + ": holder " + alloc.substr(0, 8) + " got epoch " +
                         std::to_string(g.epoch) + " after epoch " + std::to_string(st.last_epoch));
  }
  st.last_epoch = std::max(st.last_epoch, g.epoch);
}

void World::ObserveRequest(int controller, const io::HttpRequest& r, bool paused) {
  const std::string who = "controller-" + std::to_string(controller);
  if (r.method == "POST" && (r.path == "/v1/jobs" || r.path.rfind("/v1/job/", 0) == 0) &&
      r.path.find("/plan") == std::string::npos && r.path.find("/evaluate") == std::string::npos) {
    Json body = Json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("Job")) return;
    const std::string id = body["Job"].value("ID", "");
    std::string ns = body["Job"].value("Namespace", "");
    if (ns.empty()) ns = "default";
    auto existing = cluster_.GetJob(ns, id);
    if (existing && !reconcile::IsOwned(*existing)) {
      Violate("foreign-write", who + " registered " + ns + "/" + id + ", a job that is not ours");
    }
    // Nobody edits jobs behind the controllers' backs here and specs never change, so a register
    // of a running job that already carries the desired spec hash is a false drift: a needless
    // new version (and, for a destructive diff, replaced allocations).
    const std::string hash =
        body["Job"].contains("Meta") && body["Job"]["Meta"].is_object()
            ? body["Job"]["Meta"].value(render::kMetaSpecHash, "")
            : "";
    // A register whose check-and-set fails writes nothing (EnforceIndex fences a stale view).
    const bool applies = !body.value("EnforceIndex", false) ||
                         (existing && body.value("JobModifyIndex", uint64_t{0}) ==
                                          existing->job_modify_index);
    if (existing && !existing->stop && !hash.empty() && applies) {
      auto h = existing->meta.find(render::kMetaSpecHash);
      if (h != existing->meta.end() && h->second == hash) {
        Violate("needless-write", who + " re-registered " + ns + "/" + id +
                                      " although its spec and the job are unchanged");
      }
    }
    return;
  }
  if (r.method == "DELETE" && r.path.rfind("/v1/job/", 0) == 0) {
    const std::string id = r.path.substr(8);
    std::string ns = "default";
    for (const auto& [k, v] : r.query) {
      if (k == "namespace") ns = v;
    }
    auto existing = cluster_.GetJob(ns, id);
    if (existing && !reconcile::IsOwned(*existing)) {
      Violate("foreign-write", who + " deregistered " + ns + "/" + id + ", a job that is not ours");
    }
    return;
  }
  const std::string stop_prefix = "/v1/allocation/";
  if (r.method == "POST" && r.path.rfind(stop_prefix, 0) == 0 &&
      r.path.size() > 5 && r.path.compare(r.path.size() - 5, 5, "/stop") == 0) {
    const std::string alloc = r.path.substr(stop_prefix.size(), r.path.size() - stop_prefix.size() - 5);
    auto held = holder_lock_.find(alloc);
    if (held == holder_lock_.end()) return;
    auto a = cluster_.GetAllocation(alloc);
    if (!a) return;
    auto s = by_job_.find(a->namespace_ + "/" + a->job_id);
    if (s == by_job_.end()) return;
    sim::Identity mgmt;
    mgmt.management = true;
    std::string path;
    if (auto job = cluster_.GetJob(a->namespace_, a->job_id)) {
      auto lp = job->meta.find(render::kMetaLockPath);
      if (lp != job->meta.end()) path = lp->second;
    }
    sim::VarReply v = vars_.Read(mgmt, a->namespace_, path);
    if (v.status == 200 && v.var.lock && v.var.lock->id == held->second) {
      Log(who + " stops " + alloc.substr(0, 8) + ", the lock holder of " + singletons_[s->second].name);
      if (paused) {
        ++report_.measured.stale_stops;
        Log("(a stale stop: decided before the controller's freeze, sent after it)");
        return;
      }
      Violate("stopped-holder", who + " stopped allocation " + alloc.substr(0, 8) +
                                    ", the current lock holder of " + singletons_[s->second].name);
    }
  }
}

Status World::BuildSpecs() {
  io::SpecFiles files;
  if (!o_.spec_files.empty()) {
    for (const auto& [name, content] : o_.spec_files) files.files.push_back({name, content});
  } else {
    int m = o_.singletons;
    if (m <= 0) m = o_.shape == Shape::kRandom ? static_cast<int>(core_.Uniform(1, 20)) : 3;
    for (int i = 0; i < m; ++i) {
      const std::string name = "s" + std::to_string(i);
      Draw d;
      switch (o_.shape) {
        case Shape::kGuide:
          d = Draw{"shim", 0, 15, 15, 5, 60, std::nullopt};
          break;
        case Shape::kDefaults:
          d = Draw{};
          break;
        case Shape::kHotStandby:
          d = Draw{"sidecar", 1, 10, 3, 3, 30, std::nullopt};
          break;
        case Shape::kPlain:
          d = Draw{"shim", 0, 15, 15, 5, 24 * 3600, std::nullopt};
          break;
        case Shape::kRandom: {
          // Draw until the timer rule holds (most draws do).
          for (int attempt = 0; attempt < 50; ++attempt) {
            const char* modes[] = {"shim", "sidecar", "split"};
            d.mode = modes[core_.Uniform(0, 2)];
            d.standby = static_cast<int>(core_.Uniform(0, 2));
            d.ttl_s = static_cast<int>(core_.Uniform(10, 60));
            d.delay_s = static_cast<int>(core_.Uniform(0, 2 * d.ttl_s));
            d.kill_s = static_cast<int>(core_.Uniform(1, 10));
            d.stop_after_s = static_cast<int>(core_.Uniform(30, 120));
            d.give_up_s.reset();
            if (core_.Uniform(0, 3) == 0) {
              d.give_up_s = static_cast<int>(core_.Uniform((2 * d.ttl_s + 2) / 3, 2 * d.ttl_s));
            }
            spec::LoadResult trial =
                spec::LoadSpecs({{name + ".yaml", SpecYaml(name, d)}}, render::CheckSpec);
            if (trial.errors.empty()) break;
            d = Draw{};
          }
          break;
        }
      }
      files.files.push_back({name + ".yaml", SpecYaml(name, d)});
    }
  }
  spec::LoadResult loaded = spec::LoadSpecs(files.files, render::CheckSpec);
  if (!loaded.errors.empty()) {
    std::string msg;
    for (const auto& e : loaded.errors) msg += e.ToString() + "\n";
    return Status::InvalidSpec(msg);
  }
  for (const auto& s : loaded.valid) {
    SingletonState st;
    st.ns = s.metadata.namespace_;
    st.name = s.metadata.name;
    st.key = s.Key();
    st.mode = s.spec.lock.mode == spec::LockMode::kShim      ? "shim"
              : s.spec.lock.mode == spec::LockMode::kSidecar ? "sidecar"
                                                            : "split";
    st.standby = s.spec.standby;
    st.timers = timing::TimersOf(s);
    st.budget = timing::Compute(st.timers);
    st.reschedule_max_delay = s.spec.failover.reschedule.max_delay;
    if (auto r = render::Render(s); r.ok()) {
      st.long_running = r.value().job.type == "service" && !r.value().job.periodic;
    }
    by_job_[st.key] = static_cast<int>(singletons_.size());
    report_.singletons.push_back(st.name + " " + st.mode + " standby=" + std::to_string(st.standby) +
                                 " ttl=" + base::FormatDuration(st.timers.ttl) +
                                 " delay=" + base::FormatDuration(st.timers.delay) +
                                 " give-up=" + base::FormatDuration(st.timers.give_up) +
                                 " kill=" + base::FormatDuration(st.timers.kill_timeout));
    singletons_.push_back(std::move(st));
  }
  specs_ = io::BuildSpecSet(files, {});
  return Status::Ok();
}

void World::StartController(int id) {
  auto c = std::make_unique<ControllerActor>(*this, id);
  ControllerActor* raw = c.get();
  controllers_.push_back(std::move(c));
  raw->Start(specs_);
  Log("controller-" + std::to_string(id) + " started");
}

void World::AddRouterFault(sim::Router::Fault f, Duration for_how_long) {
  router_faults_.push_back(f);
  router_.AddFault(f);
  const size_t n = router_faults_.size();
  core_.After(for_how_long, "fault-heal", [this, n] {
    if (n - 1 < router_faults_.size()) router_faults_[n - 1].count = -1;  // expired
    router_.ClearFaults();
    for (const auto& g : router_faults_) {
      if (g.count >= 0) router_.AddFault(g);
    }
  });
}

void World::StartProbes(const std::string& kind, const std::function<bool(const std::string&)>& hit) {
  for (size_t i = 0; i < singletons_.size(); ++i) {
    const SingletonState& st = singletons_[i];
    for (const auto& [_, where] : st.running) {
      if (!hit(where)) continue;
      // Was a hot standby of this singleton waiting on another node?
      bool standby_ready = false;
      for (const auto& [alloc, node] : standbys_) {
        auto a = cluster_.GetAllocation(alloc);
        if (!a || a->job_id != st.name || a->namespace_ != st.ns) continue;
        auto n = cluster_.GetNode(node);
        if (n && !hit("@" + n->name)) standby_ready = true;
      }
      Probe p;
      p.singleton = static_cast<int>(i);
      p.kind = standby_ready ? kind + " (standby waiting)" : kind;
      p.fault_at = core_.Now();
      probes_.push_back(p);
      break;
    }
  }
}

void World::ProbeTransition(int s, bool up) {
  for (auto it = probes_.begin(); it != probes_.end();) {
    if (it->singleton != s) {
      ++it;
      continue;
    }
    if (!up && !it->went_down) {
      it->went_down = true;
      it->down_at = core_.Now();
      ++it;
    } else if (up && it->went_down) {
      report_.measured.downtime[it->kind].push_back(Secs(core_.Now() - it->down_at));
      Log("downtime of " + singletons_[s].name + " after " + it->kind + ": " +
          base::FormatDuration(core_.Now() - it->down_at));
      it = probes_.erase(it);
    } else if (up) {
      // A start while still running elsewhere (overlap) or a new holder before the old one
      // stopped: no downtime from this fault.
      report_.measured.downtime[it->kind].push_back(0);
      it = probes_.erase(it);
    } else {
      ++it;
    }
  }
}

// A fault target among `hooked` (allocations with freeze hooks): a holder's three times in four,
// else any running one; "" when there is none.
template <class Hooks>
std::string World::PickAllocation(const std::map<std::string, Hooks>& hooked) {
  std::vector<std::string> pick;
  for (const auto& [alloc, _] : holder_lock_) {
    if (hooked.count(alloc)) pick.push_back(alloc);
  }
  if (pick.empty() || core_.Uniform(0, 3) == 0) {
    pick.clear();
    for (const auto& [alloc, _] : hooked) {
      auto a = cluster_.GetAllocation(alloc);
      if (a && a->client_status == "running") pick.push_back(alloc);
    }
  }
  if (pick.empty()) return "";
  return pick[core_.Uniform(0, pick.size() - 1)];
}

void World::Fault(const std::string& kind) {
  const std::vector<std::string> nodes = cluster_.NodeIds();
  auto pick_node = [&] { return nodes[core_.Uniform(0, nodes.size() - 1)]; };
  auto node_name = [&](const std::string& id) {
    auto n = cluster_.GetNode(id);
    return n ? n->name : id;
  };
  auto heal_after = [&](uint64_t lo_s, uint64_t hi_s) {
    return Duration(std::chrono::milliseconds(core_.Uniform(lo_s * 1000, hi_s * 1000)));
  };
  // A node fault prefers the node running some singleton's workload, to exercise failover.
  auto holder_node = [&]() -> std::string {
    std::vector<std::string> busy;
    for (const auto& st : singletons_) {
      for (const auto& [_, where] : st.running) busy.push_back(where.substr(where.find('@') + 1));
    }
    if (busy.empty() || core_.Uniform(0, 3) == 0) return pick_node();
    const std::string name = busy[core_.Uniform(0, busy.size() - 1)];
    for (const auto& id : nodes) {
      if (node_name(id) == name) return id;
    }
    return pick_node();
  };
  ++report_.faults;
  auto healed_at = [this](Duration d) { last_heal_ = std::max(last_heal_, core_.Now() + d); };
  healed_at(Duration(0));
  if (kind == "node-crash" || kind == "client-crash" || kind == "partition") {
    const std::string node = holder_node();
    const std::string name = node_name(node);
    const Duration d = heal_after(5, 150);
    Log("FAULT " + kind + " " + name + " for " + base::FormatDuration(d));
    StartProbes(kind, [&](const std::string& where) { return where.substr(where.find('@') + 1) == name; });
    healed_at(d);
    Status st = kind == "node-crash"     ? cluster_.CrashNode(node)
                : kind == "client-crash" ? cluster_.CrashClient(node)
                                         : cluster_.Partition(node);
    if (!st.ok()) Log("fault not applied: " + st.ToString());
    core_.After(d, "heal", [this, kind, node, name] {
      Log("HEAL " + kind + " " + name);
      if (kind == "partition") {
        (void)cluster_.Heal(node);
      } else {
        (void)cluster_.RestartNode(node);
      }
    });
  } else if (kind == "graceful-stop") {
    std::vector<std::pair<int, std::string>> holders;  // singleton, alloc
    for (const auto& [alloc, lock_id] : holder_lock_) {
      auto a = cluster_.GetAllocation(alloc);
      if (!a || a->client_status != "running") continue;
      auto s = by_job_.find(a->namespace_ + "/" + a->job_id);
      if (s != by_job_.end()) holders.emplace_back(s->second, alloc);
    }
    if (holders.empty()) return;
    const auto [s, alloc] = holders[core_.Uniform(0, holders.size() - 1)];
    Log("FAULT graceful-stop of " + singletons_[s].name + "'s holder " + alloc.substr(0, 8));
    if (!singletons_[s].running.empty()) {
      Probe p;
      p.singleton = s;
      p.kind = kind;
      p.fault_at = core_.Now();
      probes_.push_back(p);
    }
    (void)cluster_.StopAllocation(alloc, false, std::nullopt);
  } else if (kind == "api-errors") {
    sim::Router::Fault f;
    f.route = "/v1/";
    f.status = core_.Uniform(0, 1) ? 500 : 503;
    const Duration d = heal_after(2, 30);
    Log("FAULT api-errors " + std::to_string(f.status) + " for " + base::FormatDuration(d));
    healed_at(d);
    AddRouterFault(f, d);
  } else if (kind == "latency") {
    sim::Router::Fault f;
    f.route = "/v1/";
    f.latency = heal_after(1, 4);
    const Duration d = heal_after(5, 40);
    Log("FAULT latency " + base::FormatDuration(f.latency) + " for " + base::FormatDuration(d));
    healed_at(d);
    AddRouterFault(f, d);
  } else if (kind == "stream-cut") {
    Log("FAULT event streams cut");
    for (auto& c : controllers_) {
      if (c->alive()) c->CutStream();
    }
  } else if (kind == "controller-crash") {
    std::vector<ControllerActor*> live;
    for (auto& c : controllers_) {
      if (c->alive()) live.push_back(c.get());
    }
    if (live.empty()) return;
    live[core_.Uniform(0, live.size() - 1)]->Crash();
    const Duration d = heal_after(5, 90);
    healed_at(d);
    core_.After(d, "controller-restart", [this] { StartController(controller_count_++); });
  } else if (kind == "controller-partition") {
    std::vector<ControllerActor*> live;
    for (auto& c : controllers_) {
      if (c->alive()) live.push_back(c.get());
    }
    if (live.empty()) return;
    ControllerActor* c = live[core_.Uniform(0, live.size() - 1)];
    const Duration d = heal_after(5, 90);
    Log("FAULT a controller is partitioned from the servers for " + base::FormatDuration(d));
    healed_at(d);
    c->SetPartitioned(true);
    core_.After(d, "heal", [this, c] {
      Log("HEAL controller partition");
      c->SetPartitioned(false);
    });
  } else if (kind == "leadership-loss") {
    // The new leader serves RPCs before it restores the lock TTL timers (nomad/leader.go,
    // v1.10.2–v2.0.5): renewals answer 409 in between, although every lock is intact.
    const Duration restore = Duration(std::chrono::milliseconds(core_.Uniform(200, 5000)));
    Log("FAULT server leadership lost (heartbeat TTLs become 300s; lock timers restored after " +
        base::FormatDuration(restore) + ")");
    healed_at(cluster_.Options().failover_heartbeat_ttl);
    cluster_.LoseLeadership();
    vars_.BeginLeaderElection(restore);
  } else if (kind == "agent-freeze") {
    // SIGSTOP of a lock agent (preferably a holder's), often past 2T + D: its guard must keep the
    // lease deadline, and once thawed it must not send a write the server could apply in the
    // LockDelay (a late release would free the lock for a successor that the delay callback then
    // strips).
    const std::string alloc = PickAllocation(agents_);
    if (alloc.empty()) return;
    const Duration d = heal_after(1, 120);
    healed_at(d);
    agents_[alloc](d);
  } else if (kind == "alloc-freeze") {
    // The whole allocation is frozen (cgroup freezer, a suspended VM, SIGSTOP of every task):
    // the agent, the guard and the workload stop together, often past 2T + D, while Nomad and a
    // standby carry on. At the thaw the guard must stop the workload before it runs beside the
    // successor.
    const std::string alloc = PickAllocation(pausables_);
    if (alloc.empty()) return;
    const Duration d = heal_after(1, 120);
    healed_at(d);
    Log("FAULT allocation " + alloc.substr(0, 8) + " frozen for " + base::FormatDuration(d));
    for (const auto& freeze : pausables_[alloc]) freeze(d);
  } else if (kind == "controller-freeze") {
    std::vector<ControllerActor*> live;
    for (auto& c : controllers_) {
      if (c->alive()) live.push_back(c.get());
    }
    if (live.empty()) return;
    const Duration d = heal_after(1, 90);
    healed_at(d);
    live[core_.Uniform(0, live.size() - 1)]->Freeze(d);
  } else if (kind == "disk-full") {
    // The allocation disk of a node (preferably a holder's) is full: lease writes fail.
    const std::string node = holder_node();
    const std::string name = node_name(node);
    const Duration d = heal_after(5, 150);
    Log("FAULT alloc disk of " + name + " full for " + base::FormatDuration(d));
    StartProbes(kind, [&](const std::string& where) { return where.substr(where.find('@') + 1) == name; });
    healed_at(d);
    disk_full_until_[node] = std::max(disk_full_until_[node], core_.Now() + d);
  } else if (kind == "forced-release") {
    // An operator force-releases a running holder's lock (management token, the holder's lock
    // ID): a standby may acquire at once while the holder runs until its next renew says so.
    std::vector<std::string> pick;
    for (const auto& [alloc, lock_id] : holder_lock_) {
      auto a = cluster_.GetAllocation(alloc);
      if (a && a->client_status == "running" && holder_grant_.count(alloc)) pick.push_back(alloc);
    }
    if (pick.empty()) return;
    const lock::Grant& g = holder_grant_.at(pick[core_.Uniform(0, pick.size() - 1)]);
    Log("FAULT an operator force-releases lock " + g.path + " of epoch " +
        std::to_string(g.epoch));
    sim::Identity operator_token;
    operator_token.management = true;
    nomad::Variable v;
    v.path = g.path;
    v.lock = nomad::VariableLock{Duration(0), Duration(0), g.lock_id};
    (void)vars_.ReleaseLock(operator_token, g.namespace_.empty() ? "default" : g.namespace_, v);
  } else if (kind == "clock-skew") {
    const std::string node = pick_node();
    // Within the ε the timer rule assumes (1%).
    const double rate = 0.99 + static_cast<double>(core_.Uniform(0, 200)) / 10000.0;
    Log("FAULT clock of " + node_name(node) + " runs at " + std::to_string(rate));
    (void)cluster_.SkewClock(node, rate);
  }
}

// The default mix: fault kind → weight.
const std::vector<std::pair<std::string, int>>& DefaultMix() {
  static const std::vector<std::pair<std::string, int>> kinds = {
      {"node-crash", 4},   {"client-crash", 3},         {"partition", 4},
      {"api-errors", 2},   {"latency", 2},              {"stream-cut", 2},
      {"controller-crash", 2}, {"controller-partition", 1}, {"leadership-loss", 1},
      {"clock-skew", 1},   {"graceful-stop", 3},         {"agent-freeze", 2},
      {"alloc-freeze", 2}, {"controller-freeze", 2},     {"disk-full", 2}};
  return kinds;
}

void World::ScheduleFaults(TimePoint end_of_faults) {
  const auto& kinds = DefaultMix();
  std::vector<std::pair<std::string, int>> chosen;
  for (const std::string& k : o_.fault_kinds) chosen.emplace_back(k, 1);
  const auto& mix = chosen.empty() ? kinds : chosen;
  int total = 0;
  for (const auto& k : mix) total += k.second;
  TimePoint t = core_.Now() + 1min;
  while (true) {
    t += Duration(std::chrono::milliseconds(core_.Uniform(20'000, 150'000)));
    if (t >= end_of_faults) break;
    int r = static_cast<int>(core_.Uniform(0, total - 1));
    std::string kind;
    for (const auto& k : mix) {
      if (r < k.second) {
        kind = k.first;
        break;
      }
      r -= k.second;
    }
    core_.At(t, "fault", [this, kind] { Fault(kind); });
  }
}

void World::CheckLiveness() {
  for (const auto& st : singletons_) {
    if (st.conflict || !st.long_running) continue;
    // After the last fault healed, a holder must run again within the crash failover budget
    // (timing::Compute) plus what Nomad's reschedule policy may add after repeated failures.
    const Duration bound = st.budget.crash_failover + st.reschedule_max_delay + 30s;
    if (st.running.empty()) {
      Violate("liveness", st.name + ": no workload runs " +
                              base::FormatDuration(core_.Now() - last_heal_) +
                              " after the last fault healed (bound " + base::FormatDuration(bound) +
                              ")");
      continue;
    }
    const Duration recovery = std::max(Duration(0), st.up_since - last_heal_);
    report_.measured.recovery.push_back(Secs(recovery));
    if (recovery > bound) {
      Violate("liveness", st.name + ": ran again " + base::FormatDuration(recovery) +
                              " after the last fault healed (bound " + base::FormatDuration(bound) +
                              ": crash failover " + base::FormatDuration(st.budget.crash_failover) +
                              " + reschedule max delay + 30s)");
    }
  }
}

Result<WorldReport> World::Run() {
  if (Status st = BuildSpecs(); !st.ok()) return st;
  const int nodes = o_.nodes > 0 ? o_.nodes : static_cast<int>(core_.Uniform(3, 7));
  for (int i = 0; i < nodes; ++i) cluster_.AddNode(sim::NodeSpec{});
  const int controllers =
      o_.controllers > 0 ? o_.controllers : static_cast<int>(core_.Uniform(1, 2));
  for (int i = 0; i < controllers; ++i) StartController(controller_count_++);
  const TimePoint start = core_.Now();
  faults_end_ = start + o_.duration - o_.quiet;
  if (o_.faults) ScheduleFaults(faults_end_);
  core_.At(start + o_.duration, "liveness", [this] { CheckLiveness(); });
  core_.AdvanceTo(start + o_.duration);
  // Close the books: an overlap still in progress counts until now.
  for (auto& st : singletons_) {
    if (st.overlap_since) report_.measured.overlap_seconds += Secs(core_.Now() - *st.overlap_since);
  }
  if (!frozen_timeline_) report_.timeline.assign(timeline_.begin(), timeline_.end());
  return report_;
}

}  // namespace

const std::vector<std::string>& FaultKindNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [k, _] : DefaultMix()) out.push_back(k);
    out.push_back("forced-release");
    return out;
  }();
  return names;
}

Result<WorldReport> RunWorld(const WorldOptions& options) {
  World w(options);
  return w.Run();
}

}  // namespace nsg::faultsim
