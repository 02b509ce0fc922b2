// StatusServer against raw sockets on 127.0.0.1 port 0: idle and slowloris clients, bearer-token
// protected paths, POST handlers and their body cap.
#include "controller/controller_io/status_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nsg::io {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int Port(const StatusServer& s) {
  const std::string& a = s.BoundAddress();
  return std::stoi(a.substr(a.rfind(':') + 1));
}

// A connected socket, closed on destruction.
struct Socket {
  explicit Socket(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  bool Send(std::string_view s) const {
    return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Everything the server sends until it closes, or nullopt when `limit` passes first.
  std::optional<std::string> ReadToClose(std::chrono::milliseconds limit) const {
    std::string out;
    const auto deadline = Clock::now() + limit;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                              Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  int fd = -1;
};

std::optional<std::string> Get(int port, const std::string& path, const std::string& headers = "",
                               std::chrono::milliseconds limit = 5000ms) {
  Socket s(port);
  if (s.fd < 0) return std::nullopt;
  s.Send("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
  return s.ReadToClose(limit);
}

HttpHandlers Handlers() {
  HttpHandlers h;
  h["/healthz"] = [] { return HttpReply{200, "text/plain", "ok\n"}; };
  h["/status"] = [] { return HttpReply{200, "application/json", "{}\n"}; };
  return h;
}

// Clients that send a request head one line at a time, forever, until stopped.
class Slowloris {
 public:
  Slowloris(int port, int clients) {
    for (int i = 0; i < clients; ++i) {
      threads_.emplace_back([this, port] {
        Socket s(port);
        s.Send("GET /healthz HTTP/1.1\r\n");
        std::unique_lock lock(mu_);
        for (int n = 0; !stop_; ++n) {
          lock.unlock();
          if (!s.Send("X-Slow-" + std::to_string(n) + ": 1\r\n")) return;
          lock.lock();
          cv_.wait_for(lock, 50ms, [&] { return stop_; });  // the attack's pace, not a wait
        }
      });
    }
  }
  ~Slowloris() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

TEST(StatusServerTest, HealthzAnswersWhileIdleAndSlowlorisClientsHoldConnections) {
  auto server = StatusServer::Start("127.0.0.1:0", Handlers());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = Port(**server);
  Socket idle1(port), idle2(port);
  ASSERT_GE(idle1.fd, 0);
  ASSERT_GE(idle2.fd, 0);
  Slowloris attack(port, 4);
  const auto start = Clock::now();
  auto reply = Get(port, "/healthz", "", 2000ms);
  ASSERT_TRUE(reply.has_value()) << "/healthz did not answer within 2s";
  EXPECT_THAT(*reply, HasSubstr("200 OK"));
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(StatusServerTest, IdleAndSlowConnectionsAreClosedAfterTheRequestTimeout) {
  StatusServerOptions o;
  o.request_timeout = 200ms;
  auto server = StatusServer::Start("127.0.0.1:0", Handlers(), o);
  ASSERT_TRUE(server.ok());
  const int port = Port(**server);
  Socket idle(port);
  ASSERT_GE(idle.fd, 0);
  // Closed by the server (read returns EOF) long before the 5s limit.
  const auto start = Clock::now();
  EXPECT_TRUE(idle.ReadToClose(5000ms).has_value());
  EXPECT_LT(Clock::now() - start, 4s);
  Socket slow(port);
  ASSERT_TRUE(slow.Send("GET /healthz HTTP/1.1\r\n"));
  std::atomic<bool> closed{false};
  std::thread drip([&] {
    // Keeps sending header lines until the server hangs up.
    for (int n = 0; n < 200 && !closed.load(); ++n) {
      if (!slow.Send("X-" + std::to_string(n) + ": 1\r\n")) break;
      pollfd p{slow.fd, POLLRDHUP, 0};
      ::poll(&p, 1, 50);  // the drip's pace
    }
  });
  auto got = slow.ReadToClose(5000ms);
  closed = true;
  drip.join();
  ASSERT_TRUE(got.has_value()) << "a slowloris connection was kept open";
  EXPECT_THAT(*got, ::testing::Not(HasSubstr("200 OK")));
}

TEST(StatusServerTest, ProtectedPathNeedsTheBearerTokenOthersStayOpen) {
  StatusServerOptions o;
  o.protected_paths = {"/status"};
  std::mutex mu;
  std::string token = "t0k3n";
  o.bearer_token = [&] {
    std::lock_guard lock(mu);
    return token;
  };
  auto server = StatusServer::Start("127.0.0.1:0", Handlers(), o);
  ASSERT_TRUE(server.ok());
  const int port = Port(**server);
  EXPECT_THAT(Get(port, "/status").value_or(""), HasSubstr("401"));
  EXPECT_THAT(Get(port, "/status").value_or(""), HasSubstr("WWW-Authenticate: Bearer"));
  EXPECT_THAT(Get(port, "/status", "Authorization: Bearer t0k3\r\n").value_or(""),
              HasSubstr("401"));
  EXPECT_THAT(Get(port, "/status", "Authorization: Basic t0k3n\r\n").value_or(""),
              HasSubstr("401"));
  EXPECT_THAT(Get(port, "/status", "Authorization: Bearer t0k3n\r\n").value_or(""),
              HasSubstr("200 OK"));
  EXPECT_THAT(Get(port, "/healthz").value_or(""), HasSubstr("200 OK"));
  {
    std::lock_guard lock(mu);
    token.clear();  // the token file cannot be read
  }
  EXPECT_THAT(Get(port, "/status", "Authorization: Bearer t0k3n\r\n").value_or(""),
              HasSubstr("503"));
}

std::optional<std::string> Post(int port, const std::string& path, const std::string& head,
                                const std::string& body) {
  Socket s(port);
  if (s.fd < 0) return std::nullopt;
  s.Send("POST " + path + " HTTP/1.1\r\nHost: x\r\n" + head + "\r\n" + body);
  return s.ReadToClose(5000ms);
}

TEST(StatusServerTest, PostHandlersGetHeadersAndBodyWithinTheCap) {
  StatusServerOptions o;
  o.max_body_bytes = 16;
  o.protected_paths = {"/hook"};  // a POST path authenticates itself: not guarded
  o.bearer_token = [] { return std::string("t0k3n"); };
  o.post_handlers["/hook"] = [](const HttpServerRequest& r) {
    auto it = r.headers.find("x-signature");
    return HttpReply{202, "text/plain",
                     "sig=" + (it == r.headers.end() ? "" : it->second) + " body=" + r.body};
  };
  auto server = StatusServer::Start("127.0.0.1:0", Handlers(), o);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = Port(**server);
  const std::string ok =
      Post(port, "/hook", "X-Signature: abc\r\nContent-Length: 5\r\n", "hello").value_or("");
  EXPECT_THAT(ok, HasSubstr("202"));
  EXPECT_THAT(ok, HasSubstr("sig=abc body=hello"));
  EXPECT_THAT(Post(port, "/hook", "Content-Length: 17\r\n", std::string(17, 'x')).value_or(""),
              HasSubstr("413"));
  EXPECT_THAT(Post(port, "/hook", "", "").value_or(""), HasSubstr("411"));
  EXPECT_THAT(Get(port, "/hook").value_or(""), HasSubstr("405"));
  EXPECT_THAT(Post(port, "/healthz", "Content-Length: 0\r\n", "").value_or(""), HasSubstr("405"));

  // One path cannot have both a GET and a POST handler.
  o.post_handlers["/healthz"] = [](const HttpServerRequest&) { return HttpReply{}; };
  EXPECT_FALSE(StatusServer::Start("127.0.0.1:0", Handlers(), o).ok());
}

}  // namespace
}  // namespace nsg::io
