// The lock task's program in the fault simulation: lock::Agent (or the stock `nomad var lock`
// control, VarLockAgent) driven by the simulated task's timers, the lock requests it sends (the
// HTTP io::HttpNomadApi would send, decoded as it decodes the answers), its holder (the lease it
// writes for the guard, or the unguarded shim's child), freezes and a full allocation disk; and
// World::MakeProgram, which picks the program a task runs from its rendered command line.
#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "controller/faultsim/var_lock_agent.h"
#include "controller/faultsim/world_impl.h"
#include "controller/nomad/api_codec.h"
#include "controller/nomad/codec.h"
#include "controller/nomad_client/status_map.h"
#include "controller/reconcile/plan.h"

namespace nsg::faultsim::internal {
namespace {

using Json = nlohmann::json;

constexpr Duration kConfirmPoll = 50ms;    // a stopping sidecar re-reads the guard's report

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lock requests (the HTTP the lock agent sends; decoded as io::HttpNomadApi decodes it)

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

namespace {

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
      guard_ = NewGuardProgram(world_, singleton_, cfg_.kill_timeout);
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

}  // namespace

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
  if (s < 0) return NewPlainProgram(*this, -1, kill, false);
  if (is_lock && has("--install-guard")) return NewPlainProgram(*this, -1, kill, true);
  if (command.find("singleton/guard") != std::string::npos) {
    if (o_.agent == AgentKind::kNone) return NewPlainProgram(*this, s, kill, false);
    return NewGuardProgram(*this, s, singletons_[s].timers.kill_timeout);
  }
  // Any other task of the group (a template's log shipper, ...) is not the protected workload.
  if (!is_lock) return NewPlainProgram(*this, -1, kill, false);
  AgentMode mode = AgentMode::kShim;
  if (has("--sidecar")) mode = AgentMode::kSidecar;
  if (has("--acquire-only")) mode = AgentMode::kAcquireOnly;
  if (has("--heartbeat")) mode = AgentMode::kHeartbeat;
  if (o_.agent == AgentKind::kNone) {
    // No lock: the shim's command just runs; a sidecar's lock task does nothing.
    return NewPlainProgram(*this, mode == AgentMode::kShim ? s : -1, kill,
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

}  // namespace nsg::faultsim::internal
