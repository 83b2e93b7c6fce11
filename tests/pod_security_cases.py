"""Pod templates on both sides of Pod Security `restricted`, shared by the static test
(test_pod_security.py) and the live one (test_cluster_e2e.py), which shows Kubernetes' own
admission agrees with the static mirror on every case."""

from __future__ import annotations

import copy
import random

from scripts.manifests import Rendered


def _container(spec):
    return spec["containers"][0]


def _ctx(spec):
    return _container(spec)["securityContext"]


def _set(path, value, where="pod"):
    def mutate(spec):
        node = spec if where == "pod" else _container(spec)
        *parents, leaf = path
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = copy.deepcopy(value)

    return mutate


def _drop(path, where="pod"):
    def mutate(spec):
        node = spec if where == "pod" else _container(spec)
        *parents, leaf = path
        for key in parents:
            node = node[key]
        node.pop(leaf, None)

    return mutate


def _volume(volume):
    def mutate(spec):
        spec["volumes"].append(copy.deepcopy(volume))

    return mutate


def _init_privileged(spec):
    init = copy.deepcopy(_container(spec))
    init["name"] = "init"
    init["securityContext"]["privileged"] = True
    spec["initContainers"] = [init]


def _non_root_on_container_only(spec):
    spec["securityContext"].pop("runAsNonRoot")
    _ctx(spec)["runAsNonRoot"] = True


# name -> (mutation of a pod spec, refused by restricted?)
CASES = {
    "host network": (_set(["hostNetwork"], True), True),
    "host PID": (_set(["hostPID"], True), True),
    "host IPC": (_set(["hostIPC"], True), True),
    "hostPath": (_volume({"name": "node", "hostPath": {"path": "/"}}), True),
    "nfs volume": (_volume({"name": "n", "nfs": {"server": "192.0.2.1", "path": "/"}}), True),
    "host port": (lambda spec: _container(spec)["ports"][0].update(hostPort=8080), True),
    "privileged": (_set(["securityContext", "privileged"], True, "container"), True),
    "privileged init container": (_init_privileged, True),
    "escalation allowed": (_set(["securityContext", "allowPrivilegeEscalation"], True, "container"), True),
    "escalation unset": (_drop(["securityContext", "allowPrivilegeEscalation"], "container"), True),
    "SYS_ADMIN added": (_set(["securityContext", "capabilities", "add"], ["SYS_ADMIN"], "container"), True),
    "NET_RAW added": (_set(["securityContext", "capabilities", "add"], ["NET_RAW"], "container"), True),
    "nothing dropped": (_drop(["securityContext", "capabilities", "drop"], "container"), True),
    "runAsNonRoot false": (_set(["securityContext", "runAsNonRoot"], False), True),
    "container runAsNonRoot false": (_set(["securityContext", "runAsNonRoot"], False, "container"), True),
    "pod UID 0": (_set(["securityContext", "runAsUser"], 0), True),
    "container UID 0": (_set(["securityContext", "runAsUser"], 0, "container"), True),
    "seccomp Unconfined": (_set(["securityContext", "seccompProfile"], {"type": "Unconfined"}), True),
    "container seccomp Unconfined": (
        _set(["securityContext", "seccompProfile"], {"type": "Unconfined"}, "container"),
        True,
    ),
    "seccomp unset": (_drop(["securityContext", "seccompProfile"]), True),
    "AppArmor Unconfined": (_set(["securityContext", "appArmorProfile"], {"type": "Unconfined"}), True),
    "container AppArmor Unconfined": (
        _set(["securityContext", "appArmorProfile"], {"type": "Unconfined"}, "container"),
        True,
    ),
    "SELinux spc_t": (_set(["securityContext", "seLinuxOptions"], {"type": "spc_t"}), True),
    "SELinux user": (_set(["securityContext", "seLinuxOptions"], {"user": "system_u"}, "container"), True),
    "unsafe sysctl": (_set(["securityContext", "sysctls"], [{"name": "kernel.msgmax", "value": "65536"}]), True),
    # allowed by the profile (an experiment still may not add them: the allowlist refuses those)
    "NET_BIND_SERVICE added": (
        _set(["securityContext", "capabilities", "add"], ["NET_BIND_SERVICE"], "container"),
        False,
    ),
    "seccomp Localhost": (
        _set(["securityContext", "seccompProfile"], {"type": "Localhost", "localhostProfile": "profiles/train.json"}),
        False,
    ),
    "AppArmor RuntimeDefault": (_set(["securityContext", "appArmorProfile"], {"type": "RuntimeDefault"}), False),
    "SELinux container_t": (
        _set(["securityContext", "seLinuxOptions"], {"type": "container_t", "level": "s0:c1,c2"}),
        False,
    ),
    "safe sysctl": (
        _set(["securityContext", "sysctls"], [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65000"}]),
        False,
    ),
    "procMount Default": (_set(["securityContext", "procMount"], "Default", "container"), False),
    "csi volume": (_volume({"name": "c", "csi": {"driver": "secrets-store.csi.k8s.io"}}), False),
    "projected token": (
        _volume({"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "t", "audience": "x"}}]}}),
        False,
    ),
    "non-root on the container only": (_non_root_on_container_only, False),
    "as shipped": (lambda spec: None, False),
}


# Pod validation refuses these together before admission (a host-network pod's hostPort must equal
# its containerPort), so they would say nothing about Pod Security.
INVALID_TOGETHER = {"host network", "host port"}


def combinations(count: int, seed: int = 20261203) -> dict[str, list[str]]:
    """Seeded random sets of two to four cases: Pod Security must refuse a set iff one of its
    cases is refused, and the static rules must say the same."""
    rng = random.Random(seed)
    names = sorted(CASES)
    found = {}
    while len(found) < count:
        chosen = sorted(rng.sample(names, rng.randint(2, 4)))
        if not INVALID_TOGETHER.issubset(chosen):
            found[" + ".join(chosen)] = chosen
    return found


def tfjob_with(base_job: dict, name: str, mutations: list) -> dict:
    job = copy.deepcopy(base_job)
    job["metadata"]["name"] = name
    spec = job["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]
    for mutate in mutations:
        mutate(spec)
    return job


def jobs(base_job: dict, count: int = 30) -> tuple[Rendered, dict[str, bool]]:
    """One render holding a TFJob per case and per combination; job name -> refused?"""
    documents, expected = [], {}
    for index, (_, (mutate, refused)) in enumerate(sorted(CASES.items())):
        documents.append(tfjob_with(base_job, f"case-{index}", [mutate]))
        expected[f"case-{index}"] = refused
    for index, chosen in enumerate(combinations(count).values()):
        documents.append(tfjob_with(base_job, f"combo-{index}", [CASES[c][0] for c in chosen]))
        expected[f"combo-{index}"] = any(CASES[c][1] for c in chosen)
    return Rendered("pod-security-cases", documents=documents), expected


def names() -> dict[str, str]:
    """Job name -> the case or combination it holds, for messages."""
    out = {f"case-{i}": n for i, n in enumerate(sorted(CASES))}
    out.update({f"combo-{i}": n for i, n in enumerate(combinations(30))})
    return out
