#include "controller/cmd/controller_git.h"

#include <chrono>

#include "controller/base/duration.h"
#include "controller/nomad_client/client_config.h"

namespace nsg::cmd {

using base::Status;

const std::vector<FlagSpec>& GitFlags() {
  static const std::vector<FlagSpec> flags = {
      {"git-url", true, "URL",
       "own the spec source as a git checkout instead of --specs: fetch URL (https://, ssh://, "
       "git://, file:// or a path) with libgit2. Userinfo in URL is never logged or shown"},
      {"git-ref", true, "REF",
       "what to follow: HEAD (default: the remote's default branch), a branch, a tag or a full "
       "refs/... name"},
      {"git-path", true, "PATH",
       "the repository's subdirectory holding the specs (default: its root)"},
      {"git-interval", true, "DURATION",
       "fetch this often (default 1m); POST /hooks/git fetches at once"},
      {"git-checkout-dir", true, "DIR",
       "where the controller keeps its repository and checked-out trees (required with "
       "--git-url; created if missing; one controller per DIR). Specs are read from "
       "DIR/current[/PATH], a symlink swapped atomically to each new commit's complete tree"},
      {"git-token-file", true, "FILE",
       "HTTPS basic auth password (a token) read from FILE, re-read when it changes"},
      {"git-username", true, "NAME",
       "user name sent with --git-token-file (default x-access-token)"},
      {"git-ssh-key-file", true, "FILE",
       "SSH private key (without passphrase) for ssh:// and user@host:path URLs; the host key "
       "is checked against ~/.ssh/known_hosts"},
      {"git-webhook-secret-file", true, "FILE",
       "serve POST /hooks/git on --http-addr: a body signed with the secret in FILE "
       "(X-Hub-Signature-256: sha256=HMAC-SHA256 hex, as GitHub, Gitea and Forgejo send it) "
       "triggers a fetch now; unsigned or badly signed bodies get 401, bodies "
       "over 1 MiB 413. Re-read when it changes"},
  };
  return flags;
}

base::Result<std::optional<GitConfig>> GitConfigFromArgs(const Args& args) {
  if (!args.Has("git-url")) {
    for (const FlagSpec& f : GitFlags()) {
      if (args.Has(f.name)) return Status::InvalidSpec("--" + f.name + " goes with --git-url");
    }
    return std::optional<GitConfig>();
  }
  GitConfig c;
  c.source.url = args.Get("git-url");
  c.source.ref = args.Get("git-ref", io::kDefaultGitRef);
  c.source.path = args.Get("git-path");
  c.source.checkout_dir = args.Get("git-checkout-dir");
  if (c.source.checkout_dir.empty()) {
    return Status::InvalidSpec("--git-url needs --git-checkout-dir DIR");
  }
  if (args.Has("git-interval")) {
    auto d = base::ParseDuration(args.Get("git-interval"));
    if (!d.ok() || d.value() <= base::Duration(0)) {
      return Status::InvalidSpec(
          "--git-interval must be a positive duration such as 30s or 5m, got \"" +
          args.Get("git-interval") + "\"");
    }
    c.source.interval = d.value();
  }
  c.source.token_file = args.Get("git-token-file");
  c.source.username = args.Get("git-username", io::kDefaultGitUsername);
  c.source.ssh_key_file = args.Get("git-ssh-key-file");
  c.webhook_secret_file = args.Get("git-webhook-secret-file");
  for (const auto& [flag, file] :
       {std::pair<const char*, std::string>{"git-token-file", c.source.token_file},
        {"git-webhook-secret-file", c.webhook_secret_file}}) {
    if (file.empty()) continue;
    if (auto t = io::ReadTokenFile(file); !t.ok()) {
      return Status::InvalidSpec(std::string("--") + flag + ": " + t.status().message());
    }
  }
  return std::optional<GitConfig>(std::move(c));
}

}  // namespace nsg::cmd
