// Fuzz target: the files the lock agent and the guard share in the allocation directory (lease,
// workload state, handoff), on any bytes. A half-written or hostile file must be refused, never
// crash the guard; one that decodes must re-encode to a file that decodes to the same.
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "controller/lock_io/lease_file.h"

namespace {

template <typename Dec, typename Enc>
void Check(const std::string& text, Dec decode, Enc encode) {
  auto v = decode(text);
  if (!v.ok()) return;
  const std::string once = encode(*v);
  auto again = decode(once);
  if (!again.ok() || encode(*again) != once) std::abort();
}

// The files end in "sum <FNV-1a 64 of what precedes, 16 hex digits>" (lease_file.cc): a mutated
// input almost never keeps a valid sum, so each input is also tried with its own sum appended,
// to reach the field parsing behind the check.
std::string WithSum(const std::string& body) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, h);
  return body + "sum " + hex + "\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string raw(reinterpret_cast<const char*>(data), size);
  for (const std::string& text : {raw, WithSum(raw)}) {
    Check(text, nsg::io::DecodeLease, nsg::io::EncodeLease);
    Check(text, nsg::io::DecodeWorkloadState, nsg::io::EncodeWorkloadState);
    Check(text, nsg::io::DecodeHandoff, nsg::io::EncodeHandoff);
  }
  return 0;
}
