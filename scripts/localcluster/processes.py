"""Start the cluster's daemons detached, record their PIDs, and stop exactly those processes.

A PID file holds the PID and the binary's path. `stop` signals a PID only while
/proc/<pid>/exe still is that binary, so a recycled PID of someone else's process is never hit.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

STOP_GRACE_S = 15.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Daemon:
    name: str
    pid: int
    binary: str

    def alive(self) -> bool:
        try:
            exe = os.readlink(f"/proc/{self.pid}/exe")
        except OSError:
            return False
        if exe.removesuffix(" (deleted)") != self.binary:
            return False
        try:
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z"

    def running_binary(self, timeout_s: float = 10.0) -> bool:
        """Wait until a wrapper has exec'd the recorded binary (False if the process died first)."""
        deadline = time.monotonic() + timeout_s
        while not self.alive():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def pid_dir(state: Path) -> Path:
    return state / "pids"


def log_path(state: Path, name: str) -> Path:
    return state / "logs" / f"{name}.log"


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel sends SIGTERM when the starting thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start(
    state: Path,
    name: str,
    command: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    die_with_parent: bool = False,
    binary: str | None = None,
) -> Daemon:
    """Start `command` in its own session, so it outlives `make cluster-up` and ignores its Ctrl-C;
    with `die_with_parent` (tests) it ends when the process that started it ends, however that ends.
    `binary`: what the process runs once a wrapper in `command` (unshare, nsenter) has exec'd it."""
    log = log_path(state, name)
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_dir(state).mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
    daemon = Daemon(name, proc.pid, os.path.realpath(binary or command[0]))
    (pid_dir(state) / f"{name}.json").write_text(json.dumps(daemon.__dict__))
    return daemon


def recorded(state: Path) -> list[Daemon]:
    """Every daemon with a PID file, in the order they were started."""
    files = sorted(pid_dir(state).glob("*.json"), key=lambda p: p.stat().st_mtime_ns) if pid_dir(state).is_dir() else []
    return [Daemon(**json.loads(path.read_text())) for path in files]


def _wait_gone(daemon: Daemon, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while daemon.alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop(state: Path, daemon: Daemon) -> str:
    """SIGTERM, then SIGKILL after STOP_GRACE_S; returns what happened, for the progress line."""
    outcome = "not running"
    if daemon.alive():
        os.kill(daemon.pid, signal.SIGTERM)
        outcome = "stopped"
        if not _wait_gone(daemon, STOP_GRACE_S):
            os.kill(daemon.pid, signal.SIGKILL)
            _wait_gone(daemon, 5.0)
            outcome = "killed"
    (pid_dir(state) / f"{daemon.name}.json").unlink(missing_ok=True)
    return outcome
