"""A restart budget: stop a crash loop that the cluster would otherwise restart until its deadline.

Operator v1.9.4 restarts a replica that exits 128 or more (restartPolicy ExitCode) and never counts
those restarts against backoffLimit. A pod OOM-killed at the same step every time therefore loops
until activeDeadlineSeconds, hours later. The chief records, in the run directory (so in the bucket
too), the step it resumed from and how many starts in a row resumed from that same step. When that
count passes `maxStartsWithoutProgress`, the start fails with a permanent exit code and the job
fails at once. Any checkpoint at a later step resets the count, so preemptions of a job that makes
progress never use the budget up; a finished run resets it too.
"""

from __future__ import annotations

import json

from trainers.runtime.errors import CrashLoopError
from trainers.runtime.reporting import write_json_atomically

LEDGER = "starts.json"


class StartLedger:
    def __init__(self, run):
        self.run = run
        self.path = run.model_dir / LEDGER

    def _previous(self) -> dict:
        if not self.run.pull(self.path):
            return {}
        try:
            return json.loads(self.path.read_text())
        except ValueError:
            return {}  # a torn ledger costs one count, never the run

    def _write(self, step: int, starts: int) -> None:
        self.run.model_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.path, {"step": step, "starts": starts})
        self.run.push(self.path)

    def record_start(self, step: int, budget: int) -> int:
        """Count this start at `step`; raise CrashLoopError when it exceeds `budget` (0: no budget)."""
        previous = self._previous()
        starts = previous.get("starts", 0) + 1 if previous.get("step") == step else 1
        if budget and starts > budget:
            raise CrashLoopError(
                f"{starts} starts in a row resumed from step {step} without reaching a new checkpoint "
                f"(maxStartsWithoutProgress={budget}): a crash loop, for example an OOM kill at a fixed step; "
                f"fix the cause (kubectl describe pod: Last State), or raise the budget; {self.path.name} in "
                "modelDir holds the count"
            )
        self._write(step, starts)
        return starts

    def finished(self, step: int) -> None:
        self._write(step, 0)
