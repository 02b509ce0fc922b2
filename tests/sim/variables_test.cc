// Tests for controller/sim/variables.{h,cc} through the router's HTTP semantics: every row of
// nomad-api.md §2.4–§2.8 and §12.6, with exact status, body and headers, under virtual time.
#include "controller/sim/variables.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/sim/conformance_testutil.h"

namespace nsg::sim {
namespace {

using nlohmann::json;
using testing::RouterFixture;
using namespace std::chrono_literals;

constexpr char kText[] = "text/plain; charset=utf-8";
constexpr char kJson[] = "application/json";

class VarsTest : public RouterFixture {
 protected:
  // Acquires `path` with the given lock JSON; returns the lock ID.
  std::string Acquire(const std::string& path, const std::string& lock = "{}") {
    Reply r = Do("PUT /v1/var/" + path + "?lock-acquire", R"({"Lock":)" + lock + "}");
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["Lock"]["ID"].get<std::string>();
  }
  uint64_t ModifyIndex(const std::string& path) {
    const nomad::Variable* v = vars_.Find("default", path);
    return v ? v->modify_index : 0;
  }
  std::string ZeroBody(const std::string& path) {
    return R"({"Namespace":"default","Path":")" + path +
           R"(","CreateIndex":0,"CreateTime":0,"ModifyIndex":0,"ModifyTime":0})";
  }
};

// ---- §2.1 routing and lock-op selection -----------------------------------------------------

TEST_F(VarsTest, EmptyPathIs400MissingVariablePath) {
  Reply r = Do("GET /v1/var/");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "missing variable path");
  EXPECT_EQ(r.content_type, kText);
}

TEST_F(VarsTest, WrongMethodOnVarIs400InvalidMethod) {
  Reply r = Do("PATCH /v1/var/a");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Invalid method");
}

TEST_F(VarsTest, WrongMethodOnVarsIs405) {
  Reply r = Do("POST /v1/vars");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.body, "Invalid method");
}

TEST_F(VarsTest, LockOpChosenByKeyPresenceValueIgnored) {
  Reply r = Do("PUT /v1/var/a?lock-acquire=false", "{}");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(json::parse(r.body).contains("Lock"));
}

TEST_F(VarsTest, MultipleLockOpsIs400) {
  Reply r = Do("PUT /v1/var/a?lock-acquire&lock-release", "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "multiple lock operations");
}

TEST_F(VarsTest, CasWithLockOpIs400) {
  Reply r = Do("PUT /v1/var/a?lock-renew&cas=1", "{}");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "CAS can't be used with lock operations");
}

// ---- §2.4 read and list ---------------------------------------------------------------------

TEST_F(VarsTest, ReadMissingIs404WithMetaHeaders) {
  Reply r = Do("GET /v1/var/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "variable not found");
  EXPECT_EQ(r.content_type, kText);
  EXPECT_EQ(r.HeaderValue("X-Nomad-Index"), "1");
  EXPECT_EQ(r.HeaderValue("X-Nomad-Knownleader"), "true");
  EXPECT_EQ(r.HeaderValue("X-Nomad-Lastcontact"), "0");
}

TEST_F(VarsTest, ReadReturnsItemsWithModifyIndexHeader) {
  ASSERT_EQ(Do("PUT /v1/var/a/b", R"({"Items":{"k":"v"}})").status, 200);
  Reply r = Do("GET /v1/var/a/b");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, kJson);
  json j = json::parse(r.body);
  EXPECT_EQ(j["Items"]["k"], "v");
  EXPECT_EQ(j["Namespace"], "default");
  EXPECT_EQ(r.HeaderValue("X-Nomad-Index"), std::to_string(j["ModifyIndex"].get<uint64_t>()));
  EXPECT_EQ(r.HeaderValue("X-Nomad-Knownleader"), "true");
}

TEST_F(VarsTest, ListEmptyIsEmptyArray) {
  Reply r = Do("GET /v1/vars");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[]");
  EXPECT_EQ(r.HeaderValue("X-Nomad-Index"), "1");
}

TEST_F(VarsTest, ListIsMetadataWithPrefixAndNamespaceWildcard) {
  ASSERT_EQ(Do("PUT /v1/var/a/one", R"({"Items":{"k":"v"}})").status, 200);
  ASSERT_EQ(Do("PUT /v1/var/a/two?namespace=prod", R"({"Items":{"k":"v"}})").status, 200);
  ASSERT_EQ(Do("PUT /v1/var/b/three", R"({"Items":{"k":"v"}})").status, 200);
  json def = json::parse(Do("GET /v1/vars?prefix=a/").body);
  ASSERT_EQ(def.size(), 1u);
  EXPECT_EQ(def[0]["Path"], "a/one");
  EXPECT_FALSE(def[0].contains("Items"));
  Reply all = Do("GET /v1/vars?namespace=*&prefix=a/");
  json j = json::parse(all.body);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["Namespace"], "default");
  EXPECT_EQ(j[1]["Namespace"], "prod");
  EXPECT_EQ(all.HeaderValue("X-Nomad-Index"), std::to_string(vars_.TableIndex()));
}

TEST_F(VarsTest, ListPaginatesWithNextToken) {
  for (const char* p : {"p/1", "p/2", "p/3"}) {
    ASSERT_EQ(Do(std::string("PUT /v1/var/") + p, R"({"Items":{"k":"v"}})").status, 200);
  }
  Reply first = Do("GET /v1/vars?per_page=2");
  EXPECT_EQ(json::parse(first.body).size(), 2u);
  EXPECT_EQ(first.HeaderValue("X-Nomad-Nexttoken"), "default.p/3");
  Reply second = Do("GET /v1/vars?per_page=2&next_token=default.p/3");
  EXPECT_EQ(json::parse(second.body).size(), 1u);
  EXPECT_FALSE(second.HasHeader("X-Nomad-Nexttoken"));
}

// ---- §2.5 set and CAS -----------------------------------------------------------------------

TEST_F(VarsTest, SetReturnsStoredVariableAndWriteIndex) {
  Reply r = Do("PUT /v1/var/a", R"({"Path":"ignored","Items":{"k":"v"}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, kJson);
  json j = json::parse(r.body);
  EXPECT_EQ(j["Path"], "a");
  EXPECT_EQ(j["Items"]["k"], "v");
  EXPECT_EQ(j["CreateIndex"], j["ModifyIndex"]);
  EXPECT_EQ(r.HeaderValue("X-Nomad-Index"), std::to_string(j["ModifyIndex"].get<uint64_t>()));
  EXPECT_FALSE(r.HasHeader("X-Nomad-Knownleader"));
}

TEST_F(VarsTest, SetAcceptsPostAndCaseInsensitiveKeys) {
  Reply r = Do("POST /v1/var/a", R"({"items":{"K":"v"},"namespace":"prod"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["Namespace"], "prod");
  EXPECT_EQ(json::parse(r.body)["Items"]["K"], "v");
}

TEST_F(VarsTest, SetWithoutItemsIs400) {
  Reply r = Do("PUT /v1/var/a", R"({"Items":{}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "variable missing required Items object");
}

TEST_F(VarsTest, SetWithLockDefinitionIs400) {
  Reply r = Do("PUT /v1/var/a", R"({"Items":{"k":"v"},"Lock":{"TTL":"15s"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "variable should not contain lock definition");
}

TEST_F(VarsTest, SetCasZeroCreatesOnlyIfAbsent) {
  Reply first = Do("PUT /v1/var/a?cas=0", R"({"Items":{"k":"v"}})");
  EXPECT_EQ(first.status, 200);
  Reply second = Do("PUT /v1/var/a?cas=0", R"({"Items":{"k":"w"}})");
  EXPECT_EQ(second.status, 409);
  EXPECT_EQ(second.content_type, kText);  // sniffed: WriteHeader(409) before the JSON body
  json j = json::parse(second.body);
  EXPECT_EQ(j["Items"]["k"], "v");  // the conflicting (stored) value
  EXPECT_EQ(second.HeaderValue("X-Nomad-Index"), std::to_string(ModifyIndex("a")));
}

TEST_F(VarsTest, SetCasMismatchIs409WithConflict) {
  ASSERT_EQ(Do("PUT /v1/var/a", R"({"Items":{"k":"v"}})").status, 200);
  uint64_t mi = ModifyIndex("a");
  Reply r = Do("PUT /v1/var/a?cas=" + std::to_string(mi + 100), R"({"Items":{"k":"w"}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(json::parse(r.body)["ModifyIndex"], mi);
  EXPECT_EQ(r.HeaderValue("X-Nomad-Index"), std::to_string(mi));
  Reply ok = Do("PUT /v1/var/a?cas=" + std::to_string(mi), R"({"Items":{"k":"w"}})");
  EXPECT_EQ(ok.status, 200);
}

TEST_F(VarsTest, SetCasOnMissingIs409ZeroValued) {
  Reply r = Do("PUT /v1/var/a?cas=5", R"({"Items":{"k":"v"}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, ZeroBody("a"));
  EXPECT_EQ(r.HeaderValue("X-Nomad-Index"), "0");
}

TEST_F(VarsTest, SetCasUnparsableIs400) {
  Reply r = Do("PUT /v1/var/a?cas=x", R"({"Items":{"k":"v"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "can not parse cas: strconv.ParseUint: parsing \"x\": invalid syntax");
}

TEST_F(VarsTest, SetIdenticalKeepsModifyIndexAndEmitsNothing) {
  ASSERT_EQ(Do("PUT /v1/var/a", R"({"Items":{"k":"v"}})").status, 200);
  uint64_t mi = ModifyIndex("a");
  uint64_t table = vars_.TableIndex();
  uint64_t newest_event = core_.Events().NewestIndex();
  Reply r = Do("PUT /v1/var/a", R"({"Items":{"k":"v"}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["ModifyIndex"], mi);
  EXPECT_EQ(ModifyIndex("a"), mi);
  EXPECT_EQ(vars_.TableIndex(), table);
  EXPECT_EQ(core_.Events().NewestIndex(), newest_event);
}

TEST_F(VarsTest, SetOnLockedVariableWithoutLockIdIs409ZeroValued) {
  Acquire("a");
  Reply r = Do("PUT /v1/var/a", R"({"Items":{"k":"v"}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, ZeroBody("a"));
  EXPECT_EQ(r.content_type, kText);
}

TEST_F(VarsTest, SetOnLockedVariableWithLockIdUpdatesItemsKeepsLock) {
  std::string id = Acquire("a", R"({"TTL":"20s","LockDelay":"5s"})");
  Reply r = Do("PUT /v1/var/a", R"({"Items":{"k":"v"},"Lock":{"ID":")" + id + R"("}})");
  EXPECT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["Lock"]["ID"], id);      // the owner sees the lock
  EXPECT_EQ(j["Lock"]["TTL"], "20s");  // the stored TTL is kept (set_resets_lock_ttl off)
  EXPECT_EQ(vars_.Find("default", "a")->items.at("k"), "v");
}

TEST_F(VarsTest, SetWildcardNamespaceIs500) {
  Reply r = Do("PUT /v1/var/a?namespace=*", R"({"Items":{"k":"v"}})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "1 error occurred:\n\t* can not target wildcard (\"*\")namespace\n\n");
}

TEST_F(VarsTest, SetInvalidPathsAre500) {
  EXPECT_EQ(Do("PUT /v1/var/a%b", R"({"Items":{"k":"v"}})").body,
            "1 error occurred:\n\t* invalid path \"a%b\"\n\n");
  EXPECT_EQ(Do("PUT /v1/var/nomad", R"({"Items":{"k":"v"}})").status, 500);
  EXPECT_EQ(Do("PUT /v1/var/nomad/other", R"({"Items":{"k":"v"}})").status, 500);
  EXPECT_EQ(Do("PUT /v1/var/nomad/jobs/x", R"({"Items":{"k":"v"}})").status, 200);
  EXPECT_EQ(Do("PUT /v1/var/nomad/job-templates/t", R"({"Items":{"k":"v"}})").status, 200);
  EXPECT_EQ(Do("PUT /v1/var/nomad/job-templates/t/u", R"({"Items":{"k":"v"}})").status, 500);
  // nomad/sentinel arrived in 1.11.2; the simulator follows the oldest supported rule (1.10.2).
  EXPECT_EQ(Do("PUT /v1/var/nomad/sentinel/x", R"({"Items":{"k":"v"}})").body,
            "1 error occurred:\n\t* only paths at \"nomad/jobs\" or \"nomad/job-templates\" and "
            "below are valid paths under the top-level \"nomad\" directory\n\n");
}

TEST_F(VarsTest, SetItemsOver64KiBIs500) {
  std::string big(64 * 1024, 'x');
  Reply r = Do("PUT /v1/var/a", R"({"Items":{"k":")" + big + R"("}})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "1 error occurred:\n\t* variables are limited to 64KiB in total size\n\n");
}

TEST_F(VarsTest, SetBodyNamespaceWinsOverQuery) {
  Reply r = Do("PUT /v1/var/a?namespace=q", R"({"Namespace":"b","Items":{"k":"v"}})");
  EXPECT_EQ(json::parse(r.body)["Namespace"], "b");
  EXPECT_NE(vars_.Find("b", "a"), nullptr);
}

// ---- §2.6 delete ----------------------------------------------------------------------------

TEST_F(VarsTest, DeleteIs204NoBodyWithIndex) {
  ASSERT_EQ(Do("PUT /v1/var/a", R"({"Items":{"k":"v"}})").status, 200);
  Reply r = Do("DELETE /v1/var/a");
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.content_type, "");
  EXPECT_EQ(r.HeaderValue("X-Nomad-Index"), std::to_string(core_.Index()));
  EXPECT_EQ(vars_.Find("default", "a"), nullptr);
}

TEST_F(VarsTest, DeleteMissingSucceeds) {
  Reply r = Do("DELETE /v1/var/nope");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.HasHeader("X-Nomad-Index"));
}

TEST_F(VarsTest, DeleteCasMismatchIs409WithConflict) {
  ASSERT_EQ(Do("PUT /v1/var/a", R"({"Items":{"k":"v"}})").status, 200);
  uint64_t mi = ModifyIndex("a");
  Reply r = Do("DELETE /v1/var/a?cas=" + std::to_string(mi + 1));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(json::parse(r.body)["ModifyIndex"], mi);
  EXPECT_EQ(Do("DELETE /v1/var/a?cas=" + std::to_string(mi)).status, 204);
}

TEST_F(VarsTest, DeleteLockedVariableIs409EvenForManagement) {
  Acquire("a");
  Reply r = Do("DELETE /v1/var/a");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, ZeroBody("a"));
  EXPECT_NE(vars_.Find("default", "a"), nullptr);
}

// ---- §2.7 acquire ---------------------------------------------------------------------------

TEST_F(VarsTest, AcquireAppliesDefaultsAndGeneratesId) {
  Reply r = Do("PUT /v1/var/nomad/jobs/example/lock?lock-acquire",
               R"({"Namespace":"default","Path":"nomad/jobs/example/lock","Items":{}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, kJson);
  json j = json::parse(r.body);
  EXPECT_EQ(j["Lock"]["TTL"], "15s");
  EXPECT_EQ(j["Lock"]["LockDelay"], "15s");
  EXPECT_EQ(j["Lock"]["ID"].get<std::string>().size(), 36u);
  EXPECT_FALSE(j.contains("Items"));  // omitted because empty
  EXPECT_EQ(j["CreateIndex"], j["ModifyIndex"]);
  EXPECT_EQ(r.HeaderValue("X-Nomad-Index"), std::to_string(j["ModifyIndex"].get<uint64_t>()));
  // Key order of the lock: TTL, LockDelay, ID.
  EXPECT_NE(r.body.find(R"("Lock":{"TTL":"15s","LockDelay":"15s","ID":")"), std::string::npos);
}

TEST_F(VarsTest, AcquireWithClientIdAndNanosecondDurations) {
  Reply r = Do("PUT /v1/var/a?lock-acquire",
               R"({"Lock":{"TTL":20000000000,"LockDelay":"1m","ID":"my-id"}})");
  EXPECT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["Lock"]["ID"], "my-id");
  EXPECT_EQ(j["Lock"]["TTL"], "20s");
  EXPECT_EQ(j["Lock"]["LockDelay"], "1m0s");
}

TEST_F(VarsTest, AcquireOverwritesItemsEvenWithNone) {
  ASSERT_EQ(Do("PUT /v1/var/a", R"({"Items":{"keep":"me"}})").status, 200);
  Acquire("a");  // body {"Lock":{}}: no Items
  EXPECT_TRUE(vars_.Find("default", "a")->items.empty());
  Reply g = Do("GET /v1/var/a");
  EXPECT_FALSE(json::parse(g.body).contains("Items"));
}

TEST_F(VarsTest, AcquireConflictIs409ZeroValuedWithoutIndex) {
  Acquire("a");
  Reply r = Do("PUT /v1/var/a?lock-acquire", R"({"Lock":{}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, ZeroBody("a"));
  EXPECT_EQ(r.content_type, kText);
  EXPECT_FALSE(r.HasHeader("X-Nomad-Index"));
}

TEST_F(VarsTest, AcquireWithSameIdSucceedsAndDoesNotResetTimer) {
  std::string id = Acquire("a", R"({"TTL":"10s"})");
  core_.AdvanceBy(15s);
  Reply r = Do("PUT /v1/var/a?lock-acquire", R"({"Items":{"x":"y"},"Lock":{"TTL":"10s","ID":")" +
                                                 id + R"("}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(vars_.Find("default", "a")->items.at("x"), "y");
  core_.AdvanceBy(5s);  // 20s = 2×TTL after the first acquire: the timer was not reset
  EXPECT_TRUE(vars_.LockExpired("default", "a"));
}

TEST_F(VarsTest, AcquireTtlMustBeWithin10sAnd24h) {
  const std::string kErr = "1 error occurred:\n\t* TTL must be between 10 seconds and 24 hours\n\n";
  Reply low = Do("PUT /v1/var/a?lock-acquire", R"({"Lock":{"TTL":"9s"}})");
  EXPECT_EQ(low.status, 500);
  EXPECT_EQ(low.body, kErr);
  Reply high = Do("PUT /v1/var/b?lock-acquire", R"({"Lock":{"TTL":"24h0m1s"}})");
  EXPECT_EQ(high.status, 500);
  EXPECT_EQ(high.body, kErr);
  EXPECT_EQ(Do("PUT /v1/var/c?lock-acquire", R"({"Lock":{"TTL":"10s"}})").status, 200);
  EXPECT_EQ(Do("PUT /v1/var/d?lock-acquire", R"({"Lock":{"TTL":"24h"}})").status, 200);
}

TEST_F(VarsTest, AcquireLockDelayHasNoBoundButMustNotBeNegative) {
  EXPECT_EQ(Do("PUT /v1/var/a?lock-acquire", R"({"Lock":{"LockDelay":"48h"}})").status, 200);
  Reply neg = Do("PUT /v1/var/b?lock-acquire", R"({"Lock":{"LockDelay":"-1s"}})");
  EXPECT_EQ(neg.status, 500);
  EXPECT_EQ(neg.body, "1 error occurred:\n\t* Lock delay and TTL must be positive\n\n");
}

TEST_F(VarsTest, AcquireTurnsAZeroLockDelayIntoFifteenSeconds) {
  // VariableLock.Canonicalize (nomad/structs/variables.go): 0 is "unset", so a lock asked for with
  // LockDelay 0 (string or number) is held 15s past its TTL timer.
  for (const char* zero : {R"("0s")", "0"}) {
    const std::string path = std::string("z") + (zero[0] == '"' ? "s" : "n");
    Reply r = Do("PUT /v1/var/" + path + "?lock-acquire",
                 std::string(R"({"Lock":{"TTL":"10s","LockDelay":)") + zero + "}}");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["Lock"]["LockDelay"], "15s") << zero;
  }
}

TEST_F(VarsTest, AcquireRejectedWhileExpiredLockIsInItsDelay) {
  Acquire("a");
  core_.AdvanceBy(31s);  // 2×TTL passed; LockDelay (15s) still running
  ASSERT_TRUE(vars_.LockExpired("default", "a"));
  Reply r = Do("PUT /v1/var/a?lock-acquire", R"({"Lock":{}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, ZeroBody("a"));
}

// ---- §2.7 renew -----------------------------------------------------------------------------

TEST_F(VarsTest, RenewSucceedsWithoutIndexHeaderOrModifyIndexChange) {
  std::string id = Acquire("a");
  uint64_t mi = ModifyIndex("a");
  uint64_t raft = core_.Index();
  Reply r = Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + id + R"("}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, kJson);
  EXPECT_FALSE(r.HasHeader("X-Nomad-Index"));
  json j = json::parse(r.body);
  EXPECT_EQ(j["Lock"]["ID"], id);
  EXPECT_EQ(j["ModifyIndex"], mi);
  EXPECT_EQ(ModifyIndex("a"), mi);
  EXPECT_EQ(core_.Index(), raft);  // not a Raft write
}

TEST_F(VarsTest, RenewWithoutLockIdIs500MultiError) {
  Acquire("a");
  Reply r = Do("PUT /v1/var/a?lock-renew", R"({"Lock":{}})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "1 error occurred:\n\t* missing lock ID\n\n");
}

TEST_F(VarsTest, RenewMissingVariableIs404PlainText) {
  Reply r = Do("PUT /v1/var/nope?lock-renew", R"({"Lock":{"ID":"x"}})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "variable doesn't exist");
  EXPECT_EQ(r.content_type, kText);
  EXPECT_FALSE(r.HasHeader("X-Nomad-Index"));
}

TEST_F(VarsTest, RenewUnlockedVariableIs409DoesntHoldALock) {
  ASSERT_EQ(Do("PUT /v1/var/a", R"({"Items":{"k":"v"}})").status, 200);
  Reply r = Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":"x"}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "variable doesn't hold a lock");
  EXPECT_EQ(r.content_type, kText);
}

TEST_F(VarsTest, RenewWrongIdIs409AttemptingToModifyLockedVariable) {
  Acquire("a");
  Reply r = Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":"not-the-id"}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "attempting to modify locked variable");
  EXPECT_FALSE(r.HasHeader("X-Nomad-Index"));
}

TEST_F(VarsTest, RenewAfterTimerExpiredIs409) {
  std::string id = Acquire("a");
  core_.AdvanceBy(30s);  // exactly 2×TTL
  Reply r = Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + id + R"("}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "attempting to modify locked variable");
}

TEST_F(VarsTest, RenewResetsTimerToTwiceStoredTtl) {
  std::string id = Acquire("a");
  core_.AdvanceBy(25s);
  ASSERT_EQ(Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + id + R"("}})").status, 200);
  core_.AdvanceBy(29s);  // 54s after acquire, 29s after the renew
  EXPECT_FALSE(vars_.LockExpired("default", "a"));
  EXPECT_EQ(Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + id + R"("}})").status, 200);
  core_.AdvanceBy(30s);
  EXPECT_TRUE(vars_.LockExpired("default", "a"));
}

TEST_F(VarsTest, RenewIgnoresBodyNamespace) {
  std::string id = Acquire("a");  // in "default"
  Reply r = Do("PUT /v1/var/a?lock-renew",
               R"({"Namespace":"other","Lock":{"ID":")" + id + R"("}})");
  EXPECT_EQ(r.status, 200);
  Reply other = Do("PUT /v1/var/a?lock-renew&namespace=other", R"({"Lock":{"ID":")" + id + R"("}})");
  EXPECT_EQ(other.status, 404);
}

// ---- §2.7 release ---------------------------------------------------------------------------

TEST_F(VarsTest, ReleaseKeepsItemsClearsLockBumpsModifyIndex) {
  Reply a = Do("PUT /v1/var/a?lock-acquire", R"({"Items":{"k":"v"},"Lock":{}})");
  std::string id = json::parse(a.body)["Lock"]["ID"];
  uint64_t mi = ModifyIndex("a");
  Reply r = Do("PUT /v1/var/a?lock-release", R"({"Lock":{"ID":")" + id + R"("},"Items":null})");
  EXPECT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_FALSE(j.contains("Lock"));
  EXPECT_FALSE(j.contains("Items"));  // echoes the request's (absent) Items
  EXPECT_GT(j["ModifyIndex"].get<uint64_t>(), mi);
  EXPECT_EQ(r.HeaderValue("X-Nomad-Index"), std::to_string(j["ModifyIndex"].get<uint64_t>()));
  const nomad::Variable* v = vars_.Find("default", "a");
  EXPECT_FALSE(v->lock.has_value());
  EXPECT_EQ(v->items.at("k"), "v");
}

TEST_F(VarsTest, ReleaseWithItemsIs400) {
  std::string id = Acquire("a");
  Reply r = Do("PUT /v1/var/a?lock-release", R"({"Lock":{"ID":")" + id + R"("},"Items":{}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "lock release operation doesn't take variable items");
}

TEST_F(VarsTest, ReleaseWithoutLockIdIs400) {
  Acquire("a");
  EXPECT_EQ(Do("PUT /v1/var/a?lock-release", "{}").body, "missing lock information");
  Reply r = Do("PUT /v1/var/a?lock-release", R"({"Lock":{"ID":""}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "missing lock information");
}

TEST_F(VarsTest, ReleaseWrongIdIs409ZeroValuedWithoutIndex) {
  Acquire("a");
  Reply r = Do("PUT /v1/var/a?lock-release", R"({"Lock":{"ID":"wrong"}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, ZeroBody("a"));  // a management caller can read: no Lock in the body
  EXPECT_EQ(r.content_type, kText);
  EXPECT_FALSE(r.HasHeader("X-Nomad-Index"));
}

TEST_F(VarsTest, ReleaseMissingVariableIs500) {
  Reply r = Do("PUT /v1/var/nope?lock-release", R"({"Lock":{"ID":"x"}})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "variable doesn't exist");
}

TEST_F(VarsTest, ReleaseUnlockedVariableIs500) {
  ASSERT_EQ(Do("PUT /v1/var/a", R"({"Items":{"k":"v"}})").status, 200);
  Reply r = Do("PUT /v1/var/a?lock-release", R"({"Lock":{"ID":"x"}})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "variable doesn't hold a lock");
}

TEST_F(VarsTest, ReleaseLetsAnotherCallerAcquireAtOnce) {
  std::string id = Acquire("a");
  ASSERT_EQ(Do("PUT /v1/var/a?lock-release", R"({"Lock":{"ID":")" + id + R"("}})").status, 200);
  std::string id2 = Acquire("a");
  EXPECT_NE(id, id2);
}

// ---- §2.8 lifecycle -------------------------------------------------------------------------

TEST_F(VarsTest, TimelineWithDefaults) {
  std::string id = Acquire("a");
  core_.AdvanceBy(30s - 1ns);
  EXPECT_FALSE(vars_.LockExpired("default", "a"));
  core_.AdvanceBy(1ns);  // 30s: 2×TTL
  EXPECT_TRUE(vars_.LockExpired("default", "a"));
  EXPECT_EQ(Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + id + R"("}})").status, 409);
  EXPECT_EQ(Do("PUT /v1/var/a?lock-acquire", R"({"Lock":{}})").status, 409);
  // The lock is still visible to a management token during the delay.
  EXPECT_TRUE(json::parse(Do("GET /v1/var/a").body).contains("Lock"));
  uint64_t mi = ModifyIndex("a");
  core_.AdvanceBy(15s - 1ns);
  EXPECT_TRUE(vars_.Find("default", "a")->lock.has_value());
  core_.AdvanceBy(1ns);  // 45s = 2×TTL + LockDelay: a Raft write clears the lock
  EXPECT_FALSE(vars_.Find("default", "a")->lock.has_value());
  EXPECT_GT(ModifyIndex("a"), mi);
  EXPECT_EQ(Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + id + R"("}})").body,
            "variable doesn't hold a lock");
  EXPECT_EQ(Do("PUT /v1/var/a?lock-acquire", R"({"Lock":{}})").status, 200);
}

TEST_F(VarsTest, ExpiryClearKeepsItemsAndEmitsVariableUpdated) {
  Do("PUT /v1/var/a?lock-acquire", R"({"Items":{"k":"v"},"Lock":{}})");
  uint64_t sub = core_.Events().Subscribe(SubscribeRequest{{{"Variable", {"*"}}}, {"default"},
                                                           core_.Index() + 1});
  core_.Events().Drain(sub);  // index beyond the newest entry replays the newest (§4.5)
  core_.AdvanceBy(45s);
  std::vector<nomad::Frame> frames = core_.Events().Drain(sub);
  ASSERT_EQ(frames.size(), 1u);
  const nomad::Event& ev = frames[0].events.at(0);
  EXPECT_EQ(ev.topic, "Variable");
  EXPECT_EQ(ev.type, "VariableUpdated");
  EXPECT_EQ(ev.key, "a");
  EXPECT_FALSE(ev.deleted);
  ASSERT_TRUE(ev.variable.has_value());
  EXPECT_FALSE(ev.variable->lock.has_value());
  EXPECT_TRUE(ev.variable->items.empty());  // metadata only
  EXPECT_EQ(vars_.Find("default", "a")->items.at("k"), "v");
}

TEST_F(VarsTest, EventsCarryLockAndDeleted) {
  uint64_t sub = core_.Events().Subscribe(SubscribeRequest{{{"Variable", {"*"}}}, {"*"}, 0});
  std::string id = Acquire("a");
  Do("PUT /v1/var/a?lock-release", R"({"Lock":{"ID":")" + id + R"("}})");
  Do("DELETE /v1/var/a");
  std::vector<nomad::Frame> frames = core_.Events().Drain(sub);
  ASSERT_EQ(frames.size(), 3u);
  ASSERT_TRUE(frames[0].events[0].variable->lock.has_value());
  EXPECT_EQ(frames[0].events[0].variable->lock->id, id);
  EXPECT_FALSE(frames[1].events[0].variable->lock.has_value());
  EXPECT_TRUE(frames[2].events[0].deleted);
  EXPECT_EQ(frames[2].index, core_.Index());
}

TEST_F(VarsTest, LeaderFailoverGivesEveryLockAFreshLease) {
  std::string id = Acquire("a");
  core_.AdvanceBy(25s);
  vars_.RestoreLockTimers();
  core_.AdvanceBy(29s);
  EXPECT_FALSE(vars_.LockExpired("default", "a"));
  EXPECT_EQ(Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + id + R"("}})").status, 200);
}

// Nomad's stale delay timer (nomad/locks.go, v1.10.2–v2.0.5) is reproduced by default: an old
// holder that releases during its LockDelay lets a new holder acquire, and the delay callback
// then clears the new holder's lock.
TEST_F(VarsTest, StaleDelayTimerClearsNewHoldersLock) {
  std::string old_id = Acquire("a");
  core_.AdvanceBy(31s);  // expired, in delay until 45s
  ASSERT_EQ(Do("PUT /v1/var/a?lock-release", R"({"Lock":{"ID":")" + old_id + R"("}})").status,
            200);
  std::string new_id = Acquire("a");
  core_.AdvanceBy(15s);
  EXPECT_FALSE(vars_.Find("default", "a")->lock.has_value());
  Reply r = Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + new_id + R"("}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "variable doesn't hold a lock");
}

// A new leader answers renewals with 409 until it restores the lock timers; the lock stays
// stored (no write), and the restore gives it a fresh 2×TTL.
TEST_F(VarsTest, LeaderElectionRenewsConflictUntilTheTimersAreRestored) {
  std::string id = Acquire("a");
  const uint64_t index = vars_.Find("default", "a")->modify_index;
  core_.AdvanceBy(5s);
  vars_.BeginLeaderElection(2s);
  Reply r = Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + id + R"("}})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(vars_.Find("default", "a")->modify_index, index);
  EXPECT_EQ(vars_.Find("default", "a")->lock->id, id);
  core_.AdvanceBy(2s);
  EXPECT_EQ(Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + id + R"("}})").status, 200);
}

class VarsNoRaceTest : public RouterFixture {
 protected:
  VarsNoRaceTest() : RouterFixture(AclState::Options{}, Variables::Options{false, false}) {}
};

TEST_F(VarsNoRaceTest, WithoutTheRaceAReleaseCancelsTheDelayTimer) {
  auto acquire = [&] {
    return json::parse(Do("PUT /v1/var/a?lock-acquire", R"({"Lock":{}})").body)["Lock"]["ID"]
        .get<std::string>();
  };
  std::string old_id = acquire();
  core_.AdvanceBy(31s);
  ASSERT_EQ(Do("PUT /v1/var/a?lock-release", R"({"Lock":{"ID":")" + old_id + R"("}})").status,
            200);
  std::string new_id = acquire();
  core_.AdvanceBy(15s);
  ASSERT_TRUE(vars_.Find("default", "a")->lock.has_value());
  EXPECT_EQ(Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + new_id + R"("}})").status, 200);
}

class VarsTtlResetTest : public RouterFixture {
 protected:
  VarsTtlResetTest() : RouterFixture(AclState::Options{}, Variables::Options{true, true}) {}
};

TEST_F(VarsTtlResetTest, SetWithLockIdResetsStoredTtlWhenEnabled) {
  Reply a = Do("PUT /v1/var/a?lock-acquire", R"({"Lock":{"TTL":"1m","LockDelay":"1m"}})");
  std::string id = json::parse(a.body)["Lock"]["ID"];
  Reply r = Do("PUT /v1/var/a", R"({"Items":{"k":"v"},"Lock":{"ID":")" + id + R"("}})");
  EXPECT_EQ(json::parse(r.body)["Lock"]["TTL"], "15s");
  // Renewals now read 15s from state: the timer becomes 30s.
  ASSERT_EQ(Do("PUT /v1/var/a?lock-renew", R"({"Lock":{"ID":")" + id + R"("}})").status, 200);
  core_.AdvanceBy(30s);
  EXPECT_TRUE(vars_.LockExpired("default", "a"));
}

// ---- ACLs (§2.2, §2.8, §8.3) ----------------------------------------------------------------

class VarsAclTest : public RouterFixture {
 protected:
  VarsAclTest() : RouterFixture(AclState::Options{true, "mgmt"}) {
    nomad::AclPolicy p;
    p.name = "lock";
    p.rules = R"(namespace "default" {
      variables {
        path "nomad/jobs/example/lock" { capabilities = ["write", "read", "list"] }
        path "nomad/jobs/example/wo" { capabilities = ["write"] }
      }
    })";
    p.job_acl = nomad::JobAcl{"default", "example", "", ""};
    EXPECT_TRUE(acl_.UpsertPolicy(p).ok());
    wi_ = acl_.IssueWorkloadToken("default", "example", "app", "lock", "alloc-1");
  }
  std::string wi_;
};

TEST_F(VarsAclTest, NoTokenIsPermissionDenied) {
  Reply r = Do("GET /v1/var/nomad/jobs/example/lock");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "Permission denied");
  EXPECT_EQ(Do("GET /v1/var/x", "", "unknown-token").status, 403);
}

TEST_F(VarsAclTest, WorkloadLocksWithJobAclPolicy) {
  Reply a = Do("PUT /v1/var/nomad/jobs/example/lock?lock-acquire", R"({"Lock":{}})", wi_);
  ASSERT_EQ(a.status, 200);
  std::string id = json::parse(a.body)["Lock"]["ID"];
  Reply renew = Do("PUT /v1/var/nomad/jobs/example/lock?lock-renew",
                   R"({"Lock":{"ID":")" + id + R"("}})", wi_);
  EXPECT_EQ(renew.status, 200);
  EXPECT_TRUE(json::parse(renew.body).contains("Lock"));  // renew always shows the lock
}

TEST_F(VarsAclTest, GetHidesLockFromNonManagement) {
  Do("PUT /v1/var/nomad/jobs/example/lock?lock-acquire", R"({"Lock":{}})", wi_);
  EXPECT_FALSE(json::parse(Do("GET /v1/var/nomad/jobs/example/lock", "", wi_).body)
                   .contains("Lock"));
  EXPECT_TRUE(json::parse(Do("GET /v1/var/nomad/jobs/example/lock", "", "mgmt").body)
                  .contains("Lock"));
  json list = json::parse(Do("GET /v1/vars", "", wi_).body);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].contains("Lock"));
  EXPECT_TRUE(json::parse(Do("GET /v1/vars", "", "mgmt").body)[0].contains("Lock"));
}

TEST_F(VarsAclTest, WorkloadImplicitAccessIsReadOnly) {
  ASSERT_EQ(Do("PUT /v1/var/nomad/jobs/example", R"({"Items":{"k":"v"}})", "mgmt").status, 200);
  EXPECT_EQ(Do("GET /v1/var/nomad/jobs/example", "", wi_).status, 200);
  Reply w = Do("PUT /v1/var/nomad/jobs/example", R"({"Items":{"k":"w"}})", wi_);
  EXPECT_EQ(w.status, 403);
  EXPECT_EQ(Do("PUT /v1/var/nomad/jobs/example?lock-acquire", R"({"Lock":{}})", wi_).status,
            403);
}

TEST_F(VarsAclTest, WriteWithoutReadGetsRedactedConflicts) {
  ASSERT_EQ(Do("PUT /v1/var/nomad/jobs/example/wo", R"({"Items":{"k":"v"}})", wi_).status, 200);
  EXPECT_EQ(Do("GET /v1/var/nomad/jobs/example/wo", "", wi_).status, 403);
  Reply c = Do("PUT /v1/var/nomad/jobs/example/wo?cas=0", R"({"Items":{"k":"w"}})", wi_);
  EXPECT_EQ(c.status, 409);
  EXPECT_FALSE(json::parse(c.body).contains("Items"));  // VarOpResultRedacted
}

TEST_F(VarsAclTest, ReleaseConflictShowsEmptyLockToNonReaders) {
  Reply a = Do("PUT /v1/var/nomad/jobs/example/wo?lock-acquire", R"({"Lock":{}})", wi_);
  ASSERT_EQ(a.status, 200);
  Reply r = Do("PUT /v1/var/nomad/jobs/example/wo?lock-release", R"({"Lock":{"ID":"x"}})", wi_);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body,
            R"({"Namespace":"default","Path":"nomad/jobs/example/wo","Lock":{"TTL":"","LockDelay":"","ID":""},"CreateIndex":0,"CreateTime":0,"ModifyIndex":0,"ModifyTime":0})");
}

TEST_F(VarsAclTest, ListFiltersByListCapability) {
  ASSERT_EQ(Do("PUT /v1/var/nomad/jobs/example/lock", R"({"Items":{"k":"v"}})", "mgmt").status,
            200);
  ASSERT_EQ(Do("PUT /v1/var/secret", R"({"Items":{"k":"v"}})", "mgmt").status, 200);
  json list = json::parse(Do("GET /v1/vars", "", wi_).body);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["Path"], "nomad/jobs/example/lock");
}

}  // namespace
}  // namespace nsg::sim
