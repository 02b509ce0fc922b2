#include "controller/nomad/allocation.h"

#include <string>

namespace nsg::nomad {

bool IsClientTerminal(const std::string& client_status) {
  return client_status == kClientComplete || client_status == kClientFailed ||
         client_status == kClientLost;
}

}  // namespace nsg::nomad
