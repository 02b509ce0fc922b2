// The controller's git source wiring (`controller --git-url`): its flags, the POST /hooks/git
// webhook, what a fetch does to the metrics and the log, and its /status section. The source
// itself is io::GitSource; controller_command.cc owns it and runs its fetches on the
// spec-source thread.
//
// Free functions without state of their own; WebhookReply and GitStatusJson are safe for
// concurrent use (they read io::GitSource through its thread-safe calls).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "controller/base/status.h"
#include "controller/cmd/cli.h"
#include "controller/controller_io/git_source.h"
#include "controller/controller_io/metrics_exporter.h"
#include "controller/controller_io/status_server.h"
#include "controller/nomad_client/client_config.h"

namespace nsg::cmd {

inline constexpr char kGitWebhookPath[] = "/hooks/git";
// A push event's payload is a few KiB to a few hundred; GitHub caps deliveries at 25 MiB, but
// the body is only authenticated here, never parsed.
inline constexpr size_t kGitWebhookMaxBody = 1024 * 1024;

// --git-url, --git-ref, --git-path, --git-interval, --git-checkout-dir, --git-token-file,
// --git-username, --git-ssh-key-file, --git-webhook-secret-file.
const std::vector<FlagSpec>& GitFlags();

struct GitConfig {
  io::GitSourceOptions source;
  std::string webhook_secret_file;  // "": no webhook
};

// nullopt without --git-url; kInvalidSpec (one line, for a usage error) for git flags without
// --git-url, a bad interval, or an unreadable secret or token file.
base::Result<std::optional<GitConfig>> GitConfigFromArgs(const Args& args);

// POST /hooks/git: 202 and `source.Trigger()` for a body signed with the secret in
// X-Hub-Signature-256; 401 for a missing or wrong signature; 503 when the secret file cannot be
// read.
io::HttpReply WebhookReply(io::GitSource& source, const io::TokenSource& secret,
                           const io::HttpServerRequest& request);

// Logs one Sync's result and counts it in the metrics.
void ReportGitSync(const io::GitSyncResult& result, const std::string& url,
                   io::ControllerMetrics& metrics, spdlog::logger& log);

// /status's "git" object.
nlohmann::ordered_json GitStatusJson(const io::GitSourceStatus& status);

}  // namespace nsg::cmd
