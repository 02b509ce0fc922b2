// `nomad-singleton guard`: the same command as the static nomad-singleton-guard (lock_io/guard.h).
#include "controller/cmd/lock_commands.h"
#include "controller/lock_io/guard.h"

namespace nsg::cmd {

int GuardMain(const std::vector<std::string>& argv) { return io::GuardCommand(argv); }

}  // namespace nsg::cmd
