"""Outputs owned by their run: an experiment writes only under its own run path.

`modelDir` (checkpoints, logs, metrics) and `exportDir` (the SavedModel versions a server picks
up) must lie in a bucket, under `<scheme>://<bucket>/runs/<its TFJob name>` (platform/allowlist.yaml:
outputs): another experiment's run path would resume and overwrite its checkpoints or publish a
model as its newest export; the bucket root would mix every run; a local path lives in the pod's
scratch emptyDir and vanishes with it. Across experiments, no two share a directory or nest one in
the other. Judged on the trainer's own resolved configuration (defaults filled in), for every
replica of every job and every trial corner of a search.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from scripts.manifests import Rendered
from scripts.policy import platform
from scripts.policy.trainer_config import first_per_problem, judged
from scripts.policy.violation import Violation, describe

URL = re.compile(r"^([a-z][a-z0-9+.-]*)://([^/]+)(/.*)?$")


def _parts(url: str) -> tuple[str, str, tuple[str, ...]] | None:
    match = URL.match(url.strip())
    if not match:
        return None
    path = tuple(p for p in (match[3] or "").split("/") if p)
    return match[1], match[2], path


def _under(path: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
    return path[: len(prefix)] == prefix


def output_problem(key: str, url: str, job: str, allowlist: platform.Allowlist) -> str | None:
    run = tuple(p for p in allowlist.output_run.replace("{job}", job).split("/") if p)
    parts = _parts(url)
    if parts is None:
        return (
            f"{key}={url!r} is a path inside the pod (its scratch emptyDir vanishes with the pod, and "
            f"nothing is kept): set bucket (or {key}) to a bucket URL"
        )
    scheme, bucket, path = parts
    if scheme not in allowlist.output_schemes:
        return f"{key}={url!r}: scheme {scheme!r} is not one of {', '.join(allowlist.output_schemes)}"
    if any(p in (".", "..") for p in path):
        return f"{key}={url!r}: '.' and '..' are not allowed in an output path"
    if not _under(path, run):
        where = f"{scheme}://{bucket}/{'/'.join(run)}"
        return (
            f"{key}={url!r} is outside this run's own path {where}: it would overwrite another run's checkpoints or "
            f"exports (or every run's, at the bucket root); unset {key} or put it under {where}/"
        )
    return None


def rule_own_run_path(r: Rendered, root: Path) -> Iterator[Violation]:
    yield from first_per_problem(_own(r, root))


def _own(r: Rendered, root: Path) -> Iterator[Violation]:
    allowlist = platform.allowlist(root)
    for j in judged(r, root):
        if j.config is None:
            continue
        job = str((j.container.pod.job.doc.get("metadata") or {}).get("name", ""))
        for key, url in (("modelDir", j.config.model_dir), ("exportDir", j.config.export_dir)):
            problem = output_problem(key, str(url), job, allowlist)
            if problem:
                source = j.config.sources.get(key, "default")
                yield Violation(
                    r.name,
                    j.name or describe(j.container.pod.job.doc),
                    f"{j.container.field}.env",
                    f"{source}: {problem}",
                )


def output_directories(r: Rendered, root: Path) -> dict[str, str]:
    """Each output directory of the render's own jobs (not search trials) -> what it is."""
    found = {}
    for j in judged(r, root):
        if j.config is None or j.name:
            continue
        for key in ("model_dir", "export_dir"):
            found[str(getattr(j.config, key)).rstrip("/")] = f"{key} of {describe(j.container.pod.job.doc)}"
    return found


def rule_no_shared_outputs(experiments: list[Rendered], root: Path) -> Iterator[Violation]:
    """No two experiments write to one directory, or one inside the other's."""
    seen: list[tuple[str, str, str]] = []  # (url, kustomization, what)
    allowlist = platform.allowlist(root)
    for r in experiments:
        for url, what in output_directories(r, root).items():
            job = what.split(" of TFJob ", 1)[-1]
            if output_problem("output", url, job, allowlist):
                continue  # outside its own run path: rule_own_run_path reports it
            parts = _parts(url)
            for other_url, other, other_what in seen:
                other_parts = _parts(other_url)
                if other == r.name or parts is None or other_parts is None or parts[:2] != other_parts[:2]:
                    continue
                if _under(parts[2], other_parts[2]) or _under(other_parts[2], parts[2]):
                    yield Violation(
                        r.name,
                        what,
                        url,
                        f"shares its directory with {other_what} in {other} ({other_url}): each run writes only "
                        "under its own path; unset modelDir/exportDir",
                    )
            seen.append((url, r.name, what))
