#include "controller/spec/loader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "controller/nomad/limits.h"

namespace nsg::spec {

std::string Diagnostic::ToString() const {
  std::string out;
  if (!pos.file.empty()) {
    out += pos.file;
    if (pos.line > 0) out += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
    out += ": ";
  } else if (pos.line > 0) {
    out += std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": ";
  }
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

namespace {

using Json = nlohmann::json;

// A document deeper or larger than this is refused before it is decoded: it protects the
// recursive walks below from a self-referencing alias (`a: &x [*x]`) and from alias bombs.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxNodes = 100000;
// The longest duration any field takes: beyond it a value is a typo (or an overflow attempt: the
// timer rule adds durations up in int64 nanoseconds, which end after 292 years).
constexpr Duration kMaxSpecDuration = std::chrono::hours(24 * 7);

// Keys of a template whose Go duration strings are turned into integer nanoseconds.
const std::set<std::string, std::less<>> kTemplateDurationKeys = {
    "KillTimeout", "Interval", "Delay", "MaxDelay", "StopOnClientAfter", "LostAfter",
    "ShutdownDelay"};

// ---------------------------------------------------------------------------------------------
// Small text helpers.

// Values echoed in messages are cut to this many bytes (a 100 KB value must not become a 100 KB
// error line); the cut is moved back to a UTF-8 character boundary. Long enough for any value
// Nomad accepts in full (a variable path has up to 128 characters), so the usual "too long by
// one" errors still show the whole value.
constexpr size_t kMaxQuoted = 160;

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

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
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

// ---------------------------------------------------------------------------------------------
// Splitting a file into documents. yaml-cpp's LoadAll gives up on the whole stream at the first
// syntax error, so each document is parsed on its own.

struct Chunk {
  std::string text;
  int first_line = 0;  // 0-based line of the chunk's first line in the file
};

bool IsMarker(std::string_view line, std::string_view marker) {
  if (line.substr(0, 3) != marker) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

// Whether a line carries document content (not blank, a comment, a directive or a bare "---").
bool HasContent(std::string_view line) {
  if (IsMarker(line, "---")) line.remove_prefix(3);
  else if (!line.empty() && line[0] == '%') return false;
  size_t i = line.find_first_not_of(" \t\r");
  return i != std::string_view::npos && line[i] != '#';
}

// Each chunk holds at most one document: a new chunk starts at every "---" line once the current
// one has a marker or content (comments and directives before the first "---" stay with it), and
// after every "..." line.
// The offset of the first byte that is not part of well-formed UTF-8 (no overlong forms, no
// surrogates, nothing above U+10FFFF), or npos. A spec is text that ends up in JSON sent to
// Nomad, which must be UTF-8; yaml-cpp passes such bytes through.
size_t FirstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80u) || c > (k == 1 ? hi : 0xBFu)) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

std::vector<Chunk> SplitDocuments(std::string_view text) {
  std::vector<Chunk> chunks(1);
  bool started = false;  // the current chunk has a "---" or content
  int line_no = 0;
  for (size_t start = 0; start < text.size(); ++line_no) {
    size_t nl = text.find('\n', start);
    std::string_view line =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? text.size() : nl + 1;
    const bool marker = IsMarker(line, "---");
    if (marker && started) chunks.push_back({"", line_no});
    chunks.back().text.append(line);
    chunks.back().text += '\n';
    if (IsMarker(line, "...")) {
      chunks.push_back({"", line_no + 1});
      started = false;
      continue;
    }
    started = started || marker || HasContent(line);
  }
  return chunks;
}

// Records where the first event of a document is; refuses documents nested too deeply.
class FirstEvent : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { Note(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { Note(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Note(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Note(m);
    Enter(m);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Note(m);
    Enter(m);
  }
  void OnMapEnd() override { --depth_; }
  const YAML::Mark& mark() const { return mark_; }

 private:
  // Refuses nesting deeper than kMaxDepth where it happens (file:line of the offending level),
  // well before yaml-cpp's own guard, which says only "bad file".
  void Enter(const YAML::Mark& m) {
    if (++depth_ > kMaxDepth) {
      throw YAML::ParserException(m, "nested more than " + std::to_string(kMaxDepth) +
                                         " levels deep (a Singleton spec needs about 10)");
    }
  }
  int depth_ = 0;
  void Note(const YAML::Mark& m) {
    if (!seen_) mark_ = m;
    seen_ = true;
  }
  bool seen_ = false;
  YAML::Mark mark_ = YAML::Mark::null_mark();
};

// Parses one chunk (one document at most). Throws YAML::Exception on a syntax error.
//
// yaml-cpp 0.7 does not consume a token it does not expect at the start of a node (a stray ','
// for instance): the document reads as null, the token stays, and YAML::LoadAll loops forever,
// allocating (jbeder/yaml-cpp#1040, fixed upstream by #1319). So the chunk is first run through
// the event parser, at most twice: a second document from one chunk can only be such a leftover
// token, and is reported as a syntax error. Only then is the node tree built, with YAML::Load,
// which reads one document and cannot loop.
YAML::Node ParseChunk(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  FirstEvent first, second;
  if (parser.HandleNextDocument(first) && parser.HandleNextDocument(second)) {
    YAML::Mark m = second.mark();
    std::string what = "unexpected content";
    if (!m.is_null() && m.pos >= 0 && static_cast<size_t>(m.pos) < text.size()) {
      what = "unexpected character " + Quote(std::string(1, text[static_cast<size_t>(m.pos)]));
    }
    throw YAML::ParserException(m, what);
  }
  return YAML::Load(text);
}

int FirstContentLine(const Chunk& c) {
  int n = c.first_line;
  size_t start = 0;
  while (start < c.text.size()) {
    size_t nl = c.text.find('\n', start);
    if (nl == std::string::npos) nl = c.text.size();
    std::string_view line(c.text.data() + start, nl - start);
    if (HasContent(line)) return n;
    start = nl + 1;
    ++n;
  }
  return c.first_line;
}

std::string StripScalar(std::string_view v) {
  size_t hash = v.find(" #");
  if (hash != std::string_view::npos) v = v.substr(0, hash);
  size_t last = v.find_last_not_of(" \t\r");
  v = last == std::string_view::npos ? std::string_view() : v.substr(0, last + 1);
  size_t first = v.find_first_not_of(" \t");
  v = first == std::string_view::npos ? std::string_view() : v.substr(first);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    v = v.substr(1, v.size() - 2);
  }
  return std::string(v);
}

// Best effort for a document YAML could not parse: reads `metadata: {name, namespace}` written in
// block style from the text, so that the controller still knows which singleton is broken (and
// leaves its running job alone instead of treating it as deleted).
std::string GuessKey(std::string_view text) {
  std::string name, ns = kDefaultNamespace;
  bool in_metadata = false;
  size_t child_indent = 0;
  for (size_t start = 0; start < text.size();) {
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl - start);
    start = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!HasContent(line) || IsMarker(line, "---")) continue;
    size_t indent = line.find_first_not_of(' ');
    if (indent == 0) {
      in_metadata = StripScalar(line) == "metadata:";
      child_indent = 0;
      continue;
    }
    if (!in_metadata) continue;
    if (child_indent == 0) child_indent = indent;
    if (indent != child_indent) continue;
    std::string_view rest = line.substr(indent);
    size_t colon = rest.find(": ");
    if (colon == std::string_view::npos) continue;
    std::string_view k = rest.substr(0, colon);
    if (k == "name") name = StripScalar(rest.substr(colon + 2));
    if (k == "namespace") ns = StripScalar(rest.substr(colon + 2));
  }
  if (!MatchesJobId(name) || !MatchesNamespace(ns)) return "";
  return ns + "/" + name;
}

// ---------------------------------------------------------------------------------------------
// Decoding one document.

// One key of a mapping, as found (or not) by Mapping::Get.
struct Field {
  bool present = false;
  YAML::Node key;
  YAML::Node value;
  std::string path;
  SourcePos key_pos;    // where the key is (for a missing field: where its parent is)
  SourcePos value_pos;  // where the value is (the key's position for an empty value)
};

const char* KindName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Undefined: return "nothing";
  }
  return "something else";
}

// Plain (unquoted, untagged) scalars are the only ones YAML would give a type; yaml-cpp tags them
// "?" and quoted or block scalars "!".
bool IsPlain(const YAML::Node& n) { return n.IsScalar() && n.Tag() == "?"; }

template <typename T>
struct EnumValue {
  std::string_view name;
  T value;
};

class DocDecoder {
 public:
  DocDecoder(const std::string& file, int line_offset, std::vector<Diagnostic>& errors)
      : file_(file), line_offset_(line_offset), errors_(errors) {}

  // Decodes `root` into `s`. Returns false if it reported any error. `key` gets namespace/name
  // when metadata.name could be read, and `name_pos` where it was written.
  bool Decode(const YAML::Node& root, Singleton& s, std::string& key, SourcePos& name_pos);

 private:
  SourcePos Pos(const YAML::Mark& m) const {
    if (m.is_null()) return {file_, line_offset_ + 1, 1};
    return {file_, m.line + line_offset_ + 1, m.column + 1};
  }
  void Error(const SourcePos& pos, const std::string& field, std::string message) {
    errors_.push_back({pos, field, std::move(message)});
    ++error_count_;
  }
  void Error(const Field& f, std::string message) {
    Error(f.value_pos, f.path, std::move(message));
  }
  void Record(const Field& f) { s_->positions[f.path] = f.value_pos; }

  // The pre-pass: depth, size and duplicate keys over the whole document.
  bool Scan(const YAML::Node& n, const std::string& path, int depth);

  // A mapping with a fixed set of keys. Reports a non-mapping value and unknown keys.
  class Mapping {
   public:
    Mapping(DocDecoder& d, const Field& self, std::vector<std::string_view> known);
    bool ok() const { return ok_; }
    // The field `name` (its first occurrence), recording its position if present.
    Field Get(std::string_view name) const;
    // Like Get, but reports the field as missing at the parent's key when it is absent.
    Field Require(std::string_view name) const;

   private:
    DocDecoder& d_;
    const Field& self_;
    bool ok_ = false;
  };

  // Typed readers. Each reports its own error and returns nullopt on failure.
  std::optional<std::string> String(const Field& f);
  std::optional<std::string> NonEmptyString(const Field& f);
  std::optional<int64_t> Int(const Field& f);
  std::optional<int> IntInRange(const Field& f, int64_t lo, int64_t hi);
  std::optional<bool> Bool(const Field& f);
  std::optional<Duration> Dur(const Field& f);
  template <typename T>
  std::optional<T> Enum(const Field& f, std::initializer_list<EnumValue<T>> values);
  void StringMap(const Field& f, std::map<std::string, std::string>& out, bool env_names);
  std::optional<std::vector<std::string>> StringList(const Field& f);
  // YAML → JSON for the free-form parts (task.config, template). Always returns a value so that
  // later checks can go on; reports its errors (a template duration that does not parse stays a
  // string).
  Json ToJson(const YAML::Node& n, const std::string& path, const SourcePos& pos, bool in_template);
  static Json ScalarToJson(const YAML::Node& n);

  void DecodeMetadata(const Field& f);
  void DecodeSpec(const Field& f);
  void DecodeLock(const Field& f);
  void DecodeAgent(const Field& f);
  void DecodeResources(const Field& f, Resources& r);
  void DecodeFailover(const Field& f);
  void DecodeRestart(const Field& f);
  void DecodeReschedule(const Field& f);
  void DecodeTask(const Field& f);
  void DecodeTemplate(const Field& f);
  void CheckRestart();
  void CheckReschedule();

  Field ChildOf(const YAML::Node& key, const YAML::Node& value, std::string path) const {
    Field c;
    c.present = true;
    c.key = key;
    c.value = value;
    c.path = std::move(path);
    c.key_pos = Pos(key.Mark());
    c.value_pos = ValuePos(key, value);
    return c;
  }
  // An empty value (`key:`) has the mark of whatever token follows it, often on a later line;
  // point at the key instead.
  SourcePos ValuePos(const YAML::Node& key, const YAML::Node& value) const {
    if (value.IsNull() && (value.Mark().is_null() || value.Mark().line != key.Mark().line)) {
      return Pos(key.Mark());
    }
    return Pos(value.Mark());
  }

  const std::string& file_;
  const int line_offset_;
  std::vector<Diagnostic>& errors_;
  int error_count_ = 0;
  size_t node_count_ = 0;
  Singleton* s_ = nullptr;
  bool name_ok_ = false;
  std::string key_namespace_ = kDefaultNamespace;  // as written, for the document's key
  bool type_written_ = false;
};

DocDecoder::Mapping::Mapping(DocDecoder& d, const Field& self, std::vector<std::string_view> known)
    : d_(d), self_(self) {
  if (!self.value.IsMap()) {
    d.Error(self, std::string("expected a mapping, got ") + KindName(self.value));
    return;
  }
  ok_ = true;
  for (auto it = self.value.begin(); it != self.value.end(); ++it) {
    const YAML::Node k = it->first;  // a copy: it-> returns a temporary proxy
    if (!k.IsScalar()) {
      d.Error(d.Pos(k.Mark()), self.path,
              std::string("mapping keys must be strings, got ") + KindName(k));
      continue;
    }
    const std::string& name = k.Scalar();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      d.Error(d.Pos(k.Mark()), JoinPath(self.path, name),
              "unknown field " + Quote(name) + DidYouMean(name, known));
    }
  }
}

Field DocDecoder::Mapping::Get(std::string_view name) const {
  Field f;
  f.path = JoinPath(self_.path, name);
  f.key_pos = self_.key_pos;
  f.value_pos = self_.key_pos;
  if (!ok_) return f;
  for (auto it = self_.value.begin(); it != self_.value.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == name) {
      f = d_.ChildOf(it->first, it->second, f.path);
      d_.Record(f);
      return f;
    }
  }
  return f;
}

Field DocDecoder::Mapping::Require(std::string_view name) const {
  Field f = Get(name);
  if (ok_ && !f.present) d_.Error(self_.key_pos, f.path, "required field is missing");
  return f;
}

bool DocDecoder::Scan(const YAML::Node& n, const std::string& path, int depth) {
  if (++node_count_ > kMaxNodes) {
    Error(Pos(n.Mark()), path,
          "document has more than " + std::to_string(kMaxNodes) + " nodes (an alias bomb?)");
    return false;
  }
  if (depth > kMaxDepth) {
    Error(Pos(n.Mark()), path,
          "nested more than " + std::to_string(kMaxDepth) + " levels deep (a recursive alias?)");
    return false;
  }
  if (n.IsSequence()) {
    for (size_t i = 0; i < n.size(); ++i) {
      if (!Scan(n[i], IndexPath(path, i), depth + 1)) return false;
    }
  } else if (n.IsMap()) {
    std::map<std::string, int> first_line;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) continue;  // reported where the mapping is decoded
      const std::string k = it->first.Scalar();
      std::string child = JoinPath(path, k);
      SourcePos kp = Pos(it->first.Mark());
      auto [prev, inserted] = first_line.emplace(k, kp.line);
      if (!inserted) {
        Error(kp, child,
              "duplicate key " + Quote(k) + " (first defined at line " +
                  std::to_string(prev->second) + ")");
      }
      if (!Scan(it->second, child, depth + 1)) return false;
    }
  }
  return true;
}

std::optional<std::string> DocDecoder::String(const Field& f) {
  if (!f.value.IsScalar()) {
    Error(f, std::string("expected a string, got ") + KindName(f.value));
    return std::nullopt;
  }
  return f.value.Scalar();
}

std::optional<std::string> DocDecoder::NonEmptyString(const Field& f) {
  auto v = String(f);
  if (v && v->empty()) {
    Error(f, "must not be empty");
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> DocDecoder::Int(const Field& f) {
  if (!f.value.IsScalar()) {
    Error(f, std::string("expected an integer, got ") + KindName(f.value));
    return std::nullopt;
  }
  const std::string& text = f.value.Scalar();
  if (!IsPlain(f.value)) {
    Error(f, "expected an integer, got the quoted string " + Quote(text) + " (remove the quotes)");
    return std::nullopt;
  }
  if (!IsDecimalInt(text)) {
    Error(f, "expected an integer (plain decimal digits, no leading zeros), got " + Quote(text));
    return std::nullopt;
  }
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    Error(f, "integer out of range: " + text);
    return std::nullopt;
  }
  return v;
}

std::optional<int> DocDecoder::IntInRange(const Field& f, int64_t lo, int64_t hi) {
  auto v = Int(f);
  if (!v) return std::nullopt;
  if (*v < lo || *v > hi) {
    if (hi == INT_MAX) {
      Error(f, "must be at least " + std::to_string(lo) + ", got " + std::to_string(*v));
    } else {
      Error(f, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                   std::to_string(*v));
    }
    return std::nullopt;
  }
  return static_cast<int>(*v);
}

std::optional<bool> DocDecoder::Bool(const Field& f) {
  if (!f.value.IsScalar()) {
    Error(f, std::string("expected a boolean, got ") + KindName(f.value));
    return std::nullopt;
  }
  const std::string& text = f.value.Scalar();
  if (!IsPlain(f.value)) {
    Error(f, "expected a boolean, got the quoted string " + Quote(text) +
                 ": use true or false without quotes");
    return std::nullopt;
  }
  if (text == "true") return true;
  if (text == "false") return false;
  Error(f, "expected a boolean, got " + Quote(text) + ": use true or false");
  return std::nullopt;
}

std::optional<Duration> DocDecoder::Dur(const Field& f) {
  if (!f.value.IsScalar()) {
    Error(f, std::string("expected a duration such as \"15s\", got ") + KindName(f.value));
    return std::nullopt;
  }
  auto d = base::ParseDuration(f.value.Scalar());
  if (!d.ok()) {
    Error(f, d.status().message());
    return std::nullopt;
  }
  if (*d < Duration(0)) {
    Error(f, "must not be negative, got " + Quote(f.value.Scalar()));
    return std::nullopt;
  }
  if (*d > kMaxSpecDuration) {
    Error(f, "must be at most " + base::FormatDuration(kMaxSpecDuration) +
                 " (a week; no timer of a Singleton needs more), got " + Quote(f.value.Scalar()));
    return std::nullopt;
  }
  return *d;
}

template <typename T>
std::optional<T> DocDecoder::Enum(const Field& f, std::initializer_list<EnumValue<T>> values) {
  auto s = String(f);
  if (!s) return std::nullopt;
  std::vector<std::string_view> names;
  for (const auto& v : values) {
    if (v.name == *s) return v.value;
    names.push_back(v.name);
  }
  std::string list;
  for (std::string_view n : names) list += (list.empty() ? "" : ", ") + Quote(n);
  Error(f, "invalid value " + Quote(*s) + ": must be one of " + list + DidYouMean(*s, names));
  return std::nullopt;
}

void DocDecoder::StringMap(const Field& f, std::map<std::string, std::string>& out,
                           bool env_names) {
  if (!f.value.IsMap()) {
    Error(f, std::string("expected a mapping of strings, got ") + KindName(f.value));
    return;
  }
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    if (!it->first.IsScalar()) {
      Error(Pos(it->first.Mark()), f.path,
            std::string("mapping keys must be strings, got ") + KindName(it->first));
      continue;
    }
    Field c = ChildOf(it->first, it->second, JoinPath(f.path, it->first.Scalar()));
    Record(c);
    if (env_names && !MatchesEnvName(c.key.Scalar())) {
      Error(c.key_pos, c.path,
            "invalid environment variable name " + Quote(c.key.Scalar()) +
                ": must match ^[A-Za-z_][A-Za-z0-9_]*$");
    }
    auto v = String(c);
    if (v) out.emplace(c.key.Scalar(), *v);  // emplace keeps the first of duplicate keys
  }
}

std::optional<std::vector<std::string>> DocDecoder::StringList(const Field& f) {
  if (!f.value.IsSequence()) {
    Error(f, std::string("expected a list of strings, got ") + KindName(f.value));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < f.value.size(); ++i) {
    Field c = ChildOf(f.value[i], f.value[i], IndexPath(f.path, i));
    Record(c);
    auto v = NonEmptyString(c);
    if (v) out.push_back(*v);
    ok = ok && v.has_value();
  }
  if (!ok) return std::nullopt;
  return out;
}

Json DocDecoder::ScalarToJson(const YAML::Node& n) {
  const std::string& text = n.Scalar();
  if (!IsPlain(n)) return Json(text);
  if (text == "true") return Json(true);
  if (text == "false") return Json(false);
  if (IsDecimalInt(text)) {
    int64_t i = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
    if (ec == std::errc() && end == text.data() + text.size()) return Json(i);
    uint64_t u = 0;
    auto [end2, ec2] = std::from_chars(text.data(), text.data() + text.size(), u);
    if (ec2 == std::errc() && end2 == text.data() + text.size()) return Json(u);
    return Json(text);
  }
  if (IsDecimalFloat(text)) {
    double d = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec == std::errc() && end == text.data() + text.size()) return Json(d);
  }
  return Json(text);
}

Json DocDecoder::ToJson(const YAML::Node& n, const std::string& path, const SourcePos& pos,
                        bool in_template) {
  s_->positions[path] = pos;
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return Json(nullptr);
    case YAML::NodeType::Scalar:
      return ScalarToJson(n);
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (size_t i = 0; i < n.size(); ++i) {
        arr.push_back(ToJson(n[i], IndexPath(path, i), Pos(n[i].Mark()), in_template));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (auto it = n.begin(); it != n.end(); ++it) {
        if (!it->first.IsScalar()) {
          Error(Pos(it->first.Mark()), path,
                std::string("mapping keys must be strings, got ") + KindName(it->first));
          continue;
        }
        const std::string k = it->first.Scalar();
        if (obj.contains(k)) continue;  // a duplicate key; reported by the pre-pass
        std::string child = JoinPath(path, k);
        SourcePos vp = ValuePos(it->first, it->second);
        const YAML::Node v = it->second;  // a copy: it-> returns a temporary proxy
        if (in_template && kTemplateDurationKeys.count(k) > 0 && v.IsScalar() &&
            !(IsPlain(v) && IsDecimalInt(v.Scalar()))) {
          s_->positions[child] = vp;
          auto d = base::ParseDuration(v.Scalar());
          if (!d.ok()) {
            Error(vp, child, d.status().message());
            obj[k] = v.Scalar();
          } else if (*d < Duration(0)) {
            Error(vp, child, "must not be negative, got " + Quote(v.Scalar()));
            obj[k] = v.Scalar();
          } else {
            obj[k] = d->count();
          }
          continue;
        }
        obj[k] = ToJson(v, child, vp, in_template);
      }
      return obj;
    }
  }
  return Json(nullptr);
}

bool DocDecoder::Decode(const YAML::Node& root, Singleton& s, std::string& key,
                        SourcePos& name_pos) {
  s_ = &s;
  s.source = Pos(root.Mark());
  if (root.IsMap() && root.size() > 0) s.source = Pos(root.begin()->first.Mark());
  if (!root.IsMap()) {
    Error(s.source, "",
          std::string("a Singleton document must be a mapping, got ") + KindName(root));
    return false;
  }
  if (!Scan(root, "", 0)) return false;

  Field doc;
  doc.present = true;
  doc.value = root;
  doc.key_pos = s.source;
  doc.value_pos = s.source;
  Mapping top(*this, doc, {"apiVersion", "kind", "metadata", "spec"});

  if (Field f = top.Require("apiVersion"); f.present) {
    auto v = String(f);
    if (v && *v != kApiVersion) {
      Error(f, "unsupported apiVersion " + Quote(*v) + ": must be " + Quote(kApiVersion));
    }
  }
  if (Field f = top.Require("kind"); f.present) {
    auto v = String(f);
    if (v && *v != kKind) Error(f, "unsupported kind " + Quote(*v) + ": must be " + Quote(kKind));
  }
  if (Field f = top.Require("metadata"); f.present) {
    DecodeMetadata(f);
    if (!s.metadata.name.empty()) {
      key = key_namespace_ + "/" + s.metadata.name;
      name_pos = s.PositionOf("metadata.name");
    }
  }
  if (Field f = top.Require("spec"); f.present) DecodeSpec(f);
  return error_count_ == 0;
}

void DocDecoder::DecodeMetadata(const Field& f) {
  Mapping m(*this, f, {"name", "namespace", "labels", "annotations"});
  if (!m.ok()) return;
  Metadata& md = s_->metadata;
  if (Field c = m.Get("namespace"); c.present) {
    auto v = String(c);
    if (v) key_namespace_ = *v;  // even when invalid: it is still this document's key
    if (v && !MatchesNamespace(*v)) {
      Error(c, "invalid namespace " + Quote(*v) +
                   ": must be 1 to 128 letters, digits and '-' (^[a-zA-Z0-9-]{1,128}$)");
    } else if (v) {
      md.namespace_ = *v;
    }
  }
  if (Field c = m.Require("name"); c.present) {
    auto v = String(c);
    if (v && !MatchesJobId(*v)) {
      Error(c, "invalid name " + Quote(*v) +
                   ": must start with a letter or digit and have at most 128 letters, digits, "
                   "'_', '.' and '-' (^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$)");
    } else if (v) {
      md.name = *v;
      name_ok_ = true;
    }
  }
  if (Field c = m.Get("labels"); c.present) StringMap(c, md.labels, false);
  if (Field c = m.Get("annotations"); c.present) StringMap(c, md.annotations, false);
}

void DocDecoder::DecodeSpec(const Field& f) {
  Mapping m(*this, f,
            {"type", "schedule", "region", "datacenters", "nodePool", "priority", "adopt", "lock",
             "standby", "failover", "task", "template"});
  if (!m.ok()) return;
  SingletonSpec& sp = s_->spec;

  Field type_f = m.Get("type");
  if (type_f.present) {
    auto t = Enum<JobType>(type_f, {{"service", JobType::kService}, {"batch", JobType::kBatch}});
    if (t) {
      sp.type = *t;
      type_written_ = true;
    }
  }
  if (Field c = m.Get("schedule"); c.present) {
    auto v = String(c);
    if (v && !IsPlausibleCron(*v)) {
      Error(c, "invalid cron expression " + Quote(*v) +
                   ": expected 5 to 7 fields (minute hour day-of-month month day-of-week "
                   "[year]) or a macro such as @daily");
    } else if (v) {
      sp.schedule = *v;
    }
    if (v && !v->empty()) {
      if (!type_f.present) {
        sp.type = JobType::kBatch;
      } else if (type_written_ && sp.type == JobType::kService) {
        Error(c, "a schedule needs type batch (a periodic job is a batch job), but type is "
                 "service");
      }
    }
  }
  const bool batch = sp.type == JobType::kBatch;

  if (Field c = m.Get("region"); c.present) {
    if (auto v = NonEmptyString(c)) sp.region = *v;
  }
  if (Field c = m.Get("datacenters"); c.present) {
    if (auto v = StringList(c)) sp.datacenters = *v;
  }
  if (Field c = m.Get("nodePool"); c.present) {
    if (auto v = String(c)) sp.node_pool = *v;
  }
  if (Field c = m.Get("priority"); c.present) {
    if (auto v = IntInRange(c, kMinPriority, kMaxPriority)) sp.priority = *v;
  }
  if (Field c = m.Get("adopt"); c.present) {
    if (auto v = Bool(c)) sp.adopt = *v;
  }

  sp.lock.mode = batch ? LockMode::kShim : LockMode::kSidecar;
  if (Field c = m.Get("lock"); c.present) DecodeLock(c);
  if (name_ok_ && s_->positions.count("spec.lock.path") == 0) {
    sp.lock.path = DefaultLockPath(s_->metadata.name);
    if (auto why = CheckVariablePath(sp.lock.path)) {
      const size_t room = nomad::kMaxVariablePathLength - DefaultLockPath("").size();
      std::string msg = "the default lock path " + Quote(sp.lock.path) + " " + *why;
      if (sp.lock.path.size() > nomad::kMaxVariablePathLength) {
        msg += " (it has " + std::to_string(sp.lock.path.size()) + "): use a name of at most " +
               std::to_string(room) + " characters, or set spec.lock.path";
      } else {
        msg += ": set spec.lock.path for a name with '.'";
      }
      Error(s_->PositionOf("metadata.name"), "metadata.name", msg);
    }
  }
  if (batch && sp.lock.mode != LockMode::kShim) {
    Error(s_->PositionOf("spec.lock.mode"), "spec.lock.mode",
          "use mode: shim for batch jobs: a sidecar lock task is the job's leader and would keep "
          "a batch job running forever");
  }

  if (Field c = m.Get("standby"); c.present) {
    if (auto v = IntInRange(c, 0, kMaxStandby)) {
      sp.standby = *v;
      if (batch && *v > 0) {
        Error(c, "must be 0 for type batch: a batch run is not kept waiting for the lock");
      }
    }
  }

  if (batch) {
    RestartSpec& r = sp.failover.restart;
    r.attempts = kDefaultBatchRestartAttempts;
    r.interval = kDefaultBatchRestartInterval;
    r.delay = kDefaultBatchRestartDelay;
    r.mode = kDefaultRestartMode;
    RescheduleSpec& rs = sp.failover.reschedule;
    rs.attempts = kDefaultBatchRescheduleAttempts;
    rs.interval = kDefaultBatchRescheduleInterval;
    rs.delay = kDefaultBatchRescheduleDelay;
    rs.delay_function = kDefaultBatchRescheduleDelayFunction;
    rs.unlimited = kDefaultBatchRescheduleUnlimited;
  }
  if (Field c = m.Get("failover"); c.present) DecodeFailover(c);

  Field task_f = m.Get("task");
  Field template_f = m.Get("template");
  if (task_f.present && template_f.present) {
    Error(template_f.key_pos, template_f.path,
          "task and template are mutually exclusive: set exactly one of them");
  } else if (!task_f.present && !template_f.present) {
    Error(f.key_pos, "spec.task",
          "required field is missing: set exactly one of task (the simple form) or template (a "
          "full Nomad job)");
  }
  if (task_f.present) DecodeTask(task_f);
  if (template_f.present) DecodeTemplate(template_f);
}

void DocDecoder::DecodeLock(const Field& f) {
  Mapping m(*this, f, {"path", "ttl", "delay", "mode", "agent"});
  if (!m.ok()) return;
  LockSpec& l = s_->spec.lock;
  if (Field c = m.Get("path"); c.present) {
    if (auto v = String(c)) {
      if (auto why = CheckVariablePath(*v)) {
        Error(c, "invalid lock path " + Quote(*v) + ": " + *why);
      } else {
        l.path = *v;
      }
    }
  }
  if (Field c = m.Get("ttl"); c.present) {
    if (auto v = Dur(c)) {
      if (*v < kMinLockTtl || *v > kMaxLockTtl) {
        Error(c, "must be between 10s and 24h (Nomad's lock TTL limits), got " +
                     base::FormatDuration(*v));
      } else {
        l.ttl = *v;
      }
    }
  }
  if (Field c = m.Get("delay"); c.present) {
    if (auto v = Dur(c)) {
      if (*v > kMaxLockDelay) {
        Error(c, "must be more than 0s and at most 24h, got " + base::FormatDuration(*v));
      } else if (nomad::EffectiveLockDelay(*v) != *v) {
        Error(c, "Nomad cannot apply a lock delay of 0s: VariableLock.Canonicalize turns 0 into "
                 "its default " + base::FormatDuration(nomad::EffectiveLockDelay(*v)) +
                     "; leave delay out for that, or write a positive delay such as 1s");
      } else {
        l.delay = *v;
      }
    }
  }
  if (Field c = m.Get("mode"); c.present) {
    auto v = Enum<LockMode>(c, {{"shim", LockMode::kShim},
                                {"sidecar", LockMode::kSidecar},
                                {"split", LockMode::kSplit}});
    if (v) l.mode = *v;
  }
  if (Field c = m.Get("agent"); c.present) DecodeAgent(c);
}

void DocDecoder::DecodeAgent(const Field& f) {
  Mapping m(*this, f, {"driver", "command", "image", "resources"});
  if (!m.ok()) return;
  LockAgent& a = s_->spec.lock.agent;
  if (Field c = m.Get("driver"); c.present) {
    auto v = Enum<AgentDriver>(c, {{"raw_exec", AgentDriver::kRawExec},
                                   {"exec", AgentDriver::kExec},
                                   {"docker", AgentDriver::kDocker}});
    if (v) a.driver = *v;
  }
  if (Field c = m.Get("command"); c.present) {
    if (auto v = NonEmptyString(c)) a.command = *v;
  }
  if (Field c = m.Get("image"); c.present) {
    if (auto v = String(c)) a.image = *v;
  }
  if (a.driver == AgentDriver::kDocker && a.image.empty()) {
    Error(s_->PositionOf("spec.lock.agent.image"), "spec.lock.agent.image",
          "an image is required when the agent's driver is docker");
  }
  if (Field c = m.Get("resources"); c.present) DecodeResources(c, a.resources);
}

void DocDecoder::DecodeResources(const Field& f, Resources& r) {
  Mapping m(*this, f, {"cpu", "memoryMB", "memoryMaxMB"});
  if (!m.ok()) return;
  if (Field c = m.Get("cpu"); c.present) {
    if (auto v = IntInRange(c, 1, INT_MAX)) r.cpu = *v;
  }
  if (Field c = m.Get("memoryMB"); c.present) {
    if (auto v = IntInRange(c, 1, INT_MAX)) r.memory_mb = *v;
  }
  if (Field c = m.Get("memoryMaxMB"); c.present) {
    if (auto v = IntInRange(c, 1, INT_MAX)) {
      if (*v < r.memory_mb) {
        Error(c, "must be at least memoryMB (" + std::to_string(r.memory_mb) + "), got " +
                     std::to_string(*v));
      } else {
        r.memory_max_mb = *v;
      }
    }
  }
}

void DocDecoder::DecodeFailover(const Field& f) {
  Mapping m(*this, f, {"stopOnClientAfter", "giveUp", "restart", "reschedule"});
  if (!m.ok()) return;
  FailoverSpec& fo = s_->spec.failover;
  if (Field c = m.Get("stopOnClientAfter"); c.present) {
    if (auto v = Dur(c)) {
      if (*v < kMinStopOnClientAfter || *v > kMaxStopOnClientAfter) {
        Error(c, "must be between " + base::FormatDuration(kMinStopOnClientAfter) + " and " +
                     base::FormatDuration(kMaxStopOnClientAfter) + ", got " +
                     base::FormatDuration(*v) +
                     " (a Nomad client stops its allocations when it has not heartbeated for "
                     "this long, and healthy clients of a small cluster heartbeat only every "
                     "10-20s: a shorter value stops healthy singletons)");
      } else {
        fo.stop_on_client_after = *v;
      }
    }
  }
  if (Field c = m.Get("giveUp"); c.present) {
    if (auto v = Dur(c)) {
      if (*v == Duration(0)) {
        Error(c, "must be greater than 0");
      } else {
        fo.give_up = *v;
      }
    }
  }
  if (Field c = m.Get("restart"); c.present) DecodeRestart(c);
  if (Field c = m.Get("reschedule"); c.present) DecodeReschedule(c);
}

void DocDecoder::DecodeRestart(const Field& f) {
  Mapping m(*this, f, {"attempts", "interval", "delay", "mode"});
  if (!m.ok()) return;
  int before = error_count_;
  RestartSpec& r = s_->spec.failover.restart;
  if (Field c = m.Get("attempts"); c.present) {
    if (auto v = IntInRange(c, 0, INT_MAX)) r.attempts = *v;
  }
  if (Field c = m.Get("interval"); c.present) {
    if (auto v = Dur(c)) r.interval = *v;
  }
  if (Field c = m.Get("delay"); c.present) {
    if (auto v = Dur(c)) r.delay = *v;
  }
  if (Field c = m.Get("mode"); c.present) {
    auto v = Enum<std::string_view>(c, {{"fail", "fail"}, {"delay", "delay"}});
    if (v) r.mode = std::string(*v);
  }
  if (error_count_ == before) CheckRestart();
}

// The restart policy checks Nomad's RestartPolicy.Validate makes (nomad-api.md §10), so that a
// spec Nomad would refuse is caught offline.
void DocDecoder::CheckRestart() {
  const RestartSpec& r = s_->spec.failover.restart;
  const std::string p = "spec.failover.restart";
  if (r.interval < kMinRestartInterval) {
    Error(s_->PositionOf(p + ".interval"), p + ".interval",
          "must be at least 5s (Nomad's minimum), got " + base::FormatDuration(r.interval));
  } else if (r.delay.count() > 0 && r.attempts > r.interval.count() / r.delay.count()) {
    // attempts × delay > interval, without the overflow.
    Error(s_->PositionOf(p), p,
          std::to_string(r.attempts) + " attempts with delay " + base::FormatDuration(r.delay) +
              " do not fit in interval " + base::FormatDuration(r.interval) +
              " (Nomad refuses this: attempts × delay must be at most the interval)");
  }
  if (r.attempts == 0 && r.mode != "fail") {
    Error(s_->PositionOf(p + ".mode"), p + ".mode",
          "mode " + Quote(r.mode) + " with 0 attempts is ambiguous (Nomad refuses it): use fail");
  }
}

void DocDecoder::DecodeReschedule(const Field& f) {
  Mapping m(*this, f, {"attempts", "interval", "delay", "delayFunction", "maxDelay", "unlimited"});
  if (!m.ok()) return;
  int before = error_count_;
  RescheduleSpec& r = s_->spec.failover.reschedule;
  if (Field c = m.Get("attempts"); c.present) {
    if (auto v = IntInRange(c, 0, INT_MAX)) r.attempts = *v;
  }
  if (Field c = m.Get("interval"); c.present) {
    if (auto v = Dur(c)) r.interval = *v;
  }
  if (Field c = m.Get("delay"); c.present) {
    if (auto v = Dur(c)) r.delay = *v;
  }
  if (Field c = m.Get("delayFunction"); c.present) {
    auto v = Enum<std::string_view>(
        c, {{"constant", "constant"}, {"exponential", "exponential"}, {"fibonacci", "fibonacci"}});
    if (v) r.delay_function = std::string(*v);
  }
  if (Field c = m.Get("maxDelay"); c.present) {
    if (auto v = Dur(c)) r.max_delay = *v;
  }
  if (Field c = m.Get("unlimited"); c.present) {
    if (auto v = Bool(c)) r.unlimited = *v;
  }
  if (error_count_ == before) CheckReschedule();
}

// Nomad's ReschedulePolicy.Validate (nomad-api.md §10); it checks only an enabled policy
// (attempts > 0 or unlimited). Attempts 0 with unlimited false disables rescheduling.
void DocDecoder::CheckReschedule() {
  const RescheduleSpec& r = s_->spec.failover.reschedule;
  const std::string p = "spec.failover.reschedule";
  if (r.attempts == 0 && !r.unlimited) return;
  if (r.attempts > 0 && r.unlimited) {
    Error(s_->PositionOf(p + ".unlimited"), p + ".unlimited",
          "attempts " + std::to_string(r.attempts) +
              " with unlimited true is ambiguous (Nomad refuses it): set attempts 0 for unlimited "
              "rescheduling, or unlimited false for a limit");
    return;
  }
  if (r.delay < kMinRescheduleDelay) {
    Error(s_->PositionOf(p + ".delay"), p + ".delay",
          "must be at least 5s (Nomad's minimum), got " + base::FormatDuration(r.delay));
    return;
  }
  if (r.delay_function != "constant" && r.max_delay < r.delay) {
    Error(s_->PositionOf(p + ".maxDelay"), p + ".maxDelay",
          "must be at least delay (" + base::FormatDuration(r.delay) +
              ") unless delayFunction is constant, got " + base::FormatDuration(r.max_delay));
  }
  if (!r.unlimited) {
    if (r.interval < kMinRescheduleInterval) {
      Error(s_->PositionOf(p + ".interval"), p + ".interval",
            "must be at least 15s when attempts are limited (Nomad's minimum), got " +
                base::FormatDuration(r.interval));
    } else if (r.delay_function == "constant" &&
               r.attempts > r.interval.count() / r.delay.count()) {
      Error(s_->PositionOf(p), p,
            std::to_string(r.attempts) + " attempts with constant delay " +
                base::FormatDuration(r.delay) + " do not fit in interval " +
                base::FormatDuration(r.interval) +
                " (Nomad refuses this: attempts × delay must be at most the interval)");
    }
  }
}

void DocDecoder::DecodeTask(const Field& f) {
  Mapping m(*this, f, {"name", "driver", "config", "env", "resources", "killTimeout", "user"});
  if (!m.ok()) return;
  TaskSpec t;
  if (Field c = m.Get("name"); c.present) {
    if (auto v = NonEmptyString(c)) {
      if (v->find('/') != std::string::npos) {
        Error(c, "invalid task name " + Quote(*v) + ": must not contain '/'");
      } else {
        t.name = *v;
      }
    }
  }
  if (Field c = m.Require("driver"); c.present) {
    if (auto v = NonEmptyString(c)) t.driver = *v;
  }
  if (Field c = m.Get("config"); c.present) {
    if (!c.value.IsMap()) {
      Error(c, std::string("expected a mapping (the driver's config), got ") + KindName(c.value));
    } else {
      t.config_json = ToJson(c.value, c.path, c.value_pos, false).dump();
    }
  }
  if (Field c = m.Get("env"); c.present) StringMap(c, t.env, true);
  if (Field c = m.Get("resources"); c.present) DecodeResources(c, t.resources);
  if (Field c = m.Get("killTimeout"); c.present) {
    if (auto v = Dur(c)) t.kill_timeout = *v;
  }
  if (Field c = m.Get("user"); c.present) {
    if (auto v = String(c)) t.user = *v;
  }
  s_->spec.task = std::move(t);
}

void DocDecoder::DecodeTemplate(const Field& f) {
  if (!f.value.IsMap()) {
    Error(f, std::string("expected a mapping (a Nomad job in API JSON form), got ") +
                 KindName(f.value));
    return;
  }
  int before = error_count_;
  const Json job = ToJson(f.value, f.path, f.value_pos, true);
  auto pos = [&](const std::string& field) { return s_->PositionOf(field); };
  const std::string p = f.path;

  if (job.contains("ID")) {
    const Json& id = job["ID"];
    if (!id.is_string()) {
      Error(pos(p + ".ID"), p + ".ID", "expected a string");
    } else if (name_ok_ && id.get<std::string>() != s_->metadata.name) {
      Error(pos(p + ".ID"), p + ".ID",
            "must equal metadata.name " + Quote(s_->metadata.name) + ", got " +
                Quote(id.get<std::string>()) + " (or leave it out)");
    }
  }
  if (job.contains("Namespace")) {
    const Json& ns = job["Namespace"];
    if (!ns.is_string() || ns.get<std::string>() != s_->metadata.namespace_) {
      Error(pos(p + ".Namespace"), p + ".Namespace",
            "must equal metadata.namespace " + Quote(s_->metadata.namespace_) +
                " (or leave it out)");
    }
  }
  if (!job.contains("TaskGroups")) {
    Error(f.key_pos, p + ".TaskGroups", "required field is missing");
  } else if (const Json& groups = job["TaskGroups"]; !groups.is_array() || groups.size() != 1) {
    Error(pos(p + ".TaskGroups"), p + ".TaskGroups",
          groups.is_array() ? "must have exactly one task group, got " +
                                  std::to_string(groups.size())
                            : "expected a list with exactly one task group");
  } else if (const Json& group = groups[0]; !group.is_object()) {
    Error(pos(p + ".TaskGroups[0]"), p + ".TaskGroups[0]", "expected a mapping (a task group)");
  } else if (!group.contains("Tasks")) {
    Error(pos(p + ".TaskGroups[0]"), p + ".TaskGroups[0].Tasks", "required field is missing");
  } else if (const Json& tasks = group["Tasks"]; !tasks.is_array() || tasks.empty()) {
    Error(pos(p + ".TaskGroups[0].Tasks"), p + ".TaskGroups[0].Tasks",
          "expected a list with at least one task");
  } else {
    std::vector<size_t> workloads;
    std::vector<std::string> workload_names;
    for (size_t i = 0; i < tasks.size(); ++i) {
      const std::string tp = p + ".TaskGroups[0].Tasks[" + std::to_string(i) + "]";
      const Json& task = tasks[i];
      if (!task.is_object()) {
        Error(pos(tp), tp, "expected a mapping (a task)");
        continue;
      }
      for (const char* req : {"Name", "Driver"}) {
        if (!task.contains(req)) {
          Error(pos(tp), tp + "." + req, "required field is missing");
        } else if (!task[req].is_string() || task[req].get<std::string>().empty()) {
          Error(pos(tp + "." + req), tp + "." + req, "expected a non-empty string");
        }
      }
      if (task.contains("KillTimeout") && task["KillTimeout"].is_number_integer()) {
        s_->template_max_kill_timeout =
            std::max(s_->template_max_kill_timeout, Duration(task["KillTimeout"].get<int64_t>()));
      }
      if (!task.contains("Lifecycle") || task["Lifecycle"].is_null()) {
        workloads.push_back(i);
        workload_names.push_back(task.contains("Name") && task["Name"].is_string()
                                     ? Quote(task["Name"].get<std::string>())
                                     : "#" + std::to_string(i));
      }
    }
    const std::string tsp = p + ".TaskGroups[0].Tasks";
    if (workloads.empty()) {
      Error(pos(tsp), tsp,
            "no workload task: exactly one task must have no Lifecycle (the protected "
            "workload)");
    } else if (workloads.size() > 1) {
      std::string names;
      for (const auto& n : workload_names) names += (names.empty() ? "" : ", ") + n;
      Error(pos(tsp), tsp,
            std::to_string(workloads.size()) + " tasks have no Lifecycle (" + names +
                "): exactly one task, the protected workload, may have none; give the others a "
                "Lifecycle");
    } else {
      const Json& w = tasks[workloads[0]];
      if (w.contains("KillTimeout")) {
        const Json& kt = w["KillTimeout"];
        const std::string kp = tsp + "[" + std::to_string(workloads[0]) + "].KillTimeout";
        if (kt.is_number_integer() && kt.get<int64_t>() >= 0) {
          s_->template_kill_timeout = Duration(kt.get<int64_t>());
        } else if (!kt.is_string()) {  // a string is a duration that did not parse: reported
          Error(pos(kp), kp, "expected a duration (\"10s\") or non-negative nanoseconds");
        }
      }
    }
  }
  if (error_count_ == before) s_->spec.template_json = job.dump();
}

// ---------------------------------------------------------------------------------------------

struct DocRecord {
  Singleton s;
  bool ok = false;
  std::string key;
  SourcePos pos;       // the document's start
  SourcePos name_pos;  // where metadata.name is, or the document's start
};

}  // namespace

std::optional<std::string> VariablePathError(std::string_view path) {
  return CheckVariablePath(path);
}

LoadResult LoadSpecs(const std::vector<SourceFile>& files, const SpecCheck& check) {
  LoadResult result;
  std::vector<DocRecord> docs;

  // A document that cannot be read: its key, guessed from the text, so that the controller knows
  // which singleton is broken.
  auto unreadable = [&docs](const std::string& path, const Chunk& chunk) {
    DocRecord r;
    r.key = GuessKey(chunk.text);
    r.pos = {path, FirstContentLine(chunk) + 1, 1};
    r.name_pos = r.pos;
    docs.push_back(std::move(r));
  };
  for (const SourceFile& file : files) {
    for (const Chunk& chunk : SplitDocuments(file.content)) {
      if (const size_t bad = FirstInvalidUtf8(chunk.text); bad != std::string_view::npos) {
        const std::string_view before = std::string_view(chunk.text).substr(0, bad);
        const int line = static_cast<int>(std::count(before.begin(), before.end(), '\n'));
        const size_t line_start = before.rfind('\n');
        const int col = static_cast<int>(line_start == std::string_view::npos
                                             ? bad + 1
                                             : bad - line_start);
        char byte[8];
        std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(chunk.text[bad]));
        result.errors.push_back({{file.path, chunk.first_line + line + 1, col}, "",
                                 std::string("not valid UTF-8 (byte ") + byte +
                                     "): a spec file must be UTF-8 text"});
        unreadable(file.path, chunk);
        continue;
      }
      YAML::Node node;
      try {
        node = ParseChunk(chunk.text);
      } catch (const YAML::Exception& e) {
        SourcePos p{file.path, chunk.first_line + 1, 1};
        if (!e.mark.is_null()) {
          p = {file.path, chunk.first_line + e.mark.line + 1, e.mark.column + 1};
        }
        result.errors.push_back({p, "", "invalid YAML: " + e.msg});
        unreadable(file.path, chunk);
        continue;
      }
      if (!node.IsDefined() || node.IsNull()) continue;  // an empty document
      DocRecord r;
      DocDecoder decoder(file.path, chunk.first_line, result.errors);
      try {
        r.ok = decoder.Decode(node, r.s, r.key, r.name_pos);
      } catch (const std::exception& e) {
        // yaml-cpp throws only on misuse; a bug here must fail this document, not the load.
        result.errors.push_back({r.s.source, "", std::string("internal error: ") + e.what()});
        r.ok = false;
      }
      r.pos = r.s.source;
      if (r.name_pos.line == 0) r.name_pos = r.pos;
      docs.push_back(std::move(r));
    }
  }

  // The same singleton defined twice: every definition is reported and none is used.
  std::map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (!docs[i].key.empty()) by_key[docs[i].key].push_back(i);
  }
  for (const auto& [key, idx] : by_key) {
    if (idx.size() < 2) continue;
    for (size_t i : idx) {
      std::string others;
      for (size_t j : idx) {
        if (j != i) others += (others.empty() ? "" : ", ") + PosString(docs[j].name_pos);
      }
      result.errors.push_back({docs[i].name_pos, "metadata.name",
                               "singleton " + Quote(key) + " is also defined at " + others});
      docs[i].ok = false;
    }
  }

  if (check) {
    for (DocRecord& r : docs) {
      if (!r.ok) continue;
      size_t before = result.errors.size();
      check(r.s, result.errors);
      if (result.errors.size() != before) r.ok = false;
    }
  }

  for (DocRecord& r : docs) {
    if (r.ok) {
      result.valid.push_back(std::move(r.s));
    } else {
      result.invalid.push_back({r.key, r.pos});
    }
  }

  std::map<std::string, size_t> file_index;
  for (size_t i = 0; i < files.size(); ++i) file_index.emplace(files[i].path, i);
  auto rank = [&](const Diagnostic& d) {
    auto it = file_index.find(d.pos.file);
    return std::make_tuple(it == file_index.end() ? files.size() : it->second, d.pos.line,
                           d.pos.column);
  };
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return rank(a) < rank(b); });
  return result;
}

}  // namespace nsg::spec
