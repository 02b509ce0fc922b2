#include "controller/app/controller_git.h"

#include <chrono>

namespace nsg::app {

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

}  // namespace nsg::app
