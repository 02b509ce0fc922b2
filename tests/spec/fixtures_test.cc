// The shared fixtures, seen by the C++ loader: every example under manifests/examples/ loads with
// zero errors, and every file under tests/spec/bad/ fails with the diagnostic its "# expect:"
// line names. tests/spec/check_schema.py checks the same files against the JSON Schema, so the
// two validators cannot drift apart on them. Also checks that the schema's defaults are the
// constants in singleton.h.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "controller/spec/loader.h"

namespace nsg::spec {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::IsEmpty;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> YamlFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const fs::path ext = e.path().extension();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

const fs::path kRoot = NSG_SOURCE_DIR;

TEST(FixturesTest, EveryExampleLoadsWithoutErrors) {
  std::vector<fs::path> files = YamlFiles(kRoot / "manifests" / "examples");
  ASSERT_GE(files.size(), 7u);
  std::vector<SourceFile> sources;
  for (const fs::path& p : files) sources.push_back({p.filename().string(), ReadFile(p)});
  LoadResult r = LoadSpecs(sources);
  std::vector<std::string> errors;
  for (const Diagnostic& d : r.errors) errors.push_back(d.ToString());
  EXPECT_THAT(errors, IsEmpty());
  EXPECT_THAT(r.invalid, IsEmpty());
  EXPECT_EQ(r.valid.size(), files.size());  // one singleton per example file

  // The examples cover the shapes the brief promises.
  bool sidecar = false, shim_service = false, split = false, standby = false, batch = false,
       periodic = false, templ = false, docker = false;
  for (const Singleton& s : r.valid) {
    bool service = s.spec.type == JobType::kService;
    sidecar |= service && s.spec.lock.mode == LockMode::kSidecar;
    shim_service |= service && s.spec.lock.mode == LockMode::kShim;
    split |= s.spec.lock.mode == LockMode::kSplit;
    standby |= s.spec.standby > 0;
    batch |= !service && s.spec.schedule.empty() && s.spec.lock.mode == LockMode::kShim;
    periodic |= !s.spec.schedule.empty();
    templ |= !s.spec.template_json.empty();
    docker |= s.spec.task && s.spec.task->driver == "docker";
  }
  EXPECT_TRUE(sidecar && shim_service && split && standby && batch && periodic && templ && docker);
}

TEST(FixturesTest, EveryBadFileFailsWithItsExpectedDiagnostic) {
  std::vector<fs::path> files = YamlFiles(kRoot / "tests" / "spec" / "bad");
  ASSERT_FALSE(files.empty());
  for (const fs::path& p : files) {
    std::string text = ReadFile(p);
    const std::string marker = "# expect: ";
    size_t at = text.find(marker);
    ASSERT_NE(at, std::string::npos) << p << " has no \"# expect:\" line";
    size_t end = text.find('\n', at);
    std::string expected = "bad.yaml:" + text.substr(at + marker.size(), end - at - marker.size());

    LoadResult r = LoadSpecs({{"bad.yaml", text}});
    EXPECT_FALSE(r.ok()) << p;
    EXPECT_TRUE(r.valid.empty()) << p;
    std::vector<std::string> errors;
    for (const Diagnostic& d : r.errors) errors.push_back(d.ToString());
    EXPECT_THAT(errors, Contains(expected)) << p;
  }
}

// The JSON Schema is the documentation editors show; its defaults must be the loader's.
TEST(FixturesTest, SchemaDefaultsAreTheLoaderDefaults) {
  nlohmann::json schema = nlohmann::json::parse(ReadFile(kRoot / "crd" / "singleton.schema.json"));
  const nlohmann::json& spec = schema["properties"]["spec"]["properties"];
  const nlohmann::json& defs = schema["$defs"];
  auto dur = [](const nlohmann::json& node) {
    auto d = base::ParseDuration(node["default"].get<std::string>());
    EXPECT_TRUE(d.ok());
    return d.ok() ? *d : Duration(-1);
  };
  Singleton s;  // the model's own defaults (service)
  EXPECT_EQ(schema["properties"]["apiVersion"]["const"], kApiVersion);
  EXPECT_EQ(schema["properties"]["kind"]["const"], kKind);
  EXPECT_EQ(schema["properties"]["metadata"]["properties"]["namespace"]["default"],
            kDefaultNamespace);
  EXPECT_EQ(spec["region"]["default"], kDefaultRegion);
  EXPECT_EQ(spec["priority"]["default"], kDefaultPriority);
  EXPECT_EQ(spec["priority"]["minimum"], kMinPriority);
  EXPECT_EQ(spec["priority"]["maximum"], kMaxPriority);
  EXPECT_EQ(spec["adopt"]["default"], false);
  EXPECT_EQ(spec["standby"]["maximum"], kMaxStandby);
  const nlohmann::json& lock = spec["lock"]["properties"];
  EXPECT_EQ(dur(lock["ttl"]), kDefaultLockTtl);
  EXPECT_EQ(dur(lock["delay"]), kDefaultLockDelay);
  const nlohmann::json& agent = lock["agent"]["properties"];
  EXPECT_EQ(agent["driver"]["default"], AgentDriverName(s.spec.lock.agent.driver));
  EXPECT_EQ(agent["command"]["default"], kDefaultAgentCommand);
  // The schema documents the stock build's default; a build may set another (singleton.h).
  EXPECT_EQ(agent["image"]["default"], NSG_STOCK_LOCK_IMAGE);
  EXPECT_EQ(defs["agentResources"]["properties"]["cpu"]["default"], kDefaultAgentCpu);
  EXPECT_EQ(defs["agentResources"]["properties"]["memoryMB"]["default"], kDefaultAgentMemoryMb);
  EXPECT_EQ(defs["taskResources"]["properties"]["cpu"]["default"], kDefaultTaskCpu);
  EXPECT_EQ(defs["taskResources"]["properties"]["memoryMB"]["default"], kDefaultTaskMemoryMb);
  const nlohmann::json& failover = spec["failover"]["properties"];
  EXPECT_EQ(dur(failover["stopOnClientAfter"]), kDefaultStopOnClientAfter);
  const nlohmann::json& restart = failover["restart"]["properties"];
  EXPECT_EQ(restart["attempts"]["default"], kDefaultRestartAttempts);
  EXPECT_EQ(dur(restart["interval"]), kDefaultRestartInterval);
  EXPECT_EQ(dur(restart["delay"]), kDefaultRestartDelay);
  EXPECT_EQ(restart["mode"]["default"], kDefaultRestartMode);
  const nlohmann::json& resched = failover["reschedule"]["properties"];
  EXPECT_EQ(resched["attempts"]["default"], s.spec.failover.reschedule.attempts);
  EXPECT_EQ(dur(resched["interval"]), s.spec.failover.reschedule.interval);
  EXPECT_EQ(dur(resched["delay"]), kDefaultRescheduleDelay);
  EXPECT_EQ(resched["delayFunction"]["default"], kDefaultRescheduleDelayFunction);
  EXPECT_EQ(dur(resched["maxDelay"]), kDefaultRescheduleMaxDelay);
  EXPECT_EQ(resched["unlimited"]["default"], s.spec.failover.reschedule.unlimited);
  const nlohmann::json& task = spec["task"]["properties"];
  EXPECT_EQ(task["name"]["default"], kDefaultTaskName);
  EXPECT_EQ(dur(task["killTimeout"]), kDefaultKillTimeout);
}

}  // namespace
}  // namespace nsg::spec
