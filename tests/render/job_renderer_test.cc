#include "controller/render/job_renderer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "controller/nomad/codec.h"
#include "controller/nomad/limits.h"
#include "controller/spec/loader.h"
#include "controller/timing/budget.h"

// Set by main() when the test binary runs with --update-goldens (or NSG_UPDATE_GOLDENS=1).
bool g_update_goldens = false;

namespace nsg::render {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

spec::LoadResult LoadText(const std::string& path, const std::string& text) {
  return spec::LoadSpecs({{path, text}}, timing::CheckTimerRule);
}

std::vector<spec::Singleton> LoadShapes() {
  const fs::path p = fs::path(NSG_SOURCE_DIR) / "tests/render/specs/shapes.yaml";
  spec::LoadResult r = LoadText("tests/render/specs/shapes.yaml", ReadFile(p));
  for (const auto& e : r.errors) ADD_FAILURE() << e.ToString();
  return r.valid;
}

std::string Golden(const Rendered& r) {
  return nomad::EncodeRegisterRequest({r.job, false, 0}, {.pretty = true}) + "\n" +
         nomad::EncodeAclPolicy(r.policy, {.pretty = true}) + "\n";
}

TEST(JobRendererTest, EveryShapeMatchesItsGolden) {
  auto singletons = LoadShapes();
  ASSERT_EQ(singletons.size(), 11u);
  for (const auto& s : singletons) {
    auto r = Render(s, {.source_path = "", .git_revision = "0123abcd"});
    ASSERT_TRUE(r.ok()) << s.Key() << ": " << r.status().ToString();
    const std::string got = Golden(*r);
    const fs::path golden =
        fs::path(NSG_SOURCE_DIR) / "tests/render/golden" / (s.metadata.name + ".json");
    if (g_update_goldens) {
      std::ofstream(golden) << got;
      continue;
    }
    ASSERT_TRUE(fs::exists(golden)) << golden << " missing; run render_test --update-goldens";
    EXPECT_EQ(got, ReadFile(golden)) << s.Key() << " differs from " << golden
                                     << " (run render_test --update-goldens after review)";
  }
}

TEST(JobRendererTest, RenderedJsonRoundTripsThroughTheDecoder) {
  for (const auto& s : LoadShapes()) {
    auto r = Render(s);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const std::string body = nomad::EncodeRegisterRequest({r->job, true, 7});
    auto back = nomad::DecodeRegisterRequest(body);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->job, r->job) << s.Key();
    EXPECT_TRUE(back->enforce_index);
    EXPECT_EQ(back->job_modify_index, 7u);
    auto pol = nomad::DecodeAclPolicy(nomad::EncodeAclPolicy(r->policy));
    ASSERT_TRUE(pol.ok());
    EXPECT_EQ(*pol, r->policy);
  }
}

const spec::Singleton& Find(const std::vector<spec::Singleton>& v, const std::string& name) {
  for (const auto& s : v) {
    if (s.metadata.name == name) return s;
  }
  throw std::runtime_error("no singleton " + name);
}

const nomad::Task* TaskNamed(const nomad::Job& j, const std::string& name) {
  for (const auto& t : j.task_groups[0].tasks) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TEST(JobRendererTest, SidecarShapeFollowsTheGuide) {
  auto all = LoadShapes();
  auto r = Render(Find(all, "sidecar-raw"));
  ASSERT_TRUE(r.ok());
  const auto& g = r->job.task_groups[0];
  EXPECT_EQ(g.count, 1);
  ASSERT_TRUE(g.disconnect && g.disconnect->stop_on_client_after);
  EXPECT_EQ(*g.disconnect->stop_on_client_after, spec::kDefaultStopOnClientAfter);
  EXPECT_EQ(g.disconnect->lost_after, base::Duration(0));
  const nomad::Task* lock = TaskNamed(r->job, kLockTaskName);
  ASSERT_NE(lock, nullptr);
  EXPECT_TRUE(lock->leader);
  ASSERT_TRUE(lock->identity);
  EXPECT_TRUE(lock->identity->env);
  EXPECT_NE(lock->config.find("\"--sidecar\""), std::string::npos) << lock->config;
  const nomad::Task* app = TaskNamed(r->job, "main");
  ASSERT_NE(app, nullptr);
  ASSERT_TRUE(app->lifecycle);
  EXPECT_EQ(app->lifecycle->hook, "poststart");
  EXPECT_TRUE(app->lifecycle->sidecar);
  EXPECT_FALSE(app->identity) << "the workload gets no token: only the lock task can write";
  EXPECT_EQ(app->config,
            R"({"args":["--","/usr/local/bin/app","--port","8080"],"command":"${NOMAD_ALLOC_DIR}/singleton/guard"})");
  EXPECT_EQ(r->job.meta.at(kMetaManagedBy), kManagedByValue);
  EXPECT_EQ(r->job.meta.at(kMetaSpecHash), r->spec_hash);
  EXPECT_EQ(r->job.meta.at(kMetaSource), "tests/render/specs/shapes.yaml");
}

TEST(JobRendererTest, PolicyGrantsWriteAndReadOnTheLockPathOnly) {
  auto all = LoadShapes();
  auto r = Render(Find(all, "sidecar-docker"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->policy.name, "nomad-singleton-prod-sidecar-docker");
  ASSERT_TRUE(r->policy.job_acl);
  EXPECT_EQ(r->policy.job_acl->namespace_, "prod");
  EXPECT_EQ(r->policy.job_acl->job_id, "sidecar-docker");
  EXPECT_EQ(r->policy.rules,
            "namespace \"prod\" {\n  variables {\n    path \"nomad/jobs/sidecar-docker/lock\" {\n"
            "      capabilities = [\"write\", \"read\"]\n    }\n  }\n}\n");
}

TEST(JobRendererTest, PolicyNameIsSanitizedAndStillUnique) {
  spec::Singleton a, b;
  a.metadata.name = "a.b";
  b.metadata.name = "a_b";
  EXPECT_NE(PolicyName(a), PolicyName(b));
  for (char c : PolicyName(a)) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-');
  spec::Singleton longname;
  longname.metadata.name = std::string(128, 'x');
  EXPECT_LE(PolicyName(longname).size(), 128u);
}

TEST(JobRendererTest, HashIgnoresSourceButNotTimers) {
  auto all = LoadShapes();
  spec::Singleton s = Find(all, "hot-standby");
  auto h1 = Render(s, {.source_path = "a.yaml", .git_revision = "r1"})->spec_hash;
  auto h2 = Render(s, {.source_path = "b.yaml", .git_revision = "r2"})->spec_hash;
  EXPECT_EQ(h1, h2);
  s.spec.lock.delay = std::chrono::seconds(4);
  EXPECT_NE(Render(s)->spec_hash, h1);
}

TEST(JobRendererTest, StandbyRaisesCountAndSplitAddsAPrestartAcquire) {
  auto all = LoadShapes();
  EXPECT_EQ(Render(Find(all, "hot-standby"))->job.task_groups[0].count, 3);
  auto split = Render(Find(all, "split-exec"));
  ASSERT_TRUE(split.ok());
  const nomad::Task* acquire = TaskNamed(split->job, kAcquireTaskName);
  ASSERT_NE(acquire, nullptr);
  ASSERT_TRUE(acquire->lifecycle);
  EXPECT_EQ(acquire->lifecycle->hook, "prestart");
  EXPECT_FALSE(acquire->lifecycle->sidecar);
  EXPECT_NE(acquire->config.find("\"--acquire-only\""), std::string::npos);
  EXPECT_NE(TaskNamed(split->job, kLockTaskName)->config.find("\"--heartbeat\""),
            std::string::npos);
  EXPECT_TRUE(TaskNamed(split->job, kLockTaskName)->leader);
}

TEST(JobRendererTest, ShimWrapsTheCommandAndGivesItTheToken) {
  auto all = LoadShapes();
  auto r = Render(Find(all, "shim-raw"));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->job.task_groups[0].tasks.size(), 1u);
  const nomad::Task& t = r->job.task_groups[0].tasks[0];
  EXPECT_EQ(t.config,
            R"({"args":["lock","--path","nomad/jobs/shim-raw/leader","--ttl","15s","--delay","15s","--give-up","15s","--kill-timeout","5s","--","/bin/sh","-c","exec sleep 3600"],"command":"/usr/local/bin/nomad-singleton"})");
  ASSERT_TRUE(t.identity);
  EXPECT_TRUE(t.identity->env);
  EXPECT_EQ(*t.kill_timeout, std::chrono::seconds(10)) << "K + the agent's release grace";
  auto docker = Render(Find(all, "shim-docker"));
  ASSERT_TRUE(docker.ok());
  EXPECT_NE(docker->job.task_groups[0].tasks[0].config.find(
                R"("entrypoint":["/opt/bin/nomad-singleton","lock",)"),
            std::string::npos)
      << docker->job.task_groups[0].tasks[0].config;
}

TEST(JobRendererTest, BatchAndPeriodic) {
  auto all = LoadShapes();
  auto batch = Render(Find(all, "batch-migrate"));
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->job.type, "batch");
  EXPECT_FALSE(batch->job.periodic);
  auto cron = Render(Find(all, "cron-leader"));
  ASSERT_TRUE(cron.ok());
  EXPECT_EQ(cron->job.type, "batch");
  ASSERT_TRUE(cron->job.periodic);
  EXPECT_EQ(cron->job.periodic->spec, "*/15 * * * *");
  EXPECT_EQ(cron->job.periodic->spec_type, "cron");
  EXPECT_TRUE(cron->job.periodic->prohibit_overlap);
  EXPECT_TRUE(cron->job.periodic->enabled);
}

TEST(JobRendererTest, TemplateKeepsItsFieldsAndProtectsItsOneMainTask) {
  auto all = LoadShapes();
  auto r = Render(Find(all, "from-template"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->job.id, "from-template");
  EXPECT_EQ(r->job.namespace_, "ops");
  EXPECT_EQ(r->job.datacenters, std::vector<std::string>{"dc2"});
  EXPECT_TRUE(r->job.extra.count("Constraints"));
  const auto& g = r->job.task_groups[0];
  EXPECT_EQ(g.name, "app");
  EXPECT_TRUE(g.extra.count("EphemeralDisk"));
  const nomad::Task* server = TaskNamed(r->job, "server");
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->lifecycle->hook, "poststart");
  EXPECT_EQ(*server->kill_timeout, std::chrono::seconds(20));
  EXPECT_TRUE(server->extra.count("Services"));
  EXPECT_NE(server->config.find(R"("entrypoint":["${NOMAD_ALLOC_DIR}/singleton/guard","--"])"),
            std::string::npos)
      << server->config;
  const nomad::Task* shipper = TaskNamed(r->job, "log-shipper");
  ASSERT_NE(shipper, nullptr);
  EXPECT_EQ(shipper->config, R"({"command":"/usr/bin/shipper"})") << "helpers are not wrapped";
  // The lock task's kill timeout covers the template workload's 20s.
  EXPECT_EQ(*TaskNamed(r->job, kLockTaskName)->kill_timeout, std::chrono::seconds(25));
}

TEST(JobRendererTest, RefusesWorkloadsItCannotWrap) {
  const std::string doc = R"(apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata: {name: bare-image}
spec:
  task:
    driver: docker
    config: {image: example/app:1}
)";
  auto loaded = LoadText("bare.yaml", doc);
  ASSERT_EQ(loaded.valid.size(), 1u);
  auto r = Render(loaded.valid[0]);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), base::StatusCode::kInvalidSpec);
  EXPECT_NE(r.status().message().find("needs config.command or config.entrypoint"),
            std::string::npos)
      << r.status().message();
}

TEST(JobRendererTest, CheckSpecMakesValidateCatchWhatRenderRefuses) {
  const std::string doc = R"(apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata: {name: bare-image}
spec:
  task:
    driver: docker
    config: {image: example/app:1}
)";
  auto loaded = spec::LoadSpecs({{"bare.yaml", doc}}, CheckSpec);
  EXPECT_TRUE(loaded.valid.empty());
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(loaded.errors[0].field, "spec.task");
  EXPECT_EQ(loaded.errors[0].pos.line, 6);
  EXPECT_NE(loaded.errors[0].message.find("needs config.command"), std::string::npos);
  ASSERT_EQ(loaded.invalid.size(), 1u);
  EXPECT_EQ(loaded.invalid[0].key, "default/bare-image");
}

TEST(JobRendererTest, PolicyDescriptionStaysWithinNomadsLimit) {
  // nomad/structs/acl.go ACLPolicy.Validate: "description longer than 256". The description used
  // to embed the lock path and the key in full, so a 77-character name in "default" overflowed.
  auto check = [](const std::string& ns, const std::string& name, const std::string& path) {
    spec::Singleton s = Find(LoadShapes(), "sidecar-raw");
    s.metadata.namespace_ = ns;
    s.metadata.name = name;
    s.spec.lock.path = path.empty() ? spec::DefaultLockPath(name) : path;
    auto r = Render(s);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_LE(r->policy.description.size(), nomad::kMaxPolicyDescriptionLength) << name;
    EXPECT_EQ(nomad::AclPolicyErrors(r->policy), std::vector<std::string>{}) << name;
    EXPECT_NE(r->policy.description.find("nomad-singleton"), std::string::npos);
  };
  check("default", std::string(77, 'n'), "");
  check("default", std::string(112, 'n'), "");  // the longest name with the default path
  check(std::string(128, 's'), std::string(128, 'n'), std::string(128, 'p'));
  // Short ones keep the full text.
  auto r = Render(Find(LoadShapes(), "sidecar-raw"));
  EXPECT_EQ(r->policy.description,
            "nomad-singleton: lock nomad/jobs/sidecar-raw/lock for job default/sidecar-raw "
            "(managed by nomad-singleton; edits are reverted)");
}

TEST(JobRendererTest, UpdateStrategyFitsEachShape) {
  // Nomad gives every service job api/jobs.go DefaultUpdateStrategy (max_parallel 1, health
  // "checks"): fine while every allocation runs all its tasks, as shim and sidecar standbys do. A
  // split-mode standby waits in its prestart task, never turns healthy, and would fail every
  // deployment: the renderer turns deployments off for that shape (MaxParallel 0,
  // UpdateStrategy.IsEmpty). Batch jobs may not have an update block at all.
  for (const auto& s : LoadShapes()) {
    auto r = Render(s);
    ASSERT_TRUE(r.ok()) << s.Key();
    nomad::Job registered = r->job;
    nomad::CanonicalizeUpdateStrategies(registered);
    const auto u = nomad::UpdateStrategyOf(registered.task_groups[0]);
    if (s.spec.type == spec::JobType::kBatch) {
      EXPECT_FALSE(u) << s.Key();
      continue;
    }
    ASSERT_TRUE(u) << s.Key();
    const bool split_standby = s.spec.lock.mode == spec::LockMode::kSplit && s.spec.standby > 0;
    EXPECT_EQ(u->max_parallel, split_standby ? 0 : 1) << s.Key();
  }
  auto split = Render(Find(LoadShapes(), "split-standby"));
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->job.task_groups[0].count, 2);
  EXPECT_EQ(split->job.task_groups[0].extra.at(nomad::kUpdateKey), R"({"MaxParallel":0})");
}

TEST(JobRendererTest, TimingUsesTheRenderedGroupsLargestKillTimeout) {
  // Allocation.WaitClientStop waits the largest kill timeout in the group, the lock agent's
  // (K + 5s) included: timing must see the same value the rendered job carries.
  for (const auto& s : LoadShapes()) {
    auto r = Render(s);
    ASSERT_TRUE(r.ok()) << s.Key();
    EXPECT_EQ(timing::TimersOf(s).group_kill_timeout,
              nomad::WaitClientStopKillTimeout(r->job.task_groups[0]))
        << s.Key();
  }
}

TEST(JobRendererTest, CheckSpecRefusesAKillTimeoutNomadsProgressDeadlineRefuses) {
  // Task.Validate: in a service job no task's KillTimeout may exceed the group's ProgressDeadline
  // (10m by default); the lock agent's tasks get K + 5s.
  std::string doc = R"(apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata: {name: slow-stop}
spec:
  lock: {ttl: 10m, delay: 10m}
  task:
    driver: raw_exec
    config: {command: /bin/app}
    killTimeout: 9m58s
)";
  auto loaded = spec::LoadSpecs({{"slow.yaml", doc}}, CheckSpec);
  ASSERT_EQ(loaded.errors.size(), 1u);
  EXPECT_EQ(loaded.errors[0].field, "spec.task");
  EXPECT_NE(loaded.errors[0].message.find(
                "task singleton-lock: KillTimout (10m3s) longer than the group's ProgressDeadline "
                "(10m0s)"),
            std::string::npos)
      << loaded.errors[0].message;
}

TEST(JobRendererTest, IsDeterministic) {
  auto all = LoadShapes();
  for (const auto& s : all) {
    EXPECT_EQ(nomad::EncodeJob(Render(s)->job), nomad::EncodeJob(Render(s)->job));
  }
}

}  // namespace
}  // namespace nsg::render

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--update-goldens") g_update_goldens = true;
  }
  if (const char* env = std::getenv("NSG_UPDATE_GOLDENS"); env && std::string(env) == "1") {
    g_update_goldens = true;
  }
  return RUN_ALL_TESTS();
}
