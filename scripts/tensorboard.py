"""`make tensorboard EXP=...`: TensorBoard over a run's logs, on 127.0.0.1.

EXP is an experiment run locally (runs/<EXP>/logs, what `make run EXP=...` wrote), a run
directory (its logs/ when it has one), or a bucket path (gs://<bucket>/runs/<run>/logs, read by
TensorFlow's own gs:// filesystem with the usual Google credentials). Without EXP, every local
run under runs/ (one TensorBoard run each). Runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from scripts.manifests import ROOT

DEFAULT_PORT = 6006
REMOTE = ("gs://", "s3://")


def logdir(target: str, root: Path = ROOT) -> str:
    """Where the logs are, or SystemExit saying what was looked at."""
    if not target:
        runs = root / "runs"
        if not runs.is_dir():
            raise SystemExit("tensorboard: no runs/ yet; `make run EXP=capsule-b` writes one")
        return str(runs)
    if target.startswith(REMOTE):
        return target
    for candidate in (Path(target), root / "runs" / target):
        if candidate.is_dir():
            return str(candidate / "logs" if (candidate / "logs").is_dir() else candidate)
    raise SystemExit(
        f"tensorboard: {target!r} is neither a directory nor an experiment run locally "
        f"(no {root / 'runs' / target}); `make run EXP={target}` writes one"
    )


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make tensorboard", description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default="", help="EXP, a run directory or gs://... (default: runs/)")
    parser.add_argument("--port", type=int, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}, else a free one)")
    args = parser.parse_args(argv)
    logs = logdir(args.target)
    port = args.port or (DEFAULT_PORT if port_free(DEFAULT_PORT) else free_port())
    print(f"tensorboard: http://127.0.0.1:{port}/ serving {logs} (Ctrl-C stops it)", flush=True)
    command = [sys.executable, "-m", "tensorboard.main", f"--logdir={logs}", "--host=127.0.0.1", f"--port={port}"]
    # TensorBoard in this process's place: Ctrl-C and `kill PID` reach it directly.
    os.execv(sys.executable, command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
