#!/usr/bin/env python3
"""Cold converge of N singletons: the controller and the HTTP simulator as two real processes.

  python3 bench/converge_bench.py --binary build/controller/cmd/nomad-singleton --singletons 10000

Issue 17's set-up: `nomad-singleton sim --no-processes --nodes 50`; N specs, one file each in 10
directories, modes shim / sidecar / split in turn, every 10th with a standby (Count 2). The
controller starts on an empty cluster (cold) and the clock runs from its start until it has
converged: every job registered and placed (each of our jobs has 1 + standby allocations running)
and the controller's last reconcile done. The signal, robust against a controller that reconciles
without calling Nomad:
  1. the simulator saw no request for --quiet seconds (its GET /v1/sim/requests, outside the
     counted routes), and at least N job registrations;
  2. the controller's work queue is empty and its reconcile count did not move over --quiet
     seconds (two /metrics scrapes, made only at this point: a scrape at 10k is not free);
  3. every job is placed (one GET /v1/allocations, made at this point too).
The converge time is the last request's arrival (at --poll resolution), which is when the last
reconcile that wrote or read anything was under way; step 2 proves nothing came after it.
CPU (utime + stime) and peak RSS (VmHWM) of both processes are read from /proc at that moment,
before the checks of steps 2 and 3 cost anything. Each figure is printed with its target (issue 17).

Then, optionally:
  --resync   one full resync of the converged cluster (the controller runs with --resync-period
             RESYNC_PERIOD, default 120s): the controller's CPU from just before the relist's jobs
             list until it is quiet again, the reconciles it made and its calls;
  --restart  the controller stopped and another started on the unchanged cluster: time until quiet,
             its CPU and peak RSS, its calls by route and the writes among them (target 0).

--perf DIR records both processes with `perf record` during the converge (DIR/controller.data,
DIR/sim.data). Exit status: 0 converged (and measured), 1 not within --timeout, 2 bad usage.
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024

# Issue 17's targets at 10,000 singletons (2 cores, Release build).
TARGET_CONVERGE_S = 20.0
TARGET_RSS_MIB = 64.0


def spec_text(i):
    name = "s-%05d" % i
    mode = ("shim", "sidecar", "split")[i % 3]
    standby = "  standby: 1\n" if i % 10 == 0 else ""
    return ("apiVersion: nomad-singleton.io/v1alpha1\n"
            "kind: Singleton\n"
            "metadata: {name: %s}\n"
            "spec:\n"
            "  type: service\n"
            "  datacenters: [dc1]\n"
            "%s"
            "  lock: {mode: %s, ttl: 10s, delay: 1s}\n"
            "  task:\n"
            "    name: work\n"
            "    driver: raw_exec\n"
            "    config: {command: /bin/sleep, args: [\"1000\"]}\n"
            "    env: {BENCH_INDEX: \"%d\"}\n"
            "    resources: {cpu: 100, memoryMB: 64}\n" % (name, standby, mode, i))


def write_specs(root, n):
    for d in range(10):
        os.makedirs(os.path.join(root, "d%d" % d), exist_ok=True)
    for i in range(n):
        with open(os.path.join(root, "d%d" % (i % 10), "s-%05d.yaml" % i), "w") as f:
            f.write(spec_text(i))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_mem_mib(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmHWM:", "VmRSS:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024.0
    return out.get("VmRSS", 0.0), out.get("VmHWM", 0.0)


def metric(text, name):
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default="build/controller/cmd/nomad-singleton")
    ap.add_argument("--singletons", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2, help="controller --workers")
    ap.add_argument("--quiet", type=float, default=3.0, help="seconds without activity")
    ap.add_argument("--poll", type=float, default=0.1, help="seconds between polls")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--perf", metavar="DIR", help="perf record both processes into DIR")
    ap.add_argument("--perf-call-graph", default="fp", metavar="MODE",
                    help="perf's --call-graph: fp (default; the Release build keeps no frame "
                         "pointers, so stacks are partial) or dwarf,16384 (whole stacks, large "
                         "files: use it at 1k-2k singletons)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--controller-wrapper", default="", metavar="CMD",
                    help="run the controller under CMD, e.g. 'heaptrack -o /tmp/ctl' (a heap "
                         "profile: what is live at converge shows as leaked, the controller "
                         "being killed then); CPU and RSS figures are then the wrapper's")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--resync", action="store_true",
                    help="after converging, measure one full resync (relist + a reconcile of "
                         "every key): the controller runs with --resync-period RESYNC_PERIOD")
    ap.add_argument("--resync-period", default="120s",
                    help="the controller's --resync-period with --resync (default 120s; "
                         "otherwise the controller's default, 5m)")
    ap.add_argument("--restart", action="store_true",
                    help="after converging (and the resync), restart the controller on the "
                         "unchanged cluster and measure until it is quiet again")
    args = ap.parse_args()
    n = args.singletons
    if n <= 0 or not os.access(args.binary, os.X_OK):
        print("converge_bench: --singletons must be > 0 and --binary executable", file=sys.stderr)
        return 2

    tmp = tempfile.mkdtemp(prefix="converge_bench.")
    procs = []
    try:
        specs = os.path.join(tmp, "specs")
        write_specs(specs, n)
        sim = subprocess.Popen([args.binary, "sim", "--listen", "127.0.0.1:0", "--nodes",
                                str(args.nodes), "--no-processes"],
                               stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "sim.log"), "w"),
                               text=True, start_new_session=True)
        procs.append(sim)
        nomad = sim.stdout.readline().strip()
        if not nomad.startswith("http://"):
            print("converge_bench: the simulator did not start: %r" % nomad, file=sys.stderr)
            return 1
        http_addr = "127.0.0.1:%d" % free_port()
        env = dict(os.environ, NOMAD_ADDR=nomad)
        env.pop("NOMAD_TOKEN", None)
        load0 = os.getloadavg()[0]
        t0 = time.monotonic()
        ctl_argv = shlex.split(args.controller_wrapper) + [
            args.binary, "controller", "--specs", specs, "--http-addr", http_addr, "--workers",
            str(args.workers), "--log-level", "warning"]
        if args.resync:
            ctl_argv += ["--resync-period", args.resync_period]

        def start_controller(log_name):
            p = subprocess.Popen(ctl_argv, env=env, stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(tmp, log_name), "w"),
                                 start_new_session=True)
            procs.append(p)
            return p

        ctl = start_controller("controller.log")
        perfs = []
        if args.perf:
            os.makedirs(args.perf, exist_ok=True)
            for name, p in (("controller", ctl), ("sim", sim)):
                perfs.append(subprocess.Popen(
                    ["perf", "record", "-F", "499", "--call-graph", args.perf_call_graph, "-p",
                     str(p.pid), "-o",
                     os.path.join(args.perf, name + ".data")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        cpu0 = proc_cpu_s(sim.pid)

        def counts():
            return json.loads(http_get(nomad + "/v1/sim/requests"))

        last_total, last_change = -1, t0
        converged = None
        while time.monotonic() - t0 < args.timeout:
            time.sleep(args.poll)
            if ctl.poll() is not None:
                print("converge_bench: the controller exited (%d); log: %s" %
                      (ctl.returncode, os.path.join(tmp, "controller.log")), file=sys.stderr)
                args.keep = True
                return 1
            try:
                c = counts()
            except (OSError, ValueError):  # a busy simulator may not answer in time: activity
                last_total, last_change = -1, time.monotonic()
                continue
            now = time.monotonic()
            if c["Total"] != last_total:
                last_total, last_change = c["Total"], now
                continue
            registered = sum(v for k, v in c["Counts"].items()
                             if k in ("POST /v1/jobs", "PUT /v1/jobs", "POST /v1/job/:id",
                                      "PUT /v1/job/:id"))
            if registered < n or now - last_change < args.quiet:
                continue
            # Quiet: take the figures now, then check that it really is over.
            snap = {
                "at": last_change - t0, "counts": c,
                "ctl_cpu": proc_cpu_s(ctl.pid), "sim_cpu": proc_cpu_s(sim.pid) - cpu0,
                "ctl_mem": proc_mem_mib(ctl.pid), "sim_mem": proc_mem_mib(sim.pid),
                "load": (load0, os.getloadavg()[0]),
            }
            try:
                m1 = http_get("http://%s/metrics" % http_addr, timeout=120).decode()
                time.sleep(args.quiet)
                m2 = http_get("http://%s/metrics" % http_addr, timeout=120).decode()
            except OSError:
                last_total = -1
                continue
            r1 = metric(m1, "nomad_singleton_reconcile_total")
            r2 = metric(m2, "nomad_singleton_reconcile_total")
            depth = metric(m2, "nomad_singleton_workqueue_depth")
            try:
                moved = counts()["Total"] != c["Total"]
            except (OSError, ValueError):
                moved = True
            if moved or r1 != r2 or depth:
                last_total = -1  # activity: keep waiting
                continue
            allocs = json.loads(http_get(nomad + "/v1/allocations?namespace=*", timeout=120))
            running = {}
            for a in allocs:
                if a.get("ClientStatus") == "running" and a.get("DesiredStatus") == "run":
                    running[a["JobID"]] = running.get(a["JobID"], 0) + 1
            missing = [i for i in range(n)
                       if running.get("s-%05d" % i, 0) < (2 if i % 10 == 0 else 1)]
            if missing:
                print("converge_bench: quiet but %d jobs not placed (e.g. s-%05d); waiting" %
                      (len(missing), missing[0]), file=sys.stderr)
                last_total = -1
                continue
            snap["reconciles"] = r2
            snap["metrics_bytes"] = len(m2)
            converged = snap
            break
        for p in perfs:
            p.send_signal(signal.SIGINT)
            p.wait()
        if converged is None:
            print("converge_bench: not converged within %.0f s" % args.timeout, file=sys.stderr)
            return 1
        report(args, converged)
        phases = {}
        if args.resync:
            phases["resync"] = measure_resync(args, nomad, http_addr, ctl, counts)
            if phases["resync"] is None:
                return 1
        if args.restart:
            phases["restart"] = measure_restart(args, http_addr, ctl, start_controller, counts)
            if phases["restart"] is None:
                return 1
        if args.json and phases:
            with open(args.json) as f:
                figures = json.load(f)
            figures.update(phases)
            with open(args.json, "w") as f:
                json.dump(figures, f, indent=1)
        return 0
    finally:
        for p in reversed(procs):
            # Each runs in its own process group: a wrapper's children (heaptrack, perf) end too.
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        if args.keep:
            print("converge_bench: kept %s" % tmp, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def wait_quiet(args, http_addr, counts, ctl, since):
    """Waits until the simulator sees no call and the controller's reconcile_total and work queue
    stand still for --quiet seconds. Returns (time of the last activity, counts then), or None."""
    last_total, last_change = -1, since
    while time.monotonic() - since < args.timeout:
        time.sleep(args.poll)
        if ctl.poll() is not None:
            print("converge_bench: the controller exited (%d)" % ctl.returncode, file=sys.stderr)
            return None
        try:
            c = counts()
        except (OSError, ValueError):
            last_total, last_change = -1, time.monotonic()
            continue
        now = time.monotonic()
        if c["Total"] != last_total:
            last_total, last_change = c["Total"], now
            continue
        if now - last_change < args.quiet:
            continue
        try:
            m1 = http_get("http://%s/metrics" % http_addr, timeout=120).decode()
            time.sleep(args.quiet)
            m2 = http_get("http://%s/metrics" % http_addr, timeout=120).decode()
            moved = counts()["Total"] != c["Total"]
        except (OSError, ValueError):
            last_total = -1
            continue
        if (moved or metric(m1, "nomad_singleton_reconcile_total") !=
                metric(m2, "nomad_singleton_reconcile_total") or
                metric(m2, "nomad_singleton_workqueue_depth")):
            last_total = -1
            continue
        return last_change, c
    print("converge_bench: not quiet within %.0f s" % args.timeout, file=sys.stderr)
    return None


def route_delta(after, before):
    d = {k: v - before["Counts"].get(k, 0) for k, v in after["Counts"].items()}
    return dict(sorted(((k, v) for k, v in d.items() if v), key=lambda kv: (-kv[1], kv[0])))


def print_rows(rows):
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for r in rows:
        print("%-*s  %-*s  %s" % (w0, r[0], w1, r[1], r[2]))


def measure_resync(args, nomad, http_addr, ctl, counts):
    """One full resync after converging: from the relist's first list call (GET /v1/jobs) until
    the controller is quiet again; its CPU, wall time and calls."""
    base = counts()
    rec0 = metric(http_get("http://%s/metrics" % http_addr, timeout=120).decode(),
                  "nomad_singleton_reconcile_total") or 0
    deadline = time.monotonic() + args.timeout
    cpu0 = proc_cpu_s(ctl.pid)
    while time.monotonic() < deadline:
        time.sleep(args.poll)
        c = counts()
        if c["Counts"].get("GET /v1/jobs", 0) > base["Counts"].get("GET /v1/jobs", 0):
            break
        cpu0 = proc_cpu_s(ctl.pid)  # the CPU just before the relist (idle work excluded)
    else:
        print("converge_bench: no resync within %.0f s" % args.timeout, file=sys.stderr)
        return None
    t0 = time.monotonic()
    q = wait_quiet(args, http_addr, counts, ctl, t0)
    if q is None:
        return None
    cpu = proc_cpu_s(ctl.pid) - cpu0
    rss, hwm = proc_mem_mib(ctl.pid)
    routes = route_delta(q[1], base)
    reconciles = (metric(http_get("http://%s/metrics" % http_addr, timeout=120).decode(),
                         "nomad_singleton_reconcile_total") or 0) - rec0
    print()
    rows = [("one resync, %d singletons" % args.singletons, "%.1f s of CPU" % cpu,
             "grows with N at most (the issue measured 35-37 s at 10k)"),
            ("  reconciles (from the converge to quiet)", "%d" % reconciles, "one per singleton at least"),
            ("  wall time to the last call", "%.1f s" % (q[0] - t0), "-"),
            ("  controller RSS after it", "%.0f MiB (peak so far %.0f MiB)" % (rss, hwm), "flat"),
            ("  Nomad API calls", "%d" % sum(routes.values()), "a few lists")]
    rows += [("    " + k, "%d" % v, "-") for k, v in routes.items()]
    print_rows(rows)
    return {"cpu_s": cpu, "wall_s": q[0] - t0, "rss_mib": rss, "reconciles": reconciles,
            "routes": routes}


def measure_restart(args, http_addr, ctl, start_controller, counts):
    """Stops the controller and starts another on the unchanged cluster: time until quiet, its
    CPU and peak RSS, and its calls (no write expected)."""
    os.killpg(ctl.pid, signal.SIGTERM)
    ctl.wait(timeout=60)
    # Under a --controller-wrapper the wrapper may return before the controller has closed its
    # HTTP port: wait (30 s at most) until the port can be bound again.
    host, port = http_addr.rsplit(":", 1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, int(port)))
                break
            except OSError:
                time.sleep(0.2)
    base = counts()
    t0 = time.monotonic()
    ctl2 = start_controller("controller-restart.log")
    q = wait_quiet(args, http_addr, counts, ctl2, t0)
    if q is None:
        return None
    cpu = proc_cpu_s(ctl2.pid)
    rss, hwm = proc_mem_mib(ctl2.pid)
    routes = route_delta(q[1], base)
    writes = sum(v for k, v in routes.items() if not k.startswith("GET "))
    print()
    rows = [("restart on the unchanged cluster", "%.1f s to quiet" % (q[0] - t0),
             "writes nothing, reads little"),
            ("  controller CPU", "%.1f s" % cpu, "-"),
            ("  controller RSS / peak", "%.0f / %.0f MiB" % (rss, hwm), "-"),
            ("  Nomad writes", "%d" % writes, "0"),
            ("  Nomad API calls", "%d" % sum(routes.values()), "a few lists")]
    rows += [("    " + k, "%d" % v, "-") for k, v in routes.items()]
    print_rows(rows)
    return {"wall_s": q[0] - t0, "cpu_s": cpu, "rss_mib": rss, "peak_rss_mib": hwm,
            "writes": writes, "routes": routes}


def report(args, s):
    n = args.singletons
    scale = n / 10000.0
    routes = dict(sorted(s["counts"]["Counts"].items(), key=lambda kv: (-kv[1], kv[0])))
    total = sum(routes.values())
    rows = [
        ("cold converge, %d singletons" % n, "%.1f s" % s["at"],
         "<= %.0f s (at 10k)" % TARGET_CONVERGE_S),
        ("controller CPU", "%.1f s" % s["ctl_cpu"], "-"),
        ("simulator CPU", "%.1f s" % s["sim_cpu"], "-"),
        ("controller RSS after converge", "%.0f MiB" % s["ctl_mem"][0],
         "<= %.0f MiB at 10k (%.0f MiB pro rata)" % (TARGET_RSS_MIB, TARGET_RSS_MIB * scale)),
        ("controller peak RSS", "%.0f MiB" % s["ctl_mem"][1], "-"),
        ("simulator peak RSS", "%.0f MiB" % s["sim_mem"][1], "-"),
        ("reconciles", "%d" % (s["reconciles"] or 0), "-"),
        ("Nomad API calls", "%d (%.2f per singleton)" % (total, total / n),
         "N registrations + a few lists"),
    ]
    for route, count in routes.items():
        target = "-"
        if route in ("POST /v1/jobs", "PUT /v1/jobs"):
            target = "%d (one per singleton)" % n
        elif route == "GET /v1/job/:id":
            target = "0 on a cold start (the list says enough)"
        rows.append(("  " + route, "%d" % count, target))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print("%-*s  %-*s  %s" % (w0, "measure", w1, "measured", "target"))
    for r in rows:
        print("%-*s  %-*s  %s" % (w0, r[0], w1, r[1], r[2]))
    print("(%d nodes, %d workers, %d cores; load average %.1f at the start, %.1f at the end: other "
          "processes on the machine slow both down)" % (args.nodes, args.workers, os.cpu_count(),
                                                        s["load"][0], s["load"][1]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"singletons": n, "converge_s": s["at"], "controller_cpu_s": s["ctl_cpu"],
                       "sim_cpu_s": s["sim_cpu"], "controller_rss_mib": s["ctl_mem"][0],
                       "controller_peak_rss_mib": s["ctl_mem"][1],
                       "sim_peak_rss_mib": s["sim_mem"][1], "load": s["load"],
                       "routes": routes}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
