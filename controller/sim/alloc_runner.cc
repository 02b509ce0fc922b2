// The alloc runner of the Nomad model's client agent, one per allocation on a node: the task
// lifecycle (prestart, sidecars, main, poststart, poststop), each task's program started with its
// interpolated environment, exits under the restart policy
// (client/allocrunner/taskrunner/restarts), kills with the kill timeout, the client status it
// reports, and what a crash of the node's programs leaves. The agent around it is in
// client_agent.cc. One file (~600 lines): one allocation's task lifecycle, whose steps (start,
// exit, restart, kill, advance, client status) call each other.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "controller/base/duration.h"
#include "controller/sim/cluster.h"
#include "controller/sim/cluster_impl.h"
#include "controller/sim/job_rules.h"

namespace nsg::sim {

using namespace std::chrono_literals;
using nomad::TaskEvent;

namespace {

constexpr size_t kMaxTaskEvents = 10;  // the client keeps the last 10 events per task

bool IsSidecar(const nomad::Task& t) { return t.lifecycle && t.lifecycle->sidecar; }
std::string TaskKind(const nomad::Task& t) {
  if (!t.lifecycle) return "main";
  if (t.lifecycle->hook == "prestart") {
    return t.lifecycle->sidecar ? "prestart-sidecar" : "prestart";
  }
  if (t.lifecycle->hook == "poststart") return "poststart";
  if (t.lifecycle->hook == "poststop") return "poststop";
  return "main";
}
int NameIndex(const std::string& name) {
  size_t open = name.rfind('[');
  return open == std::string::npos ? 0 : std::atoi(name.c_str() + open + 1);
}

}  // namespace

// ---- Alloc runner -----------------------------------------------------------------------------

TaskEvent Cluster::Impl::Event(const std::string& type, const std::string& msg) const {
  TaskEvent ev;
  ev.type = type;
  ev.time = core.UnixNanos();
  ev.display_message = msg;
  return ev;
}

void Cluster::Impl::AppendEvent(TaskRunner& tr, TaskEvent ev) {
  if (ev.type == "Restarting") {
    ++tr.st.restarts;
    tr.st.last_restart = ev.time;
  }
  if (ev.fails_task) tr.st.failed = true;
  tr.st.events.push_back(std::move(ev));
  if (tr.st.events.size() > kMaxTaskEvents) tr.st.events.erase(tr.st.events.begin());
}

void Cluster::Impl::NewRunner(NodeRec& n, const AllocRec& rec) {
  const nomad::Job* job = AllocJob(rec);
  if (job == nullptr) return;
  const nomad::TaskGroup* tg = FindGroup(*job, rec.a.task_group);
  if (tg == nullptr) return;
  auto ar = std::make_unique<AllocRunner>();
  ar->id = rec.a.id;
  ar->view = rec.a;
  ar->view.job.reset();
  ar->view.client_status = nomad::kClientPending;
  ar->view.client_description = "No tasks have started";
  ar->job = *job;
  ar->group = tg->name;
  for (const nomad::Task& t : tg->tasks) {
    TaskRunner tr;
    tr.task = t;
    tr.kind = TaskKind(t);
    tr.st.state = "pending";
    tr.tracker_start = n.clock->Now();
    AppendEvent(tr, Event("Received", "Task received by client"));
    ar->tasks.push_back(std::move(tr));
  }
  AllocRunner& ref = *ar;
  n.client->runners[rec.a.id] = std::move(ar);
  MarkDirty(n, rec.a.id);
  Advance(n, ref);
}

namespace {

// Nomad's runtime interpolation of task config and env values (a subset): ${NAME} for a variable
// of the task environment, and ${node.unique.id}, ${node.unique.name}, ${node.datacenter},
// ${node.pool}. Anything else is left as written, as Nomad does.
std::string Interpolate(const std::string& in, const std::map<std::string, std::string>& env,
                        const nomad::Node& node) {
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    size_t open = in.find("${", i);
    size_t close = open == std::string::npos ? std::string::npos : in.find('}', open + 2);
    if (close == std::string::npos) {
      out.append(in, i, std::string::npos);
      break;
    }
    out.append(in, i, open - i);
    const std::string name = in.substr(open + 2, close - open - 2);
    if (auto it = env.find(name); it != env.end()) {
      out += it->second;
    } else if (name == "node.unique.id") {
      out += node.id;
    } else if (name == "node.unique.name") {
      out += node.name;
    } else if (name == "node.datacenter") {
      out += node.datacenter;
    } else if (name == "node.pool") {
      out += node.node_pool;
    } else {
      out.append(in, open, close - open + 1);
    }
    i = close + 1;
  }
  return out;
}

void InterpolateJson(nlohmann::json& j, const std::map<std::string, std::string>& env,
                     const nomad::Node& node) {
  if (j.is_string()) {
    j = Interpolate(j.get<std::string>(), env, node);
  } else if (j.is_array() || j.is_object()) {
    for (auto& v : j) InterpolateJson(v, env, node);
  }
}

}  // namespace

TaskSpec Cluster::Impl::MakeSpec(NodeRec& n, const AllocRunner& ar, const TaskRunner& tr) {
  TaskSpec s;
  s.namespace_ = ar.view.namespace_;
  s.job_id = ar.view.job_id;
  s.group = ar.group;
  s.alloc_id = ar.id;
  s.alloc_name = ar.view.name;
  s.node_id = n.node.id;
  s.node_name = n.node.name;
  s.task = tr.task;
  s.attempt = tr.attempt;
  const std::string root = opts.alloc_root + "/" + ar.id;
  s.alloc_dir = root + "/alloc";
  s.task_dir = root + "/" + tr.task.name + "/local";
  s.secrets_dir = root + "/" + tr.task.name + "/secrets";
  s.env = tr.task.env;
  s.env["NOMAD_ADDR"] = opts.nomad_addr;
  s.env["NOMAD_ALLOC_ID"] = ar.id;
  s.env["NOMAD_ALLOC_NAME"] = ar.view.name;
  s.env["NOMAD_ALLOC_INDEX"] = std::to_string(NameIndex(ar.view.name));
  s.env["NOMAD_NAMESPACE"] = ar.view.namespace_;
  s.env["NOMAD_JOB_ID"] = ar.view.job_id;
  s.env["NOMAD_JOB_NAME"] = ar.job.name;
  s.env["NOMAD_GROUP_NAME"] = ar.group;
  s.env["NOMAD_TASK_NAME"] = tr.task.name;
  s.env["NOMAD_NODE_ID"] = n.node.id;
  s.env["NOMAD_DC"] = n.node.datacenter;
  s.env["NOMAD_REGION"] = opts.region;
  s.env["NOMAD_ALLOC_DIR"] = s.alloc_dir;
  s.env["NOMAD_TASK_DIR"] = s.task_dir;
  s.env["NOMAD_SECRETS_DIR"] = s.secrets_dir;
  if (tr.task.identity && tr.task.identity->env) {
    std::string& token = n.client->tokens[ar.id][tr.task.name];
    if (token.empty() && cluster.token_issuer_) {
      token = cluster.token_issuer_(ar.view.namespace_, ar.view.job_id, ar.group, tr.task.name,
                                    ar.id);
    }
    s.env["NOMAD_TOKEN"] = token;
    // client/taskenv/env.go sets NOMAD_UNIX_ADDR from 1.10.3 (absent @ v1.10.2).
    if (nomad::SetsUnixAddrEnv(core.Version())) {
      s.env["NOMAD_UNIX_ADDR"] = "unix://" + s.secrets_dir + "/api.sock";
    }
  }
  for (auto& [k, v] : s.env) v = Interpolate(v, s.env, n.node);
  if (!s.task.config.empty()) {
    nlohmann::json cfg = nlohmann::json::parse(s.task.config, nullptr, false);
    if (!cfg.is_discarded()) {
      InterpolateJson(cfg, s.env, n.node);
      s.task.config = cfg.dump();
    }
  }
  return s;
}

void Cluster::Impl::ScheduleGc() {
  if (gc_scheduled) return;
  gc_scheduled = true;
  After(0s, "program gc", [this] {
    gc_scheduled = false;
    graveyard.clear();
    ctx_graveyard.clear();
  });
}

void Cluster::Impl::Bury(TaskRunner& tr) {
  if (tr.ctx) {
    tr.ctx->End();
    ctx_graveyard.push_back(std::move(tr.ctx));
  }
  if (tr.program) graveyard.push_back(std::move(tr.program));
  ScheduleGc();
}

void Cluster::Impl::StartTask(NodeRec& n, AllocRunner& ar, TaskRunner& tr) {
  const size_t index = static_cast<size_t>(&tr - ar.tasks.data());
  TaskSpec spec = MakeSpec(n, ar, tr);
  if (!tr.started_ever) AppendEvent(tr, Event("Task Setup", "Building Task Directory"));
  tr.program = cluster.programs_.Create(spec);
  tr.ctx = std::make_unique<TaskCtx>(*this, n, ar.id, index, std::move(spec));
  tr.started_ever = true;
  tr.st.state = "running";
  tr.st.started_at = core.UnixNanos();
  StartRun(tr, ar, n.node.id);
  TaskCtx* ctx = tr.ctx.get();
  std::string err = tr.program->Start(*ctx);
  if (!err.empty()) {
    // Driver start failure: unrecoverable, the task fails without a restart.
    EndRun(tr, 0, 0, "start error");
    Bury(tr);
    TaskEvent df = Event("Driver Failure", err);
    df.fails_task = true;
    AppendEvent(tr, df);
    TaskEvent nr = Event("Not Restarting", "Error was unrecoverable");
    nr.fails_task = true;
    AppendEvent(tr, nr);
    tr.st.state = "dead";
    tr.st.finished_at = core.UnixNanos();
    MarkDirty(n, ar.id);
    return;
  }
  if (tr.ctx.get() == ctx && tr.st.state == "running") {
    AppendEvent(tr, Event("Started", "Task started by client"));
  }
  MarkDirty(n, ar.id);
}

void Cluster::Impl::KillTask(NodeRec& n, AllocRunner& ar, TaskRunner& tr, const TaskEvent* reason) {
  if (tr.st.state == "dead" || tr.killing) return;
  if (reason != nullptr) AppendEvent(tr, *reason);
  if (tr.restart_timer != 0) {
    n.clock->Cancel(tr.restart_timer);
    n.client->timers.erase(tr.restart_timer);
    tr.restart_timer = 0;
  }
  if (!tr.program) {
    // Not running (waiting to start or to restart): it simply ends.
    if (tr.started_ever) AppendEvent(tr, Event("Killed", "Task successfully killed"));
    tr.st.state = "dead";
    if (tr.started_ever) tr.st.finished_at = core.UnixNanos();
    MarkDirty(n, ar.id);
    return;
  }
  tr.killing = true;
  const Duration kt =
      std::min(tr.task.kill_timeout.value_or(kDefaultKillTimeout), opts.max_kill_timeout);
  TaskEvent killing = Event("Killing", "Sent interrupt. Waiting " + base::FormatDuration(kt) +
                                           " before force killing");
  killing.details["kill_timeout"] = base::FormatDuration(kt);
  AppendEvent(tr, killing);
  MarkDirty(n, ar.id);
  const size_t index = static_cast<size_t>(&tr - ar.tasks.data());
  const std::string node_id = n.node.id, alloc_id = ar.id;
  if (n.client->alive) {
    tr.kill_timer = ClientTimer(n, kt, "kill timeout", [this, node_id, alloc_id, index] {
      ForceKill(node_id, alloc_id, index);
    });
  }
  tr.program->Signal(SignalNumber(tr.task.kill_signal));  // may exit at once (re-entrant)
}

void Cluster::Impl::ForceKill(const std::string& node_id, const std::string& alloc_id,
                              size_t task_index) {
  NodeRec& n = nodes.at(node_id);
  if (!n.client) return;
  auto it = n.client->runners.find(alloc_id);
  if (it == n.client->runners.end()) return;
  AllocRunner& ar = *it->second;
  TaskRunner& tr = ar.tasks[task_index];
  tr.kill_timer = 0;
  if (!tr.killing || !tr.program) return;
  tr.program->Kill();
  HandleExit(n, ar, tr, 137, kSigKill, /*already_ended=*/false);
}

void Cluster::Impl::OnProgramExit(TaskCtx* ctx, int exit_code, int signal) {
  auto nit = nodes.find(ctx->node_id);
  if (nit == nodes.end() || !nit->second.client) return;
  NodeRec& n = nit->second;
  auto it = n.client->runners.find(ctx->alloc_id);
  if (it == n.client->runners.end()) return;
  AllocRunner& ar = *it->second;
  TaskRunner& tr = ar.tasks[ctx->index];
  if (tr.ctx.get() != ctx) return;
  if (!n.client->alive) {
    // Nobody is watching: the process is gone, the agent learns it when it comes back.
    EndRun(tr, exit_code, signal, "exited");
    Bury(tr);
    tr.detached_exit = {exit_code, signal};
    return;
  }
  HandleExit(n, ar, tr, exit_code, signal, /*already_ended=*/false);
}

void Cluster::Impl::HandleExit(NodeRec& n, AllocRunner& ar, TaskRunner& tr, int exit_code,
                               int signal, bool already_ended) {
  if (!already_ended) {
    EndRun(tr, exit_code, signal, tr.killing ? "killed" : "exited");
    Bury(tr);
  }
  std::string msg = "Exit Code: " + std::to_string(exit_code);
  if (signal != 0) msg += ", Signal: " + std::to_string(signal);
  TaskEvent term = Event("Terminated", msg);
  term.exit_code = exit_code;
  term.signal = signal;
  term.details["exit_code"] = std::to_string(exit_code);
  term.details["signal"] = std::to_string(signal);
  AppendEvent(tr, term);
  const int64_t now_unix = core.UnixNanos();
  if (tr.killing) {
    if (tr.kill_timer != 0) {
      n.clock->Cancel(tr.kill_timer);
      n.client->timers.erase(tr.kill_timer);
      tr.kill_timer = 0;
    }
    tr.killing = false;
    AppendEvent(tr, Event("Killed", "Task successfully killed"));
    tr.st.state = "dead";
    tr.st.finished_at = now_unix;
    MarkDirty(n, ar.id);
    Advance(n, ar);
    return;
  }
  if (ar.stopping) {
    tr.st.state = "dead";
    tr.st.finished_at = now_unix;
    MarkDirty(n, ar.id);
    Advance(n, ar);
    return;
  }
  // The restart tracker (client/allocrunner/taskrunner/restarts/restarts.go).
  const nomad::TaskGroup* tg = FindGroup(ar.job, ar.group);
  nomad::RestartPolicy policy;
  if (tr.task.restart_policy) {
    policy = *tr.task.restart_policy;
  } else if (tg != nullptr && tg->restart_policy) {
    policy = *tg->restart_policy;
  }
  bool on_success = ar.job.type != nomad::kJobTypeBatch && ar.job.type != "sysbatch";
  if (tr.task.lifecycle) {
    const std::string& hook = tr.task.lifecycle->hook;
    if (hook == "prestart" || hook == "poststart") on_success = tr.task.lifecycle->sidecar;
    if (hook == "poststop") on_success = false;
  }
  const bool success = exit_code == 0 && signal == 0;
  std::string state, reason;
  Duration delay{0};
  const TimePoint now = n.clock->Now();
  if (policy.attempts == 0) {
    reason = "Policy allows no restarts";
    state = (!on_success && success) ? "Terminated" : "Not Restarting";
  } else {
    if (now > tr.tracker_start + policy.interval) {
      tr.restart_count = 0;
      tr.tracker_start = now;
    }
    if (success && !on_success) {
      reason = "Restart unnecessary as task terminated successfully";
      state = "Terminated";
    } else {
      ++tr.restart_count;
      if (tr.restart_count > policy.attempts) {
        if (policy.mode == "fail") {
          reason = "Exceeded allowed attempts " + std::to_string(policy.attempts) +
                   " in interval " + base::FormatDuration(policy.interval) +
                   " and mode is \"fail\"";
          state = "Not Restarting";
        } else {
          reason = "Exceeded allowed attempts, applying a delay";
          state = "Restarting";
          delay = tr.tracker_start + policy.interval - now;
        }
      } else {
        reason = "Restart within policy";
        state = "Restarting";
        int64_t d = std::max<int64_t>(policy.delay.count(), 1);
        int64_t j = static_cast<int64_t>(
            static_cast<double>(core.Uniform(0, static_cast<uint64_t>(d) - 1)) * 0.25);
        delay = Duration(d + j);
      }
    }
  }
  if (state == "Terminated") {
    tr.st.state = "dead";
    tr.st.finished_at = now_unix;
  } else if (state == "Not Restarting") {
    TaskEvent nr = Event("Not Restarting", reason);
    nr.fails_task = true;
    nr.details["restart_reason"] = reason;
    AppendEvent(tr, nr);
    tr.st.state = "dead";
    tr.st.finished_at = now_unix;
  } else {
    TaskEvent rs = Event("Restarting", "Task restarting in " + base::FormatDuration(delay));
    rs.details["restart_reason"] = reason;
    rs.details["start_delay"] = std::to_string(delay.count());
    AppendEvent(tr, rs);
    tr.st.state = "pending";
    ++tr.attempt;
    const size_t index = static_cast<size_t>(&tr - ar.tasks.data());
    const std::string node_id = n.node.id, alloc_id = ar.id;
    tr.restart_timer = ClientTimer(n, delay, "restart " + tr.task.name,
                                   [this, node_id, alloc_id, index] {
                                     NodeRec& nn = nodes.at(node_id);
                                     if (!nn.client) return;
                                     auto it = nn.client->runners.find(alloc_id);
                                     if (it == nn.client->runners.end()) return;
                                     AllocRunner& a = *it->second;
                                     TaskRunner& t = a.tasks[index];
                                     t.restart_timer = 0;
                                     if (a.stopping || a.kill_issued || t.st.state == "dead") {
                                       return;
                                     }
                                     StartTask(nn, a, t);
                                     Advance(nn, a);
                                   });
  }
  MarkDirty(n, ar.id);
  Advance(n, ar);
}

void Cluster::Impl::StopAlloc(NodeRec& n, AllocRunner& ar) {
  if (ar.stopping) return;
  ar.stopping = true;
  // The leader first, then every other task but poststop ones (allocrunner killTasks).
  for (TaskRunner& tr : ar.tasks) {
    if (tr.task.leader && tr.kind != "poststop") KillTask(n, ar, tr, nullptr);
  }
  for (TaskRunner& tr : ar.tasks) {
    if (tr.kind != "poststop") KillTask(n, ar, tr, nullptr);
  }
  Advance(n, ar);
}

void Cluster::Impl::Advance(NodeRec& n, AllocRunner& ar) {
  if (ar.destroyed || !n.client) return;
  auto dead = [](const TaskRunner& t) { return t.st.state == "dead"; };
  // Leader / sibling / main-dead kills (allocrunner handleTaskStateUpdates).
  if (!ar.stopping && !ar.kill_issued) {
    std::vector<TaskRunner*> live;
    bool live_non_sidecar = false, has_sidecars = false;
    std::optional<TaskEvent> reason;
    for (TaskRunner& tr : ar.tasks) {
      if (IsSidecar(tr.task)) has_sidecars = true;
      if (tr.kind == "poststop") continue;
      if (!dead(tr)) {
        live.push_back(&tr);
        if (!IsSidecar(tr.task)) live_non_sidecar = true;
        continue;
      }
      if (tr.task.leader) {
        reason = Event("Leader Task Dead", "Leader Task in Group dead");
      } else if (tr.st.failed && !reason) {
        reason = Event("Sibling Task Failed", "Task's sibling \"" + tr.task.name + "\" failed");
        reason->details["failed_sibling"] = tr.task.name;
      }
    }
    if (!reason && has_sidecars && !live_non_sidecar) {
      reason = Event("Main Tasks Dead", "Main tasks in the group died");
    }
    if (reason && !live.empty()) {
      ar.kill_issued = true;
      for (TaskRunner* tr : live) KillTask(n, ar, *tr, &*reason);
    }
  }
  if (!ar.stopping && !ar.kill_issued) {
    bool prestart_done = true, main_started = true, any_main = false;
    for (TaskRunner& tr : ar.tasks) {
      if (tr.kind == "prestart" || tr.kind == "prestart-sidecar") {
        if (!tr.started_ever && !dead(tr)) StartTask(n, ar, tr);
      }
    }
    for (const TaskRunner& tr : ar.tasks) {
      if (tr.kind == "prestart" && !(dead(tr) && !tr.st.failed)) prestart_done = false;
      if (tr.kind == "prestart-sidecar" && tr.st.state != "running") prestart_done = false;
    }
    if (prestart_done && !ar.kill_issued) {
      for (TaskRunner& tr : ar.tasks) {
        if (tr.kind == "main" && !tr.started_ever && !dead(tr)) StartTask(n, ar, tr);
      }
    }
    for (const TaskRunner& tr : ar.tasks) {
      if (tr.kind != "main") continue;
      any_main = true;
      if (!tr.started_ever) main_started = false;
    }
    if (any_main && main_started && prestart_done && !ar.stopping && !ar.kill_issued) {
      for (TaskRunner& tr : ar.tasks) {
        if (tr.kind == "poststart" && !tr.started_ever && !dead(tr)) StartTask(n, ar, tr);
      }
    }
  }
  // Poststop tasks run once everything else is dead.
  bool others_dead = true, any_poststop = false;
  for (const TaskRunner& tr : ar.tasks) {
    if (tr.kind == "poststop") {
      any_poststop = true;
    } else if (!dead(tr)) {
      others_dead = false;
    }
  }
  if (any_poststop && others_dead) {
    for (TaskRunner& tr : ar.tasks) {
      if (tr.kind == "poststop" && !tr.started_ever && !dead(tr)) StartTask(n, ar, tr);
    }
  }
  UpdateClientStatus(n, ar);
}

void Cluster::Impl::UpdateClientStatus(NodeRec& n, AllocRunner& ar) {
  bool pending = false, running = false, dead = false, failed = false;
  ar.view.task_states.clear();
  for (const TaskRunner& tr : ar.tasks) {
    ar.view.task_states[tr.task.name] = tr.st;
    if (tr.st.state == "running") {
      running = true;
    } else if (tr.st.state == "pending") {
      pending = true;
    } else if (tr.st.state == "dead") {
      (tr.st.failed ? failed : dead) = true;
    }
  }
  std::string status, desc;
  if (failed) {
    status = nomad::kClientFailed;
    desc = "Failed tasks";
  } else if (running) {
    status = nomad::kClientRunning;
    desc = "Tasks are running";
  } else if (pending) {
    status = nomad::kClientPending;
    desc = "No tasks have started";
  } else if (dead) {
    status = nomad::kClientComplete;
    desc = "All tasks have completed";
  }
  if (status != ar.view.client_status || desc != ar.view.client_description) {
    ar.view.client_status = status;
    ar.view.client_description = desc;
  }
  MarkDirty(n, ar.id);
}

void Cluster::Impl::CrashPrograms(NodeRec& n, const std::string& reason) {
  if (!n.client) return;
  for (auto& [id, ar] : n.client->runners) {
    ar->destroyed = true;
    for (TaskRunner& tr : ar->tasks) {
      if (tr.program) {
        tr.program->Kill();
        EndRun(tr, 137, kSigKill, reason);
        Bury(tr);
      }
    }
  }
}

// ---- Public API pieces that live with the client ------------------------------------------------

Status Cluster::FailTask(const std::string& alloc_id, const std::string& task, int exit_code) {
  auto a = impl_->allocs.find(alloc_id);
  if (a == impl_->allocs.end()) return Status::NotFound("allocation not found");
  Impl::NodeRec& n = impl_->nodes.at(a->second.a.node_id);
  if (!n.client) return Status::Conflict("task is not running");
  auto it = n.client->runners.find(alloc_id);
  if (it == n.client->runners.end()) return Status::Conflict("task is not running");
  Impl::AllocRunner& ar = *it->second;
  for (Impl::TaskRunner& tr : ar.tasks) {
    if (tr.task.name != task) continue;
    if (!tr.program) return Status::Conflict("task is not running");
    tr.program->Kill();
    if (!n.client->alive) {
      impl_->EndRun(tr, exit_code, 0, "exited");
      impl_->Bury(tr);
      tr.detached_exit = {exit_code, 0};
      return Status::Ok();
    }
    impl_->HandleExit(n, ar, tr, exit_code, 0, /*already_ended=*/false);
    return Status::Ok();
  }
  return Status::NotFound("task not found");
}

}  // namespace nsg::sim
