#include "tests/reconcile/fixtures.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <utility>

#include "controller/spec/loader.h"

namespace nsg::reconcile::testing {

using namespace std::chrono_literals;

spec::Singleton Billing(int standby, const std::string& mode, const std::string& schedule) {
  const std::string yaml = R"(apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata:
  name: billing
  namespace: prod
spec:
  datacenters: ["dc1"])" + (schedule.empty() ? "" : "\n  schedule: \"" + schedule + "\"") + R"(
  standby: )" + std::to_string(standby) + R"(
  lock: {mode: )" + mode + R"(}
  task:
    driver: raw_exec
    config:
      command: /usr/local/bin/app
      args: ["--port", "8080"]
    env:
      APP_MODE: prod
)";
  spec::LoadResult r = spec::LoadSpecs({{"specs/billing.yaml", yaml}});
  if (!r.ok() || r.valid.size() != 1) {
    for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
    throw std::runtime_error("fixture spec does not load");
  }
  return r.valid[0];
}

render::Rendered RenderOrDie(const spec::Singleton& s) {
  auto r = render::Render(s, {.source_path = "", .git_revision = "0123abcd"});
  if (!r.ok()) throw std::runtime_error("fixture spec does not render: " + r.status().ToString());
  return std::move(r).value();
}

nomad::Job ServerJob(const nomad::Job& rendered, uint64_t job_modify_index) {
  nomad::Job j = rendered;
  j.stop = false;
  j.status = "running";
  j.version = 3;
  j.create_index = 10;
  j.job_modify_index = job_modify_index;
  j.modify_index = job_modify_index + 5;
  j.submit_time = 1724000000000000000;
  if (j.node_pool.empty()) j.node_pool = "default";
  j.extra["ParentID"] = "\"\"";
  j.extra["Update"] = R"({"MaxParallel":1,"Stagger":30000000000})";
  j.extra["Dispatched"] = "false";
  for (auto& g : j.task_groups) {
    g.extra["EphemeralDisk"] = R"({"Migrate":false,"SizeMB":300,"Sticky":false})";
    for (auto& t : g.tasks) {
      t.resources.extra["DiskMB"] = "0";
      t.resources.extra["Networks"] = "null";
      if (!t.restart_policy) t.restart_policy = g.restart_policy;
      if (t.kill_signal.empty()) t.kill_signal = "SIGINT";
      if (!t.identity) t.identity = nomad::WorkloadIdentity{};
      if (t.identity->name.empty()) t.identity->name = "default";
      if (t.identity->audience.empty()) t.identity->audience = {"nomadproject.io"};
      t.extra["LogConfig"] = R"({"MaxFileSizeMB":10,"MaxFiles":10})";
    }
  }
  return j;
}

nomad::Allocation Alloc(const std::string& id, const std::string& client_status,
                        uint64_t create_index, const std::string& node,
                        const std::string& desired_status) {
  nomad::Allocation a;
  a.id = id;
  a.namespace_ = "prod";
  a.job_id = "billing";
  a.task_group = render::kGroupName;
  a.name = "billing.singleton[0]";
  a.node_id = node;
  a.client_status = client_status;
  a.desired_status = desired_status;
  a.create_index = create_index;
  a.modify_index = create_index;
  return a;
}

nomad::Task& World::task(const std::string& name) {
  for (auto& t : group().tasks) {
    if (t.name == name) return t;
  }
  ADD_FAILURE() << "no task " << name;
  throw std::runtime_error("no task " + name);
}

nomad::Allocation& World::alloc(const std::string& id) {
  for (auto& a : observed.allocations) {
    if (a.id == id) return a;
  }
  ADD_FAILURE() << "no allocation " << id;
  throw std::runtime_error("no allocation " + id);
}

namespace {

// `spec` rendered and registered by us at JobModifyIndex 20 with its policy; nodes n1 and n2
// ready; the lock variable read (free); now = 1000s. No allocations.
World Registered(spec::Singleton spec) {
  World w;
  w.spec = std::move(spec);
  render::Rendered r = RenderOrDie(w.spec);
  w.desired.key = kKey;
  w.desired.state = SpecState::kValid;
  w.desired.rendered =
      std::make_shared<const render::CompactRendered>(render::CompactRendered::From(r));
  w.observed.job = ServerJob(r.job, 20);
  w.observed.policy = r.policy;
  w.observed.policy->create_index = 7;
  w.observed.policy->modify_index = 9;
  w.observed.node_status = {{"n1", nomad::kNodeReady}, {"n2", nomad::kNodeReady}};
  w.observed.lock.known = true;
  w.observed.memory.written_job_modify_index = 20;
  w.options.now = base::TimePoint(1000s);
  return w;
}

}  // namespace

World Healthy(int standby) {
  World w = Registered(Billing(standby));
  w.observed.allocations.push_back(Alloc("a1", nomad::kClientRunning, 30, "n1"));
  for (int i = 0; i < standby; ++i) {
    w.observed.allocations.push_back(
        Alloc("s" + std::to_string(i), nomad::kClientRunning, 31 + i, "n2"));
  }
  w.observed.lock.holder = LockHolder{"a1", 40};
  w.observed.memory.last_holder = LockHolder{"a1", 40};
  return w;
}

std::string RunJobId(int64_t launch) { return "billing/periodic-" + std::to_string(launch); }

World HealthyPeriodic() {
  World w = Registered(Billing(0, "shim", "30 2 * * *"));
  nomad::Allocation last = Alloc("r0", nomad::kClientComplete, 30, "n1");
  last.job_id = RunJobId(1724000000);
  w.observed.allocations.push_back(last);
  w.observed.lock.history = {LockHolder{"r0", 40}};
  w.observed.memory.last_holder = LockHolder{"r0", 40};
  return w;
}

}  // namespace nsg::reconcile::testing
