#include "controller/nomad_client/http_nomad_api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "controller/nomad/codec.h"
#include "controller/nomad_client/http_transport.h"
#include "controller/nomad_client/status_map.h"
#include "tests/nomad_client/fake_transport.h"
#include "tests/nomad_client/http_nomad_api_fixture.h"
#include "tests/nomad_client/test_http_server.h"
#include "tests/test_support/temp_dir.h"

namespace nsg::io {
namespace {

using base::StatusCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;
using testing::FakeSleeper;
using testing::FakeTransport;
using testing::HttpNomadApiTest;
using testing::OkBodyFor;
using testing::RetryCase;
using testing::RetryCases;
using testing::kToken;
using testing::TestJob;

// ---- Request shapes (nomad-api.md §2, §5, §6, §7, §8.1) ----

TEST_F(HttpNomadApiTest, EveryRequestCarriesTokenHeaderRegionAndNamespace) {
  ASSERT_TRUE(api().ReadJob("web", {}).ok() || true);
  EXPECT_EQ(last().method, "GET");
  EXPECT_EQ(target(), "/v1/job/web?namespace=prod&region=eu");
  EXPECT_EQ(last().headers.Get("x-nomad-token"), kToken);
  EXPECT_EQ(transport_.timeouts.back(), kDefaultRequestTimeout);
}

TEST_F(HttpNomadApiTest, TokenFileIsReadAndItsRotationIsPickedUp) {
  test_support::TestTempDir dir("nsg_api_token");
  const std::string path = (dir.path() / "token").string();
  std::ofstream(path) << "from-file-1\n";
  config_.token_file = path;
  ASSERT_TRUE(api().ReadJob("web", {}).ok());
  EXPECT_EQ(last().headers.Get("X-Nomad-Token"), "from-file-1");
  std::ofstream(path + ".new") << "from-file-2-rotated\n";
  std::filesystem::rename(path + ".new", path);
  ASSERT_TRUE(api().ReadJob("web", {}).ok());
  EXPECT_EQ(last().headers.Get("X-Nomad-Token"), "from-file-2-rotated");
}

TEST_F(HttpNomadApiTest, NoTokenNoHeader) {
  config_.token.clear();
  config_.namespace_.clear();
  config_.region.clear();
  (void)api().ListJobs({}, false);
  EXPECT_FALSE(last().headers.Has("X-Nomad-Token"));
  EXPECT_EQ(target(), "/v1/jobs");
}

TEST_F(HttpNomadApiTest, RegisterJobShape) {
  transport_.PushResponse(200, R"({"EvalID":"e1","EvalCreateIndex":57,"JobModifyIndex":57,
      "Warnings":"","Index":57,"LastContact":0,"KnownLeader":false,"NextToken":""})");
  nomad::RegisterRequest req{TestJob(), true, 12};
  auto r = api().RegisterJob(req, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->eval_id, "e1");
  EXPECT_EQ(r->index, 57u);
  EXPECT_EQ(last().method, "POST");
  EXPECT_EQ(target(), "/v1/jobs?namespace=prod&region=eu");
  Json b = body();
  EXPECT_EQ(b["Job"]["ID"], "web");
  EXPECT_EQ(b["EnforceIndex"], true);
  EXPECT_EQ(b["JobModifyIndex"], 12);
}

TEST_F(HttpNomadApiTest, RegisterUsesTheJobNamespaceBeforeTheConfigOne) {
  nomad::Job job = TestJob();
  job.namespace_ = "billing";
  (void)api().RegisterJob({job, false, 0}, {});
  EXPECT_EQ(target(), "/v1/jobs?namespace=billing&region=eu");
  (void)api().RegisterJob({job, false, 0}, {.namespace_ = "ops", .region = ""});
  EXPECT_EQ(target(), "/v1/jobs?namespace=ops&region=eu");
}

TEST_F(HttpNomadApiTest, PlanJobShapeAndDiffDecode) {
  transport_.PushResponse(200, R"({
    "Annotations":{"DesiredTGUpdates":{"app":{"Ignore":0,"Place":1,"Migrate":0,"Stop":0,
      "InPlaceUpdate":0,"DestructiveUpdate":0,"Canary":0,"Preemptions":0}},"PreemptedAllocs":null},
    "FailedTGAllocs":null,"JobModifyIndex":7,"CreatedEvals":null,
    "Diff":{"Type":"Edited","ID":"web","Fields":null,"Objects":null,
      "TaskGroups":[{"Type":"Edited","Name":"app","Updates":{"create/destroy update":1},
        "Fields":[{"Type":"Edited","Name":"Count","Old":"1","New":"2","Annotations":null}],
        "Objects":null,"Tasks":[{"Type":"Edited","Name":"main","Fields":null,
          "Objects":[{"Type":"Added","Name":"Env","Fields":[{"Type":"Added","Name":"A","Old":"",
          "New":"b","Annotations":null}],"Objects":null}],"Annotations":["forces create/destroy update"]}]}]},
    "NextPeriodicLaunch":"0001-01-01T00:00:00Z","Warnings":"","Index":0})");
  auto r = api().PlanJob(TestJob(), true, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(last().method, "POST");
  EXPECT_EQ(target(), "/v1/job/web/plan?namespace=prod&region=eu");
  EXPECT_EQ(body()["Diff"], true);
  EXPECT_EQ(body()["Job"]["ID"], "web");
  EXPECT_EQ(r->job_modify_index, 7u);
  EXPECT_EQ(r->desired_tg_updates.at("app").place, 1u);
  ASSERT_TRUE(r->diff.has_value());
  EXPECT_EQ(r->diff->type, "Edited");
  ASSERT_EQ(r->diff->task_groups.size(), 1u);
  EXPECT_EQ(r->diff->task_groups[0].updates.at("create/destroy update"), 1u);
  EXPECT_EQ(r->diff->task_groups[0].fields[0].new_value, "2");
  EXPECT_EQ(r->diff->task_groups[0].tasks[0].objects[0].fields[0].name, "A");
  EXPECT_EQ(r->diff->task_groups[0].tasks[0].annotations[0], "forces create/destroy update");
  EXPECT_EQ(r->next_periodic_launch, 0);
}

TEST_F(HttpNomadApiTest, ReadJobEscapesTheIdAndReadsMeta) {
  transport_.PushResponse(200, nomad::EncodeJob(TestJob(), {.server_fields = true}),
                          {{"X-Nomad-Index", "99"},
                           {"X-Nomad-Knownleader", "true"},
                           {"X-Nomad-Lastcontact", "12"}});
  auto r = api().ReadJob("a b/c", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(last().path, "/v1/job/a%20b%2Fc");
  EXPECT_EQ(r->value.id, "web");
  EXPECT_EQ(r->meta.last_index, 99u);
  EXPECT_TRUE(r->meta.known_leader);
  EXPECT_EQ(r->meta.last_contact, std::chrono::milliseconds(12));
}

TEST_F(HttpNomadApiTest, ListJobsShapeAndStubDecode) {
  transport_.PushResponse(200, R"([{"ID":"web","ParentID":"","Name":"web","Namespace":"prod",
      "Datacenters":["dc1"],"Type":"service","Priority":50,"Periodic":false,"ParameterizedJob":false,
      "Stop":false,"Status":"running","StatusDescription":"","JobSummary":null,"CreateIndex":5,
      "ModifyIndex":9,"JobModifyIndex":8,"SubmitTime":1700000000000000000,"Version":3,
      "Meta":{"nomad-singleton/managed-by":"ctl"}}])");
  nomad::QueryOptions q;
  q.namespace_ = "*";
  q.prefix = "we";
  auto r = api().ListJobs(q, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(target(), "/v1/jobs?namespace=%2A&region=eu&prefix=we&meta=true");
  ASSERT_EQ(r->value.size(), 1u);
  const nomad::JobStub& s = r->value[0];
  EXPECT_EQ(s.id, "web");
  EXPECT_EQ(s.status, "running");
  EXPECT_EQ(s.version, 3u);
  EXPECT_EQ(s.job_modify_index, 8u);
  EXPECT_EQ(s.submit_time, 1700000000000000000);
  EXPECT_EQ(s.meta.at("nomad-singleton/managed-by"), "ctl");
}

TEST_F(HttpNomadApiTest, JobAllocationsShape) {
  transport_.PushResponse(200, "[]");
  auto r = api().JobAllocations("web", {}, true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(target(), "/v1/job/web/allocations?namespace=prod&region=eu&all=true");
  EXPECT_TRUE(r->value.empty());
}

TEST_F(HttpNomadApiTest, DeregisterShape) {
  transport_.PushResponse(200, R"({"EvalID":"","EvalCreateIndex":0,"JobModifyIndex":0,
      "VolumeEvalID":"","VolumeEvalIndex":0,"Index":0,"LastContact":0,"KnownLeader":false,
      "NextToken":""})");
  auto r = api().DeregisterJob("web", true, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(last().method, "DELETE");
  EXPECT_EQ(target(), "/v1/job/web?namespace=prod&region=eu&purge=true");
}

TEST_F(HttpNomadApiTest, EvaluateShape) {
  (void)api().EvaluateJob("web", true, {});
  EXPECT_EQ(last().method, "POST");
  EXPECT_EQ(target(), "/v1/job/web/evaluate?namespace=prod&region=eu");
  EXPECT_EQ(body(), Json::parse(R"({"JobID":"web","EvalOptions":{"ForceReschedule":true}})"));
}

TEST_F(HttpNomadApiTest, ParseHclShape) {
  transport_.PushResponse(200, R"({"ID":"web","Name":"web","Type":null,"TaskGroups":null})");
  auto r = api().ParseHcl("job \"web\" {}", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(target(), "/v1/jobs/parse?namespace=prod&region=eu");
  EXPECT_EQ(body(), Json::parse(R"({"JobHCL":"job \"web\" {}","Canonicalize":true})"));
  EXPECT_EQ(r->id, "web");
}

TEST_F(HttpNomadApiTest, AllocationShapes) {
  transport_.PushResponse(200, "[]");
  nomad::QueryOptions q;
  q.namespace_ = "*";
  ASSERT_TRUE(api().ListAllocations(q).ok());
  EXPECT_EQ(target(), "/v1/allocations?namespace=%2A&region=eu");
  transport_.PushResponse(200, "[]");
  q.task_states = false;
  ASSERT_TRUE(api().ListAllocations(q).ok());
  EXPECT_EQ(target(), "/v1/allocations?namespace=%2A&region=eu&task_states=false");

  transport_.PushResponse(200, R"({"ID":"a1","JobID":"web","ClientStatus":"running"})");
  auto a = api().ReadAllocation("a1", {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(target(), "/v1/allocation/a1?region=eu");  // alloc IDs are global
  EXPECT_EQ(a->value.client_status, "running");

  transport_.PushResponse(200, R"({"EvalID":"e9","Index":31})");
  auto s = api().StopAllocation("a1", true);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(last().method, "POST");
  EXPECT_EQ(target(), "/v1/allocation/a1/stop?region=eu&no_shutdown_delay=true");
  EXPECT_EQ(s->eval_id, "e9");
  EXPECT_EQ(s->index, 31u);

  transport_.PushResponse(200, "[]");
  ASSERT_TRUE(api().ListNodes({}).ok());
  EXPECT_EQ(target(), "/v1/nodes?region=eu");
}

TEST_F(HttpNomadApiTest, VariableReadListShapes) {
  transport_.PushResponse(200, R"({"Namespace":"prod","Path":"nomad/jobs/web/lock",
      "CreateIndex":1,"CreateTime":0,"ModifyIndex":2,"ModifyTime":0,"Items":{"k":"v"}})",
                          {{"X-Nomad-Index", "2"}});
  auto v = api().ReadVariable("/nomad/jobs/web/lock/", {});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(target(), "/v1/var/nomad/jobs/web/lock?namespace=prod&region=eu");
  EXPECT_EQ(v->value.items.at("k"), "v");

  transport_.PushResponse(200, "[]");
  nomad::QueryOptions q;
  q.prefix = "nomad/jobs";
  ASSERT_TRUE(api().ListVariables(q).ok());
  EXPECT_EQ(target(), "/v1/vars?namespace=prod&region=eu&prefix=nomad%2Fjobs");
}

TEST_F(HttpNomadApiTest, SetVariableShapeAndCas) {
  nomad::Variable v;
  v.path = "nomad/jobs/web/state";
  v.items = {{"a", "1"}};
  transport_.PushResponse(200, R"({"Namespace":"prod","Path":"nomad/jobs/web/state",
      "ModifyIndex":5,"Items":{"a":"1"}})");
  auto r = api().SetVariable(v, 4, {}, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(last().method, "PUT");
  EXPECT_EQ(target(), "/v1/var/nomad/jobs/web/state?namespace=prod&region=eu&cas=4");
  EXPECT_EQ(body(), Json::parse(R"({"Namespace":"prod","Path":"nomad/jobs/web/state",
                                     "Items":{"a":"1"}})"));
  EXPECT_EQ(r->modify_index, 5u);
}

TEST_F(HttpNomadApiTest, SetVariableConflictDecodesTheConflictingVariable) {
  nomad::Variable v;
  v.path = "nomad/jobs/web/state";
  v.items = {{"a", "1"}};
  transport_.PushResponse(409, R"({"Namespace":"prod","Path":"nomad/jobs/web/state",
      "CreateIndex":3,"CreateTime":0,"ModifyIndex":9,"ModifyTime":0,"Items":{"a":"0"}})",
                          {{"X-Nomad-Index", "9"}});
  nomad::Variable conflict;
  auto r = api().SetVariable(v, 4, {}, &conflict);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_EQ(conflict.modify_index, 9u);
  EXPECT_EQ(conflict.items.at("a"), "0");
  EXPECT_EQ(transport_.requests.size(), 1u);
}

TEST_F(HttpNomadApiTest, DeleteVariableShape) {
  transport_.PushResponse(204, "");
  EXPECT_TRUE(api().DeleteVariable("nomad/jobs/web/state", 7, {}).ok());
  EXPECT_EQ(last().method, "DELETE");
  EXPECT_EQ(target(), "/v1/var/nomad/jobs/web/state?namespace=prod&region=eu&cas=7");
  EXPECT_TRUE(last().body.empty());
}

TEST_F(HttpNomadApiTest, LockAcquireRenewReleaseShapes) {
  nomad::Variable v;
  v.path = "nomad/jobs/web/lock";
  v.lock = nomad::VariableLock{std::chrono::seconds(15), std::chrono::seconds(10), ""};
  transport_.PushResponse(200, R"({"Namespace":"prod","Path":"nomad/jobs/web/lock",
      "Lock":{"TTL":"15s","LockDelay":"10s","ID":"L1"},"CreateIndex":120,"CreateTime":1,
      "ModifyIndex":120,"ModifyTime":1})");
  auto a = api().AcquireLock(v, {});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(last().method, "PUT");
  EXPECT_EQ(target(), "/v1/var/nomad/jobs/web/lock?namespace=prod&region=eu&lock-acquire");
  EXPECT_EQ(body(), Json::parse(R"({"Namespace":"prod","Path":"nomad/jobs/web/lock","Items":{},
                                     "Lock":{"TTL":"15s","LockDelay":"10s"}})"));
  ASSERT_TRUE(a->lock.has_value());
  EXPECT_EQ(a->lock->id, "L1");
  EXPECT_EQ(a->lock->ttl, std::chrono::seconds(15));

  transport_.PushResponse(200, R"({"Namespace":"prod","Path":"nomad/jobs/web/lock",
      "Lock":{"TTL":"15s","LockDelay":"10s","ID":"L1"},"ModifyIndex":120})");
  ASSERT_TRUE(api().RenewLock("nomad/jobs/web/lock", "L1", {}).ok());
  EXPECT_EQ(target(), "/v1/var/nomad/jobs/web/lock?namespace=prod&region=eu&lock-renew");
  EXPECT_EQ(body(), Json::parse(R"({"Namespace":"prod","Path":"nomad/jobs/web/lock",
                                     "Lock":{"ID":"L1"}})"));

  transport_.PushResponse(200, R"({"Namespace":"prod","Path":"nomad/jobs/web/lock",
      "ModifyIndex":131})");
  auto rel = api().ReleaseLock("nomad/jobs/web/lock", "L1", {});
  ASSERT_TRUE(rel.ok()) << rel.status().ToString();
  EXPECT_EQ(target(), "/v1/var/nomad/jobs/web/lock?namespace=prod&region=eu&lock-release");
  EXPECT_FALSE(body().contains("Items"));  // release rejects Items (400)
  EXPECT_FALSE(rel->lock.has_value());
}

TEST_F(HttpNomadApiTest, LockConflictsAndLostLocks) {
  transport_.PushResponse(409, R"({"Namespace":"prod","Path":"p","CreateIndex":0,"CreateTime":0,
      "ModifyIndex":0,"ModifyTime":0})");
  nomad::Variable v;
  v.path = "p";
  EXPECT_EQ(api().AcquireLock(v, {}).status().code(), StatusCode::kConflict);
  transport_.PushResponse(409, "attempting to modify locked variable");
  EXPECT_EQ(api().RenewLock("p", "L1", {}).status().code(), StatusCode::kConflict);
  transport_.PushResponse(404, "variable doesn't exist");
  EXPECT_EQ(api().RenewLock("p", "L1", {}).status().code(), StatusCode::kNotFound);
  transport_.PushResponse(500, "variable doesn't hold a lock");
  EXPECT_EQ(api().ReleaseLock("p", "L1", {}).status().code(), StatusCode::kConflict);
}

TEST_F(HttpNomadApiTest, AclPolicyShapes) {
  transport_.PushResponse(200, R"({"Name":"web-lock","Description":"d","Rules":"namespace {}",
      "JobACL":{"Namespace":"prod","JobID":"web","Group":"","Task":""},"CreateIndex":3,"ModifyIndex":4})");
  auto p = api().ReadAclPolicy("web-lock");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(target(), "/v1/acl/policy/web-lock?region=eu");
  ASSERT_TRUE(p->job_acl.has_value());
  EXPECT_EQ(p->job_acl->job_id, "web");

  transport_.PushResponse(200, "");
  ASSERT_TRUE(api().UpsertAclPolicy(*p).ok());
  EXPECT_EQ(last().method, "POST");
  EXPECT_EQ(target(), "/v1/acl/policy/web-lock?region=eu");
  EXPECT_EQ(body()["Name"], "web-lock");
  EXPECT_EQ(body()["JobACL"]["JobID"], "web");

  transport_.PushResponse(200, "");
  ASSERT_TRUE(api().DeleteAclPolicy("web-lock").ok());
  EXPECT_EQ(last().method, "DELETE");
}

// ---- Blocking queries ----

TEST_F(HttpNomadApiTest, BlockingQueryParametersAndTimeout) {
  nomad::QueryOptions q;
  q.index = 100;
  q.wait = std::chrono::seconds(32);
  q.stale = true;
  transport_.PushResponse(200, "[]", {{"X-Nomad-Index", "101"}});
  auto r = api().JobAllocations("web", q, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(target(), "/v1/job/web/allocations?namespace=prod&region=eu&index=100&wait=32s&stale=true");
  EXPECT_EQ(transport_.timeouts.back(), std::chrono::seconds(32) + std::chrono::seconds(2) +
                                            options_.blocking_margin);
  EXPECT_EQ(r->meta.last_index, 101u);
}

TEST_F(HttpNomadApiTest, BlockingWaitIsCappedAtFiveMinutes) {
  nomad::QueryOptions q;
  q.index = 1;
  q.wait = std::chrono::minutes(20);
  (void)api().ListJobs(q, false);
  EXPECT_THAT(target(), HasSubstr("wait=5m0s"));
  Duration five = std::chrono::minutes(5);
  EXPECT_EQ(transport_.timeouts.back(), five + five / 16 + options_.blocking_margin);
  q.wait = Duration(0);  // Nomad's default wait is 5m as well
  (void)api().ListJobs(q, false);
  EXPECT_THAT(target(), Not(HasSubstr("wait=")));
  EXPECT_EQ(transport_.timeouts.back(), five + five / 16 + options_.blocking_margin);
}

TEST_F(HttpNomadApiTest, BlockingIndexGoingBackwardsResetsToZero) {
  nomad::QueryOptions q;
  q.index = 100;
  transport_.PushResponse(200, "[]", {{"X-Nomad-Index", "40"}});  // restored server
  auto r = api().ListAllocations(q);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->meta.last_index, 0u);
  transport_.PushResponse(200, "[]", {{"X-Nomad-Index", "100"}});  // wait timed out
  r = api().ListAllocations(q);
  EXPECT_EQ(r->meta.last_index, 100u);
  q.index = 0;  // a plain read reports what it got
  transport_.PushResponse(200, "[]", {{"X-Nomad-Index", "40"}});
  r = api().ListAllocations(q);
  EXPECT_EQ(r->meta.last_index, 40u);
}

// ---- The token never leaks ----

TEST_F(HttpNomadApiTest, TokenNeverAppearsInErrors) {
  const std::string echo = std::string("ACL token not found: ") + kToken;
  std::vector<Status> statuses;
  transport_.PushResponse(403, echo);
  statuses.push_back(api().ReadJob("web", {}).status());
  transport_.PushResponse(500, echo);
  statuses.push_back(api().RenewLock("p", "id", {}).status());
  transport_.PushError(Status::Unavailable(std::string("transport said ") + kToken));
  statuses.push_back(api().RenewLock("p", "id", {}).status());
  for (const Status& s : statuses) {
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(s.ToString(), Not(HasSubstr(kToken)));
    EXPECT_THAT(s.message(), HasSubstr("<redacted>"));
  }
  EXPECT_EQ(statuses[0].code(), StatusCode::kPermissionDenied);
}

// ---- A hostile or misconfigured Nomad address ----

TEST_F(HttpNomadApiTest, ResponseCapComesFromTheConfig) {
  config_.max_response_bytes = 12345;
  ASSERT_TRUE(api().ReadVariable("p", {}).ok());
  ASSERT_EQ(transport_.max_response_bytes.size(), 1u);
  EXPECT_EQ(transport_.max_response_bytes[0], 12345u);
}

TEST_F(HttpNomadApiTest, RedirectIsRefusedNamingOnlyTheOrigin) {
  transport_.PushResponse(307, "", {{"Location", "http://user:pw@evil.example:4646/v1/jobs?q=1"}});
  options_.max_attempts = 1;
  Status st = api().ListJobs({}, false).status();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("GET /v1/jobs: HTTP 307 redirect to "
                                      "http://evil.example:4646 refused"));
  EXPECT_THAT(st.message(), Not(HasSubstr("pw")));
  EXPECT_THAT(st.message(), Not(HasSubstr("q=1")));
}

TEST_F(HttpNomadApiTest, TokenNeverReachesTheOriginOfARedirect) {
  auto elsewhere = testing::TestHttpServer::StartTcp(
      [](const testing::ServedRequest&, testing::TestConn& conn) {
        conn.Write(testing::HttpResponseBytes(200, "[]"));
      });
  ASSERT_NE(elsewhere, nullptr);
  auto server = testing::TestHttpServer::StartTcp(
      [&](const testing::ServedRequest& req, testing::TestConn& conn) {
        conn.Write(
            testing::HttpResponseBytes(307, "", {{"Location", elsewhere->url() + req.target}}));
      });
  ClientConfig cfg;
  cfg.address = server->url();
  cfg.token = kToken;
  auto transport = MakeTransport(cfg);
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();
  options_.max_attempts = 2;
  HttpNomadApi api(**transport, cfg, clock_, sleeper_, options_);
  Status st = api.ListJobs({}, false).status();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("redirect to " + elsewhere->url() + " refused"));
  EXPECT_EQ(server->requests().size(), 2u);
  EXPECT_TRUE(elsewhere->requests().empty());
}

// ---- The request observer (nomad_requests_total, nomad_request_duration_seconds) ----

struct Observed {
  std::string op, code;
  Duration took{0};
};

// Records every observer call; thread-safe.
struct RecordingObserver {
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  std::shared_ptr<std::vector<Observed>> calls = std::make_shared<std::vector<Observed>>();
  RequestObserver Hook() const {
    return [mu = mu, calls = calls](std::string_view op, std::string_view code, Duration took) {
      std::lock_guard lock(*mu);
      calls->push_back({std::string(op), std::string(code), took});
    };
  }
  std::vector<Observed> Calls() const {
    std::lock_guard lock(*mu);
    return *calls;
  }
  // "op code" per call, in order.
  std::vector<std::string> OpCodes() const {
    std::vector<std::string> out;
    for (const Observed& o : Calls()) out.push_back(o.op + " " + o.code);
    return out;
  }
};

TEST_F(HttpNomadApiTest, ObserverSeesOneCallWithOpAndHttpStatus) {
  RecordingObserver rec;
  options_.observer = rec.Hook();
  transport_.PushResponse(200, R"({"ID":"web"})");
  ASSERT_TRUE(api().ReadJob("web", {}).ok());
  transport_.PushResponse(404, "job not found");
  EXPECT_EQ(api().ReadJob("web", {}).status().code(), StatusCode::kNotFound);
  transport_.PushResponse(409, "");
  EXPECT_FALSE(api().RenewLock("p", "id", {}).ok());
  // 500 is retried: four attempts, one observation with the last status and the whole time.
  for (int i = 0; i < 4; ++i) transport_.PushResponse(500, "rpc error: no cluster leader");
  const base::TimePoint before = clock_.Now();
  EXPECT_EQ(api().ListJobs({}, false).status().code(), StatusCode::kUnavailable);
  const Duration retried_for = clock_.Now() - before;
  EXPECT_EQ(transport_.requests.size(), 7u);

  EXPECT_THAT(rec.OpCodes(),
              ElementsAre("job.read 200", "job.read 404", "lock.renew 409", "jobs.list 500"));
  auto calls = rec.Calls();
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].took, Duration(0));  // the virtual clock did not move
  EXPECT_GT(retried_for, Duration(0));
  EXPECT_EQ(calls[3].took, retried_for);  // backoff sleeps included
}

// A cluster without ACLs refuses the policy endpoints with a coded 400 that the reconciler expects
// (its ACL probe): a code of its own, so that NomadErrors does not count it; other 400s stay 400.
TEST_F(HttpNomadApiTest, ObserverLabelsTheAclDisabledAnswerApart) {
  RecordingObserver rec;
  options_.observer = rec.Hook();
  transport_.PushResponse(400, "ACL support disabled");
  EXPECT_EQ(api().ReadAclPolicy("p").status().code(), StatusCode::kInvalidSpec);
  transport_.PushResponse(400, "ACL support disabled");
  EXPECT_FALSE(api().ListAclPolicies().ok());
  transport_.PushResponse(400, "invalid job name");
  EXPECT_FALSE(api().ReadJob("web", {}).ok());

  EXPECT_THAT(rec.OpCodes(), ElementsAre("acl.policy.read acl_disabled",
                                         "acl.policies.list acl_disabled", "job.read 400"));
}

TEST_F(HttpNomadApiTest, ObserverSeesTransportErrorsAndCancellation) {
  RecordingObserver rec;
  options_.observer = rec.Hook();
  options_.max_attempts = 2;
  transport_.PushError(Status::Unavailable("connect: connection refused"));
  transport_.PushError(Status::Unavailable("connect: connection refused"));
  EXPECT_EQ(api().ReadVariable("p", {}).status().code(), StatusCode::kUnavailable);
  // A 2xx that does not decode still reports the HTTP status it had.
  transport_.PushResponse(200, "not json");
  EXPECT_EQ(api().ReadAllocation("a", {}).status().code(), StatusCode::kInternal);
  api().Shutdown();
  EXPECT_EQ(api().StopAllocation("a", false).status().code(), StatusCode::kCancelled);

  EXPECT_THAT(rec.OpCodes(),
              ElementsAre("var.read error", "alloc.read 200", "alloc.stop cancelled"));
}

TEST_F(HttpNomadApiTest, ObserverSeesARefusedConnectionOverARealSocket) {
  // A port that was just free: bind, learn it, close; nothing listens there now.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  ClientConfig cfg;
  cfg.address = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  cfg.request_timeout = std::chrono::seconds(5);
  auto transport = MakeTransport(cfg);
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();

  RecordingObserver rec;
  options_.observer = rec.Hook();
  options_.max_attempts = 1;
  HttpNomadApi api(**transport, cfg, clock_, sleeper_, options_);
  EXPECT_EQ(api.ListAllocations({}).status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(rec.OpCodes(), ElementsAre("allocs.list error"));
}

TEST_F(HttpNomadApiTest, EveryMethodHasItsOwnFixedOpName) {
  const std::map<std::string, std::string> want = {
      {"ReadJob", "job.read"},
      {"ListJobs", "jobs.list"},
      {"JobAllocations", "job.allocations"},
      {"ListAllocations", "allocs.list"},
      {"ReadAllocation", "alloc.read"},
      {"ListNodes", "nodes.list"},
      {"ReadVariable", "var.read"},
      {"ListVariables", "vars.list"},
      {"ReadAclPolicy", "acl.policy.read"},
      {"PlanJob", "job.plan"},
      {"ParseHcl", "jobs.parse"},
      {"DeregisterJob", "job.deregister"},
      {"RegisterJob", "job.register"},
      {"RegisterJobEnforceIndex", "job.register"},
      {"SetVariable", "var.write"},
      {"SetVariableCas", "var.write"},
      {"DeleteVariable", "var.delete"},
      {"DeleteVariableCas", "var.delete"},
      {"AcquireLockOwnId", "lock.acquire"},
      {"AcquireLockServerId", "lock.acquire"},
      {"RenewLock", "lock.renew"},
      {"ReleaseLock", "lock.release"},
      {"StopAllocation", "alloc.stop"},
      {"EvaluateJob", "job.evaluate"},
      {"UpsertAclPolicy", "acl.policy.upsert"},
      {"DeleteAclPolicy", "acl.policy.delete"},
  };
  std::set<std::string> distinct;
  for (const RetryCase& c : RetryCases()) {
    SCOPED_TRACE(c.name);
    RecordingObserver rec;
    options_.observer = rec.Hook();
    FakeTransport t;
    HttpNomadApi api(t, config_, clock_, sleeper_, options_);
    t.PushResponse(200, OkBodyFor(c.name));
    EXPECT_TRUE(c.call(api).ok());
    auto calls = rec.Calls();
    ASSERT_EQ(calls.size(), 1u);
    ASSERT_TRUE(want.count(c.name));
    EXPECT_EQ(calls[0].op, want.at(c.name));
    EXPECT_EQ(calls[0].code, "200");
    distinct.insert(calls[0].op);
  }
  // One name per NomadApi method (22), none shared between methods.
  EXPECT_EQ(distinct.size(), 22u);
}

}  // namespace
}  // namespace nsg::io
