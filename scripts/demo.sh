#!/usr/bin/env bash
# The main job, for a newcomer on a fresh Debian machine: installs the dependencies, builds the
# binary (not the tests), validates the example specs, then runs `nomad-singleton demo`: the
# embedded Nomad simulator with real processes and the controller on two demo singletons whose
# lock agents are this binary; a crash failover, a graceful handover and a duplicate, each as a
# live timeline, with at most one workload per singleton checked throughout (about 50 s).
# Arguments go to `nomad-singleton demo` (e.g. --keep-running, --nomad-version 1.10).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== building nomad-singleton (dependencies from Debian first; a few minutes on a clean machine)"
BUILD_LOG=$(mktemp)
if ! bash scripts/build.sh --product >"$BUILD_LOG" 2>&1; then
  cat "$BUILD_LOG"
  echo "the build failed (its output is above)" >&2
  exit 1
fi
rm -f "$BUILD_LOG"
BIN=$PWD/build/controller/cmd/nomad-singleton

echo "== nomad-singleton validate manifests/examples/"
"$BIN" validate manifests/examples/
echo
echo "== nomad-singleton render --explain manifests/examples/hot-standby.yaml"
"$BIN" render --explain manifests/examples/hot-standby.yaml
echo
echo "== nomad-singleton demo $*"
exec "$BIN" demo "$@"
