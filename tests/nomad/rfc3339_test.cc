#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "controller/nomad/codec.h"

namespace nsg::nomad {
namespace {

int64_t P(std::string_view s) {
  auto r = ParseRfc3339(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? *r : -1;
}

TEST(Rfc3339Test, FormatsLikeGoRfc3339Nano) {
  EXPECT_EQ(FormatRfc3339(0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1704164645123456789), "2024-01-02T03:04:05.123456789Z");
  EXPECT_EQ(FormatRfc3339(1704164645000000000), "2024-01-02T03:04:05Z");
  EXPECT_EQ(FormatRfc3339(1704164645100000000), "2024-01-02T03:04:05.1Z");  // zeros trimmed
  EXPECT_EQ(FormatRfc3339(1704164645000000001), "2024-01-02T03:04:05.000000001Z");
  EXPECT_EQ(FormatRfc3339(1), "1970-01-01T00:00:00.000000001Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatRfc3339(951782400000000000), "2000-02-29T00:00:00Z");  // leap day
  EXPECT_EQ(FormatRfc3339(std::numeric_limits<int64_t>::max()),
            "2262-04-11T23:47:16.854775807Z");
}

TEST(Rfc3339Test, ParsesWhatGoWrites) {
  EXPECT_EQ(P("2024-01-02T03:04:05.123456789Z"), 1704164645123456789);
  EXPECT_EQ(P("2024-01-02T03:04:05Z"), 1704164645000000000);
  EXPECT_EQ(P("2024-01-02T03:04:05.1Z"), 1704164645100000000);
  EXPECT_EQ(P("0001-01-01T00:00:00Z"), 0);  // the zero time
  EXPECT_EQ(P("1969-12-31T23:59:59.999999999Z"), -1);
  EXPECT_EQ(P("2000-02-29T00:00:00Z"), 951782400000000000);
}

TEST(Rfc3339Test, AcceptsOffsetsAndLowercase) {
  EXPECT_EQ(P("2024-01-02T05:04:05.5+02:00"), 1704164645500000000);
  EXPECT_EQ(P("2024-01-01T22:34:05-04:30"), 1704164645000000000);
  EXPECT_EQ(P("2024-01-02T03:04:05+00:00"), 1704164645000000000);
  EXPECT_EQ(P("2024-01-02t03:04:05z"), 1704164645000000000);
  // Beyond nanoseconds: truncated, as Go does.
  EXPECT_EQ(P("2024-01-02T03:04:05.1234567891Z"), 1704164645123456789);
}

TEST(Rfc3339Test, RoundTrips) {
  for (int64_t ns : {int64_t{1}, int64_t{-1}, int64_t{1724311221338012345}, int64_t{86400} *
                     1000000000, std::numeric_limits<int64_t>::max(), int64_t{-8000000000000000000}}) {
    EXPECT_EQ(P(FormatRfc3339(ns)), ns) << FormatRfc3339(ns);
  }
}

TEST(Rfc3339Test, RejectsMalformed) {
  for (std::string_view bad :
       {"", "2024-01-02", "2024-01-02T03:04:05", "2024-01-02 03:04:05Z", "2024-13-02T03:04:05Z",
        "2024-02-30T03:04:05Z", "2023-02-29T00:00:00Z", "2024-01-02T24:00:00Z",
        "2024-01-02T03:60:05Z", "2024-01-02T03:04:60Z", "2024-01-02T03:04:05.Z",
        "2024-01-02T03:04:05+2:00", "2024-01-02T03:04:05+02:60", "2024-01-02T03:04:05Zjunk",
        "2024-1-02T03:04:05Z", "x024-01-02T03:04:05Z", "1600-01-01T00:00:00Z",
        "2300-01-01T00:00:00Z", "0001-01-01T00:00:00.5Z"}) {
    auto r = ParseRfc3339(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), base::StatusCode::kInvalidSpec) << bad;
    }
  }
  EXPECT_EQ(ParseRfc3339("2024-02-30T03:04:05Z").status().message(),
            "invalid RFC 3339 time \"2024-02-30T03:04:05Z\": day out of range");
}

}  // namespace
}  // namespace nsg::nomad
