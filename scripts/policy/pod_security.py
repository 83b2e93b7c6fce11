"""Pod Security `restricted`, checked on every replica's pod template before a cluster sees it.

The namespace enforces the same profile, so a violation here would otherwise surface only as a
TFJob whose pods the API server refuses: the operator retries, the job never starts.
"""

from __future__ import annotations

from collections.abc import Iterator

from scripts.manifests import Rendered
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import containers, pods

HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
ALLOWED_SECCOMP = ("RuntimeDefault", "Localhost")


def rule_host_access(r: Rendered) -> Iterator[Violation]:
    for pod in pods(r):
        obj = describe(pod.job.doc)
        for key in HOST_NAMESPACES:
            if pod.spec.get(key):
                yield Violation(
                    r.name,
                    obj,
                    f"{pod.field}.{key}",
                    "must not be true: a training pod has no business in the node's namespaces; remove it",
                )
        for volume in pod.spec.get("volumes") or []:
            if "hostPath" in volume:
                yield Violation(
                    r.name,
                    obj,
                    f"{pod.field}.volumes[{volume.get('name')}].hostPath",
                    "hostPath volumes are refused; use emptyDir for scratch space or the bucket for data",
                )


def _effective(container: dict, pod_spec: dict, key: str):
    own = (container.get("securityContext") or {}).get(key)
    return own if own is not None else (pod_spec.get("securityContext") or {}).get(key)


def rule_non_root(r: Rendered) -> Iterator[Violation]:
    for pod in pods(r):
        if (pod.spec.get("securityContext") or {}).get("runAsUser") == 0:
            yield Violation(
                r.name,
                describe(pod.job.doc),
                f"{pod.field}.securityContext.runAsUser",
                "0 is root; use a non-zero UID such as 1000",
            )
    for c in containers(r):
        obj, ctx = describe(c.pod.job.doc), c.spec.get("securityContext") or {}
        if _effective(c.spec, c.pod.spec, "runAsNonRoot") is not True:
            yield Violation(
                r.name,
                obj,
                f"{c.field}.securityContext.runAsNonRoot",
                "must be true (set it in the pod's or the container's securityContext)",
            )
        if ctx.get("runAsUser") == 0:
            yield Violation(
                r.name, obj, f"{c.field}.securityContext.runAsUser", "0 is root; use a non-zero UID such as 1000"
            )


def rule_privileges(r: Rendered) -> Iterator[Violation]:
    for c in containers(r):
        obj, ctx = describe(c.pod.job.doc), c.spec.get("securityContext") or {}
        if ctx.get("privileged"):
            yield Violation(r.name, obj, f"{c.field}.securityContext.privileged", "must not be true; remove it")
        if ctx.get("allowPrivilegeEscalation") is not False:
            yield Violation(
                r.name,
                obj,
                f"{c.field}.securityContext.allowPrivilegeEscalation",
                "must be false; set allowPrivilegeEscalation: false",
            )
        capabilities = ctx.get("capabilities") or {}
        if capabilities.get("add"):
            yield Violation(
                r.name,
                obj,
                f"{c.field}.securityContext.capabilities.add",
                f"{capabilities['add']} refused; training needs no added capability",
            )
        if "ALL" not in (capabilities.get("drop") or []):
            yield Violation(
                r.name,
                obj,
                f"{c.field}.securityContext.capabilities.drop",
                'must include "ALL"; set capabilities: {drop: ["ALL"]}',
            )


def rule_seccomp(r: Rendered) -> Iterator[Violation]:
    for pod in pods(r):
        profile = ((pod.spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        if profile is not None and profile not in ALLOWED_SECCOMP:
            yield Violation(
                r.name,
                describe(pod.job.doc),
                f"{pod.field}.securityContext.seccompProfile.type",
                f"{profile!r}; use RuntimeDefault",
            )
    for c in containers(r):
        own = ((c.spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        effective = own or ((c.pod.spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        if own is not None and own not in ALLOWED_SECCOMP:
            yield Violation(
                r.name,
                describe(c.pod.job.doc),
                f"{c.field}.securityContext.seccompProfile.type",
                f"{own!r}; use RuntimeDefault",
            )
        elif effective is None:
            yield Violation(
                r.name,
                describe(c.pod.job.doc),
                f"{c.field}.securityContext.seccompProfile",
                "unset; set seccompProfile: {type: RuntimeDefault} in the pod's securityContext",
            )


RULES = [rule_host_access, rule_non_root, rule_privileges, rule_seccomp]
