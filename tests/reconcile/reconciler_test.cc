#include "controller/reconcile/reconciler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>

#include "tests/reconcile/fake_nomad_api.h"
#include "tests/reconcile/fixtures.h"

namespace nsg::reconcile {
namespace {

using namespace std::chrono_literals;
using base::Status;
using base::StatusCode;
using testing::Alloc;
using testing::FakeNomadApi;
using testing::kKey;
using testing::kLockPath;
using testing::ServerJob;
using Outcome = ReconcileResult::Outcome;
using Lines = std::vector<std::string>;

const char kPolicyName[] = "nomad-singleton-prod-billing";
const char kReadVar[] = "ReadVariable prod/nomad/jobs/billing/lock";
const char kReadPolicy[] = "ReadAclPolicy nomad-singleton-prod-billing";

nomad::Variable LockVar(const std::string& lock_id, const std::string& alloc, uint64_t index) {
  nomad::Variable v;
  v.namespace_ = "prod";
  v.path = kLockPath;
  v.modify_index = index;
  v.lock = nomad::VariableLock{15s, 15s, lock_id};
  v.items[kLockItemAllocId] = alloc;
  return v;
}

nomad::Frame AllocFrame(const nomad::Allocation& a) {
  nomad::Event e;
  e.topic = "Allocation";
  e.index = a.modify_index;
  e.namespace_ = a.namespace_;
  e.allocation = a;
  return nomad::Frame{a.modify_index, {e}};
}

// A Job event as the controller's stream decodes it: the payload's summary.
nomad::Frame JobSummaryFrame(const nomad::Job& job) {
  nomad::Event e;
  e.topic = "Job";
  e.index = job.modify_index;
  e.namespace_ = job.namespace_;
  e.job = nomad::JobSummary(job);
  e.job_detailed = false;
  return nomad::Frame{job.modify_index, {e}};
}

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest() : clock_(base::TimePoint(1000s)) {
    spec_ = testing::Billing();
    rendered_ = testing::RenderOrDie(spec_);
    desired_.key = kKey;
    desired_.state = SpecState::kValid;
    desired_.rendered = std::make_shared<const render::CompactRendered>(
        render::CompactRendered::From(rendered_));
    view_.Watch({{kKey, kLockPath}});
  }

  std::unique_ptr<Reconciler> Make(Reconciler::Options o = {}) {
    return std::make_unique<Reconciler>(api_, view_, clock_, o);
  }

  // Nomad and the view agree: our job at JobModifyIndex 20 (written by us), the policy, a1 running
  // and holding the lock.
  void Running() {
    nomad::Job j = ServerJob(rendered_.job, 20);
    api_.jobs["prod/billing"] = j;
    api_.policies[kPolicyName] = rendered_.policy;
    api_.variables["prod/" + std::string(kLockPath)] = LockVar("L1", "a1", 40);
    view_.ApplyJobRead(j);
    view_.Apply(AllocFrame(Alloc("a1", nomad::kClientRunning, 30)));
    memory_.written_job_modify_index = 20;
  }

  FakeNomadApi api_;
  ClusterView view_;
  base::VirtualClock clock_;
  spec::Singleton spec_;
  render::Rendered rendered_;
  Desired desired_;
  Memory memory_;
};

TEST_F(ReconcilerTest, CreatesThePolicyThenTheJobAndRemembersTheWrite) {
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  EXPECT_EQ(api_.calls,
            (Lines{kReadVar, kReadPolicy, "UpsertAclPolicy nomad-singleton-prod-billing",
                   "RegisterJob prod/billing enforce=0"}));
  EXPECT_EQ(r.executed.size(), 2u);
  ASSERT_EQ(api_.jobs.count("prod/billing"), 1u);
  EXPECT_EQ(memory_.written_job_modify_index, api_.jobs["prod/billing"].job_modify_index);
  EXPECT_TRUE(view_.ObservedFor(kKey).lock.known) << "the 404 was fed back into the view";
}

TEST_F(ReconcilerTest, HealthyClusterMakesOnlyReads) {
  Running();
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone);
  EXPECT_EQ(api_.calls, (Lines{kReadVar, kReadPolicy}));
  EXPECT_TRUE(r.plan.actions.empty());
  // Now the view knows the holder: the next reconcile does not read the lock again.
  api_.calls.clear();
  Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(api_.calls, Lines{kReadPolicy});
}

TEST_F(ReconcilerTest, LostCheckAndSetReReadsTheJobAndRetriesAtOnce) {
  Running();
  // The view shows our job at 20 with an old spec; Nomad meanwhile has it at 150.
  nomad::Job old_spec = ServerJob(rendered_.job, 20);
  old_spec.meta[render::kMetaSpecHash] = "0000000000000000";
  old_spec.modify_index = 26;  // newer than what Running() stored, so the view takes it
  view_.ApplyJobRead(old_spec);
  nomad::Job theirs = old_spec;
  theirs.job_modify_index = 150;
  theirs.modify_index = 150;
  api_.jobs["prod/billing"] = theirs;

  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  EXPECT_EQ(r.conflicts, 1);
  EXPECT_EQ(api_.calls, (Lines{kReadVar, kReadPolicy, "RegisterJob prod/billing enforce=20",
                               "ReadJob prod/billing", kReadPolicy,
                               "RegisterJob prod/billing enforce=150"}));
  EXPECT_EQ(memory_.written_job_modify_index, api_.jobs["prod/billing"].job_modify_index);
}

TEST_F(ReconcilerTest, AViewThatMissedTheJobConvergesAfterOneConflict) {
  // Nomad has our job exactly as rendered; the view has not seen it yet.
  api_.jobs["prod/billing"] = ServerJob(rendered_.job, 150);
  api_.policies[kPolicyName] = rendered_.policy;
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  EXPECT_EQ(r.conflicts, 1);
  EXPECT_EQ(api_.calls, (Lines{kReadVar, kReadPolicy, "RegisterJob prod/billing enforce=0",
                               "ReadJob prod/billing", kReadPolicy}));
  EXPECT_TRUE(r.plan.actions.empty()) << "the second plan found nothing to do";
}

TEST_F(ReconcilerTest, ConflictsThatPersistBackOff) {
  Running();
  view_.ApplyJobMissing("prod", "billing", 0);  // the view thinks the job is gone
  for (int i = 0; i < 10; ++i) api_.FailNext("RegisterJob", Status::Conflict("cas"));
  api_.FailNext("ReadJob", Status::NotFound("job not found"));
  api_.FailNext("ReadJob", Status::NotFound("job not found"));
  api_.FailNext("ReadJob", Status::NotFound("job not found"));
  ReconcileResult r = Make({.max_conflict_retries = 3})->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.status.code(), StatusCode::kConflict);
  EXPECT_EQ(r.conflicts, 3);
  EXPECT_EQ(std::count_if(api_.calls.begin(), api_.calls.end(),
                          [](const std::string& c) { return c.rfind("RegisterJob", 0) == 0; }),
            4);
  const Condition* synced = r.plan.Find(ConditionType::kSynced);
  ASSERT_NE(synced, nullptr);
  EXPECT_EQ(synced->reason, "ActionFailed");
}

TEST_F(ReconcilerTest, PolicyFailureStopsBeforeTheRegister) {
  api_.FailNext("UpsertAclPolicy", Status::Unavailable("connection refused"));
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  for (const auto& c : api_.calls) EXPECT_EQ(c.rfind("RegisterJob", 0), std::string::npos) << c;
  EXPECT_NE(r.plan.Find(ConditionType::kSynced)->message.find("upsert-policy"), std::string::npos);
}

// A cluster without ACLs answers the policy endpoints "ACL support disabled" (kInvalidSpec): the
// job must still be registered, and no policy upsert is sent (it would be refused).
TEST_F(ReconcilerTest, PolicyRefusedForGoodDoesNotBlockTheJob) {
  api_.FailNext("ReadAclPolicy", Status::InvalidSpec("ACL support disabled"));
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  EXPECT_EQ(api_.calls, (Lines{kReadVar, kReadPolicy, "RegisterJob prod/billing enforce=0"}));
  EXPECT_EQ(api_.jobs.count("prod/billing"), 1u);
  EXPECT_EQ(api_.policies.count("nomad-singleton-prod-billing"), 0u);
}

// With ACLs on, a policy Nomad refuses as invalid is skipped (fail closed: the lock task cannot
// take the lock) and the job is still registered.
TEST_F(ReconcilerTest, PolicyUpsertRefusedWithAclsOnIsSkipped) {
  api_.FailNext("UpsertAclPolicy", Status::InvalidSpec("invalid policy rules"));
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  EXPECT_EQ(r.policies_skipped, 1);
  EXPECT_EQ(api_.calls,
            (Lines{kReadVar, kReadPolicy, "UpsertAclPolicy nomad-singleton-prod-billing",
                   "RegisterJob prod/billing enforce=0"}));
}

int CountCalls(const Lines& calls, const std::string& prefix) {
  return static_cast<int>(std::count_if(calls.begin(), calls.end(), [&](const std::string& c) {
    return c.rfind(prefix, 0) == 0;
  }));
}

// The Reconciler remembers a cluster without ACLs: later reconciles (of any key) send neither the
// refused upsert nor the read, until the probe interval has passed; the probe that finds ACLs on
// forgets it, and the missing policy is then created.
TEST_F(ReconcilerTest, RemembersAClusterWithoutAcls) {
  Running();
  api_.policies.clear();
  auto rec = Make({.acl_probe_interval = 60s});
  api_.FailNext("ReadAclPolicy", Status::InvalidSpec("ACL support disabled"));
  ReconcileResult first = rec->Reconcile(desired_, memory_);
  EXPECT_EQ(first.outcome, Outcome::kDone) << first.status.ToString();
  EXPECT_EQ(api_.calls, (Lines{kReadVar, kReadPolicy}));
  EXPECT_TRUE(first.plan.actions.empty());
  const Condition* synced = first.plan.Find(ConditionType::kSynced);
  ASSERT_NE(synced, nullptr);
  EXPECT_TRUE(synced->status) << synced->reason << ": " << synced->message;
  EXPECT_NE(synced->message.find("no ACLs"), std::string::npos) << synced->message;

  api_.calls.clear();
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(5s);
    EXPECT_EQ(rec->Reconcile(desired_, memory_).outcome, Outcome::kDone);
  }
  EXPECT_EQ(CountCalls(api_.calls, "ReadAclPolicy"), 0) << "probed before the interval";
  EXPECT_EQ(CountCalls(api_.calls, "UpsertAclPolicy"), 0);

  // The interval has passed: one probe, still disabled.
  clock_.Advance(10s);
  api_.FailNext("ReadAclPolicy", Status::InvalidSpec("ACL support disabled"));
  rec->Reconcile(desired_, memory_);
  rec->Reconcile(desired_, memory_);
  EXPECT_EQ(CountCalls(api_.calls, "ReadAclPolicy"), 1);
  EXPECT_EQ(CountCalls(api_.calls, "UpsertAclPolicy"), 0);

  // ACLs turned on: the next probe finds the policy missing and creates it.
  clock_.Advance(60s);
  api_.calls.clear();
  ReconcileResult on = rec->Reconcile(desired_, memory_);
  EXPECT_EQ(on.outcome, Outcome::kDone) << on.status.ToString();
  EXPECT_EQ(api_.calls, (Lines{kReadPolicy, "UpsertAclPolicy nomad-singleton-prod-billing"}));
  EXPECT_EQ(api_.policies.count(kPolicyName), 1u);
  api_.calls.clear();
  rec->Reconcile(desired_, memory_);
  EXPECT_EQ(api_.calls, Lines{kReadPolicy}) << "back to reading the policy every time";
}

// What one Reconciler learns does not leak into another (a new controller probes afresh).
TEST_F(ReconcilerTest, AclMemoryIsPerReconciler) {
  Running();
  api_.FailNext("ReadAclPolicy", Status::InvalidSpec("ACL support disabled"));
  Make()->Reconcile(desired_, memory_);
  api_.calls.clear();
  Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(api_.calls, Lines{kReadPolicy});
}

TEST_F(ReconcilerTest, PermissionDeniedIsRetriedAndReported) {
  api_.FailNext("RegisterJob", Status::PermissionDenied("Permission denied"));
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.plan.Find(ConditionType::kSynced)->reason, "PermissionDenied");
}

TEST_F(ReconcilerTest, NomadRejectingTheJobIsPermanent) {
  api_.FailNext("RegisterJob", Status::InvalidSpec("1 error occurred: Task group validation"));
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kPermanent);
  EXPECT_EQ(r.plan.Find(ConditionType::kSynced)->reason, "RejectedByNomad");
}

TEST_F(ReconcilerTest, ShutdownIsCancelled) {
  api_.FailNext("ReadVariable", Status::Cancelled("shutting down"));
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kCancelled);
  EXPECT_TRUE(r.executed.empty());
}

TEST_F(ReconcilerTest, ReadsTheLockBeforeStoppingDuplicates) {
  Running();
  view_.Apply(AllocFrame(Alloc("a2", nomad::kClientRunning, 31, "n2")));
  view_.Apply(AllocFrame(Alloc("a3", nomad::kClientRunning, 32, "n2")));
  api_.FailNext("StopAllocation", Status::NotFound("allocation not found"));  // a3: already gone
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  EXPECT_EQ(api_.calls, (Lines{kReadVar, kReadPolicy, "StopAllocation a3", "StopAllocation a2"}));
  EXPECT_EQ(r.enforcement_stops, 1);
  EXPECT_EQ(r.executed, (Lines{"stop a3 (Duplicates)", "stop a2 (Duplicates)"}));
  EXPECT_EQ(memory_.counted_duplicates, (std::set<std::string>{"a2", "a3"}));
}

// The view lags the lock by an event: it still names a1 as the holder while a2 has just taken the
// lock. Before stopping anything the reconciler reads the lock, so it stops the old holder a1 —
// never a2, the holder the view had not seen yet.
TEST_F(ReconcilerTest, AFreshLockReadKeepsAHolderTheViewHasNotSeen) {
  Running();
  auto rec = Make();
  ASSERT_EQ(rec->Reconcile(desired_, memory_).outcome, Outcome::kDone);  // the view learns a1
  view_.Apply(AllocFrame(Alloc("a2", nomad::kClientRunning, 31, "n2")));
  api_.variables["prod/" + std::string(kLockPath)] = LockVar("L2", "a2", 70);  // no event yet
  api_.calls.clear();
  ReconcileResult r = rec->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  EXPECT_EQ(api_.stopped, (std::vector<std::string>{"a1"}));
  EXPECT_EQ(api_.calls.front(), kReadPolicy);
  EXPECT_NE(std::find(api_.calls.begin(), api_.calls.end(), kReadVar), api_.calls.end());
}

TEST_F(ReconcilerTest, NoLockReadNoStops) {
  Running();
  view_.Apply(AllocFrame(Alloc("a2", nomad::kClientRunning, 31, "n2")));
  api_.FailNext("ReadVariable", Status::Unavailable("timeout"));
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_TRUE(api_.stopped.empty());
}

TEST_F(ReconcilerTest, DeletedSpecIsDeregisteredWhenPruning) {
  Running();
  desired_.state = SpecState::kAbsent;
  desired_.rendered.reset();
  ReconcileResult r = Make({.prune = true})->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone);
  EXPECT_EQ(api_.calls, (Lines{kReadVar, "DeregisterJob prod/billing"}));
  EXPECT_TRUE(api_.jobs["prod/billing"].stop) << "stopped, not purged";
}

TEST_F(ReconcilerTest, DryRunOnlyReads) {
  ReconcileResult r = Make({.dry_run = true})->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone);
  EXPECT_EQ(api_.calls, (Lines{kReadVar, kReadPolicy}));
  EXPECT_EQ(r.plan.actions.size(), 2u);
  EXPECT_TRUE(r.executed.empty());
  EXPECT_EQ(memory_.written_job_modify_index, 0u);
}

TEST_F(ReconcilerTest, FailoverIsTimedAcrossReconcilesWithTheClock) {
  Running();
  auto rec = Make();
  nomad::Allocation lost = Alloc("a1", nomad::kClientLost, 30, "n1", nomad::kDesiredStop);
  lost.modify_index = 50;
  view_.Apply(AllocFrame(lost));
  ReconcileResult first = rec->Reconcile(desired_, memory_);
  ASSERT_EQ(first.plan.events.size(), 1u);
  EXPECT_EQ(first.plan.events[0].kind, PlanEvent::Kind::kFailoverStarted);
  ASSERT_TRUE(memory_.failover.has_value());

  clock_.Advance(42s);
  nomad::Allocation next = Alloc("a2", nomad::kClientRunning, 51, "n2");
  next.modify_index = 60;
  view_.Apply(AllocFrame(next));
  // The lock changes hands; the event names no holder, so the reconciler reads the variable.
  api_.variables["prod/" + std::string(kLockPath)] = LockVar("L2", "a2", 70);
  nomad::Event ve;
  ve.topic = "Variable";
  ve.index = 70;
  ve.namespace_ = "prod";
  ve.variable = LockVar("L2", "", 70);
  ve.variable->items.clear();
  view_.Apply(nomad::Frame{70, {ve}});
  api_.calls.clear();
  ReconcileResult second = rec->Reconcile(desired_, memory_);
  EXPECT_EQ(api_.calls, (Lines{kReadVar, kReadPolicy}));
  ASSERT_EQ(second.plan.events.size(), 1u);
  EXPECT_EQ(second.plan.events[0].kind, PlanEvent::Kind::kFailoverCompleted);
  EXPECT_EQ(second.plan.events[0].duration, 42s);
  EXPECT_EQ(second.plan.events[0].to_alloc, "a2");
  EXPECT_FALSE(memory_.failover.has_value());
}

// The view keeps a summary of a settled job (issue 17); a plan that must compare every field reads
// the job first, so a summary never hides a change made by hand.
TEST_F(ReconcilerTest, ASummarizedJobIsReadAgainBeforeAFullDriftCheck) {
  Running();
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  ASSERT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  ASSERT_TRUE(r.plan.actions.empty());
  Observed o = view_.ObservedFor(kKey);
  ASSERT_TRUE(o.job.has_value());
  EXPECT_FALSE(o.job_detailed) << "our own write, settled: only a summary is kept";
  EXPECT_TRUE(o.job->task_groups.at(0).tasks.empty());

  // Steady: the summary is enough; nothing is read.
  api_.calls.clear();
  r = Make()->Reconcile(desired_, memory_);
  EXPECT_TRUE(r.plan.actions.empty());
  EXPECT_EQ(r.job_detail_reads, 0);
  EXPECT_EQ(std::count(api_.calls.begin(), api_.calls.end(), "ReadJob prod/billing"), 0);

  // Someone removes the lock task by hand (JobModifyIndex 60); the view missed the event, and the
  // controller's memory is gone (a new leadership term): the job must be compared in full.
  nomad::Job by_hand = ServerJob(rendered_.job, 60);
  std::erase_if(by_hand.task_groups.at(0).tasks,
                [](const nomad::Task& t) { return t.name == render::kLockTaskName; });
  api_.jobs["prod/billing"] = by_hand;
  memory_ = Memory{};
  api_.calls.clear();
  r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  EXPECT_EQ(r.job_detail_reads, 1);
  EXPECT_EQ(std::count(api_.calls.begin(), api_.calls.end(), "ReadJob prod/billing"), 1);
  EXPECT_NE(std::find(api_.calls.begin(), api_.calls.end(), "RegisterJob prod/billing enforce=60"),
            api_.calls.end());
  ASSERT_NE(r.plan.Find(ConditionType::kSynced), nullptr);
  EXPECT_EQ(r.plan.Find(ConditionType::kSynced)->reason, "LockTaskDrifted");
}

// The stream's Job events are summaries: a job changed by hand reaches the view as one, and the
// reconciler reads it before comparing.
TEST_F(ReconcilerTest, AJobEventSummaryOfAJobChangedByHandIsReadBeforeThePlan) {
  Running();
  nomad::Job by_hand = ServerJob(rendered_.job, 60);
  std::erase_if(by_hand.task_groups.at(0).tasks,
                [](const nomad::Task& t) { return t.name == render::kLockTaskName; });
  api_.jobs["prod/billing"] = by_hand;
  view_.Apply(JobSummaryFrame(by_hand));
  ASSERT_FALSE(view_.ObservedFor(kKey).job_detailed);
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  EXPECT_EQ(r.job_detail_reads, 1);
  EXPECT_NE(std::find(api_.calls.begin(), api_.calls.end(), "RegisterJob prod/billing enforce=60"),
            api_.calls.end());
  ASSERT_NE(r.plan.Find(ConditionType::kSynced), nullptr);
  EXPECT_EQ(r.plan.Find(ConditionType::kSynced)->reason, "LockTaskDrifted");
}

// A read older than the summary the view holds cannot replace it: the plan never compares against
// a summary, so the reconcile is retried and writes nothing.
TEST_F(ReconcilerTest, ASummaryIsNeverComparedWhenTheReadIsOlder) {
  Running();
  nomad::Job by_hand = ServerJob(rendered_.job, 60);
  view_.Apply(JobSummaryFrame(by_hand));
  nomad::Job older = by_hand;
  older.modify_index = 50;  // a read that lags the event
  api_.jobs["prod/billing"] = older;
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  EXPECT_EQ(r.outcome, Outcome::kRetry);
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable) << r.status.ToString();
  EXPECT_EQ(r.job_detail_reads, 1);
  EXPECT_TRUE(r.plan.actions.empty());
  for (const auto& c : api_.calls) EXPECT_EQ(c.rfind("RegisterJob", 0), std::string::npos) << c;
}

// A job nobody changed, read after a restart of the controller's memory: compared once, then
// summarized with the report remembered.
TEST_F(ReconcilerTest, AJobComparedInFullIsSummarizedWithItsReportRemembered) {
  Running();
  memory_ = Memory{};  // written index unknown: JobModifyIndex 20 counts as someone else's
  ReconcileResult r = Make()->Reconcile(desired_, memory_);
  ASSERT_EQ(r.outcome, Outcome::kDone) << r.status.ToString();
  EXPECT_TRUE(r.plan.actions.empty());
  ASSERT_TRUE(memory_.drift.has_value());
  EXPECT_FALSE(view_.ObservedFor(kKey).job_detailed);
  api_.calls.clear();
  r = Make()->Reconcile(desired_, memory_);
  EXPECT_TRUE(r.plan.actions.empty());
  EXPECT_EQ(r.job_detail_reads, 0) << "the remembered report needs no job fields";
}

TEST(OutcomeNameTest, NamesForTheReconcileTotalLabel) {
  EXPECT_STREQ(OutcomeName(Outcome::kDone), "done");
  EXPECT_STREQ(OutcomeName(Outcome::kRetry), "retry");
  EXPECT_STREQ(OutcomeName(Outcome::kPermanent), "permanent");
  EXPECT_STREQ(OutcomeName(Outcome::kCancelled), "cancelled");
}

}  // namespace
}  // namespace nsg::reconcile
