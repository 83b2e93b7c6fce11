"""The server-side dry run `make validate` adds when a cluster is reachable.

Every experiment, served model and platform service (platform/*) is sent to the API server with `--dry-run=server`: schema defaulting, admission,
the Training Operator's webhook. Katib experiments are sent as the TFJob their trial template
makes (scripts/trials.py), with parameters at both ends of their ranges. A warning from the server
counts as a problem.

Pod Security admission does not look inside a TFJob, so each replica's pod template is also sent
as a Pod (in one request per kustomization) to the restricted namespace: Kubernetes' own Pod
Security admission, and the API server's own Pod validation (GPU requests equal to limits, image
names, ...), judge what the operator will create. A platform Deployment's pod template is sent the
same way: applying a Deployment only warns about Pod Security, its ReplicaSet is what gets refused. A ServiceAccount the experiment renders itself
does not exist before it syncs, so such a Pod is sent with the namespace's default account (Pod
Security does not look at the account).
"""

from __future__ import annotations

import copy
import json
import re
import secrets
import subprocess

import yaml

from scripts.kube import ClusterUnavailable, describe, kubectl
from scripts.manifests import Rendered
from scripts.policy.services import is_platform
from scripts.policy.serving import is_serving
from scripts.policy.violation import Violation
from scripts.policy.violation import describe as describe_object
from scripts.policy.walk import pods
from scripts.trials import trial_tfjob

NAMESPACE = "textjobs"
POD_ERROR = re.compile(r'(?:pods|Pod) "(?P<name>[^"]+)" is (?P<why>.*)$')


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
    if r.name.startswith("overlays/") or is_serving(r.name) or is_platform(r):
        return [(r.name, r.text)]
    experiments = r.of_kind("Experiment")
    configmaps = r.of_kind("ConfigMap")
    return [
        (f"{r.name} (trial, parameters at {edge})", yaml.safe_dump_all([*configmaps, trial_tfjob(e, edge)]))
        for e in experiments
        for edge in ("min", "max")
    ]


def pod_manifests(r: Rendered) -> list[tuple[str, str, dict]]:
    """(object, field, Pod) for each replica's pod template, as the operator would create it, and
    each Deployment's, as its ReplicaSet would."""
    jobs = Rendered(r.name, documents=[*r.of_kind("TFJob"), *(trial_tfjob(e) for e in r.of_kind("Experiment"))])
    own_accounts = {(d.get("metadata") or {}).get("name") for d in r.of_kind("ServiceAccount")}
    run = secrets.token_hex(3)
    found = []
    for index, pod in enumerate(pods(jobs)):
        if pod.job.doc.get("kind") == "Experiment":
            continue
        template = pod.replica.get("template") or {}
        metadata = template.get("metadata") or {}
        spec = copy.deepcopy(pod.spec)
        if spec.get("serviceAccountName") in own_accounts:
            spec["serviceAccountName"] = "default"
        manifest = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"textjobs-pod-security-{run}-{index:04d}",
                "namespace": (pod.job.doc.get("metadata") or {}).get("namespace") or NAMESPACE,
                "labels": metadata.get("labels") or {},
                "annotations": metadata.get("annotations") or {},
            },
            "spec": spec,
        }
        found.append((describe_object(pod.job.doc), pod.field, manifest))
    for index, doc in enumerate(r.of_kind("Deployment")):
        template = (doc.get("spec") or {}).get("template") or {}
        metadata = template.get("metadata") or {}
        manifest = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"textjobs-pod-security-{run}-d{index:03d}",
                "namespace": (doc.get("metadata") or {}).get("namespace") or NAMESPACE,
                "labels": metadata.get("labels") or {},
                "annotations": metadata.get("annotations") or {},
            },
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        found.append((describe_object(doc), "spec.template.spec", manifest))
    return found


def check_pods(r: Rendered, tool: str) -> list[Violation]:
    """Every pod template of `r` created as a Pod with --dry-run=server: Pod Security admission
    and Pod validation judge it. Each refusal and each warning names the replica."""
    manifests = pod_manifests(r)
    if not manifests:
        return []
    by_name = {m["metadata"]["name"]: (obj, field) for obj, field, m in manifests}
    result = subprocess.run(
        [tool, "create", "--dry-run=server", "-o", "name", "-f", "-"],
        # JSON, not YAML: kubectl reads YAML 1.1, where a volume named `n` would be `false`.
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [m for _, _, m in manifests]}),
        capture_output=True,
        text=True,
    )
    problems = []
    for line in result.stderr.splitlines():
        line = line.strip()
        if not line:
            continue
        match = POD_ERROR.search(line)
        if match and match["name"] in by_name:
            obj, field = by_name[match["name"]]
            problems.append(Violation(r.name, obj, field, f"server-side dry run as a Pod: {match['why']}"))
        elif result.returncode != 0 or "Warning" in line:
            shown = line
            for name, (obj, field) in by_name.items():
                shown = shown.replace(name, f"{obj} {field}")
            problems.append(Violation(r.name, "server-side dry run as a Pod", "-", shown))
    return problems


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
        if r.name != ".":
            problems += check_pods(r, tool)
    return problems
