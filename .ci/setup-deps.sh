#!/usr/bin/env bash
# Installs every build and test dependency of nomad-singleton from Debian's packages.
# Idempotent: packages already present are left as they are; safe to run again.
set -euo pipefail
# What building and packaging the product needs (the container image's build stage installs only
# these: `--build-only`, with scripts/build.sh --no-tests).
BUILD_PKGS=(
  build-essential g++ cmake ninja-build git pkg-config ca-certificates
  libcpprest-dev libboost-dev libboost-system-dev libssl-dev zlib1g-dev
  libyaml-cpp-dev prometheus-cpp-dev libcivetweb-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libsimdjson-dev
  libgit2-dev  # the controller's git source (--git-url); its tests run `git daemon` (package git)
  file  # the package checks: is the guard static (scripts/test.sh, tests/package/test_deb.sh)
)
# What the tests, benchmarks and fuzzers add.
TEST_PKGS=(
  curl openssl python3
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  python3-jsonschema python3-yaml
  clang libclang-rt-14-dev  # libFuzzer builds of tests/fuzz (scripts/fuzz.sh)
  prometheus  # promtool: rule unit tests and scrape lint (tests/metrics, tests/controller_io)
)
BUILD_ONLY=0
case "${1:-}" in
  --build-only) BUILD_ONLY=1 ;;
  "") ;;
  *) echo "setup-deps.sh: unknown argument $1 (--build-only: what building the product needs)" >&2; exit 2 ;;
esac
PKGS=("${BUILD_PKGS[@]}")
[ "$BUILD_ONLY" = 1 ] || PKGS+=("${TEST_PKGS[@]}")
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  UPDATED=1
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
[ "$BUILD_ONLY" = 0 ] || exit 0

# sshd for the git source's SSH tests (tests/controller_io/git_source_ssh_test.cc runs its own
# sshd on 127.0.0.1 with a temporary config). Installing Debian's openssh-server would also start and
# enable the system's sshd on port 22: when this script is what installs it, the daemon is kept
# from starting during the install and disabled afterwards (a system that had the package
# already keeps its settings).
if ! dpkg-query -W -f='${Status}' openssh-server 2>/dev/null | grep -q "install ok installed"; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null && $SUDO chmod 755 "$policy"
    own_policy=1
  fi
  [ -n "${UPDATED:-}" ] || $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends openssh-server ||
    { [ "$own_policy" = 1 ] && $SUDO rm -f "$policy"; exit 1; }
  [ "$own_policy" = 1 ] && $SUDO rm -f "$policy"
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
  echo "setup-deps: openssh-server installed for the SSH tests; the system sshd is not enabled"
fi

# The contract suite (tests/contract) needs Go 1.26+ (github.com/hashicorp/nomad/api requires it;
# Debian's golang-go is older). CI machines have it at /usr/local/go, not always on PATH. Its
# modules are fetched from the Go module proxy into Go's default module cache (go.sum is
# committed). Without Go, ctest reports the suite as skipped.
GO=$(command -v go || true)
if [ -z "$GO" ] && [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; fi
if [ -n "$GO" ]; then
  if (cd "$(dirname "$0")/../tests/contract" && GOTOOLCHAIN=local "$GO" mod download); then
    echo "setup-deps: Go modules of tests/contract downloaded ($("$GO" env GOVERSION))"
  else
    echo "setup-deps: $GO ($("$GO" env GOVERSION)) could not fetch the contract suite's modules" \
         "(Go 1.26+ and the Go module proxy are needed); ctest -R contract will say why"
  fi
else
  echo "setup-deps: no Go toolchain (go on PATH or /usr/local/go/bin/go): the contract suite" \
       "(ctest -R contract) will be skipped; install Go 1.26+ to run it"
fi
