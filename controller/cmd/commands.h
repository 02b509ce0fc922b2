// The subcommands of the nomad-singleton binary. Each takes its arguments (after the subcommand
// name) and returns the process exit code (cli.h). They write results to stdout and diagnostics to
// stderr.
#pragma once

#include <string>
#include <vector>

#include "controller/app/build_info.h"
#include "controller/base/status.h"

namespace nsg::cmd {

int ValidateMain(const std::vector<std::string>& argv);
int RenderMain(const std::vector<std::string>& argv);
int VersionMain(const std::vector<std::string>& argv);
int SimMain(const std::vector<std::string>& argv);
// `status`: a running controller's /status as a table (status_command.cc).
int StatusMain(const std::vector<std::string>& argv);
// GET /status from the controller at `addr` (HOST:PORT or a URL), with `token` as the bearer
// token when not empty; on failure the message to print.
base::Result<std::string> FetchControllerStatus(const std::string& addr,
                                                const std::string& token = "");
// `demo`: the simulator, the controller and real lock agents, with a crash failover, a graceful
// handover and a duplicate, checked for at-most-one throughout (demo_command.cc: the flags; the
// program is app::RunDemo, controller/app/demo.h).
int DemoMain(const std::vector<std::string>& argv);
// `simulate`: the deterministic fault simulation (simulate_command.cc, docs/failover.md).
int SimulateMain(const std::vector<std::string>& argv);

// The build's identity (controller/app/build_info.h).
using app::BuildRevision;
using app::BuildVersion;
using app::VersionString;

}  // namespace nsg::cmd
