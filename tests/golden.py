"""Golden runs: the weights and metrics the trainer produced before the runtime was opened up
(issue 15), so a refactor that changes a single number is caught.

`python -m tests.golden --record` trains each run below with the real trainer and writes
tests/data/golden_runs.json; it was run once, on the code before the refactor (commit 3d64308),
and must not be re-recorded to make a failing comparison pass. tests/test_golden_runs.py trains
the same runs with today's code and compares.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from tests.helpers import read_metrics, run_trainer

GOLDEN_FILE = Path(__file__).resolve().parent / "data" / "golden_runs.json"

# 62 steps per epoch on the bundled samples (2000 lines, batch 32): 70 steps cross one epoch end
# (validation, exportBest bookkeeping) and stop inside the second epoch.
RUNS: dict[str, tuple[dict[str, str], bool]] = {
    "capsule-b": ({"modelType": "capsule-b", "trainSteps": "70", "checkpointEvery": "30"}, True),
    "kimcnn": ({"modelType": "kimcnn", "trainSteps": "70", "checkpointEvery": "30"}, True),
    "seq2seq-attention": (
        {
            "modelType": "seq2seq-attention",
            "hiddenSize": "32",
            "embeddingDim": "24",
            "evalSamples": "32",
            "trainSteps": "70",
            "checkpointEvery": "30",
            "learningRate": "0.004",
            "logEvery": "10",
        },
        False,
    ),
}


def fingerprint(model_dir: Path) -> dict[str, list[float]]:
    """Per model weight in the newest checkpoint: [sum, sum of absolute values, sum of squares]."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir / "checkpoints")))
    found = {}
    for name in sorted(reader.get_variable_to_shape_map()):
        if name.startswith("model_weights/"):
            value = reader.get_tensor(name).astype(np.float64)
            found[name] = [float(value.sum()), float(np.abs(value).sum()), float(np.square(value).sum())]
    return found


def train(name: str, model_dir: Path) -> dict:
    values, tiny = RUNS[name]
    result = run_trainer({**values, "modelDir": str(model_dir)}, tiny=tiny, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"golden run {name} failed:\n{result.stderr[-3000:]}")
    history = read_metrics(model_dir)["history"]
    return {"history": history, "weights": fingerprint(model_dir)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help=f"write {GOLDEN_FILE.name} (once, on the old code)")
    args = parser.parse_args(argv)
    found = {}
    for name in RUNS:
        with tempfile.TemporaryDirectory() as directory:
            found[name] = train(name, Path(directory))
        print(f"{name}: {len(found[name]['weights'])} weights, history {found[name]['history'][-1]}", flush=True)
    if args.record:
        GOLDEN_FILE.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
