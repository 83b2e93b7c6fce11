"""The report sink interface (sinks.py lists the sinks): its own module so that a sink living in
a package of its own (tracking/) imports it without importing the list that imports that sink."""

from __future__ import annotations


def katib_line(epoch: int, metrics: dict[str, float]) -> str:
    pairs = " ".join(f"{name}={value:.6g}" for name, value in metrics.items())
    return f"epoch={epoch} {pairs}"


def row_values(row: dict) -> dict[str, float]:
    return {k: v for k, v in row.items() if k not in ("epoch", "step")}


class Sink:
    name = "sink"

    def start(self, rows: list[dict]) -> None:
        pass

    def epoch(self, row: dict, timing: dict) -> None:
        pass

    def finish(self, summary: dict) -> None:
        pass
