"""`make runs` / `make compare EXP=...`: the tracked runs as a table, sortable by a metric.

Each row is one run: experiment, run name, status, then the parameters that differ between the
listed runs (or the ones asked for with --params), then the final metrics (each metric's last
value; timing/ and final/ copies left out). Sorting by a loss is ascending, by anything else
descending, unless --ascending/--descending says otherwise; runs without the metric come last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SKIPPED_METRIC_PREFIXES = ("timing/", "final/")
ALWAYS_SHOWN = ("modelType",)


@dataclass
class Row:
    experiment: str
    run: str
    status: str
    started: int
    params: dict[str, str]
    metrics: dict[str, float]


def fetch(uri: str, experiments: list[str] | None = None, limit: int = 1000) -> list[Row]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.search_experiments()
    wanted = [e for e in found if experiments is None or e.name in experiments]
    missing = sorted(set(experiments or []) - {e.name for e in found})
    if missing:
        known = ", ".join(sorted(e.name for e in found if e.name != "Default")) or "none yet"
        raise LookupError(f"no experiment {', '.join(missing)} on {uri} (experiments: {known})")
    names = {e.experiment_id: e.name for e in wanted}
    if not names:
        return []
    runs = client.search_runs(list(names), max_results=limit, order_by=["attributes.start_time DESC"])
    return [
        Row(
            names[run.info.experiment_id],
            run.info.run_name or run.info.run_id,
            run.info.status,
            run.info.start_time or 0,
            dict(run.data.params),
            {k: v for k, v in run.data.metrics.items() if not k.startswith(SKIPPED_METRIC_PREFIXES)},
        )
        for run in runs
    ]


def sort_rows(rows: list[Row], metric: str | None, ascending: bool | None) -> list[Row]:
    if not metric:
        return rows
    up = metric.endswith("loss") if ascending is None else ascending
    present = [r for r in rows if isinstance(r.metrics.get(metric), float) and not math.isnan(r.metrics[metric])]
    absent = [r for r in rows if r not in present]
    return sorted(present, key=lambda r: r.metrics[metric], reverse=not up) + absent


def differing_params(rows: list[Row]) -> list[str]:
    keys = sorted({k for r in rows for k in r.params})
    varied = [k for k in keys if len({r.params.get(k) for r in rows}) > 1 and not k.startswith("tracking")]
    return [k for k in ALWAYS_SHOWN if any(k in r.params for r in rows)] + [k for k in varied if k not in ALWAYS_SHOWN]


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value in (None, "") else str(value)


def table(rows: list[Row], params: list[str] | None = None) -> str:
    if not rows:
        return "no runs yet"
    shown_params = params if params is not None else differing_params(rows)
    metrics = sorted({k for r in rows for k in r.metrics}, key=lambda k: (k.startswith("val_") is False, k))
    header = ["experiment", "run", "status", *shown_params, *metrics]
    body = [
        [r.experiment, r.run, r.status, *(r.params.get(p) for p in shown_params), *(r.metrics.get(m) for m in metrics)]
        for r in rows
    ]
    cells = [header] + [[_cell(v) for v in line] for line in body]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
