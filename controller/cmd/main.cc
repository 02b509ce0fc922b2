// nomad-singleton: one binary, many subcommands (ARCHITECTURE.md §4.1).
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "controller/cmd/cli.h"
#include "controller/cmd/commands.h"
#include "controller/cmd/controller_commands.h"
#include "controller/cmd/lock_commands.h"

namespace {

using nsg::cmd::Command;

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"demo", "see it work: the simulator, the controller and real lock agents through a crash "
               "failover, a graceful handover and a duplicate (about 90 s)",
       nsg::cmd::DemoMain},
      {"validate", "check Singleton specs (files or directories) and report every error",
       nsg::cmd::ValidateMain},
      {"render", "print the Nomad job and ACL policy each spec renders to (offline)",
       nsg::cmd::RenderMain},
      {"controller", "reconcile a directory of Singleton specs with Nomad (--specs DIR)",
       nsg::cmd::ControllerMain},
      {"plan", "show what the controller would change for these specs (live cluster; exit 2 = "
               "changes)",
       nsg::cmd::PlanMain},
      {"status", "show a running controller's singletons: holder, allocations, conditions "
                 "(exit 2 = not all Ready)",
       nsg::cmd::StatusMain},
      {"lock", "lock agent: run a command only while holding a Nomad variable lock (shim), or "
               "hold the lock for a guarded workload task (--sidecar, --acquire-only, --heartbeat)",
       nsg::cmd::LockMain},
      {"guard", "run a command only while the lock task's lease is valid (sidecar/split workload)",
       nsg::cmd::GuardMain},
      {"sim", "run the embedded Nomad API simulator (HTTP, virtual time, fault injection)",
       nsg::cmd::SimMain},
      {"simulate", "prove at-most-one under seeded crashes and partitions (deterministic fault "
                   "simulation; also checks your own specs' timers)",
       nsg::cmd::SimulateMain},
      {"version", "print the version and build information", nsg::cmd::VersionMain},
  };
  return kCommands;
}

void Usage(std::ostream& out) {
  out << "nomad-singleton: at most one running instance of a Nomad workload, from declarative\n"
         "Singleton specs kept in git.\n\n"
         "Usage: nomad-singleton COMMAND [flags] [args]\n\nCommands:\n";
  for (const auto& c : Commands()) {
    out << "  " << c.name << std::string(12 - c.name.size(), ' ') << c.summary << "\n";
  }
  out << "\nRun 'nomad-singleton COMMAND --help' for a command's flags.\n";
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that closes a connection must cost an error on that write, not the process (cpprest's
  // TLS writes raise SIGPIPE otherwise).
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    Usage(std::cerr);
    return nsg::cmd::kExitUsage;
  }
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    Usage(std::cout);
    return nsg::cmd::kExitOk;
  }
  if (args[0] == "--version") return nsg::cmd::VersionMain({});
  for (const auto& c : Commands()) {
    if (c.name == args[0]) return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::cerr << "nomad-singleton: unknown command \"" << args[0] << "\" (see --help)\n";
  return nsg::cmd::kExitUsage;
}
