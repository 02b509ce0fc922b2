#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "controller/nomad/codec.h"
#include "tests/nomad/test_util.h"

namespace nsg::nomad {
namespace {

using namespace std::chrono_literals;

using base::StatusCode;
using testing::JsonAt;
using testing::JsonKeys;
using testing::ReadFixture;

Allocation FullAllocation() {
  Allocation a;
  a.id = "a1";
  a.eval_id = "e1";
  a.name = "example.app[0]";
  a.namespace_ = "default";
  a.node_id = "n1";
  a.node_name = "client-1";
  a.job_id = "example";
  a.task_group = "app";
  a.desired_status = kDesiredStop;
  a.desired_description = "alloc is being migrated";
  a.desired_transition.migrate = true;
  a.desired_transition.no_shutdown_delay = false;
  a.client_status = kClientComplete;
  a.client_description = "All tasks have completed";
  TaskState s;
  s.state = "dead";
  s.failed = true;
  s.restarts = 3;
  s.last_restart = 1704164645100000000;
  s.started_at = 1704164640000000001;
  s.finished_at = 1704164650000000000;
  s.events.push_back(TaskEvent{.type = "Terminated", .time = 1704164650000000000,
                               .display_message = "Exit Code: 1", .message = "m", .exit_code = 1,
                               .signal = 9, .fails_task = true,
                               .details = {{"exit_code", "1"}}});
  s.events.push_back(TaskEvent{.type = "Killed", .time = 1704164651000000000,
                               .display_message = "", .message = "", .details = {}});
  a.task_states["main"] = s;
  a.task_states["sidecar"] = TaskState{.state = "running", .events = {}};
  a.previous_allocation = "a0";
  a.next_allocation = "a2";
  a.followup_eval_id = "e2";
  a.reschedule_events.push_back(RescheduleEvent{.reschedule_time = 1704164000000000000,
                                                .prev_alloc_id = "a0", .prev_node_id = "n0",
                                                .delay = 30s});
  a.alloc_states.push_back(AllocState{.field = "ClientStatus", .value = "lost",
                                      .time = 1704164645123456789});
  a.create_index = 10;
  a.modify_index = 20;
  a.alloc_modify_index = 15;
  a.create_time = 1704164600000000000;
  a.modify_time = 1704164660000000000;
  return a;
}

const std::vector<std::string> kFullKeys = {
    "ID", "Namespace", "EvalID", "Name", "NodeID", "NodeName", "JobID", "Job", "TaskGroup",
    "DesiredStatus", "DesiredDescription", "DesiredTransition", "ClientStatus",
    "ClientDescription", "TaskStates", "AllocStates", "PreviousAllocation", "NextAllocation",
    "RescheduleTracker", "FollowupEvalID", "CreateIndex", "ModifyIndex", "AllocModifyIndex",
    "CreateTime", "ModifyTime"};

const std::vector<std::string> kStubKeys = {
    "ID", "EvalID", "Name", "Namespace", "NodeID", "NodeName", "JobID", "JobType", "JobVersion",
    "TaskGroup", "DesiredStatus", "DesiredDescription", "ClientStatus", "ClientDescription",
    "DesiredTransition", "TaskStates", "DeploymentStatus", "FollowupEvalID", "NextAllocation",
    "RescheduleTracker", "PreemptedAllocations", "PreemptedByAllocation", "CreateIndex",
    "ModifyIndex", "CreateTime", "ModifyTime"};

TEST(AllocationCodecTest, FullAllocationRoundTripsInBothModes) {
  Allocation a = FullAllocation();
  Job job;
  job.id = "example";
  job.version = 4;
  job.extra = {{"Update", "null"}};
  a.job = job;
  for (bool omit : {false, true}) {
    const std::string json = EncodeAllocation(a, {.omit_empty = omit});
    auto back = DecodeAllocation(json);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, a) << json;
    EXPECT_EQ(JsonKeys(json), kFullKeys);  // nothing here is zero
  }
}

TEST(AllocationCodecTest, WireShapeOfTimesAndNestedTypes) {
  const std::string json = EncodeAllocation(FullAllocation(), {.omit_empty = true});
  EXPECT_EQ(JsonAt(json, "TaskStates/main/StartedAt"), R"("2024-01-02T03:04:00.000000001Z")");
  EXPECT_EQ(JsonAt(json, "TaskStates/main/LastRestart"), R"("2024-01-02T03:04:05.1Z")");
  EXPECT_EQ(JsonAt(json, "TaskStates/sidecar"),
            R"({"State":"running","Failed":false,"Restarts":0,)"
            R"("LastRestart":"0001-01-01T00:00:00Z","StartedAt":"0001-01-01T00:00:00Z",)"
            R"("FinishedAt":"0001-01-01T00:00:00Z","Events":null})");
  EXPECT_EQ(JsonAt(json, "TaskStates/main/Events/0"),
            R"({"Type":"Terminated","Time":1704164650000000000,"Message":"m",)"
            R"("DisplayMessage":"Exit Code: 1","Details":{"exit_code":"1"},"FailsTask":true,)"
            R"("ExitCode":1,"Signal":9})");
  EXPECT_EQ(JsonAt(json, "DesiredTransition"),
            R"({"Migrate":true,"Reschedule":null,"ForceReschedule":null,"NoShutdownDelay":false})");
  EXPECT_EQ(JsonAt(json, "RescheduleTracker"),
            R"({"Events":[{"RescheduleTime":1704164000000000000,"PrevAllocID":"a0",)"
            R"("PrevNodeID":"n0","Delay":30000000000}]})");
  EXPECT_EQ(JsonAt(json, "AllocStates"),
            R"([{"Field":"ClientStatus","Value":"lost","Time":"2024-01-02T03:04:05.123456789Z"}])");
}

TEST(AllocationCodecTest, OmitEmptyLeavesOutExactlyTheZeroFields) {
  EXPECT_EQ(EncodeAllocation(Allocation{}, {.omit_empty = true}), "{}");
  Allocation a;
  a.id = "a1";
  a.client_status = kClientRunning;
  a.modify_index = 7;
  a.desired_transition.reschedule = false;  // set (to false) is not empty
  EXPECT_EQ(EncodeAllocation(a, {.omit_empty = true}),
            R"({"ID":"a1","DesiredTransition":{"Migrate":null,"Reschedule":false,)"
            R"("ForceReschedule":null,"NoShutdownDelay":null},"ClientStatus":"running",)"
            R"("ModifyIndex":7})");
  // Field by field: clearing one field of the full allocation removes exactly its key.
  const Allocation full = FullAllocation();
  struct Case {
    const char* key;
    void (*clear)(Allocation&);
  };
  const Case cases[] = {
      {"EvalID", [](Allocation& x) { x.eval_id.clear(); }},
      {"NodeName", [](Allocation& x) { x.node_name.clear(); }},
      {"DesiredTransition", [](Allocation& x) { x.desired_transition = {}; }},
      {"TaskStates", [](Allocation& x) { x.task_states.clear(); }},
      {"AllocStates", [](Allocation& x) { x.alloc_states.clear(); }},
      {"PreviousAllocation", [](Allocation& x) { x.previous_allocation.clear(); }},
      {"RescheduleTracker", [](Allocation& x) { x.reschedule_events.clear(); }},
      {"AllocModifyIndex", [](Allocation& x) { x.alloc_modify_index = 0; }},
      {"CreateTime", [](Allocation& x) { x.create_time = 0; }},
  };
  for (const Case& c : cases) {
    Allocation x = full;
    c.clear(x);
    std::vector<std::string> want;
    for (const std::string& k : kFullKeys) {
      if (k != c.key && k != "Job") want.push_back(k);
    }
    EXPECT_EQ(JsonKeys(EncodeAllocation(x, {.omit_empty = true})), want) << c.key;
    auto back = DecodeAllocation(EncodeAllocation(x, {.omit_empty = true}));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, x) << c.key;
  }
}

TEST(AllocationCodecTest, WithoutOmitEmptyEveryKeyIsWritten) {
  const std::string json = EncodeAllocation(Allocation{});
  EXPECT_EQ(JsonKeys(json), kFullKeys);
  EXPECT_EQ(JsonAt(json, "Job"), "null");
  EXPECT_EQ(JsonAt(json, "TaskStates"), "null");
  EXPECT_EQ(JsonAt(json, "ID"), R"("")");
  auto back = DecodeAllocation(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, Allocation{});
}

TEST(AllocationCodecTest, StubHasEveryStubKeyAndNoFullOnlyKey) {
  Allocation a = FullAllocation();
  a.job_type = "service";
  a.job_version = 3;
  a.job = Job{};
  const std::string json = EncodeAllocationStub(a);
  EXPECT_EQ(JsonKeys(json), kStubKeys);
  EXPECT_EQ(JsonKeys(EncodeAllocationStub(Allocation{})), kStubKeys);
  auto back = DecodeAllocation(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  Allocation want = a;  // what a stub carries
  want.previous_allocation.clear();
  want.alloc_states.clear();
  want.job.reset();
  want.alloc_modify_index = 0;
  EXPECT_EQ(*back, want);

  const std::string list = EncodeAllocationList({a, Allocation{}});
  auto allocs = DecodeAllocationList(list);
  ASSERT_TRUE(allocs.ok()) << allocs.status().ToString();
  ASSERT_EQ(allocs->size(), 2u);
  EXPECT_EQ((*allocs)[0], want);
  EXPECT_EQ((*allocs)[1], Allocation{});
  EXPECT_EQ(EncodeAllocationList({}), "[]");
}

TEST(AllocationCodecTest, DecodesAStubListFixture) {
  auto allocs = DecodeAllocationList(ReadFixture("alloc_stub_list.json"));
  ASSERT_TRUE(allocs.ok()) << allocs.status().ToString();
  ASSERT_EQ(allocs->size(), 2u);
  const Allocation& old = (*allocs)[0];
  EXPECT_EQ(old.job_type, "service");
  EXPECT_EQ(old.job_version, 3u);
  EXPECT_EQ(old.desired_status, kDesiredStop);
  EXPECT_EQ(old.client_status, kClientComplete);
  EXPECT_TRUE(IsClientTerminal(old.client_status));
  EXPECT_EQ(old.desired_transition.migrate, std::optional<bool>(true));
  EXPECT_EQ(old.desired_transition.no_shutdown_delay, std::optional<bool>(false));
  EXPECT_FALSE(old.desired_transition.reschedule.has_value());
  EXPECT_EQ(old.next_allocation, "8f2b7a1e-3c4d-4e5f-9a6b-7c8d9e0f1a21");
  const TaskState& s = old.task_states.at("main");
  EXPECT_EQ(s.state, "dead");
  EXPECT_EQ(s.last_restart, 0);
  EXPECT_EQ(s.started_at, 1724304023000000000);  // 07:20:23+02:00
  EXPECT_EQ(s.finished_at, 1724311800000000001);
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].type, "Started");
  EXPECT_EQ(s.events[0].time, 1724311221338012345);
  EXPECT_TRUE(old.reschedule_events.empty());
  const Allocation& cur = (*allocs)[1];
  EXPECT_FALSE(IsClientTerminal(cur.client_status));
  ASSERT_EQ(cur.reschedule_events.size(), 1u);
  EXPECT_EQ(cur.reschedule_events[0].delay, 30s);
  EXPECT_EQ(cur.reschedule_events[0].prev_alloc_id, "8f2b7a1e-3c4d-4e5f-9a6b-7c8d9e0f1a20");
  EXPECT_EQ(cur.create_index, 4211u);
  EXPECT_EQ(cur.modify_time, 1724311221338013346);
}

TEST(AllocationCodecTest, NullsAndMissingKeysAreZero) {
  auto a = DecodeAllocation(
      R"({"ID":null,"TaskStates":{"t":{"State":null,"LastRestart":null,"StartedAt":null,)"
      R"("Events":null}},"DesiredTransition":null,"RescheduleTracker":null,"AllocStates":null,)"
      R"("Job":null,"CreateIndex":null,"JobVersion":null,"Unknown":{"x":[1,2,{"y":null}]}})");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Allocation want;
  want.task_states["t"] = TaskState{};
  EXPECT_EQ(*a, want);
  auto empty = DecodeAllocation("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, Allocation{});
  auto none = DecodeAllocationList("[]");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

void ExpectAllocError(std::string_view json, std::string_view message) {
  auto r = DecodeAllocation(json);
  ASSERT_FALSE(r.ok()) << json;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidSpec);
  EXPECT_EQ(r.status().message(), message);
}

TEST(AllocationCodecTest, WrongTypesNameTheJsonPath) {
  ExpectAllocError(R"({"TaskStates":{"main":{"Events":[{"Time":"now"}]}}})",
                   "Allocation.TaskStates.main.Events[0].Time: expected a number");
  ExpectAllocError(R"({"TaskStates":{"main":{"StartedAt":12}}})",
                   "Allocation.TaskStates.main.StartedAt: expected an RFC 3339 time string");
  ExpectAllocError(R"({"TaskStates":{"main":{"StartedAt":"yesterday"}}})",
                   "Allocation.TaskStates.main.StartedAt: invalid RFC 3339 time \"yesterday\": "
                   "expected YYYY-MM-DDTHH:MM:SS");
  ExpectAllocError(R"({"DesiredTransition":{"Migrate":"yes"}})",
                   "Allocation.DesiredTransition.Migrate: expected a boolean");
  ExpectAllocError(R"({"ModifyIndex":-3})",
                   "Allocation.ModifyIndex: expected a non-negative integer");
  ExpectAllocError(R"({"CreateTime":1.5})", "Allocation.CreateTime: expected an integer");
  ExpectAllocError(R"({"ClientStatus":["running"]})", "Allocation.ClientStatus: expected a string");
  ExpectAllocError(R"({"TaskStates":[]})", "Allocation.TaskStates: expected an object");
  ExpectAllocError(R"({"RescheduleTracker":{"Events":[{"Delay":"30s"}]}})",
                   "Allocation.RescheduleTracker.Events[0].Delay: expected a number");
  ExpectAllocError(R"({"Job":{"TaskGroups":[{"Count":"1"}]}})",
                   "Allocation.Job.TaskGroups[0].Count: expected a number");
  ExpectAllocError(R"({"Job":3})", "Allocation.Job: expected an object");
  ExpectAllocError("[]", "Allocation: expected an object");
  auto list = DecodeAllocationList(R"([{},{"JobVersion":"3"}])");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().message(), "Allocations[1].JobVersion: expected a number");
  auto truncated = DecodeAllocation(R"({"ID":"a1","TaskStates":{)");
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kInvalidSpec);
}

// A relist at 10k singletons decodes an allocation list of tens of MB; simdjson would keep a
// parser sized for it (about 5 bytes per input byte) in every thread that ever decoded one.
TEST(AllocationCodecTest, ALargeListDoesNotStayPinnedInTheThreadsDecoder) {
  std::vector<Allocation> many(2000, FullAllocation());
  for (size_t i = 0; i < many.size(); ++i) many[i].id = "alloc-" + std::to_string(i);
  const std::string list = EncodeAllocationList(many);
  ASSERT_GT(list.size(), kMaxRetainedDocumentBytes);

  // A small document leaves the scratch in place for the next one (the event-stream hot path).
  const std::string one = EncodeAllocation(FullAllocation());
  ASSERT_TRUE(DecodeAllocation(one).ok());
  const size_t small = ThreadDecodeScratchBytes();
  EXPECT_GE(small, one.size());
  ASSERT_TRUE(DecodeAllocation(one).ok());
  EXPECT_EQ(ThreadDecodeScratchBytes(), small);

  auto decoded = DecodeAllocationList(list);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->size(), many.size());
  EXPECT_EQ(decoded->back().id, "alloc-1999");
  EXPECT_EQ(ThreadDecodeScratchBytes(), 0u) << "the list's parser and buffer were kept";

  // A malformed large document is released too.
  auto broken = DecodeAllocationList(list.substr(0, list.size() - 1));
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(ThreadDecodeScratchBytes(), 0u);

  // And decoding goes on normally afterwards.
  ASSERT_TRUE(DecodeAllocation(one).ok());
  EXPECT_GE(ThreadDecodeScratchBytes(), one.size());
}

TEST(AllocationTest, ClientTerminalStatuses) {
  EXPECT_TRUE(IsClientTerminal(kClientComplete));
  EXPECT_TRUE(IsClientTerminal(kClientFailed));
  EXPECT_TRUE(IsClientTerminal(kClientLost));
  EXPECT_FALSE(IsClientTerminal(kClientPending));
  EXPECT_FALSE(IsClientTerminal(kClientRunning));
  EXPECT_FALSE(IsClientTerminal(kClientUnknown));
  EXPECT_FALSE(IsClientTerminal(""));
}

}  // namespace
}  // namespace nsg::nomad
