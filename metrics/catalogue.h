// The metric catalogue of nomad-singleton (ARCHITECTURE.md §4.3, a contract): every metric the
// controller exports, with its type, help text and labels. The exporter (issue: controller) builds
// its prometheus-cpp families from this table, and the Grafana dashboard and alert rules in this
// folder may only refer to names listed here. Constant data; safe for concurrent use.
#pragma once

#include <array>
#include <string_view>

namespace nsg::metrics {

inline constexpr std::string_view kPrefix = "nomad_singleton_";

enum class Type { kCounter, kGauge, kHistogram };

struct MetricDef {
  std::string_view name;  // without the prefix
  Type type;
  std::string_view labels;  // comma-separated label names
  std::string_view help;
};

inline constexpr std::array kCatalogue = {
    // Per singleton: label singleton="<namespace>/<name>" (bounded by the number of specs).
    MetricDef{"running_allocations", Type::kGauge, "singleton",
              "Allocations of the singleton whose client status is running."},
    MetricDef{"lock_held", Type::kGauge, "singleton", "1 when some allocation holds the lock."},
    MetricDef{"up", Type::kGauge, "singleton",
              "1 when exactly one allocation is running and holding the lock. Meaningful for "
              "service singletons; a batch singleton is 0 once its run finished and a periodic "
              "one 1 between runs (see nomad_singleton_info's kind)."},
    MetricDef{"duplicates_total", Type::kCounter, "singleton",
              "Times more than one running workload instance was observed."},
    MetricDef{"enforcement_stops_total", Type::kCounter, "singleton",
              "Extra allocations stopped by the controller."},
    MetricDef{"failovers_total", Type::kCounter, "singleton",
              "Holder changes after a lost, failed or unknown allocation."},
    MetricDef{"failover_duration_seconds", Type::kHistogram, "singleton",
              "Time from the holder's loss to a new holder running."},
    MetricDef{"spec_valid", Type::kGauge, "singleton", "1 when the singleton's spec is valid."},
    MetricDef{"info", Type::kGauge, "singleton,kind,mode",
              "Always 1; kind is service, batch or periodic, mode the lock mode (shim, sidecar, "
              "split); both unknown while the spec is invalid."},
    MetricDef{"condition", Type::kGauge, "singleton,type,status",
              "The singleton's conditions (as in /status): one series per type and status "
              "(true, false, unknown), 1 for the current status."},
    // Controller.
    MetricDef{"reconcile_total", Type::kCounter, "result", "Reconciles by result."},
    MetricDef{"reconcile_duration_seconds", Type::kHistogram, "", "Duration of one reconcile."},
    MetricDef{"workqueue_depth", Type::kGauge, "", "Keys waiting in the work queue."},
    MetricDef{"workqueue_retries_total", Type::kCounter, "", "Keys requeued after an error."},
    MetricDef{"event_stream_up", Type::kGauge, "", "1 while the event stream is connected."},
    MetricDef{"event_stream_events_total", Type::kCounter, "topic", "Events received by topic."},
    MetricDef{"event_stream_reconnects_total", Type::kCounter, "", "Event stream reconnects."},
    MetricDef{"event_stream_gaps_total", Type::kCounter, "",
              "Reconnects after which events may have been missed (a re-list followed)."},
    MetricDef{"nomad_requests_total", Type::kCounter, "op,code",
              "Nomad API calls by operation and outcome (HTTP status, acl_disabled for the 400 of "
              "a cluster without ACLs, error or cancelled); a call's retries count once."},
    MetricDef{"nomad_request_duration_seconds", Type::kHistogram, "op",
              "Nomad API call latency, retries included."},
    MetricDef{"leader", Type::kGauge, "", "1 while this replica holds the leader lock."},
    MetricDef{"last_sync_timestamp_seconds", Type::kGauge, "",
              "Unix time of the last full sync with Nomad."},
    MetricDef{"spec_source_unreadable_paths", Type::kGauge, "",
              "Paths of the spec directory that the last read could not read completely (the "
              "directory, a subdirectory, a spec file; an emptied file or an unnamed document "
              "counts too; with --git-url a failed fetch counts as one). While above 0 no spec "
              "counts as deleted: --prune deregisters nothing."},
    // The git source (controller --git-url); absent with --specs.
    MetricDef{"git_fetch_total", Type::kCounter, "result",
              "Fetches of the git source by result: unchanged (the ref has not moved), updated, "
              "forced (the new commit does not descend from the one before: a force-push), "
              "failed (the remote could not be reached or read, or the commit could not be "
              "checked out; the specs stay at the last published commit, and "
              "spec_source_unreadable_paths counts the source until a fetch succeeds)."},
    MetricDef{"git_last_fetch_success_timestamp_seconds", Type::kGauge, "",
              "Unix time of the last fetch of the git source that ended with the remote's commit "
              "published."},
    MetricDef{"git_revision_info", Type::kGauge, "revision",
              "Always 1; the label carries the published commit of the git source, the one the "
              "specs are read from (job Meta nomad-singleton/revision)."},
    MetricDef{"nomad_server_info", Type::kGauge, "version",
              "Always 1; the label carries the Nomad server version (GET /v1/agent/self) the "
              "controller talks to; absent until it is known."},
    MetricDef{"build_info", Type::kGauge, "version,revision",
              "Always 1; labels carry the build (version 0.1.0, revision the git commit)."},
    MetricDef{"controller_info", Type::kGauge, "region,leader_lock",
              "Always 1; labels identify the controller its replicas form: the Nomad region it "
              "was given (\"\" = the agent's) and the leader lock path (\"\" without "
              "--leader-elect)."},
};

// The values of reconcile_total's result label; each series exists (at 0) from the start, so a
// healthy controller's error ratio is 0 rather than no data.
inline constexpr std::array<std::string_view, 3> kReconcileResults = {"done", "retry",
                                                                       "permanent"};
// The values of git_fetch_total's result label (io::GitOutcomeName), all at 0 from the first
// fetch.
inline constexpr std::array<std::string_view, 4> kGitFetchResults = {"unchanged", "updated",
                                                                     "forced", "failed"};

// A per-singleton metric: a standby replica (--leader-elect, not leading) exports none of them.
constexpr bool PerSingleton(const MetricDef& def) {
  return def.labels == "singleton" || def.labels.starts_with("singleton,");
}

}  // namespace nsg::metrics
