// Internal to controller/sim/hcl: gohcl's struct decoding as jobspec2 configures it
// (jobspec2/hcl_conversions.go @ v2.0.5), driven by the api struct table (api_schema.h) instead of
// Go reflection. Output values have the shape api.Job marshals: every key of each struct, null for
// unset pointers, slices and maps. Borrows the context and the diagnostics list; single use.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "controller/sim/hcl/api_schema.h"
#include "controller/sim/hcl/eval.h"

namespace nsg::sim::hcl {

class Decoder {
 public:
  Decoder(const EvalContext& ctx, Diagnostics& diags) : ctx_(ctx), diags_(diags) {}

  // The zero value of struct `index` as encoding/json writes it.
  static Value Skeleton(int index);

  // Decodes `body` into `out` (a Skeleton of struct `index`). Attributes and block types named
  // in `hidden` were read by the caller. Errors are appended to the diagnostics.
  void DecodeBody(const Body& body, int index, Value& out,
                  const std::set<std::string>& hidden = {});

  // A map[string]string from an attribute's expression (jobspec2 decodeAsAttribute).
  std::optional<Value> StringMap(const Expr& e);

  // `d` as Go's time.ParseDuration reads it, in nanoseconds; the error text is Go's.
  static std::optional<int64_t> GoParseDuration(std::string_view d, std::string* error);

 private:
  std::optional<Value> Eval(const Expr& e) { return Evaluate(e, ctx_, diags_); }
  // gohcl DecodeExpression into a Go value of `kind` (cty conversion rules); nullopt on error.
  std::optional<Value> Convert(const Value& v, ValueKind kind, const Expr& e);
  std::optional<Value> Duration(const Value& v, const Expr& e);
  void Unsuitable(const std::string& detail, const Expr& e, const char* summary = nullptr);
  // A block body of free-form content (hclutil.BlocksAsAttrs + decodeMapInterfaceType): nested
  // blocks become lists of objects, labels nested objects.
  Value FreeForm(const Body& body);
  // A block body's attributes only (hcl JustAttributes), each converted to `kind`.
  std::optional<Value> JustAttributes(const Body& body, ValueKind kind);
  // jobspec2's custom decoders for constraint and affinity blocks.
  void DecodeConstraint(const Body& body, Value& out, bool affinity);
  // jobspec2 decodeTaskGroup: vault and secret blocks of a group.
  void DecodeGroup(const Body& body, int index, Value& out);
  bool CheckLabels(const Block& b, int sub);

  const EvalContext& ctx_;
  Diagnostics& diags_;
};

}  // namespace nsg::sim::hcl
