"""The real node's kubelet: configuration, identity, and the process (in the node's namespace).

It authenticates as `system:node:127.0.0.1` (group system:nodes), so the API server's Node
authorizer and NodeRestriction admission limit it as on a production node (only the Secrets and
ConfigMaps of pods bound to it, only its own Node object). Its own API (logs, exec) takes client
certificates from the cluster CA and asks the API server (webhook) whether the caller may; the API
server calls it as `kube-apiserver-kubelet-client`, bound to the bootstrap role
system:kubelet-api-admin, and checks the kubelet's serving certificate against the cluster CA.

Settings, each answering an error met on this machine kind (Kubernetes 1.36, a Firecracker VM):
- failCgroupV1: false: the machine has cgroup v1 (a hybrid layout), which 1.36 refuses by default.
- maxOpenFiles 20000 and oomScoreAdj 0: the hard open-files limit is 20000 and no process may raise
  it or lower its OOM score (no CAP_SYS_RESOURCE); the defaults (1000000, -999) fail.
- node name 127.0.0.1 via --hostname-override: --node-ip=127.0.0.1 is refused (loopback), but a
  hostname override that is an IP becomes the node's address, so the API server reaches the
  kubelet on 127.0.0.1.
- makeIPTablesUtilChains: false: the kubelet would otherwise add KUBE-* chains to the machine's
  iptables; hairpinMode none, resolvConf "" (pods get no DNS: nothing to resolve on a
  loopback-only node, and nothing of the machine's leaks in).
- cgroupRoot /textjobs-nodeN: pods go under the node's own cgroup tree (node_cgroups.py).
- registerWithTaints: the node takes only pods that tolerate textjobs.dev/real-node (node_policy.py
  adds the toleration to TFJob pods of a real-node cluster).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from scripts.localcluster import processes
from scripts.localcluster.api import wait_until
from scripts.localcluster.containerd import SOCKET, node_dir
from scripts.localcluster.daemons import Cluster, log_tail, start
from scripts.localcluster.node_cgroups import join_lines
from scripts.localcluster.node_network import Slot
from scripts.localcluster.pins import binary

NODE_NAME = "127.0.0.1"
TAINT = {"key": "textjobs.dev/real-node", "value": "true", "effect": "NoSchedule"}


def config(cluster: Cluster, slot: Slot) -> dict:
    node, pki = node_dir(cluster), cluster.pki
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{slot.cgroup}",
        "containerRuntimeEndpoint": f"unix://{SOCKET}",
        "address": "127.0.0.1",
        "port": cluster.ports["kubelet"],
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": cluster.ports["kubelet-healthz"],
        "tlsCertFile": str(pki.pair("kubelet-serving").cert),
        "tlsPrivateKeyFile": str(pki.pair("kubelet-serving").key),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki.pair("ca").cert)},
        },
        "authorization": {"mode": "Webhook"},
        "maxOpenFiles": 20000,
        "oomScoreAdj": 0,
        "makeIPTablesUtilChains": False,
        "hairpinMode": "none",
        "resolvConf": "",
        "failSwapOn": False,
        "podLogsDir": str(node / "pod-logs"),
        "registerWithTaints": [TAINT],
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "serializeImagePulls": True,
        "runtimeRequestTimeout": "10m",
        # Only room on disk matters here; the memory threshold is kept low so a busy 2-core,
        # few-GB machine does not evict the one training pod it runs.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "3%", "imagefs.available": "3%"},
        "imageGCHighThresholdPercent": 97,
        "imageGCLowThresholdPercent": 95,
    }


def start_kubelet(cluster: Cluster, slot: Slot, containerd: processes.Daemon) -> processes.Daemon:
    node = node_dir(cluster)
    (node / "kubelet").mkdir(parents=True, exist_ok=True)
    (node / "pod-logs").mkdir(exist_ok=True)
    path = node / "kubelet.yaml"
    path.write_text(yaml.safe_dump(config(cluster, slot), sort_keys=False))
    kubelet = str(binary("kubelet"))
    script = "\n".join(
        [
            "set -eu",
            *join_lines(slot.cgroup),
            "exec "
            + shlex.join(
                [
                    kubelet,
                    f"--config={path}",
                    f"--kubeconfig={cluster.kubeconfig_for('kubelet')}",
                    f"--hostname-override={NODE_NAME}",
                    f"--root-dir={node / 'kubelet'}",
                    "--v=1",
                ]
            ),
        ]
    )
    # The kubelet joins containerd's mount namespace: the volumes it mounts for pods must be where
    # containerd and runc look, and its writes under /proc/sys land on the shadow files.
    daemon = start(
        cluster,
        "kubelet",
        ["nsenter", f"--mount=/proc/{containerd.pid}/ns/mnt", "--", "sh", "-c", script],
        binary=kubelet,
    )
    return daemon


def wait_ready(cluster: Cluster, daemon: processes.Daemon, timeout_s: float = 180) -> None:
    def ready() -> bool:
        if not daemon.running_binary(0.5):
            raise RuntimeError(f"kubelet exited\n{log_tail(cluster.state, 'kubelet', 30)}")
        status, node = cluster.api.get(f"/api/v1/nodes/{NODE_NAME}")
        if status != 200 or not isinstance(node, dict):
            return False
        conditions = node.get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    wait_until(f"node {NODE_NAME}", ready, timeout_s, lambda: log_tail(cluster.state, "kubelet", 30))


def kubelet_client_binding() -> dict:
    """The API server's calls to the kubelet (logs, exec) under the bootstrap role made for them."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "textjobs:kube-apiserver-kubelet-client"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:kubelet-api-admin"},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kube-apiserver-kubelet-client"}
        ],
    }


def root_dir(cluster: Cluster) -> Path:
    return node_dir(cluster) / "kubelet"
