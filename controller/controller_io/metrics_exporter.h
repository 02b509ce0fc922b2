// ControllerMetrics: the controller's Prometheus metrics (ARCHITECTURE.md §4.3), built from the
// catalogue in metrics/catalogue.h so that names, types, labels and help cannot drift from it.
//
// Only metrics the controller can fill truthfully get series: the families of
// nomad_requests_total and nomad_request_duration_seconds get one series per op (and code) the
// first time ObserveRequest sees it, and leader none until SetLeader is called, so a scrape never
// shows an invented value. reconcile_total has its catalogue results at 0 from the start.
// Per-singleton series are removed with Forget(key) when the singleton is gone (bounded
// cardinality); op names are the fixed set of HttpNomadApi::OpName.
//
// A standby replica (SetLeader(false)) exports no per-singleton series at all: it does not
// reconcile, so whatever it holds is not the truth, and Prometheus sees one answer per singleton
// however many replicas it scrapes. The values are kept, and come back when it leads.
//
// Serialize() also reads /proc/self for the standard process_* metrics of Prometheus client
// libraries (CPU, memory, file descriptors, start time).
//
// Per-singleton series are not prometheus-cpp objects: at 10k singletons those cost ~8 KB each
// (label maps per series) and a scrape took 0.75 s to collect and serialize them. They are plain
// values in one map, written into the text directly (bench/metrics_bench.cc). Every per-singleton
// series exists from the singleton's first reconcile, counters and the failover histogram at 0,
// so that increase() sees the first duplicate and the first failover too.
//
// Owns its prometheus::Registry. Safe for concurrent use (prometheus-cpp metrics are atomic; the
// series maps are guarded by a mutex).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "controller/base/duration.h"

namespace nsg::io {

class ControllerMetrics {
 public:
  ControllerMetrics(const std::string& version, const std::string& revision);
  ControllerMetrics(const ControllerMetrics&) = delete;
  ControllerMetrics& operator=(const ControllerMetrics&) = delete;

  // ---- per singleton (label singleton="<ns>/<name>") ----
  void SetSpecValid(const std::string& key, bool valid);
  void SetObserved(const std::string& key, int running_allocations, bool lock_held, bool up);
  void AddDuplicates(const std::string& key, int n);
  void AddEnforcementStops(const std::string& key, int n);
  void ObserveFailover(const std::string& key, base::Duration took);
  // nomad_singleton_info: kind "service" | "batch" | "periodic" | "unknown", mode the lock mode.
  void SetInfo(const std::string& key, const std::string& kind, const std::string& mode);
  // The singleton's conditions now: one type → status (nullopt: unknown). Types not listed lose
  // their series.
  struct ConditionSample {
    std::string type;
    std::optional<bool> status;
  };
  void SetConditions(const std::string& key, const std::vector<ConditionSample>& conditions);
  // Drops every series of `key`.
  void Forget(const std::string& key);

  // ---- controller ----
  void ObserveReconcile(const std::string& result, base::Duration took);
  void SetWorkQueue(size_t depth, uint64_t retries_total);
  void SetEventStreamUp(bool up);
  void AddEvent(const std::string& topic);
  void AddReconnect();
  void AddGap();
  void SetLastSync(double unix_seconds);
  // How many paths the last read of the spec directory could not read (0: read completely).
  void SetSpecSourceUnreadable(size_t paths);
  // One Nomad API call (HttpNomadApi's RequestObserver): op "job.register", code "200", "404",
  // "error", "cancelled", ...; `took` includes retries.
  void ObserveRequest(std::string_view op, std::string_view code, base::Duration took);
  // 1 while this replica is the leader; while 0, no per-singleton series is exported.
  void SetLeader(bool leader);
  // nomad_server_info{version} = 1 for `version` only (a change replaces the series).
  void SetNomadServerVersion(const std::string& version);
  // The git source: one fetch (`result` one of metrics::kGitFetchResults) and, after a success,
  // the published `revision` and the time. The first call creates every result series at 0.
  void ObserveGitFetch(std::string_view result, const std::string& revision, bool success,
                       double unix_seconds);
  // controller_info: what identifies the controller (all its replicas) to the alert rules.
  void SetControllerInfo(const std::string& region, const std::string& leader_lock);

  // The exposition text of everything.
  std::string Serialize() const;

 private:
  // One singleton's series, kept as plain values (a few hundred bytes; prometheus-cpp's series
  // with their label maps cost ~8 KB per singleton) and written straight into the exposition
  // text at a scrape (AppendPerSingleton).
  struct Singleton {
    double running = 0;
    bool lock_held = false;
    bool up = false;
    bool spec_valid = false;
    double duplicates = 0;
    double stops = 0;
    double failovers = 0;
    // failover_duration_seconds: per bucket (not cumulative) and +Inf; empty (all 0) until the
    // first failover.
    std::vector<uint64_t> failover_buckets;
    double failover_sum = 0;
    uint64_t failover_count = 0;
    std::string kind;  // info's labels; both empty until SetInfo
    std::string mode;
    // type → status (0 true, 1 false, 2 unknown), in the order SetConditions gave them.
    std::vector<std::pair<std::string, uint8_t>> conditions;
  };
  Singleton& SeriesLocked(const std::string& key);
  void AppendPerSingleton(std::string& out) const;  // mu_ held

  // Constant after construction (families belong to registry_).
  std::shared_ptr<prometheus::Registry> registry_;
  std::map<std::string, prometheus::Family<prometheus::Counter>*> counters_;
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> gauges_;
  std::map<std::string, prometheus::Family<prometheus::Histogram>*> histograms_;
  prometheus::Gauge* queue_depth_ = nullptr;
  prometheus::Counter* queue_retries_ = nullptr;
  prometheus::Gauge* stream_up_ = nullptr;
  prometheus::Counter* reconnects_ = nullptr;
  prometheus::Counter* gaps_ = nullptr;
  prometheus::Gauge* last_sync_ = nullptr;
  prometheus::Gauge* source_unreadable_ = nullptr;
  prometheus::Histogram* reconcile_seconds_ = nullptr;

  mutable std::mutex mu_;
  // Guarded by mu_.
  std::map<std::string, Singleton> singletons_;
  std::map<std::string, prometheus::Counter*> reconcile_by_result_;
  std::map<std::string, prometheus::Counter*> events_by_topic_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> requests_by_op_code_;
  std::map<std::string, prometheus::Histogram*, std::less<>> request_seconds_by_op_;
  prometheus::Gauge* leader_ = nullptr;
  prometheus::Gauge* nomad_server_info_ = nullptr;
  bool standby_ = false;  // SetLeader(false) was the last call
  prometheus::Gauge* controller_info_ = nullptr;
  uint64_t retries_seen_ = 0;
  std::map<std::string, prometheus::Counter*, std::less<>> git_fetches_;
  prometheus::Gauge* git_last_success_ = nullptr;
  prometheus::Gauge* git_revision_ = nullptr;
};

}  // namespace nsg::io
