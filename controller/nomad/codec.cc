// nlohmann-based half of the codec: every encoder, and the decoders of everything except
// Allocation and event frames (stream_decode.cc, simdjson). nlohmann exceptions are caught here
// and never leave these files. This file holds the helpers the others share
// (codec_json_internal.h), nodes, variables and their locks, ACL policies, write results and
// event frames; jobs are in codec_job.cc, allocations and evaluations in codec_alloc.cc.

#include "controller/nomad/codec.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "controller/nomad/codec_json_internal.h"

namespace nsg::nomad {
namespace internal {

// ---------------------------------------------------------------------------------------------
// Output helpers

std::string Dump(const Json& j, bool pretty) {
  // `replace` so that invalid UTF-8 in a string never throws.
  return j.dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace);
}

std::string Finish(const Json& j, const EncodeOptions& opts) { return Dump(j, opts.pretty); }

Json ParseRaw(std::string_view raw) {
  Json j = Json::parse(raw.begin(), raw.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Json(nullptr);
  return j;
}

void AddExtra(Json& j, const RawFields& extra) {
  for (const auto& [key, raw] : extra) {  // std::map: sorted
    if (j.contains(key)) continue;         // a modelled field wins over a stray duplicate
    j[key] = ParseRaw(raw);
  }
}

Json StringMapJson(const StringMap& m) {
  Json j = Json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

Json StringListJson(const std::vector<std::string>& v) {
  Json j = Json::array();
  for (const auto& s : v) j.push_back(s);
  return j;
}

// Empty maps and lists are Go nil: null from the server, left out of a register body.
void PutMap(Json& j, const char* key, const StringMap& m, JobMode mode) {
  if (!m.empty()) {
    j[key] = StringMapJson(m);
  } else if (mode.server) {
    j[key] = nullptr;
  }
}

void PutList(Json& j, const char* key, const std::vector<std::string>& v, JobMode mode) {
  if (!v.empty()) {
    j[key] = StringListJson(v);
  } else if (mode.server) {
    j[key] = nullptr;
  }
}

// ---------------------------------------------------------------------------------------------
// Node and variable encoding

namespace {

constexpr int kDefaultHttpPort = 4646;

// "10.0.0.1" -> "10.0.0.1:4646", "::1" -> "[::1]:4646"; an address with a port is kept.
std::string HttpAddr(const std::string& address) {
  if (address.empty()) return "";
  const size_t colons = std::count(address.begin(), address.end(), ':');
  if (colons == 0) return address + ":" + std::to_string(kDefaultHttpPort);
  if (address.front() == '[') return address;  // "[::1]:4646"
  if (colons == 1) return address;              // "host:port"
  return "[" + address + "]:" + std::to_string(kDefaultHttpPort);
}

// The host part of an HTTPAddr (Go's net.SplitHostPort, lenient).
std::string HostOf(const std::string& http_addr) {
  if (!http_addr.empty() && http_addr.front() == '[') {
    const size_t close = http_addr.find(']');
    if (close != std::string::npos) return http_addr.substr(1, close - 1);
    return http_addr;
  }
  const size_t colon = http_addr.find(':');
  if (colon != std::string::npos && http_addr.find(':', colon + 1) == std::string::npos) {
    return http_addr.substr(0, colon);
  }
  return http_addr;
}

}  // namespace

// The full Node (GET /v1/node/:id and event payloads, sanitized: no SecretID). Go field order,
// plus the legacy "Drain" bool that event payloads carry.
Json NodeJson(const Node& n) {
  Json j = Json::object();
  j["ID"] = n.id;
  j["Datacenter"] = n.datacenter;
  j["Name"] = n.name;
  j["HTTPAddr"] = HttpAddr(n.address);
  j["NodePool"] = n.node_pool;
  j["Drain"] = n.drain;
  if (n.drain) {
    Json strategy = Json::object();
    strategy["Deadline"] = 0;
    strategy["IgnoreSystemJobs"] = false;
    strategy["ForceDeadline"] = FormatRfc3339(0);
    strategy["StartedAt"] = FormatRfc3339(0);
    j["DrainStrategy"] = std::move(strategy);
  } else {
    j["DrainStrategy"] = nullptr;
  }
  j["SchedulingEligibility"] = n.scheduling_eligibility;
  j["Status"] = n.status;
  j["StatusDescription"] = n.status_description;
  j["StatusUpdatedAt"] = n.status_updated_at;
  j["CreateIndex"] = n.create_index;
  j["ModifyIndex"] = n.modify_index;
  return j;
}

namespace {

// NodeListStub (nomad-api.md §7.1): every key always; Attributes, NodeResources and
// ReservedResources are omitempty and not modelled.
Json NodeStubJson(const Node& n) {
  Json j = Json::object();
  j["Address"] = n.address;
  j["ID"] = n.id;
  j["Datacenter"] = n.datacenter;
  j["Name"] = n.name;
  j["NodePool"] = n.node_pool;
  j["NodeClass"] = "";
  j["Version"] = "";
  j["Drain"] = n.drain;
  j["SchedulingEligibility"] = n.scheduling_eligibility;
  j["Status"] = n.status;
  j["StatusDescription"] = n.status_description;
  j["Drivers"] = nullptr;
  j["HostVolumes"] = nullptr;
  j["LastDrain"] = nullptr;
  j["CreateIndex"] = n.create_index;
  j["ModifyIndex"] = n.modify_index;
  return j;
}

// Go's VariableLock.MarshalJSON: duration strings, "" for zero.
std::string LockDuration(Duration d) { return d.count() == 0 ? "" : base::FormatDuration(d); }

}  // namespace

Json VariableJson(const Variable& v, bool with_items) {
  Json j = Json::object();
  j["Namespace"] = v.namespace_;
  j["Path"] = v.path;
  if (v.lock) {
    Json lock = Json::object();
    lock["TTL"] = LockDuration(v.lock->ttl);
    lock["LockDelay"] = LockDuration(v.lock->lock_delay);
    lock["ID"] = v.lock->id;
    j["Lock"] = std::move(lock);
  }
  j["CreateIndex"] = v.create_index;
  j["CreateTime"] = v.create_time;
  j["ModifyIndex"] = v.modify_index;
  j["ModifyTime"] = v.modify_time;
  if (with_items && !v.items.empty()) j["Items"] = StringMapJson(v.items);
  return j;
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers. Missing keys and null leave the field at its default.

bool Parse(std::string_view text, Json& out, DecodeError& e) {
  try {
    out = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& ex) {
    std::string what = ex.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    if (const size_t close = what.find("] "); !what.empty() && what[0] == '[' &&
                                               close != std::string::npos) {
      what.erase(0, close + 2);
    }
    return e.Fail("invalid JSON: " + what);
  }
  return true;
}

bool GetString(const Json& v, std::string& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (!v.is_string()) return e.Fail("expected a string");
  out = v.get_ref<const std::string&>();
  return true;
}

bool GetBool(const Json& v, bool& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (!v.is_boolean()) return e.Fail("expected a boolean");
  out = v.get<bool>();
  return true;
}

bool GetDuration(const Json& v, Duration& out, DecodeError& e) {
  int64_t ns = out.count();
  if (!GetInt(v, ns, e)) return false;
  out = Duration(ns);
  return true;
}

bool GetTime(const Json& v, int64_t& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (!v.is_string()) return e.Fail("expected an RFC 3339 time string");
  auto t = ParseRfc3339(v.get_ref<const std::string&>());
  if (!t.ok()) return e.Fail(t.status().message());
  out = *t;
  return true;
}

bool GetStringMap(const Json& v, StringMap& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (!v.is_object()) return e.Fail("expected an object");
  out.clear();
  for (auto it = v.begin(); it != v.end(); ++it) {
    std::string s;
    if (!GetString(it.value(), s, e)) return e.Key(it.key());
    out[it.key()] = std::move(s);
  }
  return true;
}

bool GetStringList(const Json& v, std::vector<std::string>& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (!v.is_array()) return e.Fail("expected an array");
  out.clear();
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    std::string s;
    if (!GetString(v[i], s, e)) return e.Index(i);
    out.push_back(std::move(s));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Other decoders

namespace {

bool DecodeJobAclJ(const Json& v, JobAcl& a, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Namespace") return GetString(x, a.namespace_, e);
    if (k == "JobID") return GetString(x, a.job_id, e);
    if (k == "Group") return GetString(x, a.group, e);
    if (k == "Task") return GetString(x, a.task, e);
    return true;
  });
}

bool DecodeAclPolicyJ(const Json& v, AclPolicy& p, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Name") return GetString(x, p.name, e);
    if (k == "Description") return GetString(x, p.description, e);
    if (k == "Rules") return GetString(x, p.rules, e);
    if (k == "JobACL") return GetOptional(x, p.job_acl, e, DecodeJobAclJ);
    if (k == "CreateIndex") return GetInt(x, p.create_index, e);
    if (k == "ModifyIndex") return GetInt(x, p.modify_index, e);
    return true;
  });
}

bool DecodeNodeJ(const Json& v, Node& n, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  bool saw_address = false, saw_drain = false, has_drain_strategy = false;
  std::string http_addr;
  const bool ok = ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "ID") return GetString(x, n.id, e);
    if (k == "Name") return GetString(x, n.name, e);
    if (k == "Datacenter") return GetString(x, n.datacenter, e);
    if (k == "NodePool") return GetString(x, n.node_pool, e);
    if (k == "Address") {
      saw_address = true;
      return GetString(x, n.address, e);
    }
    if (k == "HTTPAddr") return GetString(x, http_addr, e);
    if (k == "Status") return GetString(x, n.status, e);
    if (k == "StatusDescription") return GetString(x, n.status_description, e);
    if (k == "SchedulingEligibility") return GetString(x, n.scheduling_eligibility, e);
    if (k == "Drain") {
      saw_drain = true;
      return GetBool(x, n.drain, e);
    }
    if (k == "DrainStrategy") {
      if (!x.is_null() && !x.is_object()) return e.Fail("expected an object");
      has_drain_strategy = !x.is_null();
      return true;
    }
    if (k == "StatusUpdatedAt") return GetInt(x, n.status_updated_at, e);
    if (k == "CreateIndex") return GetInt(x, n.create_index, e);
    if (k == "ModifyIndex") return GetInt(x, n.modify_index, e);
    return true;
  });
  if (!ok) return false;
  if (!saw_address) n.address = HostOf(http_addr);
  if (!saw_drain) n.drain = has_drain_strategy;
  return true;
}

bool DecodeLockDuration(const Json& v, Duration& out, DecodeError& e) {
  if (v.is_null()) return true;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.empty()) {
      out = Duration(0);
      return true;
    }
    auto d = base::ParseDuration(s);
    if (!d.ok()) return e.Fail(d.status().message());
    out = *d;
    return true;
  }
  if (v.is_number()) return GetDuration(v, out, e);
  return e.Fail("expected a duration string or a number of nanoseconds");
}

bool DecodeLockJ(const Json& v, VariableLock& l, DecodeError& e) {
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "TTL") return DecodeLockDuration(x, l.ttl, e);
    if (k == "LockDelay") return DecodeLockDuration(x, l.lock_delay, e);
    if (k == "ID") return GetString(x, l.id, e);
    return true;
  });
}

bool DecodeVariableJ(const Json& v, Variable& var, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "Namespace") return GetString(x, var.namespace_, e);
    if (k == "Path") return GetString(x, var.path, e);
    if (k == "Lock") return GetOptional(x, var.lock, e, DecodeLockJ);
    if (k == "Items") return GetStringMap(x, var.items, e);
    if (k == "CreateIndex") return GetInt(x, var.create_index, e);
    if (k == "CreateTime") return GetInt(x, var.create_time, e);
    if (k == "ModifyIndex") return GetInt(x, var.modify_index, e);
    if (k == "ModifyTime") return GetInt(x, var.modify_time, e);
    return true;
  });
}

bool DecodeWriteResultJ(const Json& v, WriteResult& w, DecodeError& e) {
  if (!v.is_object()) return e.Fail("expected an object");
  return ForEachMember(v, e, [&](const std::string& k, const Json& x) {
    if (k == "EvalID") return GetString(x, w.eval_id, e);
    if (k == "EvalCreateIndex") return GetInt(x, w.eval_create_index, e);
    if (k == "JobModifyIndex") return GetInt(x, w.job_modify_index, e);
    if (k == "Warnings") return GetString(x, w.warnings, e);
    if (k == "Index") return GetInt(x, w.index, e);
    return true;
  });
}

}  // namespace

// -----------------------------------------------------------------------------------------------
// Internal entry points (codec_internal.h)

bool DecodeNodeText(std::string_view text, Node& out, DecodeError& e) {
  Json j;
  return Parse(text, j, e) && DecodeNodeJ(j, out, e);
}
bool DecodeVariableText(std::string_view text, Variable& out, DecodeError& e) {
  Json j;
  return Parse(text, j, e) && DecodeVariableJ(j, out, e);
}

}  // namespace internal

using internal::AllocationJson;
using internal::DecodeAclPolicyJ;
using internal::DecodeListText;
using internal::DecodeNodeJ;
using internal::DecodeText;
using internal::DecodeVariableJ;
using internal::DecodeWriteResultJ;
using internal::Dump;
using internal::EncodeList;
using internal::EvaluationJson;
using internal::Finish;
using internal::JobJson;
using internal::JobMode;
using internal::Json;
using internal::NodeJson;
using internal::NodeStubJson;
using internal::StringListJson;
using internal::VariableJson;

// -----------------------------------------------------------------------------------------------
// Public API

std::string EncodeAclPolicy(const AclPolicy& policy, EncodeOptions opts) {
  Json j = Json::object();
  j["Name"] = policy.name;
  j["Description"] = policy.description;
  j["Rules"] = policy.rules;
  if (policy.job_acl) {
    Json acl = Json::object();
    acl["Namespace"] = policy.job_acl->namespace_;
    acl["JobID"] = policy.job_acl->job_id;
    acl["Group"] = policy.job_acl->group;
    acl["Task"] = policy.job_acl->task;
    j["JobACL"] = std::move(acl);
  } else if (opts.server_fields) {
    j["JobACL"] = nullptr;
  }
  if (opts.server_fields) {
    j["CreateIndex"] = policy.create_index;
    j["ModifyIndex"] = policy.modify_index;
  }
  return Finish(j, opts);
}

base::Result<AclPolicy> DecodeAclPolicy(std::string_view json) {
  return DecodeText<AclPolicy>(json, "AclPolicy", DecodeAclPolicyJ);
}

base::Result<std::vector<AclPolicy>> DecodeAclPolicyList(std::string_view json) {
  return DecodeListText<AclPolicy>(json, "AclPolicies", DecodeAclPolicyJ);
}

std::string EncodeNode(const Node& node, EncodeOptions opts) { return Finish(NodeJson(node), opts); }

std::string EncodeNodeStub(const Node& node, EncodeOptions opts) {
  return Finish(NodeStubJson(node), opts);
}

std::string EncodeNodeList(const std::vector<Node>& nodes, EncodeOptions opts) {
  return EncodeList(nodes, opts, NodeStubJson);
}

base::Result<Node> DecodeNode(std::string_view json) {
  return DecodeText<Node>(json, "Node", DecodeNodeJ);
}

base::Result<std::vector<Node>> DecodeNodeList(std::string_view json) {
  return DecodeListText<Node>(json, "Nodes", DecodeNodeJ);
}

std::string EncodeVariable(const Variable& var, EncodeOptions opts) {
  return Finish(VariableJson(var, /*with_items=*/true), opts);
}

std::string EncodeVariableList(const std::vector<Variable>& vars, EncodeOptions opts) {
  return EncodeList(vars, opts, [](const Variable& v) { return VariableJson(v, false); });
}

std::string EncodeZeroVariable(std::string_view namespace_, std::string_view path,
                               bool with_empty_lock, EncodeOptions opts) {
  Variable v;
  v.namespace_ = std::string(namespace_);
  v.path = std::string(path);
  if (with_empty_lock) v.lock = VariableLock{};
  return EncodeVariable(v, opts);
}

base::Result<Variable> DecodeVariable(std::string_view json) {
  return DecodeText<Variable>(json, "Variable", DecodeVariableJ);
}

base::Result<std::vector<Variable>> DecodeVariableList(std::string_view json) {
  return DecodeListText<Variable>(json, "Variables", DecodeVariableJ);
}

std::string EncodeWriteResult(const WriteResult& result, EncodeOptions opts) {
  Json j = Json::object();
  j["EvalID"] = result.eval_id;
  j["EvalCreateIndex"] = result.eval_create_index;
  j["JobModifyIndex"] = result.job_modify_index;
  j["Warnings"] = result.warnings;
  j["Index"] = result.index;
  j["LastContact"] = 0;
  j["KnownLeader"] = false;
  j["NextToken"] = "";
  return Finish(j, opts);
}

base::Result<WriteResult> DecodeWriteResult(std::string_view json) {
  return DecodeText<WriteResult>(json, "WriteResult", DecodeWriteResultJ);
}

std::string EncodeFrame(const Frame& frame) {
  if (frame.IsHeartbeat()) return "{}\n";
  Json events = Json::array();
  for (const Event& ev : frame.events) {
    Json e = Json::object();
    e["Topic"] = ev.topic;
    e["Type"] = ev.type;
    e["Key"] = ev.key;
    e["Namespace"] = ev.namespace_;
    e["FilterKeys"] = ev.filter_keys.empty() ? Json(nullptr) : StringListJson(ev.filter_keys);
    e["Index"] = ev.index;
    Json payload = Json::object();
    if (ev.allocation) {
      payload["Allocation"] = AllocationJson(*ev.allocation, /*omit_empty=*/true, false);
    } else if (ev.job) {
      payload["Job"] = JobJson(*ev.job, JobMode{.server = true});
      if (ev.deleted) payload["Deleted"] = true;
    } else if (ev.node) {
      payload["Node"] = NodeJson(*ev.node);
    } else if (ev.evaluation) {
      payload["Evaluation"] = EvaluationJson(*ev.evaluation, /*omit_empty=*/true);
    } else if (ev.variable) {
      payload["Metadata"] = VariableJson(*ev.variable, /*with_items=*/false);
      payload["Deleted"] = ev.deleted;
    }
    e["Payload"] = std::move(payload);
    events.push_back(std::move(e));
  }
  Json j = Json::object();
  j["Index"] = frame.index;
  j["Events"] = std::move(events);
  return Dump(j) + "\n";
}

}  // namespace nsg::nomad
