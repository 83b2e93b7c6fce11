"""containerd for the real node, in the node's own mount namespace, and images imported into it.

The node (containerd, its shims and containers, and the kubelet, which joins later) runs in a mount
namespace of its own. In it, /run, /var/lib and /var/log are this cluster's directories, so what
containerd, runc, the CNI plugins and the kubelet write at fixed paths (/run/containerd, /run/netns,
/var/lib/cni, /var/log/containers) stays in the cluster's state; and the six kernel settings the
kubelet would rewrite for the whole machine (vm.overcommit_memory, kernel.panic, ...) are shadowed
by files that hold the values it wants. Every mount made on the node's behalf (overlay root
filesystems, Secret tmpfs, network namespaces) lives and dies with that namespace: when the node's
last process ends, the kernel removes them all.

Configuration, each line answering an error met on this machine kind:
- restrict_oom_score_adj: no process here may lower its oom_score_adj (no CAP_SYS_RESOURCE); the
  pause container's -998 otherwise fails sandbox creation (runc: "can't get final child's PID").
- sandbox_image: the locally built pause image (pause_image.py); registry.k8s.io is unreachable.
- the stream server (kubectl exec/attach) listens on 127.0.0.1 only, on a free port.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from shlex import quote

from scripts.localcluster import node_cgroups, processes
from scripts.localcluster.daemons import Cluster, log_tail, start, wait_for_daemon
from scripts.localcluster.node_network import Slot

SOCKET = "/run/containerd/containerd.sock"  # inside the node's namespace
NAMESPACE = "k8s.io"  # containerd's namespace for the CRI's images and containers
CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
# What the kubelet writes under /proc/sys (pkg/kubelet/cm/container_manager_linux.go), with its values.
SHADOWED_SYSCTLS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}
PRIVATE_DIRS = {"/run": "run", "/var/lib": "var-lib", "/var/log": "var-log"}


def node_dir(cluster: Cluster) -> Path:
    return cluster.state / "node"


def config(cluster: Cluster, pause: str) -> str:
    node = node_dir(cluster)
    return f"""version = 2
root = "{node / "containerd"}"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{SOCKET}"
[ttrpc]
  address = "{SOCKET}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{node / "cni"}"
    max_conf_num = 1
"""


def namespace_script(cluster: Cluster, slot: Slot) -> str:
    """The shell that sets up the node's mount namespace, joins its cgroup, then execs containerd."""
    node = node_dir(cluster)
    lines = ["set -eu"]
    lines += node_cgroups.join_lines(slot.cgroup)
    for target, name in PRIVATE_DIRS.items():
        lines.append(f"mount --bind {quote(str(node / name))} {target}")
    for key, value in SHADOWED_SYSCTLS.items():
        shadow = node / "sysctl" / key.replace("/", "_")
        lines.append(f"echo {value} > {quote(str(shadow))} && mount --bind {quote(str(shadow))} /proc/sys/{key}")
    lines.append(f"exec {CONTAINERD} --config {quote(str(node / 'containerd.toml'))}")
    return "\n".join(lines)


def start_containerd(cluster: Cluster, slot: Slot, pause: str) -> processes.Daemon:
    node = node_dir(cluster)
    for name in [*PRIVATE_DIRS.values(), "sysctl", "cni", "containerd"]:
        (node / name).mkdir(parents=True, exist_ok=True)
    (node / "containerd.toml").write_text(config(cluster, pause))
    daemon = start(
        cluster,
        "containerd",
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", namespace_script(cluster, slot)],
        binary=CONTAINERD,
    )
    if not daemon.running_binary():
        raise RuntimeError(f"containerd did not start\n{log_tail(cluster.state, 'containerd')}")
    wait_for_daemon(cluster, daemon, lambda: ctr(daemon, "version").returncode == 0, 60)
    return daemon


def ctr(daemon: processes.Daemon, *args: str, stdin=None) -> subprocess.CompletedProcess:
    """`ctr` against this node's containerd, run inside the node's namespace (where its socket is)."""
    command = ["nsenter", f"--mount=/proc/{daemon.pid}/ns/mnt", "--", CTR, "--address", SOCKET, "-n", NAMESPACE]
    return subprocess.run([*command, *args], stdin=stdin, capture_output=True, text=stdin is None)


def import_image(daemon: processes.Daemon, name: str, write_archive) -> float:
    """Stream an OCI archive (written by `write_archive(pipe)`) into containerd; seconds taken."""
    started = time.monotonic()
    command = ["nsenter", f"--mount=/proc/{daemon.pid}/ns/mnt", "--", CTR, "--address", SOCKET, "-n", NAMESPACE]
    with subprocess.Popen(
        [*command, "images", "import", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            write_archive(proc.stdin)
        finally:
            proc.stdin.close()
        output = proc.stdout.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"ctr images import {name} failed (exit {proc.returncode}):\n{output[-2000:]}")
    listed = ctr(daemon, "images", "list", "--quiet").stdout.split()
    if name not in listed:
        raise RuntimeError(f"ctr images import: {name} not among the imported images {listed}:\n{output[-1000:]}")
    return time.monotonic() - started


def namespace_inode(daemon: processes.Daemon) -> str:
    """`mnt:[N]`, to tell later whether any process still holds the node's namespace."""
    return str(Path(f"/proc/{daemon.pid}/ns/mnt").readlink())
