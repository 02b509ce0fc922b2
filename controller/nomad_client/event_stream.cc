#include "controller/nomad_client/event_stream.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <optional>
#include <thread>

#include "controller/nomad/codec.h"
#include "controller/nomad_client/status_map.h"

namespace nsg::io {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr size_t kMaxErrorBody = 4096;
constexpr char kWhat[] = "GET /v1/event/stream";

}  // namespace

const char* GapReasonName(GapReason reason) {
  switch (reason) {
    case GapReason::kResumed:
      return "resumed";
  }
  return "unknown";
}

// State shared by Run()'s thread and one connection's reader thread.
struct EventStreamReader::Connection : StreamHandler {
  struct Item {
    enum Kind { kConnected, kLine, kEnd } kind;
    std::string line;
    Status status;
  };

  Connection(size_t capacity, size_t max_line) : capacity_(capacity), max_line_(max_line) {}

  // ---- reader thread ----
  bool OnHeaders(int status, const Headers&) override {
    http_status = status;
    Touch();
    if (status == 200) Push({Item::kConnected, {}, {}}, false);
    return true;
  }

  bool OnData(std::string_view bytes) override {
    Touch();
    if (http_status != 200) {
      error_body.append(bytes.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, error_body.size())));
      return true;
    }
    while (!bytes.empty()) {
      size_t nl = bytes.find('\n');
      if (nl == std::string_view::npos) {
        pending.append(bytes);
        if (pending.size() > max_line_) {
          line_too_long = true;
          return false;
        }
        return true;
      }
      pending.append(bytes.substr(0, nl));
      bytes.remove_prefix(nl + 1);
      if (pending.size() > max_line_) {
        line_too_long = true;
        return false;
      }
      if (!pending.empty() && pending.back() == '\r') pending.pop_back();
      if (!pending.empty() && !Push({Item::kLine, std::move(pending), {}}, true)) return false;
      pending.clear();
    }
    return true;
  }

  // Blocks while the queue is full (unless `bounded` is false). False when the connection was
  // stopped meanwhile.
  bool Push(Item item, bool bounded) {
    std::unique_lock lock(mu);
    if (bounded && queue.size() >= capacity_) {
      blocked_on_consumer = true;
      not_full.wait(lock, stop.get_token(), [&] { return queue.size() < capacity_; });
      blocked_on_consumer = false;
      last_activity = SteadyClock::now();  // the wait was ours, not the server's
      if (stop.stop_requested()) return false;
    }
    queue.push_back(std::move(item));
    max_depth = std::max(max_depth, queue.size());
    not_empty.notify_one();
    return true;
  }

  void Touch() {
    std::lock_guard lock(mu);
    last_activity = SteadyClock::now();
  }

  // ---- Run()'s thread ----
  // The next item, or nullopt when the liveness deadline passed with nothing to read.
  std::optional<Item> Pop(Duration liveness, bool& timed_out) {
    std::unique_lock lock(mu);
    timed_out = false;
    while (queue.empty()) {
      if (!connected || liveness.count() <= 0 || stop.stop_requested()) {
        not_empty.wait(lock);
        continue;
      }
      auto deadline =
          last_activity + std::chrono::duration_cast<SteadyClock::duration>(liveness);
      if (not_empty.wait_until(lock, deadline) == std::cv_status::timeout && queue.empty() &&
          !blocked_on_consumer &&
          SteadyClock::now() - last_activity >= liveness) {
        timed_out = true;
        return std::nullopt;
      }
    }
    Item item = std::move(queue.front());
    queue.pop_front();
    not_full.notify_one();
    return item;
  }

  void Stop() {
    stop.request_stop();
    std::lock_guard lock(mu);
    not_full.notify_all();
    not_empty.notify_all();
  }

  const size_t capacity_;
  const size_t max_line_;
  std::stop_source stop;  // cancels this connection only

  // Reader thread only.
  int http_status = 0;
  std::string error_body;
  std::string pending;
  bool line_too_long = false;

  std::mutex mu;
  std::condition_variable_any not_full;
  std::condition_variable not_empty;
  std::deque<Item> queue;                                 // guarded by mu
  SteadyClock::time_point last_activity = SteadyClock::now();  // guarded by mu
  bool blocked_on_consumer = false;                       // guarded by mu
  bool connected = false;                                 // guarded by mu; set by Run()'s thread
  size_t max_depth = 0;                                   // guarded by mu
};

EventStreamReader::EventStreamReader(Transport& transport, const ClientConfig& config,
                                     Sleeper& sleeper, EventStreamOptions options,
                                     EventConsumer& consumer)
    : transport_(transport),
      tokens_(config),
      namespace_(options.namespace_.empty() ? config.namespace_ : options.namespace_),
      region_(config.region),
      sleeper_(sleeper),
      options_(std::move(options)),
      consumer_(consumer) {}

EventStreamReader::Stats EventStreamReader::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

HttpRequest EventStreamReader::RequestFor(uint64_t index) const {
  HttpRequest r;
  r.method = "GET";
  r.path = "/v1/event/stream";
  for (const TopicFilter& t : options_.topics) {
    r.query.emplace_back("topic", t.key.empty() ? t.topic : t.topic + ":" + t.key);
  }
  if (!namespace_.empty()) r.query.emplace_back("namespace", namespace_);
  if (!region_.empty()) r.query.emplace_back("region", region_);
  r.query.emplace_back("index", std::to_string(index));
  if (std::string token = tokens_.Get(); !token.empty()) r.headers.Add("X-Nomad-Token", token);
  return r;
}

Status EventStreamReader::Deliver(const std::string& line, bool& delivered_line) {
  Result<nomad::Frame> frame = nomad::DecodeFrame(line, options_.payload_detail);
  if (!frame.ok()) {
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.decode_errors;
    }
    return Status::Unavailable(std::string(kWhat) + ": an undecodable line (" +
                               frame.status().message() + "); reconnecting");
  }
  delivered_line = true;
  if (frame->IsHeartbeat()) {
    std::lock_guard lock(stats_mu_);
    ++stats_.heartbeats;
    return Status::Ok();
  }
  if (frame->index <= last_index_.load()) {
    std::lock_guard lock(stats_mu_);
    ++stats_.duplicates;
    return Status::Ok();
  }
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.frames;
  }
  last_index_.store(frame->index);
  consumer_.OnFrame(*frame);
  return Status::Ok();
}

Status EventStreamReader::RunConnection(const std::stop_token& stop, uint64_t from,
                                        bool report_gap, bool& healthy) {
  bool delivered_line = false;
  Status undecodable;
  Connection conn(std::max<size_t>(1, options_.queue_capacity), options_.max_line_bytes);
  std::stop_callback outer(stop, [&] { conn.Stop(); });
  HttpRequest request = RequestFor(from);
  StreamOptions so;
  so.header_timeout = options_.header_timeout;
  so.idle_timeout = Duration(0);  // liveness is ours (Pop), so slow consumers do not count
  so.cancel = conn.stop.get_token();
  {
    std::lock_guard lock(stats_mu_);
    ++stats_.connections;
  }
  std::jthread reader([&] {
    Status end = transport_.Stream(request, so, conn);
    if (end.ok() && conn.line_too_long) {
      end = Status::Unavailable(std::string(kWhat) + ": a line exceeded " +
                                std::to_string(options_.max_line_bytes) + " bytes");
    }
    conn.Push({Connection::Item::kEnd, {}, std::move(end)}, false);
  });

  bool liveness_tripped = false;
  Status end;
  for (;;) {
    bool timed_out = false;
    std::optional<Connection::Item> item = conn.Pop(options_.liveness_timeout, timed_out);
    if (!item) {
      if (timed_out && !liveness_tripped) {
        liveness_tripped = true;
        std::lock_guard lock(stats_mu_);
        ++stats_.liveness_timeouts;
      }
      conn.Stop();
      continue;
    }
    if (item->kind == Connection::Item::kEnd) {
      end = std::move(item->status);
      break;
    }
    if (conn.stop.stop_requested()) continue;  // drain to the end marker
    if (item->kind == Connection::Item::kConnected) {
      {
        std::lock_guard lock(conn.mu);
        conn.connected = true;
        conn.last_activity = SteadyClock::now();
      }
      consumer_.OnConnected();
      if (report_gap) {
        {
          std::lock_guard lock(stats_mu_);
          ++stats_.gaps;
        }
        consumer_.OnGap(from, GapReason::kResumed);
      }
      continue;
    }
    if (Status st = Deliver(item->line, delivered_line); !st.ok()) {
      undecodable = std::move(st);
      conn.Stop();
    }
  }
  reader.join();
  {
    std::lock_guard lock(conn.mu);
    std::lock_guard stats_lock(stats_mu_);
    stats_.max_queue_depth = std::max(stats_.max_queue_depth, conn.max_depth);
  }

  healthy = delivered_line && undecodable.ok();
  if (stop.stop_requested()) return Status::Cancelled(std::string(kWhat) + ": stopped");
  if (!undecodable.ok()) {
    return Status(undecodable.code(), Redact(undecodable.message(), tokens_.Get()));
  }
  if (liveness_tripped) {
    return Status::Unavailable(std::string(kWhat) + ": nothing received for " +
                               base::FormatDuration(options_.liveness_timeout) +
                               " (heartbeats missing)");
  }
  if (conn.http_status != 0 && conn.http_status != 200) {
    Status mapped = StatusFromHttp(conn.http_status, conn.error_body, kWhat);
    return Status(mapped.code(), Redact(mapped.message(), tokens_.Get()));
  }
  if (!end.ok()) return Status(end.code(), Redact(end.message(), tokens_.Get()));
  if (!delivered_line) {
    return Status::Unavailable(std::string(kWhat) +
                               ": closed by the server right after 200 with no data (Nomad "
                               "≥ 1.11.2 reports ACL and subscription errors this way)");
  }
  return Status::Unavailable(std::string(kWhat) + ": closed by the server");
}

Status EventStreamReader::Run(std::stop_token stop) {
  Backoff backoff(options_.backoff, options_.seed);
  bool first = true;
  while (!stop.stop_requested()) {
    uint64_t last = last_index_.load();
    uint64_t from = last > 0 ? last + 1 : options_.start_index;
    bool report_gap = !first || options_.start_index > 0;
    report_gap = report_gap && from > 0;
    first = false;
    bool healthy = false;
    consumer_.OnConnecting();
    if (stop.stop_requested()) break;
    Status why = RunConnection(stop, from, report_gap, healthy);
    if (why.code() == base::StatusCode::kCancelled && stop.stop_requested()) return why;
    consumer_.OnDisconnected(why);
    if (why.code() == base::StatusCode::kInvalidSpec) return why;
    if (healthy) backoff.Reset();
    if (!sleeper_.SleepFor(backoff.Next(), stop)) break;
  }
  return Status::Cancelled(std::string(kWhat) + ": stopped");
}

}  // namespace nsg::io
