// End-to-end tests of the nomad-singleton binary's offline commands (validate, render, version):
// exit codes, what goes to stdout and stderr, and that the output is usable.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "controller/cmd/cli.h"
#include "tests/cmd/binary_runner.h"

namespace nsg::cmd {
namespace {

namespace fs = std::filesystem;

using testing::RunBinary;
using testing::RunResult;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nsg-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  RunResult Exec(const std::vector<std::string>& args) { return RunBinary(NSG_BINARY, args, dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / "specs" / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }

  fs::path dir_;
};

const char kGood[] = R"(apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata: {name: good-one}
spec:
  task:
    driver: raw_exec
    config: {command: /bin/sleep, args: ["3600"]}
)";

const char kBadTtl[] = R"(apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata: {name: bad-one}
spec:
  lock:
    ttl: 5s
  task:
    driver: raw_exec
    config: {command: /bin/true}
)";

TEST_F(CliTest, ValidateAcceptsTheExamples) {
  RunResult r = Exec({"validate", std::string(NSG_SOURCE_DIR) + "/manifests/examples"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("0 invalid, 0 errors"), std::string::npos) << r.out;
}

TEST_F(CliTest, ValidateReportsTheBadFileAndKeepsTheGoodOne) {
  Write("a-good.yaml", kGood);
  std::string bad = Write("b-bad.yml", kBadTtl);
  Write("ignored.txt", "not yaml: [");
  RunResult r = Exec({"validate", (dir_ / "specs").string()});
  EXPECT_EQ(r.code, kExitInvalid);
  // The error names the file, the line and column of the value, and the field.
  EXPECT_NE(r.err.find(bad + ":6:10: spec.lock.ttl:"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("valid    default/good-one"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("invalid  default/bad-one"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 valid, 1 invalid, 1 error\n"), std::string::npos) << r.out;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Exec({"validate"}).code, kExitUsage);
  EXPECT_EQ(Exec({"validate", "--bogus", "x"}).code, kExitUsage);
  EXPECT_EQ(Exec({"render", "--format", "yaml", "x"}).code, kExitUsage);
  EXPECT_EQ(Exec({"no-such-command"}).code, kExitUsage);
  EXPECT_EQ(Exec({}).code, kExitUsage);
}

TEST_F(CliTest, MissingPathIsAnErrorNamingIt) {
  RunResult r = Exec({"validate", (dir_ / "nope").string()});
  EXPECT_EQ(r.code, kExitInvalid);
  EXPECT_NE(r.err.find((dir_ / "nope").string()), std::string::npos) << r.err;
}

TEST_F(CliTest, ValidateFailsOnAnUnreadableSubdirectoryNamingIt) {
  Write("a.yaml", kGood);
  Write("locked/b.yaml", kGood);
  const fs::path locked = dir_ / "specs" / "locked";
  fs::permissions(locked, fs::perms::none);
  std::string binary = NSG_BINARY;
  std::vector<std::string> args = {"validate", (dir_ / "specs").string()};
  if (::geteuid() == 0) {
    // Root reads through chmod 000; without these two capabilities (also after exec) it cannot.
    if (!fs::exists("/usr/bin/setpriv")) {
      fs::permissions(locked, fs::perms::owner_all);
      GTEST_SKIP() << "running as root without /usr/bin/setpriv: chmod 000 cannot bind root";
    }
    args.insert(args.begin(), {"--bounding-set=-dac_override,-dac_read_search",
                               "--inh-caps=-dac_override,-dac_read_search", binary});
    binary = "/usr/bin/setpriv";
  }
  RunResult r = RunBinary(binary, args, dir_);
  fs::permissions(locked, fs::perms::owner_all);
  EXPECT_EQ(r.code, kExitInvalid) << r.out << r.err;
  EXPECT_NE(r.err.find(locked.string() + ": cannot read: Permission denied\n"), std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("1 valid, 0 invalid, 1 error\n"), std::string::npos) << r.out;
}

TEST_F(CliTest, ValidateRefusesAFileLargerThanTheCapWithoutReadingIt) {
  std::string big = Write("big.yaml", std::string(kGood) + "# " + std::string(2 << 20, 'x') + "\n");
  RunResult r = Exec({"validate", big});
  EXPECT_EQ(r.code, kExitInvalid) << r.out << r.err;
  EXPECT_NE(r.err.find(big + ": cannot read: larger than 1 MiB"), std::string::npos) << r.err;
}

TEST_F(CliTest, HelpTellsTheTruth) {
  RunResult top = Exec({"--help"});
  EXPECT_EQ(top.code, kExitOk);
  for (const char* c : {"validate", "render", "version"}) {
    EXPECT_NE(top.out.find(std::string("  ") + c), std::string::npos) << c;
  }
  for (const char* sub : {"validate", "render", "version"}) {
    RunResult r = Exec({sub, "--help"});
    EXPECT_EQ(r.code, kExitOk) << sub;
    EXPECT_NE(r.out.find("Usage: nomad-singleton"), std::string::npos) << sub;
  }
}

TEST_F(CliTest, RenderPrintsRegisterBodiesAndPolicies) {
  std::string good = Write("good.yaml", kGood);
  RunResult r = Exec({"render", good});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_TRUE(doc.is_array());
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0]["Singleton"], "default/good-one");
  EXPECT_EQ(doc[0]["Register"]["Job"]["ID"], "good-one");
  EXPECT_EQ(doc[0]["Register"]["Job"]["TaskGroups"][0]["Count"], 1);
  EXPECT_EQ(doc[0]["ACLPolicy"]["JobACL"]["JobID"], "good-one");
}

TEST_F(CliTest, RenderSkipsInvalidSpecsButRendersTheRest) {
  Write("a.yaml", kGood);
  Write("b.yaml", kBadTtl);
  RunResult r = Exec({"render", (dir_ / "specs").string()});
  EXPECT_EQ(r.code, kExitInvalid);
  auto doc = nlohmann::json::parse(r.out);
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0]["Singleton"], "default/good-one");
  EXPECT_NE(r.err.find("spec.lock.ttl"), std::string::npos) << r.err;
}

TEST_F(CliTest, RenderExplainAndOut) {
  std::string good = Write("good.yaml", kGood);
  RunResult e = Exec({"render", "--explain", good});
  ASSERT_EQ(e.code, kExitOk) << e.err;
  EXPECT_NE(e.out.find("worst-case overlap:"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("task singleton-lock [raw_exec] leader identity-env"), std::string::npos)
      << e.out;
  RunResult o = Exec({"render", "--out", (dir_ / "out").string(), good});
  ASSERT_EQ(o.code, kExitOk) << o.err;
  auto job = nlohmann::json::parse(testing::SlurpFile(dir_ / "out/default/good-one.job.json"));
  EXPECT_EQ(job["Job"]["ID"], "good-one");
  auto pol = nlohmann::json::parse(testing::SlurpFile(dir_ / "out/default/good-one.policy.json"));
  EXPECT_EQ(pol["Name"], "nomad-singleton-default-good-one");
}

// `simulate` end to end through the binary: random worlds pass, the user's specs can be
// simulated, a negative control reports its overlaps (exit 0 only because it found them), and a
// bad flag is a usage error.
TEST_F(CliTest, SimulateRunsWorldsControlsAndUserSpecs) {
  RunResult r = Exec({"simulate", "--seeds", "3"});
  ASSERT_EQ(r.code, kExitOk) << r.out << r.err;
  EXPECT_NE(r.out.find("3 world(s) from seed 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(": 0 with violations"), std::string::npos) << r.out;

  EXPECT_NE(r.out.find("Nomad 2.0.5"), std::string::npos) << r.out;  // the default profile

  RunResult mine = Exec({"simulate", "--seeds", "2", "--nomad-version", "1.11",
                         std::string(NSG_SOURCE_DIR) + "/manifests/examples"});
  ASSERT_EQ(mine.code, kExitOk) << mine.out << mine.err;
  EXPECT_NE(mine.out.find("2 world(s) from seed 1, Nomad 1.11.3"), std::string::npos) << mine.out;

  RunResult control = Exec({"simulate", "--control", "plain", "--seeds", "5"});
  ASSERT_EQ(control.code, kExitOk) << control.out << control.err;
  EXPECT_NE(control.out.find("control: overlaps found"), std::string::npos) << control.out;

  RunResult replay = Exec({"simulate", "--seed", "7", "--trace"});
  ASSERT_EQ(replay.code, kExitOk);
  EXPECT_NE(replay.out.find("controller-1 started"), std::string::npos);

  EXPECT_EQ(Exec({"simulate", "--seeds", "many"}).code, kExitUsage);
  EXPECT_EQ(Exec({"simulate", "--control", "nope"}).code, kExitUsage);

  RunResult only = Exec({"simulate", "--seed", "3", "--faults", "alloc-freeze,disk-full",
                         "--trace"});
  ASSERT_EQ(only.code, kExitOk) << only.out << only.err;
  EXPECT_NE(only.out.find("FAULT allocation "), std::string::npos) << only.out;
  EXPECT_EQ(only.out.find("FAULT server leadership"), std::string::npos);  // not drawn
  RunResult unknown = Exec({"simulate", "--faults", "node-crash,meteor"});
  EXPECT_EQ(unknown.code, kExitUsage);
  EXPECT_NE(unknown.err.find("unknown fault kind \"meteor\""), std::string::npos) << unknown.err;
  RunResult bad_version = Exec({"simulate", "--nomad-version", "1.12"});
  EXPECT_EQ(bad_version.code, kExitUsage);
  EXPECT_NE(bad_version.err.find("profiles: 1.10 (1.10.5), 1.11 (1.11.3), 2.0 (2.0.5)"),
            std::string::npos)
      << bad_version.err;
}

TEST_F(CliTest, VersionPrintsTheVersion) {
  RunResult r = Exec({"version"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out.rfind("nomad-singleton 0.1.0 (git ", 0), 0u) << r.out;
}

}  // namespace
}  // namespace nsg::cmd
