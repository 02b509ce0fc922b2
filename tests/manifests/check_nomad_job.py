#!/usr/bin/env python3
"""The controller's own Nomad job (manifests/nomad/) registers and runs, and its command works.

  check_nomad_job.py NOMAD_SINGLETON_BINARY [SOURCE_DIR]

1. manifests/nomad/nomad-singleton.nomad.hcl and nomad-singleton.json say the same thing where
   it matters (the controller's arguments in order, count, templates, artifact, service, update),
   so the JSON cannot drift from the HCL unnoticed.
2. `nomad-singleton sim --no-processes --acl` accepts the JSON as `POST /v1/jobs` (the body
   `nomad job run -json` and the HTTP API take), places its 2 allocations on 2 different nodes
   and runs them (followed with blocking queries on the job's allocations, not by sleeping);
   the stored job keeps the templates, the artifact and the Nomad service.
3. The task's command line runs: two `nomad-singleton controller` processes with exactly the
   job's arguments (the task and secrets directories interpolated as Nomad would; only the
   --http-addr is moved to 127.0.0.1:0) against that simulator, the Nomad token read from the
   --token-file that the template fills: both become ready, exactly one leads, and /status asks
   for the --http-token-file bearer token.

Exit 0 when all hold, 1 otherwise. Every wait has a deadline.
"""

import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test_support"))
from e2e import Failure, Processes, wait_until  # noqa: E402

JOB_ID = "nomad-singleton"
DEADLINE = 30.0  # seconds for any one condition


def check(cond, what):
    if not cond:
        raise Failure(what)


def request(url, token=None, body=None, method=None, timeout=10, bearer=None):
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("X-Nomad-Token", token)
    if bearer:
        req.add_header("Authorization", "Bearer " + bearer)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def hcl_strings(block):
    return re.findall(r'"((?:[^"\\]|\\.)*)"', block)


def check_hcl_matches_json(hcl, job):
    group = job["TaskGroups"][0]
    task = group["Tasks"][0]
    m = re.search(r"args\s*=\s*\[(.*?)\]", hcl, re.S)
    check(m, "HCL: no args list in the task config")
    check(hcl_strings(m.group(1)) == task["Config"]["args"],
          f"HCL and JSON args differ:\n  {hcl_strings(m.group(1))}\n  {task['Config']['args']}")
    check(re.search(r"\bcount\s*=\s*%d\b" % group["Count"], hcl), "HCL and JSON count differ")
    check(f'job "{job["ID"]}"' in hcl, "HCL and JSON job IDs differ")
    check(f'group "{group["Name"]}"' in hcl and f'task "{task["Name"]}"' in hcl,
          "HCL and JSON group/task names differ")
    for t in task["Templates"]:
        check(f'destination = "{t["DestPath"]}"' in hcl, f"HCL has no template {t['DestPath']}")
        check(t["EmbeddedTmpl"].strip() in hcl, f"HCL template {t['DestPath']} differs")
    art = task["Artifacts"][0]
    check(f'destination = "{art["RelativeDest"]}"' in hcl, "HCL artifact destination differs")
    svc = group["Services"][0]
    check(f'name     = "{svc["Name"]}"' in hcl and 'provider = "nomad"' in hcl,
          "HCL service differs")
    check('NOMAD_ADDR = "%s"' % task["Env"]["NOMAD_ADDR"] in hcl, "HCL NOMAD_ADDR differs")
    check(f'operator = "{group["Constraints"][0]["Operand"]}"' in hcl, "HCL constraint differs")
    check(f'kill_timeout = "{task["KillTimeout"] // 10**9}s"' in hcl, "HCL kill_timeout differs")


def wait_running_allocs(addr, token, want):
    """Blocking queries on the job's allocations until `want` run; returns them."""
    deadline = time.monotonic() + DEADLINE
    index = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failure(f"{want} running allocations not seen within {DEADLINE}s: {allocs}")
        wait = max(1, min(5, int(left)))
        status, headers, body = request(
            f"{addr}/v1/job/{JOB_ID}/allocations?index={index}&wait={wait}s", token,
            timeout=wait + 5)
        check(status == 200, f"job allocations: HTTP {status}: {body}")
        allocs = json.loads(body)
        running = [a for a in allocs if a["ClientStatus"] == "running"]
        if len(running) == want:
            return running
        index = int(headers.get("X-Nomad-Index", "0"))


def run(binary, root, tmp, procs):
    job_dir = os.path.join(root, "manifests", "nomad")
    with open(os.path.join(job_dir, "nomad-singleton.json")) as f:
        body = f.read()
    job = json.loads(body)["Job"]
    with open(os.path.join(job_dir, "nomad-singleton.nomad.hcl")) as f:
        check_hcl_matches_json(f.read(), job)
    print("ok: the HCL and the JSON job agree")

    # stdout: the address, then (--acl) the management token.
    procs.start("sim", [binary, "sim", "--listen", "127.0.0.1:0", "--no-processes", "--acl",
                        "--nodes", "3"])
    addr = wait_until("the simulator's address", DEADLINE, lambda: re.search(
        r"^(http://\S+)$", procs.log("sim"), re.M)).group(1)
    mgmt = wait_until("the simulator's management token", DEADLINE, lambda: re.search(
        r"^management token: (\S+)$", procs.log("sim"), re.M)).group(1)
    status, _, out = request(f"{addr}/v1/jobs", mgmt, body.encode(), "POST")
    check(status == 200 and json.loads(out).get("EvalID"), f"register: HTTP {status}: {out}")
    running = wait_running_allocs(addr, mgmt, job["TaskGroups"][0]["Count"])
    nodes = {a["NodeID"] for a in running}
    check(len(nodes) == 2, f"the 2 allocations share a node: {nodes}")
    print("ok: registered; 2 allocations running on 2 nodes")

    status, _, out = request(f"{addr}/v1/job/{JOB_ID}", mgmt)
    check(status == 200, f"read job: HTTP {status}: {out}")
    stored = json.loads(out)["TaskGroups"][0]
    task = stored["Tasks"][0]
    check(len(task.get("Templates") or []) == 2, f"stored job lost its templates: {task}")
    check(task.get("Artifacts"), "stored job lost its artifact")
    check(stored.get("Services") and stored["Services"][0]["Provider"] == "nomad",
          "stored job lost its Nomad service")
    print("ok: the stored job keeps templates, artifact and service")

    # The task as Nomad would start it: directories interpolated, templates rendered.
    args = job["TaskGroups"][0]["Tasks"][0]["Config"]["args"]
    http = args.index("--http-addr")
    args = args[:http + 1] + ["127.0.0.1:0"] + args[http + 2:]
    status_token = "status-bearer-token"
    env = dict(os.environ)
    env.pop("NOMAD_TOKEN", None)
    env["NOMAD_ADDR"] = addr
    names = ["ctl-0", "ctl-1"]
    for name in names:
        task_dir = os.path.join(tmp, name, "local")
        secrets = os.path.join(tmp, name, "secrets")
        os.makedirs(os.path.join(task_dir, "specs"))
        os.makedirs(secrets)
        shutil.copy(os.path.join(root, "manifests", "examples", "shim-service.yaml"),
                    os.path.join(task_dir, "specs"))
        with open(os.path.join(secrets, "nomad-token"), "w") as f:
            f.write(mgmt + "\n")
        with open(os.path.join(secrets, "status-token"), "w") as f:
            f.write(status_token + "\n")
        argv = [a.replace("${NOMAD_TASK_DIR}", task_dir).replace("${NOMAD_SECRETS_DIR}", secrets)
                for a in args]
        check(not any("${" in a for a in argv), f"uninterpolated argument in {argv}")
        procs.start(name, [binary] + argv, env)
    for n in names:
        m = wait_until(f"{n}'s HTTP address", DEADLINE, lambda n=n: re.search(
            r"serving /metrics /healthz /readyz /status on ([0-9.]+:[0-9]+)", procs.log(n)))
        procs.http[n] = m.group(1)
    for n in names:
        wait_until(f"{n} /readyz", DEADLINE,
                   lambda n=n: request(f"http://{procs.http[n]}/readyz")[0] == 200)

    def leaders():
        return sum(bool(re.search(r"^nomad_singleton_leader 1$",
                                  request(f"http://{procs.http[n]}/metrics")[2], re.M))
                   for n in names)

    wait_until("a leader", DEADLINE, lambda: leaders() == 1)
    print("ok: both replicas ready, exactly one leads")

    n = names[0]
    check(request(f"http://{procs.http[n]}/status")[0] == 401, "/status open without a token")
    status, _, out = request(f"http://{procs.http[n]}/status", bearer=status_token)
    check(status == 200 and "leader" in json.loads(out), f"/status with the token: {status}")
    print("ok: /status asks for the --http-token-file token")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..")
    with tempfile.TemporaryDirectory(prefix="nsg-nomad-job-") as tmp:
        procs = Processes(tmp)
        try:
            run(binary, os.path.abspath(root), tmp, procs)
        except Failure as e:
            print(f"FAIL: {e}")
            for name, _, _ in procs.procs:
                print(f"---- {name} log (tail) ----\n{procs.log(name)[-3000:]}")
            return 1
        finally:
            procs.stop_all()
    print("PASS")
    return 0

if __name__ == "__main__":
    sys.exit(main())
