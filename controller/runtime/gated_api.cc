#include "controller/runtime/gated_api.h"

namespace nsg::runtime {

using base::Result;
using base::Status;

Status GatedApi::Closed() const {
  return Status::Cancelled("not the leader: write refused (leadership lost)");
}

// A write passes only while the gate is open.
#define NSG_GATED_WRITE(call) \
  do {                        \
    if (!open()) return Closed(); \
    return call;              \
  } while (false)

Result<nomad::WriteResult> GatedApi::RegisterJob(const nomad::RegisterRequest& req,
                                                 const nomad::WriteOptions& w) {
  NSG_GATED_WRITE(inner_.RegisterJob(req, w));
}
Result<nomad::PlanResponse> GatedApi::PlanJob(const nomad::Job& job, bool diff,
                                              const nomad::WriteOptions& w) {
  return inner_.PlanJob(job, diff, w);
}
Result<nomad::Query<nomad::Job>> GatedApi::ReadJob(const std::string& id,
                                                   const nomad::QueryOptions& q) {
  return inner_.ReadJob(id, q);
}
Result<nomad::Query<std::vector<nomad::JobStub>>> GatedApi::ListJobs(const nomad::QueryOptions& q,
                                                                     bool meta) {
  return inner_.ListJobs(q, meta);
}
Result<nomad::Query<std::vector<nomad::Allocation>>> GatedApi::JobAllocations(
    const std::string& id, const nomad::QueryOptions& q, bool all) {
  return inner_.JobAllocations(id, q, all);
}
Result<nomad::WriteResult> GatedApi::DeregisterJob(const std::string& id, bool purge,
                                                   const nomad::WriteOptions& w) {
  NSG_GATED_WRITE(inner_.DeregisterJob(id, purge, w));
}
Result<nomad::WriteResult> GatedApi::EvaluateJob(const std::string& id, bool force_reschedule,
                                                 const nomad::WriteOptions& w) {
  NSG_GATED_WRITE(inner_.EvaluateJob(id, force_reschedule, w));
}
Result<nomad::Job> GatedApi::ParseHcl(const std::string& hcl, const nomad::WriteOptions& w) {
  return inner_.ParseHcl(hcl, w);
}
Result<nomad::Query<std::vector<nomad::Allocation>>> GatedApi::ListAllocations(
    const nomad::QueryOptions& q) {
  return inner_.ListAllocations(q);
}
Result<nomad::Query<nomad::Allocation>> GatedApi::ReadAllocation(const std::string& id,
                                                                 const nomad::QueryOptions& q) {
  return inner_.ReadAllocation(id, q);
}
Result<nomad::WriteResult> GatedApi::StopAllocation(const std::string& id,
                                                    bool no_shutdown_delay) {
  NSG_GATED_WRITE(inner_.StopAllocation(id, no_shutdown_delay));
}
Result<nomad::Query<std::vector<nomad::Node>>> GatedApi::ListNodes(const nomad::QueryOptions& q) {
  return inner_.ListNodes(q);
}
Result<nomad::Query<nomad::Variable>> GatedApi::ReadVariable(const std::string& path,
                                                             const nomad::QueryOptions& q) {
  return inner_.ReadVariable(path, q);
}
Result<nomad::Query<std::vector<nomad::Variable>>> GatedApi::ListVariables(
    const nomad::QueryOptions& q) {
  return inner_.ListVariables(q);
}
Result<nomad::Variable> GatedApi::SetVariable(const nomad::Variable& v,
                                              std::optional<uint64_t> cas,
                                              const nomad::WriteOptions& w,
                                              nomad::Variable* conflict) {
  NSG_GATED_WRITE(inner_.SetVariable(v, cas, w, conflict));
}
Status GatedApi::DeleteVariable(const std::string& path, std::optional<uint64_t> cas,
                                const nomad::WriteOptions& w) {
  NSG_GATED_WRITE(inner_.DeleteVariable(path, cas, w));
}
Result<nomad::Variable> GatedApi::AcquireLock(const nomad::Variable& v,
                                              const nomad::WriteOptions& w) {
  NSG_GATED_WRITE(inner_.AcquireLock(v, w));
}
Result<nomad::Variable> GatedApi::RenewLock(const std::string& path, const std::string& lock_id,
                                            const nomad::WriteOptions& w) {
  NSG_GATED_WRITE(inner_.RenewLock(path, lock_id, w));
}
Result<nomad::Variable> GatedApi::ReleaseLock(const std::string& path, const std::string& lock_id,
                                              const nomad::WriteOptions& w) {
  NSG_GATED_WRITE(inner_.ReleaseLock(path, lock_id, w));
}
Result<nomad::AclPolicy> GatedApi::ReadAclPolicy(const std::string& name) {
  return inner_.ReadAclPolicy(name);
}
Result<nomad::Query<std::vector<nomad::AclPolicy>>> GatedApi::ListAclPolicies() {
  return inner_.ListAclPolicies();
}
Status GatedApi::UpsertAclPolicy(const nomad::AclPolicy& policy) {
  NSG_GATED_WRITE(inner_.UpsertAclPolicy(policy));
}
Status GatedApi::DeleteAclPolicy(const std::string& name) {
  NSG_GATED_WRITE(inner_.DeleteAclPolicy(name));
}

#undef NSG_GATED_WRITE

}  // namespace nsg::runtime
