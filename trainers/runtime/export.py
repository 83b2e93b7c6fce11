"""Export a new version atomically, once per trained state.

The task supplies the artifact (a writer of a declared kind, artifacts.py: a SavedModel of its
serving module today) and any files to put beside it; the runtime adds `textjobs.json` (task,
model type, run, step, epoch and the artifact's kind), which `predict` and `evaluate` use to find
the task again. Versions are Unix timestamps under the export root, as TF Serving and KServe
expect.

Never visible half-written: the version is written to a hidden `.tmp-<version>` directory,
`textjobs.json` last, and renamed into place; in a bucket `textjobs.json` is the last object
uploaded, after the kind's required files, and readers select only complete versions
(versions.py).

Never cleaned by guesswork: before anything is written, a marker in the run directory
(`export-pending.json`, mirrored to the bucket) names the staging directory, the version and its
bucket location. The next start (`finish_pending`) deletes exactly what that marker names when the
version is incomplete, and nothing else; a user's files beside the versions are never touched.

Never twice: when a version is complete, `export.json` in the run directory records it with a
digest of its content (kind, textjobs.json, the task's files, the model's weights). A restart of a finished run, or a
start after a kill that came after the rename or the upload, finds the same content already
published and reuses that version instead of adding an identical one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainers.runtime import faults, storage, versions
from trainers.runtime.artifacts import EXPORT_INFO, ArtifactWriter
from trainers.runtime.reporting import write_json_atomically

__all__ = [
    "EXPORT_INFO",
    "Export",
    "export_info",
    "finish_pending",
    "published",
    "take_part",
    "weights_digest",
    "write_version",
]

PENDING_FILE = "export-pending.json"
RECORD_FILE = "export.json"
STAGING_PREFIX = ".tmp-"


@dataclass
class Export:
    """One export's content: the artifact's writer, textjobs.json's fields, the task's files."""

    writer: ArtifactWriter
    info: dict
    files: dict[str, str]
    # What the artifact is made of (weights_digest of the model): the same step of a retrained
    # run directory is other content.
    state: str = ""

    @property
    def info_text(self) -> str:
        return json.dumps({**self.info, "artifact": self.writer.kind.name}, indent=2)

    @property
    def digest(self) -> str:
        """The same trained state exported the same way gives the same digest."""
        content = {"kind": self.writer.kind.name, EXPORT_INFO: self.info_text, "files": self.files, "state": self.state}
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def weights_digest(model) -> str:
    """A digest of a Keras model's weights (names, shapes, values): cheap beside writing an export."""
    digest = hashlib.sha256()
    for variable in model.weights:
        value = np.asarray(variable.numpy())
        digest.update(f"{variable.path}:{value.dtype}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


RUN_FILE = "textjobs-run.json"


def run_file(cfg, assets: dict) -> dict[str, str]:
    """`textjobs-run.json` beside the artifact: the keys the run was given (defaults stay defaults)
    and the run's assets (vocabularies, labels), so the model can be rebuilt from the export alone
    (rebuild.py: optimize, initFrom) and a TFLite artifact can tokenize outside its graph."""
    given = {key: text for key, text in cfg.texts.items() if cfg.sources.get(key, "default") != "default"}
    given["modelType"] = cfg.model_type
    return {RUN_FILE: json.dumps({"config": given, "assets": assets}, indent=1, sort_keys=True)}


def export_info(cfg, step: int, epoch: int | None) -> dict:
    """What `textjobs.json` says of a version: which task and run made it, from which step."""
    return {"task": cfg.task_name, "model_type": cfg.model_type, "run_name": cfg.run_name, "step": step, "epoch": epoch}


def _export_root(run) -> str:
    return run.remote_export_dir or str(run.export_dir)


def _read_json(run, name: str) -> dict | None:
    path = run.model_dir / name
    if not run.pull(path):
        return None
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _write_json(run, name: str, data: dict) -> None:
    run.model_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(run.model_dir / name, data)
    run.push(run.model_dir / name)


def _clear_pending(run) -> None:
    pending = run.model_dir / PENDING_FILE
    remote = run.remote(pending)
    if remote:
        storage.delete(remote)
    pending.unlink(missing_ok=True)


def published(export: Export, run) -> str | None:
    """The location of the complete version this run already published with exactly this
    content under the current export root; None when there is none."""
    record = _read_json(run, RECORD_FILE)
    if not record or record.get("digest") != export.digest or record.get("root") != _export_root(run):
        return None
    location = record.get("location")
    return location if location and versions.is_complete(location) else None


def _record(run, location: str, digest: str) -> None:
    _write_json(run, RECORD_FILE, {"location": location, "root": _export_root(run), "digest": digest})


def _new_version_dir(root: Path, remote_root: str | None) -> Path:
    version = int(time.time())
    taken = set()
    if remote_root:
        taken = {n.split("/")[0] for n in storage.list_names(remote_root)}
    # A name whose staging directory exists is skipped too: whatever holds it is not ours to replace.
    while (root / str(version)).exists() or (root / f"{STAGING_PREFIX}{version}").exists() or str(version) in taken:
        version += 1
    return root / str(version)


def _stage(export: Export, staging: Path) -> None:
    export.writer.write(staging)
    for name, text in export.files.items():
        (staging / name).write_text(text)
    (staging / EXPORT_INFO).write_text(export.info_text)  # last: the version is complete with it


def write_version(export: Export, run) -> str:
    """Write a new version; returns its final location (local path or bucket URI)."""
    local_root, remote_root = run.export_dir, run.remote_export_dir
    local_root.mkdir(parents=True, exist_ok=True)
    final = _new_version_dir(local_root, remote_root)
    staging = local_root / f"{STAGING_PREFIX}{final.name}"
    remote = storage.join(remote_root, final.name) if remote_root else None
    marker = {"version": final.name, "staging": str(staging), "final": str(final), "remote": remote}
    _write_json(run, PENDING_FILE, {**marker, "digest": export.digest})
    try:
        with storage.guarded_write(f"the export {final}"):
            _stage(export, staging)
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)  # ours (the marker names it); frees a full disk
        raise
    faults.point("export.staged")
    staging.rename(final)
    faults.point("export.renamed")
    if remote:
        commit = (*export.writer.kind.required, EXPORT_INFO)
        storage.upload_tree(final, remote, last=commit, on_file=lambda _: faults.point("export.uploading"))
    location = remote or str(final)
    _record(run, location, export.digest)
    _clear_pending(run)
    return location


def take_part(export: Export, run) -> None:
    """A worker's share of the export: MultiWorkerMirroredStrategy wants every worker to take part
    in saving, so a worker writes the same version into its own scratch space. It skips exactly
    when the chief does (the run already published this content)."""
    if published(export, run) is not None:
        return
    root = run.scratch / "worker-export"
    root.mkdir(parents=True, exist_ok=True)
    final = _new_version_dir(root, None)
    staging = root / f"{STAGING_PREFIX}{final.name}"
    _stage(export, staging)
    staging.rename(final)


def finish_pending(run) -> str | None:
    """Settle what an interrupted export left, from its marker alone: a complete version is
    recorded as this run's; an incomplete one is deleted (exactly the staging directory, local
    copy and bucket prefix the marker names). Returns what was removed, or None."""
    marker = _read_json(run, PENDING_FILE)
    if marker is None:
        (run.model_dir / PENDING_FILE).unlink(missing_ok=True)  # unreadable: names nothing to delete
        return None
    remote = marker.get("remote") or marker.get("uri")  # "uri": markers of the first release
    location = remote or marker.get("final")
    removed = []
    if location and versions.is_complete(location):
        if marker.get("digest"):
            _record(run, location, marker["digest"])
    else:
        local = [marker.get("staging"), marker.get("final")]
        for path in (Path(p) for p in local if p):
            if path.is_dir():
                shutil.rmtree(path)
                removed.append(str(path))
        if remote and storage.list_names(remote):
            storage.delete_tree(remote)
            removed.append(remote)
    _clear_pending(run)
    return ", ".join(removed) or None
