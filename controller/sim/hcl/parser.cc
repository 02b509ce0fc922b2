// The HCL2 native-syntax parser (syntax.h): a recursive-descent parser straight over the bytes.
// Newlines end attributes and block headers, except inside brackets, parentheses and
// interpolations, as hclsyntax/spec.md says. The first syntax error ends the parse.
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "controller/sim/hcl/parser_internal.h"
#include "controller/sim/hcl/syntax.h"

namespace nsg::sim::hcl {

std::string FormatRange(const Range& r, std::string_view filename) {
  std::string out(filename);
  out += ":" + std::to_string(r.start.line) + "," + std::to_string(r.start.column) + "-";
  if (r.start.line != r.end.line) out += std::to_string(r.end.line) + ",";
  return out + std::to_string(r.end.column);
}

std::string Diagnostic::Error(std::string_view filename) const {
  std::string where = subject ? FormatRange(*subject, filename) : std::string("<nil>");
  return where + ": " + summary + "; " + detail;
}

const Attribute* Body::FindAttribute(std::string_view name) const {
  for (const Attribute& a : attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

namespace internal {

void Parser::ParseBodyItems(Body& body, bool closing) {
  for (;;) {
    Skip(true);
    if (AtEnd()) {
      if (closing) {
        FailHere("Unclosed configuration block",
                 "There is no closing brace for this block before the end of the file.");
      }
      return;
    }
    if (Peek() == '}') {
      if (closing) return;
      FailHere("Argument or block definition required",
               "An argument or block definition is required here.");
    }
    if (!IsIdentStart(static_cast<unsigned char>(Peek()))) {
      FailHere("Argument or block definition required",
               "An argument or block definition is required here.");
    }
    Range name_range;
    std::string name = Ident(&name_range);
    Skip(false);
    if (Peek() == '=' && Peek(1) != '=') {
      ParseAttribute(body, std::move(name), name_range);
      ExpectNewline("argument");
    } else {
      ParseBlock(body, std::move(name), name_range);
    }
  }
}

void Parser::ParseAttribute(Body& body, std::string name, Range name_range) {
  Advance();  // '='
  Skip(false);
  if (const Attribute* existing = body.FindAttribute(name)) {
    Fail("Attribute redefined",
         "The argument \"" + name + "\" was already set at " +
             FormatRange(existing->name_range, "input.hcl") +
             ". Each argument may be set only once.",
         name_range);
  }
  Attribute a;
  a.name = std::move(name);
  a.name_range = name_range;
  a.expr = ParseExpr(false);
  a.range = Range{name_range.start, a.expr->range.end};
  body.attributes.push_back(std::move(a));
}

void Parser::ParseBlock(Body& body, std::string type, Range type_range) {
  DepthGuard guard(*this);
  Block b;
  b.type = std::move(type);
  b.type_range = type_range;
  for (;;) {
    Skip(false);
    if (Peek() == '{') break;
    if (Peek() == '"') {
      const Pos start = pos_;
      ExprPtr label = ParseQuoted();
      if (label->parts.size() > 1 || (label->parts.size() == 1 && label->parts[0].expr)) {
        Fail("Invalid block label", "Block labels may not contain interpolations.",
             Range{start, pos_});
      }
      b.labels.push_back(label->parts.empty() ? std::string() : label->parts[0].text);
      b.label_ranges.push_back(Range{start, pos_});
    } else if (IsIdentStart(static_cast<unsigned char>(Peek()))) {
      Range r;
      b.labels.push_back(Ident(&r));
      b.label_ranges.push_back(r);
    } else if (AtEnd() || Peek() == '\n') {
      Fail("Invalid block definition",
           "A block definition must have block content delimited by \"{\" and \"}\", "
           "starting on the same line as the block header.",
           Range{type_range.start, pos_});
    } else if (b.labels.empty() && Peek() != '=') {
      FailHere("Argument or block definition required",
               "An argument or block definition is required here. To set an argument, use "
               "the equals sign \"=\" to introduce the argument value.");
    } else {
      FailHere("Invalid block definition", "Either a quoted string block label or an opening "
                                           "brace (\"{\") is expected here.");
    }
  }
  b.open_brace_range = Range{pos_, Pos{pos_.line, pos_.column + 1, pos_.byte + 1}};
  Advance();  // '{'
  b.body = std::make_unique<Body>();
  b.body->range.start = b.open_brace_range.start;
  Skip(false);
  if (Peek() == '\n' || AtEnd()) {
    ParseBodyItems(*b.body, /*closing=*/true);
  } else if (Peek() != '}') {
    // A one-line block: at most one argument, on the header's line.
    Range name_range;
    if (!IsIdentStart(static_cast<unsigned char>(Peek()))) {
      FailHere("Argument definition required",
               "A single-line block definition can contain only a single argument.");
    }
    std::string name = Ident(&name_range);
    Skip(false);
    if (Peek() != '=') {
      FailHere("Invalid single-argument block definition",
               "A single-line block definition can contain only a single argument. If you "
               "meant to define argument \"" + name + "\", use an equals sign to assign it a "
               "value. To define a nested block, place it on a line of its own within its "
               "parent block.");
    }
    ParseAttribute(*b.body, std::move(name), name_range);
    Skip(false);
    if (Peek() != '}') {
      FailHere("Invalid single-argument block definition",
               "A single-line block definition must end with a closing brace immediately "
               "after its single argument definition.");
    }
  }
  Advance();  // '}'
  b.body->range.end = pos_;
  ExpectNewline("block");
  body.blocks.push_back(std::move(b));
}

ExprPtr Parser::Make(ExprKind kind, Pos start) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->range.start = start;
  return e;
}

// An expression; `nl` when newlines are insignificant (inside brackets).
ExprPtr Parser::ParseExpr(bool nl) {
  DepthGuard guard(*this);
  Skip(nl);
  ExprPtr e = ParseTerm();
  Skip(false);
  const char c = Peek();
  const bool op = c == '+' || c == '*' || c == '/' || c == '%' || c == '<' || c == '>' ||
                  c == '?' || (c == '=' && Peek(1) == '=') || (c == '!' && Peek(1) == '=') ||
                  (c == '&' && Peek(1) == '&') || (c == '|' && Peek(1) == '|') || c == '-';
  if (op) {
    FailHere("Unsupported expression",
             "Operators and conditional expressions are not supported by the simulator's "
             "HCL parser; use literal values, templates, variables and references.");
  }
  return e;
}

ExprPtr Parser::ParseTerm() {
  const Pos start = pos_;
  const char c = Peek();
  ExprPtr e;
  if (c == '"') {
    e = ParseQuoted();
  } else if (c == '<' && Peek(1) == '<') {
    e = ParseHeredoc();
  } else if (c == '[') {
    e = ParseTuple();
  } else if (c == '{') {
    e = ParseObject();
  } else if (c == '(') {
    Advance();
    e = ParseExpr(true);
    Skip(true);
    if (Peek() != ')') FailHere("Unbalanced parentheses", "Expected a closing parenthesis.");
    Advance();
    e->range.start = start;
    e->range.end = pos_;
  } else if (std::isdigit(static_cast<unsigned char>(c)) ||
             (c == '-' && std::isdigit(static_cast<unsigned char>(Peek(1))))) {
    e = ParseNumber();
  } else if (IsIdentStart(static_cast<unsigned char>(c))) {
    Range name_range;
    std::string name = Ident(&name_range);
    if (name == "true" || name == "false" || name == "null") {
      e = Make(ExprKind::kLiteral, start);
      e->literal = name == "null" ? Value(nullptr) : Value(name == "true");
      e->range.end = pos_;
    } else if (Peek() == '(') {
      e = ParseCall(std::move(name), name_range);
    } else {
      e = Make(ExprKind::kTraversal, start);
      e->name = std::move(name);
      e->name_range = name_range;
      e->range.end = pos_;
      ParseSteps(*e);
    }
  } else if (AtEnd() || c == '\n') {
    FailHere("Missing expression",
             "Expected the start of an expression, but found the end of the line.");
  } else {
    FailHere("Invalid expression",
             "Expected the start of an expression, but found an invalid expression token.");
  }
  if (Peek() == '[' && e->kind != ExprKind::kTraversal) {
    FailHere("Unsupported expression",
             "Index expressions are supported on variable references only.");
  }
  return e;
}

void Parser::ParseSteps(Expr& e) {
  for (;;) {
    if (Peek() == '.' && Peek(1) == '*') {
      FailHere("Unsupported expression", "Splat expressions are not supported.");
    }
    if (Peek() == '.' && IsIdentStart(static_cast<unsigned char>(Peek(1)))) {
      Step s;
      s.range.start = pos_;
      Advance();
      Range r;
      s.name = Ident(&r);
      s.range.end = pos_;
      e.steps.push_back(std::move(s));
    } else if (Peek() == '.' && std::isdigit(static_cast<unsigned char>(Peek(1)))) {
      Step s;
      s.range.start = pos_;
      Advance();
      while (std::isdigit(static_cast<unsigned char>(Peek()))) {
        s.name += Peek();
        Advance();
      }
      s.index_number = true;
      s.range.end = pos_;
      e.steps.push_back(std::move(s));
    } else if (Peek() == '[') {
      Step s;
      s.range.start = pos_;
      Advance();
      if (Peek() == '*') FailHere("Unsupported expression", "Splat expressions are not supported.");
      s.index = ParseExpr(true);
      Skip(true);
      if (Peek() != ']') FailHere("Missing close bracket on index", "Expected \"]\".");
      Advance();
      s.range.end = pos_;
      e.steps.push_back(std::move(s));
    } else {
      break;
    }
    e.range.end = pos_;
  }
}

ExprPtr Parser::ParseCall(std::string name, Range name_range) {
  ExprPtr e = Make(ExprKind::kCall, name_range.start);
  e->name = std::move(name);
  e->name_range = name_range;
  e->open_paren_range = Range{pos_, Pos{pos_.line, pos_.column + 1, pos_.byte + 1}};
  Advance();  // '('
  for (;;) {
    Skip(true);
    if (Peek() == ')') break;
    e->items.push_back(ParseExpr(true));
    Skip(true);
    if (LookingAt("...")) FailHere("Unsupported expression", "Argument expansion is not supported.");
    if (Peek() == ',') {
      Advance();
    } else if (Peek() != ')') {
      FailHere("Missing argument separator",
               "A comma is required to separate each function argument from the next.");
    }
  }
  Advance();  // ')'
  e->range.end = pos_;
  return e;
}

ExprPtr Parser::ParseTuple() {
  ExprPtr e = Make(ExprKind::kTuple, pos_);
  Advance();  // '['
  Skip(true);
  if (LookingAt("for") && !IsIdentChar(static_cast<unsigned char>(Peek(3)))) {
    FailHere("Unsupported expression", "\"for\" expressions are not supported.");
  }
  for (;;) {
    Skip(true);
    if (Peek() == ']') break;
    e->items.push_back(ParseExpr(true));
    Skip(true);
    if (Peek() == ',') {
      Advance();
    } else if (Peek() != ']') {
      FailHere("Missing item separator", "Expected a comma to mark the beginning of the next "
                                         "item.");
    }
  }
  Advance();  // ']'
  e->range.end = pos_;
  return e;
}

ExprPtr Parser::ParseObject() {
  ExprPtr e = Make(ExprKind::kObject, pos_);
  Advance();  // '{'
  Skip(true);
  if (LookingAt("for") && !IsIdentChar(static_cast<unsigned char>(Peek(3)))) {
    FailHere("Unsupported expression", "\"for\" expressions are not supported.");
  }
  for (;;) {
    Skip(true);
    if (Peek() == '}') break;
    ExprPtr key;
    if (IsIdentStart(static_cast<unsigned char>(Peek()))) {
      key = Make(ExprKind::kLiteral, pos_);
      Range r;
      key->literal = Ident(&r);
      key->range = r;
      key->bare_key = true;
    } else {
      key = ParseExpr(true);
    }
    Skip(true);
    if (Peek() != '=' && Peek() != ':') {
      FailHere("Missing key/value separator",
               "Expected an equals sign (\"=\") to mark the beginning of the attribute value.");
    }
    Advance();
    ExprPtr value = ParseExpr(true);
    e->pairs.emplace_back(std::move(key), std::move(value));
    Skip(false);
    if (Peek() == ',' || Peek() == '\n') {
      Advance();
    } else if (Peek() != '}') {
      FailHere("Missing attribute separator",
               "Expected a newline or comma to mark the beginning of the next attribute.");
    }
  }
  Advance();  // '}'
  e->range.end = pos_;
  return e;
}

ExprPtr Parser::ParseNumber() {
  ExprPtr e = Make(ExprKind::kLiteral, pos_);
  const size_t begin = pos_.byte;
  bool is_float = false;
  if (Peek() == '-') Advance();
  while (std::isdigit(static_cast<unsigned char>(Peek()))) Advance();
  if (Peek() == '.' && std::isdigit(static_cast<unsigned char>(Peek(1)))) {
    is_float = true;
    Advance();
    while (std::isdigit(static_cast<unsigned char>(Peek()))) Advance();
  }
  if ((Peek() == 'e' || Peek() == 'E') &&
      (std::isdigit(static_cast<unsigned char>(Peek(1))) ||
       ((Peek(1) == '+' || Peek(1) == '-') && std::isdigit(static_cast<unsigned char>(Peek(2)))))) {
    is_float = true;
    Advance(2);
    while (std::isdigit(static_cast<unsigned char>(Peek()))) Advance();
  }
  const std::string text(src_.substr(begin, pos_.byte - begin));
  e->range.end = pos_;
  int64_t i = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
  if (!is_float && ec == std::errc() && ptr == text.data() + text.size()) {
    e->literal = i;
  } else {
    const double d = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(d)) Fail("Invalid number literal", "The number is too large.", e->range);
    e->literal = d;
  }
  return e;
}

}  // namespace internal

ParseResult Parse(std::string_view source) {
  ParseResult out;
  if (source.size() > kMaxSourceBytes) {
    out.diags.push_back(Diagnostic{
        "Configuration too large",
        "The configuration is " + std::to_string(source.size()) + " bytes; at most " +
            std::to_string(kMaxSourceBytes) + " are accepted.",
        std::nullopt});
    return out;
  }
  try {
    out.body = internal::Parser(source).File();
  } catch (const internal::SyntaxError& e) {
    out.body.reset();
    out.diags.push_back(e.diag);
  }
  return out;
}

}  // namespace nsg::sim::hcl
