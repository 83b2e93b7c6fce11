"""The server-side dry run `make validate` adds when a cluster is reachable.

Every experiment and served model is sent to the API server with `--dry-run=server`: schema defaulting, admission
(Pod Security `restricted` on the namespace), the Training Operator's webhook. Katib experiments
are sent as the TFJob their trial template makes (scripts/trials.py), with parameters at both ends
of their ranges. A warning from the server counts as a problem.
"""

from __future__ import annotations

import subprocess

import yaml

from scripts.kube import ClusterUnavailable, describe, kubectl
from scripts.manifests import Rendered
from scripts.policy.serving import is_serving
from scripts.policy.violation import Violation
from scripts.trials import trial_tfjob


def wanted(mode: str) -> str:
    """'' for no dry run, else a description of the cluster it will use."""
    if mode == "never":
        return ""
    try:
        kubectl()
    except ClusterUnavailable as exc:
        if mode == "always":
            raise SystemExit(f"validate: --server=always but {exc}") from None
        return ""
    return describe()


def _payloads(r: Rendered) -> list[tuple[str, str]]:
    if r.name.startswith("overlays/") or is_serving(r.name):
        return [(r.name, r.text)]
    experiments = r.of_kind("Experiment")
    configmaps = r.of_kind("ConfigMap")
    return [
        (f"{r.name} (trial, parameters at {edge})", yaml.safe_dump_all([*configmaps, trial_tfjob(e, edge)]))
        for e in experiments
        for edge in ("min", "max")
    ]


def check(rendered: list[Rendered]) -> list[Violation]:
    tool = kubectl()
    problems = []
    for r in rendered:
        for where, text in _payloads(r):
            result = subprocess.run(
                [tool, "apply", "--server-side", "--dry-run=server", "-f", "-"],
                input=text,
                capture_output=True,
                text=True,
            )
            for line in result.stderr.splitlines():
                if line.strip() and (result.returncode != 0 or "Warning" in line):
                    problems.append(Violation(where, "server-side dry run", "-", line.strip()))
    return problems
