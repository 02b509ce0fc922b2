// Routes for /v1/var/:path, /v1/vars, /v1/acl/policy/:name and /v1/acl/policies: the HTTP layer
// of command/agent/variable_endpoint.go and acl_endpoint.go (nomad-api.md §2, §8.1).
#include <cctype>
#include <charconv>

#include <nlohmann/json.hpp>

#include "controller/sim/router.h"

namespace nsg::sim {
namespace {

using NJson = nlohmann::ordered_json;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Go's encoding/json matches keys case-insensitively; the codec reads exact PascalCase. Renames
// the keys of a request body that Go would match to the codec's spelling (Items' own keys are
// data and stay as they are). Returns false when the text is not JSON.
bool CanonicalizeKeys(NJson& j, const std::vector<std::string>& names,
                      const std::map<std::string, std::vector<std::string>>& nested) {
  if (!j.is_object()) return true;
  NJson out = NJson::object();
  for (auto& [k, v] : j.items()) {
    std::string key = k;
    for (const std::string& n : names) {
      if (Lower(n) == Lower(k)) {
        key = n;
        break;
      }
    }
    if (auto it = nested.find(key); it != nested.end()) CanonicalizeKeys(v, it->second, {});
    out[key] = v;
  }
  j = std::move(out);
  return true;
}

struct VarBody {
  nomad::Variable var;
  bool items_present_non_null = false;
};

// decodeBody into a VariableDecrypted. Errors are Go-like 400 messages.
base::Result<VarBody> DecodeVarBody(const std::string& body) {
  if (body.empty()) return base::Status::InvalidSpec("EOF");
  NJson j;
  try {
    j = NJson::parse(body);
  } catch (const NJson::exception&) {
    return base::Status::InvalidSpec("invalid character in request body");
  }
  if (!j.is_object()) {
    return base::Status::InvalidSpec(
        "json: cannot unmarshal value into Go value of type structs.VariableDecrypted");
  }
  CanonicalizeKeys(j,
                   {"Namespace", "Path", "Lock", "Items", "CreateIndex", "CreateTime",
                    "ModifyIndex", "ModifyTime"},
                   {{"Lock", {"TTL", "LockDelay", "ID"}}});
  VarBody out;
  out.items_present_non_null = j.contains("Items") && !j["Items"].is_null();
  auto v = nomad::DecodeVariable(j.dump());
  if (!v.ok()) return v.status();
  out.var = std::move(v).value();
  return out;
}

// strconv.ParseUint's error text, as Nomad quotes it.
std::optional<uint64_t> ParseUint(const std::string& s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string ParseUintError(const std::string& s) {
  bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  return "strconv.ParseUint: parsing \"" + s + "\": " +
         (digits ? "value out of range" : "invalid syntax");
}

NJson JobAclJson(const std::optional<nomad::JobAcl>& a) {
  if (!a) return nullptr;
  NJson j = NJson::object();
  j["Namespace"] = a->namespace_;
  j["JobID"] = a->job_id;
  j["Group"] = a->group;
  j["Task"] = a->task;
  return j;
}

}  // namespace

// --- /v1/var/:path ---------------------------------------------------------------------------

namespace {

Reply FromVarReply(const VarReply& v, const nomad::EncodeOptions& enc) {
  Reply r;
  r.status = v.status;
  if (v.index) r.headers.emplace_back("X-Nomad-Index", std::to_string(*v.index));
  if (v.query_meta) {
    r.headers.emplace_back("X-Nomad-Knownleader", "true");
    r.headers.emplace_back("X-Nomad-Lastcontact", "0");
  }
  if (!v.next_token.empty()) r.headers.emplace_back("X-Nomad-Nexttoken", v.next_token);
  switch (v.body) {
    case VarReply::Body::kNone:
      break;
    case VarReply::Body::kVariable:
      r.body = nomad::EncodeVariable(v.var, enc);
      // A 409 is written with WriteHeader before the body, so Go sniffs the JSON as text.
      r.content_type = v.status == 409 ? kContentTypeText : kContentTypeJson;
      break;
    case VarReply::Body::kList:
      r.body = nomad::EncodeVariableList(v.list, enc);
      r.content_type = kContentTypeJson;
      break;
    case VarReply::Body::kText:
      r.body = v.text;
      r.content_type = kContentTypeText;
      break;
  }
  return r;
}

}  // namespace

Reply Router::RouteVar(Ctx& ctx) {
  const Request& req = ctx.req;
  std::string path = req.path.substr(std::string_view("/v1/var/").size());
  if (path.empty()) return Text(400, "missing variable path");
  if (req.method == "GET") {
    if (!ctx.who.ok()) return Forbidden();
    VarReply v = vars_.Read(*ctx.who, ctx.ns, path);
    if (v.status == 200 || v.status == 404) ctx.block_index = v.index;
    return FromVarReply(v, ctx.enc);
  }
  if (req.method == "DELETE") {
    std::optional<uint64_t> cas;
    if (std::string c = req.Get("cas"); !c.empty()) {
      cas = ParseUint(c);
      if (!cas) return Text(400, "can not parse cas: " + ParseUintError(c));
    }
    if (!ctx.who.ok()) return Forbidden();
    return FromVarReply(vars_.Delete(*ctx.who, ctx.ns, path, cas), ctx.enc);
  }
  if (req.method != "PUT" && req.method != "POST") {
    return Text(400, "Invalid method");  // CodedError(http.StatusBadRequest, ErrInvalidMethod)
  }

  // The lock operation is chosen by which query key is present; its value is ignored.
  bool acquire = req.Has("lock-acquire");
  bool renew = req.Has("lock-renew");
  bool release = req.Has("lock-release");
  int lock_ops = int{acquire} + int{renew} + int{release};
  if (lock_ops > 1) return Text(400, "multiple lock operations");
  if (lock_ops == 1 && req.Has("cas")) return Text(400, "CAS can't be used with lock operations");

  auto body = DecodeVarBody(req.body);
  if (!body.ok()) return Text(400, body.status().message());
  nomad::Variable var = std::move(body->var);
  var.path = path;  // the URL path wins over the body's

  if (acquire) {
    if (!ctx.who.ok()) return Forbidden();
    return FromVarReply(vars_.AcquireLock(*ctx.who, ctx.ns, std::move(var)), ctx.enc);
  }
  if (renew) {
    if (!ctx.who.ok()) return Forbidden();
    // Only Lock.ID is read; the namespace comes from ?namespace alone.
    std::string id = var.lock ? var.lock->id : "";
    return FromVarReply(vars_.RenewLock(*ctx.who, ctx.ns, path, id), ctx.enc);
  }
  if (release) {
    if (body->items_present_non_null) {
      return Text(400, "lock release operation doesn't take variable items");
    }
    if (!var.lock || var.lock->id.empty()) return Text(400, "missing lock information");
    if (!ctx.who.ok()) return Forbidden();
    return FromVarReply(vars_.ReleaseLock(*ctx.who, ctx.ns, std::move(var)), ctx.enc);
  }

  // Plain set / CAS.
  if (var.items.empty()) return Text(400, "variable missing required Items object");
  if (var.lock && (var.lock->ttl != base::Duration(0) || var.lock->lock_delay != base::Duration(0))) {
    return Text(400, "variable should not contain lock definition");
  }
  std::optional<uint64_t> cas;
  if (std::string c = req.Get("cas"); !c.empty()) {
    cas = ParseUint(c);
    if (!cas) return Text(400, "can not parse cas: " + ParseUintError(c));
  }
  if (!ctx.who.ok()) return Forbidden();
  return FromVarReply(vars_.Set(*ctx.who, ctx.ns, std::move(var), cas), ctx.enc);
}

Reply Router::RouteVars(Ctx& ctx) {
  const Request& req = ctx.req;
  if (req.method != "GET") return MethodNotAllowed();
  if (!ctx.who.ok()) return Forbidden();
  size_t per_page = 0;
  if (std::string pp = req.Get("per_page"); !pp.empty()) {
    auto v = ParseUint(pp);
    if (v) per_page = static_cast<size_t>(*v);
  }
  VarReply v = vars_.List(*ctx.who, ctx.ns, req.Get("prefix"), per_page, req.Get("next_token"));
  ctx.block_index = v.index;
  return FromVarReply(v, ctx.enc);
}

// --- /v1/acl/policy/:name, /v1/acl/policies --------------------------------------------------

Reply Router::RouteAclPolicy(Ctx& ctx) {
  const Request& req = ctx.req;
  std::string name = req.path.substr(std::string_view("/v1/acl/policy/").size());
  if (req.method != "GET" && req.method != "PUT" && req.method != "POST" &&
      req.method != "DELETE") {
    return MethodNotAllowed();
  }
  if (name.empty()) return Text(400, "Missing policy name");
  if (!acl_.Enabled()) return Text(400, "ACL support disabled");
  if (req.method == "GET") {
    if (!ctx.who.ok()) return Forbidden();
    // A token may read the policies it holds; management reads all.
    const Identity& who = *ctx.who;
    bool allowed = acl_.IsManagement(who) ||
                   std::find(who.policies.begin(), who.policies.end(), name) != who.policies.end();
    if (!allowed) return Forbidden();
    std::optional<nomad::AclPolicy> p = acl_.GetPolicy(name);
    uint64_t index = p ? p->modify_index : std::max<uint64_t>(acl_.PoliciesIndex(), 1);
    ctx.block_index = index;
    Reply r = p ? Json(200, nomad::EncodeAclPolicy(*p, [&] {
                    nomad::EncodeOptions o = ctx.enc;
                    o.server_fields = true;
                    return o;
                  }()))
                : Text(404, "ACL policy not found");
    AddIndex(r, index);
    AddQueryMeta(r);
    return r;
  }
  if (req.method == "DELETE") {
    if (!ctx.who.ok() || !acl_.IsManagement(*ctx.who)) return Forbidden();
    Reply r = Empty(200);
    AddIndex(r, acl_.DeletePolicy(name));
    return r;
  }
  if (req.body.empty()) return Text(400, "Request decode failed: EOF");
  NJson j;
  try {
    j = NJson::parse(req.body);
  } catch (const NJson::exception&) {
    return Text(400, "Request decode failed: invalid character in request body");
  }
  CanonicalizeKeys(j, {"Name", "Description", "Rules", "JobACL", "CreateIndex", "ModifyIndex"},
                   {{"JobACL", {"Namespace", "JobID", "Group", "Task"}}});
  auto policy = nomad::DecodeAclPolicy(j.dump());
  if (!policy.ok()) return Text(400, "Request decode failed: " + policy.status().message());
  if (policy->name != name) return Text(400, "ACL policy name does not match request path");
  if (!ctx.who.ok() || !acl_.IsManagement(*ctx.who)) return Forbidden();
  auto index = acl_.UpsertPolicy(std::move(policy).value());
  if (!index.ok()) return Text(400, index.status().message());
  Reply r = Empty(200);  // 200 with an empty body
  AddIndex(r, *index);
  return r;
}

Reply Router::RouteAclPolicies(Ctx& ctx) {
  const Request& req = ctx.req;
  if (req.method != "GET") return MethodNotAllowed();
  if (!acl_.Enabled()) return Text(400, "ACL support disabled");
  if (!ctx.who.ok()) return Forbidden();
  const Identity& who = *ctx.who;
  std::string prefix = req.Get("prefix");
  NJson list = NJson::array();
  for (const nomad::AclPolicy& p : acl_.ListPolicies()) {
    if (p.name.rfind(prefix, 0) != 0) continue;
    if (!acl_.IsManagement(who) &&
        std::find(who.policies.begin(), who.policies.end(), p.name) == who.policies.end()) {
      continue;
    }
    NJson s = NJson::object();  // ACLPolicyListStub
    s["Name"] = p.name;
    s["Description"] = p.description;
    s["JobACL"] = JobAclJson(p.job_acl);
    s["CreateIndex"] = p.create_index;
    s["ModifyIndex"] = p.modify_index;
    list.push_back(std::move(s));
  }
  uint64_t index = std::max<uint64_t>(acl_.PoliciesIndex(), 1);
  ctx.block_index = index;
  Reply r = Json(200, ctx.enc.pretty ? list.dump(4) : list.dump());
  AddIndex(r, index);
  AddQueryMeta(r);
  return r;
}

// aclTokenSelf (command/agent/acl_endpoint.go) over ACL.WhoAmI (nomad/acl_endpoint.go) @ v2.0.5:
// the caller's ACL token; a workload identity has none and gets 404 "ACL token not found"; an
// unknown secret fails authentication (403).
Reply Router::RouteAclTokenSelf(Ctx& ctx) {
  const Request& req = ctx.req;
  if (req.method != "GET") return MethodNotAllowed();
  const std::string secret = TokenOf(req);
  std::optional<AclState::TokenInfo> t = acl_.TokenBySecret(secret);
  if (!t) {
    if (!ctx.who.ok()) return Forbidden();
    return Text(404, "ACL token not found");
  }
  NJson j = NJson::object();  // nomad/structs ACLToken
  j["AccessorID"] = t->accessor_id;
  j["SecretID"] = t->secret_id;
  j["Name"] = t->name;
  j["Type"] = t->type;
  j["Policies"] = t->policies.empty() ? NJson(nullptr) : NJson(t->policies);
  j["Roles"] = nullptr;
  j["Global"] = false;
  j["Hash"] = nullptr;
  j["CreateTime"] = nomad::FormatRfc3339(0);
  j["ExpirationTime"] = nullptr;
  j["ExpirationTTL"] = 0;
  j["CreateIndex"] = 0;
  j["ModifyIndex"] = 0;
  Reply r = Json(200, ctx.enc.pretty ? j.dump(4) : j.dump());
  AddIndex(r, 1);
  AddQueryMeta(r);
  return r;
}

}  // namespace nsg::sim
