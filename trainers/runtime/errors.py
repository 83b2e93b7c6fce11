"""Errors a run can end with, and the exit code each one maps to.

The TFJob replicas use `restartPolicy: ExitCode`: the Training Operator restarts a pod that exits
with 128 or more and fails the job on 1-127. So every way out of the trainer says, through its
code, whether a retry can help:

    0    done
    2    bad configuration or data: permanent, fix the experiment (ConfigError, DataError)
    3    storage that will not heal by waiting: a missing bucket or object, a permission
    4    a crash loop: too many starts in a row from the same step (restarts.py)
    143  stopped by SIGTERM after a checkpoint (preemption): restart and resume
    200  a transient failure outlived its retry budget (a bucket outage, a peer that never
         arrived): restart and resume

Each error carries one line that says what happened and what to check; the trainer prints it and
no traceback.
"""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_PERMANENT_STORAGE = 3
EXIT_CRASH_LOOP = 4
EXIT_PREEMPTED = 143
EXIT_TRANSIENT = 200


def is_retryable(code: int) -> bool:
    """The Training Operator's ExitCode rule: 128 and above is retryable."""
    return code >= 128


class RunError(Exception):
    """A failure the trainer reports in one line and ends with `exit_code`."""

    exit_code = 1
    kind = "error"


class ConfigError(RunError, ValueError):
    """A configuration value that cannot be used; the message names key, value and source."""

    exit_code = EXIT_BAD_INPUT


class DataError(RunError, ValueError):
    """A data file that cannot be used; the message names the file and line."""

    exit_code = EXIT_BAD_INPUT


class CrashLoopError(RunError):
    """Restarts that make no progress: retrying again would only loop until the job's deadline."""

    exit_code = EXIT_CRASH_LOOP
    kind = "crash loop"


class StorageError(RunError):
    """Storage that waiting will not fix: missing bucket or object, permission denied."""

    exit_code = EXIT_PERMANENT_STORAGE
    kind = "storage"


class TransientError(RunError):
    """A failure that may heal (outage, unreachable peer): exit retryable, resume on restart."""

    exit_code = EXIT_TRANSIENT
    kind = "transient"


class TransientStorageError(TransientError, StorageError):
    """The bucket stayed unreachable for longer than the retry budget."""

    exit_code = EXIT_TRANSIENT
    kind = "storage (transient)"


def report(exc: RunError) -> int:
    """Print the error's one line on stderr; returns its exit code."""
    print(f"error: {exc.kind}: {exc}" if exc.kind != "error" else f"error: {exc}", file=sys.stderr, flush=True)
    return exc.exit_code
