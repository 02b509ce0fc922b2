// `nomad-singleton sim`: the embedded Nomad API simulator over real HTTP, with raw_exec/exec tasks
// run as real local processes. For trying nomad-singleton without a Nomad cluster, and as the test
// bed of the demo. The control API under /v1/sim/ is documented in docs/simulator.md.
#include <climits>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <pthread.h>
#include <unistd.h>

#include "controller/base/duration.h"
#include "controller/cmd/cli.h"
#include "controller/cmd/commands.h"
#include "controller/sim/http_frontend.h"
#include "controller/sim/process_driver.h"

namespace nsg::cmd {
namespace {

const std::vector<FlagSpec> kSimFlags = {
    {"listen", true, "ADDR", "address to listen on (default 127.0.0.1:4646; port 0 picks one)"},
    {"nodes", true, "N", "ready client nodes to start with (default 3)"},
    {"seed", true, "S", "seed of the model's randomness (default 1): same seed, same history"},
    {"nomad-version", true, "V",
     "the Nomad release to behave as: profile 1.10 (=1.10.5), 1.11 (=1.11.3) or 2.0 (=2.0.5, "
     "default), or a full version such as 1.10.2 (docs/simulator.md)"},
    {"time-scale", true, "X", "virtual seconds per wall second (default 1)"},
    {"acl", false, "", "enable ACLs (the management token is printed on the second line)"},
    {"heartbeat-grace", true, "D",
     "the server's heartbeat_grace: how long past its heartbeat TTL a silent node is declared "
     "down (default 10s, as Nomad's)"},
    {"alloc-dir", true, "DIR", "where allocation directories go (default a new temp dir)"},
    {"no-processes", false, "",
     "do not run raw_exec/exec tasks as real processes (they run as dummies until killed)"},
};

void SimUsage(std::ostream& out) {
  out << "Usage: nomad-singleton sim [flags]\n\n"
         "Runs the embedded Nomad API simulator: one server with virtual time, N client nodes,\n"
         "jobs, allocations, variables and locks, ACLs and the event stream, served over HTTP.\n"
         "raw_exec and exec tasks run as real local processes (NOMAD_ADDR points back here,\n"
         "NOMAD_TOKEN is the allocation's workload token). Faults are injected through the\n"
         "control API under /v1/sim/ (docs/simulator.md).\n\n"
         "The first line of stdout is the bound address (http://127.0.0.1:PORT). Runs until\n"
         "SIGINT or SIGTERM.\n\nFlags:\n";
  PrintFlags(out, kSimFlags);
}

bool ParseInt(const std::string& s, long lo, long hi, long* out) {
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

int SimMain(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv, kSimFlags, std::cerr);
  if (!args) return kExitUsage;
  if (args->Has("help")) {
    SimUsage(std::cout);
    return kExitOk;
  }
  if (!args->positional.empty()) {
    std::cerr << "sim: unexpected argument " << args->positional[0] << " (see --help)\n";
    return kExitUsage;
  }
  sim::SimServer::Options opts;
  const std::string listen = args->Get("listen", "127.0.0.1:4646");
  const auto colon = listen.rfind(':');
  long port = 0, nodes = 3, seed = 1;
  if (colon == std::string::npos || !ParseInt(listen.substr(colon + 1), 0, 65535, &port)) {
    std::cerr << "sim: --listen must be HOST:PORT, got \"" << listen << "\"\n";
    return kExitUsage;
  }
  opts.http.host = listen.substr(0, colon);
  opts.http.port = static_cast<uint16_t>(port);
  if (!ParseInt(args->Get("nodes", "3"), 0, 1000, &nodes)) {
    std::cerr << "sim: --nodes must be a number from 0 to 1000\n";
    return kExitUsage;
  }
  if (!ParseInt(args->Get("seed", "1"), 0, LONG_MAX, &seed)) {
    std::cerr << "sim: --seed must be a non-negative number\n";
    return kExitUsage;
  }
  char* end = nullptr;
  const std::string scale = args->Get("time-scale", "1");
  opts.http.time_scale = std::strtod(scale.c_str(), &end);
  if (*end != '\0' || !(opts.http.time_scale > 0 && opts.http.time_scale <= 1000)) {
    std::cerr << "sim: --time-scale must be a number in (0, 1000]\n";
    return kExitUsage;
  }
  auto version = nomad::NomadVersion::FromProfile(args->Get("nomad-version", "2.0"));
  if (!version.ok()) {
    std::cerr << "sim: --nomad-version: " << version.status().message() << "\n";
    return kExitUsage;
  }
  opts.core.version = version.value();
  opts.nodes = static_cast<int>(nodes);
  opts.core.seed = static_cast<uint64_t>(seed);
  opts.acl.enabled = args->Has("acl");
  if (args->Has("heartbeat-grace")) {
    auto grace = base::ParseDuration(args->Get("heartbeat-grace"));
    if (!grace.ok() || *grace < base::Duration(0)) {
      std::cerr << "sim: --heartbeat-grace must be a duration such as 30s\n";
      return kExitUsage;
    }
    opts.cluster.heartbeat_grace = *grace;
  }
  std::string alloc_dir = args->Get("alloc-dir");
  if (alloc_dir.empty()) {
    alloc_dir = (std::filesystem::temp_directory_path() /
                 ("nomad-singleton-sim-" + std::to_string(::getpid())))
                    .string();
  }
  opts.cluster.alloc_root = alloc_dir;

  // Block the stop signals before any thread starts, so only sigwait() below receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  sim::ProcessDriver driver;
  sim::ProgramRegistry programs = sim::ProgramRegistry::WithDefaults();
  if (!args->Has("no-processes")) driver.RegisterWith(programs);
  sim::SimServer server(opts, programs);
  if (base::Status st = server.Start(); !st.ok()) {
    std::cerr << "sim: " << st.message() << "\n";
    return kExitInvalid;
  }
  std::cout << server.Address() << "\n";
  if (opts.acl.enabled) std::cout << "management token: " << opts.acl.management_secret << "\n";
  std::cout << "nomad " << opts.core.version.ToString() << ", nodes: " << nodes << ", seed: " << seed << ", time scale: " << scale
            << ", allocations in " << alloc_dir << "\n"
            << std::flush;
  int sig = 0;
  sigwait(&stop, &sig);
  std::cerr << "sim: stopping (signal " << sig << ")\n";
  server.Stop();
  return kExitOk;
}

}  // namespace nsg::cmd
