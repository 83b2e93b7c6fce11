"""Score one trained summarizer with other decodings (beam width, length penalty, minimum length)
without training it again: the decoding keys change no weight, so one run serves every row.

Reads a run kept by `make benchmark TASK=summarize ARGS="--keep DIR"` (its settings, vocab.json
and the best epoch's weights), rebuilds the model with the task's own code, and decodes the data
file once per `--decoding` (keys as the trainer takes them), printing ROUGE-1/2/L F1 x 100:

    .venv/bin/python -m trainers.tasks.summarize.tools.decodings --run /tmp/kept \\
        --data ../shared/data/summarization/reuters-headlines.dev-late.tsv \\
        --decoding beamWidth=1 --decoding beamWidth=4,lengthPenalty=1.0,minSummaryLength=4
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

SETTINGS_FILE = "benchmark-settings.json"


def decoding(text: str) -> dict[str, str]:
    values = {}
    for part in text.split(","):
        key, equals, value = part.partition("=")
        if not key or not equals:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE[,KEY=VALUE...], got {text!r}")
        values[key.strip()] = value.strip()
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a run directory kept by the benchmark's --keep")
    parser.add_argument("--data", type=Path, required=True, help="text<TAB>summary pairs to score on")
    parser.add_argument("--decoding", type=decoding, action="append", required=True, metavar="KEY=VALUE,...")
    args = parser.parse_args(argv)

    from trainers.runtime import keyset
    from trainers.shared.seq2seq import evaluation
    from trainers.tasks import registry
    from trainers.tasks.summarize import metrics
    from trainers.tasks.summarize.task import PAIRS

    settings = json.loads((args.run / SETTINGS_FILE).read_text())
    assets = json.loads((args.run / "vocab.json").read_text())
    pairs = PAIRS.read(args.data, skip_bad_lines=False)
    tasks = registry()
    model = None
    print("| decoding | ROUGE-1 | ROUGE-2 | ROUGE-L | s |")
    print("|---|---|---|---|---|")
    for values in args.decoding:
        cfg = keyset.load({**settings, **values}, {}, tasks)
        run = tasks.for_model_type(cfg.model_type).create(cfg, assets, None, None, None)
        if model is None:
            model = run.build_model()
            model.load_weights(str(args.run / "best.weights.h5"))
        _, summarize = run._functions(model)
        started = time.monotonic()
        decoded = evaluation.decoded(summarize, pairs.sources, len(pairs.sources))
        scores = metrics.rouge(pairs.targets, decoded)
        label = ",".join(f"{k}={v}" for k, v in values.items())
        cells = " | ".join(f"{100 * scores[m]:.1f}" for m in metrics.MEASURES)
        print(f"| {label} | {cells} | {time.monotonic() - started:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
