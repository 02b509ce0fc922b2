#include "controller/io/metrics_exporter.h"

#include <prometheus/text_serializer.h>

#include <vector>

#include "controller/io/process_metrics.h"
#include "metrics/catalogue.h"

namespace nsg::io {

namespace {

const prometheus::Histogram::BucketBoundaries kReconcileBuckets = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
// Failover time is bounded below by the lock TTL + delay (seconds to a minute or two).
const prometheus::Histogram::BucketBoundaries kFailoverBuckets = {1,  2,  5,   10,  15, 20,
                                                                  30, 45, 60, 90, 120, 300};
// A Nomad API call: a millisecond on loopback to the request timeout, retries included.
const prometheus::Histogram::BucketBoundaries kRequestBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
// The values of condition's status label, in the order of Singleton::conditions' arrays.
constexpr std::array<const char*, 3> kConditionStatuses = {"true", "false", "unknown"};

}  // namespace

ControllerMetrics::ControllerMetrics(const std::string& version, const std::string& revision)
    : registry_(std::make_shared<prometheus::Registry>()) {
  for (const metrics::MetricDef& def : metrics::kCatalogue) {
    const std::string name = std::string(metrics::kPrefix) + std::string(def.name);
    const std::string help(def.help);
    if (metrics::PerSingleton(def)) per_singleton_families_.insert(name);
    switch (def.type) {
      case metrics::Type::kCounter:
        counters_[std::string(def.name)] =
            &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
        break;
      case metrics::Type::kGauge:
        gauges_[std::string(def.name)] =
            &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
        break;
      case metrics::Type::kHistogram:
        histograms_[std::string(def.name)] =
            &prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
        break;
    }
  }
  queue_depth_ = &gauges_.at("workqueue_depth")->Add({});
  queue_retries_ = &counters_.at("workqueue_retries_total")->Add({});
  stream_up_ = &gauges_.at("event_stream_up")->Add({});
  reconnects_ = &counters_.at("event_stream_reconnects_total")->Add({});
  gaps_ = &counters_.at("event_stream_gaps_total")->Add({});
  last_sync_ = &gauges_.at("last_sync_timestamp_seconds")->Add({});
  source_unreadable_ = &gauges_.at("spec_source_unreadable_paths")->Add({});
  reconcile_seconds_ = &histograms_.at("reconcile_duration_seconds")->Add({}, kReconcileBuckets);
  gauges_.at("build_info")->Add({{"version", version}, {"revision", revision}}).Set(1);
  for (std::string_view result : metrics::kReconcileResults) {
    const std::string r(result);
    reconcile_by_result_.emplace(r, &counters_.at("reconcile_total")->Add({{"result", r}}));
  }
}

ControllerMetrics::Singleton& ControllerMetrics::SeriesLocked(const std::string& key) {
  auto it = singletons_.find(key);
  if (it != singletons_.end()) return it->second;
  const prometheus::Labels l = {{"singleton", key}};
  Singleton s;
  s.running = &gauges_.at("running_allocations")->Add(l);
  s.lock_held = &gauges_.at("lock_held")->Add(l);
  s.up = &gauges_.at("up")->Add(l);
  s.spec_valid = &gauges_.at("spec_valid")->Add(l);
  s.duplicates = &counters_.at("duplicates_total")->Add(l);
  s.stops = &counters_.at("enforcement_stops_total")->Add(l);
  s.failovers = &counters_.at("failovers_total")->Add(l);
  s.failover_seconds = &histograms_.at("failover_duration_seconds")->Add(l, kFailoverBuckets);
  return singletons_.emplace(key, s).first->second;
}

void ControllerMetrics::SetSpecValid(const std::string& key, bool valid) {
  std::lock_guard lock(mu_);
  SeriesLocked(key).spec_valid->Set(valid ? 1 : 0);
}

void ControllerMetrics::SetObserved(const std::string& key, int running_allocations,
                                    bool lock_held, bool up) {
  std::lock_guard lock(mu_);
  Singleton& s = SeriesLocked(key);
  s.running->Set(running_allocations);
  s.lock_held->Set(lock_held ? 1 : 0);
  s.up->Set(up ? 1 : 0);
}

void ControllerMetrics::AddDuplicates(const std::string& key, int n) {
  if (n <= 0) return;
  std::lock_guard lock(mu_);
  SeriesLocked(key).duplicates->Increment(n);
}

void ControllerMetrics::AddEnforcementStops(const std::string& key, int n) {
  if (n <= 0) return;
  std::lock_guard lock(mu_);
  SeriesLocked(key).stops->Increment(n);
}

void ControllerMetrics::ObserveFailover(const std::string& key, base::Duration took) {
  std::lock_guard lock(mu_);
  Singleton& s = SeriesLocked(key);
  s.failovers->Increment();
  s.failover_seconds->Observe(base::ToSeconds(took));
}

void ControllerMetrics::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = singletons_.find(key);
  if (it == singletons_.end()) return;
  const Singleton& s = it->second;
  gauges_.at("running_allocations")->Remove(s.running);
  gauges_.at("lock_held")->Remove(s.lock_held);
  gauges_.at("up")->Remove(s.up);
  gauges_.at("spec_valid")->Remove(s.spec_valid);
  counters_.at("duplicates_total")->Remove(s.duplicates);
  counters_.at("enforcement_stops_total")->Remove(s.stops);
  counters_.at("failovers_total")->Remove(s.failovers);
  histograms_.at("failover_duration_seconds")->Remove(s.failover_seconds);
  if (s.info != nullptr) gauges_.at("info")->Remove(s.info);
  for (const auto& [type, series] : s.conditions) {
    for (prometheus::Gauge* g : series) gauges_.at("condition")->Remove(g);
  }
  singletons_.erase(it);
}

void ControllerMetrics::SetInfo(const std::string& key, const std::string& kind,
                                const std::string& mode) {
  std::lock_guard lock(mu_);
  Singleton& s = SeriesLocked(key);
  auto& family = *gauges_.at("info");
  prometheus::Gauge* next = &family.Add({{"singleton", key}, {"kind", kind}, {"mode", mode}});
  if (s.info != nullptr && s.info != next) family.Remove(s.info);
  s.info = next;
  s.info->Set(1);
}

void ControllerMetrics::SetConditions(const std::string& key,
                                      const std::vector<ConditionSample>& conditions) {
  std::lock_guard lock(mu_);
  Singleton& s = SeriesLocked(key);
  auto& family = *gauges_.at("condition");
  std::map<std::string, std::array<prometheus::Gauge*, 3>> next;
  for (const ConditionSample& c : conditions) {
    auto it = s.conditions.find(c.type);
    std::array<prometheus::Gauge*, 3> series{};
    if (it != s.conditions.end()) {
      series = it->second;
      s.conditions.erase(it);
    } else {
      for (size_t i = 0; i < series.size(); ++i) {
        series[i] = &family.Add(
            {{"singleton", key}, {"type", c.type}, {"status", kConditionStatuses[i]}});
      }
    }
    const size_t current = !c.status ? 2 : *c.status ? 0 : 1;
    for (size_t i = 0; i < series.size(); ++i) series[i]->Set(i == current ? 1 : 0);
    next[c.type] = series;
  }
  for (const auto& [type, series] : s.conditions) {  // types no longer reported
    for (prometheus::Gauge* g : series) family.Remove(g);
  }
  s.conditions = std::move(next);
}

void ControllerMetrics::ObserveReconcile(const std::string& result, base::Duration took) {
  reconcile_seconds_->Observe(base::ToSeconds(took));
  std::lock_guard lock(mu_);
  auto it = reconcile_by_result_.find(result);
  if (it == reconcile_by_result_.end()) {
    it = reconcile_by_result_
             .emplace(result, &counters_.at("reconcile_total")->Add({{"result", result}}))
             .first;
  }
  it->second->Increment();
}

void ControllerMetrics::SetWorkQueue(size_t depth, uint64_t retries_total) {
  queue_depth_->Set(static_cast<double>(depth));
  std::lock_guard lock(mu_);
  if (retries_total > retries_seen_) {
    queue_retries_->Increment(static_cast<double>(retries_total - retries_seen_));
    retries_seen_ = retries_total;
  }
}

void ControllerMetrics::SetEventStreamUp(bool up) { stream_up_->Set(up ? 1 : 0); }

void ControllerMetrics::AddEvent(const std::string& topic) {
  std::lock_guard lock(mu_);
  auto it = events_by_topic_.find(topic);
  if (it == events_by_topic_.end()) {
    it = events_by_topic_
             .emplace(topic, &counters_.at("event_stream_events_total")->Add({{"topic", topic}}))
             .first;
  }
  it->second->Increment();
}

void ControllerMetrics::AddReconnect() { reconnects_->Increment(); }
void ControllerMetrics::AddGap() { gaps_->Increment(); }
void ControllerMetrics::SetLastSync(double unix_seconds) { last_sync_->Set(unix_seconds); }
void ControllerMetrics::SetSpecSourceUnreadable(size_t paths) {
  source_unreadable_->Set(static_cast<double>(paths));
}

void ControllerMetrics::ObserveRequest(std::string_view op, std::string_view code,
                                       base::Duration took) {
  std::lock_guard lock(mu_);
  std::pair<std::string, std::string> key(op, code);
  auto c = requests_by_op_code_.find(key);
  if (c == requests_by_op_code_.end()) {
    prometheus::Counter* counter =
        &counters_.at("nomad_requests_total")->Add({{"op", key.first}, {"code", key.second}});
    c = requests_by_op_code_.emplace(std::move(key), counter).first;
  }
  c->second->Increment();
  auto h = request_seconds_by_op_.find(op);
  if (h == request_seconds_by_op_.end()) {
    prometheus::Histogram* histogram = &histograms_.at("nomad_request_duration_seconds")
                                            ->Add({{"op", std::string(op)}}, kRequestBuckets);
    h = request_seconds_by_op_.emplace(std::string(op), histogram).first;
  }
  h->second->Observe(base::ToSeconds(took));
}

void ControllerMetrics::SetLeader(bool leader) {
  std::lock_guard lock(mu_);
  if (leader_ == nullptr) leader_ = &gauges_.at("leader")->Add({});
  leader_->Set(leader ? 1 : 0);
  standby_ = !leader;
}

void ControllerMetrics::SetControllerInfo(const std::string& region,
                                          const std::string& leader_lock) {
  std::lock_guard lock(mu_);
  auto& family = *gauges_.at("controller_info");
  if (controller_info_ != nullptr) family.Remove(controller_info_);
  controller_info_ = &family.Add({{"region", region}, {"leader_lock", leader_lock}});
  controller_info_->Set(1);
}

void ControllerMetrics::SetNomadServerVersion(const std::string& version) {
  std::lock_guard lock(mu_);
  auto* family = gauges_.at("nomad_server_info");
  if (nomad_server_info_ != nullptr) family->Remove(nomad_server_info_);
  nomad_server_info_ = &family->Add({{"version", version}});
  nomad_server_info_->Set(1);
}

void ControllerMetrics::ObserveGitFetch(std::string_view result, const std::string& revision,
                                        bool success, double unix_seconds) {
  std::lock_guard lock(mu_);
  if (git_fetches_.empty()) {
    for (std::string_view r : metrics::kGitFetchResults) {
      git_fetches_.emplace(std::string(r),
                           &counters_.at("git_fetch_total")->Add({{"result", std::string(r)}}));
    }
    git_last_success_ = &gauges_.at("git_last_fetch_success_timestamp_seconds")->Add({});
  }
  auto it = git_fetches_.find(result);
  if (it != git_fetches_.end()) it->second->Increment();
  if (success) git_last_success_->Set(unix_seconds);
  if (revision.empty()) return;
  auto& family = *gauges_.at("git_revision_info");
  prometheus::Gauge* next = &family.Add({{"revision", revision}});
  if (git_revision_ != nullptr && git_revision_ != next) family.Remove(git_revision_);
  git_revision_ = next;
  git_revision_->Set(1);
}

std::string ControllerMetrics::Serialize() const {
  std::vector<prometheus::MetricFamily> families;
  {
    // Under mu_ so that a SetLeader(false) that returned is never followed by a scrape with
    // per-singleton series.
    std::lock_guard lock(mu_);
    families = registry_->Collect();
    if (standby_) {
      std::erase_if(families, [this](const prometheus::MetricFamily& f) {
        return per_singleton_families_.contains(f.name);
      });
    }
  }
  for (prometheus::MetricFamily& f : CollectProcessMetrics()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace nsg::io
