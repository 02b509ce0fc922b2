// Quoted strings and heredocs: the template half of the HCL parser (parser_internal.h).
#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "controller/sim/hcl/parser_internal.h"

namespace nsg::sim::hcl::internal {
namespace {

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

}  // namespace

void Parser::AddText(Expr& e, std::string_view text) {
  if (text.empty()) return;
  if (e.parts.empty() || e.parts.back().expr) e.parts.emplace_back();
  e.parts.back().text.append(text);
}

// `${ expr }` at the current position (on the `$`).
void Parser::ParseInterpolation(Expr& e) {
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
bool Parser::TemplateSequence(Expr& e) {
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

ExprPtr Parser::ParseQuoted() {
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

ExprPtr Parser::ParseHeredoc() {
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

}  // namespace nsg::sim::hcl::internal
