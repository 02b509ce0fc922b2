#include "controller/nomad_client/status_map.h"

#include <string>

namespace nsg::io {
namespace {

using base::StatusCode;

constexpr size_t kMaxBodyInMessage = 512;

bool Contains(std::string_view body, std::string_view needle) {
  return body.find(needle) != std::string_view::npos;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\r' ||
                        s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

StatusCode StatusCodeFromHttp(int http_status, std::string_view body) {
  if (http_status >= 200 && http_status < 300) return StatusCode::kOk;
  switch (http_status) {
    case 401:
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kConflict;
    case 408:
    case 429:
      return StatusCode::kUnavailable;
    case 500:
      // Uncoded Go errors all become 500 (nomad-api.md §1.8); the few that are not transient are
      // recognized by their text. Order matters: EnforceIndex may come wrapped in a multierror.
      if (Contains(body, "Enforcing job modify index")) return StatusCode::kConflict;
      if (Contains(body, "variable doesn't hold a lock")) return StatusCode::kConflict;
      if (Contains(body, "variable doesn't exist")) return StatusCode::kNotFound;
      // ("ACL support disabled", the answer of a cluster without ACLs, is not one of them: it is a
      // coded 400, nomad/acl_endpoint.go aclDisabled, and maps to kInvalidSpec below.)
      if (Contains(body, "error occurred:") || Contains(body, "errors occurred:") ||
          Contains(body, "nonexistent namespace") || Contains(body, "Job ID does not match")) {
        return StatusCode::kInvalidSpec;
      }
      return StatusCode::kUnavailable;
    default:
      break;
  }
  if (http_status >= 400 && http_status < 500) return StatusCode::kInvalidSpec;
  if (http_status >= 500 && http_status < 600) return StatusCode::kUnavailable;
  if (http_status >= 300 && http_status < 400) return StatusCode::kUnavailable;
  return StatusCode::kInternal;
}

std::string UrlOrigin(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "";
  const size_t end = url.find_first_of("/?#", scheme_end + 3);
  std::string_view origin = url.substr(0, end);
  // Drop userinfo: it would be a credential.
  const size_t at = origin.rfind('@');
  if (at != std::string_view::npos && at > scheme_end) {
    return std::string(origin.substr(0, scheme_end + 3)) + std::string(origin.substr(at + 1));
  }
  return std::string(origin);
}

base::Status StatusFromHttp(int http_status, std::string_view body, std::string_view what,
                            std::string_view location) {
  StatusCode code = StatusCodeFromHttp(http_status, body);
  if (code == StatusCode::kOk) return base::Status::Ok();
  if (http_status >= 300 && http_status < 400) {
    const std::string origin = UrlOrigin(location);
    return base::Status(
        code, std::string(what) + ": HTTP " + std::to_string(http_status) + " redirect" +
                  (origin.empty() ? std::string() : " to " + origin) +
                  " refused: redirects are not followed, so the token goes only to the "
                  "configured Nomad address (point NOMAD_ADDR or --address at the server "
                  "itself)");
  }
  std::string_view text = Trim(body);
  std::string msg(what);
  msg += ": HTTP ";
  msg += std::to_string(http_status);
  if (!text.empty()) {
    msg += ": ";
    if (text.size() > kMaxBodyInMessage) {
      msg += text.substr(0, kMaxBodyInMessage);
      msg += "...";
    } else {
      msg += text;
    }
  }
  return base::Status(code, std::move(msg));
}

std::string Redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  static constexpr std::string_view kMark = "<redacted>";
  size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), kMark);
    pos += kMark.size();
  }
  return text;
}

}  // namespace nsg::io
