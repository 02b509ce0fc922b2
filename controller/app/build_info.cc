#include "controller/app/build_info.h"

#ifndef NSG_VERSION
#define NSG_VERSION "unknown"
#endif
#ifndef NSG_GIT_REVISION
#define NSG_GIT_REVISION "unknown"
#endif

namespace nsg::app {

std::string BuildVersion() { return NSG_VERSION; }
std::string BuildRevision() { return NSG_GIT_REVISION; }

std::string VersionString() { return BuildVersion() + " (git " + BuildRevision() + ")"; }

}  // namespace nsg::app
