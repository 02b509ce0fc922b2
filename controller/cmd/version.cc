#include <iostream>

#include "controller/cmd/cli.h"
#include "controller/cmd/commands.h"

namespace nsg::cmd {

int VersionMain(const std::vector<std::string>& argv) {
  auto args = ParseArgs(argv, {}, std::cerr);
  if (!args) return kExitUsage;
  if (args->Has("help")) {
    std::cout << "Usage: nomad-singleton version\n\nPrints the version, git revision and compiler.\n";
    return kExitOk;
  }
  std::cout << "nomad-singleton " << VersionString() << "\n"
            << "built with g++ " << __VERSION__ << ", C++ " << __cplusplus << "\n";
  return kExitOk;
}

}  // namespace nsg::cmd
