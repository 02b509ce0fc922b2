#!/usr/bin/env python3
"""Checks the Singleton JSON Schema against the CRD, the examples and the known-bad specs.

  (a) crd/singletons.nomad-singleton.io.yaml is exactly what crd/gen_crd.py generates from
      crd/singleton.schema.json (and it is a structurally sane CRD);
  (b) every YAML document under manifests/examples/ passes the JSON Schema;
  (c) every file under tests/spec/bad/ fails it.

The C++ side of the same fixtures is tests/spec/fixtures_test.cc. Run from anywhere:
  python3 tests/spec/check_schema.py [SOURCE_DIR]
Exit status 0 when everything holds, 1 otherwise (each failure is printed).
"""

import glob
import importlib.util
import json
import os
import sys

import jsonschema
import yaml


def load_gen_crd(root):
    path = os.path.join(root, "crd", "gen_crd.py")
    spec = importlib.util.spec_from_file_location("gen_crd", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def yaml_files(directory):
    found = []
    for pattern in ("*.yaml", "*.yml"):
        found += glob.glob(os.path.join(directory, "**", pattern), recursive=True)
    return sorted(found)


def keys_named(node, key, path=""):
    """Yields the paths of every mapping key equal to `key` in a parsed YAML/JSON tree, skipping
    property names (a property may be called anything)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield path or "<root>"
            if k == "properties" and isinstance(v, dict):
                for name, sub in v.items():
                    yield from keys_named(sub, key, path + "." + name)
            else:
                yield from keys_named(v, key, path)
    elif isinstance(node, list):
        for item in node:
            yield from keys_named(item, key, path)


def walk(node, path=""):
    """Yields (path, schema node) for every schema node of a CRD schema."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, path + "." + name)
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], path + "[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], path + ".*")


def check_crd(root, schema, failures):
    gen = load_gen_crd(root)
    with open(gen.CRD_PATH, encoding="utf-8") as f:
        current = f.read()
    if current != gen.generate(schema):
        failures.append("crd: %s is out of date: run crd/gen_crd.py" % gen.CRD_PATH)
        return
    crd = yaml.safe_load(current)
    version = crd["spec"]["versions"][0]
    spec = crd["spec"]
    identity = (spec["group"], spec["names"]["plural"], spec["names"]["kind"], spec["scope"])
    if identity != ("nomad-singleton.io", "singletons", "Singleton", "Namespaced"):
        failures.append("crd: wrong group/names/scope")
    if not (version["name"] == "v1alpha1" and version["served"] and version["storage"]
            and version["subresources"] == {"status": {}}):
        failures.append("crd: v1alpha1 must be served, stored and have the status subresource")
    open_api = version["schema"]["openAPIV3Schema"]
    for banned in ("$ref", "$schema", "$defs", "const", "propertyNames", "default"):
        for path in keys_named(open_api, banned):
            failures.append("crd: %s: %r has no place in a structural schema" % (path, banned))
    for path, node in walk(open_api):
        if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            failures.append("crd: %s has no type (not structural)" % (path or "<root>"))
        if "properties" in node and "additionalProperties" in node:
            failures.append("crd: %s has both properties and additionalProperties" % path)
    spec_props = open_api["properties"]["spec"]["properties"]
    for name, node in (("task.config", spec_props["task"]["properties"]["config"]),
                       ("template", spec_props["template"])):
        if node.get("x-kubernetes-preserve-unknown-fields") is not True:
            failures.append("crd: spec.%s must preserve unknown fields" % name)


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    root = os.path.abspath(root)
    with open(os.path.join(root, "crd", "singleton.schema.json"), encoding="utf-8") as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    failures = []

    check_crd(root, schema, failures)

    examples = yaml_files(os.path.join(root, "manifests", "examples"))
    if len(examples) < 7:
        failures.append("examples: expected at least 7 files, found %d" % len(examples))
    for path in examples:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        if not docs:
            failures.append("%s: no documents" % path)
        for i, doc in enumerate(docs):
            for err in validator.iter_errors(doc):
                where = "/".join(str(p) for p in err.absolute_path) or "<document>"
                failures.append("%s (document %d): %s: %s" % (path, i + 1, where, err.message))

    bad = yaml_files(os.path.join(root, "tests", "spec", "bad"))
    if not bad:
        failures.append("tests/spec/bad: no files")
    for path in bad:
        with open(path, encoding="utf-8") as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        if not any(list(validator.iter_errors(doc)) for doc in docs):
            failures.append("%s: passes the JSON Schema but should fail it" % path)

    for failure in failures:
        print("FAIL " + failure)
    print("%d examples, %d bad files checked, %d failures"
          % (len(examples), len(bad), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
