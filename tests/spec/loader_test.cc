#include "controller/spec/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

namespace nsg::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Lines 1-5 of most documents below; spec fields start on line 6.
constexpr char kHead[] =
    "apiVersion: nomad-singleton.io/v1alpha1\n"
    "kind: Singleton\n"
    "metadata:\n"
    "  name: app\n"
    "spec:\n";
constexpr char kTask[] =
    "  task:\n"
    "    driver: raw_exec\n"
    "    config: {command: /bin/true}\n";

LoadResult Load(const std::string& text, const SpecCheck& check = nullptr) {
  return LoadSpecs({{"s.yaml", text}}, check);
}

std::vector<std::string> Errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const Diagnostic& d : r.errors) out.push_back(d.ToString());
  return out;
}

// The errors of kHead + `spec_body`.
std::vector<std::string> SpecErrors(const std::string& spec_body) {
  return Errors(Load(kHead + spec_body));
}

// The one singleton of kHead + `spec_body`, which must load without errors.
Singleton LoadOne(const std::string& spec_body) {
  LoadResult r = Load(kHead + spec_body);
  EXPECT_THAT(Errors(r), IsEmpty());
  EXPECT_THAT(r.valid, SizeIs(1));
  return r.valid.empty() ? Singleton{} : r.valid[0];
}

// ---- Diagnostic -------------------------------------------------------------------------------

TEST(DiagnosticTest, ToString) {
  EXPECT_EQ((Diagnostic{{"a.yaml", 3, 7}, "spec.lock.ttl", "bad"}).ToString(),
            "a.yaml:3:7: spec.lock.ttl: bad");
  EXPECT_EQ((Diagnostic{{"a.yaml", 3, 7}, "", "bad"}).ToString(), "a.yaml:3:7: bad");
  EXPECT_EQ((Diagnostic{{"a.yaml", 0, 0}, "", "cannot read"}).ToString(), "a.yaml: cannot read");
}

// ---- Good documents and defaults --------------------------------------------------------------

TEST(LoaderTest, MinimalServiceGetsEveryDefault) {
  Singleton s = LoadOne(
      "  task:\n"
      "    driver: raw_exec\n");
  EXPECT_EQ(s.Key(), "default/app");
  EXPECT_EQ(s.metadata.namespace_, kDefaultNamespace);
  const SingletonSpec& sp = s.spec;
  EXPECT_EQ(sp.type, JobType::kService);
  EXPECT_EQ(sp.schedule, "");
  EXPECT_EQ(sp.region, kDefaultRegion);
  EXPECT_THAT(sp.datacenters, IsEmpty());
  EXPECT_EQ(sp.node_pool, "");
  EXPECT_EQ(sp.priority, kDefaultPriority);
  EXPECT_FALSE(sp.adopt);
  EXPECT_EQ(sp.lock.path, "nomad/jobs/app/lock");
  EXPECT_EQ(sp.lock.ttl, kDefaultLockTtl);
  EXPECT_EQ(sp.lock.delay, kDefaultLockDelay);
  EXPECT_EQ(sp.lock.mode, LockMode::kSidecar);
  EXPECT_EQ(sp.lock.agent.driver, AgentDriver::kRawExec);
  EXPECT_EQ(sp.lock.agent.command, kDefaultAgentCommand);
  EXPECT_EQ(sp.lock.agent.image, kDefaultAgentImage);
  EXPECT_EQ(sp.lock.agent.resources.cpu, kDefaultAgentCpu);
  EXPECT_EQ(sp.lock.agent.resources.memory_mb, kDefaultAgentMemoryMb);
  EXPECT_EQ(sp.standby, 0);
  EXPECT_EQ(sp.failover.stop_on_client_after, kDefaultStopOnClientAfter);
  EXPECT_FALSE(sp.failover.give_up.has_value());
  EXPECT_EQ(s.GiveUp(), kDefaultLockTtl);
  EXPECT_EQ(sp.failover.restart.attempts, kDefaultRestartAttempts);
  EXPECT_EQ(sp.failover.restart.interval, kDefaultRestartInterval);
  EXPECT_EQ(sp.failover.restart.delay, kDefaultRestartDelay);
  EXPECT_EQ(sp.failover.restart.mode, "fail");
  EXPECT_EQ(sp.failover.reschedule.attempts, 0);
  EXPECT_EQ(sp.failover.reschedule.interval, Duration(0));
  EXPECT_EQ(sp.failover.reschedule.delay, kDefaultRescheduleDelay);
  EXPECT_EQ(sp.failover.reschedule.delay_function, "exponential");
  EXPECT_EQ(sp.failover.reschedule.max_delay, kDefaultRescheduleMaxDelay);
  EXPECT_TRUE(sp.failover.reschedule.unlimited);
  ASSERT_TRUE(sp.task.has_value());
  EXPECT_EQ(sp.task->name, kDefaultTaskName);
  EXPECT_EQ(sp.task->driver, "raw_exec");
  EXPECT_EQ(sp.task->config_json, "{}");
  EXPECT_EQ(sp.task->resources.cpu, kDefaultTaskCpu);
  EXPECT_EQ(sp.task->resources.memory_mb, kDefaultTaskMemoryMb);
  EXPECT_EQ(sp.task->resources.memory_max_mb, 0);
  EXPECT_EQ(sp.task->kill_timeout, kDefaultKillTimeout);
  EXPECT_EQ(s.KillTimeout(), kDefaultKillTimeout);
  EXPECT_EQ(sp.template_json, "");
}

TEST(LoaderTest, EveryFieldIsDecoded) {
  LoadResult r = Load(R"(apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata:
  name: billing.v2_x-1
  namespace: prod-eu
  labels: {team: billing, tier: "1"}
  annotations:
    nomad-singleton.io/keep-on-delete: "true"
spec:
  type: service
  region: eu
  datacenters: [dc1, dc2]
  nodePool: large
  priority: 100
  adopt: true
  lock:
    path: locks/billing
    ttl: 1m30s
    delay: 1ms
    mode: split
    agent:
      driver: docker
      command: /opt/nsg
      image: example/nsg:2
      resources: {cpu: 20, memoryMB: 16, memoryMaxMB: 64}
  standby: 5
  failover:
    stopOnClientAfter: 1m
    giveUp: 20s
    restart: {attempts: 4, interval: 10m, delay: 10s, mode: delay}
    reschedule:
      {attempts: 0, interval: 1h, delay: 30s, delayFunction: fibonacci, maxDelay: 10m,
       unlimited: true}
  task:
    name: worker
    driver: docker
    config:
      image: example/app:1
      ports: [http]
      count: 3
    env: {APP_MODE: prod, _X1: "2"}
    resources: {cpu: 250, memoryMB: 128, memoryMaxMB: 512}
    killTimeout: 12s
    user: nobody
)");
  ASSERT_THAT(Errors(r), IsEmpty());
  ASSERT_THAT(r.valid, SizeIs(1));
  const Singleton& s = r.valid[0];
  EXPECT_EQ(s.Key(), "prod-eu/billing.v2_x-1");
  EXPECT_EQ(s.metadata.labels.at("tier"), "1");
  EXPECT_EQ(s.metadata.annotations.at(kAnnotationKeep), "true");
  const SingletonSpec& sp = s.spec;
  EXPECT_EQ(sp.region, "eu");
  EXPECT_THAT(sp.datacenters, ElementsAre("dc1", "dc2"));
  EXPECT_EQ(sp.node_pool, "large");
  EXPECT_EQ(sp.priority, 100);
  EXPECT_TRUE(sp.adopt);
  EXPECT_EQ(sp.lock.path, "locks/billing");
  EXPECT_EQ(sp.lock.ttl, 90s);
  EXPECT_EQ(sp.lock.delay, 1ms);
  EXPECT_EQ(sp.lock.mode, LockMode::kSplit);
  EXPECT_EQ(sp.lock.agent.driver, AgentDriver::kDocker);
  EXPECT_EQ(sp.lock.agent.command, "/opt/nsg");
  EXPECT_EQ(sp.lock.agent.image, "example/nsg:2");
  EXPECT_EQ(sp.lock.agent.resources.cpu, 20);
  EXPECT_EQ(sp.lock.agent.resources.memory_mb, 16);
  EXPECT_EQ(sp.lock.agent.resources.memory_max_mb, 64);
  EXPECT_EQ(sp.standby, 5);
  EXPECT_EQ(sp.failover.stop_on_client_after, 60s);
  EXPECT_EQ(s.GiveUp(), 20s);
  EXPECT_EQ(sp.failover.restart.attempts, 4);
  EXPECT_EQ(sp.failover.restart.interval, 10min);
  EXPECT_EQ(sp.failover.restart.delay, 10s);
  EXPECT_EQ(sp.failover.restart.mode, "delay");
  EXPECT_EQ(sp.failover.reschedule.interval, 1h);
  EXPECT_EQ(sp.failover.reschedule.delay, 30s);
  EXPECT_EQ(sp.failover.reschedule.delay_function, "fibonacci");
  EXPECT_EQ(sp.failover.reschedule.max_delay, 10min);
  ASSERT_TRUE(sp.task.has_value());
  EXPECT_EQ(sp.task->name, "worker");
  EXPECT_EQ(sp.task->config_json, R"({"count":3,"image":"example/app:1","ports":["http"]})");
  EXPECT_EQ(sp.task->env.at("APP_MODE"), "prod");
  EXPECT_EQ(sp.task->env.at("_X1"), "2");
  EXPECT_EQ(sp.task->resources.cpu, 250);
  EXPECT_EQ(sp.task->resources.memory_max_mb, 512);
  EXPECT_EQ(s.KillTimeout(), 12s);
  EXPECT_EQ(sp.task->user, "nobody");
}

TEST(LoaderTest, BatchGetsNomadBatchDefaultsAndShim) {
  Singleton s = LoadOne(std::string("  type: batch\n") + kTask);
  EXPECT_EQ(s.spec.type, JobType::kBatch);
  EXPECT_EQ(s.spec.lock.mode, LockMode::kShim);
  const RestartSpec& r = s.spec.failover.restart;
  EXPECT_EQ(r.attempts, kDefaultBatchRestartAttempts);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(r.interval, 24h);
  EXPECT_EQ(r.delay, 15s);
  EXPECT_EQ(r.mode, "fail");
  const RescheduleSpec& rs = s.spec.failover.reschedule;
  EXPECT_EQ(rs.attempts, 1);
  EXPECT_EQ(rs.interval, 24h);
  EXPECT_EQ(rs.delay, 5s);
  EXPECT_EQ(rs.delay_function, "constant");
  EXPECT_FALSE(rs.unlimited);
}

TEST(LoaderTest, ScheduleWithoutTypeMeansBatch) {
  Singleton s = LoadOne(std::string("  schedule: \"*/5 * * * *\"\n") + kTask);
  EXPECT_EQ(s.spec.type, JobType::kBatch);
  EXPECT_EQ(s.spec.schedule, "*/5 * * * *");
  EXPECT_EQ(s.spec.lock.mode, LockMode::kShim);
  EXPECT_EQ(s.spec.failover.reschedule.attempts, kDefaultBatchRescheduleAttempts);
}

TEST(LoaderTest, WrittenFailoverFieldsOverrideBatchDefaultsOneByOne) {
  Singleton s = LoadOne(std::string("  type: batch\n"
                                    "  failover:\n"
                                    "    reschedule: {attempts: 2}\n"
                                    "    restart: {delay: 1m}\n") +
                        kTask);
  EXPECT_EQ(s.spec.failover.reschedule.attempts, 2);
  EXPECT_EQ(s.spec.failover.reschedule.interval, 24h);
  EXPECT_EQ(s.spec.failover.reschedule.delay_function, "constant");
  EXPECT_EQ(s.spec.failover.restart.delay, 1min);
  EXPECT_EQ(s.spec.failover.restart.attempts, 3);
}

TEST(LoaderTest, CronMacrosAndFieldCounts) {
  for (const char* cron : {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                           "@hourly", "0 3 * * *", "0 0 3 * * *", "0 0 3 ? * MON-FRI 2030",
                           "0 12 L * *", "0 12 1W * *", "0 12 * * 5#3", "*/10 1,2,3 * JAN *"}) {
    LoadResult r = Load(std::string(kHead) + "  schedule: \"" + cron + "\"\n" + kTask);
    EXPECT_THAT(Errors(r), IsEmpty()) << cron;
  }
}

TEST(LoaderTest, TaskConfigBecomesCompactJsonWithSortedKeysAndYamlScalarRules) {
  Singleton s = LoadOne(R"(  task:
    driver: raw_exec
    config:
      zeta: {b: 1, a: [true, false, null, ~, 1.5, -2, 1e3, "3", '4', 012, 0x10, yes, "true", 9999999999999999999999]}
      alpha: plain text
      empty:
      block: |
        line
)");
  EXPECT_EQ(s.spec.task->config_json,
            R"({"alpha":"plain text","block":"line\n","empty":null,"zeta":{"a":[true,false,null,null,1.5,-2,1000.0,"3","4","012","0x10","yes","true","9999999999999999999999"],"b":1}})");
}

// ---- Positions --------------------------------------------------------------------------------

TEST(LoaderTest, PositionsOfWrittenFieldsAndNearestParent) {
  LoadResult r = Load(R"(# leading comment

apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata:
  name: app
spec:
  lock:
    ttl:   20s
  datacenters: [dc1, "dc2"]
  task:
    driver: raw_exec
)");
  ASSERT_THAT(Errors(r), IsEmpty());
  ASSERT_THAT(r.valid, SizeIs(1));
  const Singleton& s = r.valid[0];
  EXPECT_EQ(s.source.file, "s.yaml");
  EXPECT_EQ(s.source.line, 3);
  EXPECT_EQ(s.source.column, 1);
  auto at = [&](const std::string& f) {
    SourcePos p = s.PositionOf(f);
    return p.file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
  };
  EXPECT_EQ(at("spec.lock.ttl"), "s.yaml:9:12");
  EXPECT_EQ(at("spec.lock"), "s.yaml:9:5");
  EXPECT_EQ(at("spec.lock.delay"), "s.yaml:9:5");  // not written: its parent
  EXPECT_EQ(at("spec.datacenters[1]"), "s.yaml:10:22");
  EXPECT_EQ(at("metadata.name"), "s.yaml:6:9");
  EXPECT_EQ(at("spec.task.driver"), "s.yaml:12:13");
  EXPECT_EQ(at("spec.failover.restart.mode"), "s.yaml:8:3");  // nearest written parent: spec
  EXPECT_EQ(at("apiVersion"), "s.yaml:3:13");
  EXPECT_EQ(s.positions.count("spec.failover"), 0u);
}

TEST(LoaderTest, MultiDocumentFilePositionsAreFileCoordinates) {
  std::string doc1 = std::string(kHead) + kTask;  // 8 lines
  LoadResult r = Load("---\n" + doc1 + "...\n# between\n---\n" +
                      "apiVersion: nomad-singleton.io/v1alpha1\n"
                      "kind: Singleton\n"
                      "metadata: {name: second}\n"
                      "spec:\n"
                      "  lock: {ttl: 30s}\n" +
                      kTask + "---\n---\n# only a comment\n");
  ASSERT_THAT(Errors(r), IsEmpty());
  ASSERT_THAT(r.valid, SizeIs(2));
  EXPECT_EQ(r.valid[0].metadata.name, "app");
  EXPECT_EQ(r.valid[0].source.line, 2);
  EXPECT_EQ(r.valid[1].metadata.name, "second");
  EXPECT_EQ(r.valid[1].source.line, 13);
  EXPECT_EQ(r.valid[1].PositionOf("spec.lock.ttl").line, 17);
  EXPECT_EQ(r.valid[1].PositionOf("spec.lock.ttl").column, 15);
}

TEST(LoaderTest, EmptyInputsLoadNothing) {
  LoadResult r = LoadSpecs({{"a.yaml", ""}, {"b.yaml", "# nothing\n"}, {"c.yaml", "---\n...\n"}});
  EXPECT_TRUE(r.ok());
  EXPECT_THAT(r.valid, IsEmpty());
  EXPECT_THAT(r.invalid, IsEmpty());
}

// ---- YAML syntax errors -----------------------------------------------------------------------

TEST(LoaderTest, SyntaxErrorInOneDocumentKeepsTheOtherDocuments) {
  std::string good1 = std::string(kHead) + kTask;
  std::string broken =
      "apiVersion: nomad-singleton.io/v1alpha1\n"  // line 10
      "kind: Singleton\n"
      "metadata:\n"
      "  name: broken\n"
      "  namespace: prod\n"
      "spec:\n"
      "  task: {driver: raw_exec\n"  // line 16: flow mapping never closed
      "  standby: 1\n";
  std::string good2 =
      "apiVersion: nomad-singleton.io/v1alpha1\n"
      "kind: Singleton\n"
      "metadata: {name: third}\n"
      "spec:\n" +
      std::string(kTask);
  LoadResult r = Load(good1 + "---\n" + broken + "---\n" + good2);
  ASSERT_THAT(r.valid, SizeIs(2));
  EXPECT_EQ(r.valid[0].metadata.name, "app");
  EXPECT_EQ(r.valid[1].metadata.name, "third");
  EXPECT_EQ(r.valid[1].source.line, 19);
  // yaml-cpp notices the unclosed flow mapping at the next line's ':'.
  EXPECT_THAT(Errors(r), ElementsAre("s.yaml:17:10: invalid YAML: end of map flow not found"));
  ASSERT_THAT(r.invalid, SizeIs(1));
  // The key is read from the text, so the controller knows which singleton is broken.
  EXPECT_EQ(r.invalid[0].key, "prod/broken");
  EXPECT_EQ(r.invalid[0].pos.line, 10);
}

TEST(LoaderTest, SyntaxErrorsInSeveralDocumentsAreAllReported) {
  LoadResult r = Load("a: b: c\n---\nkey: [1\n---\n" + std::string(kHead) + kTask);
  EXPECT_THAT(Errors(r), ElementsAre("s.yaml:1:5: invalid YAML: illegal map value",
                                     "s.yaml:4:1: invalid YAML: end of sequence flow not found"));
  EXPECT_THAT(r.valid, SizeIs(1));
  ASSERT_THAT(r.invalid, SizeIs(2));
  EXPECT_EQ(r.invalid[0].key, "");
  EXPECT_EQ(r.invalid[0].pos.line, 1);
  EXPECT_EQ(r.invalid[1].pos.line, 3);
}

// Found by fuzz_spec_loader: a byte that is not UTF-8 in a value reached the JSON encoder, which
// threw and ended the process. Such a document is refused with its place; the others load.
TEST(LoaderTest, InvalidUtf8IsRefusedWithItsPlaceAndTheOtherDocumentsLoad) {
  const std::string bad = std::string(kHead) + kTask + "    env: {GREETING: \"caf\xC3\x28\"}\n";
  LoadResult r = Load(bad + "---\n" +
                      "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\n"
                      "metadata: {name: fine}\nspec:\n" + std::string(kTask));
  ASSERT_THAT(r.valid, SizeIs(1));
  EXPECT_EQ(r.valid[0].metadata.name, "fine");
  ASSERT_THAT(Errors(r), SizeIs(1));
  EXPECT_THAT(Errors(r)[0], HasSubstr("not valid UTF-8 (byte 0xC3)"));
  EXPECT_THAT(r.invalid, SizeIs(1));
  // Overlong forms, surrogates and stray continuation bytes are refused too; valid text is not.
  for (const std::string raw : {"\xC0\xAF", "\xED\xA0\x80", "\x80", "\xF4\x90\x80\x80"}) {
    EXPECT_THAT(Errors(Load("# " + raw + "\n" + std::string(kHead) + kTask)), SizeIs(1)) << raw;
  }
  EXPECT_THAT(Errors(Load("# caf\xC3\xA9 \xF0\x9F\x94\x92\n" + std::string(kHead) + kTask)),
              SizeIs(0));
}

TEST(LoaderTest, StrayTokenIsASyntaxErrorNotAnEndlessLoop) {
  // yaml-cpp 0.7's LoadAll loops forever, allocating, on a node that starts with ','
  // (jbeder/yaml-cpp#1040); the loader must report it and go on.
  LoadResult r = Load(std::string(kHead) + kTask + "---\n,a [\n---\n  ,\n---\n" +
                      "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\n"
                      "metadata: {name: second}\nspec:\n" + kTask);
  EXPECT_THAT(Errors(r), ElementsAre("s.yaml:10:1: invalid YAML: unexpected character \",\"",
                                     "s.yaml:12:3: invalid YAML: unexpected character \",\""));
  EXPECT_THAT(r.valid, SizeIs(2));
  EXPECT_THAT(r.invalid, SizeIs(2));
}

TEST(LoaderTest, EveryDashLineStartsADocument) {
  // "---" twice: an empty document, then a real one (not merged into one chunk).
  LoadResult r = Load("# header\n%YAML 1.2\n---\n---\n" + std::string(kHead) + kTask);
  EXPECT_THAT(Errors(r), IsEmpty());
  ASSERT_THAT(r.valid, SizeIs(1));
  EXPECT_EQ(r.valid[0].source.line, 5);
}

TEST(LoaderTest, DocumentMustBeAMapping) {
  LoadResult r = Load("- a\n- b\n---\njust text\n");
  EXPECT_THAT(Errors(r),
              ElementsAre("s.yaml:1:1: a Singleton document must be a mapping, got a list",
                          "s.yaml:4:1: a Singleton document must be a mapping, got a scalar"));
  EXPECT_THAT(r.invalid, SizeIs(2));
}

// ---- Duplicate keys ---------------------------------------------------------------------------

TEST(LoaderTest, DuplicateKeysAreReportedWithTheFirstLine) {
  EXPECT_THAT(SpecErrors("  lock:\n"
                         "    ttl: 20s\n"
                         "    ttl: 30s\n" +
                         std::string(kTask) +
                         "  task:\n"
                         "    driver: exec\n"),
              ElementsAre(
                  "s.yaml:8:5: spec.lock.ttl: duplicate key \"ttl\" (first defined at line 7)",
                  "s.yaml:12:3: spec.task: duplicate key \"task\" (first defined at line 9)"));
  // Inside free-form maps too, and quoting does not make a different key.
  EXPECT_THAT(SpecErrors("  task:\n"
                         "    driver: raw_exec\n"
                         "    config:\n"
                         "      command: /bin/a\n"
                         "      \"command\": /bin/b\n"),
              ElementsAre("s.yaml:10:7: spec.task.config.command: duplicate key \"command\" (first "
                          "defined at line 9)"));
}

// ---- Unknown fields ---------------------------------------------------------------------------

TEST(LoaderTest, UnknownFieldsWithSuggestions) {
  EXPECT_THAT(
      Errors(Load(R"(apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metdata: {name: x}
metadata: {name: app, lables: {a: b}}
spec:
  node_pool: x
  lock: {tll: 15s, mode: shim}
  failover: {stopOnClientAfer: 1m}
  frobnicate: 1
  task:
    driver: raw_exec
    resources: {memoryMb: 10}
    kill_timeout: 5s
)")),
      ElementsAre(
          "s.yaml:3:1: metdata: unknown field \"metdata\"; did you mean \"metadata\"?",
          "s.yaml:4:23: metadata.lables: unknown field \"lables\"; did you mean \"labels\"?",
          "s.yaml:6:3: spec.node_pool: unknown field \"node_pool\"; did you mean \"nodePool\"?",
          "s.yaml:7:10: spec.lock.tll: unknown field \"tll\"; did you mean \"ttl\"?",
          "s.yaml:8:14: spec.failover.stopOnClientAfer: unknown field \"stopOnClientAfer\"; did you "
          "mean \"stopOnClientAfter\"?",
          "s.yaml:9:3: spec.frobnicate: unknown field \"frobnicate\"",
          "s.yaml:12:17: spec.task.resources.memoryMb: unknown field \"memoryMb\"; did you mean "
          "\"memoryMB\"?",
          "s.yaml:13:5: spec.task.kill_timeout: unknown field \"kill_timeout\"; did you mean "
          "\"killTimeout\"?"));
}

TEST(LoaderTest, NonStringKeysAreErrors) {
  EXPECT_THAT(SpecErrors("  ? [a]\n  : 1\n" + std::string(kTask)),
              ElementsAre("s.yaml:6:5: spec: mapping keys must be strings, got a list"));
}

// ---- Types ------------------------------------------------------------------------------------

TEST(LoaderTest, IntegersArePlainDecimalOnly) {
  struct Case {
    const char* value;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"012", "expected an integer (plain decimal digits, no leading zeros), got \"012\""},
           {"0x10", "expected an integer (plain decimal digits, no leading zeros), got \"0x10\""},
           {"0o7", "expected an integer (plain decimal digits, no leading zeros), got \"0o7\""},
           {"1_000", "expected an integer (plain decimal digits, no leading zeros), got \"1_000\""},
           {"+5", "expected an integer (plain decimal digits, no leading zeros), got \"+5\""},
           {"50.0", "expected an integer (plain decimal digits, no leading zeros), got \"50.0\""},
           {"high", "expected an integer (plain decimal digits, no leading zeros), got \"high\""},
           {"\"50\"", "expected an integer, got the quoted string \"50\" (remove the quotes)"},
           {"'50'", "expected an integer, got the quoted string \"50\" (remove the quotes)"},
           {"[50]", "expected an integer, got a list"},
           {"{a: 1}", "expected an integer, got a mapping"},
           {"~", "expected an integer, got null"},
           {"99999999999999999999", "integer out of range: 99999999999999999999"},
           {"0", "must be between 1 and 100, got 0"},
           {"-1", "must be between 1 and 100, got -1"},
           {"101", "must be between 1 and 100, got 101"},
       }) {
    EXPECT_THAT(SpecErrors(std::string("  priority: ") + c.value + "\n" + kTask),
                ElementsAre(std::string("s.yaml:6:13: spec.priority: ") + c.error))
        << c.value;
  }
  EXPECT_EQ(LoadOne(std::string("  priority: 1\n") + kTask).spec.priority, 1);
  EXPECT_EQ(LoadOne(std::string("  priority: 100\n") + kTask).spec.priority, 100);
}

TEST(LoaderTest, BooleansAreTrueOrFalseOnly) {
  for (const char* v : {"yes", "no", "on", "off", "y", "True", "FALSE", "1"}) {
    EXPECT_THAT(SpecErrors(std::string("  adopt: ") + v + "\n" + kTask),
                ElementsAre(std::string("s.yaml:6:10: spec.adopt: expected a boolean, got \"") + v +
                            "\": use true or false"))
        << v;
  }
  EXPECT_THAT(SpecErrors(std::string("  adopt: \"true\"\n") + kTask),
              ElementsAre("s.yaml:6:10: spec.adopt: expected a boolean, got the quoted string "
                          "\"true\": use true or false without quotes"));
  EXPECT_THAT(SpecErrors(std::string("  adopt: [true]\n") + kTask),
              ElementsAre("s.yaml:6:10: spec.adopt: expected a boolean, got a list"));
  EXPECT_TRUE(LoadOne(std::string("  adopt: true\n") + kTask).spec.adopt);
  EXPECT_FALSE(LoadOne(std::string("  adopt: false\n") + kTask).spec.adopt);
}

TEST(LoaderTest, StringsRefuseMappingsListsAndNullButKeepScalarsVerbatim) {
  EXPECT_THAT(SpecErrors(std::string("  region: {a: b}\n  nodePool: [x]\n  datacenters: [dc1, "
                                     "{a: 1}, \"\"]\n") +
                         kTask + "    user:\n"),
              ElementsAre("s.yaml:6:11: spec.region: expected a string, got a mapping",
                          "s.yaml:7:13: spec.nodePool: expected a string, got a list",
                          "s.yaml:8:22: spec.datacenters[1]: expected a string, got a mapping",
                          "s.yaml:8:30: spec.datacenters[2]: must not be empty",
                          "s.yaml:12:5: spec.task.user: expected a string, got null"));
  // No YAML 1.1 surprises: "no" is the region called no, 012 is the text 012.
  Singleton s = LoadOne(std::string("  region: no\n  nodePool: 012\n") + kTask);
  EXPECT_EQ(s.spec.region, "no");
  EXPECT_EQ(s.spec.node_pool, "012");
}

TEST(LoaderTest, StringMapsRefuseNonScalarValues) {
  EXPECT_THAT(Errors(Load(R"(apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata:
  name: app
  labels: {team: [a, b]}
  annotations: [x]
spec:
  task: {driver: raw_exec}
)")),
              ElementsAre("s.yaml:5:18: metadata.labels.team: expected a string, got a list",
                          "s.yaml:6:16: metadata.annotations: expected a mapping of strings, got a "
                          "list"));
}

TEST(LoaderTest, Durations) {
  EXPECT_THAT(SpecErrors(std::string("  lock:\n"
                                     "    ttl: 15\n"
                                     "    delay: -5s\n"
                                     "  failover:\n"
                                     "    stopOnClientAfter: soon\n"
                                     "    giveUp: [1s]\n") +
                         kTask + "    killTimeout: 0\n"),
              ElementsAre("s.yaml:7:10: spec.lock.ttl: invalid duration \"15\": missing unit (use "
                          "ns, us, ms, s, m or h, e.g. \"15s\")",
                          "s.yaml:8:12: spec.lock.delay: must not be negative, got \"-5s\"",
                          "s.yaml:10:24: spec.failover.stopOnClientAfter: invalid duration "
                          "\"soon\": expected a number",
                          "s.yaml:11:13: spec.failover.giveUp: expected a duration such as \"15s\", "
                          "got a list"));
  EXPECT_EQ(LoadOne(std::string(kTask) + "    killTimeout: 0\n").KillTimeout(), Duration(0));
  EXPECT_EQ(LoadOne(std::string(kTask) + "    killTimeout: 1.5s\n").KillTimeout(), 1500ms);
  EXPECT_THAT(SpecErrors("  failover: {giveUp: 0s}\n" + std::string(kTask)),
              ElementsAre("s.yaml:6:22: spec.failover.giveUp: must be greater than 0"));
}

TEST(LoaderTest, DurationsHaveASaneMaximum) {
  EXPECT_THAT(SpecErrors(std::string(kTask) + "    killTimeout: 2562047h\n"),
              ElementsAre("s.yaml:9:18: spec.task.killTimeout: must be at most 168h0m0s (a week; no "
                          "timer of a Singleton needs more), got \"2562047h\""));
  EXPECT_EQ(LoadOne(std::string(kTask) + "    killTimeout: 168h\n").KillTimeout(), 168h);
}

TEST(LoaderTest, LongValuesAreCutInMessages) {
  const std::string huge(100 * 1000, 'x');
  const auto errors = SpecErrors("  type: " + huge + "\n" + std::string(kTask));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("invalid value \"" + std::string(160, 'x') + "…\""));
  EXPECT_LT(errors[0].size(), 600u);
  // A cut never splits a UTF-8 character.
  const std::string wide = std::string(159, 'x') + "é" + std::string(100, 'y');
  const auto e2 = SpecErrors("  type: " + wide + "\n" + std::string(kTask));
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_THAT(e2[0], HasSubstr("\"" + std::string(159, 'x') + "…\""));
}

TEST(LoaderTest, DeepNestingIsRefusedWithItsPosition) {
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  const auto errors = SpecErrors("  task:\n    driver: raw_exec\n    config: {x: " + deep + "}\n");
  ASSERT_FALSE(errors.empty());
  EXPECT_THAT(errors[0], HasSubstr("s.yaml:8:"));
  EXPECT_THAT(errors[0], HasSubstr("invalid YAML: nested more than 64 levels deep"));
  // Block style too.
  std::string block = "  task:\n    driver: raw_exec\n    config:\n";
  for (int i = 0; i < 200; ++i) block += std::string(6 + 2 * i, ' ') + "k:\n";
  const auto e2 = SpecErrors(block);
  ASSERT_FALSE(e2.empty());
  EXPECT_THAT(e2[0], HasSubstr("invalid YAML: nested more than 64 levels deep"));
}

TEST(LoaderTest, EnumsWithSuggestion) {
  EXPECT_THAT(SpecErrors("  type: servic\n  lock: {mode: leader, agent: {driver: podman}}\n" +
                         std::string(kTask)),
              ElementsAre("s.yaml:6:9: spec.type: invalid value \"servic\": must be one of "
                          "\"service\", \"batch\"; did you mean \"service\"?",
                          "s.yaml:7:16: spec.lock.mode: invalid value \"leader\": must be one of "
                          "\"shim\", \"sidecar\", \"split\"",
                          "s.yaml:7:40: spec.lock.agent.driver: invalid value \"podman\": must be "
                          "one of \"raw_exec\", \"exec\", \"docker\""));
}

// ---- Required fields, apiVersion and kind -----------------------------------------------------

TEST(LoaderTest, MissingRequiredFieldsAreReportedAtTheParent) {
  EXPECT_THAT(Errors(Load("# c\nfoo: 1\n")),
              ElementsAre("s.yaml:2:1: foo: unknown field \"foo\"",
                          "s.yaml:2:1: apiVersion: required field is missing",
                          "s.yaml:2:1: kind: required field is missing",
                          "s.yaml:2:1: metadata: required field is missing",
                          "s.yaml:2:1: spec: required field is missing"));
  EXPECT_THAT(Errors(Load("apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\n"
                          "metadata:\n  namespace: x\nspec:\n  task:\n    config: {}\n")),
              ElementsAre("s.yaml:3:1: metadata.name: required field is missing",
                          "s.yaml:6:3: spec.task.driver: required field is missing"));
  EXPECT_THAT(SpecErrors("  type: service\n"),
              ElementsAre("s.yaml:5:1: spec.task: required field is missing: set exactly one of "
                          "task (the simple form) or template (a full Nomad job)"));
  EXPECT_THAT(Errors(Load("apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\n"
                          "metadata: {name: app}\nspec: ~\n")),
              ElementsAre("s.yaml:4:7: spec: expected a mapping, got null"));
}

TEST(LoaderTest, ApiVersionAndKindMustMatchExactly) {
  EXPECT_THAT(Errors(Load(std::string("apiVersion: nomad-singleton.io/v1\nkind: singleton\n"
                                      "metadata: {name: app}\nspec:\n") +
                          kTask)),
              ElementsAre("s.yaml:1:13: apiVersion: unsupported apiVersion "
                          "\"nomad-singleton.io/v1\": must be \"nomad-singleton.io/v1alpha1\"",
                          "s.yaml:2:7: kind: unsupported kind \"singleton\": must be \"Singleton\""));
}

// ---- Names ------------------------------------------------------------------------------------

LoadResult LoadNamed(const std::string& name, const std::string& ns) {
  return Load("apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\nmetadata:\n  name: " +
              name + "\n  namespace: " + ns + "\nspec:\n" + kTask);
}

TEST(LoaderTest, NameMustBeAValidJobId) {
  const std::string max_name = "a" + std::string(127, 'b');
  for (const std::string& good : {std::string("a"), std::string("9lives"),
                                   std::string("a_b-c")}) {
    EXPECT_THAT(Errors(LoadNamed(good, "default")), IsEmpty()) << good;
  }
  // 128 characters are a valid job ID; the default lock path then needs more room
  // (NameMustLeaveRoomForTheDefaultLockPath), so the only error is that one.
  ASSERT_THAT(LoadNamed(max_name, "default").errors, SizeIs(1));
  EXPECT_THAT(LoadNamed(max_name, "default").errors[0].message,
              HasSubstr("must be 1 to 128 characters long (it has 144)"));
  for (const std::string& bad :
       {std::string("-a"), std::string("_a"), std::string(".a"), std::string("a/b"),
        std::string("\"a b\""), std::string("\"\""), max_name + "c"}) {
    LoadResult r = LoadNamed(bad, "default");
    ASSERT_THAT(r.errors, SizeIs(1)) << bad;
    EXPECT_EQ(r.errors[0].field, "metadata.name");
    EXPECT_THAT(r.errors[0].message,
                HasSubstr("must start with a letter or digit and have at most 128 letters, "
                          "digits, '_', '.' and '-' (^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$)"))
        << bad;
  }
  EXPECT_THAT(Errors(LoadNamed("-a", "default")),
              ElementsAre("s.yaml:4:9: metadata.name: invalid name \"-a\": must start with a "
                          "letter or digit and have at most 128 letters, digits, '_', '.' and '-' "
                          "(^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$)"));
}

TEST(LoaderTest, NamespaceRule) {
  EXPECT_THAT(Errors(LoadNamed("app", "prod-1")), IsEmpty());
  EXPECT_THAT(Errors(LoadNamed("app", std::string(128, 'n'))), IsEmpty());
  for (const std::string& bad : {std::string("prod_1"), std::string("a.b"), std::string("\"\""),
                                 std::string(129, 'n')}) {
    LoadResult r = LoadNamed("app", bad);
    ASSERT_THAT(r.errors, SizeIs(1)) << bad;
    EXPECT_EQ(r.errors[0].field, "metadata.namespace") << bad;
  }
  EXPECT_THAT(Errors(LoadNamed("app", "prod_1")),
              ElementsAre("s.yaml:5:14: metadata.namespace: invalid namespace \"prod_1\": must be "
                          "1 to 128 letters, digits and '-' (^[a-zA-Z0-9-]{1,128}$)"));
}

// ---- Lock -------------------------------------------------------------------------------------

TEST(LoaderTest, LockPathFollowsNomadVariableRules) {
  for (const std::string& good :
       {std::string("nomad/jobs"), std::string("nomad/jobs/app/lock"),
        std::string("nomad/job-templates/t"),
        std::string("locks/app"), std::string("a~b_c-D9"), std::string(128, 'p')}) {
    Singleton s = LoadOne("  lock: {path: " + good + "}\n" + kTask);
    EXPECT_EQ(s.spec.lock.path, good);
  }
  const std::string reserved =
      "is under Nomad's reserved \"nomad/\" prefix, where only nomad/jobs, nomad/jobs/... and "
      "nomad/job-templates/<name> are allowed (nomad/sentinel/... only from Nomad 1.11.2; Nomad "
      "says: ";
  struct Case {
    std::string path;
    std::string why;
  };
  for (const Case& c : std::vector<Case>{
           {"nomad", reserved},
           {"nomad/other/x", reserved},
           {"nomad/job-templates", reserved},
           {"nomad/job-templates/a/b", reserved},
           // Nomad 1.10.2 to 1.11.1 refuse it (nomad/structs/variables.go ValidatePath).
           {"nomad/sentinel/x", reserved},
           {"\"a b\"", "may contain only letters, digits and - _ ~ / (Nomad's variable path rule)"},
           {"a.b", "may contain only letters, digits and - _ ~ / (Nomad's variable path rule)"},
           {"\"\"", "must be 1 to 128 characters long"},
           {std::string(129, 'p'), "must be 1 to 128 characters long"},
           {"/x", "must not start or end with '/' or contain an empty segment"},
           {"x/", "must not start or end with '/' or contain an empty segment"},
           {"a//b", "must not start or end with '/' or contain an empty segment"},
       }) {
    LoadResult r = Load(kHead + ("  lock: {path: " + c.path + "}\n") + kTask);
    ASSERT_THAT(r.errors, SizeIs(1)) << c.path;
    EXPECT_EQ(r.errors[0].field, "spec.lock.path");
    EXPECT_THAT(r.errors[0].message, HasSubstr(c.why)) << c.path;
  }
  EXPECT_THAT(SpecErrors("  lock: {path: nomad}\n" + std::string(kTask)),
              ElementsAre("s.yaml:6:16: spec.lock.path: invalid lock path \"nomad\": " + reserved +
                          "\"nomad\" is a reserved top-level directory path, but you may write "
                          "variables to \"nomad/jobs\", \"nomad/job-templates\", or below)"));
}

TEST(LoaderTest, NameMustLeaveRoomForTheDefaultLockPath) {
  // nomad/jobs/<name>/lock is a Nomad variable path: at most 128 characters, so 112 for the name.
  EXPECT_THAT(Errors(LoadNamed(std::string(112, 'n'), "default")), IsEmpty());
  LoadResult r = LoadNamed(std::string(113, 'n'), "default");
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_EQ(r.errors[0].ToString(),
            "s.yaml:4:9: metadata.name: the default lock path \"nomad/jobs/" +
                std::string(113, 'n') +
                "/lock\" must be 1 to 128 characters long (it has 129): use a name of at most 112 "
                "characters, or set spec.lock.path");
  // A '.' is fine in a job ID but not in a variable path: such a name needs an explicit path
  // (rewriting the '.' could give two singletons the same lock).
  EXPECT_THAT(Errors(LoadNamed("a.b", "default")),
              ElementsAre("s.yaml:4:9: metadata.name: the default lock path "
                          "\"nomad/jobs/a.b/lock\" may contain only letters, digits and - _ ~ / "
                          "(Nomad's variable path rule): set spec.lock.path for a name with '.'"));
  // An explicit path lifts the limit to the job ID's own 128.
  const std::string doc = "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\nmetadata:\n"
                          "  name: " + std::string(128, 'n') +
                          "\nspec:\n  lock: {path: locks/x}\n" + kTask;
  EXPECT_THAT(Errors(Load(doc)), IsEmpty());
}

TEST(LoaderTest, LockTtlAndDelayRanges) {
  EXPECT_EQ(LoadOne("  lock: {ttl: 10s, delay: 1ns}\n" + std::string(kTask)).spec.lock.ttl, 10s);
  EXPECT_EQ(LoadOne("  lock: {ttl: 24h, delay: 24h}\n" + std::string(kTask)).spec.lock.delay, 24h);
  EXPECT_THAT(SpecErrors("  lock: {ttl: 9.9s, delay: 24h1s}\n" + std::string(kTask)),
              ElementsAre("s.yaml:6:15: spec.lock.ttl: must be between 10s and 24h (Nomad's lock "
                          "TTL limits), got 9.9s",
                          "s.yaml:6:28: spec.lock.delay: must be more than 0s and at most 24h, got "
                          "24h0m1s"));
  // VariableLock.Canonicalize (nomad/structs/variables.go) turns a zero LockDelay into 15s: the
  // timer rule and the budget would be computed for a delay the server does not apply.
  EXPECT_THAT(SpecErrors("  lock: {delay: 0s}\n" + std::string(kTask)),
              ElementsAre("s.yaml:6:17: spec.lock.delay: Nomad cannot apply a lock delay of 0s: "
                          "VariableLock.Canonicalize turns 0 into its default 15s; leave delay "
                          "out for that, or write a positive delay such as 1s"));
  EXPECT_THAT(SpecErrors("  lock: {ttl: 25h}\n" + std::string(kTask)),
              ElementsAre("s.yaml:6:15: spec.lock.ttl: must be between 10s and 24h (Nomad's lock "
                          "TTL limits), got 25h0m0s"));
}

TEST(LoaderTest, SidecarAndSplitRefusedForBatch) {
  for (const char* mode : {"sidecar", "split"}) {
    EXPECT_THAT(SpecErrors(std::string("  type: batch\n  lock: {mode: ") + mode + "}\n" + kTask),
                ElementsAre("s.yaml:7:16: spec.lock.mode: use mode: shim for batch jobs: a sidecar "
                            "lock task is the job's leader and would keep a batch job running "
                            "forever"))
        << mode;
  }
  EXPECT_THAT(SpecErrors("  schedule: \"@daily\"\n  lock: {mode: sidecar}\n" + std::string(kTask)),
              SizeIs(1));
  EXPECT_EQ(LoadOne("  type: service\n  lock: {mode: shim}\n" + std::string(kTask)).spec.lock.mode,
            LockMode::kShim);
}

TEST(LoaderTest, DockerAgentNeedsAnImage) {
  EXPECT_THAT(SpecErrors("  lock:\n    agent: {driver: docker, image: \"\"}\n" +
                         std::string(kTask)),
              ElementsAre("s.yaml:7:36: spec.lock.agent.image: an image is required when the "
                          "agent's driver is docker"));
  Singleton docker = LoadOne("  lock: {agent: {driver: docker}}\n" + std::string(kTask));
  EXPECT_EQ(docker.spec.lock.agent.image, kDefaultAgentImage);
  // An empty image does not matter for raw_exec.
  EXPECT_THAT(SpecErrors("  lock: {agent: {image: \"\"}}\n" + std::string(kTask)), IsEmpty());
}

// ---- Standby, priority, schedule --------------------------------------------------------------

TEST(LoaderTest, StandbyRangeAndBatch) {
  EXPECT_EQ(LoadOne("  standby: 5\n" + std::string(kTask)).spec.standby, kMaxStandby);
  EXPECT_THAT(SpecErrors("  standby: 6\n" + std::string(kTask)),
              ElementsAre("s.yaml:6:12: spec.standby: must be between 0 and 5, got 6"));
  EXPECT_THAT(SpecErrors("  standby: -1\n" + std::string(kTask)),
              ElementsAre("s.yaml:6:12: spec.standby: must be between 0 and 5, got -1"));
  EXPECT_THAT(SpecErrors("  type: batch\n  standby: 1\n" + std::string(kTask)),
              ElementsAre("s.yaml:7:12: spec.standby: must be 0 for type batch: a batch run is not "
                          "kept waiting for the lock"));
  EXPECT_THAT(SpecErrors("  type: batch\n  standby: 0\n" + std::string(kTask)), IsEmpty());
}

TEST(LoaderTest, ScheduleRules) {
  EXPECT_THAT(SpecErrors("  type: service\n  schedule: \"@daily\"\n" + std::string(kTask)),
              ElementsAre("s.yaml:7:13: spec.schedule: a schedule needs type batch (a periodic "
                          "job is a batch job), but type is service"));
  for (const char* bad : {"\"* * * *\"", "\"* * * * * * * *\"", "\"@every 5m\"", "\"@reboot\"",
                          "\"0 3 * * * ; rm\"", "\"\""}) {
    LoadResult r = Load(kHead + std::string("  schedule: ") + bad + "\n" + kTask);
    ASSERT_THAT(r.errors, SizeIs(1)) << bad;
    EXPECT_EQ(r.errors[0].field, "spec.schedule");
    EXPECT_THAT(r.errors[0].message, HasSubstr("invalid cron expression")) << bad;
  }
  EXPECT_THAT(SpecErrors("  schedule: \"* * * *\"\n" + std::string(kTask)),
              ElementsAre("s.yaml:6:13: spec.schedule: invalid cron expression \"* * * *\": "
                          "expected 5 to 7 fields (minute hour day-of-month month day-of-week "
                          "[year]) or a macro such as @daily"));
}

// ---- Restart and reschedule -------------------------------------------------------------------

TEST(LoaderTest, RestartPolicyNomadWouldRefuse) {
  EXPECT_THAT(SpecErrors("  failover:\n    restart: {interval: 4s, delay: 1s, attempts: 1}\n" +
                         std::string(kTask)),
              ElementsAre("s.yaml:7:25: spec.failover.restart.interval: must be at least 5s "
                          "(Nomad's minimum), got 4s"));
  EXPECT_THAT(SpecErrors("  failover:\n    restart: {attempts: 3, interval: 30s, delay: 15s}\n" +
                         std::string(kTask)),
              ElementsAre("s.yaml:7:14: spec.failover.restart: 3 attempts with delay 15s do not "
                          "fit in interval 30s (Nomad refuses this: attempts × delay must be at "
                          "most the interval)"));
  EXPECT_THAT(SpecErrors("  failover:\n    restart: {attempts: 0, mode: delay}\n" +
                         std::string(kTask)),
              ElementsAre("s.yaml:7:34: spec.failover.restart.mode: mode \"delay\" with 0 attempts "
                          "is ambiguous (Nomad refuses it): use fail"));
  // Exactly fitting is fine; so is attempts 0 with fail.
  EXPECT_THAT(SpecErrors("  failover:\n    restart: {attempts: 2, interval: 30s, delay: 15s}\n" +
                         std::string(kTask)),
              IsEmpty());
  EXPECT_THAT(SpecErrors("  failover:\n    restart: {attempts: 0}\n" + std::string(kTask)),
              IsEmpty());
  // A field that is itself wrong suppresses the cross-field checks (no cascades).
  EXPECT_THAT(SpecErrors("  failover:\n    restart: {interval: 1, delay: 1s}\n" +
                         std::string(kTask)),
              SizeIs(1));
}

TEST(LoaderTest, ReschedulePolicyNomadWouldRefuse) {
  auto errors = [](const std::string& reschedule) {
    return SpecErrors("  failover:\n    reschedule: " + reschedule + "\n" + kTask);
  };
  EXPECT_THAT(errors("{attempts: 3}"),  // unlimited is true by default for services
              ElementsAre("s.yaml:7:17: spec.failover.reschedule.unlimited: attempts 3 with "
                          "unlimited true is ambiguous (Nomad refuses it): set attempts 0 for "
                          "unlimited rescheduling, or unlimited false for a limit"));
  EXPECT_THAT(errors("{delay: 1s}"),
              ElementsAre("s.yaml:7:25: spec.failover.reschedule.delay: must be at least 5s "
                          "(Nomad's minimum), got 1s"));
  EXPECT_THAT(errors("{delay: 1m, maxDelay: 30s}"),
              ElementsAre("s.yaml:7:39: spec.failover.reschedule.maxDelay: must be at least delay "
                          "(1m0s) unless delayFunction is constant, got 30s"));
  EXPECT_THAT(errors("{delay: 1m, maxDelay: 30s, delayFunction: constant}"), IsEmpty());
  EXPECT_THAT(errors("{attempts: 2, unlimited: false, interval: 10s}"),
              ElementsAre("s.yaml:7:59: spec.failover.reschedule.interval: must be at least 15s "
                          "when attempts are limited (Nomad's minimum), got 10s"));
  EXPECT_THAT(errors("{attempts: 3, unlimited: false, interval: 1m, delay: 30s, delayFunction: "
                     "constant}"),
              ElementsAre("s.yaml:7:17: spec.failover.reschedule: 3 attempts with constant delay "
                          "30s do not fit in interval 1m0s (Nomad refuses this: attempts × delay "
                          "must be at most the interval)"));
  // Disabled (attempts 0, unlimited false): Nomad does not check the rest.
  EXPECT_THAT(errors("{attempts: 0, unlimited: false, delay: 1s}"), IsEmpty());
}

// ---- Resources, env, task ---------------------------------------------------------------------

TEST(LoaderTest, ResourcesMustBePositive) {
  EXPECT_THAT(SpecErrors(std::string(kTask) +
                         "    resources: {cpu: 0, memoryMB: 64, memoryMaxMB: 32}\n"
                         "  lock:\n    agent:\n      resources: {memoryMB: -5}\n"),
              ElementsAre("s.yaml:9:22: spec.task.resources.cpu: must be at least 1, got 0",
                          "s.yaml:9:52: spec.task.resources.memoryMaxMB: must be at least memoryMB "
                          "(64), got 32",
                          "s.yaml:12:29: spec.lock.agent.resources.memoryMB: must be at least 1, "
                          "got -5"));
}

TEST(LoaderTest, EnvNamesAndValues) {
  EXPECT_THAT(SpecErrors(std::string(kTask) + "    env: {OK_1: a, 1X: b, A-B: c, Y: {z: 1}}\n"),
              ElementsAre("s.yaml:9:20: spec.task.env.1X: invalid environment variable name "
                          "\"1X\": must match ^[A-Za-z_][A-Za-z0-9_]*$",
                          "s.yaml:9:27: spec.task.env.A-B: invalid environment variable name "
                          "\"A-B\": must match ^[A-Za-z_][A-Za-z0-9_]*$",
                          "s.yaml:9:38: spec.task.env.Y: expected a string, got a mapping"));
  // Values are strings, verbatim: no 1.1 booleans, no numbers.
  Singleton s = LoadOne(std::string(kTask) + "    env: {A: yes, B: 012, C: \"\"}\n");
  EXPECT_EQ(s.spec.task->env.at("A"), "yes");
  EXPECT_EQ(s.spec.task->env.at("B"), "012");
  EXPECT_EQ(s.spec.task->env.at("C"), "");
}

TEST(LoaderTest, TaskShape) {
  EXPECT_THAT(SpecErrors("  task:\n    name: a/b\n    driver: \"\"\n    config: plain\n"),
              ElementsAre("s.yaml:7:11: spec.task.name: invalid task name \"a/b\": must not "
                          "contain '/'",
                          "s.yaml:8:13: spec.task.driver: must not be empty",
                          "s.yaml:9:13: spec.task.config: expected a mapping (the driver's "
                          "config), got a scalar"));
  EXPECT_THAT(SpecErrors(std::string(kTask) +
                         "  template:\n    TaskGroups: [{Tasks: [{Name: m, Driver: d}]}]\n"),
              ElementsAre("s.yaml:9:3: spec.template: task and template are mutually exclusive: "
                          "set exactly one of them"));
  EXPECT_THAT(SpecErrors("  task: [driver]\n"),
              ElementsAre("s.yaml:6:9: spec.task: expected a mapping, got a list"));
}

// ---- Template ---------------------------------------------------------------------------------

TEST(LoaderTest, TemplateBecomesJsonWithDurationsInNanoseconds) {
  LoadResult r = Load(std::string(kHead) + R"(  template:
    ID: app
    Datacenters: [dc1]
    Priority: 70
    TaskGroups:
      - Name: g
        ShutdownDelay: 2s
        ReschedulePolicy: {Delay: 30s, MaxDelay: 1h, Interval: 0, DelayFunction: exponential}
        Disconnect: {StopOnClientAfter: 1m, LostAfter: "5m"}
        Tasks:
          - Name: main
            Driver: raw_exec
            KillTimeout: 20s
            Config: {command: /bin/sh, args: ["-c", "sleep 1"], port: 8080, debug: false}
            Meta: {version: "1.0", build: 1.0, empty: ~}
          - Name: helper
            Driver: raw_exec
            Lifecycle: {Hook: prestart}
            KillTimeout: 5000000000
)");
  ASSERT_THAT(Errors(r), IsEmpty());
  ASSERT_THAT(r.valid, SizeIs(1));
  const Singleton& s = r.valid[0];
  EXPECT_FALSE(s.spec.task.has_value());
  EXPECT_EQ(s.KillTimeout(), 20s);
  EXPECT_EQ(s.template_kill_timeout, 20s);
  EXPECT_EQ(
      s.spec.template_json,
      R"({"Datacenters":["dc1"],"ID":"app","Priority":70,"TaskGroups":[{"Disconnect":{"LostAfter":300000000000,"StopOnClientAfter":60000000000},"Name":"g",)"
      R"("ReschedulePolicy":{"Delay":30000000000,"DelayFunction":"exponential","Interval":0,"MaxDelay":3600000000000},"ShutdownDelay":2000000000,)"
      R"("Tasks":[{"Config":{"args":["-c","sleep 1"],"command":"/bin/sh","debug":false,"port":8080},"Driver":"raw_exec","KillTimeout":20000000000,)"
      R"("Meta":{"build":1.0,"empty":null,"version":"1.0"},"Name":"main"},{"Driver":"raw_exec","KillTimeout":5000000000,"Lifecycle":{"Hook":"prestart"},"Name":"helper"}]}]})");
  EXPECT_EQ(s.PositionOf("spec.template.TaskGroups[0].Tasks[0].KillTimeout").line, 18);
}

TEST(LoaderTest, TemplateWithoutKillTimeoutUsesTheDefault) {
  Singleton s = LoadOne("  template:\n    TaskGroups: [{Tasks: [{Name: m, Driver: d}]}]\n");
  EXPECT_EQ(s.KillTimeout(), kDefaultKillTimeout);
  EXPECT_EQ(s.spec.template_json, R"({"TaskGroups":[{"Tasks":[{"Driver":"d","Name":"m"}]}]})");
}

TEST(LoaderTest, TemplateErrors) {
  EXPECT_THAT(SpecErrors("  template: [a]\n"),
              ElementsAre("s.yaml:6:13: spec.template: expected a mapping (a Nomad job in API "
                          "JSON form), got a list"));
  EXPECT_THAT(SpecErrors("  template:\n    ID: other\n    Namespace: prod\n"
                         "    TaskGroups: [{Tasks: [{Name: m, Driver: d}]}]\n"),
              ElementsAre("s.yaml:7:9: spec.template.ID: must equal metadata.name \"app\", got "
                          "\"other\" (or leave it out)",
                          "s.yaml:8:16: spec.template.Namespace: must equal metadata.namespace "
                          "\"default\" (or leave it out)"));
  EXPECT_THAT(SpecErrors("  template:\n    Datacenters: [dc1]\n"),
              ElementsAre("s.yaml:6:3: spec.template.TaskGroups: required field is missing"));
  EXPECT_THAT(SpecErrors("  template:\n    TaskGroups:\n      - {Tasks: [{Name: a, Driver: d}]}\n"
                         "      - {Tasks: [{Name: b, Driver: d}]}\n"),
              ElementsAre("s.yaml:8:7: spec.template.TaskGroups: must have exactly one task group, "
                          "got 2"));
  EXPECT_THAT(SpecErrors("  template:\n    TaskGroups: []\n"),
              ElementsAre("s.yaml:7:17: spec.template.TaskGroups: must have exactly one task "
                          "group, got 0"));
  EXPECT_THAT(SpecErrors("  template:\n    TaskGroups: [{Name: g}]\n"),
              ElementsAre("s.yaml:7:18: spec.template.TaskGroups[0].Tasks: required field is "
                          "missing"));
}

TEST(LoaderTest, TemplateNeedsExactlyOneWorkloadTask) {
  EXPECT_THAT(SpecErrors(R"(  template:
    TaskGroups:
      - Name: g
        Tasks:
          - {Name: a, Driver: d, Lifecycle: {Hook: prestart}}
          - {Name: b, Driver: d, Lifecycle: {Hook: poststop}}
)"),
              ElementsAre("s.yaml:10:11: spec.template.TaskGroups[0].Tasks: no workload task: "
                          "exactly one task must have no Lifecycle (the protected workload)"));
  EXPECT_THAT(SpecErrors(R"(  template:
    TaskGroups:
      - Name: g
        Tasks:
          - {Name: web, Driver: d}
          - {Name: worker, Driver: d, Lifecycle: ~}
          - {Name: log, Driver: d, Lifecycle: {Hook: poststart, Sidecar: true}}
)"),
              ElementsAre("s.yaml:10:11: spec.template.TaskGroups[0].Tasks: 2 tasks have no "
                          "Lifecycle (\"web\", \"worker\"): exactly one task, the protected "
                          "workload, may have none; give the others a Lifecycle"));
}

TEST(LoaderTest, TemplateTasksNeedNameAndDriverAndGoodDurations) {
  EXPECT_THAT(SpecErrors(R"(  template:
    TaskGroups:
      - Name: g
        Tasks:
          - Driver: d
            KillTimeout: -5
          - Name: ""
            Driver: [d]
            Lifecycle: {Hook: prestart}
            ShutdownDelay: -1s
)"),
              ElementsAre("s.yaml:10:13: spec.template.TaskGroups[0].Tasks[0].Name: required field "
                          "is missing",
                          "s.yaml:11:26: spec.template.TaskGroups[0].Tasks[0].KillTimeout: "
                          "expected a duration (\"10s\") or non-negative nanoseconds",
                          "s.yaml:12:19: spec.template.TaskGroups[0].Tasks[1].Name: expected a "
                          "non-empty string",
                          "s.yaml:13:21: spec.template.TaskGroups[0].Tasks[1].Driver: expected a "
                          "non-empty string",
                          "s.yaml:15:28: spec.template.TaskGroups[0].Tasks[1].ShutdownDelay: must "
                          "not be negative, got \"-1s\""));
  EXPECT_THAT(SpecErrors("  template:\n    TaskGroups: [{Tasks: [{Name: m, Driver: d, "
                         "KillTimeout: 10 s}]}]\n"),
              ElementsAre("s.yaml:7:61: spec.template.TaskGroups[0].Tasks[0].KillTimeout: invalid "
                          "duration \"10 s\": unknown unit \" s\""));
}

// ---- Several documents and files --------------------------------------------------------------

std::string Doc(const std::string& name, const std::string& ns = "") {
  return "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\nmetadata:\n  name: " + name +
         "\n" + (ns.empty() ? "" : "  namespace: " + ns + "\n") + "spec:\n" + kTask;
}

TEST(LoaderTest, ValidInFileThenDocumentOrderAndErrorsSortedByFileThenLine) {
  LoadResult r = LoadSpecs({
      {"z.yaml", Doc("z1") + "---\n" + Doc("z2") + "---\n" + Doc("z3") + "  priority: 0\n"},
      {"a.yaml", Doc("a1") + "  standby: 9\n  adopt: yes\n"},
      {"m.yaml", Doc("m1")},
  });
  std::vector<std::string> names;
  for (const Singleton& s : r.valid) names.push_back(s.metadata.name);
  EXPECT_THAT(names, ElementsAre("z1", "z2", "m1"));
  EXPECT_THAT(Errors(r),
              ElementsAre("z.yaml:27:13: spec.priority: must be between 1 and 100, got 0",
                          "a.yaml:9:12: spec.standby: must be between 0 and 5, got 9",
                          "a.yaml:10:10: spec.adopt: expected a boolean, got \"yes\": use true or "
                          "false"));
  ASSERT_THAT(r.invalid, SizeIs(2));
  EXPECT_EQ(r.invalid[0].key, "default/z3");
  EXPECT_EQ(r.invalid[0].pos.file, "z.yaml");
  EXPECT_EQ(r.invalid[0].pos.line, 19);
  EXPECT_EQ(r.invalid[1].key, "default/a1");
}

TEST(LoaderTest, SameSingletonTwiceIsReportedAtEveryPlaceAndNoneIsUsed) {
  LoadResult r = LoadSpecs({
      {"a.yaml", Doc("app") + "---\n" + Doc("other")},
      {"b.yaml", Doc("keep") + "---\n" + Doc("app")},
      {"c.yaml", Doc("app", "prod")},  // another namespace: another singleton
  });
  EXPECT_THAT(Errors(r),
              ElementsAre("a.yaml:4:9: metadata.name: singleton \"default/app\" is also defined at "
                          "b.yaml:13:9",
                          "b.yaml:13:9: metadata.name: singleton \"default/app\" is also defined at "
                          "a.yaml:4:9"));
  std::vector<std::string> keys;
  for (const Singleton& s : r.valid) keys.push_back(s.Key());
  EXPECT_THAT(keys, ElementsAre("default/other", "default/keep", "prod/app"));
  ASSERT_THAT(r.invalid, SizeIs(2));
  EXPECT_EQ(r.invalid[0].key, "default/app");
  EXPECT_EQ(r.invalid[0].pos.file, "a.yaml");
  EXPECT_EQ(r.invalid[1].key, "default/app");
  EXPECT_EQ(r.invalid[1].pos.file, "b.yaml");
}

TEST(LoaderTest, ThreeDefinitionsEachNameTheOtherTwoEvenWhenOneIsOtherwiseInvalid) {
  LoadResult r = Load(Doc("app") + "---\n" + Doc("app") + "  standby: 99\n---\n" + Doc("app"));
  EXPECT_THAT(Errors(r),
              ElementsAre("s.yaml:4:9: metadata.name: singleton \"default/app\" is also defined at "
                          "s.yaml:13:9, s.yaml:23:9",
                          "s.yaml:13:9: metadata.name: singleton \"default/app\" is also defined at "
                          "s.yaml:4:9, s.yaml:23:9",
                          "s.yaml:18:12: spec.standby: must be between 0 and 5, got 99",
                          "s.yaml:23:9: metadata.name: singleton \"default/app\" is also defined at "
                          "s.yaml:4:9, s.yaml:13:9"));
  EXPECT_THAT(r.valid, IsEmpty());
  EXPECT_THAT(r.invalid, SizeIs(3));
}

TEST(LoaderTest, ABrokenDocumentStillClaimsItsKey) {
  // The syntax error hides everything but the key read from the text; the good definition of the
  // same key is then ambiguous, so neither is used (the controller leaves the job alone).
  LoadResult r = Load(Doc("app") + "---\n" + Doc("app") + "  adopt: [\n");
  EXPECT_THAT(r.valid, IsEmpty());
  ASSERT_THAT(r.errors, SizeIs(3));
  EXPECT_EQ(r.errors[0].ToString(),
            "s.yaml:4:9: metadata.name: singleton \"default/app\" is also defined at s.yaml:10:1");
}

TEST(LoaderTest, AnInvalidNamespaceStaysInTheKey) {
  // Not "default/app": that would claim (and, as a duplicate, block) another singleton.
  LoadResult r = Load(Doc("app", "bad_ns") + "---\n" + Doc("app"));
  ASSERT_THAT(r.invalid, SizeIs(1));
  EXPECT_EQ(r.invalid[0].key, "bad_ns/app");
  ASSERT_THAT(r.valid, SizeIs(1));
  EXPECT_EQ(r.valid[0].Key(), "default/app");
}

TEST(LoaderTest, InvalidDocumentsKeepTheirKeyWhenTheNameCanBeRead) {
  LoadResult r = Load(Doc("named", "ns1") + "  priority: 0\n---\n" +
                      "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\nmetadata: {}\n"
                      "spec:\n" + kTask);
  ASSERT_THAT(r.invalid, SizeIs(2));
  EXPECT_EQ(r.invalid[0].key, "ns1/named");
  EXPECT_EQ(r.invalid[0].pos.line, 1);
  EXPECT_EQ(r.invalid[1].key, "");
  EXPECT_EQ(r.invalid[1].pos.line, 12);
}

// ---- SpecCheck hook ---------------------------------------------------------------------------

TEST(LoaderTest, SpecCheckRunsOnlyOnOtherwiseValidSingletonsAndInvalidatesThem) {
  std::vector<std::string> checked;
  SpecCheck check = [&](const Singleton& s, std::vector<Diagnostic>& out) {
    checked.push_back(s.metadata.name);
    if (s.spec.lock.ttl < 20s) {
      out.push_back(
          {s.PositionOf("spec.lock.ttl"), "spec.lock.ttl", "too short for the timer rule"});
    }
  };
  LoadResult r = LoadSpecs({{"a.yaml", Doc("short") + "  lock: {ttl: 10s}\n---\n" + Doc("long") +
                                           "  lock: {ttl: 30s}\n---\n" + Doc("bad") +
                                           "  priority: 0\n---\n" + Doc("dup") + "---\n" +
                                           Doc("dup") + "---\n" + Doc("default-ttl")}},
                           check);
  EXPECT_THAT(checked, ElementsAre("short", "long", "default-ttl"));
  EXPECT_THAT(Errors(r),
              ElementsAre("a.yaml:9:15: spec.lock.ttl: too short for the timer rule",
                          "a.yaml:29:13: spec.priority: must be between 1 and 100, got 0",
                          "a.yaml:34:9: metadata.name: singleton \"default/dup\" is also defined at "
                          "a.yaml:43:9",
                          "a.yaml:43:9: metadata.name: singleton \"default/dup\" is also defined at "
                          "a.yaml:34:9",
                          // Not written: the nearest written parent, spec (its first key).
                          "a.yaml:54:3: spec.lock.ttl: too short for the timer rule"));
  std::vector<std::string> valid;
  for (const Singleton& s : r.valid) valid.push_back(s.metadata.name);
  EXPECT_THAT(valid, ElementsAre("long"));
  std::vector<std::string> invalid;
  for (const InvalidSingleton& s : r.invalid) invalid.push_back(s.key);
  EXPECT_THAT(invalid, ElementsAre("default/short", "default/bad", "default/dup", "default/dup",
                                   "default/default-ttl"));
}

// ---- Hostile input ----------------------------------------------------------------------------

TEST(LoaderTest, RecursiveAliasIsRefusedNotFollowed) {
  LoadResult r = Load(std::string(kHead) + kTask + "    env: &x {A: *x}\n");
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_THAT(r.errors[0].message,
              HasSubstr("nested more than 64 levels deep (a recursive alias?)"));
  EXPECT_THAT(r.errors[0].field, HasSubstr("spec.task.env.A.A.A"));
  EXPECT_THAT(r.valid, IsEmpty());
  ASSERT_THAT(r.invalid, SizeIs(1));
}

TEST(LoaderTest, AliasBombIsRefused) {
  std::string bomb = "    config:\n      l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 6; ++i) {
    std::string prev = "*l" + std::to_string(i - 1);
    bomb += "      l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + prev;
    for (int j = 1; j < 10; ++j) bomb += ", " + prev;
    bomb += "]\n";
  }
  LoadResult r = Load(std::string(kHead) + "  task:\n    driver: raw_exec\n" + bomb);
  ASSERT_THAT(r.errors, SizeIs(1));
  EXPECT_THAT(r.errors[0].message, HasSubstr("document has more than 100000 nodes"));
  EXPECT_THAT(r.valid, IsEmpty());
}

TEST(LoaderTest, AliasesWithinLimitsAreExpanded) {
  Singleton s = LoadOne("  task:\n    driver: raw_exec\n    config: {a: &v [1, two], b: *v}\n");
  EXPECT_EQ(s.spec.task->config_json, R"({"a":[1,"two"],"b":[1,"two"]})");
}

}  // namespace
}  // namespace nsg::spec

namespace nsg::spec {
namespace {

// A Nomad client stops its allocations after stop_on_client_after without a heartbeat; below the
// heartbeat interval that stops healthy singletons, so the loader refuses it.
TEST(LoaderTest, StopOnClientAfterBelowTheHeartbeatIntervalIsRefused) {
  EXPECT_THAT(SpecErrors("  failover: {stopOnClientAfter: 20s}\n" + std::string(kTask)),
              ElementsAre("s.yaml:6:33: spec.failover.stopOnClientAfter: must be between 30s and "
                          "24h0m0s, got 20s (a Nomad client stops its allocations when it has not "
                          "heartbeated for this long, and healthy clients of a small cluster "
                          "heartbeat only every 10-20s: a shorter value stops healthy singletons)"));
  EXPECT_EQ(LoadOne("  failover: {stopOnClientAfter: 30s}\n" + std::string(kTask))
                .spec.failover.stop_on_client_after,
            std::chrono::seconds(30));
}

}  // namespace
}  // namespace nsg::spec

namespace nsg::spec {
namespace {

// Many files are read on several threads (LoadSpecs): the result must be what reading each file
// alone gives, in file order — valid singletons, invalid documents and errors alike — with the
// checks run on every valid singleton, and a singleton defined in the first and in the last file
// (read on different threads) still reported twice.
TEST(LoaderTest, ManyFilesLoadAsEachFileAloneAndDuplicatesAcrossThemAreFound) {
  std::vector<SourceFile> files;
  for (int i = 0; i < 400; ++i) {
    const std::string name = "app-" + std::to_string(i);
    std::string text = std::string(kHead).replace(std::string(kHead).find("app"), 3, name) + kTask;
    if (i % 37 == 5) text += "  bogus: 1\n";            // an unknown field
    if (i % 53 == 7) text = "metadata: {name: [\n";     // not YAML
    if (i % 41 == 3) text += "---\n" + std::string(kHead).replace(std::string(kHead).find("app"), 3,
                                                                  name + "-b") + kTask;
    files.push_back({"f" + std::to_string(i) + ".yaml", text});
  }
  files.push_back({"last.yaml", std::string(kHead).replace(std::string(kHead).find("app"), 3,
                                                           "app-0") + kTask});
  std::atomic<int> checked{0};
  const SpecCheck check = [&checked](const Singleton& s, std::vector<Diagnostic>& out) {
    ++checked;
    if (s.metadata.name.ends_with("9")) out.push_back({s.source, "spec", "check refuses *9"});
  };
  const LoadResult all = LoadSpecs(files, check);
  const int all_checked = checked.load();

  LoadResult want;
  int want_checked = 0;
  for (size_t i = 1; i + 1 < files.size(); ++i) {  // the duplicated app-0 aside
    int n = 0;
    const LoadResult one = LoadSpecs({files[i]}, [&](const Singleton& s, std::vector<Diagnostic>& out) {
      ++n;
      check(s, out);
    });
    want_checked += n;
    want.valid.insert(want.valid.end(), one.valid.begin(), one.valid.end());
    want.errors.insert(want.errors.end(), one.errors.begin(), one.errors.end());
    for (const auto& inv : one.invalid) want.invalid.push_back(inv);
  }
  std::vector<std::string> valid_keys, want_keys, invalid_at, want_invalid_at;
  for (const auto& s : all.valid) valid_keys.push_back(s.Key() + "@" + s.source.file);
  for (const auto& s : want.valid) want_keys.push_back(s.Key() + "@" + s.source.file);
  for (const auto& v : all.invalid) {
    if (v.pos.file != "f0.yaml" && v.pos.file != "last.yaml") {
      invalid_at.push_back(v.key + "@" + v.pos.file + ":" + std::to_string(v.pos.line));
    }
  }
  for (const auto& v : want.invalid) want_invalid_at.push_back(v.key + "@" + v.pos.file + ":" + std::to_string(v.pos.line));
  EXPECT_EQ(valid_keys, want_keys);
  EXPECT_EQ(invalid_at, want_invalid_at);
  std::vector<std::string> errors;
  for (const auto& d : all.errors) {
    if (d.pos.file != "f0.yaml" && d.pos.file != "last.yaml") errors.push_back(d.ToString());
  }
  EXPECT_EQ(errors, Errors(want));
  EXPECT_EQ(all_checked, want_checked);  // app-0's two definitions are not checked
  std::vector<std::string> duplicate;
  for (const auto& d : all.errors) {
    if (d.message.find("also defined") != std::string::npos) duplicate.push_back(d.pos.file);
  }
  EXPECT_THAT(duplicate, ElementsAre("f0.yaml", "last.yaml"));
}

}  // namespace
}  // namespace nsg::spec
