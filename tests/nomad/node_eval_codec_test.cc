#include <gtest/gtest.h>

#include <string>

#include "controller/nomad/codec.h"
#include "tests/nomad/test_util.h"

namespace nsg::nomad {
namespace {

using namespace std::chrono_literals;

using base::StatusCode;
using testing::JsonAt;
using testing::JsonKeys;
using testing::ReadFixture;

Node SomeNode() {
  Node n;
  n.id = "n1";
  n.name = "client-1";
  n.datacenter = "dc1";
  n.node_pool = "default";
  n.address = "10.0.0.11";
  n.status = kNodeDown;
  n.status_description = "node heartbeat missed";
  n.scheduling_eligibility = "ineligible";
  n.drain = true;
  n.status_updated_at = 1724311221;  // seconds
  n.create_index = 12;
  n.modify_index = 4100;
  return n;
}

TEST(NodeCodecTest, DecodesANodeStubListFixture) {
  auto nodes = DecodeNodeList(ReadFixture("node_stub_list.json"));
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  ASSERT_EQ(nodes->size(), 2u);
  const Node& a = (*nodes)[0];
  EXPECT_EQ(a.address, "10.0.0.11");
  EXPECT_EQ(a.id, "5b1e0d2c-7f3a-4b9e-a1c2-d3e4f5a6b7c8");
  EXPECT_EQ(a.status, kNodeReady);
  EXPECT_EQ(a.scheduling_eligibility, "eligible");
  EXPECT_FALSE(a.drain);
  EXPECT_EQ(a.modify_index, 4100u);
  const Node& b = (*nodes)[1];
  EXPECT_EQ(b.status, kNodeDown);
  EXPECT_TRUE(b.drain);
  EXPECT_EQ(b.status_description, "node heartbeat missed");
}

TEST(NodeCodecTest, StubHasTheNodeListStubKeys) {
  const std::string json = EncodeNodeStub(SomeNode());
  EXPECT_EQ(JsonKeys(json),
            (std::vector<std::string>{"Address", "ID", "Datacenter", "Name", "NodePool",
                                      "NodeClass", "Version", "Drain", "SchedulingEligibility",
                                      "Status", "StatusDescription", "Drivers", "HostVolumes",
                                      "LastDrain", "CreateIndex", "ModifyIndex"}));
  EXPECT_EQ(JsonAt(json, "Address"), R"("10.0.0.11")");
  auto back = DecodeNodeList(EncodeNodeList({SomeNode(), Node{}}));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  Node want = SomeNode();
  want.status_updated_at = 0;  // not in a stub
  EXPECT_EQ((*back)[0], want);
  EXPECT_EQ((*back)[1], Node{});
}

TEST(NodeCodecTest, FullNodeRoundTrips) {
  const Node n = SomeNode();
  const std::string json = EncodeNode(n);
  EXPECT_EQ(JsonAt(json, "HTTPAddr"), R"("10.0.0.11:4646")");
  EXPECT_EQ(JsonAt(json, "StatusUpdatedAt"), "1724311221");
  EXPECT_EQ(JsonAt(json, "Drain"), "true");
  EXPECT_NE(JsonAt(json, "DrainStrategy"), "null");
  auto back = DecodeNode(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, n);

  Node v6 = n;
  v6.address = "::1";
  v6.drain = false;
  const std::string json6 = EncodeNode(v6);
  EXPECT_EQ(JsonAt(json6, "HTTPAddr"), R"("[::1]:4646")");
  EXPECT_EQ(JsonAt(json6, "DrainStrategy"), "null");
  auto back6 = DecodeNode(json6);
  ASSERT_TRUE(back6.ok());
  EXPECT_EQ(*back6, v6);
}

TEST(NodeCodecTest, DrainFallsBackToDrainStrategy) {
  auto draining = DecodeNode(R"({"HTTPAddr":"10.1.2.3:4646","DrainStrategy":{"Deadline":0}})");
  ASSERT_TRUE(draining.ok());
  EXPECT_TRUE(draining->drain);
  EXPECT_EQ(draining->address, "10.1.2.3");
  auto legacy = DecodeNode(R"({"Drain":false,"DrainStrategy":{"Deadline":0}})");
  ASSERT_TRUE(legacy.ok());
  EXPECT_FALSE(legacy->drain);  // the explicit legacy bool wins
  auto nulls = DecodeNode(R"({"ID":null,"DrainStrategy":null,"SchedulingEligibility":null})");
  ASSERT_TRUE(nulls.ok());
  EXPECT_EQ(*nulls, Node{});
  auto bad = DecodeNodeList(R"([{"StatusUpdatedAt":"now"}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "Nodes[0].StatusUpdatedAt: expected a number");
}

Evaluation SomeEval() {
  Evaluation e;
  e.id = "e1";
  e.namespace_ = "default";
  e.priority = 50;
  e.type = "service";
  e.triggered_by = "alloc-failure";
  e.job_id = "example";
  e.node_id = "n1";
  e.status = "pending";
  e.previous_eval = "e0";
  e.next_eval = "e2";
  e.wait_until = 1704164645500000000;
  e.create_index = 1;
  e.modify_index = 2;
  e.create_time = 3;
  e.modify_time = 4;
  return e;
}

TEST(EvaluationCodecTest, RoundTripsInBothModes) {
  for (bool omit : {false, true}) {
    const std::string json = EncodeEvaluation(SomeEval(), {.omit_empty = omit});
    EXPECT_EQ(JsonAt(json, "WaitUntil"), R"("2024-01-02T03:04:05.5Z")");
    auto back = DecodeEvaluation(json);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, SomeEval());
  }
}

TEST(EvaluationCodecTest, OmitEmptyLeavesOutZeroFields) {
  Evaluation e;
  e.id = "e1";
  e.status = "complete";
  EXPECT_EQ(EncodeEvaluation(e, {.omit_empty = true}), R"({"ID":"e1","Status":"complete"})");
  const std::string all = EncodeEvaluation(e);
  EXPECT_EQ(JsonKeys(all),
            (std::vector<std::string>{"ID", "Namespace", "Priority", "Type", "TriggeredBy",
                                      "JobID", "NodeID", "Status", "WaitUntil", "NextEval",
                                      "PreviousEval", "CreateIndex", "ModifyIndex", "CreateTime",
                                      "ModifyTime"}));
  EXPECT_EQ(JsonAt(all, "WaitUntil"), R"("0001-01-01T00:00:00Z")");
  auto back = DecodeEvaluation(all);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, e);
  auto list = DecodeEvaluationList(EncodeEvaluationList({e, SomeEval()}, {.omit_empty = true}));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1], SomeEval());
}

TEST(EvaluationCodecTest, AcceptsNullTimesAndReportsBadOnes) {
  auto e = DecodeEvaluation(R"({"ID":"e","WaitUntil":null,"Priority":null})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->wait_until, 0);
  auto bad = DecodeEvaluation(R"({"WaitUntil":5})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidSpec);
  EXPECT_EQ(bad.status().message(), "Evaluation.WaitUntil: expected an RFC 3339 time string");
}

TEST(WriteResultCodecTest, RegisterResponseShape) {
  WriteResult w{.eval_id = "c1d3", .eval_create_index = 57, .job_modify_index = 57,
                .warnings = "", .index = 57};
  EXPECT_EQ(EncodeWriteResult(w),
            R"({"EvalID":"c1d3","EvalCreateIndex":57,"JobModifyIndex":57,"Warnings":"",)"
            R"("Index":57,"LastContact":0,"KnownLeader":false,"NextToken":""})");
  auto back = DecodeWriteResult(EncodeWriteResult(w));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->eval_id, "c1d3");
  EXPECT_EQ(back->index, 57u);
  auto stop = DecodeWriteResult(R"({"EvalID":"e9","Index":12})");  // alloc stop
  ASSERT_TRUE(stop.ok());
  EXPECT_EQ(stop->eval_id, "e9");
  EXPECT_EQ(stop->index, 12u);
  EXPECT_EQ(stop->job_modify_index, 0u);
}

}  // namespace
}  // namespace nsg::nomad
