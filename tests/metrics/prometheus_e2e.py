#!/usr/bin/env python3
"""The dashboard and the rules of metrics/ against a real Prometheus scraping real controllers.

Starts two simulators (`nomad-singleton sim`, no ACLs, real processes), on one controller
"ctl-a" as two --leader-elect replicas, on the other an independent controller "ctl-b" (one
replica), each with one service singleton whose lock agent is this build's binary; then a
Prometheus (scrape and rule evaluation every second) with metrics/prometheus/alerts.yaml. Checks:
  - each controller has exactly one replica exporting per-singleton series, and both singletons
    are up;
  - every dashboard query (panels, variables, annotations) runs, and every panel returns data
    except those that are empty on a healthy system (listed in EMPTY_WHEN_HEALTHY);
  - every rule evaluates without error and every recorded series has data (except the error
    rate, empty without errors); leaders per controller are 1 and 1;
  - no alert is pending or firing (the false pages of issue 14: the standby's up=0, the expected
    acl_disabled answers of a cluster without ACLs, leaders summed over two controllers).
Then it drives events through ctl-b's simulator and controller: an invalid spec is committed, and
the node of api's lock holder is cut off (partition) until the hot standby holds the lock and the
controller stops the cut-off holder as a duplicate. Checks: SingletonDuplicate and
SingletonSpecInvalid fire (for ctl-b's singletons), no other alert fires, and the panels that are
empty on a healthy system for lack of such events ("Duplicated in the time range") now have data.
The rules are the project's, except that SingletonSpecInvalid's `for: 5m` is cut to 2s.

  prometheus_e2e.py NOMAD_SINGLETON_BINARY [SOURCE_DIR]

Exit 0 when all hold, 1 otherwise, 77 (ctest: skipped) when there is no `prometheus` binary
(Debian's `prometheus` package, which .ci/setup-deps.sh installs). Every wait polls a condition
until a deadline. Prometheus needs a fixed port: one the kernel just gave out on 127.0.0.1.
"""

import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test_support"))
from e2e import Failure, Processes, http_get, http_post, wait_until  # noqa: E402

SKIPPED = 77
# Panels that show nothing on a healthy system, by title.
EMPTY_WHEN_HEALTHY = {
    "Down now (service singletons)",
    "Duplicated in the time range",
    "Errors by operation and code",
}
# Of those, the panels that the driven events (a duplicate) must fill.
FILLED_BY_EVENTS = {"Duplicated in the time range"}
EMPTY_RECORDINGS = {"nomad_singleton:nomad_request_errors:rate5m"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spec(name, binary, standby=0):
    return f"""apiVersion: nomad-singleton.io/v1alpha1
kind: Singleton
metadata: {{name: {name}}}
spec:
  standby: {standby}
  failover: {{stopOnClientAfter: 10m}}
  lock:
    mode: shim
    ttl: 10s
    delay: 1s
    agent: {{command: {binary}}}
  task:
    driver: raw_exec
    killTimeout: 2s
    config:
      command: /bin/sleep
      args: ["3600"]
"""


class Prometheus:
    def __init__(self, base):
        self.base = base

    def api(self, path, **params):
        status, body = http_get(f"{self.base}/api/v1/{path}?{urllib.parse.urlencode(params)}")
        if status != 200:
            raise Failure(f"{path} {params}: HTTP {status}: {body}")
        return json.loads(body)["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]


def dashboard_queries(root):
    """[(kind, title, expr)] of the dashboard, with Grafana's variables replaced."""
    with open(os.path.join(root, "metrics", "grafana", "nomad-singleton.json")) as f:
        dash = json.load(f)

    def fill(expr):
        return (expr.replace("$__rate_interval", "10s").replace("$__range", "1m")
                .replace("$__interval", "1s").replace("$singleton", ".*")
                .replace("$job", ".*").replace("$instance", ".*"))

    out = []

    def walk(panels):
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))

    for p in walk(dash["panels"]):
        for t in p.get("targets", []):
            out.append(("panel", p["title"], fill(t["expr"])))
    for a in dash.get("annotations", {}).get("list", []):
        out.append(("annotation", a["name"], fill(a["expr"])))
    for v in dash["templating"]["list"]:
        q = v.get("query")
        if isinstance(q, dict):
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q["query"])
            out.append(("variable", v["name"], fill(m.group(1))))
    return out


def rules_for_test(root, tmp):
    """The project's rules, with SingletonSpecInvalid's `for:` cut to 2s (its 5m would outlast
    the test). Returns the path of the copy."""
    with open(os.path.join(root, "metrics", "prometheus", "alerts.yaml")) as f:
        text = f.read()
    text, n = re.subn(r"(- alert: SingletonSpecInvalid\n(?:.*\n)*?\s+for: )5m", r"\g<1>2s", text)
    if n != 1:
        raise Failure("alerts.yaml: SingletonSpecInvalid with `for: 5m` not found")
    path = os.path.join(tmp, "alerts.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def firing(prom):
    return {(a["labels"]["alertname"], a["labels"].get("singleton", "")): a
            for a in prom.api("alerts")["alerts"] if a["state"] == "firing"}


def drive_events(root, tmp, sims, addrs, prom):
    """An invalid spec and a duplicate on ctl-b; the alerts they must fire, and only those."""
    with open(os.path.join(tmp, "ctl-b", "broken.yaml"), "w") as f:
        f.write("apiVersion: nomad-singleton.io/v1alpha1\nkind: Singleton\n"
                "metadata: {name: broken}\nspec:\n  lock: {ttl: banana}\n")

    def status_of(name):
        status, body = http_get(f"http://{addrs['b']}/status")
        if status != 200:
            return None
        for s in json.loads(body).get("singletons", []):
            if s.get("singleton") == name:
                return s
        return None

    api = wait_until("api's holder and standby running", 30, lambda: (lambda s: s if s and (
        s.get("lock") or {}).get("holder") and sum(a.get("client_status") == "running" for a in
        s.get("allocations") or []) == 2 else None)(status_of("default/api")))
    holder = api["lock"]["holder"]
    state = json.loads(http_get(f"{sims['ctl-b']}/v1/sim/state")[1])
    node_of = {a["ID"]: a["NodeID"] for a in state["Allocations"]}
    others = [a["id"] for a in api["allocations"] if a["id"] != holder and
              a.get("client_status") == "running"]
    if not others or node_of.get(others[0]) == node_of[holder]:
        raise Failure(f"api's standby must run on another node than its holder: {api}")
    http_post(f"{sims['ctl-b']}/v1/sim/node/{node_of[holder]}/partition")
    start = time.monotonic()
    want = {("SingletonDuplicate", "default/api"), ("SingletonSpecInvalid", "default/broken")}
    wait_until("SingletonDuplicate and SingletonSpecInvalid firing", 90,
               lambda: want <= set(firing(prom)))
    print(f"duplicate and invalid-spec alerts firing {time.monotonic() - start:.1f}s after the "
          "partition and the broken commit")
    failures = []
    extra = {k: a["labels"] for k, a in firing(prom).items() if k not in want}
    if extra:
        failures.append(f"alerts firing that the events do not explain: {extra}")
    for kind, title, expr in dashboard_queries(root):
        if title in FILLED_BY_EVENTS and not prom.query(expr):
            failures.append(f"dashboard {kind} {title!r}: still no data after a duplicate")
    http_post(f"{sims['ctl-b']}/v1/sim/node/{node_of[holder]}/heal")
    return failures


def run(binary, root, tmp, procs):
    sims = {}
    for job in ("ctl-a", "ctl-b"):  # independent controllers: one Nomad (simulator) each
        # A 30 s heartbeat grace: the node cut off below is declared down only after its lease
        # has passed, so that the controller (not Nomad) stops the cut-off holder.
        procs.start("sim-" + job, [binary, "sim", "--listen", "127.0.0.1:0", "--nodes", "3",
                                   "--heartbeat-grace", "30s",
                                   "--alloc-dir", os.path.join(tmp, "allocs-" + job)])
        m = wait_until(f"the address of {job}'s simulator", 20,
                       lambda: re.search(r"^(http://\S+)$", procs.log("sim-" + job), re.M))
        sims[job] = m.group(1)
    controllers = {"a1": ("ctl-a", True), "a2": ("ctl-a", True), "b": ("ctl-b", False)}
    for job, key, standby in (("ctl-a", "web", 0), ("ctl-b", "api", 1)):
        specs = os.path.join(tmp, job)
        os.makedirs(specs)
        with open(os.path.join(specs, key + ".yaml"), "w") as f:
            f.write(spec(key, binary, standby))
    for name, (job, elect) in controllers.items():
        argv = [binary, "controller", "--specs", os.path.join(tmp, job), "--address", sims[job],
                "--http-addr", "127.0.0.1:0"]
        procs.start(name, argv + (["--leader-elect"] if elect else []))
    addrs = {}
    for name in controllers:
        m = wait_until(f"controller {name}'s HTTP address", 20, lambda: re.search(
            r"serving /metrics \S+ \S+ \S+ on (\S+)", procs.log(name)))
        addrs[name] = m.group(1)
        procs.http[name] = addrs[name]
    for name, p, _ in procs.procs:
        if p.poll() is not None:
            raise Failure(f"{name} exited")

    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [rules_for_test(root, tmp)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [
                {"targets": [addrs[n] for n, (j, _) in controllers.items() if j == job]}]}
            for job in ("ctl-a", "ctl-b")],
    }
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        json.dump(config, f)  # JSON is YAML
    procs.start("prometheus", [
        shutil.which("prometheus"), f"--config.file={tmp}/prometheus.yml",
        f"--storage.tsdb.path={tmp}/data", f"--web.listen-address=127.0.0.1:{port}"])
    prom = Prometheus(f"http://127.0.0.1:{port}")
    wait_until("Prometheus ready", 30,
               lambda: http_get(f"{prom.base}/-/ready", timeout=1)[0] == 200)

    def count(expr):
        return len(prom.query(expr))

    wait_until("3 targets up", 20, lambda: count("up == 1") == 3)
    # Both singletons up on their controller's leader, and nowhere else.
    wait_until("both singletons up", 40,
               lambda: count('nomad_singleton_up{singleton=~"default/(web|api)"} == 1') == 2)
    per_singleton = prom.query("count by (job) (count by (job, instance) (nomad_singleton_up))")
    got = {r["metric"]["job"]: r["value"][1] for r in per_singleton}
    if got != {"ctl-a": "1", "ctl-b": "1"}:
        raise Failure(f"replicas exporting per-singleton series per controller: {got} "
                      "(want one each: a standby exports none)")
    # A cluster without ACLs answered the ACL probe: the expected answer has its own code.
    wait_until("an acl_disabled answer counted", 20, lambda: count(
        'nomad_singleton_nomad_requests_total{code="acl_disabled"}') > 0)
    # Let the rate windows (10s) fill and every rule evaluate a few times.
    t0 = time.monotonic()
    wait_until("12 s of samples", 20, lambda: time.monotonic() - t0 >= 12 or None)

    failures = []
    for kind, title, expr in dashboard_queries(root):
        try:
            result = prom.query(expr)
        except Failure as e:
            failures.append(f"dashboard {kind} {title!r}: {e}")
            continue
        if kind != "annotation" and not result and title not in EMPTY_WHEN_HEALTHY:
            failures.append(f"dashboard {kind} {title!r}: no data for {expr}")
    for group in prom.api("rules")["groups"]:
        for rule in group["rules"]:
            name = rule["name"]
            if rule.get("health") != "ok":
                failures.append(f"rule {name}: health {rule.get('health')}: "
                                f"{rule.get('lastError')}")
            if rule["type"] == "recording" and name not in EMPTY_RECORDINGS and not count(name):
                failures.append(f"recording rule {name}: no data")
    leaders = {r["metric"]["job"]: r["value"][1]
               for r in prom.query("nomad_singleton:leaders:sum")}
    if leaders != {"ctl-a": "1", "ctl-b": "1"}:
        failures.append(f"nomad_singleton:leaders:sum: {leaders}, want 1 per controller")
    alerts = [f"{a['labels']['alertname']} ({a['state']}) {a['labels']}"
              for a in prom.api("alerts")["alerts"]]
    if alerts:
        failures.append("alerts on a healthy system: " + "; ".join(alerts))
    if failures:
        raise Failure("\n".join(failures))
    failures = drive_events(root, tmp, sims, addrs, prom)
    if failures:
        raise Failure("\n".join(failures))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    if not shutil.which("prometheus"):
        print("SKIPPED: no prometheus binary (apt-get install prometheus; .ci/setup-deps.sh "
              "installs it): the dashboard and rules were not run against a real Prometheus")
        return SKIPPED
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nsg-prom-e2e-") as tmp:
        procs = Processes(tmp)
        try:
            run(binary, root, tmp, procs)
        except Failure as e:
            print(f"FAIL: {e}")
            for name, _, _ in procs.procs:
                print(f"---- {name} log (tail) ----\n{procs.log(name)[-3000:]}")
            for name, addr in procs.http.items():
                print(f"---- {name} /status ----\n{http_get(f'http://{addr}/status')[1][:3000]}")
            return 1
        finally:
            procs.stop_all()
    print(f"ok: dashboard queries, rules and alerts against Prometheus in "
          f"{time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
