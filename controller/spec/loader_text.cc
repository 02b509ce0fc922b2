// Small text helpers of the spec loader — quoting values in messages, field paths, "did you
// mean" suggestions — and the rules for single values that do not depend on YAML: numbers, job
// IDs, namespaces, environment names, variable paths, cron expressions.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdio>

#include "controller/nomad/limits.h"
#include "controller/spec/loader_internal.h"

namespace nsg::spec::internal {
namespace {

// Values echoed in messages are cut to this many bytes (a 100 KB value must not become a 100 KB
// error line); the cut is moved back to a UTF-8 character boundary. Long enough for any value
// Nomad accepts in full (a variable path has up to 128 characters), so the usual "too long by
// one" errors still show the whole value.
constexpr size_t kMaxQuoted = 160;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Optimal-string-alignment edit distance (a transposition counts as one edit).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The closest candidate (case-insensitive), if it is close enough to be a likely typo.
std::optional<std::string> Suggest(std::string_view word,
                                   const std::vector<std::string_view>& candidates) {
  std::string w = Lower(word);
  std::optional<std::string> best;
  size_t best_distance = SIZE_MAX;
  for (std::string_view c : candidates) {
    size_t dist = EditDistance(w, Lower(c));
    size_t limit = std::clamp<size_t>(c.size() / 3, 1, 3);
    if (dist <= limit && dist < best_distance) {
      best = std::string(c);
      best_distance = dist;
    }
  }
  return best;
}

}  // namespace

std::string Quote(std::string_view s) {
  std::string out = "\"";
  bool cut = false;
  if (s.size() > kMaxQuoted) {
    size_t n = kMaxQuoted;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    s = s.substr(0, n);
    cut = true;
  }
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + (cut ? "…\"" : "\"");
}

std::string JoinPath(const std::string& parent, std::string_view name) {
  if (parent.empty()) return std::string(name);
  return parent + "." + std::string(name);
}

std::string IndexPath(const std::string& parent, size_t i) {
  return parent + "[" + std::to_string(i) + "]";
}

std::string PosString(const SourcePos& p) {
  return p.file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
}

std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates) {
  auto s = Suggest(word, candidates);
  return s ? "; did you mean " + Quote(*s) + "?" : "";
}

bool IsDecimalInt(std::string_view s) {
  std::string_view d = s;
  if (!d.empty() && d[0] == '-') d.remove_prefix(1);
  if (d.empty()) return false;
  if (d[0] == '0') return d.size() == 1;
  return std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A decimal number with a fraction and/or an exponent (JSON's number grammar).
bool IsDecimalFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t int_start = i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  size_t int_len = i - int_start;
  if (int_len == 0 || (int_len > 1 && s[int_start] == '0')) return false;
  bool frac_or_exp = false;
  if (i < s.size() && s[i] == '.') {
    size_t f = ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == f) return false;
    frac_or_exp = true;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t e = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == e) return false;
    frac_or_exp = true;
  }
  return frac_or_exp && i == s.size();
}

bool MatchesJobId(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  if (!std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

bool MatchesNamespace(std::string_view s) { return nomad::ValidNamespace(s); }

bool MatchesEnvName(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Nomad's variable path rule (nomad::VariablePathError), in the words of a spec's author. We also
// refuse empty segments ("a//b", a leading or trailing '/'): the Go client strips them, so the path
// a user wrote would not be the path Nomad stores.
std::optional<std::string> CheckVariablePath(std::string_view p) {
  if (p.empty() || p.size() > nomad::kMaxVariablePathLength) {
    return "must be 1 to " + std::to_string(nomad::kMaxVariablePathLength) + " characters long";
  }
  const std::optional<std::string> nomad_error = nomad::VariablePathError(p);
  if (nomad_error && nomad_error->starts_with("invalid path")) {
    return "may contain only letters, digits and - _ ~ / (Nomad's variable path rule)";
  }
  if (p.front() == '/' || p.back() == '/' || p.find("//") != std::string_view::npos) {
    return "must not start or end with '/' or contain an empty segment";
  }
  if (nomad_error) {
    return "is under Nomad's reserved \"nomad/\" prefix, where only nomad/jobs, nomad/jobs/... "
           "and nomad/job-templates/<name> are allowed (nomad/sentinel/... only from Nomad "
           "1.11.2; Nomad says: " + *nomad_error + ")";
  }
  return std::nullopt;
}

// A plausible cron expression for Nomad's periodic block (hashicorp/cronexpr): 5 to 7
// whitespace-separated fields, or one of the @ macros.
bool IsPlausibleCron(std::string_view s) {
  static const std::set<std::string_view> kMacros = {"@yearly", "@annually", "@monthly",
                                                     "@weekly", "@daily",    "@midnight",
                                                     "@hourly"};
  if (!s.empty() && s[0] == '@') return kMacros.count(s) > 0;
  int fields = 0;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i == s.size()) break;
    ++fields;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') {
      char c = s[i];
      bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '*' || c == '/' || c == ',' ||
                c == '-' || c == '?' || c == '#';
      if (!ok) return false;
      ++i;
    }
  }
  return fields >= 5 && fields <= 7;
}

}  // namespace nsg::spec::internal
