// `nomad-singleton controller` and `nomad-singleton plan`: their flags, the Nomad connection and
// logging they share, and the plan command. The controller itself (its threads, the HTTP server,
// leader election, metrics) is assembled in controller/app/controller.{h,cc}; RunController
// here parses the flags into an app::ControllerConfig and calls app::RunController. The two
// commands stay in one file because they share the connection flags and the logger.
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "controller/app/controller.h"
#include "controller/base/clock.h"
#include "controller/base/duration.h"
#include "controller/cmd/cli.h"
#include "controller/cmd/commands.h"
#include "controller/cmd/controller_commands.h"
#include "controller/cmd/controller_git.h"
#include "controller/controller_io/leader_elector.h"
#include "controller/controller_io/spec_files.h"
#include "controller/controller_io/status_server.h"
#include "controller/nomad_client/client_config.h"
#include "controller/nomad_client/http_nomad_api.h"
#include "controller/nomad_client/http_transport.h"
#include "controller/nomad_client/retry.h"
#include "controller/reconcile/cluster_view.h"
#include "controller/reconcile/plan.h"
#include "controller/render/job_renderer.h"
#include "controller/spec/loader.h"
#include "controller/timing/budget.h"

namespace nsg::cmd {
namespace {

using app::kDefaultHttpAddr;
using app::kDefaultResyncPeriod;
using app::kDefaultSpecRescan;
using app::kDefaultWorkers;
using base::Duration;
using base::Status;
using namespace std::chrono_literals;
using Json = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------
// Flags shared by `controller` and `plan`.

const std::vector<FlagSpec> kConnectionFlags = {
    {"address", true, "ADDR", "Nomad address (NOMAD_ADDR; default http://127.0.0.1:4646)"},
    {"token", true, "TOKEN",
     "ACL token (NOMAD_TOKEN); needs management rights for lock holders. Visible to every user "
     "of this machine in `ps`: prefer --token-file or NOMAD_TOKEN"},
    {"token-file", true, "FILE",
     "read the ACL token from FILE (overrides NOMAD_TOKEN); re-read whenever it changes, so it "
     "can be rotated without a restart"},
    {"region", true, "REGION", "region (NOMAD_REGION)"},
    {"namespace", true, "NS", "default namespace of requests (NOMAD_NAMESPACE)"},
    {"ca-cert", true, "FILE", "CA certificate(s) to trust (NOMAD_CACERT)"},
    {"ca-path", true, "DIR", "directory of CA certificates (NOMAD_CAPATH)"},
    {"client-cert", true, "FILE", "client certificate for mTLS (NOMAD_CLIENT_CERT)"},
    {"client-key", true, "FILE", "its private key (NOMAD_CLIENT_KEY)"},
    {"tls-server-name", true, "NAME", "server name to verify (NOMAD_TLS_SERVER_NAME)"},
    {"tls-skip-verify", false, "", "do not verify the server certificate (NOMAD_SKIP_VERIFY)"},
    {"max-response-mib", true, "N",
     "largest Nomad answer read, in MiB (default 64; 1 to 4096): a larger one fails the call "
     "(and is retried as an outage) instead of exhausting memory; raise it for very large "
     "clusters"},
};

std::vector<FlagSpec> WithConnectionFlags(std::vector<FlagSpec> flags) {
  flags.insert(flags.end(), kConnectionFlags.begin(), kConnectionFlags.end());
  return flags;
}

// A whole number from lo to hi, or nullopt.
std::optional<long> NumberInRange(const std::string& v, long lo, long hi) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < lo || n > hi) return std::nullopt;
  return n;
}

// Defaults → environment → flags → Validate().
base::Result<io::ClientConfig> ConnectionConfig(const Args& args) {
  auto cfg = io::ClientConfig::FromEnv([](const char* name) { return std::getenv(name); });
  if (!cfg.ok()) return cfg.status();
  io::ClientConfigOverrides o;
  auto set = [&](const char* flag, std::optional<std::string>& out) {
    if (args.Has(flag)) out = args.Get(flag);
  };
  set("address", o.address);
  set("token", o.token);
  set("token-file", o.token_file);
  if (o.token && o.token_file) {
    return Status::InvalidSpec("--token and --token-file exclude each other");
  }
  set("region", o.region);
  set("namespace", o.namespace_);
  set("ca-cert", o.ca_cert);
  set("ca-path", o.ca_path);
  set("client-cert", o.client_cert);
  set("client-key", o.client_key);
  set("tls-server-name", o.tls_server_name);
  if (args.Has("tls-skip-verify")) o.skip_verify = true;
  cfg.value().ApplyOverrides(o);
  if (args.Has("max-response-mib")) {
    const std::string v = args.Get("max-response-mib");
    const std::optional<long> mib = NumberInRange(v, 1, 4096);
    if (!mib) {
      return Status::InvalidSpec("--max-response-mib must be a number from 1 to 4096, got \"" +
                                 v + "\"");
    }
    cfg.value().max_response_bytes = static_cast<size_t>(*mib) * 1024 * 1024;
  }
  if (Status st = cfg.value().Validate(); !st.ok()) return st;
  return cfg;
}

// ---------------------------------------------------------------------------------------------
// Logging: spdlog, text or JSON lines (cpp-libs.md §8: %v is not escaped, so JSON uses %J).

class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    for (char c : msg.payload) {
      switch (c) {
        case '"': dest.append(std::string_view("\\\"")); break;
        case '\\': dest.append(std::string_view("\\\\")); break;
        case '\n': dest.append(std::string_view("\\n")); break;
        case '\r': dest.append(std::string_view("\\r")); break;
        case '\t': dest.append(std::string_view("\\t")); break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            const char esc[] = {'\\', 'u', '0', '0', kHex[(c >> 4) & 0xf], kHex[c & 0xf]};
            dest.append(esc, esc + sizeof(esc));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

base::Result<std::shared_ptr<spdlog::logger>> MakeLogger(const std::string& format,
                                                         const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto log = std::make_shared<spdlog::logger>("controller", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == "json") {
    formatter->add_flag<JsonEscapedMessage>('J').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","msg":"%J"})");
  } else if (format == "text") {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %l %v");
  } else {
    return Status::InvalidSpec("--log-format must be text or json, got \"" + format + "\"");
  }
  log->set_formatter(std::move(formatter));
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidSpec(
        "--log-level must be trace, debug, info, warning, error, critical or off, got \"" +
        level + "\"");
  }
  log->set_level(lvl);
  log->flush_on(spdlog::level::trace);
  return log;
}

// ---------------------------------------------------------------------------------------------
// Flags and usage.

std::vector<FlagSpec> WithGitFlags(std::vector<FlagSpec> flags) {
  flags.insert(flags.begin() + 1, GitFlags().begin(), GitFlags().end());
  return flags;
}

const std::vector<FlagSpec>& ControllerFlags() {
  static const std::vector<FlagSpec> flags = WithConnectionFlags(WithGitFlags({
      {"specs", true, "DIR",
       "directory of Singleton specs, read recursively (this or --git-url is required)"},
      {"http-addr", true, "HOST:PORT",
       "serve /metrics, /healthz, /readyz, /status here (default 127.0.0.1:9464; port 0 picks "
       "one, logged at start)"},
      {"http-token-file", true, "FILE",
       "require `Authorization: Bearer <token>` with the token in FILE on /status (re-read when "
       "it changes); /healthz, /readyz and /metrics stay open. Use it when --http-addr is not "
       "loopback"},
      {"resync-period", true, "DURATION",
       "full re-list of Nomad state and re-check of every singleton (default 5m)"},
      {"spec-rescan-period", true, "DURATION",
       "full re-read of the spec directory, the safety net behind inotify (default 30s)"},
      {"workers", true, "N", "singletons reconciled in parallel (default 2)"},
      {"prune", false, "",
       "deregister (stop, not purge) jobs of ours whose spec file was deleted: only after a "
       "read of DIR without any error, with at least one spec in it, for a job whose Meta "
       "source file is in DIR. An unreadable, moved or replaced DIR or subdirectory, an "
       "unreadable, emptied or non-regular spec file or an unnamed document deletes nothing "
       "(the job is kept, Invalid: SourceUnreadable)"},
      {"dry-run", false, "", "plan and log what would change; change nothing in Nomad"},
      {"log-format", true, "FORMAT", "text (default) or json (one JSON object per line)"},
      {"log-level", true, "LEVEL", "trace, debug, info (default), warning, error"},
      {"leader-elect", false, "",
       "run as one of several replicas: reconcile only while holding the leader lock (TTL 15s)"},
      {"leader-lock-path", true, "PATH",
       "the leader lock's variable path (default nomad-singleton/leader)"},
      {"allow-unsupported-nomad", false, "",
       "run against a Nomad older than 1.10.2 (or whose version cannot be read) instead of "
       "exiting with status 1"},
  }));
  return flags;
}

void ControllerUsage(std::ostream& out) {
  out << "Usage: nomad-singleton controller (--specs DIR | --git-url URL --git-checkout-dir DIR)"
         " [flags]\n\n"
         "Reconciles the Singleton specs in DIR with Nomad: registers each spec's job (with\n"
         "check-and-set on JobModifyIndex) and ACL policy, reverts hand-made drift, stops extra\n"
         "allocations, and reports status. An invalid spec leaves its running job untouched; a\n"
         "deleted spec's job is deregistered only with --prune, and only when DIR was read\n"
         "completely: a spec that cannot be read is never taken for a deleted one (see --prune\n"
         "and docs/controller.md). The Nomad connection comes from NOMAD_ADDR, NOMAD_TOKEN, ...\n"
         "(as the Nomad CLI), overridden by the flags below; the token needs management rights\n"
         "(lock holders are visible only to management tokens).\n\n"
         "With --leader-elect, replicas share a Nomad variable lock and only its holder writes;\n"
         "without it, run exactly one replica.\n"
         "Supports Nomad 1.10.2 and later (1.10, 1.11, 2.0): the server's version is read from\n"
         "/v1/agent/self at start and on every event-stream reconnect; an older server makes the\n"
         "controller exit with status 1 unless --allow-unsupported-nomad is given.\n"
         "With --git-url the controller owns its spec source as Argo CD and Flux do: it fetches\n"
         "the ref every --git-interval (and at once on a signed POST /hooks/git), checks each\n"
         "new commit out completely beside the last one and swaps to it atomically, records the\n"
         "commit in job Meta, /status and metrics; a fetch or checkout that fails leaves the\n"
         "specs at the last good commit and prunes nothing.\n"
         "Stops on SIGINT or SIGTERM (exit 0).\n\nFlags:\n";
  PrintFlags(out, ControllerFlags());
}

base::Result<Duration> PositiveDuration(const Args& args, const char* flag, Duration def) {
  if (!args.Has(flag)) return def;
  auto d = base::ParseDuration(args.Get(flag));
  if (!d.ok() || d.value() <= Duration(0)) {
    return Status::InvalidSpec(std::string("--") + flag +
                               " must be a positive duration such as 30s or 5m, got \"" +
                               args.Get(flag) + "\"");
  }
  return d;
}

}  // namespace

int RunController(const std::vector<std::string>& argv, std::stop_token stop,
                  const ControllerHooks& hooks) {
  auto args = ParseArgs(argv, ControllerFlags(), std::cerr);
  if (!args) return kExitUsage;
  if (args->Has("help")) {
    ControllerUsage(std::cout);
    return kExitOk;
  }
  auto usage = [](const std::string& msg) {
    std::cerr << "nomad-singleton controller: " << msg << "\n";
    return kExitUsage;
  };
  if (args->Has("leader-lock-path") && !args->Has("leader-elect")) {
    return usage("--leader-lock-path goes with --leader-elect");
  }
  if (!args->positional.empty()) return usage("unexpected argument " + args->positional[0]);
  app::ControllerConfig config;
  config.specs_dir = args->Get("specs");
  auto git = GitConfigFromArgs(*args);
  if (!git.ok()) return usage(git.status().message());
  config.git = std::move(git).value();
  if (config.git && !config.specs_dir.empty()) {
    return usage("--specs and --git-url exclude each other");
  }
  if (!config.git) {
    if (config.specs_dir.empty()) {
      return usage("--specs DIR or --git-url URL is required (see --help)");
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(config.specs_dir, ec)) {
      return usage("--specs " + config.specs_dir + " is not a directory");
    }
  }
  config.http_addr = args->Get("http-addr", kDefaultHttpAddr);
  config.http_token_file = args->Get("http-token-file");
  if (!config.http_token_file.empty()) {
    if (auto t = io::ReadTokenFile(config.http_token_file); !t.ok()) {
      return usage("--http-token-file: " + t.status().message());
    }
  }
  auto resync = PositiveDuration(*args, "resync-period", kDefaultResyncPeriod);
  if (!resync.ok()) return usage(resync.status().message());
  config.resync_period = resync.value();
  auto rescan = PositiveDuration(*args, "spec-rescan-period", kDefaultSpecRescan);
  if (!rescan.ok()) return usage(rescan.status().message());
  config.spec_rescan = rescan.value();
  const std::string workers = args->Get("workers", std::to_string(kDefaultWorkers));
  const std::optional<long> n = NumberInRange(workers, 1, 64);
  if (!n) return usage("--workers must be a number from 1 to 64, got \"" + workers + "\"");
  config.workers = static_cast<int>(*n);
  config.prune = args->Has("prune");
  config.dry_run = args->Has("dry-run");
  config.leader_elect = args->Has("leader-elect");
  config.leader_lock_path = args->Get("leader-lock-path", io::kDefaultLeaderLockPath);
  config.allow_unsupported_nomad = args->Has("allow-unsupported-nomad");
  auto log = MakeLogger(args->Get("log-format", "text"), args->Get("log-level", "info"));
  if (!log.ok()) return usage(log.status().message());
  auto client = ConnectionConfig(*args);
  if (!client.ok()) return usage(client.status().message());
  return app::RunController(std::move(config), client.value(), *log.value(), stop, hooks);
}

int ControllerMain(const std::vector<std::string>& argv) {
  mallopt(M_ARENA_MAX, app::kMallocArenas);  // before any thread starts (see kMallocArenas)
  mallopt(M_MMAP_THRESHOLD, app::kMallocMmapThreshold);  // fixed, not glibc's sliding one
  // Block the stop signals before any thread starts; a dedicated thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::stop_source stop;
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    const timespec poll = {0, 200'000'000};
    while (!done.load()) {
      if (sigtimedwait(&set, nullptr, &poll) > 0) {
        stop.request_stop();
        return;
      }
    }
  });
  const int code = RunController(argv, stop.get_token());
  done = true;
  waiter.join();
  return code;
}

// ---------------------------------------------------------------------------------------------
// `nomad-singleton plan`

namespace {

const std::vector<FlagSpec>& PlanFlags() {
  static const std::vector<FlagSpec> flags = WithConnectionFlags({
      {"json", false, "", "print one JSON document (for CI)"},
  });
  return flags;
}

void PlanUsage(std::ostream& out) {
  out << "Usage: nomad-singleton plan PATH... [--json] [flags]\n\n"
         "Shows what the controller would change for the specs in PATH (files or directories),\n"
         "against the live cluster, without changing anything: the job diff (Nomad's job plan),\n"
         "the ACL policy change, whether the change restarts the singleton, the timer budget,\n"
         "and jobs of ours that have no spec among PATH (deregistered only by the controller's\n"
         "--prune). Exit 0: no changes; 2: changes; 1: an invalid spec or a Nomad error.\n\n"
         "Flags:\n";
  PrintFlags(out, PlanFlags());
}

// One line per changed field: "~ TaskGroups[singleton].Tasks[main].Config.args: "a" → "b"".
void DiffLines(const std::string& prefix, const std::vector<nomad::FieldDiff>& fields,
               const std::vector<nomad::ObjectDiff>& objects, std::vector<std::string>& out) {
  auto mark = [](const std::string& type) {
    return type == "Added" ? "+" : type == "Deleted" ? "-" : "~";
  };
  for (const auto& f : fields) {
    if (f.type == "None" || f.type.empty()) continue;
    out.push_back(std::string(mark(f.type)) + " " + prefix + f.name + ": \"" + f.old_value +
                  "\" => \"" + f.new_value + "\"");
  }
  for (const auto& o : objects) {
    if (o.type == "None" || o.type.empty()) continue;
    DiffLines(prefix + o.name + ".", o.fields, o.objects, out);
  }
}

std::vector<std::string> JobDiffLines(const nomad::JobDiff& d) {
  std::vector<std::string> out;
  DiffLines("", d.fields, d.objects, out);
  for (const auto& tg : d.task_groups) {
    if (tg.type == "None" || tg.type.empty()) continue;
    const std::string p = "TaskGroups[" + tg.name + "].";
    if (tg.type != "Edited") out.push_back((tg.type == "Added" ? "+ " : "- ") + p);
    DiffLines(p, tg.fields, tg.objects, out);
    for (const auto& t : tg.tasks) {
      if (t.type == "None" || t.type.empty()) continue;
      const std::string tp = p + "Tasks[" + t.name + "].";
      if (t.type != "Edited") out.push_back((t.type == "Added" ? "+ " : "- ") + tp);
      DiffLines(tp, t.fields, t.objects, out);
    }
  }
  return out;
}

bool Restarts(const nomad::PlanResponse& p) {
  for (const auto& [group, u] : p.desired_tg_updates) {
    if (u.destructive_update > 0 || u.stop > 0 || u.migrate > 0) return true;
  }
  if (!p.diff) return false;
  for (const auto& tg : p.diff->task_groups) {
    for (const auto& t : tg.tasks) {
      for (const auto& a : t.annotations) {
        if (a.find("destroy") != std::string::npos) return true;
      }
    }
  }
  return false;
}

}  // namespace

int PlanMain(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv, PlanFlags(), std::cerr);
  if (!args) return kExitUsage;
  if (args->Has("help")) {
    PlanUsage(std::cout);
    return kExitOk;
  }
  if (args->positional.empty()) {
    std::cerr << "nomad-singleton plan: give at least one spec file or directory (see --help)\n";
    return kExitInvalid;
  }
  const bool json = args->Has("json");
  auto client = ConnectionConfig(*args);
  if (!client.ok()) {
    std::cerr << "nomad-singleton plan: " << client.status().message() << "\n";
    return kExitInvalid;
  }
  const io::SpecFiles files = io::ReadSpecFiles(args->positional);
  const spec::LoadResult loaded = spec::LoadSpecs(files.files, render::CheckSpec);
  bool errors = !files.errors.empty() || !loaded.errors.empty();
  bool changes = false;
  Json out;
  Json errs = Json::array();
  for (const auto& d : files.errors) errs.push_back(d.ToString());
  for (const auto& d : loaded.errors) errs.push_back(d.ToString());

  auto transport = io::MakeTransport(client.value());
  if (!transport.ok()) {
    std::cerr << "nomad-singleton plan: " << transport.status().message() << "\n";
    return kExitInvalid;
  }
  base::SystemClock clock;
  io::RealSleeper sleeper;
  io::HttpNomadApi api(*transport.value(), client.value(), clock, sleeper);

  std::ostringstream text;
  Json singletons = Json::array();
  std::set<reconcile::SingletonKey> keys;
  for (const auto& s : loaded.valid) {
    keys.insert(s.Key());
    Json j;
    j["singleton"] = s.Key();
    j["source"] = s.source.file;
    text << s.Key() << " (" << s.source.file << ")\n";
    auto rendered = render::Render(s);
    if (!rendered.ok()) {
      errors = true;
      errs.push_back(s.Key() + ": " + rendered.status().message());
      continue;
    }
    nomad::Job& job = rendered.value().job;
    nomad::QueryOptions q;
    q.namespace_ = s.metadata.namespace_;
    auto existing = api.ReadJob(s.metadata.name, q);
    if (!existing.ok() && existing.status().code() != base::StatusCode::kNotFound) {
      errors = true;
      errs.push_back(s.Key() + ": read job: " + existing.status().ToString());
      continue;
    }
    if (existing.ok() && reconcile::IsOwned(existing.value().value)) {
      // Where the spec came from is not a change (reconcile/drift.h): compare as the controller.
      for (const char* k : {render::kMetaSource, render::kMetaRevision}) {
        auto it = existing.value().value.meta.find(k);
        if (it != existing.value().value.meta.end()) {
          job.meta[k] = it->second;
        } else {
          job.meta.erase(k);
        }
      }
    }
    nomad::WriteOptions w;
    w.namespace_ = s.metadata.namespace_;
    auto plan = api.PlanJob(job, /*diff=*/true, w);
    if (!plan.ok()) {
      errors = true;
      errs.push_back(s.Key() + ": plan: " + plan.status().ToString());
      continue;
    }
    const std::string diff_type = plan.value().diff ? plan.value().diff->type : "";
    const bool job_changes = !existing.ok() || (diff_type != "None" && !diff_type.empty());
    std::vector<std::string> lines;
    if (plan.value().diff) lines = JobDiffLines(*plan.value().diff);
    std::string job_change = !existing.ok() ? "create" : job_changes ? "update" : "none";
    if (existing.ok() && !reconcile::IsOwned(existing.value().value)) {
      job_change = s.spec.adopt ? "adopt" : "conflict (a job with this ID is not ours)";
    }
    const bool restarts = existing.ok() && job_changes && Restarts(plan.value());
    text << "  job: " << job_change;
    if (existing.ok()) text << " (version " << existing.value().value.version << ")";
    text << "\n";
    for (const auto& l : lines) text << "    " << l << "\n";

    const nomad::AclPolicy& want = rendered.value().policy;
    auto have = api.ReadAclPolicy(want.name);
    std::string policy_change;
    if (!have.ok() && have.status().code() == base::StatusCode::kNotFound) {
      policy_change = "create";
    } else if (!have.ok()) {
      errors = true;
      errs.push_back(s.Key() + ": read policy: " + have.status().ToString());
      policy_change = "unknown";
    } else {
      policy_change = have.value().rules == want.rules &&
                              have.value().description == want.description &&
                              have.value().job_acl == want.job_acl
                          ? "none"
                          : "update";
    }
    text << "  policy " << want.name << ": " << policy_change << "\n";
    text << "  restarts the singleton: " << (restarts ? "yes" : "no") << "\n";
    const std::vector<std::string> budget = timing::Explain(s);
    text << "  timer budget:\n";
    for (const auto& l : budget) text << "    " << l << "\n";
    changes = changes || job_changes || policy_change == "create" || policy_change == "update";
    j["job"] = {{"change", job_change},
                {"version", existing.ok() ? Json(existing.value().value.version) : Json(nullptr)},
                {"diff", lines},
                {"restarts", restarts}};
    j["policy"] = {{"name", want.name}, {"change", policy_change}};
    j["timer_budget"] = budget;
    singletons.push_back(std::move(j));
  }
  for (const auto& inv : loaded.invalid) {
    if (!inv.key.empty()) keys.insert(inv.key);
  }
  // Jobs of ours without a spec among PATH.
  Json orphans = Json::array();
  nomad::QueryOptions all;
  all.namespace_ = "*";
  auto jobs = api.ListJobs(all, /*meta=*/true);
  if (!jobs.ok()) {
    errors = true;
    errs.push_back("list jobs: " + jobs.status().ToString());
  } else {
    for (const auto& stub : jobs.value().value) {
      auto m = stub.meta.find(render::kMetaManagedBy);
      if (m == stub.meta.end() || m->second != render::kManagedByValue || stub.stop) continue;
      const auto key = reconcile::KeyOf(stub.namespace_, stub.id);
      if (keys.count(key) == 0 && key == stub.namespace_ + "/" + stub.id) orphans.push_back(key);
    }
  }
  if (!orphans.empty()) {
    text << "jobs of ours without a spec here (the controller deregisters them only with "
            "--prune, after a read of its directory without errors):\n";
    for (const auto& o : orphans) text << "  " << o.get<std::string>() << "\n";
  }
  api.Shutdown();
  const int code = errors ? kExitInvalid : changes ? 2 : kExitOk;
  if (json) {
    out["singletons"] = singletons;
    out["without_spec"] = orphans;
    out["errors"] = errs;
    out["changes"] = changes;
    out["exit_code"] = code;
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << text.str();
    for (const auto& e : errs) std::cerr << e.get<std::string>() << "\n";
    std::cout << (errors ? "errors (exit 1)" : changes ? "changes (exit 2)" : "no changes")
              << "\n";
  }
  return code;
}


}  // namespace nsg::cmd
