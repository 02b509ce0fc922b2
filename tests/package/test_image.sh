#!/usr/bin/env bash
# Checks a built nomad-singleton container image the way its users run it (docs/install.md, "The
# container image"):
#   - `version` runs, as the non-root user 10001, with the guard statically linked beside it;
#   - the default lock-agent image compiled in is the name given to the build (LOCK_IMAGE);
#   - the controller runs from it with a read-only root file system, every capability dropped and
#     no-new-privileges (the chart's securityContext), reads specs from a read-only mount and
#     registers every example in a simulator run from the same image; `status` reaches it, /metrics
#     answers, and `docker stop` ends it with status 0.
# Usage: tests/package/test_image.sh IMAGE [LOCK_IMAGE]   (LOCK_IMAGE defaults to IMAGE)
# Needs a Docker engine (`docker info` must answer). scripts/image.sh builds the image and runs this.
set -euo pipefail
IMAGE=${1:?usage: test_image.sh IMAGE [LOCK_IMAGE]}
LOCK_IMAGE=${2:-$IMAGE}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEADLINE_S=${NSG_IMAGE_TEST_DEADLINE_S:-60}

tmp=$(mktemp -d)
net="nsg-image-test-$$"
cleanup() {
  docker rm -f "$net-sim" "$net-ctl" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "test_image: FAIL: $*" >&2
  for c in "$net-ctl" "$net-sim"; do
    docker inspect "$c" >/dev/null 2>&1 || continue
    docker logs --tail 30 "$c" 2>&1 | sed "s/^/  $c: /" >&2 || true
  done
  exit 1
}
step() { echo "test_image: $*"; }

docker info >/dev/null 2>&1 || { echo "test_image: no Docker engine answers (docker info)" >&2; exit 1; }
docker image inspect "$IMAGE" >/dev/null || fail "no image $IMAGE"

step "version"
docker run --rm "$IMAGE" version >"$tmp/version" || fail "'version' failed"
grep -q '^nomad-singleton ' "$tmp/version" || fail "unexpected version output: $(cat "$tmp/version")"

step "runs as the non-root user 10001"
uid=$(docker run --rm --entrypoint id "$IMAGE" -u)
[ "$uid" = 10001 ] || fail "the image runs as uid $uid, not 10001"

step "the guard is statically linked and runs from /usr/local/bin"
cid=$(docker create "$IMAGE")
docker cp -L "$cid:/usr/local/bin/nomad-singleton-guard" "$tmp/guard" >/dev/null
docker rm "$cid" >/dev/null
file "$tmp/guard" | grep -q 'statically linked' || fail "guard: $(file "$tmp/guard")"
docker run --rm --entrypoint /usr/local/bin/nomad-singleton-guard "$IMAGE" --help >/dev/null ||
  fail "the guard's --help failed"

step "the default lock-agent image is $LOCK_IMAGE"
mkdir "$tmp/specs"
cat >"$tmp/specs/docker-default.yaml" <<'EOF'
apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata:
  name: image-default
spec:
  datacenters: ["dc1"]
  lock:
    mode: sidecar
    agent:
      driver: docker
  task:
    name: app
    driver: docker
    config:
      image: example/app:1
      command: /app
EOF
chmod -R a+rX "$tmp/specs"
docker run --rm -v "$tmp/specs:/specs:ro" "$IMAGE" render /specs/docker-default.yaml >"$tmp/render" ||
  fail "render failed"
grep -q "\"image\": \"$LOCK_IMAGE\"" "$tmp/render" ||
  fail "the rendered lock agent's image is not $LOCK_IMAGE: $(grep '"image"' "$tmp/render" | head -2)"

step "validate the shipped examples"
docker run --rm -v "$ROOT/manifests/examples:/specs:ro" "$IMAGE" validate /specs >/dev/null ||
  fail "validate of manifests/examples failed"

step "the controller, read-only and unprivileged, converges the examples on the simulator"
docker network create "$net" >/dev/null
docker run -d --name "$net-sim" --network "$net" "$IMAGE" \
  sim --listen 0.0.0.0:4646 --no-processes --nodes 3 >/dev/null
docker run -d --name "$net-ctl" --network "$net" \
  --read-only --cap-drop ALL --security-opt no-new-privileges \
  -v "$ROOT/manifests/examples:/specs:ro" -p 127.0.0.1::9464 "$IMAGE" \
  controller --specs /specs --address "http://$net-sim:4646" --http-addr 0.0.0.0:9464 >/dev/null
port=$(docker port "$net-ctl" 9464/tcp | head -1 | sed 's/.*://')
[ -n "$port" ] || fail "the controller's port is not published"
want=$(find "$ROOT/manifests/examples" -name '*.yaml' | wc -l)
end=$((SECONDS + DEADLINE_S))
while :; do
  # Every example's job in Nomad at the spec's hash (/status: each singleton's job and hashes).
  if curl -sf "http://127.0.0.1:$port/status" >"$tmp/status.json" 2>/dev/null &&
     python3 - "$tmp/status.json" "$want" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
rows = doc.get("singletons", [])
registered = [r for r in rows
              if r.get("job") and r["job"].get("spec_hash") == r.get("desired_spec_hash")]
sys.exit(0 if len(rows) == int(sys.argv[2]) and len(registered) == len(rows) else 1)
EOF
  then break; fi
  [ "$SECONDS" -lt "$end" ] || fail "the examples were not all registered within ${DEADLINE_S}s"
  sleep 0.5
done
docker run --rm --network "$net" "$IMAGE" status --addr "$net-ctl:9464" >"$tmp/status.txt" ||
  [ $? -eq 2 ] || fail "'status' could not ask the controller"
grep -q webhook-dispatcher "$tmp/status.txt" || fail "status lists no webhook-dispatcher: $(cat "$tmp/status.txt")"
curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^nomad_singleton_' || fail "/metrics has no nomad_singleton_ series"

step "docker stop ends the controller with status 0"
docker stop -t 20 "$net-ctl" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$net-ctl")
[ "$code" = 0 ] || fail "the controller exited with status $code after docker stop"
echo "test_image: PASS ($IMAGE; lock agent image $LOCK_IMAGE; $want examples registered)"
