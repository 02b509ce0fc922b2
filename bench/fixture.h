// A fixture file of tests/fixtures/nomad/, whole, without its trailing newlines (benchmarks run
// from any directory: NSG_SOURCE_DIR is the source tree). Aborts when it cannot be read.
#pragma once

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace nsg::bench {

inline std::string NomadFixture(const char* name) {
  const std::string path = std::string(NSG_SOURCE_DIR) + "/tests/fixtures/nomad/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    std::abort();
  }
  std::ostringstream out;
  out << in.rdbuf();
  std::string s = out.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace nsg::bench
