// FakeNomadApi: an in-memory NomadApi for the Reconciler tests. It keeps jobs (with EnforceIndex
// check-and-set), ACL policies and variables, logs every call in a stable one-line form, and
// returns scripted errors per operation. Only what the Reconciler uses is implemented; the rest
// answers kInternal. Not synchronized (tests are single-threaded).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "controller/nomad/api.h"

namespace nsg::reconcile::testing {

class FakeNomadApi final : public nomad::NomadApi {
 public:
  using Status = base::Status;
  template <typename T>
  using Result = base::Result<T>;

  // The next call of `op` ("RegisterJob", "ReadJob", "StopAllocation", "DeregisterJob",
  // "ReadVariable", "ReadAclPolicy", "UpsertAclPolicy") fails with `s` (queued, in order).
  void FailNext(const std::string& op, Status s) { errors_[op].push_back(std::move(s)); }

  std::vector<std::string> calls;
  std::map<std::string, nomad::Job> jobs;  // "ns/id"
  std::map<std::string, nomad::AclPolicy> policies;
  std::map<std::string, nomad::Variable> variables;  // "ns/path"
  std::vector<std::string> stopped;
  uint64_t index = 100;

  Result<nomad::WriteResult> RegisterJob(const nomad::RegisterRequest& req,
                                         const nomad::WriteOptions& w) override;
  Result<nomad::PlanResponse> PlanJob(const nomad::Job&, bool,
                                      const nomad::WriteOptions&) override {
    return Unused();
  }
  Result<nomad::Query<nomad::Job>> ReadJob(const std::string& id,
                                           const nomad::QueryOptions& q) override;
  Result<nomad::Query<std::vector<nomad::JobStub>>> ListJobs(const nomad::QueryOptions&,
                                                             bool) override {
    return Unused();
  }
  Result<nomad::Query<std::vector<nomad::Allocation>>> JobAllocations(const std::string&,
                                                                      const nomad::QueryOptions&,
                                                                      bool) override {
    return Unused();
  }
  Result<nomad::WriteResult> DeregisterJob(const std::string& id, bool purge,
                                           const nomad::WriteOptions& w) override;
  Result<nomad::WriteResult> EvaluateJob(const std::string&, bool,
                                         const nomad::WriteOptions&) override {
    return Unused();
  }
  Result<nomad::Job> ParseHcl(const std::string&, const nomad::WriteOptions&) override {
    return Unused();
  }
  Result<nomad::Query<std::vector<nomad::Allocation>>> ListAllocations(
      const nomad::QueryOptions&) override {
    return Unused();
  }
  Result<nomad::Query<nomad::Allocation>> ReadAllocation(const std::string&,
                                                         const nomad::QueryOptions&) override {
    return Unused();
  }
  Result<nomad::WriteResult> StopAllocation(const std::string& id, bool no_shutdown_delay) override;
  Result<nomad::Query<std::vector<nomad::Node>>> ListNodes(const nomad::QueryOptions&) override {
    return Unused();
  }
  Result<nomad::Query<nomad::Variable>> ReadVariable(const std::string& path,
                                                     const nomad::QueryOptions& q) override;
  Result<nomad::Query<std::vector<nomad::Variable>>> ListVariables(
      const nomad::QueryOptions&) override {
    return Unused();
  }
  Result<nomad::Variable> SetVariable(const nomad::Variable&, std::optional<uint64_t>,
                                      const nomad::WriteOptions&, nomad::Variable*) override {
    return Unused();
  }
  Status DeleteVariable(const std::string&, std::optional<uint64_t>,
                        const nomad::WriteOptions&) override {
    return Unused();
  }
  Result<nomad::Variable> AcquireLock(const nomad::Variable&, const nomad::WriteOptions&) override {
    return Unused();
  }
  Result<nomad::Variable> RenewLock(const std::string&, const std::string&,
                                    const nomad::WriteOptions&) override {
    return Unused();
  }
  Result<nomad::Variable> ReleaseLock(const std::string&, const std::string&,
                                      const nomad::WriteOptions&) override {
    return Unused();
  }
  Result<nomad::AclPolicy> ReadAclPolicy(const std::string& name) override;
  Status UpsertAclPolicy(const nomad::AclPolicy& policy) override;
  Status DeleteAclPolicy(const std::string&) override { return Unused(); }

 private:
  static Status Unused() { return Status::Internal("not used by the reconciler"); }
  // Logs the call; returns the scripted error for `op`, if any.
  std::optional<Status> Call(const std::string& op, const std::string& line);

  std::map<std::string, std::deque<Status>> errors_;
};

}  // namespace nsg::reconcile::testing
