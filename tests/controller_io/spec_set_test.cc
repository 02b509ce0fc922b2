// LoadSpecSet under the faults of issue 16: whatever breaks the spec directory or a spec file
// keeps every key (Invalid, SourceUnreadable) and lists the broken path; only a spec file
// removed from a directory read completely drops its key.
#include "controller/controller_io/spec_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "controller/render/job_renderer.h"
#include "controller/spec/loader.h"
#include "tests/controller_io/spec_source_faults.h"
#include "tests/test_support/file_permissions.h"
#include "tests/test_support/temp_dir.h"

namespace nsg::io {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using testing::SingletonYaml;
using testing::SpecSourceFault;
using testing::WriteText;

std::vector<std::string> Keys(const runtime::SpecSet& s) {
  std::vector<std::string> out;
  for (const auto& [k, e] : s.entries) out.push_back(k);
  return out;
}

class SpecSetFaultTest : public ::testing::TestWithParam<SpecSourceFault> {
 protected:
  void SetUp() override {
    tmp_.emplace("nsg_spec_set");
    dir_ = tmp_->path() / "specs";
    beta_ = GetParam().in_subdirectory ? dir_ / "sub" / "beta.yaml" : dir_ / "beta.yaml";
    WriteText(dir_ / "alpha.yaml", SingletonYaml("alpha"));
    WriteText(beta_, SingletonYaml("beta"));
  }
  void TearDown() override { testing::RestoreSpecSource(dir_, beta_, SingletonYaml("beta")); }

  // Applies the fault, reads DIR (previous: `previous`), and undoes the fault.
  std::optional<runtime::SpecSet> ReadBroken(const runtime::SpecSet& previous) {
    std::optional<test_support::ScopedFilePermissionsEnforced> enforced;
    if (GetParam().permission_bits) {
      enforced.emplace();
      if (!enforced->ok()) return std::nullopt;
    }
    GetParam().apply(dir_, beta_);
    runtime::SpecSet s = LoadSpecSet(dir_.string(), previous);
    enforced.reset();
    testing::RestoreSpecSource(dir_, beta_, SingletonYaml("beta"));
    return s;
  }

  std::optional<test_support::TestTempDir> tmp_;
  std::filesystem::path dir_, beta_;
};

TEST_P(SpecSetFaultTest, KeepsEveryKeyListsThePathAndARealDeletionStillDrops) {
  const runtime::SpecSet before = LoadSpecSet(dir_.string(), {});
  ASSERT_THAT(Keys(before), ElementsAre("default/alpha", "default/beta"));
  ASSERT_THAT(before.unreadable, IsEmpty());
  EXPECT_EQ(before.dir, dir_.string());

  const auto broken = ReadBroken(before);
  if (!broken) GTEST_SKIP() << "running as root and capset refused: chmod cannot bind root";
  EXPECT_THAT(Keys(*broken), ElementsAre("default/alpha", "default/beta"));
  const runtime::SpecEntry& beta = broken->entries.at("default/beta");
  EXPECT_EQ(beta.desired.state, reconcile::SpecState::kInvalid);
  EXPECT_EQ(beta.desired.invalid_reason, reconcile::kReasonSourceUnreadable);
  EXPECT_EQ(beta.source, beta_.string());
  ASSERT_EQ(broken->unreadable.size(), 1u) << ::testing::PrintToString(broken->unreadable);
  EXPECT_THAT(broken->unreadable[0],
              StartsWith(GetParam().reported(dir_, beta_).string() + ":"));
  EXPECT_THAT(beta.desired.invalid_message, StartsWith(GetParam().reported(dir_, beta_).string()));

  // Read again once repaired: both valid; then beta's file is removed from a readable directory.
  const runtime::SpecSet repaired = LoadSpecSet(dir_.string(), *broken);
  EXPECT_THAT(repaired.unreadable, IsEmpty());
  EXPECT_EQ(repaired.entries.at("default/beta").desired.state, reconcile::SpecState::kValid);
  std::filesystem::remove(beta_);
  const runtime::SpecSet deleted = LoadSpecSet(dir_.string(), repaired);
  EXPECT_THAT(Keys(deleted), ElementsAre("default/alpha"));
  EXPECT_THAT(deleted.unreadable, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Faults, SpecSetFaultTest, ::testing::ValuesIn(testing::SpecSourceFaults()),
                         testing::FaultName());

TEST(SpecSetTest, ABrokenFileKeepsKeysOfOtherFilesToo) {
  // Deleting beta.yaml while gamma.yaml is unreadable deletes nothing: a deletion is believed
  // only from a complete read.
  test_support::TestTempDir tmp("nsg_spec_set");
  const auto dir = tmp.path() / "specs";
  WriteText(dir / "alpha.yaml", SingletonYaml("alpha"));
  WriteText(dir / "beta.yaml", SingletonYaml("beta"));
  const runtime::SpecSet before = LoadSpecSet(dir.string(), {});
  std::filesystem::remove(dir / "beta.yaml");
  WriteText(dir / "gamma.yaml", "");
  const runtime::SpecSet after = LoadSpecSet(dir.string(), before);
  EXPECT_THAT(Keys(after), ElementsAre("default/alpha", "default/beta"));
  EXPECT_EQ(after.entries.at("default/beta").desired.invalid_reason,
            reconcile::kReasonSourceUnreadable);
  EXPECT_THAT(after.unreadable,
              ElementsAre((dir / "gamma.yaml").string() +
                          ": holds no Singleton document (emptied or truncated?); delete the file "
                          "to delete its specs"));
}

// Each spec is rendered once, by the check that validates it, and that rendering is the entry's:
// the same job, policy and hash as rendering the loaded spec with the revision, for every
// document of a multi-document file; a spec whose check fails has none.
TEST(SpecSetTest, EachEntryHoldsTheRenderingOfItsOwnDocument) {
  SpecFiles files;
  files.files.push_back({"a.yaml", SingletonYaml("one") + "---\n" + SingletonYaml("two")});
  // Valid to the loader, but it does not render (the check fails).
  files.files.push_back({"b.yaml", "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\n"
                                   "metadata: {name: three}\nspec:\n"
                                   "  lock: {mode: sidecar, ttl: 10s, delay: 1s}\n"
                                   "  task: {driver: docker, config: {image: \"app:1\"}}\n"});
  const runtime::SpecSet set = BuildSpecSet(files, {}, "abc123");
  const spec::LoadResult loaded = spec::LoadSpecs(files.files);
  ASSERT_EQ(loaded.valid.size(), 3u);
  for (const spec::Singleton& s : loaded.valid) {
    SCOPED_TRACE(s.Key());
    const runtime::SpecEntry& e = set.entries.at(s.Key());
    if (s.metadata.name == "three") {
      EXPECT_EQ(e.desired.state, reconcile::SpecState::kInvalid);
      EXPECT_FALSE(e.desired.rendered);
      continue;
    }
    auto want = render::Render(s, render::RenderOptions{.source_path = "", .git_revision = "abc123"});
    ASSERT_TRUE(want.ok());
    ASSERT_TRUE(e.desired.rendered);
    auto whole = e.desired.rendered->Job();
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    EXPECT_EQ(*whole, want.value().job);
    EXPECT_EQ(nomad::WholeOf(e.desired.rendered->summary), nomad::JobSummary(want.value().job));
    EXPECT_EQ(e.desired.rendered->policy, want.value().policy);
    EXPECT_EQ(e.desired.rendered->spec_hash, want.value().spec_hash);
    EXPECT_EQ(e.desired.rendered->summary.Meta(render::kMetaRevision), "abc123");
  }
  EXPECT_NE(set.entries.at("default/one").desired.rendered->summary.id,
            set.entries.at("default/two").desired.rendered->summary.id);
}

}  // namespace
}  // namespace nsg::io
