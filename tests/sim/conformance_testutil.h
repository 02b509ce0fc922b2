// Test helpers for the router-level tests (variables_test.cc, router_test.cc): a model (SimCore,
// AclState, Variables, and a Router without a cluster) and a one-line way to send a request and
// collect the reply. Everything runs under virtual time on the test thread.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/sim/acl.h"
#include "controller/sim/router.h"
#include "controller/sim/sim_core.h"
#include "controller/sim/variables.h"

namespace nsg::sim::testing {

// "GET /v1/var/a?lock-acquire&cas=3" → Request (no percent-decoding; tests use plain text).
inline Request MakeRequest(const std::string& line, const std::string& body = "",
                           const std::string& token = "") {
  Request r;
  size_t sp = line.find(' ');
  r.method = line.substr(0, sp);
  std::string target = line.substr(sp + 1);
  size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string query = target.substr(q + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t amp = query.find('&', start);
      std::string kv = query.substr(start, amp == std::string::npos ? std::string::npos
                                                                    : amp - start);
      if (!kv.empty()) {
        size_t eq = kv.find('=');
        r.query.emplace(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  r.body = body;
  if (!token.empty()) r.headers["x-nomad-token"] = token;
  return r;
}

// Collects what a router writes to one event stream.
class RecordingSink : public StreamSink {
 public:
  void Reply(const sim::Reply& reply) override { reply_ = reply; }
  void Open(const sim::Reply& head) override { head_ = head; }
  void Write(const std::string& data) override { lines_.push_back(data); }
  void Close() override { closed_ = true; }

  std::optional<sim::Reply> reply_;
  std::optional<sim::Reply> head_;
  std::vector<std::string> lines_;
  bool closed_ = false;
};

class RouterFixture : public ::testing::Test {
 protected:
  explicit RouterFixture(AclState::Options acl_opts = {}, Variables::Options var_opts = {},
                         nomad::NomadVersion version = nomad::kDefaultSimVersion)
      : core_(SimCore::Options{.version = version}),
        acl_(core_, std::move(acl_opts)),
        vars_(core_, acl_, var_opts),
        router_(core_, acl_, vars_, nullptr) {}

  // Sends a request that must complete at once.
  Reply Do(const std::string& line, const std::string& body = "", const std::string& token = "") {
    std::optional<Reply> out;
    router_.Submit(MakeRequest(line, body, token), [&](Reply r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value()) << line << " did not complete at once";
    return out.value_or(Reply{});
  }
  // Sends a request that may complete later; the returned holder fills in when it does.
  std::shared_ptr<std::optional<Reply>> Start(const std::string& line, const std::string& body = "",
                                              const std::string& token = "") {
    auto out = std::make_shared<std::optional<Reply>>();
    router_.Submit(MakeRequest(line, body, token), [out](Reply r) { *out = std::move(r); });
    return out;
  }
  // Lets zero-delay timers (blocking-query rechecks) run without moving time.
  void Settle() { core_.AdvanceBy(base::Duration(0)); }

  SimCore core_;
  AclState acl_;
  Variables vars_;
  Router router_;
};

}  // namespace nsg::sim::testing
