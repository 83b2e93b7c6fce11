"""kwok on the local cluster: the process and its two fake nodes."""

from __future__ import annotations

from scripts.localcluster import kwok_stages
from scripts.localcluster.daemons import Cluster, start, wait_for_daemon
from scripts.localcluster.pins import binary

NODES = {
    # name: (extra capacity, taints)
    "kwok-cpu": ({}, []),
    "kwok-gpu": ({"nvidia.com/gpu": "8"}, [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]),
}


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
    daemon = start(
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
        cluster.api.apply(node(name, extra, taints))

    def nodes_ready() -> bool:
        _, answer = cluster.api.get("/api/v1/nodes")
        ready = {
            item["metadata"]["name"]
            for item in answer.get("items", [])
            if any(c["type"] == "Ready" and c["status"] == "True" for c in item.get("status", {}).get("conditions", []))
        }
        return set(NODES) <= ready

    wait_for_daemon(cluster, daemon, nodes_ready, 60)
