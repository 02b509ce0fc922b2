// The HCL2 native-syntax parser (syntax.h): a recursive-descent parser straight over the bytes.
// Newlines end attributes and block headers, except inside brackets, parentheses and
// interpolations, as hclsyntax/spec.md says. The first syntax error ends the parse.
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

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

namespace {

// Thrown inside the parser only; Parse() turns it into the one diagnostic.
struct SyntaxError {
  Diagnostic diag;
};

bool IsIdentStart(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
bool IsIdentChar(unsigned char c) { return IsIdentStart(c) || std::isdigit(c) || c == '-'; }

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Parser {
 public:
  explicit Parser(std::string_view src) : src_(src) {}

  std::unique_ptr<Body> File() {
    auto body = std::make_unique<Body>();
    body->range.start = pos_;
    ParseBodyItems(*body, /*closing=*/false);
    body->range.end = pos_;
    return body;
  }

 private:
  // --- Scanning ------------------------------------------------------------------------------

  bool AtEnd() const { return pos_.byte >= src_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_.byte + ahead < src_.size() ? src_[pos_.byte + ahead] : '\0';
  }
  bool LookingAt(std::string_view s) const { return src_.substr(pos_.byte, s.size()) == s; }

  void Advance() {
    const unsigned char c = static_cast<unsigned char>(src_[pos_.byte++]);
    if (c == '\n') {
      ++pos_.line;
      pos_.column = 1;
    } else if ((c & 0xC0) != 0x80) {
      ++pos_.column;
    }
  }
  void Advance(size_t n) {
    for (size_t i = 0; i < n && !AtEnd(); ++i) Advance();
  }

  [[noreturn]] void Fail(std::string summary, std::string detail, Range r) const {
    throw SyntaxError{Diagnostic{std::move(summary), std::move(detail), r}};
  }
  [[noreturn]] void FailHere(std::string summary, std::string detail) const {
    Pos end = pos_;
    if (!AtEnd()) {
      ++end.byte;
      ++end.column;
    }
    Fail(std::move(summary), std::move(detail), Range{pos_, end});
  }

  // Skips blanks and comments; newlines too when `newlines`. A line comment's newline is left
  // for the caller unless `newlines`.
  void Skip(bool newlines) {
    while (!AtEnd()) {
      const char c = Peek();
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        Advance();
      } else if (c == '#' || (c == '/' && Peek(1) == '/')) {
        while (!AtEnd() && Peek() != '\n') Advance();
      } else if (c == '/' && Peek(1) == '*') {
        const Pos start = pos_;
        Advance(2);
        while (!AtEnd() && !LookingAt("*/")) Advance();
        if (AtEnd()) {
          Fail("Unterminated comment", "There is no closing marker for this multi-line comment.",
               Range{start, Pos{start.line, start.column + 2, start.byte + 2}});
        }
        Advance(2);
      } else {
        break;
      }
    }
  }

  // Ends an attribute or a block: a newline, or the end of the file.
  void ExpectNewline(const char* what) {
    Skip(false);
    if (AtEnd()) return;
    if (Peek() == '\n') {
      Advance();
      return;
    }
    FailHere(std::string("Missing newline after ") + what,
             std::string("An ") + what + " definition must end with a newline.");
  }

  std::string Ident(Range* r) {
    r->start = pos_;
    const size_t begin = pos_.byte;
    while (!AtEnd() && IsIdentChar(static_cast<unsigned char>(Peek()))) Advance();
    r->end = pos_;
    return std::string(src_.substr(begin, pos_.byte - begin));
  }

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) {
        p_.FailHere("Nesting too deep",
                    "Blocks, expressions and interpolations may nest at most " +
                        std::to_string(kMaxDepth) + " levels deep.");
      }
    }
    ~DepthGuard() { --p_.depth_; }
    Parser& p_;
  };

  // --- Structure -----------------------------------------------------------------------------

  void ParseBodyItems(Body& body, bool closing) {
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

  void ParseAttribute(Body& body, std::string name, Range name_range) {
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

  void ParseBlock(Body& body, std::string type, Range type_range) {
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

  // --- Expressions ---------------------------------------------------------------------------

  ExprPtr Make(ExprKind kind, Pos start) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->range.start = start;
    return e;
  }

  // An expression; `nl` when newlines are insignificant (inside brackets).
  ExprPtr ParseExpr(bool nl) {
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

  ExprPtr ParseTerm() {
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

  void ParseSteps(Expr& e) {
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

  ExprPtr ParseCall(std::string name, Range name_range) {
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

  ExprPtr ParseTuple() {
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

  ExprPtr ParseObject() {
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

  ExprPtr ParseNumber() {
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

  // --- Templates -----------------------------------------------------------------------------

  void AddText(Expr& e, std::string_view text) {
    if (text.empty()) return;
    if (e.parts.empty() || e.parts.back().expr) e.parts.emplace_back();
    e.parts.back().text.append(text);
  }

  // `${ expr }` at the current position (on the `$`).
  void ParseInterpolation(Expr& e) {
    DepthGuard guard(*this);
    TemplatePart part;
    part.range.start = pos_;
    Advance(2);
    if (Peek() == '~') FailHere("Unsupported template", "Strip markers (\"~\") are not supported.");
    part.expr = ParseExpr(true);
    Skip(true);
    if (Peek() == '~') FailHere("Unsupported template", "Strip markers (\"~\") are not supported.");
    if (Peek() != '}') {
      FailHere("Extra characters after interpolation expression",
               "Expected a closing brace to end the interpolation expression, but found extra "
               "characters.");
    }
    Advance();
    part.range.end = pos_;
    e.parts.push_back(std::move(part));
  }

  // Handles `${`, `$${`, `%{`, `%%{` at the current position; false when none is there.
  bool TemplateSequence(Expr& e) {
    if (LookingAt("$${")) {
      AddText(e, "${");
      Advance(3);
    } else if (LookingAt("%%{")) {
      AddText(e, "%{");
      Advance(3);
    } else if (LookingAt("${")) {
      ParseInterpolation(e);
    } else if (LookingAt("%{")) {
      FailHere("Unsupported template directive",
               "Template directives (\"%{ if }\", \"%{ for }\") are not supported by the "
               "simulator's HCL parser.");
    } else {
      return false;
    }
    return true;
  }

  ExprPtr ParseQuoted() {
    ExprPtr e = Make(ExprKind::kTemplate, pos_);
    const Pos open = pos_;
    Advance();  // '"'
    for (;;) {
      if (AtEnd() || Peek() == '\n') {
        Fail("Unterminated template string", "No closing marker was found for the string.",
             Range{open, pos_});
      }
      const char c = Peek();
      if (c == '"') break;
      if (TemplateSequence(*e)) continue;
      if (c == '\\') {
        const Pos esc = pos_;
        Advance();
        const char k = Peek();
        std::string out;
        switch (k) {
          case 'n': out = "\n"; break;
          case 'r': out = "\r"; break;
          case 't': out = "\t"; break;
          case '"': out = "\""; break;
          case '\\': out = "\\"; break;
          case 'u':
          case 'U': {
            const size_t n = k == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (size_t i = 1; i <= n; ++i) {
              const char h = Peek(i);
              if (!std::isxdigit(static_cast<unsigned char>(h))) {
                Fail("Invalid escape sequence",
                     "The \\" + std::string(1, k) + " escape needs " + std::to_string(n) +
                         " hexadecimal digits.",
                     Range{esc, pos_});
              }
              cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                       ? h - '0'
                                                       : std::tolower(h) - 'a' + 10);
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
              Fail("Invalid escape sequence", "The escape names an invalid Unicode code point.",
                   Range{esc, pos_});
            }
            AppendUtf8(out, cp);
            Advance(n);
            break;
          }
          default:
            Fail("Invalid escape sequence",
                 "The symbol \"" + std::string(1, k) + "\" is not a valid escape sequence "
                 "selector.",
                 Range{esc, Pos{pos_.line, pos_.column + 1, pos_.byte + 1}});
        }
        Advance();
        AddText(*e, out);
        continue;
      }
      const size_t begin = pos_.byte;
      Advance();
      while (!AtEnd() && Peek() != '"' && Peek() != '\\' && Peek() != '\n' && Peek() != '$' &&
             Peek() != '%') {
        Advance();
      }
      AddText(*e, src_.substr(begin, pos_.byte - begin));
    }
    Advance();  // '"'
    e->range.end = pos_;
    return e;
  }

  ExprPtr ParseHeredoc() {
    ExprPtr e = Make(ExprKind::kTemplate, pos_);
    const Pos open = pos_;
    Advance(2);
    const bool flush = Peek() == '-';
    if (flush) Advance();
    Range r;
    if (!IsIdentStart(static_cast<unsigned char>(Peek()))) {
      FailHere("Invalid heredoc", "A heredoc marker \"<<\" must be followed by an identifier.");
    }
    const std::string marker = Ident(&r);
    if (Peek() == '\r') Advance();
    if (Peek() != '\n') {
      FailHere("Invalid heredoc", "The heredoc identifier must be followed by a newline.");
    }
    Advance();
    // Collect the lines up to the closing marker, then parse them as one template.
    std::vector<std::pair<Pos, std::string_view>> lines;
    for (;;) {
      if (AtEnd()) {
        Fail("Unterminated template string",
             "No closing marker was found for the heredoc \"" + marker + "\".",
             Range{open, r.end});
      }
      const Pos line_start = pos_;
      const size_t begin = pos_.byte;
      size_t end = src_.find('\n', begin);
      if (end == std::string_view::npos) end = src_.size();
      std::string_view line = src_.substr(begin, end - begin);
      std::string_view trimmed = line;
      while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) {
        trimmed.remove_prefix(1);
      }
      if (!trimmed.empty() && trimmed.back() == '\r') trimmed.remove_suffix(1);
      if (trimmed == marker) {
        Advance(line.size());
        break;
      }
      Advance(end - begin);
      if (!AtEnd()) Advance();  // '\n'
      lines.emplace_back(line_start, src_.substr(begin, pos_.byte - begin));
    }
    size_t indent = std::string_view::npos;
    if (flush) {
      for (const auto& [p, line] : lines) {
        const size_t n = line.find_first_not_of(" \t");
        if (n == std::string_view::npos || line[n] == '\n' || line[n] == '\r') continue;
        indent = std::min(indent, n);
      }
    }
    if (indent == std::string_view::npos) indent = 0;
    const Pos after = pos_;
    for (const auto& [p, line] : lines) {
      // Re-scan each line with positions from the source, skipping the stripped indentation.
      pos_ = p;
      const size_t skip = std::min(indent, line.find_first_not_of(" \t") == std::string_view::npos
                                               ? line.size()
                                               : line.find_first_not_of(" \t"));
      Advance(skip);
      const size_t stop = p.byte + line.size();
      while (pos_.byte < stop) {
        if (TemplateSequence(*e)) continue;
        const size_t begin = pos_.byte;
        Advance();
        while (pos_.byte < stop && Peek() != '$' && Peek() != '%') Advance();
        AddText(*e, src_.substr(begin, pos_.byte - begin));
      }
      if (pos_.byte > stop) {
        Fail("Unterminated template string", "An interpolation in a heredoc must end on its "
                                             "line.", Range{p, pos_});
      }
    }
    pos_ = after;
    e->range.end = pos_;
    return e;
  }

  std::string_view src_;
  Pos pos_;
  int depth_ = 0;
};

}  // namespace

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
    out.body = Parser(source).File();
  } catch (const SyntaxError& e) {
    out.body.reset();
    out.diags.push_back(e.diag);
  }
  return out;
}

}  // namespace nsg::sim::hcl
