#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (ctest). The README's test command.
#   scripts/test.sh             warnings-as-errors build in build/
#   scripts/test.sh --sanitize  the same under AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=build; [ "${1:-}" = "--sanitize" ] && DIR=build-asan
python3 .ci/check-layering.py
bash scripts/build.sh "$@"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/.ci/lsan.supp
ctest --test-dir "$DIR" --output-on-failure -j "$(nproc)"
