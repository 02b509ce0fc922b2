// `nomad-singleton demo`: flags → app::RunDemo (controller/app/demo.h), which runs the embedded
// Nomad simulator, the controller and real lock agents through a crash failover, a graceful
// handover and a duplicate. Here: the flags and usage, the stop signals, and the demo's two calls
// into `status` (status_command.cc) passed in as hooks.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "controller/app/demo.h"
#include "controller/cmd/cli.h"
#include "controller/cmd/commands.h"
#include "controller/nomad/version.h"

namespace nsg::cmd {
namespace {

const std::vector<FlagSpec> kDemoFlags = {
    {"keep-running", false, "",
     "leave the simulator and the controller running at the end, for exploring with "
     "`nomad-singleton status` (Ctrl-C stops them)"},
    {"nomad-version", true, "V",
     "the Nomad release the simulator behaves as: 1.10, 1.11 or 2.0 (default)"},
    {"work-dir", true, "DIR",
     "where the specs, the workloads' marks and the logs go (default: a new temporary "
     "directory, removed at the end unless the demo failed or --keep-running)"},
};

void DemoUsage(std::ostream& out) {
  out << "Usage: nomad-singleton demo [flags]\n\n"
         "Starts the embedded Nomad simulator (5 nodes, ACLs on, tasks as real processes) and\n"
         "the controller on two demo singletons: web (sidecar lock, one hot standby) and worker\n"
         "(shim lock, one hot standby). Their lock agents are this binary; their workloads are\n"
         "shell programs that print their fencing epoch. Once both are Ready it crashes the node\n"
         "of web's holder (failover timeline, downtime against the predicted budget), stops web's\n"
         "holder gracefully (handover), and cuts worker's holder off from the servers (the\n"
         "controller stops the duplicate). Throughout, it checks that no singleton ever runs two\n"
         "workloads. Takes about 90 seconds.\n\n"
         "Exit codes: 0 every step completed with at most one workload each; 1 otherwise.\n\n"
         "Flags:\n";
  PrintFlags(out, kDemoFlags);
}

}  // namespace

int DemoMain(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv, kDemoFlags, std::cerr);
  if (!args) return kExitUsage;
  if (args->Has("help")) {
    DemoUsage(std::cout);
    return kExitOk;
  }
  if (!args->positional.empty()) {
    std::cerr << "demo: unexpected argument " << args->positional[0] << " (see --help)\n";
    return kExitUsage;
  }
  auto version = nomad::NomadVersion::FromProfile(args->Get("nomad-version", "2.0"));
  if (!version.ok()) {
    std::cerr << "demo: --nomad-version: " << version.status().message() << "\n";
    return kExitUsage;
  }
  app::DemoConfig config;
  config.version = version.value();
  config.keep_running = args->Has("keep-running");
  if (args->Has("work-dir")) config.work_dir = args->Get("work-dir");
  app::DemoHooks hooks;
  hooks.fetch_status = [](const std::string& addr) { return FetchControllerStatus(addr); };
  hooks.print_status = [](const std::string& addr) { (void)StatusMain({"--addr", addr}); };
  // The stop signals are blocked before any thread starts and taken by one thread, so that Ctrl-C
  // shuts everything down in order instead of leaving task processes behind. The controller's
  // child process gets them unblocked.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  std::stop_source interrupted;
  std::thread([stop, interrupted]() mutable {
    int sig = 0;
    sigwait(&stop, &sig);
    interrupted.request_stop();
  }).detach();
  return app::RunDemo(config, hooks, interrupted.get_token());
}

}  // namespace nsg::cmd
