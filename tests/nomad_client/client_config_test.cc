#include "controller/nomad_client/client_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "tests/test_support/temp_dir.h"

namespace nsg::io {
namespace {

using base::Status;
using base::StatusCode;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "0b5c1f7e-very-secret";

struct FakeEnv {
  std::map<std::string, std::string> vars;
  GetEnvFn fn() const {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

TEST(ClientConfigTest, DefaultsLikeTheNomadCli) {
  FakeEnv env;
  auto c = ClientConfig::FromEnv(env.fn());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->address, "http://127.0.0.1:4646");
  EXPECT_TRUE(c->token.empty());
  EXPECT_FALSE(c->tls.skip_verify);
  EXPECT_TRUE(c->Validate().ok());
  EXPECT_EQ(c->scheme(), AddressScheme::kHttp);
  EXPECT_EQ(c->endpoint(), "http://127.0.0.1:4646");
}

TEST(ClientConfigTest, EnvironmentThenFlags) {
  FakeEnv env;
  env.vars = {{"NOMAD_ADDR", "https://10.0.0.5:4646/"},
              {"NOMAD_TOKEN", kToken},
              {"NOMAD_REGION", "eu"},
              {"NOMAD_NAMESPACE", "prod"},
              {"NOMAD_CACERT", "/env/ca.pem"},
              {"NOMAD_CAPATH", "/env/cas"},
              {"NOMAD_CLIENT_CERT", "/env/cli.pem"},
              {"NOMAD_CLIENT_KEY", "/env/cli.key"},
              {"NOMAD_TLS_SERVER_NAME", "server.global.nomad"},
              {"NOMAD_SKIP_VERIFY", "true"}};
  auto c = ClientConfig::FromEnv(env.fn());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->address, "https://10.0.0.5:4646/");
  EXPECT_EQ(c->endpoint(), "https://10.0.0.5:4646");
  EXPECT_EQ(c->token, kToken);
  EXPECT_EQ(c->region, "eu");
  EXPECT_EQ(c->namespace_, "prod");
  EXPECT_EQ(c->tls.ca_cert, "/env/ca.pem");
  EXPECT_EQ(c->tls.ca_path, "/env/cas");
  EXPECT_EQ(c->tls.client_cert, "/env/cli.pem");
  EXPECT_EQ(c->tls.client_key, "/env/cli.key");
  EXPECT_EQ(c->tls.server_name, "server.global.nomad");
  EXPECT_TRUE(c->tls.skip_verify);

  ClientConfigOverrides flags;
  flags.address = "http://nomad.example:4646";
  flags.namespace_ = "ops";
  flags.skip_verify = false;
  c->ApplyOverrides(flags);
  EXPECT_EQ(c->address, "http://nomad.example:4646");
  EXPECT_EQ(c->namespace_, "ops");
  EXPECT_EQ(c->region, "eu");  // not overridden
  EXPECT_FALSE(c->tls.skip_verify);
}

TEST(ClientConfigTest, EmptyVariablesAreUnset) {
  FakeEnv env;
  env.vars = {{"NOMAD_ADDR", ""}, {"NOMAD_SKIP_VERIFY", ""}};
  auto c = ClientConfig::FromEnv(env.fn());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->address, kDefaultNomadAddress);
}

TEST(ClientConfigTest, SkipVerifyUsesGoParseBool) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) EXPECT_EQ(ParseGoBool(t), true);
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) EXPECT_EQ(ParseGoBool(f), false);
  for (const char* bad : {"yes", "on", "2", "tRuE"}) EXPECT_EQ(ParseGoBool(bad), std::nullopt);
  FakeEnv env;
  env.vars = {{"NOMAD_SKIP_VERIFY", "yes"}};
  auto c = ClientConfig::FromEnv(env.fn());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "NOMAD_SKIP_VERIFY: \"yes\" is not a boolean (use true or false)");
}

TEST(ClientConfigTest, ValidateNamesTheFirstProblemInOneLine) {
  struct Case {
    std::string address;
    std::string token;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1:4646", "", "has no scheme"},
      {"ftp://x", "", "unsupported scheme \"ftp\""},
      {"http://", "", "has no host"},
      {"http://host:99999", "", "invalid port"},
      {"http://host:abc", "", "invalid port"},
      {"http://host/nomad", "", "must not have a path"},
      {"unix://relative.sock", "t", "absolute path"},
      {"unix:///secrets/api.sock", "", "requires a token"},
  };
  for (const Case& c : cases) {
    ClientConfig cfg;
    cfg.address = c.address;
    cfg.token = c.token;
    Status s = cfg.Validate();
    EXPECT_EQ(s.code(), StatusCode::kInvalidSpec) << c.address;
    EXPECT_THAT(s.message(), HasSubstr(c.want)) << c.address;
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
  }
  ClientConfig ok;
  ok.address = "unix:///secrets/api.sock";
  ok.token = kToken;
  EXPECT_TRUE(ok.Validate().ok());
  EXPECT_EQ(ok.scheme(), AddressScheme::kUnix);
  EXPECT_EQ(ok.endpoint(), "/secrets/api.sock");
  ok.address = "https://[::1]:4646";
  EXPECT_TRUE(ok.Validate().ok());
}

TEST(ClientConfigTest, ValidateTlsFiles) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("nsg_cfg_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/ca.pem") << "x";
  ClientConfig c;
  c.address = "https://nomad:4646";
  c.tls.client_cert = dir + "/ca.pem";
  EXPECT_THAT(c.Validate().message(), HasSubstr("client certificate given without a client key"));
  c.tls.client_cert.clear();
  c.tls.client_key = dir + "/ca.pem";
  EXPECT_THAT(c.Validate().message(), HasSubstr("client key given without"));
  c.tls.client_key.clear();
  c.tls.ca_cert = dir + "/missing.pem";
  EXPECT_THAT(c.Validate().message(), HasSubstr("CA certificate file \"" + dir +
                                                "/missing.pem\" does not exist"));
  c.tls.ca_cert = dir + "/ca.pem";
  c.tls.ca_path = dir + "/ca.pem";
  EXPECT_THAT(c.Validate().message(), HasSubstr("is not a directory"));
  c.tls.ca_path = dir;
  EXPECT_TRUE(c.Validate().ok());
  c.tls.server_name = "server.global.nomad:4646";
  EXPECT_THAT(c.Validate().message(), HasSubstr("bare host name"));
  std::filesystem::remove_all(dir);
}

TEST(ClientConfigTest, TokenNeverInDescribeOrErrors) {
  ClientConfig c;
  c.token = kToken;
  EXPECT_THAT(c.Describe(), Not(HasSubstr(kToken)));
  EXPECT_THAT(c.Describe(), HasSubstr("token=<set>"));
  c.token = std::string(kToken) + "\n";
  Status s = c.Validate();
  EXPECT_EQ(s.message(), "Nomad token contains control characters");
  c.token.clear();
  EXPECT_THAT(c.Describe(), HasSubstr("token=<none>"));
}

// Writes `text` to `path` through a rename, as a secret rotation does (a new inode).
void Rotate(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path.string() + ".new") << text;
  std::filesystem::rename(path.string() + ".new", path);
}

TEST(ClientConfigTest, TokenFileIsValidatedAndNeverEchoed) {
  test_support::TestTempDir dir("nsg_token");
  ClientConfig c;
  c.token_file = (dir.path() / "missing").string();
  EXPECT_THAT(c.Validate().message(), HasSubstr("token file " + c.token_file + ": cannot be read"));
  Rotate(dir.path() / "token", "  \n");
  c.token_file = (dir.path() / "token").string();
  EXPECT_EQ(c.Validate().message(), "token file " + c.token_file + " is empty");
  Rotate(dir.path() / "token", std::string(kToken) + "\x01x\n");
  EXPECT_EQ(c.Validate().message(), "token file " + c.token_file + " contains control characters");
  Rotate(dir.path() / "token", std::string(kToken) + "\n");
  EXPECT_TRUE(c.Validate().ok());
  // unix:// requires a token; one from a file counts.
  c.address = "unix:///secrets/api.sock";
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_THAT(c.Describe(), HasSubstr("token=<file " + c.token_file + ">"));
  EXPECT_THAT(c.Describe(), Not(HasSubstr(kToken)));
}

TEST(ClientConfigTest, TokenSourceFollowsTheFileAndKeepsTheLastGoodToken) {
  test_support::TestTempDir dir("nsg_token");
  const auto path = dir.path() / "token";
  Rotate(path, "first\n");
  TokenSource fixed("fixed", "");
  EXPECT_EQ(fixed.Get(), "fixed");
  TokenSource tokens("ignored", path.string());
  EXPECT_EQ(tokens.Get(), "first");
  Rotate(path, "second\n");
  EXPECT_EQ(tokens.Get(), "second");
  Rotate(path, "");  // caught half-way through a rotation: the last good token stays
  EXPECT_EQ(tokens.Get(), "second");
  std::filesystem::remove(path);
  EXPECT_EQ(tokens.Get(), "second");
  Rotate(path, "third");
  EXPECT_EQ(tokens.Get(), "third");
}

TEST(ClientConfigTest, TaskApiSocketSelection) {
  auto exists = [](const std::string& p) { return p == "/secrets/api.sock"; };
  FakeEnv env;
  EXPECT_EQ(TaskApiSocketAddress(env.fn(), exists), std::nullopt);
  env.vars["NOMAD_SECRETS_DIR"] = "/secrets";
  EXPECT_EQ(TaskApiSocketAddress(env.fn(), exists), "unix:///secrets/api.sock");
  env.vars["NOMAD_SECRETS_DIR"] = "/other/";
  EXPECT_EQ(TaskApiSocketAddress(env.fn(), exists), std::nullopt);  // no socket there
  env.vars["NOMAD_UNIX_ADDR"] = "unix:///alloc/secrets/api.sock";
  EXPECT_EQ(TaskApiSocketAddress(env.fn(), exists), "unix:///alloc/secrets/api.sock");
  env.vars["NOMAD_ADDR"] = "http://10.0.0.1:4646";  // an explicit address always wins
  EXPECT_EQ(TaskApiSocketAddress(env.fn(), exists), std::nullopt);
}

}  // namespace
}  // namespace nsg::io
