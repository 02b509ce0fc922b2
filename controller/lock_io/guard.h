// The guard: the workload-side half of sidecar and split mode (issue 6; docs/lock-agent.md).
//
//   nomad-singleton guard [--lease PATH] [--poll DURATION] [--kill-timeout DURATION] -- CMD ARGS...
//
// It waits until the lock agent's lease file is valid (state held, deadline ahead, this boot),
// then starts CMD in its own process group with NOMAD_SINGLETON_EPOCH set, and kills CMD's group
// as soon as the lease stops allowing it to run: the deadline passes without a renewal, the file
// disappears or becomes invalid, or the agent revokes it (state stopping: TERM, then KILL after the
// lease's kill timeout; state lost: KILL at once). It reports the workload's phase in the
// `workload` file beside the lease, which the agent waits on before it releases the lock. The
// guard exits with CMD's code (128 + signal for a signal death). TERM/INT/QUIT to the guard are
// forwarded (KILL follows after the kill timeout); HUP/USR1/USR2 are forwarded as they are.
//
// Start-up protocol (why the agent may trust "waiting" or a missing file): the guard writes
// "starting" and only then re-reads the lease before it forks; the agent revokes the lease and only
// then reads the workload file. Whichever order the two interleave in, either the agent sees
// starting/running and waits, or the guard sees the revoked lease and does not start.
//
// The guard is also built as a small static executable, `nomad-singleton-guard` (libc and
// libstdc++ only), which the lock agent copies to $NOMAD_ALLOC_DIR/singleton/guard for workloads
// whose image lacks nomad-singleton.
//
// Deadlines are on CLOCK_BOOTTIME. Single-threaded: RunGuard owns the calling thread (which must
// live as long as the process: the workload's parent-death signal is tied to it).
#pragma once

#include <string>
#include <vector>

#include "controller/base/duration.h"
#include "controller/base/status.h"
#include "controller/lock_io/lease_file.h"

namespace nsg::io {

using base::Duration;
using base::Result;
using base::TimePoint;

// Named defaults.
inline constexpr Duration kDefaultGuardPoll = std::chrono::milliseconds(250);  // timing: P
inline constexpr Duration kDefaultGuardKillTimeout = std::chrono::seconds(5);   // Nomad's default

struct GuardOptions {
  std::string lease_path;    // default $NOMAD_ALLOC_DIR/singleton/lease
  std::string state_path;    // the workload file: beside the lease
  Duration poll = kDefaultGuardPoll;
  // TERM → KILL when the lease does not say (no lease yet, or the guard itself is stopped).
  Duration kill_timeout = kDefaultGuardKillTimeout;
  std::vector<std::string> command;
};

// Parses the guard's arguments (after "guard"). `alloc_dir` is $NOMAD_ALLOC_DIR ("" if unset).
// kInvalidSpec with one line for bad usage; a result with an empty command and help=true for -h.
struct GuardArgs {
  GuardOptions options;
  bool help = false;
};
base::Result<GuardArgs> ParseGuardArgs(const std::vector<std::string>& argv,
                                       const std::string& alloc_dir);
std::string GuardUsage();

// Runs the guard until CMD exits (or the guard is stopped before it started CMD); returns the
// exit code. `signal_fd` is a signalfd for TERM/INT/QUIT/HUP/USR1/USR2, already blocked by the
// caller; -1 makes RunGuard block them and create its own.
int RunGuard(const GuardOptions& options, int signal_fd = -1);

// How the guard stops a running workload of `epoch` that `lease` (as read at `now`) no longer
// allows to run: SIGKILL when the agent says the lock is lost, or when `now` is past the instant
// by which the workload had to be dead (the lease deadline plus `kill_timeout`): the guard itself
// was paused (SIGSTOP, a frozen cgroup, a suspended VM) beyond it, so a successor may be running
// already and no grace is left; SIGTERM otherwise (KILL follows after `kill_timeout`). 0 when the
// lease allows the workload to run.
int GuardStopSignal(const Result<Lease>& lease, uint64_t epoch, TimePoint now,
                    Duration kill_timeout);

// `guard` as a command: parse, print usage or one error line, run. Used by both the
// nomad-singleton binary and the static nomad-singleton-guard.
int GuardCommand(const std::vector<std::string>& argv);

// Copies the static guard executable to `dest` (atomically, mode 0755) unless an identical file is
// there. The source is `nomad-singleton-guard` beside `self_exe`, else in PATH.
base::Status InstallGuardBinary(const std::string& self_exe, const std::string& dest);

}  // namespace nsg::io
