#include "controller/nomad_client/event_stream.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/nomad/codec.h"
#include "tests/nomad_client/fake_transport.h"
#include "tests/nomad_client/test_http_server.h"
#include "tests/test_support/wait.h"
#include "controller/nomad_client/unix_socket_transport.h"

namespace nsg::io {
namespace {

using base::StatusCode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::FakeSleeper;
using test_support::WaitUntil;

// One scripted connection: the status, then steps run in order on the reader thread.
struct Step {
  enum Kind { kData, kBlockUntilCancelled, kWaitGate } kind = kData;
  std::string bytes;
  int gate = 0;
};
struct ScriptedConn {
  int status = 200;
  std::vector<Step> steps;
  Status end;  // returned after the last step
};

Step Data(std::string s) { return Step{Step::kData, std::move(s), 0}; }
Step Block() { return Step{Step::kBlockUntilCancelled, "", 0}; }

class ScriptedStreamTransport final : public Transport {
 public:
  void Add(ScriptedConn c) {
    std::lock_guard lock(mu_);
    script_.push_back(std::move(c));
  }
  void OpenGate(int n) {
    std::lock_guard lock(mu_);
    open_gates_.push_back(n);
    cv_.notify_all();
  }
  std::vector<HttpRequest> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int data_entered() const { return data_entered_.load(); }
  int data_returned() const { return data_returned_.load(); }

  Result<HttpResponse> RoundTrip(const HttpRequest&, const CallOptions&) override {
    return Status::Internal("not scripted");
  }

  Status Stream(const HttpRequest& request, const StreamOptions& options,
                StreamHandler& handler) override {
    ScriptedConn conn;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
      if (script_.empty()) {
        // Out of script: behave like a server that never answers.
        std::unique_lock ul(mu_, std::adopt_lock);
        cv_.wait(ul, options.cancel, [] { return false; });
        ul.release();
        return Status::Cancelled("cancelled");
      }
      conn = std::move(script_.front());
      script_.pop_front();
    }
    if (!handler.OnHeaders(conn.status, Headers())) return Status::Ok();
    for (const Step& s : conn.steps) {
      if (options.cancel.stop_requested()) return Status::Cancelled("cancelled");
      switch (s.kind) {
        case Step::kData: {
          ++data_entered_;
          bool more = handler.OnData(s.bytes);
          ++data_returned_;
          if (!more) return Status::Ok();
          break;
        }
        case Step::kBlockUntilCancelled: {
          std::unique_lock lock(mu_);
          cv_.wait(lock, options.cancel, [] { return false; });
          return Status::Cancelled("cancelled");
        }
        case Step::kWaitGate: {
          std::unique_lock lock(mu_);
          cv_.wait(lock, options.cancel, [&] {
            return std::find(open_gates_.begin(), open_gates_.end(), s.gate) != open_gates_.end();
          });
          break;
        }
      }
    }
    return conn.end;
  }

 private:
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<ScriptedConn> script_;
  std::vector<HttpRequest> requests_;
  std::vector<int> open_gates_;
  std::atomic<int> data_entered_{0};
  std::atomic<int> data_returned_{0};
};

// Records every callback as a line of text; optionally blocks in OnFrame.
class RecordingConsumer final : public EventConsumer {
 public:
  void OnConnected() override { Log("connected"); }
  void OnFrame(const nomad::Frame& f) override {
    Log("frame " + std::to_string(f.index));
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !hold_frames_; });
  }
  void OnGap(uint64_t resume, GapReason reason) override {
    Log("gap " + std::to_string(resume) + " " + GapReasonName(reason));
  }
  void OnDisconnected(const Status& why) override {
    std::lock_guard lock(mu_);
    disconnects_.push_back(why);
    log_.push_back(std::string("disconnected ") + std::string(base::StatusCodeName(why.code())));
  }
  void Hold(bool hold) {
    std::lock_guard lock(mu_);
    hold_frames_ = hold;
    cv_.notify_all();
  }
  std::vector<std::string> Log() {
    std::lock_guard lock(mu_);
    return log_;
  }
  std::vector<Status> Disconnects() {
    std::lock_guard lock(mu_);
    return disconnects_;
  }
  size_t Count(const std::string& prefix) {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& l : log_) n += l.rfind(prefix, 0) == 0;
    return n;
  }

 private:
  void Log(std::string s) {
    std::lock_guard lock(mu_);
    log_.push_back(std::move(s));
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_frames_ = false;
  std::vector<std::string> log_;
  std::vector<Status> disconnects_;
};

std::string FrameLine(uint64_t index) {
  nomad::Frame f;
  f.index = index;
  nomad::Event e;
  e.topic = "Job";
  e.type = "JobRegistered";
  e.key = "web";
  e.namespace_ = "default";
  e.index = index;
  nomad::Job job;
  job.id = "web";
  job.name = "web";
  e.job = job;
  f.events.push_back(e);
  return nomad::EncodeFrame(f);  // ends with '\n'
}

constexpr char kHeartbeat[] = "{}\n";

class EventStreamTest : public ::testing::Test {
 protected:
  EventStreamTest() {
    config_.token = "stream-token";
    options_.topics = {{"Job", "web"}, {"Allocation", ""}};
    options_.namespace_ = "*";
    options_.seed = 1;
    options_.liveness_timeout = std::chrono::seconds(30);
  }

  void Start() {
    reader_ = std::make_unique<EventStreamReader>(transport_, config_, sleeper_, options_,
                                                  consumer_);
    runner_ = std::jthread([this](std::stop_token st) { result_ = reader_->Run(st); });
  }
  Status Stop() {
    runner_.request_stop();
    runner_.join();
    return result_;
  }

  ClientConfig config_;
  EventStreamOptions options_;
  ScriptedStreamTransport transport_;
  FakeSleeper sleeper_;
  RecordingConsumer consumer_;
  std::unique_ptr<EventStreamReader> reader_;
  std::jthread runner_;
  Status result_;
};

TEST_F(EventStreamTest, RequestShape) {
  EventStreamReader r(transport_, config_, sleeper_, options_, consumer_);
  HttpRequest req = r.RequestFor(42);
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(RequestTarget(req),
            "/v1/event/stream?topic=Job%3Aweb&topic=Allocation&namespace=%2A&index=42");
  EXPECT_EQ(req.headers.Get("X-Nomad-Token"), "stream-token");
}

TEST_F(EventStreamTest, HeartbeatsSkippedAndLinesSplitAnywhere) {
  std::string f1 = FrameLine(5), f2 = FrameLine(6);
  std::string all = std::string(kHeartbeat) + f1 + kHeartbeat + f2;
  ScriptedConn c;
  // Every byte in its own read: lines and heartbeats split at every position.
  for (char ch : all) c.steps.push_back(Data(std::string(1, ch)));
  c.steps.push_back(Block());
  transport_.Add(c);
  Start();
  ASSERT_TRUE(WaitUntil([&] { return consumer_.Count("frame") == 2; }));
  EXPECT_EQ(Stop().code(), StatusCode::kCancelled);
  EXPECT_THAT(consumer_.Log(), ElementsAre("connected", "frame 5", "frame 6"));
  EXPECT_EQ(reader_->stats().heartbeats, 2u);
  EXPECT_EQ(reader_->last_index(), 6u);
}

TEST_F(EventStreamTest, DuplicatesAndOlderIndexesAreDropped) {
  ScriptedConn c;
  c.steps = {Data(FrameLine(5) + FrameLine(5) + FrameLine(4) + FrameLine(7)), Block()};
  transport_.Add(c);
  Start();
  ASSERT_TRUE(WaitUntil([&] { return consumer_.Count("frame") == 2; }));
  (void)Stop();
  EXPECT_THAT(consumer_.Log(), ElementsAre("connected", "frame 5", "frame 7"));
  EXPECT_EQ(reader_->stats().duplicates, 2u);
}

TEST_F(EventStreamTest, ReconnectResumesAtLastIndexPlusOneAndReportsAGap) {
  ScriptedConn first;
  first.steps = {Data(std::string(kHeartbeat) + FrameLine(10) + FrameLine(11))};
  first.end = Status::Ok();  // the server closed the stream
  ScriptedConn second;
  // The server replays the entry at the resume index's predecessor, then new ones.
  second.steps = {Data(std::string(kHeartbeat) + FrameLine(11) + FrameLine(15)), Block()};
  transport_.Add(first);
  transport_.Add(second);
  Start();
  ASSERT_TRUE(WaitUntil([&] { return consumer_.Count("frame") == 3; }));
  (void)Stop();
  EXPECT_THAT(consumer_.Log(),
              ElementsAre("connected", "frame 10", "frame 11", "disconnected UNAVAILABLE",
                          "connected", "gap 12 resumed", "frame 15"));
  auto reqs = transport_.Requests();
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_THAT(RequestTarget(reqs[0]), HasSubstr("index=0"));
  EXPECT_THAT(RequestTarget(reqs[1]), HasSubstr("index=12"));
  EXPECT_THAT(consumer_.Disconnects()[0].message(), HasSubstr("closed by the server"));
  EXPECT_EQ(reader_->stats().gaps, 1u);
}

TEST_F(EventStreamTest, StartIndexReportsAGapOnTheFirstConnection) {
  options_.start_index = 100;
  ScriptedConn c;
  c.steps = {Data(kHeartbeat), Block()};
  transport_.Add(c);
  Start();
  ASSERT_TRUE(WaitUntil([&] { return consumer_.Count("gap") == 1; }));
  (void)Stop();
  EXPECT_THAT(consumer_.Log(), ElementsAre("connected", "gap 100 resumed"));
  EXPECT_THAT(RequestTarget(transport_.Requests()[0]), HasSubstr("index=100"));
}

TEST_F(EventStreamTest, MissingHeartbeatsTriggerAReconnect) {
  options_.liveness_timeout = std::chrono::milliseconds(150);
  ScriptedConn silent;
  silent.steps = {Data(std::string(kHeartbeat) + FrameLine(3)), Block()};
  ScriptedConn next;
  next.steps = {Data(std::string(kHeartbeat) + FrameLine(4)), Block()};
  transport_.Add(silent);
  transport_.Add(next);
  options_.liveness_timeout = std::chrono::milliseconds(150);
  Start();
  ASSERT_TRUE(WaitUntil([&] { return consumer_.Count("frame") == 2; }));
  // Stop before the second connection's own liveness timeout can fire.
  (void)Stop();
  EXPECT_EQ(reader_->stats().liveness_timeouts, 1u);
  ASSERT_FALSE(consumer_.Disconnects().empty());
  EXPECT_EQ(consumer_.Disconnects()[0].code(), StatusCode::kUnavailable);
  EXPECT_THAT(consumer_.Disconnects()[0].message(), HasSubstr("heartbeats missing"));
  EXPECT_THAT(RequestTarget(transport_.Requests()[1]), HasSubstr("index=4"));
}

TEST_F(EventStreamTest, OkAfter200WithNoDataIsReportedAndBacksOffGrowing) {
  for (int i = 0; i < 3; ++i) transport_.Add(ScriptedConn{200, {}, Status::Ok()});
  options_.backoff = {std::chrono::seconds(1), std::chrono::seconds(100)};
  Start();
  ASSERT_TRUE(WaitUntil([&] { return consumer_.Count("disconnected") == 3; }));
  (void)Stop();
  auto d = consumer_.Disconnects();
  EXPECT_THAT(d[0].message(), HasSubstr("right after 200 with no data"));
  // No connection delivered a line, so the backoff ceiling keeps doubling: 1s, 2s, 4s.
  auto sleeps = sleeper_.Sleeps();
  ASSERT_GE(sleeps.size(), 3u);
  EXPECT_LE(sleeps[0], std::chrono::seconds(1));
  EXPECT_LE(sleeps[1], std::chrono::seconds(2));
  EXPECT_LE(sleeps[2], std::chrono::seconds(4));
}

TEST_F(EventStreamTest, ForbiddenIsRetriedBadRequestStops) {
  transport_.Add(ScriptedConn{403, {Data("Permission denied")}, Status::Ok()});
  transport_.Add(ScriptedConn{400, {Data("Invalid topic query")}, Status::Ok()});
  Start();
  runner_.join();
  EXPECT_EQ(result_.code(), StatusCode::kInvalidSpec);
  auto d = consumer_.Disconnects();
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(d[0].message(), HasSubstr("Permission denied"));
  EXPECT_EQ(d[1].code(), StatusCode::kInvalidSpec);
  EXPECT_EQ(consumer_.Count("connected"), 0u);
}

TEST_F(EventStreamTest, UndecodableLineEndsTheConnectionAndTheBackoffKeepsGrowing) {
  options_.backoff = {std::chrono::seconds(1), std::chrono::seconds(100)};
  ScriptedConn a;
  a.steps = {Data(FrameLine(5) + "{\"Index\": oops}\n" + FrameLine(6)), Block()};
  ScriptedConn b;  // healthy frames before the garbage do not reset the backoff
  b.steps = {Data(std::string(kHeartbeat) + FrameLine(6) + "garbage\n" + FrameLine(7)), Block()};
  ScriptedConn c;
  c.steps = {Data(std::string(kHeartbeat) + FrameLine(7)), Block()};
  transport_.Add(a);
  transport_.Add(b);
  transport_.Add(c);
  Start();
  ASSERT_TRUE(WaitUntil([&] { return consumer_.Count("frame") == 3; }));
  (void)Stop();
  // One gap (= one re-list) per connection, none per garbage line; frame 6 came only after the
  // resume.
  EXPECT_THAT(consumer_.Log(),
              ElementsAre("connected", "frame 5", "disconnected UNAVAILABLE", "connected",
                          "gap 6 resumed", "frame 6", "disconnected UNAVAILABLE", "connected",
                          "gap 7 resumed", "frame 7"));
  EXPECT_THAT(consumer_.Disconnects()[0].message(), HasSubstr("an undecodable line"));
  EXPECT_EQ(reader_->stats().decode_errors, 2u);
  auto reqs = transport_.Requests();
  ASSERT_GE(reqs.size(), 3u);
  EXPECT_THAT(RequestTarget(reqs[1]), HasSubstr("index=6"));
  EXPECT_THAT(RequestTarget(reqs[2]), HasSubstr("index=7"));
  // The waits are the same draws as a backoff that was never reset (ceilings 1s, then 2s).
  Backoff expected(options_.backoff, options_.seed);
  auto sleeps = sleeper_.Sleeps();
  ASSERT_GE(sleeps.size(), 2u);
  EXPECT_EQ(sleeps[0], expected.Next());
  EXPECT_EQ(sleeps[1], expected.Next());
}

TEST_F(EventStreamTest, HealthyConnectionResetsTheBackoff) {
  options_.backoff = {std::chrono::seconds(1), std::chrono::seconds(100)};
  for (int i = 0; i < 2; ++i) transport_.Add(ScriptedConn{200, {}, Status::Ok()});
  ScriptedConn healthy;
  healthy.steps = {Data(std::string(kHeartbeat) + FrameLine(3))};
  healthy.end = Status::Ok();
  transport_.Add(healthy);
  ScriptedConn last;
  last.steps = {Data(kHeartbeat), Block()};
  transport_.Add(last);
  Start();
  // Every scripted connection answers 200 (connected); the fourth comes after the reset.
  ASSERT_TRUE(WaitUntil([&] { return consumer_.Count("connected") == 4; }));
  (void)Stop();
  Backoff expected(options_.backoff, options_.seed);
  const Duration first = expected.Next(), second = expected.Next();
  expected.Reset();
  const Duration after_reset = expected.Next();
  auto sleeps = sleeper_.Sleeps();
  ASSERT_GE(sleeps.size(), 3u);
  EXPECT_EQ(sleeps[0], first);
  EXPECT_EQ(sleeps[1], second);
  EXPECT_EQ(sleeps[2], after_reset);
}

TEST_F(EventStreamTest, SlowConsumerBlocksTheReaderWithABoundedQueue) {
  options_.queue_capacity = 4;
  ScriptedConn c;
  const int kFrames = 200;
  for (int i = 1; i <= kFrames; ++i) c.steps.push_back(Data(FrameLine(i)));
  c.steps.push_back(Block());
  transport_.Add(c);
  consumer_.Hold(true);
  Start();
  // The consumer holds frame 1; the queue fills with 4 lines; the reader is stuck pushing the
  // 6th line and reads nothing more.
  ASSERT_TRUE(WaitUntil([&] { return transport_.data_entered() == 6; }));
  EXPECT_EQ(transport_.data_returned(), 5);
  consumer_.Hold(false);
  ASSERT_TRUE(WaitUntil([&] { return consumer_.Count("frame") == static_cast<size_t>(kFrames); }));
  (void)Stop();
  EXPECT_LE(reader_->stats().max_queue_depth, 4u);
  EXPECT_EQ(reader_->last_index(), static_cast<uint64_t>(kFrames));
}

TEST_F(EventStreamTest, StopWhileConnectingAndWhileStreaming) {
  Start();  // no script: the fake never answers
  ASSERT_TRUE(WaitUntil([&] { return transport_.Requests().size() == 1; }));
  EXPECT_EQ(Stop().code(), StatusCode::kCancelled);
  EXPECT_EQ(consumer_.Count("disconnected"), 0u);
}

// ---- End to end over a real socket: both framings ----

// An EventStreamReader for topic Job over AsioTransport to `server`, run on its own thread.
class ReaderOverSocket {
 public:
  ReaderOverSocket(const testing::TestHttpServer& server, EventStreamOptions opts) {
    cfg_.address = server.url();
    auto t = AsioTransport::Create(cfg_);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (t.ok()) transport_ = std::move(*t);
    opts.topics = {{"Job", ""}};
    reader_ = std::make_unique<EventStreamReader>(*transport_, cfg_, sleeper_, opts, consumer_);
    runner_ = std::jthread([this](std::stop_token st) { result_ = reader_->Run(st); });
  }
  Status Stop() {
    runner_.request_stop();
    runner_.join();
    return result_;
  }
  EventStreamReader& reader() { return *reader_; }
  RecordingConsumer& consumer() { return consumer_; }
  FakeSleeper& sleeper() { return sleeper_; }

 private:
  ClientConfig cfg_;
  std::unique_ptr<AsioTransport> transport_;
  FakeSleeper sleeper_;
  RecordingConsumer consumer_;
  std::unique_ptr<EventStreamReader> reader_;
  Status result_;
  std::jthread runner_;  // last: joined first
};

class EventStreamOverSocketTest : public ::testing::TestWithParam<bool> {};

TEST_P(EventStreamOverSocketTest, ChunkedAndCloseDelimited) {
  const bool chunked = GetParam();
  std::atomic<int> served{0};
  auto server = testing::TestHttpServer::StartTcp(
      [&](const testing::ServedRequest& req, testing::TestConn& conn) {
        int n = served++;
        std::string body = std::string(kHeartbeat) + FrameLine(n == 0 ? 7 : 9);
        if (chunked) {
          conn.Write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
          conn.Write(testing::Chunk(body.substr(0, 5)));
          conn.Write(testing::Chunk(body.substr(5)));
        } else {
          // Nomad ≥ 1.11.2: hijacked, no framing, Connection: close.
          conn.Write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n");
          conn.Write(body);
        }
        if (n == 0) {
          if (chunked) conn.Write(testing::Chunk(""));
          conn.Close();  // first stream ends; the reader resumes
        } else {
          conn.WaitPeerClosed(20000);
          conn.Close();
        }
        (void)req;
      });
  ASSERT_NE(server, nullptr);
  ReaderOverSocket stream(*server, {});
  ASSERT_TRUE(WaitUntil([&] { return stream.consumer().Count("frame") == 2; }));
  EXPECT_EQ(stream.Stop().code(), StatusCode::kCancelled);
  EXPECT_THAT(stream.consumer().Log(),
              ElementsAre("connected", "frame 7", "disconnected UNAVAILABLE", "connected",
                          "gap 8 resumed", "frame 9"));
  auto reqs = server->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_THAT(reqs[1].target, HasSubstr("index=8"));
}

// A hostile Nomad stand-in that answers every stream with a heartbeat and a flood of garbage:
// the reader ends each connection at the first bad line, so re-lists (gaps) are at most one per
// (backed-off) connection instead of one per line.
TEST(EventStreamHostileServerTest, GarbageLinesArePacedByTheBackoff) {
  constexpr int kGarbageLines = 500;
  auto server = testing::TestHttpServer::StartTcp(
      [&](const testing::ServedRequest&, testing::TestConn& conn) {
        std::string body = std::string(kHeartbeat) + FrameLine(7);
        for (int i = 0; i < kGarbageLines; ++i) body += "not json at all\n";
        conn.Write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close"
                   "\r\n\r\n");
        conn.Write(body);
        conn.Close();
      });
  ASSERT_NE(server, nullptr);
  EventStreamOptions opts;
  opts.backoff = {std::chrono::milliseconds(500), std::chrono::seconds(30)};
  opts.seed = 3;
  ReaderOverSocket stream(*server, opts);
  ASSERT_TRUE(WaitUntil([&] { return stream.reader().stats().connections >= 4; }));
  (void)stream.Stop();
  const auto stats = stream.reader().stats();
  EXPECT_LE(stats.decode_errors, stats.connections);
  EXPECT_LE(stream.consumer().Count("gap"), stats.connections);
  // No connection was healthy, so no wait was drawn under a reset ceiling.
  Backoff expected(opts.backoff, opts.seed);
  auto sleeps = stream.sleeper().Sleeps();
  ASSERT_GE(sleeps.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(sleeps[i], expected.Next()) << i;
}

INSTANTIATE_TEST_SUITE_P(Framing, EventStreamOverSocketTest, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "Chunked" : "CloseDelimited"; });

}  // namespace
}  // namespace nsg::io
