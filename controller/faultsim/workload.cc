// The programs that stand in for the user's workload in the fault simulation: one run of a
// protected workload (Workload: started, TERMed, KILLed, frozen, each start and end reported to
// the world's invariants), the guard that runs it while the lease is valid, and a workload without
// any lock. The lock task's program is in agent_program.cc.
#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "controller/faultsim/world_impl.h"

namespace nsg::faultsim::internal {

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

namespace {

// The workload task of sidecar and split mode (and the child of a shim): runs the workload while
// the lease is valid.
class GuardProgram final : public sim::TaskProgram {
 public:
  GuardProgram(World& w, int singleton, Duration kill_timeout)
      : kill_timeout_(kill_timeout), workload_(w, singleton), world_(w) {}

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

}  // namespace

std::unique_ptr<sim::TaskProgram> NewGuardProgram(World& w, int singleton, Duration kill_timeout) {
  return std::make_unique<GuardProgram>(w, singleton, kill_timeout);
}

std::unique_ptr<sim::TaskProgram> NewPlainProgram(World& w, int singleton, Duration kill_timeout,
                                                  bool exits_at_once) {
  return std::make_unique<PlainProgram>(w, singleton, kill_timeout, exits_at_once);
}

}  // namespace nsg::faultsim::internal
