// The controller program: the Controller class (its threads, the spec source, the informer and
// lock watch, the workers, leader election, /status and the metrics it feeds) and RunController,
// which builds its I/O. One file because it is one class: its threads share the class's state
// (the spec snapshot, the namespaces the stream covers, the failover record) under the locks
// declared at its end, and each part reads against the others.
#include "controller/app/controller.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>
#include <spdlog/spdlog.h>

#include "controller/app/build_info.h"
#include "controller/app/controller_git.h"
#include "controller/app/exit_codes.h"
#include "controller/base/clock.h"
#include "controller/base/duration.h"
#include "controller/controller_io/git_revision.h"
#include "controller/controller_io/git_source.h"
#include "controller/controller_io/leader_elector.h"
#include "controller/controller_io/metrics_exporter.h"
#include "controller/controller_io/spec_files.h"
#include "controller/controller_io/spec_set.h"
#include "controller/controller_io/spec_watcher.h"
#include "controller/controller_io/status_server.h"
#include "controller/lock_io/lease_file.h"
#include "controller/nomad/version.h"
#include "controller/nomad_client/client_config.h"
#include "controller/nomad_client/event_stream.h"
#include "controller/nomad_client/http_nomad_api.h"
#include "controller/nomad_client/http_transport.h"
#include "controller/nomad_client/retry.h"
#include "controller/reconcile/cluster_view.h"
#include "controller/reconcile/plan.h"
#include "controller/reconcile/reconciler.h"
#include "controller/render/job_renderer.h"
#include "controller/runtime/controller_core.h"
#include "controller/spec/loader.h"
#include "controller/timing/budget.h"

namespace nsg::app {
namespace {

using base::Duration;
using base::Status;
using Json = nlohmann::ordered_json;

// How long to wait before retrying a failed first sync.
inline constexpr Duration kSyncRetry = 2s;
// The main loop's tick: start the workers after the first sync, the periodic resync, gauges,
// the namespace check.
inline constexpr Duration kHousekeeping = 1s;
// A rescan whose spec directory looks unchanged (io::SpecDirectoryFingerprint) skips the read, but
// every this many rescans it reads anyway (coarse file-system timestamps): 5 min at the default 30 s.
inline constexpr int kFullReadEvery = 10;
// How old the newest spec file time must be before a fingerprint is trusted (the file system's
// clock ticks every few milliseconds; git waits a second the same way).
inline constexpr Duration kStableAfter = 2s;
// The lock watch's blocking wait (Nomad before 2.0.0). Short enough that a lock path under a new
// prefix (a new spec with a custom lock.path) is followed within it.
inline constexpr Duration kLockWatchWait = 30s;

// nomad_singleton_info's kind: what up means for the singleton (SingletonDown pages for "service"
// only: a finished batch run is not up, and a periodic job is up between runs).
std::string SingletonKind(const reconcile::Desired& d) {
  if (!d.rendered) return "unknown";
  if (d.rendered->summary.periodic) return "periodic";
  return d.rendered->summary.type;
}

std::string LockModeOf(const reconcile::Desired& d) {
  if (!d.rendered) return "unknown";
  auto mode = d.rendered->summary.Meta(render::kMetaLockMode);
  return mode ? std::string(*mode) : "unknown";
}

// Whether HOST:PORT binds only the loopback interface.
bool IsLoopback(const std::string& host_port) {
  const std::string host = host_port.substr(0, host_port.rfind(':'));
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

double UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

class Controller final : public io::EventConsumer, public runtime::ControllerObserver {
 public:
  // `election_api` (its own client, short timeouts) carries the leader lock's calls; `probe_api`
  // (one attempt, short timeout) the version and namespace reads made before each event-stream
  // connection, so that a Nomad outage does not hold a reconnect back behind their retries.
  Controller(ControllerConfig config, io::HttpNomadApi& api, io::HttpNomadApi& election_api,
             io::HttpNomadApi& probe_api, io::Transport& transport,
             const io::ClientConfig& client, io::ControllerMetrics& metrics,
             spdlog::logger& log, io::GitSource* git = nullptr)
      : config_(std::move(config)),
        git_(git),
        api_(api),
        election_api_(election_api),
        probe_api_(probe_api),
        transport_(transport),
        client_(client),
        metrics_(metrics),
        log_(log),
        core_(api, clock_,
              runtime::ControllerCore::Options{.prune = config_.prune,
                                               .dry_run = config_.dry_run},
              this) {}

  int Run(std::stop_token outer, const ControllerHooks& hooks) {
    std::stop_callback forward(outer, [this] { stop_.request_stop(); });
    const std::stop_token stop = stop_.get_token();

    std::unique_ptr<io::SpecWatcher> watcher;  // a spec directory; the git source has none
    if (git_ == nullptr) {
      io::SpecWatcherOptions wo;
      wo.rescan_period = config_.spec_rescan;
      wo.poll_fallback = std::min(config_.spec_rescan, Duration(2s));
      wo.log = [this](const std::string& line) { log_.warn("specs: {}", line); };
      auto w = io::SpecWatcher::Open(config_.specs_dir, wo);
      if (!w.ok()) {
        log_.error("specs: {}", w.status().message());
        return kExitInvalid;
      }
      watcher = std::move(w).value();
    }
    io::StatusServerOptions http_options;
    if (git_ != nullptr && !config_.git->webhook_secret_file.empty()) {
      http_options.post_handlers[kGitWebhookPath] = [this](const io::HttpServerRequest& req) {
        return WebhookReply(*git_, webhook_secret_, req);
      };
      http_options.max_body_bytes = kGitWebhookMaxBody;
    }
    if (!config_.http_token_file.empty()) {
      http_options.protected_paths = {"/status"};
      http_options.bearer_token = [this] { return http_tokens_.Get(); };
    } else if (!IsLoopback(config_.http_addr)) {
      log_.warn("http: /status is served on {} without a token; set --http-token-file to "
                "protect it",
                config_.http_addr);
    }
    auto server = io::StatusServer::Start(config_.http_addr, Handlers(), http_options);
    if (!server.ok()) {
      log_.error("http: {}", server.status().message());
      return kExitInvalid;
    }
    log_.info("http: serving /metrics /healthz /readyz /status{} on {}",
              http_options.post_handlers.empty() ? "" : " and POST /hooks/git",
              server.value()->BoundAddress());
    if (hooks.on_listening) hooks.on_listening(server.value()->BoundAddress());
    // The first read of the specs comes after the server listens: /healthz answers at once, also
    // while 10,000 specs load (seconds), and /readyz stays 503 until they are loaded and the
    // first full sync with Nomad is done.
    if (hooks.before_first_spec_read) hooks.before_first_spec_read();
    RescanSpecs(/*may_skip=*/false);

    std::unique_ptr<io::LeaderElector> elector;
    if (config_.leader_elect) {
      auto e = StartElection(server.value()->BoundAddress());
      if (!e.ok()) {
        log_.error("leader election: {}", e.status().message());
        return kExitInvalid;
      }
      elector = std::move(e.value());
    }
    std::jthread informer([this, stop] { Inform(stop); });
    std::jthread lock_watcher([this, stop] { WatchLocks(stop); });
    // Spec changes (inotify, debounced) and the periodic full re-read; or the git source's
    // fetches (every --git-interval, at once on a webhook), each followed by a read of the tree
    // it published — on this thread, so a read never overlaps a swap.
    std::jthread spec_source([this, stop, w = watcher.get()] {
      if (git_ != nullptr) {
        while (git_->WaitForNext(stop)) {
          const io::GitSyncResult r = git_->Sync(stop);
          if (stop.stop_requested()) break;
          ReportGitSync(r, git_->status().url, metrics_, log_);
          RescanSpecs(/*may_skip=*/true);  // a published tree never changes in place
        }
        return;
      }
      for (io::WakeReason why; (why = w->Wait(stop)) != io::WakeReason::kStopped;) {
        RescanSpecs(/*may_skip=*/why == io::WakeReason::kRescan);
      }
    });
    std::vector<std::jthread> workers;
    auto last_resync = std::chrono::steady_clock::now();
    auto last_trim = last_resync;
    std::mutex mu;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      {
        std::unique_lock lock(mu);
        cv.wait_for(lock, stop, kHousekeeping, [] { return false; });
      }
      if (stop.stop_requested()) break;
      if (workers.empty() && informed_.load()) {
        log_.info("first sync done; starting {} workers", config_.workers);
        for (int i = 0; i < config_.workers; ++i) workers.emplace_back([this] { Work(); });
      }
      if (informed_.load() &&
          std::chrono::steady_clock::now() - last_resync >= config_.resync_period) {
        last_resync = std::chrono::steady_clock::now();
        if (Status st = core_.Relist(); !st.ok()) {
          log_.warn("resync: {}", st.ToString());
        } else {
          core_.QueueAll();
        }
      }
      metrics_.SetWorkQueue(core_.queue().Len(), core_.queue().Stats().retries_total);
      if (informed_.load()) CheckNamespaces();
      if (std::chrono::steady_clock::now() - last_trim >= kMemoryTrimPeriod &&
          core_.queue().Len() == 0) {
        last_trim = std::chrono::steady_clock::now();
        malloc_trim(0);
      }
    }
    log_.info("stopping: no new work; cancelling Nomad calls in flight");
    if (elector) {
      // Stop leading first (the gate closes), then release the lock for a standby replica.
      elector->RequestStop();
      elector->Wait();
      election_api_.Shutdown();
      elector.reset();
    }
    core_.queue().ShutDown();
    api_.Shutdown();
    probe_api_.Shutdown();
    workers.clear();  // joins
    informer.join();
    lock_watcher.join();
    spec_source.join();
    log_.info("stopped");
    return exit_code_.load();
  }

  // ---- io::EventConsumer (the informer thread) ----
  void OnConnecting() override {
    // The server may have been upgraded while we were away; then the namespaces this connection
    // will cover.
    if (Status st = DetectVersion(); !st.ok()) log_.warn("nomad: version: {}", st.ToString());
    auto names = probe_api_.ListNamespaces();
    std::lock_guard lock(ns_mu_);
    if (names.ok()) {
      covered_ = std::set<std::string>(names.value().begin(), names.value().end());
    } else {
      covered_.reset();
      log_.warn("nomad: list namespaces: {}", names.status().ToString());
    }
  }
  void OnConnected() override {
    metrics_.SetEventStreamUp(true);
    if (connected_once_) metrics_.AddReconnect();
    connected_once_ = true;
    log_.info("event stream: connected");
  }
  void OnFrame(const nomad::Frame& frame) override {
    for (const auto& e : frame.events) metrics_.AddEvent(e.topic);
    core_.OnFrame(frame);
  }
  void OnGap(uint64_t resume_index, io::GapReason reason) override {
    metrics_.AddGap();
    log_.info("event stream: possible gap at index {} ({}); re-listing", resume_index,
              io::GapReasonName(reason));
    if (Status st = core_.Relist(); !st.ok()) log_.warn("re-list after gap: {}", st.ToString());
  }
  void OnDisconnected(const Status& why) override {
    metrics_.SetEventStreamUp(false);
    log_.warn("event stream: {}", why.ToString());
  }

  // ---- runtime::ControllerObserver ----
  void OnSpecChanged(const reconcile::SingletonKey& key, const runtime::SpecEntry* previous,
                     const runtime::SpecEntry* now) override {
    if (now == nullptr) {
      log_.info("spec {}: deleted ({})", key,
                config_.prune ? "its job will be deregistered unless kept"
                              : "its job is left running; --prune deregisters it");
      return;
    }
    metrics_.SetSpecValid(key, now->desired.state == reconcile::SpecState::kValid);
    metrics_.SetInfo(key, SingletonKind(now->desired), LockModeOf(now->desired));
    if (now->desired.state == reconcile::SpecState::kValid) {
      log_.info("spec {}: {} ({}, spec hash {})", key, previous ? "changed" : "added",
                now->source, now->desired.rendered->spec_hash);
    } else {
      for (const auto& err : now->errors) log_.warn("spec {} is invalid: {}", key, err);
    }
  }
  void OnFileErrors(const std::vector<std::string>& errors) override {
    for (const auto& err : errors) log_.warn("specs: {}", err);
  }
  void OnSourceUnreadable(const std::vector<std::string>& paths) override {
    metrics_.SetSpecSourceUnreadable(paths.size());
    if (paths.empty()) {
      log_.info("specs: {} is read completely again; deletions are believed again",
                config_.specs_dir);
    } else {
      log_.warn("specs: {} path(s) of {} cannot be read; no spec counts as deleted until they "
                "can{}",
                paths.size(), config_.specs_dir,
                config_.prune ? " (--prune deregisters nothing)" : "");
    }
  }
  void OnSynced(const runtime::SyncStats& s) override {
    metrics_.SetLastSync(UnixSeconds(std::chrono::system_clock::now()));
    log_.debug("sync: {} jobs ({} read), {} allocations, {} nodes, {} locks ({} read) at index "
               "{}; {} keys changed",
               s.jobs, s.job_reads, s.allocations, s.nodes, s.locks, s.variable_reads, s.index,
               s.changed_keys);
  }
  void OnForgotten(const reconcile::SingletonKey& key) override { metrics_.Forget(key); }
  void OnReconciled(const reconcile::SingletonKey& key, const reconcile::Desired& desired,
                    const reconcile::ReconcileResult& r, Duration took) override {
    using Outcome = reconcile::ReconcileResult::Outcome;
    if (r.outcome == Outcome::kCancelled) return;
    metrics_.ObserveReconcile(reconcile::OutcomeName(r.outcome), took);
    const reconcile::PlanStats& s = r.plan.stats;
    if (desired.state != reconcile::SpecState::kAbsent || s.limit > 0) {
      metrics_.SetObserved(key, s.running_allocations, s.lock_held, s.up);
      std::vector<io::ControllerMetrics::ConditionSample> conditions;
      for (const reconcile::Condition& c : r.plan.conditions) {
        conditions.push_back({reconcile::ConditionTypeName(c.type), c.status});
      }
      metrics_.SetConditions(key, conditions);
    }
    metrics_.AddEnforcementStops(key, r.enforcement_stops);
    for (const auto& e : r.plan.events) {
      using Kind = reconcile::PlanEvent::Kind;
      switch (e.kind) {
        case Kind::kDuplicateObserved:
          metrics_.AddDuplicates(key, 1);
          log_.warn("{}: duplicate allocation {}: {}", key, e.alloc_id, e.message);
          break;
        case Kind::kFailoverCompleted: {
          metrics_.ObserveFailover(key, e.duration);
          std::lock_guard lock(failover_mu_);
          last_failover_[key] = {std::chrono::duration<double>(e.duration).count(),
                                 UnixSeconds(std::chrono::system_clock::now())};
        }
          log_.info("{}: failover {} → {} in {}", key, e.alloc_id, e.to_alloc,
                    base::FormatDuration(e.duration));
          break;
        default:
          log_.info("{}: {}", key, e.message);
      }
    }
    const std::string dry = config_.dry_run ? " (dry run: nothing changed)" : "";
    if (config_.dry_run) {
      for (const auto& a : r.plan.actions) log_.info("{}: would {}", key, reconcile::Describe(a));
    }
    for (const auto& a : r.executed) log_.info("{}: {}", key, a);
    switch (r.outcome) {
      case Outcome::kRetry:
        if (r.status.code() == base::StatusCode::kPermissionDenied) {
          log_.error("{}: permission denied, will retry: {} (the controller needs a management "
                     "token)",
                     key, r.status.message());
        } else {
          log_.warn("{}: will retry: {}", key, r.status.ToString());
        }
        break;
      case Outcome::kPermanent:
        log_.error("{}: permanent error, not retried until something changes: {}", key,
                   r.status.message());
        break;
      default:
        log_.debug("{}: reconciled in {}{}", key, base::FormatDuration(took), dry);
    }
  }

 private:
  // --leader-elect: the worker side writes only while this replica holds the leader lock.
  base::Result<std::unique_ptr<io::LeaderElector>> StartElection(const std::string& http_addr) {
    core_.SetActive(false);
    metrics_.SetLeader(false);
    io::LeaderElectorOptions o;
    o.path = config_.leader_lock_path;
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    o.holder_items = {{"hostname", host},
                      {"pid", std::to_string(getpid())},
                      {"http_addr", http_addr}};
    o.on_started_leading = [this](uint64_t epoch) {
      log_.info("leader election: leading (epoch {}); reconciling", epoch);
      metrics_.SetLeader(true);
      core_.SetActive(true);
    };
    o.on_stopped_leading = [this] {
      log_.warn("leader election: not leading; writes stop now");
      core_.SetActive(false);
      metrics_.SetLeader(false);
    };
    o.log = [this](const std::string& line) { log_.info("{}", line); };
    auto e = io::LeaderElector::Create(std::move(o), election_api_, boot_clock_);
    if (!e.ok()) return e.status();
    e.value()->Start();
    log_.info("leader election: campaigning for {} as a standby until the lock is ours",
              config_.leader_lock_path);
    return e;
  }

  // The informer: the first full sync (retried until it works), then the event stream.
  void Inform(std::stop_token stop) {
    io::RealSleeper sleeper;
    while (!stop.stop_requested()) {
      Status st = DetectVersion();
      if (st.ok()) break;
      if (st.code() == base::StatusCode::kPermissionDenied && config_.allow_unsupported_nomad) {
        log_.warn("nomad: cannot read the server version ({}); --allow-unsupported-nomad: "
                  "running as for a Nomad without the Variable event topic",
                  st.ToString());
        break;
      }
      if (st.code() == base::StatusCode::kPermissionDenied) {
        log_.error("nomad: cannot read the server version: {} (GET /v1/agent/self needs "
                   "agent:read, which a management token has; --allow-unsupported-nomad runs "
                   "anyway)",
                   st.message());
        exit_code_ = kExitInvalid;
        stop_.request_stop();
        return;
      }
      if (st.code() == base::StatusCode::kInvalidSpec) {
        log_.error("nomad: {}", st.message());
        exit_code_ = kExitInvalid;
        stop_.request_stop();
        return;
      }
      log_.warn("initial sync: reading the Nomad version: {} (retrying in {})", st.ToString(),
                base::FormatDuration(kSyncRetry));
      sleeper.SleepFor(kSyncRetry, stop);
    }
    while (!stop.stop_requested()) {
      Status st = core_.Relist();
      if (st.ok()) break;
      log_.warn("initial sync: {} (retrying in {})", st.ToString(),
                base::FormatDuration(kSyncRetry));
      sleeper.SleepFor(kSyncRetry, stop);
    }
    if (stop.stop_requested()) return;
    core_.QueueAll();
    informed_ = true;
    uint64_t last = 0;
    while (!stop.stop_requested()) {
      io::EventStreamOptions o;
      // Before 2.0.0 "Variable" is an unknown topic: accepted for a management token and never
      // matched (nomad-api.md §4.3); the lock watcher covers locks there.
      o.topics = {{"Job", ""}, {"Allocation", ""}, {"Node", ""}, {"Variable", ""}};
      o.namespace_ = "*";
      // The view keeps no task states or histories (ClusterView's Slim) and whole jobs only
      // where a plan needs them (the reconciler reads those): decode the payloads' summaries.
      o.payload_detail = nomad::PayloadDetail::kSummary;
      o.start_index = std::max(core_.view().LastIndex(), last) + 1;
      std::stop_source reader_stop;
      std::stop_callback forward(stop, [&reader_stop] { reader_stop.request_stop(); });
      {
        std::lock_guard lock(ns_mu_);
        reader_stop_ = &reader_stop;
      }
      io::EventStreamReader reader(transport_, client_, sleeper, o, *this);
      Status st = reader.Run(reader_stop.get_token());
      {
        std::lock_guard lock(ns_mu_);
        reader_stop_ = nullptr;
      }
      last = std::max(last, reader.last_index());
      if (stop.stop_requested()) break;
      if (resubscribe_.exchange(false)) {
        metrics_.SetEventStreamUp(false);
        continue;
      }
      if (!st.ok() && st.code() != base::StatusCode::kCancelled) {
        log_.error("event stream stopped: {}; relying on the periodic resync", st.ToString());
      }
      break;
    }
    metrics_.SetEventStreamUp(false);
  }

  // GET /v1/agent/self → metrics, /status, the lock watch. kInvalidSpec for a version below
  // 1.10.2 (unless --allow-unsupported-nomad); the call's own error otherwise.
  Status DetectVersion() {
    auto text = probe_api_.AgentVersion();
    if (!text.ok()) return text.status();
    auto v = nomad::NomadVersion::Parse(text.value());
    const bool topic = v.ok() && nomad::HasVariableTopic(v.value());
    std::string previous;
    {
      std::lock_guard lock(version_mu_);
      previous = nomad_version_;
      nomad_version_ = text.value();
    }
    lock_watch_ = !topic;
    if (previous != text.value()) {
      metrics_.SetNomadServerVersion(text.value());
      log_.info("nomad: server version {}{}", text.value(),
                topic ? "" : " (no Variable event topic: locks are followed with a blocking list)");
    }
    if (!v.ok()) return Status::Ok();  // an unexpected build string: not refused, lock watch on
    if (!nomad::IsSupported(v.value())) {
      const std::string msg = "Nomad " + text.value() + " is not supported (needs " +
                              nomad::kMinSupportedVersion.ToString() +
                              " or later; --allow-unsupported-nomad runs anyway)";
      if (!config_.allow_unsupported_nomad) return Status::InvalidSpec(msg);
      if (previous != text.value()) log_.warn("nomad: {}", msg);
    }
    return Status::Ok();
  }

  // Where Nomad has no Variable event topic: a blocking list of the lock variables; a moved
  // ModifyIndex re-reads that lock (ControllerCore::WatchLocks).
  void WatchLocks(std::stop_token stop) {
    io::RealSleeper sleeper;
    uint64_t index = 0;
    while (!stop.stop_requested()) {
      if (!informed_.load() || !lock_watch_.load()) {
        index = 0;
        sleeper.SleepFor(kHousekeeping, stop);
        continue;
      }
      auto next = core_.WatchLocks(index, kLockWatchWait);
      if (next.ok()) {
        index = next.value();
        continue;
      }
      if (next.status().code() == base::StatusCode::kCancelled) break;
      log_.warn("lock watch: {} (retrying in {})", next.status().ToString(),
                base::FormatDuration(kSyncRetry));
      index = 0;
      sleeper.SleepFor(kSyncRetry, stop);
    }
  }

  // A namespace that a spec or the view names, that the open stream does not cover, and that
  // exists now: re-open the stream (see the file comment). At most one list per tick, and only
  // while such a namespace is missing.
  void CheckNamespaces() {
    std::set<std::string> missing;
    const std::vector<reconcile::SingletonKey> keys = core_.AllKeys();
    {
      std::lock_guard lock(ns_mu_);
      if (!covered_ || reader_stop_ == nullptr) return;
      for (const auto& key : keys) {
        std::string ns = key.substr(0, key.find('/'));
        if (covered_->count(ns) == 0) missing.insert(std::move(ns));
      }
    }
    if (missing.empty()) return;
    auto names = probe_api_.ListNamespaces();
    if (!names.ok()) return;
    for (const auto& n : names.value()) {
      if (missing.count(n) == 0) continue;
      log_.info("event stream: namespace {} exists now but the open stream does not cover it "
                "(namespace=* is resolved when a stream opens); re-subscribing",
                n);
      std::lock_guard lock(ns_mu_);
      if (reader_stop_ != nullptr) {
        resubscribe_ = true;
        covered_.reset();  // until the next connection lists them again
        reader_stop_->request_stop();
      }
      return;
    }
  }

  // Called once before the threads start, then only from the spec-source thread.
  // With the git source, a failed fetch counts as an unreadable part of the source: the specs
  // stay at the published commit and nothing counts as deleted until a fetch succeeds.
  // `may_skip`: a periodic rescan (not a change the watcher saw), which may be skipped when the
  // directory looks as it did at the last complete read.
  void RescanSpecs(bool may_skip) {
    const std::string revision = git_ != nullptr
                                     ? git_->revision()
                                     : io::GitRevision(config_.specs_dir).value_or("");
    std::string git_error;
    if (git_ != nullptr) {
      const io::GitSourceStatus g = git_->status();
      if (!g.last_error.empty()) git_error = "git " + g.url + ": " + g.last_error;
    }
    // A periodic rescan that would see what the last complete read saw (same names, inodes,
    // sizes and times, same revision) skips the read and the parse: a second of CPU at 10k specs
    // every 30 s (issue 17). A change the watcher reports is always read; a fingerprint is only
    // trusted when its newest file time was kStableAfter old when it was taken (timestamps tick
    // coarsely); and every kFullReadEvery rescans read anyway.
    const std::optional<io::SpecDirFingerprint> fp =
        io::SpecDirectoryFingerprint(config_.specs_dir);
    if (may_skip && fp && last_read_ && last_read_->fingerprint == fp->hash &&
        last_read_->revision == revision && git_error.empty() &&
        ++last_read_->skipped < kFullReadEvery) {
      return;
    }
    runtime::SpecSet next = io::LoadSpecSet(config_.specs_dir, core_.Specs(), revision);
    if (!git_error.empty()) next.unreadable.push_back(git_error);
    last_read_.reset();
    const int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    if (fp && next.unreadable.empty() &&
        now_ns - fp->newest_change_ns >= std::chrono::nanoseconds(kStableAfter).count()) {
      last_read_ = LastRead{fp->hash, revision, 0};
    }
    core_.ApplySpecs(std::move(next));
  }

  void Work() {
    while (auto key = core_.queue().Get()) {
      core_.Process(*key);
      metrics_.SetWorkQueue(core_.queue().Len(), core_.queue().Stats().retries_total);
    }
  }

  io::HttpHandlers Handlers() {
    io::HttpHandlers h;
    h["/metrics"] = [this] {
      return io::HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.Serialize()};
    };
    h["/healthz"] = [] { return io::HttpReply{200, "text/plain; charset=utf-8", "ok\n"}; };
    h["/readyz"] = [this] {
      if (informed_.load()) return io::HttpReply{200, "text/plain; charset=utf-8", "ready\n"};
      return io::HttpReply{503, "text/plain; charset=utf-8", "not ready: first sync pending\n"};
    };
    h["/status"] = [this] {
      return io::HttpReply{200, "application/json", StatusJson().dump(2) + "\n"};
    };
    return h;
  }

  // `text` with the spec directory's paths relative to it ("<specs>" for the directory itself):
  // /status does not show where the controller's files are on its machine.
  std::string ShowPath(std::string text) const {
    std::string dir = config_.specs_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    if (dir.empty()) return text;
    for (const auto& [from, to] :
         std::vector<std::pair<std::string, std::string>>{{dir + "/", ""}, {dir, "<specs>"}}) {
      for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size()) {
        text.replace(pos, from.size(), to);
      }
    }
    return text;
  }
  Json ShowPaths(const std::vector<std::string>& texts) const {
    Json out = Json::array();
    for (const auto& t : texts) out.push_back(ShowPath(t));
    return out;
  }

  Json StatusJson() const {
    Json out;
    out["ready"] = informed_.load();
    // With --leader-elect only the leader reconciles; a standby's conditions are from its last
    // term (or absent).
    out["leader"] = core_.active();
    out["dry_run"] = config_.dry_run;
    out["prune"] = config_.prune;
    {
      std::lock_guard lock(version_mu_);
      out["nomad_version"] = nomad_version_.empty() ? Json(nullptr) : Json(nomad_version_);
    }
    const runtime::SpecSet specs = core_.Specs();
    const auto statuses = core_.Statuses();
    const base::TimePoint now = clock_.Now();
    const double unix_now = UnixSeconds(std::chrono::system_clock::now());
    if (!specs.revision.empty()) out["revision"] = specs.revision;
    out["spec_source"] = {{"complete", specs.unreadable.empty()},
                          {"unreadable", ShowPaths(specs.unreadable)}};
    if (git_ != nullptr) out["git"] = GitStatusJson(git_->status());
    Json list = Json::array();
    for (const auto& key : core_.AllKeys()) {
      const reconcile::Observed obs = core_.view().ObservedFor(key);
      Json j;
      j["singleton"] = key;
      auto spec = specs.entries.find(key);
      if (spec == specs.entries.end()) {
        // A job of ours whose deletion is not confirmed is kept (DesiredFor says why).
        const reconcile::Desired d = core_.DesiredFor(key);
        if (d.state == reconcile::SpecState::kAbsent) {
          j["spec"] = "deleted";
        } else {
          j["spec"] = "unconfirmed";
          j["valid"] = false;
          j["errors"] = Json::array({ShowPath(d.invalid_message)});
        }
      } else {
        const runtime::SpecEntry& e = spec->second;
        j["source"] = ShowPath(e.source);
        if (!e.revision.empty()) j["revision"] = e.revision;
        j["valid"] = e.desired.state == reconcile::SpecState::kValid;
        j["errors"] = ShowPaths(e.errors);
        if (e.desired.rendered) j["desired_spec_hash"] = e.desired.rendered->spec_hash;
      }
      if (obs.job) {
        Json job;
        job["id"] = obs.job->id;
        job["namespace"] = obs.job->namespace_;
        job["version"] = obs.job->version;
        job["type"] = obs.job->type;
        job["periodic"] = obs.job->periodic.has_value();
        job["job_modify_index"] = obs.job->job_modify_index;
        job["owned"] = reconcile::IsOwned(*obs.job);
        auto h = obs.job->meta.find(render::kMetaSpecHash);
        job["spec_hash"] = h == obs.job->meta.end() ? "" : h->second;
        j["job"] = job;
      } else {
        j["job"] = nullptr;
      }
      auto st = statuses.find(key);
      // Roles: the lock holder; live ones up to 1 + standby are standbys; live ones beyond that
      // are extra (enforcement stops them); the rest have stopped.
      const std::string holder =
          obs.lock.holder ? obs.lock.holder->alloc_id : std::string();
      const int limit = st != statuses.end() ? st->second.last.plan.stats.limit : 0;
      int slots = limit;  // live allocations the job may have
      for (const auto& a : obs.allocations) {
        if (!holder.empty() && a.id == holder && reconcile::IsLive(a)) --slots;
      }
      Json allocs = Json::array();
      for (const auto& a : obs.allocations) {
        std::string role = "stopped";
        if (reconcile::IsLive(a)) {
          if (!holder.empty() && a.id == holder) {
            role = "holder";
          } else {
            role = limit == 0 || slots-- > 0 ? "standby" : "extra";
          }
        }
        allocs.push_back({{"id", a.id},
                          {"node", a.node_id},
                          {"client_status", a.client_status},
                          {"desired_status", a.desired_status},
                          {"role", role}});
      }
      j["allocations"] = allocs;
      j["lock"] = {{"known", obs.lock.known},
                   {"holder", obs.lock.holder && !obs.lock.holder->alloc_id.empty()
                                  ? Json(obs.lock.holder->alloc_id)
                                  : Json(nullptr)},
                   {"epoch", obs.lock.holder ? obs.lock.holder->epoch : 0}};
      {
        std::lock_guard lock(failover_mu_);
        auto f = last_failover_.find(key);
        if (f != last_failover_.end()) {
          j["last_failover"] = {{"duration_seconds", f->second.first}, {"at", f->second.second}};
        }
      }
      if (st != statuses.end()) {
        const reconcile::ReconcileResult& r = st->second.last;
        if (r.plan.stats.limit > 0) j["desired_allocations"] = r.plan.stats.limit;
        Json conds = Json::array();
        for (const auto& c : r.plan.conditions) {
          auto t = st->second.transitions.find(c.type);
          const double changed =
              t == st->second.transitions.end()
                  ? 0
                  : unix_now - std::chrono::duration<double>(now - t->second).count();
          conds.push_back({{"type", reconcile::ConditionTypeName(c.type)},
                           {"status", c.status},
                           {"reason", c.reason},
                           {"message", ShowPath(c.message)},
                           {"last_transition", changed}});
        }
        j["conditions"] = conds;
        j["last_reconcile"] = {
            {"result", reconcile::OutcomeName(r.outcome)},
            {"error", r.status.ok() ? "" : ShowPath(r.status.ToString())},
            {"executed", r.executed},
            {"at", unix_now - std::chrono::duration<double>(now - st->second.at).count()}};
      }
      list.push_back(std::move(j));
    }
    out["singletons"] = list;
    return out;
  }

  // The last complete read of the spec directory, which RescanSpecs does not repeat while nothing
  // it would read changed (spec-source thread only, after the first read in Run).
  struct LastRead {
    uint64_t fingerprint = 0;
    std::string revision;
    int skipped = 0;
  };
  std::optional<LastRead> last_read_;

  // Constant after construction.
  const ControllerConfig config_;
  io::GitSource* const git_;  // nullptr: the spec directory; not owned
  const io::TokenSource http_tokens_{"", config_.http_token_file};  // safe for concurrent use
  const io::TokenSource webhook_secret_{"", config_.git ? config_.git->webhook_secret_file : ""};
  io::HttpNomadApi& api_;
  io::HttpNomadApi& election_api_;
  io::HttpNomadApi& probe_api_;
  io::Transport& transport_;
  const io::ClientConfig& client_;
  io::ControllerMetrics& metrics_;
  spdlog::logger& log_;
  base::SystemClock clock_;
  io::BootClock boot_clock_;

  std::stop_source stop_;
  runtime::ControllerCore core_;  // safe for concurrent use
  std::atomic<bool> informed_{false};  // the first sync is done and every key queued
  std::atomic<int> exit_code_{kExitOk};
  std::atomic<bool> lock_watch_{true};   // no Variable event topic (or the version is unknown)
  mutable std::mutex version_mu_;
  std::string nomad_version_;  // guarded by version_mu_; "" until known
  std::mutex ns_mu_;
  // Guarded by ns_mu_: the namespaces the open stream covers (unknown: nullopt), and the open
  // reader's stop source (null between readers).
  std::optional<std::set<std::string>> covered_;
  std::stop_source* reader_stop_ = nullptr;
  std::atomic<bool> resubscribe_{false};
  bool connected_once_ = false;        // informer thread only
  mutable std::mutex failover_mu_;
  // The last failover per key (for /status), guarded by failover_mu_.
  std::map<reconcile::SingletonKey, std::pair<double, double>> last_failover_;  // seconds, unix at
};

}  // namespace

int RunController(ControllerConfig config, const io::ClientConfig& client, spdlog::logger& log,
                  std::stop_token stop, const ControllerHooks& hooks) {
  auto transport = io::MakeTransport(client);
  if (!transport.ok()) {
    log.error("nomad: {}", transport.status().message());
    return kExitInvalid;
  }
  base::SystemClock clock;
  io::RealSleeper sleeper;
  io::ControllerMetrics metrics(BuildVersion(), BuildRevision());
  // Replicas of one controller share the Nomad region and the leader lock; the alert rules group
  // by these (with the scrape's job) to tell independent controllers apart.
  metrics.SetControllerInfo(client.region,
                            config.leader_elect ? config.leader_lock_path : "");
  io::HttpNomadApi::Options api_options;
  api_options.observer = [&metrics](std::string_view op, std::string_view code, Duration took) {
    metrics.ObserveRequest(op, code, took);
  };
  io::HttpNomadApi api(*transport.value(), client, clock, sleeper, api_options);
  // A single replica (no --leader-elect) always leads; a replica that campaigns is a standby (no
  // per-singleton series) until it wins.
  metrics.SetLeader(!config.leader_elect);
  // The leader lock's calls: their own client, with a timeout within a renew interval (T/3).
  io::ClientConfig election_client = client;
  election_client.request_timeout = std::min(election_client.request_timeout, Duration(5s));
  io::HttpNomadApi election_api(*transport.value(), election_client, clock, sleeper);
  io::HttpNomadApi::Options probe_options = api_options;
  probe_options.max_attempts = 1;
  io::HttpNomadApi probe_api(*transport.value(), election_client, clock, sleeper, probe_options);
  std::unique_ptr<io::GitSource> git_source;
  if (config.git) {
    auto g = io::GitSource::Open(config.git->source);
    if (!g.ok()) {
      log.error("git: {}", g.status().message());
      return g.status().code() == base::StatusCode::kInvalidSpec ? kExitUsage : kExitInvalid;
    }
    git_source = std::move(g).value();
    config.specs_dir = git_source->spec_dir();
    log.info("git: {} ref {}{}{}, every {}; specs read from {}", git_source->status().url,
                      config.git->source.ref,
                      config.git->source.path.empty() ? "" : " path ", config.git->source.path,
                      base::FormatDuration(config.git->source.interval), config.specs_dir);
  }
  log.info("nomad-singleton controller {}: specs {}, {}, workers {}, resync {}{}{}",
                    VersionString(), config.specs_dir, client.Describe(), config.workers,
                    base::FormatDuration(config.resync_period), config.prune ? ", prune" : "",
                    config.dry_run ? ", dry run" : "");
  Controller controller(config, api, election_api, probe_api, *transport.value(), client,
                        metrics, log, git_source.get());
  return controller.Run(stop, hooks);
}

}  // namespace nsg::app
