// Deployments: the simulator's model of Nomad's deployments, as far as allocation health goes
// (issue 11, item 6: a split-mode standby waits in its prestart task forever, never turns healthy,
// and so fails every deployment of its job).
//
// What Nomad does (v1.10.2–v2.0.5) and what is modelled:
//   * The scheduler creates a deployment for a new job version whose group has an update strategy
//     (UpdateStrategy.IsEmpty: MaxParallel 0 means none) and a desired count above 0
//     (scheduler/reconcile.go createDeployment); a newer version cancels the running one
//     ("Cancelled due to newer version of job"), a stopped job cancels it too.
//   * The client marks each allocation of the deployment healthy once no task (poststop aside)
//     is pending or failed, no main task has finished, and all have run for MinHealthyTime since
//     the latest start; unhealthy when one fails or HealthyDeadline passes first
//     (client/allochealth/tracker.go). Service checks are not modelled: health_check "checks"
//     behaves as "task_states" (a task group without services does the same in Nomad).
//   * The deployment is successful when every group has DesiredTotal healthy allocations; it
//     fails when ProgressDeadline passes without that ("Failed due to progress deadline"), or at
//     the first unhealthy allocation when ProgressDeadline is 0 ("Failed due to unhealthy
//     allocations"). Each healthy allocation moves RequireProgressBy forward.
// Not modelled: placement is not throttled by MaxParallel (the cluster model replaces allocations
// at once), no auto-revert, no canaries or promotion, no Deployment events, and deployment changes
// take the index of the write that caused them (they add no Raft index of their own).
//
// Fed by the event broker (Job and Allocation topics) through Pump(), which the router calls after
// every publish. Single-threaded like the rest of the model.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/base/duration.h"
#include "controller/sim/cluster.h"
#include "controller/sim/sim_core.h"

namespace nsg::sim {

struct DeploymentGroup {
  bool auto_revert = false;
  base::Duration progress_deadline{0};
  int64_t require_progress_by = 0;  // unix ns; 0 without a progress deadline
  int desired_total = 0;
  int placed = 0, healthy = 0, unhealthy = 0;
};

struct Deployment {
  std::string id, namespace_, job_id;
  uint64_t job_version = 0, job_modify_index = 0, job_create_index = 0;
  std::map<std::string, DeploymentGroup> groups;
  std::string status = "running";  // running | successful | failed | cancelled
  std::string status_description = "Deployment is running";
  int priority = 50;
  uint64_t create_index = 0, modify_index = 0;
  int64_t create_time = 0, modify_time = 0;  // unix ns
};

class Deployments {
 public:
  Deployments(SimCore& core, Cluster& cluster);
  ~Deployments();
  Deployments(const Deployments&) = delete;
  Deployments& operator=(const Deployments&) = delete;

  // Reads what the broker queued since the last call. Never re-entrant into the router.
  void Pump();

  // The job's deployments, newest first (GET /v1/job/:id/deployments), and the newest.
  std::vector<Deployment> ForJob(const std::string& ns, const std::string& job_id) const;
  std::optional<Deployment> Latest(const std::string& ns, const std::string& job_id) const;
  // An allocation's health as its client reported it: nullopt while undecided or outside a
  // deployment.
  std::optional<bool> AllocHealthy(const std::string& alloc_id) const;
  // The highest ModifyIndex of the job's deployments (1 when it has none).
  uint64_t JobIndex(const std::string& ns, const std::string& job_id) const;

  // The API's JSON for one deployment (structs.Deployment field names).
  static std::string Encode(const Deployment& d);

 private:
  struct Tracked {  // one allocation of a running deployment
    std::string deployment_id, group;
    std::map<std::string, std::string> hooks;  // task → lifecycle hook ("" for a main task)
    base::Duration min_healthy{0};
    int64_t all_started_at = 0;  // unix ns of the latest task start, 0 while one is pending
    SimCore::TimerId healthy_timer = 0, deadline_timer = 0;
  };
  void OnJob(const nomad::Event& ev, uint64_t index);
  void OnAlloc(const nomad::Allocation& a, uint64_t index);
  void Evaluate(const nomad::Allocation& a, uint64_t index);
  // Records the client's verdict, moves the deployment on; erases `t` (do not use it after).
  void SetHealth(Tracked& t, const std::string& alloc_id, bool healthy, uint64_t index);
  void Finish(Deployment& d, const std::string& status, const std::string& why, uint64_t index);
  // allocs_ and its index change only through these.
  Tracked& Track(const std::string& alloc_id, Tracked t);
  void Untrack(std::map<std::string, Tracked>::iterator it);
  void ArmProgress(Deployment& d, DeploymentGroup& g);
  Deployment* Running(const std::string& ns, const std::string& job_id);
  SimCore::TimerId Timer(base::Duration d, const char* label, std::function<void()> fn);
  void CancelTimer(SimCore::TimerId& id);

  SimCore& core_;
  Cluster& cluster_;
  uint64_t sub_ = 0;
  std::map<std::string, Deployment> by_id_;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> by_job_;  // oldest first
  std::map<std::string, Tracked> allocs_;  // allocations of running deployments
  // allocs_ by deployment ID (Finish touches its own, not every tracked allocation).
  std::map<std::string, std::set<std::string>> allocs_by_deployment_;
  std::map<std::string, bool> decided_;    // alloc → health, once decided
  std::set<SimCore::TimerId> timers_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace nsg::sim
