// Loading Singleton specs from YAML text: decode, default, validate, and report every error.
//
// Sans-IO: the caller reads the files (controller_io/spec_files.h walks directories) and passes
// their text.
// Every error in every document is reported, as `file:line:col: field.path: message`; one bad file
// or document never hides or breaks the good ones. A document with any error yields no Singleton,
// but its key (namespace/name), when it can be read, is listed in `invalid` so the controller can
// tell "invalid" (leave the running job alone) from "deleted". Pure functions; safe for concurrent
// use.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/spec/singleton.h"

namespace nsg::spec {

// One input file.
struct SourceFile {
  std::string path;     // as given by the user (shown in errors)
  std::string content;  // the whole file
};

struct Diagnostic {
  SourcePos pos;      // 1-based; line 0 when the error concerns the whole file
  std::string field;  // "spec.lock.ttl", "metadata.name", "" for document-level errors
  std::string message;
  // "file:line:col: field: message" (the field part is left out when empty).
  std::string ToString() const;
};

// A document that failed validation.
struct InvalidSingleton {
  std::string key;  // "namespace/name" when metadata.name could be read, else ""
  SourcePos pos;    // the document's start
};

struct LoadResult {
  std::vector<Singleton> valid;          // in file order, then document order
  std::vector<InvalidSingleton> invalid;  // documents with at least one error
  std::vector<Diagnostic> errors;         // every error, in file/line order
  bool ok() const { return errors.empty(); }
};

// An extra check run on each singleton that passed the loader's own validation, e.g. the timer rule
// (timing/ implements it; spec/ cannot depend on it). It appends its diagnostics to `out`, using
// `s.positions` to point at the offending field. LoadSpecs may call it from several threads at
// once (for different singletons, each with its own `out`): it must be safe for that.
using SpecCheck = std::function<void(const Singleton& s, std::vector<Diagnostic>& out)>;

// Decodes every YAML document in `files`, applies defaults, validates, and runs `check` on each
// singleton that is otherwise valid. Also reports the same singleton (namespace/name) defined more
// than once, naming both places; all its definitions are then invalid. With many files the work
// is spread over up to 4 threads; the result is the same as with one.
LoadResult LoadSpecs(const std::vector<SourceFile>& files, const SpecCheck& check = nullptr);

// Why `path` is not a Nomad variable path a lock can use (nomad-api.md §2.3: 1-128 characters of
// a-z A-Z 0-9 - _ ~ /, no empty segment, only nomad/jobs... etc. under the reserved "nomad/"), or
// nullopt when it is fine. The message completes "<path> ...", e.g. "must be 1 to 128 characters
// long".
std::optional<std::string> VariablePathError(std::string_view path);

}  // namespace nsg::spec
