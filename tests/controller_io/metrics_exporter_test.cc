// ControllerMetrics: the text exposition a Prometheus scrape of /metrics gets (names from
// metrics/catalogue.h, labels, values): the Nomad request metrics, the leader gauge and what a
// standby replica leaves out, the reconcile results at 0, the info and condition gauges, the
// process metrics; and `promtool check metrics` on the scrape of a leader and of a standby.
#include "controller/controller_io/metrics_exporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "metrics/catalogue.h"
#include "tests/test_support/metrics_text.h"

namespace nsg::io {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::milliseconds;
using test_support::MetricValue;

const char* TypeName(metrics::Type t) {
  switch (t) {
    case metrics::Type::kCounter: return "counter";
    case metrics::Type::kGauge: return "gauge";
    case metrics::Type::kHistogram: return "histogram";
  }
  return "?";
}

// A leader's metrics with one singleton in every per-singleton family.
void FillOneSingleton(ControllerMetrics& m) {
  m.SetSpecValid("prod/web", true);
  m.SetInfo("prod/web", "service", "sidecar");
  m.SetObserved("prod/web", 1, true, true);
  m.SetConditions("prod/web", {{"Ready", true}, {"Degraded", false}});
  m.AddDuplicates("prod/web", 1);
  m.AddEnforcementStops("prod/web", 1);
  m.ObserveFailover("prod/web", std::chrono::seconds(12));
  m.ObserveReconcile("done", std::chrono::milliseconds(4));
  m.ObserveRequest("acl.policy.read", "acl_disabled", std::chrono::milliseconds(1));
  m.SetControllerInfo("global", "nomad-singleton/leader");
}

TEST(ControllerMetricsTest, NomadRequestFamiliesCountCallsByOpAndCode) {
  ControllerMetrics m("1.2.3", "abc");
  m.ObserveRequest("job.read", "200", milliseconds(3));
  m.ObserveRequest("job.read", "200", milliseconds(20));
  m.ObserveRequest("job.read", "404", milliseconds(2));
  m.ObserveRequest("alloc.stop", "error", milliseconds(1500));
  const std::string text = m.Serialize();

  const std::string req = "nomad_singleton_nomad_requests_total";
  const std::string dur = "nomad_singleton_nomad_request_duration_seconds";
  EXPECT_THAT(text, HasSubstr("# TYPE " + req + " counter\n"));
  EXPECT_THAT(text, HasSubstr(req + "{code=\"200\",op=\"job.read\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(req + "{code=\"404\",op=\"job.read\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(req + "{code=\"error\",op=\"alloc.stop\"} 1\n"));

  EXPECT_THAT(text, HasSubstr("# TYPE " + dur + " histogram\n"));
  // One histogram per op (not per code): 3 job.read calls, 2 of them within 5 ms.
  EXPECT_THAT(text, HasSubstr(dur + "_count{op=\"job.read\"} 3\n"));
  EXPECT_THAT(text, HasSubstr(dur + "_bucket{op=\"job.read\",le=\"0.005\"} 2\n"));
  EXPECT_THAT(text, HasSubstr(dur + "_bucket{op=\"job.read\",le=\"0.025\"} 3\n"));
  EXPECT_THAT(text, HasSubstr(dur + "_sum{op=\"alloc.stop\"} 1.5\n"));
}

TEST(ControllerMetricsTest, LeaderHasNoSeriesUntilSetThenZeroOrOne) {
  ControllerMetrics m("1.2.3", "abc");
  EXPECT_THAT(m.Serialize(), Not(HasSubstr("nomad_singleton_leader ")));
  m.SetLeader(true);
  EXPECT_THAT(m.Serialize(), HasSubstr("\nnomad_singleton_leader 1\n"));
  m.SetLeader(false);
  EXPECT_THAT(m.Serialize(), HasSubstr("\nnomad_singleton_leader 0\n"));
}

TEST(ControllerMetricsTest, SpecSourceUnreadablePathsStartsAtZeroAndFollowsTheLastRead) {
  ControllerMetrics m("1.2.3", "abc");
  EXPECT_THAT(m.Serialize(), HasSubstr("\nnomad_singleton_spec_source_unreadable_paths 0\n"));
  m.SetSpecSourceUnreadable(2);
  EXPECT_THAT(m.Serialize(), HasSubstr("\nnomad_singleton_spec_source_unreadable_paths 2\n"));
  m.SetSpecSourceUnreadable(0);
  EXPECT_THAT(m.Serialize(), HasSubstr("\nnomad_singleton_spec_source_unreadable_paths 0\n"));
}

TEST(ControllerMetricsTest, EveryCatalogueFamilyIsExposedWithItsType) {
  ControllerMetrics m("1.2.3", "abc");
  FillOneSingleton(m);
  m.AddEvent("Job");
  m.ObserveRequest("job.register", "200", milliseconds(7));
  m.SetLeader(true);
  m.SetNomadServerVersion("2.0.5");
  m.ObserveGitFetch("updated", "0123abcd", true, 1.7e9);
  const std::string text = m.Serialize();
  for (const metrics::MetricDef& def : metrics::kCatalogue) {
    const std::string name = std::string(metrics::kPrefix) + std::string(def.name);
    SCOPED_TRACE(name);
    EXPECT_THAT(text, HasSubstr("# TYPE " + name + " " + TypeName(def.type) + "\n"));
    EXPECT_THAT(text, HasSubstr("\n" + name));  // at least one sample
  }
}

TEST(ControllerMetricsTest, GitSeriesOnlyWithTheGitSourceAndTheRevisionFollows) {
  ControllerMetrics m("1.2.3", "abc");
  EXPECT_THAT(m.Serialize(), Not(HasSubstr("nomad_singleton_git_fetch_total{")));
  m.ObserveGitFetch("failed", "", false, 1.7e9);
  std::string text = m.Serialize();
  EXPECT_EQ(MetricValue(text, "nomad_singleton_git_fetch_total{result=\"failed\"}"), 1);
  for (const char* r : {"unchanged", "updated", "forced"}) {
    EXPECT_EQ(MetricValue(text, std::string("nomad_singleton_git_fetch_total{result=\"") + r +
                                    "\"}"),
              0)
        << r;
  }
  EXPECT_EQ(MetricValue(text, "nomad_singleton_git_last_fetch_success_timestamp_seconds"), 0);
  EXPECT_THAT(text, Not(HasSubstr("nomad_singleton_git_revision_info{")));
  m.ObserveGitFetch("updated", "c1", true, 1.7e9);
  m.ObserveGitFetch("forced", "c2", true, 1.8e9);
  text = m.Serialize();
  EXPECT_EQ(MetricValue(text, "nomad_singleton_git_revision_info{revision=\"c2\"}"), 1);
  EXPECT_THAT(text, Not(HasSubstr("revision=\"c1\"")));
  EXPECT_EQ(MetricValue(text, "nomad_singleton_git_last_fetch_success_timestamp_seconds"), 1.8e9);
}

TEST(ControllerMetricsTest, NomadServerInfoFollowsTheVersion) {
  ControllerMetrics m("1.2.3", "abc");
  EXPECT_THAT(m.Serialize(), Not(HasSubstr("nomad_singleton_nomad_server_info{")));
  m.SetNomadServerVersion("1.11.3");
  EXPECT_THAT(m.Serialize(), HasSubstr("nomad_singleton_nomad_server_info{version=\"1.11.3\"} 1\n"));
  m.SetNomadServerVersion("2.0.5");  // an upgrade seen on reconnect replaces the series
  const std::string text = m.Serialize();
  EXPECT_THAT(text, HasSubstr("nomad_singleton_nomad_server_info{version=\"2.0.5\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("version=\"1.11.3\"")));
}

TEST(ControllerMetricsTest, StandbyExportsNoPerSingletonSeriesAndTheLeaderAgainDoes) {
  ControllerMetrics m("1.2.3", "abc");
  m.SetLeader(true);
  FillOneSingleton(m);
  EXPECT_EQ(MetricValue(m.Serialize(), "nomad_singleton_up{singleton=\"prod/web\"}"), 1);

  m.SetLeader(false);
  m.SetObserved("prod/web", 0, false, false);  // a standby's own view: not the truth
  std::string text = m.Serialize();
  EXPECT_THAT(text, Not(HasSubstr("singleton=")));
  for (const metrics::MetricDef& def : metrics::kCatalogue) {
    const std::string name = std::string(metrics::kPrefix) + std::string(def.name);
    SCOPED_TRACE(name);
    if (metrics::PerSingleton(def)) {
      EXPECT_EQ(text.find("# TYPE " + name + " "), std::string::npos);
    }
  }
  EXPECT_EQ(MetricValue(text, "nomad_singleton_leader"), 0);
  EXPECT_EQ(MetricValue(text, "nomad_singleton_controller_info{"
                              "leader_lock=\"nomad-singleton/leader\",region=\"global\"}"),
            1);

  m.SetLeader(true);
  text = m.Serialize();
  EXPECT_EQ(MetricValue(text, "nomad_singleton_up{singleton=\"prod/web\"}"), 0);
  EXPECT_EQ(MetricValue(text, "nomad_singleton_duplicates_total{singleton=\"prod/web\"}"), 1);
}

TEST(ControllerMetricsTest, EveryReconcileResultStartsAtZero) {
  ControllerMetrics m("1.2.3", "abc");
  std::string text = m.Serialize();
  for (std::string_view result : metrics::kReconcileResults) {
    EXPECT_EQ(MetricValue(text, "nomad_singleton_reconcile_total{result=\"" + std::string(result) +
                               "\"}"),
              0)
        << result;
  }
  m.ObserveReconcile("retry", milliseconds(1));
  text = m.Serialize();
  EXPECT_EQ(MetricValue(text, "nomad_singleton_reconcile_total{result=\"retry\"}"), 1);
  EXPECT_EQ(MetricValue(text, "nomad_singleton_reconcile_total{result=\"done\"}"), 0);
}

TEST(ControllerMetricsTest, ProcessMetricsArePresentAndPlausible) {
  ControllerMetrics m("1.2.3", "abc");
  // Burn a little CPU so that the counter has something to count.
  volatile double x = 0;
  for (int i = 0; i < 5'000'000; ++i) x = x + i;
  const std::string text = m.Serialize();
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  const double now = static_cast<double>(std::time(nullptr));
  const auto start = MetricValue(text, "process_start_time_seconds");
  ASSERT_TRUE(start) << text;
  EXPECT_LE(*start, now + 1);
  EXPECT_GT(*start, now - 24 * 3600);  // this test process started within the day
  const auto cpu = MetricValue(text, "process_cpu_seconds_total");
  ASSERT_TRUE(cpu);
  EXPECT_GE(*cpu, 0);
  EXPECT_LT(*cpu, 24 * 3600);
  const auto rss = MetricValue(text, "process_resident_memory_bytes");
  const auto vsz = MetricValue(text, "process_virtual_memory_bytes");
  ASSERT_TRUE(rss && vsz);
  EXPECT_GT(*rss, 1 << 20);  // a C++ test binary is more than a MiB
  EXPECT_GE(*vsz, *rss);
  const auto open = MetricValue(text, "process_open_fds");
  const auto max = MetricValue(text, "process_max_fds");
  ASSERT_TRUE(open && max);
  EXPECT_GE(*open, 3);  // stdin, stdout, stderr
  EXPECT_LE(*open, *max);
  // One more open file shows.
  FILE* f = std::fopen("/proc/self/stat", "r");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(MetricValue(m.Serialize(), "process_open_fds"), *open + 1);
  std::fclose(f);
}

TEST(ControllerMetricsTest, ConditionGaugeFollowsAConditionChange) {
  ControllerMetrics m("1.2.3", "abc");
  const std::string ready = "nomad_singleton_condition{singleton=\"prod/web\",status=\"";
  m.SetConditions("prod/web", {{"Ready", false}, {"Degraded", std::nullopt}});
  std::string text = m.Serialize();
  EXPECT_EQ(MetricValue(text, ready + "true\",type=\"Ready\"}"), 0);
  EXPECT_EQ(MetricValue(text, ready + "false\",type=\"Ready\"}"), 1);
  EXPECT_EQ(MetricValue(text, ready + "unknown\",type=\"Ready\"}"), 0);
  EXPECT_EQ(MetricValue(text, ready + "unknown\",type=\"Degraded\"}"), 1);

  m.SetConditions("prod/web", {{"Ready", true}});
  text = m.Serialize();
  EXPECT_EQ(MetricValue(text, ready + "true\",type=\"Ready\"}"), 1);
  EXPECT_EQ(MetricValue(text, ready + "false\",type=\"Ready\"}"), 0);
  EXPECT_THAT(text, Not(HasSubstr("Degraded")));  // no longer reported: gone

  m.Forget("prod/web");
  EXPECT_THAT(m.Serialize(), Not(HasSubstr("prod/web")));
}

// The per-singleton series are written by hand (not by prometheus-cpp, whose series cost ~8 KB
// each singleton): the lines must be exactly those prometheus-cpp's TextSerializer writes for the
// same values, label values with a quote, a backslash and a newline included.
std::vector<std::string> SortedLines(const std::string& text, const std::string& keep_prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(keep_prefix) || line.starts_with("# HELP " + keep_prefix) ||
        line.starts_with("# TYPE " + keep_prefix)) {
      out.push_back(line);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ControllerMetricsTest, PerSingletonTextIsWhatPrometheusCppWrites) {
  const std::string odd = "prod/we\"b\\x\ny";
  ControllerMetrics m("1.2.3", "abc");
  m.SetSpecValid("prod/web", true);
  m.SetInfo("prod/web", "service", "sidecar");
  m.SetObserved("prod/web", 2, true, false);
  m.SetConditions("prod/web", {{"Ready", true}, {"Synced", false}, {"Degraded", std::nullopt}});
  m.AddDuplicates("prod/web", 3);
  m.AddEnforcementStops("prod/web", 1);
  m.ObserveFailover("prod/web", std::chrono::milliseconds(21'500));
  m.ObserveFailover("prod/web", std::chrono::seconds(5));  // on a bucket's bound: le="5"
  m.ObserveFailover("prod/web", std::chrono::seconds(400));  // beyond the last: +Inf only
  m.SetSpecValid(odd, false);
  m.SetInfo(odd, "unknown", "unknown");
  m.ObserveFailover(odd, std::chrono::milliseconds(1));
  m.SetObserved("prod/idle", 1, true, true);  // never failed over: the histogram at 0

  prometheus::Registry reg;
  auto help = [](std::string_view name) {
    for (const metrics::MetricDef& d : metrics::kCatalogue) {
      if (d.name == name) return std::string(d.help);
    }
    return std::string();
  };
  auto gauge = [&](const char* name) -> prometheus::Family<prometheus::Gauge>& {
    return prometheus::BuildGauge().Name(std::string("nomad_singleton_") + name).Help(help(name))
        .Register(reg);
  };
  auto counter = [&](const char* name) -> prometheus::Family<prometheus::Counter>& {
    return prometheus::BuildCounter().Name(std::string("nomad_singleton_") + name)
        .Help(help(name)).Register(reg);
  };
  auto& running = gauge("running_allocations");
  auto& lock_held = gauge("lock_held");
  auto& up = gauge("up");
  auto& valid = gauge("spec_valid");
  auto& info = gauge("info");
  auto& condition = gauge("condition");
  auto& duplicates = counter("duplicates_total");
  auto& stops = counter("enforcement_stops_total");
  auto& failovers = counter("failovers_total");
  auto& seconds = prometheus::BuildHistogram().Name("nomad_singleton_failover_duration_seconds")
                      .Help(help("failover_duration_seconds")).Register(reg);
  const prometheus::Histogram::BucketBoundaries buckets = {1, 2, 5, 10, 15, 20,
                                                           30, 45, 60, 90, 120, 300};
  running.Add({{"singleton", "prod/idle"}}).Set(1);
  lock_held.Add({{"singleton", "prod/idle"}}).Set(1);
  up.Add({{"singleton", "prod/idle"}}).Set(1);
  valid.Add({{"singleton", "prod/idle"}}).Set(0);
  duplicates.Add({{"singleton", "prod/idle"}});
  stops.Add({{"singleton", "prod/idle"}});
  failovers.Add({{"singleton", "prod/idle"}});
  seconds.Add({{"singleton", "prod/idle"}}, prometheus::Histogram::BucketBoundaries{
                                                1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300});
  for (const std::string& key : {std::string("prod/web"), odd}) {
    const bool web = key == "prod/web";
    running.Add({{"singleton", key}}).Set(web ? 2 : 0);
    lock_held.Add({{"singleton", key}}).Set(web ? 1 : 0);
    up.Add({{"singleton", key}}).Set(0);
    valid.Add({{"singleton", key}}).Set(web ? 1 : 0);
    duplicates.Add({{"singleton", key}}).Increment(web ? 3 : 0);
    stops.Add({{"singleton", key}}).Increment(web ? 1 : 0);
    failovers.Add({{"singleton", key}}).Increment(web ? 3 : 1);
    info.Add({{"singleton", key}, {"kind", web ? "service" : "unknown"},
              {"mode", web ? "sidecar" : "unknown"}}).Set(1);
    auto& h = seconds.Add({{"singleton", key}}, buckets);
    if (web) {
      for (double v : {21.5, 5.0, 400.0}) h.Observe(v);
    } else {
      h.Observe(0.001);
    }
  }
  const char* statuses[] = {"true", "false", "unknown"};
  const std::pair<const char*, int> web_conditions[] = {{"Ready", 0}, {"Synced", 1},
                                                        {"Degraded", 2}};
  for (const auto& [type, current] : web_conditions) {
    for (int i = 0; i < 3; ++i) {
      condition.Add({{"singleton", "prod/web"}, {"type", type}, {"status", statuses[i]}})
          .Set(i == current ? 1 : 0);
    }
  }
  const std::string expected = prometheus::TextSerializer().Serialize(reg.Collect());
  for (const metrics::MetricDef& def : metrics::kCatalogue) {
    if (!metrics::PerSingleton(def)) continue;
    // "nomad_singleton_up" would also keep lines of other families starting with "up": the
    // name with the character after it.
    const std::string name = std::string(metrics::kPrefix) + std::string(def.name);
    SCOPED_TRACE(name);
    for (const char* next : {"{", " ", "_bucket{", "_sum{", "_count{"}) {
      EXPECT_EQ(SortedLines(m.Serialize(), name + next), SortedLines(expected, name + next));
    }
  }
}

// A series that first appears at 1 is invisible to increase(): the failover histogram and the
// counters must be at 0 before the first failover.
TEST(ControllerMetricsTest, FailoverHistogramIsAtZeroBeforeTheFirstFailover) {
  ControllerMetrics m("1.2.3", "abc");
  const std::string h = "nomad_singleton_failover_duration_seconds";
  const std::string s = "{singleton=\"p/a\"";
  m.SetObserved("p/a", 1, true, true);
  std::string text = m.Serialize();
  EXPECT_EQ(MetricValue(text, "nomad_singleton_failovers_total" + s + "}"), 0);
  EXPECT_EQ(MetricValue(text, h + "_count" + s + "}"), 0);
  EXPECT_EQ(MetricValue(text, h + "_sum" + s + "}"), 0);
  EXPECT_EQ(MetricValue(text, h + "_bucket" + s + ",le=\"+Inf\"}"), 0);
  m.ObserveFailover("p/a", std::chrono::seconds(12));
  text = m.Serialize();
  EXPECT_EQ(MetricValue(text, h + "_count" + s + "}"), 1);
  EXPECT_EQ(MetricValue(text, h + "_bucket" + s + ",le=\"10\"}"), 0);
  EXPECT_EQ(MetricValue(text, h + "_bucket" + s + ",le=\"15\"}"), 1);
  EXPECT_EQ(MetricValue(text, h + "_bucket" + s + ",le=\"+Inf\"}"), 1);
  m.Forget("p/a");
  EXPECT_THAT(m.Serialize(), Not(HasSubstr("p/a")));
}

TEST(ControllerMetricsTest, InfoFollowsTheSpecsKind) {
  ControllerMetrics m("1.2.3", "abc");
  m.SetInfo("prod/job", "unknown", "unknown");
  m.SetInfo("prod/job", "periodic", "shim");
  const std::string text = m.Serialize();
  EXPECT_EQ(MetricValue(text, "nomad_singleton_info{kind=\"periodic\",mode=\"shim\","
                              "singleton=\"prod/job\"}"),
            1);
  EXPECT_THAT(text, Not(HasSubstr("kind=\"unknown\"")));
}

// `promtool check metrics` (the exposition format and Prometheus' naming lint) on the scrape of a
// leader and of a standby replica. Needs promtool (Debian's `prometheus`, installed by
// .ci/setup-deps.sh); skipped, and said so, without it.
TEST(ControllerMetricsTest, PromtoolAcceptsTheScrapeOfALeaderAndOfAStandby) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not found (apt-get install prometheus): scrape not linted";
  }
  const auto dir = std::filesystem::temp_directory_path();
  for (bool leader : {true, false}) {
    SCOPED_TRACE(leader ? "leader" : "standby");
    ControllerMetrics m("1.2.3", "abc");
    m.SetLeader(true);
    FillOneSingleton(m);
    m.SetLeader(leader);
    const auto scrape = dir / ("nsg-scrape-" + std::to_string(getpid()) + ".txt");
    const auto out = dir / ("nsg-promtool-" + std::to_string(getpid()) + ".txt");
    std::ofstream(scrape) << m.Serialize();
    const int rc = std::system(("promtool check metrics < " + scrape.string() + " > " +
                                out.string() + " 2>&1")
                                   .c_str());
    std::stringstream said;
    said << std::ifstream(out).rdbuf();
    EXPECT_EQ(rc, 0) << said.str();
    std::filesystem::remove(scrape);
    std::filesystem::remove(out);
  }
}

}  // namespace
}  // namespace nsg::io
