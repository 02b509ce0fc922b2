// The lock agent program (`nomad-singleton lock` once cmd/ has parsed its flags and environment):
// the Nomad client over HTTP or the Task API socket, and the io::LockRunner that wires
// lock::Agent to it, to the workload's processes, the lease file and the signals.
#pragma once

#include <signal.h>

#include "controller/lock_io/lock_runner.h"
#include "controller/nomad_client/client_config.h"

namespace nsg::app {

// Runs the lock agent described by `options` against the Nomad cluster `cfg` names until it exits.
// `signals` are the signals the caller blocked before any thread started; the runner reads them
// through a signalfd. Returns the agent's exit code (lock/agent.h), 1 when the transport cannot
// be built, 2 when the options are refused.
int RunLockAgent(io::LockRunnerOptions options, const io::ClientConfig& cfg,
                 const sigset_t& signals);

}  // namespace nsg::app
