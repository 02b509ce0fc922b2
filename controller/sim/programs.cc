#include "controller/sim/programs.h"

#include <nlohmann/json.hpp>

#include <utility>

namespace nsg::sim {

int SignalNumber(const std::string& name) {
  static const std::map<std::string, int> kSignals = {
      {"SIGHUP", 1},   {"SIGINT", 2},    {"SIGQUIT", 3},  {"SIGKILL", 9},
      {"SIGUSR1", 10}, {"SIGUSR2", 12},  {"SIGTERM", 15},
  };
  auto it = kSignals.find(name);
  return it == kSignals.end() ? kSigInt : it->second;
}

namespace {

class RunUntilKilledProgram final : public TaskProgram {
 public:
  std::string Start(TaskContext& ctx) override {
    ctx_ = &ctx;
    return "";
  }
  void Signal(int signal) override {
    TaskContext* ctx = ctx_;
    ctx_ = nullptr;
    if (ctx != nullptr) ctx->Exit(0, signal);
  }
  void Kill() override { ctx_ = nullptr; }
  std::string Describe() const override { return "run until killed"; }

 private:
  TaskContext* ctx_ = nullptr;  // valid while running
};

class ScriptedProgram final : public TaskProgram {
 public:
  explicit ScriptedProgram(ScriptedProgramOptions opts) : opts_(std::move(opts)) {}

  std::string Start(TaskContext& ctx) override {
    if (!opts_.start_error.empty()) return opts_.start_error;
    ctx_ = &ctx;
    if (opts_.run_for && opts_.run_for->count() > 0) {
      ctx.After(*opts_.run_for, "mock_driver run_for", [this] {
        TaskContext* c = ctx_;
        ctx_ = nullptr;
        if (c != nullptr) c->Exit(opts_.exit_code, opts_.exit_signal);
      });
    }
    return "";
  }
  void Signal(int signal) override {
    if (ctx_ == nullptr || signalled_) return;
    signalled_ = true;
    auto exit = [this, signal] {
      TaskContext* c = ctx_;
      ctx_ = nullptr;
      if (c != nullptr) c->Exit(0, signal);
    };
    if (opts_.kill_after.count() > 0) {
      ctx_->After(opts_.kill_after, "mock_driver kill_after", exit);
    } else {
      exit();
    }
  }
  void Kill() override { ctx_ = nullptr; }
  std::string Describe() const override {
    std::string d = "mock_driver";
    if (opts_.run_for) d += " run_for=" + base::FormatDuration(*opts_.run_for);
    if (opts_.exit_code != 0) d += " exit_code=" + std::to_string(opts_.exit_code);
    if (opts_.kill_after.count() > 0) d += " kill_after=" + base::FormatDuration(opts_.kill_after);
    return d;
  }

 private:
  const ScriptedProgramOptions opts_;
  TaskContext* ctx_ = nullptr;  // valid while running
  bool signalled_ = false;
};

// A duration in mock_driver config: a Go duration string or integer nanoseconds.
std::optional<Duration> JsonDuration(const nlohmann::json& v) {
  if (v.is_number_integer()) return Duration(v.get<int64_t>());
  if (v.is_string()) {
    auto d = base::ParseDuration(v.get<std::string>());
    if (d.ok()) return *d;
  }
  return std::nullopt;
}

}  // namespace

std::unique_ptr<TaskProgram> MakeRunUntilKilledProgram() {
  return std::make_unique<RunUntilKilledProgram>();
}

std::unique_ptr<TaskProgram> MakeScriptedProgram(ScriptedProgramOptions opts) {
  return std::make_unique<ScriptedProgram>(std::move(opts));
}

ScriptedProgramOptions ParseMockDriverConfig(const std::string& config_json) {
  ScriptedProgramOptions o;
  nlohmann::json j = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return o;
  if (auto it = j.find("run_for"); it != j.end()) o.run_for = JsonDuration(*it);
  if (auto it = j.find("exit_code"); it != j.end() && it->is_number_integer()) {
    o.exit_code = it->get<int>();
  }
  if (auto it = j.find("exit_signal"); it != j.end() && it->is_number_integer()) {
    o.exit_signal = it->get<int>();
  }
  if (auto it = j.find("kill_after"); it != j.end()) {
    o.kill_after = JsonDuration(*it).value_or(Duration(0));
  }
  if (auto it = j.find("start_error"); it != j.end() && it->is_string()) {
    o.start_error = it->get<std::string>();
  }
  return o;
}

ProgramRegistry ProgramRegistry::WithDefaults() {
  ProgramRegistry r;
  r.Register("mock_driver", [](const TaskSpec& spec) {
    return MakeScriptedProgram(ParseMockDriverConfig(spec.task.config));
  });
  return r;
}

void ProgramRegistry::Register(const std::string& driver, ProgramFactory factory) {
  factories_[driver] = std::move(factory);
}

std::unique_ptr<TaskProgram> ProgramRegistry::Create(const TaskSpec& spec) const {
  auto it = factories_.find(spec.task.driver);
  if (it != factories_.end()) {
    std::unique_ptr<TaskProgram> p = it->second(spec);
    if (p) return p;
  }
  return MakeRunUntilKilledProgram();
}

}  // namespace nsg::sim
