"""What every task's benchmark (`make benchmark TASK=<task>`, trainers/tasks/<task>/tools/
benchmark.py) does the same way: train in a fresh `python -m trainers train` process and read
its metrics.json and peak memory, score an export with `python -m trainers evaluate`, take
`--set KEY=VALUE` settings. Benchmarks print; nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from trainers.runtime.config import without_config_env

ROOT = Path(__file__).resolve().parents[2]
# Real data sets live beside the repository (never needed by the tests).
SHARED_DATA = ROOT.parent / "shared" / "data"


def trainer_env() -> dict[str, str]:
    """This environment without stray configuration keys, TensorFlow quiet."""
    return {**without_config_env(os.environ), "TF_CPP_MIN_LOG_LEVEL": "2"}


def train(values: dict[str, str]) -> tuple[dict, float, int]:
    """Run one training process; returns (metrics.json, peak RSS in MiB, exit code)."""
    env = trainer_env()
    command = [sys.executable, "-m", "trainers", "train", *[f"--{k}={v}" for k, v in values.items()]]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(output[-3000:], file=sys.stderr)
        return {}, 0.0, proc.returncode
    metrics = json.loads((Path(values["modelDir"]) / "metrics.json").read_text())
    return metrics, usage.ru_maxrss / 1024, 0


def evaluate(export: Path, data: Path) -> dict:
    """`python -m trainers evaluate --json` of an export on a labelled file."""
    command = [sys.executable, "-m", "trainers", "evaluate", "--json", "--model", str(export), "--data", str(data)]
    result = subprocess.run(command, cwd=ROOT, env=trainer_env(), capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def setting(text: str) -> tuple[str, str]:
    """`--set KEY=VALUE` as a (key, value) pair; the trainer itself checks key and value."""
    key, equals, value = text.partition("=")
    if not key or not equals:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value
