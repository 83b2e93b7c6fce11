"""Pod Security `restricted`, checked statically on every replica's pod template: a mirror of
Kubernetes' own profile (k8s.io/pod-security-admission, restricted at v1.36), for when no cluster
is reachable.

With a cluster, `make validate` also sends each pod template as a Pod to the API server with
`--dry-run=server` in the restricted namespace (scripts/dry_run.py), so Kubernetes' Pod Security
admission itself judges it; tests/test_cluster_e2e.py shows the two agree on every case here. The
namespace enforces the same profile, so a violation would otherwise surface only as a TFJob whose
pods the API server refuses: the operator retries, the job never starts.

This mirrors the profile and no more: what the profile allows but an experiment may not change
(an added NET_BIND_SERVICE, a CSI volume) is refused by the allowlist (allowlist.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from scripts.manifests import Rendered
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import all_containers as containers
from scripts.policy.walk import all_pods as pods

HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
ALLOWED_SECCOMP = ("RuntimeDefault", "Localhost")
ALLOWED_APPARMOR = ("RuntimeDefault", "Localhost")
ALLOWED_CAPABILITY = "NET_BIND_SERVICE"
ALLOWED_SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")
ALLOWED_VOLUMES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
SAFE_SYSCTLS = (
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
)
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _context(spec: dict) -> dict:
    context = spec.get("securityContext")
    return context if isinstance(context, dict) else {}


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
                continue
            kinds = [k for k in volume if k != "name"]
            for kind in kinds:
                if kind not in ALLOWED_VOLUMES:
                    yield Violation(
                        r.name,
                        obj,
                        f"{pod.field}.volumes[{volume.get('name')}].{kind}",
                        f"{kind} volumes are refused by Pod Security restricted (allowed: {', '.join(ALLOWED_VOLUMES)})",
                    )
    for c in containers(r):
        for port in c.spec.get("ports") or []:
            if port.get("hostPort"):
                yield Violation(
                    r.name,
                    describe(c.pod.job.doc),
                    f"{c.field}.ports[{port.get('name', port.get('containerPort'))}].hostPort",
                    "host ports are refused; remove hostPort",
                )


def _effective(container: dict, pod_spec: dict, key: str):
    own = _context(container).get(key)
    return own if own is not None else _context(pod_spec).get(key)


def rule_non_root(r: Rendered) -> Iterator[Violation]:
    for pod in pods(r):
        if _context(pod.spec).get("runAsUser") == 0:
            yield Violation(
                r.name,
                describe(pod.job.doc),
                f"{pod.field}.securityContext.runAsUser",
                "0 is root; use a non-zero UID such as 1000",
            )
    for c in containers(r):
        obj, ctx = describe(c.pod.job.doc), _context(c.spec)
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
        obj, ctx = describe(c.pod.job.doc), _context(c.spec)
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
        added = [a for a in capabilities.get("add") or [] if a != ALLOWED_CAPABILITY]
        if added:
            yield Violation(
                r.name,
                obj,
                f"{c.field}.securityContext.capabilities.add",
                f"{added} refused; training needs no added capability",
            )
        if "ALL" not in (capabilities.get("drop") or []):
            yield Violation(
                r.name,
                obj,
                f"{c.field}.securityContext.capabilities.drop",
                'must include "ALL"; set capabilities: {drop: ["ALL"]}',
            )
        if ctx.get("procMount") not in (None, "Default"):
            yield Violation(
                r.name, obj, f"{c.field}.securityContext.procMount", f"{ctx['procMount']!r}; remove it (Default only)"
            )


def rule_seccomp(r: Rendered) -> Iterator[Violation]:
    for pod in pods(r):
        profile = (_context(pod.spec).get("seccompProfile") or {}).get("type")
        if profile is not None and profile not in ALLOWED_SECCOMP:
            yield Violation(
                r.name,
                describe(pod.job.doc),
                f"{pod.field}.securityContext.seccompProfile.type",
                f"{profile!r}; use RuntimeDefault",
            )
    for c in containers(r):
        own = (_context(c.spec).get("seccompProfile") or {}).get("type")
        effective = own or (_context(c.pod.spec).get("seccompProfile") or {}).get("type")
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


def _profile_problems(ctx: dict, field: str) -> Iterator[tuple[str, str]]:
    """AppArmor, SELinux and Windows host-process settings, on a pod's or a container's context."""
    apparmor = (ctx.get("appArmorProfile") or {}).get("type")
    if apparmor is not None and apparmor not in ALLOWED_APPARMOR:
        yield f"{field}.appArmorProfile.type", f"{apparmor!r}; use RuntimeDefault"
    selinux = ctx.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in ALLOWED_SELINUX_TYPES:
        yield f"{field}.seLinuxOptions.type", f"{selinux['type']!r} refused (allowed: container_t and its kin)"
    for key in ("user", "role"):
        if selinux.get(key):
            yield f"{field}.seLinuxOptions.{key}", "must not be set"
    if (ctx.get("windowsOptions") or {}).get("hostProcess"):
        yield f"{field}.windowsOptions.hostProcess", "a Windows host process runs as the node; remove it"


def rule_profiles(r: Rendered) -> Iterator[Violation]:
    for pod in pods(r):
        obj = describe(pod.job.doc)
        ctx = _context(pod.spec)
        for where, problem in _profile_problems(ctx, f"{pod.field}.securityContext"):
            yield Violation(r.name, obj, where, problem)
        for sysctl in ctx.get("sysctls") or []:
            if sysctl.get("name") not in SAFE_SYSCTLS:
                yield Violation(
                    r.name,
                    obj,
                    f"{pod.field}.securityContext.sysctls[{sysctl.get('name')}]",
                    "not a safe sysctl; Pod Security restricted refuses it",
                )
        annotations = ((pod.replica.get("template") or {}).get("metadata") or {}).get("annotations") or {}
        for key, value in annotations.items():
            if (
                str(key).startswith(APPARMOR_ANNOTATION)
                and value not in ("", "runtime/default")
                and not str(value).startswith("localhost/")
            ):
                template = pod.field.removesuffix(".spec")
                yield Violation(
                    r.name, obj, f"{template}.metadata.annotations[{key}]", f"{value!r}; use runtime/default"
                )
    for c in containers(r):
        for where, problem in _profile_problems(_context(c.spec), f"{c.field}.securityContext"):
            yield Violation(r.name, describe(c.pod.job.doc), where, problem)


RULES = [rule_host_access, rule_non_root, rule_privileges, rule_seccomp, rule_profiles]
