// Test doubles for the Nomad client: a scripted Transport and a Sleeper that never sleeps.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "controller/base/clock.h"
#include "controller/nomad_client/retry.h"
#include "controller/nomad_client/transport.h"

namespace nsg::io::testing {

// RoundTrip answers from a queue of scripted results (200 "{}" when it is empty) and records
// every request with its options. Stream is not scripted here (see event_stream_test.cc).
class FakeTransport final : public Transport {
 public:
  void Push(Result<HttpResponse> r) { script_.push_back(std::move(r)); }
  void PushResponse(int status, std::string body,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    for (auto& [k, v] : headers) r.headers.Add(k, v);
    script_.push_back(std::move(r));
  }
  void PushError(Status s) { script_.push_back(std::move(s)); }

  Result<HttpResponse> RoundTrip(const HttpRequest& request, const CallOptions& options) override {
    requests.push_back(request);
    timeouts.push_back(options.timeout);
    max_response_bytes.push_back(options.max_response_bytes);
    if (script_.empty()) {
      HttpResponse r;
      r.status = 200;
      r.body = "{}";
      return r;
    }
    Result<HttpResponse> r = std::move(script_.front());
    script_.pop_front();
    return r;
  }
  Status Stream(const HttpRequest&, const StreamOptions&, StreamHandler&) override {
    return Status::Internal("not scripted");
  }

  std::vector<HttpRequest> requests;
  std::vector<size_t> max_response_bytes;  // CallOptions::max_response_bytes per call
  std::vector<Duration> timeouts;

 private:
  std::deque<Result<HttpResponse>> script_;
};

// Records each requested sleep and advances `clock` (if given) by it; never blocks.
class FakeSleeper final : public Sleeper {
 public:
  explicit FakeSleeper(base::VirtualClock* clock = nullptr) : clock_(clock) {}
  bool SleepFor(Duration d, std::stop_token cancel) override {
    std::lock_guard lock(mu_);
    sleeps.push_back(d);
    if (clock_ != nullptr) clock_->Advance(d);
    return !cancel.stop_requested() && !cancel_next_;
  }
  void CancelNext() { cancel_next_ = true; }
  std::vector<Duration> Sleeps() {
    std::lock_guard lock(mu_);
    return sleeps;
  }

  std::vector<Duration> sleeps;

 private:
  std::mutex mu_;
  base::VirtualClock* clock_;
  bool cancel_next_ = false;
};

}  // namespace nsg::io::testing
