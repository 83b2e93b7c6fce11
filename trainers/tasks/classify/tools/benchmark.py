"""`make benchmark` (TASK=classify, the default): speed, memory and start-up of every model, and accuracy on real data.

Speed: each model trains `--steps` steps on the bundled single-label sample (2,000 examples) in a
fresh process, with the overlays' default sizes; the trainer's metrics.json gives examples/s and
the median step time (the first, tracing step excluded), os.wait4 the peak resident memory.

Accuracy (`--accuracy`): with ../shared/data/text-classification present (SST-2 and TREC, one
`label sentence` per line), each model trains on the train split with exportBest against a dev
set (SST-2's own; for TREC every tenth training line, as Kim 2014 holds out 10%), and the chosen
export is scored once on the test split with `python -m trainers evaluate`. The test set never
takes part in choosing anything. Random-init embeddings.

Everything is printed; nothing is asserted. Run on an idle machine and compare medians or ratios
from the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from trainers.shared.benchmarking import SHARED_DATA, evaluate, setting, train

SHARED = SHARED_DATA / "text-classification"
MODELS = ["cnn", "kimcnn", "capsule-a", "capsule-b"]
# Accuracy runs: data set -> (train file, dev file or None to hold out 10% of train, test file, maxLength)
ACCURACY_SETS = {
    "SST-2": ("sst2.train.txt", "sst2.dev.txt", "sst2.test.txt", 56),
    "TREC": ("trec.train.txt", None, "trec.test.txt", 40),
}
EPOCHS = {"cnn": 10, "kimcnn": 10, "capsule-a": 10, "capsule-b": 10}


def convert(source: Path, target: Path) -> Path:
    """`label sentence` -> `label<TAB>sentence` (the trainer's format)."""
    lines = []
    # TREC holds a few Latin-1 bytes; the trainer itself insists on UTF-8, so decode them here.
    for line in source.read_text(encoding="utf-8", errors="replace").splitlines():
        label, _, text = line.partition(" ")
        if text.strip():
            lines.append(f"{label}\t{text.strip()}")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _describe(settings: dict[str, str]) -> str:
    return "".join(f", {k}={v}" for k, v in settings.items())


def _speed_run(model: str, steps: int, xla: str, run: Path, settings: dict[str, str]) -> tuple[dict, float] | None:
    """One fresh training process; (its timing, peak RSS in MiB), or None if it failed."""
    metrics, rss, code = train(
        {
            "modelType": model,
            "trainSteps": str(steps),
            "modelDir": str(run),
            "xla": xla,
            "logEvery": "1000",
            "checkpointEvery": "100000",
            "evalData": "",
            **settings,
        }
    )
    if code:
        print(f"{model}: failed ({code})", file=sys.stderr)
        return None
    return metrics["timing"], rss


def speed(models: list[str], steps: int, xla: str, repeats: int, work: Path, settings: dict[str, str]) -> None:
    """xla: "auto" (the default: on for capsule nets), "true" or "false".

    The models take turns, `repeats` rounds, so that a slow spell of this shared machine hits all
    of them alike; every figure is the median over the rounds, and the ratio is the median of the
    per-round ratios.
    """
    print(
        f"\n## Training speed: {steps} steps, batch 32, bundled sample, xla={xla}, {os.cpu_count()} CPUs, "
        f"median of {repeats}{_describe(settings)}"
    )
    rounds: list[dict[str, tuple[dict, float]]] = []
    for round_number in range(repeats):
        rounds.append({})
        for model in models:
            result = _speed_run(model, steps, xla, work / f"speed-{model}-{xla}-{round_number}", settings)
            if result:
                rounds[-1][model] = result
    print("| model | examples/s | median step (ms) | peak RSS (MiB) | s to first step |")
    print("|---|---|---|---|---|")
    for model in models:
        runs = [r[model] for r in rounds if model in r]
        if not runs:
            print(f"| {model} | failed | | | |")
            continue
        timing = {k: statistics.median(t[k] for t, _ in runs) for k in runs[0][0]}
        rss = statistics.median(r for _, r in runs)
        print(
            f"| {model} | {timing['examples_per_second']:.0f} | {timing['median_step_seconds'] * 1000:.1f} "
            f"| {rss:.0f} | {timing['seconds_to_first_step']:.1f} |"
        )
    ratios = [
        r["capsule-b"][0]["examples_per_second"] / r["kimcnn"][0]["examples_per_second"]
        for r in rounds
        if "kimcnn" in r and "capsule-b" in r
    ]
    if ratios:
        print(
            f"\ncapsule-b / kimcnn throughput ratio: {statistics.median(ratios):.2f} "
            f"(per round: {', '.join(f'{x:.2f}' for x in ratios)})"
        )


def dev_split(train: Path, dev: Path, every: int = 10) -> tuple[Path, Path]:
    """Hold out every `every`-th training line as a dev set (Kim 2014 does this for TREC, which
    has no dev split). Deterministic, so every model sees the same split."""
    rows = train.read_text(encoding="utf-8").splitlines()
    kept = train.with_name(train.stem + ".minus-dev.tsv")
    kept.write_text("\n".join(r for i, r in enumerate(rows) if i % every) + "\n", encoding="utf-8")
    dev.write_text("\n".join(r for i, r in enumerate(rows) if not i % every) + "\n", encoding="utf-8")
    return kept, dev


def _accuracy_run(
    model: str, data: tuple[Path, Path, Path], max_length: int, epochs: int, seed: int, settings, run_dir: Path
) -> dict | None:
    """Train with exportBest on (train, dev), score the export once on test."""
    train_path, dev_path, test_path = data
    started = time.monotonic()
    metrics, _, code = train(
        {
            "modelType": model,
            "trainData": str(train_path),
            "evalData": str(dev_path),
            "exportBest": "true",
            "numEpochs": str(epochs),
            "maxLength": str(max_length),
            "embeddingDim": "300",
            "batchSize": "50",
            "learningRate": "0.001",
            "seed": str(seed),
            "modelDir": str(run_dir),
            "logEvery": "100000",
            "checkpointEvery": "100000",
            **settings,
        }
    )
    if code:
        return None
    best = metrics["history"][metrics["export_epoch"] - 1]
    return {
        "epoch": best["epoch"],
        "dev": best["val_accuracy"],
        "test": evaluate(run_dir / "export", test_path)["accuracy"],
        "minutes": (time.monotonic() - started) / 60,
    }


def accuracy(
    models: list[str], work: Path, epochs_override: int | None, seeds: list[int], settings: dict[str, str]
) -> None:
    if not SHARED.is_dir():
        print(f"\n(accuracy skipped: {SHARED} not found)")
        return
    print(
        "\n## Test accuracy, random-init embeddings (epoch chosen on dev with exportBest, scored once on test)"
        + _describe(settings)
    )
    print("| data | model | epochs | seed | best dev epoch | dev accuracy | test accuracy | train minutes |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (train_file, dev_file, test_file, max_length) in ACCURACY_SETS.items():
        train_path = convert(SHARED / train_file, work / f"{name}.train.tsv")
        test_path = convert(SHARED / test_file, work / f"{name}.test.tsv")
        if dev_file:
            dev_path = convert(SHARED / dev_file, work / f"{name}.dev.tsv")
        else:
            train_path, dev_path = dev_split(train_path, work / f"{name}.dev.tsv")
        for model in models:
            epochs = epochs_override or EPOCHS[model]
            results = []
            for seed in seeds:
                found = _accuracy_run(
                    model,
                    (train_path, dev_path, test_path),
                    max_length,
                    epochs,
                    seed,
                    settings,
                    work / f"acc-{name}-{model}-{seed}",
                )
                if found is None:
                    print(f"| {name} | {model} | {epochs} | {seed} | failed | | | |", flush=True)
                    continue
                results.append(found)
                print(
                    f"| {name} | {model} | {epochs} | {seed} | {found['epoch']} | {found['dev'] * 100:.1f}% "
                    f"| {found['test'] * 100:.1f}% | {found['minutes']:.1f} |",
                    flush=True,
                )
            if len(results) > 1:
                dev = statistics.median(r["dev"] for r in results) * 100
                test = [r["test"] * 100 for r in results]
                print(
                    f"| {name} | {model} | {epochs} | median of {len(results)} | | {dev:.1f}% "
                    f"| {statistics.median(test):.1f}% ({min(test):.1f}–{max(test):.1f}) | |",
                    flush=True,
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    parser.add_argument("--steps", type=int, default=60, help="training steps per speed run")
    parser.add_argument("--repeats", type=int, default=3, help="speed rounds; figures are medians over them")
    parser.add_argument("--accuracy", action="store_true", help="also train on SST-2 and TREC")
    parser.add_argument("--epochs", type=int, help="override the accuracy runs' epochs")
    parser.add_argument(
        "--seeds",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[42],
        help="comma-separated seeds for the accuracy runs; with several, a median row follows (default: 42)",
    )
    parser.add_argument(
        "--xla-comparison", action="store_true", help="also time every model with XLA forced on and forced off"
    )
    parser.add_argument(
        "--set",
        type=setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a configuration key for every run, e.g. --set sharedTransform=true (repeatable)",
    )
    args = parser.parse_args(argv)
    settings = dict(args.set)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        speed(args.models, args.steps, "auto", args.repeats, work, settings)
        if args.xla_comparison:
            speed(args.models, args.steps, "true", args.repeats, work, settings)
            speed(args.models, args.steps, "false", args.repeats, work, settings)
        if args.accuracy:
            accuracy(args.models, work, args.epochs, args.seeds, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
