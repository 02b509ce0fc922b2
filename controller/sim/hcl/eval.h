// Evaluation of HCL expressions (syntax.h) to values, as hcl/v2 hclsyntax evaluates them in the
// context jobspec2 builds (jobspec2/types.config.go EvalContext @ v2.0.5):
//   * `var.<name>` and `local.<name>` look up the input variables and locals;
//   * a reference whose root is anything else (`attr.kernel.name`, `node.unique.name`,
//     `NOMAD_ALLOC_DIR`, ...) is not an error: jobspec2's UndefinedVariable hook turns it into the
//     string "${<reference>}" from the source, so Nomad's own interpolation survives parsing;
//   * a template with a single interpolation and no text yields the value itself; otherwise parts
//     are converted to strings (numbers, bools) and joined;
//   * functions: the filesystem functions fail as Nomad's do with AllowFS=false ("Call to function
//     \"file\" failed: filesystem function disabled."); the rest of jobspec2's function table is
//     recognised but not implemented (a clear error); any other name is an unknown function.
// Every evaluation is charged against a byte budget (kMaxEvalBytes), so that a small input
// referencing a large variable many times cannot exhaust memory. Not thread-safe per context.
#pragma once

#include <optional>
#include <string_view>

#include "controller/sim/hcl/syntax.h"

namespace nsg::sim::hcl {

inline constexpr size_t kMaxEvalBytes = 64u << 20;

struct EvalContext {
  // Objects of the input variables and the locals; null pointers mean no variables may be used
  // (a var file is evaluated so: "Variables not allowed").
  const Value* vars = nullptr;
  const Value* locals = nullptr;
  std::string_view source;  // the job file, for the undefined-reference passthrough
  size_t* budget = nullptr;  // bytes left; required
};

// The value of `e`, or nullopt with the reason appended to `diags`.
std::optional<Value> Evaluate(const Expr& e, const EvalContext& ctx, Diagnostics& diags);

// cty's string conversion of a primitive (numbers as Go prints them, bools "true"/"false");
// nullopt for null, tuples and objects.
std::optional<std::string> PrimitiveToString(const Value& v);

// A cty type name for messages: "string", "number", "bool", "tuple", "object", "null".
std::string TypeName(const Value& v);

}  // namespace nsg::sim::hcl
