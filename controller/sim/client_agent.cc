// The client agent of the Nomad model, one per node: its timers on the node's clock, heartbeats
// and their retry, stop_on_client_after (client/heartbeatstop.go), alloc pulls and the status sync
// that reports the alloc runners' changes to the servers. The alloc runners are in
// alloc_runner.cc.
#include <algorithm>

#include "controller/base/duration.h"
#include "controller/sim/cluster.h"
#include "controller/sim/cluster_impl.h"
#include "controller/sim/job_rules.h"

namespace nsg::sim {

using namespace std::chrono_literals;

namespace {

constexpr Duration kRegisterRetry = 15s;

std::optional<Duration> StopAfter(const nomad::Job& job, const std::string& group) {
  const nomad::TaskGroup* tg = FindGroup(job, group);
  if (tg == nullptr || !tg->disconnect || !tg->disconnect->stop_on_client_after) {
    return std::nullopt;
  }
  if (tg->disconnect->stop_on_client_after->count() <= 0) return std::nullopt;
  return *tg->disconnect->stop_on_client_after;
}

}  // namespace

// ---- Agent: timers, heartbeats, pulls, sync -----------------------------------------------------

NodeClock::TimerId Cluster::Impl::ClientTimer(NodeRec& n, Duration d, std::string label,
                                              std::function<void()> fn) {
  auto holder = std::make_shared<NodeClock::TimerId>(0);
  Client* c = n.client.get();
  NodeClock::TimerId id = n.clock->After(d, std::move(label), [c, holder, f = std::move(fn)] {
    c->timers.erase(*holder);
    f();
  });
  *holder = id;
  c->timers.insert(id);
  return id;
}

void Cluster::Impl::CancelClientTimers(NodeRec& n) {
  if (!n.client) return;
  for (NodeClock::TimerId id : n.client->timers) n.clock->Cancel(id);
  n.client->timers.clear();
  n.client->hb_timer = n.client->stop_timer = n.client->sync_timer = 0;
  for (auto& [id, ar] : n.client->runners) {
    for (TaskRunner& tr : ar->tasks) tr.restart_timer = tr.kill_timer = 0;
  }
}

void Cluster::Impl::StartClient(NodeRec& n, bool fresh) {
  if (fresh || !n.client) n.client = std::make_unique<Client>();
  Client& c = *n.client;
  c.alive = true;
  c.last_ok = n.clock->Now();  // heartbeatstop's start-up grace: start + stop_on_client_after
  const std::string node_id = n.node.id;
  ClientHeartbeat(node_id);
  c.stop_timer = ClientTimer(n, 0s, "heartbeatstop", [this, node_id] { StopAfterTick(node_id); });
  if (fresh) {
    SchedulePull(node_id);
    return;
  }
  // Re-attach to the runners that survived the agent crash.
  std::vector<std::string> ids;
  for (const auto& [id, ar] : c.runners) ids.push_back(id);
  for (const std::string& id : ids) {
    auto it = c.runners.find(id);
    if (it == c.runners.end()) continue;
    AllocRunner& ar = *it->second;
    for (size_t i = 0; i < ar.tasks.size(); ++i) {
      TaskRunner& tr = ar.tasks[i];
      if (tr.detached_exit) {
        auto [code, sig] = *tr.detached_exit;
        tr.detached_exit.reset();
        HandleExit(n, ar, tr, code, sig, /*already_ended=*/true);
      } else if (tr.killing && tr.program) {
        Duration kt = std::min(tr.task.kill_timeout.value_or(kDefaultKillTimeout),
                               opts.max_kill_timeout);
        const std::string aid = ar.id;
        tr.kill_timer = ClientTimer(n, kt, "kill timeout",
                                    [this, node_id, aid, i] { ForceKill(node_id, aid, i); });
      } else if (tr.st.state == "pending" && tr.started_ever && !tr.program) {
        // A restart was due while the agent was down: start it now.
        StartTask(n, ar, tr);
      }
    }
    MarkDirty(n, id);
    Advance(n, ar);
  }
  SchedulePull(node_id);
}

Duration Cluster::Impl::HeartbeatRetryInterval(NodeRec& n) {
  Client& c = *n.client;
  auto stagger = [this](Duration d) { return core.Jitter(d); };
  if (!c.have_heartbeated) return kRegisterRetry + stagger(kRegisterRetry);
  Duration left = (c.last_ok + c.ttl) - n.clock->Now();
  if (left < -30s) {
    left = -left;
  } else if (left.count() < 0) {
    return 1s + stagger(1s);
  }
  Duration s = stagger(left);
  if (s < 1s) return 1s + stagger(1s);
  if (s > 30s) return 25s + stagger(5s);
  return s;
}

void Cluster::Impl::ClientHeartbeat(const std::string& node_id) {
  NodeRec& n = nodes.at(node_id);
  if (!n.client || !n.client->alive || n.crashed) return;
  Client& c = *n.client;
  c.hb_timer = 0;
  if (n.partitioned) {
    c.hb_timer = ClientTimer(n, HeartbeatRetryInterval(n), "heartbeat retry",
                             [this, node_id] { ClientHeartbeat(node_id); });
    return;
  }
  const bool rejoining = n.node.status != nomad::kNodeReady;
  Duration ttl = ServerHeartbeat(node_id);
  c.last_ok = n.clock->Now();
  c.have_heartbeated = true;
  c.ttl = ttl;
  if (rejoining) {
    // The client re-sends every alloc's state (AllocRunner.Reconnect), then turns ready.
    for (const auto& [id, ar] : c.runners) c.dirty.insert(id);
    ClientFlush(node_id);
    SetNodeStatus(n, nomad::kNodeReady, "");
    SchedulePull(node_id);
  } else if (!c.dirty.empty()) {
    ClientFlush(node_id);
  }
  if (!n.client || !n.client->alive) return;
  c.hb_timer = ClientTimer(n, ttl, "heartbeat", [this, node_id] { ClientHeartbeat(node_id); });
}

void Cluster::Impl::StopAfterTick(const std::string& node_id) {
  NodeRec& n = nodes.at(node_id);
  if (!n.client || !n.client->alive) return;
  Client& c = *n.client;
  c.stop_timer = 0;
  Duration interval = 5s;
  std::vector<std::string> due;
  const TimePoint now = n.clock->Now();
  for (const auto& [id, ar] : c.runners) {
    if (ar->stopping || ar->destroyed) continue;
    auto d = StopAfter(ar->job, ar->group);
    if (!d) continue;
    interval = std::min(interval, *d);
    if (now > c.last_ok + *d) due.push_back(id);
  }
  for (const std::string& id : due) {
    auto it = c.runners.find(id);
    if (it != c.runners.end()) StopAlloc(n, *it->second);
  }
  if (!n.client || !n.client->alive) return;
  c.stop_timer =
      ClientTimer(n, interval, "heartbeatstop", [this, node_id] { StopAfterTick(node_id); });
}

void Cluster::Impl::SchedulePull(const std::string& node_id) {
  auto it = nodes.find(node_id);
  if (it == nodes.end() || !it->second.client) return;
  it->second.client->pull_all = true;
  SchedulePull(node_id, {});
}

void Cluster::Impl::SchedulePull(const std::string& node_id,
                                 const std::set<std::string>& alloc_ids) {
  auto it = nodes.find(node_id);
  if (it == nodes.end()) return;
  NodeRec& n = it->second;
  if (!n.client) return;
  Client& c = *n.client;
  if (!c.alive || n.partitioned) {
    c.pull_all = true;  // its next pull (start, heal) reads everything
    c.pull_ids.clear();
    return;
  }
  if (!c.pull_all) c.pull_ids.insert(alloc_ids.begin(), alloc_ids.end());
  if (c.pull_pending) return;
  c.pull_pending = true;
  After(opts.client_pull_latency, "client pull " + n.node.name,
        [this, node_id] { ClientPull(node_id); });
}

void Cluster::Impl::ClientPull(const std::string& node_id) {
  NodeRec& n = nodes.at(node_id);
  if (!n.client) return;
  Client& c = *n.client;
  c.pull_pending = false;
  if (!c.alive || n.partitioned) {
    c.pull_all = true;
    c.pull_ids.clear();
    return;
  }
  std::vector<const AllocRec*> mine;
  if (c.pull_all) {
    for (const std::string& id : AllocsOnNode(node_id)) mine.push_back(&allocs.at(id));
  } else {
    for (const std::string& id : c.pull_ids) {
      auto a = allocs.find(id);
      if (a != allocs.end() && a->second.a.node_id == node_id) mine.push_back(&a->second);
    }
  }
  c.pull_all = false;
  c.pull_ids.clear();
  std::sort(mine.begin(), mine.end(), [](const AllocRec* a, const AllocRec* b) {
    return a->a.create_index < b->a.create_index;
  });
  for (const AllocRec* r : mine) {
    if (!n.client) return;
    auto it = n.client->runners.find(r->a.id);
    if (it != n.client->runners.end()) {
      AllocRunner& ar = *it->second;
      ar.view.desired_status = r->a.desired_status;
      ar.view.desired_description = r->a.desired_description;
      ar.view.desired_transition = r->a.desired_transition;
      // In-place updates. A stored version never changes, so the runner's copy is current when
      // it has the allocation's version (copying every runner's job on every pull was a fifth
      // of the simulator's samples at 10k allocations, issue 17).
      if (ar.job.version != r->a.job_version || ar.job.create_index != r->job_create_index) {
        if (const nomad::Job* j = AllocJob(*r)) ar.job = *j;
      }
      if (r->a.desired_status != nomad::kDesiredRun && !ar.stopping) StopAlloc(n, ar);
      continue;
    }
    const bool server_terminal = r->a.client_status == nomad::kClientComplete ||
                                 r->a.client_status == nomad::kClientFailed ||
                                 r->a.client_status == nomad::kClientLost;
    if (r->a.desired_status == nomad::kDesiredRun && !server_terminal) NewRunner(n, *r);
  }
}

void Cluster::Impl::MarkDirty(NodeRec& n, const std::string& alloc_id) {
  if (!n.client) return;
  Client& c = *n.client;
  c.dirty.insert(alloc_id);
  if (c.alive && c.sync_timer == 0) {
    const std::string node_id = n.node.id;
    c.sync_timer = ClientTimer(n, opts.client_sync_interval, "alloc sync",
                               [this, node_id] {
                                 nodes.at(node_id).client->sync_timer = 0;
                                 ClientFlush(node_id);
                               });
  }
}

void Cluster::Impl::ClientFlush(const std::string& node_id) {
  NodeRec& n = nodes.at(node_id);
  if (!n.client || !n.client->alive || n.partitioned || n.crashed) return;
  Client& c = *n.client;
  if (c.sync_timer != 0) {
    n.clock->Cancel(c.sync_timer);
    c.timers.erase(c.sync_timer);
    c.sync_timer = 0;
  }
  if (c.dirty.empty()) return;
  // Node.UpdateAlloc refuses updates from a node the server considers down or disconnected.
  if (n.node.status == nomad::kNodeDown || n.node.status == nomad::kNodeDisconnected) return;
  std::vector<Allocation> updates;
  for (const std::string& id : c.dirty) {
    auto it = c.runners.find(id);
    if (it != c.runners.end()) updates.push_back(it->second->view);
  }
  c.dirty.clear();
  ApplyClientUpdates(node_id, std::move(updates));
}

}  // namespace nsg::sim
