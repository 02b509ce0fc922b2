// Helpers for the controller's end-to-end tests (controller_e2e_test.cc,
// controller_faults_e2e_test.cc): a Prometheus text reader, a spec template, and a fixture that
// owns one temporary spec directory, one simulator (over HTTP) and at most one controller
// (controller_runner.h). Test-only; every wait is on a condition with a deadline.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/cmd/controller_commands.h"
#include "controller/render/job_renderer.h"
#include "controller/sim/http_frontend.h"
#include "tests/cmd/controller_runner.h"
#include "tests/test_support/metrics_text.h"
#include "tests/test_support/temp_dir.h"
#include "tests/test_support/wait.h"

namespace nsg::cmd::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using test_support::WaitUntil;

using test_support::MetricValue;

// A shim-mode Singleton running `/bin/sleep ARG` (raw_exec), lock ttl 10s and delay 1s;
// `extra_spec` is inserted under `spec:` (e.g. "  standby: 1\n").
inline std::string SpecYaml(const std::string& name, const std::string& arg,
                            const std::string& extra_spec = "") {
  return "apiVersion: nomad-singleton.io/v1alpha1\n"
         "kind: Singleton\n"
         "metadata: {name: " +
         name +
         "}\n"
         "spec:\n" +
         extra_spec +
         "  lock: {mode: shim, ttl: 10s, delay: 1s}\n"
         "  task:\n"
         "    driver: raw_exec\n"
         "    config:\n"
         "      command: /bin/sleep\n"
         "      args: [\"" +
         arg + "\"]\n";
}

// ControllerMain (signal handling and all) in a forked child whose stderr, its log, goes to a
// file. Fork it before this process starts threads (ctest runs each test in its own process).
class ControllerProcess {
 public:
  ControllerProcess(const std::vector<std::string>& argv, fs::path log) : log_(std::move(log)) {
    pid_ = ::fork();
    if (pid_ == 0) {
      std::freopen(log_.c_str(), "w", stderr);
      ::_exit(cmd::ControllerMain(argv));
    }
  }
  ~ControllerProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ControllerProcess(const ControllerProcess&) = delete;
  ControllerProcess& operator=(const ControllerProcess&) = delete;

  bool started() const { return pid_ > 0; }
  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // SIGTERM; the wait status once it exited within `limit`, nullopt otherwise (then SIGKILL).
  std::optional<int> Terminate(std::chrono::milliseconds limit = 20s) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    const bool exited = WaitUntil([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, limit);
    if (!exited) return std::nullopt;
    pid_ = -1;
    return status;
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
};

// One temporary spec directory, one simulator (SimOptions: 3 nodes, ACLs on, dummy programs) and
// at most one controller. Subclasses adjust the simulator in ConfigureSim().
class ControllerSimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tmp_.emplace("nsg-ctl-e2e");
    dir_ = tmp_->path();
    fs::create_directories(dir_ / "specs");
    sim::SimServer::Options opts = SimOptions(dir_);
    ConfigureSim(opts);
    token_ = opts.acl.management_secret;
    server_ = std::make_unique<sim::SimServer>(opts);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    controller_.reset();
    if (server_) server_->Stop();
  }
  virtual void ConfigureSim(sim::SimServer::Options& /*opts*/) {}

  void WriteSpec(const std::string& name, const std::string& text) {
    WriteFileAtomically(dir_ / "specs" / (name + ".yaml"), text);
  }

  void StartController(std::vector<std::string> extra = {},
                       std::function<void()> before_first_spec_read = nullptr) {
    std::vector<std::string> argv = {"--specs", (dir_ / "specs").string(), "--http-addr",
                                     "127.0.0.1:0", "--address", server_->Address(), "--token",
                                     token_, "--spec-rescan-period", "100ms", "--log-level",
                                     "debug"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    controller_ = std::make_unique<RunningController>(argv, std::move(before_first_spec_read));
    ASSERT_FALSE(controller_->http().empty()) << "the controller did not start its HTTP server";
  }

  std::optional<nomad::Job> Job(const std::string& id) {
    std::optional<nomad::Job> j;
    server_->WithModel([&] { j = server_->cluster().GetJob("default", id); });
    return j;
  }

  // The lock variable path of job `id`, from the registered job's Meta ("" before it is).
  std::string LockPath(const std::string& id = "alpha") {
    auto job = Job(id);
    if (!job) return "";
    auto it = job->meta.find(render::kMetaLockPath);
    return it == job->meta.end() ? "" : it->second;
  }

  // Takes job `id`'s lock for `alloc_id` as that allocation's lock agent would (ttl 10s, delay
  // 1s, the holder's allocation in the Items). Returns the lock ID, or "" when the lock is held.
  // *epoch (when given) receives the variable's ModifyIndex after the acquire: the holder's epoch.
  std::string Acquire(const std::string& alloc_id, const std::string& id = "alpha",
                      uint64_t* epoch = nullptr) {
    nomad::Variable v;
    v.namespace_ = "default";
    v.path = LockPath(id);
    v.items["alloc_id"] = alloc_id;
    v.lock = nomad::VariableLock{10s, 1s, ""};
    std::string lock_id;
    server_->WithModel([&] {
      sim::VarReply r = server_->variables().AcquireLock(Management(), "default", v);
      if (r.status == 200 && r.var.lock) lock_id = r.var.lock->id;
      if (epoch != nullptr) *epoch = r.var.modify_index;
    });
    return lock_id;
  }

  static sim::Identity Management() {
    sim::Identity who;
    who.management = true;
    return who;
  }

  // The allocations of job `id` that run and are meant to (ClientStatus running, DesiredStatus
  // run), oldest first.
  std::vector<nomad::Allocation> RunningAllocList(const std::string& id) {
    std::vector<nomad::Allocation> out;
    server_->WithModel([&] {
      for (const auto& a : server_->cluster().State().allocations) {
        if (a.job_id == id && a.client_status == "running" && a.desired_status == "run") {
          out.push_back(a);
        }
      }
    });
    std::sort(out.begin(), out.end(),
              [](const auto& x, const auto& y) { return x.create_index < y.create_index; });
    return out;
  }
  int RunningAllocs(const std::string& id) {
    return static_cast<int>(RunningAllocList(id).size());
  }

  nlohmann::json Status() {
    auto r = HttpGet(controller_->http(), "/status");
    if (!r || r->first != 200) return nlohmann::json::object();
    return nlohmann::json::parse(r->second, nullptr, false);
  }

  std::string Metrics() {
    auto r = HttpGet(controller_->http(), "/metrics");
    return r && r->first == 200 ? r->second : "";
  }
  // A sample of /metrics (0 when absent: counters without series have not counted yet).
  double Metric(const std::string& series) { return MetricValue(Metrics(), series).value_or(0); }

  // The condition `type` of `key` in /status: {status, reason}, or nullopt.
  std::optional<std::pair<bool, std::string>> ConditionOf(const std::string& key,
                                                          const std::string& type) {
    const auto st = Status();
    if (!st.contains("singletons")) return std::nullopt;
    for (const auto& s : st["singletons"]) {
      if (s.value("singleton", "") != key || !s.contains("conditions")) continue;
      for (const auto& c : s["conditions"]) {
        if (c["type"] == type) return std::make_pair(c["status"].get<bool>(), c["reason"]);
      }
    }
    return std::nullopt;
  }

  // The controller has reconciled every listed key at least once since `after` (unix seconds)
  // and found Synced with `reason`.
  bool Reconciled(const std::vector<std::string>& keys, double after, const char* reason) {
    const auto st = Status();
    if (!st.contains("singletons")) return false;
    size_t found = 0;
    for (const auto& s : st["singletons"]) {
      if (std::find(keys.begin(), keys.end(), s.value("singleton", "")) == keys.end()) continue;
      if (!s.contains("last_reconcile") || s["last_reconcile"]["at"].get<double>() < after) {
        continue;
      }
      for (const auto& c : s["conditions"]) {
        if (c["type"] == "Synced" && c["reason"] == reason) ++found;
      }
    }
    return found == keys.size();
  }

  static double Now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  std::optional<test_support::TestTempDir> tmp_;
  fs::path dir_;  // tmp_'s path: specs/ and allocs/
  std::string token_;
  std::unique_ptr<sim::SimServer> server_;
  std::unique_ptr<RunningController> controller_;
};

}  // namespace nsg::cmd::testing
