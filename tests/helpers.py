"""Helpers shared by tests: run the real trainer CLI in a subprocess with tiny models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trainers.runtime.config import without_config_env

ROOT = Path(__file__).resolve().parent.parent

# Small enough to train in seconds on 2 cores, big enough to learn the sample data.
TINY = {
    "embeddingDim": "32",
    "numFilters": "32",
    "capsuleFilters": "16",
    "capsuleDim": "8",
    "primaryCapsules": "8",
    "convCapsules": "8",
    "maxLength": "24",
    "batchSize": "32",
    "learningRate": "0.005",
    "logEvery": "10",
    "xla": "false",
}


def trainer_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment: no stray config-like variables, TF quiet, no emulator unless given."""
    env = without_config_env(os.environ)
    env.pop("STORAGE_EMULATOR_HOST", None)
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        env.pop(name, None)
    env.pop("TF_CONFIG", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def flags(values: dict[str, str]) -> list[str]:
    return [f"--{key}={value}" for key, value in values.items()]


def train_command(values: dict[str, str], tiny: bool = True) -> list[str]:
    merged = {**(TINY if tiny else {}), **values}
    return [sys.executable, "-m", "trainers", "train", *flags(merged)]


def run_trainer(values: dict[str, str], env: dict[str, str] | None = None, timeout: float = 240, tiny: bool = True):
    return subprocess.run(
        train_command(values, tiny), cwd=ROOT, env=trainer_env(env), capture_output=True, text=True, timeout=timeout
    )


def trainers_cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m trainers ARGS...` in a subprocess, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "trainers", *args],
        cwd=ROOT,
        env=trainer_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def predict(export_dir: Path, texts: list[str]) -> list[dict]:
    """`python -m trainers predict --json` on an export."""
    result = trainers_cli("predict", "--json", "--model", str(export_dir), *texts)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def read_metrics(model_dir: Path) -> dict:
    return json.loads((Path(model_dir) / "metrics.json").read_text())


def katib_metrics(stdout: str) -> list[dict[str, float]]:
    """Parse the `name=value` epoch lines as Katib's StdOut collector would."""
    rows = []
    for line in stdout.splitlines():
        if line.startswith("epoch="):
            rows.append({k: float(v) for k, v in (pair.split("=") for pair in line.split())})
    return rows
