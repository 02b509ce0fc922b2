// Tests for controller/sim/router.{h,cc}: HTTP semantics shared by every front end — routing,
// tokens, blocking queries (nomad-api.md §1.6), faults, the cluster's routes (the event stream:
// router_stream_test.cc). All under virtual time: nothing sleeps.
#include "controller/sim/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controller/sim/cluster.h"
#include "controller/sim/programs.h"
#include "tests/sim/conformance_testutil.h"

namespace nsg::sim {
namespace {

using nlohmann::json;
using testing::MakeRequest;
using testing::RecordingSink;
using testing::RouterFixture;
using namespace std::chrono_literals;

class RouterTest : public RouterFixture {
 protected:
  void Put(const std::string& path, const std::string& value = "v") {
    Reply r = Do("PUT /v1/var/" + path, R"({"Items":{"k":")" + value + R"("}})");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  uint64_t IndexOf(const Reply& r) { return std::stoull(r.HeaderValue("X-Nomad-Index")); }
};

// ---- routing and tokens ---------------------------------------------------------------------

TEST_F(RouterTest, UnknownPathIs404WithEmptyBody) {
  Reply r = Do("GET /v1/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.content_type, "");
}

TEST_F(RouterTest, RootRedirectsToUi) {
  Reply r = Do("GET /");
  EXPECT_EQ(r.status, 307);
  EXPECT_EQ(r.HeaderValue("location"), "/ui/");
}

TEST_F(RouterTest, JobRoutesAre404WithoutACluster) {
  EXPECT_EQ(Do("GET /v1/jobs").status, 404);
}

TEST(RouterTokenTest, NomadTokenWinsOverBearer) {
  Request r = MakeRequest("GET /v1/vars");
  r.headers["authorization"] = "Bearer b-token";
  EXPECT_EQ(Router::TokenOf(r), "b-token");
  r.headers["x-nomad-token"] = "x-token";
  EXPECT_EQ(Router::TokenOf(r), "x-token");
}

TEST(RouterTokenTest, BearerSchemeIsCaseInsensitiveAndFirstWordOnly) {
  Request r = MakeRequest("GET /v1/vars");
  r.headers["authorization"] = "bEaReR  tok extra";
  EXPECT_EQ(Router::TokenOf(r), "tok");
  r.headers["authorization"] = "Basic abc";
  EXPECT_EQ(Router::TokenOf(r), "");
}

class RouterAclTest : public RouterFixture {
 protected:
  RouterAclTest() : RouterFixture(AclState::Options{true, "mgmt"}) {}
};

TEST_F(RouterAclTest, BearerTokenIsAccepted) {
  Request r = MakeRequest("GET /v1/var/missing");
  r.headers["authorization"] = "Bearer mgmt";
  std::optional<Reply> out;
  router_.Submit(r, [&](Reply x) { out = x; });
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 404) << out->body;
  EXPECT_EQ(Do("GET /v1/var/missing").status, 403);
  // Lists filter instead of failing: an anonymous caller sees [].
  Reply list = Do("GET /v1/vars");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body, "[]");
}

TEST_F(RouterAclTest, AclPolicyEndpointsRoundTrip) {
  const std::string body =
      R"({"Name":"example-lock","Description":"d","Rules":"namespace \"prod\" {\n variables {\n path \"nomad/jobs/example/lock\" { capabilities = [\"write\",\"read\",\"list\"] }\n }\n}","JobACL":{"Namespace":"prod","JobID":"example","Group":"","Task":""}})";
  Reply up = Do("POST /v1/acl/policy/example-lock", body, "mgmt");
  EXPECT_EQ(up.status, 200);
  EXPECT_EQ(up.body, "");
  EXPECT_TRUE(up.HasHeader("X-Nomad-Index"));
  EXPECT_EQ(Do("POST /v1/acl/policy/other", body, "mgmt").body,
            "ACL policy name does not match request path");
  EXPECT_EQ(Do("POST /v1/acl/policy/example-lock", body).status, 403);
  Reply get = Do("GET /v1/acl/policy/example-lock", "", "mgmt");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(json::parse(get.body)["JobACL"]["JobID"], "example");
  EXPECT_EQ(Do("GET /v1/acl/policy/nope", "", "mgmt").body, "ACL policy not found");
  json list = json::parse(Do("GET /v1/acl/policies", "", "mgmt").body);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["Name"], "example-lock");
  EXPECT_EQ(Do("DELETE /v1/acl/policy/example-lock", "", "mgmt").status, 200);
  EXPECT_EQ(Do("GET /v1/acl/policy/example-lock", "", "mgmt").status, 404);
}

TEST_F(RouterAclTest, AclPolicyUpsertRefusesADescriptionOver256Bytes) {
  // nomad/structs/acl.go ACLPolicy.Validate (maxPolicyDescriptionLength = 256), answered by
  // ACL.UpsertPolicies as a coded 400 "policy 0 invalid: <multierror>".
  auto body = [](size_t n) {
    return R"({"Name":"p","Description":")" + std::string(n, 'd') +
           R"(","Rules":"namespace \"prod\" {\n policy = \"read\"\n}"})";
  };
  Reply too_long = Do("POST /v1/acl/policy/p", body(257), "mgmt");
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.body,
            "policy 0 invalid: 1 error occurred:\n\t* description longer than 256\n\n");
  EXPECT_EQ(Do("GET /v1/acl/policy/p", "", "mgmt").status, 404);
  EXPECT_EQ(Do("POST /v1/acl/policy/p", body(256), "mgmt").status, 200);
}

TEST_F(RouterTest, AclEndpointsWithAclsDisabledAre400) {
  Reply r = Do("GET /v1/acl/policies");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "ACL support disabled");
}

// ACL.WhoAmI (nomad/acl_endpoint.go, nomad/auth/auth.go @ v2.0.5): with ACLs off every secret is
// ACLsDisabledToken.
TEST_F(RouterTest, TokenSelfWithAclsDisabledIsTheAclsDisabledToken) {
  Reply r = Do("GET /v1/acl/token/self", "", "any-secret");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["AccessorID"], "acls-disabled");
  EXPECT_EQ(j["Type"], "client");
}

TEST_F(RouterAclTest, TokenSelfIsTheCallersToken) {
  Reply mgmt = Do("GET /v1/acl/token/self", "", "mgmt");
  ASSERT_EQ(mgmt.status, 200) << mgmt.body;
  EXPECT_EQ(json::parse(mgmt.body)["Type"], "management");
  EXPECT_EQ(json::parse(mgmt.body)["SecretID"], "mgmt");
  Reply anon = Do("GET /v1/acl/token/self");
  ASSERT_EQ(anon.status, 200) << anon.body;
  EXPECT_EQ(json::parse(anon.body)["AccessorID"], "anonymous");
  EXPECT_EQ(Do("GET /v1/acl/token/self", "", "unknown").status, 403);
}

TEST_F(RouterTest, StatusAndRegions) {
  EXPECT_EQ(Do("GET /v1/status/leader").body, "\"127.0.0.1:4647\"");
  EXPECT_EQ(Do("GET /v1/status/peers").body, "[\"127.0.0.1:4647\"]");
  EXPECT_EQ(Do("GET /v1/regions").body, "[\"global\"]");
  EXPECT_EQ(Do("PUT /v1/regions").status, 405);
}

// ---- blocking queries (§1.6) ----------------------------------------------------------------

TEST_F(RouterTest, ReadWithoutIndexReturnsAtOnce) {
  Put("a");
  EXPECT_EQ(Do("GET /v1/var/a?wait=1m").status, 200);  // wait alone does nothing
  EXPECT_EQ(Do("GET /v1/var/a?index=0&wait=1m").status, 200);
}

TEST_F(RouterTest, IndexBelowResultReturnsAtOnce) {
  Put("a");
  Reply r = Do("GET /v1/var/a");
  EXPECT_EQ(Do("GET /v1/var/a?index=" + std::to_string(IndexOf(r) - 1)).status, 200);
}

TEST_F(RouterTest, ParkedQueryWakesWhenItsIndexMoves) {
  Put("a");
  Put("b");
  uint64_t n = IndexOf(Do("GET /v1/var/a"));
  auto reply = Start("GET /v1/var/a?index=" + std::to_string(n));
  EXPECT_FALSE(reply->has_value());
  EXPECT_EQ(router_.ParkedQueries(), 1u);
  Put("b", "w");  // another variable: a's ModifyIndex does not move
  Settle();
  EXPECT_FALSE(reply->has_value());
  Put("a", "w");
  EXPECT_FALSE(reply->has_value());  // answered after the write is applied, same instant
  Settle();
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ((*reply)->status, 200);
  EXPECT_GT(IndexOf(**reply), n);
  EXPECT_EQ(json::parse((*reply)->body)["Items"]["k"], "w");
  EXPECT_EQ(router_.ParkedQueries(), 0u);
}

TEST_F(RouterTest, ListQueryWakesOnTableIndex) {
  uint64_t n = IndexOf(Do("GET /v1/vars"));
  auto reply = Start("GET /v1/vars?index=" + std::to_string(n));
  EXPECT_FALSE(reply->has_value());
  Put("x");
  Settle();
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ(json::parse((*reply)->body).size(), 1u);
}

TEST_F(RouterTest, MissingVariableBlocksToo) {
  auto reply = Start("GET /v1/var/later?index=1");
  EXPECT_FALSE(reply->has_value());
  Put("later");
  Settle();
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ((*reply)->status, 200);
}

TEST_F(RouterTest, TimeoutAnswers200WithUnchangedIndexAfterWaitPlusJitter) {
  Put("a");
  uint64_t n = IndexOf(Do("GET /v1/var/a"));
  auto reply = Start("GET /v1/var/a?index=" + std::to_string(n) + "&wait=16s");
  core_.AdvanceBy(16s - 1ns);
  EXPECT_FALSE(reply->has_value());
  core_.AdvanceBy(1s + 1ns);  // jitter < wait/16 = 1s
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ((*reply)->status, 200);
  EXPECT_EQ(IndexOf(**reply), n);
}

TEST_F(RouterTest, DefaultWaitIsFiveMinutes) {
  Put("a");
  uint64_t n = IndexOf(Do("GET /v1/var/a"));
  auto reply = Start("GET /v1/var/a?index=" + std::to_string(n));
  core_.AdvanceBy(5min - 1ns);
  EXPECT_FALSE(reply->has_value());
  core_.AdvanceBy(base::Duration(5min) / 16 + 1ns);
  EXPECT_TRUE(reply->has_value());
}

TEST_F(RouterTest, WaitIsCappedAtFiveMinutes) {
  Put("a");
  uint64_t n = IndexOf(Do("GET /v1/var/a"));
  auto reply = Start("GET /v1/var/a?index=" + std::to_string(n) + "&wait=10m");
  core_.AdvanceBy(5min + base::Duration(5min) / 16);
  EXPECT_TRUE(reply->has_value());
}

TEST_F(RouterTest, MalformedIndexWaitAndStaleAre400) {
  Reply i = Do("GET /v1/vars?index=abc");
  EXPECT_EQ(i.status, 400);
  EXPECT_EQ(i.body, "Invalid index");
  Reply w = Do("GET /v1/vars?index=5&wait=soon");
  EXPECT_EQ(w.status, 400);
  EXPECT_EQ(w.body, "Invalid wait time");
  Reply s = Do("GET /v1/vars?stale=maybe");
  EXPECT_EQ(s.status, 400);
  EXPECT_EQ(s.body, "Expect `true` or `false` for `stale` query string parameter");
  EXPECT_EQ(Do("GET /v1/vars?stale").status, 200);
}

TEST_F(RouterTest, ShutdownAnswersParkedQueriesWith503) {
  Put("a");
  auto reply = Start("GET /v1/var/a?index=" + std::to_string(core_.Index()));
  router_.Shutdown();
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ((*reply)->status, 503);
}

// ---- faults ---------------------------------------------------------------------------------

TEST_F(RouterTest, InjectedStatusAppliesCountTimes) {
  Router::Fault f;
  f.route = "/v1/var/";
  f.status = 500;
  f.count = 1;
  router_.AddFault(f);
  Reply r = Do("GET /v1/var/a");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "injected fault");
  EXPECT_EQ(Do("GET /v1/var/a").status, 404);
}

TEST_F(RouterTest, InjectedLatencyDelaysHandling) {
  Router::Fault f;
  f.route = "/v1/var/";
  f.method = "PUT";
  f.latency = 2s;
  router_.AddFault(f);
  auto reply = Start("PUT /v1/var/a", R"({"Items":{"k":"v"}})");
  EXPECT_FALSE(reply->has_value());
  EXPECT_EQ(vars_.Find("default", "a"), nullptr);  // not yet applied
  core_.AdvanceBy(2s);
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ((*reply)->status, 200);
  EXPECT_NE(vars_.Find("default", "a"), nullptr);
  EXPECT_EQ(Do("GET /v1/var/a").status, 200);  // the method filter spares GET
}

TEST_F(RouterTest, DroppedRequestsAreNeverAnsweredUntilShutdown) {
  Router::Fault f;
  f.route = "*";
  f.drop = true;
  router_.AddFault(f);
  auto reply = Start("GET /v1/vars");
  core_.AdvanceBy(1h);
  EXPECT_FALSE(reply->has_value());
  EXPECT_EQ(router_.DroppedRequests(), 1u);
  router_.ClearFaults();
  EXPECT_EQ(Do("GET /v1/vars").status, 200);
  router_.Shutdown();
  ASSERT_TRUE(reply->has_value());
  EXPECT_EQ((*reply)->status, 503);
}

TEST_F(RouterTest, SimFaultsEndpointInstallsAndClearsFaults) {
  EXPECT_EQ(Do("POST /v1/sim/faults", R"({"Route":"/v1/vars","Status":503,"Count":2})").status,
            200);
  EXPECT_EQ(Do("GET /v1/vars").status, 503);
  EXPECT_EQ(Do("DELETE /v1/sim/faults").status, 200);
  EXPECT_EQ(Do("GET /v1/vars").status, 200);
}

// ---- request accounting ---------------------------------------------------------------------

TEST(RouteTemplateTest, ParametersAreReplacedAndSubResourcesKept) {
  EXPECT_EQ(Router::RouteTemplate("/v1/jobs"), "/v1/jobs");
  EXPECT_EQ(Router::RouteTemplate("/v1/job/billing"), "/v1/job/:id");
  EXPECT_EQ(Router::RouteTemplate("/v1/job/billing/periodic-1724000000"), "/v1/job/:id");
  EXPECT_EQ(Router::RouteTemplate("/v1/job/billing/allocations"), "/v1/job/:id/allocations");
  EXPECT_EQ(Router::RouteTemplate("/v1/job/billing/periodic/force"),
            "/v1/job/:id/periodic/force");
  EXPECT_EQ(Router::RouteTemplate("/v1/allocation/5b6f/stop"), "/v1/allocation/:id/stop");
  EXPECT_EQ(Router::RouteTemplate("/v1/allocation/5b6f"), "/v1/allocation/:id");
  EXPECT_EQ(Router::RouteTemplate("/v1/var/nomad/jobs/billing/lock"), "/v1/var/:path");
  EXPECT_EQ(Router::RouteTemplate("/v1/acl/policy/nomad-singleton-x"), "/v1/acl/policy/:name");
  EXPECT_EQ(Router::RouteTemplate("/v1/acl/policies"), "/v1/acl/policies");
  EXPECT_EQ(Router::RouteTemplate("/v1/job/"), "/v1/job/");
  EXPECT_EQ(Router::RouteTemplate("/v1/job/billing/deployment"), "/v1/job/:id/deployment");
  EXPECT_EQ(Router::RouteTemplate("/v1/job/billing/deployments"), "/v1/job/:id/deployments");
  EXPECT_EQ(Router::RouteTemplate("/v1/evaluation/9f1c"), "/v1/evaluation/:id");
  EXPECT_EQ(Router::RouteTemplate("/v1/evaluation/9f1c/allocations"),
            "/v1/evaluation/:id/allocations");
  EXPECT_EQ(Router::RouteTemplate("/v1/acl/token/self"), "/v1/acl/token/self");
}

TEST_F(RouterTest, RequestsAreCountedByRouteIncludingFaultedOnesButNotSimCalls) {
  std::vector<std::string> seen;
  router_.SetRequestObserver([&](const Request& r) { seen.push_back(r.method + " " + r.path); });
  Put("a/b");
  Do("GET /v1/var/a/b");
  Do("GET /v1/var/c");
  Router::Fault f;
  f.route = "/v1/vars";
  f.status = 500;
  router_.AddFault(f);
  EXPECT_EQ(Do("GET /v1/vars").status, 500);
  Do("GET /v1/sim/state");
  EXPECT_EQ(router_.RequestCounts(),
            (std::map<std::string, uint64_t>{
                {"GET /v1/var/:path", 2}, {"GET /v1/vars", 1}, {"PUT /v1/var/:path", 1}}));
  EXPECT_EQ(router_.RequestTotal(), 4u);
  EXPECT_EQ(seen, (std::vector<std::string>{"PUT /v1/var/a/b", "GET /v1/var/a/b",
                                            "GET /v1/var/c", "GET /v1/vars"}));

  const json body = json::parse(Do("GET /v1/sim/requests").body);
  EXPECT_EQ(body["Total"], 4);
  EXPECT_EQ(body["Counts"]["GET /v1/var/:path"], 2);
  EXPECT_EQ(Do("DELETE /v1/sim/requests").status, 200);
  EXPECT_EQ(router_.RequestTotal(), 0u);
  EXPECT_EQ(json::parse(Do("GET /v1/sim/requests").body)["Counts"], json::object());
}

class RouterClusterTest : public ::testing::Test {
 protected:
  RouterClusterTest() {
    node_ = cluster_.AddNode(NodeSpec{});
    core_.AdvanceBy(1s);
  }
  Reply Do(const std::string& line, const std::string& body = "", const std::string& token = "") {
    std::optional<Reply> out;
    router_.Submit(MakeRequest(line, body, token), [&](Reply r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value()) << line;
    return out.value_or(Reply{});
  }
  static std::string JobBody(const std::string& id, const std::string& extra = "") {
    return R"({"Job":{"ID":")" + id + R"(","Type":"service","Datacenters":["dc1"],)"
           R"("TaskGroups":[{"Name":"g","Count":1,"Tasks":[{"Name":"t","Driver":"mock_driver",)"
           R"("Config":{"run_for":"1h"}}]}]})" + extra + "}";
  }
  // Registers `id` and runs the model until its allocation runs; returns the alloc ID.
  std::string RunJob(const std::string& id) {
    EXPECT_EQ(Do("PUT /v1/jobs", JobBody(id)).status, 200);
    core_.AdvanceBy(5s);
    json allocs = json::parse(Do("GET /v1/job/" + id + "/allocations").body);
    EXPECT_EQ(allocs.size(), 1u) << Do("GET /v1/sim/state").body;
    if (allocs.empty()) return "";
    EXPECT_EQ(allocs[0]["ClientStatus"], "running") << Do("GET /v1/sim/state").body;
    return allocs[0]["ID"];
  }

  SimCore core_{SimCore::Options{}};
  AclState acl_{core_, {}};
  Variables vars_{core_, acl_, {}};
  ProgramRegistry programs_ = ProgramRegistry::WithDefaults();
  Cluster cluster_{core_, programs_};
  Router router_{core_, acl_, vars_, &cluster_};
  std::string node_;
};

TEST_F(RouterClusterTest, MissingJobReadIs404AndDeleteIs200WithZeroValues) {
  Reply g = Do("GET /v1/job/nope");
  EXPECT_EQ(g.status, 404);
  EXPECT_EQ(g.body, "job not found");
  EXPECT_TRUE(g.HasHeader("X-Nomad-Index"));
  Reply d = Do("DELETE /v1/job/nope");
  EXPECT_EQ(d.status, 200);
  json j = json::parse(d.body);
  EXPECT_EQ(j["EvalID"], "");
  EXPECT_EQ(j["Index"], 0);
  EXPECT_EQ(d.HeaderValue("X-Nomad-Index"), "0");
  Reply a = Do("GET /v1/job/nope/allocations");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "[]");
}

TEST_F(RouterClusterTest, RegisterReadAndList) {
  Reply r = Do("POST /v1/jobs", JobBody("web"));
  ASSERT_EQ(r.status, 200) << r.body;
  json w = json::parse(r.body);
  EXPECT_FALSE(w["EvalID"].get<std::string>().empty());
  EXPECT_EQ(r.HeaderValue("X-Nomad-Index"), std::to_string(w["Index"].get<uint64_t>()));
  Reply g = Do("GET /v1/job/web");
  EXPECT_EQ(g.status, 200);
  json job = json::parse(g.body);
  EXPECT_EQ(job["ID"], "web");
  EXPECT_EQ(job["Namespace"], "default");
  EXPECT_EQ(g.HeaderValue("X-Nomad-Index"), std::to_string(job["ModifyIndex"].get<uint64_t>()));
  json list = json::parse(Do("GET /v1/jobs?prefix=we").body);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["ID"], "web");
  EXPECT_FALSE(list[0].contains("Meta"));
  EXPECT_EQ(json::parse(Do("GET /v1/jobs?namespace=*").body).size(), 1u);
}

TEST_F(RouterClusterTest, RegisterRequestChecksAre400) {
  EXPECT_EQ(Do("PUT /v1/jobs", "{}").body, "Job must be specified");
  EXPECT_EQ(Do("PUT /v1/jobs", R"({"Job":{"Type":"service"}})").body,
            "Job ID hasn't been provided");
  Reply m = Do("PUT /v1/job/other", JobBody("web"));
  EXPECT_EQ(m.status, 400);
  EXPECT_EQ(m.body, "Job ID does not match name");
}

TEST_F(RouterClusterTest, EnforceIndexMismatchIs500) {
  ASSERT_EQ(Do("PUT /v1/jobs", JobBody("web")).status, 200);
  uint64_t jmi = json::parse(Do("GET /v1/job/web").body)["JobModifyIndex"];
  Reply r = Do("PUT /v1/jobs", JobBody("web", R"(,"EnforceIndex":true,"JobModifyIndex":999)"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "Enforcing job modify index 999: job exists with conflicting job modify "
                    "index: " + std::to_string(jmi));
}

TEST_F(RouterClusterTest, NamespaceForJobPrefersQueryThenBodyThenJob) {
  ASSERT_EQ(Do("PUT /v1/jobs?namespace=q", JobBody("a", R"(,"Namespace":"b")")).status, 200);
  EXPECT_EQ(Do("GET /v1/job/a?namespace=q").status, 200);
  ASSERT_EQ(Do("PUT /v1/jobs", JobBody("c", R"(,"Namespace":"b")")).status, 200);
  EXPECT_EQ(Do("GET /v1/job/c?namespace=b").status, 200);
}

TEST_F(RouterClusterTest, PlanReturnsDiffAndWritesNothing) {
  uint64_t before = core_.Index();
  Reply r = Do("POST /v1/job/web/plan", R"({"Diff":true,)" + JobBody("web").substr(1));
  ASSERT_EQ(r.status, 200) << r.body;
  json p = json::parse(r.body);
  EXPECT_EQ(p["Diff"]["Type"], "Added");
  EXPECT_EQ(p["JobModifyIndex"], 0);
  EXPECT_TRUE(p["Annotations"].contains("DesiredTGUpdates"));
  EXPECT_EQ(core_.Index(), before);
  EXPECT_EQ(Do("POST /v1/job/other/plan", JobBody("web")).body, "Job ID does not match");
  EXPECT_EQ(Do("GET /v1/job/web/plan").status, 405);
}

TEST_F(RouterClusterTest, AllocationReadStopAndNotFound) {
  std::string alloc = RunJob("web");
  ASSERT_FALSE(alloc.empty());
  Reply g = Do("GET /v1/allocation/" + alloc);
  EXPECT_EQ(g.status, 200);
  json a = json::parse(g.body);
  EXPECT_TRUE(a.contains("Job"));
  EXPECT_FALSE(a.contains("PreviousAllocation"));  // omit-empty
  EXPECT_EQ(Do("GET /v1/allocation/nope").body, "alloc not found");
  Reply s = Do("POST /v1/allocation/" + alloc + "/stop");
  EXPECT_EQ(s.status, 200);
  json st = json::parse(s.body);
  EXPECT_EQ(st.size(), 2u);  // {"EvalID","Index"}
  EXPECT_EQ(s.HeaderValue("X-Nomad-Index"), std::to_string(st["Index"].get<uint64_t>()));
  Reply missing = Do("POST /v1/allocation/nope/stop");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "allocation not found");
  EXPECT_EQ(Do("GET /v1/allocation/" + alloc + "/stop").status, 405);
}

// allocsListRequest's field selection (command/agent/alloc_endpoint.go @ v2.0.5): the relist asks
// for stubs without TaskStates.
TEST_F(RouterClusterTest, AllocationListLeavesOutTaskStatesWhenAsked) {
  std::string alloc = RunJob("web");
  ASSERT_FALSE(alloc.empty());
  auto stub = [&](const std::string& query) {
    Reply r = Do("GET /v1/allocations" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    json list = json::parse(r.body, nullptr, false);
    return list.is_array() && list.size() == 1 ? list[0] : json();
  };
  json full = stub("");
  ASSERT_TRUE(full["TaskStates"].is_object()) << full.dump();
  EXPECT_FALSE(full["TaskStates"].empty());
  EXPECT_TRUE(stub("?task_states=false")["TaskStates"].is_null());
  EXPECT_TRUE(stub("?task_states=true")["TaskStates"].is_object());
  EXPECT_TRUE(stub("?task_states=")["TaskStates"].is_object()) << "empty: not given";
  EXPECT_TRUE(stub("?resources=false")["TaskStates"].is_object());
  Reply bad = Do("GET /v1/allocations?task_states=maybe");
  EXPECT_EQ(bad.status, 500);
  EXPECT_EQ(bad.body,
            "Failed to parse value of \"task_states\" (maybe) as a bool: strconv.ParseBool: "
            "parsing \"maybe\": invalid syntax");
}

// parseBool (command/agent/http.go @ v2.0.5) reads an empty value as not given, on every route.
TEST_F(RouterClusterTest, EmptyBooleanParametersAreNotGiven) {
  ASSERT_FALSE(RunJob("web").empty());
  EXPECT_EQ(Do("GET /v1/jobs?meta=").status, 200);
  EXPECT_EQ(Do("GET /v1/jobs?meta=maybe").status, 400);
  EXPECT_EQ(Do("GET /v1/allocations?resources=").status, 200);
  EXPECT_EQ(Do("GET /v1/allocations?resources=maybe").status, 500);
}

TEST_F(RouterClusterTest, JobAllocationsWakeOnlyForThatJob) {
  RunJob("a");
  RunJob("b");
  Reply first = Do("GET /v1/job/a/allocations");
  std::string n = first.HeaderValue("X-Nomad-Index");  // the global allocs table index
  EXPECT_EQ(n, std::to_string(cluster_.AllocsIndex()));
  auto out = std::make_shared<std::optional<Reply>>();
  router_.Submit(MakeRequest("GET /v1/job/a/allocations?index=" + n),
                 [out](Reply r) { *out = std::move(r); });
  EXPECT_FALSE(out->has_value());
  std::string b_alloc = json::parse(Do("GET /v1/job/b/allocations").body)[0]["ID"];
  ASSERT_EQ(Do("POST /v1/allocation/" + b_alloc + "/stop").status, 200);
  core_.AdvanceBy(3s);
  EXPECT_FALSE(out->has_value());  // job b's allocations changed, not a's
  std::string a_alloc = json::parse(first.body)[0]["ID"];
  ASSERT_EQ(Do("POST /v1/allocation/" + a_alloc + "/stop").status, 200);
  core_.AdvanceBy(base::Duration(0));
  ASSERT_TRUE(out->has_value());
  EXPECT_EQ((*out)->status, 200);
}

TEST_F(RouterClusterTest, NodesAndNode) {
  json nodes = json::parse(Do("GET /v1/nodes").body);
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0]["ID"], node_);
  EXPECT_EQ(Do("GET /v1/node/" + node_).status, 200);
  EXPECT_EQ(Do("GET /v1/node/nope").body, "node not found");
}

TEST_F(RouterClusterTest, RequestsFromAPartitionedAllocationAreNeverAnswered) {
  std::string alloc = RunJob("web");
  std::string token = acl_.IssueWorkloadToken("default", "web", "g", "t", alloc);
  EXPECT_EQ(Do("GET /v1/vars", "", token).status, 200);
  ASSERT_EQ(Do("POST /v1/sim/node/" + node_ + "/partition").status, 200);
  auto out = std::make_shared<std::optional<Reply>>();
  router_.Submit(MakeRequest("PUT /v1/var/x?lock-renew", R"({"Lock":{"ID":"x"}})", token),
                 [out](Reply r) { *out = std::move(r); });
  core_.AdvanceBy(10min);
  EXPECT_FALSE(out->has_value());
  EXPECT_EQ(Do("GET /v1/vars").status, 200);  // other callers are served
  ASSERT_EQ(Do("POST /v1/sim/node/" + node_ + "/heal").status, 200);
  EXPECT_EQ(Do("GET /v1/vars", "", token).status, 200);
  EXPECT_EQ(Do("POST /v1/sim/node/nope/crash").status, 404);
}

TEST_F(RouterClusterTest, AllocationEventsOverTheStream) {
  auto sink = std::make_shared<RecordingSink>();
  router_.SubmitStream(MakeRequest("GET /v1/event/stream?topic=Allocation"), sink,
                       StreamFraming::kCloseDelimited);
  RunJob("web");
  bool saw_plan_result = false;
  for (const std::string& l : sink->lines_) {
    json f = json::parse(l);
    if (!f.contains("Events")) continue;
    for (const json& e : f["Events"]) {
      EXPECT_EQ(e["Topic"], "Allocation");
      EXPECT_FALSE(e["Payload"]["Allocation"].contains("Job"));
      saw_plan_result = saw_plan_result || e["Type"] == "PlanResult";
    }
  }
  EXPECT_TRUE(saw_plan_result);
}

}  // namespace
}  // namespace nsg::sim
