// ControllerCore with --prune against the simulator (its HTTP front end, in process, over the
// production HttpNomadApi) under the spec-source faults of issue 16: a broken source keeps every
// job, in the running core and in a core started while the source is broken, and says why
// (Invalid: SourceUnreadable, SpecSet::unreadable); a spec file removed from a directory read
// completely is still pruned, also across a restart.
#include "controller/runtime/controller_core.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "controller/base/clock.h"
#include "controller/controller_io/spec_set.h"
#include "controller/nomad_client/client_config.h"
#include "controller/nomad_client/http_nomad_api.h"
#include "controller/nomad_client/http_transport.h"
#include "controller/nomad_client/retry.h"
#include "controller/render/job_renderer.h"
#include "controller/sim/http_frontend.h"
#include "tests/controller_io/spec_source_faults.h"
#include "tests/test_support/file_permissions.h"
#include "tests/test_support/temp_dir.h"

namespace nsg::runtime {
namespace {

namespace fs = std::filesystem;
using io::testing::SingletonYaml;
using io::testing::SpecSourceFault;
using io::testing::WriteText;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kAlpha[] = "default/alpha";
constexpr char kBeta[] = "default/beta";

class ControllerCorePruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("nsg_core_prune");
    dir_ = tmp_->path() / "specs";
    beta_ = dir_ / "beta.yaml";
    server_ = std::make_unique<sim::SimServer>(sim::SimServer::Options{});  // no nodes, no ACLs
    ASSERT_TRUE(server_->Start().ok());
    io::ClientConfig cfg;
    cfg.address = server_->Address();
    ASSERT_TRUE(cfg.Validate().ok());
    auto t = io::MakeTransport(cfg);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    transport_ = std::move(t).value();
    api_ = std::make_unique<io::HttpNomadApi>(*transport_, cfg, clock_, sleeper_);
  }
  void TearDown() override {
    if (api_) api_->Shutdown();
    if (server_) server_->Stop();
  }

  // A controller process: a fresh core knows nothing but what it reads.
  std::unique_ptr<ControllerCore> NewCore() {
    return std::make_unique<ControllerCore>(*api_, clock_, ControllerCore::Options{.prune = true});
  }

  // What the controller does after a read of DIR: apply it, list Nomad, reconcile every key
  // until nothing is ready (twice, so that the second round sees the first round's writes).
  void Reconcile(ControllerCore& core) {
    core.ApplySpecs(io::LoadSpecSet(dir_.string(), core.Specs()));
    for (int round = 0; round < 2; ++round) {
      ASSERT_TRUE(core.Relist().ok());
      core.QueueAll();
      for (int i = 0; i < 100; ++i) {
        auto key = core.queue().TryGet();
        if (!key) break;
        core.Process(*key);
      }
    }
  }

  // alpha.yaml and beta_ written, a core started on them and its jobs running.
  std::unique_ptr<ControllerCore> StartAlphaAndBeta() {
    WriteText(dir_ / "alpha.yaml", SingletonYaml("alpha"));
    WriteText(beta_, SingletonYaml("beta"));
    auto core = NewCore();
    Reconcile(*core);
    EXPECT_TRUE(Running("alpha") && Running("beta"));
    return core;
  }

  std::optional<nomad::Job> Job(const std::string& id) {
    std::optional<nomad::Job> j;
    server_->WithModel([&] { j = server_->cluster().GetJob("default", id); });
    return j;
  }
  // Registered and not stopped.
  bool Running(const std::string& id) {
    auto j = Job(id);
    return j && !j->stop;
  }
  bool Stopped(const std::string& id) {
    auto j = Job(id);
    return j && j->stop;
  }

  // The reason of `key`'s Invalid condition in the last reconcile, "" when not Invalid.
  static std::string InvalidReason(const ControllerCore& core, const std::string& key) {
    const auto statuses = core.Statuses();
    auto st = statuses.find(key);
    if (st == statuses.end()) return "(not reconciled)";
    const reconcile::Condition* c = st->second.last.plan.Find(reconcile::ConditionType::kInvalid);
    return c && c->status ? c->reason : "";
  }

  base::SystemClock clock_;
  io::RealSleeper sleeper_;
  std::optional<test_support::TestTempDir> tmp_;
  fs::path dir_, beta_;
  std::unique_ptr<sim::SimServer> server_;
  std::unique_ptr<io::Transport> transport_;
  std::unique_ptr<io::HttpNomadApi> api_;
};

class ControllerCoreFaultTest : public ControllerCorePruneTest,
                                public ::testing::WithParamInterface<SpecSourceFault> {
 protected:
  void SetUp() override {
    ControllerCorePruneTest::SetUp();
    if (GetParam().in_subdirectory) beta_ = dir_ / "sub" / "beta.yaml";
  }
  void TearDown() override {
    io::testing::RestoreSpecSource(dir_, beta_, SingletonYaml("beta"));
    ControllerCorePruneTest::TearDown();
  }
};

TEST_P(ControllerCoreFaultTest, KeepsTheJobAcrossARestartAndARealDeletionStillPrunes) {
  auto core = StartAlphaAndBeta();
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(Job("beta")->meta[render::kMetaSource], beta_.string());

  std::optional<test_support::ScopedFilePermissionsEnforced> enforced;
  if (GetParam().permission_bits) {
    enforced.emplace();
    if (!enforced->ok()) GTEST_SKIP() << "running as root and capset refused: chmod cannot bind";
  }
  GetParam().apply(dir_, beta_);
  const std::string reported = GetParam().reported(dir_, beta_).string();

  // The running controller: the key stays, Invalid, and the read says which path broke.
  Reconcile(*core);
  EXPECT_TRUE(Running("alpha"));
  EXPECT_TRUE(Running("beta")) << "a spec that cannot be read was taken for a deleted one";
  EXPECT_EQ(InvalidReason(*core, kBeta), reconcile::kReasonSourceUnreadable);
  ASSERT_EQ(core->Specs().unreadable.size(), 1u);
  EXPECT_THAT(core->Specs().unreadable[0], HasSubstr(reported + ":"));

  // A controller started while the source is broken knows only the read and the jobs' Meta.
  core = NewCore();
  Reconcile(*core);
  EXPECT_TRUE(Running("alpha"));
  EXPECT_TRUE(Running("beta")) << "a restart took an unreadable spec for a deleted one";
  EXPECT_EQ(InvalidReason(*core, kBeta), reconcile::kReasonSourceUnreadable);
  EXPECT_EQ(core->DesiredFor(kBeta).state, reconcile::SpecState::kInvalid);
  EXPECT_THAT(core->DesiredFor(kBeta).invalid_message, HasSubstr(reported));

  // Repaired: valid again; then beta's file is removed from a readable directory: pruned.
  enforced.reset();
  io::testing::RestoreSpecSource(dir_, beta_, SingletonYaml("beta"));
  Reconcile(*core);
  EXPECT_THAT(core->Specs().unreadable, IsEmpty());
  EXPECT_EQ(InvalidReason(*core, kBeta), "");
  fs::remove(beta_);
  Reconcile(*core);
  EXPECT_TRUE(Stopped("beta")) << "a real deletion was not pruned";
  EXPECT_TRUE(Running("alpha"));
}

INSTANTIATE_TEST_SUITE_P(Faults, ControllerCoreFaultTest,
                         ::testing::ValuesIn(io::testing::SpecSourceFaults()),
                         io::testing::FaultName());

TEST_F(ControllerCorePruneTest, ASpecDeletedWhileTheControllerWasDownIsPrunedAtItsFirstCleanRead) {
  WriteText(dir_ / "alpha.yaml", SingletonYaml("alpha"));
  WriteText(beta_, SingletonYaml("beta"));
  Reconcile(*NewCore());
  ASSERT_TRUE(Running("alpha") && Running("beta"));
  fs::remove(beta_);
  auto core = NewCore();
  Reconcile(*core);
  EXPECT_TRUE(Stopped("beta"));
  EXPECT_TRUE(Running("alpha"));
}

// A relist reads a job only when the view does not hold it at the listed ModifyIndex (issue 17):
// nothing after the core's own writes were seen, the one job someone else changed, and every job
// for a core that starts afresh (nothing it holds proves a job unchanged since its last write).
TEST_F(ControllerCorePruneTest, ARelistReadsOnlyTheJobsTheViewDoesNotHoldAtTheListedIndex) {
  auto core = StartAlphaAndBeta();
  ASSERT_FALSE(HasFailure());
  SyncStats stats;
  ASSERT_TRUE(core->Relist(&stats).ok());
  EXPECT_EQ(stats.jobs, 2u);
  EXPECT_EQ(stats.job_reads, 0u);
  server_->WithModel([&] {
    nomad::RegisterRequest req;
    req.job = *server_->cluster().GetJob("default", "alpha");
    req.job.priority = 77;
    ASSERT_TRUE(server_->cluster().Register(req, "default").ok());
  });
  ASSERT_TRUE(core->Relist(&stats).ok());
  EXPECT_EQ(stats.job_reads, 1u);
  auto restarted = NewCore();
  restarted->ApplySpecs(io::LoadSpecSet(dir_.string(), restarted->Specs()));
  ASSERT_TRUE(restarted->Relist(&stats).ok());
  EXPECT_EQ(stats.job_reads, 2u);
}

TEST_F(ControllerCorePruneTest, AnEmptyDirectoryNeverPrunes) {
  WriteText(dir_ / "alpha.yaml", SingletonYaml("alpha"));
  auto core = NewCore();
  Reconcile(*core);
  ASSERT_TRUE(Running("alpha"));
  fs::remove(dir_ / "alpha.yaml");
  Reconcile(*core);
  EXPECT_TRUE(Running("alpha"));
  EXPECT_EQ(InvalidReason(*core, kAlpha), reconcile::kReasonSourceEmpty);
  EXPECT_THAT(core->Specs().unreadable, IsEmpty()) << "an empty directory is read completely";
}

TEST_F(ControllerCorePruneTest, AJobFromAnotherSpecDirectoryIsKept) {
  WriteText(dir_ / "alpha.yaml", SingletonYaml("alpha"));
  WriteText(beta_, SingletonYaml("beta"));
  Reconcile(*NewCore());
  ASSERT_TRUE(Running("beta"));
  // The controller now runs with --specs other/: beta's job came from specs/.
  const fs::path other = tmp_->path() / "other";
  WriteText(other / "alpha.yaml", SingletonYaml("alpha"));
  dir_ = other;
  auto core = NewCore();
  Reconcile(*core);
  EXPECT_TRUE(Running("beta"));
  EXPECT_EQ(InvalidReason(*core, kBeta), reconcile::kReasonSourceUnknown);
}

TEST(DeletionUnconfirmedTest, FollowsTheRuleInOrder) {
  nomad::Job job;
  job.meta[render::kMetaSource] = "specs/sub/b.yaml";
  SpecSet specs;
  specs.dir = "specs/";
  specs.entries["default/a"] = SpecEntry{};
  EXPECT_FALSE(DeletionUnconfirmed(specs, job)) << "confirmed: complete, not empty, inside";

  job.meta[render::kMetaSource] = "./specs//sub/b.yaml";
  EXPECT_FALSE(DeletionUnconfirmed(specs, job)) << "compared lexically normal";
  job.meta[render::kMetaSource] = "specs-old/b.yaml";
  EXPECT_EQ(DeletionUnconfirmed(specs, job)->reason, reconcile::kReasonSourceUnknown);
  job.meta[render::kMetaSource] = "specs/../b.yaml";
  EXPECT_EQ(DeletionUnconfirmed(specs, job)->reason, reconcile::kReasonSourceUnknown);
  job.meta.erase(render::kMetaSource);
  EXPECT_EQ(DeletionUnconfirmed(specs, job)->reason, reconcile::kReasonSourceUnknown);

  specs.entries.clear();
  EXPECT_EQ(DeletionUnconfirmed(specs, job)->reason, reconcile::kReasonSourceEmpty);
  specs.unreadable = {"specs/x.yaml: cannot read: Permission denied", "specs/y: cannot read: x"};
  const auto why = DeletionUnconfirmed(specs, job);
  ASSERT_TRUE(why);
  EXPECT_EQ(why->reason, reconcile::kReasonSourceUnreadable);
  EXPECT_THAT(why->message, HasSubstr("specs/x.yaml: cannot read: Permission denied; and 1 more"));
}

}  // namespace
}  // namespace nsg::runtime
