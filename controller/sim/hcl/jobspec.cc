#include "controller/sim/hcl/jobspec.h"

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "controller/sim/hcl/decode.h"

namespace nsg::sim::hcl {
namespace {

constexpr char kFile[] = "input.hcl";

// hcl.Diagnostics.Error(): the first, and how many more.
std::string DiagsError(const Diagnostics& d) {
  std::string out = d.front().Error(kFile);
  if (d.size() > 1) out += ", and " + std::to_string(d.size() - 1) + " other diagnostic(s)";
  return out;
}

// jobspec2 decode(): decodeBody's diagnostics joined by newlines.
std::string JoinedError(const Diagnostics& d) {
  std::string out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i > 0) out += "\n";
    out += d[i].Error(kFile);
  }
  return out;
}

// Only objects count as JSON input (jobspec2 isJSON: the first non-space byte is '{').
bool IsJson(std::string_view src) {
  for (char c : src) {
    if (c != ' ') return c == '{';
  }
  return false;
}

// A variable's type constraint, as far as conversions go: a primitive or anything else.
enum class VarType { kAny, kString, kNumber, kBool };

struct Variable {
  VarType type = VarType::kAny;
  std::optional<Value> value;  // the last assignment: default, then the var file
  Range range;
};

class JobParser {
 public:
  JobParser(std::string_view src, size_t* budget) : src_(src), budget_(budget) {}

  base::Result<Value> Run(std::string_view var_content, bool canonicalize) {
    if (IsJson(src_)) {
      return base::Status::InvalidSpec(
          "the nomad-singleton simulator parses HCL job files only; send the job as HCL");
    }
    ParseResult file = Parse(src_);
    if (!file.diags.empty()) return base::Status::InvalidSpec(DiagsError(file.diags));
    ParseResult var_file;
    if (!var_content.empty()) {
      var_file = Parse(var_content);
      if (!var_file.diags.empty()) {
        return base::Status::InvalidSpec("unable to parse var content: " +
                                         DiagsError(var_file.diags));
      }
    }
    // jobConfigSchema: variables, variable "name", locals, job "name".
    if (!CheckTopLevel(*file.body)) return base::Status::InvalidSpec(JoinedError(diags_));
    DecodeVariables(*file.body);
    if (var_file.body) AssignVarFile(*var_file.body);
    for (const auto& [name, v] : vars_) {
      if (!v.value) {
        diags_.push_back(Diagnostic{
            "Unset variable \"" + name + "\"",
            "A used variable must be set or have a default value; see "
            "https://developer.hashicorp.com/nomad/docs/reference/hcl2/variables  for details.",
            std::nullopt});
      }
    }
    if (diags_.empty()) EvaluateLocals(*file.body);
    if (!diags_.empty()) return base::Status::InvalidSpec(JoinedError(diags_));
    Value job = DecodeJob(*file.body);
    if (!diags_.empty()) return base::Status::InvalidSpec(JoinedError(diags_));
    if (canonicalize) CanonicalizeApiJob(job);
    return job;
  }

 private:
  EvalContext Context() {
    return EvalContext{&var_values_, &local_values_, src_, budget_};
  }

  bool CheckTopLevel(const Body& body) {
    for (const Attribute& a : body.attributes) {
      diags_.push_back(Diagnostic{"Unsupported argument",
                                  "An argument named \"" + a.name + "\" is not expected here.",
                                  a.name_range});
    }
    for (const Block& b : body.blocks) {
      const bool labelled = b.type == "variable" || b.type == "job";
      if (b.type != "variables" && b.type != "locals" && !labelled) {
        diags_.push_back(Diagnostic{"Unsupported block type",
                                    "Blocks of type \"" + b.type + "\" are not expected here.",
                                    b.type_range});
      } else if (labelled && b.labels.size() != 1) {
        if (b.labels.empty()) {
          diags_.push_back(Diagnostic{"Missing name for " + b.type,
                                      "All " + b.type + " blocks must have 1 labels (name).",
                                      b.open_brace_range});
        } else {
          diags_.push_back(Diagnostic{"Extraneous label for " + b.type,
                                      "Only 1 labels (name) are expected for " + b.type +
                                          " blocks.",
                                      b.label_ranges[1]});
        }
      } else if (!labelled && !b.labels.empty()) {
        diags_.push_back(Diagnostic{"Extraneous label for " + b.type,
                                    "No labels are expected for " + b.type + " blocks.",
                                    b.label_ranges[0]});
      }
    }
    return diags_.empty();
  }

  // Converts `v` to the variable's type (cty convert for primitives); nullopt after a diagnostic.
  std::optional<Value> ToType(const Value& v, VarType t, const Expr& e, const std::string& what) {
    if (t == VarType::kAny || v.is_null()) return v;
    std::optional<Value> out;
    std::string need = t == VarType::kString ? "string required"
                       : t == VarType::kNumber ? "a number is required"
                                               : "a bool is required";
    if (t == VarType::kString) {
      if (auto s = PrimitiveToString(v)) out = Value(*s);
    } else if (t == VarType::kBool) {
      if (v.is_boolean()) out = v;
      if (v.is_string() && (v == "true" || v == "false")) out = Value(v == "true");
    } else {
      if (v.is_number()) out = v;
      if (v.is_string()) {
        const std::string s = v.get<std::string>();
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size()) {
          out = d == static_cast<double>(static_cast<int64_t>(d)) ? Value(static_cast<int64_t>(d))
                                                                  : Value(d);
        }
      }
    }
    if (!out) {
      if (!v.is_string() && t != VarType::kString) {
        need = t == VarType::kNumber ? "number required" : "bool required";
      }
      diags_.push_back(Diagnostic{what == "default" ? "Invalid default value for variable"
                                                    : "Invalid value for variable",
                                  (what == "default"
                                       ? std::string("This default value is not compatible with "
                                                     "the variable's type constraint: ")
                                       : "The value for " + what +
                                             " is not compatible with the variable's type "
                                             "constraint: ") +
                                      need + ".",
                                  e.range});
    }
    return out;
  }

  VarType ParseType(const Expr& e) {
    if (e.kind == ExprKind::kTraversal && e.steps.empty()) {
      if (e.name == "string") return VarType::kString;
      if (e.name == "number") return VarType::kNumber;
      if (e.name == "bool") return VarType::kBool;
      if (e.name == "any") return VarType::kAny;
    }
    if (e.kind == ExprKind::kCall) return VarType::kAny;  // list(..), map(..), object({..}), ...
    diags_.push_back(Diagnostic{"Invalid type specification",
                                "The simulator's HCL parser accepts string, number, bool, any and "
                                "collection types here.",
                                e.range});
    return VarType::kAny;
  }

  void Declare(const std::string& name, Range where, VarType type, const Expr* def) {
    if (vars_.count(name) > 0) {
      diags_.push_back(Diagnostic{"Duplicate variable",
                                  "Duplicate " + name + " variable definition found.", where});
      return;
    }
    Variable v;
    v.type = type;
    v.range = where;
    if (def != nullptr) {
      // Defaults see no variables (jobspec2 decodeVariableBlock passes a nil EvalContext).
      EvalContext none{nullptr, nullptr, src_, budget_};
      std::optional<Value> d = Evaluate(*def, none, diags_);
      if (d) v.value = ToType(*d, type, *def, "default");
    }
    vars_[name] = std::move(v);
  }

  void DecodeVariables(const Body& body) {
    for (const Block& b : body.blocks) {
      if (b.type == "variable") {
        const Body& vb = *b.body;
        for (const Block& inner : vb.blocks) {
          diags_.push_back(Diagnostic{
              "Unsupported block type",
              "Blocks of type \"" + inner.type + "\" are not expected here" +
                  (inner.type == "validation"
                       ? std::string(": variable validation is not supported by the simulator.")
                       : std::string(".")),
              inner.type_range});
        }
        VarType type = VarType::kAny;
        for (const Attribute& a : vb.attributes) {
          if (a.name == "type") {
            type = ParseType(*a.expr);
          } else if (a.name != "default" && a.name != "description") {
            diags_.push_back(Diagnostic{"Unsupported argument",
                                        "An argument named \"" + a.name +
                                            "\" is not expected here.",
                                        a.name_range});
          }
        }
        const Attribute* def = vb.FindAttribute("default");
        Declare(b.labels[0], b.DefRange(), type, def != nullptr ? def->expr.get() : nullptr);
      } else if (b.type == "variables") {
        for (const Attribute& a : b.body->attributes) {
          Declare(a.name, a.name_range, VarType::kAny, a.expr.get());
        }
      }
    }
  }

  void AssignVarFile(const Body& body) {
    for (const Block& b : body.blocks) {
      const std::string name = b.labels.empty() ? b.type : b.labels[0];
      diags_.push_back(Diagnostic{
          b.type == "variable" ? "Variable declaration in a .var file"
                               : "Unexpected \"" + b.type + "\" block",
          b.type == "variable"
              ? "A .var file is used to assign values to variables that have already been "
                "declared in job files, not to declare new variables. To declare variable \"" +
                    name + "\", place this block in one of your job files\n\nTo set a value for "
                           "this variable in input.hcl, use the definition syntax instead:\n    " +
                    name + " = <value>"
              : "Blocks are not allowed here.",
          b.type_range});
    }
    if (!diags_.empty()) return;
    EvalContext none{nullptr, nullptr, src_, budget_};
    for (const Attribute& a : body.attributes) {
      auto it = vars_.find(a.name);
      if (it == vars_.end()) continue;  // "Undefined variable" is a warning without Strict
      std::optional<Value> v = Evaluate(*a.expr, none, diags_);
      if (!v) continue;
      std::optional<Value> typed = ToType(*v, it->second.type, *a.expr, a.name);
      if (typed) it->second.value = std::move(*typed);
    }
  }

  void EvaluateLocals(const Body& body) {
    for (const auto& [name, v] : vars_) var_values_[name] = v.value ? *v.value : Value(nullptr);
    std::vector<const Attribute*> pending;
    for (const Block& b : body.blocks) {
      if (b.type != "locals") continue;
      for (const Attribute& a : b.body->attributes) {
        for (const Attribute* p : pending) {
          if (p->name == a.name) {
            diags_.push_back(Diagnostic{"Duplicate value in locals",
                                        "Duplicate " + a.name + " definition found.",
                                        a.name_range});
            return;
          }
        }
        pending.push_back(&a);
      }
    }
    // jobspec2 evaluateLocalVariables: retry locals that refer to ones not yet evaluated.
    while (!pending.empty()) {
      std::vector<const Attribute*> failed;
      Diagnostics last;
      for (const Attribute* a : pending) {
        Diagnostics d;
        EvalContext ctx = Context();
        std::optional<Value> v = Evaluate(*a->expr, ctx, d);
        if (v) {
          local_values_[a->name] = std::move(*v);
        } else {
          failed.push_back(a);
          last = std::move(d);
        }
      }
      if (failed.size() == pending.size()) {
        diags_.insert(diags_.end(), last.begin(), last.end());
        return;
      }
      pending = std::move(failed);
    }
  }

  Value DecodeJob(const Body& body) {
    const Block* found = nullptr;
    for (const Block& b : body.blocks) {
      if (b.type != "job") continue;
      if (found != nullptr) {
        diags_.push_back(Diagnostic{"Duplicate job block",
                                    "Only one block of type \"job\" is allowed. Previous "
                                    "definition was at " +
                                        FormatRange(found->DefRange(), kFile) + ".",
                                    b.DefRange()});
        continue;
      }
      found = &b;
    }
    if (found == nullptr) {
      diags_.push_back(Diagnostic{"Missing job block", "A job block is required", std::nullopt});
      return Value(nullptr);
    }
    EvalContext ctx = Context();
    Decoder dec(ctx, diags_);
    const int job_index = StructIndex("Job");
    Value job = Decoder::Skeleton(job_index);
    const Body& jb = *found->body;
    // jobspec2 decodeTopLevelExtras: job-level vault, secret and task blocks.
    std::optional<Value> vault;
    Value secrets = nullptr;
    std::vector<Value> tasks;
    for (const Block& b : jb.blocks) {
      if (b.type == "dynamic") {
        diags_.push_back(Diagnostic{"Unsupported block type",
                                    "Dynamic blocks are not supported by the simulator.",
                                    b.type_range});
      }
      if (b.type != "vault" && b.type != "secret" && b.type != "task") continue;
      const std::string type = b.type == "vault" ? "Vault" : b.type == "task" ? "Task" : "Secret";
      Value v = Decoder::Skeleton(StructIndex(type));
      dec.DecodeBody(*b.body, StructIndex(type), v);
      if (b.type == "vault") {
        if (vault) {
          diags_.push_back(Diagnostic{"Duplicate vault block",
                                      "Only one block of type \"vault\" is allowed.",
                                      b.DefRange()});
        }
        vault = std::move(v);
        continue;
      }
      if (b.labels.size() != 1) continue;
      v["Name"] = b.labels[0];
      if (b.type == "task") {
        tasks.push_back(std::move(v));
      } else {
        if (!secrets.is_array()) secrets = Value::array();
        secrets.push_back(std::move(v));
      }
    }
    dec.DecodeBody(jb, job_index, job, {"vault", "secret", "task", "dynamic"});
    Normalize(job, found->labels[0], vault, secrets, tasks);
    return job;
  }

  // jobspec2 normalizeJob (parse_job.go @ v2.0.5).
  static void Normalize(Value& job, const std::string& id, std::optional<Value>& vault,
                        const Value& secrets, std::vector<Value>& tasks) {
    if (job["Name"].is_null()) job["Name"] = id;
    if (job["ID"].is_null()) job["ID"] = id;
    Value& periodic = job["Periodic"];
    if (periodic.is_object() && (!periodic["Spec"].is_null() || !periodic["Specs"].is_null())) {
      periodic["SpecType"] = "cron";
    }
    if (vault) NormalizeVault(*vault);
    if (!tasks.empty()) {
      Value groups = Value::array();
      for (Value& t : tasks) {
        Value g = Decoder::Skeleton(StructIndex("TaskGroup"));
        g["Name"] = t["Name"];
        g["Tasks"] = Value::array({std::move(t)});
        groups.push_back(std::move(g));
      }
      if (job["TaskGroups"].is_array()) {
        for (Value& g : job["TaskGroups"]) groups.push_back(std::move(g));
      }
      job["TaskGroups"] = std::move(groups);
    }
    if (!job["TaskGroups"].is_array()) return;
    for (Value& tg : job["TaskGroups"]) {
      NormalizePorts(tg["Networks"]);
      if (!tg["Tasks"].is_array()) continue;
      for (Value& t : tg["Tasks"]) {
        if (t["Resources"].is_object()) NormalizePorts(t["Resources"]["Networks"]);
        NormalizeTemplates(t["Templates"]);
        if (t["Vault"].is_object()) NormalizeVault(t["Vault"]);
        if (t["Vault"].is_null() && vault) t["Vault"] = *vault;
        if (secrets.is_array()) {
          if (!t["Secrets"].is_array()) t["Secrets"] = Value::array();
          for (const Value& s : secrets) t["Secrets"].push_back(s);
        }
        // COMPAT (pre-1.7 agents): the default identity goes to Task.Identity.
        Value& ids = t["Identities"];
        if (!ids.is_array()) continue;
        for (size_t i = 0; i < ids.size(); ++i) {
          const Value& name = ids[i]["Name"];
          if (name == "" || name == "default") {
            t["Identity"] = ids[i];
            ids.erase(i);
            break;
          }
        }
      }
    }
  }

  static void NormalizeVault(Value& v) {
    if (v["Env"].is_null()) v["Env"] = true;
    if (v["DisableFile"].is_null()) v["DisableFile"] = false;
    if (v["ChangeMode"].is_null()) v["ChangeMode"] = "restart";
  }

  static void NormalizePorts(Value& networks) {
    if (!networks.is_array()) return;
    for (Value& n : networks) {
      if (!n["DynamicPorts"].is_array() || n["DynamicPorts"].empty()) continue;
      Value dynamic = Value::array();
      Value reserved = nullptr;
      for (Value& p : n["DynamicPorts"]) {
        if (p["Value"].get<int64_t>() > 0) {
          if (!reserved.is_array()) reserved = Value::array();
          reserved.push_back(std::move(p));
        } else {
          dynamic.push_back(std::move(p));
        }
      }
      n["DynamicPorts"] = dynamic.empty() ? Value(nullptr) : std::move(dynamic);
      n["ReservedPorts"] = std::move(reserved);
    }
  }

  static void NormalizeTemplates(Value& templates) {
    if (!templates.is_array()) return;
    for (Value& t : templates) {
      if (t["ChangeMode"].is_null()) t["ChangeMode"] = "restart";
      if (t["Perms"].is_null()) t["Perms"] = "0644";
      if (t["Splay"].is_null()) t["Splay"] = int64_t{5'000'000'000};
      if (t["ErrMissingKey"].is_null()) t["ErrMissingKey"] = false;
      Value& cs = t["ChangeScript"];
      if (cs.is_object()) {
        if (cs["Args"].is_null()) cs["Args"] = Value::array();
        if (cs["Timeout"].is_null()) cs["Timeout"] = int64_t{5'000'000'000};
        if (cs["FailOnError"].is_null()) cs["FailOnError"] = false;
        if (cs["RunOnFirstRender"].is_null()) cs["RunOnFirstRender"] = false;
      }
    }
  }

  std::string_view src_;
  size_t* budget_;
  Diagnostics diags_;
  std::map<std::string, Variable> vars_;
  Value var_values_ = Value::object();
  Value local_values_ = Value::object();
};

}  // namespace

base::Result<Value> ParseJob(std::string_view job_hcl, std::string_view variables,
                             bool canonicalize) {
  size_t budget = kMaxEvalBytes;
  return JobParser(job_hcl, &budget).Run(variables, canonicalize);
}

}  // namespace nsg::sim::hcl
