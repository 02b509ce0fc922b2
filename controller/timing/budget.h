// The timer rule and the failover budget (ARCHITECTURE.md §3).
//
// Facts (nomad-api.md §2.8, §7): after the last successful renew the server keeps a lock for 2×TTL,
// then waits LockDelay before clearing it; only then can anyone else acquire. The lock agent kills
// the workload when no renew has succeeded for the give-up window G (measured from the send time of
// the last successful renew), and the workload is dead K (kill timeout) later. In every mode (shim
// mode runs its command under a guard too) the guard notices an expired lease up to one poll
// interval late.
//
//   safety:   (G + P + K) × (1 + ε) + margin  ≤  (2T + D) × (1 − ε)
//
// ε bounds clock-rate error (the holder's clock may run slow while the server's runs fast). The
// difference of the two sides is the worst-case overlap; it must be ≤ 0.
//
// Pure functions; safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "controller/base/duration.h"
#include "controller/nomad/limits.h"
#include "controller/spec/loader.h"
#include "controller/spec/singleton.h"

namespace nsg::timing {

using base::Duration;
using namespace std::chrono_literals;

// What the rule assumes about the world. Defaults are named and documented in docs/timing.md.
struct Assumptions {
  double clock_rate_error = 0.01;     // ε: 1% relative rate error between any two clocks
  Duration margin = 1s;               // scheduling and signal-delivery slack
  Duration guard_poll = 250ms;        // P: how often the guard checks the lease (every mode)
  Duration heartbeat_detection = 30s; // server marks a silent node down: ttl 10s + stagger + grace
  Duration placement = 1s;            // evaluation + placement + task start of a replacement
  Duration acquire_latency = 500ms;   // a standby's blocking query wakes and acquires
};

// The inputs of the rule, taken from a Singleton (or written directly by tests and the agent).
// A lock agent needs this long beyond the workload's kill timeout to stop it and release the lock
// before Nomad force-kills the agent: the renderer gives every task that runs an agent a kill
// timeout of K + this.
inline constexpr Duration kAgentKillGrace = 5s;

struct Timers {
  Duration ttl{0};                   // T
  Duration delay{0};                 // D, as the server applies it (nomad::EffectiveLockDelay)
  Duration give_up{0};               // G
  Duration kill_timeout{0};          // K
  Duration stop_on_client_after{0};
  // The largest kill timeout of any task in the rendered group: after stop_on_client_after the
  // server waits this long (at least Nomad's 5s default) before it places a replacement
  // (nomad::WaitClientStopKillTimeout). 0: only K is known.
  Duration group_kill_timeout{0};
  Duration guard_poll{0};            // P: the guard's poll (every mode; shim runs one too)
  int standby = 0;
};

Timers TimersOf(const spec::Singleton& s, const Assumptions& a = {});

// The renew interval the agent uses: T/3, so two renewals can fail before the lease is at risk.
inline Duration RenewInterval(Duration ttl) { return ttl / 3; }

struct Budget {
  Duration server_hold{0};        // 2T + D after the last renew, as seen by a fast server: ×(1−ε)
  Duration kill_deadline{0};      // (G + P + K) on a slow holder clock, ×(1+ε), + margin
  Duration worst_case_overlap{0}; // kill_deadline − server_hold; safe when ≤ 0
  Duration crash_failover{0};     // worst-case time without a holder after a crash/partition
  Duration graceful_handover{0};  // worst-case time without a holder after drain/update/stop
  bool safe() const { return worst_case_overlap <= Duration(0); }
};

Budget Compute(const Timers& t, const Assumptions& a = {});

// A human-readable fix: which timer to change and to what (empty when safe).
std::vector<std::string> Suggestions(const Timers& t, const Assumptions& a = {});

// The spec::SpecCheck for the loader: rejects a singleton whose worst-case overlap is > 0, or whose
// give-up window leaves less than two renew intervals, with a diagnostic at the offending field
// that says which timer to change and to what.
void CheckTimerRule(const spec::Singleton& s, std::vector<spec::Diagnostic>& out);

// The budget in plain words, one line per item (for `render --explain` and `plan`).
std::vector<std::string> Explain(const spec::Singleton& s, const Assumptions& a = {});

}  // namespace nsg::timing
