// Seeded fault simulation of lock::Agent: several agents contend for one lock on a model of
// Nomad's lock server over a lossy network with partitions, clock-rate error, stubborn workloads,
// graceful stops, frozen agents and server leader elections. The server model follows Nomad's
// source (v1.10.2–v2.0.5): a 2×TTL timer after the last renew, then a detached LockDelay callback
// that clears whatever lock is stored when it fires, even one a successor took after the old
// holder released during the delay (nomad/locks.go); a new leader restores the TTL timers some
// time after it starts serving, and renewals answer 409 in between (nomad/leader.go). The
// workload runs under a guard that kills it when the lease runs out, so a frozen agent cannot
// keep it alive. The invariant — at most one workload alive at any instant — is checked at every
// start; a failure prints the seed.
#include <gtest/gtest.h>

#include <csignal>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "controller/lock/agent.h"

namespace nsg::lock {
namespace {

using base::StatusCode;
using Ns = int64_t;  // true (server) time in ns

constexpr Ns kMs = 1000000;
constexpr Ns kS = 1000 * kMs;

struct Event {
  Ns at;
  uint64_t seq;
  std::function<void()> fn;
  bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

class World {
 public:
  explicit World(uint64_t seed) : rng_(seed), seed_(seed) {}

  // ---- scheduler ----
  void At(Ns t, std::function<void()> fn) { q_.push({t, seq_++, std::move(fn)}); }
  void RunUntil(Ns end) {
    while (!q_.empty() && q_.top().at <= end && !failed_) {
      Event e = q_.top();
      q_.pop();
      now_ = e.at;
      e.fn();
    }
  }
  Ns now() const { return now_; }
  double U() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  Ns Rand(Ns lo, Ns hi) { return lo + static_cast<Ns>(U() * static_cast<double>(hi - lo)); }

  // ---- server model ----
  struct Lock {
    std::string id;
    Ns expiry = 0;        // 2×TTL after the acquire or last renew
    bool in_delay = false;  // the TTL timer fired (or none exists until the leader restores it)
  };
  void Tick() {
    if (now_ >= restore_at_ && restoring_) {
      // The new leader's restoreLockTTLTimers: a fresh 2×TTL for the stored lock.
      restoring_ = false;
      if (lock_) lock_->expiry = restore_at_ + 2 * ttl_;
      if (lock_) lock_->in_delay = false;
    }
    if (lock_ && !restoring_ && !lock_->in_delay && now_ >= lock_->expiry) {
      lock_->in_delay = true;
      clears_.push_back(lock_->expiry + delay_);  // time.AfterFunc(LockDelay): never cancelled
    }
    for (auto it = clears_.begin(); it != clears_.end();) {
      if (now_ < *it) {
        ++it;
        continue;
      }
      it = clears_.erase(it);
      Log("server delay callback clears " + (lock_ ? lock_->id : std::string("nothing")));
      if (lock_) {  // Lock = nil: no ID check
        lock_.reset();
        Bump();
      }
    }
  }
  // A leader election: no lock has a TTL timer until `restore_at`.
  void LeaderElection(Ns restore_at) {
    Tick();
    Log("server leader election; timers restored at " + std::to_string(restore_at / kMs));
    restoring_ = true;
    restore_at_ = restore_at;
    // The old leader's pending delay callbacks fail their Raft apply: the new leader is another
    // server. (Should the old one regain leadership within its ~5 minutes of retries, its stale
    // callback would clear whatever lock is stored then: a Nomad bug no agent can prevent.)
    clears_.clear();
    if (lock_) lock_->in_delay = true;
    for (Ns t = now_; t <= restore_at + kMs; t += 100 * kMs) At(t, [this] { Tick(); });
  }
  void Bump() {
    ++modify_index_;
    auto parked = std::move(parked_);
    parked_.clear();
    for (auto& p : parked) p();
  }
  Result<nomad::Variable> Acquire(const std::string& id) {
    Tick();
    Log("server acquire " + id + (lock_ ? " (held by " + lock_->id + ")" : ""));
    if (lock_ && lock_->id != id) return Status::Conflict("held");
    if (!lock_) lock_ = Lock{id, now_ + 2 * ttl_, restoring_};
    Bump();
    nomad::Variable v;
    v.modify_index = modify_index_;
    v.lock = nomad::VariableLock{std::chrono::nanoseconds(ttl_), std::chrono::nanoseconds(delay_),
                                 id};
    return v;
  }
  Result<nomad::Variable> Renew(const std::string& id) {
    Tick();
    Log("server renew " + id + (lock_ ? " (lock " + lock_->id + (lock_->in_delay ? ", no timer)" : ")") : " (none)"));
    if (!lock_ || lock_->id != id || lock_->in_delay) return Status::Conflict("lost");
    lock_->expiry = now_ + 2 * ttl_;
    nomad::Variable v;
    v.modify_index = modify_index_;
    return v;
  }
  Status Release(const std::string& id) {
    Tick();
    Log("server release " + id);
    if (!lock_) return Status::Unavailable("variable doesn't hold a lock");
    if (lock_->id != id) return Status::Conflict("not yours");
    lock_.reset();
    Bump();
    return Status::Ok();
  }

  // ---- workloads ----
  int alive() const { return alive_; }
  void WorkloadStarted(int agent) {
    ++alive_;
    ++starts_;
    if (alive_ > 1) {
      failed_ = true;
      std::string recent;
      for (const auto& l : log_) recent += l + "\n";
      ADD_FAILURE() << "seed " << seed_ << ": two workloads alive at t=" << now_ / kMs
                    << "ms (agent " << agent << " started one); the last events:\n"
                    << recent;
    }
  }
  void WorkloadDied() { --alive_; }
  // The last events, for a failure's report.
  void Log(const std::string& line) {
    log_.push_back(std::to_string(now_ / kMs) + "ms " + line);
    if (log_.size() > 80) log_.pop_front();
  }
  std::deque<std::string> log_;

  Ns ttl_ = 15 * kS, delay_ = 15 * kS;
  std::vector<Ns> clears_;  // pending LockDelay callbacks
  bool restoring_ = false;
  Ns restore_at_ = 0;
  std::mt19937_64 rng_;
  uint64_t seed_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> q_;
  uint64_t seq_ = 0;
  Ns now_ = 0;
  std::optional<Lock> lock_;
  uint64_t modify_index_ = 1;
  std::vector<std::function<void()>> parked_;
  int alive_ = 0;
  int starts_ = 0;
  bool failed_ = false;
};

// One allocation: an agent, its clock, its network path and its workload.
class Node : public std::enable_shared_from_this<Node> {
 public:
  Node(World& w, int n, Config c) : w_(w), n_(n), agent_(Agent::Create(std::move(c)).value()) {
    rate_ = 1.0 + (w.U() * 2 - 1) * 0.005;  // within the assumed 1% clock-rate error
    stubborn_ = w.U() < 0.3;                // ignores SIGTERM
  }

  TimePoint Local() const {
    return TimePoint(Duration(static_cast<int64_t>(static_cast<double>(w_.now()) * rate_)));
  }
  Ns TrueOf(TimePoint t) const {
    return static_cast<Ns>(static_cast<double>(t.time_since_epoch().count()) / rate_) + 1;
  }

  void Start() { Handle(agent_.Start(Local())); }
  void Stop() {
    if (!crashed_) Handle(agent_.OnStopRequested(Local(), SIGTERM));
  }
  // The agent process dies: its workload dies with it (parent-death signal).
  void Crash() {
    if (crashed_ || agent_.done()) return;
    crashed_ = true;
    KillWorkload(w_.Rand(0, 50 * kMs));
  }
  void Partition(Ns until) { partitioned_until_ = until; }
  // SIGSTOP of the agent until `until`: it handles nothing meanwhile (answers and timers wait);
  // the guard still follows the lease.
  void Freeze(Ns until) {
    frozen_until_ = std::max(frozen_until_, until);
    w_.Log("agent " + std::to_string(n_) + " frozen until " + std::to_string(until / kMs));
  }
  bool done() const { return crashed_ || agent_.done(); }

 private:
  bool Lossy() { return w_.now() < partitioned_until_ || w_.U() < 0.05; }

  // Sends a request: it may be lost on the way (not applied) or on the way back (applied);
  // either way the client's timeout turns it into kUnavailable.
  template <typename R>
  void Call(std::function<R()> apply, std::function<void(R)> deliver, std::function<R()> unavail) {
    auto self = shared_from_this();
    const Ns there = w_.Rand(1 * kMs, 300 * kMs), back = w_.Rand(1 * kMs, 300 * kMs);
    const bool lost_there = Lossy();
    const bool lost_back = !lost_there && Lossy();
    if (lost_there) {
      w_.At(w_.now() + 2 * kS, [self, deliver, unavail] { deliver(unavail()); });
      return;
    }
    w_.At(w_.now() + there, [this, self, apply, deliver, unavail, back, lost_back] {
      R r = apply();
      if (lost_back || w_.now() < partitioned_until_) {
        w_.At(w_.now() + 2 * kS, [deliver, unavail] { deliver(unavail()); });
      } else {
        w_.At(w_.now() + back, [deliver, r] { deliver(r); });
      }
    });
  }

  // Runs `fn` (an input to the agent) now, or when the agent thaws.
  void WhenThawed(std::function<void()> fn) {
    if (w_.now() < frozen_until_) {
      auto self = shared_from_this();
      w_.At(frozen_until_, [self, fn] { self->WhenThawed(fn); });
      return;
    }
    fn();
  }

  // The guard: kills the workload when the lease it was given runs out (plus its poll).
  void ArmGuard(TimePoint lease_until) {
    lease_until_ = lease_until;
    const uint64_t gen = ++guard_gen_;
    auto self = shared_from_this();
    w_.At(TrueOf(lease_until) + 250 * kMs, [this, self, gen] {
      if (gen == guard_gen_ && workload_alive_) KillWorkload(w_.Rand(0, 20 * kMs));
    });
  }

  void Handle(const Actions& actions) {
    if (crashed_) return;
    auto self = shared_from_this();
    for (const Action& a : actions) {
      w_.Log("agent " + std::to_string(n_) + ": " + Describe(a) + " [" +
             std::string(StateName(agent_.state())) + "]");
      if (auto* p = std::get_if<SendAcquire>(&a)) {
        const uint64_t id = p->id;
        const std::string lid = p->lock_id;
        Call<Result<nomad::Variable>>(
            [this, lid] { return w_.U() < 0.05 ? Status::Unavailable("500") : w_.Acquire(lid); },
            [this, self, id](Result<nomad::Variable> r) {
              WhenThawed([this, self, id, r] {
                if (!crashed_) Handle(agent_.OnAcquireResult(Local(), id, r));
              });
            },
            [] { return Status::Unavailable("timeout"); });
      } else if (auto* p2 = std::get_if<SendRenew>(&a)) {
        const uint64_t id = p2->id;
        const std::string lid = p2->lock_id;
        Call<Result<nomad::Variable>>(
            [this, lid] { return w_.U() < 0.05 ? Status::Unavailable("500") : w_.Renew(lid); },
            [this, self, id](Result<nomad::Variable> r) {
              WhenThawed([this, self, id, r] {
                if (!crashed_) Handle(agent_.OnRenewResult(Local(), id, r));
              });
            },
            [] { return Status::Unavailable("timeout"); });
      } else if (auto* p3 = std::get_if<SendRelease>(&a)) {
        const uint64_t id = p3->id;
        const std::string lid = p3->lock_id;
        Call<Status>([this, lid] { return w_.Release(lid); },
                     [this, self, id](Status s) {
                       WhenThawed([this, self, id, s] {
                         if (!crashed_) Handle(agent_.OnReleaseResult(Local(), id, s));
                       });
                     },
                     [] { return Status::Unavailable("timeout"); });
      } else if (auto* p4 = std::get_if<ReadVariable>(&a)) {
        Read(p4->id, p4->index, p4->wait);
      } else if (auto* p5 = std::get_if<StartHolder>(&a)) {
        ASSERT_FALSE(started_) << "seed " << w_.seed_ << ": holder started twice";
        started_ = true;
        workload_alive_ = true;
        w_.WorkloadStarted(n_);
        ArmGuard(p5->lease_until);
      } else if (auto* ext = std::get_if<ExtendLease>(&a)) {
        ArmGuard(ext->lease_until);
      } else if (auto* p6 = std::get_if<StopHolder>(&a)) {
        (void)p6;
        if (workload_alive_ && !stubborn_) {
          KillWorkload(w_.Rand(0, 4 * kS));  // within K = 5s
        }
      } else if (std::get_if<KillHolder>(&a)) {
        if (workload_alive_) KillWorkload(w_.Rand(0, 20 * kMs));
      } else if (std::get_if<Exit>(&a)) {
        // Nothing may outlive the agent.
        if (workload_alive_) KillWorkload(w_.Rand(0, 50 * kMs));
      }
    }
    Rearm();
  }

  void Read(uint64_t id, uint64_t index, Duration wait) {
    auto self = shared_from_this();
    const Ns there = w_.Rand(1 * kMs, 300 * kMs);
    if (Lossy()) {
      w_.At(w_.now() + 2 * kS, [this, self, id] {
        WhenThawed([this, self, id] {
          if (!crashed_) Handle(agent_.OnReadResult(Local(), id, Status::Unavailable("timeout")));
        });
      });
      return;
    }
    w_.At(w_.now() + there, [this, self, id, index, wait] {
      w_.Tick();
      auto answered = std::make_shared<bool>(false);
      auto answer = [this, self, id, answered] {
        if (*answered) return;
        *answered = true;
        nomad::Query<nomad::Variable> q;
        q.meta.last_index = w_.modify_index_;
        q.value.modify_index = w_.modify_index_;
        const Ns back = w_.Rand(1 * kMs, 300 * kMs);
        w_.At(w_.now() + back, [this, self, id, q] {
          WhenThawed([this, self, id, q] {
            if (!crashed_) Handle(agent_.OnReadResult(Local(), id, q));
          });
        });
      };
      if (index == 0 || w_.modify_index_ > index) {
        answer();
      } else {
        w_.parked_.push_back(answer);
        w_.At(w_.now() + wait.count(), answer);
        // The server's own timers change the index too; poll them while parked.
        for (Ns t = w_.now() + 100 * kMs; t < w_.now() + wait.count(); t += 100 * kMs) {
          w_.At(t, [this] { w_.Tick(); });
        }
      }
    });
  }

  void KillWorkload(Ns after) {
    if (!workload_alive_ || dying_) return;
    dying_ = true;
    auto self = shared_from_this();
    w_.At(w_.now() + after, [this, self] {
      workload_alive_ = false;
      dying_ = false;
      w_.WorkloadDied();
      WhenThawed([this, self] {
        if (!crashed_) Handle(agent_.OnHolderExited(Local(), 143));
      });
    });
  }

  void Rearm() {
    auto next = agent_.NextWakeup();
    if (!next) return;
    const uint64_t gen = ++timer_gen_;
    auto self = shared_from_this();
    w_.At(std::max(w_.now(), TrueOf(*next)), [this, self, gen] {
      WhenThawed([this, self, gen] {
        if (gen == timer_gen_ && !crashed_) Handle(agent_.OnTimer(Local()));
      });
    });
  }

  World& w_;
  int n_;
  Agent agent_;
  double rate_ = 1;
  bool stubborn_ = false;
  bool crashed_ = false;
  bool started_ = false;
  bool workload_alive_ = false;
  bool dying_ = false;
  Ns partitioned_until_ = 0;
  Ns frozen_until_ = 0;
  uint64_t timer_gen_ = 0;
  uint64_t guard_gen_ = 0;
  TimePoint lease_until_{};
};

struct RunOptions {
  bool leader_elections = true;
  bool freezes = true;
  Duration ttl = 15s, delay = 15s, give_up = 15s;
};

void RunSeed(uint64_t seed, int* starts, const RunOptions& o = {}) {
  World w(seed);
  w.ttl_ = o.ttl.count();
  w.delay_ = o.delay.count();
  std::vector<std::shared_ptr<Node>> nodes;
  int next = 0;
  auto spawn = [&] {
    Config c;
    c.path = "nomad/jobs/sim/lock";
    c.ttl = o.ttl;
    c.delay = o.delay;
    c.give_up = o.give_up;
    c.kill_timeout = 5s;
    c.guard_poll = 250ms;
    c.lock_id = "id-" + std::to_string(next);
    c.seed = seed * 31 + static_cast<uint64_t>(next);
    auto n = std::make_shared<Node>(w, next++, c);
    nodes.push_back(n);
    n->Start();
  };
  spawn();
  spawn();
  // A fault schedule: every few seconds something happens to a random live node.
  for (Ns t = 2 * kS; t < 600 * kS; t += w.Rand(1 * kS, 20 * kS)) {
    w.At(t, [&] {
      std::vector<std::shared_ptr<Node>> live;
      for (auto& n : nodes) {
        if (!n->done()) live.push_back(n);
      }
      if (live.size() < 2 || w.U() < 0.2) spawn();
      if (live.empty()) return;
      auto& n = live[static_cast<size_t>(w.U() * static_cast<double>(live.size()))];
      const double u = w.U();
      if (u < 0.3) {
        n->Partition(w.now() + w.Rand(1 * kS, 60 * kS));
      } else if (u < 0.5) {
        n->Stop();
      } else if (u < 0.6) {
        n->Crash();
      } else if (u < 0.7 && o.freezes) {
        n->Freeze(w.now() + w.Rand(1 * kS, 90 * kS));
      } else if (u < 0.75 && o.leader_elections) {
        w.LeaderElection(w.now() + w.Rand(100 * kMs, 5 * kS));
      }
    });
  }
  w.RunUntil(700 * kS);
  *starts += w.starts_;
}

TEST(AgentSimTest, AtMostOneWorkloadUnderFaults) {
  int starts = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    RunSeed(seed, &starts);
    if (HasFailure()) break;
  }
  // Liveness, loosely: the lock does move between holders.
  EXPECT_GT(starts, 300);
}

// G > 2T (allowed when D is long): a holder that gives up sends its release after the server's
// 2×TTL timer fired, into the LockDelay, unless the agent keeps to its write deadline.
TEST(AgentSimTest, AtMostOneWithAGiveUpWindowBeyondTwoTtl) {
  int starts = 0;
  for (uint64_t seed = 1000; seed < 1200; ++seed) {
    RunSeed(seed, &starts, RunOptions{.ttl = 10s, .delay = 30s, .give_up = 30s});
    if (HasFailure()) break;
  }
  EXPECT_GT(starts, 200);
}

}  // namespace
}  // namespace nsg::lock
