#!/usr/bin/env bash
# ctest entry of the contract suite: `go test` of this module against `nomad-singleton sim`.
#   NSG_BIN   the nomad-singleton binary (ctest passes $<TARGET_FILE:nomad-singleton>)
#   NSG_REPO  the repository root (for the render checks)
# Exits 77 (ctest SKIP_RETURN_CODE) only when no usable Go toolchain exists: `go` on PATH or
# /usr/local/go/bin/go, version 1.26 or later (github.com/hashicorp/nomad/api needs it). Modules
# come from the Go module proxy into Go's default module cache, checked against go.sum.
set -euo pipefail
cd "$(dirname "$0")"
GO=$(command -v go || true)
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
if [ -z "$GO" ]; then
  echo "contract: SKIPPED: no Go toolchain (neither go on PATH nor /usr/local/go/bin/go);" \
       "install Go 1.26+ to run the contract suite against HashiCorp's api client"
  exit 77
fi
export GOTOOLCHAIN=local
ver=$("$GO" env GOVERSION)  # go1.26.8
minor=$(echo "$ver" | sed -E 's/^go1\.([0-9]+).*/\1/')
if ! [[ "$minor" =~ ^[0-9]+$ ]] || [ "$minor" -lt 26 ]; then
  echo "contract: SKIPPED: $GO is $ver; the contract suite needs Go 1.26 or later"
  exit 77
fi
# The tests wait on the simulators far more than they compute: run them all at once (the default
# -parallel is GOMAXPROCS, 2 on CI, which serializes the waits to ~25 s instead of ~7 s). No vet
# pass in CI (it costs compile time): run `go vet ./...` when changing the suite.
exec "$GO" test -count=1 -vet=off -parallel 32 -timeout 240s ./...
