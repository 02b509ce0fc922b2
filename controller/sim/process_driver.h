// ProcessDriver: a raw_exec-like task driver for the simulator that runs real local processes.
//
// Task.Config is {"command": "/path/or/name", "args": ["..."]} (raw_exec's keys). For every task
// start the driver creates the task's directory tree (NOMAD_ALLOC_DIR, <task>/local,
// <task>/secrets, alloc/logs), then fork/execs the command with exactly the TaskSpec's
// environment (plus PATH if the spec has none), working directory <alloc_root>/<alloc>/<task>,
// stdout/stderr appended to alloc/logs/<task>.stdout.0 / .stderr.0, in its own process group.
// A failed exec is a start error ("Driver Failure"). Signal() signals the process group;
// Kill() SIGKILLs the group and reaps the leader; when the leader exits on its own, the rest of
// its group is SIGKILLed too (Nomad's executor destroys the task's processes).
//
// Exits are noticed by polling waitpid every `poll_interval` of the node's client clock, so a
// process's exit reaches the model only as virtual time advances. A test or a real-time loop calls
// WaitForActivity() to block (with a real deadline, no sleeping) until some child has exited, then
// advances virtual time by at least `poll_interval`.
//
// This is the one part of controller/sim that does I/O; it lives in its own target
// (nsg_sim_process). Ownership: the driver owns the bookkeeping of its processes; programs it
// creates share that bookkeeping, so they may outlive the driver object. The destructor kills every
// process group still running. Not thread-safe: use it on the model's thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/sim/programs.h"

namespace nsg::sim {

struct ProcessDriverOptions {
  Duration poll_interval = std::chrono::milliseconds(50);
  std::string default_path = "/usr/local/bin:/usr/bin:/bin";
};

class ProcessDriver {
 public:
  explicit ProcessDriver(ProcessDriverOptions opts = {});
  ~ProcessDriver();
  ProcessDriver(const ProcessDriver&) = delete;
  ProcessDriver& operator=(const ProcessDriver&) = delete;

  // Maps each driver name to this driver in `registry` (default: raw_exec and exec).
  void RegisterWith(ProgramRegistry& registry,
                    const std::vector<std::string>& drivers = {"raw_exec", "exec"});
  std::unique_ptr<TaskProgram> Create(const TaskSpec& spec);

  // Blocks until a running child has exited (and is waiting to be reaped) or `timeout` of real
  // time passes. Returns true if one has exited. Returns false at once if none is running.
  bool WaitForActivity(std::chrono::milliseconds timeout);
  // The pid (= process group id) of the running process of (alloc, task), if any.
  std::optional<pid_t> PidOf(const std::string& alloc_id, const std::string& task) const;
  size_t RunningCount() const;

  struct State;  // shared with the programs; defined in process_driver.cc

 private:
  const ProcessDriverOptions opts_;
  std::shared_ptr<State> state_;
};

}  // namespace nsg::sim
