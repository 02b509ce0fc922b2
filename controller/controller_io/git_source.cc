// io::GitSource (git_source.h): the libgit2 fetch, the checkout and the atomic publish, the
// network stream with a deadline and a stop, the credential and host-key callbacks, the webhook
// signature. One file (~900 lines) on purpose: it is the only translation unit that includes
// libgit2 (controller_io/CMakeLists.txt keeps the library private), and its parts are the steps of
// one fetch, which read in order.
#include "controller/controller_io/git_source.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/stream.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "controller/controller_io/git_revision.h"
#include "controller/nomad_client/client_config.h"

namespace nsg::io {
namespace {

namespace fs = std::filesystem;
using base::Status;

constexpr char kFetchedRef[] = "refs/nsg/fetched";
constexpr char kCurrent[] = "current";
constexpr char kTrees[] = "trees";
constexpr int kMaxTreeDepth = 64;

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Errno(int err) { return std::generic_category().message(err); }

// libgit2's last error, or `fallback`.
std::string GitError(int code, const char* fallback) {
  const git_error* e = git_error_last();
  std::string msg = e != nullptr && e->message != nullptr ? e->message : fallback;
  if (code == GIT_EUSER && msg == fallback) msg = "cancelled";
  return msg;
}

std::string OidString(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

// RAII for libgit2 objects.
template <typename T, void (*Free)(T*)>
struct GitPtr {
  T* p = nullptr;
  GitPtr() = default;
  GitPtr(const GitPtr&) = delete;
  GitPtr& operator=(const GitPtr&) = delete;
  ~GitPtr() {
    if (p != nullptr) Free(p);
  }
  T** out() { return &p; }
  T* get() const { return p; }
};
using RemotePtr = GitPtr<git_remote, git_remote_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using TreePtr = GitPtr<git_tree, git_tree_free>;
using TreeEntryPtr = GitPtr<git_tree_entry, git_tree_entry_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using BlobPtr = GitPtr<git_blob, git_blob_free>;

// Writes `data` to a new file `path` with `mode`.
Status WriteNewFile(const fs::path& path, const void* data, size_t size, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return Status::Unavailable(path.string() + ": " + Errno(errno));
  const char* p = static_cast<const char*>(data);
  size_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::Unavailable(path.string() + ": " + Errno(err));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Status::Unavailable(path.string() + ": " + Errno(errno));
  return Status::Ok();
}

// A tree entry name that names one file inside its directory.
bool SafeEntryName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name != ".git" &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

// Writes `tree` into the existing directory `dir`; `rel` is `dir` relative to the published root
// (for the symlink check).
Status WriteTree(git_repository* repo, const git_tree* tree, const fs::path& dir,
                 const fs::path& rel, int depth) {
  if (depth > kMaxTreeDepth) return Status::InvalidSpec(rel.string() + ": nested too deep");
  const size_t n = git_tree_entrycount(tree);
  for (size_t i = 0; i < n; ++i) {
    const git_tree_entry* e = git_tree_entry_byindex(tree, i);
    const std::string name = git_tree_entry_name(e);
    if (!SafeEntryName(name)) {
      return Status::InvalidSpec((rel / name).string() + ": refused file name");
    }
    const fs::path path = dir / name;
    const git_filemode_t mode = git_tree_entry_filemode(e);
    switch (mode) {
      case GIT_FILEMODE_TREE: {
        TreePtr sub;
        if (int rc = git_tree_lookup(sub.out(), repo, git_tree_entry_id(e)); rc < 0) {
          return Status::Unavailable((rel / name).string() + ": " + GitError(rc, "tree lookup"));
        }
        if (::mkdir(path.c_str(), 0755) != 0) {
          return Status::Unavailable(path.string() + ": " + Errno(errno));
        }
        if (Status st = WriteTree(repo, sub.get(), path, rel / name, depth + 1); !st.ok()) {
          return st;
        }
        break;
      }
      case GIT_FILEMODE_BLOB:
      case GIT_FILEMODE_BLOB_EXECUTABLE:
      case GIT_FILEMODE_LINK: {
        BlobPtr blob;
        if (int rc = git_blob_lookup(blob.out(), repo, git_tree_entry_id(e)); rc < 0) {
          return Status::Unavailable((rel / name).string() + ": " + GitError(rc, "blob lookup"));
        }
        const void* data = git_blob_rawcontent(blob.get());
        const auto size = static_cast<size_t>(git_blob_rawsize(blob.get()));
        if (mode != GIT_FILEMODE_LINK) {
          if (Status st = WriteNewFile(path, data, size,
                                       mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
              !st.ok()) {
            return st;
          }
          break;
        }
        const std::string target(static_cast<const char*>(data), size);
        const fs::path resolved = (rel / fs::path(target)).lexically_normal();
        if (target.empty() || target.find('\0') != std::string::npos ||
            fs::path(target).is_absolute() || resolved.empty() ||
            *resolved.begin() == "..") {
          return Status::InvalidSpec((rel / name).string() + ": a symlink to " + target +
                                     ", outside the checked-out tree, is refused");
        }
        if (::symlink(target.c_str(), path.c_str()) != 0) {
          return Status::Unavailable(path.string() + ": " + Errno(errno));
        }
        break;
      }
      default:  // GIT_FILEMODE_COMMIT: a submodule, whose files are not in this repository
        return Status::InvalidSpec((rel / name).string() +
                                   ": a submodule; its files are not fetched, so it is refused");
    }
  }
  return Status::Ok();
}

// ---- The network stream: libgit2's sockets with a deadline and a stop ----
//
// libgit2 1.5 connects and reads with blocking calls and no timeout: an address that drops
// packets holds a fetch for the kernel's connect timeout (minutes), and a server that accepts and
// then says nothing holds it for ever — and with it the spec-source thread and the controller's
// shutdown. git:// and http(s):// (OpenSSL on top) make their TCP connection through the
// GIT_STREAM_STANDARD registration, so this one replaces it: non-blocking sockets, each wait
// (connect, and every read and write) bounded by the source's io_timeout and ended at once by its
// stop token. Name resolution (getaddrinfo) stays blocking. Not for SSH: libgit2's libssh2
// transport takes the file descriptor out of its own socket stream's private struct, so with an
// SSH URL the registration is left alone (and SSH has no timeout).

// The Sync in progress on this thread (libgit2 calls the stream on the caller's thread).
struct NetContext {
  base::Duration timeout;
  int wake_fd = -1;  // readable once the Sync's stop token is triggered
  std::stop_token stop;
};
thread_local const NetContext* t_net = nullptr;

struct TimedStream {
  git_stream parent;  // first: libgit2 sees a git_stream*
  std::string host;
  std::string port;
  int fd = -1;
};

// Waits until `fd` has `events`; 0, or -1 with the libgit2 error set (timeout, stop, poll error).
int WaitFor(int fd, short events, const char* what) {
  const NetContext* ctx = t_net;
  const base::Duration timeout = ctx != nullptr ? ctx->timeout : kDefaultGitIoTimeout;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (ctx != nullptr && ctx->stop.stop_requested()) {
      git_error_set_str(GIT_ERROR_NET, "cancelled (stopping)");
      return -1;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      git_error_set(GIT_ERROR_NET, "%s: no progress for %s", what,
                    base::FormatDuration(timeout).c_str());
      return -1;
    }
    pollfd fds[2] = {{fd, events, 0}, {ctx != nullptr ? ctx->wake_fd : -1, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (n < 0 && errno != EINTR) {
      git_error_set(GIT_ERROR_NET, "%s: poll: %s", what, Errno(errno).c_str());
      return -1;
    }
    if (n > 0 && fds[0].revents != 0) return 0;
  }
}

int StreamConnect(git_stream* stream) {
  auto* s = reinterpret_cast<TimedStream*>(stream);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(s->host.c_str(), s->port.c_str(), &hints, &res); rc != 0) {
    git_error_set(GIT_ERROR_NET, "failed to resolve address for %s: %s", s->host.c_str(),
                  ::gai_strerror(rc));
    return -1;
  }
  std::string last = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                            ai->ai_protocol);
    if (fd < 0) {
      last = Errno(errno);
      continue;
    }
    int err = ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      if (WaitFor(fd, POLLOUT, ("connect to " + s->host).c_str()) < 0) {
        ::close(fd);
        ::freeaddrinfo(res);
        return -1;  // timed out or stopped: the error is set; other addresses would wait too
      }
      socklen_t len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    if (err == 0) {
      s->fd = fd;
      ::freeaddrinfo(res);
      return 0;
    }
    last = Errno(err);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  git_error_set(GIT_ERROR_NET, "failed to connect to %s: %s", s->host.c_str(), last.c_str());
  return -1;
}

// `io()` (a recv or send on the non-blocking socket) until it moves data, waiting for `events`
// in between; `what` names it in errors ("read from").
template <typename Io>
ssize_t Transfer(const TimedStream& s, short events, const char* what, Io io) {
  for (;;) {
    const ssize_t n = io();
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    const std::string where = std::string(what) + " " + s.host;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      git_error_set(GIT_ERROR_NET, "%s: %s", where.c_str(), Errno(errno).c_str());
      return -1;
    }
    if (WaitFor(s.fd, events, where.c_str()) < 0) return -1;
  }
}

ssize_t StreamRead(git_stream* stream, void* data, size_t len) {
  const auto* s = reinterpret_cast<TimedStream*>(stream);
  return Transfer(*s, POLLIN, "read from", [&] { return ::recv(s->fd, data, len, 0); });
}

ssize_t StreamWrite(git_stream* stream, const char* data, size_t len, int /*flags*/) {
  const auto* s = reinterpret_cast<TimedStream*>(stream);
  return Transfer(*s, POLLOUT, "write to",
                  [&] { return ::send(s->fd, data, len, MSG_NOSIGNAL); });
}

int StreamClose(git_stream* stream) {
  auto* s = reinterpret_cast<TimedStream*>(stream);
  if (s->fd >= 0) ::close(s->fd);
  s->fd = -1;
  return 0;
}

void StreamFree(git_stream* stream) {
  auto* s = reinterpret_cast<TimedStream*>(stream);
  StreamClose(stream);
  delete s;
}

int StreamNew(git_stream** out, const char* host, const char* port) {
  auto* s = new (std::nothrow) TimedStream();
  if (s == nullptr) return -1;
  s->parent.version = GIT_STREAM_VERSION;
  s->parent.connect = StreamConnect;
  s->parent.read = StreamRead;
  s->parent.write = StreamWrite;
  s->parent.close = StreamClose;
  s->parent.free = StreamFree;
  s->host = host;
  s->port = port;
  *out = &s->parent;
  return 0;
}

// Sets t_net for one Sync: its timeout and stop token, with an eventfd the stop wakes.
class NetScope {
 public:
  NetScope(base::Duration timeout, std::stop_token stop)
      : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
        on_stop_(stop, [fd = wake_fd_] {
          const uint64_t one = 1;
          if (fd >= 0) [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
        }) {
    ctx_.timeout = timeout;
    ctx_.wake_fd = wake_fd_;
    ctx_.stop = std::move(stop);
    t_net = &ctx_;
  }
  ~NetScope() {
    t_net = nullptr;
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }
  NetScope(const NetScope&) = delete;
  NetScope& operator=(const NetScope&) = delete;

 private:
  int wake_fd_;
  std::stop_callback<std::function<void()>> on_stop_;
  NetContext ctx_;
};

struct CallbackState {
  std::stop_token stop;
  const GitSourceOptions* options = nullptr;
  const TokenSource* token = nullptr;
  int credential_calls = 0;
  std::string credential_error;
  std::string host_key_error;  // set when libgit2 found the SSH host key untrusted
};

// Where libgit2 (1.5.1 and later) looks up SSH host keys: $HOME/.ssh/known_hosts, read afresh
// for every connection.
std::string KnownHostsPath() {
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "") + "/.ssh/known_hosts";
}

std::string_view SshKeyTypeName(git_cert_ssh_raw_type_t type) {
  switch (type) {
    case GIT_CERT_SSH_RAW_TYPE_RSA: return "ssh-rsa";
    case GIT_CERT_SSH_RAW_TYPE_DSS: return "ssh-dss";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256: return "ecdsa-sha2-nistp256";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384: return "ecdsa-sha2-nistp384";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521: return "ecdsa-sha2-nistp521";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519: return "ssh-ed25519";
    case GIT_CERT_SSH_RAW_TYPE_UNKNOWN: break;
  }
  return "unknown type";
}

// libgit2 has already checked the server's key against known_hosts (`valid`) and fails the
// connection when it is not there; GIT_PASSTHROUGH keeps that verdict, so this callback can only
// name the refusal, never accept a key libgit2 refused. libgit2's own message ("invalid or
// unknown remote ssh hostkey") says neither which host nor which file.
int OnCertificateCheck(git_cert* cert, int valid, const char* host, void* payload) {
  auto* s = static_cast<CallbackState*>(payload);
  if (valid == 0 && cert != nullptr && cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
    const auto* key = reinterpret_cast<const git_cert_hostkey*>(cert);
    // What `ssh-keygen -l` prints for the key: its type and SHA256 fingerprint.
    std::vector<std::string> shown;
    if ((key->type & GIT_CERT_SSH_RAW) != 0) shown.emplace_back(SshKeyTypeName(key->raw_type));
    if ((key->type & GIT_CERT_SSH_SHA256) != 0) {
      unsigned char b64[64];
      const int n = EVP_EncodeBlock(b64, key->hash_sha256, sizeof key->hash_sha256);
      std::string fp(reinterpret_cast<const char*>(b64), n > 0 ? static_cast<size_t>(n) : 0);
      while (!fp.empty() && fp.back() == '=') fp.pop_back();
      shown.push_back("SHA256:" + fp);
    }
    std::string what = "the SSH host key of " + std::string(host != nullptr ? host : "?");
    for (size_t i = 0; i < shown.size(); ++i) what += (i == 0 ? " (" : " ") + shown[i];
    if (!shown.empty()) what += ")";
    s->host_key_error = what + " is not trusted: no entry of " + KnownHostsPath() +
                        " matches it (none for the host, or a different key); add the server's "
                        "key as `[host]:port <type> <key>` (`host <type> <key>` for port 22)";
  }
  return GIT_PASSTHROUGH;
}

int OnCredentials(git_credential** out, const char* /*url*/, const char* username_from_url,
                  unsigned int allowed, void* payload) {
  auto* s = static_cast<CallbackState*>(payload);
  // libgit2 asks again after a refused credential: once is enough to know it is refused.
  if (++s->credential_calls > 1) {
    s->credential_error = "the remote refused the credentials";
    return GIT_EUSER;
  }
  if ((allowed & GIT_CREDENTIAL_SSH_KEY) != 0 && !s->options->ssh_key_file.empty()) {
    // libssh2 says only "Unable to open private key file", without the file or the reason.
    const std::string& key_file = s->options->ssh_key_file;
    const int fd = ::open(key_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      s->credential_error = "--git-ssh-key-file " + key_file + " cannot be read: " + Errno(errno);
      return GIT_EUSER;
    }
    ::close(fd);
    const char* user = username_from_url != nullptr && *username_from_url != '\0'
                           ? username_from_url
                           : "git";
    return git_credential_ssh_key_new(out, user, nullptr, key_file.c_str(), nullptr);
  }
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) != 0 && !s->options->token_file.empty()) {
    const std::string token = s->token->Get();
    if (token.empty()) {
      s->credential_error = "the token file " + s->options->token_file + " cannot be read";
      return GIT_EUSER;
    }
    return git_credential_userpass_plaintext_new(out, s->options->username.c_str(),
                                                 token.c_str());
  }
  s->credential_error =
      "the remote asks for credentials and none fit (--git-token-file for https, "
      "--git-ssh-key-file for ssh)";
  return GIT_EUSER;
}

int OnTransfer(const git_indexer_progress* /*stats*/, void* payload) {
  return static_cast<CallbackState*>(payload)->stop.stop_requested() ? -1 : 0;
}
int OnSideband(const char* /*str*/, int /*len*/, void* payload) {
  return static_cast<CallbackState*>(payload)->stop.stop_requested() ? -1 : 0;
}

// The advertised name `ref` stands for: itself (HEAD, refs/...), else a branch, else a tag.
std::vector<std::string> RefCandidates(const std::string& ref) {
  if (ref == "HEAD" || ref.rfind("refs/", 0) == 0) return {ref};
  return {"refs/heads/" + ref, "refs/tags/" + ref};
}

// Reads the readlink of `current`: "trees/<commit>" → commit.
std::string PublishedCommit(const fs::path& current) {
  std::error_code ec;
  const fs::path target = fs::read_symlink(current, ec);
  if (ec) return "";
  const std::string name = target.filename().string();
  if (target.parent_path() != kTrees || !IsObjectId(name)) return "";
  return name;
}

}  // namespace

bool IsSshUrl(const std::string& url) {
  for (std::string_view scheme : {"ssh://", "ssh+git://", "git+ssh://"}) {
    if (url.rfind(scheme, 0) == 0) return true;
  }
  if (url.find("://") != std::string::npos) return false;
  const size_t colon = url.find(':');
  return colon != std::string::npos && colon > 0 && url.find('/') > colon;  // user@host:path
}

std::string_view GitOutcomeName(GitSyncResult::Outcome outcome) {
  switch (outcome) {
    case GitSyncResult::Outcome::kUnchanged: return "unchanged";
    case GitSyncResult::Outcome::kUpdated: return "updated";
    case GitSyncResult::Outcome::kForced: return "forced";
    case GitSyncResult::Outcome::kFailed: return "failed";
  }
  return "unknown";
}

std::string RedactedUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;  // a path or user@host:path
  const size_t host = scheme + 3;
  const size_t end = url.find_first_of("/?#", host);
  const size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < host) return url;
  return url.substr(0, host) + url.substr(at + 1);
}

struct GitSource::Repo {
  git_repository* repo = nullptr;
  std::string published;  // the commit `current` points at ("" none)
  std::string tip;        // refs/nsg/fetched as fetched (a tag object for annotated tags)
  std::unique_ptr<TokenSource> token;
  ~Repo() {
    if (repo != nullptr) git_repository_free(repo);
  }
};

base::Result<std::unique_ptr<GitSource>> GitSource::Open(GitSourceOptions o) {
  if (o.url.empty()) return Status::InvalidSpec("--git-url is empty");
  if (o.checkout_dir.empty()) return Status::InvalidSpec("--git-checkout-dir is required");
  if (o.interval <= base::Duration::zero()) {
    return Status::InvalidSpec("--git-interval must be positive");
  }
  if (o.io_timeout <= base::Duration::zero()) {
    return Status::InvalidSpec("the git network timeout must be positive");
  }
  if (o.ref.empty()) return Status::InvalidSpec("--git-ref is empty");
  if (!o.token_file.empty() && !o.ssh_key_file.empty()) {
    return Status::InvalidSpec("--git-token-file and --git-ssh-key-file exclude each other");
  }
  fs::path rel = fs::path(o.path).lexically_normal();
  if (rel == ".") rel.clear();
  if (rel.is_absolute() || (!rel.empty() && *rel.begin() == "..")) {
    return Status::InvalidSpec("--git-path must be a path inside the repository, got \"" +
                               o.path + "\"");
  }
  std::string path = rel.string();
  while (!path.empty() && path.back() == '/') path.pop_back();
  o.path = path;
  if (const char* home = std::getenv("HOME");
      IsSshUrl(o.url) && (home == nullptr || *home == '\0')) {
    // libgit2 would fail every connection with "error loading known_hosts: ".
    return Status::InvalidSpec("--git-url " + RedactedUrl(o.url) +
                               ": SSH host keys are checked against $HOME/.ssh/known_hosts, and "
                               "HOME is not set");
  }
  git_libgit2_init();
  auto shutdown = [](Status st) {
    git_libgit2_shutdown();
    return st;
  };
  git_stream_registration registration{};
  registration.version = GIT_STREAM_VERSION;
  registration.init = StreamNew;
  // nullptr: libgit2's own sockets again (for SSH, see the stream's comment).
  if (git_stream_register(GIT_STREAM_STANDARD, IsSshUrl(o.url) ? nullptr : &registration) < 0) {
    return shutdown(Status::Internal("libgit2: cannot register the network stream"));
  }
  if (!o.ssh_key_file.empty() && (git_libgit2_features() & GIT_FEATURE_SSH) == 0) {
    return shutdown(Status::InvalidSpec(
        "--git-ssh-key-file: this build of libgit2 has no SSH support"));
  }
  std::error_code ec;
  const fs::path dir = fs::absolute(o.checkout_dir, ec).lexically_normal();
  if (ec) return shutdown(Status::InvalidSpec("--git-checkout-dir: " + ec.message()));
  fs::create_directories(dir / kTrees, ec);
  if (ec) {
    return shutdown(Status::Unavailable("--git-checkout-dir " + o.checkout_dir + ": " +
                                        ec.message()));
  }
  const int lock_fd = ::open((dir / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return shutdown(Status::Unavailable("--git-checkout-dir " + o.checkout_dir + ": lock: " +
                                        Errno(errno)));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(lock_fd);
    return shutdown(Status::Unavailable(
        "--git-checkout-dir " + o.checkout_dir + " is in use by another process (" +
        Errno(err) + ")"));
  }
  o.checkout_dir = dir.string();
  std::string spec_dir = (dir / kCurrent).string();
  if (!o.path.empty()) spec_dir += "/" + o.path;
  auto repo = std::make_unique<Repo>();
  repo->token = std::make_unique<TokenSource>("", o.token_file);
  const std::string bare = (dir / "repo.git").string();
  int rc = fs::exists(bare, ec) ? git_repository_open_bare(&repo->repo, bare.c_str())
                                : git_repository_init(&repo->repo, bare.c_str(), 1);
  if (rc < 0) {
    ::close(lock_fd);
    return shutdown(Status::Unavailable(bare + ": " + GitError(rc, "cannot open")));
  }
  // What an earlier run published, if its tree holds --git-path (the flag may have changed).
  repo->published = PublishedCommit(dir / kCurrent);
  if (!repo->published.empty() && !fs::is_directory(spec_dir, ec)) repo->published.clear();
  git_oid tip;
  if (!repo->published.empty() && git_reference_name_to_id(&tip, repo->repo, kFetchedRef) == 0) {
    repo->tip = OidString(tip);
  }
  // Leftovers of an interrupted run: partial trees, superseded trees, a half-made symlink.
  fs::remove(dir / "current.tmp", ec);
  for (fs::directory_iterator it(dir / kTrees, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename() != repo->published) {
      std::error_code rm_ec;
      fs::remove_all(it->path(), rm_ec);
    }
  }
  std::unique_ptr<GitSource> s(new GitSource(std::move(o), std::move(spec_dir), lock_fd));
  s->repo_ = std::move(repo);
  std::lock_guard lock(s->mu_);
  s->status_.revision = s->repo_->published;
  return s;
}

GitSource::GitSource(GitSourceOptions options, std::string spec_dir, int lock_fd)
    : options_(std::move(options)),
      spec_dir_(std::move(spec_dir)),
      redacted_url_(RedactedUrl(options_.url)),
      lock_fd_(lock_fd),
      next_(std::chrono::steady_clock::now()) {
  status_.url = redacted_url_;
  status_.ref = options_.ref;
  status_.path = options_.path;
}

GitSource::~GitSource() {
  repo_.reset();
  ::close(lock_fd_);  // releases the flock
  git_libgit2_shutdown();
}

std::string GitSource::Scrub(std::string message) const {
  auto replace_all = [&message](const std::string& from, const std::string& to) {
    if (from.empty()) return;
    for (size_t pos = 0; (pos = message.find(from, pos)) != std::string::npos;
         pos += to.size()) {
      message.replace(pos, from.size(), to);
    }
  };
  replace_all(options_.url, redacted_url_);
  const size_t scheme = options_.url.find("://");
  if (scheme != std::string::npos && redacted_url_ != options_.url) {
    // The userinfo alone ("user:secret@"), as an error may quote the host part with it.
    const size_t host = scheme + 3;
    const size_t at = options_.url.size() - (redacted_url_.size() - host);
    replace_all(options_.url.substr(host, at - host), "");
  }
  if (!options_.token_file.empty()) replace_all(repo_->token->Get(), "***");
  return message;
}

std::string GitSource::revision() const {
  std::lock_guard lock(mu_);
  return status_.revision;
}

GitSourceStatus GitSource::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void GitSource::Trigger() {
  {
    std::lock_guard lock(mu_);
    triggered_ = true;
  }
  cv_.notify_all();
}

bool GitSource::WaitForNext(std::stop_token stop) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, stop, next_, [this] { return triggered_; });
  if (stop.stop_requested()) return false;
  triggered_ = false;
  return true;
}

Status GitSource::Publish(const std::string& commit) {
  git_repository* repo = repo_->repo;
  git_oid oid;
  if (git_oid_fromstr(&oid, commit.c_str()) < 0) return Status::Internal("bad commit " + commit);
  CommitPtr c;
  if (int rc = git_commit_lookup(c.out(), repo, &oid); rc < 0) {
    return Status::Unavailable("commit " + commit + ": " + GitError(rc, "lookup"));
  }
  TreePtr root;
  if (int rc = git_commit_tree(root.out(), c.get()); rc < 0) {
    return Status::Unavailable("commit " + commit + ": " + GitError(rc, "tree"));
  }
  TreePtr sub;
  if (options_.path.empty()) {
    if (int rc = git_tree_lookup(sub.out(), repo, git_tree_id(root.get())); rc < 0) {
      return Status::Unavailable("commit " + commit + ": " + GitError(rc, "tree"));
    }
  } else {
    TreeEntryPtr entry;
    if (git_tree_entry_bypath(entry.out(), root.get(), options_.path.c_str()) < 0 ||
        git_tree_entry_type(entry.get()) != GIT_OBJECT_TREE) {
      return Status::InvalidSpec("commit " + commit + " has no directory " + options_.path +
                                 " (--git-path)");
    }
    if (int rc = git_tree_lookup(sub.out(), repo, git_tree_entry_id(entry.get())); rc < 0) {
      return Status::Unavailable("commit " + commit + ": " + GitError(rc, "tree"));
    }
  }
  const fs::path dir = fs::path(options_.checkout_dir);
  const fs::path trees = dir / kTrees;
  const fs::path tmp = trees / (commit + ".tmp");
  const fs::path final_dir = trees / commit;
  std::error_code ec;
  fs::remove_all(tmp, ec);
  const fs::path into = options_.path.empty() ? tmp : tmp / options_.path;
  fs::create_directories(into, ec);
  if (ec) return Status::Unavailable(into.string() + ": " + ec.message());
  Status st = WriteTree(repo, sub.get(), into, fs::path(), 0);
  if (st.ok()) {
    fs::remove_all(final_dir, ec);
    if (::rename(tmp.c_str(), final_dir.c_str()) != 0) {
      st = Status::Unavailable(final_dir.string() + ": " + Errno(errno));
    }
  }
  if (!st.ok()) {
    fs::remove_all(tmp, ec);
    return Status(st.code(), "commit " + commit + ": " + st.message());
  }
  // The swap: a new symlink renamed over `current` (rename(2) replaces it atomically).
  const fs::path link_tmp = dir / "current.tmp";
  fs::remove(link_tmp, ec);
  const std::string target = std::string(kTrees) + "/" + commit;
  if (::symlink(target.c_str(), link_tmp.c_str()) != 0 ||
      ::rename(link_tmp.c_str(), (dir / kCurrent).c_str()) != 0) {
    const int err = errno;
    fs::remove(link_tmp, ec);
    fs::remove_all(final_dir, ec);
    return Status::Unavailable((dir / kCurrent).string() + ": " + Errno(err));
  }
  if (!repo_->published.empty() && repo_->published != commit) {
    fs::remove_all(trees / repo_->published, ec);
  }
  repo_->published = commit;
  return Status::Ok();
}

GitSyncResult GitSource::Sync(std::stop_token stop) {
  GitSyncResult result;
  result.previous = repo_->published;
  const NetScope net(options_.io_timeout, stop);
  git_repository* repo = repo_->repo;
  CallbackState cb_state;
  cb_state.stop = stop;
  cb_state.options = &options_;
  cb_state.token = repo_->token.get();
  git_remote_callbacks callbacks;
  git_remote_init_callbacks(&callbacks, GIT_REMOTE_CALLBACKS_VERSION);
  callbacks.credentials = OnCredentials;
  // SSH only: names a refused host key (HTTPS certificates keep libgit2's handling as it is).
  if (IsSshUrl(options_.url)) callbacks.certificate_check = OnCertificateCheck;
  callbacks.transfer_progress = OnTransfer;
  callbacks.sideband_progress = OnSideband;
  callbacks.payload = &cb_state;

  auto fail = [&](const std::string& what, int rc) {
    std::string msg = what + ": " + GitError(rc, "failed");
    if (!cb_state.credential_error.empty()) msg = what + ": " + cb_state.credential_error;
    if (!cb_state.host_key_error.empty()) msg = what + ": " + cb_state.host_key_error;
    if (stop.stop_requested()) msg = what + ": cancelled (stopping)";
    return Status::Unavailable(Scrub(std::move(msg)));
  };
  Status st;
  std::string commit;
  bool forced = false;
  do {
    RemotePtr remote;
    // Anonymous (nothing written to the repository's config). Without url.*.insteadOf: libgit2
    // 1.5 matches every config entry against a regex for it and leaks pcre2 match data on each
    // miss (its regexp.c), ~100 KiB per fetch; and the URL given is the URL fetched.
    git_remote_create_options create;
    git_remote_create_options_init(&create, GIT_REMOTE_CREATE_OPTIONS_VERSION);
    create.repository = repo;
    create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
    if (int rc = git_remote_create_with_opts(remote.out(), options_.url.c_str(), &create);
        rc < 0) {
      st = Status::InvalidSpec(Scrub("--git-url: " + GitError(rc, "invalid")));
      break;
    }
    if (int rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, nullptr,
                                    nullptr);
        rc < 0) {
      st = fail("connect to " + redacted_url_, rc);
      break;
    }
    const git_remote_head** heads = nullptr;
    size_t count = 0;
    if (int rc = git_remote_ls(&heads, &count, remote.get()); rc < 0) {
      st = fail("list refs of " + redacted_url_, rc);
      break;
    }
    std::string name;
    std::string advertised;
    for (const std::string& want : RefCandidates(options_.ref)) {
      for (size_t i = 0; i < count && name.empty(); ++i) {
        if (want == heads[i]->name) {
          name = want;
          advertised = OidString(heads[i]->oid);
        }
      }
      if (!name.empty()) break;
    }
    if (name.empty()) {
      st = Status::NotFound("ref " + options_.ref + " not found on " + redacted_url_);
      break;
    }
    if (advertised == repo_->tip && !repo_->published.empty()) {
      commit = repo_->published;  // nothing new: no download
      break;
    }
    git_fetch_options fetch;
    git_fetch_options_init(&fetch, GIT_FETCH_OPTIONS_VERSION);
    fetch.callbacks = callbacks;
    fetch.update_fetchhead = 0;
    fetch.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    std::string refspec = "+" + name + ":" + kFetchedRef;
    char* specs[] = {refspec.data()};
    const git_strarray refspecs = {specs, 1};
    if (int rc = git_remote_fetch(remote.get(), &refspecs, &fetch, nullptr); rc < 0) {
      st = fail("fetch " + options_.ref + " from " + redacted_url_, rc);
      break;
    }
    git_oid tip;
    ObjectPtr object;
    ObjectPtr peeled;
    if (int rc = git_reference_name_to_id(&tip, repo, kFetchedRef);
        rc < 0 || git_object_lookup(object.out(), repo, &tip, GIT_OBJECT_ANY) < 0 ||
        git_object_peel(peeled.out(), object.get(), GIT_OBJECT_COMMIT) < 0) {
      st = Status::InvalidSpec(Scrub(options_.ref + " on " + redacted_url_ +
                                     " does not name a commit: " + GitError(rc, "peel")));
      break;
    }
    commit = OidString(*git_object_id(peeled.get()));
    const std::string new_tip = OidString(tip);
    if (commit != repo_->published) {
      if (!repo_->published.empty()) {
        git_oid old;
        forced = git_oid_fromstr(&old, repo_->published.c_str()) == 0 &&
                 git_graph_descendant_of(repo, git_object_id(peeled.get()), &old) == 0;
      }
      st = Publish(commit);
      if (!st.ok()) {
        st = Status(st.code(), Scrub(st.message()));
        break;
      }
    }
    repo_->tip = new_tip;
  } while (false);

  result.revision = repo_->published;
  result.error = st;
  if (!st.ok()) {
    result.outcome = GitSyncResult::Outcome::kFailed;
  } else if (result.revision == result.previous) {
    result.outcome = GitSyncResult::Outcome::kUnchanged;
  } else {
    result.outcome =
        forced ? GitSyncResult::Outcome::kForced : GitSyncResult::Outcome::kUpdated;
  }
  const double now = UnixNow();
  {
    std::lock_guard lock(mu_);
    status_.revision = result.revision;
    status_.last_fetch = now;
    ++status_.fetches;
    if (st.ok()) {
      status_.last_success = now;
      status_.last_error.clear();
      if (result.revision != result.previous) {
        status_.last_change = now;
        status_.last_change_forced = forced;
      }
    } else {
      ++status_.failures;
      status_.last_error = st.message();
    }
    next_ = std::chrono::steady_clock::now() + options_.interval;
  }
  return result;
}

std::string WebhookSignature(std::string_view secret, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len) ==
      nullptr) {
    return "";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0xf]);
  }
  return out;
}

bool VerifyWebhookSignature(std::string_view secret, std::string_view body,
                            std::string_view header) {
  if (secret.empty()) return false;
  const std::string want = WebhookSignature(secret, body);
  if (want.empty() || header.size() != want.size()) return false;
  // Hex is case-insensitive; GitHub sends lowercase, but compare what a sender may write.
  std::string got(header);
  for (char& c : got) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return CRYPTO_memcmp(got.data(), want.data(), want.size()) == 0;
}

}  // namespace nsg::io
