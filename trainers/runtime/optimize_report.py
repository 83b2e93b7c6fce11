"""The optimize report: per artifact, size (bytes and gzip bytes), batch-1 latency p50/p90,
batch-32 throughput and the task's quality metric with its change from the SavedModel; as
report.md, report.json and report.png (quality against gzip size, point size by latency).

Latency is what a caller sees: raw texts in, the task's answer out (`Task.predictor`), so a
.tflite's tokenization (outside its graph) is counted as the SavedModel's (inside) is. Each figure
follows warm-up calls; the machine is whatever it is, so the numbers compare artifacts measured
in one sitting, not machines.
"""

from __future__ import annotations

import gzip
import json
import statistics
import time
from pathlib import Path

from trainers.runtime.artifacts import EXPORT_INFO
from trainers.runtime.lite.runner import LITE_FILE
from trainers.runtime.reporting import write_json_atomically

BATCH = 32
WARMUP = 3
THROUGHPUT_RUNS = 5
_SAVED_MODEL_FILES = ("saved_model.pb", "variables")


def artifact_files(kind: str, directory: Path) -> list[Path]:
    """The files that make the model itself (not the task's small side files)."""
    if kind == "saved_model":
        found = []
        for name in _SAVED_MODEL_FILES:
            path = directory / name
            found += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        return [p for p in found if p.exists()]
    return [directory / LITE_FILE]


def sizes(kind: str, directory: Path) -> tuple[int, int]:
    files = artifact_files(kind, directory)
    raw = sum(p.stat().st_size for p in files)
    packed = sum(len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in files)
    return raw, packed


def _texts(data, fallback: list[str]) -> list[str]:
    texts = getattr(data, "texts", None) or getattr(data, "sources", None) if data is not None else None
    return list(texts or fallback)


def timing(predict, texts: list[str], runs: int) -> dict[str, float]:
    one = [[texts[i % len(texts)]] for i in range(runs + WARMUP)]
    batch = [(texts * (BATCH // max(len(texts), 1) + 1))[:BATCH]]
    for row in one[:WARMUP]:
        predict(row)
    seconds = []
    for row in one[WARMUP:]:
        start = time.perf_counter()
        predict(row)
        seconds.append(time.perf_counter() - start)
    predict(batch[0])
    rates = []
    for _ in range(THROUGHPUT_RUNS):
        start = time.perf_counter()
        predict(batch[0])
        rates.append(BATCH / (time.perf_counter() - start))
    deciles = statistics.quantiles(seconds, n=10)
    return {
        "latency_p50_ms": 1000 * statistics.median(seconds),
        "latency_p90_ms": 1000 * deciles[8],
        "throughput_batch32": statistics.median(rates),
    }


def measure_all(task, cfg, artifacts, data_path, data, runs: int, say) -> list[dict]:
    fallback = ["the market rose sharply today", "rain is expected tomorrow"]
    texts = _texts(data, fallback)[:BATCH]
    rows = []
    for kind, directory, info in artifacts:
        raw, packed = sizes(kind if kind == "saved_model" else "tflite", directory)
        row = {"artifact": kind, "path": str(directory), "bytes": raw, "gzip_bytes": packed}
        row.update(timing(task.predictor(directory, info), texts, runs))
        if data_path is not None and task.quality_metric:
            results = task.evaluate_export(directory, info, data_path)
            row["quality"] = float(results[task.quality_metric])
        say(f"measured {kind}: {raw:,} bytes, p50 {row['latency_p50_ms']:.2f} ms")
        rows.append(row)
    base = rows[0]
    for row in rows:
        row["size_ratio"] = base["gzip_bytes"] / row["gzip_bytes"]
        row["speedup_batch1"] = base["latency_p50_ms"] / row["latency_p50_ms"]
        if "quality" in row:
            row["quality_change"] = row["quality"] - base["quality"]
    return rows


def markdown(rows: list[dict], metric: str, source: str) -> str:
    lines = [
        f"# optimize report: {source}",
        "",
        f"Quality metric: {metric or '(none)'}; latency: raw text in, answer out, batch 1; throughput: batch {BATCH}.",
        "",
        f"| artifact | bytes | gzip bytes | gzip × smaller | p50 ms | p90 ms | × faster (p50) | examples/s @{BATCH} | {metric} | change |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        quality = f"{r['quality']:.4f}" if "quality" in r else "–"
        change = f"{r['quality_change']:+.4f}" if "quality_change" in r else "–"
        lines.append(
            f"| {r['artifact']} | {r['bytes']:,} | {r['gzip_bytes']:,} | {r['size_ratio']:.2f} | "
            f"{r['latency_p50_ms']:.2f} | {r['latency_p90_ms']:.2f} | {r['speedup_batch1']:.2f} | "
            f"{r['throughput_batch32']:.1f} | {quality} | {change} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], metric: str, path: Path) -> bool:
    """Quality against gzip size, each point's area by its batch-1 latency; False without
    matplotlib (a plot is a convenience, the table and JSON are the record)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(6, 4))
    has_quality = all("quality" in r for r in rows)
    for r in rows:
        y = r["quality"] if has_quality else r["latency_p50_ms"]
        axes.scatter(r["gzip_bytes"] / 1024, y, s=30 + 20 * r["latency_p50_ms"], alpha=0.6)
        axes.annotate(f"{r['artifact']} ({r['latency_p50_ms']:.1f} ms)", (r["gzip_bytes"] / 1024, y), fontsize=8)
    axes.set_xlabel("gzip size (KiB)")
    axes.set_ylabel(metric if has_quality else "batch-1 latency p50 (ms)")
    axes.set_title("quality against size (point area: batch-1 latency)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def write_report(out: Path, rows: list[dict], task, source: str) -> str:
    text = markdown(rows, task.quality_metric, source)
    (out / "report.md").write_text(text)
    write_json_atomically(out / "report.json", {"source": source, "metric": task.quality_metric, "artifacts": rows})
    if not plot(rows, task.quality_metric, out / "report.png"):
        text += "\n(no report.png: matplotlib is not installed)\n"
    return text


__all__ = ["EXPORT_INFO", "measure_all", "write_report", "json"]
