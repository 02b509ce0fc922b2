#include "controller/sim/hcl/decode.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <vector>

namespace nsg::sim::hcl {

int StructIndex(std::string_view name) {
  for (size_t i = 0; i < std::size(api_schema::kApiStructs); ++i) {
    if (name == api_schema::kApiStructs[i].name) return static_cast<int>(i);
  }
  return -1;
}

const StructSpec& StructAt(int index) { return api_schema::kApiStructs[index]; }
const FieldSpec& FieldAt(size_t index) { return api_schema::kApiFields[index]; }

namespace {

std::vector<const FieldSpec*> Fields(int index) {
  const StructSpec& s = StructAt(index);
  std::vector<const FieldSpec*> out;
  for (size_t i = 0; i < s.count; ++i) out.push_back(&FieldAt(s.first + i));
  return out;
}

bool IsAttr(const FieldSpec& f) {
  return f.hcl_kind == HclKind::kAttr || f.hcl_kind == HclKind::kOptional;
}

size_t Levenshtein(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// hcl's nameSuggestion: the first candidate within edit distance 2.
std::string Suggest(std::string_view given, const std::vector<std::string>& candidates) {
  for (const std::string& c : candidates) {
    if (Levenshtein(given, c) < 3) return c;
  }
  return "";
}

// The struct's label fields (gohcl `hcl:",label"`), in order.
std::vector<const FieldSpec*> LabelFields(int index) {
  std::vector<const FieldSpec*> out;
  for (const FieldSpec* f : Fields(index)) {
    if (f->hcl_kind == HclKind::kLabel) out.push_back(f);
  }
  return out;
}

// jobspec2 decodes `meta` (and a task's `env`) as an attribute as well as a block.
bool MapAsAttribute(int index, std::string_view name) {
  const std::string_view s = StructAt(index).name;
  if (name == "meta") return s == "Job" || s == "TaskGroup" || s == "Task";
  return name == "env" && s == "Task";
}

}  // namespace

Value Decoder::Skeleton(int index) {
  Value out = Value::object();
  for (const FieldSpec* f : Fields(index)) {
    if (f->omit_empty) continue;
    if (f->pointer) {
      out[f->json] = nullptr;
      continue;
    }
    switch (f->kind) {
      case ValueKind::kString: out[f->json] = ""; break;
      case ValueKind::kBool: out[f->json] = false; break;
      case ValueKind::kInt:
      case ValueKind::kDuration: out[f->json] = 0; break;
      case ValueKind::kFloat: out[f->json] = 0.0; break;
      case ValueKind::kStruct: out[f->json] = Skeleton(f->sub); break;
      default: out[f->json] = nullptr; break;
    }
  }
  return out;
}

void Decoder::Unsuitable(const std::string& detail, const Expr& e, const char* summary) {
  diags_.push_back(
      Diagnostic{summary != nullptr ? summary : "Unsuitable value type", detail, e.range});
}

std::optional<int64_t> Decoder::GoParseDuration(std::string_view d, std::string* error) {
  // time.ParseDuration @ Go 1.26: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0".
  const std::string quoted = "\"" + std::string(d) + "\"";
  std::string_view s = d;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) {
    *error = "time: invalid duration " + quoted;
    return std::nullopt;
  }
  static const std::map<std::string_view, double> kUnits = {
      {"ns", 1}, {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"\xCE\xBCs", 1e3}, {"ms", 1e6},
      {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    if (j < s.size() && s[j] == '.') {
      ++j;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
    }
    if (j == 0 || (i == 0 && j == 1)) {
      *error = "time: invalid duration " + quoted;
      return std::nullopt;
    }
    const long double number = std::strtold(std::string(s.substr(0, j)).c_str(), nullptr);
    size_t k = j;
    while (k < s.size() && s[k] != '.' && !std::isdigit(static_cast<unsigned char>(s[k]))) ++k;
    const std::string_view unit = s.substr(j, k - j);
    if (unit.empty()) {
      *error = "time: missing unit in duration " + quoted;
      return std::nullopt;
    }
    auto it = kUnits.find(unit);
    if (it == kUnits.end()) {
      *error = "time: unknown unit \"" + std::string(unit) + "\" in duration " + quoted;
      return std::nullopt;
    }
    total += number * it->second;
    if (total > 9223372036854775807.0L) {
      *error = "time: invalid duration " + quoted;
      return std::nullopt;
    }
    s.remove_prefix(k);
  }
  const auto ns = static_cast<int64_t>(total);
  return neg ? -ns : ns;
}

std::optional<Value> Decoder::Duration(const Value& v, const Expr& e) {
  // jobspec2 decodeDuration @ v2.0.5.
  if (v.is_null()) {
    Unsuitable("Unsuitable duration value: nil", e, "Unsuitable value");
    return std::nullopt;
  }
  if (v.is_string()) {
    std::string err;
    std::optional<int64_t> ns = GoParseDuration(v.get<std::string>(), &err);
    if (!ns) {
      Unsuitable("Unsuitable duration value: " + err, e);
      return std::nullopt;
    }
    return Value(*ns);
  }
  if (!v.is_number()) {
    Unsuitable("Unsuitable value: expected a string but found " + TypeName(v), e);
    return std::nullopt;
  }
  return Convert(v, ValueKind::kInt, e);
}

std::optional<Value> Decoder::Convert(const Value& v, ValueKind kind, const Expr& e) {
  if (v.is_null()) return Value(nullptr);
  switch (kind) {
    case ValueKind::kString: {
      std::optional<std::string> s = PrimitiveToString(v);
      if (!s) break;
      return Value(*s);
    }
    case ValueKind::kBool:
      if (v.is_boolean()) return v;
      if (v.is_string() && (v == "true" || v == "false")) return Value(v == "true");
      Unsuitable(v.is_string() ? "Unsuitable value: a bool is required" : "Unsuitable value: bool required", e);
      return std::nullopt;
    case ValueKind::kInt:
    case ValueKind::kFloat: {
      Value n = v;
      if (v.is_string()) {
        const std::string s = v.get<std::string>();
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size()) {
          Unsuitable("Unsuitable value: a number is required", e);
          return std::nullopt;
        }
        n = d == std::floor(d) && std::fabs(d) < 9e18 ? Value(static_cast<int64_t>(d)) : Value(d);
      } else if (!v.is_number()) {
        break;
      }
      if (kind == ValueKind::kFloat) return n;
      if (n.is_number_float()) {
        const double d = n.get<double>();
        if (d != std::floor(d) || std::fabs(d) > 9.2e18) {
          Unsuitable("Unsuitable value: value must be a whole number, between "
                     "-9223372036854775808 and 9223372036854775807 inclusive", e);
          return std::nullopt;
        }
        return Value(static_cast<int64_t>(d));
      }
      return n;
    }
    case ValueKind::kDuration:
      return Duration(v, e);
    case ValueKind::kStringList: {
      if (!v.is_array()) {
        Unsuitable("Unsuitable value: list of string required", e);
        return std::nullopt;
      }
      Value out = Value::array();
      for (const Value& item : v) {
        std::optional<std::string> s = PrimitiveToString(item);
        if (!s) {
          Unsuitable("Unsuitable value: list of string required", e);
          return std::nullopt;
        }
        out.push_back(*s);
      }
      return out;
    }
    case ValueKind::kStringMap: {
      if (!v.is_object()) {
        Unsuitable("Unsuitable value: map of string required", e);
        return std::nullopt;
      }
      Value out = Value::object();
      for (auto it = v.begin(); it != v.end(); ++it) {
        std::optional<std::string> s = PrimitiveToString(it.value());
        if (!s) {
          Unsuitable("Unsuitable value: map of string required", e);
          return std::nullopt;
        }
        out[it.key()] = *s;
      }
      return out;
    }
    default:
      return v;
  }
  const char* want = kind == ValueKind::kString ? "string" : "number";
  Unsuitable(std::string("Unsuitable value: ") + want + " required", e);
  return std::nullopt;
}

std::optional<Value> Decoder::StringMap(const Expr& e) {
  std::optional<Value> v = Eval(e);
  if (!v) return std::nullopt;
  return Convert(*v, ValueKind::kStringMap, e);
}

Value Decoder::FreeForm(const Body& body) {
  std::map<std::string, Value> sorted;
  for (const Attribute& a : body.attributes) {
    std::optional<Value> v = Eval(*a.expr);
    sorted[a.name] = v ? std::move(*v) : Value(nullptr);
  }
  for (const Block& b : body.blocks) {
    Value item = FreeForm(*b.body);
    for (auto l = b.labels.rbegin(); l != b.labels.rend(); ++l) {
      Value wrapped = Value::object();
      wrapped[*l] = std::move(item);
      item = std::move(wrapped);
    }
    Value& list = sorted[b.type];
    if (!list.is_array()) list = Value::array();
    list.push_back(std::move(item));
  }
  Value out = Value::object();
  for (auto& [k, v] : sorted) out[k] = std::move(v);
  return out;
}

std::optional<Value> Decoder::JustAttributes(const Body& body, ValueKind kind) {
  if (!body.blocks.empty()) {
    diags_.push_back(Diagnostic{"Unexpected \"" + body.blocks[0].type + "\" block",
                                "Blocks are not allowed here.", body.blocks[0].type_range});
    return std::nullopt;
  }
  std::map<std::string, Value> sorted;
  for (const Attribute& a : body.attributes) {
    std::optional<Value> v = Eval(*a.expr);
    if (!v) return std::nullopt;
    if (kind == ValueKind::kStringMap) {
      std::optional<std::string> s = PrimitiveToString(*v);
      if (!s) {
        Unsuitable("Unsuitable value: string required", *a.expr);
        return std::nullopt;
      }
      *v = *s;
    }
    sorted[a.name] = std::move(*v);
  }
  Value out = Value::object();
  for (auto& [k, v] : sorted) out[k] = std::move(v);
  return out;
}

bool Decoder::CheckLabels(const Block& b, int sub) {
  std::vector<std::string> names;
  for (const FieldSpec* f : LabelFields(sub)) names.push_back(f->hcl);
  if (b.labels.size() > names.size()) {
    std::string detail = names.empty() ? "No labels are expected for " + b.type + " blocks."
                                       : "Only " + std::to_string(names.size()) + " labels (" +
                                             names[0] + ") are expected for " + b.type + " blocks.";
    diags_.push_back(Diagnostic{"Extraneous label for " + b.type, detail,
                                b.label_ranges[names.size()]});
    return false;
  }
  if (b.labels.size() < names.size()) {
    diags_.push_back(Diagnostic{"Missing " + names[b.labels.size()] + " for " + b.type,
                                "All " + b.type + " blocks must have " +
                                    std::to_string(names.size()) + " labels (" + names[0] + ").",
                                b.open_brace_range});
    return false;
  }
  return true;
}

void Decoder::DecodeBody(const Body& body, int index, Value& out,
                         const std::set<std::string>& hidden) {
  const std::string_view struct_name = StructAt(index).name;
  if (struct_name == "Constraint" || struct_name == "Affinity") {
    DecodeConstraint(body, out, struct_name == "Affinity");
    return;
  }
  if (struct_name == "TaskGroup" && hidden.empty()) {
    DecodeGroup(body, index, out);
    return;
  }
  const std::vector<const FieldSpec*> fields = Fields(index);
  auto find = [&](const std::string& name, bool attr) -> const FieldSpec* {
    for (const FieldSpec* f : fields) {
      if (f->hcl == name && (attr ? IsAttr(*f) : f->hcl_kind == HclKind::kBlock)) return f;
    }
    return nullptr;
  };
  std::map<std::string, const Attribute*> map_attrs;  // meta/env given as attributes
  for (const Attribute& a : body.attributes) {
    if (hidden.count(a.name) > 0) continue;
    if (const FieldSpec* f = find(a.name, true)) {
      std::optional<Value> v = Eval(*a.expr);
      if (!v) continue;
      std::optional<Value> c = Convert(*v, f->kind, *a.expr);
      if (c && !c->is_null()) out[f->json] = std::move(*c);
      continue;
    }
    if (MapAsAttribute(index, a.name)) {
      map_attrs[a.name] = &a;
      std::optional<Value> m = StringMap(*a.expr);
      if (m) out[find(a.name, false)->json] = std::move(*m);
      continue;
    }
    std::vector<std::string> candidates;
    for (const FieldSpec* f : fields) {
      if (IsAttr(*f) && body.FindAttribute(f->hcl) == nullptr) candidates.push_back(f->hcl);
    }
    std::string suggestion = Suggest(a.name, candidates);
    if (!suggestion.empty()) {
      suggestion = " Did you mean \"" + suggestion + "\"?";
    } else if (find(a.name, false) != nullptr) {
      suggestion = " Did you mean to define a block of type \"" + a.name + "\"?";
    }
    diags_.push_back(Diagnostic{
        "Unsupported argument",
        "An argument named \"" + a.name + "\" is not expected here." + suggestion, a.name_range});
  }
  for (const FieldSpec* f : fields) {
    if (f->hcl_kind == HclKind::kAttr && body.FindAttribute(f->hcl) == nullptr) {
      diags_.push_back(Diagnostic{"Missing required argument",
                                  "The argument \"" + std::string(f->hcl) +
                                      "\" is required, but no definition was found.",
                                  Range{body.range.start, body.range.start}});
    }
  }
  std::map<std::string, const Block*> seen;
  for (const Block& b : body.blocks) {
    if (hidden.count(b.type) > 0) continue;
    const FieldSpec* f = find(b.type, false);
    if (f == nullptr) {
      std::vector<std::string> candidates;
      for (const FieldSpec* g : fields) {
        if (g->hcl_kind == HclKind::kBlock) candidates.push_back(g->hcl);
      }
      std::string suggestion = Suggest(b.type, candidates);
      if (!suggestion.empty()) {
        suggestion = " Did you mean \"" + suggestion + "\"?";
      } else if (find(b.type, true) != nullptr) {
        suggestion = " Did you mean to define argument \"" + b.type +
                     "\"? If so, use the equals sign to assign it a value.";
      }
      diags_.push_back(Diagnostic{
          "Unsupported block type",
          "Blocks of type \"" + b.type + "\" are not expected here." + suggestion, b.type_range});
      continue;
    }
    if (auto a = map_attrs.find(b.type); a != map_attrs.end()) {
      diags_.push_back(Diagnostic{"Duplicate " + b.type + " block",
                                  b.type + " may not be defined more than once. Another "
                                           "definition is defined at " +
                                      FormatRange(a->second->range, "input.hcl") + ".",
                                  b.DefRange()});
      continue;
    }
    const bool many = f->kind == ValueKind::kStructList || f->kind == ValueKind::kStructMap;
    if (!many && seen.count(b.type) > 0) {
      diags_.push_back(Diagnostic{"Duplicate " + b.type + " block",
                                  "Only one " + b.type + " block is allowed. Another was defined "
                                  "at " + FormatRange(seen[b.type]->DefRange(), "input.hcl") + ".",
                                  b.DefRange()});
      continue;
    }
    seen.emplace(b.type, &b);
    const bool has_struct = f->sub >= 0;
    if (has_struct && !CheckLabels(b, f->sub)) continue;
    if (!has_struct && !b.labels.empty()) {
      diags_.push_back(Diagnostic{"Extraneous label for " + b.type,
                                  "No labels are expected for " + b.type + " blocks.",
                                  b.label_ranges[0]});
      continue;
    }
    Value& slot = out[f->json];
    switch (f->kind) {
      case ValueKind::kStruct:
      case ValueKind::kStructList:
      case ValueKind::kStructMap: {
        Value item = Skeleton(f->sub);
        std::vector<const FieldSpec*> labels = LabelFields(f->sub);
        for (size_t i = 0; i < labels.size(); ++i) item[labels[i]->json] = b.labels[i];
        DecodeBody(*b.body, f->sub, item);
        if (f->kind == ValueKind::kStruct) {
          slot = std::move(item);
        } else if (f->kind == ValueKind::kStructList) {
          if (!slot.is_array()) slot = Value::array();
          slot.push_back(std::move(item));
        } else {
          if (!slot.is_object()) slot = Value::object();
          slot[b.labels.empty() ? std::string() : b.labels[0]] = std::move(item);
        }
        break;
      }
      case ValueKind::kAnyMap:
        slot = FreeForm(*b.body);
        break;
      default: {
        std::optional<Value> m = JustAttributes(
            *b.body, f->kind == ValueKind::kStringMap ? ValueKind::kStringMap : ValueKind::kAny);
        if (m) slot = std::move(*m);
        break;
      }
    }
  }
}

void Decoder::DecodeGroup(const Body& body, int index, Value& out) {
  // jobspec2 decodeTaskGroup @ v2.0.5: group-level vault and secret blocks go to its tasks.
  Value vault = nullptr;
  Value secrets = nullptr;
  for (const Block& b : body.blocks) {
    if (b.type != "vault" && b.type != "secret") continue;
    const int sub = StructIndex(b.type == "vault" ? "Vault" : "Secret");
    Value v = Skeleton(sub);
    DecodeBody(*b.body, sub, v);
    if (b.type == "vault") {
      vault = std::move(v);
      continue;
    }
    if (b.labels.size() == 1) v["Name"] = b.labels[0];
    if (!secrets.is_array()) secrets = Value::array();
    secrets.push_back(std::move(v));
  }
  DecodeBody(body, index, out, {"vault", "secret"});
  if (out["Tasks"].is_array()) {
    for (Value& t : out["Tasks"]) {
      if (t["Vault"].is_null() && !vault.is_null()) t["Vault"] = vault;
      // Nomad appends the task's own secrets to themselves when it has some (a bug kept here:
      // `t.Secrets = append(t.Secrets, t.Secrets...)`).
      if (secrets.is_array()) {
        if (!t["Secrets"].is_array() || t["Secrets"].empty()) {
          t["Secrets"] = secrets;
        } else {
          Value own = t["Secrets"];
          for (const Value& s : own) t["Secrets"].push_back(s);
        }
      }
    }
  }
  if (out["Scaling"].is_object() && out["Scaling"]["Type"] == "") {
    out["Scaling"]["Type"] = "horizontal";
  }
}

void Decoder::DecodeConstraint(const Body& body, Value& out, bool affinity) {
  // jobspec2 decodeConstraint / decodeAffinity @ v2.0.5 (hcldec object specs).
  static const std::vector<std::string> kConstraintAttrs = {
      "attribute", "value", "operator", "distinct_property", "distinct_hosts", "regexp",
      "version", "semver", "set_contains", "set_contains_all", "set_contains_any",
      "is_set", "is_not_set"};
  static const std::vector<std::string> kAffinityAttrs = {
      "attribute", "value", "operator", "weight", "version", "semver", "regexp",
      "set_contains", "set_contains_all", "set_contains_any"};
  const std::vector<std::string>& allowed = affinity ? kAffinityAttrs : kConstraintAttrs;
  std::map<std::string, Value> attrs;
  for (const Attribute& a : body.attributes) {
    if (std::find(allowed.begin(), allowed.end(), a.name) == allowed.end()) {
      std::string suggestion = Suggest(a.name, allowed);
      diags_.push_back(Diagnostic{"Unsupported argument",
                                  "An argument named \"" + a.name + "\" is not expected here." +
                                      (suggestion.empty() ? "" : " Did you mean \"" + suggestion + "\"?"),
                                  a.name_range});
      continue;
    }
    std::optional<Value> v = Eval(*a.expr);
    if (!v) continue;
    const ValueKind kind = a.name == "weight"           ? ValueKind::kInt
                           : a.name == "distinct_hosts" ? ValueKind::kBool
                                                        : ValueKind::kString;
    std::optional<Value> c = Convert(*v, kind, *a.expr);
    if (c && !c->is_null()) attrs[a.name] = std::move(*c);
  }
  for (const Block& b : body.blocks) {
    diags_.push_back(Diagnostic{"Unsupported block type",
                                "Blocks of type \"" + b.type + "\" are not expected here.",
                                b.type_range});
  }
  auto str = [&](const std::string& k) {
    auto it = attrs.find(k);
    return it == attrs.end() ? std::string() : it->second.get<std::string>();
  };
  out["LTarget"] = str("attribute");
  out["RTarget"] = str("value");
  out["Operand"] = str("operator");
  const std::vector<std::string> shortcuts =
      affinity ? std::vector<std::string>{"version", "semver", "regexp", "set_contains_any",
                                          "set_contains_all", "set_contains"}
               : std::vector<std::string>{"version", "semver", "regexp", "set_contains"};
  for (const std::string& k : shortcuts) {
    if (!str(k).empty()) {
      out["Operand"] = k;
      out["RTarget"] = str(k);
    }
  }
  if (affinity) {
    if (auto w = attrs.find("weight"); w != attrs.end()) {
      out["Weight"] = static_cast<int8_t>(w->second.get<int64_t>());
    }
  } else {
    if (auto d = attrs.find("distinct_hosts"); d != attrs.end()) {
      out["Operand"] = "distinct_hosts";
      out["RTarget"] = d->second.get<bool>() ? "true" : "false";
    }
    if (!str("distinct_property").empty()) {
      out["Operand"] = "distinct_property";
      out["LTarget"] = str("distinct_property");
    }
  }
  if (out["Operand"] == "") out["Operand"] = "=";
}

}  // namespace nsg::sim::hcl
