#include "controller/nomad/job.h"

namespace nsg::nomad {

Job JobSummary(const Job& full) {
  Job s;
  s.id = full.id;
  s.name = full.name;
  s.namespace_ = full.namespace_;
  s.region = full.region;
  s.type = full.type;
  s.priority = full.priority;
  s.datacenters = full.datacenters;
  s.node_pool = full.node_pool;
  for (const TaskGroup& g : full.task_groups) {
    TaskGroup& sg = s.task_groups.emplace_back();
    sg.name = g.name;
    sg.count = g.count;
  }
  if (full.periodic) {
    s.periodic = full.periodic;
    s.periodic->extra.clear();
  }
  s.meta = full.meta;
  s.stop = full.stop;
  s.status = full.status;
  s.version = full.version;
  s.create_index = full.create_index;
  s.modify_index = full.modify_index;
  s.job_modify_index = full.job_modify_index;
  s.submit_time = full.submit_time;
  return s;
}

}  // namespace nsg::nomad
