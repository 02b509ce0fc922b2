// lock::Agent (agent.h): the lock agent's state machine, and the free functions declared beside
// it (Validate, WriteWindow, Describe, StateName, LockIdGeneration). One file (~680 lines) on
// purpose: it is one state machine (the diagram in agent.h). Every input (Start, Resume, the
// acquire, read, renew and release results, the holder's exit, a stop, the timer) goes through
// the same transitions (EnterStandby, GiveUp, Lose, EnterReleasing, Finish, the sends, Advance)
// and NextWakeup reads the deadlines they all set, so one state change reads in one file.
#include "controller/lock/agent.h"

#include <algorithm>
#include <csignal>
#include <string>

#include "controller/nomad/limits.h"

namespace nsg::lock {
namespace {

using base::FormatDuration;
using base::StatusCode;

std::string At(TimePoint t) { return FormatDuration(t.time_since_epoch()); }

bool ValidPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '~' || c == '/';
}

// A blocking read that has not answered this long after its wait (plus Nomad's wait/16 jitter)
// is taken as hung; the standby then tries to acquire anyway.
constexpr Duration kHungReadSlack = 1s;

// The signal a stop forwards when the caller gives none.
constexpr int kDefaultStopSignal = SIGTERM;

}  // namespace

Status Validate(const Config& c) {
  if (c.path.empty() || c.path.size() > 128 ||
      !std::all_of(c.path.begin(), c.path.end(), ValidPathChar)) {
    return Status::InvalidSpec("--path \"" + c.path +
                               "\": a lock path is 1-128 characters of a-z A-Z 0-9 - _ ~ /");
  }
  if (c.ttl < c.min_ttl_for_test || c.ttl > kMaxTtl) {
    return Status::InvalidSpec("--ttl " + FormatDuration(c.ttl) +
                               ": Nomad accepts a lock TTL between 10s and 24h");
  }
  if (c.delay < Duration(0)) return Status::InvalidSpec("--delay must not be negative");
  if (nomad::EffectiveLockDelay(c.delay) != c.delay) {
    return Status::InvalidSpec("--delay " + FormatDuration(c.delay) +
                               ": Nomad turns a zero lock delay into its default " +
                               FormatDuration(nomad::EffectiveLockDelay(c.delay)) +
                               " (VariableLock.Canonicalize); pass a positive delay");
  }
  if (c.kill_timeout < Duration(0)) {
    return Status::InvalidSpec("--kill-timeout must not be negative");
  }
  const Duration min_give_up = timing::RenewInterval(c.ttl) * 2;
  if (c.give_up < min_give_up) {
    return Status::InvalidSpec("--give-up " + FormatDuration(c.give_up) +
                               " leaves less than two renew intervals (renewals every TTL/3 = " +
                               FormatDuration(timing::RenewInterval(c.ttl)) + "); use at least " +
                               FormatDuration(min_give_up));
  }
  timing::Timers t;
  t.ttl = c.ttl;
  t.delay = c.delay;
  t.give_up = c.give_up;
  t.kill_timeout = c.kill_timeout;
  t.guard_poll = c.guard_poll;
  const timing::Budget b = timing::Compute(t, c.assumptions);
  if (!b.safe()) {
    std::string fix;
    for (const std::string& s : timing::Suggestions(t, c.assumptions)) {
      fix += (fix.empty() ? "" : ", or ") + s;
    }
    return Status::InvalidSpec(
        "timer rule broken: the workload may still run " + FormatDuration(b.worst_case_overlap) +
        " after the server frees the lock (give-up " + FormatDuration(c.give_up) +
        (c.guard_poll.count() ? " + guard poll " + FormatDuration(c.guard_poll) : "") +
        " + kill timeout " + FormatDuration(c.kill_timeout) +
        " must end before 2×ttl + delay = " + FormatDuration(2 * c.ttl + c.delay) +
        " with clock error and margin); " + fix);
  }
  if (c.jitter < 0 || c.jitter >= 1) return Status::InvalidSpec("jitter must be in [0, 1)");
  return Status::Ok();
}

Duration WriteWindow(Duration ttl, const timing::Assumptions& a) {
  // The server's 2×TTL timer starts when the last renew arrives (no earlier than its send) and
  // may run fast (1 − ε) while our clock runs slow (1 + ε); a write must land with `margin` to
  // spare.
  const double eps = a.clock_rate_error;
  const double ns = (static_cast<double>((2 * ttl).count()) * (1.0 - eps) -
                     static_cast<double>(a.margin.count())) /
                    (1.0 + eps);
  return Duration(static_cast<int64_t>(std::max(ns, 0.0)));
}

std::string Describe(const Action& a) {
  struct V {
    std::string operator()(const SendAcquire& x) const {
      return "acquire#" + std::to_string(x.id);
    }
    std::string operator()(const SendRenew& x) const { return "renew#" + std::to_string(x.id); }
    std::string operator()(const SendRelease& x) const {
      return "release#" + std::to_string(x.id);
    }
    std::string operator()(const ReadVariable& x) const {
      std::string s = "read#" + std::to_string(x.id) + " index=" + std::to_string(x.index);
      if (x.index > 0) s += " wait=" + FormatDuration(x.wait);
      return s;
    }
    std::string operator()(const StartHolder& x) const {
      return "start epoch=" + std::to_string(x.grant.epoch) + " until=" + At(x.lease_until);
    }
    std::string operator()(const ExtendLease& x) const { return "extend until=" + At(x.lease_until); }
    std::string operator()(const StopHolder& x) const {
      return "stop sig=" + std::to_string(x.signal);
    }
    std::string operator()(const KillHolder&) const { return "kill"; }
    std::string operator()(const Exit& x) const { return "exit " + std::to_string(x.code); }
  };
  return std::visit(V{}, a);
}

std::string_view StateName(State s) {
  switch (s) {
    case State::kIdle: return "idle";
    case State::kAcquiring: return "acquiring";
    case State::kStandby: return "standby";
    case State::kHolding: return "holding";
    case State::kStopping: return "stopping";
    case State::kLosing: return "losing";
    case State::kReleasing: return "releasing";
    case State::kReleased: return "released";
    case State::kLost: return "lost";
    case State::kHandedOff: return "handed-off";
    case State::kFailed: return "failed";
  }
  return "?";
}

Result<Agent> Agent::Create(Config config) {
  if (!config.unchecked_negative_control) {
    if (Status st = Validate(config); !st.ok()) return st;
  }
  return Agent(std::move(config));
}

Agent::Agent(Config config)
    : cfg_(std::move(config)),
      renew_interval_(timing::RenewInterval(cfg_.ttl)),
      write_window_(WriteWindow(cfg_.ttl, cfg_.assumptions)),
      rng_(cfg_.seed ? cfg_.seed : 1),
      acquire_lock_id_(cfg_.lock_id) {}

std::string LockIdGeneration(const std::string& base, uint32_t generation) {
  if (generation == 0) return base;
  static constexpr char kHex[] = "0123456789abcdef";
  auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  if (base.size() == 36 && std::all_of(base.end() - 8, base.end(), is_hex)) {
    // Keep the UUID shape: XOR the last 8 hex digits with a mix of the generation.
    std::string out = base;
    uint32_t mix = generation * 0x9E3779B1u;
    if (mix == 0) mix = 1;
    for (int i = 0; i < 8; ++i) {
      char& c = out[out.size() - 1 - static_cast<size_t>(i)];
      const uint32_t v = static_cast<uint32_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      c = kHex[(v ^ (mix >> (4 * i))) & 0xF];
    }
    return out;
  }
  return base + "-g" + std::to_string(generation);
}

bool Agent::done() const {
  return state_ == State::kReleased || state_ == State::kLost || state_ == State::kHandedOff ||
         state_ == State::kFailed;
}

// ---- randomness (xorshift64*: deterministic from the seed) ----

Duration Agent::Jitter(Duration d) {
  if (cfg_.jitter <= 0) return d;
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  const uint64_t r = rng_ * 0x2545F4914F6CDD1DULL;
  const double u = static_cast<double>(r >> 11) / static_cast<double>(1ULL << 53);  // [0, 1)
  const double f = 1.0 + cfg_.jitter * (2.0 * u - 1.0);
  return Duration(static_cast<int64_t>(static_cast<double>(d.count()) * f));
}

Duration Agent::Backoff(int failures, Duration cap) {
  Duration d = cfg_.backoff_initial;
  for (int i = 0; i < failures && d < cap; ++i) d *= 2;
  return Jitter(std::min(d, cap));
}

Duration Agent::Poll() { return Jitter(cfg_.ttl / 2); }

void Agent::Stamp(TimePoint now) { now_ = std::max(now_, now); }

// ---- inputs ----

Actions Agent::Start(TimePoint now) {
  Actions out;
  Stamp(now);
  if (state_ != State::kIdle) return out;
  state_ = State::kAcquiring;
  retry_at_ = now_;
  Advance(now_, out);
  return out;
}

Actions Agent::Resume(TimePoint now, const Grant& grant) {
  Actions out;
  Stamp(now);
  if (state_ != State::kIdle) return out;
  grant_ = grant;
  last_ok_send_ = grant.acquired_at;
  next_renew_at_ = now_;  // we do not know when the previous process last renewed
  state_ = State::kHolding;
  out.push_back(StartHolder{grant_, lease_until()});
  Advance(now_, out);
  return out;
}

Actions Agent::OnAcquireResult(TimePoint now, uint64_t id, const Result<nomad::Variable>& r) {
  Actions out;
  Stamp(now);
  if (op_ != Op::kAcquire || id != op_id_) return out;  // stale
  op_ = Op::kNone;
  if (r.ok()) {
    grant_.path = cfg_.path;
    grant_.namespace_ = cfg_.namespace_;
    grant_.lock_id = r->lock && !r->lock->id.empty() ? r->lock->id : acquire_lock_id_;
    grant_.epoch = r->modify_index;
    // With a server-chosen ID only this attempt can have won; with our own ID an earlier,
    // unanswered attempt may have, and the server's timer started when that one was applied.
    grant_.acquired_at = acquire_lock_id_.empty() ? op_sent_
                                                  : first_unresolved_acquire_.value_or(op_sent_);
    first_unresolved_acquire_.reset();
    acquire_failures_ = 0;
    if (grant_.lock_id.empty()) {
      // Without an ID the lock can be neither renewed nor released; it expires after 2T + D.
      Finish(State::kFailed, kExitFailed, "acquire answered without a lock ID", out);
      return out;
    }
    last_ok_send_ = grant_.acquired_at;
    if (stop_requested_) {
      EnterReleasing(now_, cfg_.exit_after_acquire ? kExitFailed : kExitOk, out);
      return out;
    }
    if (now_ >= lease_until()) {
      // The acquire took longer than G: the lease is already too old to start anything on.
      gave_up_ = true;
      EnterReleasing(now_, kExitGaveUp, out);
      return out;
    }
    out.push_back(StartHolder{grant_, lease_until()});
    if (cfg_.exit_after_acquire) {
      Finish(State::kHandedOff, kExitOk, "lock acquired; handed off", out);
      return out;
    }
    state_ = State::kHolding;
    next_renew_at_ = last_ok_send_ + renew_interval_;
    Advance(now_, out);
    return out;
  }
  switch (r.status().code()) {
    case StatusCode::kConflict:
      // A definite "held by another": no earlier attempt of ours can hold it either.
      first_unresolved_acquire_.reset();
      acquire_failures_ = 0;
      if (stop_requested_) {
        Finish(State::kReleased, cfg_.exit_after_acquire ? kExitFailed : kExitOk,
               "stopped while waiting for the lock", out);
        return out;
      }
      EnterStandby(now_, out);
      break;
    case StatusCode::kInvalidSpec:
      Finish(State::kFailed, kExitFailed, "acquire refused: " + r.status().ToString(), out);
      return out;
    case StatusCode::kPermissionDenied:
      // A definite refusal (nothing was applied), e.g. the job's ACL policy does not exist yet.
      first_unresolved_acquire_.reset();
      [[fallthrough]];
    default:
      // Network, timeout, 5xx, 403: the outcome is unknown; back off and try again.
      if (stop_requested_) {
        Finish(State::kReleased, cfg_.exit_after_acquire ? kExitFailed : kExitOk,
               "stopped while acquiring", out);
        return out;
      }
      retry_at_ = now_ + Backoff(acquire_failures_++, cfg_.ttl / 2);
      break;
  }
  Advance(now_, out);
  return out;
}

void Agent::EnterStandby(TimePoint now, Actions& out) {
  state_ = State::kStandby;
  if (read_in_flight_) {
    // The earlier read will wake us; the poll covers a read that hangs.
    retry_at_ = now + Poll();
    return;
  }
  ReadVariable read;
  read.id = next_id_++;
  if (known_index_ > 0 && known_index_order_ < last_acquire_order_) {
    // Nothing that happened before the read completed can have been missed by the acquire that
    // followed it, so a change after `known_index_` is all we wait for.
    read.index = known_index_;
    read.wait = Poll();
    retry_at_ = now + read.wait + read.wait / 16 + kHungReadSlack;
  } else {
    retry_at_ = now + Poll();
  }
  read_in_flight_ = true;
  read_id_ = read.id;
  out.push_back(read);
}

Actions Agent::OnReadResult(TimePoint now, uint64_t id,
                            const Result<nomad::Query<nomad::Variable>>& r) {
  Actions out;
  Stamp(now);
  if (!read_in_flight_ || id != read_id_) return out;
  read_in_flight_ = false;
  if (verifying_) {
    verifying_ = false;
    if (state_ == State::kHolding || state_ == State::kStopping ||
        (state_ == State::kLosing && !lost_)) {
      // Every write to the variable (a release, the server's delay-expiry clear, an acquire, an
      // operator's change) moves its ModifyIndex off the epoch our acquire wrote; renewals do not
      // write. Unchanged: the lock is still ours and the 409 was a missing TTL timer.
      if (!r.ok() || r->value.modify_index != grant_.epoch) Lose(now_, out);
    }
    Advance(now_, out);
    return out;
  }
  if (r.ok()) {
    known_index_ = r->meta.last_index ? r->meta.last_index : r->value.modify_index;
    known_index_order_ = ++order_;
  }
  if (state_ == State::kStandby && !stop_requested_) {
    if (r.ok() || r.status().code() == StatusCode::kNotFound) {
      // The variable changed (or the blocking query timed out, which is the poll): try now.
      retry_at_ = std::max(now_, last_acquire_sent_ + cfg_.min_acquire_spacing);
    } else {
      retry_at_ = std::min(retry_at_, now_ + Poll());
    }
  }
  Advance(now_, out);
  return out;
}

Actions Agent::OnRenewResult(TimePoint now, uint64_t id, const Result<nomad::Variable>& r) {
  Actions out;
  Stamp(now);
  if (op_ != Op::kRenew || id != op_id_) return out;
  op_ = Op::kNone;
  const bool renewing = state_ == State::kHolding || state_ == State::kStopping;
  if (r.ok()) {
    if (renewing) {
      last_ok_send_ = std::max(last_ok_send_, op_sent_);
      renew_failures_ = 0;
      next_renew_at_ = op_sent_ + renew_interval_;
      // A stopping holder keeps its revoked lease; the renewals only keep the lock ours.
      if (state_ == State::kHolding) out.push_back(ExtendLease{lease_until()});
    }
  } else if (r.status().code() == StatusCode::kConflict && renewing) {
    // 409 means another lock ID is stored — or ours is, without a TTL timer on the current
    // leader: a new leader serves RPCs before restoreLockTTLTimers (nomad/leader.go
    // establishLeadership; nomad/variables_endpoint.go RenewLock answers errVarIsLocked when
    // RenewTTLTimer finds no timer, v1.10.2–v2.0.5). Read the variable to tell them apart; until
    // then this is a failed renew, so the give-up deadline G still bounds the holder.
    next_renew_at_ = now_ + Backoff(renew_failures_++, renew_interval_ / 2);
    VerifyLock(out);
  } else if (r.status().code() == StatusCode::kConflict ||
             r.status().code() == StatusCode::kNotFound) {
    // The server no longer has our lock: someone else may hold it right now.
    if (renewing || state_ == State::kLosing) {
      Lose(now_, out);
    } else if (state_ == State::kReleasing) {
      release_wanted_ = false;  // nothing left to release
      lost_ = true;
    }
  } else if (renewing) {
    next_renew_at_ = now_ + Backoff(renew_failures_++, renew_interval_ / 2);
  }
  Advance(now_, out);
  return out;
}

Actions Agent::OnReleaseResult(TimePoint now, uint64_t id, const Status& s) {
  Actions out;
  Stamp(now);
  if (op_ != Op::kRelease || id != op_id_) return out;
  op_ = Op::kNone;
  const StatusCode c = s.code();
  if (s.ok() || c == StatusCode::kConflict || c == StatusCode::kNotFound ||
      c == StatusCode::kInvalidSpec) {
    release_wanted_ = false;
    const bool released = s.ok();
    Finish(lost_ ? State::kLost : State::kReleased, exit_code_,
           released ? "lock released" : "release answered " + s.ToString(), out);
    return out;
  }
  release_retry_at_ = now_ + Backoff(release_failures_++, 1s);
  Advance(now_, out);
  return out;
}

Actions Agent::OnHolderExited(TimePoint now, int code) {
  Actions out;
  Stamp(now);
  switch (state_) {
    case State::kHolding:
    case State::kStopping:
      EnterReleasing(now_, code, out);
      break;
    case State::kLosing:
      if (lost_) {
        Finish(State::kLost, kExitLockLost, "lock lost; holder stopped", out);
      } else {
        EnterReleasing(now_, kExitGaveUp, out);
      }
      break;
    default:
      break;
  }
  return out;
}

Actions Agent::OnStopRequested(TimePoint now, int signal) {
  Actions out;
  Stamp(now);
  if (signal <= 0) signal = kDefaultStopSignal;
  const int not_held_code = cfg_.exit_after_acquire ? kExitFailed : kExitOk;
  switch (state_) {
    case State::kIdle:
      Finish(State::kReleased, not_held_code, "stopped before start", out);
      break;
    case State::kAcquiring:
      if (op_ == Op::kAcquire) {
        // The acquire may succeed: wait for it (briefly) so a won lock can be released.
        stop_requested_ = true;
        stop_deadline_ = now_ + cfg_.release_timeout;
      } else {
        Finish(State::kReleased, not_held_code, "stopped while acquiring", out);
      }
      break;
    case State::kStandby:
      Finish(State::kReleased, not_held_code, "stopped in standby", out);
      break;
    case State::kHolding:
      stop_requested_ = true;
      state_ = State::kStopping;
      out.push_back(StopHolder{signal});
      kill_at_ = now_ + cfg_.kill_timeout;
      confirm_deadline_ = now_ + cfg_.kill_timeout + cfg_.stop_margin;
      break;
    case State::kStopping:
      out.push_back(StopHolder{signal});  // forward a repeated signal too
      break;
    default:
      break;
  }
  Advance(now_, out);
  return out;
}

Actions Agent::OnTimer(TimePoint now) {
  Actions out;
  Stamp(now);
  Advance(now_, out);
  return out;
}

// ---- transitions ----

void Agent::GiveUp(TimePoint now, Actions& out) {
  gave_up_ = true;
  state_ = State::kLosing;
  out.push_back(StopHolder{SIGTERM});
  kill_at_ = now + cfg_.kill_timeout;
  confirm_deadline_ = now + cfg_.kill_timeout + cfg_.stop_margin;
}

void Agent::Lose(TimePoint now, Actions& out) {
  lost_ = true;
  state_ = State::kLosing;
  out.push_back(KillHolder{});
  kill_at_.reset();
  confirm_deadline_ = now + cfg_.kill_timeout + cfg_.stop_margin;
}

void Agent::VerifyLock(Actions& out) {
  if (verifying_) return;  // the read in flight answers for this 409 too
  ReadVariable read;
  read.id = next_id_++;
  read_in_flight_ = true;
  read_id_ = read.id;  // a standby read still in flight is superseded
  verifying_ = true;
  out.push_back(read);
}

void Agent::EnterReleasing(TimePoint now, int code, Actions& out) {
  state_ = State::kReleasing;
  exit_code_ = code;
  release_wanted_ = true;
  release_failures_ = 0;
  release_retry_at_ = now;
  release_deadline_ = now + cfg_.release_timeout;
  Advance(now, out);
}

void Agent::Finish(State terminal, int code, std::string reason, Actions& out) {
  state_ = terminal;
  exit_code_ = code;
  kill_at_.reset();
  out.push_back(Exit{code, std::move(reason)});
}

void Agent::SendAcquireNow(TimePoint now, Actions& out) {
  if (first_unresolved_acquire_ && !cfg_.lock_id.empty() &&
      now - *first_unresolved_acquire_ >= cfg_.give_up / 2) {
    // Unanswered attempts have piled up for G/2: a success now would leave little lease. A new
    // ID abandons them; should one of them have won, its lock expires after 2T + D.
    acquire_lock_id_ = LockIdGeneration(cfg_.lock_id, ++lock_id_generation_);
    first_unresolved_acquire_.reset();
  }
  op_ = Op::kAcquire;
  op_id_ = next_id_++;
  op_sent_ = now;
  last_acquire_sent_ = now;
  last_acquire_order_ = ++order_;
  if (!first_unresolved_acquire_) first_unresolved_acquire_ = now;
  state_ = State::kAcquiring;
  out.push_back(SendAcquire{op_id_, acquire_lock_id_});
}

void Agent::SendRenewNow(TimePoint now, Actions& out) {
  op_ = Op::kRenew;
  op_id_ = next_id_++;
  op_sent_ = now;
  out.push_back(SendRenew{op_id_, grant_.lock_id});
}

void Agent::SendReleaseNow(TimePoint now, Actions& out) {
  op_ = Op::kRelease;
  op_id_ = next_id_++;
  op_sent_ = now;
  out.push_back(SendRelease{op_id_, grant_.lock_id});
}

void Agent::Advance(TimePoint now, Actions& out) {
  switch (state_) {
    case State::kAcquiring:
      if (stop_requested_) {
        if (op_ == Op::kNone) {
          Finish(State::kReleased, cfg_.exit_after_acquire ? kExitFailed : kExitOk,
                 "stopped while acquiring", out);
        } else if (now >= stop_deadline_) {
          // An acquire that never answers may still have won: its lock expires after 2T + D.
          Finish(State::kReleased, cfg_.exit_after_acquire ? kExitFailed : kExitOk,
                 "stopped; the acquire in flight did not answer", out);
        }
      } else if (op_ == Op::kNone && now >= retry_at_) {
        SendAcquireNow(now, out);
      }
      break;
    case State::kStandby:
      if (now >= retry_at_ && op_ == Op::kNone) SendAcquireNow(now, out);
      break;
    case State::kHolding:
    case State::kStopping:
      if (kill_at_ && now >= *kill_at_) {
        kill_at_.reset();
        out.push_back(KillHolder{});
      }
      if (state_ == State::kStopping && now >= confirm_deadline_) {
        Finish(State::kLost, kExitUnconfirmed,
               "the holder did not stop within the kill timeout; lock left to expire", out);
        break;
      }
      if (state_ == State::kHolding && now >= lease_until()) {
        GiveUp(now, out);
        break;
      }
      // No renew after the write deadline either: the server's 2×TTL may have fired, and a
      // renew that a new leader's restored timer accepts would not cancel the delay callback
      // already pending for this lock (nomad/locks.go). Only the give-up deadline is left.
      if (op_ == Op::kNone && now >= next_renew_at_ && now < write_deadline()) {
        SendRenewNow(now, out);
      }
      break;
    case State::kLosing:
      if (kill_at_ && now >= *kill_at_) {
        kill_at_.reset();
        out.push_back(KillHolder{});
      }
      if (now >= confirm_deadline_) {
        Finish(State::kLost, lost_ ? kExitLockLost : kExitUnconfirmed,
               "the holder's death was not confirmed; lock left to expire", out);
      }
      break;
    case State::kReleasing:
      if (!release_wanted_) {
        if (op_ == Op::kNone) {
          Finish(lost_ ? State::kLost : State::kReleased, exit_code_,
                 lost_ ? "lock already lost" : "done", out);
        }
      } else if (now >= release_deadline_) {
        Finish(lost_ ? State::kLost : State::kReleased, exit_code_,
               "release did not succeed in time; the lock expires after 2×TTL + delay", out);
      } else if (op_ == Op::kNone && now >= release_retry_at_) {
        if (now >= write_deadline()) {
          // The server's 2×TTL may have run out: a release landing in the LockDelay that follows
          // would free the lock for a successor whose lock the pending delay callback then clears
          // (nomad/locks.go CreateVariableLockTTLTimer + invalidateVariableLock: Lock = nil skips
          // the ID check in state_store_variables.go VarLockRelease, v1.10.2–v2.0.5).
          Finish(State::kLost, exit_code_,
                 "too late to release safely; the lock expires after 2×TTL + delay", out);
        } else {
          SendReleaseNow(now, out);
        }
      }
      break;
    default:
      break;
  }
}

std::optional<TimePoint> Agent::NextWakeup() const {
  std::optional<TimePoint> t;
  auto consider = [&t](TimePoint x) {
    if (!t || x < *t) t = x;
  };
  switch (state_) {
    case State::kAcquiring:
      if (stop_requested_) {
        consider(stop_deadline_);
      } else if (op_ == Op::kNone) {
        consider(retry_at_);
      }
      break;
    case State::kStandby:
      if (op_ == Op::kNone) consider(retry_at_);
      break;
    case State::kHolding:
    case State::kStopping:
      if (kill_at_) consider(*kill_at_);
      if (state_ == State::kStopping) consider(confirm_deadline_);
      if (state_ == State::kHolding) consider(lease_until());
      if (const TimePoint renew_at = std::max(next_renew_at_, now_);
          op_ == Op::kNone && renew_at < write_deadline()) {
        consider(renew_at);
      }
      break;
    case State::kLosing:
      if (kill_at_) consider(*kill_at_);
      consider(confirm_deadline_);
      break;
    case State::kReleasing:
      if (release_wanted_) {
        consider(release_deadline_);
        if (op_ == Op::kNone) consider(release_retry_at_);
      }
      break;
    default:
      break;
  }
  return t;
}

}  // namespace nsg::lock
