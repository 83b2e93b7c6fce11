"""Everyday cluster commands for one experiment: build, apply, diff, status, logs, delete.

`apply` validates first and uses server-side apply (the TFJob CRD is too large for client-side
apply). Which cluster: $KUBECONFIG when set; else the local cluster while `make cluster-up` has it
running (.cluster/kubeconfig); else kubectl's own default context. Without kubectl or a reachable
cluster each command says so in one line and exits 1.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from scripts import validate
from scripts.kube import ClusterUnavailable, kubectl
from scripts.manifests import ROOT, RenderError, render, resolve

NAMESPACE = "textjobs"


def tfjob_name(rendered) -> str:
    jobs = rendered.of_kind("TFJob") or rendered.of_kind("Experiment")
    if not jobs:
        raise RenderError(f"{rendered.name} renders no TFJob or Experiment")
    return jobs[0]["metadata"]["name"]


def run(command: str, experiment: str) -> int:
    name = resolve(experiment)
    rendered = render(name)
    if rendered.error:
        raise RenderError(rendered.error)
    if command == "build":
        sys.stdout.write(rendered.text)
        return 0
    if command == "apply":
        problems, _, _ = validate.validate(ROOT, [name], scan=False)
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            return 1
    tool = kubectl()
    kind = "experiment" if rendered.of_kind("Experiment") else "tfjob"
    job = tfjob_name(rendered)
    if command in ("apply", "diff"):
        args = (
            [tool, command, "--server-side", "-f", "-"]
            if command == "apply"
            else [tool, "diff", "--server-side", "-f", "-"]
        )
        return subprocess.run(args, input=rendered.text, text=True).returncode
    if command == "delete":
        return subprocess.run(
            [tool, "delete", "--ignore-not-found", "-f", "-"], input=rendered.text, text=True
        ).returncode
    if command == "status":
        out = subprocess.run([tool, "-n", NAMESPACE, "get", kind, job, "-o", "json"], capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr.strip(), file=sys.stderr)
            return out.returncode
        for condition in json.loads(out.stdout).get("status", {}).get("conditions", []):
            print(
                f"{condition.get('lastTransitionTime', '')}  {condition['type']:<11} {condition['status']:<6} {condition.get('message', '')}"
            )
        return 0
    if command == "logs":
        selector = f"training.kubeflow.org/job-name={job},training.kubeflow.org/job-role=master"
        return subprocess.run([tool, "-n", NAMESPACE, "logs", "-f", "-l", selector, "-c", "tensorflow"]).returncode
    raise ValueError(command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "apply", "diff", "status", "logs", "delete"])
    parser.add_argument("experiment", help="overlay name (capsule-b) or kustomization path (katib/experiments/tpe)")
    args = parser.parse_args(argv)
    try:
        return run(args.command, args.experiment)
    except (ClusterUnavailable, RenderError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
