// End to end: `nomad-singleton controller --git-url` (in process, RunController on a thread)
// against the simulator over HTTP, with its specs in a bare repository served by a loopback
// `git daemon` (127.0.0.1 port 0). A pushed commit reaches Nomad on the signed
// webhook; unsigned, badly signed and oversized webhook bodies are refused; a commit with a broken
// spec leaves the running job alone; a force-push and an unreachable remote are handled and shown
// in /status and the metrics, and nothing is pruned while the remote cannot be read. Every wait
// is on a condition with a deadline.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/cmd/controller_commands.h"
#include "controller/controller_io/git_source.h"
#include "controller/render/job_renderer.h"
#include "tests/cmd/controller_e2e_util.h"
#include "tests/test_support/git_repo.h"
#include "tests/test_support/temp_dir.h"
#include "tests/test_support/wait.h"

namespace nsg {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using cmd::testing::ControllerSimTest;
using cmd::testing::HttpPost;
using cmd::testing::RunningController;
using cmd::testing::SpecYaml;
using test_support::MetricValue;
using test_support::WaitUntil;

constexpr char kSecret[] = "webhook-s3cret";

TEST(ControllerGitFlags, UsageErrorsAndHelp) {
  std::stop_source stop;
  auto run = [&](const std::vector<std::string>& argv) {
    return cmd::RunController(argv, stop.get_token());
  };
  EXPECT_EQ(run({"--git-url", "/nowhere"}), 2) << "--git-checkout-dir is required";
  EXPECT_EQ(run({"--specs", ".", "--git-url", "/x", "--git-checkout-dir", "/tmp/x"}), 2);
  EXPECT_EQ(run({"--specs", ".", "--git-ref", "main"}), 2) << "--git-ref without --git-url";
  EXPECT_EQ(run({"--git-url", "/x", "--git-checkout-dir", "/tmp/x", "--git-interval", "0s"}), 2);
  EXPECT_EQ(run({"--git-url", "/x", "--git-checkout-dir", "/tmp/x", "--git-webhook-secret-file",
                 "/nonexistent/secret"}),
            2);
  EXPECT_EQ(run({}), 2) << "neither --specs nor --git-url";
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run({"--help"}), 0);
  const std::string help = ::testing::internal::GetCapturedStdout();
  for (const char* flag : {"--git-url", "--git-ref", "--git-path", "--git-interval",
                           "--git-checkout-dir", "--git-token-file", "--git-ssh-key-file",
                           "--git-webhook-secret-file", "POST /hooks/git"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

// ControllerMain in a child process (its log is its stderr): neither a URL's userinfo nor the
// token from --git-token-file appears in the log, /status or /metrics, while the remote
// (nothing listens on port 1) fails every fetch.
TEST(ControllerGitProcess, CredentialsAreNeverLogged) {
  test_support::TestTempDir tmp("nsg-ctl-git-creds");
  std::ofstream(tmp.path() / "token") << "t0ken-s3cret\n";
  cmd::testing::ControllerProcess child(
      {"--git-url", "https://someone:pa55word@127.0.0.1:1/x.git", "--git-token-file",
       (tmp.path() / "token").string(), "--git-checkout-dir", (tmp.path() / "co").string(),
       "--git-interval", "100ms", "--http-addr", "127.0.0.1:0", "--address",
       "http://127.0.0.1:1", "--log-level", "debug"},
      tmp.path() / "log");
  ASSERT_TRUE(child.started());
  std::string http;
  const bool failed_twice = WaitUntil(
      [&] {
        const std::string text = child.Log();
        constexpr std::string_view kServing = "/status on ";
        const size_t at = text.find(kServing);
        const size_t first = text.find("git: connect to https://127.0.0.1:1/x.git");
        if (at == std::string::npos || first == std::string::npos) return false;
        const size_t from = at + kServing.size();
        if (http.empty()) http = text.substr(from, text.find('\n', from) - from);
        return text.find("git: connect to", first + 1) != std::string::npos;
      },
      20s);
  std::string status;
  std::string metrics;
  if (!http.empty()) {
    if (auto r = cmd::testing::HttpGet(http, "/status")) status = r->second;
    if (auto r = cmd::testing::HttpGet(http, "/metrics")) metrics = r->second;
  }
  EXPECT_TRUE(child.Terminate());
  const std::string text = child.Log();
  EXPECT_TRUE(failed_twice) << text;
  EXPECT_NE(status.find("\"last_error\""), std::string::npos) << status;
  EXPECT_NE(metrics.find("nomad_singleton_git_fetch_total{result=\"failed\"}"),
            std::string::npos);
  for (const std::string& where : {text, status, metrics}) {
    for (const char* secret : {"pa55word", "someone", "t0ken-s3cret"}) {
      EXPECT_EQ(where.find(secret), std::string::npos) << secret << " shown in:\n" << where;
    }
  }
}

class ControllerGitTest : public ControllerSimTest {
 protected:
  void SetUp() override {
    ControllerSimTest::SetUp();
    repo_.emplace(dir_);
    daemon_ = std::make_unique<test_support::GitDaemon>(dir_);
    ASSERT_TRUE(daemon_->Start());
    std::ofstream(dir_ / "webhook-secret") << kSecret << "\n";
  }
  void TearDown() override {
    ControllerSimTest::TearDown();
    daemon_.reset();
  }

  void StartGitController(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {
        "--git-url", daemon_->Url("remote.git"), "--git-ref", "main", "--git-path", "specs",
        "--git-checkout-dir", (dir_ / "checkout").string(),
        // Only the first fetch and the webhooks fetch in these tests.
        "--git-interval", "1h", "--git-webhook-secret-file", (dir_ / "webhook-secret").string(),
        "--http-addr", "127.0.0.1:0", "--address", server_->Address(), "--token", token_,
        "--log-level", "debug"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    controller_ = std::make_unique<RunningController>(argv);
    ASSERT_FALSE(controller_->http().empty()) << "the controller did not start its HTTP server";
  }

  // POST /hooks/git signed with `secret`; the HTTP status.
  int Webhook(const std::string& body = R"({"ref":"refs/heads/main"})",
              const std::string& secret = kSecret) {
    auto r = HttpPost(controller_->http(), "/hooks/git",
                      "X-Hub-Signature-256: " + io::WebhookSignature(secret, body) + "\r\n",
                      body);
    return r ? r->first : 0;
  }

  std::string JobRevision(const std::string& id) {
    auto job = Job(id);
    if (!job) return "";
    auto it = job->meta.find(render::kMetaRevision);
    return it == job->meta.end() ? "" : it->second;
  }
  std::string GitRevisionInStatus() {
    const auto st = Status();
    if (!st.contains("git") || !st["git"]["revision"].is_string()) return "";
    return st["git"]["revision"];
  }

  std::optional<test_support::GitTestRepo> repo_;
  std::unique_ptr<test_support::GitDaemon> daemon_;
};

TEST_F(ControllerGitTest, PushedCommitReachesNomadOnTheWebhook) {
  repo_->Write("specs/alpha.yaml", SpecYaml("alpha", "1000"));
  const std::string c1 = repo_->CommitAndPush("alpha");
  StartGitController();
  ASSERT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 1 && JobRevision("alpha") == c1; },
                        30s))
      << Status().dump(2);
  EXPECT_EQ(GitRevisionInStatus(), c1);
  const auto st = Status();
  EXPECT_EQ(st["git"]["url"], daemon_->Url("remote.git"));
  EXPECT_EQ(st["git"]["ref"], "main");
  EXPECT_TRUE(st["git"]["last_error"].is_null()) << st.dump(2);
  EXPECT_EQ(st["revision"], c1);
  EXPECT_TRUE(st["spec_source"]["complete"].get<bool>()) << st.dump(2);
  EXPECT_EQ(Metric("nomad_singleton_git_revision_info{revision=\"" + c1 + "\"}"), 1);
  EXPECT_EQ(Metric("nomad_singleton_git_fetch_total{result=\"updated\"}"), 1);
  EXPECT_GT(Metric("nomad_singleton_git_last_fetch_success_timestamp_seconds"), 1e9);
  const auto v0 = *Job("alpha");

  // Refused: no signature, a wrong one, a body over the cap. None of them fetches.
  const int connections = daemon_->connections();
  auto unsigned_post = HttpPost(controller_->http(), "/hooks/git", "", "{}");
  ASSERT_TRUE(unsigned_post);
  EXPECT_EQ(unsigned_post->first, 401);
  EXPECT_EQ(Webhook("{}", "not-the-secret"), 401);
  auto big = HttpPost(controller_->http(), "/hooks/git", "", std::string(2'000'000, 'x'));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->first, 413);
  auto get = cmd::testing::HttpGet(controller_->http(), "/hooks/git");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->first, 405);

  repo_->Write("specs/alpha.yaml", SpecYaml("alpha", "2000"));
  const std::string c2 = repo_->CommitAndPush("alpha 2000");
  EXPECT_EQ(daemon_->connections(), connections) << "a refused webhook fetched";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(Webhook(), 202);
  ASSERT_TRUE(WaitUntil([&] { return JobRevision("alpha") == c2; }, 10s)) << Status().dump(2);
  const auto took = std::chrono::steady_clock::now() - t0;
  // The interval is 1h: only the webhook can have fetched it. The latency is printed, not
  // asserted (speed is measured, never a unit test's pass/fail: docs/controller.md has the figure).
  std::cout << "webhook → registered job with the new commit: "
            << std::chrono::duration<double, std::milli>(took).count() << " ms\n";
  const auto v1 = *Job("alpha");
  EXPECT_GT(v1.version, v0.version);
  EXPECT_NE(v1.task_groups.at(0).tasks.at(0).config.find("2000"), std::string::npos);
  EXPECT_EQ(GitRevisionInStatus(), c2);
  EXPECT_EQ(Metric("nomad_singleton_git_revision_info{revision=\"" + c2 + "\"}"), 1);
  EXPECT_EQ(MetricValue(Metrics(), "nomad_singleton_git_revision_info{revision=\"" + c1 + "\"}"),
            std::nullopt)
      << "the old revision's series is gone";
}

TEST_F(ControllerGitTest, BrokenSpecCommitLeavesRunningJobsAlone) {
  repo_->Write("specs/alpha.yaml", SpecYaml("alpha", "1000"));
  repo_->Write("specs/beta.yaml", SpecYaml("beta", "1000"));
  const std::string c1 = repo_->CommitAndPush("alpha and beta");
  StartGitController({"--prune"});
  ASSERT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 1 && RunningAllocs("beta") == 1; },
                        30s))
      << Status().dump(2);
  ASSERT_TRUE(WaitUntil([&] { return Reconciled({"default/alpha", "default/beta"}, 0, "InSync"); },
                        30s));
  const auto alpha = *Job("alpha");
  const auto alpha_allocs = RunningAllocList("alpha");

  repo_->Write("specs/alpha.yaml", "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\n"
                                   "metadata: {name: alpha}\nspec:\n  lock: {ttl: nonsense}\n");
  const std::string c2 = repo_->CommitAndPush("break alpha");
  ASSERT_EQ(Webhook(), 202);
  const double t = Now();
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto c = ConditionOf("default/alpha", "Synced");
        return GitRevisionInStatus() == c2 && Reconciled({"default/alpha"}, t, "InvalidSpec") &&
               c && !c->first;
      },
      10s))
      << Status().dump(2);
  const auto after = *Job("alpha");
  EXPECT_EQ(after.job_modify_index, alpha.job_modify_index);
  EXPECT_EQ(after.version, alpha.version);
  EXPECT_FALSE(after.stop);
  ASSERT_EQ(RunningAllocList("alpha").size(), 1u);
  EXPECT_EQ(RunningAllocList("alpha")[0].id, alpha_allocs[0].id);
  EXPECT_EQ(Metric("nomad_singleton_spec_valid{singleton=\"default/alpha\"}"), 0);
  EXPECT_EQ(Metric("nomad_singleton_spec_valid{singleton=\"default/beta\"}"), 1);
}

TEST_F(ControllerGitTest, ForcePushAndUnreachableRemote) {
  repo_->Write("specs/alpha.yaml", SpecYaml("alpha", "1000"));
  repo_->Write("specs/beta.yaml", SpecYaml("beta", "1000"));
  const std::string c1 = repo_->CommitAndPush("one");
  repo_->Write("specs/alpha.yaml", SpecYaml("alpha", "2000"));
  const std::string c2 = repo_->CommitAndPush("two");
  StartGitController({"--prune"});
  ASSERT_TRUE(WaitUntil([&] { return JobRevision("alpha") == c2 && RunningAllocs("beta") == 1; },
                        30s))
      << Status().dump(2);

  // History rewritten: c3 replaces c2 (and drops beta) on main.
  repo_->ResetTo(c1);
  repo_->Write("specs/alpha.yaml", SpecYaml("alpha", "3000"));
  repo_->Remove("specs/beta.yaml");
  const std::string c3 = repo_->CommitAndPush("three", /*force=*/true);
  ASSERT_EQ(Webhook(), 202);
  ASSERT_TRUE(WaitUntil([&] { return JobRevision("alpha") == c3; }, 10s)) << Status().dump(2);
  auto st = Status();
  EXPECT_TRUE(st["git"]["last_change_forced"].get<bool>()) << st.dump(2);
  EXPECT_EQ(Metric("nomad_singleton_git_fetch_total{result=\"forced\"}"), 1);
  // beta's spec is gone from a source read completely: --prune deregisters it.
  ASSERT_TRUE(WaitUntil([&] { return Job("beta") && Job("beta")->stop; }, 10s))
      << Status().dump(2);

  // The remote goes away: the specs stay at c3, nothing is pruned, the failure is shown.
  daemon_->Stop();
  const auto alpha = *Job("alpha");
  ASSERT_EQ(Webhook(), 202);
  ASSERT_TRUE(WaitUntil(
      [&] {
        const auto s = Status();
        return s.contains("git") && s["git"]["last_error"].is_string() &&
               !s["spec_source"]["complete"].get<bool>();
      },
      10s))
      << Status().dump(2);
  st = Status();
  EXPECT_EQ(st["git"]["revision"], c3);
  EXPECT_NE(st["git"]["last_error"].get<std::string>().find(daemon_->Url("remote.git")),
            std::string::npos)
      << st.dump(2);
  EXPECT_NE(st["spec_source"]["unreadable"].dump().find("git "), std::string::npos) << st.dump(2);
  EXPECT_EQ(Metric("nomad_singleton_spec_source_unreadable_paths"), 1);
  EXPECT_EQ(Metric("nomad_singleton_git_fetch_total{result=\"failed\"}"), 1);
  EXPECT_EQ(Job("alpha")->job_modify_index, alpha.job_modify_index);
  EXPECT_FALSE(Job("alpha")->stop);

  // Back: the source reads completely again.
  ASSERT_TRUE(daemon_->Start(daemon_->port()));
  ASSERT_EQ(Webhook(), 202);
  ASSERT_TRUE(WaitUntil(
      [&] {
        const auto s = Status();
        return s["git"]["last_error"].is_null() && s["spec_source"]["complete"].get<bool>();
      },
      10s))
      << Status().dump(2);
  EXPECT_EQ(Metric("nomad_singleton_spec_source_unreadable_paths"), 0);
  EXPECT_EQ(Metric("nomad_singleton_git_fetch_total{result=\"unchanged\"}"), 1);
}

}  // namespace
}  // namespace nsg
