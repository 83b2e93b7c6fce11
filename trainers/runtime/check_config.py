"""`python -m trainers check-config FILE...`: check experiment ConfigMaps without TensorFlow.

Each FILE is YAML holding ConfigMap objects (a rendered overlay, say) or a bare mapping of keys;
`-` reads standard input. Exit 0 when every ConfigMap would start a run, 2 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from trainers.runtime.config import ConfigError
from trainers.runtime.keyset import check_configmap_data


def configmaps(documents: list, source: str) -> list[tuple[str, dict]]:
    found = []
    for doc in documents:
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "ConfigMap":
            name = doc.get("metadata", {}).get("name", "?")
            found.append((f"{source}: ConfigMap {name}", doc.get("data") or {}))
        elif "kind" not in doc:
            found.append((source, doc))
    return found


def main(argv: list[str], registry) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainers check-config", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="YAML files with ConfigMaps or key mappings; - for stdin")
    args = parser.parse_args(argv)
    failures = 0
    for name in args.files:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        for source, data in configmaps(list(yaml.safe_load_all(text)), name):
            try:
                cfg = check_configmap_data(data, source, registry)
            except ConfigError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failures += 1
            else:
                print(f"ok: {source}: {cfg.model_type} (task {cfg.task_name}), run {cfg.run_name}")
    return 2 if failures else 0
