#!/usr/bin/env python3
"""Checks that no folder under controller/ includes a higher layer (ARCHITECTURE.md §2).

Layers, low to high: base < model (spec, nomad) < core (render, timing, reconcile, lock)
< runtime < edges (nomad_client, lock_io, controller_io) < sim, faultsim, app (each program's
assembly) < cmd. A folder may include any lower layer; within one
layer only the pairs in SAME_LAYER_ALLOWED. Also checks that no header of a core or model folder includes a
JSON or YAML library header (STYLE.md: no library header leaks into a core header). A folder-private
header (`*_internal.h`, `*_impl.h`: what the .cc files of one folder share, e.g. the YAML walker the
spec loader's files share) may include its folder's library, because nothing outside the folder may
include it: that is checked too.
Exit 0 when clean, 1 with one line per violation.
"""
import pathlib
import re
import sys

RANK = {
    "base": 0,
    "spec": 1, "nomad": 1,
    "render": 2, "timing": 2, "reconcile": 2, "lock": 2,
    "runtime": 3,
    "nomad_client": 4, "lock_io": 4, "controller_io": 4,
    "sim": 5, "faultsim": 5, "app": 5,
    "cmd": 6,
}
SAME_LAYER_ALLOWED = {
    ("spec", "nomad"),  # Nomad's limits (nomad/limits.h), which validate checks specs against
    ("render", "timing"),
    ("reconcile", "render"), ("reconcile", "timing"), ("reconcile", "lock"),
    ("lock", "timing"),
    ("faultsim", "sim"),
    ("app", "sim"),  # the demo program runs the simulator with real processes (app/demo.cc)
    ("controller_io", "nomad_client"),  # the git source's TLS and proxy settings (client_config.h)
    ("controller_io", "lock_io"),  # the leader elector holds its lock through the lock runner
}
PURE = {"base", "spec", "nomad", "render", "timing", "reconcile", "lock"}
LIB_HEADERS = re.compile(r'#include\s*[<"](nlohmann/|yaml-cpp/|simdjson|cpprest/|spdlog/|prometheus/)')
INCLUDE = re.compile(r'#include\s*"controller/([a-z_]+)/')
PRIVATE_HEADER = re.compile(r'_(internal|impl)\.h$')
PRIVATE_INCLUDE = re.compile(r'#include\s*"controller/([a-z_]+)/[a-z0-9_]+_(?:internal|impl)\.h"')


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent / "controller"
    bad = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".h", ".cc"):
            continue
        folder = path.relative_to(root).parts[0]
        if folder not in RANK:
            bad.append(f"{path}: folder '{folder}' has no layer in .ci/check-layering.py")
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.search(line)
            if m:
                dep = m.group(1)
                if dep not in RANK:
                    bad.append(f"{path}:{n}: includes unknown folder '{dep}'")
                elif dep != folder and not (
                    RANK[dep] < RANK[folder] or (folder, dep) in SAME_LAYER_ALLOWED
                ):
                    bad.append(f"{path}:{n}: {folder} (layer {RANK[folder]}) must not include "
                               f"{dep} (layer {RANK[dep]})")
            p = PRIVATE_INCLUDE.search(line)
            if p and p.group(1) != folder:
                bad.append(f"{path}:{n}: includes a header private to controller/{p.group(1)}")
            if (path.suffix == ".h" and folder in PURE and LIB_HEADERS.search(line)
                    and not PRIVATE_HEADER.search(path.name)):
                bad.append(f"{path}:{n}: a {folder} header must not include a library header")
    for b in bad:
        print(b)
    if not bad:
        print("layering: ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
