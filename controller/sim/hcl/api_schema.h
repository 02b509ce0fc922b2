// The shape of api.Job as HashiCorp's Go client marshals it and as jobspec2's gohcl decoder reads
// HCL into it: for api.Job and every struct it reaches, each JSON key in marshal order, its Go
// value kind, whether it is a pointer (so null when unset) or omitempty, and its `hcl` struct tag.
// The table (api_schema.inc) is generated from the api module by tests/contract/hclschema, whose
// test fails when it drifts from the client the contract suite uses. Constant data; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace nsg::sim::hcl {

// How gohcl reads a field (the `hcl:"name,kind"` tag).
enum class HclKind {
  kNone,      // no hcl tag: never read from HCL (server-set fields)
  kAttr,      // a required attribute
  kOptional,  // an optional attribute
  kBlock,     // a block (one for a pointer or map, many for a slice, keyed by label for a map)
  kLabel,     // the enclosing block's label
  kRemain,    // the rest of the body
};

// The Go type of a field, as far as decoding and JSON need it.
enum class ValueKind {
  kString, kBool, kInt, kFloat, kDuration,  // time.Duration: integer nanoseconds in JSON
  kStringList, kStringMap,
  kAnyMap,      // map[string]interface{}: free-form (Task.Config)
  kStruct, kStructList, kStructMap,
  kBytes,       // []byte: null or base64
  kAny,         // anything else: written as evaluated
};

struct FieldSpec {
  const char* json;
  const char* hcl;
  HclKind hcl_kind;
  ValueKind kind;
  bool pointer;     // a Go pointer: null when unset
  bool omit_empty;  // `json:",omitempty"`: left out when unset
  int sub;          // kStruct*, the index in kApiStructs; else -1
};

struct StructSpec {
  const char* name;
  size_t first;  // index in kApiFields
  size_t count;
};

namespace api_schema {
using H = HclKind;
using K = ValueKind;
#include "controller/sim/hcl/api_schema.inc"
}  // namespace api_schema

// The index of struct `name` (e.g. "Job", "Task") in kApiStructs; -1 when unknown.
int StructIndex(std::string_view name);
const StructSpec& StructAt(int index);
const FieldSpec& FieldAt(size_t index);

}  // namespace nsg::sim::hcl
