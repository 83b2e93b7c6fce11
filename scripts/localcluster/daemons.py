"""A running local cluster's identity (state directory, ports, PKI) and starting its daemons."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scripts.localcluster import processes
from scripts.localcluster.api import Api, wait_until
from scripts.localcluster.certs import Pki

PORT_NAMES = (
    "etcd",
    "etcd-peer",
    "apiserver",
    "controller-manager",
    "scheduler",
    "webhook",
    "operator-metrics",
    "operator-health",
    "kwok",
    "kubelet",  # the real node's (used only when it runs)
    "kubelet-healthz",
)


@dataclass(frozen=True)
class Cluster:
    state: Path
    ports: dict[str, int]
    pki: Pki
    ephemeral: bool = False  # a test's cluster: its daemons die with the process that started them

    @property
    def api(self) -> Api:
        return Api(self.ports["apiserver"], self.pki)

    @property
    def kubeconfig(self) -> Path:
        """The admin's: what users and tests run kubectl with."""
        return self.state / "kubeconfig"

    def kubeconfig_for(self, identity: str) -> Path:
        """A daemon's own (certs.CLIENT_IDENTITIES), so RBAC limits it as in a real cluster."""
        return self.kubeconfig if identity == "admin" else self.state / f"{identity}.kubeconfig"


def free_ports(names: tuple[str, ...]) -> dict[str, int]:
    sockets = []
    try:
        for _ in names:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return {name: s.getsockname()[1] for name, s in zip(names, sockets, strict=True)}
    finally:
        for s in sockets:
            s.close()


def log_tail(state: Path, name: str, lines: int = 15) -> str:
    path = processes.log_path(state, name)
    text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
    return f"last lines of {path}:\n" + "\n".join(text)


def step(message: str) -> None:
    print(f"cluster: {message}", flush=True)


def start(
    cluster: Cluster, name: str, command: list[str], env: dict | None = None, binary: str | None = None
) -> processes.Daemon:
    daemon = processes.start(cluster.state, name, command, env=env, die_with_parent=cluster.ephemeral, binary=binary)
    step(f"{name} started (pid {daemon.pid}, log {processes.log_path(cluster.state, name)})")
    return daemon


def wait_for_daemon(cluster: Cluster, daemon: processes.Daemon, ready: Callable[[], bool], timeout_s: float) -> None:
    """Poll `ready` until true; fail at once if the daemon dies, and show its log's tail either way."""

    def probe() -> bool:
        if not daemon.alive():
            raise RuntimeError(f"{daemon.name} exited\n{log_tail(cluster.state, daemon.name)}")
        return ready()

    wait_until(daemon.name, probe, timeout_s, lambda: log_tail(cluster.state, daemon.name))
