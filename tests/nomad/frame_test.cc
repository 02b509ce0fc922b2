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

TEST(FrameTest, HeartbeatsDecodeToAnEmptyFrame) {
  for (std::string_view line : {"{}", "{}\n", "  {}\r\n", "{ }"}) {
    auto f = DecodeFrame(line);
    ASSERT_TRUE(f.ok()) << line << ": " << f.status().ToString();
    EXPECT_TRUE(f->IsHeartbeat());
    EXPECT_EQ(f->index, 0u);
    EXPECT_TRUE(f->events.empty());
  }
  EXPECT_EQ(EncodeFrame(Frame{}), "{}\n");
}

TEST(FrameTest, DecodesARealisticAllocationEvent) {
  const std::string line = ReadFixture("alloc_event.json");
  auto f = DecodeFrame(line);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_FALSE(f->IsHeartbeat());
  EXPECT_EQ(f->index, 4213u);
  ASSERT_EQ(f->events.size(), 1u);
  const Event& ev = f->events[0];
  EXPECT_EQ(ev.topic, "Allocation");
  EXPECT_EQ(ev.type, "AllocationUpdated");
  EXPECT_EQ(ev.key, "8f2b7a1e-3c4d-4e5f-9a6b-7c8d9e0f1a2b");
  EXPECT_EQ(ev.namespace_, "default");
  EXPECT_EQ(ev.filter_keys,
            (std::vector<std::string>{"example", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}));
  EXPECT_EQ(ev.index, 4213u);
  EXPECT_FALSE(ev.job || ev.node || ev.evaluation || ev.variable);
  ASSERT_TRUE(ev.allocation.has_value());
  const Allocation& a = *ev.allocation;
  EXPECT_EQ(a.id, ev.key);
  EXPECT_EQ(a.job_id, "example");
  EXPECT_EQ(a.task_group, "app");
  EXPECT_EQ(a.client_status, kClientRunning);
  EXPECT_EQ(a.desired_status, kDesiredRun);
  EXPECT_EQ(a.desired_transition, DesiredTransition{});
  EXPECT_EQ(a.modify_index, 4213u);
  EXPECT_EQ(a.alloc_modify_index, 4210u);
  EXPECT_EQ(a.create_time, 1724311221338012345);
  EXPECT_FALSE(a.job.has_value());
  ASSERT_EQ(a.task_states.size(), 2u);
  const TaskState& main = a.task_states.at("main");
  EXPECT_EQ(main.state, "running");
  EXPECT_EQ(main.restarts, 1u);
  EXPECT_EQ(main.last_restart, 1724311261500000000);
  EXPECT_EQ(main.started_at, 1724311261512345678);
  EXPECT_EQ(main.finished_at, 0);
  ASSERT_EQ(main.events.size(), 4u);
  EXPECT_EQ(main.events[2].type, "Terminated");
  EXPECT_EQ(main.events[2].exit_code, 1);
  EXPECT_EQ(main.events[2].details.at("exit_message"), "lock lost");
  EXPECT_EQ(main.events[3].type, "Restarting");
  EXPECT_EQ(a.task_states.at("lock").events.size(), 2u);
}

Frame MultiEventFrame() {
  Frame f;
  f.index = 88;
  Event alloc;
  alloc.topic = "Allocation";
  alloc.type = "PlanResult";
  alloc.key = "a1";
  alloc.namespace_ = "default";
  alloc.filter_keys = {"example", ""};
  alloc.index = 88;
  alloc.allocation = Allocation{};
  alloc.allocation->id = "a1";
  alloc.allocation->job_id = "example";
  alloc.allocation->desired_status = kDesiredRun;
  alloc.allocation->client_status = kClientPending;
  alloc.allocation->job = Job{};  // never written into a payload
  f.events.push_back(alloc);

  Event eval;
  eval.topic = "Evaluation";
  eval.type = "PlanResult";
  eval.key = "e1";
  eval.namespace_ = "default";
  eval.filter_keys = {"example", ""};
  eval.index = 88;
  eval.evaluation.emplace();
  eval.evaluation->id = "e1";
  eval.evaluation->namespace_ = "default";
  eval.evaluation->priority = 50;
  eval.evaluation->type = "service";
  eval.evaluation->triggered_by = "job-register";
  eval.evaluation->job_id = "example";
  eval.evaluation->status = "complete";
  f.events.push_back(eval);

  Event job;
  job.topic = "Job";
  job.type = "JobDeregistered";
  job.key = "example";
  job.namespace_ = "default";
  job.index = 88;
  job.job = Job{};
  job.job->id = "example";
  job.job->stop = true;
  job.job->extra = {{"Update", R"({"MaxParallel":1})"}};
  job.deleted = true;
  f.events.push_back(job);

  Event node;
  node.topic = "Node";
  node.type = "NodeStreamEvent";
  node.key = "n1";
  node.index = 88;
  node.node.emplace();
  node.node->id = "n1";
  node.node->name = "client-1";
  node.node->address = "10.0.0.1";
  node.node->status = kNodeDown;
  node.node->status_updated_at = 1724311221;
  f.events.push_back(node);

  Event var;
  var.topic = "Variable";
  var.type = "VariableUpdated";
  var.key = "nomad/jobs/example/lock";
  var.namespace_ = "default";
  var.index = 88;
  var.variable.emplace();
  var.variable->namespace_ = "default";
  var.variable->path = "nomad/jobs/example/lock";
  var.variable->lock = VariableLock{.ttl = 15s, .lock_delay = 15s, .id = "l1"};
  var.variable->create_index = 80;
  var.variable->modify_index = 88;
  var.deleted = false;
  f.events.push_back(var);

  Event other;
  other.topic = "Deployment";
  other.type = "DeploymentStatusUpdate";
  other.key = "d1";
  other.namespace_ = "default";
  other.filter_keys = {"example"};
  other.index = 88;
  f.events.push_back(other);
  return f;
}

TEST(FrameTest, MultiEventFramesRoundTrip) {
  const Frame f = MultiEventFrame();
  const std::string line = EncodeFrame(f);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // exactly one line
  EXPECT_EQ(JsonKeys(line), (std::vector<std::string>{"Index", "Events"}));
  EXPECT_EQ(JsonKeys(JsonAt(line, "Events/0")),
            (std::vector<std::string>{"Topic", "Type", "Key", "Namespace", "FilterKeys", "Index",
                                      "Payload"}));
  // Allocation payload: omit-empty, no Job.
  EXPECT_EQ(JsonAt(line, "Events/0/Payload"),
            R"({"Allocation":{"ID":"a1","JobID":"example","DesiredStatus":"run",)"
            R"("ClientStatus":"pending"}})");
  EXPECT_EQ(JsonAt(line, "Events/1/Payload/Evaluation/NodeID"), "");  // omit-empty
  EXPECT_EQ(JsonAt(line, "Events/2/Payload/Deleted"), "true");
  EXPECT_EQ(JsonAt(line, "Events/2/FilterKeys"), "null");
  EXPECT_EQ(JsonAt(line, "Events/3/Payload/Node/StatusUpdatedAt"), "1724311221");
  EXPECT_EQ(JsonAt(line, "Events/4/Payload"),
            R"({"Metadata":{"Namespace":"default","Path":"nomad/jobs/example/lock",)"
            R"("Lock":{"TTL":"15s","LockDelay":"15s","ID":"l1"},"CreateIndex":80,"CreateTime":0,)"
            R"("ModifyIndex":88,"ModifyTime":0},"Deleted":false})");
  EXPECT_EQ(JsonAt(line, "Events/5/Payload"), "{}");

  auto back = DecodeFrame(line);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->index, 88u);
  ASSERT_EQ(back->events.size(), 6u);
  Allocation alloc = *f.events[0].allocation;
  alloc.job.reset();
  EXPECT_EQ(back->events[0].allocation, alloc);
  EXPECT_EQ(back->events[0].filter_keys, (std::vector<std::string>{"example", ""}));
  EXPECT_EQ(back->events[1].evaluation, f.events[1].evaluation);
  EXPECT_EQ(back->events[2].job, f.events[2].job);
  EXPECT_TRUE(back->events[2].deleted);
  EXPECT_EQ(back->events[3].node, f.events[3].node);
  EXPECT_EQ(back->events[4].variable, f.events[4].variable);
  EXPECT_FALSE(back->events[4].deleted);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(back->events[i].topic, f.events[i].topic);
    EXPECT_EQ(back->events[i].type, f.events[i].type);
    EXPECT_EQ(back->events[i].key, f.events[i].key);
    EXPECT_EQ(back->events[i].index, f.events[i].index);
  }
}

TEST(FrameTest, UnknownTopicsKeepOnlyTheEnvelope) {
  auto f = DecodeFrame(
      R"({"Index":9,"Events":[{"Topic":"Deployment","Type":"DeploymentStatusUpdate","Key":"d1",)"
      R"("Namespace":"default","FilterKeys":["example"],"Index":9,"Payload":{"Deployment":)"
      R"({"ID":"d1","Status":"running","TaskGroups":{"app":{"Promoted":false}}}}},)"
      R"({"Topic":"ACLToken","Type":"ACLTokenUpserted","Key":"t","Index":9,)"
      R"("Payload":{"ACLToken":{"AccessorID":"t"}}}]})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->events.size(), 2u);
  const Event& ev = f->events[0];
  EXPECT_EQ(ev.topic, "Deployment");
  EXPECT_EQ(ev.key, "d1");
  EXPECT_EQ(ev.filter_keys, std::vector<std::string>{"example"});
  EXPECT_FALSE(ev.allocation || ev.job || ev.node || ev.evaluation || ev.variable);
  EXPECT_EQ(f->events[1].topic, "ACLToken");
  EXPECT_EQ(f->events[1].namespace_, "");
}

TEST(FrameTest, PayloadBeforeTopicAndMismatchedPayloads) {
  auto f = DecodeFrame(
      R"({"Events":[{"Payload":{"Allocation":{"ID":"a1"}},"Topic":"Allocation","Index":3},)"
      R"({"Topic":"Service","Payload":{"Allocation":{"ID":"a2"}}},)"
      R"({"Payload":{"Job":{"ID":"j"},"Deleted":true},"Topic":"Node"}],"Index":3})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->events.size(), 3u);
  ASSERT_TRUE(f->events[0].allocation.has_value());
  EXPECT_EQ(f->events[0].allocation->id, "a1");
  EXPECT_FALSE(f->events[1].allocation.has_value());  // a Service event is not modelled
  EXPECT_FALSE(f->events[2].job.has_value());         // payload does not match the topic
  EXPECT_FALSE(f->events[2].deleted);
}

TEST(FrameTest, NullsAreTolerated) {
  auto f = DecodeFrame(
      R"({"Index":null,"Events":[{"Topic":"Allocation","Type":null,"Key":null,"Namespace":null,)"
      R"("FilterKeys":null,"Index":null,"Payload":{"Allocation":null}},)"
      R"({"Topic":"Job","Payload":{"Job":null,"Deleted":null}},{"Topic":"Node","Payload":null}]})");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->events.size(), 3u);
  EXPECT_FALSE(f->events[0].allocation.has_value());
  EXPECT_TRUE(f->events[0].filter_keys.empty());
  EXPECT_FALSE(f->events[1].job.has_value());
  EXPECT_FALSE(f->events[2].node.has_value());
  auto no_events = DecodeFrame(R"({"Index":5,"Events":null})");
  ASSERT_TRUE(no_events.ok());
  EXPECT_EQ(no_events->index, 5u);
  EXPECT_FALSE(no_events->IsHeartbeat());
}

void ExpectFrameError(std::string_view line, std::string_view message) {
  auto r = DecodeFrame(line);
  ASSERT_FALSE(r.ok()) << line;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidSpec);
  EXPECT_EQ(r.status().message(), message) << line;
}

TEST(FrameTest, WrongTypesNameTheJsonPath) {
  ExpectFrameError(R"({"Index":"1"})", "Frame.Index: expected a number");
  ExpectFrameError(R"({"Index":-1})", "Frame.Index: expected a non-negative integer");
  ExpectFrameError(R"({"Events":{}})", "Frame.Events: expected an array");
  ExpectFrameError(R"({"Events":[1]})", "Frame.Events[0]: expected an object");
  ExpectFrameError(R"({"Events":[{},{"Topic":7}]})", "Frame.Events[1].Topic: expected a string");
  ExpectFrameError(R"({"Events":[{"FilterKeys":["a",null,3]}]})",
                   "Frame.Events[0].FilterKeys[2]: expected a string");
  ExpectFrameError(R"({"Events":[{"Topic":"Allocation","Payload":[]}]})",
                   "Frame.Events[0].Payload: expected an object");
  ExpectFrameError(
      R"({"Events":[{"Topic":"Allocation","Payload":{"Allocation":{"TaskStates":{"main":)"
      R"({"Events":[{"Type":"Started","Time":"x"}]}}}}}]})",
      "Frame.Events[0].Payload.Allocation.TaskStates.main.Events[0].Time: expected a number");
  ExpectFrameError(R"({"Events":[{"Topic":"Job","Payload":{"Job":{"TaskGroups":{}}}}]})",
                   "Frame.Events[0].Payload.Job.TaskGroups: expected an array");
  ExpectFrameError(R"({"Events":[{"Topic":"Variable","Payload":{"Metadata":{"Lock":{"TTL":"x"}}}}]})",
                   "Frame.Events[0].Payload.Metadata.Lock.TTL: invalid duration \"x\": expected "
                   "a number");
  ExpectFrameError(R"({"Events":[{"Topic":"Node","Payload":{"Node":"n1"}}]})",
                   "Frame.Events[0].Payload.Node: expected an object");
  ExpectFrameError(R"({"Events":[{"Topic":"Evaluation","Payload":{"Evaluation":{"Priority":true}}}]})",
                   "Frame.Events[0].Payload.Evaluation.Priority: expected a number");
  ExpectFrameError("[]", "Frame: expected an object");
  ExpectFrameError("42", "Frame: expected an object or an array");
}

TEST(FrameTest, MalformedLinesAreErrorsNeverCrashes) {
  for (std::string_view bad : {"", "   ", "\n", "{", "}", "{}}", "{} {}", "{}x", "nul",
                               R"({"Index":1,})", R"({"Index":1 "Events":[]})",
                               R"({"Events":[{"Topic":"Allocation"})", "{\"Index\":\xff}",
                               "{\"Topic\":\"\xc3\x28\"}", R"({"Index":1e999})",
                               R"({"Index":18446744073709551616})", R"({"Events":[{"Topic":"Job",)"
                               R"("Payload":{"Job":{"ID":"x",}}}]})", R"({"Index":tru})"}) {
    auto r = DecodeFrame(bad);
    EXPECT_FALSE(r.ok()) << "accepted: " << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidSpec) << bad;
      EXPECT_EQ(r.status().message().rfind("Frame", 0), 0u) << r.status().message();
    }
  }
}

TEST(FrameTest, EveryTruncationOfARealEventIsAnError) {
  std::string line = ReadFixture("alloc_event.json");
  while (!line.empty() && line.back() == '\n') line.pop_back();
  ASSERT_TRUE(DecodeFrame(line).ok());
  for (size_t n = 0; n < line.size(); ++n) {
    auto r = DecodeFrame(std::string_view(line).substr(0, n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes accepted";
    ASSERT_EQ(r.status().code(), StatusCode::kInvalidSpec);
  }
}

// The controller's stream decodes the summary (PayloadDetail::kSummary): what its cluster view
// keeps, and nothing of the task states and histories, which are most of an event's bytes.
TEST(FrameTest, TheSummaryHoldsWhatTheViewKeepsAndNothingElse) {
  const std::string line = ReadFixture("alloc_event.json");
  auto full = DecodeFrame(line);
  auto summary = DecodeFrame(line, PayloadDetail::kSummary);
  ASSERT_TRUE(full.ok() && summary.ok()) << summary.status().ToString();
  ASSERT_EQ(summary->events.size(), 1u);
  ASSERT_TRUE(summary->events[0].allocation && full->events[0].allocation);
  const Allocation& f = *full->events[0].allocation;
  ASSERT_FALSE(f.task_states.empty());
  ASSERT_FALSE(f.eval_id.empty() || f.node_name.empty());
  Allocation want;  // the full decode's summary fields, field by field
  want.id = f.id;
  want.namespace_ = f.namespace_;
  want.name = f.name;
  want.node_id = f.node_id;
  want.job_id = f.job_id;
  want.job_type = f.job_type;
  want.job_version = f.job_version;
  want.task_group = f.task_group;
  want.desired_status = f.desired_status;
  want.desired_transition = f.desired_transition;
  want.client_status = f.client_status;
  want.create_index = f.create_index;
  want.modify_index = f.modify_index;
  want.alloc_modify_index = f.alloc_modify_index;
  want.create_time = f.create_time;
  want.modify_time = f.modify_time;
  EXPECT_EQ(*summary->events[0].allocation, want);
  // The envelope is the same.
  const Event& a = summary->events[0];
  const Event& b = full->events[0];
  EXPECT_EQ(a.topic, b.topic);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.namespace_, b.namespace_);
  EXPECT_EQ(a.filter_keys, b.filter_keys);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(summary->index, full->index);
}

TEST(FrameTest, TheSummarySkipsWhatItDoesNotReadButChecksWhatItDoes) {
  // A wrong type inside the task states fails the full decode only.
  const std::string bad_task_state =
      R"({"Events":[{"Topic":"Allocation","Payload":{"Allocation":{"ID":"a","TaskStates":{"main":)"
      R"({"Events":[{"Type":"Started","Time":"x"}]}}}}}]})";
  EXPECT_FALSE(DecodeFrame(bad_task_state).ok());
  auto skipped = DecodeFrame(bad_task_state, PayloadDetail::kSummary);
  ASSERT_TRUE(skipped.ok()) << skipped.status().ToString();
  EXPECT_EQ(skipped->events[0].allocation->id, "a");
  // A wrong type in a summary field fails both, with its path.
  auto r = DecodeFrame(R"({"Events":[{"Topic":"Allocation","Payload":{"Allocation":)"
                       R"({"ClientStatus":7}}}]})",
                       PayloadDetail::kSummary);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "Frame.Events[0].Payload.Allocation.ClientStatus: expected a string");
  // Every truncation of a real event is still an error: a cut line never passes for a whole one.
  std::string line = ReadFixture("alloc_event.json");
  while (!line.empty() && line.back() == '\n') line.pop_back();
  for (size_t n = 0; n < line.size(); ++n) {
    auto t = DecodeFrame(std::string_view(line).substr(0, n), PayloadDetail::kSummary);
    ASSERT_FALSE(t.ok()) << "prefix of " << n << " bytes accepted";
    ASSERT_EQ(t.status().code(), StatusCode::kInvalidSpec);
  }
}

// A Job payload decoded as a summary is JobSummary of the whole job (nomad/job.h).
TEST(FrameTest, AJobPayloadSummaryIsTheJobsSummary) {
  std::string job = ReadFixture("job_server.json");
  while (!job.empty() && (job.back() == '\n' || job.back() == ' ')) job.pop_back();
  const std::string line =
      R"({"Index":90,"Events":[{"Topic":"Job","Type":"JobRegistered","Key":"example",)"
      R"("Namespace":"default","Index":90,"Payload":{"Job":)" + job + "}}]}";
  auto full = DecodeFrame(line);
  auto summary = DecodeFrame(line, PayloadDetail::kSummary);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  const Event& f = full->events.at(0);
  const Event& s = summary->events.at(0);
  ASSERT_TRUE(f.job && s.job);
  EXPECT_TRUE(f.job_detailed);
  EXPECT_FALSE(s.job_detailed);
  ASSERT_FALSE(f.job->task_groups.empty());
  ASSERT_FALSE(f.job->task_groups[0].tasks.empty());
  EXPECT_EQ(*s.job, JobSummary(*f.job));
  EXPECT_TRUE(s.job->task_groups[0].tasks.empty());
  EXPECT_EQ(s.job->task_groups.size(), f.job->task_groups.size());
  EXPECT_EQ(s.job->meta, f.job->meta);
  EXPECT_EQ(s.job->job_modify_index, f.job->job_modify_index);
  // The summary checks what it reads, with the path.
  auto r = DecodeFrame(R"({"Events":[{"Topic":"Job","Payload":{"Job":{"TaskGroups":[)"
                       R"({"Name":"g","Count":"1"}]}}}]})",
                       PayloadDetail::kSummary);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "Frame.Events[0].Payload.Job.TaskGroups[0].Count: expected a number");
  // A deleted job's payload says whose it was.
  auto deleted = DecodeFrame(R"({"Events":[{"Topic":"Job","Payload":{"Deleted":true,"Job":)"
                             R"({"ID":"x","Meta":{"a":"b"}}}}]})",
                             PayloadDetail::kSummary);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_TRUE(deleted->events[0].deleted);
  EXPECT_EQ(deleted->events[0].job->meta.at("a"), "b");
}

// Every single-byte corruption of a real event either decodes or is rejected as kInvalidSpec;
// nothing else (crashes, other codes) is allowed. Meaningful mostly under ASan/UBSan.
TEST(FrameTest, CorruptedBytesAreHandled) {
  std::string line = ReadFixture("alloc_event.json");
  while (!line.empty() && line.back() == '\n') line.pop_back();
  size_t rejected = 0;
  for (char c : {'"', '{', ']', '\\', ',', '\0', '9', '\xff'}) {
    for (size_t i = 0; i < line.size(); ++i) {
      std::string bad = line;
      bad[i] = c;
      auto r = DecodeFrame(bad);
      if (!r.ok()) {
        ASSERT_EQ(r.status().code(), StatusCode::kInvalidSpec) << i << ": " << r.status().message();
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, line.size());  // most corruptions are errors
}

TEST(FrameTest, DecoderIsReusableAfterErrorsAndForLargeLines) {
  ASSERT_FALSE(DecodeFrame(R"({"Index":)").ok());
  const std::string event = ReadFixture("alloc_event.json");
  auto first = DecodeFrame(event);
  ASSERT_TRUE(first.ok());
  // A much larger line than before grows the reused buffer.
  Frame big;
  big.index = 1;
  for (int i = 0; i < 200; ++i) big.events.push_back(first->events[0]);
  auto decoded = DecodeFrame(EncodeFrame(big));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_EQ(decoded->events.size(), 200u);
  EXPECT_EQ(decoded->events[199].allocation, first->events[0].allocation);
  auto again = DecodeFrame("{}");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->IsHeartbeat());
}

}  // namespace
}  // namespace nsg::nomad
