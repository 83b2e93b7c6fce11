"""exportBest: keep the weights of the epoch with the best validation score and export those.

Model selection on a held-out set: the last epoch of a net that has started to overfit is rarely
its best. The task names the score (`best_metric`, e.g. val_accuracy) and whether higher is better.
The chief (the only process that evaluates) saves the weights whenever the score improves, after
the epoch's checkpoint and before its row in metrics.json: a crash in between re-records the
epoch on the next start, from the same weights, and offers them again. The best score so far
comes from the run's history, so a resumed run keeps comparing against it. The file is written
under a temporary name and renamed; the bucket copy is one object upload.
"""

from __future__ import annotations

import os

from trainers.runtime import faults


class BestEpoch:
    def __init__(self, run, enabled: bool, metric: str, higher_is_better: bool):
        self.run = run
        self.enabled = enabled
        self.metric = metric
        self.sign = 1.0 if higher_is_better else -1.0
        self.best: dict | None = None

    def reset(self, history: list[dict]) -> None:
        scored = [row for row in history if self.metric in row]
        self.best = max(scored, key=lambda row: self.sign * row[self.metric]) if scored else None

    def offer(self, model, row: dict) -> bool:
        """Save the model's weights when this epoch's row beats the best so far."""
        if not self.enabled or self.metric not in row:
            return False
        if self.best is not None and self.sign * row[self.metric] <= self.sign * self.best[self.metric]:
            return False
        path = self.run.best_weights
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(".tmp-" + path.name)  # Keras wants the .weights.h5 suffix kept
        model.save_weights(str(staging))
        os.replace(staging, path)
        self.run.push(path)
        faults.point("best.saved")
        self.best = row
        return True

    def restore(self, model) -> dict | None:
        """Load the best epoch's weights into the model; returns its history row (None: keep last)."""
        if not self.enabled or self.best is None or not self.run.pull(self.run.best_weights):
            return None
        model.load_weights(str(self.run.best_weights))
        return self.best
