"""Bring the local cluster up, report on it, and take it down.

Order matters: etcd, then kube-apiserver; the controller-manager (default ServiceAccounts, garbage
collection of a deleted TFJob's pods) and the scheduler (binds pods to kwok's nodes); the TFJob CRD
and the operator's webhook plumbing; the Training Operator; kwok and its two nodes; KServe's CRDs (serving/ manifests); finally the
project's own namespace (argocd/namespace.yaml, Pod Security `restricted`), so `make apply` works
at once.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import yaml

from scripts.localcluster import processes
from scripts.localcluster import real_node as real_node_module
from scripts.localcluster.api import wait_until
from scripts.localcluster.build import build_all
from scripts.localcluster.certs import CLIENT_IDENTITIES, Pki, ensure_pki
from scripts.localcluster.daemons import PORT_NAMES, Cluster, free_ports, log_tail, start, step, wait_for_daemon
from scripts.localcluster.kserve import install_crds as install_kserve_crds
from scripts.localcluster.kwok_nodes import start_kwok
from scripts.localcluster.pins import ROOT, STATE, binary, cache_dir
from scripts.localcluster.training_operator import install_operator_resources, start_operator

CONTEXT = "textjobs-local"


def start_etcd(cluster: Cluster) -> None:
    client, peer = cluster.ports["etcd"], cluster.ports["etcd-peer"]
    daemon = start(
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

    wait_for_daemon(cluster, daemon, healthy, 60)


def kubelet_client_flags(pki: Pki) -> list[str]:
    """The API server calls a real kubelet (logs, exec) as itself and checks the kubelet's certificate."""
    client = pki.pair("apiserver-kubelet-client")
    return [
        f"--kubelet-client-certificate={client.cert}",
        f"--kubelet-client-key={client.key}",
        f"--kubelet-certificate-authority={pki.pair('ca').cert}",
    ]


def start_apiserver(cluster: Cluster, real_node: bool = False) -> None:
    pki = cluster.pki
    daemon = start(
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
            # As in production: kubelets are limited to their own node's objects.
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            f"--cert-dir={cluster.state / 'apiserver'}",
            *(kubelet_client_flags(pki) if real_node else []),
        ],
    )
    wait_for_daemon(cluster, daemon, lambda: cluster.api.get("/readyz")[0] == 200, 120)


def write_kubeconfigs(cluster: Cluster) -> None:
    for identity in CLIENT_IDENTITIES:
        write_kubeconfig(cluster, identity)


def write_kubeconfig(cluster: Cluster, identity: str) -> None:
    pair = cluster.pki.pair(identity)
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
        "users": [{"name": identity, "user": {"client-certificate": str(pair.cert), "client-key": str(pair.key)}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": identity, "namespace": "textjobs"}}],
        "current-context": CONTEXT,
    }
    path = cluster.kubeconfig_for(identity)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


def start_controllers(cluster: Cluster) -> None:
    start(
        cluster,
        "kube-controller-manager",
        [
            str(binary("kube-controller-manager")),
            f"--kubeconfig={cluster.kubeconfig_for('controller-manager')}",
            # Each controller acts as its own ServiceAccount under its bootstrap role, as kubeadm does.
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={cluster.ports['controller-manager']}",
            f"--service-account-private-key-file={cluster.pki.service_account_key}",
            f"--root-ca-file={cluster.pki.pair('ca').cert}",
            "--controllers=*,-nodeipam,-service-lb-controller,-cloud-node-lifecycle",
        ],
    )
    start(
        cluster,
        "kube-scheduler",
        [
            str(binary("kube-scheduler")),
            f"--kubeconfig={cluster.kubeconfig_for('scheduler')}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={cluster.ports['scheduler']}",
        ],
    )


def apply_project_namespace(cluster: Cluster) -> None:
    namespace = yaml.safe_load((ROOT / "argocd" / "namespace.yaml").read_text())
    cluster.api.apply(namespace)

    def default_service_account() -> bool:
        return cluster.api.get(f"/api/v1/namespaces/{namespace['metadata']['name']}/serviceaccounts/default")[0] == 200

    wait_until(
        "default ServiceAccount",
        default_service_account,
        60,
        lambda: log_tail(cluster.state, "kube-controller-manager"),
    )


def pki_dir() -> Path:
    return cache_dir() / "pki"


def load(state: Path = STATE) -> Cluster | None:
    try:
        ports = json.loads((state / "ports.json").read_text())
    except (OSError, ValueError):
        return None
    return Cluster(state, ports, Pki(pki_dir()))


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


def up(state: Path = STATE, ephemeral: bool = False, real_node: bool = False, build: bool = True) -> Cluster:
    """Start the cluster (building first if needed). `ephemeral`: for tests, whose daemons must not
    outlive a test process that is killed before it can run `down`. `real_node`: add the kubelet
    node that runs pods in containers (real_node.py; needs root). `build` False: fail rather than
    start a build of minutes (the binaries, the image's base layer)."""
    existing = load(state)
    if is_up(existing):
        if real_node and real_node_module.load(state) is None:
            raise RuntimeError("the cluster is up without the real node; `make cluster-down` first")
        step(f"already up; KUBECONFIG={existing.kubeconfig}")
        return existing
    if existing is not None:
        down(state)
    if build:
        build_all()
    node_parts = real_node_module.prepare(build) if real_node else None
    started = time.monotonic()
    state.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(state, free_ports(PORT_NAMES), ensure_pki(pki_dir()), ephemeral)
    (state / "ports.json").write_text(json.dumps(cluster.ports, indent=1))
    try:
        start_etcd(cluster)
        start_apiserver(cluster, real_node)
        write_kubeconfigs(cluster)
        start_controllers(cluster)
        install_operator_resources(cluster)
        start_operator(cluster)
        start_kwok(cluster)
        install_kserve_crds(cluster)
        apply_project_namespace(cluster)
        if node_parts is not None:
            real_node_module.up(cluster, *node_parts)
    except BaseException:
        step("start failed; stopping what was started (logs kept in .cluster/logs)")
        down(state, keep_logs=True)
        raise
    step(f"up in {time.monotonic() - started:.1f}s; KUBECONFIG={cluster.kubeconfig}")
    return cluster


def down(state: Path = STATE, keep_logs: bool = False) -> None:
    """Stop every daemon this checkout's cluster started (newest first) and remove its state.
    A real node goes first, while the API server can still drain it."""
    cluster = load(state)
    if cluster is not None:
        daemons = {daemon.name: daemon for daemon in processes.recorded(state)}
        real_node_module.down(cluster, daemons)
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
