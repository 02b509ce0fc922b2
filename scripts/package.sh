#!/usr/bin/env bash
# Builds the Debian package from the Release tree: the product binaries only (no tests), then
# CPack's DEB generator (cmake/Packaging.cmake). Prints the .deb's path on the last line.
#   scripts/package.sh [--dir DIR]        default build/
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=build
while (($#)); do
  case "$1" in
    --dir) DIR="$2"; shift ;;
    *) echo "package.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -f "$DIR/CMakeCache.txt" ] && grep -q '^NSG_SANITIZE:BOOL=ON' "$DIR/CMakeCache.txt"; then
  echo "package.sh: $DIR is a sanitizer tree; package the Release tree" >&2
  exit 2
fi
bash scripts/build.sh --dir "$DIR" --target nomad-singleton --target nomad-singleton-guard
OUT="$DIR/package"
rm -rf "$OUT/_CPack_Packages"
cpack --config "$DIR/CPackConfig.cmake" -G DEB -B "$OUT" >"$DIR/cpack.log" 2>&1 ||
  { cat "$DIR/cpack.log" >&2; exit 1; }
deb=$(ls -t "$OUT"/nomad-singleton_*.deb | head -n 1)
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
echo "$deb"
