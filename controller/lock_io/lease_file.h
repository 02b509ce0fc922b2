// Lease files: how the lock agent and the guard in the workload task talk through
// $NOMAD_ALLOC_DIR/singleton/ (issue 6; docs/lock-agent.md).
//
//   lease      written by the lock agent: the lease state (held / stopping / lost), epoch and the
//              deadline after which the guard must kill the workload
//   workload   written by the guard: what the workload is doing (waiting, starting, running,
//              stopping, exited + code); the agent waits on it before it releases the lock
//   handoff    written by `lock --acquire-only` (mode 0600): the lock ID and acquire time for the
//              split-mode heartbeat task
//   epoch      the fencing epoch as plain decimal text, for the workload to read
//
// Every deadline is on CLOCK_BOOTTIME (BootClock), never wall time: it is shared by every process
// on the host, keeps counting through suspend, and an NTP step cannot move it. Files carry the
// host's boot ID, so a file from an earlier boot never validates. Each file is a few "key value"
// lines after a magic line and ends with a checksum line; it is written atomically (temp file,
// write, fsync, rename, fsync of the directory), so a reader sees the old or the new file, never
// half of one. Readers validate everything and reject what they do not understand.
//
// Pure functions over paths; safe for concurrent use (the rename is the only synchronization).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "controller/base/clock.h"
#include "controller/base/status.h"

namespace nsg::io {

using base::Duration;
using base::Result;
using base::Status;
using base::TimePoint;

// CLOCK_BOOTTIME as a base::Clock. Safe for concurrent use.
class BootClock final : public base::Clock {
 public:
  TimePoint Now() const override;
};

// The kernel's boot ID (/proc/sys/kernel/random/boot_id), or "" when it cannot be read.
std::string BootId();

// File names inside the state directory.
inline constexpr char kLeaseFile[] = "lease";
inline constexpr char kWorkloadFile[] = "workload";
inline constexpr char kHandoffFile[] = "handoff";
inline constexpr char kEpochFile[] = "epoch";
inline constexpr char kGuardFile[] = "guard";
// The state directory under $NOMAD_ALLOC_DIR.
inline constexpr char kStateDirName[] = "singleton";

enum class LeaseState { kHeld, kStopping, kLost };
std::string_view LeaseStateName(LeaseState s);

struct Lease {
  LeaseState state = LeaseState::kHeld;
  uint64_t epoch = 0;
  std::string holder;      // the allocation ID of the lock agent
  std::string path;        // the lock variable
  TimePoint deadline{};    // BootClock: kill the workload at this instant
  Duration kill_timeout{0};  // TERM → KILL for the guard
  std::string boot_id;     // filled in by WriteLease when empty
  friend bool operator==(const Lease&, const Lease&) = default;
};

enum class WorkloadPhase { kWaiting, kStarting, kRunning, kStopping, kExited };
std::string_view WorkloadPhaseName(WorkloadPhase p);

struct WorkloadState {
  WorkloadPhase phase = WorkloadPhase::kWaiting;
  uint64_t epoch = 0;
  int64_t pid = 0;        // the workload's pid in the guard's PID namespace (0 when none)
  int64_t guard_pid = 0;
  int exit_code = 0;      // kExited only
  std::string boot_id;
  friend bool operator==(const WorkloadState&, const WorkloadState&) = default;
};

struct Handoff {
  std::string path;
  std::string namespace_;
  std::string lock_id;
  uint64_t epoch = 0;
  TimePoint acquired_at{};  // BootClock: the acquire's send time (G counts from here)
  std::string boot_id;
  friend bool operator==(const Handoff&, const Handoff&) = default;
};

// Writes `content` to `path` atomically with `mode` (temp file in the same directory, fsync,
// rename, fsync of the directory). kUnavailable on any I/O error, naming the step.
Status WriteFileAtomic(const std::string& path, const std::string& content, unsigned mode = 0644);
// Whether `path` could be written by WriteFileAtomic now: writes `bytes` bytes to its temporary
// file, fsyncs and removes it (kUnavailable naming the step, e.g. ENOSPC on a full disk).
Status ProbeWritable(const std::string& path, size_t bytes);
// Reads a whole (small) file. kNotFound when it does not exist; kUnavailable on other errors.
Result<std::string> ReadSmallFile(const std::string& path);
// mkdir -p. kUnavailable on error.
Status MakeDirs(const std::string& path, unsigned mode = 0755);

// Encode/decode. Decoding fails with kInvalidSpec for anything malformed: a wrong magic line, a
// missing or duplicate key, a bad number, a bad checksum.
std::string EncodeLease(const Lease& l);
Result<Lease> DecodeLease(const std::string& text);
std::string EncodeWorkloadState(const WorkloadState& w);
Result<WorkloadState> DecodeWorkloadState(const std::string& text);
std::string EncodeHandoff(const Handoff& h);
Result<Handoff> DecodeHandoff(const std::string& text);

// Write with the current boot ID filled in (when empty) and atomically.
Status WriteLease(const std::string& path, Lease l);
Status WriteWorkloadState(const std::string& path, WorkloadState w);
Status WriteHandoff(const std::string& path, Handoff h);

// Read and validate. kNotFound: no file; kInvalidSpec: malformed, or written in another boot.
Result<Lease> ReadLease(const std::string& path);
Result<WorkloadState> ReadWorkloadState(const std::string& path);
Result<Handoff> ReadHandoff(const std::string& path);

// Whether `l` lets a workload run at `now`: state held and now < deadline.
bool LeaseAllowsRunning(const Lease& l, TimePoint now);

}  // namespace nsg::io
