"""The run's record of finished report periods: metrics.json, and the sinks each row goes to.

Each period appears exactly once. A row is written after the checkpoint that ends its period, and
a start truncates the history to the periods that its restored checkpoint has finished, so a crash
between the two never leaves a row for training the checkpoint does not hold. When the checkpoint
ends a period whose row is missing (the process died, or was preempted, right after that
checkpoint), the trainer records the row on the next start from the period totals the checkpoint
carries. Rows are replaced by period number, never appended twice.

metrics.json is what resume reads back, so a failure to write it stops the run (with the storage
error's exit code); the sinks (Katib line, TensorBoard, tracking) are failure-isolated.
"""

from __future__ import annotations

import json

from trainers.runtime.reporting.files import write_json_atomically
from trainers.runtime.reporting.sinks import Sinks


class History:
    def __init__(self, run, cfg, sinks: Sinks | None = None):
        self.run = run
        self.cfg = cfg
        self.sinks = sinks if sinks is not None else Sinks([], print)
        self.rows: list[dict] = []

    def load(self, completed_epochs: int) -> None:
        """Earlier periods' rows (from the bucket when this pod's scratch space is new), up to
        the periods that the restored checkpoint has finished."""
        if not self.run.pull(self.run.metrics):
            self.rows = []
            return
        rows = json.loads(self.run.metrics.read_text()).get("history", [])
        by_epoch = {row["epoch"]: row for row in rows if row["epoch"] <= completed_epochs}
        self.rows = [by_epoch[e] for e in sorted(by_epoch)]

    def has(self, epoch: int) -> bool:
        return any(row["epoch"] == epoch for row in self.rows)

    @property
    def last_epoch(self) -> int | None:
        return self.rows[-1]["epoch"] if self.rows else None

    def record(self, row: dict, timing: dict) -> None:
        """Add (or replace) one period's row: the sinks, then metrics.json."""
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        self.sinks.epoch(row, timing)
        self.write(timing)

    def summary(self, timing: dict, export_path: str | None = None, export_epoch: int | None = None) -> dict:
        return {
            "run_name": self.cfg.run_name,
            "model_type": self.cfg.model_type,
            "task": self.cfg.task_name,
            "history": self.rows,
            "final": self.rows[-1] if self.rows else {},
            "timing": timing,
            "export": export_path,
            "export_epoch": export_epoch,
        }

    def write(self, timing: dict, export_path: str | None = None, export_epoch: int | None = None) -> dict:
        summary = self.summary(timing, export_path, export_epoch)
        self.run.model_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.run.metrics, summary)
        self.run.push(self.run.metrics)
        return summary
