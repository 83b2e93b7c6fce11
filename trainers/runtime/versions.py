"""Find the newest complete export version under an export root, locally or in a bucket.

A version is `<root>/<number>/`. It is complete when `textjobs.json` and the files its artifact
kind requires are present (artifacts.py): both are written last, so a version directory without
them (an upload that was killed) is never selected, whatever its number. Versions of a kind this
trainer does not know are skipped too.

The first trainer's exports have no `textjobs.json`, only `saved_model.pb`. Locally a version
appears by an atomic rename, so such a directory is complete and stays readable; in a bucket it
looks exactly like a killed upload and is not selected.
"""

from __future__ import annotations

import json
from pathlib import Path

from trainers.runtime import storage
from trainers.runtime.artifacts import EXPORT_INFO, SAVED_MODEL, Kind, kind_of
from trainers.runtime.errors import StorageError


class NoVersionError(StorageError):
    """No complete version where one was expected."""


def read_info(version: str | Path) -> dict | None:
    """A version's textjobs.json (None when it is not a JSON object)."""
    try:
        info = json.loads(storage.read_bytes(storage.join(version, EXPORT_INFO)))
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


def version_kind(version: str | Path, names: set[str]) -> Kind | None:
    """The artifact kind of the version at `version`, whose files are `names`; None unless complete."""
    if EXPORT_INFO in names:
        info = read_info(version)
        kind = kind_of(info) if info is not None else None
        return kind if kind is not None and kind.complete(names) else None
    if not storage.is_remote(version) and SAVED_MODEL.complete(names):
        return SAVED_MODEL  # an export from before textjobs.json, renamed into place whole
    return None


def is_complete(version: str | Path) -> bool:
    return version_kind(version, set(storage.list_names(version))) is not None


def _by_version(names: list[str]) -> dict[str, set[str]]:
    """Names under an export root, grouped by version number, relative to their version."""
    groups: dict[str, set[str]] = {}
    for name in names:
        head, _, rest = name.partition("/")
        if head.isdigit() and rest:
            groups.setdefault(head, set()).add(rest)
    return groups


def complete_versions(root: str | Path) -> list[str]:
    """The complete versions under `root`, oldest first."""
    groups = _by_version(storage.list_names(root))
    return [v for v in sorted(groups, key=int) if version_kind(storage.join(root, v), groups[v])]


def newest_complete(root: str | Path) -> str | None:
    """The newest complete version under `root` (its location), or None."""
    return _newest(root, storage.list_names(root))


def _newest(root: str | Path, names: list[str]) -> str | None:
    # Reads only as many textjobs.json as it takes: the newest version is usually complete.
    groups = _by_version(names)
    for version in sorted(groups, key=int, reverse=True):
        location = storage.join(root, version)
        if version_kind(location, groups[version]):
            return location
    return None


def resolve_version(model: str, cache: Path) -> Path:
    """A local directory holding one complete version: `model` itself when it is a version
    directory, else the newest complete version under it (downloaded when in a bucket)."""
    names = storage.list_names(model)
    if version_kind(model, set(names)) is not None:
        return storage.local_tree(model, cache / "model")
    newest = _newest(model, names)
    if newest is None:
        raise NoVersionError(
            f"no complete export version under {model} (expected {storage.join(model, '<version>')} holding "
            f"{EXPORT_INFO} and its artifact's files, e.g. {SAVED_MODEL.required[0]})"
        )
    return storage.local_tree(newest, cache / "model")
