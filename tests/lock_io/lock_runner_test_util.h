// Helpers for the lock-agent tests that run real processes: temporary directories, waiting for a
// condition with a deadline (never sleeping for a fixed time), and pid files.
#pragma once

#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/test_support/wait.h"

namespace nsg::io::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nsg-lock-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

using test_support::WaitUntil;

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The pid written to `path` by a workload (`echo $$ > path`), or 0 while there is none.
inline pid_t PidIn(const std::string& path) {
  std::string s = Slurp(path);
  if (s.empty() || s.back() != '\n') return 0;
  return static_cast<pid_t>(std::atol(s.c_str()));
}

// Whether `pid` has terminated (gone, or a zombie nobody reaped yet).
inline bool Dead(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::string stat = Slurp("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z';
}

// A shell workload that records its pid (and what it saw) in `dir`, then runs until killed.
inline std::string SleeperScript(const std::string& dir, bool ignore_term = false) {
  return std::string(ignore_term ? "trap '' TERM; " : "") + "echo \"$NOMAD_SINGLETON_EPOCH\" > " +
         dir + "/epoch_seen; echo $$ > " + dir + "/pid.tmp && mv " + dir + "/pid.tmp " + dir +
         "/pid; " + (ignore_term ? "while :; do sleep 0.05; done" : "exec sleep 1000");
}

}  // namespace nsg::io::testing
