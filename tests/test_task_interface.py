"""A task can be added without touching the runtime: tests/regression_task.py trains, resumes,
evaluates its best epoch and exports through `python -m trainers`, loaded only through
TEXTJOBS_TASK_MODULES. And the runtime imports no task."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT, katib_metrics, read_metrics, run_trainer, trainer_env
from trainers.runtime import config, keyset
from trainers.runtime.registry import TaskRegistry

PLUGIN = {"TEXTJOBS_TASK_MODULES": "tests.regression_task"}
WEIGHTS, BIAS = np.array([2.0, -3.0, 0.5]), 1.0


def write_numbers(path: Path, count: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 3))
    y = x @ WEIGHTS + BIAS + rng.normal(scale=0.01, size=count)
    path.write_text("".join(f"{t:.5f}\t{','.join(f'{v:.5f}' for v in row)}\n" for t, row in zip(y, x, strict=True)))
    return str(path)


def test_runtime_imports_no_task():
    for source in (ROOT / "trainers" / "runtime").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.startswith("trainers.tasks") for n in names), f"{source.name} imports {names}"


def test_plugin_task_keys_are_checked_like_built_in_ones(monkeypatch):
    monkeypatch.setenv("TEXTJOBS_TASK_MODULES", "tests.regression_task")
    registry = TaskRegistry(["trainers.tasks.classify"], "capsule-b")
    cfg = keyset.parse_values([("cm", {"modelType": "linear-regression", "trainData": "x.tsv"})], registry)
    assert cfg.task_name == "regress" and cfg.num_features == 3
    with pytest.raises(config.ConfigError, match="key 'numFeatures' belongs to task regress"):
        keyset.parse_values([("cm", {"modelType": "cnn", "numFeatures": "4"})], registry)
    with pytest.raises(config.ConfigError, match="key 'maxLength' belongs to task classify"):
        keyset.parse_values([("cm", {"modelType": "linear-regression", "maxLength": "4"})], registry)
    with pytest.raises(config.ConfigError, match="trainData is empty and task regress bundles no sample data"):
        keyset.parse_values([("cm", {"modelType": "linear-regression"})], registry)


@pytest.mark.slow
def test_a_task_from_outside_trains_resumes_and_serves(tmp_path):
    values = {
        "modelType": "linear-regression",
        "trainData": write_numbers(tmp_path / "train.tsv", 256, 1),
        "evalData": write_numbers(tmp_path / "eval.tsv", 64, 2),
        "numEpochs": "6",
        "batchSize": "16",
        "learningRate": "0.1",
        "exportBest": "true",
        "modelDir": str(tmp_path / "run"),
    }
    killed = run_trainer(values, env={**PLUGIN, "TEXTJOBS_FAULT": "epoch.checkpointed:2"}, tiny=False)
    assert killed.returncode == -9, killed.stderr[-2000:]
    result = run_trainer(values, env=PLUGIN, tiny=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [row["epoch"] for row in katib_metrics(result.stdout)] == [2, 3, 4, 5, 6]  # 2 recorded on restart
    metrics = read_metrics(tmp_path / "run")
    assert [row["epoch"] for row in metrics["history"]] == [1, 2, 3, 4, 5, 6]
    assert metrics["final"]["val_mae"] < 0.1, metrics["final"]
    # The action's counter is checkpointed: the steps redone after the kill are not counted twice.
    assert [row["steps_counted"] for row in metrics["history"]] == [16.0 * e for e in range(1, 7)]
    assert json.loads((tmp_path / "run" / "normalizer.json").read_text())["mean"]

    probe = subprocess.run(
        [sys.executable, "-m", "trainers", "predict", "--json", "--model", str(tmp_path / "run" / "export"), "1,0,0"],
        cwd=ROOT,
        env=trainer_env(PLUGIN),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert json.loads(probe.stdout)[0] == pytest.approx(WEIGHTS[0] + BIAS, abs=0.15)
