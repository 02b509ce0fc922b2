#include "controller/controller_io/leader_elector.h"

#include <algorithm>
#include <csignal>
#include <functional>
#include <optional>
#include <utility>

#include "controller/lock_io/lock_runner.h"
#include "controller/spec/loader.h"

namespace nsg::io {
namespace {

using base::Duration;
using base::Result;
using base::Status;
using base::TimePoint;

// After a term that ended in a permanent error (Nomad answered 400, or a bad answer), the next
// one waits this long, doubling up to the TTL: such an error repeats until someone fixes the
// configuration or the cluster, and a log line per second is enough to say so.
constexpr Duration kFailedTermBackoff = std::chrono::seconds(1);

std::function<void(const std::string&)> PrefixedLog(std::function<void(const std::string&)> log) {
  if (!log) return DefaultLockLog("leader election");
  return [log = std::move(log)](const std::string& line) { log("leader election: " + line); };
}

}  // namespace

// The holder of one term: "the worker side runs". Start and Stop/Kill map to the elector's
// callbacks; the holder is dead as soon as on_stopped_leading has returned. Called only from the
// runner's Run() thread, which is the elector's.
class LeaderElector::TermHolder final : public RuntimeHolder {
 public:
  explicit TermHolder(LeaderElector& elector) : elector_(elector) {}

  void Start(const lock::Grant& grant, TimePoint) override { elector_.BeginLeading(grant.epoch); }
  void Extend(TimePoint) override {}
  void Stop(int) override { End(); }
  void Kill() override { End(); }
  // Once stopped, report at once (the runner polls before its next timer).
  std::optional<TimePoint> next_check() const override {
    return stopped_ ? std::optional<TimePoint>(TimePoint{}) : std::nullopt;
  }
  std::optional<int> Poll(TimePoint) override {
    return stopped_ ? std::optional<int>(0) : std::nullopt;
  }

 private:
  void End() {
    if (stopped_) return;
    stopped_ = true;
    elector_.EndLeading();
  }

  LeaderElector& elector_;
  bool stopped_ = false;
};

lock::Config LeaderElector::AgentConfig(const LeaderElectorOptions& o) {
  lock::Config c = o.agent;
  c.path = o.path;
  c.namespace_ = o.namespace_;
  c.ttl = o.ttl;
  c.delay = o.lock_delay;
  c.give_up = o.give_up > Duration(0) ? o.give_up : o.ttl;
  c.kill_timeout = o.stop_timeout;
  c.guard_poll = Duration(0);  // no guard: the elector stops the worker side itself
  c.exit_after_acquire = false;
  c.lock_id.clear();
  c.holder_items = o.holder_items;
  return c;
}

Result<std::unique_ptr<LeaderElector>> LeaderElector::Create(LeaderElectorOptions options,
                                                             nomad::NomadApi& api,
                                                             const base::Clock& clock) {
  if (auto why = spec::VariablePathError(options.path)) {
    return Status::InvalidSpec("leader election: lock path \"" + options.path + "\" " + *why);
  }
  if (!options.on_started_leading || !options.on_stopped_leading) {
    return Status::InvalidSpec(
        "leader election: on_started_leading and on_stopped_leading are both required");
  }
  if (Status st = lock::Validate(AgentConfig(options)); !st.ok()) {
    return Status::InvalidSpec("leader election: " + st.message());
  }
  options.log = PrefixedLog(std::move(options.log));
  return std::unique_ptr<LeaderElector>(new LeaderElector(std::move(options), api, clock));
}

LeaderElector::LeaderElector(LeaderElectorOptions options, nomad::NomadApi& api,
                             const base::Clock& clock)
    : opts_(std::move(options)), api_(api), clock_(clock) {}

LeaderElector::~LeaderElector() {
  RequestStop();
  Wait();
  runner_.reset();  // joins the last term's API calls in flight
}

void LeaderElector::Start() {
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
}

void LeaderElector::Wait() {
  if (thread_.joinable()) thread_.join();
}

void LeaderElector::RequestStop() {
  std::lock_guard<std::mutex> l(mu_);
  if (!stop_requested_) {
    stop_requested_ = true;
    if (current_ != nullptr) current_->RequestStop(SIGTERM);
  }
  cv_.notify_all();
}

void LeaderElector::Run(std::stop_token stop) {
  std::stop_callback on_stop(stop, [this] { RequestStop(); });
  Duration backoff{0};
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      if (backoff > Duration(0)) cv_.wait_for(l, backoff, [this] { return stop_requested_; });
      if (stop_requested_) break;
    }
    // The previous term's API calls in flight finish first (bounded by the API's timeout); the
    // new term must not share a worker with them.
    runner_.reset();
    LockRunnerOptions ro;
    ro.config = AgentConfig(opts_);
    // A fresh lock ID per term: re-acquiring our last term's lock under its old ID would succeed
    // without restarting the server's TTL timer, while the new lease would count from now.
    ro.config.lock_id = RandomLockId();
    ro.config.seed = std::hash<std::string>{}(ro.config.lock_id) | 1;  // replicas jitter apart
    ro.mode = LockMode::kInProcess;
    ro.log = opts_.log;
    auto runner = LockRunner::Create(std::move(ro), std::make_unique<TermHolder>(*this), api_,
                                     clock_);
    if (!runner.ok()) {  // Create() validated the same configuration: a bug
      opts_.log("cannot start a term: " + runner.status().ToString());
      break;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_requested_) break;
      runner_ = std::move(runner).value();
      current_ = runner_.get();
    }
    const int code = runner_->Run();
    {
      std::lock_guard<std::mutex> l(mu_);
      current_ = nullptr;
      if (stop_requested_) break;
    }
    if (code == lock::kExitFailed) {
      backoff =
          std::clamp(backoff * 2, kFailedTermBackoff, std::max(opts_.ttl, kFailedTermBackoff));
      opts_.log("campaigning again in " + base::FormatDuration(backoff));
    } else {
      backoff = Duration(0);
      opts_.log("campaigning again");
    }
  }
  done_.store(true);
}

void LeaderElector::BeginLeading(uint64_t epoch) {
  epoch_.store(epoch);
  leading_.store(true);  // the runner has logged "lock acquired: epoch N"
  opts_.on_started_leading(epoch);
}

void LeaderElector::EndLeading() {
  if (!leading_.exchange(false)) return;
  opts_.log("stepping down: stopping the worker side");
  const TimePoint start = clock_.Now();
  opts_.on_stopped_leading();
  const Duration took = clock_.Now() - start;
  if (took > opts_.stop_timeout) {
    // The timer rule counts on K: past it, the lock may pass while the old worker side still
    // runs (writes stay fenced by EnforceIndex).
    opts_.log("on_stopped_leading took " + base::FormatDuration(took) +
              ", longer than the stop timeout " + base::FormatDuration(opts_.stop_timeout));
  }
}

}  // namespace nsg::io
