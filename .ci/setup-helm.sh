#!/usr/bin/env bash
# Installs helm (for tests/helm/check_chart.py) to /usr/local/bin/helm, built from source with
# the local Go toolchain, only when no helm of that version is there. Idempotent. Not run by
# .ci/setup-deps.sh: building it costs minutes of CPU on a clean Go cache (docs/install.md,
# "Helm in CI"); scripts/test.sh runs it beside the tests, and ctest's helm_chart is skipped
# without it.
#   .ci/setup-helm.sh            HELM_VERSION (v4.3.2), GO (/usr/local/go/bin/go) may be set
set -euo pipefail
HELM_VERSION=${HELM_VERSION:-v4.3.2}
GO=${GO:-/usr/local/go/bin/go}
DEST=/usr/local/bin/helm
# The module version built into the binary (`helm version` says only "v4.3" for a go-install build).
if [ -x "$DEST" ] && [ -x "$GO" ] &&
   "$GO" version -m "$DEST" 2>/dev/null | grep -qE "^\s+mod\s+helm\.sh/helm/v4\s+$HELM_VERSION(\s|$)"; then
  echo "helm $HELM_VERSION: already at $DEST"
  exit 0
fi
if [ ! -x "$GO" ]; then
  echo "setup-helm.sh: no Go toolchain at $GO (set GO=...)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Without the compiler's optimizations and debug info: a quarter less CPU for a binary that only
# lints and renders charts (CI's budget, docs/install.md).
GOBIN="$work/bin" GOTOOLCHAIN=local GOFLAGS=-modcacherw \
  "$GO" install -gcflags='all=-N -l' -ldflags='-s -w' -trimpath "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO install -m 0755 "$work/bin/helm" "$DEST"
"$DEST" version
