"""`make benchmark TASK=summarize`: the attention summarizer on real headlines, against lead-N.

With ../shared/data/summarization present (Reuters-21578 body -> headline), one run trains on
the time split's early stories (train-early) with exportBest against its late stories (dev-late:
the epoch with the best validation ROUGE-L on `evalSamples` decoded dev-late pairs), then
`python -m trainers evaluate` scores the export on the whole dev-late file: ROUGE-1/2/L F1 of beam
search and of greedy decoding, beside the first 8, 10 and 12 words of the same stories. The random
dev file is not used: it shares templated stories with train (the data's README) and overstates
how a model does on new stories. Speed comes from the same run: summary tokens/s and examples/s,
median step time, peak resident memory, seconds to the first step.

    make benchmark TASK=summarize ARGS="--epochs 3 --set copyMechanism=false"
    (the defaults are the best settings measured on dev-late; README "Summarizer on Reuters headlines")
    make benchmark TASK=summarize ARGS="--speed 60"    # speed only: 60 steps, medians of 3
    make benchmark TASK=summarize ARGS="--train-pairs 4000"   # the first 4000 train-early pairs

Everything is printed; nothing is asserted. dev-late chooses the epoch and is also what the
scores are on (the held-out test stories are not here), so the figures are optimistic by that
choice alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from trainers.shared.benchmarking import SHARED_DATA, evaluate, setting, train

DATA = SHARED_DATA / "summarization"
TRAIN_FILE, DEV_FILE = "reuters-headlines.train-early.tsv", "reuters-headlines.dev-late.tsv"
DEFAULTS = {
    "modelType": "seq2seq-attention",
    "batchSize": "64",
    "learningRate": "0.002",
    "maxSourceLength": "50",
    "maxTargetLength": "16",
    "sourceVocabSize": "30000",
    "targetVocabSize": "5000",
    "embeddingDim": "128",
    "hiddenSize": "128",
    "dropout": "0.3",
    "beamWidth": "4",
    "lengthPenalty": "1.2",
    "noRepeatNgram": "1",
    "copyMechanism": "true",
    "evalSamples": "200",
    "exportBest": "true",
    "logEvery": "50",
}


def table(scores: dict) -> list[str]:
    rows = ["| decoding | ROUGE-1 | ROUGE-2 | ROUGE-L |", "|---|---|---|---|"]
    for name, label in [
        ("beam", "beam search"),
        ("greedy", "greedy"),
        ("lead8", "first 8 words"),
        ("lead10", "first 10 words"),
        ("lead12", "first 12 words"),
    ]:
        values = [100 * scores[f"{name}_{m}"] for m in ("rouge1", "rouge2", "rougeL")]
        rows.append(f"| {label} | " + " | ".join(f"{v:.1f}" for v in values) + " |")
    return rows


def speed(settings: dict, train_file: Path, dev_file: Path, steps: int, rounds: int = 3) -> int:
    """Training speed alone: `rounds` fresh processes of `steps` steps, medians."""
    import statistics

    found = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as work:
            values = {**settings, "trainSteps": str(steps), "trainData": str(train_file), "evalData": str(dev_file)}
            values["evalSamples"] = "1"  # evaluation runs after the timed steps; keep it short
            values.update(modelDir=str(Path(work) / "run"), exportBest="false", checkpointEvery="100000")
            metrics, rss, code = train(values)
            if code:
                return 1
            found.append({**metrics["timing"], "rss": rss})

    def median(key):
        return statistics.median(row[key] for row in found)

    print(f"\n## Summarizer training speed on Reuters headlines: {steps} steps, medians of {rounds} fresh runs")
    print("| summary tokens/s | examples/s | median step | peak RSS | s to first step |")
    print("|---|---|---|---|---|")
    print(
        f"| {median('tokens_per_second'):.0f} | {median('examples_per_second'):.0f} | "
        f"{1000 * median('median_step_seconds'):.0f} ms | {median('rss'):.0f} MiB | {median('seconds_to_first_step'):.1f} |"
    )
    return 0


def first_pairs(source: Path, count: int, target: Path) -> Path:
    """The first `count` lines of `source` written to `target`: a smaller training set, stated
    in the report, for runs the 2-core machine can finish."""
    with source.open(encoding="utf-8") as lines:
        kept = [line for _, line in zip(range(count), lines, strict=False)]
    target.write_text("".join(kept), encoding="utf-8")
    return target


def count_pairs(path: Path) -> int:
    with path.open(encoding="utf-8") as lines:
        return sum(1 for line in lines if line.strip() and not line.startswith("#"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make benchmark TASK=summarize", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--set", type=setting, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--speed", type=int, metavar="STEPS", help="only time STEPS training steps, 3 fresh runs")
    parser.add_argument(
        "--train-pairs", type=int, metavar="N", help="train on the first N pairs of train-early only (file order)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the run (export, best weights, vocab.json, metrics.json; no checkpoints) in DIR, which must not exist",
    )
    args = parser.parse_args(argv)
    train_file, dev_file = args.data / TRAIN_FILE, args.data / DEV_FILE
    for needed in (train_file, dev_file):
        if not needed.exists():
            print(f"make benchmark TASK=summarize: {needed} not found; nothing to measure", file=sys.stderr)
            return 1
    settings = {**DEFAULTS, "numEpochs": str(args.epochs), **dict(args.set)}
    with tempfile.TemporaryDirectory() as work:
        if args.train_pairs:
            train_file = first_pairs(train_file, args.train_pairs, Path(work) / train_file.name)
        trained_on = f"{train_file.name} ({count_pairs(train_file)} pairs)"
        if args.speed:
            return speed(settings, train_file, dev_file, args.speed)
        run = Path(work) / "run"
        values = {**settings, "trainData": str(train_file), "evalData": str(dev_file), "modelDir": str(run)}
        print("training:", " ".join(f"{k}={v}" for k, v in settings.items()), flush=True)
        metrics, rss, code = train(values)
        if code:
            print(f"training failed ({code})", file=sys.stderr)
            return 1
        scores = evaluate(run / "export", dev_file)
        if args.keep:  # the run directory: export, best epoch's weights, vocabularies, metrics
            shutil.copytree(run, args.keep, dirs_exist_ok=False, ignore=shutil.ignore_patterns("checkpoints"))
            (args.keep / "benchmark-settings.json").write_text(json.dumps(settings, indent=1) + "\n")
    timing = metrics["timing"]
    best = metrics["history"][metrics["export_epoch"] - 1]
    print(
        f"\n## Reuters-21578 headlines, dev-late ({scores['examples']} pairs), trained on {trained_on}, epoch {best['epoch']} of {args.epochs}"
    )
    print("\n".join(table(scores)))
    print("\n| summary tokens/s | examples/s | median step | peak RSS | s to first step |")
    print("|---|---|---|---|---|")
    print(
        f"| {timing.get('tokens_per_second', 0):.0f} | {timing['examples_per_second']:.0f} | "
        f"{1000 * timing['median_step_seconds']:.0f} ms | {rss:.0f} MiB | {timing['seconds_to_first_step']:.1f} |"
    )
    print("\nper epoch: " + "; ".join(f"{r['epoch']}: val_rougeL {r['val_rougeL']:.3f}" for r in metrics["history"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
