#include "controller/nomad/job.h"

#include <algorithm>
#include <cstring>

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

void AppendPiece(std::string& out, std::string_view piece) {
  const auto n = static_cast<uint32_t>(piece.size());
  out.append(reinterpret_cast<const char*>(&n), sizeof n);
  out.append(piece);
}

// Calls fn(key, value) for each entry of a SlimJob's Meta buffer until fn returns false.
template <typename F>
void ForEachMeta(std::string_view buf, F&& fn) {
  auto piece = [&buf](std::string_view& out) {
    uint32_t n = 0;
    if (buf.size() < sizeof n) return false;
    std::memcpy(&n, buf.data(), sizeof n);
    if (buf.size() - sizeof n < n) return false;
    out = buf.substr(sizeof n, n);
    buf.remove_prefix(sizeof n + n);
    return true;
  };
  std::string_view k, v;
  while (piece(k) && piece(v)) {
    if (!fn(k, v)) return;
  }
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
  size_t size = 0;
  for (const auto& [k, v] : j.meta) size += 8 + k.size() + v.size();
  s.meta.reserve(size);
  for (const auto& [k, v] : j.meta) {  // a std::map: in key order
    AppendPiece(s.meta, k);
    AppendPiece(s.meta, v);
  }
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
  ForEachMeta(s.meta, [&](std::string_view k, std::string_view v) {
    j.meta.emplace_hint(j.meta.end(), k, v);
    return true;
  });
  return j;
}

std::optional<std::string_view> SlimJob::Meta(std::string_view key) const {
  std::optional<std::string_view> found;
  ForEachMeta(meta, [&](std::string_view k, std::string_view v) {
    if (k == key) found = v;
    return !found && k < key;  // in key order: stop at the first key past it
  });
  return found;
}
}  // namespace nsg::nomad
