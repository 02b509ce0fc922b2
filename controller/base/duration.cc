#include "controller/base/duration.h"

#include <cstdint>
#include <limits>

namespace nsg::base {
namespace {

struct Unit {
  std::string_view name;
  int64_t ns;
};
// Longest names first so that "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ns", 1},           {"us", 1000},          {"\xC2\xB5s", 1000},
                           {"\xCE\xBCs", 1000}, {"ms", 1000000},       {"s", 1000000000},
                           {"m", 60000000000},  {"h", 3600000000000}};

Status Bad(std::string_view text, std::string_view why) {
  return Status::InvalidSpec("invalid duration \"" + std::string(text) + "\": " + std::string(why));
}

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return Duration(0);
  if (s.empty()) return Bad(text, "empty");
  // Accumulate in long double nanoseconds, then range-check.
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    long double whole = 0, frac = 0, scale = 1;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      whole = whole * 10 + (s[i] - '0');
      ++i;
      digits = true;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        scale /= 10;
        frac += (s[i] - '0') * scale;
        ++i;
        digits = true;
      }
    }
    if (!digits) return Bad(text, "expected a number");
    s.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (s.substr(0, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) {
      return Bad(text, s.empty() ? "missing unit (use ns, us, ms, s, m or h, e.g. \"15s\")"
                                 : "unknown unit \"" + std::string(s.substr(0, 2)) + "\"");
    }
    s.remove_prefix(unit->name.size());
    total += (whole + frac) * static_cast<long double>(unit->ns);
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
      return Bad(text, "out of range");
    }
  }
  int64_t ns = static_cast<int64_t>(total);
  return Duration(negative ? -ns : ns);
}

namespace {

// Writes v / 10^prec with trailing zeros (and a bare '.') trimmed, like Go's fmtFrac + fmtInt.
std::string FracString(uint64_t v, int prec) {
  std::string frac;
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    uint64_t digit = v % 10;
    print = print || digit != 0;
    if (print) frac.insert(frac.begin(), static_cast<char>('0' + digit));
    v /= 10;
  }
  std::string out = std::to_string(v);
  if (print) out += "." + frac;
  return out;
}

}  // namespace

std::string FormatDuration(Duration d) {
  int64_t ns = d.count();
  bool neg = ns < 0;
  uint64_t u = neg ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  std::string out;
  if (u < 1000000000ULL) {
    if (u == 0) return "0s";
    if (u < 1000) out = std::to_string(u) + "ns";
    else if (u < 1000000) out = FracString(u, 3) + "us";
    else out = FracString(u, 6) + "ms";
  } else {
    uint64_t secs_ns = u % 60000000000ULL;
    uint64_t mins = u / 60000000000ULL;
    out = FracString(secs_ns, 9) + "s";
    if (mins > 0) {
      uint64_t hours = mins / 60;
      mins %= 60;
      out = std::to_string(mins) + "m" + out;
      if (hours > 0) out = std::to_string(hours) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

}  // namespace nsg::base
