"""The real model server in a subprocess, as `make serve` starts it, and HTTP to it on 127.0.0.1."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.helpers import ROOT, trainer_env

URL = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    stderr: Path
    lines: list[str] = field(default_factory=list)
    kept: str = ""  # the log, once the process is gone and its file deleted

    @property
    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120)

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 120) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.stderr.exists():
            self.kept = self.stderr.read_text(errors="replace")
            self.stderr.unlink()
        return self.process.returncode

    def log(self) -> str:
        text = self.stderr.read_text(errors="replace") if self.stderr.exists() else self.kept
        return text[-4000:]


def start(model: Path, *args: str, env: dict[str, str] | None = None, timeout_s: float = 300) -> Server:
    """Start `python -m trainers.serving --model MODEL ARGS` and wait (bounded) for its address."""
    handle, name = tempfile.mkstemp(prefix="serve-", suffix=".log")
    os.close(handle)
    stderr = Path(name)
    process = subprocess.Popen(
        [sys.executable, "-m", "trainers.serving", "--model", str(model), *args],
        cwd=ROOT,
        env=trainer_env(env),
        stdout=subprocess.PIPE,
        stderr=stderr.open("w"),
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        match = URL.search(line)
        if match:
            return Server(process, match[1], stderr, seen)
    process.kill()
    process.wait()
    log = stderr.read_text(errors="replace")[-3000:]
    stderr.unlink()
    raise AssertionError(f"server gave no address (exit {process.returncode}):\n{''.join(seen)}\n{log}")


def wait_until(what: str, check, timeout_s: float = 120, every_s: float = 0.2):
    """Poll `check` until it returns something truthy; a generous bound, not a speed check."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def metric(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from a Prometheus text exposition."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        sample, _, label_text = key.partition("{")
        if sample == name and ",".join(sorted(label_text.rstrip("}").split(","))) == wanted:
            return float(value)
    return None
