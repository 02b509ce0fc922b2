// Internal to controller/sim/hcl: the recursive-descent parser behind Parse() (syntax.h). The
// scanning helpers are here; structure and expressions are in parser.cc, templates (quoted strings
// and heredocs) in template_parser.cc. One Parser per parse; it throws SyntaxError, which Parse()
// turns into the diagnostic.
#pragma once

#include <cctype>
#include <string>
#include <memory>
#include <string_view>

#include "controller/sim/hcl/syntax.h"

namespace nsg::sim::hcl::internal {

// Thrown inside the parser only; Parse() turns it into the one diagnostic.
struct SyntaxError {
  Diagnostic diag;
};

inline bool IsIdentStart(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }
inline bool IsIdentChar(unsigned char c) { return IsIdentStart(c) || std::isdigit(c) || c == '-'; }

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

  void ParseBodyItems(Body& body, bool closing);
  void ParseAttribute(Body& body, std::string name, Range name_range);
  void ParseBlock(Body& body, std::string type, Range type_range);

  // --- Expressions ---------------------------------------------------------------------------

  ExprPtr Make(ExprKind kind, Pos start);

  // An expression; `nl` when newlines are insignificant (inside brackets).
  ExprPtr ParseExpr(bool nl);
  ExprPtr ParseTerm();
  void ParseSteps(Expr& e);
  ExprPtr ParseCall(std::string name, Range name_range);
  ExprPtr ParseTuple();
  ExprPtr ParseObject();
  ExprPtr ParseNumber();

  // --- Templates -----------------------------------------------------------------------------

  void AddText(Expr& e, std::string_view text);

  // `${ expr }` at the current position (on the `$`).
  void ParseInterpolation(Expr& e);

  // Handles `${`, `$${`, `%{`, `%%{` at the current position; false when none is there.
  bool TemplateSequence(Expr& e);
  ExprPtr ParseQuoted();
  ExprPtr ParseHeredoc();
  std::string_view src_;
  Pos pos_;
  int depth_ = 0;
};

}  // namespace nsg::sim::hcl::internal
