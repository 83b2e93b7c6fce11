"""`make benchmark TASK=chat`: the Transformer chatbot against the summarizer's GRU-with-attention
model at equal training wall time on real chit-chat pairs, and the most-frequent-reply baseline.

With ../shared/data/dialogue present (chitchat-dataset turn -> reply pairs, train and dev), each
model trains in a fresh `python -m trainers train` process (nice'd) on the whole train split for
the same wall-clock budget, process start included: at the budget the process gets SIGTERM,
checkpoints and exits (143), and a second start with trainSteps at the step reached exports
that checkpoint. Both validate on the same first `--dev-pairs` dev pairs every `--eval-every`
steps (the same shared teacher-forced scorer: perplexity is exp of the mean per-reply token
cross-entropy, without label smoothing). Then both exports decode those dev pairs (beam search,
their serving_default) for BLEU (sacrebleu) and distinct-1/2, beside the reply seen most often in
training. Speed from the first process: target tokens/s, median step, peak RSS, seconds to the
first step.

    make benchmark TASK=chat                       # 5 minutes per model
    make benchmark TASK=chat ARGS="--minutes 10 --set modelDim=256"

Everything is printed; nothing is asserted. Vocabularies: the chatbot shares one between contexts
and replies (vocabSize), the GRU model has one per side (source/targetVocabSize, set alike), so
the out-of-vocabulary rates of the replies differ slightly and perplexities are close to, not
exactly, comparable.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trainers.shared.benchmarking import ROOT, SHARED_DATA, setting, trainer_env

DATA = SHARED_DATA / "dialogue"
COMMON = {
    "batchSize": "64",
    "maxSourceLength": "32",
    "maxTargetLength": "24",
    "evalSamples": "100",
    "beamWidth": "4",
    "lengthPenalty": "0.6",
    "skipBadLines": "true",
    "logEvery": "50",
    "checkpointEvery": "100000",  # only at period ends and at the budget's SIGTERM
    "numEpochs": "1000",  # the wall-clock budget ends training
    "xla": "false",
}
MODELS = {
    "Transformer": {
        "modelType": "transformer",
        "vocabSize": "8000",
        "layers": "2",
        "heads": "4",
        "modelDim": "128",
        "ffDim": "256",
        "dropout": "0.1",
        "labelSmoothing": "0.1",
        "learningRate": "0.002",
        "learningRateSchedule": "warmup-rsqrt",
        "warmupSteps": "200",
        "gradientClipNorm": "1.0",
    },
    "GRU + attention": {
        "modelType": "seq2seq-attention",
        "sourceVocabSize": "8000",
        "targetVocabSize": "8000",
        "embeddingDim": "128",
        "hiddenSize": "128",
        "dropout": "0.2",
        "learningRate": "0.002",
    },
}
OUTPUTS = {"transformer": "reply", "seq2seq-attention": "summary"}
SAMPLES = 6


def run_for(values: dict[str, str], seconds: float) -> tuple[str, float, int]:
    """Train until `seconds` after the start, then SIGTERM; (output, peak RSS MiB, exit code)."""
    command = [
        "nice",
        "-n",
        "10",
        sys.executable,
        "-m",
        "trainers",
        "train",
        *[f"--{k}={v}" for k, v in values.items()],
    ]
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=trainer_env(), stdout=log, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + seconds
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        return log.read(), usage.ru_maxrss / 1024, proc.returncode


def finish(values: dict[str, str], model_dir: Path) -> dict:
    """Export the checkpoint the budget ended at: a second start with trainSteps at its step."""
    steps = max(int(p.name.split("-")[1].split(".")[0]) for p in (model_dir / "checkpoints").glob("ckpt-*.index"))
    command = [sys.executable, "-m", "trainers", "train", *[f"--{k}={v}" for k, v in values.items()]]
    command.append(f"--trainSteps={steps}")
    done = subprocess.run(command, cwd=ROOT, env=trainer_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(
            f"exporting the checkpoint at step {steps} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return json.loads((model_dir / "metrics.json").read_text())


def decode(export: Path, texts: list[str], output: str, signature: str = "serving_default") -> list[str]:
    from trainers.shared.seq2seq.serving import decode_texts

    version = sorted(p for p in export.iterdir() if p.name.isdigit())[-1]
    return [row[output] for row in decode_texts(version, texts, output, signature)]


def progress_timing(output: str) -> dict[str, float]:
    """Target tokens/s from the progress lines (the last one before the budget's SIGTERM)."""
    rates = [float(line.split(" tokens/s")[0].split()[-1]) for line in output.splitlines() if " tokens/s" in line]
    return {"tokens_per_second": rates[-1] if rates else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make benchmark TASK=chat", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training wall time per model")
    parser.add_argument("--dev-pairs", type=int, default=1000, help="dev pairs validated and decoded")
    parser.add_argument("--eval-every", type=int, default=300, help="steps between validations")
    parser.add_argument("--only", choices=sorted(MODELS), action="append", help="benchmark only this model")
    parser.add_argument("--set", type=setting, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    train_file, dev_file = args.data / "chitchat.train.tsv", args.data / "chitchat.dev.tsv"
    if not train_file.exists():
        print(f"make benchmark TASK=chat: {train_file} not found; nothing to measure", file=sys.stderr)
        return 1
    from trainers.shared.seq2seq.pairs import PairFormat
    from trainers.tasks.chat import metrics

    pairs = PairFormat("context", "response")
    dev = pairs.read(dev_file, skip_bad_lines=True)
    contexts, references = dev.sources[: args.dev_pairs], dev.targets[: args.dev_pairs]
    train_replies = pairs.read(train_file, skip_bad_lines=True).targets
    frequent = collections.Counter(train_replies).most_common(1)[0][0]
    rows, samples = [], {}
    with tempfile.TemporaryDirectory() as work:
        dev_subset = Path(work) / "dev.tsv"
        dev_subset.write_text("".join(f"{c}\t{r}\n" for c, r in zip(contexts, references, strict=True)))
        for name, settings in MODELS.items():
            if args.only and name not in args.only:
                continue
            model_dir = Path(work) / settings["modelType"]
            values = {**COMMON, **settings, **dict(args.set), "evalEvery": str(args.eval_every)}
            values.update(trainData=str(train_file), evalData=str(dev_subset), modelDir=str(model_dir))
            print(f"{name}: training for {args.minutes:g} min (nice 10)", flush=True)
            output, rss, code = run_for(values, 60 * args.minutes)
            if code not in (0, 143):
                print(output[-3000:], file=sys.stderr)
                return 1
            print("\n".join(line for line in output.splitlines() if line.startswith(("[local]", "epoch="))), flush=True)
            # Timing as of the last validation before the budget (none when no period ended).
            metrics_file = model_dir / "metrics.json"
            reached = json.loads(metrics_file.read_text())["timing"] if metrics_file.exists() else {}
            found = finish(values, model_dir)
            last = found["history"][-1]
            output_name = OUTPUTS[settings["modelType"]]
            replies = decode(model_dir / "export", contexts, output_name)
            quality = metrics.reply_metrics(references, replies)
            samples[name] = replies[:SAMPLES]
            rows.append(
                {
                    "model": name,
                    "steps": last["step"],
                    "perplexity": math.exp(last["val_loss"]),
                    "token_accuracy": last["val_token_accuracy"],
                    **quality,
                    **progress_timing(output),
                    "median_step_seconds": reached.get("median_step_seconds", 0.0),
                    "seconds_to_first_step": reached.get("seconds_to_first_step", 0.0),
                    "rss": rss,
                    "history": [(r["step"], math.exp(r["val_loss"])) for r in found["history"]],
                }
            )
    constant = metrics.reply_metrics(references, [frequent] * len(references))
    print(
        f"\n## chitchat dev (first {len(contexts)} pairs), {args.minutes:g} min of training each, 2 CPU cores, nice 10"
    )
    print(
        "| model | steps | dev perplexity | token acc. | BLEU | distinct-1 | distinct-2 | target tokens/s | median step | peak RSS | s to first step |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['steps']} | {r['perplexity']:.1f} | {r['token_accuracy']:.3f} | {r['bleu']:.2f} | "
            f"{r['distinct1']:.3f} | {r['distinct2']:.3f} | {r['tokens_per_second']:.0f} | "
            f"{1000 * r['median_step_seconds']:.0f} ms | {r['rss']:.0f} MiB | {r['seconds_to_first_step']:.1f} |"
        )
    print(
        f"| most frequent reply ({frequent!r}) | - | - | - | {constant['bleu']:.2f} | {constant['distinct1']:.3f} | "
        f"{constant['distinct2']:.3f} | - | - | - | - |"
    )
    for r in rows:
        print(f"\n{r['model']} dev perplexity by step: " + ", ".join(f"{s}: {p:.1f}" for s, p in r["history"]))
    print("\n## sampled replies (beam search)")
    for i, context in enumerate(contexts[:SAMPLES]):
        print(f"- context: {context}")
        print(f"  - reference: {references[i]}")
        for name, replies in samples.items():
            print(f"  - {name}: {replies[i]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
