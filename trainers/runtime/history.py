"""The run's record of finished epochs: metrics.json, the Katib lines, TensorBoard.

Each epoch appears exactly once. A row is written after the checkpoint that ends its epoch, and a
start truncates the history to the epochs that its restored checkpoint has finished, so a crash
between the two never leaves a row for training the checkpoint does not hold. When the checkpoint
ends an epoch whose row is missing (the process died, or was preempted, right after that
checkpoint), the trainer records the row on the next start from the epoch totals the checkpoint
carries. Rows are replaced by epoch number, never appended twice.
"""

from __future__ import annotations

import json

from trainers.runtime.reporting import katib_line, write_json_atomically


class History:
    def __init__(self, run, cfg, is_chief: bool):
        self.run = run
        self.cfg = cfg
        self.is_chief = is_chief
        self.rows: list[dict] = []
        self._writer = None

    def load(self, completed_epochs: int) -> None:
        """Earlier epochs' rows (from the bucket when this pod's scratch space is new), up to
        the epochs that the restored checkpoint has finished."""
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
        """Add (or replace) one epoch's row: Katib line, TensorBoard scalars, metrics.json."""
        self.rows = [r for r in self.rows if r["epoch"] < row["epoch"]] + [row]
        values = {k: v for k, v in row.items() if k not in ("epoch", "step")}
        print(katib_line(row["epoch"], values), flush=True)
        self._scalars(row["step"], values)
        self.write(timing)

    def _scalars(self, step: int, values: dict) -> None:
        import tensorflow as tf

        if self._writer is None:  # created on first use: a failed start leaves no event file
            self._writer = tf.summary.create_file_writer(str(self.run.logs))
        with self._writer.as_default():
            for name, value in values.items():
                tf.summary.scalar(name, value, step=step)
        self._writer.flush()
        self.run.push_logs()

    def write(self, timing: dict, export_path: str | None = None, export_epoch: int | None = None) -> None:
        summary = {
            "run_name": self.cfg.run_name,
            "model_type": self.cfg.model_type,
            "task": self.cfg.task_name,
            "history": self.rows,
            "final": self.rows[-1] if self.rows else {},
            "timing": timing,
            "export": export_path,
            "export_epoch": export_epoch,
        }
        self.run.model_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.run.metrics, summary)
        self.run.push(self.run.metrics)
