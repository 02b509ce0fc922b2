// CompactRendered: what the controller keeps of a rendered singleton between reconciles.
//
// A rendered job held as nomad::Job is ~3.7 KB of heap per singleton (maps of strings, one node
// per key), the largest single owner of the controller's memory at 10k singletons
// (docs/benchmarks.md, "Seventh slice"). Every plan reads only the job's identity, type, groups'
// names and Counts, Periodic and Meta (the summary below) and the policy; the whole job is needed
// only to send it (a register) and for a full drift comparison, which happens when someone else
// wrote the job. So the whole job is kept as its request encoding (nomad::EncodeJob), deflated,
// and the register body is composed from that encoding without building the job again.
//
// Immutable after From(); safe to share between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "controller/base/status.h"
#include "controller/nomad/job.h"
#include "controller/render/job_renderer.h"

namespace nsg::render {

struct CompactRendered {
  // nomad::JobSummary's fields of the rendered job, flat (nomad::SlimJob): ID, Namespace, type,
  // priority, datacenters, node pool, each group's name and Count, Periodic, Meta (spec hash,
  // lock path and mode, source, ...).
  nomad::SlimJob summary;
  nomad::AclPolicy policy;
  std::string spec_hash;  // also in summary.meta[kMetaSpecHash]

  static CompactRendered From(const Rendered& r);

  // The rendered job as nomad::EncodeJob writes it (the request form: what POST /v1/jobs sends
  // as "Job"), byte for byte. Fails (kInternal) only if the kept bytes were corrupted.
  base::Result<std::shared_ptr<const std::string>> EncodedJob() const;
  // The rendered job, decoded from EncodedJob(): equal to the Rendered::job it came from.
  base::Result<nomad::Job> Job() const;
  // The bytes kept for the whole job (deflated), for tests and benchmarks.
  size_t kept_bytes() const { return deflated_.size(); }

 private:
  std::string deflated_;  // zlib stream of EncodedJob()
  uint32_t encoded_size_ = 0;
};

// Deflates and inflates with zlib and the preset dictionary of compact.cc (the controller's own
// encodings only, in memory: a corrupt input is an internal error, kInternal). For tests.
std::string Deflate(const std::string& text);
base::Result<std::string> Inflate(const std::string& deflated, size_t size);

}  // namespace nsg::render
