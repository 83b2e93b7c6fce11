"""exportBest: keep the weights of the epoch with the best validation accuracy and export those.

Model selection on a held-out set, as Kim 2014 and Zhao et al. 2018 report their numbers: the
last epoch of a net that has started to overfit is rarely its best. The chief (the only replica
that evaluates) saves the weights whenever val_accuracy improves, before the epoch's checkpoint,
so a restarted run never has a checkpoint newer than its best-weights file. The best score so far
comes from the run's history in metrics.json, so a resumed run keeps comparing against it.
Files are written beside a temporary name and renamed; the bucket copy is one object upload.
"""

from __future__ import annotations

import os

from trainers import storage

METRIC = "val_accuracy"


class BestEpoch:
    def __init__(self, run, enabled: bool, history: list[dict]):
        self.run = run
        self.enabled = enabled
        scored = [row for row in history if METRIC in row]
        self.best = max(scored, key=lambda row: row[METRIC]) if scored else None

    def offer(self, model, row: dict) -> bool:
        """Save the model's weights when this epoch's row beats the best so far."""
        if not self.enabled or METRIC not in row or (self.best and row[METRIC] <= self.best[METRIC]):
            return False
        path = self.run.best_weights
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(".tmp-" + path.name)  # Keras wants the .weights.h5 suffix kept
        model.save_weights(str(staging))
        os.replace(staging, path)
        remote = self.run.remote(path)
        if remote:
            storage.upload_file(path, remote)
        self.best = row
        return True

    def restore(self, model) -> dict | None:
        """Load the best epoch's weights into the model; returns its history row (None: keep last)."""
        if not self.enabled or self.best is None or not self.run.pull(self.run.best_weights):
            return None
        model.load_weights(str(self.run.best_weights))
        return self.best
