// Shared fixture for the Cluster model tests (cluster_test.cc, runner_test.cc): a SimCore, the
// default program registry, a Cluster with three ready nodes in dc1, an all-topics event
// subscription, and small job builders. Virtual time only; no sleeps.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "controller/sim/cluster.h"
#include "controller/sim/sim_core.h"

namespace nsg::sim::testing {

using namespace std::chrono_literals;

inline nomad::Task MockTask(const std::string& name, const std::string& config = "{}") {
  nomad::Task t;
  t.name = name;
  t.driver = "mock_driver";
  t.config = config;
  return t;
}

inline nomad::Job MakeJob(const std::string& id, int count = 1,
                          const std::string& type = nomad::kJobTypeService,
                          const std::string& config = "{}") {
  nomad::Job j;
  j.id = id;
  j.type = type;
  j.datacenters = {"dc1"};
  nomad::TaskGroup g;
  g.name = "app";
  g.count = count;
  g.tasks.push_back(MockTask("main", config));
  j.task_groups.push_back(g);
  return j;
}

class ClusterFixture : public ::testing::Test {
 protected:
  explicit ClusterFixture(uint64_t seed = 7, int nodes = 3,
                          nomad::NomadVersion version = nomad::kDefaultSimVersion)
      : core_(Opts(seed, version)) {
    programs_ = ProgramRegistry::WithDefaults();
    cluster_ = std::make_unique<Cluster>(core_, programs_);
    SubscribeRequest req;
    req.topics = {{"*", {}}};
    req.namespaces = {"*"};
    sub_ = core_.Events().Subscribe(req);
    for (int i = 0; i < nodes; ++i) node_ids_.push_back(cluster_->AddNode({}));
  }
  static SimCore::Options Opts(uint64_t seed, nomad::NomadVersion version) {
    SimCore::Options o;
    o.seed = seed;
    o.version = version;
    o.event_buffer_size = 100000;
    return o;
  }

  nomad::WriteResult Register(const nomad::Job& job, bool enforce = false, uint64_t jmi = 0) {
    nomad::RegisterRequest req;
    req.job = job;
    req.enforce_index = enforce;
    req.job_modify_index = jmi;
    auto r = cluster_->Register(req, "default");
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : nomad::WriteResult{};
  }
  void Run(Duration d) { core_.AdvanceBy(d); }
  // Advances in small steps until `pred` holds or `limit` passes; returns whether it held.
  template <typename Pred>
  bool RunUntil(Pred pred, Duration limit, Duration step = 100ms) {
    const TimePoint end = core_.Now() + limit;
    while (core_.Now() < end) {
      if (pred()) return true;
      core_.AdvanceBy(step);
    }
    return pred();
  }
  std::vector<nomad::Allocation> Allocs(const std::string& job = "web") {
    return cluster_->JobAllocations("default", job, true);
  }
  std::vector<nomad::Allocation> Live(const std::string& job = "web") {
    std::vector<nomad::Allocation> out;
    for (auto& a : Allocs(job)) {
      if (a.desired_status == nomad::kDesiredRun && a.client_status == nomad::kClientRunning) {
        out.push_back(a);
      }
    }
    return out;
  }
  nomad::Allocation Alloc(const std::string& id) { return *cluster_->GetAllocation(id); }
  std::vector<nomad::Event> DrainEvents() {
    std::vector<nomad::Event> out;
    for (auto& f : core_.Events().Drain(sub_)) {
      for (auto& e : f.events) out.push_back(std::move(e));
    }
    return out;
  }
  std::vector<ProgramRun> RunsOf(const std::string& task, const std::string& job = "web") {
    std::vector<ProgramRun> out;
    for (const auto& r : cluster_->ProgramHistory()) {
      if (r.task == task && r.job_id == job) out.push_back(r);
    }
    return out;
  }
  int64_t Unix(TimePoint t) const { return core_.UnixNanos(t); }
  TimePoint FromUnix(int64_t ns) const {
    return TimePoint(Duration(ns - core_.UnixNanos(TimePoint{})));
  }

  SimCore core_;
  ProgramRegistry programs_;
  std::unique_ptr<Cluster> cluster_;
  uint64_t sub_ = 0;
  std::vector<std::string> node_ids_;
};

}  // namespace nsg::sim::testing
