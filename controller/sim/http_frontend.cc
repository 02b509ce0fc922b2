#include "controller/sim/http_frontend.h"

#include "controller/sim/dispatch_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>

namespace nsg::sim {
namespace {

namespace http = web::http;

// A port that is free on `host` right now (bind to port 0, read it, close). cpprest's listener
// cannot report the port it bound, and it keys its acceptors by "host:port", so two listeners on
// port 0 in one process would share one acceptor: pick a concrete port instead. Racy against
// other processes; Start() retries.
uint16_t PickFreePort(const std::string& host) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    socklen_t len = sizeof addr;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string DecodeComponent(std::string s) {
  // Go's url.ParseQuery turns '+' into a space before percent-decoding.
  for (char& c : s) {
    if (c == '+') c = ' ';
  }
  try {
    return web::uri::decode(s);
  } catch (const std::exception&) {
    return s;
  }
}

std::multimap<std::string, std::string> ParseQuery(const std::string& raw) {
  std::multimap<std::string, std::string> out;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t amp = raw.find('&', start);
    std::string kv = raw.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      out.emplace(DecodeComponent(kv.substr(0, eq)),
                  eq == std::string::npos ? "" : DecodeComponent(kv.substr(eq + 1)));
    }
    if (amp == std::string::npos) break;
    start = amp + 1;
  }
  return out;
}

http::http_response ToResponse(const Reply& r) {
  http::http_response resp(static_cast<http::status_code>(r.status));
  for (const auto& [k, v] : r.headers) resp.headers().add(k, v);
  if (!r.content_type.empty()) {
    // A byte vector, not set_body(std::string): cpprest reads a string body through a
    // container_buffer<std::string> as a streambuf<uint8_t>, which UBSan's vptr check rejects.
    resp.set_body(std::vector<unsigned char>(r.body.begin(), r.body.end()));
    resp.headers().set_content_type(r.content_type);
  }
  return resp;
}

// Sends `r` and swallows the send's outcome: the client may be gone, or the listener may have
// answered the request itself while closing (reply() then throws).
void ReplyQuietly(const http::http_request& req, const Reply& r) {
  try {
    req.reply(ToResponse(r)).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
      }
    });
  } catch (const std::exception&) {
  }
}

// Streams one event-stream response through a producer_consumer_buffer.
class HttpStreamSink final : public StreamSink {
 public:
  explicit HttpStreamSink(http::http_request req) : req_(std::move(req)) {}

  void Reply(const sim::Reply& reply) override {
    done_ = true;
    ObserveSent(req_.reply(ToResponse(reply)));
  }
  void Open(const sim::Reply& head) override {
    http::http_response resp(static_cast<http::status_code>(head.status));
    for (const auto& [k, v] : head.headers) {
      // The listener frames the body with chunked encoding; it cannot honour a hijacked
      // close-delimited body, so Connection: close is not forwarded (see http_frontend.h).
      if (Lower(k) == "connection") continue;
      resp.headers().add(k, v);
    }
    resp.set_body(buffer_.create_istream(), head.content_type);
    ObserveSent(req_.reply(resp));
  }
  // Frames are gathered and handed to the connection once per request or tick (Flush): one
  // write per frame cost two pool-thread hand-offs each (issue 17: most of the simulator's
  // scheduler switches at 10k singletons).
  void Write(const std::string& data) override {
    if (gone_.load() || done_) return;
    pending_ += data;
  }
  // Requires the model mutex, as every sink call.
  void Flush() {
    if (pending_.empty()) return;
    if (gone_.load() || done_) {
      pending_.clear();
      return;
    }
    auto copy = std::make_shared<std::string>(std::move(pending_));
    pending_.clear();
    Settle(buffer_.putn_nocopy(reinterpret_cast<const uint8_t*>(copy->data()), copy->size()),
           copy);
    Settle(buffer_.sync(), nullptr);
  }
  void Close() override {
    if (done_) return;
    Flush();
    done_ = true;
    buffer_.close(std::ios_base::out).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
      }
    });
  }

  // Waits for `t` where it has already finished (the buffer takes bytes synchronously), so that
  // no continuation has to be scheduled on the pool; `keep` lives until then.
  template <typename T>
  static void Settle(pplx::task<T> t, std::shared_ptr<std::string> keep) {
    if (t.is_done()) {
      try {
        t.get();
      } catch (...) {
      }
      return;
    }
    t.then([keep](pplx::task<T> done) {
      try {
        done.get();
      } catch (...) {
      }
    });
  }

  // The response task finished: the client went away (or the body ended).
  bool Gone() const { return gone_.load(); }
  void Abort() {
    if (done_) return;
    done_ = true;
    buffer_.close(std::ios_base::out).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
      }
    });
  }

 private:
  void ObserveSent(pplx::task<void> sent) {
    auto gone = gone_ptr_;
    sent.then([gone](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {
      }
      gone->store(true);
    });
  }

  http::http_request req_;
  Concurrency::streams::producer_consumer_buffer<uint8_t> buffer_;
  std::shared_ptr<std::atomic<bool>> gone_ptr_ = std::make_shared<std::atomic<bool>>(false);
  std::atomic<bool>& gone_ = *gone_ptr_;
  bool done_ = false;  // guarded by the model mutex (all sink calls come from the router)
  std::string pending_;  // written, not yet flushed; guarded by the model mutex
};

}  // namespace

struct HttpFrontend::Impl {
  Impl(SimCore& c, Router& r, Options o) : core(c), router(r), opts(std::move(o)) {}

  // The virtual time that corresponds to now. Requires mu.
  TimePoint VirtualNow() const {
    auto wall = std::chrono::steady_clock::now() - wall_start;
    auto scaled = std::chrono::duration_cast<base::Duration>(
        std::chrono::duration<double, std::nano>(
            static_cast<double>(std::chrono::duration_cast<base::Duration>(wall).count()) *
            opts.time_scale));
    TimePoint t = virtual_start + scaled;
    return t < core.Now() ? core.Now() : t;
  }
  void CatchUp() { core.AdvanceTo(VirtualNow()); }

  void Dispatch(const http::http_request& req, std::string body) {
    Request r;
    r.method = req.method();
    r.path = web::uri::decode(req.request_uri().path());  // paths keep their '+'
    r.query = ParseQuery(req.request_uri().query());
    for (const auto& [k, v] : req.headers()) r.headers[Lower(k)] = v;
    r.body = std::move(body);

    std::lock_guard<std::mutex> lock(mu);
    if (stopping) {
      ReplyQuietly(req, Reply{503, {}, kContentTypeText, "simulator shutting down"});
      return;
    }
    CatchUp();
    if (r.path == "/v1/event/stream") {
      auto sink = std::make_shared<HttpStreamSink>(req);
      // The wire framing stays chunked (see http_frontend.h); what a client observes of the
      // 1.11.2+ hijack — "200, then EOF" instead of a 403 — follows the profile.
      const StreamFraming framing = nomad::HijacksEventStream(core.Version())
                                        ? StreamFraming::kCloseDelimited
                                        : StreamFraming::kChunked;
      uint64_t id = router.SubmitStream(std::move(r), sink, framing);
      if (id != 0) streams[id] = sink;
    } else {
      http::http_request copy = req;
      router.Submit(std::move(r), [copy](Reply reply) { ReplyQuietly(copy, reply); });
    }
    // Zero-delay timers (blocking-query rechecks) run now, not at the next tick.
    core.AdvanceTo(core.Now());
    FlushStreams();
  }

  // Hands every stream's gathered frames to its connection. Requires mu.
  void FlushStreams() {
    for (auto& [id, sink] : streams) sink->Flush();
  }

  void Drive() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      CatchUp();
      // Cancel streams whose clients went away (cpp-libs.md §4: stop producing).
      for (auto it = streams.begin(); it != streams.end();) {
        if (it->second->Gone()) {
          router.CancelStream(it->first);
          it->second->Abort();
          it = streams.erase(it);
        } else {
          ++it;
        }
      }
      FlushStreams();
      cv.wait_for(lock, opts.tick);
    }
  }

  SimCore& core;
  Router& router;
  const Options opts;

  std::mutex mu;  // guards the model, streams, stopping
  std::condition_variable cv;
  bool stopping = false;
  bool started = false;
  std::map<uint64_t, std::shared_ptr<HttpStreamSink>> streams;
  std::chrono::steady_clock::time_point wall_start;
  TimePoint virtual_start{};

  std::shared_ptr<DispatchGate<Impl>> gate = std::make_shared<DispatchGate<Impl>>();
  std::unique_ptr<http::experimental::listener::http_listener> listener;
  std::thread driver;
  std::atomic<uint16_t> port{0};
};

HttpFrontend::HttpFrontend(SimCore& core, Router& router, Options opts)
    : impl_(std::make_unique<Impl>(core, router, std::move(opts))) {
  impl_->gate->Open(impl_.get());
}

HttpFrontend::~HttpFrontend() { Stop(); }

base::Status HttpFrontend::Start() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.started) return base::Status::Internal("HttpFrontend already started");
    m.started = true;
    m.wall_start = std::chrono::steady_clock::now();
    m.virtual_start = m.core.Now();
  }
  http::experimental::listener::http_listener_config cfg;
  // Blocking queries hold a request for up to 5m + jitter; keep the listener's per-operation
  // timeout well above that.
  cfg.set_timeout(std::chrono::hours(1));
  std::string last_error;
  for (int attempt = 0; attempt < 5 && m.port == 0; ++attempt) {
    uint16_t port = m.opts.port != 0 ? m.opts.port : PickFreePort(m.opts.host);
    std::string uri = "http://" + m.opts.host + ":" + std::to_string(port);
    try {
      auto listener = std::make_unique<http::experimental::listener::http_listener>(uri, cfg);
      // The handler and its body continuation hold the gate, never the Impl (see
      // dispatch_gate.h). The listener stays owned by the Impl and is destroyed on the owner's
      // thread: destroyed on a pplx thread, it crashes cpprest.
      std::shared_ptr<DispatchGate<Impl>> gate = m.gate;
      listener->support([gate](http::http_request req) {
        // Never block here: the body arrives through a continuation.
        req.extract_string(/*ignore_content_type=*/true)
            .then([gate, req](pplx::task<std::string> body) {
              std::string text;
              try {
                text = body.get();
              } catch (...) {
              }
              DispatchGate<Impl>::Pass pass(*gate);
              if (pass.target() == nullptr) {
                ReplyQuietly(req, Reply{503, {}, kContentTypeText, "simulator shutting down"});
                return;
              }
              try {
                pass.target()->Dispatch(req, std::move(text));
              } catch (const std::exception& e) {
                ReplyQuietly(req, Reply{500, {}, kContentTypeText, e.what()});
              }
            });
      });
      listener->open().wait();
      m.listener = std::move(listener);
      m.port = port;
    } catch (const std::exception& e) {
      last_error = uri + ": " + e.what();
      if (m.opts.port != 0) break;
    }
  }
  if (m.port == 0) return base::Status::Unavailable("cannot listen: " + last_error);
  m.driver = std::thread([&m]() { m.Drive(); });
  return base::Status::Ok();
}

void HttpFrontend::Stop() {
  Impl& m = *impl_;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (!m.started || m.stopping) return;
    m.stopping = true;
    m.router.Shutdown();  // 503 for parked/dropped requests, Close() for streams
    m.streams.clear();
  }
  // A continuation inside Dispatch holds no lock we take here but m.mu, which is free now.
  if (!m.gate->Close(std::chrono::seconds(30))) {
    std::fprintf(stderr, "nomad-singleton sim: a request handler did not return within 30 s of Stop\n");
    std::abort();  // destroying the front end under it would corrupt memory instead
  }
  m.cv.notify_all();
  if (m.driver.joinable()) m.driver.join();
  if (m.listener) {
    try {
      m.listener->close().wait();
    } catch (...) {
    }
  }
}

uint16_t HttpFrontend::Port() const { return impl_->port.load(); }

std::string HttpFrontend::Address() const {
  return "http://" + impl_->opts.host + ":" + std::to_string(Port());
}

void HttpFrontend::WithModel(const std::function<void()>& fn) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->started && !impl_->stopping) impl_->CatchUp();
  fn();
  impl_->core.AdvanceTo(impl_->core.Now());
  impl_->FlushStreams();
}

SimServer::SimServer(Options opts, ProgramRegistry programs)
    : opts_(std::move(opts)),
      programs_(std::move(programs)),
      core_(opts_.core),
      acl_(core_, opts_.acl),
      vars_(core_, acl_, opts_.vars),
      cluster_(core_, programs_, opts_.cluster),
      router_(core_, acl_, vars_, &cluster_, opts_.router),
      http_(core_, router_, opts_.http) {
  cluster_.SetTokenIssuer([this](const std::string& ns, const std::string& job,
                                 const std::string& group, const std::string& task,
                                 const std::string& alloc) {
    return acl_.IssueWorkloadToken(ns, job, group, task, alloc);
  });
  cluster_.SetTokenRevoker([this](const std::string& alloc) { acl_.RevokeAllocTokens(alloc); });
}

SimServer::~SimServer() { Stop(); }

base::Status SimServer::Start() {
  for (int i = 0; i < opts_.nodes; ++i) cluster_.AddNode(NodeSpec{});
  base::Status st = http_.Start();
  // Tasks reach the simulator at the address it really bound (the port may have been 0).
  if (st.ok()) http_.WithModel([&] { cluster_.SetNomadAddr(http_.Address()); });
  return st;
}

void SimServer::Stop() { http_.Stop(); }

}  // namespace nsg::sim
