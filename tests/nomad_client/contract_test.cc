// Contract tests of the Nomad client: every NomadApi op and the event stream, against the
// project's Nomad simulator over real HTTP on 127.0.0.1 (always), and against a real Nomad when
// NOMAD_ADDR is set (the Real instances are skipped, with a message, otherwise). Fault tests use
// the simulator's /v1/sim/faults control API and run against the simulator only.
//
// A real Nomad needs: a management token in NOMAD_TOKEN when ACLs are on, a client node with the
// raw_exec driver for the allocation tests (they skip when nothing is placed within 30s), and
// Nomad ≥ 1.7 (variable locks).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "controller/base/clock.h"
#include "controller/nomad_client/event_stream.h"
#include "controller/nomad_client/http_nomad_api.h"
#include "controller/nomad_client/http_transport.h"
#include "controller/sim/http_frontend.h"
#include "tests/nomad_client/test_http_server.h"
#include "tests/test_support/wait.h"

// Sanitizer builds: suppress UBSan's vptr check inside cpprest headers only (see the file).
extern "C" const char* __ubsan_default_options() {
  return "suppressions=" NSG_SOURCE_DIR "/tests/nomad_client/ubsan_cpprest.supp";
}

namespace nsg::io {
namespace {

using base::StatusCode;
using ::testing::HasSubstr;
using test_support::WaitUntil;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kSimEventBuffer = 8;

// Counts the round trips that pass through it.
class CountingTransport final : public Transport {
 public:
  explicit CountingTransport(Transport& inner) : inner_(inner) {}
  Result<HttpResponse> RoundTrip(const HttpRequest& r, const CallOptions& o) override {
    ++calls;
    return inner_.RoundTrip(r, o);
  }
  Status Stream(const HttpRequest& r, const StreamOptions& o, StreamHandler& h) override {
    ++streams;
    return inner_.Stream(r, o, h);
  }
  std::atomic<int> calls{0};
  std::atomic<int> streams{0};

 private:
  Transport& inner_;
};

// Records stream callbacks.
class Recorder final : public EventConsumer {
 public:
  void OnConnected() override { ++connected; }
  void OnFrame(const nomad::Frame& f) override {
    std::lock_guard lock(mu);
    frames.push_back(f);
  }
  void OnGap(uint64_t resume, GapReason reason) override {
    std::lock_guard lock(mu);
    gaps.emplace_back(resume, reason);
  }
  void OnDisconnected(const Status& why) override {
    std::lock_guard lock(mu);
    disconnects.push_back(why);
  }
  size_t FrameCount() {
    std::lock_guard lock(mu);
    return frames.size();
  }
  std::mutex mu;
  std::atomic<int> connected{0};
  std::vector<nomad::Frame> frames;
  std::vector<std::pair<uint64_t, GapReason>> gaps;
  std::vector<Status> disconnects;
};

enum class Target { kSimulator, kRealNomad };
void PrintTo(Target t, std::ostream* os) {
  *os << (t == Target::kSimulator ? "simulator" : "real Nomad");
}

// One simulator for the whole binary (started on first use).
struct Env {
  std::unique_ptr<sim::SimServer> sim;
  ClientConfig config;
  std::unique_ptr<Transport> transport;
  Status status;
};

// Both environments live until the global test environment's TearDown, which stops the simulator
// and drops the transports before exit: cpprest's thread pool is torn down by a static destructor
// that would otherwise wait for the running listener.
Env* g_sim_env = nullptr;
Env* g_real_env = nullptr;

class ContractEnvironment final : public ::testing::Environment {
 public:
  void TearDown() override {
    for (Env** e : {&g_sim_env, &g_real_env}) {
      if (*e == nullptr) continue;
      (*e)->transport.reset();
      if ((*e)->sim) (*e)->sim->Stop();
      delete *e;
      *e = nullptr;
    }
  }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new ContractEnvironment);

Env& SimEnv() {
  if (g_sim_env == nullptr) g_sim_env = [] {
    auto* e = new Env();
    sim::SimServer::Options o;
    o.acl.enabled = true;
    o.nodes = 2;
    o.core.event_buffer_size = kSimEventBuffer;
    e->sim = std::make_unique<sim::SimServer>(o);
    e->status = e->sim->Start();
    if (!e->status.ok()) return e;
    e->config.address = e->sim->Address();
    e->config.token = o.acl.management_secret;
    auto t = MakeTransport(e->config);
    if (!t.ok()) {
      e->status = t.status();
      return e;
    }
    e->transport = std::move(*t);
    return e;
  }();
  return *g_sim_env;
}

Env& RealEnv() {
  if (g_real_env == nullptr) g_real_env = [] {
    auto* e = new Env();
    const char* addr = std::getenv("NOMAD_ADDR");
    if (addr == nullptr || *addr == '\0') {
      e->status = Status::NotFound("NOMAD_ADDR is not set");
      return e;
    }
    auto c = ClientConfig::FromEnv([](const char* n) { return std::getenv(n); });
    if (!c.ok()) {
      e->status = c.status();
      return e;
    }
    e->config = *c;
    e->status = e->config.Validate();
    if (!e->status.ok()) return e;
    auto t = MakeTransport(e->config);
    if (!t.ok()) {
      e->status = t.status();
      return e;
    }
    e->transport = std::move(*t);
    return e;
  }();
  return *g_real_env;
}

std::string Unique(const std::string& prefix) {
  static std::atomic<int> n{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

class ContractTest : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override {
    sim_ = GetParam() == Target::kSimulator;
    Env& env = sim_ ? SimEnv() : RealEnv();
    if (!sim_ && !env.status.ok()) {
      GTEST_SKIP() << "real-Nomad contract tests skipped: " << env.status.message()
                   << " (set NOMAD_ADDR, and NOMAD_TOKEN if ACLs are on)";
    }
    ASSERT_TRUE(env.status.ok()) << env.status.ToString();
    config_ = env.config;
    transport_ = env.transport.get();
    if (sim_) (void)ClearFaults();
  }

  std::unique_ptr<HttpNomadApi> Api(ClientConfig cfg, HttpNomadApi::Options o = {},
                                    Transport* t = nullptr) {
    return std::make_unique<HttpNomadApi>(t ? *t : *transport_, std::move(cfg), clock_, sleeper_,
                                          o);
  }
  std::unique_ptr<HttpNomadApi> Api() { return Api(config_); }

  Status SimControl(const std::string& method, const std::string& path, const std::string& body) {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    auto resp = transport_->RoundTrip(r, {std::chrono::seconds(10), {}});
    if (!resp.ok()) return resp.status();
    if (resp->status != 200) return Status::Internal(path + ": " + resp->body);
    return Status::Ok();
  }
  Status AddFault(const std::string& json) { return SimControl("POST", "/v1/sim/faults", json); }
  Status ClearFaults() { return SimControl("DELETE", "/v1/sim/faults", ""); }

  nomad::Job ContractJob(const std::string& id) const {
    nomad::Job job;
    job.id = id;
    job.name = id;
    job.type = "service";
    job.datacenters = {sim_ ? "dc1" : "*"};
    job.meta = {{"nomad-singleton/contract-test", "true"}};
    nomad::TaskGroup g;
    g.name = "app";
    g.count = 1;
    nomad::Task t;
    t.name = "main";
    if (sim_) {
      t.driver = "mock_driver";
      t.config = "{}";
    } else {
      t.driver = "raw_exec";
      t.config = R"({"command":"/bin/sleep","args":["3600"]})";
    }
    t.resources.cpu = 100;
    t.resources.memory_mb = 64;
    g.tasks.push_back(t);
    job.task_groups.push_back(g);
    return job;
  }

  bool sim_ = true;
  ClientConfig config_;
  Transport* transport_ = nullptr;
  base::SystemClock clock_;
  RealSleeper sleeper_;
};

// ---- Jobs, allocations, nodes ----

TEST_P(ContractTest, JobLifecycle) {
  auto api = Api();
  const std::string id = Unique("nsg-contract-job");
  nomad::Job job = ContractJob(id);

  auto reg = api->RegisterJob({job, true, 0}, {});  // EnforceIndex 0: must not exist yet
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_FALSE(reg->eval_id.empty());
  EXPECT_GT(reg->index, 0u);

  auto again = api->RegisterJob({job, true, 0}, {});  // exists now: a lost check-and-set
  EXPECT_EQ(again.status().code(), StatusCode::kConflict) << again.status().ToString();

  auto read = api->ReadJob(id, {});
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->value.id, id);
  EXPECT_GT(read->meta.last_index, 0u);
  EXPECT_EQ(read->value.meta.at("nomad-singleton/contract-test"), "true");

  nomad::QueryOptions list_q;
  list_q.prefix = id;
  auto list = api->ListJobs(list_q, true);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->value.size(), 1u);
  EXPECT_EQ(list->value[0].id, id);
  EXPECT_EQ(list->value[0].meta.at("nomad-singleton/contract-test"), "true");

  nomad::Job bigger = job;
  bigger.task_groups[0].count = 2;
  auto plan = api->PlanJob(bigger, true, {});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->job_modify_index, read->value.job_modify_index);
  ASSERT_TRUE(plan->diff.has_value());
  EXPECT_EQ(plan->diff->type, "Edited");

  auto enforce = api->RegisterJob({bigger, true, read->value.job_modify_index + 1000}, {});
  EXPECT_EQ(enforce.status().code(), StatusCode::kConflict);
  auto update = api->RegisterJob({bigger, true, read->value.job_modify_index}, {});
  ASSERT_TRUE(update.ok()) << update.status().ToString();

  auto eval = api->EvaluateJob(id, false, {});
  ASSERT_TRUE(eval.ok()) << eval.status().ToString();
  EXPECT_FALSE(eval->eval_id.empty());

  // Wait for a placement with blocking queries.
  std::vector<nomad::Allocation> allocs;
  nomad::QueryOptions q;
  auto deadline = SteadyClock::now() + std::chrono::seconds(30);
  while (SteadyClock::now() < deadline) {
    q.wait = std::chrono::seconds(2);
    auto a = api->JobAllocations(id, q, false);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    allocs = a->value;
    if (!allocs.empty()) break;
    q.index = a->meta.last_index;
  }
  if (allocs.empty()) {
    (void)api->DeregisterJob(id, true, {});
    if (!sim_) GTEST_SKIP() << "no allocation placed within 30s (no eligible client?)";
    FAIL() << "the simulator placed no allocation";
  }
  const std::string alloc_id = allocs[0].id;
  auto alloc = api->ReadAllocation(alloc_id, {});
  ASSERT_TRUE(alloc.ok()) << alloc.status().ToString();
  EXPECT_EQ(alloc->value.job_id, id);

  nomad::QueryOptions all_q;
  all_q.namespace_ = "*";
  auto all = api->ListAllocations(all_q);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  bool found = false;
  for (const auto& a : all->value) found = found || a.id == alloc_id;
  EXPECT_TRUE(found);

  auto stop = api->StopAllocation(alloc_id, false);
  ASSERT_TRUE(stop.ok()) << stop.status().ToString();
  EXPECT_FALSE(stop->eval_id.empty());

  auto missing = api->ReadAllocation("00000000-0000-0000-0000-00000000dead", {});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  auto dereg = api->DeregisterJob(id, true, {});
  ASSERT_TRUE(dereg.ok()) << dereg.status().ToString();
  auto gone = api->ReadJob(id, {});
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound) << gone.status().ToString();
  // Deregistering a missing job is not an error (nomad-api.md §5.6).
  EXPECT_TRUE(api->DeregisterJob(id, true, {}).ok());
}

TEST_P(ContractTest, InvalidJobIsInvalidSpec) {
  nomad::Job job = ContractJob(Unique("nsg-contract-bad"));
  job.task_groups[0].tasks.clear();
  auto r = Api()->RegisterJob({job, false, 0}, {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidSpec) << r.status().ToString();
}

TEST_P(ContractTest, ListNodes) {
  auto nodes = Api()->ListNodes({});
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  if (sim_) {
    ASSERT_GE(nodes->value.size(), 2u);
    EXPECT_EQ(nodes->value[0].status, "ready");
  }
}

TEST_P(ContractTest, ParseHcl) {
  auto job = Api()->ParseHcl(R"(job "parsed" {
  group "g" {
    task "t" {
      driver = "raw_exec"
      config { command = "/bin/true" }
    }
  }
})",
                             {});
  if (sim_ && job.status().code() == StatusCode::kNotFound) {
    GTEST_SKIP() << "the simulator does not serve /v1/jobs/parse: " << job.status().message();
  }
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->id, "parsed");
}

// ---- Variables and locks ----

TEST_P(ContractTest, VariablesWithCas) {
  auto api = Api();
  const std::string path = "nomad-singleton/contract/" + Unique("var");
  nomad::Variable v;
  v.path = path;
  v.items = {{"a", "1"}};
  auto created = api->SetVariable(v, 0, {}, nullptr);  // cas=0: create only
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_GT(created->modify_index, 0u);

  auto read = api->ReadVariable(path, {});
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->value.items.at("a"), "1");
  EXPECT_EQ(read->meta.last_index, created->modify_index);

  nomad::QueryOptions q;
  q.prefix = path;
  auto list = api->ListVariables(q);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->value.size(), 1u);
  EXPECT_TRUE(list->value[0].items.empty());  // metadata only

  v.items = {{"a", "2"}};
  nomad::Variable conflict;
  auto stale = api->SetVariable(v, created->modify_index + 100, {}, &conflict);
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);
  EXPECT_EQ(conflict.path, path);
  EXPECT_EQ(conflict.modify_index, created->modify_index);

  auto updated = api->SetVariable(v, created->modify_index, {}, nullptr);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();

  EXPECT_EQ(api->DeleteVariable(path, created->modify_index, {}).code(), StatusCode::kConflict);
  EXPECT_TRUE(api->DeleteVariable(path, updated->modify_index, {}).ok());
  EXPECT_EQ(api->ReadVariable(path, {}).status().code(), StatusCode::kNotFound);
}

TEST_P(ContractTest, LockAcquireRenewRelease) {
  auto api = Api();
  const std::string path = "nomad-singleton/contract/" + Unique("lock");
  nomad::Variable v;
  v.path = path;
  v.lock = nomad::VariableLock{std::chrono::seconds(10), std::chrono::seconds(1), ""};
  auto held = api->AcquireLock(v, {});
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  ASSERT_TRUE(held->lock.has_value());
  const std::string id = held->lock->id;
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(held->lock->ttl, std::chrono::seconds(10));

  auto other = api->AcquireLock(v, {});  // a fresh ID while held
  EXPECT_EQ(other.status().code(), StatusCode::kConflict);

  auto renewed = api->RenewLock(path, id, {});
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  ASSERT_TRUE(renewed->lock.has_value());
  EXPECT_EQ(renewed->lock->id, id);
  EXPECT_EQ(api->RenewLock(path, "not-the-holder", {}).status().code(), StatusCode::kConflict);
  EXPECT_EQ(api->RenewLock(path + "-missing", id, {}).status().code(), StatusCode::kNotFound);
  // A locked variable cannot be deleted.
  EXPECT_EQ(api->DeleteVariable(path, {}, {}).code(), StatusCode::kConflict);

  auto released = api->ReleaseLock(path, id, {});
  ASSERT_TRUE(released.ok()) << released.status().ToString();
  EXPECT_FALSE(released->lock.has_value());
  EXPECT_EQ(api->RenewLock(path, id, {}).status().code(), StatusCode::kConflict);

  // Our own ID: acquire is then safe to retry, and re-acquiring with it succeeds.
  v.lock->id = "11111111-2222-3333-4444-555555555555";
  auto mine = api->AcquireLock(v, {});
  ASSERT_TRUE(mine.ok()) << mine.status().ToString();
  EXPECT_EQ(mine->lock->id, v.lock->id);
  EXPECT_TRUE(api->AcquireLock(v, {}).ok());
  ASSERT_TRUE(api->ReleaseLock(path, v.lock->id, {}).ok());
  EXPECT_TRUE(api->DeleteVariable(path, {}, {}).ok());
}

TEST_P(ContractTest, BlockingQueryWakesOnWrite) {
  auto api = Api();
  const std::string path = "nomad-singleton/contract/" + Unique("block");
  nomad::Variable v;
  v.path = path;
  v.items = {{"n", "0"}};
  auto created = api->SetVariable(v, {}, {}, nullptr);
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  std::atomic<bool> returned{false};
  Result<nomad::Query<nomad::Variable>> blocked = Status::Internal("not run");
  std::thread waiter([&] {
    nomad::QueryOptions q;
    q.index = created->modify_index;
    q.wait = std::chrono::seconds(20);
    blocked = api->ReadVariable(path, q);
    returned = true;
  });
  // The query must stay parked until the write (no write yet: it must not return).
  EXPECT_FALSE(WaitUntil([&] { return returned.load(); }, std::chrono::milliseconds(300)));
  auto write_at = SteadyClock::now();
  v.items = {{"n", "1"}};
  ASSERT_TRUE(api->SetVariable(v, {}, {}, nullptr).ok());
  ASSERT_TRUE(WaitUntil([&] { return returned.load(); }, std::chrono::seconds(10)));
  auto woke_after = SteadyClock::now() - write_at;
  waiter.join();
  ASSERT_TRUE(blocked.ok()) << blocked.status().ToString();
  EXPECT_GT(blocked->meta.last_index, created->modify_index);
  EXPECT_EQ(blocked->value.items.at("n"), "1");
  RecordProperty("blocking_wake_ms",
                 std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(woke_after)
                                    .count()));
  EXPECT_TRUE(api->DeleteVariable(path, {}, {}).ok());
}

// ---- ACL policies and permissions ----

TEST_P(ContractTest, AclPolicies) {
  auto api = Api();
  nomad::AclPolicy p;
  p.name = Unique("nsg-contract-policy");
  p.description = "contract test";
  p.rules = "namespace \"default\" {\n  variables {\n    path \"nomad/jobs/x/lock\" {\n"
            "      capabilities = [\"write\", \"read\"]\n    }\n  }\n}\n";
  p.job_acl = nomad::JobAcl{"default", "x", "", ""};
  Status up = api->UpsertAclPolicy(p);
  if (!sim_ && up.code() == StatusCode::kInvalidSpec) {
    GTEST_SKIP() << "ACLs disabled on this Nomad: " << up.message();
  }
  ASSERT_TRUE(up.ok()) << up.ToString();
  auto read = api->ReadAclPolicy(p.name);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->description, "contract test");
  ASSERT_TRUE(read->job_acl.has_value());
  EXPECT_EQ(read->job_acl->job_id, "x");
  ASSERT_TRUE(api->DeleteAclPolicy(p.name).ok());
  EXPECT_EQ(api->ReadAclPolicy(p.name).status().code(), StatusCode::kNotFound);
}

TEST_P(ContractTest, UnknownTokenIsPermissionDenied) {
  ClientConfig bad = config_;
  bad.token = "00000000-1111-2222-3333-444444444444";
  auto r = Api(bad)->ListJobs({}, false);
  if (!sim_ && r.ok()) GTEST_SKIP() << "ACLs are disabled on this Nomad";
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  EXPECT_THAT(r.status().message(), ::testing::Not(HasSubstr(bad.token)));
}

// ---- Event stream ----

TEST_P(ContractTest, EventStreamDeliversVariableEvents) {
  auto api = Api();
  const std::string path = "nomad-singleton/contract/" + Unique("events");
  Recorder rec;
  EventStreamOptions o;
  o.topics = {{"Variable", path}};
  EventStreamReader reader(*transport_, config_, sleeper_, o, rec);
  std::jthread runner([&](std::stop_token st) { (void)reader.Run(st); });
  ASSERT_TRUE(WaitUntil([&] { return rec.connected.load() >= 1; }));
  nomad::Variable v;
  v.path = path;
  v.items = {{"k", "v"}};
  auto set = api->SetVariable(v, {}, {}, nullptr);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  if (!WaitUntil([&] { return rec.FrameCount() >= 1; }, std::chrono::seconds(10))) {
    runner.request_stop();
    runner.join();
    if (!sim_) GTEST_SKIP() << "no Variable event (Nomad < 2.0 has no Variable topic)";
    FAIL() << "no event";
  }
  runner.request_stop();
  runner.join();
  std::lock_guard lock(rec.mu);
  const nomad::Event& e = rec.frames[0].events.at(0);
  EXPECT_EQ(e.topic, "Variable");
  EXPECT_EQ(e.key, path);
  EXPECT_EQ(rec.frames[0].index, set->modify_index);
  (void)api->DeleteVariable(path, {}, {});
}

INSTANTIATE_TEST_SUITE_P(Targets, ContractTest,
                         ::testing::Values(Target::kSimulator, Target::kRealNomad),
                         [](const auto& p) {
                           return p.param == Target::kSimulator ? "Simulator" : "RealNomad";
                         });

// ---- Faults (simulator only) ----

class SimFaultTest : public ContractTest {
 protected:
  SimFaultTest() = default;
};

TEST_P(SimFaultTest, Transient500sAreRetried) {
  CountingTransport counting(*transport_);
  HttpNomadApi::Options o;
  o.backoff = {std::chrono::milliseconds(5), std::chrono::milliseconds(20)};
  auto api = Api(config_, o, &counting);
  ASSERT_TRUE(AddFault(R"({"Route":"/v1/jobs","Method":"GET","Status":500,"Body":"rpc error: No cluster leader","Count":2})").ok());
  auto r = api->ListJobs({}, false);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(counting.calls.load(), 3);

  // A renew is a single attempt: the lock agent owns its retries.
  ASSERT_TRUE(AddFault(R"({"Route":"/v1/var/","Method":"PUT","Status":503,"Count":5})").ok());
  counting.calls = 0;
  auto renew = api->RenewLock("nomad-singleton/contract/x", "id", {});
  EXPECT_EQ(renew.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(counting.calls.load(), 1);
}

TEST_P(SimFaultTest, LatencyBeyondTheDeadlineIsUnavailable) {
  ClientConfig cfg = config_;
  cfg.request_timeout = std::chrono::milliseconds(300);
  HttpNomadApi::Options o;
  o.max_attempts = 1;
  auto api = Api(cfg, o);
  ASSERT_TRUE(AddFault(R"({"Route":"/v1/var/","Latency":"5s","Count":1})").ok());
  auto start = SteadyClock::now();
  auto r = api->ReadVariable("nomad-singleton/contract/slow", {});
  auto took = SteadyClock::now() - start;
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST_P(SimFaultTest, InjectedForbiddenIsNotRetried) {
  CountingTransport counting(*transport_);
  auto api = Api(config_, {}, &counting);
  ASSERT_TRUE(AddFault(R"({"Route":"/v1/job/","Status":403,"Body":"Permission denied","Count":1})").ok());
  auto r = api->ReadJob("anything", {});
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(counting.calls.load(), 1);
}

TEST_P(SimFaultTest, DroppedStreamIsReopened) {
  ASSERT_TRUE(AddFault(R"({"Route":"/v1/event/stream","Drop":true,"Count":1})").ok());
  Recorder rec;
  EventStreamOptions o;
  o.topics = {{"Variable", "nomad-singleton/contract/dropped"}};
  o.header_timeout = std::chrono::milliseconds(300);
  o.backoff = {std::chrono::milliseconds(10), std::chrono::milliseconds(50)};
  EventStreamReader reader(*transport_, config_, sleeper_, o, rec);
  std::jthread runner([&](std::stop_token st) { (void)reader.Run(st); });
  ASSERT_TRUE(WaitUntil([&] { return rec.connected.load() >= 1; }));
  runner.request_stop();
  runner.join();
  std::lock_guard lock(rec.mu);
  ASSERT_GE(rec.disconnects.size(), 1u);
  EXPECT_EQ(rec.disconnects[0].code(), StatusCode::kUnavailable);
  EXPECT_THAT(rec.disconnects[0].message(), HasSubstr("no response headers"));
  EXPECT_GE(reader.stats().connections, 2u);
}

TEST_P(SimFaultTest, ResumeAfterTheIndexLeftTheBufferReportsAGap) {
  auto api = Api();
  const std::string prefix = "nomad-singleton/contract/" + Unique("gap");
  auto set = [&](int i) {
    nomad::Variable v;
    v.path = prefix + "/" + std::to_string(i);
    v.items = {{"i", std::to_string(i)}};
    auto r = api->SetVariable(v, {}, {}, nullptr);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->modify_index : 0;
  };
  uint64_t first = set(0);
  // More writes than the server's event buffer holds.
  uint64_t last = 0;
  for (int i = 1; i <= static_cast<int>(kSimEventBuffer) * 2; ++i) last = set(i);
  ASSERT_GT(last, first);

  Recorder rec;
  EventStreamOptions o;
  o.topics = {{"Variable", ""}};
  o.start_index = first + 1;  // what a client that saw `first` would resume from
  EventStreamReader reader(*transport_, config_, sleeper_, o, rec);
  std::jthread runner([&](std::stop_token st) { (void)reader.Run(st); });
  ASSERT_TRUE(WaitUntil([&] { return rec.FrameCount() >= 1; }));
  runner.request_stop();
  runner.join();
  std::lock_guard lock(rec.mu);
  ASSERT_EQ(rec.gaps.size(), 1u);
  EXPECT_EQ(rec.gaps[0].first, first + 1);
  EXPECT_EQ(rec.gaps[0].second, GapReason::kResumed);
  // Nomad started silently at its oldest buffered entry, past the index we asked for.
  EXPECT_GT(rec.frames[0].index, first + 1);
}

TEST_P(SimFaultTest, MeasuredCallCost) {
  auto api = Api();
  const std::string path = "nomad-singleton/contract/" + Unique("cost");
  nomad::Variable v;
  v.path = path;
  v.items = {{"k", "v"}};
  ASSERT_TRUE(api->SetVariable(v, {}, {}, nullptr).ok());
  constexpr int kCalls = 200;
  auto start = SteadyClock::now();
  for (int i = 0; i < kCalls; ++i) ASSERT_TRUE(api->ReadVariable(path, {}).ok());
  auto per_call = (SteadyClock::now() - start) / kCalls;
  std::string us = std::to_string(
      std::chrono::duration_cast<std::chrono::microseconds>(per_call).count());
  RecordProperty("read_variable_us", us);
  std::printf("[ measured ] ReadVariable via cpprest against the simulator: %s us/call\n",
              us.c_str());
  EXPECT_TRUE(api->DeleteVariable(path, {}, {}).ok());
}

INSTANTIATE_TEST_SUITE_P(Simulator, SimFaultTest, ::testing::Values(Target::kSimulator),
                         [](const auto&) { return "Simulator"; });

}  // namespace
}  // namespace nsg::io
