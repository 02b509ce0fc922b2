// `nomad-singleton status` end to end: the real binary against a tiny HTTP server on 127.0.0.1
// port 0 that serves a canned /status document shaped like the controller's (StatusJson in
// controller/app/controller.cc). Asserts the table a person reads, the exit codes CI gates on
// (0 all Ready, 2 some not, 1 unreachable or not a controller) and --json.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cmd/binary_runner.h"
#include "tests/nomad_client/test_http_server.h"

namespace nsg::cmd {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using io::testing::HttpResponseBytes;
using io::testing::ServedRequest;
using io::testing::TestConn;
using io::testing::TestHttpServer;
using Json = nlohmann::json;
using testing::RunResult;

double NowUnix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json Condition(const std::string& type, bool status, const std::string& reason) {
  return {{"type", type}, {"status", status}, {"reason", reason}, {"message", ""}};
}

Json Alloc(const std::string& id, const std::string& client_status) {
  return {{"id", id}, {"node", "node-1"}, {"client_status", client_status},
          {"desired_status", "run"}};
}

// A Ready hot-standby singleton: holder + 1 standby running, one failover 5 minutes ago.
Json ReadySingleton() {
  Json s;
  s["singleton"] = "prod/billing";
  s["source"] = "specs/billing.yaml";
  s["valid"] = true;
  s["errors"] = Json::array();
  s["job"] = {{"id", "billing"}, {"namespace", "prod"}, {"version", 3}, {"type", "service"},
              {"periodic", false}, {"job_modify_index", 120}, {"owned", true},
              {"spec_hash", "abc"}};
  s["allocations"] = {Alloc("aaaaaaaa-1111-2222-3333-444444444444", "running"),
                      Alloc("bbbbbbbb-1111-2222-3333-444444444444", "running"),
                      Alloc("cccccccc-1111-2222-3333-444444444444", "complete")};
  s["conditions"] = {Condition("Ready", true, "HolderRunning"),
                     Condition("Synced", true, "UpToDate"),
                     Condition("Degraded", false, "AsExpected")};
  s["last_reconcile"] = {{"result", "done"}, {"error", ""}, {"executed", Json::array()},
                         {"at", NowUnix()}};
  s["lock"] = {{"holder", "aaaaaaaa-1111-2222-3333-444444444444"}, {"epoch", 4242}};
  s["desired_allocations"] = 2;
  s["last_failover"] = {{"duration_seconds", 31.24}, {"at", NowUnix() - 300.2}};
  return s;
}

// Three running where two are wanted: the controller is stopping the extra.
Json DegradedSingleton() {
  Json s = ReadySingleton();
  s["singleton"] = "prod/web";
  s["job"]["id"] = "web";
  s["job"]["version"] = 7;
  s["allocations"].push_back(Alloc("dddddddd-1111-2222-3333-444444444444", "running"));
  s["conditions"] = {Condition("Ready", false, "Duplicates"),
                     Condition("Synced", true, "UpToDate"),
                     Condition("Degraded", true, "Duplicates")};
  s["lock"]["epoch"] = 77;
  s.erase("last_failover");
  return s;
}

// What every controller sends for a singleton whose spec is invalid and that has no job: no lock,
// desired_allocations or last_failover fields.
Json InvalidSingleton() {
  Json s;
  s["singleton"] = "ops/broken";
  s["source"] = "specs/broken.yaml";
  s["valid"] = false;
  s["errors"] = {"specs/broken.yaml:4:3: spec.lock.ttl: must be at least 10s"};
  s["job"] = nullptr;
  s["allocations"] = Json::array();
  s["conditions"] = {Condition("Ready", false, "SpecInvalid"),
                     Condition("Synced", false, "SpecInvalid"),
                     Condition("Degraded", false, "AsExpected"),
                     Condition("Invalid", true, "SpecInvalid")};
  return s;
}

Json Document(bool synced, std::vector<Json> singletons) {
  return {{"ready", synced}, {"dry_run", false}, {"prune", false},
          {"singletons", std::move(singletons)}};
}

// A port nothing listens on: bound, learned, closed.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The table row whose first cell is `singleton`, split on runs of 2+ spaces.
std::vector<std::string> RowOf(const std::string& out, const std::string& singleton) {
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(singleton + " ", 0) != 0) continue;
    std::vector<std::string> cells;
    size_t i = 0;
    while (i < line.size()) {
      size_t gap = line.find("  ", i);
      cells.push_back(line.substr(i, gap == std::string::npos ? std::string::npos : gap - i));
      if (gap == std::string::npos) break;
      i = line.find_first_not_of(' ', gap);
    }
    return cells;
  }
  return {};
}

class StatusCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nsg-status-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Serves `status` with `body` on every request.
  void Serve(int status, std::string body) {
    server_ = TestHttpServer::StartTcp(
        [status, body = std::move(body)](const ServedRequest&, TestConn& conn) {
          conn.Write(HttpResponseBytes(status, body));
          conn.Close();
        });
    ASSERT_NE(server_, nullptr);
    addr_ = "127.0.0.1:" + std::to_string(server_->port());
  }

  RunResult Status(std::vector<std::string> args) {
    args.insert(args.begin(), "status");
    return testing::RunBinary(NSG_BINARY, args, dir_);
  }

  fs::path dir_;
  std::unique_ptr<TestHttpServer> server_;
  std::string addr_;
};

TEST_F(StatusCliTest, TableShowsEverySingletonAndExits2WhenOneIsNotReady) {
  Serve(200, Document(true, {ReadySingleton(), DegradedSingleton(), InvalidSingleton()}).dump(2));
  RunResult r = Status({"--addr", addr_});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("controller " + addr_ + ": synced; 1 of 3 singletons ready\n"));
  EXPECT_THAT(r.out, HasSubstr("SINGLETON     VALID  JOB        ALLOCS"));

  EXPECT_THAT(RowOf(r.out, "prod/billing"),
              ElementsAre("prod/billing", "yes", "billing@3", "2/2 (holder+1 standby)",
                          "aaaaaaaa", "4242", "yes", "yes", "no",
                          AllOf(HasSubstr("31.2s, 5m"), HasSubstr("s ago"))))
      << r.out;
  EXPECT_THAT(RowOf(r.out, "prod/web"),
              ElementsAre("prod/web", "yes", "web@7", "3/2 (holder+1 standby+1 extra)",
                          "aaaaaaaa", "77", "no (Duplicates)", "yes", "yes (Duplicates)", "-"));
  // The fields every controller sends, and nothing more.
  EXPECT_THAT(RowOf(r.out, "ops/broken"),
              ElementsAre("ops/broken", "no", "-", "0", "-", "-", "no (SpecInvalid)",
                          "no (SpecInvalid)", "no", "-"));

  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].method, "GET");
  EXPECT_EQ(server_->requests()[0].target, "/status");
}

TEST_F(StatusCliTest, AllReadyExits0) {
  Serve(200, Document(true, {ReadySingleton()}).dump());
  RunResult r = Status({"--addr", "http://" + addr_});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 of 1 singletons ready"));
}

TEST_F(StatusCliTest, GitSourceLineWithItsRevisionAndLastError) {
  Json doc = Document(true, {ReadySingleton()});
  doc["git"] = {{"url", "https://git.example/ops.git"},
                {"ref", "main"},
                {"path", "prod"},
                {"revision", "0123456789abcdef0123456789abcdef01234567"},
                {"last_change_forced", true},
                {"last_error", "connect to https://git.example/ops.git: timed out"}};
  Serve(200, doc.dump());
  RunResult r = Status({"--addr", addr_});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("git https://git.example/ops.git main: at 0123456789ab "
                               "(force-pushed); last fetch failed, nothing is pruned until one "
                               "succeeds: connect to https://git.example/ops.git: timed out\n"));
  doc["git"]["last_error"] = nullptr;
  doc["git"]["last_change_forced"] = false;
  Serve(200, doc.dump());
  r = Status({"--addr", addr_});
  EXPECT_THAT(r.out, HasSubstr("git https://git.example/ops.git main: at 0123456789ab\n"));
}

TEST_F(StatusCliTest, FirstSyncPendingIsNotReadyEvenWithNoSingletons) {
  Serve(200, Document(false, {}).dump());
  RunResult r = Status({"--addr", addr_});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.out, HasSubstr("not ready (first sync with Nomad pending)"));
  EXPECT_THAT(r.out, Not(HasSubstr("SINGLETON")));
}

TEST_F(StatusCliTest, JsonPassesTheDocumentThroughAndKeepsTheExitCode) {
  const std::string body = Document(true, {ReadySingleton(), DegradedSingleton()}).dump(2) + "\n";
  Serve(200, body);
  RunResult r = Status({"--addr", addr_, "--json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, body);
}

TEST_F(StatusCliTest, UnreachableControllerSaysWhereAndHowToPointElsewhere) {
  const std::string addr = "127.0.0.1:" + std::to_string(ClosedPort());
  RunResult r = Status({"--addr", addr});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("cannot reach the controller at " + addr));
  EXPECT_THAT(r.err, HasSubstr("--addr"));
}

TEST_F(StatusCliTest, SomethingElseAnsweringIsAnError) {
  Serve(404, "404 page not found\n");
  RunResult r = Status({"--addr", addr_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("answered HTTP 404 to GET /status"));

  Serve(200, "<html>hello</html>");
  r = Status({"--addr", addr_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("is not a nomad-singleton controller status document"));
}

// A controller started with --http-token-file answers 401 without its token; --token-file sends
// the same file's token as a bearer token.
TEST_F(StatusCliTest, TokenFileSendsTheBearerToken) {
  const std::string body = Document(true, {ReadySingleton()}).dump();
  server_ = TestHttpServer::StartTcp([body](const ServedRequest& req, TestConn& conn) {
    const bool ok = req.Header("authorization") == "Bearer s3cret";
    conn.Write(HttpResponseBytes(ok ? 200 : 401, ok ? body : "unauthorized\n"));
    conn.Close();
  });
  ASSERT_NE(server_, nullptr);
  addr_ = "127.0.0.1:" + std::to_string(server_->port());
  RunResult r = Status({"--addr", addr_});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("wants a bearer token"));
  std::ofstream(dir_ / "wrong") << "nope\n";
  r = Status({"--addr", addr_, "--token-file", (dir_ / "wrong").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("not the one it was started with"));
  std::ofstream(dir_ / "token") << "s3cret\n";
  r = Status({"--addr", addr_, "--token-file", (dir_ / "token").string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 of 1 singletons ready"));
  r = Status({"--addr", addr_, "--token-file", (dir_ / "missing").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--token-file"));
}

TEST_F(StatusCliTest, UsageErrors) {
  RunResult r = Status({"--bogus"});
  EXPECT_EQ(r.code, 2);
  r = Status({"--addr", "not a host:port"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("--addr not a host:port"));
  r = Status({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("Usage: nomad-singleton status"));
}

}  // namespace
}  // namespace nsg::cmd
