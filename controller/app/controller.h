// The controller program (`nomad-singleton controller` once cmd/ has parsed its flags): the
// reconcile loop (ARCHITECTURE.md §2), wired from the tested parts:
//
//   spec dir ──rescan──► specs_ (Desired per key) ──changed keys──┐
//   Nomad lists ──Reset──► ClusterView ◄──Apply── event stream    ├──► WorkQueue ──► workers:
//                                     └──────touched keys─────────┘     Reconciler.Reconcile
//
// Threads: the caller's thread runs the spec rescans, the periodic resync and the namespace check;
// one informer thread reads the Nomad server's version (GET /v1/agent/self; below 1.10.2 the
// controller stops with exit 1 unless --allow-unsupported-nomad), makes the first full sync
// (lists → ClusterView::Reset) and then follows the event stream (a gap re-lists); one lock
// watcher thread follows the lock variables with a blocking list where Nomad has no Variable
// event topic (before 2.0.0); N worker threads take keys from the WorkQueue.
//
// Version and namespaces are read again before every event-stream connection: Nomad resolves
// `namespace=*` once, when the stream opens (nomad/event_endpoint.go validateACL), so a namespace
// created later delivers nothing on that stream. When a spec or the view names a namespace the
// open stream does not cover and GET /v1/namespaces now lists it, the stream is re-opened
// (resuming at the last index; the gap re-list catches up). Workers start only after the first
// full sync, so nothing is planned against an empty view. /metrics, /healthz, /readyz and /status
// are served by io::StatusServer.
//
// RunController builds the I/O (transport, Nomad clients, metrics, the git source) and runs the
// Controller (controller.cc) until `stop`; it owns all of them. cmd/controller_command.cc parses
// the flags into a ControllerConfig and an io::ClientConfig and calls it.
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include <spdlog/logger.h>

#include "controller/app/controller_git.h"
#include "controller/base/duration.h"
#include "controller/controller_io/leader_elector.h"
#include "controller/nomad_client/client_config.h"

namespace nsg::app {

using namespace std::chrono_literals;

// ---- Defaults (ARCHITECTURE.md §4.1) ----
inline constexpr char kDefaultHttpAddr[] = "127.0.0.1:9464";
// A full re-list and a wake of every key; catches anything the stream could have missed.
inline constexpr base::Duration kDefaultResyncPeriod = 5min;
// The spec directory is watched with inotify (a change is acted on ~100 ms after the last write);
// a full re-read this often is the safety net.
inline constexpr base::Duration kDefaultSpecRescan = 30s;
inline constexpr int kDefaultWorkers = 2;
// glibc's allocator keeps what the program frees: one arena per thread that ever allocated (up to
// 8 per core) holding the garbage of decoded frames and register bodies. At 10k singletons that
// was 1.2 GB of RSS for 0.4 GB in use (issue 17). Two arenas and a trim this often return it.
// A trim walks the free chunks under each arena's lock: 85-270 ms for a synthetic 800 MB heap
// with millions of free chunks, so not much more often, and only while the work queue is empty:
// a stop that enforcement decides is not kept waiting behind a trim.
inline constexpr int kMallocArenas = 2;
// Allocations of at least this size get their own mapping, returned to the system when freed.
// glibc raises its mmap threshold each time such a block is freed (up to 32 MiB), after which a
// relist's big blocks (the response bodies, the decoded lists) come from the arenas and their
// pages stay. Fixing the threshold at 1 MiB: RSS after one resync at 10k singletons 341 -> 229
// MiB (docs/benchmarks.md, issue 17).
inline constexpr int kMallocMmapThreshold = 1 << 20;
inline constexpr base::Duration kMemoryTrimPeriod = 10s;

struct ControllerHooks {
  // Called once the HTTP server listens, with its bound "host:port".
  std::function<void(const std::string& http_addr)> on_listening;
  // Called after on_listening, just before the first read of the specs (tests: what the HTTP
  // endpoints answer while the specs load).
  std::function<void()> before_first_spec_read;
};

struct ControllerConfig {
  std::string specs_dir;
  std::string http_addr = kDefaultHttpAddr;
  std::string http_token_file;  // "": /status is open
  base::Duration resync_period = kDefaultResyncPeriod;
  base::Duration spec_rescan = kDefaultSpecRescan;
  int workers = kDefaultWorkers;
  bool prune = false;
  bool dry_run = false;
  bool leader_elect = false;
  std::string leader_lock_path = io::kDefaultLeaderLockPath;
  bool allow_unsupported_nomad = false;
  std::optional<GitConfig> git;  // --git-url: specs_dir is the git source's spec_dir()
};

// Runs the controller with `config` against the Nomad cluster `client` names, logging to `log`,
// until `stop` is requested. Returns 0 after a requested stop, 1 when it could not start
// (exit_codes.h); 2 for a git source whose options are invalid.
int RunController(ControllerConfig config, const io::ClientConfig& client, spdlog::logger& log,
                  std::stop_token stop, const ControllerHooks& hooks = {});

}  // namespace nsg::app
