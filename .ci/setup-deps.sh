#!/usr/bin/env bash
# Installs every build and test dependency of nomad-singleton from Debian's packages.
# Idempotent: packages already present are left as they are; safe to run again.
set -euo pipefail
PKGS=(
  build-essential g++ cmake ninja-build git pkg-config ca-certificates curl openssl python3
  libcpprest-dev libboost-dev libboost-system-dev libssl-dev zlib1g-dev
  libyaml-cpp-dev prometheus-cpp-dev libcivetweb-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libsimdjson-dev
  libgit2-dev  # the controller's git source (--git-url); its tests run `git daemon` (package git)
  openssh-server  # sshd for the git source's SSH tests (tests/io/git_source_ssh_test.cc)
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  python3-jsonschema python3-yaml
  clang libclang-rt-14-dev  # libFuzzer builds of tests/fuzz (scripts/fuzz.sh)
  prometheus  # promtool: rule unit tests and scrape lint (tests/metrics, tests/io)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
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
