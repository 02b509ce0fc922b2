// Private to controller/nomad: what the nlohmann half of the codec (codec.cc, codec_job.cc,
// codec_alloc.cc) and stream_decode.cc (simdjson) share.
//
// Decoders report an error as the innermost message plus the JSON path, built while the error
// unwinds (each level adds its own key or index), so the success path pays nothing for paths.
// No JSON library type appears here. Plain values; not synchronized.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/base/status.h"
#include "controller/nomad/allocation.h"
#include "controller/nomad/job.h"
#include "controller/nomad/variable.h"

namespace nsg::nomad::internal {

// Where and why a decode failed. Every method returns false so that `return e.Key("ID");`
// propagates the failure.
class DecodeError {
 public:
  bool Fail(std::string what) {
    what_ = std::move(what);
    return false;
  }
  // Adds the key (or index) of the level the error passed through, innermost first.
  bool Key(std::string_view key) {
    segments_.push_back("." + std::string(key));
    return false;
  }
  bool Index(size_t i) {
    segments_.push_back("[" + std::to_string(i) + "]");
    return false;
  }
  // "root.Outer.Inner[2].Key: what" as a kInvalidSpec Status.
  base::Status ToStatus(std::string_view root) const {
    std::string msg(root);
    for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) msg += *it;
    msg += ": ";
    msg += what_;
    return base::Status::InvalidSpec(std::move(msg));
  }

 private:
  std::string what_;
  std::vector<std::string> segments_;  // innermost first
};

// nlohmann decoders of one JSON text; paths in `e` are relative to the text's root value.
bool DecodeJobText(std::string_view text, Job& out, DecodeError& e);
bool DecodeNodeText(std::string_view text, Node& out, DecodeError& e);
bool DecodeEvaluationText(std::string_view text, Evaluation& out, DecodeError& e);
bool DecodeVariableText(std::string_view text, Variable& out, DecodeError& e);

}  // namespace nsg::nomad::internal
