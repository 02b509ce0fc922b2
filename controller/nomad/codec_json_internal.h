// Private to the nlohmann half of controller/nomad's codec (codec.cc, codec_job.cc,
// codec_alloc.cc): the JSON value type, the output helpers, the decoding helpers (missing keys and
// null leave a field at its default; errors carry their JSON path, codec_internal.h), the
// text-level decode and list-encode templates, and the encoders one file's objects need from
// another's (an event frame carries any of them). nlohmann types appear here, so only .cc files of
// controller/nomad include it (.ci/check-layering.py checks that); nlohmann exceptions are caught
// in these files and never leave them. Pure functions.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "controller/nomad/codec.h"
#include "controller/nomad/codec_internal.h"

namespace nsg::nomad::internal {

// ordered_json keeps keys in insertion order (deterministic output, and user JSON kept in `extra`
// or Task::config keeps its own key order).
using Json = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------
// Output helpers (codec.cc)

std::string Dump(const Json& j, bool pretty = false);
std::string Finish(const Json& j, const EncodeOptions& opts);
// Parses raw JSON text kept in `extra`/config. Invalid text (never produced by a decoder) becomes
// null rather than an exception.
Json ParseRaw(std::string_view raw);
void AddExtra(Json& j, const RawFields& extra);
Json StringMapJson(const StringMap& m);
Json StringListJson(const std::vector<std::string>& v);
inline int64_t Ns(Duration d) { return static_cast<int64_t>(d.count()); }

// How a job (and the types inside it) is laid out.
struct JobMode {
  // false: a register body (read-only fields left out, unset values omitted);
  // true: as the server answers it (every modelled key; unset values as null).
  bool server = false;
};

// Empty maps and lists are Go nil: null from the server, left out of a register body.
void PutMap(Json& j, const char* key, const StringMap& m, JobMode mode);
void PutList(Json& j, const char* key, const std::vector<std::string>& v, JobMode mode);

template <typename T, typename F>
void PutOptional(Json& j, const char* key, const std::optional<T>& v, JobMode mode, F&& encode) {
  if (v.has_value()) {
    j[key] = encode(*v);
  } else if (mode.server) {
    j[key] = nullptr;
  }
}

// The encoders an event frame (codec.cc) needs from the other files.
Json JobJson(const Job& job, JobMode mode);                                  // codec_job.cc
Json AllocationJson(const Allocation& a, bool omit_empty, bool include_job);  // codec_alloc.cc
Json EvaluationJson(const Evaluation& ev, bool omit_empty);                  // codec_alloc.cc
Json NodeJson(const Node& n);                                                // codec.cc
Json VariableJson(const Variable& v, bool with_items);                       // codec.cc

// ---------------------------------------------------------------------------------------------
// Decoding helpers (codec.cc). Missing keys and null leave the field at its default.

bool Parse(std::string_view text, Json& out, DecodeError& e);
bool GetString(const Json& v, std::string& out, DecodeError& e);
bool GetBool(const Json& v, bool& out, DecodeError& e);
bool GetDuration(const Json& v, Duration& out, DecodeError& e);
bool GetTime(const Json& v, int64_t& out, DecodeError& e);
bool GetStringMap(const Json& v, StringMap& out, DecodeError& e);
bool GetStringList(const Json& v, std::vector<std::string>& out, DecodeError& e);

template <typename Int>
bool GetInt(const Json& v, Int& out, DecodeError& e) {
  static_assert(std::is_integral_v<Int>);
  if (v.is_null()) return true;
  if (!v.is_number()) return e.Fail("expected a number");
  if (v.is_number_float()) return e.Fail("expected an integer");
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<Int>::max())) return e.Fail("out of range");
    out = static_cast<Int>(u);
    return true;
  }
  const int64_t i = v.get<int64_t>();
  if constexpr (std::is_unsigned_v<Int>) {
    if (i < 0) return e.Fail("expected a non-negative integer");
    if (static_cast<uint64_t>(i) > std::numeric_limits<Int>::max()) return e.Fail("out of range");
  } else {
    if (i < std::numeric_limits<Int>::min() || i > std::numeric_limits<Int>::max()) {
      return e.Fail("out of range");
    }
  }
  out = static_cast<Int>(i);
  return true;
}

// Null leaves the optional empty; otherwise decodes a T with `fn`.
template <typename T, typename F>
bool GetOptional(const Json& v, std::optional<T>& out, DecodeError& e, F&& fn) {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  T value{};
  if (!fn(v, value, e)) return false;
  out = std::move(value);
  return true;
}

// Calls fn(key, value) -> bool for each member of an object; a false return gets the key added to
// the error path. Null is an empty object.
template <typename F>
bool ForEachMember(const Json& v, DecodeError& e, F&& fn) {
  if (v.is_null()) return true;
  if (!v.is_object()) return e.Fail("expected an object");
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!fn(it.key(), it.value())) return e.Key(it.key());
  }
  return true;
}

template <typename T, typename F>
bool GetList(const Json& v, std::vector<T>& out, DecodeError& e, F&& fn) {
  if (v.is_null()) return true;
  if (!v.is_array()) return e.Fail("expected an array");
  out.clear();
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    T item{};
    if (!fn(v[i], item, e)) return e.Index(i);
    out.push_back(std::move(item));
  }
  return true;
}

// Parses `text` and runs `fn` on it; errors carry the path from `root`.
template <typename T, typename F>
base::Result<T> DecodeText(std::string_view text, std::string_view root, F&& fn) {
  DecodeError e;
  Json j;
  T out{};
  if (!Parse(text, j, e) || !fn(j, out, e)) return e.ToStatus(root);
  return out;
}

template <typename T, typename F>
base::Result<std::vector<T>> DecodeListText(std::string_view text, std::string_view root, F&& fn) {
  DecodeError e;
  Json j;
  std::vector<T> out;
  if (!Parse(text, j, e)) return e.ToStatus(root);
  if (!j.is_array()) {
    e.Fail("expected an array");
    return e.ToStatus(root);
  }
  if (!GetList(j, out, e, fn)) return e.ToStatus(root);
  return out;
}

template <typename T, typename F>
std::string EncodeList(const std::vector<T>& items, const EncodeOptions& opts, F&& fn) {
  Json j = Json::array();
  for (const T& item : items) j.push_back(fn(item));
  return Finish(j, opts);
}

}  // namespace nsg::nomad::internal
