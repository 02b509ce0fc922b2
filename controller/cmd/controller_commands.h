// `nomad-singleton controller` and `nomad-singleton plan`: the reconcile loop and its one-shot
// preview against a live cluster (ARCHITECTURE.md §4.1). Both return the process exit code.
//
// ControllerMain handles SIGINT/SIGTERM itself (stop taking work, cancel calls in flight, join,
// exit 0). RunController is the same loop without signal handling, stopped through a stop_token,
// for running the controller inside another process (tests, the demo).
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "controller/app/controller.h"

namespace nsg::cmd {

int ControllerMain(const std::vector<std::string>& argv);
int PlanMain(const std::vector<std::string>& argv);

using app::ControllerHooks;  // controller/app/controller.h

// Runs the controller with `argv` (the flags of ControllerMain) until `stop` is requested.
// Returns 0 after a requested stop, 2 for a usage error, 1 when it could not start.
int RunController(const std::vector<std::string>& argv, std::stop_token stop,
                  const ControllerHooks& hooks = {});

}  // namespace nsg::cmd
