#include "controller/sim/hcl/eval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace nsg::sim::hcl {
namespace {

Range StartThroughParen(const Expr& e) { return Range{e.name_range.start, e.open_paren_range.end}; }

// Roughly the bytes a value holds (strings and keys by length, everything else 8).
size_t ApproxSize(const Value& v) {
  if (v.is_string()) return v.get_ref<const std::string&>().size();
  size_t n = 8;
  if (v.is_array()) {
    for (const Value& item : v) n += ApproxSize(item);
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) n += it.key().size() + ApproxSize(it.value());
  }
  return n;
}

bool Charge(const EvalContext& ctx, size_t bytes, const Range& where, Diagnostics& diags) {
  if (*ctx.budget < bytes) {
    *ctx.budget = 0;
    diags.push_back(Diagnostic{"Configuration too large",
                               "Evaluating the configuration produced more than " +
                                   std::to_string(kMaxEvalBytes) + " bytes of values.",
                               where});
    return false;
  }
  *ctx.budget -= bytes;
  return true;
}

// jobspec2/functions.go Functions @ v2.0.5: the names Nomad knows. The filesystem ones are
// guarded (guardFS) when AllowFS is false, as it is for the parse endpoint.
const std::set<std::string_view>& FilesystemFunctions() {
  static const std::set<std::string_view> kNames = {
      "abspath", "basename", "dirname", "file", "filebase64", "fileexists", "fileset",
      "pathexpand"};
  return kNames;
}

const std::set<std::string_view>& NomadFunctions() {
  static const std::set<std::string_view> kNames = {
      "abs", "base64decode", "base64encode", "bcrypt", "can", "ceil", "chomp", "chunklist",
      "cidrhost", "cidrnetmask", "cidrsubnet", "cidrsubnets", "coalesce", "coalescelist",
      "compact", "concat", "contains", "convert", "csvdecode", "distinct", "element", "flatten",
      "floor", "format", "formatdate", "formatlist", "indent", "index", "join", "jsondecode",
      "jsonencode", "keys", "length", "log", "lookup", "lower", "max", "merge", "min",
      "parseint", "pow", "range", "reverse", "replace", "regex_replace", "rsadecrypt",
      "setintersection", "setproduct", "setunion", "sha256", "sha512", "signum", "slice", "sort",
      "split", "strlen", "strrev", "substr", "timeadd", "title", "trim", "trimprefix",
      "trimspace", "trimsuffix", "try", "upper", "urlencode", "uuidv4", "uuidv5", "values",
      "yamldecode", "yamlencode", "zipmap", "md5", "sha1"};
  return kNames;
}

std::optional<Value> EvalCall(const Expr& e, const EvalContext& ctx, Diagnostics& diags) {
  if (ctx.vars == nullptr) {
    diags.push_back(Diagnostic{"Function calls not allowed",
                               "Functions may not be called here.", e.range});
    return std::nullopt;
  }
  for (const ExprPtr& arg : e.items) {
    if (!Evaluate(*arg, ctx, diags)) return std::nullopt;
  }
  if (FilesystemFunctions().count(e.name) > 0) {
    // hclsyntax FunctionCallExpr.Value: a non-argument error from the function's Type callback.
    diags.push_back(Diagnostic{"Error in function call",
                               "Call to function \"" + e.name +
                                   "\" failed: filesystem function disabled.",
                               StartThroughParen(e)});
  } else if (NomadFunctions().count(e.name) > 0) {
    diags.push_back(Diagnostic{
        "Unsupported function",
        "Nomad's function \"" + e.name +
            "\" is not implemented by the nomad-singleton simulator's HCL parser; use literal "
            "values and variables.",
        StartThroughParen(e)});
  } else {
    diags.push_back(Diagnostic{"Call to unknown function",
                               "There is no function named \"" + e.name + "\".", e.name_range});
  }
  return std::nullopt;
}

// The source text of a reference, as jobspec2's UndefinedVariable hook returns it: the enclosing
// "${ ... }" when the reference is an interpolation's whole expression, else wrapped in one.
std::string PassThrough(const Expr& e, const EvalContext& ctx, const Range* interpolation) {
  if (interpolation != nullptr && interpolation->end.byte <= ctx.source.size()) {
    return std::string(ctx.source.substr(interpolation->start.byte,
                                         interpolation->end.byte - interpolation->start.byte));
  }
  std::string_view text;
  if (e.range.end.byte <= ctx.source.size()) {
    text = ctx.source.substr(e.range.start.byte, e.range.end.byte - e.range.start.byte);
  }
  return "${" + std::string(text) + "}";
}

std::optional<Value> EvalTraversal(const Expr& e, const EvalContext& ctx, Diagnostics& diags,
                                   const Range* interpolation) {
  if (ctx.vars == nullptr) {
    diags.push_back(Diagnostic{"Variables not allowed", "Variables may not be used here.",
                               e.name_range});
    return std::nullopt;
  }
  const Value* root = e.name == "var" ? ctx.vars : e.name == "local" ? ctx.locals : nullptr;
  if (root == nullptr) {
    std::string text = PassThrough(e, ctx, interpolation);
    if (!Charge(ctx, text.size(), e.range, diags)) return std::nullopt;
    return Value(std::move(text));
  }
  const Value* cur = root;
  for (const Step& s : e.steps) {
    std::optional<Value> key;
    if (s.index) {
      key = Evaluate(*s.index, ctx, diags);
      if (!key) return std::nullopt;
    } else if (s.index_number) {
      key = Value(std::stoll(s.name));
    }
    if (!key && cur->is_object()) {
      auto it = cur->find(s.name);
      if (it == cur->end()) {
        diags.push_back(Diagnostic{"Unsupported attribute",
                                   "This object does not have an attribute named \"" + s.name +
                                       "\".",
                                   s.range});
        return std::nullopt;
      }
      cur = &*it;
    } else if (!key) {
      diags.push_back(Diagnostic{"Unsupported attribute",
                                 "Can't access attributes on a primitive-typed value (" +
                                     TypeName(*cur) + ").",
                                 s.range});
      return std::nullopt;
    } else if (cur->is_array() && key->is_number_integer() && key->get<int64_t>() >= 0 &&
               static_cast<size_t>(key->get<int64_t>()) < cur->size()) {
      cur = &(*cur)[static_cast<size_t>(key->get<int64_t>())];
    } else if (cur->is_object() && key->is_string() && cur->contains(key->get<std::string>())) {
      cur = &(*cur)[key->get<std::string>()];
    } else {
      diags.push_back(Diagnostic{"Invalid index",
                                 "The given key does not identify an element in this collection "
                                 "value.",
                                 s.range});
      return std::nullopt;
    }
  }
  if (!Charge(ctx, ApproxSize(*cur), e.range, diags)) return std::nullopt;
  return *cur;
}

std::optional<Value> EvalTemplate(const Expr& e, const EvalContext& ctx, Diagnostics& diags) {
  // hclsyntax TemplateWrapExpr: "${x}" alone is x's value, of any type.
  if (e.parts.size() == 1 && e.parts[0].expr) {
    const Expr& inner = *e.parts[0].expr;
    if (inner.kind == ExprKind::kTraversal) {
      return EvalTraversal(inner, ctx, diags, &e.parts[0].range);
    }
    return Evaluate(inner, ctx, diags);
  }
  std::string out;
  for (const TemplatePart& p : e.parts) {
    if (!p.expr) {
      out += p.text;
      continue;
    }
    std::optional<Value> v = p.expr->kind == ExprKind::kTraversal
                                 ? EvalTraversal(*p.expr, ctx, diags, &p.range)
                                 : Evaluate(*p.expr, ctx, diags);
    if (!v) return std::nullopt;
    if (v->is_null()) {
      diags.push_back(Diagnostic{"Invalid template interpolation value",
                                 "The expression result is null. Cannot include a null value in "
                                 "a string template.",
                                 p.expr->range});
      return std::nullopt;
    }
    std::optional<std::string> s = PrimitiveToString(*v);
    if (!s) {
      diags.push_back(Diagnostic{"Invalid template interpolation value",
                                 "Cannot include the given value in a string template: string "
                                 "required.",
                                 p.expr->range});
      return std::nullopt;
    }
    out += *s;
  }
  if (!Charge(ctx, out.size(), e.range, diags)) return std::nullopt;
  return Value(std::move(out));
}

}  // namespace

std::string TypeName(const Value& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "bool";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "tuple";
  return "object";
}

std::optional<std::string> PrimitiveToString(const Value& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_float()) {
    // big.Float.Text('f', -1): the shortest decimal that reads back, no exponent.
    const double d = v.get<double>();
    char buf[64];
    for (int prec = 1; prec <= 17; ++prec) {
      std::snprintf(buf, sizeof buf, "%.*g", prec, d);
      if (std::strtod(buf, nullptr) == d) break;
    }
    const double back = std::strtod(buf, nullptr);
    std::string s = buf;
    if (s.find_first_of("eE") != std::string::npos) {
      // Expand the exponent form into plain digits.
      std::snprintf(buf, sizeof buf, "%.17f", back);
      s = buf;
      while (!s.empty() && s.back() == '0') s.pop_back();
      if (!s.empty() && s.back() == '.') s.pop_back();
    }
    return s;
  }
  return std::nullopt;
}

std::optional<Value> Evaluate(const Expr& e, const EvalContext& ctx, Diagnostics& diags) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      return e.literal;
    case ExprKind::kTemplate:
      return EvalTemplate(e, ctx, diags);
    case ExprKind::kTraversal:
      return EvalTraversal(e, ctx, diags, nullptr);
    case ExprKind::kCall:
      return EvalCall(e, ctx, diags);
    case ExprKind::kTuple: {
      Value out = Value::array();
      for (const ExprPtr& item : e.items) {
        std::optional<Value> v = Evaluate(*item, ctx, diags);
        if (!v) return std::nullopt;
        out.push_back(std::move(*v));
      }
      return out;
    }
    case ExprKind::kObject: {
      // Keys sorted, as a cty object's attributes are; a later duplicate wins.
      std::map<std::string, Value> sorted;
      for (const auto& [k, v] : e.pairs) {
        std::optional<Value> key = Evaluate(*k, ctx, diags);
        if (!key) return std::nullopt;
        std::optional<std::string> name = PrimitiveToString(*key);
        if (!name) {
          diags.push_back(Diagnostic{"Incorrect key type",
                                     "Can't use this value as a key: string required.", k->range});
          return std::nullopt;
        }
        std::optional<Value> value = Evaluate(*v, ctx, diags);
        if (!value) return std::nullopt;
        sorted[*name] = std::move(*value);
      }
      Value out = Value::object();
      for (auto& [k, v] : sorted) out[k] = std::move(v);
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace nsg::sim::hcl
