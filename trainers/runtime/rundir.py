"""The run directory: where one run reads and writes, locally and in the bucket.

    <modelDir>/checkpoints/       newest checkpoints
    <modelDir>/logs/              TensorBoard summaries (uploaded at each epoch end)
    <modelDir>/<task assets>      e.g. vocab.json: fixed at the first start so resumes agree
    <modelDir>/metrics.json       per-epoch history, final metrics, timing
    <modelDir>/best.weights.h5    the best epoch's weights (exportBest)
    <exportDir>/<version>/        SavedModels

When modelDir is gs://, the process works in a local scratch copy and mirrors each durable file
to the bucket. Every write is staged under a temporary name and renamed (locally) or uploaded
with its commit marker last (bucket); `clean_leftovers` removes what an interrupted write left.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from trainers.runtime import storage
from trainers.runtime.errors import ConfigError

BEST_WEIGHTS_FILE = "best.weights.h5"
METRICS_FILE = "metrics.json"
# What interrupted writes leave: TensorFlow's sharded-save directories (ckpt-7_temp) and atomic
# writes (checkpoint.tmp<hex>), our staging names (.tmp-*, *.tmp) and partial downloads.
LEFTOVER = re.compile(r"(_temp$|\.tmp[0-9a-f]*$|^\.tmp-|\.partial$)")


def is_leftover(name: str) -> bool:
    return bool(LEFTOVER.search(name))


class Run:
    """Paths of one run, for one process (the chief, or a worker with its own scratch space)."""

    def __init__(self, cfg, role_name: str, assets_file: str):
        self.remote_model_dir = cfg.model_dir if storage.is_gcs(cfg.model_dir) else None
        self.remote_export_dir = cfg.export_dir if storage.is_gcs(cfg.export_dir) else None
        self.scratch = Path(cfg.scratch_dir or tempfile.gettempdir()) / "textjobs" / cfg.run_name / role_name
        self.model_dir = self.scratch / "run" if self.remote_model_dir else Path(cfg.model_dir)
        self.export_dir = self.scratch / "export" if self.remote_export_dir else Path(cfg.export_dir)
        self.checkpoints = self.model_dir / "checkpoints"
        self.logs = self.model_dir / "logs"
        self.assets = self.model_dir / assets_file
        self.metrics = self.model_dir / METRICS_FILE
        self.best_weights = self.model_dir / BEST_WEIGHTS_FILE

    def remote(self, local: Path) -> str | None:
        """The bucket copy of a file of the run directory (None when the run is local)."""
        if not self.remote_model_dir:
            return None
        return storage.join(self.remote_model_dir, *local.relative_to(self.model_dir).parts)

    def pull(self, local: Path) -> bool:
        """Whether `local` (a file of the run directory) exists, fetched from the bucket's copy of
        the run when this pod's scratch space is new."""
        remote = self.remote(local)
        if not local.exists() and remote and storage.exists(remote):
            storage.download_file(remote, local)
        return local.exists()

    def push(self, local: Path) -> None:
        """Mirror one file of the run directory to the bucket (a no-op for local runs)."""
        remote = self.remote(local)
        if remote:
            storage.upload_file(local, remote)

    def push_logs(self) -> None:
        """Mirror TensorBoard's event files; they grow, so each upload replaces the whole file."""
        if self.remote_model_dir and self.logs.is_dir():
            for path in sorted(p for p in self.logs.rglob("*") if p.is_file()):
                self.push(path)

    def check_writable(self) -> None:
        """Fail before training, not after it, when a local output directory cannot be written."""
        for key, directory in (("modelDir", self.model_dir), ("exportDir", self.export_dir)):
            if not _writable(directory):
                raise ConfigError(f"{key}: cannot create or write {directory} (check the path and its permissions)")

    def clean_leftovers(self) -> list[str]:
        """Remove what interrupted writes left, locally and in the bucket; returns what went."""
        removed = []
        for root in {self.model_dir, self.export_dir}:
            if root.is_dir():
                for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
                    if is_leftover(path.name) and path.exists():
                        shutil.rmtree(path) if path.is_dir() else path.unlink()
                        removed.append(str(path))
        for remote in {self.remote_model_dir, self.remote_export_dir} - {None}:
            for name in storage.list_names(remote):
                if any(is_leftover(part) for part in name.split("/")):
                    storage.delete(storage.join(remote, name))
                    removed.append(storage.join(remote, name))
        return removed


def _writable(directory: Path) -> bool:
    """Whether `directory` exists writable, or could be created: checked on its nearest existing
    ancestor, so a failed start creates nothing."""
    path = directory.absolute()
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
