// Private to controller/spec's loader: what loader.cc (files and documents), loader_text.cc
// (messages and value rules), loader_decode.cc (walking a YAML document) and loader_fields.cc (the
// Singleton's fields, their rules and defaults) share — the DocDecoder that turns one YAML
// document into a Singleton, and the text helpers its messages use. yaml-cpp and nlohmann types
// appear here, so only .cc files of controller/spec include it (.ci/check-layering.py checks
// that); no library type reaches loader.h. Not synchronized: a DocDecoder decodes one document.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/spec/loader.h"

namespace nsg::spec::internal {

using Json = nlohmann::json;

// A document deeper or larger than this is refused before it is decoded: it protects the
// recursive walks below from a self-referencing alias (`a: &x [*x]`) and from alias bombs.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxNodes = 100000;

// ---------------------------------------------------------------------------------------------
// Small text helpers and value rules (loader_text.cc).

// `s` in double quotes, cut to a bounded length at a UTF-8 character boundary.
std::string Quote(std::string_view s);
std::string JoinPath(const std::string& parent, std::string_view name);
std::string IndexPath(const std::string& parent, size_t i);
std::string PosString(const SourcePos& p);
// "; did you mean X?" for a likely typo of one of `candidates`, or "".
std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates);
bool IsDecimalInt(std::string_view s);
// A decimal number with a fraction and/or an exponent (JSON's number grammar).
bool IsDecimalFloat(std::string_view s);
bool MatchesJobId(std::string_view s);
bool MatchesNamespace(std::string_view s);
bool MatchesEnvName(std::string_view s);
// Nomad's variable path rule in the words of a spec's author (VariablePathError).
std::optional<std::string> CheckVariablePath(std::string_view p);
// A plausible cron expression for Nomad's periodic block.
bool IsPlausibleCron(std::string_view s);

// ---------------------------------------------------------------------------------------------
// Decoding one document (loader_decode.cc: the walk and the typed readers; loader_fields.cc: the
// fields of a Singleton).

// One key of a mapping, as found (or not) by Mapping::Get.
struct Field {
  bool present = false;
  YAML::Node key;
  YAML::Node value;
  std::string path;
  SourcePos key_pos;    // where the key is (for a missing field: where its parent is)
  SourcePos value_pos;  // where the value is (the key's position for an empty value)
};

inline const char* KindName(const YAML::Node& n) {
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
inline bool IsPlain(const YAML::Node& n) { return n.IsScalar() && n.Tag() == "?"; }

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

}  // namespace nsg::spec::internal
