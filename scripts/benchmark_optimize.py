"""Benchmark of pruning x quantization (issue 19), in one sitting: kimcnn on SST-2 and the
summarizer on the Reuters headlines (../shared/data), each trained at pruneSparsity 0, 0.5, 0.8
and 0.9, then `python -m trainers optimize --quantize dynamic,float16,int8` on its export.

    nice -n 10 .venv/bin/python -m scripts.benchmark_optimize [--budget-minutes 16] [--out DIR]

Sizes are shrunk to fit about 15 minutes on 2 busy cores (printed with the table): kimcnn 3 epochs
of SST-2's 6,920 training sentences; the summarizer 300 steps of batch 64 on the 11,035 training
pairs, scored on the first 100 dev pairs. Every ratio compares with the unpruned float SavedModel
of the same task (sparsity 0). A configuration not started within the budget is listed as skipped.
Prints a Markdown table (and writes it with the JSON rows to --out); nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trainers.shared.benchmarking import ROOT, SHARED_DATA, train, trainer_env

SPARSITIES = (0.0, 0.5, 0.8, 0.9)
# ../shared/data beside the repository; a git worktree one level deeper finds it one more up.
SHARED = next((p for p in (SHARED_DATA, ROOT.parents[1] / "shared" / "data") if p.is_dir()), SHARED_DATA)
KIMCNN = {
    "modelType": "kimcnn",
    "numEpochs": "3",
    "batchSize": "50",
    "embeddingDim": "128",
    "numFilters": "64",
    "maxLength": "56",
    "vocabSize": "20000",
    "xla": "false",
    "logEvery": "1000",
    "checkpointEvery": "100000",
}
SUMMARIZER = {
    "modelType": "seq2seq-attention",
    "trainSteps": "300",
    "batchSize": "64",
    "learningRate": "0.004",
    "evalSamples": "50",
    "logEvery": "1000",
    "checkpointEvery": "100000",
}


def sst2(work: Path) -> tuple[Path, Path]:
    paths = []
    for split in ("train", "dev"):
        lines = []
        for line in (SHARED / "text-classification" / f"sst2.{split}.txt").read_text().splitlines():
            label, _, text = line.partition(" ")
            if text.strip():
                lines.append(f"{label}\t{text.strip()}")
        path = work / f"sst2.{split}.tsv"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths[0], paths[1]


def headlines(work: Path, dev_pairs: int) -> tuple[Path, Path, Path]:
    shared = SHARED / "summarization"
    dev = [line for line in (shared / "reuters-headlines.dev.tsv").read_text().splitlines() if line.strip()]
    small = work / "headlines.dev100.tsv"
    small.write_text("\n".join(dev[:dev_pairs]) + "\n")
    return shared / "reuters-headlines.train.tsv", shared / "reuters-headlines.dev.tsv", small


def prune_keys(sparsity: float, total_steps: int) -> dict[str, str]:
    if sparsity == 0:
        return {}
    # Prune from 10% to 70% of the run; the last 30% trains around the final masks.
    begin, end = total_steps // 10, (total_steps * 7) // 10
    return {
        "pruneSparsity": str(sparsity),
        "pruneBeginStep": str(begin),
        "pruneEndStep": str(end),
        "pruneEvery": str(max(1, (end - begin) // 15)),
    }


def optimize(export: Path, out: Path, data: Path, latency_runs: int) -> list[dict]:
    command = [sys.executable, "-m", "trainers", "optimize", "--model", str(export), "--out", str(out)]
    command += ["--quantize", "dynamic,float16,int8", "--data", str(data), "--latency-runs", str(latency_runs)]
    result = subprocess.run(command, cwd=ROOT, env=trainer_env(), capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout[-1500:], result.stderr[-3000:], file=sys.stderr)
        return []
    return json.loads((out / "report.json").read_text())["artifacts"]


def table(rows: list[dict]) -> str:
    lines = [
        "| task | sparsity | artifact | gzip KiB | × smaller (gzip) | p50 ms | × faster (p50) | ex/s @32 | quality | change (points) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['sparsity']:.0%} | {r['artifact']} | {r['gzip_bytes'] / 1024:.0f} | "
            f"{r['vs_size']:.2f} | {r['latency_p50_ms']:.2f} | {r['vs_speed']:.2f} | {r['throughput_batch32']:.0f} | "
            f"{r['quality']:.4f} | {100 * r['vs_quality']:+.2f} |"
        )
    return "\n".join(lines)


def _name(row: dict) -> str:
    return f"{row['sparsity']:.0%} {row['artifact']}"


def best(rows: list[dict]) -> list[str]:
    """Per task: the artifacts meeting the goal (>= 4x smaller gzip, >= 2x faster, <= 1 point lost)."""
    found = []
    for task in sorted({r["task"] for r in rows}):
        mine = [r for r in rows if r["task"] == task]
        meeting = [r for r in mine if r["vs_size"] >= 4 and r["vs_speed"] >= 2 and r["vs_quality"] >= -0.01]
        smallest_ok = min((r for r in mine if r["vs_quality"] >= -0.01), key=lambda r: r["gzip_bytes"], default=None)
        found.append(
            f"{task}: {len(meeting)} artifact(s) meet the goal"
            + (" (" + ", ".join(_name(r) for r in meeting) + ")" if meeting else "")
            + (
                f"; smallest within 1 point: {smallest_ok['sparsity']:.0%} {smallest_ok['artifact']} "
                f"({smallest_ok['vs_size']:.1f}x smaller, {smallest_ok['vs_speed']:.2f}x speed)"
                if smallest_ok
                else ""
            )
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-minutes", type=float, default=16.0, help="no new configuration after this")
    parser.add_argument("--out", default="", help="directory for table.md and rows.json (default: a temporary one)")
    parser.add_argument("--tasks", default="kimcnn,summarizer")
    parser.add_argument("--reference", default="", help="rows.json of an earlier sitting to include (e.g. sparsity 0)")
    parser.add_argument("--sparsities", default="", help="comma-separated subset of 0,0.5,0.8,0.9 (default: all)")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + 60 * args.budget_minutes
    work = Path(tempfile.mkdtemp(prefix="textjobs-optbench-"))
    out = Path(args.out) if args.out else work
    out.mkdir(parents=True, exist_ok=True)
    sst_train, sst_dev = sst2(work)
    sum_train, sum_dev, sum_small = headlines(work, 100)
    sst_steps = 3 * (6920 // 50)
    chosen = [float(x) for x in args.sparsities.split(",")] if args.sparsities else list(SPARSITIES)
    plans = []
    if "kimcnn" in args.tasks:
        values = {**KIMCNN, "trainData": str(sst_train), "evalData": str(sst_dev)}
        plans += [("kimcnn/SST-2", s, values, sst_steps, sst_dev, 30) for s in SPARSITIES if s in chosen]
    if "summarizer" in args.tasks:
        values = {**SUMMARIZER, "trainData": str(sum_train), "evalData": str(sum_small)}
        # 0 and 80% first: the pair the goal is judged on if the budget runs out.
        plans += [("summarizer/Reuters", s, values, 300, sum_small, 15) for s in (0.0, 0.8, 0.5, 0.9) if s in chosen]
    rows, skipped = [], []
    for task, sparsity, values, steps, data, latency_runs in plans:
        if time.monotonic() > deadline:
            skipped.append(f"{task} at {sparsity:.0%}")
            continue
        run = work / f"{task.split('/')[0]}-{int(100 * sparsity)}"
        started = time.monotonic()
        metrics, _, code = train({**values, **prune_keys(sparsity, steps), "modelDir": str(run)})
        if code:
            skipped.append(f"{task} at {sparsity:.0%} (training exit {code})")
            continue
        found = optimize(Path(metrics["export"]), run / "optimized", data, latency_runs)
        print(
            f"{task} sparsity {sparsity:.0%}: {len(found)} artifacts in {time.monotonic() - started:.0f} s", flush=True
        )
        rows += [{"task": task, "sparsity": sparsity, **row} for row in found]
    if args.reference:  # rows of an earlier sitting (rows.json) that hold the sparsity-0 reference
        rows = json.loads(Path(args.reference).read_text()) + rows
    for task in {r["task"] for r in rows}:
        reference = next(
            (r for r in rows if r["task"] == task and r["sparsity"] == 0 and r["artifact"] == "saved_model"), None
        )
        for r in (r for r in rows if r["task"] == task):
            ref = reference or r
            r["vs_size"] = ref["gzip_bytes"] / r["gzip_bytes"]
            r["vs_speed"] = ref["latency_p50_ms"] / r["latency_p50_ms"]
            r["vs_quality"] = r.get("quality", 0.0) - ref.get("quality", 0.0)
    text = table(rows) + "\n\n" + "\n".join(best(rows))
    if skipped:
        text += "\n\nskipped (budget or failure): " + ", ".join(skipped)
    print(text)
    (out / "table.md").write_text(text + "\n")
    (out / "rows.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
