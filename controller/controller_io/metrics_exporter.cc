#include "controller/controller_io/metrics_exporter.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "controller/controller_io/process_metrics.h"
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
    if (metrics::PerSingleton(def)) continue;  // AppendPerSingleton writes them
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
  return singletons_[key];
}

void ControllerMetrics::SetSpecValid(const std::string& key, bool valid) {
  std::lock_guard lock(mu_);
  SeriesLocked(key).spec_valid = valid;
}

void ControllerMetrics::SetObserved(const std::string& key, int running_allocations,
                                    bool lock_held, bool up) {
  std::lock_guard lock(mu_);
  Singleton& s = SeriesLocked(key);
  s.running = running_allocations;
  s.lock_held = lock_held;
  s.up = up;
}

void ControllerMetrics::AddDuplicates(const std::string& key, int n) {
  if (n <= 0) return;
  std::lock_guard lock(mu_);
  SeriesLocked(key).duplicates += n;
}

void ControllerMetrics::AddEnforcementStops(const std::string& key, int n) {
  if (n <= 0) return;
  std::lock_guard lock(mu_);
  SeriesLocked(key).stops += n;
}

void ControllerMetrics::ObserveFailover(const std::string& key, base::Duration took) {
  std::lock_guard lock(mu_);
  Singleton& s = SeriesLocked(key);
  s.failovers += 1;
  const double seconds = base::ToSeconds(took);
  if (s.failover_buckets.empty()) s.failover_buckets.assign(kFailoverBuckets.size() + 1, 0);
  const auto bound = std::lower_bound(kFailoverBuckets.begin(), kFailoverBuckets.end(), seconds);
  ++s.failover_buckets[static_cast<size_t>(bound - kFailoverBuckets.begin())];
  s.failover_sum += seconds;
  ++s.failover_count;
}

void ControllerMetrics::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  singletons_.erase(key);
}

void ControllerMetrics::SetInfo(const std::string& key, const std::string& kind,
                                const std::string& mode) {
  std::lock_guard lock(mu_);
  Singleton& s = SeriesLocked(key);
  s.kind = kind;
  s.mode = mode;
}

void ControllerMetrics::SetConditions(const std::string& key,
                                      const std::vector<ConditionSample>& conditions) {
  std::lock_guard lock(mu_);
  Singleton& s = SeriesLocked(key);
  s.conditions.clear();
  for (const ConditionSample& c : conditions) {
    s.conditions.emplace_back(c.type, !c.status ? 2 : *c.status ? 0 : 1);
  }
}

namespace {

// The text exposition format's pieces, as prometheus-cpp's TextSerializer writes them (values
// with 16 significant digits, labels sorted by name, le last).
void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "Nan";
  } else if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 16);
    out.append(buf, r.ptr);
  }
}

void AppendEscaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void AppendLabel(std::string& out, const char* name, std::string_view value) {
  out += name;
  out += "=\"";
  AppendEscaped(out, value, true);
  out += '"';
}

// `name{singleton="key"[,extra]} value\n`.
void AppendSample(std::string& out, std::string_view name, const std::string& key, double v,
                  const char* extra_name = nullptr, std::string_view extra_value = {}) {
  out += name;
  out += '{';
  AppendLabel(out, "singleton", key);
  if (extra_name != nullptr) {
    out += ',';
    AppendLabel(out, extra_name, extra_value);
  }
  out += "} ";
  AppendValue(out, v);
  out += '\n';
}

}  // namespace

void ControllerMetrics::AppendPerSingleton(std::string& out) const {
  for (const metrics::MetricDef& def : metrics::kCatalogue) {
    if (!metrics::PerSingleton(def)) continue;
    const std::string name = std::string(metrics::kPrefix) + std::string(def.name);
    const bool histogram = def.type == metrics::Type::kHistogram;
    const std::string count_name = name + "_count", sum_name = name + "_sum",
                      bucket_name = name + "_bucket", open = name + "{";
    bool any = false;
    for (const auto& [key, s] : singletons_) {
      const bool has = def.name == "info"                        ? !s.kind.empty()
                       : def.name == "condition"                 ? !s.conditions.empty()
                                                                 : true;
      if (!has) continue;
      if (!any) {
        out += "# HELP " + name + " ";
        AppendEscaped(out, def.help, false);
        out += "\n# TYPE " + name + " ";
        out += def.type == metrics::Type::kCounter ? "counter" : histogram ? "histogram" : "gauge";
        out += '\n';
        any = true;
      }
      if (def.name == "running_allocations") {
        AppendSample(out, name, key, s.running);
      } else if (def.name == "lock_held") {
        AppendSample(out, name, key, s.lock_held ? 1 : 0);
      } else if (def.name == "up") {
        AppendSample(out, name, key, s.up ? 1 : 0);
      } else if (def.name == "spec_valid") {
        AppendSample(out, name, key, s.spec_valid ? 1 : 0);
      } else if (def.name == "duplicates_total") {
        AppendSample(out, name, key, s.duplicates);
      } else if (def.name == "enforcement_stops_total") {
        AppendSample(out, name, key, s.stops);
      } else if (def.name == "failovers_total") {
        AppendSample(out, name, key, s.failovers);
      } else if (histogram) {
        AppendSample(out, count_name, key, static_cast<double>(s.failover_count));
        AppendSample(out, sum_name, key, s.failover_sum);
        // At 0 from the start, so that increase() sees the first failover too.
        uint64_t cumulative = 0;
        std::string le;
        for (size_t i = 0; i <= kFailoverBuckets.size(); ++i) {
          if (!s.failover_buckets.empty()) cumulative += s.failover_buckets[i];
          le.clear();
          if (i < kFailoverBuckets.size()) {
            AppendValue(le, kFailoverBuckets[i]);
          } else {
            le = "+Inf";
          }
          AppendSample(out, bucket_name, key, static_cast<double>(cumulative), "le", le);
        }
      } else if (def.name == "info") {
        out += open;
        AppendLabel(out, "kind", s.kind);
        out += ',';
        AppendLabel(out, "mode", s.mode);
        out += ',';
        AppendLabel(out, "singleton", key);
        out += "} 1\n";
      } else if (def.name == "condition") {
        for (const auto& [type, status] : s.conditions) {
          for (uint8_t i = 0; i < kConditionStatuses.size(); ++i) {
            out += open;
            AppendLabel(out, "singleton", key);
            out += ',';
            AppendLabel(out, "status", kConditionStatuses[i]);
            out += ',';
            AppendLabel(out, "type", type);
            out += i == status ? "} 1\n" : "} 0\n";
          }
        }
      }
    }
  }
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
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& f : CollectProcessMetrics()) families.push_back(std::move(f));
  std::string out = prometheus::TextSerializer().Serialize(families);
  // Under mu_: a SetLeader(false) that returned is never followed by a scrape with
  // per-singleton series.
  std::lock_guard lock(mu_);
  if (!standby_) AppendPerSingleton(out);
  return out;
}

}  // namespace nsg::io
