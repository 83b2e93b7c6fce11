"""Start trainer subprocesses, watch their output, and never leave one behind."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

from scripts.localrun import free_ports  # noqa: F401  (re-exported for tests)
from tests.helpers import ROOT, train_command, trainer_env


class Trainer:
    def __init__(self, values: dict[str, str], env: dict[str, str] | None = None, tiny: bool = True):
        self.proc = subprocess.Popen(
            train_command(values, tiny),
            cwd=ROOT,
            env=trainer_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                self._reader.join(5)
                if any(text in line for line in self.lines):
                    return
                raise AssertionError(f"exited {self.proc.returncode} before {text!r}:\n{self.output[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {text!r}:\n{self.output[-3000:]}")

    def signal(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float = 240) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
