"""The real node's parts that need no cluster: slots and their claims, the cgroup tree (real cgroups,
as root), the pause image, daemons started through a wrapper, the pod network's configuration.

The node as a whole (containerd, kubelet, pods) is tested by tests/test_real_node.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from scripts.localcluster import node_cgroups, node_network, pause_image, processes

ROUTES = """\
default via 192.0.2.1 dev eth0
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
198.18.1.0/24 dev other0 proto kernel scope link src 198.18.1.1
local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
broadcast 192.0.2.255 dev eth0 table local proto kernel scope link src 192.0.2.2
"""

MOUNTINFO = """\
25 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
"""


def test_the_machines_routes_and_cgroup_mounts_are_read_as_they_are():
    nets = [str(n) for n in node_network.routed_subnets(ROUTES)]
    assert nets == ["192.0.2.0/24", "198.18.1.0/24", "127.0.0.0/8", "192.0.2.255/32"]
    assert [str(p) for p in node_cgroups.hierarchies(MOUNTINFO)] == [
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/unified",
    ]


@pytest.fixture
def claims_dir(tmp_path, monkeypatch):
    directory = tmp_path / "claims"
    monkeypatch.setattr(node_network, "CLAIMS", directory)
    routes = node_network.routed_subnets(ROUTES)
    monkeypatch.setattr(node_network, "routed_subnets", lambda: routes)
    return directory


def test_each_node_claims_its_own_slot_and_skips_subnets_in_use(claims_dir, tmp_path):
    with node_network.machine_lock():
        first = node_network.claim(tmp_path / "a")
        second = node_network.claim(tmp_path / "b")
    # Slot 1's subnet is routed by something else (198.18.1.0/24 above): never handed out.
    assert (first.number, second.number) == (0, 2)
    assert (str(first.subnet), first.gateway, first.bridge, first.cgroup) == (
        "198.18.0.0/24",
        "198.18.0.1",
        "textjobs0",
        "textjobs-node0",
    )
    assert json.loads((claims_dir / "2.json").read_text())["state"] == str(tmp_path / "b")
    with node_network.machine_lock():
        node_network.release(first)
    with node_network.machine_lock():
        assert node_network.claim(tmp_path / "c").number == 0  # a released slot is free again
    for slot in node_network.claims():
        with node_network.machine_lock():
            node_network.release(slot)
    assert not claims_dir.exists(), "the last release leaves /run as it was"


def test_pods_get_no_gateway_no_nat_and_no_route_off_their_subnet(tmp_path):
    slot = node_network.Slot(7, str(tmp_path))
    [bridge] = node_network.cni_config(slot, tmp_path / "ipam")["plugins"]
    # isGateway true would also switch on IP forwarding for the whole machine.
    assert (bridge["bridge"], bridge["isGateway"], bridge["isDefaultGateway"], bridge["ipMasq"]) == (
        "textjobs7",
        False,
        False,
        False,
    )
    assert "routes" not in bridge["ipam"]
    assert bridge["ipam"]["ranges"] == [[{"subnet": "198.18.7.0/24", "gateway": "198.18.7.1"}]]


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="makes real cgroups (root)")


def _free_cgroup_slot(tmp_path) -> node_network.Slot:
    for number in range(200, 256):
        slot = node_network.Slot(number, str(tmp_path))
        if not node_cgroups.exists(slot.cgroup) and not node_network.bridge_exists(slot.bridge):
            return slot
    pytest.skip("no free slot number to test with")


@needs_root
def test_the_cgroup_tree_holds_what_the_node_starts_and_is_removed_after_it(tmp_path):
    slot = _free_cgroup_slot(tmp_path)
    node_cgroups.create(slot.cgroup)
    try:
        script = "\n".join([*node_cgroups.join_lines(slot.cgroup), "sleep 300 & exec sleep 300"])
        shell = subprocess.Popen(["sh", "-c", script], start_new_session=True)
        deadline = time.monotonic() + 10
        while len(node_cgroups.processes(slot.cgroup)) < 2:  # the shell (now sleep) and its child
            assert time.monotonic() < deadline, node_cgroups.processes(slot.cgroup)
            time.sleep(0.05)
        assert shell.pid in node_cgroups.processes(slot.cgroup)
        assert node_cgroups.kill_all(slot.cgroup) == 2
        shell.wait(timeout=10)
        assert node_cgroups.processes(slot.cgroup) == set()
    finally:
        node_cgroups.kill_all(slot.cgroup)
        node_cgroups.remove(slot.cgroup)
    assert node_cgroups.exists(slot.cgroup) == []


@needs_root
def test_a_dead_nodes_claim_is_reaped_with_its_leftovers_and_a_live_one_kept(claims_dir, tmp_path):
    """Dead: its containerd is gone but a process (a shim, say) is left in its cgroups. Live: its
    recorded containerd runs."""
    stale = _free_cgroup_slot(tmp_path / "stale")
    live = next(
        node_network.Slot(n, str(tmp_path / "live"))
        for n in range(stale.number + 1, 256)
        if not node_cgroups.exists(f"textjobs-node{n}") and not node_network.bridge_exists(f"textjobs{n}")
    )
    claims_dir.mkdir()
    for slot in (stale, live):
        node_cgroups.create(slot.cgroup)
        (claims_dir / f"{slot.number}.json").write_text(json.dumps(slot.__dict__))
    leftover = subprocess.Popen(["sh", "-c", "\n".join([*node_cgroups.join_lines(stale.cgroup), "exec sleep 300"])])
    containerd = processes.start(Path(live.state), "containerd", ["/bin/sleep", "300"])
    try:
        deadline = time.monotonic() + 10
        while leftover.pid not in node_cgroups.processes(stale.cgroup) or not containerd.alive():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        messages = []
        with node_network.machine_lock():
            node_network.reap_stale(messages.append)
        assert [slot.number for slot in node_network.claims()] == [live.number]
        assert leftover.wait(timeout=10) == -9, "the dead node's leftover process must be ended"
        assert node_cgroups.exists(stale.cgroup) == [] and node_cgroups.exists(live.cgroup)
        assert len(messages) == 1 and f"slot {stale.number}" in messages[0]
    finally:
        processes.stop(Path(live.state), containerd)
        leftover.kill()
        for slot in (stale, live):
            node_cgroups.kill_all(slot.cgroup)
            node_cgroups.remove(slot.cgroup)


def test_a_daemon_started_through_a_wrapper_is_recorded_as_what_the_wrapper_execs(tmp_path):
    sleep = os.path.realpath("/bin/sleep")
    daemon = processes.start(tmp_path, "wrapped", ["sh", "-c", "sleep 0.5; exec /bin/sleep 300"], binary=sleep)
    assert daemon.binary == sleep
    assert daemon.running_binary(timeout_s=30) and daemon.alive()
    assert processes.stop(tmp_path, daemon) == "stopped"
    assert not daemon.alive()
    gone = processes.start(tmp_path, "gone", ["sh", "-c", "exit 3"], binary=sleep)
    assert not gone.running_binary(timeout_s=5)  # the wrapper died before exec'ing


@pytest.mark.skipif(not os.path.exists("/usr/lib/x86_64-linux-gnu/libc.a"), reason="needs gcc and libc6-dev")
def test_the_pause_image_is_kubernetes_own_pause_compiled_statically(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTJOBS_CACHE", str(tmp_path))
    name, layer = pause_image.image()
    assert name == f"{pause_image.NAME}:{pause_image.tag(pause_image.source_dir())}"
    with tarfile.open(layer.path) as tar:
        [member] = tar.getmembers()
        tar.extractall(tmp_path / "root", filter="fully_trusted")
    assert member.name == "pause" and member.mode & 0o111 and member.uid == 0
    # Static: it runs in a root filesystem that holds nothing else (no libc, no loader).
    command = (
        ["chroot", str(tmp_path / "root"), "/pause", "-v"]
        if os.geteuid() == 0
        else [str(tmp_path / "root" / "pause"), "-v"]
    )
    version = subprocess.run(command, capture_output=True, text=True, timeout=10)
    assert version.returncode == 0 and "-textjobs" in version.stdout + version.stderr, version
    assert pause_image.image() == (name, layer)  # cached: the same layer, not rebuilt
