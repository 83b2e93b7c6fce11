"""The real node's slot on this machine: a bridge, a /24 for its pods, a cgroup tree, all numbered.

Several local clusters may run side by side (other checkouts, test sessions). Each real node claims
a free number N under a machine-wide lock (/run/textjobs-real-node/N.json names the claiming state
directory) and everything it makes on the machine carries N: the bridge `textjobsN`, the pod subnet
198.18.N.0/24 and the cgroup tree `textjobs-nodeN`, so two nodes never share or break each other's.

Pods get addresses from 198.18.0.0/15 (RFC 2544's benchmarking range: never routed on the internet,
unlike a private range this machine's own network might use). The bridge holds the subnet's first
address, where the node's bucket emulator listens; pods get a route to their subnet only (no
gateway, no NAT, no default route), and this machine does not forward, so a pod reaches nothing
beyond this node. The CNI bridge plugin is told `isGateway: false`: with true it would also turn on
IP forwarding for the whole machine.

A claim whose containerd no longer runs (its cluster was killed, not taken down) is stale: the next
real node to start ends what is left in its cgroup tree (shims, containers), removes its cgroups
and bridge, and takes the number.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from scripts.localcluster import node_cgroups, processes

CLAIMS = Path("/run/textjobs-real-node")
POD_RANGE = ipaddress.ip_network("198.18.0.0/15")
SLOTS = 256


@dataclass(frozen=True)
class Slot:
    number: int
    state: str  # the claiming cluster's state directory

    @property
    def bridge(self) -> str:
        return f"textjobs{self.number}"

    @property
    def cgroup(self) -> str:
        return f"textjobs-node{self.number}"

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return list(POD_RANGE.subnets(new_prefix=24))[self.number]

    @property
    def gateway(self) -> str:
        return str(self.subnet.network_address + 1)


@contextmanager
def machine_lock() -> Iterator[None]:
    """Held while a node claims its slot and starts, while stale claims are reaped and while a slot
    is released. The last release removes the lock file and its directory, so a waiter that then
    gets the lock of a removed file tries again on a fresh one."""
    path = CLAIMS / ".lock"
    while True:
        CLAIMS.mkdir(parents=True, exist_ok=True)
        try:
            lock = path.open("a")
        except FileNotFoundError:  # removed between mkdir and open by the last release
            continue
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = os.stat(path).st_ino == os.fstat(lock.fileno()).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        lock.close()
    try:
        yield
    finally:
        lock.close()


def claims() -> list[Slot]:
    found = []
    for path in sorted(CLAIMS.glob("*.json")) if CLAIMS.is_dir() else []:
        try:
            found.append(Slot(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            continue
    return found


ROUTE_TYPES = ("local", "broadcast", "unreachable", "blackhole", "prohibit", "multicast", "throw", "anycast", "nat")


def routed_subnets(routes: str | None = None) -> list[ipaddress.IPv4Network]:
    """Every IPv4 destination this machine routes (any table), to avoid a subnet already in use."""
    if routes is None:
        routes = subprocess.run(
            ["ip", "-4", "-o", "route", "show", "table", "all"], capture_output=True, text=True
        ).stdout
    nets = []
    for line in routes.splitlines():
        words = line.split()
        if words and words[0] in ROUTE_TYPES:
            words = words[1:]
        if not words or words[0] == "default":
            continue
        try:
            nets.append(ipaddress.ip_network(words[0], strict=False))
        except ValueError:
            continue
    return nets


def release(slot: Slot) -> None:
    """Under machine_lock: drop the claim; the last one gone, leave /run as it was."""
    (CLAIMS / f"{slot.number}.json").unlink(missing_ok=True)
    if not list(CLAIMS.glob("*.json")):
        (CLAIMS / ".lock").unlink(missing_ok=True)
        CLAIMS.rmdir()


def alive(slot: Slot) -> bool:
    """A node lives while the containerd its cluster recorded runs. Its shims and containers can
    outlive a containerd killed with its test process; they are the leftovers reap_stale ends."""
    return any(d.name == "containerd" and d.alive() for d in processes.recorded(Path(slot.state)))


def reap_stale(log=print) -> None:
    """Under machine_lock (so no node is half-started): clean up after nodes whose containerd is gone."""
    for slot in claims():
        if alive(slot):
            continue
        log(f"real node: slot {slot.number} of {slot.state} is dead; removing what is left of it")
        node_cgroups.kill_all(slot.cgroup)
        node_cgroups.remove(slot.cgroup)
        delete_bridge(slot.bridge)
        (CLAIMS / f"{slot.number}.json").unlink(missing_ok=True)  # the lock stays: a claim follows


def claim(state: Path) -> Slot:
    """Under machine_lock: the lowest free slot whose subnet nothing on this machine routes."""
    taken = {slot.number for slot in claims()}
    routed = routed_subnets()
    for number in range(SLOTS):
        slot = Slot(number, str(state))
        if number in taken or any(slot.subnet.overlaps(net) for net in routed):
            continue
        if bridge_exists(slot.bridge) or node_cgroups.exists(slot.cgroup):
            continue  # not claimed, yet in use: something else made it, leave it alone
        (CLAIMS / f"{number}.json").write_text(json.dumps(asdict(slot)))
        return slot
    raise RuntimeError(f"no free real-node slot among {SLOTS} ({CLAIMS})")


def bridge_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def create_bridge(slot: Slot) -> None:
    _ip("link", "add", slot.bridge, "type", "bridge")
    _ip("addr", "add", f"{slot.gateway}/{slot.subnet.prefixlen}", "dev", slot.bridge)
    _ip("link", "set", slot.bridge, "up")


def delete_bridge(name: str) -> None:
    if bridge_exists(name):
        _ip("link", "delete", name)


def bridge_ports(name: str) -> list[str]:
    directory = Path(f"/sys/class/net/{name}/brif")
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def cni_config(slot: Slot, ipam_dir: Path) -> dict:
    """The pod network: the bridge above, addresses from host-local, nothing else."""
    return {
        "cniVersion": "1.0.0",
        "name": f"textjobs-node{slot.number}",
        "plugins": [
            {
                "type": "bridge",
                "bridge": slot.bridge,
                "isGateway": False,
                "isDefaultGateway": False,
                "ipMasq": False,
                "hairpinMode": False,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(ipam_dir),
                    "ranges": [[{"subnet": str(slot.subnet), "gateway": slot.gateway}]],
                },
            }
        ],
    }
