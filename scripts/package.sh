#!/usr/bin/env bash
# Builds the Debian package from the Release tree: the product binaries only (no tests), then
# CPack's DEB generator (cmake/Packaging.cmake). Prints the .deb's path on the last line.
#   scripts/package.sh [--dir DIR]        default build/
#   scripts/package.sh --no-tests         (with --dir) a tree without tests and benchmarks, and only
#                                         the packages the product needs (the image's build stage)
#   scripts/package.sh --sanitized        CI's package, NOT for distribution: the same install
#                                         rules and package around the sanitized tree's binaries
#                                         (build-asan/, already built by scripts/test.sh; they
#                                         need libasan8 and libubsan1, and the guard is not
#                                         static). CI has no room for a Release compile of the
#                                         product (docs/testing.md), and this checks everything
#                                         the package adds to the binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=build; SANITIZED=0; BUILD_ARGS=()
while (($#)); do
  case "$1" in
    --dir) DIR="$2"; shift ;;
    --sanitized) SANITIZED=1; DIR=build-asan ;;
    --no-tests) BUILD_ARGS+=(--no-tests) ;;
    *) echo "package.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
sanitizer_tree=0
if [ -f "$DIR/CMakeCache.txt" ] && grep -q '^NSG_SANITIZE:BOOL=ON' "$DIR/CMakeCache.txt"; then
  sanitizer_tree=1
fi
if [ "$SANITIZED" = 1 ]; then
  [ "$sanitizer_tree" = 1 ] || { echo "package.sh: $DIR is not a sanitizer tree" >&2; exit 2; }
  bash scripts/build.sh --sanitize --target nomad-singleton --target nomad-singleton-guard
elif [ "$sanitizer_tree" = 1 ]; then
  echo "package.sh: $DIR is a sanitizer tree; package the Release tree (or --sanitized for CI)" >&2
  exit 2
else
  bash scripts/build.sh --dir "$DIR" "${BUILD_ARGS[@]}" --target nomad-singleton --target nomad-singleton-guard
fi
OUT="$DIR/package"
rm -rf "$OUT/_CPack_Packages"
cpack --config "$DIR/CPackConfig.cmake" -G DEB -B "$OUT" >"$DIR/cpack.log" 2>&1 ||
  { cat "$DIR/cpack.log" >&2; exit 1; }
deb=$(ls -t "$OUT"/nomad-singleton_*.deb | head -n 1)
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
echo "$deb"
