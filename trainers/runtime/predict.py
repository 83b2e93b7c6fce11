"""`python -m trainers predict --model DIR TEXT...`: run an export on raw texts.

DIR is an export root (the newest complete version is used) or one version directory, local or
gs://. The export's `textjobs.json` names the task, which formats the answer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path

from trainers.runtime.artifacts import EXPORT_INFO, LEGACY_KIND
from trainers.runtime.errors import RunError, report
from trainers.runtime.versions import resolve_version


def export_task(version_dir: Path, registry):
    """(task, info) of an export; info["artifact"] is its artifact kind. Exports made before
    textjobs.json existed are classifiers."""
    info_file = version_dir / EXPORT_INFO
    info = json.loads(info_file.read_text()) if info_file.exists() else {"task": "classify"}
    info.setdefault("artifact", LEGACY_KIND)  # exports from before artifact kinds hold a SavedModel
    task = registry.by_name(info.get("task", ""))
    if task is None:
        raise RunError(f"{version_dir}: export of task {info.get('task')!r}, which this trainer does not know")
    return task, info


@contextlib.contextmanager
def opened_export(model: str, registry):
    """(version directory, task, textjobs.json, scratch directory) of the newest complete version."""
    with tempfile.TemporaryDirectory() as cache:
        version_dir = resolve_version(model, Path(cache))
        task, info = export_task(version_dir, registry)
        yield version_dir, task, info, Path(cache)


def export_parser(command: str, doc: str, json_help: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m trainers {command}", description=doc.splitlines()[0])
    parser.add_argument("--model", required=True, help="export root or version directory (local, gs:// or s3://)")
    parser.add_argument("--json", action="store_true", help=json_help)
    return parser


def main(argv: list[str], registry) -> int:
    parser = export_parser("predict", __doc__, "print JSON instead of text")
    parser.add_argument("texts", nargs="+", help="input texts")
    args = parser.parse_args(argv)
    try:
        with opened_export(args.model, registry) as (version_dir, task, info, _):
            print(task.predict(version_dir, info, args.texts, args.json))
    except RunError as exc:
        return report(exc)
    return 0
