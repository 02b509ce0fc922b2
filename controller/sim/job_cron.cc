// The cron matcher of the Nomad model's periodic jobs: ParseCron and NextCronTime (five fields,
// UTC; the limits are in job_rules.h, where both are declared).
#include "controller/sim/job_rules.h"

#include <cctype>
#include <map>

namespace nsg::sim {

namespace {

int NameValue(const std::string& s, bool month) {
  static const char* kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                  "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  static const char* kDays[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
  std::string up;
  for (char c : s) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (month) {
    for (int i = 0; i < 12; ++i) {
      if (up == kMonths[i]) return i + 1;
    }
  } else {
    for (int i = 0; i < 7; ++i) {
      if (up == kDays[i]) return i;
    }
  }
  return -1;
}

bool ParseNumber(const std::string& s, int lo, int hi, bool month, bool dow, int* out) {
  if (s.empty()) return false;
  if (std::isalpha(static_cast<unsigned char>(s[0]))) {
    if (!month && !dow) return false;
    *out = NameValue(s, month);
    return *out >= 0;
  }
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
    if (v > 1000) return false;
  }
  if (dow && v == 7) v = 0;
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

// Parses one field into a bit set; *star = the field was "*" (or "?").
bool ParseField(const std::string& field, int lo, int hi, bool month, bool dow, uint64_t* bits,
                bool* star) {
  *bits = 0;
  *star = field == "*" || field == "?";
  size_t start = 0;
  while (start <= field.size()) {
    size_t comma = field.find(',', start);
    std::string part = field.substr(start, comma == std::string::npos ? std::string::npos
                                                                      : comma - start);
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string::npos) {
      if (!ParseNumber(part.substr(slash + 1), 1, hi, false, false, &step) || step <= 0) {
        return false;
      }
      part = part.substr(0, slash);
    }
    int a = lo, b = hi;
    if (part == "*" || part == "?") {
      // full range
    } else if (size_t dash = part.find('-'); dash != std::string::npos) {
      if (!ParseNumber(part.substr(0, dash), lo, hi, month, dow, &a) ||
          !ParseNumber(part.substr(dash + 1), lo, hi == 6 ? 7 : hi, month, dow, &b)) {
        return false;
      }
      if (dow && b == 0) b = 6;  // "x-7" ends at Saturday once Sunday is 0
    } else {
      if (!ParseNumber(part, lo, hi, month, dow, &a)) return false;
      b = (step > 1) ? hi : a;
    }
    if (a > b) return false;
    for (int v = a; v <= b; v += step) *bits |= uint64_t{1} << v;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return *bits != 0;
}

// Days since 1970-01-01 → civil date (Howard Hinnant's algorithm).
void CivilFromDays(int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(yy + (*m <= 2));
}

}  // namespace

base::Result<CronSpec> ParseCron(const std::string& text) {
  static const std::map<std::string, std::string> kDescriptors = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  std::string spec = text;
  if (auto it = kDescriptors.find(text); it != kDescriptors.end()) spec = it->second;
  std::vector<std::string> fields;
  std::string cur;
  for (char c : spec) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) fields.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) fields.push_back(cur);
  if (fields.size() != 5) {
    return base::Status::InvalidSpec("expected 5 fields (minute hour day month weekday), got " +
                                     std::to_string(fields.size()));
  }
  CronSpec c;
  uint64_t bits = 0;
  bool star = false;
  if (!ParseField(fields[0], 0, 59, false, false, &bits, &star)) {
    return base::Status::InvalidSpec("bad minute field \"" + fields[0] + "\"");
  }
  c.minutes = bits;
  if (!ParseField(fields[1], 0, 23, false, false, &bits, &star)) {
    return base::Status::InvalidSpec("bad hour field \"" + fields[1] + "\"");
  }
  c.hours = static_cast<uint32_t>(bits);
  if (!ParseField(fields[2], 1, 31, false, false, &bits, &star)) {
    return base::Status::InvalidSpec("bad day-of-month field \"" + fields[2] + "\"");
  }
  c.days = static_cast<uint32_t>(bits);
  c.dom_star = star;
  if (!ParseField(fields[3], 1, 12, true, false, &bits, &star)) {
    return base::Status::InvalidSpec("bad month field \"" + fields[3] + "\"");
  }
  c.months = static_cast<uint16_t>(bits);
  if (!ParseField(fields[4], 0, 6, false, true, &bits, &star)) {
    return base::Status::InvalidSpec("bad day-of-week field \"" + fields[4] + "\"");
  }
  c.weekdays = static_cast<uint8_t>(bits);
  c.dow_star = star;
  return c;
}

std::optional<int64_t> NextCronTime(const CronSpec& spec, int64_t after_unix_ns) {
  constexpr int64_t kMinuteNs = int64_t{60} * 1000000000;
  // First whole minute strictly after `after`.
  int64_t minute = after_unix_ns >= 0 ? after_unix_ns / kMinuteNs + 1
                                      : -((-after_unix_ns) / kMinuteNs);
  const int64_t limit = minute + int64_t{5} * 366 * 24 * 60;
  while (minute < limit) {
    int64_t day = minute >= 0 ? minute / 1440 : -((-minute + 1439) / 1440);
    int y, m, d;
    CivilFromDays(day, &y, &m, &d);
    int wd = static_cast<int>(((day % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
    bool dom = (spec.days >> d) & 1;
    bool dow = (spec.weekdays >> wd) & 1;
    bool day_ok = (spec.dom_star || spec.dow_star) ? (dom && dow) : (dom || dow);
    if (!((spec.months >> m) & 1) || !day_ok) {
      minute = (day + 1) * 1440;
      continue;
    }
    int64_t in_day = minute - day * 1440;
    int h = static_cast<int>(in_day / 60);
    int mi = static_cast<int>(in_day % 60);
    if (!((spec.hours >> h) & 1)) {
      minute = day * 1440 + (h + 1) * 60;
      continue;
    }
    if (!((spec.minutes >> mi) & 1)) {
      ++minute;
      continue;
    }
    return minute * kMinuteNs;
  }
  return std::nullopt;
}

}  // namespace nsg::sim
