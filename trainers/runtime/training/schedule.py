"""Steps, data epochs and report periods, and their boundaries.

A data epoch is one pass over the training data (`steps_per_epoch`, from the task's input). A
report period is what gets one row in metrics.json, one Katib line, one validation and one
checkpoint at its end: a data epoch by default, or `evalEvery` steps when that is set (a corpus
whose epoch takes hours still reports every so often). Rows and Katib lines call the period
`epoch`, so nothing downstream changes when evalEvery is unset. The last period may be short
(trainSteps).
"""

from __future__ import annotations

import math


class Schedule:
    def __init__(self, steps_per_epoch: int, num_epochs: int, train_steps: int, eval_every: int = 0):
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.total = train_steps or num_epochs * self.steps_per_epoch
        self.period_steps = eval_every or self.steps_per_epoch
        self.epochs = math.ceil(self.total / self.period_steps)  # report periods

    # -- report periods ("epochs" in rows and Katib lines) --------------------------------------

    def epoch_of(self, step: int) -> int:
        """0-based period that the next step after `step` belongs to."""
        return step // self.period_steps

    def epoch_start(self, epoch: int) -> int:
        return epoch * self.period_steps

    def epoch_end(self, epoch: int) -> int:
        return min((epoch + 1) * self.period_steps, self.total)

    def completed_epochs(self, step: int) -> int:
        return self.epochs if step >= self.total else step // self.period_steps

    def at_epoch_end(self, step: int) -> bool:
        return step > 0 and (step == self.total or step % self.period_steps == 0)

    # -- data epochs (what the input pipeline shuffles and resumes by) --------------------------

    def data_epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def data_position(self, step: int) -> tuple[int, int, int]:
        """(data epoch, steps of it already trained, the step at which it ends)."""
        epoch = step // self.steps_per_epoch
        return epoch, step - epoch * self.steps_per_epoch, (epoch + 1) * self.steps_per_epoch
