// The fixture shared by the HttpNomadApi tests: a client over a FakeTransport, on virtual time,
// with a token, a namespace and a region set, and the table of every API call
// (http_nomad_api_test.cc, http_nomad_api_retry_test.cc).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "controller/base/clock.h"
#include "controller/nomad/job.h"
#include "controller/nomad_client/http_nomad_api.h"
#include "tests/nomad_client/fake_transport.h"

namespace nsg::io::testing {

inline constexpr char kToken[] = "s3cr3t-t0ken-4242";

class HttpNomadApiTest : public ::testing::Test {
 protected:
  HttpNomadApiTest() : sleeper_(&clock_) {
    config_.token = kToken;
    config_.namespace_ = "prod";
    config_.region = "eu";
    options_.seed = 42;
  }

  HttpNomadApi& api() {
    if (!api_) api_ = std::make_unique<HttpNomadApi>(transport_, config_, clock_, sleeper_, options_);
    return *api_;
  }
  const HttpRequest& last() const { return transport_.requests.back(); }
  std::string target() const { return RequestTarget(last()); }
  nlohmann::json body() const { return nlohmann::json::parse(last().body); }

  ClientConfig config_;
  HttpNomadApi::Options options_;
  FakeTransport transport_;
  base::VirtualClock clock_;
  FakeSleeper sleeper_;
  std::unique_ptr<HttpNomadApi> api_;
};

inline nomad::Job TestJob() {
  nomad::Job job;
  job.id = "web";
  job.name = "web";
  job.type = "service";
  nomad::TaskGroup g;
  g.name = "app";
  nomad::Task t;
  t.name = "main";
  t.driver = "raw_exec";
  g.tasks.push_back(t);
  job.task_groups.push_back(g);
  return job;
}

// Every NomadApi method, called once, and whether a 503 or a connection error is retried for it
// (the retry matrix; the observer test names each method's op from the same table).
struct RetryCase {
  const char* name;
  std::function<Status(HttpNomadApi&)> call;
  bool retried;
};

inline std::vector<RetryCase> RetryCases() {
  auto st = [](const auto& r) { return r.status(); };
  nomad::Variable var;
  var.path = "p";
  var.items = {{"k", "v"}};
  nomad::Variable own_id = var;
  own_id.lock = nomad::VariableLock{std::chrono::seconds(15), {}, "my-id"};
  nomad::Variable server_id = var;
  server_id.lock = nomad::VariableLock{std::chrono::seconds(15), {}, ""};
  nomad::AclPolicy policy{"p", "", "", {}, 0, 0};
  return {
      {"ReadJob", [=](HttpNomadApi& a) { return st(a.ReadJob("web", {})); }, true},
      {"ListJobs", [=](HttpNomadApi& a) { return st(a.ListJobs({}, false)); }, true},
      {"JobAllocations", [=](HttpNomadApi& a) { return st(a.JobAllocations("w", {}, false)); }, true},
      {"ListAllocations", [=](HttpNomadApi& a) { return st(a.ListAllocations({})); }, true},
      {"ReadAllocation", [=](HttpNomadApi& a) { return st(a.ReadAllocation("a", {})); }, true},
      {"ListNodes", [=](HttpNomadApi& a) { return st(a.ListNodes({})); }, true},
      {"ReadVariable", [=](HttpNomadApi& a) { return st(a.ReadVariable("p", {})); }, true},
      {"ListVariables", [=](HttpNomadApi& a) { return st(a.ListVariables({})); }, true},
      {"ReadAclPolicy", [=](HttpNomadApi& a) { return st(a.ReadAclPolicy("p")); }, true},
      {"PlanJob", [=](HttpNomadApi& a) { return st(a.PlanJob(TestJob(), false, {})); }, true},
      {"ParseHcl", [=](HttpNomadApi& a) { return st(a.ParseHcl("job {}", {})); }, true},
      {"DeregisterJob", [=](HttpNomadApi& a) { return st(a.DeregisterJob("w", false, {})); }, true},
      {"RegisterJob", [=](HttpNomadApi& a) { return st(a.RegisterJob({TestJob(), false, 0}, {})); },
       true},
      {"RegisterJobEnforceIndex",
       [=](HttpNomadApi& a) { return st(a.RegisterJob({TestJob(), true, 3}, {})); }, false},
      {"SetVariable", [=](HttpNomadApi& a) { return st(a.SetVariable(var, {}, {}, nullptr)); },
       true},
      {"SetVariableCas", [=](HttpNomadApi& a) { return st(a.SetVariable(var, 3, {}, nullptr)); },
       false},
      {"DeleteVariable", [=](HttpNomadApi& a) { return a.DeleteVariable("p", {}, {}); }, true},
      {"DeleteVariableCas", [=](HttpNomadApi& a) { return a.DeleteVariable("p", 3, {}); }, false},
      {"AcquireLockOwnId", [=](HttpNomadApi& a) { return st(a.AcquireLock(own_id, {})); }, true},
      {"AcquireLockServerId", [=](HttpNomadApi& a) { return st(a.AcquireLock(server_id, {})); },
       false},
      {"RenewLock", [=](HttpNomadApi& a) { return st(a.RenewLock("p", "id", {})); }, false},
      {"ReleaseLock", [=](HttpNomadApi& a) { return st(a.ReleaseLock("p", "id", {})); }, false},
      {"StopAllocation", [=](HttpNomadApi& a) { return st(a.StopAllocation("a", false)); }, false},
      {"EvaluateJob", [=](HttpNomadApi& a) { return st(a.EvaluateJob("w", false, {})); }, false},
      {"UpsertAclPolicy", [=](HttpNomadApi& a) { return a.UpsertAclPolicy(policy); }, true},
      {"DeleteAclPolicy", [=](HttpNomadApi& a) { return a.DeleteAclPolicy("p"); }, true},
  };
}

// A body that every decoder above accepts.
inline std::string OkBodyFor(const std::string& name) {
  if (name == "ListJobs" || name == "JobAllocations" || name == "ListAllocations" ||
      name == "ListNodes" || name == "ListVariables") {
    return "[]";
  }
  if (name == "ReadJob" || name == "ParseHcl") return R"({"ID":"web"})";
  return "{}";
}

}  // namespace nsg::io::testing
