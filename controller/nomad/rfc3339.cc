// RFC 3339 times <-> unix nanoseconds, as Go's time.Time marshals them (RFC3339Nano).

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "controller/nomad/codec.h"

namespace nsg::nomad {
namespace {

constexpr int64_t kNsPerSecond = 1000000000;
constexpr int64_t kSecondsPerDay = 86400;
constexpr char kZeroTime[] = "0001-01-01T00:00:00Z";

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

void AppendDigits(std::string& out, int64_t v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 || n < width);
  while (n > 0) out += buf[--n];
}

// Reads exactly `width` digits at text[pos].
bool Digits(std::string_view text, size_t pos, int width, int64_t& out) {
  if (pos + static_cast<size_t>(width) > text.size()) return false;
  out = 0;
  for (int i = 0; i < width; ++i) {
    const char c = text[pos + static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

base::Status Bad(std::string_view text, std::string_view why) {
  return base::Status::InvalidSpec("invalid RFC 3339 time \"" + std::string(text) + "\": " +
                                   std::string(why));
}

}  // namespace

std::string FormatRfc3339(int64_t unix_ns) {
  if (unix_ns == 0) return kZeroTime;
  // Floor division so that times before 1970 keep a non-negative fraction.
  int64_t secs = unix_ns / kNsPerSecond;
  int64_t frac = unix_ns % kNsPerSecond;
  if (frac < 0) {
    frac += kNsPerSecond;
    --secs;
  }
  int64_t days = secs / kSecondsPerDay;
  int64_t rem = secs % kSecondsPerDay;
  if (rem < 0) {
    rem += kSecondsPerDay;
    --days;
  }
  int64_t y = 0, m = 0, d = 0;
  CivilFromDays(days, y, m, d);
  std::string out;
  out.reserve(36);
  AppendDigits(out, y, 4);
  out += '-';
  AppendDigits(out, m, 2);
  out += '-';
  AppendDigits(out, d, 2);
  out += 'T';
  AppendDigits(out, rem / 3600, 2);
  out += ':';
  AppendDigits(out, rem / 60 % 60, 2);
  out += ':';
  AppendDigits(out, rem % 60, 2);
  if (frac != 0) {  // Go's RFC3339Nano: up to 9 digits, trailing zeros trimmed
    int width = 9;
    while (frac % 10 == 0) {
      frac /= 10;
      --width;
    }
    out += '.';
    AppendDigits(out, frac, width);
  }
  out += 'Z';
  return out;
}

base::Result<int64_t> ParseRfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!Digits(text, 0, 4, year) || text.size() < 19 || text[4] != '-' ||
      !Digits(text, 5, 2, month) || text[7] != '-' || !Digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !Digits(text, 11, 2, hour) || text[13] != ':' ||
      !Digits(text, 14, 2, minute) || text[16] != ':' || !Digits(text, 17, 2, second)) {
    return Bad(text, "expected YYYY-MM-DDTHH:MM:SS");
  }
  if (month < 1 || month > 12) return Bad(text, "month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return Bad(text, "day out of range");
  if (hour > 23) return Bad(text, "hour out of range");
  if (minute > 59) return Bad(text, "minute out of range");
  if (second > 59) return Bad(text, "second out of range");
  size_t pos = 19;
  int64_t frac_ns = 0;
  if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
    ++pos;
    int64_t scale = 100000000;
    const size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      frac_ns += (text[pos] - '0') * scale;  // digits beyond the 9th are truncated, as Go does
      scale /= 10;
      ++pos;
    }
    if (pos == start) return Bad(text, "empty fraction");
  }
  int64_t offset_s = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const bool negative = text[pos] == '-';
    int64_t oh = 0, om = 0;
    if (!Digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, om)) {
      return Bad(text, "expected a zone offset like +02:00");
    }
    if (oh > 23 || om > 59) return Bad(text, "zone offset out of range");
    offset_s = (oh * 3600 + om * 60) * (negative ? -1 : 1);
    pos += 6;
  } else {
    return Bad(text, "missing zone (Z or +HH:MM)");
  }
  if (pos != text.size()) return Bad(text, "unexpected text after the zone");

  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t secs = days * kSecondsPerDay + hour * 3600 + minute * 60 + second - offset_s;
  if (secs == DaysFromCivil(1, 1, 1) * kSecondsPerDay && frac_ns == 0) return int64_t{0};
  // int64 nanoseconds cover 1677-09-21T00:12:43.145224192Z .. 2262-04-11T23:47:16.854775807Z.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (secs > kMax / kNsPerSecond || secs < kMin / kNsPerSecond ||
      (secs == kMax / kNsPerSecond && frac_ns > kMax % kNsPerSecond)) {
    return Bad(text, "out of range for unix nanoseconds");
  }
  return secs * kNsPerSecond + frac_ns;
}

}  // namespace nsg::nomad
