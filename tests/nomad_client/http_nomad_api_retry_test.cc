// HttpNomadApi's status mapping and retries: which answers are errors of which kind, and which
// calls are retried on a 503 or a connection error, with what backoff and budget.
#include <functional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controller/nomad_client/http_nomad_api.h"
#include "tests/nomad_client/http_nomad_api_fixture.h"

namespace nsg::io {
namespace {

using base::StatusCode;
using ::testing::HasSubstr;
using testing::FakeSleeper;
using testing::FakeTransport;
using testing::HttpNomadApiTest;
using testing::OkBodyFor;
using testing::RetryCase;
using testing::RetryCases;
using testing::TestJob;

// ---- Status mapping through the client ----

TEST_F(HttpNomadApiTest, EnforceIndexMismatchIsConflictAndNotRetried) {
  transport_.PushResponse(500,
                          "Enforcing job modify index 5: job exists with conflicting job modify "
                          "index: 7");
  auto r = api().RegisterJob({TestJob(), true, 5}, {});
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_EQ(transport_.requests.size(), 1u);
}

TEST_F(HttpNomadApiTest, ValidationErrorIsInvalidSpecAndNotRetried) {
  transport_.PushResponse(500, "1 error occurred:\n\t* Task group \"x\" has no tasks\n\n");
  auto r = api().RegisterJob({TestJob(), false, 0}, {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidSpec);
  EXPECT_THAT(r.status().message(), HasSubstr("has no tasks"));
  EXPECT_EQ(transport_.requests.size(), 1u);
}

TEST_F(HttpNomadApiTest, MalformedResponseIsInternal) {
  transport_.PushResponse(200, "{not json");
  EXPECT_EQ(api().ReadJob("web", {}).status().code(), StatusCode::kInternal);
}

// ---- Retry matrix ----

TEST_F(HttpNomadApiTest, RetryMatrixOn503) {
  for (const RetryCase& c : RetryCases()) {
    SCOPED_TRACE(c.name);
    FakeTransport t;
    FakeSleeper s;
    HttpNomadApi api(t, config_, clock_, s, options_);
    t.PushResponse(503, "no leader");
    t.PushResponse(429, "slow down");
    t.PushResponse(200, OkBodyFor(c.name));
    Status st = c.call(api);
    if (c.retried) {
      EXPECT_TRUE(st.ok()) << st.ToString();
      EXPECT_EQ(t.requests.size(), 3u);
      EXPECT_EQ(s.sleeps.size(), 2u);
    } else {
      EXPECT_EQ(st.code(), StatusCode::kUnavailable);
      EXPECT_EQ(t.requests.size(), 1u);
      EXPECT_TRUE(s.sleeps.empty());
    }
  }
}

TEST_F(HttpNomadApiTest, RetryMatrixOnConnectionErrors) {
  for (const RetryCase& c : RetryCases()) {
    SCOPED_TRACE(c.name);
    FakeTransport t;
    FakeSleeper s;
    HttpNomadApi api(t, config_, clock_, s, options_);
    t.PushError(Status::Unavailable("connect: connection refused"));
    t.PushResponse(200, OkBodyFor(c.name));
    Status st = c.call(api);
    EXPECT_EQ(st.ok(), c.retried) << st.ToString();
    EXPECT_EQ(t.requests.size(), c.retried ? 2u : 1u);
  }
}

TEST_F(HttpNomadApiTest, NeverRetriedCodes) {
  for (int status : {400, 403, 404, 405, 409}) {
    SCOPED_TRACE(status);
    FakeTransport t;
    FakeSleeper s;
    HttpNomadApi api(t, config_, clock_, s, options_);
    t.PushResponse(status, "no");
    Status st = api.ReadJob("web", {}).status();
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(t.requests.size(), 1u);
    EXPECT_TRUE(s.sleeps.empty());
  }
  FakeTransport t;
  FakeSleeper s;
  HttpNomadApi api(t, config_, clock_, s, options_);
  t.PushError(Status::Cancelled("cancelled"));
  EXPECT_EQ(api.ReadJob("web", {}).status().code(), StatusCode::kCancelled);
  EXPECT_EQ(t.requests.size(), 1u);
}

TEST_F(HttpNomadApiTest, RetriesStopAfterMaxAttemptsWithGrowingCappedJitteredBackoff) {
  options_.max_attempts = 6;
  options_.backoff = {std::chrono::milliseconds(100), std::chrono::milliseconds(400)};
  for (int i = 0; i < 10; ++i) transport_.PushResponse(502, "bad gateway");
  Status st = api().ReadJob("web", {}).status();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("HTTP 502"));
  EXPECT_EQ(transport_.requests.size(), 6u);
  ASSERT_EQ(sleeper_.sleeps.size(), 5u);
  const std::vector<Duration> ceilings = {std::chrono::milliseconds(100),
                                          std::chrono::milliseconds(200),
                                          std::chrono::milliseconds(400),
                                          std::chrono::milliseconds(400),
                                          std::chrono::milliseconds(400)};
  for (size_t i = 0; i < ceilings.size(); ++i) {
    EXPECT_GE(sleeper_.sleeps[i].count(), 0);
    EXPECT_LE(sleeper_.sleeps[i], ceilings[i]) << i;
  }
}

TEST_F(HttpNomadApiTest, RetriesStopAtTheElapsedBudget) {
  options_.max_attempts = 100;
  options_.backoff = {std::chrono::seconds(10), std::chrono::seconds(10)};
  options_.max_retry_elapsed = std::chrono::seconds(25);
  for (int i = 0; i < 100; ++i) transport_.PushResponse(503, "");
  EXPECT_EQ(api().ListNodes({}).status().code(), StatusCode::kUnavailable);
  // Each wait is at most 10s and the clock only moves by the waits: no wait may start that
  // would end after 25s.
  Duration total{0};
  for (Duration d : sleeper_.sleeps) total += d;
  EXPECT_LE(total, std::chrono::seconds(25));
  EXPECT_EQ(transport_.requests.size(), sleeper_.sleeps.size() + 1);
}

TEST_F(HttpNomadApiTest, ShutdownCancelsBackoffAndLaterCalls) {
  transport_.PushResponse(503, "");
  sleeper_.CancelNext();
  EXPECT_EQ(api().ReadJob("web", {}).status().code(), StatusCode::kCancelled);
  api().Shutdown();
  size_t before = transport_.requests.size();
  EXPECT_EQ(api().ReadJob("web", {}).status().code(), StatusCode::kCancelled);
  EXPECT_EQ(transport_.requests.size(), before);
}

}  // namespace
}  // namespace nsg::io
