#include "controller/render/job_renderer.h"

#include <cstdint>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "controller/nomad/codec.h"
#include "controller/nomad/limits.h"
#include "controller/timing/budget.h"

namespace nsg::render {
namespace {

using base::Result;
using base::Status;
using nlohmann::json;
using spec::LockMode;
using spec::Singleton;

// Roles of the lock agent inside a job.
constexpr char kRoleShim[] = "shim";
constexpr char kRoleSidecar[] = "sidecar";
constexpr char kRoleAcquire[] = "acquire";
constexpr char kRoleHeartbeat[] = "heartbeat";
constexpr char kRoleInstall[] = "install";

nomad::RestartPolicy RestartOf(const spec::RestartSpec& r) {
  return {r.attempts, r.interval, r.delay, r.mode, false};
}

nomad::ReschedulePolicy RescheduleOf(const spec::RescheduleSpec& r) {
  return {r.attempts, r.interval, r.delay, r.delay_function, r.max_delay, r.unlimited};
}

// A lock task never restarts in place: if the agent dies, the allocation fails (the leader is dead,
// so Nomad stops the workload) and is rescheduled. A restarted agent would hold no lease.
nomad::RestartPolicy LockTaskRestart(const spec::RestartSpec& group) {
  return {0, group.interval, group.delay, "fail", false};
}

std::string DriverOf(spec::AgentDriver d) { return spec::AgentDriverName(d); }

// Driver config that runs the agent binary with `args`.
std::string AgentConfig(const spec::LockAgent& agent, const std::vector<std::string>& args) {
  json cfg = json::object();
  if (agent.driver == spec::AgentDriver::kDocker) {
    cfg["image"] = agent.image;
    cfg["entrypoint"] = json::array({agent.command});
    cfg["args"] = args;
  } else {
    cfg["command"] = agent.command;
    cfg["args"] = args;
  }
  return cfg.dump();
}

nomad::Task LockTask(const Singleton& s, const std::string& name, const std::string& role) {
  nomad::Task t;
  t.name = name;
  t.driver = DriverOf(s.spec.lock.agent.driver);
  t.config = AgentConfig(s.spec.lock.agent, AgentArgs(s, role));
  t.resources.cpu = s.spec.lock.agent.resources.cpu;
  t.resources.memory_mb = s.spec.lock.agent.resources.memory_mb;
  t.restart_policy = LockTaskRestart(s.spec.failover.restart);
  t.kill_timeout = s.KillTimeout() + timing::kAgentKillGrace;
  t.kill_signal = "SIGTERM";
  t.identity = nomad::WorkloadIdentity{};
  t.identity->env = true;
  t.env[kNodeIdEnv] = kNodeIdInterpolation;
  return t;
}

// Wraps the workload's command in `prefix` (the guard, or the shim agent). raw_exec/exec: the
// command becomes prefix[0] and the arguments prefix[1:] + "--" + command + args. docker: the
// entrypoint becomes prefix + "--" + the user's entrypoint; the image's CMD (command/args) follows.
Status WrapCommand(nomad::Task& task, const std::vector<std::string>& prefix) {
  json cfg = json::parse(task.config.empty() ? "{}" : task.config, nullptr, false);
  if (cfg.is_discarded() || !cfg.is_object()) {
    return Status::InvalidSpec("task " + task.name + ": config is not an object");
  }
  if (task.driver == "raw_exec" || task.driver == "exec") {
    if (!cfg.contains("command") || !cfg["command"].is_string()) {
      return Status::InvalidSpec("task " + task.name + ": config.command is required so the " +
                                 "lock agent can wrap it");
    }
    json args = json::array();
    for (size_t i = 1; i < prefix.size(); ++i) args.push_back(prefix[i]);
    args.push_back("--");
    args.push_back(cfg["command"]);
    if (cfg.contains("args")) {
      if (!cfg["args"].is_array()) {
        return Status::InvalidSpec("task " + task.name + ": config.args must be a list");
      }
      for (const auto& a : cfg["args"]) args.push_back(a);
    }
    cfg["command"] = prefix[0];
    cfg["args"] = std::move(args);
  } else if (task.driver == "docker" || task.driver == "podman") {
    const bool has_entry = cfg.contains("entrypoint");
    if (!has_entry && !cfg.contains("command")) {
      return Status::InvalidSpec(
          "task " + task.name + ": a " + task.driver +
          " workload needs config.command or config.entrypoint so the lock agent can wrap it "
          "(the image's own entrypoint cannot be read offline)");
    }
    json entry = json::array();
    for (const auto& p : prefix) entry.push_back(p);
    entry.push_back("--");
    if (has_entry) {
      if (!cfg["entrypoint"].is_array()) {
        return Status::InvalidSpec("task " + task.name + ": config.entrypoint must be a list");
      }
      for (const auto& e : cfg["entrypoint"]) entry.push_back(e);
    }
    cfg["entrypoint"] = std::move(entry);
  } else {
    return Status::InvalidSpec("task " + task.name + ": driver " + task.driver +
                               " is not supported for a protected workload (use raw_exec, exec, "
                               "docker or podman: the lock agent must wrap the command)");
  }
  task.config = cfg.dump();
  return Status::Ok();
}

// Injects the singleton machinery into `group`, whose workload task is at `workload_index`.
Status Inject(const Singleton& s, nomad::TaskGroup& group, size_t workload_index) {
  nomad::Task workload = group.tasks[workload_index];
  group.tasks.erase(group.tasks.begin() + static_cast<std::ptrdiff_t>(workload_index));
  std::vector<nomad::Task> injected;
  switch (s.spec.lock.mode) {
    case LockMode::kShim: {
      std::vector<std::string> prefix = {s.spec.lock.agent.command};
      for (auto& a : AgentArgs(s, kRoleShim)) prefix.push_back(a);
      if (Status st = WrapCommand(workload, prefix); !st.ok()) return st;
      workload.identity = workload.identity.value_or(nomad::WorkloadIdentity{});
      workload.identity->env = true;
      workload.env[kNodeIdEnv] = kNodeIdInterpolation;
      // The shim stops the workload (≤ K) and then releases the lock.
      workload.kill_timeout = s.KillTimeout() + timing::kAgentKillGrace;
      workload.kill_signal = "SIGTERM";
      injected.push_back(std::move(workload));
      break;
    }
    case LockMode::kSidecar:
    case LockMode::kSplit: {
      // Before any main task starts, a prestart task puts the guard where the workload task's
      // command expects it: split mode's acquire task does it on its way; sidecar mode gets a
      // task of its own (the workload starts as soon as the lock task runs, racing its copy).
      nomad::Task prestart = s.spec.lock.mode == LockMode::kSplit
                                 ? LockTask(s, kAcquireTaskName, kRoleAcquire)
                                 : LockTask(s, kInstallTaskName, kRoleInstall);
      prestart.lifecycle = nomad::Lifecycle{"prestart", false};
      if (s.spec.lock.mode == LockMode::kSidecar) {
        prestart.identity.reset();  // it calls no API
        prestart.env.clear();
      }
      injected.push_back(std::move(prestart));
      nomad::Task lock = LockTask(s, kLockTaskName,
                                  s.spec.lock.mode == LockMode::kSplit ? kRoleHeartbeat
                                                                       : kRoleSidecar);
      lock.leader = true;
      injected.push_back(std::move(lock));
      if (Status st = WrapCommand(workload, {kGuardPath}); !st.ok()) return st;
      workload.lifecycle = nomad::Lifecycle{"poststart", true};
      workload.leader = false;
      workload.kill_timeout = s.KillTimeout();
      injected.push_back(std::move(workload));
      break;
    }
  }
  group.tasks.insert(group.tasks.begin(), injected.begin(), injected.end());
  group.count = 1 + s.spec.standby;
  nomad::Disconnect d;
  d.stop_on_client_after = s.spec.failover.stop_on_client_after;
  d.replace = true;
  // If a disconnected client comes back, keep the replacement: it is the one that could take the
  // lock while the original was cut off.
  d.reconcile = "keep_replacement";
  group.disconnect = d;
  return Status::Ok();
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Result<nomad::Job> BaseJob(const Singleton& s) {
  const auto& sp = s.spec;
  nomad::Job job;
  if (!sp.template_json.empty()) {
    auto decoded = nomad::DecodeJob(sp.template_json);
    if (!decoded.ok()) {
      return Status::InvalidSpec("spec.template: " + decoded.status().message());
    }
    job = std::move(decoded).value();
    if (job.task_groups.size() != 1) {
      return Status::InvalidSpec("spec.template: must have exactly one task group");
    }
    if (!job.type.empty() && job.type != spec::JobTypeName(sp.type)) {
      return Status::InvalidSpec("spec.template: Type \"" + job.type + "\" differs from spec.type \"" +
                                 spec::JobTypeName(sp.type) + "\"");
    }
    auto& g = job.task_groups[0];
    if (g.name.empty()) g.name = kGroupName;
    if (!g.restart_policy) g.restart_policy = RestartOf(sp.failover.restart);
    if (!g.reschedule_policy) g.reschedule_policy = RescheduleOf(sp.failover.reschedule);
  } else {
    nomad::TaskGroup g;
    g.name = kGroupName;
    g.restart_policy = RestartOf(sp.failover.restart);
    g.reschedule_policy = RescheduleOf(sp.failover.reschedule);
    const spec::TaskSpec& ts = *sp.task;
    nomad::Task t;
    t.name = ts.name;
    t.driver = ts.driver;
    t.user = ts.user;
    t.config = ts.config_json;
    t.env = ts.env;
    t.resources.cpu = ts.resources.cpu;
    t.resources.memory_mb = ts.resources.memory_mb;
    t.resources.memory_max_mb = ts.resources.memory_max_mb;
    t.kill_timeout = ts.kill_timeout;
    g.tasks.push_back(std::move(t));
    job.task_groups.push_back(std::move(g));
  }
  job.id = s.metadata.name;
  if (job.name.empty()) job.name = s.metadata.name;
  job.namespace_ = s.metadata.namespace_;
  if (job.region.empty()) job.region = sp.region;
  job.type = spec::JobTypeName(sp.type);
  if (sp.priority != spec::kDefaultPriority || job.priority == 0) job.priority = sp.priority;
  if (job.datacenters.empty()) job.datacenters = sp.datacenters;
  if (job.node_pool.empty()) job.node_pool = sp.node_pool;
  if (!sp.schedule.empty()) {
    nomad::PeriodicConfig p;
    p.enabled = true;
    p.spec_type = "cron";
    p.spec = sp.schedule;
    p.prohibit_overlap = true;
    job.periodic = p;
  }
  // Clear what a template might carry that would let Nomad start a second instance.
  job.stop = false;
  return job;
}

// Split mode with standbys: see Render in the header. The template's own update block keeps its
// other fields; MaxParallel 0 wins over a job-level block too (the group's fields go over it).
void SetUpdateStrategy(const Singleton& s, nomad::TaskGroup& group) {
  if (s.spec.type != spec::JobType::kService || s.spec.lock.mode != LockMode::kSplit ||
      s.spec.standby == 0) {
    return;
  }
  json update = json::object();
  if (auto it = group.extra.find(nomad::kUpdateKey); it != group.extra.end()) {
    json own = json::parse(it->second, nullptr, false);
    if (own.is_object()) update = std::move(own);
  }
  update["MaxParallel"] = 0;
  group.extra[nomad::kUpdateKey] = update.dump();
}

// Nomad refuses a description over 256 bytes. The lock path is also in the rules, so it goes
// first; a namespace and name long enough to overflow even then are cut short.
std::string PolicyDescription(const Singleton& s) {
  const std::string tail = " (managed by nomad-singleton; edits are reverted)";
  std::string full = "nomad-singleton: lock " + s.spec.lock.path + " for job " + s.Key() + tail;
  if (!nomad::PolicyDescriptionError(full)) return full;
  const std::string head = "nomad-singleton: lock for job ";
  if (!nomad::PolicyDescriptionError(head + s.Key() + tail)) return head + s.Key() + tail;
  const std::string cut = "...";
  return head + s.Key().substr(0, nomad::kMaxPolicyDescriptionLength - head.size() - cut.size() -
                                      tail.size()) +
         cut + tail;
}

// What Nomad would refuse in the rendered job and policy (nomad/limits.h), as one message.
Status CheckLimits(const nomad::Job& job, const nomad::AclPolicy& policy,
                   const std::string& lock_path) {
  std::vector<std::string> errs;
  if (auto e = nomad::JobIdError(job.id)) errs.push_back("job ID: " + *e);
  if (auto e = nomad::VariablePathError(lock_path)) errs.push_back("lock path: " + *e);
  for (const std::string& e : nomad::AclPolicyErrors(policy)) errs.push_back("ACL policy: " + e);
  nomad::Job registered = job;
  nomad::CanonicalizeUpdateStrategies(registered);
  for (const nomad::TaskGroup& g : registered.task_groups) {
    for (const std::string& e : nomad::UpdateBlockErrors(registered.type, g)) errs.push_back(e);
    for (const nomad::Task& t : g.tasks) {
      if (auto e = nomad::KillTimeoutError(registered.type, g, t)) {
        errs.push_back("task " + t.name + ": " + *e +
                       " (the lock agent's tasks get the workload's kill timeout + " +
                       base::FormatDuration(timing::kAgentKillGrace) + "; lower the kill timeout)");
      }
    }
  }
  if (errs.empty()) return Status::Ok();
  std::string msg = "Nomad would refuse the rendered job: ";
  for (size_t i = 0; i < errs.size(); ++i) msg += (i ? "; " : "") + errs[i];
  return Status::InvalidSpec(msg);
}

size_t WorkloadIndex(const nomad::TaskGroup& g) {
  for (size_t i = 0; i < g.tasks.size(); ++i) {
    if (!g.tasks[i].lifecycle) return i;
  }
  return g.tasks.size();
}

}  // namespace

std::vector<std::string> AgentArgs(const Singleton& s, const std::string& role) {
  const auto& lock = s.spec.lock;
  std::vector<std::string> args = {"lock"};
  if (role == kRoleInstall) return {"lock", "--install-guard"};
  if (role == kRoleSidecar) args.push_back("--sidecar");
  if (role == kRoleAcquire) args.push_back("--acquire-only");
  if (role == kRoleHeartbeat) args.push_back("--heartbeat");
  args.insert(args.end(), {"--path", lock.path, "--ttl", base::FormatDuration(lock.ttl), "--delay",
                           base::FormatDuration(lock.delay), "--give-up",
                           base::FormatDuration(s.GiveUp()), "--kill-timeout",
                           base::FormatDuration(s.KillTimeout())});
  return args;
}

std::string Fnv1a64Hex(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return Hex64(h);
}

std::optional<Rendered> CheckAndRender(const Singleton& s, const RenderOptions& options,
                                       std::vector<spec::Diagnostic>& out) {
  const size_t before = out.size();
  timing::CheckTimerRule(s, out);
  if (out.size() != before) return std::nullopt;
  auto r = Render(s, options);
  if (!r.ok()) {
    const char* field = s.spec.task ? "spec.task" : "spec.template";
    out.push_back({s.PositionOf(field), field, r.status().message()});
    return std::nullopt;
  }
  return std::move(r.value());
}

void CheckSpec(const Singleton& s, std::vector<spec::Diagnostic>& out) {
  CheckAndRender(s, RenderOptions{}, out);
}

std::string PolicyName(const Singleton& s) {
  std::string raw = "nomad-singleton-" + s.metadata.namespace_ + "-" + s.metadata.name;
  std::string clean;
  for (char c : raw) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    clean += ok ? c : '-';
  }
  if (clean != raw || clean.size() > nomad::kMaxPolicyNameLength) {
    std::string suffix = "-" + Fnv1a64Hex(s.Key()).substr(0, 8);
    if (clean.size() > nomad::kMaxPolicyNameLength - suffix.size()) {
      clean.resize(nomad::kMaxPolicyNameLength - suffix.size());
    }
    clean += suffix;
  }
  return clean;
}

std::string PolicyRules(const std::string& ns, const std::string& lock_path) {
  return "namespace \"" + ns + "\" {\n  variables {\n    path \"" + lock_path +
         "\" {\n      capabilities = [\"write\", \"read\"]\n    }\n  }\n}\n";
}

Result<Rendered> Render(const Singleton& s, const RenderOptions& opts) {
  if (!s.spec.task && s.spec.template_json.empty()) {
    return Status::InvalidSpec("spec: one of task or template is required");
  }
  auto base_job = BaseJob(s);
  if (!base_job.ok()) return base_job.status();
  nomad::Job job = std::move(base_job).value();
  nomad::TaskGroup& group = job.task_groups[0];
  const size_t wi = WorkloadIndex(group);
  if (wi == group.tasks.size()) {
    return Status::InvalidSpec("spec.template: the task group has no main task (a task without "
                               "Lifecycle) to protect");
  }
  if (Status st = Inject(s, group, wi); !st.ok()) return st;
  SetUpdateStrategy(s, group);

  Rendered out;
  out.policy.name = PolicyName(s);
  out.policy.description = PolicyDescription(s);
  out.policy.rules = PolicyRules(s.metadata.namespace_, s.spec.lock.path);
  out.policy.job_acl = nomad::JobAcl{s.metadata.namespace_, s.metadata.name, "", ""};
  if (Status st = CheckLimits(job, out.policy, s.spec.lock.path); !st.ok()) return st;

  job.meta[kMetaManagedBy] = kManagedByValue;
  job.meta[kMetaLockPath] = s.spec.lock.path;
  job.meta[kMetaLockMode] = spec::LockModeName(s.spec.lock.mode);
  // The hash covers everything Nomad will run and the policy, but not where the spec came from: a
  // moved file or a new commit that changes nothing else must not re-register the job.
  out.spec_hash = Fnv1a64Hex(nomad::EncodeJob(job) + "\n" + nomad::EncodeAclPolicy(out.policy));
  job.meta[kMetaSpecHash] = out.spec_hash;
  const std::string source = opts.source_path.empty() ? s.source.file : opts.source_path;
  if (!source.empty()) job.meta[kMetaSource] = source;
  if (!opts.git_revision.empty()) job.meta[kMetaRevision] = opts.git_revision;
  out.job = std::move(job);
  return out;
}

}  // namespace nsg::render
