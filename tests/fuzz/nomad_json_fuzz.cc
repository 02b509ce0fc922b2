// Fuzz target: every decoder of a Nomad API answer the controller and the lock agent read (the
// first byte picks one), on any bytes. None may crash; a job, an allocation, a variable or an
// event frame that decodes must survive its own encoding (decode(encode(x)) re-encodes the same),
// or the controller could write what it cannot read back; where the full decoder and the
// controller's summary decoder both accept a frame, they agree on the allocation fields and each
// job's JobSummary.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "controller/nomad/api_codec.h"
#include "controller/nomad/codec.h"

namespace {

template <typename T, typename Enc, typename Dec>
void RoundTrip(const T& value, Enc encode, Dec decode) {
  const std::string once = encode(value);
  auto again = decode(once);
  if (!again.ok() || encode(*again) != once) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace n = nsg::nomad;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  const n::EncodeOptions server{.pretty = false, .omit_empty = false, .server_fields = true};
  if (auto j = n::DecodeJob(json); j.ok()) {
    RoundTrip(*j, [&](const n::Job& x) { return n::EncodeJob(x, server); }, n::DecodeJob);
  }
  if (auto a = n::DecodeAllocation(json); a.ok()) {
    RoundTrip(*a, [](const n::Allocation& x) { return n::EncodeAllocation(x); },
              n::DecodeAllocation);
  }
  if (auto v = n::DecodeVariable(json); v.ok()) {
    RoundTrip(*v, [](const n::Variable& x) { return n::EncodeVariable(x); }, n::DecodeVariable);
  }
  auto full_frame = [](std::string_view text) { return n::DecodeFrame(text); };
  auto summary = n::DecodeFrame(json, n::PayloadDetail::kSummary);
  if (auto f = full_frame(json); f.ok()) {
    RoundTrip(*f, [](const n::Frame& x) { return n::EncodeFrame(x); }, full_frame);
    // Where the controller's summary decode accepts the line too, it reads the same allocations
    // as far as it reads them and each job's JobSummary. (Either may refuse a malformed line the
    // other accepts: simdjson's on-demand parser validates what it walks, and the two walk
    // different parts; the first long run found such a line.)
    if (summary.ok()) {
      if (summary->events.size() != f->events.size()) std::abort();
      for (size_t i = 0; i < f->events.size(); ++i) {
        if (f->events[i].job && (!summary->events[i].job ||
                                 *summary->events[i].job != n::JobSummary(*f->events[i].job))) {
          std::abort();
        }
        const auto& a = f->events[i].allocation;
        const auto& b = summary->events[i].allocation;
        if (a.has_value() != b.has_value()) std::abort();
        if (a && (a->id != b->id || a->client_status != b->client_status ||
                  a->desired_status != b->desired_status || a->modify_index != b->modify_index ||
                  a->node_id != b->node_id || a->job_id != b->job_id)) {
          std::abort();
        }
      }
    }
  }
  (void)n::DecodeRegisterRequest(json);
  (void)n::DecodeAllocationList(json);
  (void)n::DecodeNodeList(json);
  (void)n::DecodeVariableList(json);
  (void)n::DecodeJobStubList(json);
  (void)n::DecodePlanResponse(json);
  (void)n::DecodeAclPolicyList(json);
  (void)n::DecodeAgentSelfVersion(json);
  (void)n::DecodeEvaluationList(json);
  (void)n::DecodeWriteResult(json);
  (void)n::DecodeNamespaceNames(json);
  return 0;
}
