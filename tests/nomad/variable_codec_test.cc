#include <gtest/gtest.h>

#include <string>

#include "controller/nomad/codec.h"
#include "tests/nomad/test_util.h"

namespace nsg::nomad {
namespace {

using namespace std::chrono_literals;

using base::StatusCode;
using testing::ReadFixture;

// Fixture files end with a newline; encoders do not.
std::string Line(std::string_view name) {
  std::string s = ReadFixture(name);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

constexpr char kLockId[] = "4a1c5f2e-9d7b-4c1a-8e3f-2b6d0a9c7e51";

TEST(VariableCodecTest, AcquireResponseIsByteExact) {
  Variable v;
  v.namespace_ = "default";
  v.path = "nomad/jobs/example/lock";
  v.lock = VariableLock{.ttl = 15s, .lock_delay = 15s, .id = kLockId};
  v.create_index = v.modify_index = 120;
  v.create_time = v.modify_time = 1724311221338012000;
  EXPECT_EQ(EncodeVariable(v), Line("variable_acquire_response.json"));
  auto back = DecodeVariable(Line("variable_acquire_response.json"));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, v);
}

TEST(VariableCodecTest, ReleaseResponseAndItemsAreByteExact) {
  auto released = DecodeVariable(ReadFixture("variable_release_response.json"));
  ASSERT_TRUE(released.ok());
  EXPECT_FALSE(released->lock.has_value());
  EXPECT_TRUE(released->items.empty());
  EXPECT_EQ(released->modify_index, 131u);
  EXPECT_EQ(EncodeVariable(*released), Line("variable_release_response.json"));

  auto with_items = DecodeVariable(ReadFixture("variable_with_items.json"));
  ASSERT_TRUE(with_items.ok());
  EXPECT_EQ(with_items->items, (StringMap{{"holder", "alloc-1"}, {"k", "v"}}));
  EXPECT_EQ(with_items->lock->ttl, 1min);
  EXPECT_EQ(with_items->lock->lock_delay, 0s);  // "" is zero
  EXPECT_EQ(EncodeVariable(*with_items), Line("variable_with_items.json"));
}

TEST(VariableCodecTest, DecodesLockRequests) {
  auto acquire = DecodeVariable(ReadFixture("variable_acquire_request.json"));
  ASSERT_TRUE(acquire.ok());
  ASSERT_TRUE(acquire->lock.has_value());
  EXPECT_EQ(acquire->lock->ttl, 15s);
  EXPECT_EQ(acquire->lock->lock_delay, 15s);
  EXPECT_EQ(acquire->lock->id, "");
  EXPECT_TRUE(acquire->items.empty());
  auto renew = DecodeVariable(ReadFixture("variable_renew_request.json"));
  ASSERT_TRUE(renew.ok());
  EXPECT_EQ(renew->lock, (VariableLock{.id = kLockId}));
}

TEST(VariableCodecTest, LockDurationsAreStringsOutAndStringOrNanosecondsIn) {
  auto v = DecodeVariable(R"({"Lock":{"TTL":30000000000,"LockDelay":"1m30s","ID":"x"}})");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->lock->ttl, 30s);
  EXPECT_EQ(v->lock->lock_delay, 90s);
  const std::string json = EncodeVariable(*v);
  EXPECT_EQ(testing::JsonAt(json, "Lock"), R"({"TTL":"30s","LockDelay":"1m30s","ID":"x"})");
  auto nulls = DecodeVariable(R"({"Lock":{"TTL":null,"LockDelay":0}})");
  ASSERT_TRUE(nulls.ok());
  EXPECT_EQ(nulls->lock, VariableLock{});
  Variable minute;
  minute.lock = VariableLock{.ttl = 60s, .lock_delay = 1500ms, .id = ""};
  EXPECT_EQ(testing::JsonAt(EncodeVariable(minute), "Lock"),
            R"({"TTL":"1m0s","LockDelay":"1.5s","ID":""})");

  auto bad = DecodeVariable(R"({"Lock":{"TTL":"15"}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidSpec);
  EXPECT_EQ(bad.status().message().rfind("Variable.Lock.TTL: invalid duration \"15\"", 0), 0u)
      << bad.status().message();
  auto wrong = DecodeVariable(R"({"Lock":{"LockDelay":true}})");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(),
            "Variable.Lock.LockDelay: expected a duration string or a number of nanoseconds");
}

TEST(VariableCodecTest, ConflictBodiesAreZeroValuedVariables) {
  EXPECT_EQ(EncodeZeroVariable("default", "nomad/jobs/example/lock"), Line("variable_conflict.json"));
  EXPECT_EQ(EncodeZeroVariable("prod", "p", /*with_empty_lock=*/true),
            R"({"Namespace":"prod","Path":"p","Lock":{"TTL":"","LockDelay":"","ID":""},)"
            R"("CreateIndex":0,"CreateTime":0,"ModifyIndex":0,"ModifyTime":0})");
  // The same through EncodeVariable.
  Variable v;
  v.namespace_ = "default";
  v.path = "nomad/jobs/example/lock";
  EXPECT_EQ(EncodeVariable(v), Line("variable_conflict.json"));
}

TEST(VariableCodecTest, ListsCarryMetadataOnly) {
  Variable a;
  a.namespace_ = "default";
  a.path = "a";
  a.items = {{"k", "v"}};
  Variable b = a;
  b.path = "b";
  b.lock = VariableLock{.ttl = 15s, .lock_delay = 15s, .id = "id"};
  const std::string list = EncodeVariableList({a, b});
  EXPECT_EQ(list,
            R"([{"Namespace":"default","Path":"a","CreateIndex":0,"CreateTime":0,"ModifyIndex":0,)"
            R"("ModifyTime":0},{"Namespace":"default","Path":"b","Lock":{"TTL":"15s",)"
            R"("LockDelay":"15s","ID":"id"},"CreateIndex":0,"CreateTime":0,"ModifyIndex":0,)"
            R"("ModifyTime":0}])");
  auto back = DecodeVariableList(list);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  a.items.clear();
  b.items.clear();
  EXPECT_EQ((*back)[0], a);
  EXPECT_EQ((*back)[1], b);
  EXPECT_EQ(EncodeVariableList({}), "[]");
  auto bad = DecodeVariableList(R"([{},{"Items":{"k":1}}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "Variables[1].Items.k: expected a string");
  auto not_list = DecodeVariableList("{}");
  ASSERT_FALSE(not_list.ok());
  EXPECT_EQ(not_list.status().message(), "Variables: expected an array");
}

TEST(VariableCodecTest, RoundTripsAndToleratesNulls) {
  Variable v;
  v.namespace_ = "ns";
  v.path = "nomad/jobs/x";
  v.items = {{"a", "1"}, {"b", ""}};
  v.lock = VariableLock{.ttl = 24h, .lock_delay = 0s, .id = "id"};
  v.create_index = 1;
  v.create_time = 2;
  v.modify_index = 3;
  v.modify_time = 4;
  auto back = DecodeVariable(EncodeVariable(v, {.pretty = true}));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, v);
  auto nulls = DecodeVariable(
      R"({"Namespace":null,"Path":null,"Lock":null,"Items":null,"CreateIndex":null,)"
      R"("CreateTime":null,"ModifyIndex":null,"ModifyTime":null,"Extra":1})");
  ASSERT_TRUE(nulls.ok());
  EXPECT_EQ(*nulls, Variable{});
}

}  // namespace
}  // namespace nsg::nomad
