// Tests for the event stream in controller/sim/router.{h,cc}: framing, start-index rules, topic and
// namespace filters, ACLs (nomad-api.md §4), and what each version profile streams. All under
// virtual time: nothing sleeps.
#include "controller/sim/router.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "controller/nomad/api_codec.h"
#include "tests/sim/conformance_testutil.h"

namespace nsg::sim {
namespace {

using nlohmann::json;
using testing::MakeRequest;
using testing::RecordingSink;
using testing::RouterFixture;
using namespace std::chrono_literals;

// ---- event stream (§4) ----------------------------------------------------------------------

class StreamTest : public RouterFixture {
 protected:
  explicit StreamTest(AclState::Options acl = {}) : RouterFixture(std::move(acl)) {}
  // Publishes a Variable event for `path` at `index` straight into the broker.
  void PublishAt(uint64_t index, const std::string& path, const std::string& ns = "default") {
    nomad::Event ev;
    ev.topic = "Variable";
    ev.type = "VariableUpdated";
    ev.key = path;
    ev.namespace_ = ns;
    nomad::Variable v;
    v.namespace_ = ns;
    v.path = path;
    ev.variable = v;
    core_.Events().Publish(index, {ev});
  }
  std::shared_ptr<RecordingSink> Open(const std::string& line, const std::string& token = "",
                                      StreamFraming framing = StreamFraming::kCloseDelimited,
                                      uint64_t* id = nullptr) {
    auto sink = std::make_shared<RecordingSink>();
    uint64_t sid = router_.SubmitStream(MakeRequest(line, "", token), sink, framing);
    if (id != nullptr) *id = sid;
    return sink;
  }
  static std::vector<uint64_t> FrameIndexes(const RecordingSink& s) {
    std::vector<uint64_t> out;
    for (const std::string& l : s.lines_) {
      json j = json::parse(l);
      if (j.contains("Index")) out.push_back(j["Index"].get<uint64_t>());
    }
    return out;
  }
};

TEST_F(StreamTest, CloseDelimitedHeadAndHeartbeats) {
  auto s = Open("GET /v1/event/stream?topic=Variable");
  ASSERT_TRUE(s->head_.has_value());
  EXPECT_EQ(s->head_->status, 200);
  EXPECT_EQ(s->head_->content_type, "application/json");
  EXPECT_EQ(s->head_->HeaderValue("Cache-Control"), "no-cache");
  EXPECT_EQ(s->head_->HeaderValue("Connection"), "close");
  ASSERT_EQ(s->lines_.size(), 1u);
  EXPECT_EQ(s->lines_[0], "{}\n");  // at once
  core_.AdvanceBy(30s - 1ns);
  EXPECT_EQ(s->lines_.size(), 1u);
  core_.AdvanceBy(1ns);
  EXPECT_EQ(s->lines_.size(), 2u);
  core_.AdvanceBy(30s);
  EXPECT_EQ(s->lines_.size(), 3u);
  EXPECT_EQ(s->lines_[2], "{}\n");
}

TEST_F(StreamTest, StreamsAreCountedAndCloseStreamsEndsThemAll) {
  auto a = Open("GET /v1/event/stream?topic=Variable");
  auto b = Open("GET /v1/event/stream?topic=Variable", "", StreamFraming::kChunked);
  EXPECT_EQ(router_.RequestCounts().at("GET /v1/event/stream"), 2u);
  EXPECT_EQ(router_.OpenStreams(), 2u);
  const json closed = json::parse(Do("POST /v1/sim/streams/close").body);
  EXPECT_EQ(closed["Closed"], 2);
  EXPECT_TRUE(a->closed_);
  EXPECT_TRUE(b->closed_);
  EXPECT_EQ(router_.OpenStreams(), 0u);
  // Nothing more reaches a closed stream; a new one works.
  const size_t lines = a->lines_.size();
  PublishAt(core_.NextIndex(), "x");
  EXPECT_EQ(a->lines_.size(), lines);
  auto c = Open("GET /v1/event/stream?topic=Variable");
  EXPECT_FALSE(c->closed_);
  EXPECT_EQ(router_.OpenStreams(), 1u);
  EXPECT_EQ(router_.CloseStreams(), 1u);
  EXPECT_EQ(Do("GET /v1/sim/streams/close").status, 405);
}

TEST_F(StreamTest, ChunkedHeadHasNoConnectionClose) {
  auto s = Open("GET /v1/event/stream?topic=Variable", "", StreamFraming::kChunked);
  ASSERT_TRUE(s->head_.has_value());
  EXPECT_FALSE(s->head_->HasHeader("Connection"));
}

TEST_F(StreamTest, IndexZeroReplaysTheWholeBuffer) {
  PublishAt(10, "a");
  PublishAt(20, "b");
  auto s = Open("GET /v1/event/stream?topic=Variable&index=0");
  EXPECT_EQ(FrameIndexes(*s), (std::vector<uint64_t>{10, 20}));
}

TEST_F(StreamTest, IndexInBufferIsInclusive) {
  PublishAt(10, "a");
  PublishAt(20, "b");
  PublishAt(30, "c");
  auto s = Open("GET /v1/event/stream?topic=Variable&index=20");
  EXPECT_EQ(FrameIndexes(*s), (std::vector<uint64_t>{20, 30}));
}

TEST_F(StreamTest, IndexBetweenEntriesStartsAtTheNextLarger) {
  PublishAt(10, "a");
  PublishAt(20, "b");
  PublishAt(30, "c");
  auto s = Open("GET /v1/event/stream?topic=Variable&index=21");
  EXPECT_EQ(FrameIndexes(*s), (std::vector<uint64_t>{30}));
}

TEST_F(StreamTest, IndexOlderThanBufferStartsAtOldestSilently) {
  SimCore::Options o;
  o.event_buffer_size = 2;
  SimCore core(o);
  AclState acl(core, {});
  Variables vars(core, acl, {});
  Router router(core, acl, vars, nullptr);
  for (uint64_t i : {10, 20, 30}) {
    nomad::Event ev;
    ev.topic = "Variable";
    ev.key = "k";
    ev.namespace_ = "default";
    ev.variable = nomad::Variable{};
    core.Events().Publish(i, {ev});
  }
  auto sink = std::make_shared<RecordingSink>();
  router.SubmitStream(MakeRequest("GET /v1/event/stream?topic=Variable&index=5"), sink,
                      StreamFraming::kCloseDelimited);
  EXPECT_EQ(FrameIndexes(*sink), (std::vector<uint64_t>{20, 30}));
}

TEST_F(StreamTest, IndexBeyondNewestReplaysNewestEntry) {
  PublishAt(10, "a");
  PublishAt(20, "b");
  auto s = Open("GET /v1/event/stream?topic=Variable&index=99");
  EXPECT_EQ(FrameIndexes(*s), (std::vector<uint64_t>{20}));
}

TEST_F(StreamTest, LiveEventsFollowTheBacklog) {
  auto s = Open("GET /v1/event/stream?topic=Variable");
  Do("PUT /v1/var/x", R"({"Items":{"k":"v"}})");
  ASSERT_EQ(s->lines_.size(), 2u);
  json f = json::parse(s->lines_[1]);
  EXPECT_EQ(f["Index"], core_.Index());
  EXPECT_EQ(f["Events"][0]["Topic"], "Variable");
  EXPECT_EQ(f["Events"][0]["Type"], "VariableUpdated");
  EXPECT_EQ(f["Events"][0]["Key"], "x");
  EXPECT_EQ(f["Events"][0]["Payload"]["Metadata"]["Path"], "x");
  EXPECT_EQ(f["Events"][0]["Payload"]["Deleted"], false);
}

TEST_F(StreamTest, TopicFilterKeyMatchesKey) {
  auto s = Open("GET /v1/event/stream?topic=Variable:b");
  PublishAt(10, "a");
  PublishAt(20, "b");
  EXPECT_EQ(FrameIndexes(*s), (std::vector<uint64_t>{20}));
}

TEST_F(StreamTest, NamespaceFilter) {
  auto s = Open("GET /v1/event/stream?topic=Variable&namespace=prod");
  PublishAt(10, "a", "default");
  PublishAt(20, "a", "prod");
  EXPECT_EQ(FrameIndexes(*s), (std::vector<uint64_t>{20}));
}

TEST_F(StreamTest, BadTopicIs400EvenWhenCloseDelimited) {
  auto s = Open("GET /v1/event/stream?topic=a:b:c");
  ASSERT_TRUE(s->reply_.has_value());
  EXPECT_FALSE(s->head_.has_value());
  EXPECT_EQ(s->reply_->status, 400);
  EXPECT_EQ(s->reply_->body,
            "Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: "
            "a:b:c");
}

TEST_F(StreamTest, BadIndexIs400) {
  auto s = Open("GET /v1/event/stream?index=x");
  ASSERT_TRUE(s->reply_.has_value());
  EXPECT_EQ(s->reply_->status, 400);
  EXPECT_EQ(s->reply_->body, "Unable to parse index: strconv.Atoi: parsing \"x\": invalid syntax");
}

TEST_F(StreamTest, WrongMethodIs405) {
  auto s = Open("POST /v1/event/stream");
  ASSERT_TRUE(s->reply_.has_value());
  EXPECT_EQ(s->reply_->status, 405);
}

TEST_F(StreamTest, CancelStopsProducing) {
  uint64_t id = 0;
  auto s = Open("GET /v1/event/stream?topic=Variable", "", StreamFraming::kCloseDelimited, &id);
  ASSERT_NE(id, 0u);
  router_.CancelStream(id);
  PublishAt(100, "a");
  core_.AdvanceBy(1min);
  EXPECT_EQ(s->lines_.size(), 1u);
  EXPECT_FALSE(s->closed_);
  EXPECT_EQ(router_.OpenStreams(), 0u);
}

TEST_F(StreamTest, ShutdownClosesStreams) {
  auto s = Open("GET /v1/event/stream?topic=Variable");
  router_.Shutdown();
  EXPECT_TRUE(s->closed_);
}

class StreamAclTest : public StreamTest {
 protected:
  StreamAclTest() : StreamTest(AclState::Options{true, "mgmt"}) {
    nomad::AclPolicy p;
    p.name = "reader";
    p.rules = R"(namespace "default" {
      capabilities = ["list-jobs", "read-job"]
      variables { path "visible/*" { capabilities = ["list"] } }
    })";
    EXPECT_TRUE(acl_.UpsertPolicy(p).ok());
    reader_ = acl_.CreateClientToken({"reader"});
  }
  std::string reader_;
};

TEST_F(StreamAclTest, CloseDelimitedDenialIs200ThenEof) {
  auto s = Open("GET /v1/event/stream?topic=Variable");  // no token
  ASSERT_TRUE(s->head_.has_value());
  EXPECT_EQ(s->head_->status, 200);
  EXPECT_TRUE(s->closed_);
  EXPECT_TRUE(s->lines_.empty());
  EXPECT_FALSE(s->reply_.has_value());
}

TEST_F(StreamAclTest, ChunkedDenialIsA403) {
  auto s = Open("GET /v1/event/stream?topic=Variable", "", StreamFraming::kChunked);
  ASSERT_TRUE(s->reply_.has_value());
  EXPECT_EQ(s->reply_->status, 403);
  EXPECT_EQ(s->reply_->body, "Permission denied");
  EXPECT_FALSE(s->head_.has_value());
}

TEST_F(StreamAclTest, AllTopicsNeedManagement) {
  auto denied = Open("GET /v1/event/stream", reader_);
  EXPECT_TRUE(denied->closed_);
  auto unknown = Open("GET /v1/event/stream?topic=Bogus", reader_);
  EXPECT_TRUE(unknown->closed_);
  auto job = Open("GET /v1/event/stream?topic=Job", reader_);
  EXPECT_FALSE(job->closed_);
  auto mgmt = Open("GET /v1/event/stream", "mgmt");
  EXPECT_FALSE(mgmt->closed_);
}

TEST_F(StreamAclTest, WildcardNamespaceNeedsEveryNamespace) {
  ASSERT_EQ(Do("PUT /v1/var/x?namespace=other", R"({"Items":{"k":"v"}})", "mgmt").status, 200);
  auto s = Open("GET /v1/event/stream?topic=Job&namespace=*", reader_);
  EXPECT_TRUE(s->closed_);
  auto own = Open("GET /v1/event/stream?topic=Job&namespace=default", reader_);
  EXPECT_FALSE(own->closed_);
}

TEST_F(StreamAclTest, VariableEventsAreFilteredByListOnTheirPath) {
  auto s = Open("GET /v1/event/stream?topic=Variable", reader_);
  ASSERT_FALSE(s->closed_);
  PublishAt(10, "hidden/a");
  PublishAt(20, "visible/a");
  EXPECT_EQ(FrameIndexes(*s), (std::vector<uint64_t>{20}));
}

TEST_F(StreamAclTest, RevokedWorkloadTokenEndsTheStream) {
  nomad::AclPolicy p;
  p.name = "wl";
  p.rules = R"(namespace "default" { variables { path "*" { capabilities = ["list"] } } })";
  p.job_acl = nomad::JobAcl{"default", "j", "", ""};
  ASSERT_TRUE(acl_.UpsertPolicy(p).ok());
  std::string wi = acl_.IssueWorkloadToken("default", "j", "g", "t", "alloc-1");
  auto s = Open("GET /v1/event/stream?topic=Variable", wi);
  ASSERT_FALSE(s->closed_);
  acl_.RevokeAllocTokens("alloc-1");
  PublishAt(core_.Index() + 5, "a");
  EXPECT_TRUE(s->closed_);
  EXPECT_EQ(router_.OpenStreams(), 0u);
}

// ---- job, allocation and node routes over the cluster model (§5–§7) -------------------------

// ---- version profiles (SimCore::Options::version) ------------------------------------------

// nomad/structs/event.go has TopicVariable from v2.0.0 only; before, a variable write emits no
// event and "Variable" is an unknown topic (management only, never matches).
class StreamVersionTest : public RouterFixture {
 protected:
  explicit StreamVersionTest(const char* version)
      : RouterFixture(AclState::Options{true, "mgmt"}, {},
                      nomad::NomadVersion::Parse(version).value()) {
    nomad::AclPolicy p;
    p.name = "vars";
    p.rules = R"(namespace "default" {
      variables { path "*" { capabilities = ["list"] } }
    })";
    EXPECT_TRUE(acl_.UpsertPolicy(p).ok());
    lister_ = acl_.CreateClientToken({"vars"});
  }
  size_t FramesAfterAWrite(const std::string& token) {
    auto sink = std::make_shared<RecordingSink>();
    router_.SubmitStream(MakeRequest("GET /v1/event/stream?topic=Variable", "", token), sink,
                         StreamFraming::kCloseDelimited);
    EXPECT_FALSE(sink->closed_);
    const uint64_t before = core_.Index();  // index=0 replays the buffer: count only the new
    EXPECT_EQ(Do("PUT /v1/var/a" + std::to_string(++writes_), R"({"Items":{"k":"v"}})", "mgmt")
                  .status,
              200);
    Settle();
    size_t frames = 0;
    for (const auto& l : sink->lines_) {
      const json j = json::parse(l);
      frames += j.contains("Index") && j["Index"].get<uint64_t>() > before;
    }
    return frames;
  }
  std::string lister_;
  int writes_ = 0;
};
class StreamOn1_11 : public StreamVersionTest {
 protected:
  StreamOn1_11() : StreamVersionTest("1.11.3") {}
};
class StreamOn2_0 : public StreamVersionTest {
 protected:
  StreamOn2_0() : StreamVersionTest("2.0.0") {}
};

TEST_F(StreamOn2_0, VariableWritesAreEvents) {
  EXPECT_EQ(FramesAfterAWrite("mgmt"), 1u);
  EXPECT_EQ(FramesAfterAWrite(lister_), 1u);
}

TEST_F(StreamOn1_11, NoVariableTopicBefore2_0) {
  EXPECT_EQ(FramesAfterAWrite("mgmt"), 0u);  // accepted, never matches
  auto denied = std::make_shared<RecordingSink>();
  router_.SubmitStream(MakeRequest("GET /v1/event/stream?topic=Variable", "", lister_), denied,
                       StreamFraming::kCloseDelimited);
  EXPECT_TRUE(denied->closed_);  // an unknown topic needs a management token
}

TEST_F(StreamOn1_11, AgentSelfReportsTheVersionToManagementOnly) {
  Reply r = Do("GET /v1/agent/self", "", "mgmt");
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = nomad::DecodeAgentSelfVersion(r.body);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v.value(), "1.11.3");
  EXPECT_EQ(json::parse(r.body)["config"]["Version"]["Version"], "1.11.3");
  EXPECT_EQ(Do("GET /v1/agent/self", "", lister_).status, 403);
  EXPECT_EQ(Do("PUT /v1/agent/self", "", "mgmt").status, 405);
}

TEST_F(StreamOn1_11, NamespacesAreListedOnceSomethingLivesThere) {
  auto names = [&] {
    Reply r = Do("GET /v1/namespaces", "", "mgmt");
    EXPECT_EQ(r.status, 200) << r.body;
    return nomad::DecodeNamespaceNames(r.body).value();
  };
  EXPECT_EQ(names(), (std::vector<std::string>{"default"}));
  ASSERT_EQ(Do("PUT /v1/var/x?namespace=later", R"({"Items":{"k":"v"}})", "mgmt").status, 200);
  EXPECT_EQ(names(), (std::vector<std::string>{"default", "later"}));
}

}  // namespace
}  // namespace nsg::sim
