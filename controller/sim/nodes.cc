// Nodes in the Nomad model, as the servers see them: each node's client clock (NodeClock, with
// clock-rate skew), heartbeats and their TTLs, node status (down, disconnected, ready) and the
// evaluations it triggers, the allocation updates clients send, and the public node API with its
// faults (crash, client crash, partition, heal, restart, leadership loss, clock skew).
#include <algorithm>
#include <cmath>

#include "controller/sim/cluster.h"
#include "controller/sim/cluster_impl.h"

namespace nsg::sim {

// ---- NodeClock ----------------------------------------------------------------------------------

NodeClock::~NodeClock() {
  for (auto& [id, t] : timers_) core_.Cancel(t.core_id);
}

TimePoint NodeClock::Now() const {
  Duration real = core_.Now() - base_global_;
  if (rate_ == 1.0) return base_local_ + real;
  return base_local_ + Duration(static_cast<int64_t>(std::llround(real.count() * rate_)));
}

void NodeClock::Arm(TimerId id, Timer& t) {
  Duration local_left = t.local_due - Now();
  if (local_left.count() < 0) local_left = Duration(0);
  Duration real = rate_ == 1.0 ? local_left
                               : Duration(static_cast<int64_t>(
                                     std::ceil(static_cast<double>(local_left.count()) / rate_)));
  t.core_id = core_.After(real, t.label, [this, id] {
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    std::function<void()> fn = std::move(it->second.fn);
    timers_.erase(it);
    fn();
  });
}

void NodeClock::SetRate(double rate) {
  base_local_ = Now();
  base_global_ = core_.Now();
  rate_ = rate;
  for (auto& [id, t] : timers_) {
    core_.Cancel(t.core_id);
    Arm(id, t);
  }
}

NodeClock::TimerId NodeClock::After(Duration local_delay, std::string label,
                                    std::function<void()> fn) {
  TimerId id = next_id_++;
  Timer& t = timers_[id];
  t.local_due = Now() + local_delay;
  t.label = std::move(label);
  t.fn = std::move(fn);
  Arm(id, t);
  return id;
}

void NodeClock::Cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  core_.Cancel(it->second.core_id);
  timers_.erase(it);
}

// ---- Heartbeats (server side) -------------------------------------------------------------------

void Cluster::Impl::ArmServerTimer(NodeRec& n, Duration d) {
  if (n.server_timer) core.Cancel(*n.server_timer);
  n.server_deadline = core.Now() + d;
  std::string id = n.node.id;
  n.server_timer = After(d, "heartbeat " + n.node.name, [this, id] {
    nodes.at(id).server_timer.reset();
    InvalidateHeartbeat(id);
  });
}

Duration Cluster::Impl::ServerHeartbeat(const std::string& node_id) {
  NodeRec& n = nodes.at(node_id);
  Duration ttl = opts.min_heartbeat_ttl;
  Duration rate_scaled(static_cast<int64_t>(static_cast<double>(nodes.size()) /
                                            opts.max_heartbeats_per_second * 1e9));
  ttl = std::max(ttl, rate_scaled);
  ttl += core.Jitter(ttl);
  ArmServerTimer(n, ttl + opts.heartbeat_grace);
  n.last_hb_server = core.Now();
  if (n.node.status == nomad::kNodeDown || n.node.status == nomad::kNodeDisconnected) {
    SetNodeStatus(n, nomad::kNodeInitializing, "");
  }
  return ttl;
}

bool Cluster::Impl::NodeHasDisconnectableAllocs(const std::string& node_id) const {
  const TimePoint now = core.Now();
  for (const std::string& id : AllocsOnNode(node_id)) {
    const AllocRec& r = allocs.at(id);
    if (r.a.desired_status != nomad::kDesiredRun || ClientTerminal(r.a.client_status)) {
      continue;
    }
    const Job* aj = AllocJob(r);
    const nomad::TaskGroup* tg = aj != nullptr ? FindGroup(*aj, r.a.task_group) : nullptr;
    if (tg == nullptr || !tg->disconnect || tg->disconnect->lost_after.count() <= 0) continue;
    if (r.a.client_status == nomad::kClientUnknown) {
      int64_t since = 0;
      for (const auto& s : r.a.alloc_states) {
        if (s.field == "ClientStatus" && s.value == nomad::kClientUnknown) since = s.time;
      }
      if (since != 0 && FromUnix(core, since) + tg->disconnect->lost_after <= now) continue;
    }
    return true;
  }
  return false;
}

void Cluster::Impl::InvalidateHeartbeat(const std::string& node_id) {
  NodeRec& n = nodes.at(node_id);
  if (n.node.status == nomad::kNodeDown) return;
  if (NodeHasDisconnectableAllocs(node_id)) {
    // A disconnected node keeps a heartbeat timer; when it fires with nothing left to wait for,
    // the node goes down.
    Duration ttl = std::max(opts.min_heartbeat_ttl,
                            Duration(static_cast<int64_t>(static_cast<double>(nodes.size()) /
                                                          opts.max_heartbeats_per_second * 1e9)));
    ArmServerTimer(n, ttl + core.Jitter(ttl) + opts.heartbeat_grace);
    SetNodeStatus(n, nomad::kNodeDisconnected, "");
    return;
  }
  SetNodeStatus(n, nomad::kNodeDown, "");
}

void Cluster::Impl::SetNodeStatus(NodeRec& n, const std::string& status, const std::string& desc) {
  if (n.node.status == status) return;
  Write w = Begin("NodeStreamEvent");
  n.node.status = status;
  n.node.status_description = desc;
  n.node.status_updated_at = core.UnixNanos() / 1000000000;
  n.node.modify_index = w.index;
  w.nodes.push_back(n.node.id);
  Commit(w);
  if (status == nomad::kNodeDown || status == nomad::kNodeDisconnected ||
      status == nomad::kNodeReady) {
    CreateNodeEvals(n.node.id, "node-update");
  }
  if (status == nomad::kNodeReady) UnblockEvals();
}

// ---- Client updates (server side) ---------------------------------------------------------------

void Cluster::Impl::ApplyClientUpdates(const std::string& node_id,
                                       std::vector<Allocation> updates) {
  if (updates.empty()) return;
  Write w = Begin("AllocationUpdated");
  const int64_t now_unix = core.UnixNanos();
  std::map<JobKey, std::string> eval_triggers;
  for (const Allocation& u : updates) {
    auto it = allocs.find(u.id);
    if (it == allocs.end() || it->second.a.node_id != node_id) continue;
    AllocRec& r = it->second;
    const bool was_unknown = r.a.client_status == nomad::kClientUnknown;
    r.a.client_status = u.client_status;
    r.a.client_description = u.client_description;
    r.a.task_states = u.task_states;
    r.a.modify_index = w.index;
    r.a.modify_time = now_unix;
    w.allocs.push_back(r.a.id);
    const JobKey k{r.a.namespace_, r.a.job_id};
    if (was_unknown && u.client_status != nomad::kClientUnknown &&
        r.a.desired_status == nomad::kDesiredRun) {
      r.reconnect_pending = true;
      r.a.alloc_states.push_back({"ClientStatus", u.client_status, now_unix});
      eval_triggers[k] = "reconnect";
    }
    if (u.client_status == nomad::kClientFailed && r.a.desired_status == nomad::kDesiredRun &&
        !eval_triggers.count(k)) {
      eval_triggers[k] = "alloc-failure";
    }
  }
  for (const auto& [k, trigger] : eval_triggers) {
    auto j = jobs.find(k);
    if (j == jobs.end()) continue;
    Evaluation& e = NewEval(w, k.first, k.second, j->second.job.priority, j->second.job.type,
                            trigger, node_id);
    w.enqueue.push_back(e.id);
  }
  Commit(w);
}

std::string Cluster::AddNode(const NodeSpec& spec) {
  Impl::NodeRec n;
  n.node.id = core_.NewUuid();
  const size_t number = impl_->nodes.size() + 1;
  n.node.name = spec.name.empty() ? "node-" + std::to_string(number) : spec.name;
  n.node.datacenter = spec.datacenter;
  n.node.node_pool = spec.node_pool;
  n.node.address = "10.0." + std::to_string(number / 250) + "." + std::to_string(number % 250 + 1);
  n.node.status = nomad::kNodeInitializing;
  n.clock = std::make_unique<NodeClock>(core_);
  const std::string id = n.node.id;
  Impl::Write w = impl_->Begin("NodeRegistration");
  n.node.create_index = n.node.modify_index = w.index;
  n.node.status_updated_at = core_.UnixNanos() / 1000000000;
  impl_->nodes.emplace(id, std::move(n));
  impl_->node_order.push_back(id);
  w.nodes.push_back(id);
  impl_->Commit(w);
  impl_->StartClient(impl_->nodes.at(id), /*fresh=*/true);
  return id;
}

std::optional<nomad::Node> Cluster::GetNode(const std::string& node_id) const {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return std::nullopt;
  return it->second.node;
}

std::vector<nomad::Node> Cluster::ListNodes(const std::string& prefix) const {
  std::vector<nomad::Node> out;
  for (const std::string& id : impl_->node_order) {
    if (id.rfind(prefix, 0) == 0) out.push_back(impl_->nodes.at(id).node);
  }
  return out;
}

Status Cluster::CrashNode(const std::string& node_id) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  Impl::NodeRec& n = it->second;
  if (n.crashed) return Status::Ok();
  n.crashed = true;
  if (n.client) {
    impl_->CrashPrograms(n, "node crashed");
    impl_->CancelClientTimers(n);
    n.client.reset();
  }
  return Status::Ok();
}

Status Cluster::CrashClient(const std::string& node_id) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  Impl::NodeRec& n = it->second;
  if (n.crashed || n.client_crashed) return Status::Ok();
  n.client_crashed = true;
  if (n.client) {
    n.client->alive = false;
    impl_->CancelClientTimers(n);
  }
  return Status::Ok();
}

Status Cluster::Partition(const std::string& node_id) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  it->second.partitioned = true;
  return Status::Ok();
}

Status Cluster::Heal(const std::string& node_id) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  it->second.partitioned = false;
  // Blocking queries and pending alloc updates resume at once; heartbeats at the next retry.
  impl_->SchedulePull(node_id);
  if (it->second.client && it->second.client->alive) impl_->ClientFlush(node_id);
  return Status::Ok();
}

Status Cluster::RestartNode(const std::string& node_id) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  Impl::NodeRec& n = it->second;
  if (n.crashed) {
    n.crashed = false;
    n.client_crashed = false;
    impl_->StartClient(n, /*fresh=*/true);
    return Status::Ok();
  }
  if (n.client_crashed) {
    n.client_crashed = false;
    impl_->StartClient(n, /*fresh=*/false);
    return Status::Ok();
  }
  return Status::Conflict("node is running");
}

void Cluster::LoseLeadership() {
  for (const std::string& id : impl_->node_order) {
    Impl::NodeRec& n = impl_->nodes.at(id);
    if (n.node.status == nomad::kNodeDown) continue;
    impl_->ArmServerTimer(n, opts_.failover_heartbeat_ttl);
  }
}

Status Cluster::SkewClock(const std::string& node_id, double rate) {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return Status::NotFound("node not found");
  if (!(rate > 0)) return Status::InvalidSpec("clock rate must be > 0");
  it->second.clock->SetRate(rate);
  return Status::Ok();
}

std::optional<std::string> Cluster::NodeOfAlloc(const std::string& alloc_id) const {
  auto it = impl_->allocs.find(alloc_id);
  if (it == impl_->allocs.end()) return std::nullopt;
  return it->second.a.node_id;
}

bool Cluster::IsPartitioned(const std::string& node_id) const {
  auto it = impl_->nodes.find(node_id);
  return it != impl_->nodes.end() && it->second.partitioned;
}

bool Cluster::IsReachable(const std::string& node_id) const {
  auto it = impl_->nodes.find(node_id);
  if (it == impl_->nodes.end()) return false;
  const Impl::NodeRec& n = it->second;
  return !n.crashed && !n.client_crashed && !n.partitioned && n.client && n.client->alive;
}

std::vector<std::string> Cluster::NodeIds() const { return impl_->node_order; }

}  // namespace nsg::sim
