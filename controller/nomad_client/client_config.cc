#include "controller/nomad_client/client_config.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace nsg::io {
namespace {

using base::Status;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool HasControlChars(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool StartsWith(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::string_view(s).substr(0, prefix.size()) == prefix;
}

// Splits "scheme://rest" with a case-insensitive scheme. Returns false when there is no "://".
bool SplitScheme(const std::string& address, std::string& scheme, std::string& rest) {
  size_t pos = address.find("://");
  if (pos == std::string::npos) return false;
  scheme = Lower(address.substr(0, pos));
  rest = address.substr(pos + 3);
  return true;
}

Status CheckHostPort(const std::string& rest) {
  std::string hostport = rest;
  if (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  if (hostport.empty()) return Status::InvalidSpec("has no host");
  if (hostport.find('/') != std::string::npos || hostport.find('?') != std::string::npos ||
      hostport.find('#') != std::string::npos) {
    return Status::InvalidSpec("must not have a path or query (use scheme://host:port)");
  }
  if (hostport.find('@') != std::string::npos) {
    return Status::InvalidSpec("must not carry user information");
  }
  // The port is what follows the last ':' outside an IPv6 literal.
  size_t bracket = hostport.rfind(']');
  size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    std::string port = hostport.substr(colon + 1);
    if (colon == 0) return Status::InvalidSpec("has no host");
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535 ||
        std::stoi(port) == 0) {
      return Status::InvalidSpec("has an invalid port \"" + port + "\"");
    }
  }
  return Status::Ok();
}

Status CheckExists(const std::string& path, const char* what, bool want_dir) {
  if (path.empty()) return Status::Ok();
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) {
    return Status::InvalidSpec(std::string(what) + " \"" + path + "\" does not exist");
  }
  if (want_dir != std::filesystem::is_directory(st)) {
    return Status::InvalidSpec(std::string(what) + " \"" + path + "\" is " +
                               (want_dir ? "not a directory" : "a directory"));
  }
  return Status::Ok();
}

}  // namespace

std::optional<bool> ParseGoBool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return false;
  }
  return std::nullopt;
}

base::Result<ClientConfig> ClientConfig::FromEnv(const GetEnvFn& getenv) {
  ClientConfig c;
  auto get = [&](const char* name, std::string& out) {
    const char* v = getenv(name);
    if (v != nullptr && *v != '\0') out = v;
  };
  get("NOMAD_ADDR", c.address);
  get("NOMAD_TOKEN", c.token);
  get("NOMAD_REGION", c.region);
  get("NOMAD_NAMESPACE", c.namespace_);
  get("NOMAD_CACERT", c.tls.ca_cert);
  get("NOMAD_CAPATH", c.tls.ca_path);
  get("NOMAD_CLIENT_CERT", c.tls.client_cert);
  get("NOMAD_CLIENT_KEY", c.tls.client_key);
  get("NOMAD_TLS_SERVER_NAME", c.tls.server_name);
  std::string skip;
  get("NOMAD_SKIP_VERIFY", skip);
  if (!skip.empty()) {
    std::optional<bool> b = ParseGoBool(skip);
    if (!b) {
      return Status::InvalidSpec("NOMAD_SKIP_VERIFY: \"" + skip +
                                 "\" is not a boolean (use true or false)");
    }
    c.tls.skip_verify = *b;
  }
  return c;
}

void ClientConfig::ApplyOverrides(const ClientConfigOverrides& f) {
  if (f.address) address = *f.address;
  if (f.token) token = *f.token;
  if (f.token_file) token_file = *f.token_file;
  if (f.region) region = *f.region;
  if (f.namespace_) namespace_ = *f.namespace_;
  if (f.ca_cert) tls.ca_cert = *f.ca_cert;
  if (f.ca_path) tls.ca_path = *f.ca_path;
  if (f.client_cert) tls.client_cert = *f.client_cert;
  if (f.client_key) tls.client_key = *f.client_key;
  if (f.tls_server_name) tls.server_name = *f.tls_server_name;
  if (f.skip_verify) tls.skip_verify = *f.skip_verify;
}

base::Status ClientConfig::Validate() const {
  auto bad = [](const std::string& msg) { return Status::InvalidSpec(msg); };
  std::string scheme, rest;
  if (!SplitScheme(address, scheme, rest)) {
    return bad("Nomad address \"" + address +
               "\" has no scheme (use http://, https:// or unix://)");
  }
  if (scheme == "unix") {
    if (rest.empty() || rest.front() != '/') {
      return bad("Nomad address \"" + address + "\": a unix:// address needs an absolute path");
    }
    if (token.empty() && token_file.empty()) {
      return bad("Nomad address \"" + address +
                 "\": the Task API socket requires a token (set NOMAD_TOKEN)");
    }
  } else if (scheme == "http" || scheme == "https") {
    Status s = CheckHostPort(rest);
    if (!s.ok()) return bad("Nomad address \"" + address + "\" " + s.message());
  } else {
    return bad("Nomad address \"" + address + "\": unsupported scheme \"" + scheme +
               "\" (use http://, https:// or unix://)");
  }
  // Never echo the token, not even in part.
  if (HasControlChars(token)) return bad("Nomad token contains control characters");
  if (!token_file.empty()) {
    if (auto t = ReadTokenFile(token_file); !t.ok()) return bad(t.status().message());
  }
  if (HasControlChars(region)) return bad("Nomad region contains control characters");
  if (HasControlChars(namespace_)) return bad("Nomad namespace contains control characters");
  if (HasControlChars(tls.server_name) || tls.server_name.find(':') != std::string::npos ||
      tls.server_name.find('/') != std::string::npos) {
    return bad("TLS server name \"" + tls.server_name + "\" must be a bare host name");
  }
  if (tls.client_cert.empty() != tls.client_key.empty()) {
    return bad(tls.client_cert.empty() ? "client key given without a client certificate"
                                       : "client certificate given without a client key");
  }
  for (Status s : {CheckExists(tls.ca_cert, "CA certificate file", false),
                   CheckExists(tls.ca_path, "CA directory", true),
                   CheckExists(tls.client_cert, "client certificate file", false),
                   CheckExists(tls.client_key, "client key file", false)}) {
    if (!s.ok()) return s;
  }
  if (request_timeout.count() <= 0) return bad("request timeout must be positive");
  return Status::Ok();
}

std::string ClientConfig::Describe() const {
  std::string out = "address=" + address;
  out += " token=";
  out += !token_file.empty() ? "<file " + token_file + ">" : token.empty() ? "<none>" : "<set>";
  out += " region=" + (region.empty() ? std::string("<agent>") : region);
  out += " namespace=" + (namespace_.empty() ? std::string("<default>") : namespace_);
  if (!tls.ca_cert.empty()) out += " ca_cert=" + tls.ca_cert;
  if (!tls.ca_path.empty()) out += " ca_path=" + tls.ca_path;
  if (!tls.client_cert.empty()) out += " client_cert=" + tls.client_cert;
  if (!tls.client_key.empty()) out += " client_key=" + tls.client_key;
  if (!tls.server_name.empty()) out += " tls_server_name=" + tls.server_name;
  if (tls.skip_verify) out += " skip_verify=true";
  out += " timeout=" + base::FormatDuration(request_timeout);
  return out;
}

AddressScheme ClientConfig::scheme() const {
  std::string scheme, rest;
  SplitScheme(address, scheme, rest);
  if (scheme == "unix") return AddressScheme::kUnix;
  if (scheme == "https") return AddressScheme::kHttps;
  return AddressScheme::kHttp;
}

std::string ClientConfig::endpoint() const {
  std::string scheme, rest;
  if (!SplitScheme(address, scheme, rest)) return address;
  if (scheme == "unix") return rest;
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  return scheme + "://" + rest;
}

std::optional<std::string> TaskApiSocketAddress(const GetEnvFn& getenv,
                                                const PathExistsFn& exists) {
  const char* addr = getenv("NOMAD_ADDR");
  if (addr != nullptr && *addr != '\0') return std::nullopt;
  const char* unix_addr = getenv("NOMAD_UNIX_ADDR");
  if (unix_addr != nullptr && StartsWith(unix_addr, "unix://")) return std::string(unix_addr);
  const char* secrets = getenv("NOMAD_SECRETS_DIR");
  if (secrets == nullptr || *secrets == '\0') return std::nullopt;
  std::string dir = secrets;
  if (dir.back() == '/') dir.pop_back();
  std::string sock = dir + "/api.sock";
  if (!exists(sock)) return std::nullopt;
  if (sock.front() != '/') {
    std::error_code ec;
    auto abs = std::filesystem::absolute(sock, ec);
    if (!ec) sock = abs.string();
  }
  return "unix://" + sock;
}

}  // namespace nsg::io

namespace nsg::io {

namespace {
constexpr size_t kMaxTokenFile = 16 * 1024;
}  // namespace

base::Result<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::Unavailable("token file " + path + ": cannot be read (" +
                               std::strerror(errno) + ")");
  }
  std::string text(kMaxTokenFile + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxTokenFile) {
    return Status::InvalidSpec("token file " + path + ": larger than 16 KiB");
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) return Status::InvalidSpec("token file " + path + " is empty");
  if (HasControlChars(text)) {
    return Status::InvalidSpec("token file " + path + " contains control characters");
  }
  return text;
}

TokenSource::TokenSource(std::string fixed, std::string path)
    : fixed_(std::move(fixed)), path_(std::move(path)) {}

std::string TokenSource::Get() const {
  if (path_.empty()) return fixed_;
  struct stat st {};
  std::lock_guard lock(mu_);
  if (::stat(path_.c_str(), &st) != 0) return token_;
  const FileId now{st.st_ino, st.st_size, st.st_mtim};
  if (seen_ && seen_->ino == now.ino && seen_->size == now.size &&
      seen_->mtime.tv_sec == now.mtime.tv_sec && seen_->mtime.tv_nsec == now.mtime.tv_nsec) {
    return token_;
  }
  base::Result<std::string> t = ReadTokenFile(path_);
  if (t.ok()) {
    token_ = std::move(t).value();
    seen_ = now;
  }
  return token_;
}

}  // namespace nsg::io
