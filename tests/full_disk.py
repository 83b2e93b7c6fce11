"""A full disk, for real: run the trainer with one output directory on a tiny tmpfs, then again after
the tmpfs has grown (the space was freed), and report what happened as JSON on stdout.

It runs inside a private mount namespace, so the tmpfs exists only for it and vanishes with it:

    unshare --mount --propagation private python -m tests.full_disk '{"mount": DIR, "size": "16k", "values": {...}}'

tests/test_full_disk.py drives it (root and unshare needed, as in tests/test_pod_tempdir.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import run_trainer


def available(scratch: Path) -> bool:
    """Whether this machine lets us mount a tmpfs in a private mount namespace."""
    if shutil.which("unshare") is None:
        return False
    scratch.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", scratch],
        capture_output=True,
    )
    return probe.returncode == 0


def in_namespace(spec: dict, timeout: float = 900) -> dict:
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-m", "tests.full_disk", json.dumps(spec)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"full-disk driver failed ({result.returncode}): {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _files(root: Path) -> list[str]:
    """Files, and directories (ending in '/'), under root."""
    return sorted(p.relative_to(root).as_posix() + ("/" if p.is_dir() else "") for p in root.rglob("*"))


def _outcome(result) -> dict:
    return {"code": result.returncode, "stdout": result.stdout[-4000:], "stderr": result.stderr[-4000:]}


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    mount = Path(spec["mount"])
    mount.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={spec['size']}", "tmpfs", mount], check=True)
    full = run_trainer(spec["values"], tiny=False)
    left = _files(mount)
    subprocess.run(["mount", "-o", "remount,size=64m", mount], check=True)  # the space was freed
    healed = run_trainer(spec["values"], tiny=False)
    print(json.dumps({"full": _outcome(full), "left": left, "healed": _outcome(healed), "after": _files(mount)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
