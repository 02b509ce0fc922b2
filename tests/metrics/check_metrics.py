#!/usr/bin/env python3
"""Checks the Grafana dashboard and the Prometheus rules in metrics/ against the metric catalogue.

  (a) metrics/grafana/nomad-singleton.json is a Grafana dashboard: valid JSON, unique integer
      panel ids (rows' nested panels included), a gridPos and PromQL targets on every panel, and
      the `singleton` and `datasource` template variables;
  (b) metrics/prometheus/alerts.yaml parses as Prometheus rule groups: groups[].rules[] with
      exactly one of alert/record, a non-empty expr, a Prometheus duration in `for`, string
      labels; every alert has a severity label and summary/description/runbook annotations;
  (c) every nomad_singleton_* metric that an expression of (a) or (b) names is in
      metrics/catalogue.h (with _bucket/_sum/_count only for histograms), every label a selector
      of such a metric matches on is one of its catalogue labels (or le and the target labels
      instance, job, cluster), and every
      nomad_singleton:* recorded series used is recorded by (b) — so renaming a metric or a label
      in the catalogue fails here until the dashboard and the rules follow (labels in by/without/
      on/ignoring must belong to one of the expression's metrics);
  (d) the chart's copies (helm/nomad-singleton/files/) equal the files in metrics/;
  (e) with --promtool instead (ctest metrics_promtool): `promtool check rules` on the rules and
      on the dashboard's expressions (Grafana variables replaced), and `promtool test rules` on
      tests/metrics/alerts_test.yaml. promtool comes with Debian's `prometheus` package, which
      .ci/setup-deps.sh installs; without it this mode says so and exits 77 (ctest: skipped).

Run from anywhere:  python3 tests/metrics/check_metrics.py [--promtool] [SOURCE_DIR]
Exit status 0 when everything holds, 1 otherwise (each failure is printed), 77 when --promtool
finds no promtool.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
# A catalogue metric, possibly followed by a selector: name{label="v", other!~"..."}.
USE = re.compile(r"\b(nomad_singleton_[a-zA-Z0-9_]+)(\{[^}]*\})?")
RECORDED_USE = re.compile(r"\b(nomad_singleton:[a-zA-Z0-9_:]+)")
MATCHER_LABEL = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
# Labels of the scrape target: instance and job always, cluster when the scrape config adds it.
TARGET_LABELS = {"instance", "job", "cluster"}
SKIPPED = 77
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook")


def load_catalogue(root):
    """{full name: (type, set of labels)} from metrics/catalogue.h."""
    with open(os.path.join(root, "metrics", "catalogue.h")) as f:
        text = f.read()
    prefix = re.search(r'kPrefix\s*=\s*"([^"]+)"', text).group(1)
    out = {}
    for m in re.finditer(r'MetricDef\{\s*"(\w+)",\s*Type::k(\w+),\s*"([^"]*)"', text):
        labels = {l.strip() for l in m.group(3).split(",") if l.strip()}
        out[prefix + m.group(1)] = (m.group(2).lower(), labels)
    return out


def check_names(where, expr, catalogue, recorded, errors):
    expr_labels = set(TARGET_LABELS)  # the labels of every catalogue metric the expr uses
    for m in USE.finditer(expr):
        name, selector = m.group(1), m.group(2) or ""
        base, allowed_extra = name, set()
        if name not in catalogue:
            for suffix in HISTOGRAM_SUFFIXES:
                stem = name[: -len(suffix)]
                if name.endswith(suffix) and catalogue.get(stem, ("",))[0] == "histogram":
                    base = stem
                    if suffix == "_bucket":
                        allowed_extra = {"le"}
        if base not in catalogue:
            errors.append(f"{where}: {name} is not in metrics/catalogue.h")
            continue
        labels = catalogue[base][1] | allowed_extra | TARGET_LABELS
        expr_labels |= labels
        for lm in MATCHER_LABEL.finditer(selector):
            if lm.group(1) not in labels:
                errors.append(f"{where}: {name} has no label {lm.group(1)!r} "
                              f"(catalogue: {sorted(catalogue[base][1])})")
    uses_recorded = False
    for m in RECORDED_USE.finditer(expr):
        uses_recorded = True
        if m.group(1) not in recorded:
            errors.append(f"{where}: {m.group(1)} is not recorded by any rule")
    if uses_recorded:
        return  # a recorded series' labels are whatever its rule kept
    for g in GROUPING.finditer(expr):
        for label in (l.strip() for l in g.group(1).split(",")):
            if label and label not in expr_labels:
                errors.append(f"{where}: groups by {label!r}, a label none of its metrics has")


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def check_dashboard(path, errors):
    """Returns [(where, expr)] of every PromQL expression in the dashboard."""
    try:
        with open(path) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        errors.append(f"{path}: not valid JSON: {e}")
        return []
    exprs = []
    for key in ("title", "uid", "panels", "templating", "schemaVersion"):
        if key not in dash:
            errors.append(f"{path}: no {key!r}")
    ids = {}
    for p in walk_panels(dash.get("panels", [])):
        pid, title = p.get("id"), p.get("title", "?")
        if not isinstance(pid, int):
            errors.append(f"{path}: panel {title!r}: id {pid!r} is not an integer")
        elif pid in ids:
            errors.append(f"{path}: panel id {pid} used by {ids[pid]!r} and {title!r}")
        else:
            ids[pid] = title
        pos = p.get("gridPos", {})
        if not all(isinstance(pos.get(k), int) for k in ("h", "w", "x", "y")):
            errors.append(f"{path}: panel {title!r}: gridPos needs integer h, w, x, y")
        elif pos["x"] + pos["w"] > 24:
            errors.append(f"{path}: panel {title!r}: wider than the 24-column grid")
        if p.get("type") == "row":
            continue
        targets = p.get("targets", [])
        if not targets:
            errors.append(f"{path}: panel {title!r} has no targets")
        for t in targets:
            expr = t.get("expr", "")
            if not expr.strip():
                errors.append(f"{path}: panel {title!r} target {t.get('refId')}: empty expr")
            exprs.append((f"{path}: panel {title!r}", expr))
    for a in dash.get("annotations", {}).get("list", []):
        if a.get("expr"):
            exprs.append((f"{path}: annotation {a.get('name', '?')!r}", a["expr"]))
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    for name in ("datasource", "singleton"):
        if name not in variables:
            errors.append(f"{path}: no template variable {name!r}")
    single = variables.get("singleton", {})
    query = single.get("query", "")
    if isinstance(query, dict):
        query = query.get("query", "")
    exprs.append((f"{path}: variable 'singleton'", query))
    return exprs


def check_rules(path, errors):
    """Returns ([(where, expr)], set of recorded names)."""
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        errors.append(f"{path}: not valid YAML: {e}")
        return [], set()
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list) or not doc["groups"]:
        errors.append(f"{path}: expected a mapping with a non-empty 'groups' list")
        return [], set()
    exprs, recorded, group_names, alert_names = [], set(), set(), set()
    for gi, group in enumerate(doc["groups"]):
        gname = group.get("name") if isinstance(group, dict) else None
        if not gname:
            errors.append(f"{path}: groups[{gi}] has no name")
            continue
        if gname in group_names:
            errors.append(f"{path}: group {gname!r} defined twice")
        group_names.add(gname)
        rules = group.get("rules")
        if not isinstance(rules, list) or not rules:
            errors.append(f"{path}: group {gname!r} has no rules")
            continue
        for ri, rule in enumerate(rules):
            where = f"{path}: {gname}.rules[{ri}]"
            if not isinstance(rule, dict):
                errors.append(f"{where}: not a mapping")
                continue
            unknown = set(rule) - {"alert", "record", "expr", "for", "keep_firing_for",
                                   "labels", "annotations"}
            if unknown:
                errors.append(f"{where}: unknown keys {sorted(unknown)}")
            if ("alert" in rule) == ("record" in rule):
                errors.append(f"{where}: needs exactly one of 'alert' and 'record'")
                continue
            name = rule.get("alert") or rule.get("record")
            where = f"{path}: {name}"
            expr = rule.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                errors.append(f"{where}: no expr")
                continue
            exprs.append((where, expr))
            labels = rule.get("labels", {})
            if not isinstance(labels, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
                errors.append(f"{where}: labels must map strings to strings")
                labels = {}
            if "record" in rule:
                if not METRIC_NAME.match(name):
                    errors.append(f"{where}: not a valid metric name")
                if "for" in rule or "annotations" in rule:
                    errors.append(f"{where}: a recording rule takes no for/annotations")
                recorded.add(name)
                continue
            if name in alert_names:
                errors.append(f"{where}: alert defined twice")
            alert_names.add(name)
            if "for" in rule and not DURATION.match(str(rule["for"])):
                errors.append(f"{where}: for: {rule['for']!r} is not a Prometheus duration")
            if labels.get("severity") not in ("critical", "warning", "info"):
                errors.append(f"{where}: labels.severity must be critical, warning or info")
            ann = rule.get("annotations", {})
            for key in REQUIRED_ANNOTATIONS:
                if not isinstance(ann, dict) or not str(ann.get(key, "")).strip():
                    errors.append(f"{where}: no annotations.{key}")
    return exprs, recorded


def check_chart_copies(root, errors):
    pairs = [("metrics/prometheus/alerts.yaml", "helm/nomad-singleton/files/alerts.yaml"),
             ("metrics/grafana/nomad-singleton.json",
              "helm/nomad-singleton/files/nomad-singleton.json")]
    for src, copy in pairs:
        if not os.path.exists(os.path.join(root, copy)):
            continue
        with open(os.path.join(root, src), "rb") as a, open(os.path.join(root, copy), "rb") as b:
            if a.read() != b.read():
                errors.append(f"{copy} differs from {src}: cp {src} {copy}")


def run_promtool(promtool, root, rules_path, dashboard_exprs, errors):
    def run(args):
        r = subprocess.run([promtool] + args, capture_output=True, text=True, cwd=root)
        if r.returncode != 0:
            errors.append(f"promtool {' '.join(args)}:\n{r.stdout}{r.stderr}")
    run(["check", "rules", rules_path])
    with tempfile.TemporaryDirectory() as tmp:
        rules = []
        for i, (where, expr) in enumerate(dashboard_exprs):
            expr = (expr.replace("$__rate_interval", "5m").replace("$__range", "1h")
                    .replace("$__interval", "1m").replace("$singleton", ".*")
                    .replace("$job", ".*").replace("$instance", ".*"))
            if expr.startswith("label_values("):
                continue
            rules.append({"record": f"dashboard_expr_{i}", "expr": expr})
        tmp_rules = os.path.join(tmp, "dashboard_rules.yaml")
        with open(tmp_rules, "w") as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        run(["check", "rules", tmp_rules])
    unit = os.path.join(root, "tests", "metrics", "alerts_test.yaml")
    if os.path.exists(unit):
        run(["test", "rules", unit])


def self_test(catalogue):
    """The name check must catch a renamed metric, a wrong suffix and a wrong label."""
    errors = []
    check_names("self-test", 'rate(nomad_singleton_reconciles_total[5m])', catalogue, set(), errors)
    check_names("self-test", 'nomad_singleton_up_bucket', catalogue, set(), errors)
    check_names("self-test", 'nomad_singleton_up{singletn="a"}', catalogue, set(), errors)
    check_names("self-test", 'nomad_singleton:unknown', catalogue, set(), errors)
    check_names("self-test", 'sum by (topc) (nomad_singleton_event_stream_events_total)',
                catalogue, set(), errors)
    ok = []
    check_names("self-test", 'sum by (le, singleton) (nomad_singleton_failover_duration_seconds_'
                'bucket{le="1", singleton=~"a"}) + on (singleton) nomad_singleton_up',
                catalogue, set(), ok)
    return len(errors) == 5 and not ok


def main():
    args = sys.argv[1:]
    with_promtool = "--promtool" in args
    args = [a for a in args if a != "--promtool"]
    root = os.path.abspath(args[0] if args else os.path.join(os.path.dirname(__file__), "..", ".."))
    promtool = shutil.which("promtool")
    if with_promtool and not promtool:
        print("SKIPPED: promtool not found, PromQL and alert unit tests not run "
              "(.ci/setup-deps.sh installs Debian's prometheus package, which has it)")
        return SKIPPED
    errors = []
    catalogue = load_catalogue(root)
    if len(catalogue) < 10:
        errors.append(f"metrics/catalogue.h: only {len(catalogue)} metrics parsed")
    if not self_test(catalogue):
        errors.append("check_metrics.py self-test: the name check missed a bad name")
    rules_path = os.path.join("metrics", "prometheus", "alerts.yaml")
    dash_path = os.path.join("metrics", "grafana", "nomad-singleton.json")
    os.chdir(root)
    rule_exprs, recorded = check_rules(rules_path, errors)
    dash_exprs = check_dashboard(dash_path, errors)
    for where, expr in rule_exprs + dash_exprs:
        check_names(where, expr, catalogue, recorded, errors)
    check_chart_copies(root, errors)
    if with_promtool:
        run_promtool(promtool, root, rules_path, dash_exprs, errors)
    for e in errors:
        print("FAIL:", e)
    print(f"{len(rule_exprs)} rule and {len(dash_exprs)} dashboard expressions checked against "
          f"{len(catalogue)} catalogue metrics: {'FAILED' if errors else 'ok'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
