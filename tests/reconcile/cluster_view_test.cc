#include "controller/reconcile/cluster_view.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/reconcile/fixtures.h"

namespace nsg::reconcile {
namespace {

using namespace std::chrono_literals;
using testing::Alloc;
using testing::kKey;
using testing::kLockPath;

const char kOther[] = "prod/other";
const char kOtherLock[] = "nomad/jobs/other/lock";

nomad::Job OurJob(const std::string& id = "billing", uint64_t index = 20,
                  const std::string& lock_path = kLockPath) {
  nomad::Job j;
  j.id = id;
  j.name = id;
  j.namespace_ = "prod";
  j.type = "service";
  j.meta[render::kMetaManagedBy] = render::kManagedByValue;
  j.meta[render::kMetaLockPath] = lock_path;
  nomad::TaskGroup g;
  g.name = "singleton";
  j.task_groups.push_back(g);
  j.modify_index = index;
  j.job_modify_index = index;
  return j;
}

nomad::Job ForeignJob(const std::string& id, uint64_t index) {
  nomad::Job j = OurJob(id, index);
  j.meta.clear();
  return j;
}

nomad::Event JobEvent(const nomad::Job& j, uint64_t index, bool deleted = false) {
  nomad::Event e;
  e.topic = "Job";
  e.type = deleted ? "JobDeregistered" : "JobRegistered";
  e.key = j.id;
  e.namespace_ = j.namespace_;
  e.index = index;
  e.job = j;
  e.deleted = deleted;
  return e;
}

nomad::Event AllocEvent(nomad::Allocation a, uint64_t index) {
  a.modify_index = index;
  nomad::Event e;
  e.topic = "Allocation";
  e.type = "PlanResult";
  e.key = a.id;
  e.namespace_ = a.namespace_;
  e.filter_keys = {a.job_id, ""};
  e.index = index;
  e.allocation = a;
  return e;
}

nomad::Node Node(const std::string& id, const std::string& status, uint64_t index) {
  nomad::Node n;
  n.id = id;
  n.status = status;
  n.modify_index = index;
  return n;
}

nomad::Event NodeEvent(const std::string& id, const std::string& status, uint64_t index) {
  nomad::Event e;
  e.topic = "Node";
  e.type = "NodeStreamEvent";
  e.key = id;
  e.index = index;
  e.node = Node(id, status, index);
  return e;
}

// A Variable event: metadata only (no Items), Lock present when lock_id is non-empty.
nomad::Event VarEvent(const std::string& path, const std::string& lock_id, uint64_t index,
                      bool deleted = false) {
  nomad::Event e;
  e.topic = "Variable";
  e.type = "VariableUpdated";
  e.key = path;
  e.namespace_ = "prod";
  e.index = index;
  e.deleted = deleted;
  nomad::Variable v;
  v.namespace_ = "prod";
  v.path = path;
  v.modify_index = index;
  if (!lock_id.empty()) v.lock = nomad::VariableLock{15s, 15s, lock_id};
  e.variable = v;
  return e;
}

// GET /v1/var/:path as the management token sees it: Lock and Items.
nomad::Variable LockVar(const std::string& lock_id, const std::string& alloc, uint64_t index,
                        const std::string& path = kLockPath) {
  nomad::Variable v;
  v.namespace_ = "prod";
  v.path = path;
  v.modify_index = index;
  if (!lock_id.empty()) v.lock = nomad::VariableLock{15s, 15s, lock_id};
  if (!alloc.empty()) v.items[kLockItemAllocId] = alloc;
  return v;
}

nomad::Frame F(uint64_t index, std::vector<nomad::Event> events) {
  return nomad::Frame{index, std::move(events)};
}

KeySet Keys(std::initializer_list<const char*> keys) {
  KeySet s;
  for (const char* k : keys) s.insert(k);
  return s;
}

class ClusterViewTest : public ::testing::Test {
 protected:
  ClusterViewTest() { view_.Watch({{kKey, kLockPath}}); }

  // Our job at 20, a1 running on n1 at 30, lock held by a1 (read) at 40.
  void Populate() {
    view_.Apply(F(20, {JobEvent(OurJob(), 20)}));
    view_.Apply(F(21, {NodeEvent("n1", nomad::kNodeReady, 21)}));
    view_.Apply(F(30, {AllocEvent(Alloc("a1", nomad::kClientRunning, 30), 30)}));
    view_.ApplyVariableRead("prod", kLockPath, LockVar("L1", "a1", 40), 40);
  }

  ClusterView view_;
};

TEST_F(ClusterViewTest, JobEventOfOurJobIsStoredAndWakesItsKey) {
  EXPECT_EQ(view_.Apply(F(20, {JobEvent(OurJob(), 20)})), Keys({kKey}));
  Observed o = view_.ObservedFor(kKey);
  ASSERT_TRUE(o.job.has_value());
  EXPECT_EQ(o.job->modify_index, 20u);
  EXPECT_EQ(view_.LastIndex(), 20u);
}

TEST_F(ClusterViewTest, DuplicateAndStaleJobEventsAreIgnored) {
  view_.Apply(F(20, {JobEvent(OurJob(), 20)}));
  EXPECT_EQ(view_.Apply(F(20, {JobEvent(OurJob(), 20)})), KeySet{}) << "replayed frame";
  nomad::Job older = OurJob("billing", 15);
  older.priority = 99;
  EXPECT_EQ(view_.Apply(F(15, {JobEvent(older, 15)})), KeySet{}) << "stale index";
  EXPECT_EQ(view_.ObservedFor(kKey).job->priority, 50);
  nomad::Job newer = OurJob("billing", 25);
  newer.priority = 70;
  EXPECT_EQ(view_.Apply(F(25, {JobEvent(newer, 25)})), Keys({kKey}));
  EXPECT_EQ(view_.ObservedFor(kKey).job->priority, 70);
}

// A relist reuses the view's job only at exactly the listed ModifyIndex (issue 17).
TEST_F(ClusterViewTest, HoldsJobAtAnswersOnlyForTheHeldModifyIndex) {
  EXPECT_FALSE(view_.HoldsJobAt("prod", "billing", 20)) << "not known yet";
  view_.Apply(F(20, {JobEvent(OurJob(), 20)}));
  EXPECT_TRUE(view_.HoldsJobAt("prod", "billing", 20));
  EXPECT_FALSE(view_.HoldsJobAt("prod", "billing", 25)) << "the list is newer";
  EXPECT_FALSE(view_.HoldsJobAt("other", "billing", 20)) << "another namespace";
  view_.Apply(F(25, {JobEvent(OurJob("billing", 25), 25)}));
  EXPECT_FALSE(view_.HoldsJobAt("prod", "billing", 20)) << "the view moved on";
  EXPECT_TRUE(view_.HoldsJobAt("prod", "billing", 25));
}

// A settled job is kept as a summary (issue 17: a whole job per singleton was the view's largest
// item); the summary holds what every check but the full drift check reads.
TEST_F(ClusterViewTest, ASettledJobIsKeptAsASummaryUntilAReadOrEventBringsItBack) {
  nomad::Job full = OurJob();
  full.priority = 70;
  full.task_groups[0].count = 2;
  full.task_groups[0].tasks.emplace_back().name = "main";
  full.periodic.emplace().spec = "*/5 * * * *";
  full.region = "eu";
  full.datacenters = {"dc1", "dc2"};
  full.node_pool = "gpu";
  full.status = "running";
  full.version = 3;
  full.create_index = 11;
  full.submit_time = 1700000000000000000;
  full.task_groups.emplace_back().name = "second";
  view_.Apply(F(20, {JobEvent(full, 20)}));
  ASSERT_TRUE(view_.ObservedFor(kKey).job_detailed);

  view_.ReleaseJobDetail(kKey, 19, false);  // not the job held
  view_.ReleaseJobDetail(kKey, 20, true);   // not its Stop flag
  EXPECT_EQ(view_.ObservedFor(kKey).job, full);
  view_.ReleaseJobDetail(kKey, 20, false);
  Observed o = view_.ObservedFor(kKey);
  EXPECT_FALSE(o.job_detailed);
  ASSERT_TRUE(o.job.has_value());
  EXPECT_EQ(o.job->id, "billing");
  EXPECT_EQ(o.job->namespace_, "prod");
  EXPECT_EQ(o.job->priority, 70);
  EXPECT_EQ(o.job->meta, full.meta);
  EXPECT_EQ(o.job->periodic, full.periodic);
  EXPECT_EQ(o.job->job_modify_index, 20u);
  EXPECT_EQ(o.job->modify_index, 20u);
  ASSERT_EQ(o.job->task_groups.size(), 2u);
  EXPECT_EQ(o.job->task_groups[0].name, "singleton");
  EXPECT_EQ(o.job->task_groups[0].count, 2);
  EXPECT_TRUE(o.job->task_groups[0].tasks.empty());
  EXPECT_EQ(o.job->task_groups[1].name, "second");
  // Every field of the summary, whatever form the view keeps it in.
  EXPECT_EQ(o.job, nomad::JobSummary(full));
  EXPECT_EQ(view_.LockPathOf(kKey), kLockPath) << "the lock path is in Meta";
  EXPECT_TRUE(view_.HoldsJobAt("prod", "billing", 20));

  // A read at the same index brings the whole job back; an older one does not.
  nomad::Job older = full;
  older.modify_index = 19;
  EXPECT_EQ(view_.ApplyJobRead(older), KeySet{});
  EXPECT_FALSE(view_.ObservedFor(kKey).job_detailed);
  EXPECT_EQ(view_.ApplyJobRead(full), Keys({kKey}));
  o = view_.ObservedFor(kKey);
  EXPECT_TRUE(o.job_detailed);
  EXPECT_EQ(o.job, full);
  // So does the next event.
  view_.ReleaseJobDetail(kKey, 20, false);
  nomad::Job newer = full;
  newer.modify_index = 25;
  view_.Apply(F(25, {JobEvent(newer, 25)}));
  EXPECT_EQ(view_.ObservedFor(kKey).job, newer);
}

// The controller's stream delivers Job payloads as summaries (PayloadDetail::kSummary).
TEST_F(ClusterViewTest, AJobEventSummaryIsHeldAsOneAndNeverReplacesTheWholeJob) {
  nomad::Job full = OurJob();
  full.task_groups[0].tasks.emplace_back().name = "main";
  nomad::Event summary = JobEvent(nomad::JobSummary(full), 20);
  summary.job_detailed = false;
  EXPECT_EQ(view_.Apply(F(20, {summary})), Keys({kKey}));
  Observed o = view_.ObservedFor(kKey);
  EXPECT_FALSE(o.job_detailed);
  EXPECT_EQ(o.job, nomad::JobSummary(full));
  EXPECT_EQ(view_.Apply(F(20, {summary})), KeySet{}) << "a replay changes nothing";
  // A read at the same index brings the whole job; the summary replayed does not take its place.
  EXPECT_EQ(view_.ApplyJobRead(full), Keys({kKey}));
  EXPECT_TRUE(view_.ObservedFor(kKey).job_detailed);
  EXPECT_EQ(view_.Apply(F(20, {summary})), KeySet{});
  EXPECT_EQ(view_.ObservedFor(kKey).job, full);
}

TEST_F(ClusterViewTest, ForeignJobIsKeptOnlyForAWatchedKey) {
  EXPECT_EQ(view_.Apply(F(20, {JobEvent(ForeignJob("billing", 20), 20)})), Keys({kKey}));
  EXPECT_TRUE(view_.ObservedFor(kKey).job.has_value()) << "needed to report Conflict";
  EXPECT_EQ(view_.Apply(F(21, {JobEvent(ForeignJob("unrelated", 21), 21)})), KeySet{});
  EXPECT_EQ(view_.Keys(), std::vector<SingletonKey>{kKey});
}

TEST_F(ClusterViewTest, OurJobWithoutASpecIsTrackedAsAnOrphan) {
  EXPECT_EQ(view_.Apply(F(20, {JobEvent(OurJob("other", 20, kOtherLock), 20)})), Keys({kOther}));
  EXPECT_EQ(view_.Keys(), (std::vector<SingletonKey>{kKey, kOther}));
  EXPECT_EQ(view_.LockPathOf(kOther), kOtherLock);
}

TEST_F(ClusterViewTest, AnOrphanThatStopsBeingOursIsForgotten) {
  view_.Apply(F(20, {JobEvent(OurJob("other", 20, kOtherLock), 20)}));
  nomad::Allocation a = Alloc("o1", nomad::kClientRunning, 21);
  a.job_id = "other";
  view_.Apply(F(21, {AllocEvent(a, 21)}));
  EXPECT_EQ(view_.Apply(F(22, {JobEvent(ForeignJob("other", 22), 22)})), Keys({kOther}));
  EXPECT_EQ(view_.Keys(), std::vector<SingletonKey>{kKey});
  EXPECT_TRUE(view_.ObservedFor(kOther).allocations.empty());
}

TEST_F(ClusterViewTest, AllocationEventsUpdateTheViewInIndexOrder) {
  view_.Apply(F(20, {JobEvent(OurJob(), 20)}));
  EXPECT_EQ(view_.Apply(F(30, {AllocEvent(Alloc("a1", nomad::kClientPending, 30), 30)})),
            Keys({kKey}));
  EXPECT_EQ(view_.Apply(F(31, {AllocEvent(Alloc("a1", nomad::kClientRunning, 30), 31)})),
            Keys({kKey}));
  EXPECT_EQ(view_.Apply(F(31, {AllocEvent(Alloc("a1", nomad::kClientRunning, 30), 31)})),
            KeySet{})
      << "the same update again (a stream resumed at index 31 replays it)";
  EXPECT_EQ(view_.Apply(F(30, {AllocEvent(Alloc("a1", nomad::kClientPending, 30), 30)})),
            KeySet{})
      << "an older update";
  Observed o = view_.ObservedFor(kKey);
  ASSERT_EQ(o.allocations.size(), 1u);
  EXPECT_EQ(o.allocations[0].client_status, nomad::kClientRunning);
}

// The view keeps what the controller reads of an allocation, not its task states and histories
// (most of its size): the allocation Plan sees is the event's, less those.
TEST_F(ClusterViewTest, AllocationsAreKeptWithoutTaskStatesAndHistories) {
  view_.Apply(F(20, {JobEvent(OurJob(), 20)}));
  nomad::Allocation a = Alloc("a1", nomad::kClientRunning, 30);
  a.task_group = "singleton";
  a.desired_transition.migrate = true;
  nomad::Allocation full = a;
  full.task_states["main"].state = "running";
  nomad::TaskEvent started;
  started.type = "Started";
  started.message = std::string(500, 'x');
  full.task_states["main"].events.push_back(started);
  full.alloc_states.push_back({"ClientStatus", "unknown", 1});
  full.reschedule_events.push_back({1, "a0", "n0", 5s});
  full.client_description = "Tasks are running";
  full.desired_description = "";
  full.followup_eval_id = "e2";
  full.eval_id = "e1";
  full.node_name = "node-one";
  view_.Apply(F(30, {AllocEvent(full, 30)}));
  const Observed o = view_.ObservedFor(kKey);
  ASSERT_EQ(o.allocations.size(), 1u);
  EXPECT_EQ(o.allocations[0], a);
}

TEST_F(ClusterViewTest, AnEventDeliveredTwiceInOneFrameCountsOnce) {
  view_.Apply(F(20, {JobEvent(OurJob(), 20)}));
  auto e = AllocEvent(Alloc("a1", nomad::kClientRunning, 30), 30);
  EXPECT_EQ(view_.Apply(F(30, {e, e})), Keys({kKey}));
  EXPECT_EQ(view_.ObservedFor(kKey).allocations.size(), 1u);
  EXPECT_EQ(view_.Apply(F(30, {e})), KeySet{});
}

TEST_F(ClusterViewTest, AllocationsOfJobsTheViewDoesNotTrackAreDropped) {
  nomad::Allocation a = Alloc("x1", nomad::kClientRunning, 30);
  a.job_id = "unrelated";
  EXPECT_EQ(view_.Apply(F(30, {AllocEvent(a, 30)})), KeySet{});
  EXPECT_TRUE(view_.ObservedFor("prod/unrelated").allocations.empty());
}

TEST_F(ClusterViewTest, PeriodicChildrenBelongToTheParentKey) {
  view_.Apply(F(20, {JobEvent(OurJob(), 20)}));
  nomad::Job child = OurJob("billing/periodic-1724000000", 21);
  EXPECT_EQ(view_.Apply(F(21, {JobEvent(child, 21)})), KeySet{});
  nomad::Allocation a = Alloc("c1", nomad::kClientRunning, 22);
  a.job_id = child.id;
  EXPECT_EQ(view_.Apply(F(22, {AllocEvent(a, 22)})), Keys({kKey}));
  EXPECT_EQ(view_.ObservedFor(kKey).allocations.size(), 1u);
  EXPECT_EQ(view_.ObservedFor(kKey).job->id, "billing") << "the parent, not the child";
  EXPECT_EQ(view_.Keys(), std::vector<SingletonKey>{kKey});
}

TEST(KeyOfTest, StripsPeriodicAndDispatchSuffixes) {
  EXPECT_EQ(KeyOf("prod", "billing"), "prod/billing");
  EXPECT_EQ(KeyOf("prod", "billing/periodic-1724000000"), "prod/billing");
  EXPECT_EQ(KeyOf("default", "etl/dispatch-1724000000-3f2a"), "default/etl");
}

TEST_F(ClusterViewTest, NodeStatusChangeWakesOnlyKeysWithAllocationsOnIt) {
  view_.Watch({{kKey, kLockPath}, {kOther, kOtherLock}});
  view_.Apply(F(20, {JobEvent(OurJob(), 20), JobEvent(OurJob("other", 20, kOtherLock), 20)}));
  nomad::Allocation b = Alloc("b1", nomad::kClientRunning, 31, "n2");
  b.job_id = "other";
  view_.Apply(F(31, {AllocEvent(Alloc("a1", nomad::kClientRunning, 30, "n1"), 30),
                     AllocEvent(b, 31)}));
  view_.Apply(F(32, {NodeEvent("n1", nomad::kNodeReady, 32),
                     NodeEvent("n2", nomad::kNodeReady, 32)}));
  EXPECT_EQ(view_.Apply(F(40, {NodeEvent("n1", nomad::kNodeDown, 40)})), Keys({kKey}));
  EXPECT_EQ(view_.ObservedFor(kKey).node_status.at("n1"), nomad::kNodeDown);
  EXPECT_EQ(view_.ObservedFor(kOther).node_status.count("n1"), 0u);
  nomad::Event same = NodeEvent("n1", nomad::kNodeDown, 41);  // e.g. drain: status unchanged
  EXPECT_EQ(view_.Apply(F(41, {same})), KeySet{});
}

// The view indexes allocations by singleton and by node (issue 17: an event costs what it
// touches). The indexes must follow an allocation that is updated, pruned or dropped with its job.
TEST_F(ClusterViewTest, IndexesFollowUpdatesPrunesAndDrops) {
  view_.Apply(F(20, {JobEvent(OurJob(), 20), JobEvent(OurJob("other", 20, kOtherLock), 20)}));
  view_.Apply(F(21, {NodeEvent("n1", nomad::kNodeReady, 21), NodeEvent("n2", nomad::kNodeReady, 21)}));
  nomad::Allocation o = Alloc("o1", nomad::kClientRunning, 22, "n2");
  o.job_id = "other";
  view_.Apply(F(22, {AllocEvent(o, 22)}));
  // a1 is first reported on n1, then (a later, authoritative update) on n2.
  view_.Apply(F(30, {AllocEvent(Alloc("a1", nomad::kClientRunning, 30, "n1"), 30)}));
  view_.Apply(F(31, {AllocEvent(Alloc("a1", nomad::kClientRunning, 31, "n2"), 31)}));
  EXPECT_EQ(view_.Apply(F(40, {NodeEvent("n1", nomad::kNodeDown, 40)})), KeySet{})
      << "nothing of ours runs on n1 any more";
  EXPECT_EQ(view_.Apply(F(41, {NodeEvent("n2", nomad::kNodeDown, 41)})), Keys({kKey, kOther}));
  // Terminal allocations beyond the bound are pruned from the key's index too.
  uint64_t index = 50;
  for (int i = 0; i < static_cast<int>(kMaxTerminalAllocations) + 3; ++i, ++index) {
    view_.Apply(F(index, {AllocEvent(Alloc("t" + std::to_string(i), nomad::kClientComplete,
                                           index, "n1"), index)}));
  }
  const Observed obs = view_.ObservedFor(kKey);
  EXPECT_EQ(obs.allocations.size(), kMaxTerminalAllocations + 1) << "a1 and the newest terminal";
  EXPECT_EQ(obs.allocations.front().id, "a1");
  EXPECT_EQ(obs.allocations.back().id, "t" + std::to_string(kMaxTerminalAllocations + 2));
  // The orphan "other" stops being ours: its allocation goes, and so does its node entry.
  view_.Apply(F(index, {JobEvent(ForeignJob("other", index), index)}));
  EXPECT_TRUE(view_.ObservedFor(kOther).allocations.empty());
  ++index;
  EXPECT_EQ(view_.Apply(F(index, {NodeEvent("n2", nomad::kNodeReady, index)})), Keys({kKey}));
}

TEST_F(ClusterViewTest, LockEventNamesNoHolderUntilTheVariableIsRead) {
  view_.Apply(F(20, {JobEvent(OurJob(), 20)}));
  EXPECT_FALSE(view_.ObservedFor(kKey).lock.known);
  EXPECT_EQ(view_.Apply(F(40, {VarEvent(kLockPath, "L1", 40)})), Keys({kKey}));
  LockState s = view_.ObservedFor(kKey).lock;
  EXPECT_TRUE(s.known);
  EXPECT_EQ(s.holder, (LockHolder{"", 40}));
  EXPECT_EQ(view_.ApplyVariableRead("prod", kLockPath, LockVar("L1", "a1", 40), 40),
            Keys({kKey}));
  EXPECT_EQ(view_.ObservedFor(kKey).lock.holder, (LockHolder{"a1", 40}));
  EXPECT_EQ(view_.ApplyVariableRead("prod", kLockPath, LockVar("L1", "a1", 40), 40), KeySet{})
      << "nothing new";
}

TEST_F(ClusterViewTest, SameLeaseKeepsItsHolderAndEpoch) {
  Populate();
  // The holder rewrites its Items under the same lock ID: ModifyIndex moves, the lease does not.
  EXPECT_EQ(view_.Apply(F(45, {VarEvent(kLockPath, "L1", 45)})), KeySet{});
  EXPECT_EQ(view_.ObservedFor(kKey).lock.holder, (LockHolder{"a1", 40}));
}

TEST_F(ClusterViewTest, NewLeaseRetiresTheHolderToHistory) {
  Populate();
  EXPECT_EQ(view_.Apply(F(55, {VarEvent(kLockPath, "L2", 55)})), Keys({kKey}));
  LockState s = view_.ObservedFor(kKey).lock;
  EXPECT_EQ(s.holder, (LockHolder{"", 55}));
  EXPECT_EQ(s.history, std::vector<LockHolder>{(LockHolder{"a1", 40})});
  view_.ApplyVariableRead("prod", kLockPath, LockVar("L2", "a2", 55), 55);
  EXPECT_EQ(view_.Apply(F(60, {VarEvent(kLockPath, "", 60)})), Keys({kKey})) << "released";
  s = view_.ObservedFor(kKey).lock;
  EXPECT_FALSE(s.holder.has_value());
  EXPECT_EQ(s.history, (std::vector<LockHolder>{{"a2", 55}, {"a1", 40}}));
}

TEST_F(ClusterViewTest, HolderHistoryIsBounded) {
  Populate();
  for (uint64_t i = 0; i < 2 * kMaxHolderHistory; ++i) {
    const uint64_t index = 100 + i;
    view_.ApplyVariableRead("prod", kLockPath,
                            LockVar("L" + std::to_string(index), "h" + std::to_string(i), index),
                            index);
  }
  LockState s = view_.ObservedFor(kKey).lock;
  EXPECT_EQ(s.history.size(), kMaxHolderHistory);
  EXPECT_EQ(s.history.front().alloc_id, "h" + std::to_string(2 * kMaxHolderHistory - 2));
}

TEST_F(ClusterViewTest, DeletedLockVariableFreesTheLock) {
  Populate();
  EXPECT_EQ(view_.Apply(F(70, {VarEvent(kLockPath, "", 70, /*deleted=*/true)})), Keys({kKey}));
  LockState s = view_.ObservedFor(kKey).lock;
  EXPECT_TRUE(s.known);
  EXPECT_FALSE(s.holder.has_value());
}

TEST_F(ClusterViewTest, StaleVariableEventsAreIgnored) {
  Populate();
  EXPECT_EQ(view_.Apply(F(39, {VarEvent(kLockPath, "", 39)})), KeySet{});
  EXPECT_EQ(view_.ObservedFor(kKey).lock.holder, (LockHolder{"a1", 40}));
}

TEST_F(ClusterViewTest, VariablesOfOtherPathsAreIgnored) {
  Populate();
  EXPECT_EQ(view_.Apply(F(50, {VarEvent("nomad/jobs/billing/config", "L9", 50)})), KeySet{});
  EXPECT_EQ(view_.ApplyVariableRead("other-ns", kLockPath, LockVar("L9", "z", 51), 51), KeySet{});
  EXPECT_EQ(view_.ObservedFor(kKey).lock.holder, (LockHolder{"a1", 40}));
}

TEST_F(ClusterViewTest, LockPathComesFromOurJobsMetaFirst) {
  nomad::Job j = OurJob("billing", 20, "nomad/jobs/billing/leader");
  view_.Apply(F(20, {JobEvent(j, 20)}));
  EXPECT_EQ(view_.LockPathOf(kKey), "nomad/jobs/billing/leader");
  EXPECT_EQ(view_.Apply(F(40, {VarEvent("nomad/jobs/billing/leader", "L1", 40)})), Keys({kKey}));
  EXPECT_EQ(view_.Apply(F(41, {VarEvent(kLockPath, "L2", 41)})), KeySet{})
      << "the spec's path is not what the running allocations use";
}

TEST_F(ClusterViewTest, PurgedJobLeavesATombstone) {
  Populate();
  EXPECT_EQ(view_.Apply(F(50, {JobEvent(OurJob("billing", 49), 50, /*deleted=*/true)})),
            Keys({kKey}));
  EXPECT_FALSE(view_.ObservedFor(kKey).job.has_value());
  EXPECT_EQ(view_.ObservedFor(kKey).allocations.size(), 1u)
      << "allocations of a watched key stay until Nomad reports them stopped";
  EXPECT_EQ(view_.Apply(F(45, {JobEvent(OurJob("billing", 45), 45)})), KeySet{})
      << "a late event must not bring the job back";
  EXPECT_EQ(view_.Apply(F(60, {JobEvent(OurJob("billing", 60), 60)})), Keys({kKey}));
  EXPECT_TRUE(view_.ObservedFor(kKey).job.has_value());
}

TEST_F(ClusterViewTest, JobMissingReadRemovesTheJob) {
  Populate();
  EXPECT_EQ(view_.ApplyJobMissing("prod", "billing", 80), Keys({kKey}));
  EXPECT_FALSE(view_.ObservedFor(kKey).job.has_value());
  EXPECT_EQ(view_.ApplyJobRead(OurJob("billing", 70)), KeySet{}) << "older than the 404";
}

TEST_F(ClusterViewTest, TerminalAllocationsArePrunedToTheNewest) {
  view_.Apply(F(20, {JobEvent(OurJob(), 20)}));
  view_.Apply(F(30, {AllocEvent(Alloc("live", nomad::kClientRunning, 30), 30)}));
  for (uint64_t i = 0; i < kMaxTerminalAllocations + 4; ++i) {
    view_.Apply(F(100 + i, {AllocEvent(Alloc("t" + std::to_string(i), nomad::kClientComplete,
                                             100 + i, "n1", nomad::kDesiredStop),
                                       100 + i)}));
  }
  Observed o = view_.ObservedFor(kKey);
  EXPECT_EQ(o.allocations.size(), kMaxTerminalAllocations + 1);
  EXPECT_EQ(o.allocations.front().id, "live") << "ordered by CreateIndex; live ones stay";
  EXPECT_EQ(o.allocations[1].id, "t4") << "the four oldest terminal ones went";
}

TEST_F(ClusterViewTest, ObservedOrdersAllocationsAndListsTheirNodes) {
  view_.Apply(F(20, {JobEvent(OurJob(), 20)}));
  view_.Apply(F(33, {AllocEvent(Alloc("z", nomad::kClientRunning, 31, "n2"), 33),
                     AllocEvent(Alloc("b", nomad::kClientRunning, 32, "n1"), 33),
                     AllocEvent(Alloc("a", nomad::kClientRunning, 32, "n1"), 33)}));
  view_.Apply(F(34, {NodeEvent("n1", nomad::kNodeReady, 34),
                     NodeEvent("n9", nomad::kNodeDown, 34)}));
  Observed o = view_.ObservedFor(kKey);
  ASSERT_EQ(o.allocations.size(), 3u);
  EXPECT_EQ(o.allocations[0].id, "z");
  EXPECT_EQ(o.allocations[1].id, "a");
  EXPECT_EQ(o.allocations[2].id, "b");
  EXPECT_EQ(o.node_status, (std::map<std::string, std::string>{{"n1", nomad::kNodeReady}}));
}

TEST_F(ClusterViewTest, HeartbeatsChangeNothing) {
  Populate();
  const uint64_t before = view_.LastIndex();
  EXPECT_EQ(view_.Apply(nomad::Frame{}), KeySet{});
  EXPECT_EQ(view_.LastIndex(), before);
}

TEST_F(ClusterViewTest, WatchReportsAddedAndRemovedKeysAndDropsForeignJobs) {
  view_.Apply(F(20, {JobEvent(ForeignJob("billing", 20), 20)}));
  EXPECT_EQ(view_.Watch({{kKey, kLockPath}, {kOther, kOtherLock}}), Keys({kOther}));
  EXPECT_EQ(view_.Watch({{kKey, kLockPath}, {kOther, kOtherLock}}), KeySet{});
  EXPECT_EQ(view_.Watch({{kKey, "nomad/jobs/billing/leader"}}), Keys({kKey, kOther}));
  EXPECT_EQ(view_.Watch({}), Keys({kKey}));
  EXPECT_FALSE(view_.ObservedFor(kKey).job.has_value()) << "foreign and no longer named by a spec";
  EXPECT_TRUE(view_.Keys().empty());
}

// ---- Reset: re-list after a (possible) gap ----

Snapshot Listed() {
  Snapshot s;
  s.index = 100;
  s.jobs = {OurJob("billing", 20), OurJob("other", 22, kOtherLock)};
  s.nodes = {Node("n1", nomad::kNodeReady, 21)};
  nomad::Allocation b = Alloc("b1", nomad::kClientRunning, 31);
  b.job_id = "other";
  s.allocations = {Alloc("a1", nomad::kClientRunning, 30), b};
  s.variables = {LockVar("L1", "a1", 40)};
  return s;
}

TEST_F(ClusterViewTest, ResetBuildsTheViewAndWakesEveryKeyItChanged) {
  EXPECT_EQ(view_.Reset(Listed()), Keys({kKey, kOther}));
  Observed o = view_.ObservedFor(kKey);
  ASSERT_TRUE(o.job.has_value());
  EXPECT_EQ(o.allocations.size(), 1u);
  EXPECT_EQ(o.lock.holder, (LockHolder{"a1", 40}));
  EXPECT_EQ(view_.LastIndex(), 100u);
  LockState other = view_.ObservedFor(kOther).lock;
  EXPECT_TRUE(other.known) << "not in the list: the lock is free";
  EXPECT_FALSE(other.holder.has_value());
}

TEST_F(ClusterViewTest, ResetWakesExactlyTheKeysThatDiffer) {
  view_.Watch({{kKey, kLockPath}, {"prod/gone", "nomad/jobs/gone/lock"}});
  view_.Reset(Listed());
  view_.Apply(F(101, {JobEvent(OurJob("gone", 101, "nomad/jobs/gone/lock"), 101)}));
  Snapshot s = Listed();
  s.index = 200;
  s.allocations[1].client_status = nomad::kClientFailed;  // other's allocation changed meanwhile
  s.jobs.push_back(OurJob("new", 150, "nomad/jobs/new/lock"));  // an orphan appeared
  // prod/gone's job was purged during the gap: it is in no list any more.
  EXPECT_EQ(view_.Reset(s), Keys({kOther, "prod/new", "prod/gone"}));
  EXPECT_FALSE(view_.ObservedFor("prod/gone").job.has_value());
  EXPECT_EQ(view_.Reset(s), KeySet{}) << "the same lists again change nothing";
}

TEST_F(ClusterViewTest, ResetIgnoresEventsOlderThanTheLists) {
  view_.Reset(Listed());
  nomad::Allocation late = Alloc("a0", nomad::kClientRunning, 25);
  EXPECT_EQ(view_.Apply(F(90, {AllocEvent(late, 90)})), KeySet{});
  EXPECT_EQ(view_.Apply(F(95, {JobEvent(OurJob("zombie", 95), 95)})), KeySet{});
  EXPECT_EQ(view_.Apply(F(99, {VarEvent(kOtherLock, "LX", 99)})), KeySet{});
  EXPECT_FALSE(view_.ObservedFor(kOther).lock.holder.has_value());
  EXPECT_EQ(view_.Apply(F(101, {AllocEvent(late, 101)})), Keys({kKey}));
}

TEST_F(ClusterViewTest, ResetKeepsPastHolders) {
  Populate();
  Snapshot s = Listed();
  s.variables = {LockVar("L2", "a2", 90)};
  s.allocations.push_back(Alloc("a2", nomad::kClientRunning, 80));
  view_.Reset(s);
  LockState l = view_.ObservedFor(kKey).lock;
  EXPECT_EQ(l.holder, (LockHolder{"a2", 90}));
  EXPECT_EQ(l.history, std::vector<LockHolder>{(LockHolder{"a1", 40})});
}

// A held job (Snapshot::held_jobs) is kept as the view has it: not copied, not woken; a job
// that moved on meanwhile keeps its newer copy; one the view no longer has is gone.
TEST_F(ClusterViewTest, ResetKeepsTheHeldJobsAsTheViewHasThem) {
  view_.Reset(Listed());
  nomad::Job mine = *view_.ObservedFor(kKey).job;
  Snapshot s = Listed();
  s.index = 200;
  s.jobs.erase(std::remove_if(s.jobs.begin(), s.jobs.end(),
                              [&](const nomad::Job& j) { return j.id == mine.id; }),
               s.jobs.end());
  s.held_jobs.push_back({mine.namespace_, mine.id, mine.modify_index});
  EXPECT_EQ(view_.Reset(s), KeySet{}) << "nothing changed";
  ASSERT_TRUE(view_.ObservedFor(kKey).job.has_value());
  EXPECT_EQ(*view_.ObservedFor(kKey).job, mine);

  // An event brought a newer job after the list: the newer one stays.
  nomad::Job newer = mine;
  newer.modify_index = 250;
  newer.priority = 77;
  view_.Apply(F(250, {JobEvent(newer, 250)}));
  s.index = 300;
  EXPECT_EQ(view_.Reset(s), KeySet{});
  EXPECT_EQ(view_.ObservedFor(kKey).job->priority, 77);

  // A held job the view does not have (purged meanwhile): the key has no job after the reset.
  s.held_jobs.push_back({"prod", "nowhere", 10});
  s.index = 400;
  view_.Reset(s);
  EXPECT_FALSE(view_.ObservedFor("prod/nowhere").job.has_value());
}

TEST_F(ClusterViewTest, ReadsAreNotSubjectToTheResetFloor) {
  view_.Reset(Listed());
  // A spec added after the re-list names a job the lists did not include (it is not ours).
  view_.Watch({{kKey, kLockPath}, {"prod/late", "nomad/jobs/late/lock"}});
  EXPECT_EQ(view_.ApplyJobRead(ForeignJob("late", 50)), Keys({"prod/late"}));
  EXPECT_TRUE(view_.ObservedFor("prod/late").job.has_value());
  EXPECT_FALSE(view_.ObservedFor("prod/late").lock.known);
  EXPECT_EQ(view_.ApplyVariableRead("prod", "nomad/jobs/late/lock", std::nullopt, 0),
            Keys({"prod/late"}));
  EXPECT_TRUE(view_.ObservedFor("prod/late").lock.known);
}

TEST_F(ClusterViewTest, ANotFoundReadIsTheNewestWord) {
  Populate();
  EXPECT_EQ(view_.ApplyVariableRead("prod", kLockPath, std::nullopt, 0), Keys({kKey}))
      << "404 after the holder was read at the same index";
  EXPECT_FALSE(view_.ObservedFor(kKey).lock.holder.has_value());
  EXPECT_EQ(view_.ApplyJobMissing("prod", "billing", 0), Keys({kKey}));
  EXPECT_FALSE(view_.ObservedFor(kKey).job.has_value());
  EXPECT_EQ(view_.Apply(F(view_.LastIndex() + 1,
                          {JobEvent(OurJob("billing", view_.LastIndex() + 1),
                                    view_.LastIndex() + 1)})),
            Keys({kKey}))
      << "a newer register brings it back";
}

TEST_F(ClusterViewTest, ObservedFromTheViewDrivesPlan) {
  // End to end through the pure parts: a view built from events answers Observed, and Plan on it
  // finds the duplicate the events describe.
  Populate();
  view_.Apply(F(50, {AllocEvent(Alloc("a2", nomad::kClientRunning, 50, "n1"), 50)}));
  Observed o = view_.ObservedFor(kKey);
  Desired d;
  d.key = kKey;
  d.state = SpecState::kInvalid;
  d.invalid_message = "broken";
  PlanResult r = Plan(d, o, PlanOptions{});
  ASSERT_EQ(r.actions.size(), 1u);
  EXPECT_EQ(Describe(r.actions[0]), "stop a2 (Duplicates)");
}

}  // namespace
}  // namespace nsg::reconcile
