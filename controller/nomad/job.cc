#include "controller/nomad/job.h"

#include <algorithm>

namespace nsg::nomad {

namespace {

// The fields a SlimJob and a Job share, copied either way.
template <typename To, typename From>
void CopyJobFields(To& t, const From& f) {
  t.id = f.id;
  t.name = f.name;
  t.namespace_ = f.namespace_;
  t.region = f.region;
  t.type = f.type;
  t.node_pool = f.node_pool;
  t.status = f.status;
  t.priority = f.priority;
  t.stop = f.stop;
  t.datacenters = f.datacenters;
  t.version = f.version;
  t.create_index = f.create_index;
  t.modify_index = f.modify_index;
  t.job_modify_index = f.job_modify_index;
  t.submit_time = f.submit_time;
}

}  // namespace

Job JobSummary(const Job& full) { return WholeOf(SlimOf(full)); }

SlimJob SlimOf(const Job& j) {
  SlimJob s;
  CopyJobFields(s, j);
  s.groups.reserve(j.task_groups.size());
  for (const auto& g : j.task_groups) s.groups.emplace_back(g.name, g.count);
  if (j.periodic) {
    auto p = std::make_shared<PeriodicConfig>(*j.periodic);
    p->extra.clear();
    s.periodic = std::move(p);
  }
  s.meta.assign(j.meta.begin(), j.meta.end());  // a std::map: sorted
  return s;
}

Job WholeOf(const SlimJob& s) {
  Job j;
  CopyJobFields(j, s);
  j.task_groups.reserve(s.groups.size());
  for (const auto& [name, count] : s.groups) {
    TaskGroup& g = j.task_groups.emplace_back();
    g.name = name;
    g.count = count;
  }
  if (s.periodic) j.periodic = *s.periodic;
  j.meta.insert(s.meta.begin(), s.meta.end());
  return j;
}

const std::string* SlimJob::Meta(const std::string& key) const {
  auto it = std::lower_bound(meta.begin(), meta.end(), key,
                             [](const auto& kv, const std::string& k) { return kv.first < k; });
  return it != meta.end() && it->first == key ? &it->second : nullptr;
}

}  // namespace nsg::nomad
