"""Pinned versions of every local-cluster component, and where their binaries are cached."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GO_MODULES = ROOT / "cluster"  # the committed wrapper modules (go.mod + go.sum)
STATE = ROOT / ".cluster"  # the running cluster: certificates, data, logs, PIDs, kubeconfig
KUBECONFIG = STATE / "kubeconfig"

KUBERNETES = "v1.36.3"
ETCD = "v3.6.8"
TRAINING_OPERATOR = "v1.9.4"
KWOK = "v0.8.0"
ARGOCD = "v2.14.21"
# KServe's CRDs (InferenceService): the newest release the Go module proxy serves (v0.21.0: 403).
KSERVE = "v0.20.0"


@dataclass(frozen=True)
class Component:
    """One `go build` producing one or more binaries.

    `wrapper` names a directory under cluster/ holding a wrapper module, for modules whose own
    go.mod has replace directives (`go install` refuses those); otherwise `module@version` is
    installed directly.
    """

    name: str
    version: str
    packages: tuple[str, ...]
    binaries: tuple[str, ...]
    wrapper: str = ""
    module: str = ""
    ldflags: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}-{self.version}"


def _kubernetes_ldflags() -> tuple[str, ...]:
    # Without these the binaries report v0.0.0, and kubectl warns about version skew.
    major, minor = KUBERNETES.lstrip("v").split(".")[:2]
    flags = []
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {package}.gitVersion={KUBERNETES}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
        ]
    return tuple(flags)


COMPONENTS = {
    "kubernetes": Component(
        "kubernetes",
        KUBERNETES,
        packages=tuple(
            f"k8s.io/kubernetes/cmd/{name}"
            for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet")
        ),
        binaries=("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet"),
        wrapper="kubernetes",
        ldflags=_kubernetes_ldflags(),
    ),
    "etcd": Component("etcd", ETCD, ("go.etcd.io/etcd/server/v3",), ("etcd",), wrapper="etcd"),
    "training-operator": Component(
        "training-operator",
        TRAINING_OPERATOR,
        ("github.com/kubeflow/training-operator/cmd/training-operator.v1",),
        ("training-operator.v1",),
        module="github.com/kubeflow/training-operator",
    ),
    "kwok": Component("kwok", KWOK, ("sigs.k8s.io/kwok/cmd/kwok",), ("kwok",), module="sigs.k8s.io/kwok"),
    "argocd": Component("argocd", ARGOCD, ("github.com/argoproj/argo-cd/v2/cmd",), ("argocd",), wrapper="argocd"),
}
# What `make cluster-up` needs; the Argo CD CLI is built only by `make argocd-health`.
CLUSTER_COMPONENTS = ("etcd", "kubernetes", "training-operator", "kwok")


def cache_dir() -> Path:
    """Built binaries, shared by every checkout on the machine (TEXTJOBS_CACHE overrides)."""
    base = os.environ.get("TEXTJOBS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "textjobs"
    )
    return Path(base) / "cluster"


def component_dir(component: Component) -> Path:
    return cache_dir() / component.key


def binary(name: str) -> Path:
    for component in COMPONENTS.values():
        if name in component.binaries:
            return component_dir(component) / name
    raise KeyError(name)
