#include "controller/timing/budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace nsg::timing {
namespace {

using base::FormatDuration;
using base::ToSeconds;

Duration Scale(Duration d, double f) {
  return Duration(static_cast<int64_t>(std::ceil(static_cast<double>(d.count()) * f)));
}

// Rounds up to whole seconds (suggestions are written in specs by people).
Duration CeilSeconds(Duration d) {
  int64_t s = (d.count() + 999999999) / 1000000000;
  return std::chrono::seconds(std::max<int64_t>(s, 0));
}
Duration FloorSeconds(Duration d) {
  return std::chrono::seconds(std::max<int64_t>(d.count() / 1000000000, 0));
}

std::string Secs(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", ToSeconds(d));
  return buf;
}

}  // namespace

Timers TimersOf(const spec::Singleton& s, const Assumptions& a) {
  Timers t;
  t.ttl = nomad::EffectiveLockTtl(s.spec.lock.ttl);
  t.delay = nomad::EffectiveLockDelay(s.spec.lock.delay);
  t.give_up = s.GiveUp();
  t.kill_timeout = s.KillTimeout();
  t.stop_on_client_after = s.spec.failover.stop_on_client_after;
  // Every lock-agent task (and the shim-wrapped workload) gets K + kAgentKillGrace; a template's
  // other tasks keep their own.
  t.group_kill_timeout = nomad::LargestKillTimeout(
      {t.kill_timeout + kAgentKillGrace, s.template_max_kill_timeout});
  t.guard_poll = a.guard_poll;  // every mode runs the workload under a guard (shim: our child)
  t.standby = s.spec.standby;
  return t;
}

Budget Compute(const Timers& t, const Assumptions& a) {
  Budget b;
  const double eps = a.clock_rate_error;
  // The server side rounds down and the holder side up: both err towards "unsafe".
  b.server_hold = Duration(static_cast<int64_t>(
      std::floor(static_cast<double>((2 * t.ttl + t.delay).count()) * (1.0 - eps))));
  b.kill_deadline = Scale(t.give_up + t.guard_poll + t.kill_timeout, 1.0 + eps) + a.margin;
  b.worst_case_overlap = b.kill_deadline - b.server_hold;

  // A holder that crashes right after a renew keeps its lock for the full 2T + D (server clock).
  const Duration lock_free = Scale(2 * t.ttl + t.delay, 1.0 + eps);
  if (t.standby > 0) {
    b.crash_failover = lock_free + a.acquire_latency;
  } else {
    // The replacement is placed after node-down detection + stop_on_client_after + the group's
    // largest kill timeout (Allocation.WaitClientStop), and can run only once the old lock is free.
    const Duration placed =
        a.heartbeat_detection + t.stop_on_client_after +
        nomad::LargestKillTimeout({t.kill_timeout, t.group_kill_timeout}) + a.placement;
    b.crash_failover = std::max(placed, lock_free) + a.acquire_latency;
  }
  // Graceful: the holder stops its workload (≤ K) and releases; a standby acquires at once, without
  // one Nomad places the replacement first.
  b.graceful_handover = t.kill_timeout + a.acquire_latency + (t.standby > 0 ? Duration(0) : a.placement);
  return b;
}

std::vector<std::string> Suggestions(const Timers& t, const Assumptions& a) {
  std::vector<std::string> out;
  const Budget b = Compute(t, a);
  if (b.safe()) return out;
  const double eps = a.clock_rate_error;
  // Largest G that satisfies the rule.
  const Duration g_max =
      Scale(b.server_hold - a.margin, 1.0 / (1.0 + eps)) - t.guard_poll - t.kill_timeout -
      Duration(1);
  // Smallest D and T that satisfy it.
  const Duration need = Scale(b.kill_deadline, 1.0 / (1.0 - eps));
  const Duration d_min = need - 2 * t.ttl;
  const Duration t_min = (need - t.delay + Duration(1)) / 2;
  if (g_max >= RenewInterval(t.ttl) * 2) {
    out.push_back("lower failover.giveUp to " + FormatDuration(FloorSeconds(g_max)) +
                  " or less");
  }
  // A lock delay or TTL beyond a day would keep a singleton down that long after each crash:
  // no sensible fix, so not suggested (the kill timeout or give-up window is then the one to cut).
  if (d_min <= std::chrono::hours(24)) {
    out.push_back("raise lock.delay to " + FormatDuration(CeilSeconds(d_min)) + " or more");
  }
  if (t_min <= std::chrono::hours(24)) {
    out.push_back("raise lock.ttl to " + FormatDuration(CeilSeconds(t_min)) + " or more");
  }
  const Duration k_max = Scale(b.server_hold - a.margin, 1.0 / (1.0 + eps)) - t.guard_poll -
                         t.give_up - Duration(1);
  if (k_max > Duration(0)) {
    out.push_back("lower the workload's kill timeout to " + FormatDuration(FloorSeconds(k_max)) +
                  " or less");
  }
  return out;
}

void CheckTimerRule(const spec::Singleton& s, std::vector<spec::Diagnostic>& out) {
  const Assumptions a;
  const Timers t = TimersOf(s, a);
  const Duration min_give_up = RenewInterval(t.ttl) * 2;
  if (t.give_up < min_give_up) {
    out.push_back({s.PositionOf("spec.failover.giveUp"), "spec.failover.giveUp",
                   "give-up window " + FormatDuration(t.give_up) +
                       " leaves less than two renew intervals (renewals every TTL/3 = " +
                       FormatDuration(RenewInterval(t.ttl)) + "); use at least " +
                       FormatDuration(CeilSeconds(min_give_up))});
  }
  const Budget b = Compute(t, a);
  if (b.safe()) return;
  std::string fix;
  for (const std::string& sgg : Suggestions(t, a)) fix += (fix.empty() ? "" : ", or ") + sgg;
  const char* field = s.spec.failover.give_up ? "spec.failover.giveUp" : "spec.lock.ttl";
  out.push_back({s.PositionOf(field), field,
                 "timer rule broken: the workload may still run " + Secs(b.worst_case_overlap) +
                     " after the server frees the lock (giveUp " + FormatDuration(t.give_up) +
                     (t.guard_poll.count() ? " + guard poll " + FormatDuration(t.guard_poll) : "") +
                     " + killTimeout " + FormatDuration(t.kill_timeout) +
                     " must end before 2×ttl + delay = " +
                     FormatDuration(2 * t.ttl + t.delay) + " with 1% clock error and 1s margin)" +
                     (fix.empty() ? "" : "; " + fix)});
}

std::vector<std::string> Explain(const spec::Singleton& s, const Assumptions& a) {
  const Timers t = TimersOf(s, a);
  const Budget b = Compute(t, a);
  std::vector<std::string> lines;
  lines.push_back("lock " + s.spec.lock.path + ": ttl " + FormatDuration(t.ttl) + ", delay " +
                  FormatDuration(t.delay) + ", renewed every " +
                  FormatDuration(std::chrono::round<std::chrono::milliseconds>(
                      RenewInterval(t.ttl))) +
                  "; the server frees a dead holder's lock " +
                  FormatDuration(2 * t.ttl + t.delay) + " after its last renew");
  lines.push_back("the agent kills the workload " + FormatDuration(t.give_up) +
                  " after the last successful renew" +
                  (t.guard_poll.count() ? " (guard notices within " +
                                              FormatDuration(t.guard_poll) + ")"
                                        : "") +
                  "; it is dead " + FormatDuration(t.kill_timeout) + " later");
  lines.push_back(std::string("worst-case overlap: ") + Secs(b.worst_case_overlap) +
                  (b.safe() ? " (safe: the old instance is dead " +
                                  Secs(-b.worst_case_overlap) + " before the lock can move)"
                            : " (UNSAFE)"));
  lines.push_back("worst-case downtime after a crash or partition: " + Secs(b.crash_failover) +
                  (t.standby > 0 ? " (hot standby: 2×ttl + delay + acquire)"
                                 : " (no standby: node-down detection + stopOnClientAfter " +
                                       FormatDuration(t.stop_on_client_after) +
                                       " + the group's largest kill timeout " +
                                       FormatDuration(nomad::LargestKillTimeout(
                                           {t.kill_timeout, t.group_kill_timeout})) +
                                       " + placement, or the lock, whichever is later)"));
  lines.push_back("worst-case downtime on graceful handover (drain, update, stop): " +
                  Secs(b.graceful_handover));
  return lines;
}

}  // namespace nsg::timing
