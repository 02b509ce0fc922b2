// The lock agent's subcommands (issue 6; docs/lock-agent.md):
//
//   nomad-singleton lock [flags] -- CMD ARGS...        shim: run CMD only while holding the lock
//   nomad-singleton lock --sidecar [flags]             leader task; the workload runs under guard
//   nomad-singleton lock --acquire-only [flags]        split mode's prestart task
//   nomad-singleton lock --heartbeat [flags]           split mode's leader task
//   nomad-singleton guard [--lease PATH] -- CMD ARGS... the workload-side guard
//
// They accept exactly what render::AgentArgs emits (--path --ttl --delay --give-up
// --kill-timeout), plus the Nomad CLI's connection flags and environment. Each returns the
// process exit code.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "controller/base/status.h"
#include "controller/lock_io/lock_runner.h"

namespace nsg::cmd {

int LockMain(const std::vector<std::string>& argv);
int GuardMain(const std::vector<std::string>& argv);

// What `lock` was asked to do, before anything is started. Exposed for tests.
struct LockInvocation {
  io::LockRunnerOptions runner;   // config (timers, path, namespace, items), mode, command, dir
  std::string address;            // --address, or the Task API socket; "" = the environment's
  std::string token;              // --token; "" = NOMAD_TOKEN
  std::string region;             // --region
  bool help = false;
};

// Parses `lock`'s arguments against the environment (`getenv`; `exists` checks for the Task API
// socket). kInvalidSpec with one line on bad usage or a timer that breaks the timer rule.
base::Result<LockInvocation> ParseLockArgs(
    const std::vector<std::string>& argv, const std::function<const char*(const char*)>& getenv,
    const std::function<bool(const std::string&)>& exists);

// `lock --help`.
std::string LockUsage();

}  // namespace nsg::cmd
