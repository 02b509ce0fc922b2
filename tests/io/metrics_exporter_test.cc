// ControllerMetrics: the text exposition a Prometheus scrape of /metrics gets (names from
// metrics/catalogue.h, labels, values), for the Nomad request metrics and the leader gauge in
// particular.
#include "controller/io/metrics_exporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "metrics/catalogue.h"

namespace nsg::io {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using std::chrono::milliseconds;

const char* TypeName(metrics::Type t) {
  switch (t) {
    case metrics::Type::kCounter: return "counter";
    case metrics::Type::kGauge: return "gauge";
    case metrics::Type::kHistogram: return "histogram";
  }
  return "?";
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
  m.SetObserved("prod/web", 1, true, true);
  m.ObserveFailover("prod/web", std::chrono::seconds(12));
  m.ObserveReconcile("done", milliseconds(4));
  m.AddEvent("Job");
  m.ObserveRequest("job.register", "200", milliseconds(7));
  m.SetLeader(true);
  m.SetNomadServerVersion("2.0.5");
  const std::string text = m.Serialize();
  for (const metrics::MetricDef& def : metrics::kCatalogue) {
    const std::string name = std::string(metrics::kPrefix) + std::string(def.name);
    SCOPED_TRACE(name);
    EXPECT_THAT(text, HasSubstr("# TYPE " + name + " " + TypeName(def.type) + "\n"));
    EXPECT_THAT(text, HasSubstr("\n" + name));  // at least one sample
  }
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

}  // namespace
}  // namespace nsg::io
