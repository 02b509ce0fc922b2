// The HCL2 native syntax as the simulator's `POST /v1/jobs/parse` reads it: the syntax tree, the
// diagnostics, and Parse(). Own code written against HashiCorp's HCL specification
// (hclsyntax/spec.md) and the behaviour of github.com/hashicorp/hcl/v2 hclsyntax as jobspec2
// uses it (jobspec2/parse.go @ v2.0.5: hclsyntax.ParseConfig on "input.hcl").
//
// Supported: attributes `name = expr`, blocks `type "label" ident { ... }`, one-line blocks
// `type { name = expr }`, comments (`#`, `//`, `/* */`), quoted templates with the escapes
// \n \r \t \" \\ \uNNNN \UNNNNNNNN, `$${` and `%%{`, `${ expr }` interpolation, heredocs
// (`<<EOF`, `<<-EOF`, also templates), numbers, true/false/null, tuples `[a, b]`, objects
// `{ k = v, "k" : v, (expr) = v }`, traversals `var.x.y[0]["k"]`, function calls `f(a, b)` and a
// unary minus on number literals. Not supported (a parse error that says so, with its position):
// operators, conditionals, `for` expressions, splats, template directives `%{ }`, strip markers
// `~`, argument expansion `...`.
//
// Bounds, so that hostile input cannot exhaust the stack or memory: the source is at most
// kMaxSourceBytes, and blocks, expressions and interpolations nest at most kMaxDepth deep.
//
// Positions are 1-based lines and columns counted in Unicode code points, as hcl.Pos. Plain
// values; no synchronization.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace nsg::sim::hcl {

// An evaluated HCL value: null, bool, number (int64 when whole, else double), string, tuple
// (array) or object (keys in sorted order, as cty objects are).
using Value = nlohmann::ordered_json;

inline constexpr size_t kMaxSourceBytes = 1 << 20;
inline constexpr int kMaxDepth = 64;

struct Pos {
  int line = 1;
  int column = 1;
  size_t byte = 0;
};

struct Range {
  Pos start;
  Pos end;
};

// "input.hcl:3,5-9" or "input.hcl:3,5-4,2" (hcl.Range.String).
std::string FormatRange(const Range& r, std::string_view filename);

// One error, as hcl.Diagnostic: Error() is "<range>: <summary>; <detail>", with "<nil>" for the
// range when there is no subject (Go prints a nil *hcl.Range so).
struct Diagnostic {
  std::string summary;
  std::string detail;
  std::optional<Range> subject;
  std::string Error(std::string_view filename) const;
};
using Diagnostics = std::vector<Diagnostic>;

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  kLiteral,    // literal
  kTemplate,   // parts (quoted string or heredoc)
  kTuple,      // items
  kObject,     // pairs
  kTraversal,  // name (the root) and steps
  kCall,       // name, items (arguments)
};

struct TemplatePart {
  std::string text;  // a literal part (expr is null)
  ExprPtr expr;      // an interpolation `${ expr }`
  Range range;       // of the interpolation, `${` to `}` inclusive
};

struct Step {
  std::string name;  // `.name` (a legacy `.0` index keeps its digits here, index_number set)
  ExprPtr index;     // `[expr]`
  bool index_number = false;
  Range range;
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  Range range;
  Value literal;
  std::vector<TemplatePart> parts;
  std::vector<ExprPtr> items;
  std::vector<std::pair<ExprPtr, ExprPtr>> pairs;  // object: key expression, value expression
  std::string name;
  Range name_range;  // the root name or the function name
  std::vector<Step> steps;
  Range open_paren_range;  // kCall
  bool bare_key = false;   // an object key written as a bare identifier (a string, not a lookup)
};

struct Body;

struct Attribute {
  std::string name;
  Range name_range;
  ExprPtr expr;
  Range range;
};

struct Block {
  std::string type;
  Range type_range;
  std::vector<std::string> labels;
  std::vector<Range> label_ranges;
  Range open_brace_range;
  std::unique_ptr<Body> body;
  // hcl's DefRange: the type through the open brace.
  Range DefRange() const { return Range{type_range.start, open_brace_range.end}; }
};

struct Body {
  std::vector<Attribute> attributes;  // source order; names are unique
  std::vector<Block> blocks;          // source order
  Range range;                        // from the open brace (or file start) to the end
  const Attribute* FindAttribute(std::string_view name) const;
};

// Parses a whole file. On success the body; otherwise the first syntax error.
struct ParseResult {
  std::unique_ptr<Body> body;
  Diagnostics diags;
};
ParseResult Parse(std::string_view source);

}  // namespace nsg::sim::hcl
