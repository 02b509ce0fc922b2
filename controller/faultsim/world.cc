// One world of the deterministic fault simulation (world.h): its specs (the user's, or drawn for
// the shape asked for), its Nomad model, task programs and controllers put together, and the run
// under virtual time. The parts live beside it: the task programs in workload.cc and
// agent_program.cc, the controller replicas in controller_actor.cc, the fault schedule in
// fault_schedule.cc, the invariants in invariants.cc, the timeline and downtime probes in
// report.cc; world_impl.h holds what they share.
#include "controller/faultsim/world.h"

#include <optional>
#include <sstream>
#include <utility>

#include "controller/controller_io/spec_set.h"
#include "controller/faultsim/controller_actor.h"
#include "controller/faultsim/world_impl.h"
#include "controller/render/job_renderer.h"
#include "controller/spec/loader.h"

namespace nsg::faultsim {
namespace internal {
namespace {

// ---------------------------------------------------------------------------------------------
// Specs

struct Draw {
  std::string mode = "sidecar";
  int standby = 0;
  int ttl_s = 15, delay_s = 15, kill_s = 5, stop_after_s = 30;
  std::optional<int> give_up_s;
};

std::string SpecYaml(const std::string& name, const Draw& d) {
  std::ostringstream y;
  y << "apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\nmetadata:\n  name: " << name
    << "\n  namespace: default\nspec:\n  datacenters: [\"dc1\"]\n  standby: " << d.standby
    << "\n  lock:\n    ttl: " << d.ttl_s << "s\n    delay: " << d.delay_s << "s\n    mode: "
    << d.mode << "\n  failover:\n    stopOnClientAfter: " << d.stop_after_s << "s\n";
  if (d.give_up_s) y << "    giveUp: " << *d.give_up_s << "s\n";
  y << "  task:\n    name: work\n    driver: raw_exec\n    config:\n      command: /usr/bin/work\n"
       "      args: [\"--name\", \""
    << name << "\"]\n    killTimeout: " << d.kill_s << "s\n";
  return y.str();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// World implementation

World::World(const WorldOptions& o)
    : o_(o),
      core_(sim::SimCore::Options{.seed = o.seed, .version = o.version}),
      acl_(core_, sim::AclState::Options{.enabled = true}),
      vars_(core_, acl_, sim::Variables::Options{}),
      cluster_(core_, programs_, sim::ClusterOptions{}),
      router_(core_, acl_, vars_, &cluster_) {
  cluster_.SetTokenIssuer([this](const std::string& ns, const std::string& job,
                                 const std::string& group, const std::string& task,
                                 const std::string& alloc) {
    return acl_.IssueWorkloadToken(ns, job, group, task, alloc);
  });
  cluster_.SetTokenRevoker([this](const std::string& alloc) { acl_.RevokeAllocTokens(alloc); });
  for (const char* driver : {"raw_exec", "exec", "docker", "java"}) {
    programs_.Register(driver, [this](const sim::TaskSpec& spec) { return MakeProgram(spec); });
  }
  report_.seed = o.seed;
}

World::~World() {
  // Programs hold references into the world: end them before the model goes.
  router_.Shutdown();
}

Status World::BuildSpecs() {
  io::SpecFiles files;
  if (!o_.spec_files.empty()) {
    for (const auto& [name, content] : o_.spec_files) files.files.push_back({name, content});
  } else {
    int m = o_.singletons;
    if (m <= 0) m = o_.shape == Shape::kRandom ? static_cast<int>(core_.Uniform(1, 20)) : 3;
    for (int i = 0; i < m; ++i) {
      const std::string name = "s" + std::to_string(i);
      Draw d;
      switch (o_.shape) {
        case Shape::kGuide:
          d = Draw{"shim", 0, 15, 15, 5, 60, std::nullopt};
          break;
        case Shape::kDefaults:
          d = Draw{};
          break;
        case Shape::kHotStandby:
          d = Draw{"sidecar", 1, 10, 3, 3, 30, std::nullopt};
          break;
        case Shape::kPlain:
          d = Draw{"shim", 0, 15, 15, 5, 24 * 3600, std::nullopt};
          break;
        case Shape::kRandom: {
          // Draw until the timer rule holds (most draws do).
          for (int attempt = 0; attempt < 50; ++attempt) {
            const char* modes[] = {"shim", "sidecar", "split"};
            d.mode = modes[core_.Uniform(0, 2)];
            d.standby = static_cast<int>(core_.Uniform(0, 2));
            d.ttl_s = static_cast<int>(core_.Uniform(10, 60));
            d.delay_s = static_cast<int>(core_.Uniform(0, 2 * d.ttl_s));
            d.kill_s = static_cast<int>(core_.Uniform(1, 10));
            d.stop_after_s = static_cast<int>(core_.Uniform(30, 120));
            d.give_up_s.reset();
            if (core_.Uniform(0, 3) == 0) {
              d.give_up_s = static_cast<int>(core_.Uniform((2 * d.ttl_s + 2) / 3, 2 * d.ttl_s));
            }
            spec::LoadResult trial =
                spec::LoadSpecs({{name + ".yaml", SpecYaml(name, d)}}, render::CheckSpec);
            if (trial.errors.empty()) break;
            d = Draw{};
          }
          break;
        }
      }
      files.files.push_back({name + ".yaml", SpecYaml(name, d)});
    }
  }
  spec::LoadResult loaded = spec::LoadSpecs(files.files, render::CheckSpec);
  if (!loaded.errors.empty()) {
    std::string msg;
    for (const auto& e : loaded.errors) msg += e.ToString() + "\n";
    return Status::InvalidSpec(msg);
  }
  for (const auto& s : loaded.valid) {
    SingletonState st;
    st.ns = s.metadata.namespace_;
    st.name = s.metadata.name;
    st.key = s.Key();
    st.mode = s.spec.lock.mode == spec::LockMode::kShim      ? "shim"
              : s.spec.lock.mode == spec::LockMode::kSidecar ? "sidecar"
                                                            : "split";
    st.standby = s.spec.standby;
    st.timers = timing::TimersOf(s);
    st.budget = timing::Compute(st.timers);
    st.reschedule_max_delay = s.spec.failover.reschedule.max_delay;
    if (auto r = render::Render(s); r.ok()) {
      st.long_running = r.value().job.type == "service" && !r.value().job.periodic;
    }
    by_job_[st.key] = static_cast<int>(singletons_.size());
    report_.singletons.push_back(st.name + " " + st.mode + " standby=" + std::to_string(st.standby) +
                                 " ttl=" + base::FormatDuration(st.timers.ttl) +
                                 " delay=" + base::FormatDuration(st.timers.delay) +
                                 " give-up=" + base::FormatDuration(st.timers.give_up) +
                                 " kill=" + base::FormatDuration(st.timers.kill_timeout));
    singletons_.push_back(std::move(st));
  }
  specs_ = io::BuildSpecSet(files, {});
  return Status::Ok();
}

void World::StartController(int id) {
  auto c = std::make_unique<ControllerActor>(*this, id);
  ControllerActor* raw = c.get();
  controllers_.push_back(std::move(c));
  raw->Start(specs_);
  Log("controller-" + std::to_string(id) + " started");
}

Result<WorldReport> World::Run() {
  if (Status st = BuildSpecs(); !st.ok()) return st;
  const int nodes = o_.nodes > 0 ? o_.nodes : static_cast<int>(core_.Uniform(3, 7));
  for (int i = 0; i < nodes; ++i) cluster_.AddNode(sim::NodeSpec{});
  const int controllers =
      o_.controllers > 0 ? o_.controllers : static_cast<int>(core_.Uniform(1, 2));
  for (int i = 0; i < controllers; ++i) StartController(controller_count_++);
  const TimePoint start = core_.Now();
  faults_end_ = start + o_.duration - o_.quiet;
  if (o_.faults) ScheduleFaults(faults_end_);
  core_.At(start + o_.duration, "liveness", [this] { CheckLiveness(); });
  core_.AdvanceTo(start + o_.duration);
  // Close the books: an overlap still in progress counts until now.
  for (auto& st : singletons_) {
    if (st.overlap_since) report_.measured.overlap_seconds += Secs(core_.Now() - *st.overlap_since);
  }
  if (!frozen_timeline_) report_.timeline.assign(timeline_.begin(), timeline_.end());
  return report_;
}

}  // namespace internal

base::Result<WorldReport> RunWorld(const WorldOptions& options) {
  internal::World w(options);
  return w.Run();
}

}  // namespace nsg::faultsim
