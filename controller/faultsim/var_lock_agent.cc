#include "controller/faultsim/var_lock_agent.h"

#include <cstdlib>
#include <string_view>

namespace nsg::faultsim {
namespace {

using base::StatusCode;

// Go: time.Duration(float64(ttl) * factor), truncated toward zero.
Duration Scale(Duration d, double factor) {
  return Duration(static_cast<int64_t>(static_cast<double>(d.count()) * factor));
}

// The HTTP status in a message written by io::StatusFromHttp ("<what>: HTTP <status>: <body>").
std::optional<int> HttpStatusIn(std::string_view message) {
  static constexpr std::string_view kMark = ": HTTP ";
  const size_t at = message.find(kMark);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view digits = message.substr(at + kMark.size(), 3);
  if (digits.size() != 3) return std::nullopt;
  int code = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    code = code * 10 + (c - '0');
  }
  return code;
}

// api/retry.go isCallRetriable (§3.3): 501–510 and 429 only. A kUnavailable without an HTTP
// status is a transport error, which retryPut does not retry either.
bool RetriedByGoClient(const Status& st) {
  if (st.code() != StatusCode::kUnavailable) return false;
  const std::optional<int> http = HttpStatusIn(st.message());
  return http && ((*http > 500 && *http < 511) || *http == 429);
}

constexpr std::string_view kContextCanceled = "context canceled";

}  // namespace

Result<VarLockAgent> VarLockAgent::Create(lock::Config config) {
  if (config.path.empty()) return Status::InvalidSpec("lock path: must not be empty");
  if (config.ttl <= Duration::zero()) {
    return Status::InvalidSpec("lock ttl: must be positive (Go's NewTicker panics otherwise)");
  }
  if (config.jitter < 0 || config.jitter >= 1) {
    return Status::InvalidSpec("jitter must be in [0, 1)");
  }
  return VarLockAgent(std::move(config));
}

VarLockAgent::VarLockAgent(lock::Config config)
    : cfg_(std::move(config)),
      renew_period_(Scale(cfg_.ttl, kLeaseRenewalFactor)),
      wait_period_(Scale(cfg_.ttl, kRetryBackoffFactor)),
      rng_(cfg_.seed ? cfg_.seed : 1) {}

// xorshift64*: deterministic from the seed.
uint64_t VarLockAgent::NextRandom() {
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 0x2545F4914F6CDD1DULL;
}

lock::State VarLockAgent::state() const {
  switch (pc_) {
    case Pc::kIdle: return lock::State::kIdle;
    case Pc::kStartDelay:
    case Pc::kAcquire:
    case Pc::kWaitTicker: return lock::State::kAcquiring;
    case Pc::kMaintain: return stop_requested_ ? lock::State::kStopping : lock::State::kHolding;
    case Pc::kRelease: return lock::State::kReleasing;
    case Pc::kBlocked: return lock::State::kLosing;
    case Pc::kExited: return terminal_;
  }
  return lock::State::kFailed;
}

std::vector<uint32_t> VarLockAgent::running_children() const {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < children_.size(); ++i) {
    if (children_[i].running) out.push_back(static_cast<uint32_t>(i + 1));
  }
  return out;
}

// ---- inputs ----

lock::Actions VarLockAgent::Start(TimePoint now) {
  lock::Actions out;
  if (pc_ != Pc::kIdle) return out;
  Stamp(now);
  // §3.2.1: "Sleep a random 0–99 ms" (rand.Intn(100) milliseconds).
  const Duration delay = cfg_.jitter > 0
                             ? std::chrono::milliseconds(NextRandom() % (kMaxStartDelayMs + 1))
                             : Duration::zero();
  if (delay == Duration::zero()) {
    pc_ = Pc::kAcquire;
    BeginCall(Op::kAcquire, now_, out);
  } else {
    pc_ = Pc::kStartDelay;
    wake_at_ = now_ + delay;
  }
  return out;
}

lock::Actions VarLockAgent::OnAcquireResult(TimePoint now, uint64_t id,
                                            const Result<nomad::Variable>& r) {
  lock::Actions out;
  Stamp(now);
  if (!Answered(Op::kAcquire, id)) return out;
  if (r.ok()) {
    const TimePoint sent = call_.sent;
    call_ = Call{};
    AcquireSucceeded(now_, sent, *r, out);
  } else {
    OnFailedAttempt(now_, r.status(), out);
  }
  return out;
}

lock::Actions VarLockAgent::OnRenewResult(TimePoint now, uint64_t id,
                                          const Result<nomad::Variable>& r) {
  lock::Actions out;
  Stamp(now);
  if (!Answered(Op::kRenew, id)) return out;
  if (r.ok()) {
    FinishCall(now_, Outcome::kOk, "", out);
  } else {
    OnFailedAttempt(now_, r.status(), out);
  }
  return out;
}

lock::Actions VarLockAgent::OnReleaseResult(TimePoint now, uint64_t id, const Status& s) {
  lock::Actions out;
  Stamp(now);
  if (!Answered(Op::kRelease, id)) return out;
  if (s.ok()) {
    FinishCall(now_, Outcome::kOk, "", out);
  } else {
    OnFailedAttempt(now_, s, out);
  }
  return out;
}

lock::Actions VarLockAgent::OnReadResult(TimePoint now, uint64_t /*id*/,
                                         const Result<nomad::Query<nomad::Variable>>& /*r*/) {
  Stamp(now);
  return {};
}

lock::Actions VarLockAgent::OnHolderExited(TimePoint now, int code) {
  for (size_t i = 0; i < children_.size(); ++i) {
    if (children_[i].running) return OnChildExited(now, static_cast<uint32_t>(i + 1), code);
  }
  Stamp(now);
  return {};
}

lock::Actions VarLockAgent::OnChildExited(TimePoint now, uint32_t child, int code) {
  lock::Actions out;
  Stamp(now);
  if (done() || child == 0 || child > children_.size() || !children_[child - 1].running) {
    return out;
  }
  Child& c = children_[child - 1];
  c.running = false;
  if (channel_closed_) {
    // start() has returned and closed errChannel; the goroutine's send panics (§3.2.7,
    // UNCONFIRMED there). An exit 0 only calls cancel() again, which is harmless.
    if (code != 0) {
      Exit(locked_ ? lock::State::kLost : lock::State::kFailed, kExitPanic,
           "panic: send on closed channel (child " + std::to_string(child) +
               " exited after the leaser returned)",
           out);
    }
    return out;
  }
  if (code != 0) {
    // §3.2.6: "error executing protected function <exit status N>".
    SendFromChild(&c, "error executing protected function exit status " + std::to_string(code));
  } else {
    // §3.2.5; in code, the goroutine calls start()'s cancel(): every other child's funcCtx is a
    // child of that context, so exec.CommandContext SIGKILLs them too.
    c.ctx_live = false;
    CancelAll(out);
  }
  React(now_, out);
  return out;
}

lock::Actions VarLockAgent::OnStopRequested(TimePoint now, int signal) {
  lock::Actions out;
  Stamp(now);
  if (done()) return out;
  bool running = false;
  bool forwarding = false;
  for (const Child& c : children_) {
    running = running || c.running;
    forwarding = forwarding || (c.running && c.ctx_live);
  }
  if (!running) {
    // No protected function runs, so no signal.Notify is active (command/var_lock.go): Go's
    // default disposition ends the CLI at once, without a release.
    Exit(locked_ ? lock::State::kLost : lock::State::kReleased, 128 + signal,
         "killed by signal " + std::to_string(signal) + " while no child ran", out);
    return out;
  }
  // §3.2.4: forwarded to the child (each child's forwardSignals goroutine, while its funcCtx
  // lives); the CLI keeps running and renewing until the child exits.
  stop_requested_ = true;
  if (forwarding) out.push_back(lock::StopHolder{signal});
  return out;
}

lock::Actions VarLockAgent::OnTimer(TimePoint now) {
  lock::Actions out;
  Stamp(now);
  switch (pc_) {
    case Pc::kStartDelay:
      if (now_ >= wake_at_) {
        pc_ = Pc::kAcquire;
        BeginCall(Op::kAcquire, now_, out);
      }
      break;
    case Pc::kWaitTicker:
      if (now_ >= wake_at_) {  // waitTicker.C: §3.2.2's retry
        pc_ = Pc::kAcquire;
        BeginCall(Op::kAcquire, now_, out);
      }
      break;
    case Pc::kAcquire:
    case Pc::kMaintain:
    case Pc::kRelease:
      if (call_.op != Op::kNone) {
        if (!call_.in_flight && now_ >= call_.next_attempt) SendAttempt(now_, out);
      } else {
        MaintainStep(now_, out);
      }
      break;
    case Pc::kIdle:
    case Pc::kBlocked:
    case Pc::kExited:
      break;
  }
  return out;
}

std::optional<TimePoint> VarLockAgent::NextWakeup() const {
  switch (pc_) {
    case Pc::kStartDelay:
    case Pc::kWaitTicker:
      return wake_at_;
    case Pc::kAcquire:
    case Pc::kMaintain:
    case Pc::kRelease:
      if (call_.op != Op::kNone) {
        if (call_.in_flight) return std::nullopt;
        return call_.next_attempt;
      }
      if (pc_ == Pc::kMaintain && children_.back().ctx_live) {
        return ticker_origin_ + renew_period_ * (ticks_consumed_ + 1);
      }
      return std::nullopt;
    case Pc::kIdle:
    case Pc::kBlocked:
    case Pc::kExited:
      break;
  }
  return std::nullopt;
}

// ---- retryPut (§3.3) ----

void VarLockAgent::BeginCall(Op op, TimePoint now, lock::Actions& out) {
  call_ = Call{};
  call_.op = op;
  call_.started = now;
  SendAttempt(now, out);
}

void VarLockAgent::SendAttempt(TimePoint now, lock::Actions& out) {
  call_.id = next_id_++;
  call_.in_flight = true;
  call_.sent = now;
  switch (call_.op) {
    case Op::kAcquire: out.push_back(lock::SendAcquire{call_.id, lock_id_}); break;
    case Op::kRenew: out.push_back(lock::SendRenew{call_.id, lock_id_}); break;
    case Op::kRelease: out.push_back(lock::SendRelease{call_.id, lock_id_}); break;
    case Op::kNone: break;
  }
}

bool VarLockAgent::CallContextDone() const {
  switch (call_.op) {
    case Op::kAcquire: return ctx_done_;  // Acquire(ctx)
    case Op::kRenew: return !children_.back().ctx_live;  // Renew(funcCtx) in maintainLease
    case Op::kRelease:  // Release(ctx) with the caller's context.Background()
    case Op::kNone: break;
  }
  return false;
}

bool VarLockAgent::Answered(Op op, uint64_t id) {
  if (done() || call_.op != op || !call_.in_flight || call_.id != id) return false;
  call_.in_flight = false;
  return true;
}

void VarLockAgent::OnFailedAttempt(TimePoint now, const Status& st, lock::Actions& out) {
  // Api errors: a 409 becomes ErrLockConflict; everything else is returned as is.
  const Outcome failed = st.code() == StatusCode::kConflict ? Outcome::kConflict : Outcome::kError;
  // "stops once TTL has elapsed since the first attempt": checked when an answer arrives.
  const bool out_of_time = now - call_.started > cfg_.ttl;
  if (out_of_time || !RetriedByGoClient(st) || call_.attempt >= kMaxRetries) {
    FinishCall(now, failed, st.message(), out);
    return;
  }
  ++call_.attempt;
  call_.next_attempt = now + kRetryDelayBase * (int64_t{1} << (call_.attempt - 1));
  // The wait is a select on the call's context: a cancelled one ends the call at once.
  if (CallContextDone()) FinishCall(now, Outcome::kError, std::string(kContextCanceled), out);
}

void VarLockAgent::FinishCall(TimePoint now, Outcome o, const std::string& error,
                              lock::Actions& out) {
  const Op op = call_.op;
  call_ = Call{};
  switch (op) {
    case Op::kAcquire: AfterAcquire(now, o, error, out); break;
    case Op::kRenew: AfterRenew(now, o, error, out); break;
    case Op::kRelease: {
      const std::string outcome =
          start_error_ ? "Lock error:locks: " + *start_error_ : std::string("lock released");
      if (o == Outcome::kOk) {
        Exit(lock::State::kReleased, start_error_ ? lock::kExitFailed : lock::kExitOk, outcome,
             out);
      } else {
        Exit(lock::State::kLost, lock::kExitFailed,
             (start_error_ ? outcome + "; " : std::string("Lock error:")) +
                 "lock release: " + error,
             out);
      }
      break;
    }
    case Op::kNone: break;
  }
}

// ---- start()'s main goroutine ----

void VarLockAgent::AcquireSucceeded(TimePoint now, TimePoint sent, const nomad::Variable& v,
                                    lock::Actions& out) {
  // `l.variable.Lock = out.Lock`: later acquires, renews and the release send this ID.
  lock_id_ = v.lock ? v.lock->id : "";
  locked_ = true;
  grant_ = lock::Grant{cfg_.path, cfg_.namespace_, lock_id_, v.modify_index, sent};
  if (ctx_done_) {
    // A child exited 0 while this acquire was in flight: exec's Start refuses a done context, so
    // the new goroutine only queues that error, and maintainLease returns at once.
    SendFromChild(nullptr, "error executing protected function " + std::string(kContextCanceled));
    LoopTail(now, out);
    return;
  }
  // §3.2.3: start the child; §3.2.8: earlier children are not stopped first.
  children_.push_back(Child{});
  out.push_back(lock::StartHolder{grant_, TimePoint::max()});
  pc_ = Pc::kMaintain;
  ticker_origin_ = now;
  ticks_consumed_ = 0;
}

void VarLockAgent::AfterAcquire(TimePoint now, Outcome o, const std::string& error,
                                lock::Actions& out) {
  // §3.2.2: a 409 waits for the ticker; any other error is queued for the select.
  if (o == Outcome::kError && !SendFromMain(error)) return;
  LoopTail(now, out);
}

void VarLockAgent::AfterRenew(TimePoint now, Outcome o, const std::string& error,
                              lock::Actions& out) {
  switch (o) {
    case Outcome::kOk:
      MaintainStep(now, out);
      return;
    case Outcome::kConflict:
      // §3.2.8: ErrLockConflict is not an error for the leaser: the child is NOT stopped, and
      // the loop goes back to acquiring after waitPeriod.
      LoopTail(now, out);
      return;
    case Outcome::kError:
      // §3.2.7: a non-409 failure is queued; the select returns it, and start()'s deferred
      // funcCancel SIGKILLs the child.
      if (!SendFromMain("error renewing the lease: " + error)) return;
      LoopTail(now, out);
      return;
  }
}

void VarLockAgent::MaintainStep(TimePoint now, lock::Actions& out) {
  if (pc_ != Pc::kMaintain || call_.op != Op::kNone) return;
  if (!children_.back().ctx_live) {
    LoopTail(now, out);  // maintainLease: ctx.Done() → return nil
    return;
  }
  // §3.2.3: renewTicker ticks every 0.7×TTL; one missed tick waits in the channel, the rest
  // are dropped.
  const TimePoint due = ticker_origin_ + renew_period_ * (ticks_consumed_ + 1);
  if (now < due) return;
  ticks_consumed_ = (now - ticker_origin_) / renew_period_;
  BeginCall(Op::kRenew, now, out);
}

void VarLockAgent::LoopTail(TimePoint now, lock::Actions& out) {
  // waitTicker = time.NewTicker(ll.waitPeriod), then the select.
  pc_ = Pc::kWaitTicker;
  wake_at_ = now + wait_period_;
  Select(now, out);
}

void VarLockAgent::Select(TimePoint now, lock::Actions& out) {
  if (pc_ != Pc::kWaitTicker) return;
  const bool cancelled = ctx_done_;
  const bool queued = err_slot_.has_value();
  if (!cancelled && !queued) return;
  // Go picks uniformly among ready cases.
  const bool take_error = queued && (!cancelled || (NextRandom() & 1) != 0);
  if (!take_error) {
    ReturnFromStart(now, std::nullopt, out);
    return;
  }
  std::string error = std::move(*err_slot_);
  err_slot_.reset();
  // The receive frees the slot: one blocked sender completes its send and no longer blocks.
  if (blocked_senders_ > 0) {
    --blocked_senders_;
    err_slot_ = "queued";
  }
  ReturnFromStart(now, std::move(error), out);
}

void VarLockAgent::ReturnFromStart(TimePoint now, std::optional<std::string> error,
                                   lock::Actions& out) {
  start_error_ = std::move(error);
  // Deferred, in order: every funcCancel (SIGKILL to the running children, §3.2.7),
  // close(errChannel), cancel().
  CancelAll(out);
  channel_closed_ = true;
  if (blocked_senders_ > 0) {
    Exit(locked_ ? lock::State::kLost : lock::State::kFailed, kExitPanic,
         "panic: send on closed channel (a blocked sender)", out);
    return;
  }
  if (locked_) {
    // Start(): `if ll.locked { Release(ctx) }` — at once, without waiting for the kill.
    pc_ = Pc::kRelease;
    BeginCall(Op::kRelease, now, out);
    return;
  }
  if (start_error_) {
    Exit(lock::State::kFailed, lock::kExitFailed, "Lock error:locks: " + *start_error_, out);
  } else {
    Exit(lock::State::kReleased, lock::kExitOk, "done without the lock", out);
  }
}

bool VarLockAgent::SendFromMain(std::string error) {
  if (!err_slot_) {
    err_slot_ = std::move(error);
    return true;
  }
  pc_ = Pc::kBlocked;  // nobody else ever receives: the CLI hangs
  call_ = Call{};
  return false;
}

void VarLockAgent::SendFromChild(Child* child, std::string error) {
  if (!err_slot_) {
    err_slot_ = std::move(error);
    if (child != nullptr) child->ctx_live = false;  // `defer funcCancel()` runs
  } else {
    ++blocked_senders_;  // its funcCancel never runs while it blocks
  }
}

void VarLockAgent::CancelAll(lock::Actions& out) {
  bool kill = false;
  for (Child& c : children_) {
    kill = kill || (c.running && c.ctx_live);
    c.ctx_live = false;
  }
  ctx_done_ = true;
  // exec.CommandContext: Process.Kill (SIGKILL) of the direct child, not its group (§3.2.7).
  if (kill) out.push_back(lock::KillHolder{});
}

void VarLockAgent::React(TimePoint now, lock::Actions& out) {
  switch (pc_) {
    case Pc::kAcquire:
    case Pc::kMaintain:
      if (call_.op == Op::kNone) {
        MaintainStep(now, out);
      } else if (!call_.in_flight && CallContextDone()) {
        // A retry wait ends with the context; an attempt in flight is not interruptible (c.put
        // takes no context), so its answer is awaited.
        FinishCall(now, Outcome::kError, std::string(kContextCanceled), out);
      }
      break;
    case Pc::kWaitTicker:
      Select(now, out);
      break;
    default:
      break;
  }
}

void VarLockAgent::Exit(lock::State terminal, int code, std::string reason, lock::Actions& out) {
  pc_ = Pc::kExited;
  call_ = Call{};
  terminal_ = terminal;
  exit_code_ = code;
  out.push_back(lock::Exit{code, std::move(reason)});
}

}  // namespace nsg::faultsim
