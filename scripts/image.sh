#!/usr/bin/env bash
# Builds the container image from the Dockerfile and checks it (tests/package/test_image.sh).
#   scripts/image.sh [--tag IMAGE] [--lock-image NAME] [--debootstrap-base] [--no-test]
#     --tag IMAGE          the image's name (default nomad-singleton:<version>)
#     --lock-image NAME    the default lock-agent image compiled in (spec lock.agent.image;
#                          default: --tag). Give the name the image will be pushed under.
#     --debootstrap-base   build the Debian bookworm base image locally with debootstrap (from
#                          Debian's mirror, as root; needs the debootstrap package) instead of
#                          pulling debian:bookworm from a registry: for machines that reach
#                          Debian's mirror but no container registry. Tagged
#                          nomad-singleton-base/debian:bookworm (and -slim, the same image).
#     --no-test            build only
# Needs a Docker engine. Prints the image's name and size on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(sed -n 's/^project(nomad_singleton VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
TAG="nomad-singleton:$VERSION"; LOCK_IMAGE=""; BASE=0; TEST=1
while (($#)); do
  case "$1" in
    --tag) TAG="$2"; shift ;;
    --lock-image) LOCK_IMAGE="$2"; shift ;;
    --debootstrap-base) BASE=1 ;;
    --no-test) TEST=0 ;;
    *) echo "image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
LOCK_IMAGE=${LOCK_IMAGE:-$TAG}
docker info >/dev/null 2>&1 || { echo "image.sh: no Docker engine answers (docker info)" >&2; exit 1; }

BUILD_ARGS=(--build-arg "LOCK_IMAGE=$LOCK_IMAGE")
if [ "$BASE" = 1 ]; then
  base=nomad-singleton-base/debian:bookworm
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || { echo "image.sh: --debootstrap-base needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
    root=$(mktemp -d)
    chmod 755 "$root"  # it becomes the image's / (mktemp made it 0700: no one else could enter)
    trap 'rm -rf "$root"' EXIT
    echo "image.sh: debootstrap --variant=minbase bookworm (Debian's mirror) into $root"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 ||
      { tail -20 "$root.log" >&2; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root.log"
    tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - "$base" >/dev/null
    rm -rf "$root"
  fi
  docker tag "$base" "$base-slim"
  BUILD_ARGS+=(--build-arg "DEBIAN_IMAGE=$base")
fi

# The docker CLI builds with BuildKit only through its buildx plugin; without it, the classic
# builder (the Dockerfile needs nothing BuildKit adds).
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
start=$SECONDS
docker build -t "$TAG" "${BUILD_ARGS[@]}" .
echo "image.sh: built $TAG in $((SECONDS - start)) s"
[ "$TEST" = 0 ] || bash tests/package/test_image.sh "$TAG" "$LOCK_IMAGE"
echo "$TAG $(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.1f MB", $1 / 1e6}')"
