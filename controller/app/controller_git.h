// The git spec source in the running controller (`controller --git-url`): the POST /hooks/git
// webhook, what a fetch does to the metrics and the log, and its /status section. The source
// itself is io::GitSource; app/controller.cc owns it and runs its fetches on the spec-source
// thread. Its flags are parsed in cmd/controller_git.h.
//
// Free functions without state of their own; WebhookReply and GitStatusJson are safe for
// concurrent use (they read io::GitSource through its thread-safe calls).
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "controller/controller_io/git_source.h"
#include "controller/controller_io/metrics_exporter.h"
#include "controller/controller_io/status_server.h"
#include "controller/nomad_client/client_config.h"

namespace nsg::app {

inline constexpr char kGitWebhookPath[] = "/hooks/git";
// A push event's payload is a few KiB to a few hundred; GitHub caps deliveries at 25 MiB, but
// the body is only authenticated here, never parsed.
inline constexpr size_t kGitWebhookMaxBody = 1024 * 1024;

struct GitConfig {
  io::GitSourceOptions source;
  std::string webhook_secret_file;  // "": no webhook
};

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

}  // namespace nsg::app
