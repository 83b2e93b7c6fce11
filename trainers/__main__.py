"""Command line: `python -m trainers <command> ...`; the commands are runtime/commands.py's table
(train, predict, evaluate, check-config, and what tasks register)."""

from __future__ import annotations

import time

PROCESS_START = time.monotonic()  # before TensorFlow is imported: start-up time is measured

import os  # noqa: E402
import sys  # noqa: E402

# TensorFlow's C++ start-up chatter (CPU features, oneDNN) hides the run's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from trainers.runtime.errors import ConfigError, report  # noqa: E402
from trainers.runtime.tempdir import ensure_temp_dir  # noqa: E402


def run(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:  # before anything imports TensorFlow, which needs a temporary directory at import
        ensure_temp_dir()
    except ConfigError as exc:
        return report(exc)
    from trainers.runtime import commands
    from trainers.tasks import registry

    table = commands.table(registry(), process_start=PROCESS_START)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(commands.usage(table))
        return 0 if argv else 2
    command = table.get(argv[0])
    if command is None:
        print(f"unknown command {argv[0]!r}\n\n{commands.usage(table)}", file=sys.stderr)
        return 2
    return command.main(argv[1:], registry())


if __name__ == "__main__":
    sys.exit(run())
