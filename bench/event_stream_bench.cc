// Event-stream read throughput: EventStreamReader end to end (line splitting in the reader
// thread, the bounded queue hand-off, DecodeFrame with simdjson, dedupe, delivery) over an
// in-memory transport that hands out the body in 64 KiB blocks, as a socket read would.
// Frames are Allocation events of about 2-3 KB (omit-empty allocation with two task states).
#include <benchmark/benchmark.h>

#include <atomic>
#include <stop_token>
#include <string>

#include "controller/nomad/codec.h"
#include "controller/nomad_client/event_stream.h"

namespace nsg::io {
namespace {

std::string AllocFrame(uint64_t index) {
  nomad::Allocation a;
  a.id = "5b6f2d0e-8c1a-4f7e-9d3b-" + std::to_string(100000000000 + index);
  a.eval_id = "e1c0a9b2-4d3f-4a5e-8b7c-6d5e4f3a2b1c";
  a.name = "billing.app[0]";
  a.namespace_ = "prod";
  a.node_id = "n-2f1e0d9c";
  a.node_name = "worker-17";
  a.job_id = "billing";
  a.task_group = "app";
  a.desired_status = "run";
  a.client_status = "running";
  a.client_description = "Tasks are running";
  for (const char* task : {"lock", "workload"}) {
    nomad::TaskState s;
    s.state = "running";
    s.started_at = 1767225600000000000;
    for (const char* type : {"Received", "Task Setup", "Started"}) {
      nomad::TaskEvent e;
      e.type = type;
      e.time = 1767225600000000000;
      e.display_message = std::string(type) + " by client";
      e.details = {{"message", "ok"}, {"exit_code", "0"}};
      s.events.push_back(e);
    }
    a.task_states[task] = s;
  }
  a.create_index = index;
  a.modify_index = index;
  a.alloc_modify_index = index;
  a.create_time = 1767225600000000000;
  a.modify_time = 1767225600000000000;
  nomad::Frame f;
  f.index = index;
  nomad::Event e;
  e.topic = "Allocation";
  e.type = "AllocationUpdated";
  e.key = a.id;
  e.namespace_ = "prod";
  e.filter_keys = {"billing", ""};
  e.index = index;
  e.allocation = a;
  f.events.push_back(e);
  return nomad::EncodeFrame(f);
}

class BlockTransport final : public Transport {
 public:
  explicit BlockTransport(const std::string& body) : body_(body) {}
  Result<HttpResponse> RoundTrip(const HttpRequest&, const CallOptions&) override {
    return Status::Internal("unused");
  }
  Status Stream(const HttpRequest&, const StreamOptions& o, StreamHandler& h) override {
    if (!h.OnHeaders(200, Headers())) return Status::Ok();
    constexpr size_t kBlock = 64 * 1024;
    for (size_t pos = 0; pos < body_.size(); pos += kBlock) {
      if (o.cancel.stop_requested()) return Status::Cancelled("stop");
      if (!h.OnData(std::string_view(body_).substr(pos, kBlock))) return Status::Ok();
    }
    return Status::Ok();
  }

 private:
  const std::string& body_;
};

class StopAtLast final : public EventConsumer {
 public:
  StopAtLast(uint64_t last, std::stop_source& stop) : last_(last), stop_(stop) {}
  void OnConnected() override {}
  void OnFrame(const nomad::Frame& f) override {
    events_ += f.events.size();
    if (f.index == last_) stop_.request_stop();
  }
  void OnGap(uint64_t, GapReason) override {}
  void OnDisconnected(const Status&) override {}
  uint64_t events_ = 0;

 private:
  uint64_t last_;
  std::stop_source& stop_;
};

class NoSleep final : public Sleeper {
 public:
  bool SleepFor(Duration, std::stop_token cancel) override { return !cancel.stop_requested(); }
};

void BM_EventStreamReader(benchmark::State& state) {
  const int frames = static_cast<int>(state.range(0));
  std::string body = "{}\n";
  for (int i = 1; i <= frames; ++i) {
    body += AllocFrame(static_cast<uint64_t>(i));
    if (i % 100 == 0) body += "{}\n";
  }
  BlockTransport transport(body);
  ClientConfig config;
  NoSleep sleeper;
  for (auto _ : state) {
    std::stop_source stop;
    StopAtLast consumer(static_cast<uint64_t>(frames), stop);
    EventStreamOptions options;
    options.topics = {{"Allocation", ""}};
    EventStreamReader reader(transport, config, sleeper, options, consumer);
    Status s = reader.Run(stop.get_token());
    benchmark::DoNotOptimize(s);
    if (consumer.events_ != static_cast<uint64_t>(frames)) state.SkipWithError("lost frames");
  }
  state.SetItemsProcessed(state.iterations() * frames);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
  state.counters["bytes_per_frame"] = static_cast<double>(body.size()) / frames;
}
BENCHMARK(BM_EventStreamReader)->Arg(5000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DecodeAllocFrame(benchmark::State& state) {
  std::string line = AllocFrame(42);
  for (auto _ : state) {
    auto f = nomad::DecodeFrame(line);
    benchmark::DoNotOptimize(f);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line.size()));
}
BENCHMARK(BM_DecodeAllocFrame);

}  // namespace
}  // namespace nsg::io
