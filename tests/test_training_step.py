"""The training step's extension points: learning-rate schedules, global-norm clipping of the
global batch's gradient under MirroredStrategy, the model's own losses, and the optimizer keys."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import ROOT, trainer_env
from trainers.runtime.config import ConfigError
from trainers.runtime.keyset import parse_values
from trainers.tasks import registry


def cfg_of(**values):
    return parse_values([("test", {"modelType": "cnn", **values})], registry())


def rates(schedule, steps):
    return np.array([float(schedule(s)) for s in steps])


def test_warmup_rsqrt_peaks_at_learning_rate_on_the_warmup_step_then_decays_as_inverse_square_root():
    from trainers.runtime.training.optimizer import learning_rate

    cfg = cfg_of(learningRate="0.002", learningRateSchedule="warmup-rsqrt", warmupSteps="100")
    schedule = learning_rate(cfg, 10_000)
    # optimizer.iterations counts from 0, so the 100th step is iteration 99.
    got = rates(schedule, [0, 49, 99, 399, 9999])
    want = 0.002 * np.array([1 / 100, 50 / 100, 1.0, (100 / 400) ** 0.5, (100 / 10_000) ** 0.5])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert rates(schedule, range(0, 1000)).argmax() == 99


def test_cosine_warms_up_then_decays_to_the_minimum_at_the_last_step():
    from trainers.runtime.training.optimizer import learning_rate

    cfg = cfg_of(learningRate="0.01", learningRateSchedule="cosine", warmupSteps="10", minLearningRate="0.001")
    schedule = learning_rate(cfg, 110)
    got = rates(schedule, [0, 10, 60, 110])
    np.testing.assert_allclose(got, [0.0, 0.01, 0.0055, 0.001], rtol=1e-5, atol=1e-9)


def test_default_keys_give_exactly_adam_at_the_learning_rate():
    from trainers.runtime.training.optimizer import build

    optimizer = build(cfg_of(learningRate="0.003"), 100)
    assert type(optimizer).__name__ == "Adam"
    assert float(optimizer.learning_rate) == pytest.approx(0.003)
    assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.9, 0.999, 1e-07)
    adamw = build(cfg_of(optimizer="adamw", weightDecay="0.1"), 100)
    assert type(adamw).__name__ == "AdamW" and adamw.weight_decay == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"learningRateSchedule": "warmup-rsqrt"}, "warmupSteps='0' must be > 0"),
        ({"learningRateSchedule": "cosine", "minLearningRate": "0.5"}, "must be below learningRate"),
        ({"weightDecay": "0.1"}, "applies to optimizer=adamw only"),
        ({"optimizer": "sgd"}, "must be one of adam, adamw"),
        ({"learningRateSchedule": "linear"}, "must be one of constant, warmup-rsqrt, cosine"),
    ],
)
def test_optimizer_keys_refuse_what_cannot_train(values, message):
    with pytest.raises(ConfigError, match=message):
        cfg_of(**values)


def probe(replicas: int, clip: float) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.steps.clip_probe", str(replicas), str(clip)],
        cwd=ROOT,
        env=trainer_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    found["delta"] = np.concatenate([np.array(d) for d in found["delta"]])
    return found


@pytest.mark.slow
def test_clipping_bounds_the_global_norm_of_the_global_batch_gradient_on_two_replicas():
    free = probe(1, 0.0)["delta"]  # SGD(1): the whole batch's gradient, unclipped
    assert np.linalg.norm(free) > 10.0  # far above the clip, so clipping must act
    for replicas in (1, 2):
        clipped = probe(replicas, 1.0)["delta"]
        assert np.linalg.norm(clipped) == pytest.approx(1.0, rel=1e-5)
        # Clipping scales the global gradient; it does not clip each replica's half on its own.
        np.testing.assert_allclose(clipped, free / np.linalg.norm(free), rtol=1e-4, atol=1e-6)
    unclipped_two = probe(2, 0.0)["delta"]
    np.testing.assert_allclose(unclipped_two, free, rtol=1e-4, atol=1e-5)
