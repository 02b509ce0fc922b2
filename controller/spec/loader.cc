// Loading Singleton specs (loader.h): each file split into documents (each parsed on its own, so
// that a syntax error in one hides none of the others), unreadable documents still named by a key
// guessed from their text, every document decoded (DocDecoder: loader_decode.cc and
// loader_fields.cc), the same singleton defined twice reported, and the extra check run.
#include "controller/spec/loader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iterator>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>
#include <utility>

#include "controller/spec/loader_internal.h"

namespace nsg::spec {

std::string Diagnostic::ToString() const {
  std::string out;
  if (!pos.file.empty()) {
    out += pos.file;
    if (pos.line > 0) out += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
    out += ": ";
  } else if (pos.line > 0) {
    out += std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": ";
  }
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

namespace {

using internal::CheckVariablePath;
using internal::DocDecoder;
using internal::kMaxDepth;
using internal::MatchesJobId;
using internal::MatchesNamespace;
using internal::PosString;
using internal::Quote;

// ---------------------------------------------------------------------------------------------
// Splitting a file into documents. yaml-cpp's LoadAll gives up on the whole stream at the first
// syntax error, so each document is parsed on its own.

struct Chunk {
  std::string text;
  int first_line = 0;  // 0-based line of the chunk's first line in the file
};

bool IsMarker(std::string_view line, std::string_view marker) {
  if (line.substr(0, 3) != marker) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

// Whether a line carries document content (not blank, a comment, a directive or a bare "---").
bool HasContent(std::string_view line) {
  if (IsMarker(line, "---")) line.remove_prefix(3);
  else if (!line.empty() && line[0] == '%') return false;
  size_t i = line.find_first_not_of(" \t\r");
  return i != std::string_view::npos && line[i] != '#';
}

// Each chunk holds at most one document: a new chunk starts at every "---" line once the current
// one has a marker or content (comments and directives before the first "---" stay with it), and
// after every "..." line.
// The offset of the first byte that is not part of well-formed UTF-8 (no overlong forms, no
// surrogates, nothing above U+10FFFF), or npos. A spec is text that ends up in JSON sent to
// Nomad, which must be UTF-8; yaml-cpp passes such bytes through.
size_t FirstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80u) || c > (k == 1 ? hi : 0xBFu)) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

std::vector<Chunk> SplitDocuments(std::string_view text) {
  std::vector<Chunk> chunks(1);
  bool started = false;  // the current chunk has a "---" or content
  int line_no = 0;
  for (size_t start = 0; start < text.size(); ++line_no) {
    size_t nl = text.find('\n', start);
    std::string_view line =
        text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    start = nl == std::string_view::npos ? text.size() : nl + 1;
    const bool marker = IsMarker(line, "---");
    if (marker && started) chunks.push_back({"", line_no});
    chunks.back().text.append(line);
    chunks.back().text += '\n';
    if (IsMarker(line, "...")) {
      chunks.push_back({"", line_no + 1});
      started = false;
      continue;
    }
    started = started || marker || HasContent(line);
  }
  return chunks;
}

// Records where the first event of a document is; refuses documents nested too deeply.
class FirstEvent : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { Note(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { Note(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Note(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Note(m);
    Enter(m);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Note(m);
    Enter(m);
  }
  void OnMapEnd() override { --depth_; }
  const YAML::Mark& mark() const { return mark_; }

 private:
  // Refuses nesting deeper than kMaxDepth where it happens (file:line of the offending level),
  // well before yaml-cpp's own guard, which says only "bad file".
  void Enter(const YAML::Mark& m) {
    if (++depth_ > kMaxDepth) {
      throw YAML::ParserException(m, "nested more than " + std::to_string(kMaxDepth) +
                                         " levels deep (a Singleton spec needs about 10)");
    }
  }
  int depth_ = 0;
  void Note(const YAML::Mark& m) {
    if (!seen_) mark_ = m;
    seen_ = true;
  }
  bool seen_ = false;
  YAML::Mark mark_ = YAML::Mark::null_mark();
};

// Parses one chunk (one document at most). Throws YAML::Exception on a syntax error.
//
// yaml-cpp 0.7 does not consume a token it does not expect at the start of a node (a stray ','
// for instance): the document reads as null, the token stays, and YAML::LoadAll loops forever,
// allocating (jbeder/yaml-cpp#1040, fixed upstream by #1319). So the chunk is first run through
// the event parser, at most twice: a second document from one chunk can only be such a leftover
// token, and is reported as a syntax error. Only then is the node tree built, with YAML::Load,
// which reads one document and cannot loop.
YAML::Node ParseChunk(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  FirstEvent first, second;
  if (parser.HandleNextDocument(first) && parser.HandleNextDocument(second)) {
    YAML::Mark m = second.mark();
    std::string what = "unexpected content";
    if (!m.is_null() && m.pos >= 0 && static_cast<size_t>(m.pos) < text.size()) {
      what = "unexpected character " + Quote(std::string(1, text[static_cast<size_t>(m.pos)]));
    }
    throw YAML::ParserException(m, what);
  }
  return YAML::Load(text);
}

int FirstContentLine(const Chunk& c) {
  int n = c.first_line;
  size_t start = 0;
  while (start < c.text.size()) {
    size_t nl = c.text.find('\n', start);
    if (nl == std::string::npos) nl = c.text.size();
    std::string_view line(c.text.data() + start, nl - start);
    if (HasContent(line)) return n;
    start = nl + 1;
    ++n;
  }
  return c.first_line;
}

std::string StripScalar(std::string_view v) {
  size_t hash = v.find(" #");
  if (hash != std::string_view::npos) v = v.substr(0, hash);
  size_t last = v.find_last_not_of(" \t\r");
  v = last == std::string_view::npos ? std::string_view() : v.substr(0, last + 1);
  size_t first = v.find_first_not_of(" \t");
  v = first == std::string_view::npos ? std::string_view() : v.substr(first);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    v = v.substr(1, v.size() - 2);
  }
  return std::string(v);
}

// Best effort for a document YAML could not parse: reads `metadata: {name, namespace}` written in
// block style from the text, so that the controller still knows which singleton is broken (and
// leaves its running job alone instead of treating it as deleted).
std::string GuessKey(std::string_view text) {
  std::string name, ns = kDefaultNamespace;
  bool in_metadata = false;
  size_t child_indent = 0;
  for (size_t start = 0; start < text.size();) {
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl - start);
    start = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!HasContent(line) || IsMarker(line, "---")) continue;
    size_t indent = line.find_first_not_of(' ');
    if (indent == 0) {
      in_metadata = StripScalar(line) == "metadata:";
      child_indent = 0;
      continue;
    }
    if (!in_metadata) continue;
    if (child_indent == 0) child_indent = indent;
    if (indent != child_indent) continue;
    std::string_view rest = line.substr(indent);
    size_t colon = rest.find(": ");
    if (colon == std::string_view::npos) continue;
    std::string_view k = rest.substr(0, colon);
    if (k == "name") name = StripScalar(rest.substr(colon + 2));
    if (k == "namespace") ns = StripScalar(rest.substr(colon + 2));
  }
  if (!MatchesJobId(name) || !MatchesNamespace(ns)) return "";
  return ns + "/" + name;
}

struct DocRecord {
  Singleton s;
  bool ok = false;
  std::string key;
  SourcePos pos;       // the document's start
  SourcePos name_pos;  // where metadata.name is, or the document's start
};

// What the loader reads from one file: its documents and the errors found reading them.
void LoadFile(const SourceFile& file, std::vector<DocRecord>& docs,
              std::vector<Diagnostic>& errors) {
  // A document that cannot be read: its key, guessed from the text, so that the controller knows
  // which singleton is broken.
  auto unreadable = [&docs](const std::string& path, const Chunk& chunk) {
    DocRecord r;
    r.key = GuessKey(chunk.text);
    r.pos = {path, FirstContentLine(chunk) + 1, 1};
    r.name_pos = r.pos;
    docs.push_back(std::move(r));
  };
  for (const Chunk& chunk : SplitDocuments(file.content)) {
    if (const size_t bad = FirstInvalidUtf8(chunk.text); bad != std::string_view::npos) {
      const std::string_view before = std::string_view(chunk.text).substr(0, bad);
      const int line = static_cast<int>(std::count(before.begin(), before.end(), '\n'));
      const size_t line_start = before.rfind('\n');
      const int col = static_cast<int>(line_start == std::string_view::npos
                                           ? bad + 1
                                           : bad - line_start);
      char byte[8];
      std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(chunk.text[bad]));
      errors.push_back({{file.path, chunk.first_line + line + 1, col}, "",
                               std::string("not valid UTF-8 (byte ") + byte +
                                   "): a spec file must be UTF-8 text"});
      unreadable(file.path, chunk);
      continue;
    }
    YAML::Node node;
    try {
      node = ParseChunk(chunk.text);
    } catch (const YAML::Exception& e) {
      SourcePos p{file.path, chunk.first_line + 1, 1};
      if (!e.mark.is_null()) {
        p = {file.path, chunk.first_line + e.mark.line + 1, e.mark.column + 1};
      }
      errors.push_back({p, "", "invalid YAML: " + e.msg});
      unreadable(file.path, chunk);
      continue;
    }
    if (!node.IsDefined() || node.IsNull()) continue;  // an empty document
    DocRecord r;
    DocDecoder decoder(file.path, chunk.first_line, errors);
    try {
      r.ok = decoder.Decode(node, r.s, r.key, r.name_pos);
    } catch (const std::exception& e) {
      // yaml-cpp throws only on misuse; a bug here must fail this document, not the load.
      errors.push_back({r.s.source, "", std::string("internal error: ") + e.what()});
      r.ok = false;
    }
    r.pos = r.s.source;
    if (r.name_pos.line == 0) r.name_pos = r.pos;
    docs.push_back(std::move(r));
  }
}

// Runs work(begin, end, docs, errors) over [0, n) in up to kMaxLoadThreads contiguous ranges at
// once (one when n is small), and appends each range's docs and errors in range order: the
// result is what one thread would have produced.
constexpr size_t kMaxLoadThreads = 4;
constexpr size_t kMinItemsPerThread = 64;
template <typename Work>
void InRanges(size_t n, std::vector<DocRecord>* docs, std::vector<Diagnostic>& errors,
              const Work& work) {
  const size_t hw = std::max<size_t>(1, std::thread::hardware_concurrency());
  const size_t threads = std::min({kMaxLoadThreads, hw, std::max<size_t>(1, n / kMinItemsPerThread)});
  if (threads <= 1) {
    work(0, n, docs, errors);
    return;
  }
  std::vector<std::vector<DocRecord>> part_docs(threads);
  std::vector<std::vector<Diagnostic>> part_errors(threads);
  {
    std::vector<std::jthread> pool;
    for (size_t t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        work(n * t / threads, n * (t + 1) / threads, docs ? &part_docs[t] : nullptr,
             part_errors[t]);
      });
    }
  }
  for (size_t t = 0; t < threads; ++t) {
    if (docs) std::move(part_docs[t].begin(), part_docs[t].end(), std::back_inserter(*docs));
    std::move(part_errors[t].begin(), part_errors[t].end(), std::back_inserter(errors));
  }
}

}  // namespace

std::optional<std::string> VariablePathError(std::string_view path) {
  return CheckVariablePath(path);
}

LoadResult LoadSpecs(const std::vector<SourceFile>& files, const SpecCheck& check) {
  LoadResult result;
  std::vector<DocRecord> docs;
  // Files are read (YAML parsed, decoded, validated) on several threads when there are many:
  // 10,000 spec files took 4 s on one.
  InRanges(files.size(), &docs, result.errors,
           [&files](size_t begin, size_t end, std::vector<DocRecord>* out,
                    std::vector<Diagnostic>& errors) {
             for (size_t i = begin; i < end; ++i) LoadFile(files[i], *out, errors);
           });

  // The same singleton defined twice: every definition is reported and none is used.
  std::map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (!docs[i].key.empty()) by_key[docs[i].key].push_back(i);
  }
  for (const auto& [key, idx] : by_key) {
    if (idx.size() < 2) continue;
    for (size_t i : idx) {
      std::string others;
      for (size_t j : idx) {
        if (j != i) others += (others.empty() ? "" : ", ") + PosString(docs[j].name_pos);
      }
      result.errors.push_back({docs[i].name_pos, "metadata.name",
                               "singleton " + Quote(key) + " is also defined at " + others});
      docs[i].ok = false;
    }
  }

  if (check) {
    InRanges(docs.size(), nullptr, result.errors,
             [&docs, &check](size_t begin, size_t end, std::vector<DocRecord>*,
                             std::vector<Diagnostic>& errors) {
               for (size_t i = begin; i < end; ++i) {
                 DocRecord& r = docs[i];
                 if (!r.ok) continue;
                 const size_t before = errors.size();
                 check(r.s, errors);
                 if (errors.size() != before) r.ok = false;
               }
             });
  }

  for (DocRecord& r : docs) {
    if (r.ok) {
      result.valid.push_back(std::move(r.s));
    } else {
      result.invalid.push_back({r.key, r.pos});
    }
  }

  std::map<std::string, size_t> file_index;
  for (size_t i = 0; i < files.size(); ++i) file_index.emplace(files[i].path, i);
  auto rank = [&](const Diagnostic& d) {
    auto it = file_index.find(d.pos.file);
    return std::make_tuple(it == file_index.end() ? files.size() : it->second, d.pos.line,
                           d.pos.column);
  };
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return rank(a) < rank(b); });
  return result;
}

}  // namespace nsg::spec
