"""The multi-worker rendezvous, done in Python before TensorFlow's own: name who is missing, and
give up in time.

MultiWorkerMirroredStrategy's constructor blocks inside TensorFlow, holding Python's GIL, until
every process of the job has joined. Nothing else in the process runs meanwhile: no thread, no
signal handler. A chief whose worker never starts would wait silently forever and ignore SIGTERM.
So before creating the strategy each process does a rendezvous of its own, on the same ports:

- it listens on its own TF_CONFIG port (so its peers see it), and connects to each peer's port
  until every one of them accepts; a peer that is already inside TensorFlow accepts too;
- every `report_every` seconds it prints which peers have not answered yet;
- after `timeout` seconds (peerTimeoutSeconds) it fails with a TransientError: one line, the
  retryable exit code, and the TFJob restarts the group instead of hanging until
  activeDeadlineSeconds;
- SIGTERM (the pod is being deleted or preempted) ends the wait with exit 143.

Then it closes its listener and TensorFlow binds the port. A peer that dies in the short window
between this check and TensorFlow's rendezvous still blocks the others inside TensorFlow; the
job's activeDeadlineSeconds bounds that case.
"""

from __future__ import annotations

import signal
import socket
import time

from trainers.runtime.errors import EXIT_PREEMPTED, RunError, TransientError


class Preempted(RunError):
    exit_code = EXIT_PREEMPTED
    kind = "stopped"


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def reachable(address: str, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(_host_port(address), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def _listen(address: str, say) -> socket.socket | None:
    """Listen on our own port so peers see us; TCP completes their connects from the backlog."""
    try:
        _, port = _host_port(address)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("", port))
        listener.listen(64)
        return listener
    except (OSError, ValueError) as exc:
        say(
            f"cannot listen on {address} for the rendezvous ({exc}); peers will see this process once TensorFlow starts"
        )
        return None


def wait_for_peers(role, timeout: float, say, report_every: float = 10.0, clock=time.monotonic, pause=0.25) -> None:
    """Return once every peer in TF_CONFIG answers on its port; raise TransientError after
    `timeout` seconds, Preempted on SIGTERM."""
    if not role.peers:
        return

    def on_sigterm(*_):
        raise Preempted("SIGTERM while waiting for the other workers; nothing trained, nothing to save")

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    listener = _listen(role.address, say) if role.address else None
    started = clock()
    next_report = started + min(report_every, timeout / 2)
    try:
        while True:
            missing = [f"{name} at {address}" for name, address in role.peers if not reachable(address)]
            if not missing:
                return
            now = clock()
            if now - started >= timeout:
                raise TransientError(
                    f"waited {timeout:g} s (peerTimeoutSeconds) for {', '.join(missing)}; exiting to be restarted"
                )
            if now >= next_report:
                say(f"waiting for {', '.join(missing)}; {now - started:.0f} s of peerTimeoutSeconds={timeout:g}")
                next_report = now + report_every
            time.sleep(pause)
    finally:
        if listener is not None:
            listener.close()
        signal.signal(signal.SIGTERM, previous)
