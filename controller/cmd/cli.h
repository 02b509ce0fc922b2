// Small command-line helpers shared by the subcommands: a flag parser with GNU-style long flags
// (`--flag value`, `--flag=value`, `--` ends flags) and the subcommand table.
//
// Owned by main(); not thread-safe (used before any thread starts).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "controller/app/exit_codes.h"

namespace nsg::cmd {

// Exit codes (controller/app/exit_codes.h).
using app::kExitInvalid;
using app::kExitOk;
using app::kExitUsage;

struct FlagSpec {
  std::string name;        // without dashes: "format"
  bool takes_value = false;
  std::string value_name;  // "FORMAT" in help
  std::string help;
};

// Parsed flags and positional arguments.
struct Args {
  std::map<std::string, std::vector<std::string>> flags;  // name → values ("" for booleans)
  std::vector<std::string> positional;
  std::vector<std::string> after_dashdash;  // everything after a bare "--"
  bool Has(const std::string& name) const { return flags.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& def = "") const {
    auto it = flags.find(name);
    return it == flags.end() || it->second.empty() ? def : it->second.back();
  }
};

// Parses `argv` (without the program and subcommand names) against `specs`. "-h" and "--help" are
// always accepted. On error returns nullopt and writes one line to `err`.
std::optional<Args> ParseArgs(const std::vector<std::string>& argv,
                              const std::vector<FlagSpec>& specs, std::ostream& err);

// Writes the flags block of a --help text.
void PrintFlags(std::ostream& out, const std::vector<FlagSpec>& specs);

struct Command {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>& argv)> run;
};

}  // namespace nsg::cmd
