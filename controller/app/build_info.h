// The build's identity: what `version` prints, the controller's build_info metric and the lock
// agent's start line. NSG_VERSION and NSG_GIT_REVISION come from CMake (app/CMakeLists.txt).
#pragma once

#include <string>

namespace nsg::app {

// Version string: "0.1.0 (git abc1234)".
std::string VersionString();
// Its parts, for build_info: the release ("0.1.0") and the git commit the build was configured
// at ("unknown" outside a git checkout).
std::string BuildVersion();
std::string BuildRevision();

}  // namespace nsg::app
