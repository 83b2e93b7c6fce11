"""A real MLflow tracking server on 127.0.0.1: started, found and stopped by its state directory.

`make tracking-up` keeps its state in .tracking/ (SQLite database mlflow.db, artifacts/,
server.log, server.json with the PID and the address); tests give each server a temporary one.
The server runs in its own session (its uvicorn worker is its child), so stopping it signals that
process group, and only while the recorded PID still runs `mlflow server` on the recorded port:
a recycled PID of someone else's process is never hit.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from scripts.manifests import ROOT
from scripts.tracking import server_env

STATE = ROOT / ".tracking"
DEFAULT_PORT = 5000
READY_TIMEOUT_S = 180.0  # about 15-25 s on an idle 2-core machine; generous for a loaded one
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class Server:
    pid: int
    port: int
    state: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def process_alive(self) -> bool:
        """The recorded PID still runs this server (not a recycled PID)."""
        try:
            argv = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z" and b"mlflow" in argv and b"server" in argv and str(self.port).encode() in argv

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=timeout) as answer:
                return answer.status == 200
        except OSError:
            return False


def _record(state: Path) -> Path:
    return state / "server.json"


def recorded(state: Path = STATE) -> Server | None:
    try:
        return Server(**json.loads(_record(state).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def running_url(state: Path = STATE) -> str | None:
    """The address of the server `make tracking-up` started, when it answers."""
    server = recorded(state)
    return server.url if server is not None and server.process_alive() and server.healthy() else None


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def command(python: Path, state: Path, port: int) -> list[str]:
    return [
        str(python),
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{(state / 'mlflow.db').resolve()}",
        "--artifacts-destination",
        str((state / "artifacts").resolve()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def start(state: Path, port: int | None = None, printer=print, die_with_parent: bool = False) -> Server:
    """Start a server whose data lives in `state`; returns once it answers /health."""
    state = state.resolve()
    state.mkdir(parents=True, exist_ok=True)
    previous = recorded(state)
    if previous is not None and previous.process_alive():
        if previous.healthy(10):
            return previous
        stop(state)
    python = server_env.ensure(printer)
    if port is None:
        candidates = [p for p in (previous.port if previous else None, DEFAULT_PORT) if p]
        port = next((p for p in candidates if port_free(p)), None) or free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONUNBUFFERED": "1"}
    with (state / "server.log").open("ab") as log:
        process = subprocess.Popen(
            command(python, state, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=state,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
    server = Server(process.pid, port, str(state))
    _record(state).write_text(json.dumps(server.__dict__) + "\n")
    started = time.monotonic()
    while not server.healthy():
        if process.poll() is not None:
            raise RuntimeError(f"the MLflow server exited with {process.returncode}; see {state / 'server.log'}")
        if time.monotonic() - started > READY_TIMEOUT_S:
            stop(state)
            raise RuntimeError(
                f"the MLflow server did not answer within {READY_TIMEOUT_S:.0f}s; see {state / 'server.log'}"
            )
        time.sleep(0.5)
    return server


def stop(state: Path = STATE) -> str:
    """SIGTERM to the server's process group, SIGKILL after a grace; returns what happened."""
    server = recorded(state)
    outcome = "not running"
    if server is not None and server.process_alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        outcome = "stopped"
        deadline = time.monotonic() + STOP_GRACE_S
        while server.process_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if server.process_alive():
            outcome = "killed"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # the worker too, whatever the parent did
    if server is not None:
        _record(state).unlink(missing_ok=True)
    return outcome


def kill(state: Path) -> None:
    """SIGKILL at once, as a crashed server or a lost node would go (tests); the record stays, so
    `start` brings the same server back on the same port and data."""
    server = recorded(state)
    if server is not None and server.process_alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        deadline = time.monotonic() + STOP_GRACE_S
        while server.process_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
