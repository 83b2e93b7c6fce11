"""Preemption: SIGKILL at any moment or SIGTERM, then a restart, finishes the same run."""

import re
import signal

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import katib_metrics, read_metrics, run_trainer
from tests.procs import Trainer

# 2000 examples / batch 32 = 62 steps per epoch; 3 epochs = 186 steps.
# Dropout stays on (0.5): its random state is checkpointed with everything else, data order included.
RUN = {"modelType": "cnn", "numEpochs": "3", "checkpointEvery": "25", "logEvery": "5"}
TOTAL_STEPS = 186


def weights(model_dir) -> dict:
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir / "checkpoints")))
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if n.startswith("model_weights/")}


def checkpoint_step(model_dir) -> int:
    latest = tf.train.latest_checkpoint(str(model_dir / "checkpoints"))
    return int(latest.rsplit("-", 1)[-1]) if latest else 0


@pytest.mark.slow
def test_sigkill_then_restart_finishes_with_the_same_number_of_steps(tmp_path):
    values = {**RUN, "modelDir": str(tmp_path)}
    first = Trainer(values)
    try:
        first.wait_for("step 90/186")
        first.signal(signal.SIGKILL)
        assert first.wait() == -signal.SIGKILL
    finally:
        first.kill()
    saved = checkpoint_step(tmp_path)
    # The kill lands a little after "step 90" is read, so bound by what the process really reached.
    reached = max(int(n) for n in re.findall(r"step (\d+)/186", first.output))
    checkpoint_points = sorted({*range(25, TOTAL_STEPS, 25), 62, 124})
    # A step is printed before its checkpoint is written, so one at `reached` may be mid-save.
    newest_before = max(p for p in checkpoint_points if p < reached)
    assert newest_before <= saved <= reached + 5, (saved, reached)  # lost only steps since the last checkpoint
    tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path / "checkpoints")))  # loads: not half-written

    second = run_trainer(values)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert "resumed from" in second.stdout and f"at step {saved}" in second.stdout
    assert checkpoint_step(tmp_path) == TOTAL_STEPS
    assert f"step {TOTAL_STEPS}/{TOTAL_STEPS}" in second.stdout
    history = read_metrics(tmp_path)["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[-1]["step"] == TOTAL_STEPS
    assert history[-1]["val_accuracy"] > 0.6

    # Resume is exact: the same weights as a run that was never interrupted.
    reference = run_trainer({**RUN, "modelDir": str(tmp_path / "reference")})
    assert reference.returncode == 0
    resumed, uninterrupted = weights(tmp_path), weights(tmp_path / "reference")
    for name in uninterrupted:
        np.testing.assert_allclose(resumed[name], uninterrupted[name], rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.slow
def test_sigterm_checkpoints_and_exits_retryable_then_resumes(tmp_path):
    values = {**RUN, "modelDir": str(tmp_path), "checkpointEvery": "1000"}
    first = Trainer(values)
    try:
        first.wait_for("step 40/186")
        first.signal(signal.SIGTERM)
        assert first.wait() == 143, first.output[-2000:]
    finally:
        first.kill()
    assert "SIGTERM: saved checkpoint at step" in first.output
    stopped_at = checkpoint_step(tmp_path)
    assert stopped_at >= 40  # the final checkpoint is taken at SIGTERM, not at the last interval
    second = run_trainer(values)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"at step {stopped_at}" in second.stdout
    assert checkpoint_step(tmp_path) == TOTAL_STEPS
    assert katib_metrics(second.stdout)[-1]["epoch"] == 3


def test_restart_after_completion_trains_no_more_steps(tmp_path):
    values = {**RUN, "numEpochs": "1", "modelDir": str(tmp_path)}
    assert run_trainer(values).returncode == 0
    again = run_trainer(values)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "at step 62" in again.stdout
    assert re.findall(r"step \d+/62 ", again.stdout) == []  # no training step ran
    assert checkpoint_step(tmp_path) == 62
    assert len(list((tmp_path / "export").iterdir())) == 1  # a finished run neither re-trains nor re-exports
