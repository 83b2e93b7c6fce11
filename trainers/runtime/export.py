"""Export a servable SavedModel as a new, atomically visible version.

The task supplies a `tf.Module` whose `serve` is a `tf.function` with an input signature (raw
strings in, for text tasks) and any files to put beside `saved_model.pb`; the runtime adds
`textjobs.json` (task, model type, run, step, epoch), which `predict` and `evaluate` use to find
the task again. Versions are Unix timestamps under the export root, as TF Serving and KServe
expect.

Never visible half-written: locally the version is written to a hidden `.tmp-<version>` directory
and renamed into place. In a bucket, `saved_model.pb` is uploaded last and readers only select
versions that have it; a marker in the run directory (`export-pending.json`) names the version
being uploaded, so the next start deletes what a killed upload left and nothing else.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from trainers.runtime import faults, storage
from trainers.runtime.reporting import write_json_atomically
from trainers.runtime.versions import SAVED_MODEL

EXPORT_INFO = "textjobs.json"
PENDING_FILE = "export-pending.json"


def _new_version_dir(root: Path, remote_root: str | None) -> Path:
    version = int(time.time())
    taken = set()
    if remote_root:
        taken = {n.split("/")[0] for n in storage.list_names(remote_root)}
    while (root / str(version)).exists() or str(version) in taken:
        version += 1
    return root / str(version)


def write_version(
    module, files: dict[str, str], local_root: Path, remote_root: str | None, run, extra_signatures=None
) -> str:
    """Write a new version; returns its final location (local path or gs:// URI). `extra_signatures`
    (name -> tf.function with an input signature) are exported beside the module's own."""
    import tensorflow as tf

    local_root.mkdir(parents=True, exist_ok=True)
    final = _new_version_dir(local_root, remote_root)
    staging = local_root / f".tmp-{final.name}"
    shutil.rmtree(staging, ignore_errors=True)
    # A task may export several signatures (`signatures()`); `serve` is always serving_default.
    signatures = module.signatures() if callable(getattr(module, "signatures", None)) else {}
    signatures = {"serving_default": module.serve, **signatures, **(extra_signatures or {})}
    tf.saved_model.save(module, str(staging), signatures=signatures)
    for name, text in files.items():
        (staging / name).write_text(text)
    faults.point("export.staged")
    staging.rename(final)
    if remote_root is None:
        return str(final)
    remote = storage.join(remote_root, final.name)
    pending = run.model_dir / PENDING_FILE
    write_json_atomically(pending, {"uri": remote})
    run.push(pending)
    storage.upload_tree(final, remote, last=(SAVED_MODEL,), on_file=lambda _: faults.point("export.uploading"))
    finish_pending(run)
    return remote


def finish_pending(run) -> str | None:
    """Delete the bucket version that a killed upload left incomplete, and the marker naming it.
    Returns the removed URI (None when there was nothing to clean)."""
    pending = run.model_dir / PENDING_FILE
    if not run.pull(pending):
        return None
    uri = json.loads(pending.read_text())["uri"]
    removed = None
    if not storage.exists(storage.join(uri, SAVED_MODEL)):
        storage.delete_tree(uri)
        removed = uri
    remote_marker = run.remote(pending)
    if remote_marker:
        storage.delete(remote_marker)
    pending.unlink()
    return removed


def export_info(cfg, step: int, epoch: int | None) -> dict:
    """What `textjobs.json` says of a version: which task and run made it, from which step."""
    return {"task": cfg.task_name, "model_type": cfg.model_type, "run_name": cfg.run_name, "step": step, "epoch": epoch}
