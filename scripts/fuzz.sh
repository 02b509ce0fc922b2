#!/usr/bin/env bash
# The fuzz targets (tests/fuzz/) built with clang's libFuzzer: coverage-guided, under ASan + UBSan
# (build-fuzz/, -O1, warnings as errors).
#   scripts/fuzz.sh --smoke           every target on its seed corpus for a fixed number of runs
#                                     with a fixed seed (ctest fuzz_smoke_*, ≤ 60 s each): CI
#   scripts/fuzz.sh --runs N [T...]   a long run: N executions per target (default all three),
#                                     growing the corpus in build-fuzz/corpus/<target>; prints
#                                     libFuzzer's last status line per target and keeps any crash
#                                     input in build-fuzz/crashes/<target>/
#   scripts/fuzz.sh --fast --runs N   the same, built -O2 without the sanitizers (build-fuzz-fast/:
#                                     4-5x the executions per second); replay any crash input
#                                     on the sanitized build (build-fuzz/tests/fuzz/fuzz_<t> FILE)
# Needs clang and libclang-rt-14-dev (.ci/setup-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=build-fuzz; TYPE=Debug; FLAGS="-O1 -g1"; SAN=ON
if [ "${1:-}" = --fast ]; then DIR=build-fuzz-fast; TYPE=Release; FLAGS="-O2 -g1"; SAN=OFF; shift; fi
MODE=${1:-}; shift || true
case "$MODE" in
  --smoke) ;;
  --runs) RUNS=${1:?--runs needs a count}; shift ;;
  *) echo "fuzz.sh: [--fast] --smoke | [--fast] --runs N [target...]" >&2; exit 2 ;;
esac
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(spec_loader nomad_json lease_file)
bash .ci/setup-deps.sh >/dev/null
CC=clang CXX=clang++ cmake -S . -B "$DIR" -G Ninja -DCMAKE_BUILD_TYPE=$TYPE \
  -DCMAKE_CXX_FLAGS_$(echo "$TYPE" | tr a-z A-Z)="$FLAGS" -DNSG_WERROR=ON -DNSG_SANITIZE=$SAN \
  -DNSG_LIBFUZZER=ON -DNSG_BUILD_BENCH=OFF >/dev/null
build_targets=()
for t in "${TARGETS[@]}"; do build_targets+=(--target "fuzz_$t"); done
cmake --build "$DIR" -j "$(nproc)" "${build_targets[@]}"
if [ "$MODE" = --smoke ]; then
  regex=$(IFS='|'; echo "${TARGETS[*]}")
  exec ctest --test-dir "$DIR" -R "^fuzz_smoke_($regex)\$" --output-on-failure -j "$(nproc)"
fi
rc=0
for t in "${TARGETS[@]}"; do
  corpus=$(sed -n "s/^$t=//p" "$DIR/tests/fuzz/corpus-dirs.txt")
  mkdir -p "$DIR/corpus/$t" "$DIR/crashes/$t"
  echo "== fuzz_$t: $RUNS runs"
  start=$SECONDS
  # shellcheck disable=SC2086  # corpus is a list of directories
  if ! "$DIR/tests/fuzz/fuzz_$t" -runs="$RUNS" -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$DIR/crashes/$t/" "$DIR/corpus/$t" $corpus >"$DIR/fuzz_$t.log" 2>&1; then
    rc=1
  fi
  grep -E '^(#[0-9]+ +DONE|Done|stat::|==[0-9]+==ERROR|SUMMARY)' "$DIR/fuzz_$t.log" || tail -n 20 "$DIR/fuzz_$t.log"
  echo "fuzz_$t: $((SECONDS - start)) s, log $DIR/fuzz_$t.log"
done
exit $rc
