// The simulator's deployments (sim/deployments.h) on jobs as nomad-singleton renders them (issue
// 11, item 6): a split-mode standby waits in its prestart task forever and never turns healthy, so
// a deployment of such a job fails; the renderer therefore gives split mode with standbys no
// update strategy (MaxParallel 0), and Nomad then creates no deployment at all.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controller/nomad/limits.h"
#include "controller/render/job_renderer.h"
#include "controller/sim/acl.h"
#include "controller/sim/cluster.h"
#include "controller/sim/deployments.h"
#include "controller/sim/programs.h"
#include "controller/sim/router.h"
#include "controller/sim/variables.h"
#include "controller/spec/loader.h"
#include "controller/timing/budget.h"
#include "tests/sim/conformance_testutil.h"

namespace nsg::sim {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string SpecYaml(const std::string& mode) {
  return "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\nmetadata:\n  name: app\n"
         "  namespace: default\nspec:\n  datacenters: [\"dc1\"]\n  standby: 1\n"
         "  lock:\n    ttl: 15s\n    delay: 15s\n    mode: " +
         mode +
         "\n  failover:\n    stopOnClientAfter: 30s\n  task:\n    name: work\n"
         "    driver: raw_exec\n    config:\n      command: /usr/bin/work\n";
}

class DeploymentsTest : public ::testing::Test {
 protected:
  DeploymentsTest()
      : core_(SimCore::Options{}),
        acl_(core_, AclState::Options{}),
        vars_(core_, acl_, Variables::Options{}),
        cluster_(core_, programs_),
        router_(core_, acl_, vars_, &cluster_) {
    // The lock tasks as the real agent behaves in split mode: the first acquire-only prestart
    // task gets the lock and exits 0 (its allocation's main tasks start); every later one waits
    // in standby, never exiting. The guard's install task exits 0 at once. Every other task runs
    // until it is stopped.
    programs_.Register("raw_exec", [this](const TaskSpec& spec) -> std::unique_ptr<TaskProgram> {
      const std::string& config = spec.task.config;
      if (config.find("--install-guard") != std::string::npos ||
          (config.find("--acquire-only") != std::string::npos && acquired_++ == 0)) {
        ScriptedProgramOptions o;
        o.run_for = 200ms;
        return MakeScriptedProgram(o);
      }
      return MakeRunUntilKilledProgram();
    });
    for (int i = 0; i < 3; ++i) cluster_.AddNode(NodeSpec{});
  }

  // Loads and renders the spec, lets `edit` change the job (the old renderer's update block),
  // registers it.
  void Register(const std::string& mode, const std::function<void(nomad::Job&)>& edit = nullptr) {
    auto loaded = spec::LoadSpecs({{"app.yaml", SpecYaml(mode)}}, timing::CheckTimerRule);
    ASSERT_EQ(loaded.valid.size(), 1u) << (loaded.errors.empty() ? "" : loaded.errors[0].ToString());
    auto rendered = render::Render(loaded.valid[0]);
    ASSERT_TRUE(rendered.ok()) << rendered.status().ToString();
    nomad::Job job = rendered->job;
    if (edit) edit(job);
    nomad::RegisterRequest req;
    req.job = job;
    auto r = cluster_.Register(req, "default");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    job_id_ = job.id;
  }

  json Get(const std::string& path) {
    std::optional<Reply> out;
    router_.Submit(testing::MakeRequest("GET " + path), [&](Reply r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value());
    EXPECT_EQ(out->status, 200) << out->body;
    return json::parse(out->body);
  }
  json Latest() { return Get("/v1/job/" + job_id_ + "/deployment"); }
  int Running() {
    int n = 0;
    for (const auto& a : cluster_.JobAllocations("default", job_id_, false)) {
      n += a.client_status == "running" ? 1 : 0;
    }
    return n;
  }

  SimCore core_;
  AclState acl_;
  Variables vars_;
  ProgramRegistry programs_ = ProgramRegistry::WithDefaults();
  Cluster cluster_;
  Router router_;
  int acquired_ = 0;
  std::string job_id_;
};

// The failure the renderer avoids: with Nomad's default update strategy (what registration gives
// a service group without one) the holder turns healthy, the standby never does, and the
// deployment fails at its progress deadline.
TEST_F(DeploymentsTest, SplitStandbyUnderTheDefaultUpdateStrategyFailsItsDeployment) {
  Register("split", [](nomad::Job& job) {
    for (auto& g : job.task_groups) g.extra.erase(nomad::kUpdateKey);
  });
  core_.AdvanceBy(30s);
  json d = Latest();
  ASSERT_TRUE(d.is_object()) << d.dump();
  EXPECT_EQ(d["Status"], "running");
  const json& g = d["TaskGroups"].begin().value();
  EXPECT_EQ(g["DesiredTotal"], 2);
  EXPECT_EQ(g["PlacedAllocs"], 2);
  EXPECT_EQ(g["HealthyAllocs"], 1);  // the holder, after MinHealthyTime (10 s)
  core_.AdvanceBy(6min);             // past HealthyDeadline (5 min): the standby is unhealthy
  EXPECT_EQ(Latest()["TaskGroups"].begin().value()["UnhealthyAllocs"], 1);
  core_.AdvanceBy(5min);  // past ProgressDeadline (10 min)
  d = Latest();
  EXPECT_EQ(d["Status"], "failed") << d.dump();
  EXPECT_EQ(d["StatusDescription"], "Failed due to progress deadline");
}

// As rendered: no update strategy for split mode with standbys, so no deployment to fail.
TEST_F(DeploymentsTest, SplitStandbyAsRenderedHasNoDeployment) {
  Register("split");
  core_.AdvanceBy(11min);
  EXPECT_TRUE(Latest().is_null());
  EXPECT_TRUE(Get("/v1/job/" + job_id_ + "/deployments").empty());
  EXPECT_EQ(Running(), 2);  // the holder runs its workload, the standby waits in prestart
}

// Sidecar mode keeps the default strategy: a standby's tasks all run (the lock task waits, the
// guard waits for a lease), so both allocations turn healthy and the deployment succeeds.
TEST_F(DeploymentsTest, SidecarStandbyDeploymentSucceeds) {
  Register("sidecar");
  core_.AdvanceBy(30s);
  json d = Latest();
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d["Status"], "successful") << d.dump();
  EXPECT_EQ(d["TaskGroups"].begin().value()["HealthyAllocs"], 2);
  // A new version cancels nothing that is done, and starts its own deployment.
  nomad::Job job = *cluster_.GetJob("default", job_id_);
  job.meta["touched"] = "yes";
  nomad::RegisterRequest req;
  req.job = job;
  ASSERT_TRUE(cluster_.Register(req, "default").ok());
  auto all = Get("/v1/job/" + job_id_ + "/deployments");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["JobVersion"], 1);
  EXPECT_EQ(all[1]["Status"], "successful");
}

}  // namespace
}  // namespace nsg::sim
