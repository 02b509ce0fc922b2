#include "controller/app/lock_agent.h"

#include <sys/signalfd.h>

#include <iostream>
#include <utility>

#include "controller/app/build_info.h"
#include "controller/app/exit_codes.h"
#include "controller/base/clock.h"
#include "controller/base/duration.h"
#include "controller/lock/agent.h"
#include "controller/lock_io/lease_file.h"
#include "controller/nomad_client/http_nomad_api.h"
#include "controller/nomad_client/http_transport.h"
#include "controller/nomad_client/retry.h"
#include "controller/timing/budget.h"

namespace nsg::app {

int RunLockAgent(io::LockRunnerOptions o, const io::ClientConfig& cfg, const sigset_t& set) {
  auto transport = io::MakeTransport(cfg);
  if (!transport.ok()) {
    std::cerr << "nomad-singleton lock: " << transport.status().message() << "\n";
    return lock::kExitFailed;
  }
  base::SystemClock system_clock;
  io::RealSleeper sleeper;
  io::HttpNomadApi::Options api_options;
  // Retries inside the client stay well within a renew interval; the agent's own backoff and
  // give-up window do the rest.
  api_options.max_attempts = 3;
  api_options.max_retry_elapsed = timing::RenewInterval(o.config.ttl);
  io::HttpNomadApi api(**transport, cfg, system_clock, sleeper, api_options);

  o.signal_fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  o.log = io::DefaultLockLog();
  o.log(cfg.Describe() + "; lock " + o.config.path + " ttl " +
        base::FormatDuration(o.config.ttl) + " delay " + base::FormatDuration(o.config.delay) +
        " give-up " + base::FormatDuration(o.config.give_up) + " kill-timeout " +
        base::FormatDuration(o.config.kill_timeout) + " (" + VersionString() + ")");
  io::BootClock boot_clock;  // lease deadlines are shared with the guard on CLOCK_BOOTTIME
  auto runner = io::LockRunner::Create(std::move(o), api, boot_clock);
  if (!runner.ok()) {
    std::cerr << "nomad-singleton lock: " << runner.status().message() << "\n";
    return kExitUsage;
  }
  const int code = (*runner)->Run();
  api.Shutdown();  // a call still in flight returns kCancelled, so the workers can be joined
  return code;
}

}  // namespace nsg::app
