#include "controller/cmd/controller_git.h"

#include <chrono>

#include "controller/base/duration.h"

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

io::HttpReply WebhookReply(io::GitSource& source, const io::TokenSource& secret,
                           const io::HttpServerRequest& request) {
  const std::string key = secret.Get();
  if (key.empty()) {
    return {503, "text/plain; charset=utf-8",
            "the webhook secret cannot be read; see the controller's log\n"};
  }
  auto it = request.headers.find("x-hub-signature-256");
  if (it == request.headers.end() || !io::VerifyWebhookSignature(key, request.body, it->second)) {
    return {401, "text/plain; charset=utf-8",
            "X-Hub-Signature-256 is missing or does not match the body\n"};
  }
  source.Trigger();
  return {202, "text/plain; charset=utf-8", "fetch triggered\n"};
}

void ReportGitSync(const io::GitSyncResult& r, const std::string& url,
                   io::ControllerMetrics& metrics, spdlog::logger& log) {
  using Outcome = io::GitSyncResult::Outcome;
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  metrics.ObserveGitFetch(io::GitOutcomeName(r.outcome), r.revision,
                          r.outcome != Outcome::kFailed, now);
  const std::string was = r.previous.empty() ? "none" : r.previous;
  switch (r.outcome) {
    case Outcome::kUnchanged:
      log.debug("git: {} unchanged at {}", url, r.revision);
      break;
    case Outcome::kUpdated:
      log.info("git: {} now at {} (was {})", url, r.revision, was);
      break;
    case Outcome::kForced:
      log.warn("git: {} was force-pushed: now at {}, which does not descend from {}", url,
               r.revision, was);
      break;
    case Outcome::kFailed:
      log.warn("git: {}; specs stay at {} and nothing counts as deleted until a fetch succeeds",
               r.error.message(), r.revision.empty() ? "no commit (none fetched yet)" : r.revision);
      break;
  }
}

nlohmann::ordered_json GitStatusJson(const io::GitSourceStatus& s) {
  using Json = nlohmann::ordered_json;
  auto unix_time = [](double t) { return t > 0 ? Json(t) : Json(nullptr); };
  return {{"url", s.url},
          {"ref", s.ref},
          {"path", s.path},
          {"revision", s.revision.empty() ? Json(nullptr) : Json(s.revision)},
          {"last_fetch", unix_time(s.last_fetch)},
          {"last_success", unix_time(s.last_success)},
          {"last_change", unix_time(s.last_change)},
          {"last_change_forced", s.last_change_forced},
          {"last_error", s.last_error.empty() ? Json(nullptr) : Json(s.last_error)},
          {"fetches", s.fetches},
          {"failures", s.failures}};
}

}  // namespace nsg::cmd
