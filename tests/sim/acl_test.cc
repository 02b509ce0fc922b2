// Tests for controller/sim/acl.{h,cc}: policy storage, tokens, and variable authorization
// (nomad-api.md §8.1–§8.3).
#include "controller/sim/acl.h"

#include <gtest/gtest.h>

namespace nsg::sim {
namespace {

constexpr char kLockRules[] = R"(
namespace "prod" {
  variables {
    path "nomad/jobs/example/lock" { capabilities = ["write", "read", "list"] }
  }
})";

nomad::AclPolicy JobPolicy(std::string name, std::string rules, std::string ns, std::string job,
                           std::string group = "", std::string task = "") {
  nomad::AclPolicy p;
  p.name = std::move(name);
  p.rules = std::move(rules);
  p.job_acl = nomad::JobAcl{std::move(ns), std::move(job), std::move(group), std::move(task)};
  return p;
}

class AclTest : public ::testing::Test {
 protected:
  AclTest() : acl_(core_, AclState::Options{true, "mgmt"}) {}
  SimCore core_{SimCore::Options{}};
  AclState acl_;
};

TEST_F(AclTest, DisabledMakesEveryoneManagement) {
  AclState off(core_, AclState::Options{});
  auto who = off.Resolve("anything");
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(off.IsManagement(*who));
  EXPECT_EQ(off.VariableCapabilities(*who, "x", "a/b", false),
            unsigned{kVarList | kVarRead | kVarWrite | kVarDestroy});
}

TEST_F(AclTest, ResolveManagementAnonymousAndUnknown) {
  auto m = acl_.Resolve("mgmt");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->management);
  auto anon = acl_.Resolve("");
  ASSERT_TRUE(anon.ok());
  EXPECT_TRUE(anon->anonymous);
  EXPECT_FALSE(acl_.IsManagement(*anon));
  auto unknown = acl_.Resolve("nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), base::StatusCode::kPermissionDenied);
  EXPECT_EQ(unknown.status().message(), "ACL token not found");
}

TEST_F(AclTest, UpsertIsRaftIndexedAndKeepsCreateIndex) {
  uint64_t before = core_.Index();
  auto i1 = acl_.UpsertPolicy(JobPolicy("p", kLockRules, "prod", "example"));
  ASSERT_TRUE(i1.ok());
  EXPECT_EQ(*i1, before + 1);
  auto i2 = acl_.UpsertPolicy(JobPolicy("p", kLockRules, "prod", "example"));
  ASSERT_TRUE(i2.ok());
  auto p = acl_.GetPolicy("p");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->create_index, *i1);
  EXPECT_EQ(p->modify_index, *i2);
  EXPECT_EQ(acl_.PoliciesIndex(), *i2);
  uint64_t d = acl_.DeletePolicy("p");
  EXPECT_EQ(d, *i2 + 1);
  EXPECT_FALSE(acl_.GetPolicy("p").has_value());
}

TEST_F(AclTest, PolicyValidationReportsEveryReasonAsNomadDoes) {
  // ACLPolicy.Validate (nomad/structs/acl.go): every reason, wrapped by UpsertPolicies as
  // "policy 0 invalid: <multierror>".
  auto one = [](const std::string& e) {
    return "policy 0 invalid: 1 error occurred:\n\t* " + e + "\n\n";
  };
  EXPECT_EQ(acl_.UpsertPolicy(JobPolicy("p", "", "", "job")).status().message(),
            one("namespace must be set to set job ID"));
  EXPECT_EQ(acl_.UpsertPolicy(JobPolicy("p", "", "ns", "", "g")).status().message(),
            one("job ID must be set to set group"));
  EXPECT_EQ(acl_.UpsertPolicy(JobPolicy("p", "", "ns", "j", "", "t")).status().message(),
            one("group must be set to set task"));
  EXPECT_EQ(acl_.UpsertPolicy(JobPolicy("bad name", "", "ns", "j")).status().message(),
            one("invalid name 'bad name'"));
  EXPECT_EQ(acl_.UpsertPolicy(JobPolicy(std::string(129, 'p'), "", "ns", "j")).status().code(),
            base::StatusCode::kInvalidSpec);
  EXPECT_TRUE(acl_.UpsertPolicy(JobPolicy(std::string(128, 'p'), "", "ns", "j")).ok());
  EXPECT_FALSE(acl_.UpsertPolicy(JobPolicy("p", "namespace \"x\" {", "ns", "j")).ok());
  nomad::AclPolicy p = JobPolicy("bad name", kLockRules, "ns", "j");
  p.description = std::string(257, 'd');
  EXPECT_EQ(acl_.UpsertPolicy(p).status().message(),
            "policy 0 invalid: 2 errors occurred:\n\t* invalid name 'bad name'\n\t* description "
            "longer than 256\n\n");
}

TEST_F(AclTest, WorkloadGetsJobAclPolicyCapabilities) {
  ASSERT_TRUE(acl_.UpsertPolicy(JobPolicy("lock", kLockRules, "prod", "example")).ok());
  std::string secret = acl_.IssueWorkloadToken("prod", "example", "app", "lock", "alloc-1");
  auto who = acl_.Resolve(secret);
  ASSERT_TRUE(who.ok());
  ASSERT_TRUE(who->workload.has_value());
  EXPECT_EQ(who->workload->alloc_id, "alloc-1");
  EXPECT_EQ(acl_.VariableCapabilities(*who, "prod", "nomad/jobs/example/lock", false),
            unsigned{kVarWrite | kVarRead | kVarList});
  // Other paths, other namespaces: nothing.
  EXPECT_EQ(acl_.VariableCapabilities(*who, "prod", "nomad/jobs/example/other", false), 0u);
  EXPECT_EQ(acl_.VariableCapabilities(*who, "default", "nomad/jobs/example/lock", false), 0u);
}

TEST_F(AclTest, JobAclGroupAndTaskNarrowTheMatch) {
  ASSERT_TRUE(acl_.UpsertPolicy(JobPolicy("lock", kLockRules, "prod", "example", "app", "lock"))
                  .ok());
  auto lock_task = acl_.Resolve(acl_.IssueWorkloadToken("prod", "example", "app", "lock", "a"));
  auto other_task = acl_.Resolve(acl_.IssueWorkloadToken("prod", "example", "app", "web", "a"));
  auto other_job = acl_.Resolve(acl_.IssueWorkloadToken("prod", "other", "app", "lock", "b"));
  EXPECT_NE(acl_.VariableCapabilities(*lock_task, "prod", "nomad/jobs/example/lock", false), 0u);
  EXPECT_EQ(acl_.VariableCapabilities(*other_task, "prod", "nomad/jobs/example/lock", false), 0u);
  EXPECT_EQ(acl_.VariableCapabilities(*other_job, "prod", "nomad/jobs/example/lock", false), 0u);
}

TEST_F(AclTest, WriteDoesNotImplyReadButReadImpliesList) {
  ASSERT_TRUE(acl_.UpsertPolicy(JobPolicy("w", R"(namespace "default" {
    variables {
      path "w/*" { capabilities = ["write"] }
      path "r" { capabilities = ["read"] }
    }
  })", "default", "j"))
                  .ok());
  auto who = acl_.Resolve(acl_.IssueWorkloadToken("default", "j", "g", "t", "a"));
  EXPECT_EQ(acl_.VariableCapabilities(*who, "default", "w/x", false), unsigned{kVarWrite});
  EXPECT_EQ(acl_.VariableCapabilities(*who, "default", "r", false), unsigned{kVarRead | kVarList});
}

TEST_F(AclTest, ImplicitWorkloadReadListOnExactJobPaths) {
  auto who = acl_.Resolve(acl_.IssueWorkloadToken("prod", "example", "app", "lock", "a"));
  for (const char* p : {"nomad/jobs", "nomad/jobs/example", "nomad/jobs/example/app",
                        "nomad/jobs/example/app/lock"}) {
    EXPECT_EQ(acl_.VariableCapabilities(*who, "prod", p, /*use_claims=*/true),
              unsigned{kVarRead | kVarList})
        << p;
    // Apply and RenewLock pass no claims.
    EXPECT_EQ(acl_.VariableCapabilities(*who, "prod", p, /*use_claims=*/false), 0u) << p;
  }
  // Exact paths only: no prefix match, and only in the workload's namespace.
  EXPECT_EQ(acl_.VariableCapabilities(*who, "prod", "nomad/jobs/example/lock", true), 0u);
  EXPECT_EQ(acl_.VariableCapabilities(*who, "prod", "nomad/jobs/example/app/lock/x", true), 0u);
  EXPECT_EQ(acl_.VariableCapabilities(*who, "default", "nomad/jobs/example", true), 0u);
}

TEST_F(AclTest, GlobsExactBeatsGlobAndDenyWins) {
  ASSERT_TRUE(acl_.UpsertPolicy(JobPolicy("g", R"(namespace "*" {
    variables {
      path "*" { capabilities = ["list"] }
      path "a/*" { capabilities = ["read"] }
      path "a/b/*" { capabilities = ["deny"] }
      path "a/b/c" { capabilities = ["write"] }
    }
  })", "default", "j"))
                  .ok());
  auto who = acl_.Resolve(acl_.IssueWorkloadToken("default", "j", "g", "t", "a"));
  EXPECT_EQ(acl_.VariableCapabilities(*who, "default", "z", false), unsigned{kVarList});
  EXPECT_EQ(acl_.VariableCapabilities(*who, "any", "a/x", false), unsigned{kVarRead | kVarList});
  EXPECT_EQ(acl_.VariableCapabilities(*who, "default", "a/b/x", false), 0u);
  EXPECT_EQ(acl_.VariableCapabilities(*who, "default", "a/b/c", false), unsigned{kVarWrite});
}

TEST_F(AclTest, RevokeAllocTokens) {
  std::string s1 = acl_.IssueWorkloadToken("default", "j", "g", "t1", "alloc-1");
  std::string s2 = acl_.IssueWorkloadToken("default", "j", "g", "t2", "alloc-1");
  std::string s3 = acl_.IssueWorkloadToken("default", "j", "g", "t1", "alloc-2");
  EXPECT_NE(s1, s2);
  EXPECT_EQ(acl_.AllocIdForToken(s1), "alloc-1");
  acl_.RevokeAllocTokens("alloc-1");
  EXPECT_FALSE(acl_.Resolve(s1).ok());
  EXPECT_FALSE(acl_.Resolve(s2).ok());
  EXPECT_TRUE(acl_.Resolve(s3).ok());
  EXPECT_FALSE(acl_.AllocIdForToken(s1).has_value());
}

TEST_F(AclTest, ClientTokenNamespacePolicyAndNodePolicy) {
  nomad::AclPolicy p;
  p.name = "reader";
  p.rules = R"(
    # comment
    namespace "default" { policy = "read" }
    node { policy = "read" }
    /* block comment */
  )";
  ASSERT_TRUE(acl_.UpsertPolicy(p).ok());
  auto who = acl_.Resolve(acl_.CreateClientToken({"reader"}));
  ASSERT_TRUE(who.ok());
  EXPECT_TRUE(acl_.AllowNamespace(*who, "default", "read-job"));
  EXPECT_FALSE(acl_.AllowNamespace(*who, "default", "submit-job"));
  EXPECT_FALSE(acl_.AllowNamespace(*who, "other", "read-job"));
  EXPECT_TRUE(acl_.AllowNode(*who, false));
  EXPECT_FALSE(acl_.AllowNode(*who, true));
  // policy = "read" grants read+list on every variable path of the namespace.
  EXPECT_EQ(acl_.VariableCapabilities(*who, "default", "x/y", false),
            unsigned{kVarRead | kVarList});
  EXPECT_TRUE(acl_.HasAnyVariableAccess(*who, "default"));
  EXPECT_FALSE(acl_.HasAnyVariableAccess(*who, "other"));
}

TEST_F(AclTest, ParseRulesRejectsBadCapability) {
  auto r = AclState::ParseRules(
      R"(namespace "x" { variables { path "a" { capabilities = ["fly"] } } })");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "Invalid variable capabilities: fly");
}

TEST(AclGlobTest, Matches) {
  EXPECT_TRUE(AclState::GlobMatch("*", ""));
  EXPECT_TRUE(AclState::GlobMatch("a/*", "a/b/c"));
  EXPECT_TRUE(AclState::GlobMatch("a*c", "abbbc"));
  EXPECT_FALSE(AclState::GlobMatch("a/*", "b/a"));
  EXPECT_FALSE(AclState::GlobMatch("abc", "abcd"));
}

}  // namespace
}  // namespace nsg::sim
