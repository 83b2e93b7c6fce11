"""Where the served model comes from: an export root (numbered versions) or one version directory,
local or in a bucket.

The newest *complete* version is chosen with the runtime's own rule (trainers/runtime/versions.py:
an interrupted upload is never selected), and polling only lists names: a version is downloaded
once, when it becomes the newest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from trainers.runtime import storage, versions
from trainers.runtime.errors import StorageError

EXPORT_INFO = "textjobs.json"
SAVED_MODEL = "saved_model.pb"


def _remote(path: str) -> bool:
    # The storage facade names this `is_remote` once it serves more than gs://.
    check = getattr(storage, "is_remote", None) or storage.is_gcs
    return bool(check(path))


def _complete_versions(root: str) -> list[str]:
    """Complete version names under `root`, oldest first, by the runtime's rule."""
    if hasattr(versions, "complete_versions"):  # the storage facade's API
        return [str(v).rstrip("/").rsplit("/", 1)[-1] for v in versions.complete_versions(root)]
    if _remote(root):
        return [str(v) for v in versions.complete_remote_versions(root)]
    return [p.name for p in versions.complete_local_versions(Path(root))]


@dataclass(frozen=True)
class ExportSource:
    """`location` is an export root, unless `single` (then it is one version directory)."""

    location: str
    single: bool

    @classmethod
    def open(cls, location: str) -> ExportSource:
        location = location.rstrip("/") or location
        if not _remote(location) and not Path(location).exists():
            raise StorageError(f"{location} does not exist (an export root holding <version>/{SAVED_MODEL})")
        single = _is_version_dir(location)
        source = cls(location, single)
        if source.newest() is None:
            raise versions.NoVersionError(
                f"no complete export version under {location} (expected {location}/<version>/{SAVED_MODEL})"
            )
        return source

    def newest(self) -> str | None:
        """The newest complete version's name (a number), without downloading anything."""
        if self.single:
            name = self.location.rsplit("/", 1)[-1]
            return name if name.isdigit() else "1"
        found = _complete_versions(self.location)
        return found[-1] if found else None

    def fetch(self, version: str, cache: Path) -> Path:
        """A local directory holding `version` (downloaded into `cache` when remote)."""
        where = self.location if self.single else storage.join(self.location, version)
        return versions.resolve_version(where, cache / version)


def _is_version_dir(location: str) -> bool:
    if _remote(location):
        return storage.exists(storage.join(location, SAVED_MODEL))
    return (Path(location) / SAVED_MODEL).is_file()


def export_info(version_dir: Path) -> dict:
    """The version's textjobs.json (task, run, step, artifact kind), or {} for an export without one."""
    path = version_dir / EXPORT_INFO
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text())
    except ValueError as exc:
        raise StorageError(f"{path}: not JSON ({exc})") from exc
    return info if isinstance(info, dict) else {}
