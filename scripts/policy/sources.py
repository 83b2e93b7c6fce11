"""What an experiment is built from: only files reviewed in this repository.

Argo CD renders each overlays/* directory itself. A remote resource (a URL, a git reference,
`file://`) or a path outside the repository would bring in manifests CI never saw, so every
reference in every kustomization of the tree is checked. A directory that kustomize cannot build
is not an experiment Argo CD can sync either: Argo CD applies its YAML files as they are.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import yaml

from scripts.manifests import SafeLoader, kustomization_file
from scripts.policy.violation import Violation

REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@|[\w.-]+\.(com|org|io|net|dev)/)", re.I)
PATH_LISTS = (
    "resources",
    "components",
    "bases",
    "crds",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "patchesStrategicMerge",
)


class KustomizationError(ValueError):
    """A kustomization file kustomize would refuse or misread; the message names file and line."""


def _list(value: object) -> list:
    """A field kustomize expects as a list; anything else fails in kustomize itself."""
    return value if isinstance(value, list) else []


def _generator_files(entries: object) -> Iterator[str]:
    for entry in _list(entries):
        if not isinstance(entry, dict):
            continue
        for key in ("files", "envs"):
            for item in _list(entry.get(key)):
                yield str(item).split("=", 1)[-1]
        if entry.get("env"):
            yield str(entry["env"])


def references(data: dict) -> Iterator[tuple[str, str]]:
    """(field, reference) for every path or URL a kustomization names."""
    for field in PATH_LISTS:
        for item in _list(data.get(field)):
            if isinstance(item, str):
                yield field, item
    for field in ("patches", "patchesJson6902", "replacements"):
        for item in _list(data.get(field)):
            if isinstance(item, dict) and item.get("path"):
                yield field, str(item["path"])
    for field in ("configMapGenerator", "secretGenerator"):
        yield from ((field, ref) for ref in _generator_files(data.get(field)))
    openapi = data.get("openapi")
    if isinstance(openapi, dict) and openapi.get("path"):
        yield "openapi", str(openapi["path"])
    for chart in _list(data.get("helmCharts")):
        yield "helmCharts", str(chart.get("repo") or chart.get("name")) if isinstance(chart, dict) else str(chart)


def load_kustomization(directory: Path) -> dict | None:
    """The kustomization in `directory` (under any of its three names), or None if there is none.
    Raises KustomizationError for YAML kustomize would refuse or read only in part."""
    path = kustomization_file(directory)
    if path is None:
        return None
    stat = path.stat()
    return copy.deepcopy(_parsed(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=1024)
def _parsed(path: Path, _mtime: int, _size: int) -> dict:
    """One parse per file version: every rule reads the same kustomizations."""
    try:
        documents = [d for d in yaml.load_all(path.read_text(errors="replace"), Loader=SafeLoader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise KustomizationError(f"{path.name}{line}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if len(documents) > 1:
        raise KustomizationError(
            f"{path.name}: {len(documents)} YAML documents; kustomize reads only the first and ignores the rest "
            "(a reviewer may read another): keep one document"
        )
    data = documents[0] if documents else {}
    if not isinstance(data, dict):
        raise KustomizationError(f"{path.name}: a kustomization is a mapping of fields, not a {type(data).__name__}")
    return data


def try_load_kustomization(directory: Path) -> dict | None:
    """As load_kustomization, with a broken file read as empty (check_tree reports it)."""
    try:
        return load_kustomization(directory)
    except KustomizationError:
        return {}


def shown(path: Path, root: Path) -> str:
    """Relative to the repository when inside it (throw-away experiments of `make run` may not be)."""
    return str(path) if _outside(path, root) else str(path.relative_to(root.resolve()))


def local_references(directory: Path, recursive: bool = False, _seen: set | None = None) -> list[tuple[str, Path]]:
    """Local directories/files a kustomization references (remote ones skipped), optionally the whole tree."""
    data = try_load_kustomization(directory)
    if data is None:
        return []
    found = []
    seen = _seen if _seen is not None else set()
    for field, ref in references(data):
        if REMOTE.match(ref) or field == "helmCharts":
            continue
        target = (directory / ref).resolve()
        found.append((field, target))
        if recursive and target.is_dir() and target not in seen:
            seen.add(target)
            found += local_references(target, True, seen)
    return found


def _outside(target: Path, root: Path) -> bool:
    try:
        target.relative_to(root.resolve())
        return False
    except ValueError:
        return True


def check_tree(name: str, root: Path) -> list[Violation]:
    """Refuse remote and outside-the-repository references anywhere in `name`'s kustomization tree."""
    problems = []
    pending, seen = [(root / name).resolve()], set()
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue
        seen.add(directory)
        try:
            data = load_kustomization(directory)
        except KustomizationError as exc:
            problems.append(Violation(name, shown(directory, root), "kustomization", str(exc)))
            continue
        if data is None:
            continue
        where = shown(kustomization_file(directory), root)
        for field, ref in references(data):
            if field == "helmCharts":
                problems.append(
                    Violation(
                        name,
                        where,
                        field,
                        f"{ref!r}: Helm charts are fetched at render time; vendor the rendered manifests into the repository",
                    )
                )
            elif REMOTE.match(ref) or ref.startswith("file:"):
                problems.append(
                    Violation(
                        name,
                        where,
                        f"{field}[{ref}]",
                        "remote resource: CI must review what Argo CD renders; copy it into the repository (components/ or base/)",
                    )
                )
            elif Path(ref).is_absolute() or _outside((directory / ref).resolve(), root):
                problems.append(
                    Violation(
                        name,
                        where,
                        f"{field}[{ref}]",
                        "points outside the repository; Argo CD cannot render it and CI cannot review it: move it into the repository",
                    )
                )
            elif (directory / ref).is_dir():
                pending.append((directory / ref).resolve())
    return problems


# Directories whose every subdirectory is an Argo CD Application (argocd/*applicationset.yaml).
APPLICATION_PARENTS = ("overlays", "platform", "serving/models", "serving/apps")


def applications(root: Path) -> tuple[list[str], list[Violation]]:
    """Every directory under an APPLICATION_PARENTS directory is an Argo CD Application; each must
    be a kustomization."""
    names, problems = [], []
    directories = [p for parent in APPLICATION_PARENTS if (root / parent).is_dir() for p in (root / parent).iterdir()]
    for directory in sorted(p for p in directories if p.is_dir()):
        relative = str(directory.relative_to(root))
        if kustomization_file(directory) is None:
            problems.append(
                Violation(
                    relative,
                    "directory",
                    "kustomization.yaml",
                    f"missing: Argo CD would apply this directory's YAML files as plain manifests, unvalidated; add a kustomization.yaml or move the directory out of {directory.parent.relative_to(root)}/",
                )
            )
        else:
            names.append(relative)
    return names, problems
