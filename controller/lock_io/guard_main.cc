// nomad-singleton-guard: the guard as a small static executable (only libc and libstdc++), for
// workload images that do not contain nomad-singleton. The lock agent copies it to
// $NOMAD_ALLOC_DIR/singleton/guard. Same arguments as `nomad-singleton guard` (lock_io/guard.h).
#include <string>
#include <vector>

#include "controller/lock_io/guard.h"

int main(int argc, char** argv) {
  return nsg::io::GuardCommand(std::vector<std::string>(argv + 1, argv + argc));
}
