// The demo program (`nomad-singleton demo` once cmd/ has parsed its flags): the embedded Nomad
// simulator with real processes, the controller (this binary, as a child process) on two demo
// singletons whose lock agents are this binary and whose workloads are small shell programs, then
// three things that happen to real clusters, each shown as a live timeline:
//   1. the node of web's holder crashes: the lock lapses (2 × TTL + delay), the hot standby takes
//      it and its workload starts; the measured downtime is printed beside the budget that
//      `render --explain` predicts;
//   2. web's holder is stopped gracefully: it releases the lock and the standby takes over at once;
//   3. worker's holder is cut off from the servers: its agent stops the workload before the lease
//      can pass, the standby takes over, and the controller stops the cut-off allocation (a
//      duplicate) — then the partition heals.
// At every poll (every 50 ms) and from the workloads' own start/stop marks it checks that no
// singleton ever ran two workloads; the exit code is 1 if that broke or a step did not complete.
// One file (~820 lines): the demo is one scripted scenario (setup, three acts, the checks) that
// reads top to bottom; it assembles nothing the other programs use.
#include "controller/app/demo.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/app/exit_codes.h"
#include "controller/render/job_renderer.h"
#include "controller/sim/http_frontend.h"
#include "controller/sim/process_driver.h"
#include "controller/spec/loader.h"
#include "controller/timing/budget.h"

extern char** environ;

namespace nsg::app {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- Output: every line carries the time since the demo started ----

class Clock {
 public:
  double Seconds() const {
    return std::chrono::duration<double>(SteadyClock::now() - start_).count();
  }
  void Say(const std::string& line) const {
    std::ostringstream ss;
    ss << "[" << std::fixed << std::setprecision(1) << std::setw(6) << Seconds() << "s] " << line
       << "\n";
    std::cout << ss.str() << std::flush;
  }

 private:
  SteadyClock::time_point start_ = SteadyClock::now();
};

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Short(const std::string& id) { return id.substr(0, 8); }

// Null-safe reads of the controller's /status document (absent and null read as the default).
std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
uint64_t Uint(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}
const Json& Obj(const Json& j, const char* key) {
  static const Json kEmpty = Json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

std::string Secs(double s) {
  std::ostringstream ss;
  ss << std::fixed << std::setprecision(1) << s << " s";
  return ss.str();
}

// ---- The workloads' marks: "start|stop ALLOC EPOCH UNIX_SECONDS PID" per line ----

struct Mark {
  std::string what, alloc;
  uint64_t epoch = 0;
  double at = 0;
  int pid = 0;
};

std::vector<Mark> ReadMarks(const fs::path& p) {
  std::vector<Mark> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    Mark m;
    if (ss >> m.what >> m.alloc >> m.epoch >> m.at >> m.pid) out.push_back(m);
  }
  return out;
}

// A process that exists and is not a zombie (a workload killed with its task's process group may
// linger as a zombie until it is reaped).
bool Alive(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// Follows one singleton's workloads and checks that at most one runs at any time: a workload runs
// from its start mark until its stop mark or until its process is gone (a SIGKILL leaves no stop
// mark). Checked on every new mark, in file order, and at every poll.
class Workloads {
 public:
  explicit Workloads(fs::path marks) : marks_(std::move(marks)) {}

  // Reads new marks; returns the new start marks. Records a violation when two workloads run.
  std::vector<Mark> Poll() {
    std::vector<Mark> all = ReadMarks(marks_);
    std::vector<Mark> started;
    for (size_t i = seen_; i < all.size(); ++i) {
      const Mark& m = all[i];
      if (m.what == "start") {
        Prune();
        running_[m.pid] = m;
        started.push_back(m);
        all_starts_.push_back(m);
        ++starts_;
        if (running_.size() > 1) Violation("two workloads started: " + Describe());
      } else {
        running_.erase(m.pid);
        stops_.push_back(m);
      }
    }
    seen_ = all.size();
    Prune();
    if (running_.size() > 1) Violation("two workloads run at once: " + Describe());
    return started;
  }
  // The running workload (the one with the newest start), if any.
  std::optional<Mark> Current() const {
    std::optional<Mark> out;
    for (const auto& [pid, m] : running_) {
      if (!out || m.at > out->at) out = m;
    }
    return out;
  }
  // The first workload started after `wall` (unix seconds) in another allocation than `except`.
  std::optional<Mark> StartAfter(double wall, const std::string& except) const {
    for (const Mark& m : all_starts_) {
      if (m.at >= wall && m.alloc != except) return m;
    }
    return std::nullopt;
  }
  std::optional<Mark> StopOf(const std::string& alloc) const {
    for (const Mark& m : stops_) {
      if (m.alloc == alloc) return m;
    }
    return std::nullopt;
  }
  const std::vector<std::string>& violations() const { return violations_; }
  int starts() const { return starts_; }

 private:
  void Prune() {
    for (auto it = running_.begin(); it != running_.end();) {
      it = Alive(it->first) ? std::next(it) : running_.erase(it);
    }
  }
  std::string Describe() const {
    std::string out;
    for (const auto& [pid, m] : running_) {
      out += (out.empty() ? "" : ", ") + Short(m.alloc) + " (pid " + std::to_string(pid) + ")";
    }
    return out;
  }
  void Violation(const std::string& what) {
    if (violations_.empty() || violations_.back() != what) violations_.push_back(what);
  }

  fs::path marks_;
  size_t seen_ = 0;
  std::map<int, Mark> running_;
  std::vector<Mark> all_starts_, stops_;
  std::vector<std::string> violations_;
  int starts_ = 0;
};

// ---- The controller, as a child process of this binary ----

class ControllerProcess {
 public:
  ~ControllerProcess() { Stop(); }

  bool Start(const std::string& self, const fs::path& specs, const fs::path& log,
             const std::string& nomad_addr, const std::string& token, std::string* error) {
    std::vector<std::string> args = {self,          "controller",      "--specs", specs.string(),
                                     "--http-addr", "127.0.0.1:0"};
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      if (kv.rfind("NOMAD_", 0) != 0) env.push_back(kv);
    }
    env.push_back("NOMAD_ADDR=" + nomad_addr);
    if (!token.empty()) env.push_back("NOMAD_TOKEN=" + token);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);  // the demo blocks SIGINT/SIGTERM; the child must not
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    const int rc = posix_spawn(&pid_, self.c_str(), &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      *error = "cannot start the controller: " + std::string(std::strerror(rc));
      pid_ = 0;
      return false;
    }
    return true;
  }
  // SIGTERM, then SIGKILL after 10 s. Returns the exit code (or 128 + signal).
  int Stop() {
    if (pid_ <= 0) return 0;
    ::kill(pid_, SIGTERM);
    int status = 0;
    const auto deadline = SteadyClock::now() + 10s;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (SteadyClock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return false;
    }
    return true;
  }

 private:
  pid_t pid_ = 0;
};

// "status on 127.0.0.1:PORT" from the controller's log.
std::optional<std::string> StatusAddress(const fs::path& log) {
  std::ifstream in(log);
  std::string line;
  const std::string key = "/status on ";
  while (std::getline(in, line)) {
    const auto at = line.find(key);
    if (at == std::string::npos) continue;
    std::string addr = line.substr(at + key.size());
    addr = addr.substr(0, addr.find_first_of(" \r\n"));
    if (!addr.empty()) return addr;
  }
  return std::nullopt;
}

// ---- The demo ----

struct DemoSingleton {
  std::string name, mode;
  spec::Singleton spec;
  std::string job_id, lock_path;
  timing::Budget budget;
  std::unique_ptr<Workloads> workloads;
};

std::string SpecYaml(const std::string& name, const std::string& mode, const std::string& dc,
                     const std::string& self, const fs::path& workload) {
  return "apiVersion: nomad-singleton.io/v1alpha1\n"
         "kind: Singleton\n"
         "metadata: {name: " + name + ", namespace: default}\n"
         "spec:\n"
         "  datacenters: [" + dc + "]\n"
         "  standby: 1\n"
         "  lock:\n"
         "    mode: " + mode + "\n"
         "    ttl: 10s\n"
         "    delay: 1s\n"
         "    agent: {command: " + self + "}\n"
         // A cut-off client keeps its allocation until the controller stops it (step 3); the
         // lock agent still stops the workload before the lease can pass.
         "  failover: {stopOnClientAfter: 10m}\n"
         "  task:\n"
         "    driver: raw_exec\n"
         "    killTimeout: 2s\n"
         "    config:\n"
         "      command: /bin/sh\n"
         "      args: [\"" + workload.string() + "\", \"" + name + "\"]\n";
}

std::string WorkloadScript(const fs::path& dir) {
  const std::string mark = " $NOMAD_ALLOC_ID ${NOMAD_SINGLETON_EPOCH:-0} $(date +%s.%N) $$\" >> \"" +
                           dir.string() + "/marks-$1\"";
  return "#!/bin/sh\n"
         "# A demo workload: marks its start and stop, prints its fencing epoch, then idles.\n"
         "echo \"start" + mark + "\n"
         "echo \"$1: running in allocation $NOMAD_ALLOC_ID with fencing epoch "
         "$NOMAD_SINGLETON_EPOCH\"\n"
         "trap 'trap \"\" TERM INT; echo \"stop" + mark + "; exit 0' TERM INT\n"
         "while :; do sleep 0.1; done\n";
}

class Demo {
 public:
  Demo(std::string self, fs::path dir, bool keep_dir, nomad::NomadVersion version,
       const DemoHooks& hooks, std::stop_token stop)
      : self_(std::move(self)),
        dir_(std::move(dir)),
        keep_dir_(keep_dir),
        version_(version),
        hooks_(hooks),
        stop_(std::move(stop)) {}
  ~Demo() { Shutdown(); }

  int Run(bool keep_running);

 private:
  bool Setup();
  bool StartWorld();
  // Every singleton Ready, its holder's workload running (and, with `settled`, no extra
  // allocation left running).
  bool WaitReady(const std::string& intro, bool settled = false);
  bool CrashFailover(DemoSingleton& s);
  bool GracefulHandover(DemoSingleton& s);
  bool Duplicate(DemoSingleton& s);
  void Shutdown();

  // Polls every 50 ms until `step` returns true or `limit` passes; checks at-most-one each time.
  bool PollUntil(const std::string& what, std::chrono::seconds limit,
                 const std::function<bool()>& step);
  void CheckAll() {
    for (auto& s : singletons_) s.workloads->Poll();
  }
  std::optional<Json> Status() {
    auto body = hooks_.fetch_status(status_addr_);
    if (!body.ok()) return std::nullopt;
    Json doc = Json::parse(*body, nullptr, false);
    if (!doc.is_object()) return std::nullopt;
    return doc;
  }
  const Json* Find(const Json& doc, const std::string& name) {
    if (!doc.contains("singletons") || !doc["singletons"].is_array()) return nullptr;
    for (const Json& s : doc["singletons"]) {
      if (Str(s, "singleton") == "default/" + name) return &s;
    }
    return nullptr;
  }
  // The holder of the lock as the simulated server stores it ("" when free).
  std::string LockId(const DemoSingleton& s) {
    std::string id;
    server_->WithModel([&] {
      const nomad::Variable* v = server_->variables().Find("default", s.lock_path);
      if (v != nullptr && v->lock) id = v->lock->id;
    });
    return id;
  }
  std::string NodeOf(const std::string& alloc) {
    std::string node;
    server_->WithModel([&] { node = server_->cluster().NodeOfAlloc(alloc).value_or(""); });
    return node;
  }
  std::optional<nomad::Allocation> Alloc(const std::string& id) {
    std::optional<nomad::Allocation> a;
    server_->WithModel([&] { a = server_->cluster().GetAllocation(id); });
    return a;
  }
  bool ControllerStopped(const std::string& alloc) {
    bool stopped = false;
    server_->WithModel([&] { stopped = controller_stops_.count(alloc) > 0; });
    return stopped;
  }
  std::string NodeName(const std::string& id) {
    std::string name = Short(id);
    server_->WithModel([&] {
      if (auto n = server_->cluster().GetNode(id)) name = n->name;
    });
    return name;
  }

  const std::string self_;
  const fs::path dir_;
  const bool keep_dir_;
  const nomad::NomadVersion version_;
  const DemoHooks& hooks_;
  const std::stop_token stop_;
  Clock clock_;
  std::vector<DemoSingleton> singletons_;
  sim::ProcessDriver driver_;
  sim::ProgramRegistry programs_ = sim::ProgramRegistry::WithDefaults();
  std::unique_ptr<sim::SimServer> server_;
  std::string token_;
  ControllerProcess controller_;
  std::string status_addr_;
  std::vector<std::string> failures_;
  std::set<std::string> controller_stops_;  // allocation IDs; guarded by the model mutex
};

bool Demo::PollUntil(const std::string& what, std::chrono::seconds limit,
                     const std::function<bool()>& step) {
  const auto deadline = SteadyClock::now() + limit;
  while (SteadyClock::now() < deadline && !stop_.stop_requested()) {
    CheckAll();
    if (step()) return true;
    if (!controller_.Running()) {
      failures_.push_back(what + ": the controller exited (log: " +
                          (dir_ / "controller.log").string() + ")");
      return false;
    }
    std::this_thread::sleep_for(50ms);
  }
  failures_.push_back(stop_.stop_requested() ? what + ": interrupted"
                                    : what + ": not done within " +
                                          std::to_string(limit.count()) + " s");
  clock_.Say("FAILED: " + failures_.back());
  return false;
}

bool Demo::Setup() {
  fs::create_directories(dir_ / "specs");
  const fs::path workload = dir_ / "workload.sh";
  std::ofstream(workload) << WorkloadScript(dir_);
  fs::permissions(workload, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  // Each singleton has its own datacenter, so that a fault shown on one never touches the other.
  struct Shape {
    std::string name, mode, dc;
  };
  const std::vector<Shape> shapes = {{"web", "sidecar", "dc1"}, {"worker", "shim", "dc2"}};
  std::vector<spec::SourceFile> files;
  for (const auto& [name, mode, dc] : shapes) {
    const std::string yaml = SpecYaml(name, mode, dc, self_, workload);
    std::ofstream(dir_ / "specs" / (name + ".yaml")) << yaml;
    files.push_back({(dir_ / "specs" / (name + ".yaml")).string(), yaml});
  }
  auto loaded = spec::LoadSpecs(files, render::CheckSpec);
  for (const auto& e : loaded.errors) std::cerr << "demo: " << e.ToString() << "\n";
  if (!loaded.ok() || loaded.valid.size() != shapes.size()) return false;
  for (size_t i = 0; i < shapes.size(); ++i) {
    DemoSingleton s;
    s.name = shapes[i].name;
    s.mode = shapes[i].mode;
    s.spec = loaded.valid[i];
    auto rendered = render::Render(s.spec);
    if (!rendered.ok()) {
      std::cerr << "demo: " << rendered.status().ToString() << "\n";
      return false;
    }
    s.job_id = rendered->job.id;
    s.lock_path = rendered->job.meta.at(render::kMetaLockPath);
    s.budget = timing::Compute(timing::TimersOf(s.spec));
    s.workloads = std::make_unique<Workloads>(dir_ / ("marks-" + s.name));
    singletons_.push_back(std::move(s));
  }
  return true;
}

bool Demo::StartWorld() {
  driver_.RegisterWith(programs_);
  sim::SimServer::Options opts;
  opts.core.version = version_;
  opts.acl.enabled = true;
  opts.cluster.alloc_root = (dir_ / "allocs").string();
  // Nomad's server option heartbeat_grace (default 10s), raised so that a cut-off node is
  // declared down only after its lease has passed: step 3 then shows the controller, not Nomad,
  // stopping the cut-off holder.
  opts.cluster.heartbeat_grace = 30s;
  server_ = std::make_unique<sim::SimServer>(opts, programs_);
  if (base::Status st = server_->Start(); !st.ok()) {
    std::cerr << "demo: simulator: " << st.message() << "\n";
    return false;
  }
  // web: three nodes in dc1 (after a crash, the holder and a replacement standby still fit);
  // worker: two in dc2.
  server_->WithModel([&] {
    // Who stops what: the controller's POST /v1/allocation/:id/stop calls.
    server_->router().SetRequestObserver([this](const sim::Request& r) {
      const std::string prefix = "/v1/allocation/";
      if (r.method == "POST" && r.path.rfind(prefix, 0) == 0 && r.path.size() > prefix.size() + 5 &&
          r.path.compare(r.path.size() - 5, 5, "/stop") == 0) {
        controller_stops_.insert(r.path.substr(prefix.size(), r.path.size() - prefix.size() - 5));
      }
    });
    for (int i = 1; i <= 5; ++i) {
      server_->cluster().AddNode({"node-" + std::to_string(i), i <= 3 ? "dc1" : "dc2", "default"});
    }
  });
  token_ = opts.acl.management_secret;
  clock_.Say("simulated Nomad " + version_.ToString() + " at " + server_->Address() +
             " (ACLs on; nodes 1-3 in dc1 for web, 4-5 in dc2 for worker); allocations in " +
             (dir_ / "allocs").string());
  std::string error;
  const fs::path log = dir_ / "controller.log";
  if (!controller_.Start(self_, dir_ / "specs", log, server_->Address(), token_, &error)) {
    std::cerr << "demo: " << error << "\n";
    return false;
  }
  const auto deadline = SteadyClock::now() + 30s;
  while (SteadyClock::now() < deadline) {
    if (auto a = StatusAddress(log)) {
      status_addr_ = *a;
      break;
    }
    if (!controller_.Running()) break;
    std::this_thread::sleep_for(50ms);
  }
  if (status_addr_.empty()) {
    std::cerr << "demo: the controller did not start; its log (" << log << "):\n"
              << std::ifstream(log).rdbuf();
    return false;
  }
  clock_.Say("controller started (log: " + log.string() + "), serving /status and /metrics "
             "at http://" + status_addr_);
  return true;
}

bool Demo::WaitReady(const std::string& intro, bool settled) {
  clock_.Say(intro);
  std::map<std::string, std::string> last;
  return PollUntil("reaching Ready", 90s, [&] {
    auto doc = Status();
    if (!doc) return false;
    size_t ready = 0;
    for (auto& s : singletons_) {
      const Json* j = Find(*doc, s.name);
      std::string line = s.name + ": ";
      bool is_ready = false;
      if (j == nullptr) {
        line += "not loaded yet";
      } else {
        int running = 0;
        if (j->contains("allocations") && (*j)["allocations"].is_array()) {
          for (const Json& a : (*j)["allocations"]) {
            if (Str(a, "client_status") == "running") ++running;
          }
        }
        const Json& lock = Obj(*j, "lock");
        const std::string holder = Str(lock, "holder");
        const uint64_t epoch = Uint(lock, "epoch");
        bool ready_cond = false;
        if (j->contains("conditions") && (*j)["conditions"].is_array()) {
          for (const Json& c : (*j)["conditions"]) {
            if (Str(c, "type") == "Ready") ready_cond = c.contains("status") && c["status"] == true;
          }
        }
        auto workload = s.workloads->Current();
        is_ready = ready_cond && !holder.empty() && epoch > 0 && workload &&
                   workload->alloc == holder &&
                   (!settled || static_cast<uint64_t>(running) <= Uint(*j, "desired_allocations"));
        line += Obj(*j, "job").empty() ? "no job yet" : "job registered";
        line += ", " + std::to_string(running) + "/" + std::to_string(Uint(*j, "desired_allocations")) +
                " allocations running";
        if (!holder.empty()) line += ", holder " + Short(holder) + " epoch " + std::to_string(epoch);
        if (workload) line += ", workload running in " + Short(workload->alloc);
        line += is_ready ? ": Ready" : "";
      }
      if (last[s.name] != line) {
        clock_.Say("  " + line);
        last[s.name] = line;
      }
      if (is_ready) ++ready;
    }
    return ready == singletons_.size();
  });
}

bool Demo::CrashFailover(DemoSingleton& s) {
  auto holder = s.workloads->Current();
  if (!holder) {
    failures_.push_back("crash: no running workload of " + s.name);
    return false;
  }
  const std::string node = NodeOf(holder->alloc);
  const std::string old_lock = LockId(s);
  std::cout << "\n== 1. The node of " << s.name << "'s holder crashes\n";
  std::cout << "Predicted by `nomad-singleton render --explain`: the lock lapses 2 x TTL + delay "
               "after the last renewal; crash failover at most "
            << Secs(std::chrono::duration<double>(s.budget.crash_failover).count()) << ".\n";
  const double t0 = WallNow();
  server_->WithModel([&] { (void)server_->cluster().CrashNode(node); });
  clock_.Say("node " + NodeName(node) + " crashed: allocation " + Short(holder->alloc) +
             " (epoch " + std::to_string(holder->epoch) + ") and its workload are gone");
  bool freed = false, node_down = false, crashed_stopped = false;
  std::optional<double> held_again;  // wall time at which another holder had the lock
  std::optional<Mark> started;
  const bool ok = PollUntil("crash failover of " + s.name, 90s, [&] {
    const std::string lock = LockId(s);
    if (!freed && lock != old_lock) {
      freed = true;
      clock_.Say(lock.empty() ? "lock free: the old holder's lease lapsed"
                              : "lock lapsed and taken at once by the standby");
    }
    if (!held_again && !lock.empty() && lock != old_lock) held_again = WallNow();
    if (!crashed_stopped && ControllerStopped(holder->alloc)) {
      crashed_stopped = true;
      clock_.Say("controller stops allocation " + Short(holder->alloc) +
                 ": Nomad still lists it running, but the lock has passed (a duplicate)");
    }
    if (!node_down) {
      server_->WithModel([&] {
        if (auto n = server_->cluster().GetNode(node)) node_down = n->status == "down";
      });
      if (node_down) clock_.Say("Nomad marks node " + NodeName(node) + " down (missed heartbeats)");
    }
    if (!started && (started = s.workloads->StartAfter(t0, holder->alloc))) {
      clock_.Say("standby " + Short(started->alloc) + " acquired the lock: workload running, " +
                 "epoch " + std::to_string(started->epoch));
    }
    return started.has_value() && held_again.has_value();
  });
  if (!ok) return false;
  // The budget bounds the time without a lock holder (measured here to within one 50 ms poll);
  // the workload starts once its guard sees the new lease.
  const double without_holder = *held_again - t0;
  const double budget = std::chrono::duration<double>(s.budget.crash_failover).count();
  std::cout << "No lock holder for " << Secs(without_holder) << " (budget " << Secs(budget)
            << "); workload down for " << Secs(started->at - t0) << "; epoch " << holder->epoch
            << " -> " << started->epoch << ".\n";
  if (without_holder > budget) failures_.push_back("crash failover took longer than its budget");
  if (started->epoch <= holder->epoch) failures_.push_back("the fencing epoch did not grow");
  return without_holder <= budget && started->epoch > holder->epoch;
}

bool Demo::GracefulHandover(DemoSingleton& s) {
  auto holder = s.workloads->Current();
  if (!holder) {
    failures_.push_back("handover: no running workload of " + s.name);
    return false;
  }
  std::cout << "\n== 2. " << s.name << "'s holder is stopped gracefully (`nomad alloc stop`)\n";
  std::cout << "Predicted: handover at most "
            << Secs(std::chrono::duration<double>(s.budget.graceful_handover).count())
            << " (the holder stops its workload, releases; the standby acquires at once).\n";
  const double t0 = WallNow();
  server_->WithModel(
      [&] { (void)server_->cluster().StopAllocation(holder->alloc, false, std::nullopt); });
  clock_.Say("allocation " + Short(holder->alloc) + " asked to stop");
  std::optional<Mark> stopped, started;
  const bool ok = PollUntil("graceful handover of " + s.name, 60s, [&] {
    if (!stopped && (stopped = s.workloads->StopOf(holder->alloc))) {
      clock_.Say("old workload stopped; its lock agent releases the lock");
    }
    if (!started && (started = s.workloads->StartAfter(t0, holder->alloc))) {
      clock_.Say("standby " + Short(started->alloc) +
                 " acquired the lock: workload running, epoch " + std::to_string(started->epoch));
    }
    return stopped && started;
  });
  if (!ok) return false;
  const double gap = started->at - stopped->at;
  const double budget = std::chrono::duration<double>(s.budget.graceful_handover).count();
  std::cout << "No workload for " << Secs(gap) << " between the old stop and the new start (budget "
            << Secs(budget) << ").\n";
  if (gap > budget) failures_.push_back("graceful handover took longer than its budget");
  return started->at >= stopped->at && gap <= budget;
}

bool Demo::Duplicate(DemoSingleton& s) {
  auto holder = s.workloads->Current();
  if (!holder) {
    failures_.push_back("duplicate: no running workload of " + s.name);
    return false;
  }
  const std::string node = NodeOf(holder->alloc);
  std::cout << "\n== 3. " << s.name << "'s holder is cut off from the servers (partition)\n";
  std::cout << "Its client keeps the allocation running. Its lock agent cannot renew and stops "
               "the workload before the lease can pass; the standby then takes the lock, and the "
               "controller stops the cut-off allocation as a duplicate.\n";
  const double t0 = WallNow();
  server_->WithModel([&] { (void)server_->cluster().Partition(node); });
  clock_.Say("node " + NodeName(node) + " partitioned (allocation " + Short(holder->alloc) + ")");
  std::optional<Mark> stopped, started;
  bool stop_asked = false;
  const bool ok = PollUntil("duplicate of " + s.name, 90s, [&] {
    if (!stopped && (stopped = s.workloads->StopOf(holder->alloc))) {
      clock_.Say("cut-off holder's agent gave up: workload stopped (no renewal succeeded)");
    }
    if (!started && (started = s.workloads->StartAfter(t0, holder->alloc))) {
      clock_.Say("standby " + Short(started->alloc) +
                 " acquired the lock: workload running, epoch " + std::to_string(started->epoch));
    }
    if (!stop_asked && ControllerStopped(holder->alloc)) {
      stop_asked = true;
      clock_.Say("controller stops allocation " + Short(holder->alloc) +
                 ": Nomad still has it running, but the lock has passed (a duplicate)");
    }
    return stopped && started && stop_asked;
  });
  server_->WithModel([&] { (void)server_->cluster().Heal(node); });
  clock_.Say("partition healed: the client learns its allocation is to stop");
  if (!ok) return false;
  std::cout << "The old workload stopped " << Secs(started->at - stopped->at)
            << " before the new one started.\n";
  return true;
}

void Demo::Shutdown() {
  controller_.Stop();
  if (server_) server_->Stop();
  server_.reset();
}

int Demo::Run(bool keep_running) {
  if (!Setup() || !StartWorld()) return kExitInvalid;
  bool ok = WaitReady("waiting for every singleton to be Ready with a holder and an epoch ...");
  if (ok) {
    std::cout << "\n";
    hooks_.print_status(status_addr_);
    ok = CrashFailover(singletons_[0]) &&
         WaitReady("waiting until the controller sees web's new holder ...") &&
         GracefulHandover(singletons_[0]) && Duplicate(singletons_[1]) &&
         WaitReady("waiting until every singleton is Ready again, without extra allocations ...",
                   /*settled=*/true);
  }
  CheckAll();
  std::cout << "\n";
  if (!status_addr_.empty()) hooks_.print_status(status_addr_);
  std::cout << "\nController: http://" << status_addr_ << "/status and http://" << status_addr_
            << "/metrics; controller log: " << (dir_ / "controller.log").string()
            << (keep_dir_ ? "" : " (removed at exit unless the demo fails; keep it with --work-dir)")
            << "\n";
  bool overlap = false;
  for (const auto& s : singletons_) {
    for (const auto& v : s.workloads->violations()) {
      std::cout << "AT-MOST-ONE BROKEN (" << s.name << "): " << v << "\n";
      overlap = true;
    }
  }
  int starts = 0;
  for (const auto& s : singletons_) starts += s.workloads->starts();
  if (!overlap) {
    std::cout << "At most one workload per singleton at every instant: yes (" << starts
              << " workload starts, checked every 50 ms and at every start).\n";
  }
  for (const auto& f : failures_) std::cout << "FAILED: " << f << "\n";
  const bool passed = ok && !overlap && failures_.empty();
  if (keep_running) {
    std::cout << "\nStill running (Ctrl-C stops): NOMAD_ADDR=" << server_->Address()
              << " NOMAD_TOKEN=" << token_ << "\n  nomad-singleton status --addr "
              << status_addr_ << "\n"
              << std::flush;
    while (!stop_.stop_requested()) std::this_thread::sleep_for(100ms);
  }
  Shutdown();
  return passed ? kExitOk : kExitInvalid;
}

}  // namespace

int RunDemo(const DemoConfig& config, const DemoHooks& hooks, std::stop_token stop) {
  std::error_code ec;
  const fs::path self = fs::canonical("/proc/self/exe", ec);
  if (ec) {
    std::cerr << "demo: cannot find this binary: " << ec.message() << "\n";
    return kExitInvalid;
  }
  const bool own_dir = !config.work_dir.has_value();
  const fs::path dir = own_dir ? fs::temp_directory_path() /
                                     ("nomad-singleton-demo-" + std::to_string(::getpid()))
                               : fs::path(*config.work_dir);
  int rc = kExitInvalid;
  {
    Demo demo(self.string(), dir, !own_dir || config.keep_running, config.version, hooks,
              std::move(stop));
    rc = demo.Run(config.keep_running);
  }
  if (own_dir && rc == kExitOk && !config.keep_running) fs::remove_all(dir, ec);
  if (rc != kExitOk) std::cerr << "demo: failed; specs, marks and logs are in " << dir << "\n";
  return rc;
}

}  // namespace nsg::app
