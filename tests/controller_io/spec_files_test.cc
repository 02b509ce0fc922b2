#include "controller/controller_io/spec_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/test_support/file_permissions.h"

namespace nsg::io {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A fresh directory per test, removed afterwards.
class SpecFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("nsg_spec_files_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Write(const std::string& rel, const std::string& content) {
    fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string P(const std::string& rel) const { return (root_ / rel).string(); }

  // File paths relative to root_, in result order.
  std::vector<std::string> Rel(const SpecFiles& r) const {
    std::vector<std::string> out;
    for (const auto& f : r.files) {
      out.push_back(fs::path(f.path).lexically_relative(root_).string());
    }
    return out;
  }
  std::vector<std::string> Errors(const SpecFiles& r) const {
    std::vector<std::string> out;
    for (const auto& d : r.errors) out.push_back(d.ToString());
    return out;
  }

  fs::path root_;
};

TEST_F(SpecFilesTest, DirectoryIsWalkedRecursivelyForYamlOnlyInSortedOrder) {
  Write("specs/b.yaml", "b");
  Write("specs/a.yml", "a");
  Write("specs/sub/deeper/c.yaml", "c");
  Write("specs/sub/a.yaml", "sa");
  Write("specs/readme.md", "no");
  Write("specs/c.yaml.bak", "no");
  Write("specs/noext", "no");
  SpecFiles r = ReadSpecFiles({P("specs")});
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Rel(r), ElementsAre("specs/a.yml", "specs/b.yaml", "specs/sub/a.yaml",
                                  "specs/sub/deeper/c.yaml"));
  EXPECT_EQ(r.files[0].content, "a");
  EXPECT_EQ(r.files[3].content, "c");
}

TEST_F(SpecFilesTest, HiddenDirectoriesAndFilesAreSkipped) {
  Write("specs/.git/config.yaml", "no");
  Write("specs/..2024_01_01/a.yaml", "no");  // a Kubernetes ConfigMap mount's data directory
  Write("specs/.#lock.yaml", "no");          // an editor lock file
  Write("specs/.hidden.yml", "no");
  Write("specs/ok.yaml", "yes");
  SpecFiles r = ReadSpecFiles({P("specs")});
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Rel(r), ElementsAre("specs/ok.yaml"));
}

TEST_F(SpecFilesTest, FilesAreReadWhateverTheirExtensionAndInArgumentOrder) {
  Write("z.txt", "z");
  Write("a.yaml", "a");
  SpecFiles r = ReadSpecFiles({P("z.txt"), P("a.yaml")});
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Rel(r), ElementsAre("z.txt", "a.yaml"));
  EXPECT_EQ(r.files[0].path, P("z.txt"));  // the path as given
  EXPECT_EQ(r.files[0].content, "z");
}

TEST_F(SpecFilesTest, MissingAndUnreadablePathsBecomeDiagnosticsAndTheRestIsRead) {
  Write("good.yaml", "g");
  Write("file.yaml", "f");
  SpecFiles r = ReadSpecFiles({P("missing.yaml"), P("good.yaml"), P("file.yaml/inner.yaml"),
                               P("nodir/")});
  EXPECT_THAT(Rel(r), ElementsAre("good.yaml"));
  EXPECT_THAT(Errors(r), ElementsAre(P("missing.yaml") + ": cannot read: No such file or directory",
                                     P("file.yaml/inner.yaml") + ": cannot read: Not a directory",
                                     P("nodir/") + ": cannot read: No such file or directory"));
  EXPECT_EQ(r.errors[0].pos.line, 0);
  EXPECT_EQ(r.errors[0].field, "");
}

TEST_F(SpecFilesTest, AnEmptyDirectoryGivesNoFilesAndNoErrors) {
  fs::create_directories(root_ / "empty");
  SpecFiles r = ReadSpecFiles({P("empty")});
  EXPECT_THAT(r.files, IsEmpty());
  EXPECT_THAT(r.errors, IsEmpty());
}

TEST_F(SpecFilesTest, AFileReachedTwiceIsReadOnceUnderItsFirstName) {
  Write("specs/a.yaml", "a");
  Write("specs/b.yaml", "b");
  fs::create_symlink(root_ / "specs" / "a.yaml", root_ / "specs" / "link.yaml");
  SpecFiles r = ReadSpecFiles({P("specs/b.yaml"), P("specs"), P("specs/a.yaml")});
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(Rel(r), ElementsAre("specs/b.yaml", "specs/a.yaml"));
}

TEST_F(SpecFilesTest, SymlinkedFilesAreReadDanglingOnesReportedDirectoriesNotFollowed) {
  Write("data/real.yaml", "r");
  Write("other/inside.yaml", "o");
  fs::create_directories(root_ / "specs");
  fs::create_symlink(root_ / "data" / "real.yaml", root_ / "specs" / "real.yaml");
  fs::create_symlink(root_ / "nowhere.yaml", root_ / "specs" / "dangling.yaml");
  fs::create_directory_symlink(root_ / "other", root_ / "specs" / "linked-dir");
  fs::create_directory_symlink(root_ / "specs", root_ / "specs" / "loop");
  SpecFiles r = ReadSpecFiles({P("specs")});
  EXPECT_THAT(Rel(r), ElementsAre("specs/real.yaml"));
  EXPECT_EQ(r.files[0].content, "r");
  EXPECT_THAT(Errors(r),
              ElementsAre(P("specs/dangling.yaml") + ": cannot read: No such file or directory"));
}

TEST_F(SpecFilesTest, AnUnreadableSubdirectoryIsAnErrorUnderItsPathAndTheRestIsRead) {
  Write("specs/a.yaml", "a");
  Write("specs/locked/b.yaml", "b");
  Write("specs/z/c.yaml", "c");
  fs::permissions(root_ / "specs" / "locked", fs::perms::none);
  test_support::ScopedFilePermissionsEnforced enforced;
  if (!enforced.ok()) {
    fs::permissions(root_ / "specs" / "locked", fs::perms::owner_all);
    GTEST_SKIP() << "running as root and capset refused: chmod 000 cannot be made to bind";
  }
  SpecFiles r = ReadSpecFiles({P("specs")});
  SpecFiles d = ReadSpecDirectory(P("specs"));
  fs::permissions(root_ / "specs" / "locked", fs::perms::owner_all);
  EXPECT_THAT(Rel(r), ElementsAre("specs/a.yaml", "specs/z/c.yaml"));
  EXPECT_THAT(Errors(r), ElementsAre(P("specs/locked") + ": cannot read: Permission denied"));
  EXPECT_THAT(Rel(d), ElementsAre("specs/a.yaml", "specs/z/c.yaml"));
  EXPECT_THAT(Errors(d), ElementsAre(P("specs/locked") + ": cannot read: Permission denied"));
}

TEST_F(SpecFilesTest, SpecNamesThatAreNotRegularFilesAreErrorsAndNeverBlock) {
  Write("specs/ok.yaml", "ok");
  ASSERT_EQ(::mkfifo(P("specs/fifo.yaml").c_str(), 0644), 0);
  fs::create_directories(root_ / "specs" / "dir.yaml");
  Write("specs/dir.yaml/inner.yaml", "never read: a directory with a spec name is not walked");
  fs::create_symlink("/dev/zero", root_ / "specs" / "zero.yaml");
  SpecFiles r = ReadSpecDirectory(P("specs"));
  EXPECT_THAT(Rel(r), ElementsAre("specs/ok.yaml"));
  EXPECT_THAT(Errors(r),
              ElementsAre(P("specs/dir.yaml") + ": cannot read: not a regular file (a directory)",
                          P("specs/fifo.yaml") + ": cannot read: not a regular file (a FIFO)",
                          P("specs/zero.yaml") +
                              ": cannot read: not a regular file (a character device)"));
  // Given by name, the same.
  SpecFiles given = ReadSpecFiles({P("specs/fifo.yaml")});
  EXPECT_THAT(Errors(given),
              ElementsAre(P("specs/fifo.yaml") + ": cannot read: not a regular file (a FIFO)"));
}

TEST_F(SpecFilesTest, ReadSpecDirectoryRequiresADirectory) {
  Write("file", "apiVersion: x");
  SpecFiles missing = ReadSpecDirectory(P("gone"));
  EXPECT_THAT(missing.files, IsEmpty());
  EXPECT_THAT(Errors(missing), ElementsAre(P("gone") + ": cannot read: No such file or directory"));
  SpecFiles file = ReadSpecDirectory(P("file"));
  EXPECT_THAT(file.files, IsEmpty()) << "a file where DIR was is not read as a spec";
  EXPECT_THAT(Errors(file), ElementsAre(P("file") + ": cannot read: Not a directory"));
}

TEST_F(SpecFilesTest, ResultFeedsTheLoader) {
  Write("specs/app.yaml",
        "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\nmetadata: {name: app}\n"
        "spec:\n  task: {driver: raw_exec}\n");
  SpecFiles files = ReadSpecFiles({P("specs")});
  spec::LoadResult r = spec::LoadSpecs(files.files);
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.valid.size(), 1u);
  EXPECT_EQ(r.valid[0].source.file, P("specs/app.yaml"));
}

}  // namespace
}  // namespace nsg::io

namespace nsg::io {
namespace {

// The rescan's change detector (controller RescanSpecs): equal only while nothing that
// ReadSpecDirectory reads changed; unknown when the directory cannot be walked.
TEST_F(SpecFilesTest, FingerprintChangesWithWhatTheReadWouldSee) {
  Write("specs/a.yaml", "aaaa");
  Write("specs/sub/b.yaml", "bbbb");
  auto fp = [&] {
    auto f = SpecDirectoryFingerprint(P("specs"));
    EXPECT_TRUE(f.has_value());
    return f.value_or(SpecDirFingerprint{}).hash;
  };
  const uint64_t first = fp();
  EXPECT_EQ(fp(), first);
  // Not read, so not seen: hidden files and other extensions.
  Write("specs/.a.yaml.swp", "x");
  Write("specs/notes.md", "x");
  EXPECT_EQ(fp(), first);
  // Read, so seen: a new spec, a rewrite to another size, a rename, a deletion.
  Write("specs/c.yaml", "c");
  const uint64_t with_c = fp();
  EXPECT_NE(with_c, first);
  Write("specs/a.yaml", "aaaaaaaa");
  const uint64_t rewritten = fp();
  EXPECT_NE(rewritten, with_c);
  fs::rename(P("specs/sub/b.yaml"), P("specs/sub/b2.yaml"));
  const uint64_t renamed = fp();
  EXPECT_NE(renamed, rewritten);
  fs::remove(P("specs/c.yaml"));
  EXPECT_NE(fp(), renamed);
  // A same-size rewrite replaced by rename (what editors and git do) is a new inode.
  const uint64_t before_swap = fp();
  Write("specs/a.yaml.tmp", "AAAAAAAA");
  fs::rename(P("specs/a.yaml.tmp"), P("specs/a.yaml"));
  EXPECT_NE(fp(), before_swap);
  // The newest file time is reported, for the controller's "old enough to trust" rule.
  struct stat st;
  ASSERT_EQ(::stat(P("specs/a.yaml").c_str(), &st), 0);
  EXPECT_GE(SpecDirectoryFingerprint(P("specs"))->newest_change_ns,
            int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec);
  // Nothing to fingerprint: no directory, or a file in its place.
  EXPECT_FALSE(SpecDirectoryFingerprint(P("missing")).has_value());
  EXPECT_FALSE(SpecDirectoryFingerprint(P("specs/a.yaml")).has_value());
}

}  // namespace
}  // namespace nsg::io
