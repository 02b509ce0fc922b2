#include "controller/nomad/version.h"

#include <algorithm>
#include <charconv>

namespace nsg::nomad {
namespace {

// One decimal component of at most 4 digits at the front of `s`; advances `s`.
bool TakeNumber(std::string_view& s, int* out) {
  const char* end = s.data() + std::min<size_t>(s.size(), 4);
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  if (ec != std::errc() || p == s.data()) return false;
  s.remove_prefix(static_cast<size_t>(p - s.data()));
  return true;
}

}  // namespace

base::Result<NomadVersion> NomadVersion::Parse(std::string_view text) {
  std::string_view s = text;
  if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) s.remove_prefix(1);
  NomadVersion v;
  const auto bad = [&] {
    return base::Status::InvalidSpec("not a Nomad version: \"" + std::string(text) +
                                     "\" (want MAJOR.MINOR.PATCH, e.g. 1.10.2)");
  };
  if (!TakeNumber(s, &v.major) || s.empty() || s[0] != '.') return bad();
  s.remove_prefix(1);
  if (!TakeNumber(s, &v.minor) || s.empty() || s[0] != '.') return bad();
  s.remove_prefix(1);
  if (!TakeNumber(s, &v.patch)) return bad();
  if (!s.empty() && s[0] != '-' && s[0] != '+') return bad();
  v.suffix = std::string(s);
  return v;
}

base::Result<NomadVersion> NomadVersion::FromProfile(std::string_view text) {
  if (text == "1.10") return NomadVersion{1, 10, 5, ""};
  if (text == "1.11") return NomadVersion{1, 11, 3, ""};
  if (text == "2.0") return NomadVersion{2, 0, 5, ""};
  auto v = Parse(text);
  if (!v.ok()) {
    return base::Status::InvalidSpec(v.status().message() +
                                     "; profiles: 1.10 (1.10.5), 1.11 (1.11.3), 2.0 (2.0.5)");
  }
  return v;
}

std::string NomadVersion::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch) +
         suffix;
}

const std::vector<std::string>& VersionProfiles() {
  static const std::vector<std::string> k = {"1.10", "1.11", "2.0"};
  return k;
}

bool IsSupported(const NomadVersion& v) { return v >= kMinSupportedVersion; }
bool HasVariableTopic(const NomadVersion& v) { return v >= NomadVersion{2, 0, 0, ""}; }
bool HijacksEventStream(const NomadVersion& v) { return v >= NomadVersion{1, 11, 2, ""}; }
bool SetsUnixAddrEnv(const NomadVersion& v) { return v >= NomadVersion{1, 10, 3, ""}; }

}  // namespace nsg::nomad
