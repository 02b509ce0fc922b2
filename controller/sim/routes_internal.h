// Private to controller/sim's routes for jobs (routes_jobs.cc) and for allocations and nodes
// (routes_allocs.cc): the small helpers both use to read query parameters, match sub-routes and
// write a JSON body. nlohmann appears here, so only .cc files of controller/sim include it
// (.ci/check-layering.py checks that). Pure functions; safe for concurrent use.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "controller/base/status.h"
#include "controller/nomad/codec.h"
#include "controller/sim/router.h"

namespace nsg::sim {

using NJson = nlohmann::ordered_json;

inline bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

inline std::string Dump(const NJson& j, const nomad::EncodeOptions& enc) {
  return enc.pretty ? j.dump(4) : j.dump();
}

// strconv.ParseBool.
inline std::optional<bool> ParseBool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return false;
  }
  return std::nullopt;
}

// A boolean query parameter as Nomad's parseBool helper reads it (command/agent/http.go @ v2.0.5):
// absent or empty → nullopt; otherwise strconv.ParseBool, whose error names the field and value.
inline base::Result<std::optional<bool>> OptionalBoolParam(const Request& req,
                                                           const std::string& key) {
  std::string v = req.Get(key);
  if (v.empty()) return std::optional<bool>();
  auto b = ParseBool(v);
  if (!b) {
    return base::Status::InvalidSpec("Failed to parse value of \"" + key + "\" (" + v +
                                     ") as a bool: strconv.ParseBool: parsing \"" + v +
                                     "\": invalid syntax");
  }
  return std::optional<bool>(*b);
}

// The same with `absent` for an absent or empty parameter.
inline base::Result<bool> BoolParam(const Request& req, const std::string& key,
                                    bool absent = false) {
  auto b = OptionalBoolParam(req, key);
  if (!b.ok()) return b.status();
  return b->value_or(absent);
}

}  // namespace nsg::sim
