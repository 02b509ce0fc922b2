// Process supervision for the lock agent (shim mode) and the guard: fork/exec of the protected
// workload in its own process group, with a parent-death signal, group-wide signalling and
// exit-status decoding (issue 6).
//
// * The child runs in a new process group (its pgid is its pid), so TERM/KILL reach everything it
//   forked that stayed in the group, and a terminal's signals reach only the agent, which forwards.
// * PR_SET_PDEATHSIG(SIGKILL): if the supervising process is SIGKILLed, the kernel kills the child
//   at once. The signal fires when the *thread* that forked exits, so spawn only from a thread that
//   lives as long as the process (the runner's and the guard's event-loop thread). Grandchildren
//   that left the group are not covered; Nomad's driver (cgroup/container) reaps those.
// * The child starts with an empty signal mask and default dispositions, whatever the parent
//   blocked for its signalfd.
// * Exit is observed through a pidfd (pollable) when the kernel has pidfd_open (5.3+), else by
//   polling TryReap(). Exit codes: the code for a normal exit, 128 + signal for a signal death
//   (the shell convention Nomad users expect).
//
// A ChildProcess is owned by one thread (not synchronized). Destroying one that still runs
// SIGKILLs its group and reaps it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/base/status.h"

namespace nsg::io {

using base::Result;
using base::Status;

struct ProcessSpec {
  std::vector<std::string> argv;        // argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> extra_env;   // "KEY=VALUE", added to (and overriding) our environment
  std::vector<std::string> unset_env;   // names removed from our environment (before extra_env)
  bool die_with_parent = true;          // PR_SET_PDEATHSIG(SIGKILL)
  bool new_process_group = true;
};

// 128 + signal for a signal death, else the exit code (as a shell reports it).
int ExitCodeFromWaitStatus(int wait_status);

// Looks `name` up in $PATH (or returns it when it contains '/'). kNotFound when nothing executable
// matches.
Result<std::string> FindExecutable(const std::string& name);

class ChildProcess {
 public:
  // Starts the process. kNotFound when the executable does not exist, kPermissionDenied when it
  // cannot be executed, kUnavailable for other failures (fork, pipe). A failed exec is reported
  // here, not as an exit code.
  static Result<std::unique_ptr<ChildProcess>> Spawn(const ProcessSpec& spec);

  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Readable once the child has exited (-1 when pidfds are unavailable: poll TryReap instead).
  int wait_fd() const { return pidfd_; }

  // Sends `sig` to the child's process group (or the child alone without one). Succeeds when the
  // group is already gone.
  Status SignalGroup(int sig);
  // Reaps the child if it has exited (non-blocking). Returns its exit code once it has; after the
  // child is reaped, SIGKILLs whatever is left of its group, so "exited" means the whole group.
  std::optional<int> TryReap();
  bool exited() const { return exit_code_.has_value(); }

 private:
  ChildProcess(pid_t pid, int pidfd, bool group) : pid_(pid), pidfd_(pidfd), group_(group) {}

  pid_t pid_;
  int pidfd_;
  bool group_;
  std::optional<int> exit_code_;
};

// When this process is PID 1 (the entrypoint of a container), orphaned processes are re-parented
// to it and must be reaped here or they stay zombies. Reaps every exited child except `keep`
// (whose status its ChildProcess collects). Does nothing when this process is not PID 1.
void ReapOrphansIfInit(pid_t keep);

// Blocks until `pid` (any process, not only a child) has exited or `timeout` passes, using a
// pidfd. Returns true when it exited. For tests and the stop path of the CLI.
bool WaitForExit(pid_t pid, int timeout_ms);

}  // namespace nsg::io
