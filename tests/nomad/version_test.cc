// Tests for controller/nomad/version.{h,cc} and the /v1/agent/self and /v1/namespaces codecs.
#include "controller/nomad/version.h"

#include <gtest/gtest.h>

#include "controller/nomad/api_codec.h"

namespace nsg::nomad {
namespace {

NomadVersion V(const char* s) { return NomadVersion::Parse(s).value(); }

TEST(NomadVersionTest, ParsesReleasesPrefixesAndSuffixes) {
  EXPECT_EQ(V("1.10.2"), (NomadVersion{1, 10, 2, ""}));
  EXPECT_EQ(V("v2.0.5").ToString(), "2.0.5");
  EXPECT_EQ(V("1.11.0-beta.1").ToString(), "1.11.0-beta.1");
  EXPECT_EQ(V("2.0.5+ent").suffix, "+ent");
  for (const char* bad : {"", "1", "1.10", "1.10.x", "a.b.c", "1.10.2beta", "1..2", "12345.1.1"}) {
    auto v = NomadVersion::Parse(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().code(), base::StatusCode::kInvalidSpec);
  }
}

TEST(NomadVersionTest, ComparesNumericallyIgnoringTheSuffix) {
  EXPECT_LT(V("1.9.7"), V("1.10.0"));
  EXPECT_LT(V("1.10.5"), V("1.11.0"));
  EXPECT_LT(V("1.11.3"), V("2.0.0"));
  EXPECT_EQ(V("2.0.5-dev"), V("2.0.5"));
}

TEST(NomadVersionTest, ProfilesResolveToTheCheckedPatchReleases) {
  EXPECT_EQ(NomadVersion::FromProfile("1.10").value().ToString(), "1.10.5");
  EXPECT_EQ(NomadVersion::FromProfile("1.11").value().ToString(), "1.11.3");
  EXPECT_EQ(NomadVersion::FromProfile("2.0").value().ToString(), "2.0.5");
  EXPECT_EQ(NomadVersion::FromProfile("1.10.2").value().ToString(), "1.10.2");
  auto bad = NomadVersion::FromProfile("1.12");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("profiles: 1.10"), std::string::npos);
  EXPECT_EQ(VersionProfiles(), (std::vector<std::string>{"1.10", "1.11", "2.0"}));
  EXPECT_EQ(kDefaultSimVersion.ToString(), "2.0.5");
}

TEST(NomadVersionTest, BehavioursSwitchAtTheReleasesThatIntroducedThem) {
  EXPECT_FALSE(IsSupported(V("1.9.7")));
  EXPECT_FALSE(IsSupported(V("1.10.1")));
  EXPECT_TRUE(IsSupported(V("1.10.2")));
  EXPECT_TRUE(IsSupported(V("2.0.5")));
  EXPECT_FALSE(HasVariableTopic(V("1.11.3")));
  EXPECT_TRUE(HasVariableTopic(V("2.0.0")));
  EXPECT_FALSE(HijacksEventStream(V("1.11.1")));
  EXPECT_TRUE(HijacksEventStream(V("1.11.2")));
  EXPECT_TRUE(HijacksEventStream(V("2.0.0")));
  EXPECT_FALSE(SetsUnixAddrEnv(V("1.10.2")));
  EXPECT_TRUE(SetsUnixAddrEnv(V("1.10.3")));
}

TEST(AgentSelfCodecTest, ServerBuildTagWinsOverTheAgentConfig) {
  const char* server = R"({"config":{"Version":{"Version":"1.11.3","VersionPrerelease":"",
      "VersionMetadata":""}},"member":{"Name":"s1.global","Tags":{"build":"1.11.3+ent",
      "role":"nomad"}},"stats":{}})";
  EXPECT_EQ(DecodeAgentSelfVersion(server).value(), "1.11.3+ent");
  // A client agent has no serf member: the agent's own version.
  const char* client = R"({"config":{"Version":{"Version":"1.10.2","VersionPrerelease":"beta.1",
      "VersionMetadata":"ent"}},"member":{"Name":"","Tags":null},"stats":{}})";
  EXPECT_EQ(DecodeAgentSelfVersion(client).value(), "1.10.2-beta.1+ent");
  EXPECT_EQ(DecodeAgentSelfVersion(EncodeAgentSelf("2.0.5", "sim")).value(), "2.0.5");
  for (const char* bad : {"[]", "{}", R"({"config":{"Version":{"Version":""}}})", "nope"}) {
    auto v = DecodeAgentSelfVersion(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().code(), base::StatusCode::kInvalidSpec);
  }
}

TEST(NamespaceCodecTest, RoundTripsNames) {
  const std::vector<std::string> names = {"default", "prod"};
  EXPECT_EQ(DecodeNamespaceNames(EncodeNamespaceList(names, 7)).value(), names);
  EXPECT_TRUE(DecodeNamespaceNames("null").value().empty());
  EXPECT_FALSE(DecodeNamespaceNames("{}").ok());
}

}  // namespace
}  // namespace nsg::nomad
