"""Pod templates that pass the schema yet leave a TFJob with no pods or no status.

The API server refuses these pods (requests above limits, a mount without a volume, a field path
the kubelet does not support); the operator then cannot create them and the TFJob stays without
status, which Argo CD shows as Progressing for ever. A reference to a ConfigMap the experiment
does not render fails the same way, later, on the node.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from scripts.manifests import Rendered
from scripts.policy import quantity
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import all_containers as containers
from scripts.policy.walk import all_pods as pods

# The downward API's env-var field paths (kubelet, Kubernetes 1.36); labels and annotations only with a key.
ENV_FIELD_PATHS = re.compile(
    r"^(metadata\.(name|namespace|uid)|metadata\.(labels|annotations)\['[^']+'\]"
    r"|spec\.(nodeName|serviceAccountName)|status\.(hostIP|hostIPs|podIP|podIPs))$"
)
VOLUME_FIELD_PATHS = re.compile(
    r"^(metadata\.(name|namespace|uid|labels|annotations)|metadata\.(labels|annotations)\['[^']+'\])$"
)


def rule_resources(r: Rendered) -> Iterator[Violation]:
    # Ephemeral containers may not set resources; init and regular containers must.
    for c in containers(r, ("containers", "initContainers")):
        obj, resources = describe(c.pod.job.doc), c.spec.get("resources") or {}
        for kind in ("requests", "limits"):
            missing = [k for k in ("cpu", "memory") if k not in (resources.get(kind) or {})]
            if missing:
                yield Violation(
                    r.name, obj, f"{c.field}.resources.{kind}", f"missing {', '.join(missing)}; set both cpu and memory"
                )
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for name in sorted(set(requests) & set(limits)):
            try:
                above = quantity.parse(requests[name]) > quantity.parse(limits[name])
            except ValueError as exc:
                yield Violation(r.name, obj, f"{c.field}.resources", str(exc))
                continue
            if above:
                yield Violation(
                    r.name,
                    obj,
                    f"{c.field}.resources.requests.{name}",
                    f"{requests[name]} is above the limit {limits[name]}; the API server refuses the pod, lower the request or raise the limit",
                )


def rule_volume_mounts(r: Rendered) -> Iterator[Violation]:
    for c in containers(r):
        declared = {v.get("name") for v in c.pod.spec.get("volumes") or []}
        for mount in c.spec.get("volumeMounts") or []:
            if mount.get("name") not in declared:
                yield Violation(
                    r.name,
                    describe(c.pod.job.doc),
                    f"{c.field}.volumeMounts[{mount.get('name')}]",
                    f"no volume named {mount.get('name')!r} in this replica's pod; declare it under {c.pod.field}.volumes "
                    "(components patch the Chief: list multi-worker last so Workers copy it)",
                )


def _volume_field_refs(pod_spec: dict) -> Iterator[tuple[str, str]]:
    for volume in pod_spec.get("volumes") or []:
        sources = [volume.get("downwardAPI") or {}] + [
            s.get("downwardAPI") or {} for s in (volume.get("projected") or {}).get("sources") or []
        ]
        for source in sources:
            for item in source.get("items") or []:
                if "fieldRef" in item:
                    yield (
                        f"volumes[{volume.get('name')}].downwardAPI.items[{item.get('path')}]",
                        item["fieldRef"].get("fieldPath", ""),
                    )


def rule_field_paths(r: Rendered) -> Iterator[Violation]:
    for c in containers(r):
        for env in c.spec.get("env") or []:
            path = ((env.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
            if path is not None and not ENV_FIELD_PATHS.match(path):
                yield Violation(
                    r.name,
                    describe(c.pod.job.doc),
                    f"{c.field}.env[{env.get('name')}].valueFrom.fieldRef.fieldPath",
                    f"{path!r} is not a field the kubelet exposes to env; use e.g. metadata.name or metadata.labels['key']",
                )
    for pod in pods(r):
        for where, path in _volume_field_refs(pod.spec):
            if not VOLUME_FIELD_PATHS.match(path):
                yield Violation(
                    r.name,
                    describe(pod.job.doc),
                    f"{pod.field}.{where}.fieldRef.fieldPath",
                    f"{path!r} is not supported in a downward API volume",
                )


def _configmap_references(c) -> Iterator[tuple[str, str, bool]]:
    for source in c.spec.get("envFrom") or []:
        ref = source.get("configMapRef")
        if ref:
            yield "envFrom.configMapRef", ref.get("name", ""), bool(ref.get("optional"))
    for env in c.spec.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            yield f"env[{env.get('name')}].valueFrom.configMapKeyRef", ref.get("name", ""), bool(ref.get("optional"))


def _pod_configmap_references(pod_spec: dict) -> Iterator[tuple[str, str, bool]]:
    for volume in pod_spec.get("volumes") or []:
        refs = [volume.get("configMap")] + [
            s.get("configMap") for s in (volume.get("projected") or {}).get("sources") or []
        ]
        for ref in filter(None, refs):
            yield f"volumes[{volume.get('name')}].configMap", ref.get("name", ""), bool(ref.get("optional"))


def rule_configmaps_exist(r: Rendered) -> Iterator[Violation]:
    """Generated ConfigMaps get a hash suffix; kustomize rewrites references only at the paths that
    base/kustomizeconfig.yaml lists, so a replica type it does not list keeps the bare name."""
    rendered = {d.get("metadata", {}).get("name") for d in r.of_kind("ConfigMap")}
    fix = "add the replica type's paths to base/kustomizeconfig.yaml so kustomize rewrites the reference"
    references = [(c.pod, c.field, ref) for c in containers(r) for ref in _configmap_references(c)]
    references += [(pod, pod.field, ref) for pod in pods(r) for ref in _pod_configmap_references(pod.spec)]
    for pod, field, (where, name, optional) in references:
        if not optional and name not in rendered:
            message = f"ConfigMap {name!r} is not rendered by this experiment; {fix}"
            yield Violation(r.name, describe(pod.job.doc), f"{field}.{where}", message)


def _duplicates(names: list) -> list:
    return sorted({n for n in names if n is not None and names.count(n) > 1}, key=str)


def rule_unique_names(r: Rendered) -> Iterator[Violation]:
    """Server-side apply merges lists by these keys and refuses duplicates; caught here first."""
    for pod in pods(r):
        all_containers = [
            c.get("name")
            for kind in ("containers", "initContainers", "ephemeralContainers")
            for c in pod.spec.get(kind) or []
        ]
        checks = [
            (f"{pod.field}.containers", "container name", all_containers),
            (f"{pod.field}.volumes", "volume name", [v.get("name") for v in pod.spec.get("volumes") or []]),
        ]
        for field, what, names in checks:
            for name in _duplicates(names):
                yield Violation(
                    r.name,
                    describe(pod.job.doc),
                    field,
                    f"{what} {name!r} appears twice; the API server refuses the object",
                )
    for c in containers(r):
        checks = [
            (f"{c.field}.env", "env var", [e.get("name") for e in c.spec.get("env") or []]),
            (
                f"{c.field}.ports",
                "containerPort",
                [(p.get("containerPort"), p.get("protocol", "TCP")) for p in c.spec.get("ports") or []],
            ),
        ]
        for field, what, names in checks:
            for name in _duplicates(names):
                shown = name[0] if isinstance(name, tuple) else name
                yield Violation(
                    r.name,
                    describe(c.pod.job.doc),
                    field,
                    f"{what} {shown!r} appears twice; server-side apply refuses it: keep one",
                )


RULES = [rule_resources, rule_volume_mounts, rule_field_paths, rule_configmaps_exist, rule_unique_names]
