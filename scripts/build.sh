#!/usr/bin/env bash
# Installs the dependencies (Debian packages) and builds nomad-singleton.
#   scripts/build.sh [--sanitize] [--dir DIR] [--product] [--no-tests] [--target T]...
# Default build directory: build/ (build-asan/ with --sanitize). Warnings are errors.
# --product builds only the binaries (nomad-singleton and its static guard), not the tests;
# --target builds only the targets named (default: everything).
# --no-tests configures the tree without tests and benchmarks and installs only the packages the
# product needs (the container image's build stage).
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=OFF; DIR=build; BENCH=ON; TESTS=ON; DEPS=(); TARGETS=()
while (($#)); do
  case "$1" in
    --sanitize) SANITIZE=ON; DIR=build-asan; BENCH=OFF ;;
    --dir) DIR="$2"; shift ;;
    --product) TARGETS+=(--target nomad-singleton --target nomad-singleton-guard) ;;
    --no-tests) TESTS=OFF; BENCH=OFF; DEPS=(--build-only) ;;
    --target) TARGETS+=(--target "$2"); shift ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
bash .ci/setup-deps.sh "${DEPS[@]}"
# -O2 without full debug info keeps a clean build of both trees within CI's budget on 2 cores;
# the sanitizer tree is built at -Og (the sanitizers' compile time at -O1 was 1.7-2x -Og's for
# the heaviest files: CI's budget, docs/testing.md) and has no debug info: -g1 cost 35% of its
# compile time, and reports still name each frame's function (symbols); for file:line, rebuild
# it with NSG_ASAN_FLAGS="-O1 -g1" bash scripts/build.sh --sanitize.
if [ "$SANITIZE" = ON ]; then BUILD_TYPE=Debug; FLAGS="${NSG_ASAN_FLAGS:--Og}"; else BUILD_TYPE=Release; FLAGS="-O2"; fi
cmake -S . -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
      -DCMAKE_CXX_FLAGS_RELEASE="$FLAGS" -DCMAKE_CXX_FLAGS_DEBUG="$FLAGS" -DNSG_WERROR=ON \
      -DNSG_SANITIZE="$SANITIZE" -DNSG_BUILD_TESTS="$TESTS" -DNSG_BUILD_BENCH="$BENCH" >/dev/null
cmake --build "$DIR" -j "$(nproc)" "${TARGETS[@]}"
