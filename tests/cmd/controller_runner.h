// The controller in-process for end-to-end tests and benchmarks: `nomad-singleton controller`
// run through RunController on its own thread (RunningController), a plain HTTP GET for its
// /metrics, /status, /healthz and /readyz, atomic spec writes and the simulator's options. No
// test framework:
// bench/controller_bench.cc uses it too.
// RunningController owns its thread; Stop() (or the destructor) requests a stop and joins.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "controller/cmd/controller_commands.h"
#include "controller/sim/http_frontend.h"

namespace nsg::cmd::testing {

// One plain HTTP/1.1 request on 127.0.0.1 (`headers`: extra "Name: value\r\n" lines; a body
// gets its Content-Length unless `headers` has one); returns {status, body} or nullopt.
inline std::optional<std::pair<int, std::string>> HttpExchange(const std::string& host_port,
                                                               const std::string& method,
                                                               const std::string& path,
                                                               const std::string& headers,
                                                               const std::string& body) {
  const auto colon = host_port.rfind(':');
  const int port = std::stoi(host_port.substr(colon + 1));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                    headers;
  if (method != "GET" && headers.find("Content-Length:") == std::string::npos) {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (resp.size() < 12) return std::nullopt;
  const auto head_end = resp.find("\r\n\r\n");
  return std::make_pair(std::stoi(resp.substr(9, 3)),
                        head_end == std::string::npos ? "" : resp.substr(head_end + 4));
}

inline std::optional<std::pair<int, std::string>> HttpGet(const std::string& host_port,
                                                          const std::string& path,
                                                          const std::string& headers = "") {
  return HttpExchange(host_port, "GET", path, headers, "");
}

inline std::optional<std::pair<int, std::string>> HttpPost(const std::string& host_port,
                                                           const std::string& path,
                                                           const std::string& headers,
                                                           const std::string& body) {
  return HttpExchange(host_port, "POST", path, headers, body);
}

// Writes `text` to `path` through a temporary file renamed over it (`path` + ".tmp", which the spec
// loader ignores), so that a reader never sees a half-written file.
inline void WriteFileAtomically(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::ofstream(tmp) << text;
  std::filesystem::rename(tmp, path);
}

// The simulator the end-to-end tests and benchmarks run against: 3 ready nodes, ACLs on (as in
// production) unless `acl` is false, allocation directories under `dir`/allocs, the default dummy
// programs (tasks run until killed).
inline sim::SimServer::Options SimOptions(const std::filesystem::path& dir, bool acl = true) {
  sim::SimServer::Options opts;
  opts.nodes = 3;
  opts.acl.enabled = acl;
  opts.cluster.alloc_root = (dir / "allocs").string();
  return opts;
}

// The controller on a thread, stopped through a stop_source.
class RunningController {
 public:
  // `before_first_spec_read`: ControllerHooks::before_first_spec_read.
  explicit RunningController(std::vector<std::string> argv,
                             std::function<void()> before_first_spec_read = nullptr) {
    std::promise<std::string> listening;
    auto addr = listening.get_future();
    thread_ = std::thread([this, argv, p = std::move(listening),
                           before = std::move(before_first_spec_read)]() mutable {
      cmd::ControllerHooks hooks;
      hooks.on_listening = [&p](const std::string& a) { p.set_value(a); };
      hooks.before_first_spec_read = before;
      code_ = cmd::RunController(argv, stop_.get_token(), hooks);
    });
    if (addr.wait_for(std::chrono::seconds(10)) == std::future_status::ready) http_ = addr.get();
  }
  ~RunningController() { Stop(); }
  int Stop() {
    stop_.request_stop();
    if (thread_.joinable()) thread_.join();
    return code_;
  }
  const std::string& http() const { return http_; }

 private:
  std::stop_source stop_;
  std::thread thread_;
  std::string http_;
  int code_ = -1;
};

}  // namespace nsg::cmd::testing
