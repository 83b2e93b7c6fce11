"""The MLflow tracking server's own Python environment, created on demand and cached per machine.

The server (`mlflow==3.17.2`, 3.18.0 is not installable: its skinny pin is missing) drags in
pandas, pyarrow, scikit-learn, scipy, SQLAlchemy, Flask and more (about 850 MB); the trainer needs
only the client (`mlflow-skinny`, in .venv and the image). So the server gets its own virtual
environment, locked by server-constraints.txt, under the shared cache
(~/.cache/textjobs/mlflow-server-<version>-<lock hash>, TEXTJOBS_CACHE moves it), built once per
machine and shared by every checkout: by `make tracking-up`, or by the first test that needs a
server. Measured on the 2-core machine: about 100 s with an empty pip cache.

Two checkouts creating it at once take turns on a lock file; a build that is interrupted never
looks finished (the `.complete` marker is written last, and a directory without it is rebuilt).
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from scripts.localcluster.pins import cache_dir

MLFLOW_VERSION = "3.17.2"
CONSTRAINTS = Path(__file__).resolve().parent / "server-constraints.txt"
MARKER = ".complete"


def env_dir() -> Path:
    lock_hash = hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest()[:10]
    return cache_dir().parent / f"mlflow-server-{MLFLOW_VERSION}-{lock_hash}"  # beside cluster/


def python() -> Path:
    return env_dir() / "bin" / "python"


def is_ready() -> bool:
    return (env_dir() / MARKER).is_file() and python().exists()


def _base_python() -> str:
    """The interpreter .venv was made from: `venv` from inside a venv would nest it."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(base) if base.exists() else sys.executable


def _install(target: Path, printer) -> None:
    subprocess.run([_base_python(), "-m", "venv", str(target)], check=True)
    command = [
        str(target / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-c",
        str(CONSTRAINTS),
        f"mlflow=={MLFLOW_VERSION}",
    ]
    started = time.monotonic()
    done = threading.Event()

    def progress() -> None:
        while not done.wait(20):
            printer(f"tracking: still installing mlflow {MLFLOW_VERSION} ({time.monotonic() - started:.0f}s)")

    threading.Thread(target=progress, daemon=True).start()
    try:
        subprocess.run(command, check=True)
    finally:
        done.set()


def ensure(printer=print) -> Path:
    """The server's python, installing the environment first if this machine lacks it."""
    if is_ready():
        return python()
    target = env_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another checkout may be installing it right now
        if is_ready():
            return python()
        shutil.rmtree(target, ignore_errors=True)  # a half-made one from an interrupted install
        printer(f"tracking: installing mlflow {MLFLOW_VERSION} into {target} (once per machine, about 2 minutes)")
        started = time.monotonic()
        _install(target, printer)
        (target / MARKER).write_text(f"{MLFLOW_VERSION}\n")
        printer(f"tracking: server environment ready in {time.monotonic() - started:.0f}s")
    return python()


if __name__ == "__main__":
    print(ensure(lambda text: print(text, flush=True)))
