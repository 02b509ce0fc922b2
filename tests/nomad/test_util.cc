#include "tests/nomad/test_util.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace nsg::nomad::testing {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

std::string Diff(const Json& a, const Json& b, const std::string& path, bool subset) {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      const std::string p = path + "/" + it.key();
      if (!b.contains(it.key())) {
        if (subset && it.value().is_null()) continue;
        return p + ": missing on the right";
      }
      if (std::string d = Diff(it.value(), b.at(it.key()), p, subset); !d.empty()) return d;
    }
    if (!subset) {
      for (auto it = b.begin(); it != b.end(); ++it) {
        if (!a.contains(it.key())) return path + "/" + it.key() + ": missing on the left";
      }
    }
    return "";
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return path + ": array sizes differ";
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::string d = Diff(a[i], b[i], path + "/" + std::to_string(i), subset); !d.empty()) {
        return d;
      }
    }
    return "";
  }
  if (a != b) return path + ": " + a.dump() + " != " + b.dump();
  return "";
}

}  // namespace

std::string ReadFixture(std::string_view name) {
  const std::string path = std::string(NSG_SOURCE_DIR) + "/tests/fixtures/nomad/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string JsonDiff(std::string_view a, std::string_view b) {
  return Diff(Json::parse(a), Json::parse(b), "", /*subset=*/false);
}

std::string JsonSubsetDiff(std::string_view original, std::string_view encoded) {
  return Diff(Json::parse(original), Json::parse(encoded), "", /*subset=*/true);
}

std::vector<std::string> JsonKeys(std::string_view object_json) {
  std::vector<std::string> keys;
  const OrderedJson j = OrderedJson::parse(object_json);
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return keys;
}

std::string JsonAt(std::string_view json, std::string_view path) {
  OrderedJson j = OrderedJson::parse(json);
  const OrderedJson* cur = &j;
  size_t start = 0;
  while (start <= path.size() && !path.empty()) {
    const size_t slash = path.find('/', start);
    const std::string part(path.substr(start, slash == std::string_view::npos ? path.npos
                                                                               : slash - start));
    if (cur->is_array()) {
      const size_t i = std::stoul(part);
      if (i >= cur->size()) return "";
      cur = &(*cur)[i];
    } else if (cur->is_object() && cur->contains(part)) {
      cur = &(*cur)[part];
    } else {
      return "";
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return cur->dump();
}

}  // namespace nsg::nomad::testing
