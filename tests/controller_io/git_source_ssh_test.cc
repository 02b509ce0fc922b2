// io::GitSource over SSH (`--git-url ssh://...` with `--git-ssh-key-file`) against a real
// OpenSSH server: /usr/sbin/sshd (Debian's openssh-server) as a daemon of its own on 127.0.0.1 at
// a free port, with a generated host key and one authorized key in a temporary directory, serving
// a bare repository through git-upload-pack. What is checked: a fetch with the right key and the
// server's key in $HOME/.ssh/known_hosts publishes the commit; the known_hosts entry forms that
// are accepted ([host]:port, hashed |1|, the bare host) and those that are not (no file, no
// entry, a different key, another port, another name for the host) — a refused host key fails
// before any key is offered and names the host and its fingerprint; a key the server does not
// know is refused once, without a retry loop; an unreadable or missing key file and an unset HOME
// are named. Skipped (and saying why) only when sshd is not installed, or when the tests do not
// run as root and cannot start it; CI installs it and runs as root.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>

#include "controller/controller_io/git_source.h"
#include "tests/test_support/file_permissions.h"
#include "tests/test_support/git_repo.h"
#include "tests/test_support/temp_dir.h"
#include "tests/test_support/wait.h"

// Under AddressSanitizer: libgit2 1.5.1's SSH transport leaks a few hundred bytes per connection
// (libgit2/libgit2#6598), suppressed in .ci/lsan.supp by the git_remote_connect frame. libgit2
// and libssh2 keep no frame pointers, so only a full unwind of each allocation reaches that
// frame: this binary asks for it (the other tests keep the fast unwinder).
extern "C" const char* __asan_default_options() { return "fast_unwind_on_malloc=0"; }

namespace nsg::io {
namespace {

namespace fs = std::filesystem;
using Outcome = GitSyncResult::Outcome;
using namespace std::chrono_literals;

constexpr char kSshd[] = "/usr/sbin/sshd";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs a shell command (paths without spaces); its output, without the trailing newline. Throws
// when it fails.
std::string RunCommand(const std::string& cmd) {
  std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen: " + cmd);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (::pclose(p) != 0) throw std::runtime_error(cmd + " failed:\n" + out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// "ssh-ed25519 AAAA..." of a public key file (without its comment).
std::string PublicKey(const fs::path& pub) {
  std::istringstream in(ReadFile(pub));
  std::string type;
  std::string key;
  in >> type >> key;
  return type + " " + key;
}

// A port on 127.0.0.1 that was free a moment ago (0 when none could be bound).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

bool Accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// `sshd -D -e` on 127.0.0.1:<a free port>, everything it needs in `dir`: its configuration, an
// ed25519 host key, authorized_keys (the public key given), its pid file and its log.
class SshServer {
 public:
  explicit SshServer(fs::path dir) : dir_(std::move(dir)) {}
  ~SshServer() { Stop(); }
  SshServer(const SshServer&) = delete;
  SshServer& operator=(const SshServer&) = delete;

  // Starts sshd and waits until it accepts connections. "" when it does, else why not.
  std::string Start(const fs::path& authorized_public_key) {
    fs::create_directories(dir_);
    RunCommand("ssh-keygen -q -t ed25519 -N '' -C nsg-test-host -f " + host_key().string());
    fs::copy_file(authorized_public_key, dir_ / "authorized_keys");
    std::string why;
    // The port is free when picked and bound by sshd a moment later: another process may take
    // it in between; then sshd exits with "Address already in use" and another port is tried.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = FreePort();
      if (port_ == 0) return "no free port on 127.0.0.1";
      WriteConfig();
      why = Spawn();
      if (why.empty()) return "";
      if (why.find("Address already in use") == std::string::npos) return why;
    }
    return why;
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  fs::path host_key() const { return dir_ / "host_key"; }
  std::string log() const { return ReadFile(dir_ / "sshd.log"); }
  // How often sshd let a key in (it logs "Accepted publickey for USER ...").
  int accepted() const {
    const std::string text = log();
    int n = 0;
    for (size_t at = 0; (at = text.find("Accepted publickey", at)) != std::string::npos; ++at) {
      ++n;
    }
    return n;
  }

 private:
  void WriteConfig() {
    std::ofstream(dir_ / "sshd_config", std::ios::trunc)
        << "Port " << port_ << "\n"
        << "ListenAddress 127.0.0.1\n"
        << "HostKey " << host_key().string() << "\n"
        << "AuthorizedKeysFile " << (dir_ / "authorized_keys").string() << "\n"
        << "PidFile " << (dir_ / "sshd.pid").string() << "\n"
        << "StrictModes no\n"  // the temporary directory's modes are not sshd's business
        << "UsePAM no\n"
        << "PasswordAuthentication no\n"
        << "KbdInteractiveAuthentication no\n"
        << "PubkeyAuthentication yes\n"
        << "PermitRootLogin prohibit-password\n"  // CI runs as root: keys only
        << "AllowTcpForwarding no\n"
        << "X11Forwarding no\n"
        << "PrintMotd no\n";
  }

  // Runs sshd (argv and paths built before fork: the child only redirects and execs) and waits,
  // with a deadline, until it accepts a connection or exits.
  std::string Spawn() {
    const std::string config = (dir_ / "sshd_config").string();
    const std::string log_path = (dir_ / "sshd.log").string();
    const char* argv[] = {kSshd, "-D", "-e", "-f", config.c_str(), nullptr};
    const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) return log_path + ": cannot be written";
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::execv(argv[0], const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(log_fd);
    if (pid < 0) return "fork failed";
    pid_ = pid;
    bool exited = false;
    int status = 0;
    const bool ready = test_support::WaitUntil([&] {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited = true;
        return true;
      }
      return Accepts(port_);
    });
    if (exited) {
      pid_ = -1;
      return "sshd exited (status " + std::to_string(status) + "):\n" + log();
    }
    if (!ready) {
      Stop();
      return "sshd did not accept connections on 127.0.0.1:" + std::to_string(port_) +
             " within 10 s:\n" + log();
    }
    return "";
  }

  const fs::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

std::string CurrentUser() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw != nullptr ? pw->pw_name : "";
}

class GitSourceSshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kSshd, X_OK) != 0) {
      GTEST_SKIP() << kSshd << " is not installed (Debian package openssh-server; "
                   << ".ci/setup-deps.sh installs it): the SSH git source is not tested here";
    }
    // sshd refuses to start without its privilege separation directory, even as non-root.
    std::error_code ec;
    if (!fs::is_directory("/run/sshd", ec)) {
      if (::geteuid() != 0) {
        GTEST_SKIP() << "/run/sshd (sshd's privilege separation directory) is missing and these "
                        "tests do not run as root to create it";
      }
      // Other test processes may create it at the same time: what counts is that it exists.
      fs::create_directories("/run/sshd", ec);
      ASSERT_TRUE(fs::is_directory("/run/sshd")) << "cannot create /run/sshd: " << ec.message();
      ::chmod("/run/sshd", 0755);
    }
    user_ = CurrentUser();
    ASSERT_FALSE(user_.empty());
    tmp_.emplace("nsg-git-ssh");
    repo_.emplace(tmp_->path());
    // Both keys exist before sshd starts; only `key` is authorized.
    key_ = tmp_->path() / "keys" / "id_ed25519";
    wrong_key_ = tmp_->path() / "keys" / "other_ed25519";
    fs::create_directories(key_.parent_path());
    for (const fs::path& k : {key_, wrong_key_}) {
      RunCommand("ssh-keygen -q -t ed25519 -N '' -C nsg-test-user -f " + k.string());
    }
    server_.emplace(tmp_->path() / "sshd");
    const std::string why = server_->Start(key_.string() + ".pub");
    if (!why.empty()) {
      if (::geteuid() != 0) GTEST_SKIP() << "cannot run sshd as a non-root user: " << why;
      FAIL() << why;
    }
    // libgit2 reads $HOME/.ssh/known_hosts (HOME as it is when libgit2 is first initialised,
    // which is GitSource::Open here: no other source is open).
    if (const char* home = std::getenv("HOME")) saved_home_ = home;
    home_ = tmp_->path() / "home";
    fs::create_directories(home_ / ".ssh");
    ::setenv("HOME", home_.c_str(), 1);
    host_key_ = PublicKey(server_->host_key().string() + ".pub");
    // "256 SHA256:... nsg-test-host (ED25519)": what the refusal must name.
    std::istringstream fp(RunCommand("ssh-keygen -l -E sha256 -f " + server_->host_key().string() +
                              ".pub"));
    std::string bits;
    fp >> bits >> fingerprint_;
  }

  void TearDown() override {
    if (saved_home_) {
      ::setenv("HOME", saved_home_->c_str(), 1);
    } else if (!home_.empty()) {
      ::unsetenv("HOME");
    }
  }

  std::string Url() const {
    return "ssh://" + user_ + "@127.0.0.1:" + std::to_string(server_->port()) +
           repo_->bare().string();
  }
  std::string PortHost() const { return "[127.0.0.1]:" + std::to_string(server_->port()); }
  void WriteKnownHosts(const std::string& text) {
    std::ofstream(home_ / ".ssh" / "known_hosts", std::ios::trunc) << text;
  }

  std::unique_ptr<GitSource> Open(const fs::path& key_file) {
    GitSourceOptions o;
    o.url = Url();
    o.ref = "main";
    o.ssh_key_file = key_file.string();
    o.checkout_dir = (tmp_->path() / "checkout").string();
    auto s = GitSource::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // One Sync, which must end within 10 s (libgit2 has no timeout of its own over SSH).
  GitSyncResult SyncWithinDeadline(GitSource& src) {
    const auto t0 = std::chrono::steady_clock::now();
    GitSyncResult r = src.Sync(stop_.get_token());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "a fetch over SSH hung";
    return r;
  }

  std::optional<test_support::TestTempDir> tmp_;
  std::optional<test_support::GitTestRepo> repo_;
  std::optional<SshServer> server_;
  std::string user_;
  fs::path key_;
  fs::path wrong_key_;
  fs::path home_;
  std::optional<std::string> saved_home_;
  std::string host_key_;     // "ssh-ed25519 AAAA..."
  std::string fingerprint_;  // "SHA256:..."
  std::stop_source stop_;
};

TEST_F(GitSourceSshTest, FetchesWithTheKeyAndTheHostKeyInKnownHosts) {
  repo_->Write("specs/a.yaml", "a: 1\n");
  const std::string c1 = repo_->CommitAndPush("one");
  WriteKnownHosts(PortHost() + " " + host_key_ + "\n");
  auto src = Open(key_);
  ASSERT_TRUE(src);
  GitSyncResult r = SyncWithinDeadline(*src);
  ASSERT_EQ(r.outcome, Outcome::kUpdated) << r.error.ToString() << "\nsshd:\n" << server_->log();
  EXPECT_EQ(r.revision, c1);
  EXPECT_EQ(src->revision(), c1);
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "specs/a.yaml"), "a: 1\n");
  EXPECT_EQ(server_->accepted(), 1);

  // A second connection: the ls-remote sees the new commit, which is fetched and published.
  repo_->Write("specs/a.yaml", "a: 2\n");
  const std::string c2 = repo_->CommitAndPush("two");
  r = SyncWithinDeadline(*src);
  ASSERT_EQ(r.outcome, Outcome::kUpdated) << r.error.ToString();
  EXPECT_EQ(r.previous, c1);
  EXPECT_EQ(r.revision, c2);
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "specs/a.yaml"), "a: 2\n");
  EXPECT_EQ(src->status().url, "ssh://127.0.0.1:" + std::to_string(server_->port()) +
                                   repo_->bare().string())
      << "the user name is not shown";
}

// The forms of a known_hosts entry that let the host in: libgit2 1.5.1 hands the file to
// libssh2, which reads hashed entries, skips comments and @cert-authority lines, and also takes a
// port-less `host` entry for a non-standard port (OpenSSH would not).
TEST_F(GitSourceSshTest, KnownHostsEntryForms) {
  repo_->Write("a.yaml", "a: 1\n");
  const std::string c1 = repo_->CommitAndPush("one");
  auto src = Open(key_);
  ASSERT_TRUE(src);
  const fs::path known_hosts = home_ / ".ssh" / "known_hosts";
  // Hashed (`ssh-keygen -H`, as HashKnownHosts writes them): |1|salt|hash ssh-ed25519 AAAA...
  WriteKnownHosts(PortHost() + " " + host_key_ + "\n");
  RunCommand("ssh-keygen -q -H -f " + known_hosts.string());
  ASSERT_EQ(ReadFile(known_hosts).rfind("|1|", 0), 0u) << ReadFile(known_hosts);
  GitSyncResult r = SyncWithinDeadline(*src);
  ASSERT_EQ(r.outcome, Outcome::kUpdated) << r.error.ToString();
  EXPECT_EQ(r.revision, c1);

  // Among other lines: a comment, a CA marker, another host, and then ours.
  WriteKnownHosts("# comment\n@cert-authority *.example.com " + PublicKey(wrong_key_.string() +
                  ".pub") + "\ngit.example.com " + PublicKey(wrong_key_.string() + ".pub") +
                  "\n" + PortHost() + " " + host_key_ + "\n");
  r = SyncWithinDeadline(*src);
  EXPECT_EQ(r.outcome, Outcome::kUnchanged) << r.error.ToString();

  // The bare host, without the port.
  WriteKnownHosts("127.0.0.1 " + host_key_ + "\n");
  r = SyncWithinDeadline(*src);
  EXPECT_EQ(r.outcome, Outcome::kUnchanged) << r.error.ToString();
  EXPECT_EQ(server_->accepted(), 3);
}

// The server's key is checked before the client authenticates: a host whose key is not in
// known_hosts, or differs from it, gets no fetch and no key, and the error names the host and
// the fingerprint it presented.
TEST_F(GitSourceSshTest, UnknownOrChangedHostKeyIsRefused) {
  repo_->Write("a.yaml", "a: 1\n");
  const std::string c1 = repo_->CommitAndPush("one");
  auto src = Open(key_);
  ASSERT_TRUE(src);
  const std::string other = PublicKey(wrong_key_.string() + ".pub");
  const std::string port = std::to_string(server_->port());
  struct Case {
    const char* what;
    std::optional<std::string> known_hosts;  // nullopt: no file at all
  };
  const Case cases[] = {
      {"no known_hosts file", std::nullopt},
      {"an empty known_hosts", ""},
      {"another host only", "git.example.com " + host_key_ + "\n"},
      {"a different key for [127.0.0.1]:port", PortHost() + " " + other + "\n"},
      {"a different key for the bare host", "127.0.0.1 " + other + "\n"},
      {"the key for another port", "[127.0.0.1]:1 " + host_key_ + "\n"},
      {"the key under another name of the host", "[localhost]:" + port + " " + host_key_ + "\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    if (c.known_hosts) {
      WriteKnownHosts(*c.known_hosts);
    } else {
      fs::remove(home_ / ".ssh" / "known_hosts");
    }
    const GitSyncResult r = SyncWithinDeadline(*src);
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    const std::string& msg = r.error.message();
    EXPECT_NE(msg.find("the SSH host key of 127.0.0.1 (ssh-ed25519 " + fingerprint_ +
                       ") is not trusted"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find((home_ / ".ssh" / "known_hosts").string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("connect to ssh://127.0.0.1:" + port + "/"), std::string::npos) << msg;
    EXPECT_EQ(r.revision, "");
    EXPECT_FALSE(fs::exists(src->spec_dir())) << "nothing is published";
  }
  EXPECT_EQ(server_->accepted(), 0) << "a key was offered to an untrusted host:\n"
                                    << server_->log();

  // Trusted, then changed: the fetch fails and the published tree stays.
  WriteKnownHosts(PortHost() + " " + host_key_ + "\n");
  GitSyncResult r = SyncWithinDeadline(*src);
  ASSERT_EQ(r.outcome, Outcome::kUpdated) << r.error.ToString();
  repo_->Write("a.yaml", "a: 2\n");
  repo_->CommitAndPush("two");
  WriteKnownHosts(PortHost() + " " + other + "\n");
  r = SyncWithinDeadline(*src);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("is not trusted"), std::string::npos) << r.error.ToString();
  EXPECT_EQ(r.revision, c1);
  EXPECT_EQ(ReadFile(fs::path(src->spec_dir()) / "a.yaml"), "a: 1\n");
  EXPECT_EQ(server_->accepted(), 1);
}

// A key the server does not know: refused once (libgit2 asks again after a refusal; the source
// does not answer twice), at once. The key file is read on each use: replacing it lets in.
TEST_F(GitSourceSshTest, UnknownKeyIsRefusedOnceAndTheKeyFileIsReadOnUse) {
  repo_->Write("a.yaml", "a: 1\n");
  const std::string c1 = repo_->CommitAndPush("one");
  WriteKnownHosts(PortHost() + " " + host_key_ + "\n");
  const fs::path key_file = tmp_->path() / "deploy_key";
  fs::copy_file(wrong_key_, key_file);
  auto src = Open(key_file);
  ASSERT_TRUE(src);
  GitSyncResult r = SyncWithinDeadline(*src);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("the remote refused the credentials"), std::string::npos)
      << r.error.ToString();
  EXPECT_EQ(r.revision, "");
  EXPECT_EQ(server_->accepted(), 0);
  EXPECT_EQ(src->status().failures, 1u);

  fs::copy_file(key_, key_file, fs::copy_options::overwrite_existing);
  r = SyncWithinDeadline(*src);
  ASSERT_EQ(r.outcome, Outcome::kUpdated) << r.error.ToString();
  EXPECT_EQ(r.revision, c1);
  EXPECT_EQ(server_->accepted(), 1);
}

TEST_F(GitSourceSshTest, MissingUnreadableOrBrokenKeyFileIsNamed) {
  repo_->Write("a.yaml", "a: 1\n");
  repo_->CommitAndPush("one");
  WriteKnownHosts(PortHost() + " " + host_key_ + "\n");
  const fs::path missing = tmp_->path() / "no-such-key";
  auto src = Open(missing);
  ASSERT_TRUE(src);
  GitSyncResult r = SyncWithinDeadline(*src);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("--git-ssh-key-file " + missing.string() +
                                   " cannot be read: No such file or directory"),
            std::string::npos)
      << r.error.ToString();
  src.reset();

  // Readable, but not a private key: libssh2's own words.
  const fs::path garbage = tmp_->path() / "not_a_key";
  std::ofstream(garbage) << "not a key\n";
  src = Open(garbage);
  ASSERT_TRUE(src);
  r = SyncWithinDeadline(*src);
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("private key file"), std::string::npos) << r.error.ToString();
  src.reset();

  // Mode 000; as root, with the capabilities that bypass file modes dropped for this thread
  // (Sync runs libgit2 and its callbacks on the calling thread).
  const fs::path locked = tmp_->path() / "locked_key";
  fs::copy_file(key_, locked);
  fs::permissions(locked, fs::perms::none);
  {
    test_support::ScopedFilePermissionsEnforced enforced;
    if (!enforced.ok()) GTEST_SKIP() << "cannot drop CAP_DAC_OVERRIDE to test a mode-000 key";
    src = Open(locked);
    ASSERT_TRUE(src);
    r = SyncWithinDeadline(*src);
  }
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_NE(r.error.message().find("--git-ssh-key-file " + locked.string() +
                                   " cannot be read: Permission denied"),
            std::string::npos)
      << r.error.ToString();
  EXPECT_EQ(server_->accepted(), 0);
}

// Without HOME libgit2 cannot find known_hosts and fails every SSH connection with "error
// loading known_hosts: ": Open says so at once. No sshd needed.
TEST(GitSourceSsh, HomeUnsetIsRefusedAtOpen) {
  test_support::TestTempDir tmp("nsg-git-ssh-home");
  std::optional<std::string> saved;
  if (const char* home = std::getenv("HOME")) saved = home;
  ::unsetenv("HOME");
  GitSourceOptions o;
  o.url = "git@git.example.com:ops/specs.git";
  o.ssh_key_file = (tmp.path() / "key").string();
  o.checkout_dir = (tmp.path() / "checkout").string();
  const auto s = GitSource::Open(o);
  if (saved) ::setenv("HOME", saved->c_str(), 1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), base::StatusCode::kInvalidSpec);
  EXPECT_NE(s.status().message().find("HOME is not set"), std::string::npos)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find("git@git.example.com:ops/specs.git"), std::string::npos);

  // An https URL does not need it.
  ::unsetenv("HOME");
  o.url = "https://git.example.com/ops/specs.git";
  o.ssh_key_file.clear();
  const auto https = GitSource::Open(o);
  if (saved) ::setenv("HOME", saved->c_str(), 1);
  EXPECT_TRUE(https.ok()) << https.status().ToString();
}

}  // namespace
}  // namespace nsg::io
