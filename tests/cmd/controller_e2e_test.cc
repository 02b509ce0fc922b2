// End to end: `nomad-singleton controller` (in-process, RunController on a thread) against the
// project's Nomad simulator over HTTP (3 nodes, default dummy programs: tasks run until killed).
// Checks convergence of a spec directory, zero writes on a restart over an unchanged cluster,
// edits, invalid specs, hand drift, the HTTP endpoints, and `plan`'s exit codes. Every wait is on
// a condition with a deadline.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/cmd/controller_commands.h"
#include "controller/render/job_renderer.h"
#include "controller/sim/http_frontend.h"
#include "tests/cmd/controller_e2e_util.h"
#include "tests/test_support/wait.h"

namespace nsg {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using cmd::testing::ControllerSimTest;
using cmd::testing::HttpGet;
using cmd::testing::SpecYaml;
using cmd::testing::WriteFileAtomically;
using test_support::WaitUntil;

// ControllerMain in a child process (forked before this process has started any thread when
// ctest runs the test alone): SIGTERM stops it with exit 0, and --log-format json writes one valid
// JSON object per line. Nomad is unreachable here; the controller keeps retrying its first sync.
TEST(ControllerMainProcess, SigtermExitsZeroAndJsonLogsParse) {
  const fs::path dir = fs::temp_directory_path() / ("nsg-ctl-sig-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "specs");
  cmd::testing::ControllerProcess child(
      {"--specs", (dir / "specs").string(), "--http-addr", "127.0.0.1:0", "--address",
       "http://127.0.0.1:1", "--token", "s3cr3t-token", "--log-format", "json"},
      dir / "log");
  ASSERT_TRUE(child.started());
  const bool serving =
      WaitUntil([&] { return child.Log().find("initial sync") != std::string::npos; }, 20s);
  const std::optional<int> status = child.Terminate();
  const std::string text = child.Log();
  EXPECT_TRUE(serving) << text;
  ASSERT_TRUE(status) << "no exit within 20s of SIGTERM\n" << text;
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0) << text;
  EXPECT_EQ(text.find("s3cr3t-token"), std::string::npos) << "the token was logged";
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    ++n;
  }
  EXPECT_GE(n, 3);
  EXPECT_NE(text.find("\"msg\":\"stopped\""), std::string::npos) << text;
  fs::remove_all(dir);
}

class ControllerEndToEnd : public ControllerSimTest {
 protected:
  int Plan(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {(dir_ / "specs").string(), "--address", server_->Address(),
                                     "--token", token_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return cmd::PlanMain(argv);
  }
};

TEST_F(ControllerEndToEnd, ConvergesAndRestartWritesNothing) {
  WriteSpec("alpha", SpecYaml("alpha", "1000"));
  WriteSpec("beta", SpecYaml("beta", "2000"));
  StartController();

  ASSERT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 1 && RunningAllocs("beta") == 1; },
                        30s))
      << Status().dump(2);
  for (const char* id : {"alpha", "beta"}) {
    auto job = Job(id);
    ASSERT_TRUE(job);
    EXPECT_EQ(job->meta[render::kMetaManagedBy], render::kManagedByValue);
    EXPECT_FALSE(job->meta[render::kMetaSpecHash].empty());
    EXPECT_EQ(job->task_groups.at(0).count, 1);
    std::optional<nomad::AclPolicy> policy;
    server_->WithModel(
        [&] { policy = server_->acl().GetPolicy(std::string("nomad-singleton-default-") + id); });
    ASSERT_TRUE(policy) << "no ACL policy for " << id;
    ASSERT_TRUE(policy->job_acl);
    EXPECT_EQ(policy->job_acl->job_id, id);
  }

  // HTTP surface.
  auto ready = HttpGet(controller_->http(), "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->first, 200);
  EXPECT_EQ(HttpGet(controller_->http(), "/healthz")->first, 200);
  ASSERT_TRUE(WaitUntil([&] { return Reconciled({"default/alpha", "default/beta"}, 0, "InSync"); },
                        30s))
      << Status().dump(2);
  // /status: every condition carries its last transition time, every allocation its role.
  const nlohmann::json status = Status();
  for (const auto& s : status["singletons"]) {
    ASSERT_FALSE(s["conditions"].empty()) << s.dump(2);
    for (const auto& c : s["conditions"]) EXPECT_GT(c.value("last_transition", 0.0), 1e9) << c;
    for (const auto& a : s["allocations"]) {
      const std::string role = a.value("role", "");
      EXPECT_TRUE(role == "holder" || role == "standby" || role == "extra" || role == "stopped")
          << a;
    }
    EXPECT_TRUE(s.contains("lock")) << s.dump(2);
  }
  auto metrics = HttpGet(controller_->http(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->second.find("nomad_singleton_spec_valid{singleton=\"default/alpha\"} 1"),
            std::string::npos)
      << metrics->second;
  EXPECT_NE(metrics->second.find("nomad_singleton_reconcile_total{result=\"done\"}"),
            std::string::npos);
  EXPECT_NE(metrics->second.find("nomad_singleton_event_stream_up 1"), std::string::npos);
  EXPECT_NE(metrics->second.find("nomad_singleton_build_info{revision=\""), std::string::npos);
  EXPECT_EQ(metrics->second.find("nomad_singleton_build_info{revision=\"\""), std::string::npos);
  // The kind SingletonDown keys on, the conditions of /status, the process metrics.
  for (const char* series :
       {"nomad_singleton_info{kind=\"service\",mode=\"shim\",singleton=\"default/alpha\"} 1",
        "nomad_singleton_condition{singleton=\"default/alpha\",status=\"true\","
        "type=\"Synced\"} 1",
        "nomad_singleton_condition{singleton=\"default/alpha\",status=\"false\","
        "type=\"Synced\"} 0",
        "\nprocess_start_time_seconds ", "\nprocess_open_fds "}) {
    EXPECT_NE(metrics->second.find(series), std::string::npos) << series << "\n" << metrics->second;
  }

  const auto alpha = *Job("alpha");
  const auto beta = *Job("beta");
  EXPECT_EQ(controller_->Stop(), 0);

  // A second controller on the unchanged cluster registers nothing.
  const double t = Now();
  StartController();
  ASSERT_TRUE(WaitUntil([&] { return Reconciled({"default/alpha", "default/beta"}, t, "InSync"); },
                        30s))
      << Status().dump(2);
  EXPECT_EQ(Job("alpha")->job_modify_index, alpha.job_modify_index);
  EXPECT_EQ(Job("alpha")->version, alpha.version);
  EXPECT_EQ(Job("beta")->job_modify_index, beta.job_modify_index);
  EXPECT_EQ(Job("beta")->version, beta.version);
  EXPECT_EQ(controller_->Stop(), 0);

  EXPECT_EQ(Plan(), 0) << "plan must see no change on a converged cluster";
}

// /healthz answers as soon as the server listens, before the specs are read (10,000 specs take
// seconds to load, longer than a health check's timeout); /readyz is 503 and /status lists no
// singleton until they are loaded and synced. The hook holds the first read until the test has
// looked.
TEST_F(ControllerEndToEnd, HealthzAnswersWhileTheSpecsLoad) {
  WriteSpec("alpha", SpecYaml("alpha", "1000"));
  std::promise<void> looked;
  std::shared_future<void> go = looked.get_future().share();
  std::atomic<bool> reading{false};
  StartController({}, [go, &reading] {
    reading = true;
    go.wait_for(30s);  // a deadline: the test may fail before it lets go
  });
  ASSERT_TRUE(WaitUntil([&] { return reading.load(); }, 10s));
  auto health = HttpGet(controller_->http(), "/healthz");
  auto ready = HttpGet(controller_->http(), "/readyz");
  auto status = HttpGet(controller_->http(), "/status");
  looked.set_value();
  ASSERT_TRUE(health && ready && status);
  EXPECT_EQ(health->first, 200);
  EXPECT_EQ(ready->first, 503);
  EXPECT_EQ(status->first, 200);
  EXPECT_TRUE(nlohmann::json::parse(status->second).value("singletons", nlohmann::json::array())
                  .empty())
      << status->second;
  ASSERT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 1; }, 30s)) << Status().dump(2);
  ASSERT_TRUE(WaitUntil([&] { return HttpGet(controller_->http(), "/readyz")->first == 200; }, 10s));
}

TEST_F(ControllerEndToEnd, EditInvalidAndDrift) {
  WriteSpec("alpha", SpecYaml("alpha", "1000"));
  StartController();
  ASSERT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 1; }, 30s)) << Status().dump(2);
  ASSERT_TRUE(WaitUntil([&] { return Reconciled({"default/alpha"}, 0, "InSync"); }, 30s));
  const auto v0 = *Job("alpha");

  // An edited spec registers a new version.
  WriteSpec("alpha", SpecYaml("alpha", "3000"));
  ASSERT_TRUE(WaitUntil([&] { return Job("alpha")->version > v0.version; }, 30s))
      << Status().dump(2);
  const auto v1 = *Job("alpha");
  EXPECT_NE(v1.meta.at(render::kMetaSpecHash), v0.meta.at(render::kMetaSpecHash));
  ASSERT_TRUE(WaitUntil([&] { return Reconciled({"default/alpha"}, 0, "InSync"); }, 30s));
  // The new version replaces the allocation (a destructive update): wait for the replacement,
  // not the old allocation that runs until the scheduler has stopped it.
  ASSERT_TRUE(WaitUntil(
      [&] {
        const auto running = RunningAllocList("alpha");
        return running.size() == 1 && running[0].create_index > v1.job_modify_index;
      },
      30s))
      << Status().dump(2);

  // A spec made invalid leaves the job untouched.
  std::string bad = SpecYaml("alpha", "4000");
  bad.replace(bad.find("ttl: 10s"), 8, "ttl: banana");
  const double t = Now();
  WriteSpec("alpha", bad);
  ASSERT_TRUE(WaitUntil([&] { return Reconciled({"default/alpha"}, t, "InvalidSpec"); }, 30s))
      << Status().dump(2);
  EXPECT_EQ(Job("alpha")->job_modify_index, v1.job_modify_index);
  EXPECT_EQ(RunningAllocs("alpha"), 1);
  auto metrics = HttpGet(controller_->http(), "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->second.find("nomad_singleton_spec_valid{singleton=\"default/alpha\"} 0"),
            std::string::npos);
  EXPECT_EQ(Plan(), 1) << "plan with an invalid spec is an error";

  // Fixed again (same content as v1): nothing to write.
  WriteSpec("alpha", SpecYaml("alpha", "3000"));
  ASSERT_TRUE(WaitUntil([&] { return Reconciled({"default/alpha"}, t, "InSync"); }, 30s))
      << Status().dump(2);
  EXPECT_EQ(Job("alpha")->job_modify_index, v1.job_modify_index);

  // Hand drift: Count scaled to 2 in Nomad is reverted to 1.
  server_->WithModel([&] {
    auto job = *server_->cluster().GetJob("default", "alpha");
    job.task_groups.at(0).count = 2;
    auto r = server_->cluster().Register({job, false, 0}, "default");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  });
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto j = Job("alpha");
        return j->version > v1.version + 1 && j->task_groups.at(0).count == 1;
      },
      30s))
      << Status().dump(2);
  ASSERT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 1; }, 30s));
  EXPECT_EQ(controller_->Stop(), 0);

  // plan: unchanged → 0; an edit → 2 (and nothing is written).
  EXPECT_EQ(Plan(), 0);
  const auto before = *Job("alpha");
  WriteSpec("alpha", SpecYaml("alpha", "5000"));
  EXPECT_EQ(Plan(), 2);
  EXPECT_EQ(Plan({"--json"}), 2);
  EXPECT_EQ(Job("alpha")->job_modify_index, before.job_modify_index);
}

// A spec directory in a git checkout: the controller records HEAD in /status and in the job's
// Meta (a commit alone is not a spec change). Needs the git binary (installed by setup-deps).
TEST_F(ControllerEndToEnd, RecordsTheGitRevision) {
  const std::string repo = (dir_ / "specs").string();
  auto git = [&](const std::string& args) {
    return std::system(("git -C '" + repo + "' " + args + " >/dev/null 2>&1").c_str());
  };
  if (git("--version") != 0) GTEST_SKIP() << "no git binary";
  WriteSpec("alpha", SpecYaml("alpha", "1000"));
  ASSERT_EQ(git("init -q"), 0);
  ASSERT_EQ(git("-c user.email=t@e -c user.name=t add -A"), 0);
  ASSERT_EQ(git("-c user.email=t@e -c user.name=t commit -q -m specs"), 0);
  std::string head;
  {
    FILE* p = ::popen(("git -C '" + repo + "' rev-parse HEAD").c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[128] = {0};
    if (std::fgets(buf, sizeof buf, p)) head = buf;
    ::pclose(p);
    while (!head.empty() && (head.back() == '\n' || head.back() == '\r')) head.pop_back();
  }
  ASSERT_EQ(head.size(), 40u) << head;
  StartController();
  ASSERT_TRUE(WaitUntil([&] { return Job("alpha").has_value(); }, 30s)) << Status().dump(2);
  EXPECT_EQ(Job("alpha")->meta[render::kMetaRevision], head);
  ASSERT_TRUE(WaitUntil([&] { return Status().value("revision", "") == head; }, 10s))
      << Status().dump(2);
  EXPECT_EQ(controller_->Stop(), 0);
}

TEST_F(ControllerEndToEnd, DryRunWritesNothing) {
  WriteSpec("alpha", SpecYaml("alpha", "1000"));
  StartController({"--dry-run"});
  ASSERT_TRUE(WaitUntil([&] { return Reconciled({"default/alpha"}, 0, "Creating"); }, 30s))
      << Status().dump(2);
  EXPECT_FALSE(Job("alpha"));
  EXPECT_EQ(controller_->Stop(), 0);
}

// --prune through the binary (issue 16): a spec directory moved away and a spec file replaced by a
// FIFO (also across a restart) keep every job, and the metric, /status and the condition say why;
// removing the file from the readable directory then stops its job, and only its job.
TEST_F(ControllerEndToEnd, PruneStopsJobOfDeletedSpecButNeverOfABrokenSource) {
  const fs::path specs = dir_ / "specs";
  const std::string unreadable = "nomad_singleton_spec_source_unreadable_paths";
  WriteSpec("alpha", SpecYaml("alpha", "1000"));
  WriteSpec("beta", SpecYaml("beta", "1000"));
  StartController({"--prune"});
  ASSERT_TRUE(WaitUntil([&] { return RunningAllocs("alpha") == 1 && RunningAllocs("beta") == 1; },
                        30s))
      << Status().dump(2);
  EXPECT_EQ(Metric(unreadable), 0);
  auto kept_because = [&](const std::string& key) {
    auto c = ConditionOf(key, "Invalid");
    return c && c->first && c->second == "SourceUnreadable";
  };
  auto running = [&](const std::string& id) { return Job(id) && !Job(id)->stop; };

  // The directory moved away: every singleton is kept.
  fs::rename(specs, dir_ / "specs.moved");
  ASSERT_TRUE(WaitUntil([&] { return kept_because("default/alpha") && kept_because("default/beta"); },
                        30s))
      << Status().dump(2);
  EXPECT_EQ(Metric(unreadable), 1);
  const auto st = Status();
  EXPECT_FALSE(st["spec_source"]["complete"].get<bool>()) << st.dump(2);
  EXPECT_TRUE(running("alpha") && running("beta"));

  // Back, then beta's file replaced by a FIFO (never opened in a blocking way).
  fs::rename(dir_ / "specs.moved", specs);
  fs::remove(specs / "beta.yaml");
  ASSERT_EQ(::mkfifo((specs / "beta.yaml").c_str(), 0644), 0);
  auto fifo_reported = [&] {
    const auto s = Status();
    if (!s.contains("spec_source")) return false;
    for (const auto& p : s["spec_source"]["unreadable"]) {
      if (p.get<std::string>().find("beta.yaml: cannot read: not a regular file (a FIFO)") !=
          std::string::npos) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(WaitUntil([&] { return fifo_reported() && kept_because("default/beta"); }, 30s))
      << Status().dump(2);
  EXPECT_TRUE(running("beta"));

  // A restart while the FIFO is there: the new controller knows only the read and the jobs' Meta.
  EXPECT_EQ(controller_->Stop(), 0);
  StartController({"--prune"});
  ASSERT_TRUE(WaitUntil([&] { return Reconciled({"default/beta"}, 0, "SourceUnreadable"); }, 30s))
      << Status().dump(2);
  EXPECT_TRUE(running("beta"));
  EXPECT_EQ(Metric(unreadable), 1);

  // A real deletion: the FIFO removed, the directory readable. Pruned.
  fs::remove(specs / "beta.yaml");
  ASSERT_TRUE(WaitUntil([&] { return Job("beta") && Job("beta")->stop; }, 30s))
      << Status().dump(2);
  EXPECT_TRUE(running("alpha"));
  EXPECT_EQ(Metric(unreadable), 0);
  EXPECT_EQ(controller_->Stop(), 0);
}

// --http-token-file protects /status (only), and /status shows paths relative to --specs.
TEST_F(ControllerEndToEnd, StatusTokenAndRelativePaths) {
  const fs::path token_file = dir_ / "status-token";
  WriteFileAtomically(token_file, "status-s3cret\n");
  WriteSpec("alpha", SpecYaml("alpha", "1000"));
  StartController({"--http-token-file", token_file.string()});
  const std::string bearer = "Authorization: Bearer status-s3cret\r\n";
  ASSERT_TRUE(WaitUntil([&] {
    auto r = HttpGet(controller_->http(), "/status", bearer);
    return r && r->first == 200 && r->second.find("alpha.yaml") != std::string::npos;
  }, 30s));
  EXPECT_EQ(HttpGet(controller_->http(), "/status")->first, 401);
  EXPECT_EQ(HttpGet(controller_->http(), "/status", "Authorization: Bearer nope\r\n")->first, 401);
  EXPECT_EQ(HttpGet(controller_->http(), "/healthz")->first, 200);
  EXPECT_EQ(HttpGet(controller_->http(), "/metrics")->first, 200);
  const auto st = nlohmann::json::parse(HttpGet(controller_->http(), "/status", bearer)->second);
  ASSERT_EQ(st["singletons"].size(), 1u) << st.dump(2);
  EXPECT_EQ(st["singletons"][0]["source"], "alpha.yaml");
  EXPECT_EQ(st.dump().find(dir_.string()), std::string::npos) << st.dump(2);
  // A rotated token is used at once; the old one no longer opens /status.
  WriteFileAtomically(token_file, "rotated\n");
  EXPECT_EQ(HttpGet(controller_->http(), "/status", bearer)->first, 401);
  EXPECT_EQ(HttpGet(controller_->http(), "/status", "Authorization: Bearer rotated\r\n")->first,
            200);
  EXPECT_EQ(controller_->Stop(), 0);
}

TEST_F(ControllerEndToEnd, RejectsLeaderElectAndBadFlags) {
  EXPECT_EQ(cmd::RunController({"--specs", dir_.string(), "--leader-lock-path", "x/leader"}, {}), 2);
  EXPECT_EQ(cmd::RunController({"--http-addr", "127.0.0.1:0"}, {}), 2);  // --specs missing
  EXPECT_EQ(cmd::RunController({"--specs", dir_.string(), "--workers", "0"}, {}), 2);
  EXPECT_EQ(cmd::RunController({"--specs", dir_.string(), "--log-format", "xml"}, {}), 2);
  EXPECT_EQ(cmd::RunController({"--specs", dir_.string(), "--max-response-mib", "0"}, {}), 2);
  EXPECT_EQ(cmd::RunController({"--specs", dir_.string(), "--token", "a", "--token-file",
                                (dir_ / "missing").string()},
                               {}),
            2);
  EXPECT_EQ(cmd::RunController({"--specs", dir_.string(), "--http-token-file",
                                (dir_ / "missing").string()},
                               {}),
            2);
}

}  // namespace
}  // namespace nsg
