// `nomad-singleton lock` flag parsing: it must accept exactly what the renderer emits
// (render::AgentArgs) for every role, and refuse bad usage and unsafe timers with one line.
//
// The cmd sources are compiled into this test directly until controller/cmd/CMakeLists.txt lists
// lock_command.cc (then this can link nsg_cmd and move to tests/cmd).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "controller/cmd/lock_commands.h"
#include "controller/render/job_renderer.h"
#include "controller/spec/singleton.h"

namespace nsg::cmd {
namespace {

using namespace std::chrono_literals;

struct Env {
  std::map<std::string, std::string> vars;
  std::set<std::string> files;
  std::function<const char*(const char*)> getenv() const {
    return [this](const char* k) -> const char* {
      auto it = vars.find(k);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
  std::function<bool(const std::string&)> exists() const {
    return [this](const std::string& p) { return files.count(p) > 0; };
  }
};

Env TaskEnv() {
  Env e;
  e.vars = {{"NOMAD_ALLOC_DIR", "/alloc"},   {"NOMAD_ALLOC_ID", "a1b2"},
            {"NOMAD_JOB_ID", "billing"},     {"NOMAD_NAMESPACE", "prod"},
            {"NOMAD_TOKEN", "jwt"},          {"NOMAD_SECRETS_DIR", "/secrets"},
            {"NOMAD_TASK_NAME", "singleton-lock"}};
  e.files = {"/secrets/api.sock"};
  return e;
}

spec::Singleton Sample(spec::LockMode mode) {
  spec::Singleton s;
  s.metadata.name = "billing";
  s.metadata.namespace_ = "prod";
  s.spec.lock.path = "nomad/jobs/billing/lock";
  s.spec.lock.mode = mode;
  s.spec.task = spec::TaskSpec{};
  s.spec.task->driver = "raw_exec";
  s.spec.task->kill_timeout = 5s;
  return s;
}

base::Result<LockInvocation> Parse(const std::vector<std::string>& argv, const Env& env) {
  return ParseLockArgs(argv, env.getenv(), env.exists());
}

// The renderer's args start with the subcommand name "lock"; LockMain gets what follows.
std::vector<std::string> AfterLock(std::vector<std::string> args) {
  EXPECT_EQ(args.at(0), "lock");
  args.erase(args.begin());
  return args;
}

TEST(LockCliTest, AcceptsWhatTheRendererEmitsForEveryRole) {
  const Env env = TaskEnv();
  struct Case {
    spec::LockMode mode;
    std::string role;
    io::LockMode want;
    std::vector<std::string> tail;
  };
  const Case cases[] = {
      {spec::LockMode::kShim, "shim", io::LockMode::kShim, {"--", "/bin/app", "-v"}},
      {spec::LockMode::kSidecar, "sidecar", io::LockMode::kSidecar, {}},
      {spec::LockMode::kSplit, "acquire", io::LockMode::kAcquireOnly, {}},
      {spec::LockMode::kSplit, "heartbeat", io::LockMode::kHeartbeat, {}},
  };
  for (const auto& c : cases) {
    auto argv = AfterLock(render::AgentArgs(Sample(c.mode), c.role));
    argv.insert(argv.end(), c.tail.begin(), c.tail.end());
    auto inv = Parse(argv, env);
    ASSERT_TRUE(inv.ok()) << c.role << ": " << inv.status().ToString();
    const auto& o = inv->runner;
    EXPECT_EQ(o.mode, c.want) << c.role;
    EXPECT_EQ(o.config.path, "nomad/jobs/billing/lock");
    EXPECT_EQ(o.config.ttl, 15s);
    EXPECT_EQ(o.config.delay, 15s);
    EXPECT_EQ(o.config.give_up, 15s);
    EXPECT_EQ(o.config.kill_timeout, 5s);
    EXPECT_EQ(o.config.guard_poll, 250ms);  // every mode runs the workload under a guard
    EXPECT_EQ(o.config.namespace_, "prod");
    EXPECT_EQ(o.state_dir, "/alloc/singleton");
    EXPECT_EQ(o.holder, "a1b2");
    EXPECT_EQ(o.config.lock_id.size(), 36u);
    EXPECT_EQ(o.config.holder_items.at("alloc_id"), "a1b2");
    EXPECT_EQ(o.config.holder_items.at("job_id"), "billing");
    EXPECT_EQ(o.config.holder_items.at("namespace"), "prod");
    EXPECT_TRUE(o.config.holder_items.count("agent_version"));
    EXPECT_EQ(inv->address, "unix:///secrets/api.sock");  // the Task API socket
    if (c.want == io::LockMode::kShim) {
      EXPECT_EQ(o.command, (std::vector<std::string>{"/bin/app", "-v"}));
    }
  }
}

TEST(LockCliTest, DefaultsAndOverrides) {
  Env env;
  auto inv = Parse({"--path", "locks/x", "--", "app"}, env);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->runner.config.ttl, 15s);
  EXPECT_EQ(inv->runner.config.give_up, 15s);  // = the TTL
  EXPECT_EQ(inv->runner.state_dir, "");         // shim outside Nomad: no epoch file
  EXPECT_EQ(inv->address, "");
  auto o = Parse({"--path=locks/x", "--ttl=20s", "--give-up", "14s", "--address", "http://n:4646",
                  "--namespace", "ops", "--dir", "/tmp/s", "--", "app"},
                 TaskEnv());
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->runner.config.ttl, 20s);
  EXPECT_EQ(o->runner.config.give_up, 14s);
  EXPECT_EQ(o->address, "http://n:4646");
  EXPECT_EQ(o->runner.config.namespace_, "ops");
  EXPECT_EQ(o->runner.state_dir, "/tmp/s");
  EXPECT_TRUE(Parse({"--help"}, env)->help);
}

TEST(LockCliTest, RefusesBadUsageWithOneLine) {
  const Env env = TaskEnv();
  struct Case {
    std::vector<std::string> argv;
    std::string want;
  };
  const Case cases[] = {
      {{"--path", "p"}, "no command"},
      {{"--", "app"}, "--path is required"},
      {{"--path", "p", "--sidecar", "--", "app"}, "only for shim mode"},
      {{"--path", "p", "--sidecar", "--heartbeat"}, "exclude each other"},
      {{"--path", "p", "--ttl", "15", "--", "app"}, "--ttl"},
      {{"--path", "p", "--ttl", "5s", "--", "app"}, "between 10s and 24h"},
      {{"--path", "p", "--give-up", "2s", "--", "app"}, "two renew intervals"},
      {{"--path", "p", "--give-up", "40s", "--", "app"}, "timer rule broken"},
      {{"--path", "p", "--kill-timeout", "40s", "--", "app"}, "timer rule broken"},
      {{"--path", "p", "--bogus", "--", "app"}, "unknown flag --bogus"},
      {{"--path", "p", "stray", "--", "app"}, "unexpected argument"},
      {{"--path", "bad path", "--", "app"}, "a lock path"},
  };
  for (const auto& c : cases) {
    auto inv = Parse(c.argv, env);
    ASSERT_FALSE(inv.ok()) << c.want;
    EXPECT_NE(inv.status().message().find(c.want), std::string::npos)
        << c.want << " / got: " << inv.status().message();
    EXPECT_EQ(inv.status().message().find('\n'), std::string::npos);
  }
  Env no_alloc;
  auto side = Parse({"--path", "p", "--sidecar"}, no_alloc);
  ASSERT_FALSE(side.ok());
  EXPECT_NE(side.status().message().find("NOMAD_ALLOC_DIR"), std::string::npos);
}

TEST(LockCliTest, EveryRunGetsItsOwnLockId) {
  const Env env = TaskEnv();
  auto a = Parse({"--path", "p", "--sidecar"}, env);
  auto b = Parse({"--path", "p", "--sidecar"}, env);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->runner.config.lock_id, b->runner.config.lock_id);
  EXPECT_EQ(a->runner.config.lock_id[14], '4');  // UUID v4
}

}  // namespace
}  // namespace nsg::cmd
