// The demo program (`nomad-singleton demo` once cmd/ has parsed its flags): the embedded Nomad
// simulator with real processes, the controller as a child process of this binary and real lock
// agents, through a crash failover, a graceful handover and a duplicate, checked for at-most-one
// throughout (demo.cc says how). RunDemo owns the simulator, the controller's process and the
// work directory it creates; it runs on the caller's thread (the simulator adds its own).
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include "controller/base/status.h"
#include "controller/nomad/version.h"

namespace nsg::app {

struct DemoConfig {
  // Where the specs, the workloads' marks and the logs go; nullopt: a new temporary directory,
  // removed at the end unless the demo failed or keep_running.
  std::optional<std::string> work_dir;
  // Leave the simulator and the controller running at the end, until `stop`.
  bool keep_running = false;
  // The Nomad release the simulator behaves as.
  nomad::NomadVersion version = nomad::kDefaultSimVersion;
};

// What the demo asks of `nomad-singleton status` (cmd/status_command.cc), above this layer.
struct DemoHooks {
  // GET /status from the controller at `addr` (HOST:PORT): the document, or the message to print.
  std::function<base::Result<std::string>(const std::string& addr)> fetch_status;
  // Prints the controller's /status at `addr` as a table.
  std::function<void(const std::string& addr)> print_status;
};

// Runs the demo until its last step, or until `stop` is requested: then it stops waiting and
// shuts the simulator (and with it every task process) and the controller down. The caller
// blocks SIGINT and SIGTERM before any thread starts (the controller's process gets them
// unblocked). Returns kExitOk when every step completed with at most one workload per singleton
// at every instant, kExitInvalid otherwise (exit_codes.h).
int RunDemo(const DemoConfig& config, const DemoHooks& hooks, std::stop_token stop);

}  // namespace nsg::app
