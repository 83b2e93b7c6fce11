"""Named crash points, so tests can SIGKILL the real trainer exactly where it is most fragile.

The runtime calls `point("checkpoint.saved")` and the like at each step of its durable writes.
Normally that is a dictionary lookup and nothing more. With TEXTJOBS_FAULT set to

    NAME:COUNT            SIGKILL this process on the COUNT-th time NAME is reached
    NAME:COUNT:DELAY_MS   ... DELAY_MS milliseconds later, from a timer thread, so the kill lands
                          inside whatever the main thread does next (TensorFlow's checkpoint
                          write, an upload)
    NAME:COUNT:term       send SIGTERM instead (a preemption notice, handled by the trainer)
    NAME:COUNT:stop       SIGSTOP, so a test can change the world (stop a server) and SIGCONT it

SIGKILL gets no handler, no flush, no cleanup, as a node failure or the OOM killer would. `tests/test_crash_consistency.py` drives this at seeded points and checks that
every restart resumes exactly. The points are listed in POINTS so a typo in a test fails loudly.
"""

from __future__ import annotations

import os
import signal
import threading

ENV = "TEXTJOBS_FAULT"

POINTS = (
    "step.done",  # a training step finished (before any checkpoint for it)
    "checkpoint.before",  # about to write a checkpoint
    "checkpoint.saved",  # checkpoint written locally, not yet in the bucket
    "checkpoint.uploading",  # some checkpoint objects uploaded, the state file not yet
    "epoch.checkpointed",  # an epoch's closing checkpoint is durable, its summary not yet
    "epoch.recorded",  # the epoch's row is in metrics.json
    "best.saved",  # the best epoch's weights are written
    "export.staged",  # the SavedModel is written to its hidden staging directory
    "export.renamed",  # the version is in place locally, not yet uploaded or recorded as the run's
    "export.uploading",  # some export files uploaded, textjobs.json (the commit marker) not yet
    "export.done",  # export complete, final metrics not yet written
)

_counts: dict[str, int] = {}


def _plan() -> tuple[str, int, str | None] | None:
    spec = os.environ.get(ENV, "")
    if not spec:
        return None
    parts = spec.split(":")
    if parts[0] not in POINTS or len(parts) not in (2, 3):
        raise ValueError(f"{ENV}={spec!r}: expected NAME:COUNT[:DELAY_MS|term|stop] with NAME one of {POINTS}")
    return parts[0], int(parts[1]), parts[2] if len(parts) == 3 else None


_PLAN = _plan()


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def point(name: str) -> None:
    if _PLAN is None:
        return
    assert name in POINTS, name
    _counts[name] = _counts.get(name, 0) + 1
    target, count, how = _PLAN
    if name != target or _counts[name] != count:
        return
    if how is None:
        _kill()
    elif how == "term":
        os.kill(os.getpid(), signal.SIGTERM)
    elif how == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    else:
        threading.Timer(float(how) / 1000, _kill).start()
