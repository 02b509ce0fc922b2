// FakeNomadApi for the lock runner tests: a single lock variable with scriptable answers, a call
// log with the order of every lock operation, and blocking reads that wake when the variable
// changes. Only the variable and lock calls are implemented. Safe for concurrent use.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "controller/nomad/api.h"

namespace nsg::io::testing {

class FakeNomadApi final : public nomad::NomadApi {
 public:
  using VarResult = base::Result<nomad::Variable>;

  // Scripts: given the 1-based call number, the answer. Default: the lock is free and ours.
  std::function<VarResult(int n, const nomad::Variable& req)> on_acquire;
  std::function<VarResult(int n)> on_renew;
  std::function<VarResult(int n)> on_release;

  // Every call, in order: "acquire", "renew", "release", "read index=N".
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }
  int count(const std::string& prefix) {
    std::lock_guard<std::mutex> l(mu_);
    int n = 0;
    for (const auto& c : calls_) n += c.rfind(prefix, 0) == 0;
    return n;
  }
  nomad::Variable last_acquire() {
    std::lock_guard<std::mutex> l(mu_);
    return last_acquire_;
  }
  // Another holder changed the variable (e.g. released the lock): wakes blocking reads.
  void Bump() {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++modify_index_;
    }
    cv_.notify_all();
  }
  // Observers run inside the call (e.g. to check what the workload is doing at release time).
  std::function<void()> before_release;

  // ---- variables and locks ----
  base::Result<nomad::Variable> AcquireLock(const nomad::Variable& v,
                                            const nomad::WriteOptions&) override {
    int n;
    {
      std::lock_guard<std::mutex> l(mu_);
      calls_.push_back("acquire");
      last_acquire_ = v;
      n = ++acquires_;
    }
    if (on_acquire) return on_acquire(n, v);
    nomad::Variable out = v;
    std::lock_guard<std::mutex> l(mu_);
    out.modify_index = ++modify_index_;
    if (out.lock && out.lock->id.empty()) out.lock->id = "server-lock-id";
    return out;
  }
  base::Result<nomad::Variable> RenewLock(const std::string& path, const std::string& id,
                                          const nomad::WriteOptions&) override {
    int n;
    {
      std::lock_guard<std::mutex> l(mu_);
      calls_.push_back("renew");
      n = ++renews_;
    }
    if (on_renew) return on_renew(n);
    nomad::Variable out;
    out.path = path;
    out.lock = nomad::VariableLock{std::chrono::seconds(10), std::chrono::seconds(0), id};
    return out;
  }
  base::Result<nomad::Variable> ReleaseLock(const std::string& path, const std::string&,
                                            const nomad::WriteOptions&) override {
    if (before_release) before_release();
    int n;
    {
      std::lock_guard<std::mutex> l(mu_);
      calls_.push_back("release");
      n = ++releases_;
      ++modify_index_;
    }
    cv_.notify_all();
    if (on_release) return on_release(n);
    nomad::Variable out;
    out.path = path;
    return out;
  }
  base::Result<nomad::Query<nomad::Variable>> ReadVariable(
      const std::string& path, const nomad::QueryOptions& q) override {
    std::unique_lock<std::mutex> l(mu_);
    calls_.push_back("read index=" + std::to_string(q.index));
    if (q.index > 0) {
      cv_.wait_for(l, q.wait, [&] { return modify_index_ > q.index; });
    }
    nomad::Query<nomad::Variable> out;
    out.value.path = path;
    out.value.modify_index = modify_index_;
    out.meta.last_index = modify_index_;
    return out;
  }

  // ---- everything else: not used by the lock agent ----
  base::Result<nomad::WriteResult> RegisterJob(const nomad::RegisterRequest&,
                                               const nomad::WriteOptions&) override {
    return No();
  }
  base::Result<nomad::PlanResponse> PlanJob(const nomad::Job&, bool,
                                            const nomad::WriteOptions&) override {
    return No();
  }
  base::Result<nomad::Query<nomad::Job>> ReadJob(const std::string&,
                                                 const nomad::QueryOptions&) override {
    return No();
  }
  base::Result<nomad::Query<std::vector<nomad::JobStub>>> ListJobs(const nomad::QueryOptions&,
                                                                   bool) override {
    return No();
  }
  base::Result<nomad::Query<std::vector<nomad::Allocation>>> JobAllocations(
      const std::string&, const nomad::QueryOptions&, bool) override {
    return No();
  }
  base::Result<nomad::WriteResult> DeregisterJob(const std::string&, bool,
                                                 const nomad::WriteOptions&) override {
    return No();
  }
  base::Result<nomad::WriteResult> EvaluateJob(const std::string&, bool,
                                               const nomad::WriteOptions&) override {
    return No();
  }
  base::Result<nomad::Job> ParseHcl(const std::string&, const nomad::WriteOptions&) override {
    return No();
  }
  base::Result<nomad::Query<std::vector<nomad::Allocation>>> ListAllocations(
      const nomad::QueryOptions&) override {
    return No();
  }
  base::Result<nomad::Query<nomad::Allocation>> ReadAllocation(
      const std::string&, const nomad::QueryOptions&) override {
    return No();
  }
  base::Result<nomad::WriteResult> StopAllocation(const std::string&, bool) override {
    return No();
  }
  base::Result<nomad::Query<std::vector<nomad::Node>>> ListNodes(
      const nomad::QueryOptions&) override {
    return No();
  }
  base::Result<nomad::Query<std::vector<nomad::Variable>>> ListVariables(
      const nomad::QueryOptions&) override {
    return No();
  }
  base::Result<nomad::Variable> SetVariable(const nomad::Variable&, std::optional<uint64_t>,
                                            const nomad::WriteOptions&,
                                            nomad::Variable*) override {
    return No();
  }
  base::Status DeleteVariable(const std::string&, std::optional<uint64_t>,
                              const nomad::WriteOptions&) override {
    return No();
  }
  base::Result<nomad::AclPolicy> ReadAclPolicy(const std::string&) override { return No(); }
  base::Status UpsertAclPolicy(const nomad::AclPolicy&) override { return No(); }
  base::Status DeleteAclPolicy(const std::string&) override { return No(); }

 private:
  static base::Status No() { return base::Status::Internal("not implemented by FakeNomadApi"); }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
  nomad::Variable last_acquire_;
  uint64_t modify_index_ = 100;
  int acquires_ = 0, renews_ = 0, releases_ = 0;
};

}  // namespace nsg::io::testing
