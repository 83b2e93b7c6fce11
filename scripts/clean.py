"""Remove run directories and caches; keeps .venv and bin/ so the next command stays fast."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

for pattern in ("runs", ".pytest_cache", ".ruff_cache", "**/__pycache__"):
    for path in ROOT.glob(pattern):
        if ".venv" not in path.parts:
            shutil.rmtree(path, ignore_errors=True)
            print("removed", path.relative_to(ROOT))
