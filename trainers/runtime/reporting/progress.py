"""Progress lines: step, loss, throughput and ETA every `logEvery` steps.

Katib's StdOut collector reads `name=value` pairs from the chief's stdout, so progress lines use
`name value` to stay out of the objective; only the epoch rows (sinks.KatibLine) use `=`.
"""

from __future__ import annotations

import statistics
import time


def format_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Tracks step times; prints step, throughput and ETA every `every` steps.

    Throughput is in examples/s, plus a task's own unit when it names one (tokens/s for
    sequence tasks): the median of (units in a step / the step's time)."""

    def __init__(self, total_steps: int, global_batch: int, every: int, start_step: int, printer=print, unit=None):
        self.total = total_steps
        self.global_batch = global_batch
        self.every = every
        self.printer = printer
        self.start_step = start_step
        self.unit = unit
        self.step_times: list[float] = []
        self.unit_rates: list[float] = []
        self._last = time.monotonic()

    def step_done(self, step: int, loss: float, epoch: int, epochs: int, units: float | None = None) -> None:
        now = time.monotonic()
        self.step_times.append(now - self._last)
        if units is not None:
            self.unit_rates.append(units / max(now - self._last, 1e-9))
        self._last = now
        if step % self.every and step != self.total:
            return
        timed = self.step_times[1:] or self.step_times  # the first step includes tracing
        rate = self.global_batch / statistics.median(timed)
        extra = f" {self._unit_rate():.0f} {self.unit}/s" if self.unit and self.unit_rates else ""
        eta = (self.total - step) * statistics.median(timed)
        self.printer(
            f"step {step}/{self.total} epoch {epoch}/{epochs} loss {loss:.4f} "
            f"{rate:.0f} examples/s{extra} ETA {format_duration(eta)}"
        )

    def _unit_rate(self) -> float:
        return statistics.median(self.unit_rates[1:] or self.unit_rates)

    def summary(self) -> dict[str, float]:
        timed = self.step_times[1:] or self.step_times
        if not timed:
            return {}
        median = statistics.median(timed)
        found = {
            "median_step_seconds": median,
            "examples_per_second": self.global_batch / median,
            "steps_timed": len(timed),
        }
        if self.unit and self.unit_rates:
            found[f"{self.unit}_per_second"] = self._unit_rate()
        return found
