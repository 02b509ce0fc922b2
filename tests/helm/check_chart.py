#!/usr/bin/env python3
"""helm/nomad-singleton: lints, renders and says what it promises.

  check_chart.py [NOMAD_SINGLETON_BINARY] [SOURCE_DIR]

Runs `helm lint --strict` and `helm template` with the default values, with
helm/ci/full-values.yaml, and with the full values switched to a ConfigMap spec source, and
parses the output (python3-yaml). Checks: a Deployment of 2 replicas (3 with the full values)
whose controller runs `controller --leader-elect`; runAsNonRoot on the pod and a read-only root
file system, no privilege escalation and no capabilities in every container; the Nomad token
mounted from a Secret as the file --token-file names; the CRD annotated helm.sh/resource-policy:
keep; a PodDisruptionBudget; a ServiceMonitor only when enabled; git-sync init and sidecar
containers feeding --specs; TLS files; bad values refused. With the binary: every flag the
chart passes exists in `nomad-singleton controller --help`, and the specs the ConfigMap carries
pass `nomad-singleton validate`.

Exit 0 when all hold, 1 otherwise, 77 (ctest: skipped) when no helm binary is found ($HELM,
PATH, $HOME/go/bin/helm, /usr/local/bin/helm; .ci/setup-helm.sh installs one).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SKIPPED = 77
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def find_helm():
    candidates = [os.environ.get("HELM"), shutil.which("helm"),
                  os.path.expanduser("~/go/bin/helm"), "/usr/local/bin/helm"]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def helm(helm_bin, *args):
    return subprocess.run([helm_bin, *args], capture_output=True, text=True, timeout=120)


def render(helm_bin, chart, *args):
    r = helm(helm_bin, "template", "rel", chart, "--namespace", "ops", *args)
    if not check(r.returncode == 0, f"helm template {' '.join(args)}: {r.stderr.strip()}"):
        return {}
    objs = {}
    for doc in yaml.safe_load_all(r.stdout):
        if doc:
            objs.setdefault(doc["kind"], []).append(doc)
    return objs


def one(objs, kind, label):
    found = objs.get(kind, [])
    check(len(found) == 1, f"{label}: {len(found)} {kind} objects, want 1")
    return found[0] if found else {}


def flag_value(args, flag):
    for a in args:
        if a.startswith(flag + "="):
            return a[len(flag) + 1:]
    return None


def mounted_from(pod, container, path):
    """The volume (dict) that provides file `path` inside `container`, or None."""
    for m in container.get("volumeMounts", []):
        if path.startswith(m["mountPath"].rstrip("/") + "/"):
            for v in pod.get("volumes", []):
                if v["name"] == m["name"]:
                    return v
    return None


def check_common(objs, label, replicas, binary_flags):
    dep = one(objs, "Deployment", label)
    if not dep:
        return None, None, None
    check(dep["spec"]["replicas"] == replicas,
          f"{label}: replicas {dep['spec']['replicas']}, want {replicas}")
    pod = dep["spec"]["template"]["spec"]
    check(pod["securityContext"].get("runAsNonRoot") is True, f"{label}: pod not runAsNonRoot")
    for c in pod.get("initContainers", []) + pod["containers"]:
        sc = c.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True, f"{label}: {c['name']} root fs writable")
        check(sc.get("allowPrivilegeEscalation") is False,
              f"{label}: {c['name']} may escalate privileges")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"],
              f"{label}: {c['name']} keeps capabilities")
    ctl = next((c for c in pod["containers"] if c["name"] == "controller"), None)
    if not check(ctl, f"{label}: no controller container"):
        return dep, pod, None
    args = ctl["args"]
    check(args[0] == "controller" and "--leader-elect" in args,
          f"{label}: args are not `controller --leader-elect ...`: {args}")
    token = flag_value(args, "--token-file")
    vol = mounted_from(pod, ctl, token) if token else None
    check(vol and "secret" in vol, f"{label}: --token-file {token} is not a file from a Secret")
    specs = flag_value(args, "--specs")
    check(specs and mounted_from(pod, ctl, specs + "/x"), f"{label}: --specs {specs} not mounted")
    check(not any(e["name"] == "NOMAD_TOKEN" for e in ctl.get("env", [])),
          f"{label}: the token is in the environment")
    if binary_flags is not None:
        for a in args[1:]:
            if a.startswith("--"):
                name = a[2:].split("=", 1)[0]
                check(name in binary_flags, f"{label}: `controller --{name}` is not a flag of "
                      "the binary (controller --help)")
    pdb = one(objs, "PodDisruptionBudget", label)
    check(pdb.get("spec", {}).get("selector", {}).get("matchLabels") ==
          dep["spec"]["selector"]["matchLabels"], f"{label}: the PDB selects other pods")
    crd = one(objs, "CustomResourceDefinition", label)
    check(crd.get("metadata", {}).get("annotations", {}).get("helm.sh/resource-policy") == "keep",
          f"{label}: the CRD lacks helm.sh/resource-policy: keep")
    check(crd.get("spec", {}).get("group") == "nomad-singleton.io", f"{label}: CRD group")
    svc = one(objs, "Service", label)
    port = ctl["ports"][0]["containerPort"]
    check(svc.get("spec", {}).get("ports", [{}])[0].get("port") == port,
          f"{label}: Service port differs from the container's")
    check(flag_value(args, "--http-addr") == f"0.0.0.0:{port}", f"{label}: --http-addr")
    return dep, pod, ctl


def binary_flags(binary):
    if not binary:
        return None
    r = subprocess.run([binary, "controller", "--help"], capture_output=True, text=True,
                       timeout=30)
    text = r.stdout + r.stderr
    flags = set(re.findall(r"--([a-z][a-z0-9-]*)", text))
    check("leader-elect" in flags, f"controller --help lists no --leader-elect: {text[:200]}")
    return flags


def main():
    binary = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] else None
    root = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    helm_bin = find_helm()
    if not helm_bin:
        print("skipped: no helm binary ($HELM, PATH, ~/go/bin/helm, /usr/local/bin/helm); "
              "bash .ci/setup-helm.sh installs one")
        return SKIPPED
    chart = os.path.join(root, "helm", "nomad-singleton")
    full = os.path.join(root, "helm", "ci", "full-values.yaml")
    flags = binary_flags(binary)

    for extra in ([], ["-f", full]):
        r = helm(helm_bin, "lint", "--strict", chart, *extra)
        check(r.returncode == 0, f"helm lint --strict {' '.join(extra)}:\n{r.stdout}{r.stderr}")

    # Default values.
    objs = render(helm_bin, chart)
    dep, pod, ctl = check_common(objs, "defaults", 2, flags)
    check("ServiceMonitor" not in objs, "defaults: a ServiceMonitor although it is disabled")
    check("PrometheusRule" not in objs, "defaults: a PrometheusRule although it is disabled")
    check("Secret" not in objs, "defaults: the chart made a Secret")
    cm = [c for c in objs.get("ConfigMap", []) if c["metadata"]["name"].endswith("-specs")]
    check(len(cm) == 1, "defaults: no specs ConfigMap")
    if ctl:
        check(flag_value(ctl["args"], "--specs") == "/specs", "defaults: --specs is not /specs")
        check(flag_value(ctl["args"], "--http-token-file") is None,
              "defaults: --http-token-file without a Secret")
        check(not pod.get("initContainers"), "defaults: init containers without git-sync")
        env = {e["name"]: e.get("value") for e in ctl["env"]}
        check(env.get("NOMAD_ADDR") == "http://nomad.example.com:4646", "defaults: NOMAD_ADDR")

    # Every option.
    objs = render(helm_bin, chart, "-f", full)
    dep, pod, ctl = check_common(objs, "full", 3, flags)
    sm = one(objs, "ServiceMonitor", "full")
    check(sm.get("spec", {}).get("endpoints", [{}])[0].get("port") == "http-metrics",
          "full: ServiceMonitor port")
    one(objs, "PrometheusRule", "full")
    check(any(c["metadata"]["name"].endswith("-dashboard") for c in objs.get("ConfigMap", [])),
          "full: no dashboard ConfigMap")
    secret = one(objs, "Secret", "full")
    check(secret.get("metadata", {}).get("name") == "nomad-mgmt-token" and
          "secret-id" in secret.get("stringData", {}), "full: token Secret name/key")
    if ctl:
        args = ctl["args"]
        check(flag_value(args, "--token-file") ==
              "/var/run/secrets/nomad-singleton/nomad/secret-id", "full: --token-file path")
        check(flag_value(args, "--specs") == "/specs/current/prod/eu", "full: --specs")
        for flag, want in (("--ca-cert", "ca.pem"), ("--client-cert", "cli.pem"),
                           ("--client-key", "cli-key.pem")):
            path = flag_value(args, flag)
            vol = mounted_from(pod, ctl, path) if path else None
            check(path and path.endswith("/" + want) and vol and
                  vol["secret"]["secretName"] == "nomad-tls", f"full: {flag} from nomad-tls")
        check(flag_value(args, "--tls-server-name") == "server.europe.nomad", "full: server name")
        check(flag_value(args, "--leader-lock-path") == "ops/nomad-singleton-leader",
              "full: --leader-lock-path")
        check(flag_value(args, "--http-token-file") ==
              "/var/run/secrets/nomad-singleton/status/bearer", "full: --http-token-file")
        for f in ("--prune", "--dry-run"):
            check(f in args, f"full: {f} missing")
        check(args[-2:] == ["--max-response-mib", "128"], "full: extraArgs not appended")
        init = pod.get("initContainers", [])
        sidecar = [c for c in pod["containers"] if c["name"] == "git-sync"]
        check(len(init) == 1 and "--one-time" in init[0]["args"], "full: no git-sync init")
        check(len(sidecar) == 1 and "--period=15s" in sidecar[0]["args"],
              "full: no git-sync sidecar")
        for c in init + sidecar:
            check(c["image"] == "registry.example.com/mirror/git-sync:v4.4.0",
                  f"full: {c['name']} image")
            a = c["args"]
            check("--repo=git@git.example.com:ops/singletons.git" in a and "--ref=release" in a
                  and "--link=current" in a and "--root=/specs" in a,
                  f"full: {c['name']} args {a}")
            check("--ssh-key-file=/etc/git-secret/id_ed25519" in a, f"full: {c['name']} ssh key")
        check(pod["securityContext"]["runAsUser"] == 20001, "full: podSecurityContext")
        check(dep["spec"]["template"]["metadata"]["labels"].get("team") == "ops", "full: podLabels")

    # The ConfigMap source, carrying a real spec.
    example = os.path.join(root, "manifests", "examples", "shim-service.yaml")
    objs = render(helm_bin, chart, "-f", full, "--set", "specs.source=configMap",
                  "--set", "specs.configMap.create=true",
                  "--set-file", f"specs.configMap.files.shim\\.yaml={example}")
    dep, pod, ctl = check_common(objs, "configMap", 3, flags)
    cms = [c for c in objs.get("ConfigMap", []) if c["metadata"]["name"] == "existing-specs"]
    if check(len(cms) == 1, "configMap: no specs ConfigMap named existing-specs"):
        data = cms[0]["data"]
        with open(example) as f:
            check(data.get("shim.yaml", "").strip() == f.read().strip(),
                  "configMap: the spec file changed on its way into the ConfigMap")
        if binary:
            tmp = tempfile.mkdtemp(prefix="nsg-chart-")
            try:
                for name, body in data.items():
                    with open(os.path.join(tmp, name), "w") as f:
                        f.write(body)
                r = subprocess.run([binary, "validate", tmp], capture_output=True, text=True,
                                   timeout=30)
                check(r.returncode == 0, f"configMap: validate: {r.stdout}{r.stderr}")
            finally:
                shutil.rmtree(tmp)
    if pod:
        check("initContainers" not in pod and
              not any(c["name"] == "git-sync" for c in pod["containers"]),
              "configMap: git-sync containers without gitSync")

    # What the chart must refuse.
    for what, args, want in (
            ("an unknown value", ["--set", "bogus=1"], "bogus"),
            ("gitSync without a repo", ["--set", "specs.source=gitSync"], "specs.gitSync.repo"),
            ("a token Secret to create without a value", ["--set", "nomad.token.create=true"],
             "nomad.token.value"),
            ("TLS without a Secret", ["--set", "nomad.tls.enabled=true"], "nomad.tls.secretName")):
        r = helm(helm_bin, "template", "rel", chart, *args)
        check(r.returncode != 0 and want in r.stderr,
              f"refuses {what}: exit {r.returncode}, stderr {r.stderr.strip()[:300]}")

    # Only the CRD (and the monitoring objects) with the controller off.
    objs = render(helm_bin, chart, "--set", "controller.enabled=false")
    check(set(objs) == {"CustomResourceDefinition"},
          f"controller.enabled=false renders {sorted(objs)}")

    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print(f"PASS (helm: {helm_bin})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
