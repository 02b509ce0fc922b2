// Helpers for the controller/nomad tests: fixtures and JSON comparisons (nlohmann inside, so that
// no JSON library type leaks into the test sources that do not need it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nsg::nomad::testing {

// Contents of tests/fixtures/nomad/<name>; fails the current test if it cannot be read.
std::string ReadFixture(std::string_view name);

// Empty when a and b are the same JSON value (object key order ignored), else a description of
// the first difference.
std::string JsonDiff(std::string_view a, std::string_view b);

// Empty when every member of `original` appears in `encoded` with the same value, recursively,
// where an original null may also be missing from `encoded`. Extra members of `encoded` are fine.
std::string JsonSubsetDiff(std::string_view original, std::string_view encoded);

// Top-level keys of a JSON object, in document order.
std::vector<std::string> JsonKeys(std::string_view object_json);

// The value at a '/'-separated path of object keys and array indices, as compact JSON ("" when
// absent), e.g. JsonAt(j, "Events/0/Payload").
std::string JsonAt(std::string_view json, std::string_view path);

}  // namespace nsg::nomad::testing
