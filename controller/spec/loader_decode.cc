// Walking one YAML document for the spec loader: the pre-pass that refuses documents too deep or
// too large and duplicate keys, mappings with a fixed set of keys (unknown keys reported with a
// suggestion), the typed readers (strings, integers, booleans, durations, string maps and lists)
// that report their own errors at the value's position, and YAML → JSON for the free-form parts
// (task.config, template). The Singleton's fields themselves are in loader_fields.cc.
#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <exception>

#include "controller/spec/loader_internal.h"

namespace nsg::spec::internal {
namespace {

// The longest duration any field takes: beyond it a value is a typo (or an overflow attempt: the
// timer rule adds durations up in int64 nanoseconds, which end after 292 years).
constexpr Duration kMaxSpecDuration = std::chrono::hours(24 * 7);

// Keys of a template whose Go duration strings are turned into integer nanoseconds.
const std::set<std::string, std::less<>> kTemplateDurationKeys = {
    "KillTimeout", "Interval", "Delay", "MaxDelay", "StopOnClientAfter", "LostAfter",
    "ShutdownDelay"};

}  // namespace

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

}  // namespace nsg::spec::internal
