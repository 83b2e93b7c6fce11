"""`python -m trainers evaluate --model DIR --data FILE`: score an export on labelled data.

The data uses the training line format (multi-label when the export is multi-label). Texts go
through the export's serving signature, raw strings in, exactly as a server would call it, and the
metrics are the ones the trainer prints each epoch, as `name=value` lines (or JSON). This is how
a model chosen on a dev set is scored once on a test set.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from trainers import lines, metrics, storage
from trainers.predict import resolve_version

BATCH = 512


def score(version_dir: Path, data_file: Path) -> dict[str, float]:
    import numpy as np
    import tensorflow as tf

    from trainers import data

    exported = json.loads((version_dir / "labels.json").read_text())
    labels, multi_label = exported["labels"], exported["multi_label"]
    examples = lines.read_examples(data_file, multi_label, skip_bad_lines=False)
    lines.check_known_labels(examples, labels)
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    scores = np.concatenate(
        [
            serve(text=tf.constant(examples.texts[i : i + BATCH]))["scores"].numpy()
            for i in range(0, len(examples), BATCH)
        ]
    )
    targets = data.multi_hot(examples, labels)
    return {"examples": len(examples), **metrics.evaluate(targets, scores, multi_label, exported["threshold"])}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainers evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="export root or version directory (local or gs://)")
    parser.add_argument("--data", required=True, help="labelled file in the training line format (local or gs://)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of name=value lines")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        try:
            version_dir = resolve_version(args.model, Path(cache))
            results = score(version_dir, storage.fetch(args.data, Path(cache) / "data"))
        except lines.DataError as exc:
            print(f"evaluate: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, value in results.items():
            print(f"{name}={value:.6g}" if isinstance(value, float) else f"{name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
