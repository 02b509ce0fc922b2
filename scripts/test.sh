#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite. The README's test command, and CI's (.ci/run).
#   scripts/test.sh            every test (ctest) under AddressSanitizer + UndefinedBehaviorSanitizer
#                              (build-asan/, warnings as errors), then the fuzz targets built with
#                              clang's libFuzzer for a short seeded run each (scripts/fuzz.sh
#                              --smoke, build-fuzz/): what CI runs
#   scripts/test.sh --full     the same, then the product in Release (build/, -O2, warnings as
#                              errors), 150 fault-simulation worlds on the Release binary (50 per
#                              Nomad version profile) and the .deb built, installed, run and purged
#                              (tests/package/test_deb.sh; as root)
#   scripts/test.sh --release  every test in the Release tree (build/): quicker to run, for
#                              development
# CI runs the sanitized tree and the fuzz smoke runs, nothing else, to stay within its budget on
# 2 cores (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-}
case "$MODE" in
  ""|--full|--release) ;;
  *) echo "test.sh: unknown argument $MODE (--full, --release or nothing)" >&2; exit 2 ;;
esac
python3 .ci/check-layering.py
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/.ci/lsan.supp
start=$SECONDS
if [ "$MODE" = --release ]; then
  bash scripts/build.sh
  ctest --test-dir build --output-on-failure -j "$(nproc)"
  exit 0
fi
echo "== sanitizer build, every test (build-asan/)"
bash scripts/build.sh --sanitize
rc=0
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" || rc=1
echo "== libFuzzer smoke runs (clang, ASan + UBSan, build-fuzz/)"
bash scripts/fuzz.sh --smoke || rc=1
if [ "$MODE" = --full ]; then
  echo "== Release build of the product (build/)"
  bash scripts/build.sh --product
  echo "== fault simulation on the Release binary: 50 worlds per Nomad version profile"
  BIN=build/controller/cmd/nomad-singleton
  LOGS=$(mktemp -d)
  pids=()
  for v in 1.10 1.11 2.0; do
    "$BIN" simulate --seeds 50 --first-seed 100001 --nomad-version "$v" >"$LOGS/$v" 2>&1 &
    pids+=($!)
  done
  for i in 0 1 2; do
    v=(1.10 1.11 2.0); v=${v[$i]}
    if wait "${pids[$i]}"; then head -n 1 "$LOGS/$v" | sed "s/^/[nomad $v] /"; else cat "$LOGS/$v"; rc=1; fi
  done
  rm -rf "$LOGS"
  echo "== the Debian package: built from the Release tree, installed, run, purged"
  deb_rc=0
  bash scripts/package.sh >/dev/null && NSG_TEST_DEB=1 bash tests/package/test_deb.sh build/package ||
    deb_rc=$?
  if [ "$deb_rc" = 77 ]; then echo "(package install test skipped: needs root)";
  elif [ "$deb_rc" != 0 ]; then rc=1; fi
fi
echo "scripts/test.sh finished in $((SECONDS - start))s"
exit $rc
