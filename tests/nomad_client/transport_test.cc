// CpprestTransport and AsioTransport (TCP, TLS, Unix socket) against local test servers on
// 127.0.0.1 port 0 and a Unix socket in a temp dir.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "controller/nomad_client/http_transport.h"
#include "controller/nomad_client/unix_socket_transport.h"
#include "tests/nomad_client/test_http_server.h"
#include "tests/test_support/wait.h"

namespace nsg::io {
namespace {

using base::StatusCode;
using ::testing::HasSubstr;
using testing::Chunk;
using testing::HttpResponseBytes;
using testing::ServedRequest;
using testing::TestConn;
using testing::TestHttpServer;
using test_support::WaitUntil;

using Clock = std::chrono::steady_clock;

// Collects a streamed response and lets a test wait for what arrived so far.
class Collector final : public StreamHandler {
 public:
  bool OnHeaders(int status, const Headers& h) override {
    std::lock_guard lock(mu_);
    status_ = status;
    content_type_ = h.Get("content-type");
    return true;
  }
  bool OnData(std::string_view bytes) override {
    std::lock_guard lock(mu_);
    data_.append(bytes);
    return !stop_after_ || data_.size() < stop_after_;
  }
  std::string data() {
    std::lock_guard lock(mu_);
    return data_;
  }
  int status() {
    std::lock_guard lock(mu_);
    return status_;
  }
  void StopAfter(size_t n) { stop_after_ = n; }

 private:
  std::mutex mu_;
  int status_ = 0;
  std::string content_type_;
  std::string data_;
  size_t stop_after_ = 0;
};

enum class Kind { kCpprest, kAsio };

std::unique_ptr<Transport> MakeFor(Kind kind, const ClientConfig& cfg) {
  if (kind == Kind::kCpprest) {
    auto t = CpprestTransport::Create(cfg);
    return t.ok() ? std::unique_ptr<Transport>(std::move(*t)) : nullptr;
  }
  auto t = AsioTransport::Create(cfg);
  return t.ok() ? std::unique_ptr<Transport>(std::move(*t)) : nullptr;
}

class TransportTest : public ::testing::TestWithParam<Kind> {
 protected:
  std::unique_ptr<Transport> Make(const std::string& url) {
    ClientConfig cfg;
    cfg.address = url;
    return MakeFor(GetParam(), cfg);
  }
};

TEST_P(TransportTest, RoundTripSendsTheRequestAndReadsEveryFraming) {
  auto server = TestHttpServer::StartTcp([](const ServedRequest& req, TestConn& conn) {
    if (req.target.rfind("/chunked", 0) == 0) {
      conn.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Nomad-Index: 7\r\n\r\n");
      conn.Write(Chunk("[1,") + Chunk("2]") + Chunk(""));
    } else if (req.target.rfind("/close", 0) == 0) {
      conn.Write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-close");
      conn.Close();
    } else if (req.target.rfind("/missing", 0) == 0) {
      conn.Write(HttpResponseBytes(404, "job not found", {}, "text/plain"));
    } else {
      conn.Write(HttpResponseBytes(200, "echo:" + req.body, {{"X-Nomad-Knownleader", "true"}}));
    }
  });
  ASSERT_NE(server, nullptr);
  auto t = Make(server->url());
  ASSERT_NE(t, nullptr);

  HttpRequest r;
  r.method = "PUT";
  r.path = "/v1/var/a";
  r.query = {{"lock-acquire", ""}, {"namespace", "*"}};
  r.headers.Add("X-Nomad-Token", "tok");
  r.body = R"({"Path":"a"})";
  auto resp = t->RoundTrip(r, {});
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, R"(echo:{"Path":"a"})");
  EXPECT_EQ(resp->headers.Get("x-nomad-knownleader"), "true");
  ServedRequest got = server->requests().back();
  EXPECT_EQ(got.method, "PUT");
  EXPECT_EQ(got.target, "/v1/var/a?lock-acquire&namespace=%2A");
  EXPECT_EQ(got.Header("x-nomad-token"), "tok");
  EXPECT_EQ(got.Header("content-type"), "application/json");

  r = HttpRequest();
  r.path = "/chunked";
  resp = t->RoundTrip(r, {});
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->body, "[1,2]");
  EXPECT_EQ(resp->headers.Get("X-Nomad-Index"), "7");

  r.path = "/close";
  resp = t->RoundTrip(r, {});
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->body, "until-close");

  r.path = "/missing";
  resp = t->RoundTrip(r, {});
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->status, 404);
  EXPECT_EQ(resp->body, "job not found");
}

TEST_P(TransportTest, TotalDeadlineIsEnforcedEvenWhenBytesKeepTrickling) {
  // One byte every 50 ms: an inactivity timeout would never fire.
  auto server = TestHttpServer::StartTcp([](const ServedRequest&, TestConn& conn) {
    conn.Write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    for (int i = 0; i < 100; ++i) {
      if (!conn.Write("x")) return;
      if (conn.WaitPeerClosed(50)) return;
    }
  });
  auto t = Make(server->url());
  HttpRequest r;
  r.path = "/slow";
  auto start = Clock::now();
  auto resp = t->RoundTrip(r, {std::chrono::milliseconds(400), {}});
  auto took = Clock::now() - start;
  EXPECT_EQ(resp.status().code(), StatusCode::kUnavailable);
  EXPECT_GE(took, std::chrono::milliseconds(380));
  EXPECT_LT(took, std::chrono::milliseconds(2500));
}

TEST_P(TransportTest, SilentServerHitsTheDeadline) {
  auto server = TestHttpServer::StartTcp(
      [](const ServedRequest&, TestConn& conn) { conn.WaitPeerClosed(10000); });
  auto t = Make(server->url());
  HttpRequest r;
  r.path = "/v1/jobs";
  r.query = {{"index", "5"}};
  auto start = Clock::now();
  auto resp = t->RoundTrip(r, {std::chrono::milliseconds(300), {}});
  EXPECT_EQ(resp.status().code(), StatusCode::kUnavailable);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(2500));
}

TEST_P(TransportTest, CancellationEndsACallPromptly) {
  std::atomic<bool> arrived{false};
  auto server = TestHttpServer::StartTcp([&](const ServedRequest&, TestConn& conn) {
    arrived = true;
    conn.WaitPeerClosed(10000);
  });
  auto t = Make(server->url());
  std::stop_source stop;
  std::thread canceller([&] {
    WaitUntil([&] { return arrived.load(); });
    stop.request_stop();
  });
  HttpRequest r;
  r.path = "/v1/jobs";
  auto start = Clock::now();
  auto resp = t->RoundTrip(r, {std::chrono::seconds(30), stop.get_token()});
  canceller.join();
  EXPECT_EQ(resp.status().code(), StatusCode::kCancelled);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));
}

TEST_P(TransportTest, ConnectionRefusedIsUnavailable) {
  int port;
  {
    auto server = TestHttpServer::StartTcp([](const ServedRequest&, TestConn&) {});
    port = server->port();
  }
  auto t = Make("http://127.0.0.1:" + std::to_string(port));
  HttpRequest r;
  r.path = "/v1/jobs";
  auto resp = t->RoundTrip(r, {std::chrono::seconds(5), {}});
  EXPECT_EQ(resp.status().code(), StatusCode::kUnavailable);
}

// ---- A hostile Nomad stand-in: oversized answers and redirects ----

constexpr size_t kHugeBody = 100 * 1024 * 1024;

// Writes `total` bytes of body in 64 KiB pieces (never holding them at once) until the client
// hangs up.
void WriteHugeBody(TestConn& conn, bool chunked) {
  conn.Write(chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     : "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kHugeBody) +
                           "\r\n\r\n");
  const std::string piece(64 * 1024, 'x');
  const std::string chunk = Chunk(piece);
  for (size_t sent = 0; sent < kHugeBody; sent += piece.size()) {
    if (!conn.Write(chunked ? chunk : piece)) return;
  }
  if (chunked) conn.Write(Chunk(""));
}

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM").
size_t ProcStatusBytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoul(line.substr(field.size() + 1)) * 1024;
  }
  return 0;
}

// How far the resident set rose above its level at the start while `fn` ran.
template <typename Fn>
size_t PeakRssGrowth(Fn&& fn) {
  std::ofstream("/proc/self/clear_refs") << "5";  // reset the high-water mark to the current RSS
  const size_t before = ProcStatusBytes("VmRSS");
  fn();
  const size_t peak = ProcStatusBytes("VmHWM");
  return peak > before ? peak - before : 0;
}

class ResponseCapTest : public ::testing::TestWithParam<std::tuple<Kind, bool>> {};

TEST_P(ResponseCapTest, OversizedBodyFailsFastWithoutBeingRead) {
  const auto [kind, chunked] = GetParam();
  auto server = TestHttpServer::StartTcp(
      [chunked](const ServedRequest&, TestConn& conn) { WriteHugeBody(conn, chunked); });
  ASSERT_NE(server, nullptr);
  ClientConfig cfg;
  cfg.address = server->url();
  auto t = MakeFor(kind, cfg);
  ASSERT_NE(t, nullptr);
  HttpRequest r;
  r.path = "/v1/jobs";
  Result<HttpResponse> resp = Status::Internal("not called");
  const auto start = Clock::now();
  const size_t growth = PeakRssGrowth([&] {
    resp = t->RoundTrip(r, {std::chrono::seconds(20), {}, 1024 * 1024});
  });
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(resp.status().message(), HasSubstr("response larger than 1048576 bytes"));
  ::testing::Test::RecordProperty("peak_rss_growth_bytes", std::to_string(growth));
  // Reading the body whole would take 100 MB; the cap keeps the call to a few.
  EXPECT_LT(growth, 40u * 1024 * 1024) << "peak RSS grew by " << growth << " bytes";
}

TEST_P(ResponseCapTest, BodyAtTheCapIsAccepted) {
  const auto [kind, chunked] = GetParam();
  const std::string body(4096, 'y');
  auto server = TestHttpServer::StartTcp([&](const ServedRequest&, TestConn& conn) {
    if (chunked) {
      conn.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunk(body) +
                 Chunk(""));
    } else {
      conn.Write(HttpResponseBytes(200, body));
    }
  });
  ClientConfig cfg;
  cfg.address = server->url();
  auto t = MakeFor(kind, cfg);
  HttpRequest r;
  r.path = "/v1/var/lock";
  auto resp = t->RoundTrip(r, {std::chrono::seconds(10), {}, body.size()});
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->body, body);
  resp = t->RoundTrip(r, {std::chrono::seconds(10), {}, body.size() - 1});
  EXPECT_EQ(resp.status().code(), StatusCode::kUnavailable);
}

INSTANTIATE_TEST_SUITE_P(
    Transports, ResponseCapTest,
    ::testing::Combine(::testing::Values(Kind::kCpprest, Kind::kAsio), ::testing::Bool()),
    [](const auto& p) {
      return std::string(std::get<0>(p.param) == Kind::kCpprest ? "Cpprest" : "Asio") +
             (std::get<1>(p.param) ? "Chunked" : "ContentLength");
    });

TEST_P(TransportTest, RedirectIsNotFollowed) {
  auto elsewhere = TestHttpServer::StartTcp(
      [](const ServedRequest&, TestConn& conn) { conn.Write(HttpResponseBytes(200, "[]")); });
  ASSERT_NE(elsewhere, nullptr);
  auto server = TestHttpServer::StartTcp([&](const ServedRequest&, TestConn& conn) {
    conn.Write(HttpResponseBytes(307, "", {{"Location", elsewhere->url() + "/v1/jobs"}}));
  });
  auto t = Make(server->url());
  HttpRequest r;
  r.path = "/v1/jobs";
  r.headers.Add("X-Nomad-Token", "secret-token");
  auto resp = t->RoundTrip(r, {});
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 307);
  EXPECT_EQ(server->requests().size(), 1u);
  EXPECT_TRUE(elsewhere->requests().empty());
}

TEST_P(TransportTest, ChunkedStreamArrivesLineByLine) {
  std::atomic<int> step{0};
  auto server = TestHttpServer::StartTcp([&](const ServedRequest&, TestConn& conn) {
    conn.Write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n");
    conn.Write(Chunk("{}\n"));
    WaitUntil([&] { return step.load() >= 1; });
    conn.Write(Chunk("{\"Index\":1,"));  // a line split across chunks
    conn.Write(Chunk("\"Events\":[]}\n"));
    WaitUntil([&] { return step.load() >= 2; });
    conn.Write(Chunk(""));
  });
  auto t = Make(server->url());
  Collector c;
  Status result;
  std::thread reader([&] {
    HttpRequest r;
    r.path = "/v1/event/stream";
    result = t->Stream(r, {}, c);
  });
  ASSERT_TRUE(WaitUntil([&] { return c.data() == "{}\n"; }));
  EXPECT_EQ(c.status(), 200);
  step = 1;
  ASSERT_TRUE(WaitUntil([&] { return c.data() == "{}\n{\"Index\":1,\"Events\":[]}\n"; }));
  step = 2;
  reader.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
}

TEST_P(TransportTest, StreamCancellation) {
  auto server = TestHttpServer::StartTcp([&](const ServedRequest&, TestConn& conn) {
    conn.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    conn.Write(Chunk("{}\n"));
    conn.WaitPeerClosed(20000);
  });
  auto t = Make(server->url());
  Collector c;
  std::stop_source stop;
  Status result;
  std::thread reader([&] {
    HttpRequest r;
    r.path = "/v1/event/stream";
    StreamOptions o;
    o.cancel = stop.get_token();
    result = t->Stream(r, o, c);
  });
  ASSERT_TRUE(WaitUntil([&] { return c.data() == "{}\n"; }));
  auto start = Clock::now();
  stop.request_stop();
  reader.join();
  EXPECT_EQ(result.code(), StatusCode::kCancelled);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
}

INSTANTIATE_TEST_SUITE_P(Both, TransportTest, ::testing::Values(Kind::kCpprest, Kind::kAsio),
                         [](const auto& p) {
                           return p.param == Kind::kCpprest ? "Cpprest" : "Asio";
                         });

// Only the Asio transport delivers a close-delimited body live (see unix_socket_transport.h).
TEST(AsioTransportTest, CloseDelimitedStreamArrivesLive) {
  std::atomic<int> step{0};
  auto server = TestHttpServer::StartTcp([&](const ServedRequest&, TestConn& conn) {
    conn.Write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n");
    conn.Write("{}\n");
    WaitUntil([&] { return step.load() >= 1; });
    conn.Write("{\"Index\":2,\"Events\":[]}\n");
    WaitUntil([&] { return step.load() >= 2; });
    conn.Close();
  });
  ClientConfig cfg;
  cfg.address = server->url();
  auto t = AsioTransport::Create(cfg);
  ASSERT_TRUE(t.ok());
  Collector c;
  Status result;
  std::thread reader([&] {
    HttpRequest r;
    r.path = "/v1/event/stream";
    result = (*t)->Stream(r, {}, c);
  });
  ASSERT_TRUE(WaitUntil([&] { return c.data() == "{}\n"; }));
  step = 1;
  ASSERT_TRUE(WaitUntil([&] { return c.data() == "{}\n{\"Index\":2,\"Events\":[]}\n"; }));
  step = 2;
  reader.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
}

TEST(AsioTransportTest, StreamIdleTimeout) {
  auto server = TestHttpServer::StartTcp([&](const ServedRequest&, TestConn& conn) {
    conn.Write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}\n");
    conn.WaitPeerClosed(20000);
  });
  ClientConfig cfg;
  cfg.address = server->url();
  auto t = AsioTransport::Create(cfg);
  Collector c;
  HttpRequest r;
  r.path = "/v1/event/stream";
  StreamOptions o;
  o.idle_timeout = std::chrono::milliseconds(200);
  Status s = (*t)->Stream(r, o, c);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.message(), HasSubstr("no data for"));
  EXPECT_EQ(c.data(), "{}\n");
}

TEST(UnixSocketTransportTest, RoundTripAndStreamOverTheTaskApiSocket) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("nsg_uds_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string sock = dir + "/api.sock";
  auto server = TestHttpServer::StartUnix(sock, [](const ServedRequest& req, TestConn& conn) {
    if (req.target.rfind("/v1/event/stream", 0) == 0) {
      conn.Write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}\n{\"Index\":3,\"Events\":[]}\n");
      conn.Close();
      return;
    }
    conn.Write(HttpResponseBytes(200, "{\"ok\":true}", {{"X-Nomad-Index", "12"}}));
  });
  ASSERT_NE(server, nullptr);
  ClientConfig cfg;
  cfg.address = "unix://" + sock;
  cfg.token = "workload-jwt";
  ASSERT_TRUE(cfg.Validate().ok());
  auto t = MakeTransport(cfg);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  HttpRequest r;
  r.method = "PUT";
  r.path = "/v1/var/nomad/jobs/web/lock";
  r.query = {{"lock-renew", ""}};
  r.headers.Add("X-Nomad-Token", cfg.token);
  r.body = "{}";
  auto resp = (*t)->RoundTrip(r, {});
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->body, "{\"ok\":true}");
  EXPECT_EQ(resp->headers.Get("x-nomad-index"), "12");
  ServedRequest got = server->requests().back();
  EXPECT_EQ(got.target, "/v1/var/nomad/jobs/web/lock?lock-renew");
  EXPECT_EQ(got.Header("host"), "localhost");
  EXPECT_EQ(got.Header("x-nomad-token"), "workload-jwt");

  Collector c;
  HttpRequest s;
  s.path = "/v1/event/stream";
  EXPECT_TRUE((*t)->Stream(s, {}, c).ok());
  EXPECT_EQ(c.data(), "{}\n{\"Index\":3,\"Events\":[]}\n");
  server.reset();
  std::filesystem::remove_all(dir);

  auto gone = (*t)->RoundTrip(r, {std::chrono::seconds(2), {}});
  EXPECT_EQ(gone.status().code(), StatusCode::kUnavailable);
}

// ---- TLS and mTLS, with a throwaway CA ----

class TlsTest : public ::testing::TestWithParam<Kind> {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("nsg_tls_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    pki_ok_ = testing::MakeTestPki(dir_, &pki_error_);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  void SetUp() override {
    if (!pki_ok_) GTEST_SKIP() << "openssl CLI unavailable: " << pki_error_;
  }

  std::unique_ptr<TestHttpServer> Start(bool mtls) {
    testing::TlsServerFiles files{dir_ + "/server.pem", dir_ + "/server.key",
                                  mtls ? dir_ + "/ca.pem" : ""};
    return TestHttpServer::StartTcp(
        [](const ServedRequest&, TestConn& conn) {
          conn.Write(HttpResponseBytes(200, "{\"tls\":true}"));
        },
        files);
  }

  ClientConfig Config(const TestHttpServer& s) {
    ClientConfig cfg;
    cfg.address = s.url();
    cfg.tls.ca_cert = dir_ + "/ca.pem";
    cfg.tls.client_cert = dir_ + "/client.pem";
    cfg.tls.client_key = dir_ + "/client.key";
    cfg.tls.server_name = "server.global.nomad";
    return cfg;
  }

  Status Call(const ClientConfig& cfg) {
    EXPECT_TRUE(cfg.Validate().ok()) << cfg.Validate().ToString();
    auto t = MakeFor(GetParam(), cfg);
    if (t == nullptr) return Status::InvalidSpec("transport not created");
    HttpRequest r;
    r.path = "/v1/agent/self";
    auto resp = t->RoundTrip(r, {std::chrono::seconds(10), {}});
    if (!resp.ok()) return resp.status();
    EXPECT_EQ(resp->body, "{\"tls\":true}");
    return Status::Ok();
  }

  static inline std::string dir_;
  static inline bool pki_ok_ = false;
  static inline std::string pki_error_;
};

TEST_P(TlsTest, MutualTlsWithServerNameVerification) {
  auto server = Start(true);
  ASSERT_NE(server, nullptr);
  Status s = Call(Config(*server));
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(TlsTest, ConnectingByIpWithoutServerNameFailsVerification) {
  auto server = Start(false);
  ClientConfig cfg = Config(*server);
  cfg.tls.server_name.clear();  // the certificate has no IP SAN
  EXPECT_EQ(Call(cfg).code(), StatusCode::kUnavailable);
}

TEST_P(TlsTest, WrongServerNameFails) {
  auto server = Start(false);
  ClientConfig cfg = Config(*server);
  cfg.tls.server_name = "client.global.nomad";
  EXPECT_EQ(Call(cfg).code(), StatusCode::kUnavailable);
}

TEST_P(TlsTest, MissingClientCertificateFails) {
  auto server = Start(true);
  ClientConfig cfg = Config(*server);
  cfg.tls.client_cert.clear();
  cfg.tls.client_key.clear();
  EXPECT_EQ(Call(cfg).code(), StatusCode::kUnavailable);
}

TEST_P(TlsTest, WrongCaFails) {
  auto server = Start(false);
  ClientConfig cfg = Config(*server);
  cfg.tls.ca_cert = dir_ + "/other_ca.pem";
  EXPECT_EQ(Call(cfg).code(), StatusCode::kUnavailable);
}

TEST_P(TlsTest, CaDirectoryInsteadOfCaFile) {
  auto server = Start(true);
  ClientConfig cfg = Config(*server);
  cfg.tls.ca_cert.clear();
  cfg.tls.ca_path = dir_ + "/cadir";
  Status s = Call(cfg);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(TlsTest, SkipVerifyAcceptsAnyCertificate) {
  auto server = Start(false);
  ClientConfig cfg;
  cfg.address = server->url();
  cfg.tls.skip_verify = true;
  Status s = Call(cfg);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Both, TlsTest, ::testing::Values(Kind::kCpprest, Kind::kAsio),
                         [](const auto& p) {
                           return p.param == Kind::kCpprest ? "Cpprest" : "Asio";
                         });

TEST(MakeTransportTest, TlsStreamThroughTheAsioHalf) {
  const std::string dir =
      std::filesystem::temp_directory_path() / ("nsg_tls2_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string err;
  if (!testing::MakeTestPki(dir, &err)) GTEST_SKIP() << err;
  auto server = TestHttpServer::StartTcp(
      [](const ServedRequest&, TestConn& conn) {
        conn.Write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}\n");
        conn.Close();
      },
      testing::TlsServerFiles{dir + "/server.pem", dir + "/server.key", dir + "/ca.pem"});
  ClientConfig cfg;
  cfg.address = server->url();
  cfg.tls = {dir + "/ca.pem", "", dir + "/client.pem", dir + "/client.key", "server.global.nomad",
             false};
  auto t = MakeTransport(cfg);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  Collector c;
  HttpRequest r;
  r.path = "/v1/event/stream";
  Status s = (*t)->Stream(r, {}, c);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.data(), "{}\n");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nsg::io
