// ClientConfig: how to reach Nomad, read exactly like the Nomad CLI reads it.
//
// Precedence (STYLE.md, "Config and CLI"): the defaults below → the environment (FromEnv, with
// the Nomad CLI's variable names) → flags (ApplyOverrides) → Validate(), which returns one clear
// line for the first problem. Certificate verification is on unless NOMAD_SKIP_VERIFY or the flag
// turns it off.
//
//   NOMAD_ADDR             http://host:port, https://host:port or unix:///path/api.sock
//   NOMAD_TOKEN            sent as X-Nomad-Token (a secret: never logged, see Describe())
//   NOMAD_REGION           ?region= on every request ("" = the agent's region)
//   NOMAD_NAMESPACE        the default ?namespace= ("" = Nomad's "default")
//   NOMAD_CACERT           PEM file of the CA(s) to trust (replaces the system store)
//   NOMAD_CAPATH           directory of PEM CA files (hashed names, as `c_rehash` makes)
//   NOMAD_CLIENT_CERT      client certificate chain (mTLS)
//   NOMAD_CLIENT_KEY       its private key
//   NOMAD_TLS_SERVER_NAME  the name to verify the server certificate against (and SNI), e.g.
//                          "server.global.nomad" while connecting by IP
//   NOMAD_SKIP_VERIFY      Go ParseBool syntax (1, t, true, TRUE, 0, f, false, ...)
//
// The token can also come from a file (token_file, the controller's --token-file), re-read when
// the file changes (TokenSource below): a token on the command line is visible to every user of
// the machine in `ps`, and a file can be rotated without a restart.
//
// The token is a secret. It never appears in Describe(), in any Status message or exception
// text of this library; there is deliberately no operator<< or ToString that prints it.
// Plain value; not synchronized.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "controller/base/duration.h"
#include "controller/base/status.h"
#include "controller/nomad_client/transport.h"

namespace nsg::io {

using base::Duration;

// Nomad's CLI default address.
inline constexpr char kDefaultNomadAddress[] = "http://127.0.0.1:4646";
// Timeout of an ordinary (non-blocking) call, connect to last body byte.
inline constexpr Duration kDefaultRequestTimeout = std::chrono::seconds(30);

// A getenv-like lookup: returns nullptr when the variable is unset.
using GetEnvFn = std::function<const char*(const char*)>;
// Whether a path exists (a Unix socket for TaskApiSocketAddress).
using PathExistsFn = std::function<bool(const std::string&)>;

struct TlsConfig {
  std::string ca_cert;
  std::string ca_path;
  std::string client_cert;
  std::string client_key;
  std::string server_name;
  bool skip_verify = false;
};

enum class AddressScheme { kHttp, kHttps, kUnix };

// Flag values; a set optional overrides the environment.
struct ClientConfigOverrides {
  std::optional<std::string> address;
  std::optional<std::string> token;
  std::optional<std::string> token_file;
  std::optional<std::string> region;
  std::optional<std::string> namespace_;
  std::optional<std::string> ca_cert;
  std::optional<std::string> ca_path;
  std::optional<std::string> client_cert;
  std::optional<std::string> client_key;
  std::optional<std::string> tls_server_name;
  std::optional<bool> skip_verify;
};

struct ClientConfig {
  std::string address = kDefaultNomadAddress;
  std::string token;
  // When set, the token is this file's content (trailing whitespace removed), read through a
  // TokenSource; `token` is then ignored.
  std::string token_file;
  std::string region;
  std::string namespace_;
  TlsConfig tls;
  Duration request_timeout = kDefaultRequestTimeout;
  // The largest response body accepted (CallOptions::max_response_bytes); not from the
  // environment: the controller has --max-response-size, the lock agent a fixed small cap.
  size_t max_response_bytes = kDefaultMaxResponseBytes;

  // The defaults overlaid with the environment read through `getenv`. Fails (kInvalidSpec) only
  // for a value that cannot be parsed (NOMAD_SKIP_VERIFY); everything else is Validate()'s job.
  static base::Result<ClientConfig> FromEnv(const GetEnvFn& getenv);

  // Overlays the set flag values.
  void ApplyOverrides(const ClientConfigOverrides& flags);

  // OK, or kInvalidSpec with one line naming the first problem: an address that is not
  // http(s)://host[:port][/] or unix:///path; a unix:// address without a token (the Task API
  // always requires one, nomad-api.md §8.4); a client certificate without its key or the reverse;
  // a TLS file or directory that does not exist; a token, region or namespace containing control
  // characters; a token file that cannot be read, is empty or holds control characters. Checks
  // that TLS files exist and reads the token file (file system access).
  base::Status Validate() const;

  // One line for logs: every setting, with the token shown only as "<set>" or "<none>".
  std::string Describe() const;

  // Parsed address parts (valid after Validate() succeeded).
  AddressScheme scheme() const;
  // "http://host:port" or "https://host:port" without a trailing slash; for unix://, the socket
  // path.
  std::string endpoint() const;
};

// A token file's content without trailing whitespace: kUnavailable when it cannot be read,
// kInvalidSpec when it is empty, larger than 16 KiB or contains control characters. Messages name
// the path, never the content.
base::Result<std::string> ReadTokenFile(const std::string& path);

// A token that is either fixed or the content of a file, re-read on use whenever the file's
// inode, size or modification time changed (one stat per use). When a changed file cannot be read
// (or is empty), the last token read is kept and re-reading is tried again on the next use, so a
// rotation caught half-way does not drop the token. Safe for concurrent use.
class TokenSource {
 public:
  // `path` empty: always `fixed`.
  TokenSource(std::string fixed, std::string path);
  explicit TokenSource(const ClientConfig& c) : TokenSource(c.token, c.token_file) {}
  TokenSource(const TokenSource&) = delete;
  TokenSource& operator=(const TokenSource&) = delete;

  // The current token ("" when there is none, or the file was never readable).
  std::string Get() const;

 private:
  struct FileId {
    ino_t ino = 0;
    off_t size = -1;
    timespec mtime{};
  };
  const std::string fixed_;
  const std::string path_;
  mutable std::mutex mu_;
  mutable std::optional<FileId> seen_;  // guarded by mu_: the version `token_` was read from
  mutable std::string token_;           // guarded by mu_
};

// Go's strconv.ParseBool.
std::optional<bool> ParseGoBool(const std::string& s);

// The Task API socket to use when NOMAD_ADDR is unset, as "unix:///abs/path/api.sock":
// NOMAD_UNIX_ADDR when set (Nomad sets it in tasks with identity.env from 1.10.3 and 1.11.0 on,
// client/taskenv/env.go; not in 1.10.2), else $NOMAD_SECRETS_DIR/api.sock when that exists.
// nullopt when NOMAD_ADDR is set or neither applies. The lock agent calls this before FromEnv
// and, on a value, sets ClientConfigOverrides::address.
std::optional<std::string> TaskApiSocketAddress(const GetEnvFn& getenv,
                                                const PathExistsFn& exists);

}  // namespace nsg::io
