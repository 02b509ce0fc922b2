// Nomad variable and variable-lock value types (nomad-api.md §2).
//
// On the wire, Lock.TTL and Lock.LockDelay are Go duration strings ("15s"); requests may send
// strings or nanoseconds. Plain values; no synchronization.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "controller/nomad/job.h"

namespace nsg::nomad {

struct VariableLock {
  Duration ttl{0};
  Duration lock_delay{0};
  std::string id;
  friend bool operator==(const VariableLock&, const VariableLock&) = default;
};

// A Variable, or VariableMetadata when items is empty (the list endpoint never carries Items).
struct Variable {
  std::string namespace_;
  std::string path;
  std::optional<VariableLock> lock;
  StringMap items;
  uint64_t create_index = 0;
  int64_t create_time = 0;  // unix ns
  uint64_t modify_index = 0;
  int64_t modify_time = 0;  // unix ns
  friend bool operator==(const Variable&, const Variable&) = default;
};

}  // namespace nsg::nomad
