#include "controller/controller_io/git_revision.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "tests/test_support/temp_dir.h"

namespace nsg::io {
namespace {

namespace fs = std::filesystem;

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class GitRevisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(root_ / "repo" / "specs");
    // The user's and the system's git configuration stay out of the test.
    ::setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    ::setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
  }
  static bool HaveGit() { return std::system("git --version >/dev/null 2>&1") == 0; }

  // Runs git in `dir`; returns its trimmed output, failing the test when git fails.
  std::string Git(const fs::path& dir, const std::string& args) {
    const std::string cmd = "git -C " + Quote(dir.string()) +
                            " -c user.name=test -c user.email=test@example.com"
                            " -c commit.gpgsign=false -c init.defaultBranch=main " +
                            args + " 2>&1";
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
      ADD_FAILURE() << "popen: " << cmd;
      return "";
    }
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = ::pclose(p);
    EXPECT_EQ(rc, 0) << cmd << "\n" << out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  void Write(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }

  // A repository at root_/repo with one commit of specs/a.yaml.
  void InitRepo() {
    Git(root_ / "repo", "init -q");
    Commit("a.yaml", "one");
  }
  void Commit(const std::string& file, const std::string& content) {
    Write(root_ / "repo" / "specs" / file, content);
    Git(root_ / "repo", "add -A");
    Git(root_ / "repo", "commit -q -m " + Quote(file + " " + content));
  }

  // A hand-made repository (no git binary): .git/HEAD and the given loose refs.
  fs::path FakeRepo(const std::string& head) {
    const fs::path git = root_ / "repo" / ".git";
    Write(git / "HEAD", head);
    fs::create_directories(git / "refs" / "heads");
    return git;
  }

  test_support::TestTempDir tmp_{"nsg_git_revision"};
  const fs::path root_ = tmp_.path();
};

constexpr std::string_view kId1 = "0123456789abcdef0123456789abcdef01234567";
constexpr std::string_view kId2 = "89abcdef0123456789abcdef0123456789abcdef";

#define REQUIRE_GIT()                                                                  \
  if (!HaveGit()) GTEST_SKIP() << "the git binary is not installed (.ci/setup-deps.sh " \
                                  "installs it)"

TEST_F(GitRevisionTest, MatchesRevParseFromTheSpecDirectory) {
  REQUIRE_GIT();
  InitRepo();
  const std::string want = Git(root_ / "repo", "rev-parse HEAD");
  ASSERT_EQ(want.size(), 40u);
  EXPECT_EQ(GitRevision((root_ / "repo" / "specs").string()), want);
  EXPECT_EQ(GitRevision((root_ / "repo").string()), want);

  std::optional<GitHead> head = ReadGitHead((root_ / "repo" / "specs").string());
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->work_tree, (fs::canonical(root_ / "repo")).string());
  EXPECT_EQ(head->ref, "refs/heads/main");
  EXPECT_EQ(fs::path(head->head_file), fs::canonical(root_ / "repo" / ".git" / "HEAD"));
  EXPECT_EQ(fs::path(head->ref_file),
            fs::canonical(root_ / "repo" / ".git" / "refs" / "heads" / "main"));

  // A new commit is a new revision.
  Commit("b.yaml", "two");
  const std::string second = Git(root_ / "repo", "rev-parse HEAD");
  EXPECT_NE(second, want);
  EXPECT_EQ(GitRevision((root_ / "repo" / "specs").string()), second);
}

TEST_F(GitRevisionTest, PackedRefsAreRead) {
  REQUIRE_GIT();
  InitRepo();
  Git(root_ / "repo", "pack-refs --all");
  ASSERT_FALSE(fs::exists(root_ / "repo" / ".git" / "refs" / "heads" / "main"));
  EXPECT_EQ(GitRevision((root_ / "repo" / "specs").string()), Git(root_ / "repo", "rev-parse HEAD"));
  std::optional<GitHead> head = ReadGitHead((root_ / "repo").string());
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(fs::path(head->ref_file).filename(), "packed-refs");
  // A commit after packing writes a loose ref again, which wins over the packed one.
  Commit("b.yaml", "two");
  EXPECT_EQ(GitRevision((root_ / "repo").string()), Git(root_ / "repo", "rev-parse HEAD"));
}

TEST_F(GitRevisionTest, DetachedHead) {
  REQUIRE_GIT();
  InitRepo();
  const std::string first = Git(root_ / "repo", "rev-parse HEAD");
  Commit("b.yaml", "two");
  Git(root_ / "repo", "checkout -q --detach " + first);
  EXPECT_EQ(GitRevision((root_ / "repo" / "specs").string()), first);
  std::optional<GitHead> head = ReadGitHead((root_ / "repo").string());
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->ref, "");
  EXPECT_EQ(head->ref_file, "");
}

TEST_F(GitRevisionTest, LinkedWorktreeReadsItsOwnHeadAndTheCommonRefs) {
  REQUIRE_GIT();
  InitRepo();
  Git(root_ / "repo", "worktree add -q -b feature " + Quote((root_ / "wt").string()));
  ASSERT_TRUE(fs::is_regular_file(root_ / "wt" / ".git"));
  Write(root_ / "wt" / "specs" / "c.yaml", "three");
  Git(root_ / "wt", "add -A");
  Git(root_ / "wt", "commit -q -m three");
  const std::string wt = Git(root_ / "wt", "rev-parse HEAD");
  EXPECT_NE(wt, Git(root_ / "repo", "rev-parse HEAD"));
  EXPECT_EQ(GitRevision((root_ / "wt" / "specs").string()), wt);
  EXPECT_EQ(GitRevision((root_ / "repo" / "specs").string()), Git(root_ / "repo", "rev-parse HEAD"));
  std::optional<GitHead> head = ReadGitHead((root_ / "wt").string());
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->ref, "refs/heads/feature");
  // The branch lives in the main repository's refs, HEAD in the worktree's own git dir.
  EXPECT_EQ(fs::path(head->ref_file),
            fs::canonical(root_ / "repo" / ".git" / "refs" / "heads" / "feature"));
  EXPECT_EQ(fs::path(head->head_file).parent_path().parent_path(),
            fs::canonical(root_ / "repo" / ".git" / "worktrees"));
}

TEST_F(GitRevisionTest, GitFileWithRelativeGitdirAsInSubmodules) {
  REQUIRE_GIT();
  InitRepo();
  const std::string want = Git(root_ / "repo", "rev-parse HEAD");
  fs::create_directories(root_ / "store");
  fs::rename(root_ / "repo" / ".git", root_ / "store" / "repo.git");
  Write(root_ / "repo" / ".git", "gitdir: ../store/repo.git\n");
  ASSERT_EQ(Git(root_ / "repo", "rev-parse HEAD"), want);  // git agrees the layout is valid
  EXPECT_EQ(GitRevision((root_ / "repo" / "specs").string()), want);
}

TEST_F(GitRevisionTest, OutsideAnyCheckoutIsNullopt) {
  const fs::path outside = root_ / "plain";
  fs::create_directories(outside);
  const std::string probe = "git -C " + Quote(outside.string()) +
                            " rev-parse --is-inside-work-tree >/dev/null 2>&1";
  if (HaveGit() && std::system(probe.c_str()) == 0) {
    GTEST_SKIP() << fs::temp_directory_path() << " is itself inside a git checkout";
  }
  EXPECT_EQ(GitRevision(outside.string()), std::nullopt);
  EXPECT_EQ(GitRevision((root_ / "does-not-exist").string()), std::nullopt);
}

// The rest need no git binary: hand-made .git directories.

TEST_F(GitRevisionTest, HandMadeLooseAndPackedRefsAndSymrefs) {
  const fs::path git = FakeRepo("ref: refs/heads/main\n");
  Write(git / "refs" / "heads" / "main", std::string(kId1) + "\n");
  EXPECT_EQ(GitRevision((root_ / "repo" / "specs").string()), kId1);

  // packed-refs with its header and a peeled tag line; the ref is only packed.
  fs::remove(git / "refs" / "heads" / "main");
  const std::string id1(kId1);
  const std::string id2(kId2);
  Write(git / "packed-refs", "# pack-refs with: peeled fully-peeled sorted \n" + id2 +
                                 " refs/heads/main\n" + id1 + " refs/tags/v1\n^" + id2 + "\n");
  EXPECT_EQ(GitRevision((root_ / "repo").string()), kId2);

  // A symbolic ref to a symbolic ref.
  Write(git / "HEAD", "ref: refs/heads/alias\n");
  Write(git / "refs" / "heads" / "alias", "ref: refs/heads/main\n");
  EXPECT_EQ(GitRevision((root_ / "repo").string()), kId2);
  // A SHA-256 repository's IDs are 64 hex digits.
  const std::string id256(64, 'a');
  Write(git / "HEAD", id256 + "\n");
  EXPECT_EQ(GitRevision((root_ / "repo").string()), id256);
}

TEST_F(GitRevisionTest, MalformedRepositoriesAreNullopt) {
  const fs::path git = FakeRepo("");
  Write(git / "refs" / "heads" / "main", std::string(kId1) + "\n");
  const std::string dir = (root_ / "repo" / "specs").string();
  for (const std::string head : {
           "",                                    // empty HEAD
           "garbage\n",                           // neither a ref nor an ID
           "0123456789abcdef\n",                  // a short ID
           "0123456789ABCDEF0123456789ABCDEF01234567\n",  // not how git writes IDs
           "ref: refs/heads/unborn\n",            // a branch with no commit yet
           "ref: ../../../etc/passwd\n",          // outside refs/
           "ref: refs/heads/../../HEAD\n",        // escapes refs/
           "ref: refs/heads/loop\n",              // a symref loop
       }) {
    Write(git / "HEAD", head);
    Write(git / "refs" / "heads" / "loop", "ref: refs/heads/loop\n");
    EXPECT_EQ(GitRevision(dir), std::nullopt) << "HEAD: " << head;
  }
  // A bad loose ref and a bad packed line.
  Write(git / "HEAD", "ref: refs/heads/main\n");
  Write(git / "refs" / "heads" / "main", "not an id\n");
  EXPECT_EQ(GitRevision(dir), std::nullopt);
  fs::remove(git / "refs" / "heads" / "main");
  Write(git / "packed-refs", "xyz refs/heads/main\n");
  EXPECT_EQ(GitRevision(dir), std::nullopt);
  // A .git file without "gitdir:", and one pointing nowhere.
  fs::remove_all(git);
  Write(git, "not a gitdir line\n");
  EXPECT_EQ(GitRevision(dir), std::nullopt);
  Write(git, "gitdir: ../nowhere\n");
  EXPECT_EQ(GitRevision(dir), std::nullopt);
}

}  // namespace
}  // namespace nsg::io
