#!/usr/bin/env bash
# Installs every build and test dependency of nomad-singleton from Debian's packages.
# Idempotent: packages already present are left as they are; safe to run again.
set -euo pipefail
PKGS=(
  build-essential g++ cmake ninja-build git pkg-config ca-certificates curl openssl python3
  libcpprest-dev libboost-dev libboost-system-dev libssl-dev zlib1g-dev
  libyaml-cpp-dev prometheus-cpp-dev libcivetweb-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libsimdjson-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  python3-jsonschema python3-yaml
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
