"""Extension points of the opened runtime, each with a case that fails without it: evalEvery
periods that span data epochs and resume exactly, the model's own losses in the step, sinks that
fail in isolation, and the model-only signature in every task's export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import katib_metrics, read_metrics, run_trainer
from trainers.runtime.reporting.history import History
from trainers.runtime.reporting.sinks import Sink, Sinks


class Recorder(Sink):
    name = "recorder"

    def __init__(self):
        self.rows = []

    def epoch(self, row, timing):
        self.rows.append(row)


class Broken(Sink):
    name = "broken"

    def epoch(self, row, timing):
        raise ConnectionError("tracking server refused the connection\nsecond line")


class FakeRun:
    def __init__(self, model_dir):
        self.model_dir = model_dir
        self.metrics = model_dir / "metrics.json"

    def push(self, _path):
        pass


class Cfg:
    run_name, model_type, task_name = "r", "cnn", "classify"


def test_a_failing_sink_costs_a_warning_and_never_the_row(tmp_path):
    said, recorder = [], Recorder()
    history = History(FakeRun(tmp_path), Cfg(), Sinks([Broken(), recorder], said.append))
    history.record({"epoch": 1, "step": 10, "loss": 0.5}, {})
    assert recorder.rows == [{"epoch": 1, "step": 10, "loss": 0.5}]  # the next sink still got it
    assert said == ["warning: broken sink failed in epoch (tracking server refused the connection); training goes on"]
    assert json.loads((tmp_path / "metrics.json").read_text())["history"][0]["loss"] == 0.5


def test_the_step_adds_the_models_own_losses():
    import keras

    from trainers.runtime.training.step import StepRunner

    class Run:
        train_metric_names = ()

        def per_example_loss(self, targets, outputs):
            return tf.reduce_sum((targets - outputs) ** 2, axis=-1)

        def step_metrics(self, targets, outputs):
            return {}

    strategy = tf.distribute.get_strategy()
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(1, kernel_initializer="ones", kernel_regularizer=keras.regularizers.L2(0.5)),
        ]
    )
    optimizer = keras.optimizers.SGD(0.0)
    optimizer.build(model.trainable_variables)
    x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(4))
    runner = StepRunner(strategy, model, optimizer, Run(), 4, tf.Variable(0))
    loss = float(runner.step(iter(dataset)).numpy()[0])
    assert loss == pytest.approx(4.0 + 0.5 * 2.0)  # (1+1)^2 per example, plus L2 0.5 * (1^2 + 1^2)


@pytest.mark.slow
def test_eval_every_reports_periods_across_data_epochs_and_resumes_exactly(tmp_path):
    # 62 steps per data epoch: periods end at 25, 50, 75 and 100, two of them inside data epoch 2.
    values = {"modelType": "cnn", "trainSteps": "100", "evalEvery": "25", "checkpointEvery": "10"}
    whole = run_trainer({**values, "modelDir": str(tmp_path / "whole")})
    assert whole.returncode == 0, whole.stderr[-3000:]
    rows = read_metrics(tmp_path / "whole")["history"]
    assert [(r["epoch"], r["step"]) for r in rows] == [(1, 25), (2, 50), (3, 75), (4, 100)]
    assert all("val_accuracy" in r for r in rows)
    assert [r["epoch"] for r in katib_metrics(whole.stdout)] == [1, 2, 3, 4]

    # Killed at step 66: inside period 3 and inside data epoch 2; resumes from the step-60 checkpoint.
    killed = run_trainer({**values, "modelDir": str(tmp_path / "killed")}, env={"TEXTJOBS_FAULT": "step.done:66"})
    assert killed.returncode == -9
    resumed = run_trainer({**values, "modelDir": str(tmp_path / "killed")})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stdout and "at step 60" in resumed.stdout
    for a, b in zip(rows, read_metrics(tmp_path / "killed")["history"], strict=True):
        assert a == pytest.approx(b), (a, b)


def _export_dir(model_dir):
    versions = sorted((model_dir / "export").glob("[0-9]*"))
    assert versions, "no export"
    return versions[-1]


@pytest.mark.slow
def test_classify_export_carries_a_model_only_signature_that_matches_serving(tmp_path):
    from trainers.shared.text import tokenize

    result = run_trainer({"modelType": "kimcnn", "trainSteps": "20", "modelDir": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = tf.saved_model.load(str(_export_dir(tmp_path)))
    assert set(loaded.signatures) >= {"serving_default", "model"}
    texts = ["the striker scored a late goal", "shares fell after the quarterly results"]
    served = loaded.signatures["serving_default"](text=tf.constant(texts))["scores"].numpy()
    vocabulary = json.loads((tmp_path / "vocab.json").read_text())["vocabulary"]
    index = {word: i for i, word in enumerate(vocabulary)}
    ids = np.zeros((2, 24), np.int64)  # TINY maxLength
    for row, tokens in enumerate(tokenize(tf.constant(texts)).to_list()):
        for col, token in enumerate(tokens[:24]):
            ids[row, col] = index.get(token.decode(), 1)
    model_only = loaded.signatures["model"](token_ids=tf.constant(ids))
    np.testing.assert_allclose(model_only["scores"].numpy(), served, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_summarizer_export_carries_a_model_only_signature(tmp_path):
    values = {"modelType": "seq2seq-attention", "hiddenSize": "16", "embeddingDim": "8", "trainSteps": "3"}
    result = run_trainer({**values, "evalSamples": "4", "modelDir": str(tmp_path)}, tiny=False)
    assert result.returncode == 0, result.stderr[-3000:]
    signature = tf.saved_model.load(str(_export_dir(tmp_path))).signatures["model"]
    vocabularies = json.loads((tmp_path / "vocab.json").read_text())
    logits = signature(source_ids=tf.ones([2, 60], tf.int64), decoder_in=tf.ones([2, 16], tf.int64))["logits"]
    assert logits.shape == (2, 16, len(vocabularies["target"]))
