#!/usr/bin/env bash
# The main job, for a newcomer on a fresh Debian machine: installs the dependencies, builds, then
#   1. validates manifests/examples/ and explains each singleton's timer budget;
#   2. starts the embedded Nomad simulator (3 nodes) and the controller on manifests/examples/,
#      waits until every singleton's job is registered and its allocations run, and prints the
#      controller's /status as a table;
#   3. stops both;
#   4. runs the deterministic fault simulation on the same specs (real lock agents, seeded
#      crashes, partitions and API faults): at most one instance each, and the downtimes.
# The example tasks run as stand-ins (--no-processes): their commands are not on this machine.
# tests/cmd/lock_sim_e2e_test.cc runs real lock agents and workloads on the simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh >/dev/null
BIN=$PWD/build/controller/cmd/nomad-singleton
WORK=$(mktemp -d)
cleanup() {
  [ -n "${CTL_PID:-}" ] && kill "$CTL_PID" 2>/dev/null || true
  [ -n "${SIM_PID:-}" ] && kill "$SIM_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== nomad-singleton validate manifests/examples/"
"$BIN" validate manifests/examples/
echo
echo "== nomad-singleton render --explain manifests/examples/ (two of them)"
"$BIN" render --explain manifests/examples/hot-standby.yaml manifests/examples/shim-service.yaml

echo "== nomad-singleton sim --nodes 3   (the embedded Nomad API simulator)"
"$BIN" sim --listen 127.0.0.1:0 --nodes 3 --acl --no-processes >"$WORK/sim.out" 2>"$WORK/sim.err" &
SIM_PID=$!
for _ in $(seq 100); do [ "$(wc -l <"$WORK/sim.out")" -ge 3 ] && break; sleep 0.1; done
export NOMAD_ADDR=$(head -1 "$WORK/sim.out")
export NOMAD_TOKEN=$(sed -n 2p "$WORK/sim.out" | awk '{print $NF}')
echo "simulator at $NOMAD_ADDR (ACLs on; the controller uses the management token)"

echo "== nomad-singleton controller --specs manifests/examples/"
"$BIN" controller --specs manifests/examples --http-addr 127.0.0.1:0 >"$WORK/ctl.out" 2>"$WORK/ctl.err" &
CTL_PID=$!
STATUS=""
for _ in $(seq 100); do
  STATUS=$(grep -o 'status on 127.0.0.1:[0-9]*' "$WORK/ctl.err" | head -1 | sed 's/status on //') || true
  [ -n "$STATUS" ] && break
  sleep 0.1
done
[ -n "$STATUS" ] || { echo "the controller did not start:"; cat "$WORK/ctl.err"; exit 1; }
# Converged when the controller reports every singleton Synced (job and ACL policy as the spec says).
python3 - "$STATUS" <<'PY'
import json, sys, time, urllib.request
addr = sys.argv[1]
deadline = time.time() + 60
while True:
    try:
        st = json.load(urllib.request.urlopen(f"http://{addr}/status", timeout=5))
    except Exception:
        st = {"ready": False, "singletons": []}
    rows = st.get("singletons", [])
    def settled(r):
        synced = any(c["type"] == "Synced" and c["status"] for c in (r.get("conditions") or []))
        running = any(a["client_status"] == "running" for a in (r.get("allocations") or []))
        return synced and (running or (r.get("job") or {}).get("periodic"))
    done = st.get("ready") and rows and all(settled(r) for r in rows)
    if done or time.time() > deadline:
        break
    time.sleep(0.5)
print(f"{'SINGLETON':34} {'JOB VERSION':>11} {'RUNNING':>7}  CONDITIONS")
for r in rows:
    job = r.get("job") or {}
    running = sum(a["client_status"] == "running" for a in (r.get("allocations") or []))
    conds = ", ".join(f"{c['type']}={str(c['status']).lower()}({c['reason']})"
                      for c in (r.get("conditions") or []))
    print(f"{r['singleton']:34} {job.get('version', '-'):>11} {running:>7}  {conds}")
if not done:
    sys.exit("not converged within 60s")
print("\nEvery singleton is registered with its ACL policy and its allocations are placed.\n"
      "Ready=false/NoHolder: the simulator's stand-in tasks run no lock agent (the fault\n"
      "simulation below runs real lock agents); the periodic job runs on its schedule.")
PY

echo
echo "== nomad-singleton simulate --seeds 20 manifests/examples/"
echo "   (the same specs with real lock agents, under seeded crashes, partitions and API faults)"
"$BIN" simulate --seeds 20 manifests/examples/
