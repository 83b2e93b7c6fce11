"""Which kubectl and which cluster the project's commands talk to.

kubectl: the one on PATH, else the one built with the local cluster. Cluster: $KUBECONFIG when
set; else the local cluster while `make cluster-up` has it running (.cluster/kubeconfig); else
kubectl's own default context.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from scripts.localcluster import control_plane
from scripts.localcluster.pins import STATE, binary


class ClusterUnavailable(RuntimeError):
    pass


def select_kubeconfig(environ: dict[str, str] | None = None) -> str | None:
    """The kubeconfig to use, or None for kubectl's default. An explicit KUBECONFIG always wins."""
    environ = os.environ if environ is None else environ
    if environ.get("KUBECONFIG"):
        return environ["KUBECONFIG"]
    local = control_plane.load(STATE)
    if local is not None and control_plane.is_up(local):
        return str(local.kubeconfig)
    return None


def kubectl() -> str:
    """A kubectl that reaches a cluster, with KUBECONFIG set for it; raises ClusterUnavailable."""
    path = shutil.which("kubectl") or (str(binary("kubectl")) if binary("kubectl").is_file() else None)
    if path is None:
        raise ClusterUnavailable(
            "kubectl is not installed (`make cluster-up` builds one); `make build` prints the manifests without a cluster"
        )
    kubeconfig = select_kubeconfig()
    if kubeconfig is not None:
        os.environ["KUBECONFIG"] = kubeconfig
    probe = subprocess.run([path, "version", "--request-timeout=5s", "-o", "json"], capture_output=True, text=True)
    if probe.returncode != 0 or "serverVersion" not in probe.stdout:
        context = subprocess.run([path, "config", "current-context"], capture_output=True, text=True).stdout.strip()
        raise ClusterUnavailable(
            f"no reachable cluster (kubectl context {context or 'unset'!r}); `make cluster-up` starts a local one"
        )
    return path


def describe() -> str:
    return os.environ.get("KUBECONFIG") or "kubectl's current context"
