"""`make benchmark TASK=summarize`: the attention summarizer on real headlines, against lead-N.

With ../shared/data/summarization present (Reuters-21578 body -> headline, train and dev splits),
one run trains on train with exportBest against dev (the epoch with the best validation ROUGE-L on
`evalSamples` decoded dev pairs), then `python -m trainers evaluate` scores the export on the
whole dev split: ROUGE-1/2/L F1 of beam search and of greedy decoding, beside the first 8, 10
and 12 words of each story. Speed comes from the same run: summary tokens/s and examples/s,
median step time, peak resident memory, seconds to the first step.

    make benchmark TASK=summarize ARGS="--epochs 10 --set hiddenSize=128"
    make benchmark TASK=summarize ARGS="--speed 60"    # speed only: 60 steps, medians of 3

Everything is printed; nothing is asserted. The dev split chooses the epoch and is also what the
scores are on (there is no test split here), so the figures are optimistic by that choice.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from trainers.shared.benchmarking import SHARED_DATA, evaluate, setting, train

DATA = SHARED_DATA / "summarization"
DEFAULTS = {
    "modelType": "seq2seq-attention",
    "batchSize": "64",
    "learningRate": "0.002",
    "maxSourceLength": "80",
    "maxTargetLength": "16",
    "sourceVocabSize": "30000",
    "targetVocabSize": "12000",
    "embeddingDim": "128",
    "hiddenSize": "128",
    "dropout": "0.3",
    "beamWidth": "4",
    "lengthPenalty": "0.6",
    "evalSamples": "300",
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


def speed(settings: dict, train_file: Path, steps: int, rounds: int = 3) -> int:
    """Training speed alone: `rounds` fresh processes of `steps` steps, medians."""
    import statistics

    found = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as work:
            dev_file = train_file.with_name(train_file.name.replace(".train.", ".dev."))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make benchmark TASK=summarize", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--set", type=setting, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--speed", type=int, metavar="STEPS", help="only time STEPS training steps, 3 fresh runs")
    args = parser.parse_args(argv)
    train_file, dev_file = args.data / "reuters-headlines.train.tsv", args.data / "reuters-headlines.dev.tsv"
    if not train_file.exists():
        print(f"make benchmark TASK=summarize: {train_file} not found; nothing to measure", file=sys.stderr)
        return 1
    settings = {**DEFAULTS, "numEpochs": str(args.epochs), **dict(args.set)}
    if args.speed:
        return speed(settings, train_file, args.speed)
    with tempfile.TemporaryDirectory() as work:
        run = Path(work) / "run"
        values = {**settings, "trainData": str(train_file), "evalData": str(dev_file), "modelDir": str(run)}
        print("training:", " ".join(f"{k}={v}" for k, v in settings.items()), flush=True)
        metrics, rss, code = train(values)
        if code:
            print(f"training failed ({code})", file=sys.stderr)
            return 1
        scores = evaluate(run / "export", dev_file)
    timing = metrics["timing"]
    best = metrics["history"][metrics["export_epoch"] - 1]
    print(
        f"\n## Reuters-21578 headlines, dev split ({scores['examples']} pairs), epoch {best['epoch']} of {args.epochs}"
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
