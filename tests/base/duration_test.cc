#include "controller/base/duration.h"

#include <gtest/gtest.h>

namespace nsg::base {
namespace {

Duration P(std::string_view s) {
  auto r = ParseDuration(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? *r : Duration(-1);
}

TEST(DurationTest, ParsesGoDurations) {
  EXPECT_EQ(P("15s"), 15s);
  EXPECT_EQ(P("1m30s"), 90s);
  EXPECT_EQ(P("1.5s"), 1500ms);
  EXPECT_EQ(P("300ms"), 300ms);
  EXPECT_EQ(P("2h"), std::chrono::hours(2));
  EXPECT_EQ(P("10us"), std::chrono::microseconds(10));
  EXPECT_EQ(P("0"), Duration(0));
  EXPECT_EQ(P("-5s"), -5s);
}

TEST(DurationTest, RejectsBadInput) {
  for (std::string_view bad : {"", "15", "s", "1x", "abc", "1.s5", "--1s", "1e3s"}) {
    auto r = ParseDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidSpec) << bad;
  }
  EXPECT_NE(ParseDuration("15").status().message().find("missing unit"), std::string::npos);
  EXPECT_FALSE(ParseDuration("9999999999h").ok());
}

TEST(DurationTest, FormatsLikeGo) {
  EXPECT_EQ(FormatDuration(15s), "15s");
  EXPECT_EQ(FormatDuration(60s), "1m0s");
  EXPECT_EQ(FormatDuration(90s), "1m30s");
  EXPECT_EQ(FormatDuration(std::chrono::hours(1) + 30min), "1h30m0s");
  EXPECT_EQ(FormatDuration(1500ms), "1.5s");
  EXPECT_EQ(FormatDuration(500ms), "500ms");
  EXPECT_EQ(FormatDuration(Duration(0)), "0s");
  EXPECT_EQ(FormatDuration(Duration(1500)), "1.5us");
  EXPECT_EQ(FormatDuration(-15s), "-15s");
}

TEST(DurationTest, RoundTrips) {
  for (Duration d : std::initializer_list<Duration>{Duration(1), Duration(999), 1ms, 15s, 61s,
                                                   25h, Duration(123456789012)}) {
    EXPECT_EQ(P(FormatDuration(d)), d) << FormatDuration(d);
  }
}

}  // namespace
}  // namespace nsg::base
