// EventStreamReader: follows Nomad's event stream (GET /v1/event/stream, nomad-api.md §4) and
// hands decoded frames to a consumer, reconnecting and resuming for as long as it runs.
//
//                 Run(stop)
//                    |
//                    v
//    +-------> CONNECTING ----- HTTP 200 -----> STREAMING ------ frame ------> OnFrame
//    |     (OnConnecting first)
//    |          |     \         OnConnected;     |     \        (Index <= last delivered:
//    |          |      \        OnGap(resume,    |      \        dropped as a duplicate)
//    |  connect error,  \       kResumed) when   |       `---- `{}` heartbeat: liveness only
//    |  non-200, header  \      resuming         |
//    |  timeout           \                      |  EOF (incl. 200-then-close: an ACL error
//    |          |          `-- HTTP 400 --> STOPPED  after Nomad's hijack), read error, no byte
//    |          v               (kInvalidSpec)   |  for liveness_timeout, over-long line
//    |    OnDisconnected(status) <---------------'
//    |          |
//    |          v
//    +------ BACKOFF (capped exponential, full jitter; reset after a healthy connection: one
//                     that delivered a decodable line and did not end on an undecodable one)
//
//    A stop request in any state: the connection is cancelled, Run() returns kCancelled.
//
// Framing: the body is NDJSON, chunked (Nomad < 1.11.2) or close-delimited (≥ 1.11.2 hijacks the
// connection); the Transport removes the framing and the reader splits lines itself, so a chunk
// or read boundary may fall anywhere. Lines are decoded with nomad::DecodeFrame (simdjson). A line
// that fails to decode ends the connection like any other stream fault: the reader backs off,
// resumes after the last delivered frame and reports that as a gap, so the consumer's re-lists
// are paced by the backoff (a stream of garbage lines cannot turn into a re-list per line).
//
// Resume and gaps: the reader remembers the Index of the last frame it delivered and reconnects
// with index = last + 1. Nomad starts at the oldest buffered entry, with no error and no marker,
// when that index has left its buffer (§4.5), so every resumed connection is reported as a
// possible gap (OnGap after OnConnected, so a re-list made then misses nothing). The first
// connection reports a gap too when options.start_index > 0. Frames whose Index is not greater
// than the last delivered one are dropped (the server replays the entry at the resume index, and
// the newest entry when the index is beyond it).
//
// Liveness: Nomad sends `{}` at once and then every 30s. When no byte arrives for
// options.liveness_timeout (default 60s, two heartbeat intervals) the connection is cancelled and
// re-opened. Time spent blocked on a slow consumer does not count.
//
// Buffering is bounded: a reader thread per connection pushes complete lines into a queue of
// options.queue_capacity lines and blocks when it is full; it then stops reading, so the kernel's
// socket buffers fill and TCP pushes back (with AsioTransport; cpprest buffers without bound).
// Nomad drops a client that does not read for 40s; the reader then resumes as above.
//
// Threads: Run() delivers every consumer callback on its own thread, in order. Run() must not be
// called twice at once. last_index() and stats() are safe from any thread. Borrows `transport`,
// `sleeper` and `consumer`; they must outlive Run().
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "controller/nomad/codec.h"
#include "controller/nomad/event.h"
#include "controller/nomad_client/client_config.h"
#include "controller/nomad_client/retry.h"
#include "controller/nomad_client/transport.h"

namespace nsg::io {

// One `topic=` parameter: Topic[:Key]. An empty key subscribes to every key of the topic.
struct TopicFilter {
  std::string topic;
  std::string key;
};

struct EventStreamOptions {
  std::vector<TopicFilter> topics;  // empty = Nomad's default "*:*" (needs a management token)
  std::string namespace_;           // "" = the config's namespace; "*" = every namespace
  uint64_t start_index = 0;         // the first connection's ?index= (0 = replay the buffer)
  Duration liveness_timeout = std::chrono::seconds(60);
  Duration header_timeout = std::chrono::seconds(30);
  BackoffPolicy backoff{std::chrono::milliseconds(500), std::chrono::seconds(30)};
  size_t queue_capacity = 64;       // lines buffered between the reader thread and Run()
  size_t max_line_bytes = 64 * 1024 * 1024;
  uint64_t seed = 0;                // backoff jitter seed; 0 = random
  // How much of each Allocation and Job payload to decode (nomad/codec.h DecodeFrame): kSummary
  // for a consumer that keeps no task states, histories or whole jobs, such as the controller's
  // cluster view (whose reconciler reads a job whole when a plan needs it).
  nomad::PayloadDetail payload_detail = nomad::PayloadDetail::kFull;
};

enum class GapReason {
  kResumed,  // a connection resumed from an index; Nomad may have started later (this includes
             // the reconnect after an undecodable line)
};
const char* GapReasonName(GapReason reason);

// Receives the stream. Called only on Run()'s thread.
class EventConsumer {
 public:
  virtual ~EventConsumer() = default;
  // Before each connection attempt: what the server resolves when the stream opens (the
  // namespaces behind `namespace=*`, nomad/event_endpoint.go validateACL) is fixed from here on,
  // so a consumer that follows them reads them now. Default: nothing.
  virtual void OnConnecting() {}
  virtual void OnConnected() = 0;
  // A frame with events, Index greater than every frame delivered before.
  virtual void OnFrame(const nomad::Frame& frame) = 0;
  // Events may have been missed; re-list the state you follow. `resume_index` is the index the
  // reader asked for.
  virtual void OnGap(uint64_t resume_index, GapReason reason) = 0;
  // A connection attempt or a connection ended; `why` is never OK.
  virtual void OnDisconnected(const Status& why) = 0;
};

class EventStreamReader {
 public:
  struct Stats {
    uint64_t connections = 0;  // connection attempts
    uint64_t frames = 0;       // delivered
    uint64_t heartbeats = 0;
    uint64_t duplicates = 0;   // dropped by Index
    uint64_t decode_errors = 0;
    uint64_t gaps = 0;
    uint64_t liveness_timeouts = 0;
    size_t max_queue_depth = 0;
  };

  EventStreamReader(Transport& transport, const ClientConfig& config, Sleeper& sleeper,
                    EventStreamOptions options, EventConsumer& consumer);

  // Follows the stream until `stop` is requested (returns kCancelled) or Nomad rejects the
  // request itself with 400 (bad topic or index: returns that kInvalidSpec). Every other failure
  // is reported through OnDisconnected and retried.
  Status Run(std::stop_token stop);

  // The request of the next connection (for tests and logs).
  HttpRequest RequestFor(uint64_t index) const;

  uint64_t last_index() const { return last_index_.load(); }
  Stats stats() const;

 private:
  struct Connection;
  // One connection from connect to end; returns how it ended (never OK). `healthy`: it delivered
  // a decodable line and did not end on an undecodable one (the backoff is reset).
  Status RunConnection(const std::stop_token& stop, uint64_t from, bool report_gap,
                       bool& healthy);
  // Decodes and delivers one line; kUnavailable for an undecodable one (the connection ends).
  Status Deliver(const std::string& line, bool& delivered_line);

  // Constant after construction.
  Transport& transport_;
  const TokenSource tokens_;
  const std::string namespace_;
  const std::string region_;
  Sleeper& sleeper_;
  const EventStreamOptions options_;
  EventConsumer& consumer_;

  std::atomic<uint64_t> last_index_{0};  // written by Run()'s thread
  mutable std::mutex stats_mu_;
  Stats stats_;  // guarded by stats_mu_
};

}  // namespace nsg::io
