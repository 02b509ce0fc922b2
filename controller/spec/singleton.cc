#include "controller/spec/singleton.h"

namespace nsg::spec {

#ifndef NSG_DEFAULT_LOCK_IMAGE
#error "NSG_DEFAULT_LOCK_IMAGE is set by controller/spec/CMakeLists.txt"
#endif
const char kDefaultAgentImage[] = NSG_DEFAULT_LOCK_IMAGE;

const char* JobTypeName(JobType t) {
  switch (t) {
    case JobType::kService: return "service";
    case JobType::kBatch: return "batch";
  }
  return "unknown";
}

const char* LockModeName(LockMode m) {
  switch (m) {
    case LockMode::kShim: return "shim";
    case LockMode::kSidecar: return "sidecar";
    case LockMode::kSplit: return "split";
  }
  return "unknown";
}

const char* AgentDriverName(AgentDriver d) {
  switch (d) {
    case AgentDriver::kRawExec: return "raw_exec";
    case AgentDriver::kExec: return "exec";
    case AgentDriver::kDocker: return "docker";
  }
  return "unknown";
}

std::string DefaultLockPath(const std::string& job_id) { return "nomad/jobs/" + job_id + "/lock"; }

SourcePos Singleton::PositionOf(const std::string& field) const {
  std::string f = field;
  while (!f.empty()) {
    auto it = positions.find(f);
    if (it != positions.end()) return it->second;
    // Drop the last component: "a.b[2]" → "a.b" → "a".
    size_t cut = f.find_last_of(".[");
    if (cut == std::string::npos) break;
    f.resize(cut);
  }
  return source;
}

}  // namespace nsg::spec
