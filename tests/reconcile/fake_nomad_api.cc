#include "tests/reconcile/fake_nomad_api.h"

#include "controller/nomad/codec.h"
#include "tests/reconcile/fixtures.h"

namespace nsg::reconcile::testing {

std::optional<base::Status> FakeNomadApi::Call(const std::string& op, const std::string& line) {
  calls.push_back(line);
  auto it = errors_.find(op);
  if (it == errors_.end() || it->second.empty()) return std::nullopt;
  Status s = it->second.front();
  it->second.pop_front();
  return s;
}

base::Result<nomad::WriteResult> FakeNomadApi::RegisterJob(const nomad::RegisterRequest& req,
                                                           const nomad::WriteOptions& w) {
  const std::string key = w.namespace_ + "/" + req.job.id;
  if (auto e = Call("RegisterJob", "RegisterJob " + key + " enforce=" +
                                       (req.enforce_index ? std::to_string(req.job_modify_index)
                                                          : std::string("off")))) {
    return *e;
  }
  auto it = jobs.find(key);
  const uint64_t current = it == jobs.end() ? 0 : it->second.job_modify_index;
  if (req.enforce_index && req.job_modify_index != current) {
    return Status::Conflict("Enforcing job modify index " + std::to_string(req.job_modify_index) +
                            ": job exists with conflicting job modify index: " +
                            std::to_string(current));
  }
  // The job as it would reach the server: the encoded bytes when the request carries them.
  auto job = nomad::RegisteredJob(req);
  if (!job.ok()) return job.status();
  if (job->id != req.job.id || job->namespace_ != req.job.namespace_) {
    return Status::Internal("RegisterJob: encoded job " + job->id + " sent as " + req.job.id);
  }
  ++index;
  jobs[key] = ServerJob(*job, index);
  return nomad::WriteResult{.eval_id = "eval-" + std::to_string(index),
                            .eval_create_index = index,
                            .job_modify_index = index,
                            .warnings = "",
                            .index = index};
}

base::Result<nomad::Query<nomad::Job>> FakeNomadApi::ReadJob(const std::string& id,
                                                             const nomad::QueryOptions& q) {
  const std::string key = q.namespace_ + "/" + id;
  if (auto e = Call("ReadJob", "ReadJob " + key)) return *e;
  auto it = jobs.find(key);
  if (it == jobs.end()) return Status::NotFound("job not found");
  nomad::Query<nomad::Job> r;
  r.value = it->second;
  r.meta.last_index = it->second.modify_index;
  return r;
}

base::Result<nomad::WriteResult> FakeNomadApi::DeregisterJob(const std::string& id, bool purge,
                                                             const nomad::WriteOptions& w) {
  const std::string key = w.namespace_ + "/" + id;
  if (auto e = Call("DeregisterJob",
                    "DeregisterJob " + key + (purge ? " purge" : ""))) {
    return *e;
  }
  ++index;
  auto it = jobs.find(key);
  if (it != jobs.end()) {
    it->second.stop = true;
    it->second.job_modify_index = index;
    it->second.modify_index = index;
  }
  nomad::WriteResult r;
  r.job_modify_index = index;
  r.index = index;
  return r;
}

base::Result<nomad::WriteResult> FakeNomadApi::StopAllocation(const std::string& id,
                                                              bool no_shutdown_delay) {
  if (auto e = Call("StopAllocation", "StopAllocation " + id +
                                          (no_shutdown_delay ? " no_shutdown_delay" : ""))) {
    return *e;
  }
  stopped.push_back(id);
  ++index;
  nomad::WriteResult r;
  r.index = index;
  return r;
}

base::Result<nomad::Query<nomad::Variable>> FakeNomadApi::ReadVariable(
    const std::string& path, const nomad::QueryOptions& q) {
  const std::string key = q.namespace_ + "/" + path;
  if (auto e = Call("ReadVariable", "ReadVariable " + key)) return *e;
  auto it = variables.find(key);
  if (it == variables.end()) return Status::NotFound("variable not found");
  nomad::Query<nomad::Variable> r;
  r.value = it->second;
  r.meta.last_index = it->second.modify_index;
  return r;
}

base::Result<nomad::AclPolicy> FakeNomadApi::ReadAclPolicy(const std::string& name) {
  if (auto e = Call("ReadAclPolicy", "ReadAclPolicy " + name)) return *e;
  auto it = policies.find(name);
  if (it == policies.end()) return Status::NotFound("ACL policy not found");
  return it->second;
}

base::Status FakeNomadApi::UpsertAclPolicy(const nomad::AclPolicy& policy) {
  if (auto e = Call("UpsertAclPolicy", "UpsertAclPolicy " + policy.name)) return *e;
  nomad::AclPolicy p = policy;
  p.modify_index = ++index;
  policies[p.name] = p;
  return Status::Ok();
}

}  // namespace nsg::reconcile::testing
