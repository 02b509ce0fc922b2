// GatedApi: a NomadApi decorator whose writes pass only while its gate is open.
//
// The controller's leader election closes the gate the moment this replica stops leading: every
// write that starts afterwards (register, deregister, alloc stop, variable and lock writes, ACL
// policy writes) fails with kCancelled without reaching Nomad, so a reconcile in flight ends at its
// next write. Reads, plans and parses always pass. A write already sent is fenced by Nomad itself
// (EnforceIndex on registers; stops and policy upserts are idempotent).
//
// Borrows `inner` (must outlive it). Thread-safety: as `inner`; the gate is an atomic.
#pragma once

#include <atomic>

#include "controller/nomad/api.h"

namespace nsg::runtime {

class GatedApi final : public nomad::NomadApi {
 public:
  explicit GatedApi(nomad::NomadApi& inner) : inner_(inner) {}

  void SetOpen(bool open) { open_.store(open); }
  bool open() const { return open_.load(); }

  base::Result<nomad::WriteResult> RegisterJob(const nomad::RegisterRequest& req,
                                               const nomad::WriteOptions& w) override;
  base::Result<nomad::PlanResponse> PlanJob(const nomad::Job& job, bool diff,
                                            const nomad::WriteOptions& w) override;
  base::Result<nomad::Query<nomad::Job>> ReadJob(const std::string& id,
                                                 const nomad::QueryOptions& q) override;
  base::Result<nomad::Query<std::vector<nomad::JobStub>>> ListJobs(const nomad::QueryOptions& q,
                                                                   bool meta) override;
  base::Result<nomad::Query<std::vector<nomad::Allocation>>> JobAllocations(
      const std::string& id, const nomad::QueryOptions& q, bool all) override;
  base::Result<nomad::WriteResult> DeregisterJob(const std::string& id, bool purge,
                                                 const nomad::WriteOptions& w) override;
  base::Result<nomad::WriteResult> EvaluateJob(const std::string& id, bool force_reschedule,
                                               const nomad::WriteOptions& w) override;
  base::Result<nomad::Job> ParseHcl(const std::string& hcl, const nomad::WriteOptions& w) override;
  base::Result<nomad::Query<std::vector<nomad::Allocation>>> ListAllocations(
      const nomad::QueryOptions& q) override;
  base::Result<nomad::Query<nomad::Allocation>> ReadAllocation(
      const std::string& id, const nomad::QueryOptions& q) override;
  base::Result<nomad::WriteResult> StopAllocation(const std::string& id,
                                                  bool no_shutdown_delay) override;
  base::Result<nomad::Query<std::vector<nomad::Node>>> ListNodes(
      const nomad::QueryOptions& q) override;
  base::Result<nomad::Query<nomad::Variable>> ReadVariable(const std::string& path,
                                                           const nomad::QueryOptions& q) override;
  base::Result<nomad::Query<std::vector<nomad::Variable>>> ListVariables(
      const nomad::QueryOptions& q) override;
  base::Result<nomad::Variable> SetVariable(const nomad::Variable& v, std::optional<uint64_t> cas,
                                            const nomad::WriteOptions& w,
                                            nomad::Variable* conflict) override;
  base::Status DeleteVariable(const std::string& path, std::optional<uint64_t> cas,
                              const nomad::WriteOptions& w) override;
  base::Result<nomad::Variable> AcquireLock(const nomad::Variable& v,
                                            const nomad::WriteOptions& w) override;
  base::Result<nomad::Variable> RenewLock(const std::string& path, const std::string& lock_id,
                                          const nomad::WriteOptions& w) override;
  base::Result<nomad::Variable> ReleaseLock(const std::string& path, const std::string& lock_id,
                                            const nomad::WriteOptions& w) override;
  base::Result<nomad::AclPolicy> ReadAclPolicy(const std::string& name) override;
  base::Result<nomad::Query<std::vector<nomad::AclPolicy>>> ListAclPolicies() override;
  base::Status UpsertAclPolicy(const nomad::AclPolicy& policy) override;
  base::Status DeleteAclPolicy(const std::string& name) override;

 private:
  base::Status Closed() const;

  nomad::NomadApi& inner_;
  std::atomic<bool> open_{true};
};

}  // namespace nsg::runtime
