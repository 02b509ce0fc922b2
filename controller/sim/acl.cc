#include "controller/sim/acl.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

#include "controller/nomad/limits.h"
#include "controller/sim/job_rules.h"

namespace nsg::sim {
namespace {

// ---------------------------------------------------------------------------------------------
// A tiny HCL subset: blocks with string labels, attributes whose values are strings, bare words
// or lists of strings, and #, // and /* */ comments. Enough for ACL policy rules.

struct HclBlock {
  std::string type;
  std::vector<std::string> labels;
  std::map<std::string, std::vector<std::string>> attrs;  // scalar = one-element list
  std::vector<HclBlock> children;
};

class HclParser {
 public:
  explicit HclParser(std::string_view src) : src_(src) {}

  base::Result<HclBlock> ParseFile() {
    HclBlock root;
    std::string err = ParseBody(root, /*top=*/true);
    if (!err.empty()) return base::Status::InvalidSpec(err);
    return root;
  }

 private:
  enum class Tok { kEnd, kIdent, kString, kLBrace, kRBrace, kEq, kLBracket, kRBracket, kComma,
                   kBad };
  struct Token {
    Tok kind = Tok::kEnd;
    std::string text;
    int line = 1;
  };

  void SkipSpaceAndComments() {
    for (;;) {
      while (pos_ < src_.size() && std::isspace(static_cast<unsigned char>(src_[pos_]))) {
        if (src_[pos_] == '\n') ++line_;
        ++pos_;
      }
      if (pos_ >= src_.size()) return;
      if (src_[pos_] == '#' || src_.substr(pos_, 2) == "//") {
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
        continue;
      }
      if (src_.substr(pos_, 2) == "/*") {
        size_t end = src_.find("*/", pos_ + 2);
        for (size_t i = pos_; i < std::min(end, src_.size()); ++i) line_ += src_[i] == '\n';
        pos_ = end == std::string_view::npos ? src_.size() : end + 2;
        continue;
      }
      return;
    }
  }

  Token Next() {
    if (peeked_) {
      peeked_ = false;
      return peek_;
    }
    SkipSpaceAndComments();
    Token t;
    t.line = line_;
    if (pos_ >= src_.size()) return t;
    char c = src_[pos_];
    auto single = [&](Tok k) {
      ++pos_;
      t.kind = k;
      t.text = std::string(1, c);
      return t;
    };
    switch (c) {
      case '{': return single(Tok::kLBrace);
      case '}': return single(Tok::kRBrace);
      case '=': return single(Tok::kEq);
      case '[': return single(Tok::kLBracket);
      case ']': return single(Tok::kRBracket);
      case ',': return single(Tok::kComma);
      default: break;
    }
    if (c == '"') {
      ++pos_;
      std::string s;
      while (pos_ < src_.size() && src_[pos_] != '"') {
        if (src_[pos_] == '\n') break;
        if (src_[pos_] == '\\' && pos_ + 1 < src_.size()) {
          char e = src_[pos_ + 1];
          s.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
          pos_ += 2;
          continue;
        }
        s.push_back(src_[pos_++]);
      }
      if (pos_ >= src_.size() || src_[pos_] != '"') {
        t.kind = Tok::kBad;
        t.text = "unterminated string";
        return t;
      }
      ++pos_;
      t.kind = Tok::kString;
      t.text = std::move(s);
      return t;
    }
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') {
      size_t start = pos_;
      while (pos_ < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[pos_])) ||
                                    src_[pos_] == '_' || src_[pos_] == '-' || src_[pos_] == '.')) {
        ++pos_;
      }
      t.kind = Tok::kIdent;
      t.text = std::string(src_.substr(start, pos_ - start));
      return t;
    }
    t.kind = Tok::kBad;
    t.text = std::string("unexpected character '") + c + "'";
    ++pos_;
    return t;
  }

  Token Peek() {
    if (!peeked_) {
      peek_ = Next();
      peeked_ = true;
    }
    return peek_;
  }

  static std::string Err(const Token& t, const std::string& what) {
    return "At " + std::to_string(t.line) + ": " + what;
  }

  // Parses items until '}' (or end of input at top level).
  std::string ParseBody(HclBlock& block, bool top) {
    for (;;) {
      Token t = Next();
      if (t.kind == Tok::kEnd) return top ? "" : Err(t, "unexpected end of input, expected '}'");
      if (t.kind == Tok::kRBrace) return top ? Err(t, "unexpected '}'") : "";
      if (t.kind == Tok::kBad) return Err(t, t.text);
      if (t.kind != Tok::kIdent && t.kind != Tok::kString) {
        return Err(t, "expected an attribute or block, got '" + t.text + "'");
      }
      Token n = Peek();
      if (n.kind == Tok::kEq) {
        Next();
        std::vector<std::string> value;
        std::string err = ParseValue(value);
        if (!err.empty()) return err;
        block.attrs[t.text] = std::move(value);
        continue;
      }
      HclBlock child;
      child.type = t.text;
      for (;;) {
        Token l = Next();
        if (l.kind == Tok::kString || l.kind == Tok::kIdent) {
          child.labels.push_back(l.text);
          continue;
        }
        if (l.kind == Tok::kLBrace) break;
        return Err(l, "expected '{' after block \"" + child.type + "\"");
      }
      std::string err = ParseBody(child, /*top=*/false);
      if (!err.empty()) return err;
      block.children.push_back(std::move(child));
    }
  }

  std::string ParseValue(std::vector<std::string>& out) {
    Token t = Next();
    if (t.kind == Tok::kString || t.kind == Tok::kIdent) {
      out.push_back(t.text);
      return "";
    }
    if (t.kind != Tok::kLBracket) return Err(t, "expected a value");
    for (;;) {
      Token e = Next();
      if (e.kind == Tok::kRBracket) return "";
      if (e.kind != Tok::kString && e.kind != Tok::kIdent) return Err(e, "expected a list element");
      out.push_back(e.text);
      Token sep = Next();
      if (sep.kind == Tok::kRBracket) return "";
      if (sep.kind != Tok::kComma) return Err(sep, "expected ',' or ']'");
    }
  }

  std::string_view src_;
  size_t pos_ = 0;
  int line_ = 1;
  bool peeked_ = false;
  Token peek_;
};

// Namespace policy → capabilities (acl/policy.go expandNamespacePolicy, abridged to what the
// simulator checks).
const std::vector<std::string>& ExpandNamespacePolicy(const std::string& policy) {
  static const std::vector<std::string> kNone;
  static const std::vector<std::string> kDeny = {"deny"};
  static const std::vector<std::string> kRead = {
      "list-jobs", "parse-job", "read-job", "csi-list-volume", "csi-read-volume",
      "read-job-scaling", "list-scaling-policies", "read-scaling-policy", "host-volume-read"};
  static const std::vector<std::string> kWrite = [] {
    std::vector<std::string> w = {"list-jobs", "parse-job", "read-job", "csi-list-volume",
                                  "csi-read-volume", "read-job-scaling", "list-scaling-policies",
                                  "read-scaling-policy", "host-volume-read", "scale-job",
                                  "submit-job", "dispatch-job", "read-logs", "read-fs",
                                  "alloc-exec", "alloc-lifecycle", "csi-mount-volume",
                                  "csi-write-volume", "submit-recommendation",
                                  "host-volume-register"};
    return w;
  }();
  if (policy == "deny") return kDeny;
  if (policy == "read") return kRead;
  if (policy == "write") return kWrite;
  return kNone;
}

base::Result<unsigned> ParseVarCaps(const std::vector<std::string>& caps) {
  unsigned bits = 0;
  for (const std::string& c : caps) {
    if (c == "list") {
      bits |= kVarList;
    } else if (c == "read") {
      bits |= kVarRead | kVarList;  // read implies list; write does not imply read (§8.1)
    } else if (c == "write") {
      bits |= kVarWrite;
    } else if (c == "destroy") {
      bits |= kVarDestroy;
    } else if (c == "deny") {
      bits |= kVarDeny;
    } else {
      return base::Status::InvalidSpec("Invalid variable capabilities: " + c);
    }
  }
  return bits;
}

bool IsGlob(const std::string& p) { return p.find('*') != std::string::npos; }

// Picks the pattern among `keys` that applies to `text`: an exact match, else the matching glob
// with the longest pattern (Nomad picks the closest glob).
template <typename Map>
const typename Map::mapped_type* ClosestMatch(const Map& m, const std::string& text) {
  auto exact = m.find(text);
  if (exact != m.end()) return &exact->second;
  const typename Map::mapped_type* best = nullptr;
  size_t best_len = 0;
  for (const auto& [pattern, value] : m) {
    if (!IsGlob(pattern) || !AclState::GlobMatch(pattern, text)) continue;
    if (best == nullptr || pattern.size() > best_len) {
      best = &value;
      best_len = pattern.size();
    }
  }
  return best;
}

}  // namespace

bool AclState::GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative wildcard match with backtracking to the last '*'.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

base::Result<AclState::ParsedPolicy> AclState::ParseRules(std::string_view rules) {
  HclParser parser(rules);
  auto root = parser.ParseFile();
  if (!root.ok()) {
    return base::Status::InvalidSpec("Failed to parse ACL Policy: " + root.status().message());
  }
  ParsedPolicy out;
  for (const HclBlock& b : root->children) {
    if (b.type == "namespace") {
      if (b.labels.size() != 1) {
        return base::Status::InvalidSpec("Failed to parse ACL Policy: namespace needs one label");
      }
      NamespaceRule& ns = out.namespaces[b.labels[0]];
      if (auto it = b.attrs.find("policy"); it != b.attrs.end() && !it->second.empty()) {
        const std::string& pol = it->second.front();
        if (pol != "deny" && pol != "read" && pol != "write" && pol != "scale") {
          return base::Status::InvalidSpec("Invalid namespace policy: \"" + pol + "\"");
        }
        for (const std::string& c : ExpandNamespacePolicy(pol)) ns.caps.insert(c);
        // A namespace policy also grants variables on every path (acl/policy.go).
        if (pol == "read") ns.var_paths["*"].caps |= kVarRead | kVarList;
        if (pol == "write") {
          ns.var_paths["*"].caps |= kVarRead | kVarList | kVarWrite | kVarDestroy;
        }
        if (pol == "deny") ns.var_paths["*"].caps |= kVarDeny;
      }
      if (auto it = b.attrs.find("capabilities"); it != b.attrs.end()) {
        for (const std::string& c : it->second) ns.caps.insert(c);
      }
      for (const HclBlock& v : b.children) {
        if (v.type != "variables") continue;
        for (const HclBlock& p : v.children) {
          if (p.type != "path" || p.labels.size() != 1) {
            return base::Status::InvalidSpec(
                "Failed to parse ACL Policy: variables blocks hold path \"..\" blocks");
          }
          auto caps_it = p.attrs.find("capabilities");
          std::vector<std::string> caps =
              caps_it == p.attrs.end() ? std::vector<std::string>{} : caps_it->second;
          auto bits = ParseVarCaps(caps);
          if (!bits.ok()) return bits.status();
          ns.var_paths[p.labels[0]].caps |= *bits;
        }
      }
    } else if (b.type == "node") {
      if (auto it = b.attrs.find("policy"); it != b.attrs.end() && !it->second.empty()) {
        out.node_policy = it->second.front();
      }
    }
    // agent, operator, quota, plugin, host_volume: accepted and ignored.
  }
  return out;
}

AclState::AclState(SimCore& core, Options opts) : core_(core), opts_(std::move(opts)) {}

base::Result<uint64_t> AclState::UpsertPolicy(nomad::AclPolicy policy) {
  // ACLPolicy.Validate (nomad/structs/acl.go): name, rules, description, JobACL, all reported;
  // UpsertPolicies answers them as a coded 400 "policy 0 invalid: <multierror>".
  std::vector<std::string> errs = nomad::AclPolicyErrors(policy);
  auto parsed = ParseRules(policy.rules);
  if (!parsed.ok()) {
    const bool name_bad = nomad::PolicyNameError(policy.name).has_value();
    errs.insert(errs.begin() + (name_bad ? 1 : 0),
                "failed to parse rules: " + parsed.status().message());
  }
  if (!errs.empty()) return base::Status::InvalidSpec("policy 0 invalid: " + MultiErrorText(errs));
  uint64_t index = core_.NextIndex();
  auto it = policies_.find(policy.name);
  policy.create_index = it == policies_.end() ? index : it->second.policy.create_index;
  policy.modify_index = index;
  std::string name = policy.name;
  policies_[name] = StoredPolicy{std::move(policy), std::move(parsed).value()};
  policies_index_ = index;
  return index;
}

std::optional<nomad::AclPolicy> AclState::GetPolicy(const std::string& name) const {
  auto it = policies_.find(name);
  if (it == policies_.end()) return std::nullopt;
  return it->second.policy;
}

std::vector<nomad::AclPolicy> AclState::ListPolicies() const {
  std::vector<nomad::AclPolicy> out;
  for (const auto& [name, p] : policies_) out.push_back(p.policy);
  return out;
}

uint64_t AclState::DeletePolicy(const std::string& name) {
  uint64_t index = core_.NextIndex();
  policies_.erase(name);
  policies_index_ = index;
  return index;
}

std::string AclState::CreateClientToken(std::vector<std::string> policies) {
  std::string secret = core_.NewUuid();
  client_tokens_[secret] = std::move(policies);
  return secret;
}

std::string AclState::IssueWorkloadToken(const std::string& ns, const std::string& job_id,
                                         const std::string& group, const std::string& task,
                                         const std::string& alloc_id) {
  // Not a JWT: an opaque secret with a recognisable prefix, so traces show what it is.
  std::string secret = "wi." + core_.NewUuid();
  workload_tokens_[secret] = WorkloadClaims{ns, job_id, group, task, alloc_id};
  return secret;
}

void AclState::RevokeAllocTokens(const std::string& alloc_id) {
  std::erase_if(workload_tokens_, [&](const auto& kv) { return kv.second.alloc_id == alloc_id; });
}

std::optional<std::string> AclState::AllocIdForToken(std::string_view secret) const {
  auto it = workload_tokens_.find(std::string(secret));
  if (it == workload_tokens_.end()) return std::nullopt;
  return it->second.alloc_id;
}

namespace {

// A stable accessor ID for a secret (the model keeps no accessor table): FNV-1a of the secret,
// spelled as a UUID. Drawing a random one would move every later seeded UUID.
std::string AccessorFor(std::string_view secret) {
  uint64_t h1 = 1469598103934665603ull, h2 = 1099511628211ull;
  for (unsigned char c : secret) {
    h1 = (h1 ^ c) * 1099511628211ull;
    h2 = (h2 ^ c) * 1469598103934665603ull + 7;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(h1 >> 32),
                static_cast<unsigned>((h1 >> 16) & 0xffff), static_cast<unsigned>(h1 & 0xffff),
                static_cast<unsigned>(h2 >> 48),
                static_cast<unsigned long long>(h2 & 0xffffffffffffull));
  return buf;
}

}  // namespace

std::optional<AclState::TokenInfo> AclState::TokenBySecret(std::string_view secret) const {
  if (workload_tokens_.count(std::string(secret)) != 0) return std::nullopt;
  if (!opts_.enabled) return TokenInfo{"acls-disabled", "", "ACLs disabled token", "client", {}};
  if (secret.empty()) {
    return TokenInfo{"anonymous", "", "Anonymous Token", "client", {"anonymous"}};
  }
  if (secret == opts_.management_secret) {
    return TokenInfo{AccessorFor(secret), std::string(secret), "Bootstrap Token", "management",
                     {}};
  }
  if (auto it = client_tokens_.find(std::string(secret)); it != client_tokens_.end()) {
    return TokenInfo{AccessorFor(secret), std::string(secret), "", "client", it->second};
  }
  return std::nullopt;
}

base::Result<Identity> AclState::Resolve(std::string_view secret) const {
  Identity who;
  if (!opts_.enabled) {
    who.management = true;
    // Keep the claims, so partition checks still know which allocation is calling.
    if (auto it = workload_tokens_.find(std::string(secret)); it != workload_tokens_.end()) {
      who.workload = it->second;
    }
    return who;
  }
  if (secret.empty()) {
    who.anonymous = true;
    who.policies = {"anonymous"};
    return who;
  }
  if (secret == opts_.management_secret) {
    who.management = true;
    return who;
  }
  if (auto it = workload_tokens_.find(std::string(secret)); it != workload_tokens_.end()) {
    who.workload = it->second;
    return who;
  }
  if (auto it = client_tokens_.find(std::string(secret)); it != client_tokens_.end()) {
    who.policies = it->second;
    return who;
  }
  return base::Status::PermissionDenied("ACL token not found");
}

std::vector<const AclState::ParsedPolicy*> AclState::PoliciesFor(const Identity& who) const {
  std::vector<const ParsedPolicy*> out;
  if (who.workload) {
    const WorkloadClaims& c = *who.workload;
    for (const auto& [name, p] : policies_) {
      if (!p.policy.job_acl) continue;
      const nomad::JobAcl& j = *p.policy.job_acl;
      if (j.namespace_ != c.namespace_ || j.job_id != c.job_id) continue;
      if (!j.group.empty() && j.group != c.group) continue;
      if (!j.task.empty() && j.task != c.task) continue;
      out.push_back(&p.parsed);
    }
    return out;
  }
  for (const std::string& name : who.policies) {
    auto it = policies_.find(name);
    if (it != policies_.end()) out.push_back(&it->second.parsed);
  }
  return out;
}

AclState::NamespaceRule AclState::MergedNamespaceRule(const std::vector<const ParsedPolicy*>& pols,
                                                      const std::string& ns) {
  // Nomad merges all policies into one ACL object, then looks up the namespace (exact first,
  // then the closest glob) and the variable path the same way.
  std::map<std::string, NamespaceRule> merged;
  for (const ParsedPolicy* p : pols) {
    for (const auto& [pattern, rule] : p->namespaces) {
      NamespaceRule& m = merged[pattern];
      m.caps.insert(rule.caps.begin(), rule.caps.end());
      for (const auto& [path, pr] : rule.var_paths) m.var_paths[path].caps |= pr.caps;
    }
  }
  const NamespaceRule* r = ClosestMatch(merged, ns);
  return r == nullptr ? NamespaceRule{} : *r;
}

unsigned AclState::VariableCapabilities(const Identity& who, const std::string& ns,
                                        const std::string& path, bool use_claims) const {
  constexpr unsigned kAll = kVarList | kVarRead | kVarWrite | kVarDestroy;
  if (IsManagement(who)) return kAll;
  NamespaceRule rule = MergedNamespaceRule(PoliciesFor(who), ns);
  unsigned caps = 0;
  if (const PathRule* pr = ClosestMatch(rule.var_paths, path)) {
    caps = (pr->caps & kVarDeny) ? 0u : pr->caps;
  }
  if (use_claims && who.workload && who.workload->namespace_ == ns) {
    const WorkloadClaims& c = *who.workload;
    const std::string base = "nomad/jobs";
    if (path == base || path == base + "/" + c.job_id ||
        path == base + "/" + c.job_id + "/" + c.group ||
        path == base + "/" + c.job_id + "/" + c.group + "/" + c.task) {
      caps |= kVarRead | kVarList;
    }
  }
  return caps;
}

bool AclState::HasAnyVariableAccess(const Identity& who, const std::string& ns) const {
  if (IsManagement(who)) return true;
  if (who.workload && who.workload->namespace_ == ns) return true;  // implicit policy
  NamespaceRule rule = MergedNamespaceRule(PoliciesFor(who), ns);
  return std::any_of(rule.var_paths.begin(), rule.var_paths.end(), [](const auto& kv) {
    return (kv.second.caps & ~static_cast<unsigned>(kVarDeny)) != 0 &&
           (kv.second.caps & kVarDeny) == 0;
  });
}

bool AclState::AllowNamespace(const Identity& who, const std::string& ns,
                              std::string_view cap) const {
  if (IsManagement(who)) return true;
  NamespaceRule rule = MergedNamespaceRule(PoliciesFor(who), ns);
  if (rule.caps.count("deny")) return false;
  return rule.caps.count(std::string(cap)) > 0;
}

bool AclState::AllowNode(const Identity& who, bool write) const {
  if (IsManagement(who)) return true;
  std::string best;
  for (const ParsedPolicy* p : PoliciesFor(who)) {
    if (p->node_policy == "deny") return false;
    if (p->node_policy == "write" || (p->node_policy == "read" && best != "write")) {
      best = p->node_policy;
    }
  }
  return write ? best == "write" : (best == "read" || best == "write");
}

}  // namespace nsg::sim
