#include "controller/render/compact.h"

#include <zlib.h>

#include <limits>

#include "controller/nomad/codec.h"
#include "controller/spec/singleton.h"

namespace nsg::render {

namespace {

// A rendered job's encoding is 1.3-2.6 KB. Deflated alone it shrinks 2-3x; most of it is the
// same in every rendered job (keys, the lock agent's tasks, policies), so both sides start from
// a preset dictionary: the encodings of two default singletons, shim and sidecar (the default
// mode last: zlib favours a dictionary's end). ~200 B per job instead of ~770 B on the test
// shapes. The dictionary lives only in this process (nothing deflated is ever stored or sent),
// so it may change with any release.
constexpr int kWindowBits = 13;  // 8 KiB: the dictionary and a whole job
constexpr int kMemLevel = 8;

const std::string& Dictionary() {
  static const std::string dict = [] {
    std::string out;
    for (spec::LockMode mode : {spec::LockMode::kShim, spec::LockMode::kSidecar}) {
      spec::Singleton s;
      s.metadata.name = "singleton";
      s.spec.lock.path = spec::DefaultLockPath(s.metadata.name);
      s.spec.lock.mode = mode;
      s.spec.datacenters = {"dc1"};
      spec::TaskSpec task;
      task.driver = "raw_exec";
      task.config_json = R"({"args":["-c","exec sleep infinity"],"command":"/bin/sh"})";
      s.spec.task = task;
      s.source.file = "specs/singleton.yaml";
      auto r = Render(s);
      if (r.ok()) out += nomad::EncodeJob(r->job);
    }
    return out;
  }();
  return dict;
}

struct Deflater {
  z_stream z{};
  bool ok = false;
  Deflater() {
    ok = deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kWindowBits, kMemLevel,
                      Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~Deflater() {
    if (ok) deflateEnd(&z);
  }
};

struct Inflater {
  z_stream z{};
  bool ok = false;
  Inflater() { ok = inflateInit2(&z, kWindowBits) == Z_OK; }
  ~Inflater() {
    if (ok) inflateEnd(&z);
  }
};

const Bytef* Bytes(const std::string& s) { return reinterpret_cast<const Bytef*>(s.data()); }

}  // namespace

std::string Deflate(const std::string& text) {
  // One stream per thread, reset between uses (deflateInit allocates its window and tables).
  thread_local Deflater d;
  if (!d.ok || text.size() > std::numeric_limits<uInt>::max() / 2) return {};
  deflateReset(&d.z);
  const std::string& dict = Dictionary();
  if (!dict.empty() &&
      deflateSetDictionary(&d.z, Bytes(dict), static_cast<uInt>(dict.size())) != Z_OK) {
    return {};
  }
  std::string out(deflateBound(&d.z, static_cast<uLong>(text.size())), '\0');
  d.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  d.z.avail_in = static_cast<uInt>(text.size());
  d.z.next_out = reinterpret_cast<Bytef*>(out.data());
  d.z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&d.z, Z_FINISH) != Z_STREAM_END) return {};
  out.resize(out.size() - d.z.avail_out);
  out.shrink_to_fit();
  return out;
}

base::Result<std::string> Inflate(const std::string& deflated, size_t size) {
  thread_local Inflater i;
  if (!i.ok) return base::Status::Internal("inflate: zlib could not be initialized");
  if (deflated.size() > std::numeric_limits<uInt>::max() ||
      size > std::numeric_limits<uInt>::max()) {
    return base::Status::Internal("inflate: input too large");
  }
  inflateReset(&i.z);
  std::string out(size, '\0');
  i.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(deflated.data()));
  i.z.avail_in = static_cast<uInt>(deflated.size());
  i.z.next_out = reinterpret_cast<Bytef*>(out.data());
  i.z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&i.z, Z_FINISH);
  if (rc == Z_NEED_DICT) {
    const std::string& dict = Dictionary();
    if (inflateSetDictionary(&i.z, Bytes(dict), static_cast<uInt>(dict.size())) == Z_OK) {
      rc = inflate(&i.z, Z_FINISH);
    }
  }
  if (rc != Z_STREAM_END || i.z.avail_out != 0 || i.z.avail_in != 0) {
    return base::Status::Internal("inflate: not a complete stream of " + std::to_string(size) +
                                  " bytes (zlib " + std::to_string(rc) + ")");
  }
  return out;
}

CompactRendered CompactRendered::From(const Rendered& r) {
  CompactRendered c;
  c.summary = nomad::SlimOf(r.job);
  c.policy = r.policy;
  c.spec_hash = r.spec_hash;
  const std::string encoded = nomad::EncodeJob(r.job);
  c.deflated_ = Deflate(encoded);
  c.encoded_size_ = static_cast<uint32_t>(encoded.size());
  if (c.deflated_.empty()) {  // zlib failed (out of memory): keep the encoding as it is
    c.deflated_ = encoded;
    c.encoded_size_ = 0;
  }
  return c;
}

base::Result<std::shared_ptr<const std::string>> CompactRendered::EncodedJob() const {
  if (encoded_size_ == 0) return std::make_shared<const std::string>(deflated_);
  auto text = Inflate(deflated_, encoded_size_);
  if (!text.ok()) return text.status();
  return std::make_shared<const std::string>(std::move(text).value());
}

base::Result<nomad::Job> CompactRendered::Job() const {
  if (encoded_size_ == 0) return nomad::DecodeJob(deflated_);
  auto text = Inflate(deflated_, encoded_size_);
  if (!text.ok()) return text.status();
  return nomad::DecodeJob(*text);
}

}  // namespace nsg::render
