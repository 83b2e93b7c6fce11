"""The real node's own cgroup tree: everything it starts lives in it, so `down` can end exactly that.

One directory, /<root> in every cgroup hierarchy the machine mounts (this machine kind: cgroup v1
controllers plus a cgroup2 "unified" tree, a hybrid layout). containerd and the kubelet start in
/<root>/runtime; the shims containerd starts inherit it; the kubelet puts pods under
/<root>/kubepods (its `cgroupRoot`), and runc creates each container's cgroup in every hierarchy.
So the processes of this node, and only they, are the processes in this tree, and after they end
the directories can be removed leaves first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from shlex import quote

CGROUP_FS = Path("/sys/fs/cgroup")
RUNTIME = "runtime"


def hierarchies(mountinfo: str | None = None) -> list[Path]:
    """Mount points of every cgroup (v1) and cgroup2 hierarchy."""
    text = mountinfo if mountinfo is not None else Path("/proc/self/mountinfo").read_text()
    found = []
    for line in text.splitlines():
        fields = line.split(" - ", 1)
        if len(fields) == 2 and fields[1].split()[0] in ("cgroup", "cgroup2"):
            found.append(Path(fields[0].split()[4]))
    return sorted(set(found))


def _prepare(directory: Path) -> None:
    directory.mkdir(exist_ok=True)
    # A new cpuset cgroup (v1) starts with no CPUs and no memory nodes, and no task may join it.
    for name in ("cpuset.cpus", "cpuset.mems"):
        own = directory / name
        if own.exists() and not own.read_text().strip():
            own.write_text((directory.parent / name).read_text())


def create(root: str) -> None:
    for hierarchy in hierarchies():
        _prepare(hierarchy / root)
        if hierarchy == CGROUP_FS:  # cgroup v2 only (no v1 controllers): hand the controllers down
            _delegate_controllers(hierarchy / root)
        _prepare(hierarchy / root / RUNTIME)


def _delegate_controllers(directory: Path) -> None:
    """On a pure cgroup v2 machine the kubelet's pods under /<root>/kubepods need the controllers
    enabled in /<root> (which itself holds no process: containerd and the kubelet are in runtime/).
    Not exercised on this machine kind (hybrid layout); written for cgroup v2 hosts."""
    available = (directory / "cgroup.controllers").read_text().split()
    if available:
        (directory / "cgroup.subtree_control").write_text(" ".join(f"+{name}" for name in available))


def join_lines(root: str) -> list[str]:
    """Shell lines that move the running shell into /<root>/runtime of every hierarchy (before exec)."""
    return [f"echo $$ > {quote(str(hierarchy / root / RUNTIME / 'cgroup.procs'))}" for hierarchy in hierarchies()]


def processes(root: str) -> set[int]:
    pids: set[int] = set()
    for hierarchy in hierarchies():
        top = hierarchy / root
        if not top.is_dir():
            continue
        for procs in top.rglob("cgroup.procs"):
            try:
                pids.update(int(line) for line in procs.read_text().split())
            except OSError:
                continue
    return pids


def kill_all(root: str, timeout_s: float = 30.0) -> int:
    """SIGKILL every process in the tree until none is left; returns how many were killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while pids := processes(root):
        for pid in pids - killed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        if time.monotonic() > deadline:
            raise RuntimeError(f"cgroup /{root}: processes {sorted(pids)} still alive after SIGKILL")
        time.sleep(0.1)
    return len(killed)


def remove(root: str, timeout_s: float = 30.0) -> None:
    """rmdir the tree in every hierarchy, leaves first (a cgroup just emptied can be busy a moment)."""
    deadline = time.monotonic() + timeout_s
    for hierarchy in hierarchies():
        top = hierarchy / root
        if not top.is_dir():
            continue
        for directory in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            _rmdir(directory, deadline)
        _rmdir(top, deadline)


def _rmdir(directory: Path, deadline: float) -> None:
    while True:
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def exists(root: str) -> list[Path]:
    return [hierarchy / root for hierarchy in hierarchies() if (hierarchy / root).exists()]
