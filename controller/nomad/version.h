// NomadVersion: a Nomad server's release version, and the behaviours of Nomad that nomad-singleton
// depends on and that differ between the supported releases (docs/nomad-compatibility.md).
//
// The controller learns the version from GET /v1/agent/self (member.Tags.build of a server agent,
// else config.Version.Version); the simulator takes one (`--nomad-version`) and reproduces the
// differences below. Only major.minor.patch take part in comparisons: a pre-release or build
// suffix ("1.11.0-beta.1", "2.0.5+ent") is kept for display only.
//
// Pure value type; no I/O.
#pragma once

#include <compare>
#include <string>
#include <string_view>
#include <vector>

#include "controller/base/status.h"

namespace nsg::nomad {

struct NomadVersion {
  int major = 0, minor = 0, patch = 0;
  std::string suffix;  // "-beta.1", "+ent", "-dev" ("" for a release)

  // "1.10.2", "v2.0.5", "1.11.0-beta.1", "2.0.5+ent". kInvalidSpec otherwise.
  static base::Result<NomadVersion> Parse(std::string_view text);
  // A simulator profile or a full version: "1.10" → 1.10.5, "1.11" → 1.11.3, "2.0" → 2.0.5
  // (the newest patch release the project was checked against); "1.10.2" → itself.
  static base::Result<NomadVersion> FromProfile(std::string_view text);

  std::string ToString() const;  // "1.10.2" + suffix

  auto operator<=>(const NomadVersion& o) const {
    if (auto c = major <=> o.major; c != 0) return c;
    if (auto c = minor <=> o.minor; c != 0) return c;
    return patch <=> o.patch;
  }
  bool operator==(const NomadVersion& o) const { return (*this <=> o) == 0; }
};

// The simulator's default profile and the oldest release the controller runs against.
inline const NomadVersion kDefaultSimVersion{2, 0, 5, ""};
inline const NomadVersion kMinSupportedVersion{1, 10, 2, ""};
// The profiles tests and the fault simulation run on ("1.10", "1.11", "2.0").
const std::vector<std::string>& VersionProfiles();

// Whether the controller supports `v` (1.10.2+, 1.11.x, 2.0.x).
bool IsSupported(const NomadVersion& v);
// The `Variable` event topic (nomad/structs/event.go TopicVariable) exists from 2.0.0. Before
// that lock changes reach the controller only through reads (a blocking list of /v1/vars).
bool HasVariableTopic(const NomadVersion& v);
// From 1.11.2 the event-stream handler hijacks the connection (command/agent/event_endpoint.go):
// "200 OK" goes out before the ACL check, so later errors are "200, then EOF".
bool HijacksEventStream(const NomadVersion& v);
// NOMAD_UNIX_ADDR in a task's environment with identity env=true (client/taskenv/env.go), from
// 1.10.3 (and every 1.11 and 2.x release).
bool SetsUnixAddrEnv(const NomadVersion& v);

}  // namespace nsg::nomad
