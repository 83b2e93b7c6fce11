"""Lint everything a change can touch: Python with ruff, YAML with yamllint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    checks = [
        [str(BIN / "ruff"), "check", "trainers", "scripts", "tests"],
        [str(BIN / "ruff"), "format", "--check", "trainers", "scripts", "tests"],
        [str(BIN / "yamllint"), "--strict", "."],
    ]
    failed = [c for c in checks if subprocess.run(c, cwd=ROOT).returncode != 0]
    for c in failed:
        print("lint: failed:", Path(c[0]).name, *c[1:], file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
