// Tests for controller/sim/routes_parse.cc: POST/PUT /v1/jobs/parse through the router
// (command/agent/job_endpoint.go JobsParseRequest @ v2.0.5): method, ACL before the body,
// "Job spec is empty", "Failed to parse job: ...", Canonicalize.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controller/sim/router.h"
#include "tests/sim/conformance_testutil.h"

namespace nsg::sim {
namespace {

using nlohmann::json;
using testing::RouterFixture;

constexpr char kJob[] = "job \"web\" {\n  group \"g\" {\n    task \"t\" {\n      driver = \"raw_exec\"\n    }\n  }\n}\n";

std::string Body(const std::string& hcl, bool canonicalize = false) {
  return json{{"JobHCL", hcl}, {"Canonicalize", canonicalize}}.dump();
}

class ParseRouteTest : public RouterFixture {
 protected:
  ParseRouteTest() : RouterFixture(AclState::Options{true, "mgmt"}) {}
  std::string TokenWith(const std::string& name, const std::string& rules) {
    nomad::AclPolicy p;
    p.name = name;
    p.rules = rules;
    EXPECT_TRUE(acl_.UpsertPolicy(p).ok());
    return acl_.CreateClientToken({name});
  }
};

TEST_F(ParseRouteTest, ParsesWithParseJobOrSubmitJob) {
  const std::string parser =
      TokenWith("parser", R"(namespace "default" { capabilities = ["parse-job"] })");
  const std::string submitter =
      TokenWith("submitter", R"(namespace "default" { capabilities = ["submit-job"] })");
  const std::string lister =
      TokenWith("lister", R"(namespace "default" { capabilities = ["list-jobs"] })");
  for (const std::string& token : {parser, submitter, std::string("mgmt")}) {
    Reply r = Do("POST /v1/jobs/parse", Body(kJob), token);
    ASSERT_EQ(r.status, 200) << r.body;
    json job = json::parse(r.body);
    EXPECT_EQ(job["ID"], "web");
    EXPECT_TRUE(job["Region"].is_null());  // not canonicalized
  }
  // The ACL check comes before the body is read: even an empty spec is a 403.
  EXPECT_EQ(Do("POST /v1/jobs/parse", Body(""), lister).status, 403);
  EXPECT_EQ(Do("POST /v1/jobs/parse", Body(kJob), "").status, 403);
  // ?namespace is where the capability must be.
  EXPECT_EQ(Do("POST /v1/jobs/parse?namespace=other", Body(kJob), parser).status, 403);
}

TEST_F(ParseRouteTest, ErrorsAreNomads) {
  Reply get = Do("GET /v1/jobs/parse", "", "mgmt");
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.body, "Invalid method");
  Reply empty = Do("PUT /v1/jobs/parse", Body(""), "mgmt");
  EXPECT_EQ(empty.status, 400);
  EXPECT_EQ(empty.body, "Job spec is empty");
  Reply bad = Do("PUT /v1/jobs/parse", Body("job \"x\" {\n  nope = 1\n}\n"), "mgmt");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body,
            "Failed to parse job: input.hcl:2,3-7: Unsupported argument; An argument named "
            "\"nope\" is not expected here. Did you mean \"name\"?");
  EXPECT_EQ(bad.content_type, kContentTypeText);
  EXPECT_EQ(Do("PUT /v1/jobs/parse", "{not json", "mgmt").status, 400);
}

TEST_F(ParseRouteTest, CanonicalizeAndVariables) {
  const std::string hcl = "variable \"n\" {\n  default = 1\n}\n" + std::string(kJob).replace(
                              std::string(kJob).find("group \"g\" {") + 11, 0, "\n    count = var.n");
  json body = {{"JobHCL", hcl}, {"Variables", "n = 4"}, {"Canonicalize", true}};
  Reply r = Do("POST /v1/jobs/parse", body.dump(), "mgmt");
  ASSERT_EQ(r.status, 200) << r.body;
  json job = json::parse(r.body);
  EXPECT_EQ(job["Region"], "global");
  EXPECT_EQ(job["TaskGroups"][0]["Count"], 4);
  EXPECT_EQ(job["TaskGroups"][0]["Tasks"][0]["KillTimeout"], 5'000'000'000LL);
}

}  // namespace
}  // namespace nsg::sim
