// GitSource: the controller's own checkout of a git repository, as Argo CD and Flux keep one
// (`controller --git-url`). It fetches one ref with libgit2 and publishes each new commit as a
// complete directory tree, so the spec loader never reads a half-written checkout:
//
//   <checkout dir>/repo.git/         a bare repository: what was fetched
//   <checkout dir>/trees/<commit>/   one complete tree per published commit (only --git-path)
//   <checkout dir>/current           symlink → trees/<commit>; replaced by rename(2), atomically
//   <checkout dir>/lock              flock(2): one controller per checkout dir
//
// spec_dir() is `<checkout dir>/current[/<path>]`: one spelling for every revision, so the
// prune rule's "Meta source lies inside DIR" holds across commits and restarts.
//
//   Sync(): ls-remote ──► the ref's commit == published? ──yes──► kUnchanged
//              │ error                    │no
//              ▼                          ▼
//           kFailed            fetch ► write trees/<c>.tmp ► rename ► swap `current` ► drop old
//   (the published tree       (any error on the way: kFailed, `current` untouched, the partial
//    stays as it was)          tree removed)          kUpdated, or kForced when the new commit
//                                                     does not descend from the published one
//
// A failed fetch or checkout never changes the published tree: the specs stay what they were at
// the last good commit. The caller (the spec-source thread) calls Sync and then reads spec_dir();
// nothing else writes the tree, so a read never sees a swap half-way.
//
// Tree contents: regular and executable files, directories, and symlinks whose target stays
// inside the published tree; a symlink pointing elsewhere (absolute, or out through ..) or a
// submodule at a spec path fails the checkout (a symlink to /etc/... must not become a spec).
//
// Credentials: a token file (HTTPS basic auth with `username`, re-read on use) or an SSH private
// key file; neither the credentials nor a URL's userinfo ever appear in a message, a log line or
// status(): messages carry RedactedUrl() and are scrubbed of the token.
// SSH host keys: libgit2 (1.5.1+) checks them against $HOME/.ssh/known_hosts and fails the
// connection without a matching entry; the source only names the refusal (host, key type,
// SHA256 fingerprint, the file) and refuses an SSH URL when HOME is not set.
//
// Threads: Sync() from one thread at a time (the spec-source thread); Trigger(), status() and
// spec_dir() from any thread. WaitForNext() from the Sync thread. Owns its libgit2 objects and
// the lock file descriptor.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "controller/base/duration.h"
#include "controller/base/status.h"

namespace nsg::io {

inline constexpr base::Duration kDefaultGitInterval = std::chrono::minutes(1);
// The longest a fetch waits for the network without progress: a connect, or any one read or
// write (libgit2 1.5 itself has no timeout at all).
inline constexpr base::Duration kDefaultGitIoTimeout = std::chrono::seconds(30);
inline constexpr char kDefaultGitRef[] = "HEAD";
// HTTPS basic auth's user name with --git-token-file; GitHub, Gitea and GitLab accept any name
// with a token, and GitHub documents this one.
inline constexpr char kDefaultGitUsername[] = "x-access-token";

struct GitSourceOptions {
  std::string url;           // https://, http://, ssh://, user@host:path, git://, file:// or a path
  std::string ref = kDefaultGitRef;  // HEAD, a branch or tag name, or a full refs/... name
  std::string path;          // subdirectory of the repository holding the specs ("" = root)
  std::string checkout_dir;  // created when missing; owned by this source
  base::Duration interval = kDefaultGitInterval;
  std::string token_file;    // HTTPS basic auth password (re-read on use)
  std::string username = kDefaultGitUsername;  // with token_file
  std::string ssh_key_file;  // SSH private key (no passphrase)
  base::Duration io_timeout = kDefaultGitIoTimeout;  // > 0
};

// What one Sync() did.
struct GitSyncResult {
  enum class Outcome { kUnchanged, kUpdated, kForced, kFailed };
  Outcome outcome = Outcome::kFailed;
  std::string revision;  // the published commit after the call ("" when none yet)
  std::string previous;  // the published commit before it
  base::Status error;    // kFailed: why (credentials and userinfo scrubbed)
};

// Whether libgit2 reaches `url` over SSH: ssh://, ssh+git://, git+ssh://, or user@host:path.
bool IsSshUrl(const std::string& url);

// "unchanged", "updated", "forced", "failed".
std::string_view GitOutcomeName(GitSyncResult::Outcome outcome);

// For /status: what the source is and what it last did. Times are Unix seconds (0: never).
struct GitSourceStatus {
  std::string url;  // RedactedUrl
  std::string ref;
  std::string path;
  std::string revision;  // published commit; "" before the first
  double last_fetch = 0;          // last attempt, whatever its result
  double last_success = 0;        // last attempt that ended with the remote's commit published
  double last_change = 0;         // last time the published commit changed
  std::string last_error;         // "" after a success
  bool last_change_forced = false;  // the last change was a force-push (not a descendant)
  uint64_t fetches = 0;
  uint64_t failures = 0;
};

class GitSource {
 public:
  // Checks the options (kInvalidSpec: empty url or checkout dir, a path with "..", a token file
  // together with an SSH key, an SSH key with a libgit2 built without SSH, a non-positive
  // interval), creates the checkout dir, takes its lock (kUnavailable when another process holds
  // it) and opens or creates the bare repository. Finds the commit published by an earlier run
  // (`current`), removes leftovers of an interrupted one. Does not touch the network.
  static base::Result<std::unique_ptr<GitSource>> Open(GitSourceOptions options);
  ~GitSource();
  GitSource(const GitSource&) = delete;
  GitSource& operator=(const GitSource&) = delete;

  // Fetches the ref and publishes its commit when it differs from the published one. Every
  // network wait (connect, each read and write) ends after options.io_timeout without progress,
  // or at once when `stop` is triggered; name resolution is not bounded, and SSH (libssh2) is
  // bounded by neither.
  GitSyncResult Sync(std::stop_token stop);

  // Blocks until `interval` after the end of the last Sync, a Trigger(), or `stop`. Returns
  // false when stopped.
  bool WaitForNext(std::stop_token stop);
  // Makes WaitForNext return now (the webhook). Safe from any thread; triggers coalesce.
  void Trigger();

  // <checkout dir>/current[/<path>]: the directory the controller reads specs from.
  const std::string& spec_dir() const { return spec_dir_; }
  // The published commit ("" when none yet). Owned by the Sync thread; also in status().
  std::string revision() const;
  GitSourceStatus status() const;

 private:
  struct Repo;
  GitSource(GitSourceOptions options, std::string spec_dir, int lock_fd);

  // Writes `commit`'s tree (below options_.path) to trees/<commit> and swaps `current` to it.
  base::Status Publish(const std::string& commit);
  std::string Scrub(std::string message) const;

  // Constant after construction.
  const GitSourceOptions options_;
  const std::string spec_dir_;
  const std::string redacted_url_;
  const int lock_fd_;
  std::unique_ptr<Repo> repo_;  // used by the Sync thread only

  mutable std::mutex mu_;
  // Guarded by mu_.
  GitSourceStatus status_;
  bool triggered_ = false;
  std::chrono::steady_clock::time_point next_;
  std::condition_variable_any cv_;
};

// `url` without its userinfo: https://user:secret@host/x → https://host/x; an scp-like
// user@host:path keeps the user (it is not a secret); a local path is returned as it is.
std::string RedactedUrl(const std::string& url);

// GitHub-style webhook signature: `header` is "sha256=<hex of HMAC-SHA256(secret, body)>";
// compared in constant time. False for an empty secret, a missing or malformed header.
bool VerifyWebhookSignature(std::string_view secret, std::string_view body,
                            std::string_view header);
// "sha256=<hex>" for `body` (tests, and senders written in C++).
std::string WebhookSignature(std::string_view secret, std::string_view body);

}  // namespace nsg::io
