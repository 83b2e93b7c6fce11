"""A real node for the local cluster (`make cluster-up REAL_NODE=1`): pods run in containers.

Beside kwok's fake nodes, node "127.0.0.1" is a real kubelet (built with the control plane) over
Debian's containerd and runc, with the trainer image built here (scripts/image/local.py) and a
bucket emulator on the pod bridge. Starting it: claim a slot (bridge, subnet, cgroup tree), start
containerd in the node's own mount namespace, import the pause and trainer images, start the
bucket emulator, give the cluster the kubelet's RBAC, the experiments' Secret and the admission
policy, then start the kubelet and wait for the node to be Ready.

Taking it down leaves the machine as it was: the node is cordoned and its pods deleted (the
trainer gets its SIGTERM and grace period), the kubelet and containerd stop, any process left in
the node's cgroup tree is killed (shims, containers), which ends the mount namespace and with it
every mount the node made; then the cgroups and the bridge are removed and the slot released.
`leftovers()` lists anything that survived, and `down` fails loudly if something did.

Needs root (containerd, the kubelet, mounts, cgroups); multi-worker jobs need pod-to-pod DNS,
which this node does not provide (see the README).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from scripts.image import local
from scripts.image.local import LocalImage
from scripts.image.oci import Layer, write_archive
from scripts.localcluster import (
    containerd,
    kubelet,
    node_cgroups,
    node_network,
    node_packages,
    pause_image,
    processes,
)
from scripts.localcluster.api import wait_until
from scripts.localcluster.daemons import Cluster, step
from scripts.localcluster.node_bucket import start_bucket
from scripts.localcluster.node_network import Slot
from scripts.localcluster.node_policy import binding, policy

NODE_FILE = "node.json"
GCS_SECRET = "user-gcp-sa"  # components/gcs-key mounts it; against the emulator its content is never read
DRAIN_TIMEOUT_S = 90


@dataclass(frozen=True)
class NodeRecord:
    slot: Slot
    emulator: str
    image: str
    image_digest: str
    namespace: str  # `mnt:[inode]` of the node's mount namespace


def record_path(state: Path) -> Path:
    return state / "node" / NODE_FILE


def load(state: Path) -> NodeRecord | None:
    try:
        data = json.loads(record_path(state).read_text())
        return NodeRecord(**{**data, "slot": Slot(**data["slot"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def check_root() -> None:
    if os.geteuid() != 0:
        raise RuntimeError(
            "the real node needs root (containerd, the kubelet, mounts and cgroups); run as root, "
            "or start the kwok-only cluster (`make cluster-up` without REAL_NODE=1)"
        )


def prepare(build: bool = True) -> tuple[LocalImage, tuple[str, Layer]]:
    """What the node needs before it starts: Debian packages, the pause image, the trainer image.
    With `build` False, only the seconds-long parts are made (the image's code layer); a missing
    package or base layer raises instead (tests skip on that)."""
    check_root()
    node_packages.ensure(install=build)
    pause = pause_image.image()
    return local.ensure(build_base=build), pause


def up(cluster: Cluster, image: LocalImage, pause: tuple[str, Layer]) -> NodeRecord:
    check_root()
    pause_name, pause_layer = pause
    (cluster.state / "node").mkdir(parents=True, exist_ok=True)
    with node_network.machine_lock():
        node_network.reap_stale(step)
        slot = node_network.claim(cluster.state)
        (cluster.state / "node" / "slot.json").write_text(json.dumps(asdict(slot)))
        step(f"real node: slot {slot.number}: bridge {slot.bridge}, pods on {slot.subnet}, cgroup /{slot.cgroup}")
        node_cgroups.create(slot.cgroup)
        node_network.create_bridge(slot)
        (cluster.state / "node" / "cni").mkdir(parents=True, exist_ok=True)
        (cluster.state / "node" / "cni" / "10-textjobs.conflist").write_text(
            json.dumps(node_network.cni_config(slot, cluster.state / "node" / "cni-ipam"), indent=1)
        )
        runtime = containerd.start_containerd(cluster, slot, pause_name)
    seconds = containerd.import_image(
        runtime, pause_name, lambda out: write_archive(out, pause_name, [pause_layer], pause_image.RUNTIME)
    )
    step(f"real node: imported {pause_name} ({seconds:.1f}s)")
    seconds = containerd.import_image(runtime, image.name, image.write_archive)
    step(f"real node: imported {image.name} {image.digest[:19]} ({seconds:.0f}s)")
    emulator = start_bucket(cluster, slot)
    step(f"real node: bucket emulator at {emulator}")
    api = cluster.api
    api.apply(kubelet.kubelet_client_binding())
    api.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": GCS_SECRET, "namespace": "textjobs"},
            "stringData": {"key.json": '{"note": "local cluster: the bucket is an emulator, this key is never read"}'},
        }
    )
    api.apply(policy(image.name, emulator))
    api.apply(binding())
    record = NodeRecord(slot, emulator, image.name, image.digest, containerd.namespace_inode(runtime))
    record_path(cluster.state).write_text(json.dumps(asdict(record), indent=1))
    daemon = kubelet.start_kubelet(cluster, slot, runtime)
    kubelet.wait_ready(cluster, daemon)
    step(f"real node: {kubelet.NODE_NAME} Ready (tainted {kubelet.TAINT['key']}; TFJob pods go there)")
    return record


def _drain(cluster: Cluster) -> None:
    """Cordon the node (pods the operator recreates stay Pending), delete its pods, wait for the kubelet."""
    api = cluster.api
    path = f"/api/v1/nodes/{kubelet.NODE_NAME}"
    api.request("PATCH", path, {"spec": {"unschedulable": True}}, "application/merge-patch+json")
    _, pods = api.get(f"/api/v1/pods?fieldSelector=spec.nodeName={kubelet.NODE_NAME}")
    items = pods.get("items", []) if isinstance(pods, dict) else []
    running = [p for p in items if p.get("status", {}).get("phase") == "Running"]
    step(f"real node: cordoned; deleting {len(items)} pod(s), {len(running)} running (each gets its grace period)")
    for pod in items:
        meta = pod["metadata"]
        api.request("DELETE", f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}")

    def drained() -> bool:
        _, left = api.get(f"/api/v1/pods?fieldSelector=spec.nodeName={kubelet.NODE_NAME}")
        return isinstance(left, dict) and not left.get("items")

    wait_until("pods on the real node to end", drained, DRAIN_TIMEOUT_S)


def down(cluster: Cluster, daemons: dict[str, processes.Daemon]) -> None:
    """Take the node down (see the module's docstring); `daemons` are the cluster's recorded ones."""
    slot_file = cluster.state / "node" / "slot.json"
    if not slot_file.exists():
        return
    slot = Slot(**json.loads(slot_file.read_text()))
    if "kubelet" in daemons and daemons["kubelet"].alive():
        try:
            _drain(cluster)
        except (OSError, RuntimeError) as exc:  # the API server may be gone: the cgroup sweep still ends the pods
            step(f"real node: drain incomplete ({str(exc).splitlines()[0]}); killing what is left")
    for name in ("kubelet", "containerd", "bucket-emulator"):
        if name in daemons:
            step(f"{name} (pid {daemons[name].pid}): {processes.stop(cluster.state, daemons[name])}")
    killed = node_cgroups.kill_all(slot.cgroup)
    if killed:
        step(f"real node: killed {killed} process(es) left in /{slot.cgroup} (shims, containers)")
    _wait_namespace_gone(cluster.state)
    node_cgroups.remove(slot.cgroup)
    _wait_bridge_empty(slot)
    node_network.delete_bridge(slot.bridge)
    with node_network.machine_lock():
        node_network.release(slot)
    slot_file.unlink()
    problems = leftovers(cluster.state, slot)
    if problems:
        raise RuntimeError("real node: left behind after down:\n  " + "\n  ".join(problems))
    step(f"real node: down; slot {slot.number} released, nothing left behind")


def _wait_namespace_gone(state: Path, timeout_s: float = 30) -> None:
    record = load(state)
    if record is None:
        return
    deadline = time.monotonic() + timeout_s
    while namespace_holders(record.namespace) and time.monotonic() < deadline:
        time.sleep(0.1)


def _wait_bridge_empty(slot: Slot, timeout_s: float = 30) -> None:
    """A pod's veth goes when the kernel frees its network namespace, a moment after its last process."""
    deadline = time.monotonic() + timeout_s
    while node_network.bridge_ports(slot.bridge) and time.monotonic() < deadline:
        time.sleep(0.1)


def namespace_holders(namespace: str) -> list[int]:
    holders = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "mnt") == namespace:
                    holders.append(int(entry.name))
            except OSError:
                continue
    return holders


def host_mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` in this (the machine's) mount namespace."""
    prefix = str(path.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        target = line.split()[4]
        if target == prefix or target.startswith(prefix + "/"):
            found.append(target)
    return found


def leftovers(state: Path, slot: Slot) -> list[str]:
    """Everything of this node still on the machine (empty after a clean `down`)."""
    problems = []
    if pids := node_cgroups.processes(slot.cgroup):
        problems.append(f"processes in cgroup /{slot.cgroup}: {sorted(pids)}")
    if directories := node_cgroups.exists(slot.cgroup):
        problems.append(f"cgroup directories: {[str(d) for d in directories]}")
    if node_network.bridge_exists(slot.bridge):
        problems.append(f"bridge {slot.bridge} (ports {node_network.bridge_ports(slot.bridge)})")
    record = load(state)
    if record is not None and (holders := namespace_holders(record.namespace)):
        problems.append(f"processes in the node's mount namespace: {holders}")
    if mounts := host_mounts_under(state):
        problems.append(f"mounts under {state}: {mounts}")
    if any(s.number == slot.number and s.state == slot.state for s in node_network.claims()):
        problems.append(f"claim {node_network.CLAIMS / f'{slot.number}.json'}")
    return problems
