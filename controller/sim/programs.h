// Task programs: what "runs" inside a simulated task.
//
// The client-side alloc runner of the Nomad model (cluster.h) starts one TaskProgram instance per
// task start (every restart is a new instance) and drives it through a TaskContext. A program is
// pure model code: it reads time and schedules work only through its context, whose timers run on
// the node's (possibly skewed) client clock and die with the instance. Programs are pluggable: a
// ProgramRegistry maps a task driver name to a factory, so a harness can make "raw_exec" run the
// project's real lock agent in-process, and process_driver.h maps a driver to real local processes.
//
// Built-in programs (registered by ProgramRegistry::WithDefaults()):
//   * "mock_driver" — Nomad's mock driver subset, configured from Task.Config:
//       run_for     Go duration string ("10s") or integer ns; how long until it exits on its own
//                   (absent or 0: runs until killed)
//       exit_code   exit code when run_for ends (default 0)
//       exit_signal signal reported with that exit (default 0)
//       kill_after  how long the program takes to exit after the kill signal (default 0: at once);
//                   longer than KillTimeout means the client force-kills it
//       start_error a non-empty string: the task fails to start ("Driver Failure")
//   * everything else — the default program: runs until it is signalled, then exits at once.
//
// An in-process program (e.g. the project's lock-agent core) learns everything from its TaskSpec
// (env with NOMAD_ADDR/NOMAD_TOKEN, alloc and node IDs), talks to the simulated API through
// whatever transport the harness gives its factory (Cluster::IsReachable(spec.node_id) tells the
// harness whether the node can reach the servers), is told to stop with Signal(), and reports its
// end with TaskContext::Exit(). Cluster::ProgramHistory() and SetProgramListener() record when each
// instance runs, for "at most one running" checks.
//
// Lifetime: the runner owns each TaskProgram (std::unique_ptr). The TaskContext passed to Start()
// stays valid until the instance ends (it calls Exit(), or the runner calls Kill()); after that the
// runner never calls the program again and drops it. Single-threaded, like the rest of the model.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "controller/base/clock.h"
#include "controller/base/duration.h"
#include "controller/nomad/job.h"

namespace nsg::sim {

using base::Duration;
using base::TimePoint;

// Signal numbers as on Linux (reported in TaskEvent.Signal).
inline constexpr int kSigInt = 2;
inline constexpr int kSigKill = 9;
inline constexpr int kSigTerm = 15;
// Maps "SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2" (or "") to its
// number; "" and unknown names give SIGINT (Nomad's default kill signal).
int SignalNumber(const std::string& name);

// Everything a program learns about the task it runs as.
struct TaskSpec {
  std::string namespace_;
  std::string job_id;
  std::string group;
  std::string alloc_id;
  std::string alloc_name;  // "job.group[idx]"
  std::string node_id;
  std::string node_name;
  nomad::Task task;  // the task as the alloc's job version defines it (Config is raw JSON text)
  // The task environment: Task.Env plus NOMAD_ADDR, NOMAD_TOKEN (only with Identity.Env),
  // NOMAD_ALLOC_ID, NOMAD_ALLOC_NAME, NOMAD_ALLOC_INDEX, NOMAD_NAMESPACE, NOMAD_JOB_ID,
  // NOMAD_JOB_NAME, NOMAD_GROUP_NAME, NOMAD_TASK_NAME, NOMAD_NODE_ID, NOMAD_DC, NOMAD_REGION,
  // NOMAD_ALLOC_DIR, NOMAD_TASK_DIR, NOMAD_SECRETS_DIR, and NOMAD_UNIX_ADDR with Identity.Env.
  std::map<std::string, std::string> env;
  // Directory paths (the model only names them; process_driver creates them).
  std::string alloc_dir;    // <root>/<alloc_id>/alloc
  std::string task_dir;     // <root>/<alloc_id>/<task>/local
  std::string secrets_dir;  // <root>/<alloc_id>/<task>/secrets
  int attempt = 0;          // 0 for the first start, +1 for every restart of this task
};

// The runner's side of one program instance. Valid from Start() until the instance ends.
class TaskContext {
 public:
  using TimerId = uint64_t;
  virtual ~TaskContext() = default;
  virtual const TaskSpec& Spec() const = 0;
  // The node's client clock (runs at the node's rate, see Cluster::SkewClock).
  virtual TimePoint LocalNow() const = 0;
  // The model's global virtual time (what a test observer sees).
  virtual TimePoint GlobalNow() const = 0;
  // A timer on the client clock; cancelled automatically when the instance ends.
  virtual TimerId After(Duration local_delay, std::string label, std::function<void()> fn) = 0;
  virtual void Cancel(TimerId id) = 0;
  // The program ends by itself. Call at most once; the context is invalid afterwards (do not touch
  // it after this returns). `signal` != 0 means "terminated by that signal".
  virtual void Exit(int exit_code, int signal = 0) = 0;
  // A deterministic random source (the model's seeded RNG).
  virtual uint64_t Uniform(uint64_t lo, uint64_t hi) = 0;
};

class TaskProgram {
 public:
  virtual ~TaskProgram() = default;
  // The task starts. Return a non-empty error to fail the start ("Driver Failure"; the context is
  // dropped and the restart policy applies as for a failed exit).
  virtual std::string Start(TaskContext& ctx) = 0;
  // The client sends the task's kill signal (stop, sibling death, ...). The program should exit
  // (ctx.Exit) now or later; if it has not exited after KillTimeout, Kill() follows.
  virtual void Signal(int signal) = 0;
  // Forced end (SIGKILL after the kill timeout, node crash): stop at once. The runner records the
  // exit; the program must not call ctx.Exit from here, and is never called again.
  virtual void Kill() = 0;
  // A short description for the state dump (e.g. "mock_driver run_for=10s", "pid 1234").
  virtual std::string Describe() const { return ""; }
};

using ProgramFactory = std::function<std::unique_ptr<TaskProgram>(const TaskSpec& spec)>;

// Driver name → program factory. Copyable value; single-threaded.
class ProgramRegistry {
 public:
  // An empty registry: every driver gets the default program.
  ProgramRegistry() = default;
  // The registry with the built-in "mock_driver".
  static ProgramRegistry WithDefaults();

  void Register(const std::string& driver, ProgramFactory factory);
  // The factory for spec.task.driver, or the default program. Never null.
  std::unique_ptr<TaskProgram> Create(const TaskSpec& spec) const;

 private:
  std::map<std::string, ProgramFactory> factories_;
};

// Built-in programs, usable directly from factories.
// Runs until signalled, then exits at once, reporting exit code 0 and the received signal (like a
// process with default signal dispositions, as Nomad's executor reports it).
std::unique_ptr<TaskProgram> MakeRunUntilKilledProgram();

struct ScriptedProgramOptions {
  std::optional<Duration> run_for;  // nullopt or 0: until killed
  int exit_code = 0;
  int exit_signal = 0;
  Duration kill_after{0};  // delay between the kill signal and the exit
  std::string start_error;
};
std::unique_ptr<TaskProgram> MakeScriptedProgram(ScriptedProgramOptions opts);
// Parses mock_driver's Task.Config (raw JSON) into options; unknown keys are ignored, malformed
// values fall back to defaults.
ScriptedProgramOptions ParseMockDriverConfig(const std::string& config_json);

}  // namespace nsg::sim
