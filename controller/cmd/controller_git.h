// The controller's git source flags (`controller --git-url`), parsed into an app::GitConfig. What
// the running controller does with the source (webhook, fetch reports, /status) is in
// controller/app/controller_git.h.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controller/app/controller_git.h"
#include "controller/base/status.h"
#include "controller/cmd/cli.h"

namespace nsg::cmd {

using app::GitConfig;

// --git-url, --git-ref, --git-path, --git-interval, --git-checkout-dir, --git-token-file,
// --git-username, --git-ssh-key-file, --git-webhook-secret-file.
const std::vector<FlagSpec>& GitFlags();

// nullopt without --git-url; kInvalidSpec (one line, for a usage error) for git flags without
// --git-url, a bad interval, or an unreadable secret or token file.
base::Result<std::optional<GitConfig>> GitConfigFromArgs(const Args& args);

}  // namespace nsg::cmd
