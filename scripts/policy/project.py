"""Rules across experiments and on the bootstrap: what Argo CD may create, and where.

- The AppProject whitelists exactly the kinds platform/allowlist.yaml lets its experiments render
  (and every kind they do render): nothing cluster-scoped (the bootstrap creates the namespace), no
  wildcard, nothing else.
- The namespace enforces Pod Security `restricted`.
- No two experiments render the same object: two Applications would fight over it, each
  pruning or overwriting the other's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from scripts.manifests import Rendered
from scripts.policy import appproject, platform
from scripts.policy.services import PROJECT as PLATFORM_PROJECT
from scripts.policy.violation import Violation, describe

NAMESPACE = "textjobs"
PSA_LABEL = "pod-security.kubernetes.io/enforce"


def _group(doc: dict) -> str:
    api_version = doc.get("apiVersion", "")
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def rule_project_whitelist(bootstrap: Rendered, experiments: list[Rendered], root: Path) -> Iterator[Violation]:
    rendered = {(_group(d), d.get("kind")) for r in experiments if not r.error for d in r.documents}
    allowlist = platform.allowlist(root)
    # The platform's own project (textjobs-platform) is judged by scripts/policy/services.py.
    for project in (
        p for p in bootstrap.of_kind("AppProject") if (p.get("metadata") or {}).get("name") != PLATFORM_PROJECT
    ):
        spec = project.get("spec") or {}
        obj = describe(project)
        name = (project.get("metadata") or {}).get("name")
        listed = {kind for w in allowlist.workloads if w.project == name for kind in w.kinds}
        needed = rendered | listed
        cluster_kinds = spec.get("clusterResourceWhitelist") or []
        if cluster_kinds:
            kinds = sorted(f"{k.get('group') or 'core'}/{k.get('kind')}" for k in cluster_kinds)
            yield Violation(
                bootstrap.name,
                obj,
                "spec.clusterResourceWhitelist",
                f"{kinds}: experiments need no cluster-scoped kind (the bootstrap creates the namespace); set it to []",
            )
        allowed = {(k.get("group") or "", k.get("kind")) for k in spec.get("namespaceResourceWhitelist") or []}
        for group, kind in sorted(allowed):
            if "*" in (group, kind):
                yield Violation(
                    bootstrap.name,
                    obj,
                    "spec.namespaceResourceWhitelist",
                    f"wildcard {group or 'core'}/{kind}: list the kinds experiments render",
                )
        for group, kind in sorted(rendered - allowed):
            yield Violation(
                bootstrap.name,
                obj,
                "spec.namespaceResourceWhitelist",
                f"{group or 'core'}/{kind} is rendered by an experiment but not whitelisted: Argo CD would refuse to sync it; add it",
            )
        for group, kind in sorted(allowed - needed - {("*", "*")}):
            if "*" not in (group, kind):
                yield Violation(
                    bootstrap.name,
                    obj,
                    "spec.namespaceResourceWhitelist",
                    f"{group or 'core'}/{kind} is whitelisted but platform/allowlist.yaml lets no experiment render it; "
                    "remove it (the whitelist follows the allowlist's kinds)",
                )
        for group, kind in sorted(listed - allowed):
            yield Violation(
                bootstrap.name,
                obj,
                "spec.namespaceResourceWhitelist",
                f"{group or 'core'}/{kind} is in platform/allowlist.yaml but not whitelisted: Argo CD would refuse to sync "
                "it; add it",
            )
        yield from appproject.rule_destinations_and_sources(bootstrap.name, project, "experiments")


def rule_restricted_namespace(bootstrap: Rendered) -> Iterator[Violation]:
    namespaces = [d for d in bootstrap.of_kind("Namespace") if d.get("metadata", {}).get("name") == NAMESPACE]
    if not namespaces:
        yield Violation(
            bootstrap.name,
            f"Namespace {NAMESPACE}",
            "(object)",
            "missing from the bootstrap; experiments need it created with Pod Security labels",
        )
    for namespace in namespaces:
        labels = namespace.get("metadata", {}).get("labels") or {}
        if labels.get(PSA_LABEL) != "restricted":
            yield Violation(
                bootstrap.name,
                describe(namespace),
                f"metadata.labels[{PSA_LABEL}]",
                f"{labels.get(PSA_LABEL)!r}; set it to restricted",
            )


def rule_no_shared_objects(experiments: list[Rendered]) -> Iterator[Violation]:
    owners: dict[tuple, str] = {}
    for r in experiments:
        for doc in r.documents:
            meta = doc.get("metadata") or {}
            key = (_group(doc), doc.get("kind"), meta.get("namespace", NAMESPACE), meta.get("name"))
            if key in owners and owners[key] != r.name:
                yield Violation(
                    r.name,
                    describe(doc),
                    "metadata.name",
                    f"also rendered by {owners[key]}: two Applications would fight over it; give this experiment its own namePrefix",
                )
            owners.setdefault(key, r.name)
