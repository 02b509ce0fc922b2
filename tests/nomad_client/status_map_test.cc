// Status mapping (every row of status_map.h), backoff, and the HTTP/1.1 wire parser.
#include "controller/nomad_client/status_map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controller/nomad_client/http_wire.h"
#include "controller/nomad_client/retry.h"

namespace nsg::io {
namespace {

using base::StatusCode;
using ::testing::HasSubstr;

struct Row {
  int status;
  const char* body;
  StatusCode code;
};

TEST(StatusMapTest, EveryRow) {
  const std::vector<Row> rows = {
      {200, "", StatusCode::kOk},
      {204, "", StatusCode::kOk},
      {400, "Invalid wait time", StatusCode::kInvalidSpec},
      {400, "variable missing required Items object", StatusCode::kInvalidSpec},
      {401, "", StatusCode::kPermissionDenied},
      {403, "Permission denied", StatusCode::kPermissionDenied},
      {403, "ACL token not found", StatusCode::kPermissionDenied},
      {404, "job not found", StatusCode::kNotFound},
      {404, "", StatusCode::kNotFound},
      {405, "Invalid method", StatusCode::kInvalidSpec},
      {408, "", StatusCode::kUnavailable},
      {409, "attempting to modify locked variable", StatusCode::kConflict},
      {409, R"({"Namespace":"default","Path":"p","CreateIndex":0})", StatusCode::kConflict},
      {411, "", StatusCode::kInvalidSpec},
      {413, "", StatusCode::kInvalidSpec},
      {422, "", StatusCode::kInvalidSpec},
      {429, "", StatusCode::kUnavailable},
      {500, "Enforcing job modify index 5: job exists with conflicting job modify index: 7",
       StatusCode::kConflict},
      {500, "1 error occurred:\n\t* Enforcing job modify index 0: job already exists\n\n",
       StatusCode::kConflict},
      {500, "variable doesn't hold a lock", StatusCode::kConflict},
      {500, "variable doesn't exist", StatusCode::kNotFound},
      {500, "1 error occurred:\n\t* Task group \"x\" has no tasks\n\n", StatusCode::kInvalidSpec},
      // A cluster without ACLs answers a coded 400 (nomad/acl_endpoint.go aclDisabled); the text
      // is not special: a 500 with it is as transient as any other.
      {400, "ACL support disabled", StatusCode::kInvalidSpec},
      {500, "ACL support disabled", StatusCode::kUnavailable},
      {500, "2 errors occurred:\n\t* a\n\t* b\n\n", StatusCode::kInvalidSpec},
      {500, "job \"x\" is in nonexistent namespace \"y\"", StatusCode::kInvalidSpec},
      {500, "rpc error: No cluster leader", StatusCode::kUnavailable},
      {500, "", StatusCode::kUnavailable},
      {501, "", StatusCode::kUnavailable},
      {502, "", StatusCode::kUnavailable},
      {503, "", StatusCode::kUnavailable},
      {504, "", StatusCode::kUnavailable},
      {599, "", StatusCode::kUnavailable},
      {100, "", StatusCode::kInternal},
      {301, "", StatusCode::kUnavailable},
      {0, "", StatusCode::kInternal},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(StatusCodeFromHttp(r.status, r.body), r.code) << r.status << " " << r.body;
    Status s = StatusFromHttp(r.status, r.body, "GET /v1/x");
    EXPECT_EQ(s.code(), r.code);
  }
}

TEST(StatusMapTest, MessageNamesRequestStatusAndTrimmedBody) {
  Status s = StatusFromHttp(404, "job not found\n", "GET /v1/job/web");
  EXPECT_EQ(s.message(), "GET /v1/job/web: HTTP 404: job not found");
  std::string big(2000, 'x');
  s = StatusFromHttp(500, big, "GET /v1/jobs");
  EXPECT_LT(s.message().size(), 600u);
  EXPECT_THAT(s.message(), HasSubstr("..."));
}

TEST(StatusMapTest, Redact) {
  EXPECT_EQ(Redact("a tok b tok", "tok"), "a <redacted> b <redacted>");
  EXPECT_EQ(Redact("abc", ""), "abc");
}

TEST(BackoffTest, FullJitterUnderADoublingCappedCeiling) {
  Backoff b({std::chrono::milliseconds(100), std::chrono::seconds(1)}, 7);
  const int64_t ceilings_ms[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (int64_t c : ceilings_ms) {
    EXPECT_EQ(b.Ceiling(), std::chrono::milliseconds(c));
    Duration d = b.Next();
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d, std::chrono::milliseconds(c));
  }
  b.Reset();
  EXPECT_EQ(b.Ceiling(), std::chrono::milliseconds(100));
}

TEST(BackoffTest, JitterSpreads) {
  Backoff b({std::chrono::seconds(1), std::chrono::seconds(1)}, 3);
  Duration lo = std::chrono::seconds(1), hi{0};
  for (int i = 0; i < 200; ++i) {
    Duration d = b.Next();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_LT(lo, std::chrono::milliseconds(200));
  EXPECT_GT(hi, std::chrono::milliseconds(800));
}

TEST(RealSleeperTest, StopWakesAtOnce) {
  RealSleeper s;
  std::stop_source stop;
  stop.request_stop();
  EXPECT_FALSE(s.SleepFor(std::chrono::hours(1), stop.get_token()));
  EXPECT_TRUE(s.SleepFor(Duration(0), std::stop_token()));
  EXPECT_TRUE(s.SleepFor(std::chrono::milliseconds(1), std::stop_token()));
}

// ---- HTTP/1.1 response parser ----

struct Parsed {
  Status status;
  int code = 0;
  std::string body;
  bool done = false;
  HttpResponseParser::Framing framing = HttpResponseParser::Framing::kNone;
};

// Feeds `wire` in pieces of `step` bytes, then EOF when `eof`.
Parsed Parse(const std::string& wire, size_t step, bool eof) {
  HttpResponseParser p;
  Parsed out;
  for (size_t i = 0; i < wire.size() && out.status.ok(); i += step) {
    out.status = p.Feed(std::string_view(wire).substr(i, step), [&](std::string_view b) {
      out.body.append(b);
      return true;
    });
  }
  if (out.status.ok() && eof) out.status = p.FinishEof();
  out.code = p.status();
  out.done = p.done();
  out.framing = p.framing();
  return out;
}

TEST(HttpWireTest, ContentLengthChunkedAndCloseDelimitedAtEverySplit) {
  const std::string length =
      "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Nomad-Index: 5\r\n\r\nhello world";
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  const std::string close = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello world";
  for (size_t step = 1; step <= chunked.size(); ++step) {
    SCOPED_TRACE(step);
    Parsed a = Parse(length, step, false);
    EXPECT_TRUE(a.status.ok());
    EXPECT_TRUE(a.done);
    EXPECT_EQ(a.body, "hello world");
    EXPECT_EQ(a.framing, HttpResponseParser::Framing::kLength);
    Parsed b = Parse(chunked, step, false);
    EXPECT_TRUE(b.status.ok()) << b.status.ToString();
    EXPECT_TRUE(b.done);
    EXPECT_EQ(b.body, "hello world");
    Parsed c = Parse(close, step, false);
    EXPECT_FALSE(c.done);
    EXPECT_EQ(c.body, "hello world");
    EXPECT_EQ(c.framing, HttpResponseParser::Framing::kClose);
    Parsed d = Parse(close, step, true);
    EXPECT_TRUE(d.status.ok());
    EXPECT_TRUE(d.done);
  }
}

TEST(HttpWireTest, HeadersAreCaseInsensitive) {
  HttpResponseParser p;
  ASSERT_TRUE(p.Feed("HTTP/1.1 404 Not Found\r\nx-nomad-KNOWNLEADER: true\r\ncontent-length: 0\r\n\r\n",
                     [](std::string_view) { return true; })
                  .ok());
  EXPECT_TRUE(p.done());
  EXPECT_EQ(p.status(), 404);
  EXPECT_EQ(p.headers().Get("X-Nomad-KnownLeader"), "true");
}

TEST(HttpWireTest, TruncationAndGarbageAreErrors) {
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 4, true).status.code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 4, true)
                .status.code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100, false)
                .status.code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(Parse("SSH-2.0-OpenSSH\r\n\r\n", 100, false).status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(Parse("", 1, true).status.code(), StatusCode::kUnavailable);
}

TEST(HttpWireTest, NoBodyFor204) {
  Parsed p = Parse("HTTP/1.1 204 No Content\r\n\r\n", 3, false);
  EXPECT_TRUE(p.done);
  EXPECT_EQ(p.code, 204);
}

TEST(HttpWireTest, SerializeRequest) {
  HttpRequest r;
  r.method = "PUT";
  r.path = "/v1/var/a/b";
  r.query = {{"namespace", "*"}, {"lock-acquire", ""}};
  r.headers.Add("X-Nomad-Token", "t");
  r.body = "{}";
  auto wire = SerializeRequest(r, "localhost", true);
  ASSERT_TRUE(wire.ok());
  EXPECT_EQ(*wire,
            "PUT /v1/var/a/b?namespace=%2A&lock-acquire HTTP/1.1\r\nHost: localhost\r\n"
            "X-Nomad-Token: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
            "Connection: close\r\n\r\n{}");
  r.headers.Add("X-Evil", "a\r\nInjected: yes");
  auto bad = SerializeRequest(r, "localhost", true);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidSpec);
  EXPECT_THAT(bad.status().message(), ::testing::Not(HasSubstr("Injected")));
}

TEST(HttpWireTest, Escaping) {
  EXPECT_EQ(EscapePath("nomad/jobs/a b"), "nomad/jobs/a%20b");
  EXPECT_EQ(EscapePathSegment("a/b?c"), "a%2Fb%3Fc");
  HttpRequest r;
  r.path = "/v1/event/stream";
  r.query = {{"topic", "Job:web"}, {"topic", "Allocation"}, {"index", "7"}};
  EXPECT_EQ(RequestTarget(r), "/v1/event/stream?topic=Job%3Aweb&topic=Allocation&index=7");
}

}  // namespace
}  // namespace nsg::io
