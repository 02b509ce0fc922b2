// RunBinary: runs the nomad-singleton binary (NSG_BINARY) with arguments through the shell and
// returns its exit code, stdout and stderr (captured through files in a scratch directory).
// Header-only; each call blocks until the process exits. Not thread-safe per scratch directory.
#pragma once

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace nsg::cmd::testing {

struct RunResult {
  int code = -1;  // exit status, -1 when killed by a signal
  std::string out, err;
};

inline std::string ShellQuote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

inline std::string SlurpFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `binary args...` with stdout and stderr redirected to files in `scratch` (which must
// exist).
inline RunResult RunBinary(const std::string& binary, const std::vector<std::string>& args,
                           const std::filesystem::path& scratch) {
  std::string cmd = ShellQuote(binary);
  for (const auto& a : args) cmd += " " + ShellQuote(a);
  cmd += " </dev/null >" + ShellQuote((scratch / "stdout").string()) + " 2>" +
         ShellQuote((scratch / "stderr").string());
  int status = std::system(cmd.c_str());
  RunResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = SlurpFile(scratch / "stdout");
  r.err = SlurpFile(scratch / "stderr");
  return r;
}

}  // namespace nsg::cmd::testing
