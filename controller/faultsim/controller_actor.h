// Private to controller/faultsim's world: a controller replica of the fault simulation —
// runtime::ControllerCore over io::HttpNomadApi over SimTransport, an informer on the router's
// event stream (or, before Nomad 2.0.0, a blocking list of the lock variables), workers on a tick,
// the resync, and leader election on lock::Agent. Crashes, partitions and freezes come from the
// fault schedule (fault_schedule.cc). Does not take ownership of the world, which must outlive it;
// single-threaded like the world.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "controller/faultsim/world_impl.h"
#include "controller/nomad_client/client_config.h"
#include "controller/runtime/controller_core.h"

namespace nsg::faultsim::internal {

class ControllerActor final : public runtime::ControllerObserver {
 public:
  ControllerActor(World& w, int id);

  void Start(const runtime::SpecSet& specs);

  void Crash();
  bool alive() const { return alive_; }
  void SetPartitioned(bool p);
  void CutStream() { CloseStream(); }
  // SIGSTOP for `d`: nothing of this replica runs (a request about to leave waits, inside a
  // reconcile too; frames, timers and answers wait), then everything resumes at once.
  void Freeze(Duration d);

  void OnReconciled(const reconcile::SingletonKey& key, const reconcile::Desired&,
                    const reconcile::ReconcileResult& r, Duration) override;

 private:
  static io::ClientConfig ClientConfigFor(World& w);
  static io::HttpNomadApi::Options ApiOptions(World& w);

  // Runs `fn` unless this replica is busy in a call (then retries shortly).
  void Guarded(const char* label, std::function<void()> fn);

  void Connect();

  // Nomad before 2.0.0 has no Variable topic: a blocking list of the lock variables, as the
  // controller's lock watcher (ControllerCore::WatchLocks), sent asynchronously so the loop runs
  // on while it is parked. A chain ends when a newer Connect starts one (watch_gen_).
  void WatchLocks(uint64_t gen, uint64_t index);

  class Sink;

  void Subscribe();

  void StreamLine(uint64_t gen, std::string line);

  void StreamEnded(uint64_t gen);

  void CloseStream();

  void Tick();

  void ScheduleResync();

  // ---- leader election: lock::Agent whose holder is the write gate ----
  void StartElection();

  void ElectorRun(lock::Actions acts);

  void ElectorSend(const LockCall& call);

  bool Frozen() const { return world_.core().Now() < frozen_until_; }

  // Runs `fn` now, or when the election thread runs again after a freeze: a moment after the
  // worker, whose write may leave first (the order a thawed process gives is not ours to pick).
  void ElectorThawed(std::function<void()> fn);

  World& world_;
  const int id_;
  bool alive_ = true;
  bool partitioned_ = false;
  bool busy_ = false;
  TimePoint frozen_until_{};
  SimClock clock_;
  SimSleeper sleeper_;
  SimTransport transport_;
  io::HttpNomadApi api_;
  runtime::ControllerCore core_;
  uint64_t stream_id_ = 0, stream_gen_ = 0;
  uint64_t watch_gen_ = 0;
  lock::Config elector_cfg_;
  std::optional<lock::Agent> elector_;
  uint64_t elector_timer_ = 0, elector_gen_ = 0;
};

}  // namespace nsg::faultsim::internal
