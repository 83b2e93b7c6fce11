"""Find the newest complete SavedModel version under an export root, locally or in a bucket.

A version is complete when it holds `saved_model.pb`: locally a version directory appears by an
atomic rename, and in a bucket `saved_model.pb` is the last object uploaded. A version directory
without it (an upload that was killed) is never selected, whatever its number.
"""

from __future__ import annotations

from pathlib import Path

from trainers.runtime import storage
from trainers.runtime.errors import StorageError

SAVED_MODEL = "saved_model.pb"


class NoVersionError(StorageError):
    """No complete SavedModel version where one was expected."""


def complete_remote_versions(root: str) -> list[int]:
    names = storage.list_names(root)
    return sorted({int(n.split("/")[0]) for n in names if n.split("/")[0].isdigit() and n.endswith("/" + SAVED_MODEL)})


def complete_local_versions(root: Path) -> list[Path]:
    found = [p for p in root.glob("*") if p.name.isdigit() and (p / SAVED_MODEL).is_file()]
    return sorted(found, key=lambda p: int(p.name))


def resolve_version(model: str, cache: Path) -> Path:
    """A local directory holding one complete version: `model` itself when it is a version
    directory, else the newest complete version under it (downloaded when gs://)."""
    if storage.is_gcs(model):
        if storage.exists(storage.join(model, SAVED_MODEL)):
            return storage.download_tree(model, cache / "model")
        versions = complete_remote_versions(model)
        if not versions:
            raise NoVersionError(f"no complete SavedModel version under {model} (expected <version>/{SAVED_MODEL})")
        return storage.download_tree(storage.join(model, str(versions[-1])), cache / "model")
    path = Path(model)
    if (path / SAVED_MODEL).exists():
        return path
    versions = complete_local_versions(path)
    if not versions:
        raise NoVersionError(f"no complete SavedModel version under {path} (expected {path}/<version>/{SAVED_MODEL})")
    return versions[-1]
