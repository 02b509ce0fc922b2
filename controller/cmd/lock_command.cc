// `nomad-singleton lock`: flags and environment → app::RunLockAgent (controller/app/lock_agent.h),
// which runs io::LockRunner over HttpNomadApi.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "controller/app/lock_agent.h"
#include "controller/base/clock.h"
#include "controller/cmd/cli.h"
#include "controller/cmd/commands.h"
#include "controller/cmd/lock_commands.h"
#include "controller/lock_io/guard.h"
#include "controller/lock_io/lease_file.h"
#include "controller/nomad_client/client_config.h"
#include "controller/nomad_client/http_transport.h"
#include "controller/timing/budget.h"

namespace nsg::cmd {
namespace {

using base::Duration;
using base::Result;
using base::Status;
using namespace std::chrono_literals;

// Named defaults (the API's, nomad-api.md §2.3; Nomad's kill timeout).
constexpr Duration kDefaultTtl = 15s;
constexpr Duration kDefaultDelay = 15s;
constexpr Duration kDefaultKillTimeout = 5s;
// A lock call must not hold the single lock-operation worker longer than a renew interval.
constexpr Duration kMaxRequestTimeout = 30s;
// The largest Nomad answer the agent accepts. A lock variable's answer is a few KiB (Nomad caps
// a variable's items at 64 KiB); the cap keeps a broken or hostile server from pushing the agent
// past its task's memory limit (32 MB in the rendered job).
constexpr size_t kMaxResponseBytes = 1024 * 1024;

const std::vector<FlagSpec>& Flags() {
  static const std::vector<FlagSpec> kFlags = {
      {"path", true, "PATH", "the lock variable (required; a dedicated one: acquire overwrites "
                             "its Items)"},
      {"ttl", true, "DURATION", "lock TTL T (default 15s; Nomad allows 10s-24h)"},
      {"delay", true, "DURATION", "lock delay D (default 15s)"},
      {"give-up", true, "DURATION",
       "give-up window G: kill the workload when no renew succeeded for G (default: the TTL)"},
      {"kill-timeout", true, "DURATION",
       "K: TERM → KILL for the workload; must match the workload task's kill_timeout (default 5s)"},
      {"sidecar", false, "", "run as the leader task; the workload runs under `guard`"},
      {"acquire-only", false, "", "split mode's prestart task: exit 0 once the lock is held"},
      {"heartbeat", false, "", "split mode's leader task: keep the lock the prestart task took"},
      {"install-guard", false, "",
       "sidecar mode's prestart task: put the guard into the state directory and exit 0 (the "
       "workload task starts only after the lock task runs, which would race the copy)"},
      {"dir", true, "DIR", "state directory (default $NOMAD_ALLOC_DIR/singleton)"},
      {"address", true, "ADDR", "Nomad address (default: the Task API socket, else NOMAD_ADDR)"},
      {"token", true, "TOKEN",
       "ACL token (default NOMAD_TOKEN; prefer the environment: an argument is visible in `ps`)"},
      {"namespace", true, "NS", "namespace of the lock (default NOMAD_NAMESPACE, else default)"},
      {"region", true, "REGION", "region (default NOMAD_REGION)"},
      {"verbose", false, "", "log every renew and read"},
  };
  return kFlags;
}

Result<Duration> DurationFlag(const Args& a, const std::string& name, Duration def) {
  if (!a.Has(name)) return def;
  auto d = base::ParseDuration(a.Get(name));
  if (!d.ok()) return Status::InvalidSpec("--" + name + ": " + d.status().message());
  return *d;
}

std::string Env(const std::function<const char*(const char*)>& getenv, const char* key) {
  const char* v = getenv(key);
  return v ? v : "";
}

std::string SelfExe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  return buf;
}

}  // namespace

std::string LockUsage() {
  std::string out =
      "Usage:\n"
      "  nomad-singleton lock [flags] -- CMD [ARGS...]   shim: run CMD only while holding the lock\n"
      "  nomad-singleton lock --sidecar [flags]          leader task; the workload runs under guard\n"
      "  nomad-singleton lock --acquire-only [flags]     split mode: prestart task\n"
      "  nomad-singleton lock --heartbeat [flags]        split mode: leader task\n\n"
      "Holds a Nomad Variable lock and keeps the workload running only while the lock is surely\n"
      "held: renews every TTL/3, kills the workload when no renew succeeded for the give-up window\n"
      "or at once when the lock is lost, and on SIGTERM stops the workload before releasing the\n"
      "lock. Exit codes: the workload's after a stop or its own exit; 1 error; 2 usage; 3 lock\n"
      "lost; 4 gave up; 5 the workload's death was not confirmed (lock not released).\n"
      "Connection: NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE, NOMAD_REGION, NOMAD_CACERT, ... as the\n"
      "Nomad CLI; inside a task the Task API socket ($NOMAD_SECRETS_DIR/api.sock) is preferred.\n\n"
      "Flags:\n";
  std::ostringstream flags;
  PrintFlags(flags, Flags());
  return out + flags.str();
}

Result<LockInvocation> ParseLockArgs(const std::vector<std::string>& argv,
                                     const std::function<const char*(const char*)>& getenv,
                                     const std::function<bool(const std::string&)>& exists) {
  std::ostringstream err;
  auto parsed = ParseArgs(argv, Flags(), err);
  if (!parsed) {
    std::string msg = err.str();
    if (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Status::InvalidSpec(msg);
  }
  const Args& a = *parsed;
  LockInvocation inv;
  if (a.Has("help")) {
    inv.help = true;
    return inv;
  }
  if (!a.positional.empty()) {
    return Status::InvalidSpec("unexpected argument \"" + a.positional[0] +
                               "\" (the command goes after --)");
  }
  const int modes = a.Has("sidecar") + a.Has("acquire-only") + a.Has("heartbeat");
  if (modes > 1) {
    return Status::InvalidSpec("--sidecar, --acquire-only and --heartbeat exclude each other");
  }
  io::LockRunnerOptions& o = inv.runner;
  o.mode = a.Has("sidecar")        ? io::LockMode::kSidecar
           : a.Has("acquire-only") ? io::LockMode::kAcquireOnly
           : a.Has("heartbeat")    ? io::LockMode::kHeartbeat
                                   : io::LockMode::kShim;
  o.command = a.after_dashdash;
  if (o.mode == io::LockMode::kShim && o.command.empty()) {
    return Status::InvalidSpec("no command: nomad-singleton lock [flags] -- CMD [ARGS...] "
                               "(or --sidecar / --acquire-only / --heartbeat)");
  }
  if (o.mode != io::LockMode::kShim && !o.command.empty()) {
    return Status::InvalidSpec("a command after -- is only for shim mode; in sidecar and split "
                               "mode the workload task runs it under `guard`");
  }
  lock::Config& c = o.config;
  c.path = a.Get("path");
  if (c.path.empty()) return Status::InvalidSpec("--path is required");
  auto ttl = DurationFlag(a, "ttl", kDefaultTtl);
  if (!ttl.ok()) return ttl.status();
  c.ttl = *ttl;
  auto delay = DurationFlag(a, "delay", kDefaultDelay);
  if (!delay.ok()) return delay.status();
  c.delay = *delay;
  auto give_up = DurationFlag(a, "give-up", c.ttl);
  if (!give_up.ok()) return give_up.status();
  c.give_up = *give_up;
  auto kill = DurationFlag(a, "kill-timeout", kDefaultKillTimeout);
  if (!kill.ok()) return kill.status();
  c.kill_timeout = *kill;
  // The workload runs under a guard in every mode (in shim mode our child runs it), and the guard
  // kills it up to one poll after the deadline.
  c.guard_poll = timing::Assumptions{}.guard_poll;
  c.namespace_ = a.Has("namespace") ? a.Get("namespace") : Env(getenv, "NOMAD_NAMESPACE");
  c.lock_id = io::RandomLockId();  // our own: a retried acquire is idempotent
  if (Status st = lock::Validate(c); !st.ok()) return st;

  const std::string alloc_dir = Env(getenv, "NOMAD_ALLOC_DIR");
  o.state_dir = a.Has("dir") ? a.Get("dir")
                : alloc_dir.empty() ? ""
                                    : alloc_dir + "/" + io::kStateDirName;
  if (o.mode != io::LockMode::kShim && o.state_dir.empty()) {
    return Status::InvalidSpec("sidecar and split mode need NOMAD_ALLOC_DIR (or --dir)");
  }
  o.holder = Env(getenv, "NOMAD_ALLOC_ID");
  o.verbose = a.Has("verbose");
  // Holder metadata (the acquire overwrites the variable's Items with it; acquired_at is added
  // when each acquire is sent). Node ID: Nomad has no env var for it; the renderer may pass
  // ${node.unique.id} as NOMAD_SINGLETON_NODE_ID.
  const std::pair<const char*, std::string> items[] = {
      {"alloc_id", o.holder},
      {"node_id", !Env(getenv, "NOMAD_SINGLETON_NODE_ID").empty()
                      ? Env(getenv, "NOMAD_SINGLETON_NODE_ID")
                      : Env(getenv, "NOMAD_NODE_ID")},
      {"job_id", Env(getenv, "NOMAD_JOB_ID")},
      {"namespace", c.namespace_.empty() ? "default" : c.namespace_},
      {"task", Env(getenv, "NOMAD_TASK_NAME")},
      {"agent_version", VersionString()},
  };
  for (const auto& [k, v] : items) {
    if (!v.empty()) c.holder_items[k] = v;
  }

  if (a.Has("address")) {
    inv.address = a.Get("address");
  } else if (auto sock = io::LockAgentAddress(getenv, exists)) {
    inv.address = *sock;
  }
  inv.token = a.Get("token");
  inv.region = a.Get("region");
  return inv;
}

// `lock --install-guard [--dir DIR]`: copies the static guard into the state directory. Needs no
// Nomad access and takes no lock.
int InstallGuardMain(const std::vector<std::string>& argv,
                     const std::function<const char*(const char*)>& getenv) {
  auto parsed = ParseArgs(argv, Flags(), std::cerr);
  if (!parsed) return kExitUsage;
  const std::string alloc_dir = Env(getenv, "NOMAD_ALLOC_DIR");
  const std::string dir = parsed->Has("dir")   ? parsed->Get("dir")
                          : alloc_dir.empty() ? ""
                                              : alloc_dir + "/" + io::kStateDirName;
  if (dir.empty()) {
    std::cerr << "nomad-singleton lock: --install-guard needs NOMAD_ALLOC_DIR (or --dir)\n";
    return kExitUsage;
  }
  if (Status st = io::InstallGuardBinary(SelfExe(), dir + "/" + io::kGuardFile); !st.ok()) {
    std::cerr << "nomad-singleton lock: " << st.message() << "\n";
    return lock::kExitFailed;
  }
  return kExitOk;
}

int LockMain(const std::vector<std::string>& argv) {
  // Block the signals we handle before any thread starts, so every thread inherits the mask and
  // they arrive only through the signalfd.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  // Runs in every allocation: two HTTP threads, not cpprest's default 40 (a renew, a release
  // and a standby's blocking read are the most ever in flight).
  io::SetHttpThreadPoolSize(2);

  auto getenv = [](const char* k) -> const char* { return std::getenv(k); };
  auto exists = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
  };
  if (std::find(argv.begin(), argv.end(), "--install-guard") != argv.end()) {
    return InstallGuardMain(argv, getenv);
  }
  auto inv = ParseLockArgs(argv, getenv, exists);
  if (!inv.ok()) {
    std::cerr << "nomad-singleton lock: " << inv.status().message() << "\n";
    return kExitUsage;
  }
  if (inv->help) {
    std::cout << LockUsage();
    return kExitOk;
  }
  io::LockRunnerOptions& o = inv->runner;

  auto cfg = io::ClientConfig::FromEnv(getenv);
  if (!cfg.ok()) {
    std::cerr << "nomad-singleton lock: " << cfg.status().message() << "\n";
    return kExitUsage;
  }
  io::ClientConfigOverrides flags;
  if (!inv->address.empty()) flags.address = inv->address;
  if (!inv->token.empty()) flags.token = inv->token;
  if (!inv->region.empty()) flags.region = inv->region;
  if (!o.config.namespace_.empty()) flags.namespace_ = o.config.namespace_;
  cfg->ApplyOverrides(flags);
  // A hung lock call must free the worker before the next renew is due.
  cfg->request_timeout = std::min(kMaxRequestTimeout, timing::RenewInterval(o.config.ttl));
  cfg->max_response_bytes = kMaxResponseBytes;
  if (Status st = cfg->Validate(); !st.ok()) {
    std::cerr << "nomad-singleton lock: " << st.message() << "\n";
    return kExitUsage;
  }

  if (o.mode == io::LockMode::kShim) {
    // The command runs under our own `guard`, which keeps the lease deadline even while this
    // process is frozen; outside a Nomad task its lease lives in a private directory.
    o.guard_command = {SelfExe(), "guard"};
    if (o.state_dir.empty()) {
      std::string tmpl = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : "/tmp") +
                         "/nomad-singleton-XXXXXX";
      if (::mkdtemp(tmpl.data()) == nullptr) {
        std::cerr << "nomad-singleton lock: cannot create a state directory in " << tmpl << ": "
                  << std::strerror(errno) << "\n";
        return lock::kExitFailed;
      }
      o.state_dir = tmpl;
    }
  } else {
    // The guarded workload task runs ${NOMAD_ALLOC_DIR}/singleton/guard: put it there first.
    if (Status st = io::InstallGuardBinary(SelfExe(), o.state_dir + "/" + io::kGuardFile);
        !st.ok()) {
      std::cerr << "nomad-singleton lock: " << st.message() << "\n";
      return lock::kExitFailed;
    }
  }

  return app::RunLockAgent(std::move(o), *cfg, set);
}

}  // namespace nsg::cmd
