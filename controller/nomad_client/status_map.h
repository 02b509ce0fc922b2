// The one place where an HTTP answer from Nomad becomes a Status (STYLE.md, "Errors").
//
// Nomad answers errors as plain text with no envelope (nomad-api.md §1.8). The mapping, by what
// the caller should do next:
//
//   HTTP status                                   body contains                  Status
//   2xx                                           -                              kOk
//   400, 405, 411, 413, 414, 415, 422, other 4xx  -                              kInvalidSpec
//   401, 403                                      -                              kPermissionDenied
//   404                                           -                              kNotFound
//   409                                           -                              kConflict
//   408, 429                                      -                              kUnavailable
//   500                                           "Enforcing job modify index"   kConflict
//   500                                           "variable doesn't hold a lock" kConflict
//   500                                           "variable doesn't exist"       kNotFound
//   500                                           "error(s) occurred:" (multierror of job
//                                                 validation), "nonexistent namespace",
//                                                 "Job ID does not match"        kInvalidSpec
//   500 (other), 501-599                          -                              kUnavailable
//   3xx                                           -                              kUnavailable
//   1xx, anything else                            -                              kInternal
//
// Redirects are never followed (the transports do not, so X-Nomad-Token goes only to the
// configured address); a 3xx is an outage of the configured address whose message names the
// origin it pointed to, never the rest of the Location (it may carry a query with secrets).
//
// The EnforceIndex check is tested before the multierror one: Nomad may wrap it in a multierror.
// Transport errors are already kUnavailable or kCancelled and pass through unchanged.
// Pure functions; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>

#include "controller/base/status.h"

namespace nsg::io {

// Maps an HTTP answer. `what` names the request for the message ("GET /v1/job/web"); the message
// is "<what>: HTTP <status>: <body, trimmed, at most 512 bytes>", for a 3xx "<what>: HTTP 307
// redirect to <origin of location> refused: ...".
base::Status StatusFromHttp(int http_status, std::string_view body, std::string_view what,
                            std::string_view location = {});

// "scheme://host[:port]" of an absolute URL, "" for a relative one.
std::string UrlOrigin(std::string_view url);

// The code alone (for tables and tests).
base::StatusCode StatusCodeFromHttp(int http_status, std::string_view body);

// Replaces every occurrence of `secret` in `text` by "<redacted>" (no-op for an empty secret).
std::string Redact(std::string text, std::string_view secret);

}  // namespace nsg::io
