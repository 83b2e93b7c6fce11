"""Bring the local cluster up, report on it, and take it down.

Order matters: etcd, then kube-apiserver; the controller-manager (default ServiceAccounts, garbage
collection of a deleted TFJob's pods) and the scheduler (binds pods to kwok's nodes); the TFJob CRD
and the operator's webhook plumbing; the Training Operator; kwok and its two nodes; finally the
project's own namespace (argocd/namespace.yaml, Pod Security `restricted`), so `make apply` works
at once.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from scripts.localcluster import kwok_stages, processes
from scripts.localcluster.api import Api, wait_until
from scripts.localcluster.build import build_all, module_download
from scripts.localcluster.certs import WEBHOOK_CERT_DIR, Pki, ensure_operator_pki, ensure_pki
from scripts.localcluster.pins import ROOT, STATE, TRAINING_OPERATOR, binary, cache_dir

CONTEXT = "textjobs-local"
OPERATOR_NAMESPACE = "kubeflow"
WEBHOOK_CONFIGURATION = "validator.training-operator.kubeflow.org"  # the name the operator patches
NODES = {
    # name: (extra capacity, taints)
    "kwok-cpu": ({}, []),
    "kwok-gpu": ({"nvidia.com/gpu": "8"}, [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]),
}
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
        return self.state / "kubeconfig"


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


def _start(cluster: Cluster, name: str, command: list[str], env: dict | None = None) -> processes.Daemon:
    daemon = processes.start(cluster.state, name, command, env=env, die_with_parent=cluster.ephemeral)
    step(f"{name} started (pid {daemon.pid}, log .cluster/logs/{name}.log)")
    return daemon


def _alive_check(cluster: Cluster, daemon: processes.Daemon, check):
    """Fail fast when the daemon died instead of waiting out the timeout."""

    def probe() -> bool:
        if not daemon.alive():
            raise RuntimeError(f"{daemon.name} exited\n{log_tail(cluster.state, daemon.name)}")
        return check()

    return probe


def start_etcd(cluster: Cluster) -> None:
    client, peer = cluster.ports["etcd"], cluster.ports["etcd-peer"]
    daemon = _start(
        cluster,
        "etcd",
        [
            str(binary("etcd")),
            "--name=local",
            f"--data-dir={cluster.state / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{client}",
            f"--advertise-client-urls=http://127.0.0.1:{client}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=local=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync",  # a throw-away test cluster: durability buys nothing, fsync costs seconds
            "--log-level=warn",
        ],
    )

    def healthy() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=2) as answer:
            return json.loads(answer.read()).get("health") == "true"

    wait_until("etcd", _alive_check(cluster, daemon, healthy), 60, lambda: log_tail(cluster.state, "etcd"))


def start_apiserver(cluster: Cluster) -> None:
    pki = cluster.pki
    daemon = _start(
        cluster,
        "kube-apiserver",
        [
            str(binary("kube-apiserver")),
            f"--etcd-servers=http://127.0.0.1:{cluster.ports['etcd']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={cluster.ports['apiserver']}",
            f"--tls-cert-file={pki.pair('apiserver').cert}",
            f"--tls-private-key-file={pki.pair('apiserver').key}",
            f"--client-ca-file={pki.pair('ca').cert}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            "--service-cluster-ip-range=10.96.0.0/16",
            "--authorization-mode=RBAC",
            f"--cert-dir={cluster.state / 'apiserver'}",
        ],
    )
    wait_until(
        "kube-apiserver",
        _alive_check(cluster, daemon, lambda: cluster.api.get("/readyz")[0] == 200),
        120,
        lambda: log_tail(cluster.state, "kube-apiserver"),
    )


def write_kubeconfig(cluster: Cluster) -> None:
    admin = cluster.pki.pair("admin")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {
                    "server": f"https://127.0.0.1:{cluster.ports['apiserver']}",
                    "certificate-authority": str(cluster.pki.pair("ca").cert),
                },
            }
        ],
        "users": [{"name": "admin", "user": {"client-certificate": str(admin.cert), "client-key": str(admin.key)}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": "admin", "namespace": "textjobs"}}],
        "current-context": CONTEXT,
    }
    cluster.kubeconfig.write_text(yaml.safe_dump(config, sort_keys=False))
    cluster.kubeconfig.chmod(0o600)


def start_controllers(cluster: Cluster) -> None:
    kubeconfig = str(cluster.kubeconfig)
    _start(
        cluster,
        "kube-controller-manager",
        [
            str(binary("kube-controller-manager")),
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={cluster.ports['controller-manager']}",
            f"--service-account-private-key-file={cluster.pki.service_account_key}",
            f"--root-ca-file={cluster.pki.pair('ca').cert}",
            "--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle",
        ],
    )
    _start(
        cluster,
        "kube-scheduler",
        [
            str(binary("kube-scheduler")),
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={cluster.ports['scheduler']}",
        ],
    )


def operator_manifests_dir() -> Path:
    return (
        Path(module_download("github.com/kubeflow/training-operator", TRAINING_OPERATOR)["Dir"]) / "manifests" / "base"
    )


def install_operator_resources(cluster: Cluster) -> None:
    """TFJob CRD (server-side: too big for client-side apply), the webhook Secret and registration."""
    api = cluster.api
    crd = yaml.safe_load((operator_manifests_dir() / "crds" / "kubeflow.org_tfjobs.yaml").read_text())
    api.apply(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}", crd)
    api.apply(
        f"/api/v1/namespaces/{OPERATOR_NAMESPACE}",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}},
    )
    operator_pki = ensure_operator_pki()
    pair, ca = operator_pki.pair("operator-webhook"), operator_pki.pair("operator-ca")

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    api.apply(
        f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/secrets/training-operator-webhook-cert",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "training-operator-webhook-cert", "namespace": OPERATOR_NAMESPACE},
            "data": {
                "ca.crt": b64(ca.cert),
                "ca.key": b64(ca.key),
                "tls.crt": b64(pair.cert),
                "tls.key": b64(pair.key),
            },
        },
    )
    # In a pod the kubelet mounts the Secret at this fixed path; the operator waits for the files.
    WEBHOOK_CERT_DIR.mkdir(parents=True, exist_ok=True)
    for source, name in ((pair.cert, "tls.crt"), (pair.key, "tls.key"), (ca.cert, "ca.crt")):
        target = WEBHOOK_CERT_DIR / name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            staged = target.with_name(f".{name}.{os.getpid()}")
            staged.write_bytes(source.read_bytes())
            staged.chmod(0o600)
            staged.replace(target)
    # No kube-proxy here, so the API server reaches the webhook by URL rather than through a Service.
    api.apply(
        f"/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/{WEBHOOK_CONFIGURATION}",
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": WEBHOOK_CONFIGURATION},
            "webhooks": [
                {
                    "name": "validator.tfjob.training-operator.kubeflow.org",
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                    "failurePolicy": "Fail",
                    "clientConfig": {
                        "url": f"https://127.0.0.1:{cluster.ports['webhook']}/validate-kubeflow-org-v1-tfjob",
                        "caBundle": b64(ca.cert),
                    },
                    "rules": [
                        {
                            "apiGroups": ["kubeflow.org"],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["tfjobs"],
                        }
                    ],
                }
            ],
        },
    )
    wait_until("TFJob CRD", lambda: cluster.api.get("/apis/kubeflow.org/v1/tfjobs")[0] == 200, 60)


def start_operator(cluster: Cluster) -> None:
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig), MY_POD_NAMESPACE=OPERATOR_NAMESPACE)
    daemon = _start(
        cluster,
        "training-operator",
        [
            str(binary("training-operator.v1")),
            "--enable-scheme=tfjob",
            f"--webhook-server-port={cluster.ports['webhook']}",
            f"--metrics-bind-address=127.0.0.1:{cluster.ports['operator-metrics']}",
            f"--health-probe-bind-address=127.0.0.1:{cluster.ports['operator-health']}",
        ],
        env=env,
    )

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{cluster.ports['operator-health']}/readyz", timeout=2) as answer:
            return answer.status == 200

    wait_until(
        "training-operator",
        _alive_check(cluster, daemon, ready),
        120,
        lambda: log_tail(cluster.state, "training-operator"),
    )


def node(name: str, extra: dict, taints: list) -> dict:
    capacity = {"cpu": "64", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti", **extra}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "spec": {"taints": taints},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def start_kwok(cluster: Cluster) -> None:
    stages = kwok_stages.write(kwok_stages.kwok_module_dir(), cluster.state / "kwok-stages.yaml")
    daemon = _start(
        cluster,
        "kwok",
        [
            str(binary("kwok")),
            f"--kubeconfig={cluster.kubeconfig}",
            f"--config={stages}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--server-address=127.0.0.1:{cluster.ports['kwok']}",
            "--node-ip=127.0.0.1",
            "--node-lease-duration-seconds=40",
            "--cidr=10.244.0.0/16",
        ],
    )
    for name, (extra, taints) in NODES.items():
        cluster.api.apply(f"/api/v1/nodes/{name}", node(name, extra, taints))

    def nodes_ready() -> bool:
        _, answer = cluster.api.get("/api/v1/nodes")
        ready = {
            item["metadata"]["name"]
            for item in answer.get("items", [])
            if any(c["type"] == "Ready" and c["status"] == "True" for c in item.get("status", {}).get("conditions", []))
        }
        return set(NODES) <= ready

    wait_until("kwok nodes", _alive_check(cluster, daemon, nodes_ready), 60, lambda: log_tail(cluster.state, "kwok"))


def apply_project_namespace(cluster: Cluster) -> None:
    namespace = yaml.safe_load((ROOT / "argocd" / "namespace.yaml").read_text())
    cluster.api.apply(f"/api/v1/namespaces/{namespace['metadata']['name']}", namespace)

    def default_service_account() -> bool:
        return cluster.api.get(f"/api/v1/namespaces/{namespace['metadata']['name']}/serviceaccounts/default")[0] == 200

    wait_until(
        "default ServiceAccount",
        default_service_account,
        60,
        lambda: log_tail(cluster.state, "kube-controller-manager"),
    )


def load(state: Path = STATE) -> Cluster | None:
    try:
        ports = json.loads((state / "ports.json").read_text())
    except (OSError, ValueError):
        return None
    return Cluster(state, ports, Pki(cache_dir() / "pki"))


def is_up(cluster: Cluster | None) -> bool:
    if cluster is None:
        return False
    daemons = processes.recorded(cluster.state)
    if not daemons or not all(d.alive() for d in daemons):
        return False
    try:
        return cluster.api.get("/readyz")[0] == 200
    except OSError:
        return False


def up(state: Path = STATE, ephemeral: bool = False) -> Cluster:
    """Start the cluster (building first if needed). `ephemeral`: for tests, whose daemons must not
    outlive a test process that is killed before it can run `down`."""
    existing = load(state)
    if is_up(existing):
        step(f"already up; KUBECONFIG={existing.kubeconfig}")
        return existing
    if existing is not None:
        down(state)
    build_all()
    started = time.monotonic()
    state.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(state, free_ports(PORT_NAMES), ensure_pki(cache_dir() / "pki"), ephemeral)
    (state / "ports.json").write_text(json.dumps(cluster.ports, indent=1))
    try:
        start_etcd(cluster)
        start_apiserver(cluster)
        write_kubeconfig(cluster)
        start_controllers(cluster)
        install_operator_resources(cluster)
        start_operator(cluster)
        start_kwok(cluster)
        apply_project_namespace(cluster)
    except BaseException:
        step("start failed; stopping what was started (logs kept in .cluster/logs)")
        down(state, keep_logs=True)
        raise
    step(f"up in {time.monotonic() - started:.1f}s; KUBECONFIG={cluster.kubeconfig}")
    return cluster


def down(state: Path = STATE, keep_logs: bool = False) -> None:
    """Stop every daemon this checkout's cluster started (newest first) and remove its state."""
    for daemon in reversed(processes.recorded(state)):
        step(f"{daemon.name} (pid {daemon.pid}): {processes.stop(state, daemon)}")
    if not state.exists():
        return
    for child in state.iterdir():
        if keep_logs and child.name == "logs":
            continue
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    if not keep_logs:
        state.rmdir()
