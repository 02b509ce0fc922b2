// io::GitSource against real repositories (made with the git binary; fetched by path and over a
// loopback `git daemon`): publishing a commit as a complete tree behind an atomic symlink, the
// --git-path subdirectory, force-pushes, refused symlinks, a remote that goes away, credentials
// never shown, the checkout dir's lock; and the webhook signature.
#include "controller/controller_io/git_source.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stop_token>
#include <string>

#include "tests/test_support/git_repo.h"
#include "tests/test_support/temp_dir.h"
#include "tests/test_support/wait.h"

namespace nsg::io {
namespace {

namespace fs = std::filesystem;
using Outcome = GitSyncResult::Outcome;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class GitSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("nsg-git-source");
    repo_.emplace(tmp_->path());
  }

  std::unique_ptr<GitSource> Open(GitSourceOptions o = {}) {
    if (o.url.empty()) o.url = repo_->bare().string();
    o.checkout_dir = (tmp_->path() / "checkout").string();
    auto s = GitSource::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  std::optional<test_support::TestTempDir> tmp_;
  std::optional<test_support::GitTestRepo> repo_;
  std::stop_source stop_;
};

TEST_F(GitSourceTest, PublishesEachCommitAsACompleteTreeBehindASymlink) {
  repo_->Write("specs/a.yaml", "a: 1\n");
  repo_->Write("specs/sub/b.yaml", "b: 1\n");
  repo_->Write("README", "not a spec\n");
  const std::string c1 = repo_->CommitAndPush("one");
  GitSourceOptions o;
  o.path = "specs/";
  auto src = Open(o);
  ASSERT_TRUE(src);
  const fs::path checkout = tmp_->path() / "checkout";
  EXPECT_EQ(src->spec_dir(), (checkout / "current" / "specs").string());
  EXPECT_EQ(src->revision(), "");

  GitSyncResult r = src->Sync(stop_.get_token());
  ASSERT_EQ(r.outcome, Outcome::kUpdated) << r.error.ToString();
  EXPECT_EQ(r.revision, c1);
  EXPECT_EQ(src->revision(), c1);
  EXPECT_EQ(fs::read_symlink(checkout / "current"), fs::path("trees") / c1);
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "a.yaml"), "a: 1\n");
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "sub/b.yaml"), "b: 1\n");
  EXPECT_FALSE(fs::exists(checkout / "current" / "README")) << "only --git-path is checked out";

  EXPECT_EQ(src->Sync(stop_.get_token()).outcome, Outcome::kUnchanged);

  repo_->Write("specs/a.yaml", "a: 2\n");
  repo_->Remove("specs/sub/b.yaml");
  const std::string c2 = repo_->CommitAndPush("two");
  r = src->Sync(stop_.get_token());
  ASSERT_EQ(r.outcome, Outcome::kUpdated) << r.error.ToString();
  EXPECT_EQ(r.previous, c1);
  EXPECT_EQ(r.revision, c2);
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "a.yaml"), "a: 2\n");
  EXPECT_FALSE(fs::exists(fs::path(src->spec_dir()) / "sub/b.yaml"));
  EXPECT_FALSE(fs::exists(checkout / "trees" / c1)) << "the superseded tree is removed";
  const GitSourceStatus st = src->status();
  EXPECT_EQ(st.revision, c2);
  EXPECT_EQ(st.fetches, 3u);
  EXPECT_EQ(st.failures, 0u);
  EXPECT_GT(st.last_success, 0);
  EXPECT_FALSE(st.last_change_forced);

  // A restart finds what it published and does not publish it again.
  src.reset();
  src = Open(o);
  ASSERT_TRUE(src);
  EXPECT_EQ(src->revision(), c2);
  EXPECT_EQ(src->Sync(stop_.get_token()).outcome, Outcome::kUnchanged);
}

TEST_F(GitSourceTest, ForcePushIsPublishedAndReported) {
  repo_->Write("a.yaml", "a: 1\n");
  const std::string c1 = repo_->CommitAndPush("one");
  repo_->Write("a.yaml", "a: 2\n");
  repo_->CommitAndPush("two");
  auto src = Open();
  ASSERT_TRUE(src);
  ASSERT_EQ(src->Sync(stop_.get_token()).outcome, Outcome::kUpdated);

  repo_->ResetTo(c1);
  repo_->Write("a.yaml", "a: 3\n");
  const std::string c3 = repo_->CommitAndPush("three", /*force=*/true);
  const GitSyncResult r = src->Sync(stop_.get_token());
  ASSERT_EQ(r.outcome, Outcome::kForced) << r.error.ToString();
  EXPECT_EQ(r.revision, c3);
  EXPECT_TRUE(src->status().last_change_forced);
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "a.yaml"), "a: 3\n");
}

TEST_F(GitSourceTest, BadCommitsAndMissingPathLeaveThePublishedTree) {
  repo_->Write("specs/a.yaml", "a: 1\n");
  const std::string c1 = repo_->CommitAndPush("one");
  GitSourceOptions o;
  o.path = "specs";
  auto src = Open(o);
  ASSERT_TRUE(src);
  ASSERT_EQ(src->Sync(stop_.get_token()).outcome, Outcome::kUpdated);

  // A symlink out of the tree would make the controller read any file of its host.
  fs::create_symlink("/etc/passwd", tmp_->path() / "work" / "specs" / "p.yaml");
  repo_->CommitAndPush("symlink out");
  GitSyncResult r = src->Sync(stop_.get_token());
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("symlink to /etc/passwd"), std::string::npos)
      << r.error.ToString();
  EXPECT_EQ(r.revision, c1);
  EXPECT_EQ(src->revision(), c1);
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "a.yaml"), "a: 1\n");
  EXPECT_FALSE(src->status().last_error.empty());
  EXPECT_EQ(src->status().failures, 1u);
  // No partial tree is left behind.
  size_t trees = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp_->path() / "checkout/trees")) {
    ++trees;
  }
  EXPECT_EQ(trees, 1u);

  // A symlink inside the tree is fine.
  repo_->Remove("specs/p.yaml");
  fs::create_symlink("a.yaml", tmp_->path() / "work" / "specs" / "alias.yaml");
  const std::string c3 = repo_->CommitAndPush("symlink in");
  r = src->Sync(stop_.get_token());
  ASSERT_EQ(r.outcome, Outcome::kUpdated) << r.error.ToString();
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "alias.yaml"), "a: 1\n");
  EXPECT_TRUE(src->status().last_error.empty());

  // A commit without --git-path is not an empty spec directory.
  fs::remove_all(tmp_->path() / "work" / "specs");
  repo_->Write("other/x.yaml", "x: 1\n");
  repo_->CommitAndPush("moved");
  r = src->Sync(stop_.get_token());
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("has no directory specs"), std::string::npos)
      << r.error.ToString();
  EXPECT_EQ(src->revision(), c3);
  EXPECT_TRUE(fs::exists(fs::path(src->spec_dir()) / "a.yaml"));
}

TEST_F(GitSourceTest, OverGitDaemonAndWhenTheRemoteGoesAway) {
  repo_->Write("a.yaml", "a: 1\n");
  const std::string c1 = repo_->CommitAndPush("one");
  test_support::GitDaemon daemon(tmp_->path());
  ASSERT_TRUE(daemon.Start());
  GitSourceOptions o;
  o.url = daemon.Url("remote.git");
  o.ref = "main";
  auto src = Open(o);
  ASSERT_TRUE(src);
  GitSyncResult r = src->Sync(stop_.get_token());
  ASSERT_EQ(r.outcome, Outcome::kUpdated) << r.error.ToString();
  EXPECT_EQ(r.revision, c1);

  daemon.Stop();
  r = src->Sync(stop_.get_token());
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.revision, c1);
  EXPECT_NE(r.error.message().find(o.url), std::string::npos) << r.error.ToString();
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "a.yaml"), "a: 1\n");

  ASSERT_TRUE(daemon.Start(daemon.port()));
  r = src->Sync(stop_.get_token());
  EXPECT_EQ(r.outcome, Outcome::kUnchanged) << r.error.ToString();
  EXPECT_TRUE(src->status().last_error.empty());
}

TEST_F(GitSourceTest, UnknownRefFails) {
  repo_->Write("a.yaml", "a: 1\n");
  repo_->CommitAndPush("one");
  GitSourceOptions o;
  o.ref = "no-such-branch";
  auto src = Open(o);
  ASSERT_TRUE(src);
  const GitSyncResult r = src->Sync(stop_.get_token());
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("ref no-such-branch not found"), std::string::npos)
      << r.error.ToString();
  EXPECT_EQ(r.revision, "");
}

TEST_F(GitSourceTest, CredentialsNeverShown) {
  // Nothing listens on port 1: the error names the URL, never its userinfo or the token.
  const fs::path token = tmp_->path() / "token";
  std::ofstream(token) << "t0ken-s3cret\n";
  GitSourceOptions o;
  o.url = "https://someone:pa55word@127.0.0.1:1/repo.git";
  o.token_file = token.string();
  auto src = Open(o);
  ASSERT_TRUE(src);
  const GitSyncResult r = src->Sync(stop_.get_token());
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  const GitSourceStatus st = src->status();
  for (const std::string& text : {r.error.message(), st.url, st.last_error}) {
    EXPECT_EQ(text.find("pa55word"), std::string::npos) << text;
    EXPECT_EQ(text.find("someone"), std::string::npos) << text;
    EXPECT_EQ(text.find("t0ken-s3cret"), std::string::npos) << text;
  }
  EXPECT_EQ(st.url, "https://127.0.0.1:1/repo.git");
}

TEST_F(GitSourceTest, OneProcessPerCheckoutDirAndOptionsChecked) {
  auto first = Open();
  ASSERT_TRUE(first);
  GitSourceOptions o;
  o.url = repo_->bare().string();
  o.checkout_dir = (tmp_->path() / "checkout").string();
  auto second = GitSource::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), base::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos);

  o.checkout_dir = (tmp_->path() / "other").string();
  o.path = "../x";
  EXPECT_EQ(GitSource::Open(o).status().code(), base::StatusCode::kInvalidSpec);
  o.path = "";
  o.token_file = "t";
  o.ssh_key_file = "k";
  EXPECT_EQ(GitSource::Open(o).status().code(), base::StatusCode::kInvalidSpec);
}

TEST_F(GitSourceTest, WaitForNextReturnsOnTriggerAndStop) {
  GitSourceOptions o;
  o.interval = std::chrono::hours(1);
  auto src = Open(o);
  ASSERT_TRUE(src);
  EXPECT_TRUE(src->WaitForNext(stop_.get_token()));  // the first fetch is due at once
  src->Sync(stop_.get_token());                      // fails (empty remote); next in an hour
  src->Trigger();
  EXPECT_TRUE(src->WaitForNext(stop_.get_token()));
  std::jthread stopper([this] { stop_.request_stop(); });
  EXPECT_FALSE(src->WaitForNext(stop_.get_token()));
}

// A server that accepts the connection and then says nothing: libgit2 alone would wait for ever.
TEST_F(GitSourceTest, SilentServerTimesOutAndStopEndsTheWait) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 8), 0);  // the kernel completes handshakes; nobody answers
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  GitSourceOptions o;
  o.url = "git://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x.git";
  o.io_timeout = std::chrono::milliseconds(300);
  auto src = Open(o);
  ASSERT_TRUE(src);
  auto t0 = std::chrono::steady_clock::now();
  GitSyncResult r = src->Sync(stop_.get_token());
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("no progress for 300ms"), std::string::npos)
      << r.error.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));

  // With a long timeout, a stop ends the wait.
  src.reset();
  o.io_timeout = std::chrono::hours(1);
  src = Open(o);
  ASSERT_TRUE(src);
  std::stop_source stop;
  std::jthread stopper([&] {
    // Stop once the fetch waits on the silent server: its connection is queued (the listening
    // socket is readable) and nothing will ever answer it.
    EXPECT_TRUE(test_support::WaitUntil([&] {
      pollfd p{listener, POLLIN, 0};
      return ::poll(&p, 1, 0) > 0;
    }));
    stop.request_stop();
  });
  t0 = std::chrono::steady_clock::now();
  r = src->Sync(stop.get_token());
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("cancelled"), std::string::npos) << r.error.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  ::close(listener);
}

// Smart HTTP behind basic auth (git http-backend): the token from --git-token-file gets in; a
// wrong one is refused once, not retried in a loop; none at all says which flag is missing.
TEST_F(GitSourceTest, TokenFileOverSmartHttp) {
  repo_->Write("a.yaml", "a: 1\n");
  const std::string c1 = repo_->CommitAndPush("one");
  test_support::GitHttpServer http(tmp_->path(), kDefaultGitUsername, "t0ken");
  const fs::path token = tmp_->path() / "token";
  std::ofstream(token) << "wrong\n";
  GitSourceOptions o;
  o.url = http.Url("remote.git");
  o.token_file = token.string();
  auto src = Open(o);
  ASSERT_TRUE(src);
  GitSyncResult r = src->Sync(stop_.get_token());
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("the remote refused the credentials"), std::string::npos)
      << r.error.ToString();
  EXPECT_LE(http.refused(), 2) << "the refused token was sent again and again";
  EXPECT_EQ(r.error.message().find("wrong"), std::string::npos) << r.error.ToString();

  std::ofstream(token, std::ios::trunc) << "t0ken\n";  // rotated: re-read on use
  r = src->Sync(stop_.get_token());
  ASSERT_EQ(r.outcome, Outcome::kUpdated) << r.error.ToString();
  EXPECT_EQ(r.revision, c1);
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "a.yaml"), "a: 1\n");

  src.reset();
  o.token_file.clear();
  src = Open(o);
  ASSERT_TRUE(src);
  repo_->Write("a.yaml", "a: 2\n");
  repo_->CommitAndPush("two");
  r = src->Sync(stop_.get_token());
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("--git-token-file"), std::string::npos) << r.error.ToString();
}

TEST(IsSshUrl, SchemesAndScpLike) {
  EXPECT_TRUE(IsSshUrl("ssh://git@host/x.git"));
  EXPECT_TRUE(IsSshUrl("git@github.com:org/repo.git"));
  EXPECT_TRUE(IsSshUrl("host:repo.git"));
  EXPECT_FALSE(IsSshUrl("https://host/x.git"));
  EXPECT_FALSE(IsSshUrl("git://host:9418/x.git"));
  EXPECT_FALSE(IsSshUrl("/srv/git/x.git"));
  EXPECT_FALSE(IsSshUrl("./a:b"));
}

TEST(RedactedUrl, DropsUserinfoOnly) {
  EXPECT_EQ(RedactedUrl("https://u:p@host/x.git"), "https://host/x.git");
  EXPECT_EQ(RedactedUrl("https://tok@host:8443/a@b"), "https://host:8443/a@b");
  EXPECT_EQ(RedactedUrl("https://host/x.git"), "https://host/x.git");
  EXPECT_EQ(RedactedUrl("ssh://git@host/x.git"), "ssh://host/x.git");
  EXPECT_EQ(RedactedUrl("git@github.com:org/repo.git"), "git@github.com:org/repo.git");
  EXPECT_EQ(RedactedUrl("/srv/git/repo.git"), "/srv/git/repo.git");
}

TEST(WebhookSignature, GitHubsExampleAndRefusals) {
  // The example of GitHub's "Validating webhook deliveries".
  const std::string secret = "It's a Secret to Everybody";
  const std::string body = "Hello, World!";
  const std::string sig =
      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  EXPECT_EQ(WebhookSignature(secret, body), sig);
  EXPECT_TRUE(VerifyWebhookSignature(secret, body, sig));
  EXPECT_FALSE(VerifyWebhookSignature(secret, body + " ", sig));
  EXPECT_FALSE(VerifyWebhookSignature("other", body, sig));
  EXPECT_FALSE(VerifyWebhookSignature(secret, body, ""));
  EXPECT_FALSE(VerifyWebhookSignature(secret, body, sig.substr(7)));  // no "sha256="
  EXPECT_FALSE(VerifyWebhookSignature("", body, WebhookSignature("", body)));
}

}  // namespace
}  // namespace nsg::io
