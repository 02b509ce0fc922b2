"""Helpers of the Python end-to-end tests (tests/metrics/prometheus_e2e.py,
tests/manifests/check_nomad_job.py): processes that are stopped by their own pid, waits on a
condition with a deadline, and plain HTTP. Import with
  sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test_support"))
"""

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

POLL = 0.2  # seconds between two looks at a condition


class Failure(Exception):
    pass


def wait_until(what, timeout, fn):
    """fn()'s first truthy value, looking every POLL seconds; Failure after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Failure(f"timed out after {timeout}s waiting for {what}")
        time.sleep(POLL)


def http_get(url, timeout=5, headers=None):
    """(status, body); status None when nothing answered."""
    try:
        req = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return None, ""


def http_post(url, body=b"{}", timeout=5):
    """(status, body) of a POST; raises on a failed request (the caller's steps need it)."""
    req = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read().decode()


class Processes:
    """The processes a test started, each logging stdout and stderr to TMP/<name>.log; stops
    each by its own pid."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []
        self.http = {}  # name -> its HTTP address, once known

    def start(self, name, argv, env=None):
        log = open(os.path.join(self.tmp, name + ".log"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp, env=env)
        self.procs.append((name, p, log))
        return p

    def log(self, name):
        with open(os.path.join(self.tmp, name + ".log")) as f:
            return f.read()

    def stop_all(self):
        for _, p, _ in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for name, p, log in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop within 15s after SIGTERM: killed")
                p.kill()
                p.wait()
            log.close()
