"""exportBest: the best epoch's weights are the ones exported, and `evaluate` scores an export."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.helpers import read_metrics, run_trainer, trainers_cli
from trainers.runtime.best_epoch import BestEpoch
from trainers.runtime.config import ConfigError
from trainers.runtime.keyset import parse_values
from trainers.tasks import registry
from trainers.tasks.classify.task import SAMPLE_DIR


class LocalRun:
    def __init__(self, directory: Path):
        self.best_weights = directory / "best.weights.h5"

    def push(self, local):
        pass

    def pull(self, local):
        return local.exists()


def _model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def _set(model, value):
    model.set_weights([np.full_like(w, value) for w in model.get_weights()])


def test_best_weights_follow_the_best_row_and_survive_a_resume(tmp_path):
    run, model = LocalRun(tmp_path), _model()
    best = BestEpoch(run, True, "val_accuracy", higher_is_better=True)
    for epoch, (accuracy, value) in enumerate([(0.5, 1.0), (0.8, 2.0), (0.7, 3.0)], start=1):
        _set(model, value)
        best.offer(model, {"epoch": epoch, "step": epoch * 10, "val_accuracy": accuracy})
    assert not list(tmp_path.glob(".tmp-*")), "staging file left behind"

    # A restarted run knows the best so far from metrics.json history: a worse epoch does not replace it.
    history = [{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": 0.8}, {"epoch": 3, "val_accuracy": 0.7}]
    resumed = BestEpoch(run, True, "val_accuracy", higher_is_better=True)
    resumed.reset(history)
    _set(model, 4.0)
    assert not resumed.offer(model, {"epoch": 4, "step": 40, "val_accuracy": 0.79})
    chosen = resumed.restore(model)
    assert chosen["epoch"] == 2
    assert all(np.all(w == 2.0) for w in model.get_weights())


def test_disabled_best_epoch_keeps_the_last_weights(tmp_path):
    run, model = LocalRun(tmp_path), _model()
    best = BestEpoch(run, False, "val_accuracy", higher_is_better=True)
    _set(model, 1.0)
    assert not best.offer(model, {"epoch": 1, "step": 10, "val_accuracy": 0.9})
    assert best.restore(model) is None and not run.best_weights.exists()


def test_export_best_needs_eval_data():
    with pytest.raises(ConfigError, match="exportBest='true' needs evalData"):
        parse_values([("flags", {"exportBest": "true", "trainData": "data/all.tsv"})], registry())


def test_trainer_exports_the_best_epoch_and_evaluate_reproduces_its_score(tmp_path):
    eval_file = SAMPLE_DIR / "topics.eval.tsv"
    result = run_trainer(
        {"modelType": "cnn", "numEpochs": "4", "learningRate": "0.02", "exportBest": "true", "modelDir": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = read_metrics(tmp_path)
    scores = [row["val_accuracy"] for row in metrics["history"]]
    best_epoch = scores.index(max(scores)) + 1
    assert metrics["export_epoch"] == best_epoch
    assert json.loads((Path(metrics["export"]) / "labels.json").read_text())["epoch"] == best_epoch

    evaluated = trainers_cli("evaluate", "--json", "--model", str(tmp_path / "export"), "--data", str(eval_file))
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    found = json.loads(evaluated.stdout)
    # The export holds the chosen epoch's weights, so serving it reproduces that epoch's score.
    assert found["accuracy"] == pytest.approx(max(scores), abs=1e-6)
    assert found["examples"] == sum(
        1 for line in eval_file.read_text().splitlines() if line.strip() and not line.startswith("#")
    )


def test_evaluate_names_the_file_and_line_of_bad_data(tmp_path):
    result = run_trainer({"modelType": "cnn", "numEpochs": "1", "modelDir": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    bad = tmp_path / "bad.tsv"
    bad.write_text("sports\tthe match\nno tab on this line\n")
    evaluated = trainers_cli("evaluate", "--model", str(tmp_path / "export"), "--data", str(bad))
    assert evaluated.returncode == 2
    assert f"{bad}:2: expected '<label><TAB><text>'" in evaluated.stderr


def test_lower_is_better_scores_keep_the_smallest(tmp_path):
    run, model = LocalRun(tmp_path), _model()
    best = BestEpoch(run, True, "val_loss", higher_is_better=False)
    for epoch, (loss, value) in enumerate([(0.9, 1.0), (0.3, 2.0), (0.5, 3.0)], start=1):
        _set(model, value)
        best.offer(model, {"epoch": epoch, "step": epoch, "val_loss": loss})
    assert best.restore(model)["epoch"] == 2
    assert all(np.all(w == 2.0) for w in model.get_weights())
