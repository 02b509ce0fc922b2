#!/usr/bin/env bash
# Sets up, builds and runs the main job on the example specs: validate them, then explain and render
# what each becomes in Nomad. (Once the controller lands, this starts the embedded simulator and
# the controller instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
BIN=build/controller/cmd/nomad-singleton
echo "== nomad-singleton validate manifests/examples/"
"$BIN" validate manifests/examples/
echo
echo "== nomad-singleton render --explain manifests/examples/"
"$BIN" render --explain manifests/examples/
echo "== nomad-singleton render manifests/examples/ (first 40 lines of the JSON)"
"$BIN" render manifests/examples/ | head -40
