#include "controller/io/metrics_exporter.h"

#include <prometheus/text_serializer.h>

#include <vector>

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

}  // namespace

ControllerMetrics::ControllerMetrics(const std::string& version, const std::string& revision)
    : registry_(std::make_shared<prometheus::Registry>()) {
  for (const metrics::MetricDef& def : metrics::kCatalogue) {
    const std::string name = std::string(metrics::kPrefix) + std::string(def.name);
    const std::string help(def.help);
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
  singletons_.erase(it);
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
}

void ControllerMetrics::SetNomadServerVersion(const std::string& version) {
  std::lock_guard lock(mu_);
  auto* family = gauges_.at("nomad_server_info");
  if (nomad_server_info_ != nullptr) family->Remove(nomad_server_info_);
  nomad_server_info_ = &family->Add({{"version", version}});
  nomad_server_info_->Set(1);
}

std::string ControllerMetrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace nsg::io
