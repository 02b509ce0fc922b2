// The Plan decision table (controller/reconcile/plan.h), one row per case and the combinations
// that matter. Each row starts from the healthy world of fixtures.h, changes what it is about, and
// states the complete outcome: every action (in order), every condition (type, status, reason, in
// order — so an unexpected extra condition fails too) and every event.
#include "controller/reconcile/plan.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "tests/reconcile/fixtures.h"

namespace nsg::reconcile {
namespace {

using namespace std::chrono_literals;
using testing::Alloc;
using testing::Healthy;
using testing::World;
using EventKind = PlanEvent::Kind;

const char kPolicy[] = "upsert-policy nomad-singleton-prod-billing";
const char kRegister[] = "register prod/billing enforce=";
const char kHealthy[] = "Ready=T:HolderRunning Synced=T:InSync Degraded=F:AsExpected";
const char kPeriodicIdle[] = "Ready=T:Scheduled Synced=T:InSync Degraded=F:AsExpected";

std::string Conditions(const PlanResult& r) {
  std::string s;
  for (const auto& c : r.conditions) {
    s += (s.empty() ? "" : " ") + std::string(ConditionTypeName(c.type)) + "=" +
         (c.status ? "T" : "F") + ":" + c.reason;
  }
  return s;
}

const char* EventName(EventKind k) {
  switch (k) {
    case EventKind::kFailoverStarted: return "FailoverStarted";
    case EventKind::kFailoverCompleted: return "FailoverCompleted";
    case EventKind::kFailoverAborted: return "FailoverAborted";
    case EventKind::kHolderChanged: return "HolderChanged";
    case EventKind::kDuplicateObserved: return "DuplicateObserved";
  }
  return "?";
}

std::vector<std::string> Events(const PlanResult& r) {
  std::vector<std::string> v;
  for (const auto& e : r.events) {
    std::string s = std::string(EventName(e.kind)) + ":" + e.alloc_id;
    if (!e.to_alloc.empty()) s += "->" + e.to_alloc;
    v.push_back(s);
  }
  return v;
}

std::vector<std::string> Actions(const PlanResult& r) {
  std::vector<std::string> v;
  for (const auto& a : r.actions) v.push_back(Describe(a));
  return v;
}

const Condition& Cond(const PlanResult& r, ConditionType t) {
  static const Condition kMissing{};
  const Condition* c = r.Find(t);
  if (c == nullptr) ADD_FAILURE() << "no condition " << ConditionTypeName(t);
  return c ? *c : kMissing;
}

// ---- Changes applied to the healthy world ----

void NoJob(World& w) {
  w.observed.job.reset();
  w.observed.allocations.clear();
  w.observed.lock = LockState{.known = true};
  w.observed.memory = Memory{};
}
void Foreign(World& w) { w.job().meta.erase(render::kMetaManagedBy); }
void Invalid(World& w) {
  w.desired.state = SpecState::kInvalid;
  w.desired.rendered.reset();
  w.desired.invalid_message = "specs/billing.yaml:9:8: spec.lock.ttl: must be at least 10s";
}
void Deleted(World& w) {
  w.desired.state = SpecState::kAbsent;
  w.desired.rendered.reset();
}
void ChangedOutside(World& w) { w.job().job_modify_index = 25; }
void Live(World& w, const std::string& id, uint64_t create_index,
          const std::string& status = nomad::kClientRunning) {
  w.observed.allocations.push_back(Alloc(id, status, create_index, "n2"));
}
void Holder(World& w, const std::string& id, uint64_t epoch) {
  w.observed.lock.holder = LockHolder{id, epoch};
}
void StoppedJob(World& w) {
  w.job().stop = true;
  w.job().status = "dead";
  w.alloc("a1").client_status = nomad::kClientComplete;
  w.alloc("a1").desired_status = nomad::kDesiredStop;
  w.observed.lock.holder.reset();
}
// A run of the periodic world: an allocation of child job RunJobId(launch) on node n2.
void Run(World& w, const std::string& id, int64_t launch, uint64_t create_index,
         const std::string& status = nomad::kClientRunning) {
  nomad::Allocation a = Alloc(id, status, create_index, "n2");
  a.job_id = testing::RunJobId(launch);
  w.observed.allocations.push_back(a);
}
void AclsDisabled(World& w) {
  w.observed.policy.reset();
  w.observed.acl_disabled = true;
}
void Failover(World& w, Duration ago, const std::string& from = "a1", uint64_t epoch = 40) {
  w.observed.memory.failover =
      FailoverRecord{w.options.now - ago, from, epoch, "allocation lost"};
}

struct Row {
  std::string name{};
  int standby = 0;
  std::function<void(World&)> setup{};
  std::vector<std::string> actions{};
  std::string conditions{};
  std::vector<std::string> events{};
  // Further checks of this row's result (memory, messages, stats).
  std::function<void(const PlanResult&, const World&)> check{};
};

// gtest prints a failing row by its name.
void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

std::string Reg(uint64_t index, const std::string& reason) {
  return kRegister + std::to_string(index) + " (" + reason + ")";
}
std::string Pol(const std::string& reason) { return std::string(kPolicy) + " (" + reason + ")"; }
std::string Stop(const std::string& id) { return "stop " + id + " (Duplicates)"; }

std::vector<Row> Rows() {
  return {
      // ---------------- Healthy ----------------
      {.name = "HealthyClusterNeedsNothing",
       .setup = [](World&) {},
       .conditions = kHealthy,
       .check =
           [](const PlanResult& r, const World& w) {
             EXPECT_EQ(r.memory, w.observed.memory);
             EXPECT_FALSE(r.requeue_after.has_value());
             EXPECT_EQ(r.stats.running_allocations, 1);
             EXPECT_EQ(r.stats.live_allocations, 1);
             EXPECT_EQ(r.stats.limit, 1);
             EXPECT_TRUE(r.stats.lock_held);
             EXPECT_TRUE(r.stats.up);
           }},
      {.name = "HealthyWithOneStandby",
       .standby = 1,
       .setup = [](World&) {},
       .conditions = kHealthy,
       .check = [](const PlanResult& r,
                   const World&) { EXPECT_EQ(r.stats.limit, 2); }},
      {.name = "ServerDefaultsAreNotDriftAfterRestart",
       .setup = [](World& w) { w.observed.memory.written_job_modify_index = 0; },
       .conditions = kHealthy},

      // ---------------- Job missing ----------------
      {.name = "JobMissingPolicyMissing",
       .setup = [](World& w) {
         NoJob(w);
         w.observed.policy.reset();
       },
       .actions = {Pol("Creating"), Reg(0, "Creating")},
       .conditions = "Ready=F:JobMissing Synced=F:Creating Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World& w) {
             const Action& reg = r.actions[1];
             EXPECT_TRUE(reg.registration.enforce_index);
             EXPECT_EQ(reg.rendered, w.desired.rendered);  // the job is sent as rendered
             EXPECT_EQ(reg.registration.job.id, w.spec.metadata.name);
             auto whole = reg.rendered->Job();
             ASSERT_TRUE(whole.ok());
             EXPECT_EQ(*whole, testing::RenderOrDie(w.spec).job);
             EXPECT_EQ(r.actions[0].policy, w.desired.rendered->policy);
           }},
      {.name = "JobMissingPolicyPresent",
       .setup = NoJob,
       .actions = {Reg(0, "Creating")},
       .conditions = "Ready=F:JobMissing Synced=F:Creating Degraded=F:AsExpected"},
      {.name = "JobMissingPolicyDiffers",
       .setup = [](World& w) {
         NoJob(w);
         w.observed.policy->rules += "# edited\n";
       },
       .actions = {Pol("Creating"), Reg(0, "Creating")},
       .conditions = "Ready=F:JobMissing Synced=F:Creating Degraded=F:AsExpected"},

      // ---------------- Our job drifted ----------------
      {.name = "SpecHashChanged",
       .setup = [](World& w) { w.job().meta[render::kMetaSpecHash] = "0000000000000000"; },
       .actions = {Reg(20, "SpecChanged")},
       .conditions = "Ready=T:HolderRunning Synced=F:SpecChanged Degraded=F:AsExpected"},
      {.name = "JobStoppedByHand",
       .setup = [](World& w) {
         StoppedJob(w);
         w.job().job_modify_index = 25;
       },
       .actions = {Reg(25, "JobStopped")},
       .conditions = "Ready=F:JobStopped Synced=F:JobStopped Degraded=F:AsExpected"},
      {.name = "JobStoppedEvenIfOnlyWeWrote",
       .setup = StoppedJob,
       .actions = {Reg(20, "JobStopped")},
       .conditions = "Ready=F:JobStopped Synced=F:JobStopped Degraded=F:AsExpected"},
      {.name = "CountScaledByHand",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.group().count = 3;
       },
       .actions = {Reg(25, "CountDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:CountDrifted Degraded=F:AsExpected"},
      {.name = "CountScaledEvenIfOnlyWeWrote",
       .setup = [](World& w) { w.group().count = 2; },
       .actions = {Reg(20, "CountDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:CountDrifted Degraded=F:AsExpected"},
      {.name = "CountScaledByHandAndNomadPlacedMore",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.group().count = 3;
         Live(w, "a2", 31);
         Live(w, "a3", 32, nomad::kClientPending);
       },
       .actions = {Reg(25, "CountDrifted"), Stop("a3"), Stop("a2")},
       .conditions = "Ready=T:HolderRunning Synced=F:CountDrifted Degraded=T:Duplicates",
       .events = {"DuplicateObserved:a3", "DuplicateObserved:a2"}},
      {.name = "GroupRenamedByHand",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.group().name = "other";
       },
       .actions = {Reg(25, "CountDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:CountDrifted Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_NE(Cond(r, ConditionType::kSynced).message.find("group singleton is missing"),
                       std::string::npos);
           }},
      {.name = "LockTaskRemovedByHand",
       .setup = [](World& w) {
         ChangedOutside(w);
         std::erase_if(w.group().tasks,
                       [](const nomad::Task& t) { return t.name == render::kLockTaskName; });
       },
       .actions = {Reg(25, "LockTaskDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:LockTaskDrifted Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_NE(Cond(r, ConditionType::kSynced).message.find("singleton-lock is missing"),
                       std::string::npos);
           }},
      {.name = "LockTaskArgsChangedByHand",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.task(render::kLockTaskName).config =
             R"({"args":["lock","--sidecar","--path","x"],)"
             R"("command":"/usr/local/bin/nomad-singleton"})";
       },
       .actions = {Reg(25, "LockTaskDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:LockTaskDrifted Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_NE(Cond(r, ConditionType::kSynced).message.find("Config.args"),
                       std::string::npos)
                 << Cond(r, ConditionType::kSynced).message;
           }},
      {.name = "LockTaskLeaderFlagClearedByHand",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.task(render::kLockTaskName).leader = false;
       },
       .actions = {Reg(25, "LockTaskDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:LockTaskDrifted Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_NE(Cond(r, ConditionType::kSynced).message.find("Leader"), std::string::npos);
           }},
      {.name = "DisconnectRemovedByHand",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.group().disconnect.reset();
       },
       .actions = {Reg(25, "DisconnectDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:DisconnectDrifted Degraded=F:AsExpected"},
      {.name = "StopOnClientAfterChangedByHand",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.group().disconnect->stop_on_client_after = 5min;
       },
       .actions = {Reg(25, "DisconnectDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:DisconnectDrifted Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_NE(Cond(r, ConditionType::kSynced).message.find("StopOnClientAfter"),
                       std::string::npos);
           }},
      {.name = "PriorityChangedByHand",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.job().priority = 90;
       },
       .actions = {Reg(25, "Drifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:Drifted Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(Cond(r, ConditionType::kSynced).message,
                       "changed outside the controller: Priority");
           }},
      {.name = "WorkloadEnvChangedByHand",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.task("main").env["APP_MODE"] = "dev";
       },
       .actions = {Reg(25, "Drifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:Drifted Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(Cond(r, ConditionType::kSynced).message,
                       "changed outside the controller: "
                       "TaskGroups[singleton].Tasks[main].Env.APP_MODE");
           }},
      {.name = "TaskAddedByHand",
       .setup = [](World& w) {
         ChangedOutside(w);
         nomad::Task t;
         t.name = "intruder";
         t.driver = "raw_exec";
         w.group().tasks.push_back(t);
       },
       .actions = {Reg(25, "Drifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:Drifted Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_NE(Cond(r, ConditionType::kSynced).message.find("Tasks[intruder]"),
                       std::string::npos);
           }},
      {.name = "FieldNormalizedByServerIsNotDrift",
       .setup = [](World& w) { w.job().priority = 90; },  // JobModifyIndex == ours
       .conditions = kHealthy,
       .check =
           [](const PlanResult& r, const World&) {
             // Not even compared: nothing to remember.
             EXPECT_EQ(Cond(r, ConditionType::kSynced).message,
                       "job and ACL policy match the spec");
             EXPECT_FALSE(r.memory.drift.has_value());
           }},
      {.name = "UnchangedReRegisterAnswerIsNotDrift",
       // Nomad answers an unchanged re-register with the job's ModifyIndex (nomad-api.md §5.2),
       // which is larger than its JobModifyIndex.
       .setup = [](World& w) {
         w.observed.memory.written_job_modify_index = w.job().modify_index;
         w.job().priority = 90;
       },
       .conditions = kHealthy},
      {.name = "LockTaskNormalizedByServerIsNotDrift",
       .setup = [](World& w) { w.task(render::kLockTaskName).kill_signal = "SIGINT"; },
       .conditions = kHealthy},
      {.name = "SourceAndRevisionMetaAreNotDrift",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.job().meta[render::kMetaSource] = "moved/elsewhere.yaml";
         w.job().meta[render::kMetaRevision] = "deadbeef";
       },
       .conditions = kHealthy},
      {.name = "HashAndCountDriftRegisterOnceNamingBoth",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.job().meta[render::kMetaSpecHash] = "0000000000000000";
         w.group().count = 2;
       },
       .actions = {Reg(25, "SpecChanged")},
       .conditions = "Ready=T:HolderRunning Synced=F:SpecChanged Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             const std::string& m = Cond(r, ConditionType::kSynced).message;
             EXPECT_NE(m.find("spec hash"), std::string::npos) << m;
             EXPECT_NE(m.find("Count is 2, want 1"), std::string::npos) << m;
           }},

      // ---------------- ACL policy ----------------
      {.name = "PolicyMissing",
       .setup = [](World& w) { w.observed.policy.reset(); },
       .actions = {Pol("PolicyDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:PolicyDrifted Degraded=F:AsExpected"},
      {.name = "PolicyRulesEditedByHand",
       .setup = [](World& w) { w.observed.policy->rules += "# edited\n"; },
       .actions = {Pol("PolicyDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:PolicyDrifted Degraded=F:AsExpected"},
      {.name = "PolicyDetachedFromTheJob",
       .setup = [](World& w) { w.observed.policy->job_acl.reset(); },
       .actions = {Pol("PolicyDrifted")},
       .conditions = "Ready=T:HolderRunning Synced=F:PolicyDrifted Degraded=F:AsExpected"},
      {.name = "PolicyIndexesAreNotDrift",
       .setup = [](World& w) { w.observed.policy->modify_index = 999; },
       .conditions = kHealthy},
      {.name = "SpecChangedAndPolicyMissing",
       .setup = [](World& w) {
         w.job().meta[render::kMetaSpecHash] = "0000000000000000";
         w.observed.policy.reset();
       },
       .actions = {Pol("SpecChanged"), Reg(20, "SpecChanged")},
       .conditions = "Ready=T:HolderRunning Synced=F:SpecChanged Degraded=F:AsExpected"},

      // ---------------- Ownership ----------------
      {.name = "ForeignJobIsLeftAlone",
       .setup = [](World& w) {
         Foreign(w);
         Live(w, "a2", 31);
         Live(w, "a3", 32);
         w.observed.policy.reset();
       },
       .conditions = "Ready=F:Conflict Synced=F:Conflict Degraded=F:AsExpected "
                     "Conflict=T:JobNotOwned",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(r.memory, Memory{.written_job_modify_index = 20});
             EXPECT_EQ(r.stats.limit, 0);
           }},
      {.name = "JobManagedBySomeoneElse",
       .setup = [](World& w) { w.job().meta[render::kMetaManagedBy] = "terraform"; },
       .conditions = "Ready=F:Conflict Synced=F:Conflict Degraded=F:AsExpected "
                     "Conflict=T:JobNotOwned"},
      {.name = "ForeignJobAdopted",
       .setup = [](World& w) {
         Foreign(w);
         w.desired.adopt = true;
         w.observed.policy.reset();
       },
       .actions = {Pol("Adopting"), Reg(20, "Adopting")},
       .conditions = "Ready=T:HolderRunning Synced=F:Adopting Degraded=F:AsExpected"},
      {.name = "AdoptedJobDuplicatesAreStopped",
       .setup = [](World& w) {
         Foreign(w);
         w.desired.adopt = true;
         w.group().count = 2;
         Live(w, "a2", 31);
       },
       .actions = {Reg(20, "Adopting"), Stop("a2")},
       .conditions = "Ready=T:HolderRunning Synced=F:Adopting Degraded=T:Duplicates",
       .events = {"DuplicateObserved:a2"}},
      {.name = "AdoptDoesNotApplyToADeletedSpec",
       .setup = [](World& w) {
         Foreign(w);
         Deleted(w);
         w.desired.adopt = true;
         w.options.prune = true;
       },
       .conditions = "Ready=F:Deleted Synced=T:Deleted Degraded=F:AsExpected"},

      // ---------------- Invalid spec ----------------
      {.name = "InvalidSpecLeavesTheJobAlone",
       .setup = [](World& w) {
         Invalid(w);
         w.job().meta[render::kMetaSpecHash] = "0000000000000000";
         w.observed.policy.reset();
       },
       .conditions = "Ready=T:HolderRunning Synced=F:InvalidSpec Degraded=F:AsExpected "
                     "Invalid=T:InvalidSpec",
       .check =
           [](const PlanResult& r, const World& w) {
             EXPECT_EQ(Cond(r, ConditionType::kInvalid).message, w.desired.invalid_message);
           }},
      {.name = "InvalidSpecStillStopsDuplicates",
       .setup = [](World& w) {
         Invalid(w);
         Live(w, "a2", 31);
       },
       .actions = {Stop("a2")},
       .conditions = "Ready=T:HolderRunning Synced=F:InvalidSpec Degraded=T:Duplicates "
                     "Invalid=T:InvalidSpec",
       .events = {"DuplicateObserved:a2"},
       .check = [](const PlanResult& r,
                   const World&) { EXPECT_EQ(r.stats.limit, 1) << "from the observed job"; }},
      {.name = "InvalidSpecUsesTheObservedCount",
       .standby = 1,
       .setup = Invalid,
       .conditions = "Ready=T:HolderRunning Synced=F:InvalidSpec Degraded=F:AsExpected "
                     "Invalid=T:InvalidSpec"},
      {.name = "InvalidSpecNoJob",
       .setup = [](World& w) {
         Invalid(w);
         NoJob(w);
       },
       .conditions = "Ready=F:JobMissing Synced=F:InvalidSpec Degraded=F:AsExpected "
                     "Invalid=T:InvalidSpec"},
      {.name = "InvalidSpecForeignJob",
       .setup = [](World& w) {
         Invalid(w);
         Foreign(w);
         Live(w, "a2", 31);
       },
       .conditions = "Ready=F:Conflict Synced=F:InvalidSpec Degraded=F:AsExpected "
                     "Conflict=T:JobNotOwned Invalid=T:InvalidSpec"},
      {.name = "UnreadableSourceIsNeverADeletionEvenWithPrune",
       .setup = [](World& w) {
         Invalid(w);
         w.desired.invalid_reason = kReasonSourceUnreadable;
         w.desired.invalid_message = "specs: cannot read: Permission denied";
         w.options.prune = true;
       },
       .conditions = "Ready=T:HolderRunning Synced=F:SourceUnreadable Degraded=F:AsExpected "
                     "Invalid=T:SourceUnreadable",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(Cond(r, ConditionType::kInvalid).message,
                       "specs: cannot read: Permission denied");
           }},

      // ---------------- Spec deleted ----------------
      {.name = "DeletedSpecIsPruned",
       .setup = [](World& w) {
         Deleted(w);
         w.options.prune = true;
       },
       .actions = {"deregister prod/billing (Deleting)"},
       .conditions = "Ready=F:Deleted Synced=F:Deleting Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_FALSE(r.actions[0].purge);
             EXPECT_EQ(r.actions[0].job_id, "billing");
             EXPECT_EQ(r.actions[0].namespace_, "prod");
           }},
      {.name = "DeletedSpecPrunedStopsNothingElse",
       .setup = [](World& w) {
         Deleted(w);
         w.options.prune = true;
         Live(w, "a2", 31);
       },
       .actions = {"deregister prod/billing (Deleting)"},
       .conditions = "Ready=F:Deleted Synced=F:Deleting Degraded=F:AsExpected"},
      {.name = "DeletedSpecWithKeepAnnotation",
       .setup = [](World& w) {
         Deleted(w);
         w.options.prune = true;
         w.desired.keep_on_delete = true;
       },
       .conditions = "Ready=T:HolderRunning Synced=F:Orphaned Degraded=F:AsExpected "
                     "Orphaned=T:KeepOnDelete"},
      {.name = "DeletedSpecWithPruneOff",
       .setup = Deleted,
       .conditions = "Ready=T:HolderRunning Synced=F:Orphaned Degraded=F:AsExpected "
                     "Orphaned=T:PruneDisabled"},
      {.name = "DeletedSpecOrphanIsStillEnforced",
       .setup = [](World& w) {
         Deleted(w);
         Live(w, "a2", 31);
       },
       .actions = {Stop("a2")},
       .conditions = "Ready=T:HolderRunning Synced=F:Orphaned Degraded=T:Duplicates "
                     "Orphaned=T:PruneDisabled",
       .events = {"DuplicateObserved:a2"}},
      {.name = "DeletedSpecJobAlreadyStopped",
       .setup = [](World& w) {
         Deleted(w);
         w.options.prune = true;
         StoppedJob(w);
       },
       .conditions = "Ready=F:Deleted Synced=T:Deleted Degraded=F:AsExpected"},
      {.name = "DeletedSpecForeignJobIsNotOurs",
       .setup = [](World& w) {
         Deleted(w);
         w.options.prune = true;
         Foreign(w);
       },
       .conditions = "Ready=F:Deleted Synced=T:Deleted Degraded=F:AsExpected"},
      {.name = "DeletedSpecNoJob",
       .setup = [](World& w) {
         Deleted(w);
         w.options.prune = true;
         NoJob(w);
       },
       .conditions = "Ready=F:Deleted Synced=T:Deleted Degraded=F:AsExpected"},

      // ---------------- At most one: duplicates ----------------
      {.name = "ExtraAllocationsStopNewestFirst",
       .setup = [](World& w) {
         Live(w, "a2", 31);
         Live(w, "a3", 32);
       },
       .actions = {Stop("a3"), Stop("a2")},
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:Duplicates",
       .events = {"DuplicateObserved:a3", "DuplicateObserved:a2"},
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(r.stats.duplicates, 2);
             EXPECT_EQ(r.stats.live_allocations, 3);
             EXPECT_FALSE(r.stats.up);
             EXPECT_EQ(r.memory.counted_duplicates, (std::set<std::string>{"a2", "a3"}));
           }},
      {.name = "NewestHolderIsNeverStopped",
       .setup = [](World& w) {
         Live(w, "a2", 31);
         Live(w, "a3", 32);
         Holder(w, "a3", 40);
         w.observed.memory.last_holder = LockHolder{"a3", 40};
       },
       .actions = {Stop("a2"), Stop("a1")},
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:Duplicates",
       .events = {"DuplicateObserved:a2", "DuplicateObserved:a1"}},
      {.name = "PendingAndUnknownAllocationsAreLive",
       .setup = [](World& w) {
         Live(w, "a2", 31, nomad::kClientPending);
         Live(w, "a3", 32, nomad::kClientUnknown);
       },
       .actions = {Stop("a3"), Stop("a2")},
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:Duplicates",
       .events = {"DuplicateObserved:a3", "DuplicateObserved:a2"}},
      {.name = "StoppingAndTerminalAllocationsAreNotLive",
       .setup = [](World& w) {
         w.observed.allocations.push_back(
             Alloc("a2", nomad::kClientRunning, 31, "n2", nomad::kDesiredStop));
         Live(w, "a3", 32);
         w.alloc("a3").desired_transition.migrate = true;  // stop already requested
         Live(w, "a4", 33, nomad::kClientComplete);
         w.observed.allocations.push_back(
             Alloc("a5", nomad::kClientLost, 34, "n2", nomad::kDesiredStop));
         Live(w, "a6", 35, nomad::kClientFailed);
         w.observed.allocations.push_back(
             Alloc("a7", nomad::kClientPending, 36, "n2", nomad::kDesiredEvict));
       },
       .conditions = kHealthy,
       .check = [](const PlanResult& r,
                   const World&) { EXPECT_EQ(r.stats.live_allocations, 1); }},
      {.name = "StandbyLimitExceeded",
       .standby = 1,
       .setup = [](World& w) { Live(w, "a2", 40); },
       .actions = {Stop("a2")},
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:Duplicates",
       .events = {"DuplicateObserved:a2"}},
      {.name = "EqualCreateIndexBreaksTiesByIdDescending",
       .standby = 1,
       .setup = [](World& w) {
         w.observed.allocations.pop_back();  // drop s0
         Live(w, "b7", 31);
         Live(w, "b9", 31);
       },
       .actions = {Stop("b9")},
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:Duplicates",
       .events = {"DuplicateObserved:b9"}},
      {.name = "LivePastHolderIsStoppedEvenWithinTheLimit",
       .standby = 1,
       .setup = [](World& w) { w.observed.lock.history = {LockHolder{"s0", 35}}; },
       .actions = {Stop("s0")},
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:Duplicates",
       .events = {"DuplicateObserved:s0"}},
      {.name = "PastHolderNoLongerLiveIsIgnored",
       .setup = [](World& w) {
         Live(w, "a0", 20, nomad::kClientComplete);
         w.observed.lock.history = {LockHolder{"a0", 35}};
       },
       .conditions = kHealthy},
      {.name = "PastHolderThatIsTheHolderAgainIsNotAClaimant",
       .setup = [](World& w) { w.observed.lock.history = {LockHolder{"a1", 33}}; },
       .conditions = kHealthy},
      {.name = "FreeLockKeepsTheNewestPastHolder",
       .standby = 1,
       .setup = [](World& w) {
         w.observed.lock.holder.reset();
         w.observed.lock.history = {LockHolder{"s0", 50}, LockHolder{"a1", 40}};
       },
       .actions = {Stop("a1")},
       .conditions = "Ready=F:NoHolder Synced=T:InSync Degraded=T:Duplicates",
       .events = {"DuplicateObserved:a1"}},
      {.name = "FreeLockStopsNoCountExtraAndWaitsForAHolder",
       .setup = [](World& w) {
         Live(w, "a2", 31);  // two live allocations, count 1, nobody holds the lock: either may be
         w.observed.lock.holder.reset();  // the next holder, so neither is stopped yet
         w.observed.memory.last_holder.reset();
       },
       .conditions = "Ready=F:NoHolder Synced=T:InSync Degraded=F:AsExpected",
       .check = [](const PlanResult& r,
                   const World&) { EXPECT_TRUE(r.requeue_after.has_value()); }},
      {.name = "DuplicateIsCountedOnlyOnce",
       .setup = [](World& w) {
         Live(w, "a2", 31);
         w.observed.memory.counted_duplicates = {"a2", "long-gone"};
       },
       .actions = {Stop("a2")},
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:Duplicates",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(r.memory.counted_duplicates, std::set<std::string>{"a2"});
           }},
      {.name = "HolderNotReadYetStopsNothing",
       .setup = [](World& w) {
         Live(w, "a2", 31);
         Live(w, "a3", 32);
         Holder(w, "", 41);
       },
       .conditions = "Ready=F:HolderUnknown Synced=T:InSync Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(r.requeue_after, std::optional<Duration>(kDefaultHolderUnknownRequeue));
             EXPECT_EQ(r.memory.last_holder, (LockHolder{"a1", 40})) << "unchanged";
           }},
      {.name = "LockNeverReadStopsNothing",
       .setup = [](World& w) {
         Live(w, "a2", 31);
         w.observed.lock = LockState{};
       },
       .conditions = "Ready=F:HolderUnknown Synced=T:InSync Degraded=F:AsExpected",
       .check = [](const PlanResult& r,
                   const World&) { EXPECT_TRUE(r.requeue_after.has_value()); }},
      {.name = "StandbyMissing",
       .standby = 1,
       .setup = [](World& w) { w.observed.allocations.pop_back(); },
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:MissingAllocations"},
      {.name = "FreshJobWithoutHolderYet",
       .setup = [](World& w) {
         w.alloc("a1").client_status = nomad::kClientPending;
         w.observed.lock.holder.reset();
         w.observed.memory.last_holder.reset();
       },
       .conditions = "Ready=F:NoHolder Synced=T:InSync Degraded=F:AsExpected"},
      {.name = "HolderIsNotAnAllocationOfTheJob",
       .setup = [](World& w) { Holder(w, "zz", 41); },
       .conditions = "Ready=F:HolderNotRunning Synced=T:InSync Degraded=F:AsExpected",
       .events = {"HolderChanged:a1->zz"}},

      // ---------------- Failover ----------------
      {.name = "HolderLostStartsFailover",
       .setup = [](World& w) {
         w.alloc("a1").client_status = nomad::kClientLost;
         w.alloc("a1").desired_status = nomad::kDesiredStop;
         Live(w, "a2", 31, nomad::kClientPending);
       },
       .conditions = "Ready=F:HolderNotRunning Synced=T:InSync Degraded=T:FailoverInProgress",
       .events = {"FailoverStarted:a1"},
       .check =
           [](const PlanResult& r, const World& w) {
             EXPECT_EQ(r.memory.failover,
                       (FailoverRecord{w.options.now, "a1", 40, "allocation lost"}));
           }},
      {.name = "HolderFailedStartsFailover",
       .setup = [](World& w) { w.alloc("a1").client_status = nomad::kClientFailed; },
       .conditions = "Ready=F:HolderNotRunning Synced=T:InSync Degraded=T:FailoverInProgress",
       .events = {"FailoverStarted:a1"},
       .check =
           [](const PlanResult& r, const World&) {
             ASSERT_TRUE(r.memory.failover.has_value());
             EXPECT_EQ(r.memory.failover->cause, "allocation failed");
           }},
      {.name = "UnknownHolderStartsFailoverAndKeepsItsReplacement",
       .setup = [](World& w) {
         w.alloc("a1").client_status = nomad::kClientUnknown;
         Live(w, "a2", 31);
       },
       .conditions = "Ready=F:HolderNotRunning Synced=T:InSync Degraded=T:FailoverInProgress",
       .events = {"FailoverStarted:a1"},
       .check = [](const PlanResult& r,
                   const World&) { EXPECT_EQ(r.stats.live_allocations, 2); }},
      {.name = "HolderNodeDownStartsFailover",
       .setup = [](World& w) { w.observed.node_status["n1"] = nomad::kNodeDown; },
       .conditions = "Ready=F:HolderNotRunning Synced=T:InSync Degraded=T:FailoverInProgress",
       .events = {"FailoverStarted:a1"},
       .check =
           [](const PlanResult& r, const World&) {
             ASSERT_TRUE(r.memory.failover.has_value());
             EXPECT_EQ(r.memory.failover->cause, "node down");
           }},
      {.name = "HolderNodeDisconnectedStartsFailover",
       .setup = [](World& w) { w.observed.node_status["n1"] = nomad::kNodeDisconnected; },
       .conditions = "Ready=F:HolderNotRunning Synced=T:InSync Degraded=T:FailoverInProgress",
       .events = {"FailoverStarted:a1"}},
      {.name = "FailoverInProgressIsNotStartedAgain",
       .setup = [](World& w) {
         Failover(w, 10s);
         w.alloc("a1").client_status = nomad::kClientLost;
         w.alloc("a1").desired_status = nomad::kDesiredStop;
       },
       .conditions = "Ready=F:HolderNotRunning Synced=T:InSync Degraded=T:FailoverInProgress",
       .check =
           [](const PlanResult& r, const World& w) {
             EXPECT_EQ(r.memory.failover, w.observed.memory.failover);
             EXPECT_NE(Cond(r, ConditionType::kDegraded).message.find("10s ago"),
                       std::string::npos)
                 << Cond(r, ConditionType::kDegraded).message;
           }},
      {.name = "NewHolderCompletesFailover",
       .setup = [](World& w) {
         Failover(w, 47s);
         w.alloc("a1").client_status = nomad::kClientLost;
         w.alloc("a1").desired_status = nomad::kDesiredStop;
         Live(w, "a2", 31);
         Holder(w, "a2", 55);
       },
       .conditions = kHealthy,
       .events = {"FailoverCompleted:a1->a2"},
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(r.events[0].duration, 47s);
             EXPECT_FALSE(r.memory.failover.has_value());
             EXPECT_EQ(r.memory.last_holder, (LockHolder{"a2", 55}));
           }},
      {.name = "SameAllocationReacquiringCompletesFailover",
       .setup = [](World& w) {
         Failover(w, 20s);
         Holder(w, "a1", 60);
       },
       .conditions = kHealthy,
       .events = {"FailoverCompleted:a1->a1"}},
      {.name = "HolderBackWithItsLockAbortsFailover",
       .setup = [](World& w) { Failover(w, 5s); },
       .conditions = kHealthy,
       .events = {"FailoverAborted:a1"},
       .check = [](const PlanResult& r,
                   const World&) { EXPECT_FALSE(r.memory.failover.has_value()); }},
      {.name = "FreeLockDuringFailoverKeepsWaiting",
       .setup = [](World& w) {
         Failover(w, 30s);
         w.alloc("a1").client_status = nomad::kClientLost;
         w.alloc("a1").desired_status = nomad::kDesiredStop;
         Live(w, "a2", 31, nomad::kClientPending);
         w.observed.lock.holder.reset();
       },
       .conditions = "Ready=F:NoHolder Synced=T:InSync Degraded=T:FailoverInProgress"},
      {.name = "NewHolderLostAtOnceStartsAnotherFailover",
       .setup = [](World& w) {
         Failover(w, 40s);
         w.alloc("a1").client_status = nomad::kClientLost;
         w.alloc("a1").desired_status = nomad::kDesiredStop;
         Live(w, "a2", 31, nomad::kClientLost);
         Holder(w, "a2", 55);
       },
       .conditions = "Ready=F:HolderNotRunning Synced=T:InSync Degraded=T:FailoverInProgress",
       .events = {"FailoverCompleted:a1->a2", "FailoverStarted:a2"},
       .check =
           [](const PlanResult& r, const World& w) {
             EXPECT_EQ(r.memory.failover,
                       (FailoverRecord{w.options.now, "a2", 55, "allocation lost"}));
           }},
      {.name = "GracefulHandoverReportsHolderChanged",
       .setup = [](World& w) {
         w.alloc("a1").client_status = nomad::kClientComplete;
         w.alloc("a1").desired_status = nomad::kDesiredStop;
         Live(w, "a2", 31);
         Holder(w, "a2", 55);
       },
       .conditions = kHealthy,
       .events = {"HolderChanged:a1->a2"}},
      {.name = "FirstHolderIsNotAHandover",
       .setup = [](World& w) { w.observed.memory.last_holder.reset(); },
       .conditions = kHealthy,
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(r.memory.last_holder, (LockHolder{"a1", 40}));
           }},
      {.name = "DeregisterForgetsTheFailover",
       .setup = [](World& w) {
         Deleted(w);
         w.options.prune = true;
         Failover(w, 3s);
       },
       .actions = {"deregister prod/billing (Deleting)"},
       .conditions = "Ready=F:Deleted Synced=F:Deleting Degraded=F:AsExpected",
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_FALSE(r.memory.failover.has_value());
             EXPECT_FALSE(r.memory.last_holder.has_value());
           }},
      {.name = "OrphanFailoverIsStillTracked",
       .setup = [](World& w) {
         Deleted(w);
         w.alloc("a1").client_status = nomad::kClientFailed;
       },
       .conditions = "Ready=F:HolderNotRunning Synced=F:Orphaned Degraded=T:FailoverInProgress "
                     "Orphaned=T:PruneDisabled",
       .events = {"FailoverStarted:a1"}},

      // ---------------- Combinations ----------------
      {.name = "EverythingAtOnceIsOrdered",
       .setup = [](World& w) {
         w.job().meta[render::kMetaSpecHash] = "0000000000000000";
         w.observed.policy.reset();
         Live(w, "a2", 31);
         Live(w, "a3", 32);
       },
       .actions = {Pol("SpecChanged"), Reg(20, "SpecChanged"), Stop("a3"), Stop("a2")},
       .conditions = "Ready=T:HolderRunning Synced=F:SpecChanged Degraded=T:Duplicates",
       .events = {"DuplicateObserved:a3", "DuplicateObserved:a2"}},
      {.name = "DriftDuplicatesAndFailoverTogether",
       .setup = [](World& w) {
         ChangedOutside(w);
         w.job().priority = 10;
         w.alloc("a1").client_status = nomad::kClientUnknown;
         Live(w, "a2", 31);
         Live(w, "a3", 32);
       },
       .actions = {Reg(25, "Drifted"), Stop("a3")},
       .conditions = "Ready=F:HolderNotRunning Synced=F:Drifted Degraded=T:Duplicates",
       .events = {"DuplicateObserved:a3", "FailoverStarted:a1"}},

      // ---------------- Periodic parent (spec.schedule) and its runs ----------------
      {.name = "PeriodicParentBetweenRunsIsReady",
       .setup = [](World& w) { w = testing::HealthyPeriodic(); },
       .conditions = kPeriodicIdle,
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(r.stats.limit, 1);
             EXPECT_EQ(r.stats.live_allocations, 0);
             EXPECT_FALSE(r.stats.lock_held);
             EXPECT_TRUE(r.stats.up);
             EXPECT_FALSE(r.requeue_after.has_value());
             EXPECT_NE(Cond(r, ConditionType::kReady).message.find("no run in progress"),
                       std::string::npos);
           }},
      {.name = "PeriodicRunStartingWithoutTheLockIsNotMissing",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         Run(w, "r1", 1724000100, 50, nomad::kClientPending);
       },
       .conditions = kPeriodicIdle},
      {.name = "PeriodicRunHoldingTheLockIsReady",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         Run(w, "r1", 1724000100, 50);
         Holder(w, "r1", 60);
       },
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=F:AsExpected",
       .events = {"HolderChanged:r0->r1"},
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(r.memory.last_holder, (LockHolder{"r1", 60}));
             EXPECT_TRUE(r.stats.up);
           }},
      {.name = "PeriodicOverlappingRunsStopTheOneWithoutTheLock",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         Run(w, "r1", 1724000100, 50);
         Run(w, "r2", 1724000200, 55);
         Holder(w, "r1", 60);
         w.observed.memory.last_holder = LockHolder{"r1", 60};
       },
       .actions = {Stop("r2")},
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:Duplicates",
       .events = {"DuplicateObserved:r2"},
       .check = [](const PlanResult& r,
                   const World&) { EXPECT_EQ(r.stats.duplicates, 1); }},
      {.name = "PeriodicOverlapKeepsANewerRunHoldingTheLock",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         Run(w, "r1", 1724000100, 50);
         Run(w, "r2", 1724000200, 55);
         Holder(w, "r2", 60);
         w.observed.memory.last_holder = LockHolder{"r2", 60};
       },
       .actions = {Stop("r1")},
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:Duplicates",
       .events = {"DuplicateObserved:r1"}},
      {.name = "PeriodicPastRunStillClaimingTheLockIsStopped",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         w.alloc("r0").client_status = nomad::kClientRunning;  // came back from a partition
         Run(w, "r1", 1724000100, 50);
         Holder(w, "r1", 60);
         w.observed.memory.last_holder = LockHolder{"r1", 60};
       },
       .actions = {Stop("r0")},
       .conditions = "Ready=T:HolderRunning Synced=T:InSync Degraded=T:Duplicates",
       .events = {"DuplicateObserved:r0"}},
      {.name = "PeriodicOverlapWithHolderNotReadYetStopsNothing",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         Run(w, "r1", 1724000100, 50);
         Run(w, "r2", 1724000200, 55);
         Holder(w, "", 60);
       },
       .conditions = kPeriodicIdle,
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_EQ(r.requeue_after, kDefaultHolderUnknownRequeue);
             EXPECT_NE(Cond(r, ConditionType::kReady).message.find("reading which allocation"),
                       std::string::npos);
           }},
      {.name = "PeriodicRunLostStartsFailover",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         Run(w, "r1", 1724000100, 50, nomad::kClientLost);
         w.alloc("r1").desired_status = nomad::kDesiredStop;
         Holder(w, "r1", 60);
         w.observed.memory.last_holder = LockHolder{"r1", 60};
       },
       .conditions = "Ready=T:Scheduled Synced=T:InSync Degraded=T:FailoverInProgress",
       .events = {"FailoverStarted:r1"}},
      {.name = "PeriodicInvalidSpecUsesTheObservedJob",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         Invalid(w);
       },
       .conditions = "Ready=T:Scheduled Synced=F:InvalidSpec Degraded=F:AsExpected "
                     "Invalid=T:InvalidSpec"},
      {.name = "PeriodicDeletedSpecOrphanIsNotMissingAllocations",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         Deleted(w);
       },
       .conditions = "Ready=T:Scheduled Synced=F:Orphaned Degraded=F:AsExpected "
                     "Orphaned=T:PruneDisabled"},
      {.name = "PeriodicParentStoppedIsNotReady",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         w.job().stop = true;
       },
       .actions = {Reg(20, "JobStopped")},
       .conditions = "Ready=F:JobStopped Synced=F:JobStopped Degraded=F:AsExpected"},
      {.name = "PeriodicParentMissingIsCreated",
       .setup = [](World& w) {
         w = testing::HealthyPeriodic();
         NoJob(w);
       },
       .actions = {Reg(0, "Creating")},
       .conditions = "Ready=F:JobMissing Synced=F:Creating Degraded=F:AsExpected"},
      {.name = "ServiceJobWithoutAllocationsIsStillMissingThem",
       .setup = [](World& w) {
         w.observed.allocations.clear();
         w.observed.lock.holder.reset();
       },
       .conditions = "Ready=F:NoHolder Synced=T:InSync Degraded=T:MissingAllocations"},

      // ---------------- A cluster without ACLs ----------------
      {.name = "AclsDisabledNoPolicyIsInSync",
       .setup = AclsDisabled,
       .conditions = kHealthy,
       .check =
           [](const PlanResult& r, const World&) {
             EXPECT_NE(Cond(r, ConditionType::kSynced).message.find("no ACLs"),
                       std::string::npos);
           }},
      {.name = "AclsDisabledJobMissingRegistersWithoutPolicy",
       .setup = [](World& w) {
         NoJob(w);
         AclsDisabled(w);
       },
       .actions = {Reg(0, "Creating")},
       .conditions = "Ready=F:JobMissing Synced=F:Creating Degraded=F:AsExpected"},
      {.name = "AclsDisabledSpecChangedRegistersOnly",
       .setup = [](World& w) {
         AclsDisabled(w);
         w.job().meta[render::kMetaSpecHash] = "0000000000000000";
       },
       .actions = {Reg(20, "SpecChanged")},
       .conditions = "Ready=T:HolderRunning Synced=F:SpecChanged Degraded=F:AsExpected"},
  };
}

class PlanTableTest : public ::testing::TestWithParam<Row> {};

TEST_P(PlanTableTest, Row) {
  const Row& row = GetParam();
  World w = Healthy(row.standby);
  row.setup(w);
  const PlanResult r = Plan(w.desired, w.observed, w.options);
  EXPECT_EQ(Actions(r), row.actions);
  EXPECT_EQ(Conditions(r), row.conditions);
  EXPECT_EQ(Events(r), row.events);
  for (const auto& c : r.conditions) {
    if (c.type == ConditionType::kDegraded && !c.status) continue;
    EXPECT_FALSE(c.message.empty()) << ConditionTypeName(c.type) << " has no message";
  }
  if (row.check) row.check(r, w);
  // Level-triggered and pure: the same inputs give the same plan.
  const PlanResult again = Plan(w.desired, w.observed, w.options);
  EXPECT_EQ(Actions(again), Actions(r));
  EXPECT_EQ(again.conditions, r.conditions);
  EXPECT_EQ(again.events, r.events);
  EXPECT_EQ(again.memory, r.memory);
}

INSTANTIATE_TEST_SUITE_P(DecisionTable, PlanTableTest, ::testing::ValuesIn(Rows()),
                         [](const ::testing::TestParamInfo<Row>& p) { return p.param.name; });

TEST(PlanTest, RowNamesAreUnique) {
  std::set<std::string> names;
  for (const auto& row : Rows()) EXPECT_TRUE(names.insert(row.name).second) << row.name;
}

// Applying a plan's register (as Nomad would store it) and planning again yields no further job
// action: every drift row converges in one step.
TEST(PlanTest, RegisteringThePlannedJobConverges) {
  for (const Row& row : Rows()) {
    World w = Healthy(row.standby);
    row.setup(w);
    PlanResult r = Plan(w.desired, w.observed, w.options);
    bool registered = false;
    for (const auto& a : r.actions) {
      if (a.kind == Action::Kind::kUpsertPolicy) w.observed.policy = a.policy;
      if (a.kind != Action::Kind::kRegisterJob) continue;
      const uint64_t next = a.registration.job_modify_index + 100;
      w.observed.job = testing::ServerJob(*a.rendered->Job(), next);
      r.memory.written_job_modify_index = next;
      registered = true;
    }
    if (!registered) continue;
    SCOPED_TRACE(row.name);
    w.observed.memory = r.memory;
    const PlanResult again = Plan(w.desired, w.observed, w.options);
    for (const auto& a : again.actions) {
      EXPECT_NE(a.kind, Action::Kind::kRegisterJob) << Describe(a);
      EXPECT_NE(a.kind, Action::Kind::kUpsertPolicy) << Describe(a);
    }
    EXPECT_TRUE(Cond(again, ConditionType::kSynced).status)
        << Cond(again, ConditionType::kSynced).message;
  }
}

// Stopping the chosen extras (as Nomad would mark them) and planning again stops nothing more.
TEST(PlanTest, StoppingThePlannedExtrasConverges) {
  for (const Row& row : Rows()) {
    World w = Healthy(row.standby);
    row.setup(w);
    PlanResult r = Plan(w.desired, w.observed, w.options);
    bool stopped = false;
    for (const auto& a : r.actions) {
      if (a.kind != Action::Kind::kStopAllocation) continue;
      w.alloc(a.alloc_id).desired_transition.migrate = true;
      stopped = true;
    }
    if (!stopped) continue;
    SCOPED_TRACE(row.name);
    w.observed.memory = r.memory;
    const PlanResult again = Plan(w.desired, w.observed, w.options);
    for (const auto& a : again.actions) {
      EXPECT_NE(a.kind, Action::Kind::kStopAllocation) << Describe(a);
    }
    for (const auto& e : again.events) EXPECT_NE(e.kind, EventKind::kDuplicateObserved);
    EXPECT_NE(Cond(again, ConditionType::kDegraded).reason, "Duplicates");
  }
}

TEST(PlanTest, KValidWithoutRenderedDoesNothing) {
  World w = Healthy();
  w.desired.rendered.reset();
  Live(w, "a2", 31);
  const PlanResult r = Plan(w.desired, w.observed, w.options);
  for (const auto& a : r.actions) {
    EXPECT_NE(a.kind, Action::Kind::kRegisterJob);
    EXPECT_NE(a.kind, Action::Kind::kUpsertPolicy);
  }
}

TEST(PlanTest, DescribeIsStable) {
  Action a;
  a.kind = Action::Kind::kStopAllocation;
  a.alloc_id = "0b1c";
  a.reason = "Duplicates";
  EXPECT_EQ(Describe(a), "stop 0b1c (Duplicates)");
  a.kind = Action::Kind::kDeregisterJob;
  a.job_id = "x";
  a.namespace_ = "ns";
  a.reason = "Deleting";
  EXPECT_EQ(Describe(a), "deregister ns/x (Deleting)");
}

TEST(PlanTest, IsLiveFollowsTheDefinition) {
  using testing::Alloc;
  EXPECT_TRUE(IsLive(Alloc("a", nomad::kClientRunning, 1)));
  EXPECT_TRUE(IsLive(Alloc("a", nomad::kClientPending, 1)));
  EXPECT_TRUE(IsLive(Alloc("a", nomad::kClientUnknown, 1)));
  EXPECT_FALSE(IsLive(Alloc("a", nomad::kClientUnknown, 1, "n", nomad::kDesiredStop)));
  EXPECT_FALSE(IsLive(Alloc("a", nomad::kClientRunning, 1, "n", nomad::kDesiredEvict)));
  EXPECT_FALSE(IsLive(Alloc("a", nomad::kClientLost, 1)));
  EXPECT_FALSE(IsLive(Alloc("a", nomad::kClientFailed, 1)));
  EXPECT_FALSE(IsLive(Alloc("a", nomad::kClientComplete, 1)));
  nomad::Allocation m = Alloc("a", nomad::kClientRunning, 1);
  m.desired_transition.migrate = false;
  EXPECT_TRUE(IsLive(m));
  m.desired_transition.migrate = true;
  EXPECT_FALSE(IsLive(m));
}

// A steady reconcile reuses the last drift check (Memory::drift): the same JobModifyIndex, Stop
// flag and spec hash mean the same report, and any of the three moving checks the jobs again.
TEST(PlanTest, DriftIsCheckedAgainOnlyWhenTheJobOrTheSpecMoved) {
  World w = Healthy();
  ChangedOutside(w);
  const PlanResult first = Plan(w.desired, w.observed, w.options);
  EXPECT_EQ(Conditions(first), kHealthy);
  ASSERT_TRUE(first.memory.drift.has_value());
  EXPECT_EQ(first.memory.drift->job_modify_index, w.job().job_modify_index);
  EXPECT_EQ(first.memory.drift->spec_hash, w.desired.rendered->spec_hash);
  EXPECT_TRUE(first.memory.drift->report.fields.empty());

  // A remembered report for the same key is what the plan goes by: the jobs are not compared.
  Memory remembered = first.memory;
  remembered.drift->report.fields = {"Priority"};
  w.observed.memory = remembered;
  const PlanResult again = Plan(w.desired, w.observed, w.options);
  EXPECT_EQ(Cond(again, ConditionType::kSynced).reason, "Drifted");
  EXPECT_EQ(again.memory.drift, remembered.drift);

  {  // A new JobModifyIndex: compared again (in sync).
    World moved = w;
    moved.job().job_modify_index += 1;
    const PlanResult r = Plan(moved.desired, moved.observed, moved.options);
    EXPECT_EQ(Conditions(r), kHealthy);
    EXPECT_TRUE(r.memory.drift->report.fields.empty());
    EXPECT_EQ(r.memory.drift->job_modify_index, moved.job().job_modify_index);
  }
  {  // Stop moved at the same index: compared again.
    World moved = w;
    moved.job().stop = true;
    const PlanResult r = Plan(moved.desired, moved.observed, moved.options);
    EXPECT_EQ(Cond(r, ConditionType::kSynced).reason, "JobStopped");
    EXPECT_TRUE(r.memory.drift->stop);
  }
  {  // Another spec hash: compared again against the new desired job.
    World moved = w;
    auto other = std::make_shared<render::CompactRendered>(*w.desired.rendered);
    other->spec_hash = "0123456789abcdef";
    moved.desired.rendered = other;
    const PlanResult r = Plan(moved.desired, moved.observed, moved.options);
    EXPECT_EQ(Cond(r, ConditionType::kSynced).reason, "SpecChanged");
    EXPECT_EQ(r.memory.drift->spec_hash, "0123456789abcdef");
    EXPECT_TRUE(r.memory.drift->report.fields.empty());
  }
  {  // No job: nothing to remember.
    World gone = w;
    NoJob(gone);
    gone.observed.memory = remembered;
    EXPECT_FALSE(Plan(gone.desired, gone.observed, gone.options).memory.drift.has_value());
  }
}

}  // namespace
}  // namespace nsg::reconcile
