"""The run directory: where one run reads and writes, locally and in the bucket.

    <modelDir>/checkpoints/         newest checkpoints
    <modelDir>/logs/                TensorBoard summaries (uploaded at each epoch end)
    <modelDir>/<task assets>        e.g. vocab.json: fixed at the first start so resumes agree
    <modelDir>/metrics.json         per-epoch history, final metrics, timing
    <modelDir>/best.weights.h5      the best epoch's weights (exportBest)
    <modelDir>/starts.json          the restart budget's count (restarts.py)
    <modelDir>/export.json          the version this run published, so a restart reuses it
    <modelDir>/export-pending.json  only while an export is being written (export.py)
    <exportDir>/<version>/          export versions

When modelDir is in a bucket, the process works in a local scratch copy and mirrors each durable
file to the bucket. Every write is staged under a temporary name and renamed (locally) or uploaded
whole, with its commit marker last (bucket).

Cleaning after an interrupted write goes by what the run knows it wrote, never by a name pattern
over a directory it shares with anyone (modelDir and exportDir may be a user's directory, or a
bucket's root holding other runs): `clean_leftovers` removes TensorFlow's own leftovers inside the
run's checkpoints directory (which only the run writes) and the staging copies of the run's own
files by their exact names; an interrupted export is settled from its marker
(export.finish_pending). Nothing in a bucket is deleted here.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from trainers.runtime import storage
from trainers.runtime.errors import ConfigError, StorageError
from trainers.runtime.export import PENDING_FILE, RECORD_FILE
from trainers.runtime.restarts import LEDGER

BEST_WEIGHTS_FILE = "best.weights.h5"
METRICS_FILE = "metrics.json"
# What an interrupted save leaves in the checkpoints directory: TensorFlow's sharded-save directory
# (ckpt-7_temp/), its atomic writes (ckpt-7.index.tempstate<n>, checkpoint.tmp<hex>) and our
# staging copy of the bucket's state file.
CHECKPOINT_LEFTOVER = re.compile(
    r"^(ckpt-\d+_temp|ckpt-\d+\..+\.tempstate\d+|checkpoint\.tmp[0-9a-f]+|\.tmp-remote-state)$"
)


class Run:
    """Paths of one run, for one process (the chief, or a worker with its own scratch space)."""

    def __init__(self, cfg, role_name: str, assets_file: str):
        self.run_name = cfg.run_name
        self.remote_model_dir = cfg.model_dir if storage.is_remote(cfg.model_dir) else None
        self.remote_export_dir = cfg.export_dir if storage.is_remote(cfg.export_dir) else None
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

    def check_writable(self, probe_buckets: bool = True) -> None:
        """Fail before training, not after it, when an output location cannot be written: the local
        directories (checked without creating anything) and, with `probe_buckets` (the chief), the
        bucket locations, by writing and deleting one probe object under each."""
        for key, local, remote in (
            ("modelDir", self.model_dir, self.remote_model_dir),
            ("exportDir", self.export_dir, self.remote_export_dir),
        ):
            try:
                storage.check_writable(local, probe="")
            except StorageError as exc:
                raise ConfigError(f"{key}: {exc}") from None
            if remote and probe_buckets:
                try:
                    storage.check_writable(remote, probe=f".textjobs-write-probe-{self.run_name}")
                except StorageError as exc:
                    raise type(exc)(f"{key}: {exc}") from None

    def own_staging_files(self) -> list[Path]:
        """The staging copies of the run's own files, by exact name: write_json_atomically's
        `<name>.tmp`, the best weights' `.tmp-<name>`, and a download's `<name>.partial`."""
        json_files = [self.assets, self.metrics, *(self.model_dir / n for n in (LEDGER, PENDING_FILE, RECORD_FILE))]
        staged = [p.with_name(p.name + ".tmp") for p in json_files]
        staged.append(self.best_weights.with_name(".tmp-" + self.best_weights.name))
        if self.remote_model_dir:  # pulled from the bucket into this scratch copy
            staged += [p.with_name(p.name + ".partial") for p in (*json_files, self.best_weights)]
        return staged

    def clean_leftovers(self) -> list[str]:
        """Remove what interrupted writes of this run left locally; returns what went."""
        found = [p for p in self.own_staging_files() if p.is_file()]
        if self.checkpoints.is_dir():
            found += sorted(p for p in self.checkpoints.iterdir() if CHECKPOINT_LEFTOVER.match(p.name))
        for path in found:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return [str(p) for p in found]
