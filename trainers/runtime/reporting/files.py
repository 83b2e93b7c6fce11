"""Small durable writes shared by the runtime's bookkeeping files."""

from __future__ import annotations

import json
from pathlib import Path


def write_json_atomically(path: Path, data: dict) -> None:
    """Write under a temporary name and rename: readers see the old file or the new, never half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
