// lock::Holder: the port for what a lock agent protects (the "holder" of its lease).
//
// The agent (agent.h) never touches a process or a file: it emits StartHolder / ExtendLease /
// StopHolder / KillHolder, and whoever runs it routes those to a Holder. The lock agent's runtime
// implements it with a child process (shim mode) or a lease file watched by a guard (sidecar and
// split mode); the controller's leader election can implement it with "run the worker side".
// A Holder reports its death back through Agent::OnHolderExited.
//
// Implementations are owned by the thread that runs the agent unless they say otherwise.
#pragma once

#include "controller/lock/agent.h"

namespace nsg::lock {

class Holder {
 public:
  virtual ~Holder() = default;
  // The lock is ours: start the protected work, valid until `lease_until` (agent clock).
  virtual void Start(const Grant& grant, TimePoint lease_until) = 0;
  // A renew succeeded: the lease is valid until `lease_until`.
  virtual void Extend(TimePoint lease_until) = 0;
  // Stop gracefully (forward `signal`, revoke the lease); the agent sends Kill() after the kill
  // timeout if the holder has not died by then.
  virtual void Stop(int signal) = 0;
  // Stop now (SIGKILL; the lease is lost).
  virtual void Kill() = 0;
};

// Carries out `a` on `holder` when it is a holder action; returns false for the other actions
// (lock operations, reads, Exit), which the caller handles.
inline bool ApplyToHolder(const Action& a, Holder& holder) {
  if (auto* s = std::get_if<StartHolder>(&a)) {
    holder.Start(s->grant, s->lease_until);
  } else if (auto* e = std::get_if<ExtendLease>(&a)) {
    holder.Extend(e->lease_until);
  } else if (auto* p = std::get_if<StopHolder>(&a)) {
    holder.Stop(p->signal);
  } else if (std::get_if<KillHolder>(&a)) {
    holder.Kill();
  } else {
    return false;
  }
  return true;
}

}  // namespace nsg::lock
