// The process exit codes every program returns (ARCHITECTURE.md §4.1); the lock agent adds its
// own (lock/agent.h).
#pragma once

namespace nsg::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalid = 1;
inline constexpr int kExitUsage = 2;

}  // namespace nsg::app
