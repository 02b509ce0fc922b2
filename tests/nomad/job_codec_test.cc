#include <gtest/gtest.h>

#include <string>

#include "controller/nomad/codec.h"
#include "tests/nomad/test_util.h"

namespace nsg::nomad {
namespace {

using namespace std::chrono_literals;

using base::StatusCode;
using testing::JsonAt;
using testing::JsonDiff;
using testing::JsonKeys;
using testing::JsonSubsetDiff;
using testing::ReadFixture;

// A job with every modelled field set (server fields included) and some extras.
Job FullJob() {
  Job job;
  job.id = "example";
  job.name = "example";
  job.namespace_ = "prod";
  job.region = "global";
  job.type = kJobTypeService;
  job.priority = 70;
  job.datacenters = {"dc1", "dc2"};
  job.node_pool = "default";
  job.meta = {{"owner", "controller"}};
  job.periodic = PeriodicConfig{.enabled = true, .spec_type = "cron", .spec = "*/5 * * * *",
                                .prohibit_overlap = true, .time_zone = "UTC",
                                .extra = {{"Specs", R"(["*/5 * * * *"])"}}};
  TaskGroup g;
  g.name = "app";
  g.count = 2;
  g.restart_policy = RestartPolicy{.attempts = 2, .interval = 30min, .delay = 15s, .mode = "fail",
                                   .render_templates = true};
  g.reschedule_policy = ReschedulePolicy{.attempts = 0, .interval = 0s, .delay = 30s,
                                         .delay_function = "exponential", .max_delay = 1h,
                                         .unlimited = true};
  g.disconnect = Disconnect{.lost_after = 0s, .stop_on_client_after = 1min, .replace = true,
                            .reconcile = "best_score"};
  g.meta = {{"tier", "gold"}};
  g.extra = {{"EphemeralDisk", R"({"SizeMB":300,"Sticky":false})"}};
  Task t;
  t.name = "main";
  t.driver = "raw_exec";
  t.user = "nobody";
  t.config = R"({"command":"/bin/app","args":["--port","8080"]})";
  t.env = {{"APP_MODE", "prod"}};
  t.resources = Resources{.cpu = 200, .memory_mb = 256, .memory_max_mb = 512,
                          .extra = {{"Cores", "0"}}};
  t.restart_policy = RestartPolicy{.attempts = 1, .interval = 5min, .delay = 10s, .mode = "delay"};
  t.lifecycle = Lifecycle{.hook = "poststart", .sidecar = true};
  t.leader = true;
  t.kill_timeout = 10s;
  t.kill_signal = "SIGTERM";
  t.meta = {{"k", "v"}};
  t.identity = WorkloadIdentity{.name = "default", .audience = {"nomadproject.io"}, .env = true,
                                .file = false, .extra = {{"TTL", "0"}}};
  t.extra = {{"Templates", R"([{"DestPath":"local/a","EmbeddedTmpl":"x"}])"}};
  g.tasks.push_back(t);
  job.task_groups.push_back(g);
  job.stop = true;
  job.status = "running";
  job.version = 7;
  job.create_index = 10;
  job.modify_index = 20;
  job.job_modify_index = 15;
  job.submit_time = 1724311220000123456;
  job.extra = {{"Update", R"({"MaxParallel":1})"}, {"Constraints", "null"}};
  return job;
}

Job WithoutServerFields(Job job) {
  job.stop = false;
  job.status.clear();
  job.version = job.create_index = job.modify_index = job.job_modify_index = 0;
  job.submit_time = 0;
  return job;
}

TEST(JobCodecTest, DecodesTheRegisterBodyOfTheDocs) {
  auto req = DecodeRegisterRequest(ReadFixture("register_body.json"));
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  const Job& job = req->job;
  EXPECT_EQ(job.id, "example");
  EXPECT_EQ(job.namespace_, "default");
  EXPECT_EQ(job.type, "service");
  EXPECT_EQ(job.priority, 50);  // absent: the default
  EXPECT_EQ(job.datacenters, std::vector<std::string>{"dc1"});
  EXPECT_EQ(job.meta, (StringMap{{"owner", "controller"}}));
  ASSERT_EQ(job.task_groups.size(), 1u);
  const TaskGroup& g = job.task_groups[0];
  EXPECT_EQ(g.count, 1);
  ASSERT_TRUE(g.restart_policy.has_value());
  EXPECT_EQ(*g.restart_policy, (RestartPolicy{.attempts = 2, .interval = 30min, .delay = 15s,
                                              .mode = "fail", .render_templates = false}));
  ASSERT_TRUE(g.reschedule_policy.has_value());
  EXPECT_EQ(g.reschedule_policy->max_delay, 1h);
  EXPECT_TRUE(g.reschedule_policy->unlimited);
  ASSERT_TRUE(g.disconnect.has_value());
  EXPECT_EQ(g.disconnect->stop_on_client_after, std::optional<Duration>(60s));
  EXPECT_EQ(g.disconnect->replace, std::optional<bool>(true));
  EXPECT_EQ(g.disconnect->lost_after, 0s);
  EXPECT_EQ(g.disconnect->reconcile, "best_score");
  ASSERT_EQ(g.tasks.size(), 1u);
  const Task& t = g.tasks[0];
  EXPECT_EQ(t.driver, "raw_exec");
  EXPECT_EQ(t.config, R"({"command":"/usr/local/bin/app","args":["--port","8080"]})");
  EXPECT_TRUE(t.leader);
  EXPECT_EQ(t.env, (StringMap{{"APP_MODE", "prod"}}));
  EXPECT_EQ(t.resources.cpu, 200);
  EXPECT_EQ(t.resources.memory_mb, 256);
  ASSERT_TRUE(t.identity.has_value());
  EXPECT_TRUE(t.identity->env);
  EXPECT_FALSE(t.identity->file);
  EXPECT_EQ(t.kill_timeout, std::optional<Duration>(10s));
  EXPECT_FALSE(t.restart_policy.has_value());
  EXPECT_FALSE(t.lifecycle.has_value());
  EXPECT_TRUE(job.extra.empty());
  EXPECT_TRUE(t.extra.empty());
  EXPECT_FALSE(req->enforce_index);
}

TEST(JobCodecTest, RegisterBodyRoundTripsWithoutLoss) {
  const std::string original = ReadFixture("register_body.json");
  auto req = DecodeRegisterRequest(original);
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  const std::string encoded = EncodeRegisterRequest(*req);
  EXPECT_EQ(JsonSubsetDiff(original, encoded), "");
  auto again = DecodeRegisterRequest(encoded);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->job, req->job);
  // Register bodies carry no read-only fields.
  for (const char* key : {"Stop", "Status", "Version", "CreateIndex", "ModifyIndex",
                          "JobModifyIndex", "SubmitTime"}) {
    EXPECT_EQ(JsonAt(encoded, std::string("Job/") + key), "") << key;
  }
}

TEST(JobCodecTest, EncodesARegisterBodyExactly) {
  Job job;
  job.id = "web";
  job.name = "web";
  job.namespace_ = "default";
  job.type = kJobTypeBatch;
  job.datacenters = {"dc1"};
  job.version = 3;  // read-only: never in a register body
  TaskGroup g;
  g.name = "g";
  g.count = 0;
  g.disconnect = Disconnect{.stop_on_client_after = 1min, .replace = std::nullopt, .reconcile = ""};
  Task t;
  t.name = "t";
  t.driver = "exec";
  t.config = R"({"command":"/bin/true"})";
  t.kill_timeout = 0s;
  g.tasks.push_back(t);
  job.task_groups.push_back(g);
  job.extra = {{"Update", R"({"MaxParallel":1})"}, {"Affinities", "null"}};
  RegisterRequest req(job, true, 42);
  EXPECT_EQ(
      EncodeRegisterRequest(req),
      R"({"Job":{"ID":"web","Name":"web","Namespace":"default","Region":"","Type":"batch",)"
      R"("Priority":50,"Datacenters":["dc1"],"NodePool":"","TaskGroups":[{"Name":"g","Count":0,)"
      R"("Tasks":[{"Name":"t","Driver":"exec","User":"","Config":{"command":"/bin/true"},)"
      R"("Resources":{"CPU":0,"MemoryMB":0,"MemoryMaxMB":0},"Leader":false,"KillTimeout":0,)"
      R"("KillSignal":""}],"Disconnect":{"LostAfter":0,"StopOnClientAfter":60000000000}}],)"
      R"("Affinities":null,"Update":{"MaxParallel":1}},"EnforceIndex":true,"JobModifyIndex":42})");
}

TEST(JobCodecTest, ServerJobRoundTripsExactly) {
  const std::string original = ReadFixture("job_server.json");
  auto job = DecodeJob(original);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->version, 7u);
  EXPECT_EQ(job->job_modify_index, 4205u);
  EXPECT_EQ(job->submit_time, 1724311220000123456);
  EXPECT_EQ(job->status, "running");
  // Unmodelled keys are kept at every level.
  EXPECT_EQ(job->extra.at("Constraints"),
            R"([{"LTarget":"${attr.kernel.name}","RTarget":"linux","Operand":"="}])");
  EXPECT_EQ(job->extra.at("BigIndex"), "18446744073709551615");
  EXPECT_TRUE(job->extra.contains("UI"));
  EXPECT_TRUE(job->periodic->extra.contains("Specs"));
  const TaskGroup& app = job->task_groups.at(0);
  EXPECT_TRUE(app.extra.contains("Networks"));
  EXPECT_TRUE(app.extra.contains("EphemeralDisk"));
  EXPECT_TRUE(app.extra.contains("Update"));
  const Task& lock = app.tasks.at(0);
  EXPECT_TRUE(lock.extra.contains("Templates"));
  EXPECT_TRUE(lock.resources.extra.contains("SecretsMB"));
  EXPECT_TRUE(lock.identity->extra.contains("ChangeMode"));
  EXPECT_FALSE(lock.lifecycle.has_value());
  EXPECT_EQ(app.tasks.at(1).config,
            R"({"image":"busybox:1.36","command":"httpd","args":["-vv","-f","-p","8001","-h",)"
            R"("/local"],"ports":["http"],"auth":{"username":"u","password":"p"},)"
            R"("labels":[{"team":"core"}]})");  // the user's key order is kept
  const Task& w = job->task_groups.at(1).tasks.at(0);
  EXPECT_EQ(w.config, "{}");
  EXPECT_FALSE(w.kill_timeout.has_value());
  EXPECT_FALSE(w.identity.has_value());

  const std::string encoded = EncodeJob(*job, {.server_fields = true});
  EXPECT_EQ(JsonDiff(original, encoded), "");
  auto again = DecodeJob(encoded);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *job);
}

TEST(JobCodecTest, TemplateJobWithUnmodelledKeysRoundTripsWithoutLoss) {
  const std::string original = ReadFixture("job_template.json");
  auto job = DecodeJob(original);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  for (const char* key : {"Constraints", "Affinities", "Update", "Migrate", "Reschedule",
                          "ConsulNamespace"}) {
    EXPECT_TRUE(job->extra.contains(key)) << key;
  }
  const TaskGroup& g = job->task_groups.at(0);
  EXPECT_EQ(g.count, 0);
  for (const char* key : {"Networks", "Services", "EphemeralDisk", "Volumes", "ShutdownDelay"}) {
    EXPECT_TRUE(g.extra.contains(key)) << key;
  }
  EXPECT_EQ(g.disconnect->lost_after, 1h);
  EXPECT_EQ(g.disconnect->replace, std::optional<bool>(false));
  const Task& t = g.tasks.at(0);
  for (const char* key : {"Templates", "VolumeMounts", "Artifacts", "Vault", "Identities",
                          "LogConfig"}) {
    EXPECT_TRUE(t.extra.contains(key)) << key;
  }
  EXPECT_EQ(t.kill_timeout, std::optional<Duration>(0s));
  EXPECT_EQ(t.resources.extra.at("Networks"), "[]");
  EXPECT_EQ(t.identity->extra.at("ChangeMode"), R"("restart")");
  EXPECT_EQ(job->meta.at("empty"), "");

  for (bool server : {false, true}) {
    const std::string encoded = EncodeJob(*job, {.server_fields = server});
    EXPECT_EQ(JsonSubsetDiff(original, encoded), "") << "server_fields=" << server;
    auto again = DecodeJob(encoded);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(*again, *job);
  }
}

TEST(JobCodecTest, FullStructRoundTripsInBothModes) {
  const Job job = FullJob();
  auto server = DecodeJob(EncodeJob(job, {.server_fields = true}));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ(*server, job);
  auto reg = DecodeJob(EncodeJob(job));
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ(*reg, WithoutServerFields(job));
  // Pretty output is the same value.
  EXPECT_EQ(JsonDiff(EncodeJob(job, {.pretty = true}), EncodeJob(job)), "");
  EXPECT_NE(EncodeJob(job, {.pretty = true}).find("\n  \"ID\": \"example\""), std::string::npos);
}

TEST(JobCodecTest, ModelledKeysComeFirstInDeclarationOrderThenExtrasSorted) {
  EXPECT_EQ(JsonKeys(EncodeJob(FullJob(), {.server_fields = true})),
            (std::vector<std::string>{"ID", "Name", "Namespace", "Region", "Type", "Priority",
                                      "Datacenters", "NodePool", "TaskGroups", "Periodic", "Meta",
                                      "Stop", "Status", "Version", "CreateIndex", "ModifyIndex",
                                      "JobModifyIndex", "SubmitTime", "Constraints", "Update"}));
  const std::string enc = EncodeJob(FullJob());
  EXPECT_EQ(JsonKeys(JsonAt(enc, "TaskGroups/0")),
            (std::vector<std::string>{"Name", "Count", "Tasks", "RestartPolicy",
                                      "ReschedulePolicy", "Disconnect", "Meta", "EphemeralDisk"}));
  EXPECT_EQ(JsonKeys(JsonAt(enc, "TaskGroups/0/Tasks/0")),
            (std::vector<std::string>{"Name", "Driver", "User", "Config", "Env", "Resources",
                                      "RestartPolicy", "Lifecycle", "Leader", "KillTimeout",
                                      "KillSignal", "Meta", "Identity", "Templates"}));
  EXPECT_EQ(JsonAt(enc, "TaskGroups/0/Tasks/0/Identity"),
            R"({"Name":"default","Audience":["nomadproject.io"],"Env":true,"File":false,"TTL":0})");
  EXPECT_EQ(JsonAt(enc, "Periodic"),
            R"({"Enabled":true,"SpecType":"cron","Spec":"*/5 * * * *","ProhibitOverlap":true,)"
            R"("TimeZone":"UTC","Specs":["*/5 * * * *"]})");
  EXPECT_EQ(JsonAt(enc, "TaskGroups/0/RestartPolicy"),
            R"({"Attempts":2,"Interval":1800000000000,"Delay":15000000000,"Mode":"fail",)"
            R"("RenderTemplates":true})");
  EXPECT_EQ(JsonAt(enc, "TaskGroups/0/ReschedulePolicy"),
            R"({"Attempts":0,"Interval":0,"Delay":30000000000,"DelayFunction":"exponential",)"
            R"("MaxDelay":3600000000000,"Unlimited":true})");
}

TEST(JobCodecTest, UnsetValuesAreOmittedFromRegisterBodiesAndNullFromTheServer) {
  Job job;
  job.id = "j";
  TaskGroup g;
  g.name = "g";
  g.disconnect = Disconnect{};
  g.tasks.emplace_back().name = "t";
  job.task_groups.push_back(g);
  const std::string reg = EncodeJob(job);
  EXPECT_EQ(JsonAt(reg, "Periodic"), "");
  EXPECT_EQ(JsonAt(reg, "Meta"), "");
  EXPECT_EQ(JsonAt(reg, "Datacenters"), "");
  EXPECT_EQ(JsonAt(reg, "TaskGroups/0/RestartPolicy"), "");
  EXPECT_EQ(JsonAt(reg, "TaskGroups/0/Disconnect"), R"({"LostAfter":0})");
  EXPECT_EQ(JsonAt(reg, "TaskGroups/0/Tasks/0/Config"), "");
  EXPECT_EQ(JsonAt(reg, "TaskGroups/0/Tasks/0/KillTimeout"), "");
  EXPECT_EQ(JsonAt(reg, "TaskGroups/0/Tasks/0/Identity"), "");

  const std::string srv = EncodeJob(job, {.server_fields = true});
  EXPECT_EQ(JsonAt(srv, "Periodic"), "null");
  EXPECT_EQ(JsonAt(srv, "Meta"), "null");
  EXPECT_EQ(JsonAt(srv, "Datacenters"), "null");
  EXPECT_EQ(JsonAt(srv, "Stop"), "false");
  EXPECT_EQ(JsonAt(srv, "SubmitTime"), "0");
  EXPECT_EQ(JsonAt(srv, "TaskGroups/0/Disconnect"),
            R"({"LostAfter":0,"StopOnClientAfter":null,"Replace":null,"Reconcile":""})");
  EXPECT_EQ(JsonAt(srv, "TaskGroups/0/Tasks/0/Config"), "null");
  EXPECT_EQ(JsonAt(srv, "TaskGroups/0/Tasks/0/Lifecycle"), "null");
  EXPECT_EQ(JsonAt(srv, "TaskGroups/0/Tasks/0/Env"), "null");
}

TEST(JobCodecTest, MissingKeysAndNullsGiveDefaults) {
  auto empty = DecodeJob("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, Job{});
  auto nulls = DecodeJob(
      R"({"ID":null,"Name":null,"Namespace":null,"Region":null,"Type":null,"Priority":null,)"
      R"("Datacenters":null,"NodePool":null,"TaskGroups":null,"Periodic":null,"Meta":null,)"
      R"("Stop":null,"Status":null,"Version":null,"CreateIndex":null,"ModifyIndex":null,)"
      R"("JobModifyIndex":null,"SubmitTime":null})");
  ASSERT_TRUE(nulls.ok()) << nulls.status().ToString();
  EXPECT_EQ(*nulls, Job{});
  auto group = DecodeJob(
      R"({"TaskGroups":[{"Name":"g","Count":null,"Tasks":[{"Name":"t","Config":null,"Env":null,)"
      R"("Resources":null,"RestartPolicy":null,"Lifecycle":null,"Leader":null,)"
      R"("KillTimeout":null,"Identity":{"Audience":null}}],"Disconnect":{"Replace":null,)"
      R"("StopOnClientAfter":null}}]})");
  ASSERT_TRUE(group.ok()) << group.status().ToString();
  const TaskGroup& g = group->task_groups.at(0);
  EXPECT_EQ(g.count, 1);
  EXPECT_EQ(g.disconnect, Disconnect{});
  const Task& t = g.tasks.at(0);
  EXPECT_EQ(t.config, "");
  EXPECT_FALSE(t.kill_timeout.has_value());
  EXPECT_EQ(t.identity, WorkloadIdentity{});
}

void ExpectJobError(std::string_view json, std::string_view message) {
  auto r = DecodeJob(json);
  ASSERT_FALSE(r.ok()) << json;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidSpec);
  EXPECT_EQ(r.status().message(), message);
}

TEST(JobCodecTest, WrongTypesNameTheJsonPath) {
  ExpectJobError(R"({"TaskGroups":[{"Count":"1"}]})",
                 "Job.TaskGroups[0].Count: expected a number");
  ExpectJobError(R"({"TaskGroups":[{"Count":1.5}]})",
                 "Job.TaskGroups[0].Count: expected an integer");
  ExpectJobError(R"({"TaskGroups":[{"Count":4294967296}]})", "Job.TaskGroups[0].Count: out of range");
  ExpectJobError(R"({"TaskGroups":[{},{"Tasks":[{},{"Resources":{"CPU":true}}]}]})",
                 "Job.TaskGroups[1].Tasks[1].Resources.CPU: expected a number");
  ExpectJobError(R"({"Meta":{"owner":1}})", "Job.Meta.owner: expected a string");
  ExpectJobError(R"({"Datacenters":"dc1"})", "Job.Datacenters: expected an array");
  ExpectJobError(R"({"Datacenters":["dc1",2]})", "Job.Datacenters[1]: expected a string");
  ExpectJobError(R"({"Version":-1})", "Job.Version: expected a non-negative integer");
  ExpectJobError(R"({"Stop":"yes"})", "Job.Stop: expected a boolean");
  ExpectJobError(R"({"TaskGroups":[{"Tasks":[{"Config":"x"}]}]})",
                 "Job.TaskGroups[0].Tasks[0].Config: expected an object");
  ExpectJobError(R"({"TaskGroups":[{"Tasks":[{"KillTimeout":"5s"}]}]})",
                 "Job.TaskGroups[0].Tasks[0].KillTimeout: expected a number");
  ExpectJobError(R"({"TaskGroups":[{"Disconnect":{"Replace":1}}]})",
                 "Job.TaskGroups[0].Disconnect.Replace: expected a boolean");
  ExpectJobError(R"({"Periodic":[]})", "Job.Periodic: expected an object");
  ExpectJobError(R"({"TaskGroups":[7]})", "Job.TaskGroups[0]: expected an object");
  ExpectJobError("[]", "Job: expected an object");
  auto truncated = DecodeJob(R"({"ID":"x",)");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().message().rfind("Job: invalid JSON: ", 0), 0u)
      << truncated.status().message();
}

TEST(JobCodecTest, RegisterRequestErrorsUseTheJobPath) {
  auto r = DecodeRegisterRequest(R"({"Job":{"TaskGroups":[{"Count":"x"}]}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "Job.TaskGroups[0].Count: expected a number");
  auto enforce = DecodeRegisterRequest(R"({"Job":{},"EnforceIndex":1})");
  ASSERT_FALSE(enforce.ok());
  EXPECT_EQ(enforce.status().message(), "EnforceIndex: expected a boolean");
  auto ok = DecodeRegisterRequest(
      R"({"Job":{"ID":"a"},"EnforceIndex":true,"JobModifyIndex":9,"PolicyOverride":false})");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->enforce_index);
  EXPECT_EQ(ok->job_modify_index, 9u);
  EXPECT_EQ(ok->job.id, "a");
}

TEST(AclPolicyCodecTest, EncodesAndDecodesTheDocsBody) {
  AclPolicy p;
  p.name = "example-lock";
  p.description = "lock for example";
  p.rules = "namespace \"prod\" {\n  variables {\n    path \"nomad/jobs/example/lock\" {\n"
            "      capabilities = [\"write\",\"read\",\"list\"]\n    }\n  }\n}";
  p.job_acl = JobAcl{.namespace_ = "prod", .job_id = "example", .group = "", .task = ""};
  const std::string body = EncodeAclPolicy(p);
  EXPECT_EQ(body,
            R"({"Name":"example-lock","Description":"lock for example",)"
            R"("Rules":"namespace \"prod\" {\n  variables {\n    path \"nomad/jobs/example/lock\" {\n)"
            R"(      capabilities = [\"write\",\"read\",\"list\"]\n    }\n  }\n}",)"
            R"("JobACL":{"Namespace":"prod","JobID":"example","Group":"","Task":""}})");
  auto back = DecodeAclPolicy(body);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, p);

  p.create_index = 5;
  p.modify_index = 6;
  p.job_acl.reset();
  const std::string server = EncodeAclPolicy(p, {.server_fields = true});
  EXPECT_EQ(JsonAt(server, "JobACL"), "null");
  EXPECT_EQ(JsonAt(server, "ModifyIndex"), "6");
  auto back2 = DecodeAclPolicy(server);
  ASSERT_TRUE(back2.ok());
  EXPECT_EQ(*back2, p);
  auto bad = DecodeAclPolicy(R"({"JobACL":{"JobID":3}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "AclPolicy.JobACL.JobID: expected a string");
}

// The flat summary the controller keeps (SlimJob) stands for JobSummary exactly, and its Meta
// lookups find every key, whatever its bytes, and nothing else.
TEST(SlimJobTest, StandsForTheSummaryAndFindsEveryMetaKey) {
  Job j;
  j.id = "web";
  j.namespace_ = "prod";
  j.type = "service";
  j.priority = 70;
  j.datacenters = {"dc1", "dc2"};
  j.task_groups.emplace_back().name = "a";
  j.task_groups[0].count = 2;
  j.task_groups[0].tasks.emplace_back().name = "main";
  j.task_groups.emplace_back().name = "b";
  j.periodic.emplace().spec = "*/5 * * * *";
  j.periodic->extra = {{"Foo", "1"}};
  j.meta = {{"nomad-singleton/spec-hash", "0123456789abcdef"},
            {"", "empty key"},
            {"empty", ""},
            {std::string("nul\0key", 7), std::string("v\0v", 3)},
            {"zzz", std::string(300, 'x')}};
  j.job_modify_index = 9;
  const SlimJob s = SlimOf(j);
  const Job whole = WholeOf(s);
  EXPECT_EQ(whole.meta, j.meta);
  ASSERT_EQ(whole.task_groups.size(), 2u);
  EXPECT_EQ(whole.task_groups[0].count, 2);
  EXPECT_TRUE(whole.task_groups[0].tasks.empty());
  EXPECT_TRUE(whole.periodic->extra.empty());
  EXPECT_EQ(whole.datacenters, j.datacenters);
  EXPECT_EQ(whole.job_modify_index, 9u);
  for (const auto& [k, v] : j.meta) EXPECT_EQ(s.Meta(k), v) << k;
  EXPECT_EQ(s.Meta("nomad-singleton/lock-path"), std::nullopt);
  EXPECT_EQ(s.Meta("a"), std::nullopt);
  EXPECT_EQ(s.Meta("zzzz"), std::nullopt);
  EXPECT_EQ(s.Meta(std::string("nul", 3)), std::nullopt);
  EXPECT_EQ(SlimOf(Job{}).Meta(""), std::nullopt);
}

}  // namespace
}  // namespace nsg::nomad
