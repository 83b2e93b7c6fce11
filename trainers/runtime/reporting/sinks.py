"""Sinks: where each report period's row goes besides metrics.json, each failure-isolated.

metrics.json is the run's own record (resume reads it back, reporting/history.py), so a failure
to write it stops the run with its storage exit code. Everything else is a sink: the Katib line on
stdout, TensorBoard scalars, and any sink a factory in `FACTORIES` adds (a tracking server). A sink
that fails costs a warning, never the training: the row is already safe in metrics.json, and
TensorBoard's event files are re-uploaded whole at the next period.

    start(rows)            the rows a resumed run has already recorded (a sink may catch up)
    epoch(row, timing)     one period's row: {"epoch", "step", metric: value, ...}
    finish(summary)        metrics.json's final content (final row, timing, export location)
"""

from __future__ import annotations

from collections.abc import Callable

from trainers.runtime.reporting import tracking
from trainers.runtime.reporting.sink import Sink, katib_line, row_values

__all__ = ["FACTORIES", "KatibLine", "Sink", "Sinks", "TensorBoard", "katib_line", "row_values"]


class KatibLine(Sink):
    """`epoch=N name=value ...` on stdout, which Katib's StdOut metrics collector reads."""

    name = "katib"

    def epoch(self, row: dict, timing: dict) -> None:
        print(katib_line(row["epoch"], row_values(row)), flush=True)


class TensorBoard(Sink):
    """Scalars in <modelDir>/logs, mirrored to the bucket after each period."""

    name = "tensorboard"

    def __init__(self, run):
        self.run = run
        self._writer = None

    def epoch(self, row: dict, timing: dict) -> None:
        import tensorflow as tf

        if self._writer is None:  # created on first use: a failed start leaves no event file
            self._writer = tf.summary.create_file_writer(str(self.run.logs))
        with self._writer.as_default():
            for name, value in row_values(row).items():
                tf.summary.scalar(name, value, step=row["step"])
        self._writer.flush()
        self.run.push_logs()


# (cfg, run, say) -> Sink | None, in the order rows reach them.
Factory = Callable[[object, object, Callable[[str], None]], Sink | None]
FACTORIES: list[Factory] = [
    lambda cfg, run, say: KatibLine(),
    lambda cfg, run, say: TensorBoard(run),
    tracking.factory,  # MLflow, when trackingUri is set
]


class Sinks:
    """Every sink of a run; each call isolated, so one broken sink never stops the others."""

    def __init__(self, sinks: list[Sink], say: Callable[[str], None]):
        self.sinks = sinks
        self.say = say

    @classmethod
    def for_run(cls, cfg, run, say) -> Sinks:
        made = (factory(cfg, run, say) for factory in FACTORIES)
        return cls([s for s in made if s is not None], say)

    def _each(self, method: str, *args) -> None:
        for sink in self.sinks:
            try:
                getattr(sink, method)(*args)
            except Exception as exc:  # noqa: BLE001 - isolation is the point; the row is safe in metrics.json
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                self.say(f"warning: {sink.name} sink failed in {method} ({first}); training goes on")

    def start(self, rows: list[dict]) -> None:
        self._each("start", rows)

    def epoch(self, row: dict, timing: dict) -> None:
        self._each("epoch", row, timing)

    def finish(self, summary: dict) -> None:
        self._each("finish", summary)
