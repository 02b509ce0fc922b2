// Shared fixtures for the reconcile tests: a rendered singleton, the job as Nomad would answer it,
// allocations, and a "healthy" world (job registered by us, one holder running). Test-only.
#pragma once

#include <cstdint>
#include <string>

#include "controller/nomad/allocation.h"
#include "controller/nomad/job.h"
#include "controller/reconcile/plan.h"
#include "controller/render/job_renderer.h"
#include "controller/spec/singleton.h"

namespace nsg::reconcile::testing {

inline constexpr char kKey[] = "prod/billing";
inline constexpr char kLockPath[] = "nomad/jobs/billing/lock";

// prod/billing: raw_exec workload "main" with Env APP_MODE=prod, `standby` standbys, lock mode
// `mode` (sidecar | shim | split); a non-empty `schedule` makes it periodic.
spec::Singleton Billing(int standby = 0, const std::string& mode = "sidecar",
                        const std::string& schedule = "");
render::Rendered RenderOrDie(const spec::Singleton& s);

// `rendered` as GET /v1/job/:id answers after a register at `job_modify_index`: the server's
// defaults and extra fields filled in (NodePool "default", default identity name and audience,
// EphemeralDisk, Update, DiskMB, a merged workload RestartPolicy), Status running.
nomad::Job ServerJob(const nomad::Job& rendered, uint64_t job_modify_index);

nomad::Allocation Alloc(const std::string& id, const std::string& client_status,
                        uint64_t create_index, const std::string& node = "n1",
                        const std::string& desired_status = nomad::kDesiredRun);

// The world the Plan tests start from: spec valid; job ours at JobModifyIndex 20 (written by us);
// policy as rendered; allocation a1 (CreateIndex 30, node n1) running and holding the lock at
// epoch 40; standbys s0, s1, ... (CreateIndex 31, 32, ..., node n2) running; both nodes ready.
struct World {
  spec::Singleton spec;
  Desired desired;
  Observed observed;
  PlanOptions options;

  nomad::Job& job() { return *observed.job; }
  nomad::TaskGroup& group() { return observed.job->task_groups[0]; }
  nomad::Task& task(const std::string& name);  // of the observed job; fails the test if missing
  nomad::Allocation& alloc(const std::string& id);
};

World Healthy(int standby = 0);

// The child job ID of a periodic billing run launched at `launch` (unix seconds).
std::string RunJobId(int64_t launch);

// A periodic billing (shim mode, schedule "30 2 * * *") between runs: the parent job ours at
// JobModifyIndex 20, no allocations of its own; the last run's allocation r0 (job
// RunJobId(1724000000), CreateIndex 30, node n1) complete; the lock free, r0 its past holder at
// epoch 40 (and Memory::last_holder).
World HealthyPeriodic();

}  // namespace nsg::reconcile::testing
