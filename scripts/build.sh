#!/usr/bin/env bash
# Installs the dependencies (Debian packages) and builds nomad-singleton.
#   scripts/build.sh [--sanitize] [--dir DIR]
# Default build directory: build/ (build-asan/ with --sanitize). Warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=OFF; DIR=build; BENCH=ON
while (($#)); do
  case "$1" in
    --sanitize) SANITIZE=ON; DIR=build-asan; BENCH=OFF ;;
    --dir) DIR="$2"; shift ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
bash .ci/setup-deps.sh
BUILD_TYPE=RelWithDebInfo; [ "$SANITIZE" = ON ] && BUILD_TYPE=Debug
cmake -S . -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DNSG_WERROR=ON \
      -DNSG_SANITIZE="$SANITIZE" -DNSG_BUILD_BENCH="$BENCH" >/dev/null
cmake --build "$DIR" -j "$(nproc)"
