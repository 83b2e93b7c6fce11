"""Print the Makefile's targets with their `## description` comments (what `make help` shows)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

TARGET_LINE = re.compile(r"^([a-zA-Z][\w-]*):[^=]*?##\s*(.+)$")


def described_targets(makefile_text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2).strip()) for line in makefile_text.splitlines() if (m := TARGET_LINE.match(line))]


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "Makefile")
    targets = described_targets(path.read_text())
    width = max(len(name) for name, _ in targets)
    print("Usage: make <target> [EXP=name] [ARGS='...']\n")
    for name, text in targets:
        print(f"  {name.ljust(width)}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
