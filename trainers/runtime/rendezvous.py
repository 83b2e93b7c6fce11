"""A watchdog for the multi-worker rendezvous: say who is missing, and give up in time.

MultiWorkerMirroredStrategy's constructor blocks inside TensorFlow until every process of the
job has joined, and a process blocked there runs no Python signal handler, so without this a
chief whose worker never starts waits silently forever and ignores SIGTERM. The watchdog runs on
its own thread from just before the strategy is created until the first training step is done:

- every `report_every` seconds it prints which peers have not answered on their port yet;
- after `timeout` seconds (peerTimeoutSeconds) it prints one error line and ends the process with
  the retryable exit code, so the TFJob restarts the group instead of hanging until
  activeDeadlineSeconds;
- a SIGTERM during the rendezvous (nothing trained, nothing to save) ends the process with 143.
  Python's signal machinery writes the signal number to a wakeup pipe even while the main thread
  is stuck in TensorFlow, and the watchdog reads that pipe.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import threading
import time

from trainers.runtime.errors import EXIT_PREEMPTED, EXIT_TRANSIENT


def reachable(address: str, timeout: float = 1.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


class RendezvousWatchdog:
    def __init__(self, role, timeout: float, say, report_every: float = 10.0, clock=time.monotonic):
        self.role = role
        self.timeout = timeout
        self.say = say
        self.report_every = report_every
        self.clock = clock
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._pipe: tuple[int, int] | None = None

    def __enter__(self) -> RendezvousWatchdog:
        if self.role.peers:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        self._pipe = (read_fd, write_fd)
        signal.signal(signal.SIGTERM, lambda *_: None)  # the watchdog acts on it
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        self._thread = threading.Thread(target=self._watch, name="rendezvous-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Disarm (main thread only): the group has formed and trained a step."""
        if self._thread is None:
            return
        self._done.set()
        signal.set_wakeup_fd(-1)
        self._thread.join(5)
        for fd in self._pipe:
            os.close(fd)
        self._thread = None

    def missing(self) -> list[str]:
        return [f"{name} at {address}" for name, address in self.role.peers if not reachable(address)]

    def _watch(self) -> None:
        started = self.clock()
        next_report = started + min(self.report_every, self.timeout / 2)
        while not self._done.is_set():
            ready, _, _ = select.select([self._pipe[0]], [], [], 0.5)
            if self._done.is_set():
                return
            if ready and signal.SIGTERM in os.read(self._pipe[0], 64):
                self._exit(EXIT_PREEMPTED, "SIGTERM while waiting for the other workers; nothing to save")
            now = self.clock()
            if now >= started + self.timeout:
                who = ", ".join(self.missing()) or "the group to form (every peer answers on its port)"
                self._exit(
                    EXIT_TRANSIENT,
                    f"error: transient: waited {self.timeout:g} s (peerTimeoutSeconds) for {who}; "
                    f"exiting {EXIT_TRANSIENT} to be restarted",
                )
            if now >= next_report:
                who = ", ".join(self.missing()) or "the group to form (every peer answers on its port)"
                self.say(f"waiting for {who}; {now - started:.0f} s of peerTimeoutSeconds={self.timeout:g}")
                next_report = now + self.report_every

    def _exit(self, code: int, message: str) -> None:
        print(message, file=sys.stderr if code == EXIT_TRANSIENT else sys.stdout, flush=True)
        sys.stdout.flush()
        os._exit(code)
