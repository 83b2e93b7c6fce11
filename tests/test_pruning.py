"""Magnitude pruning (trainers/runtime/training/pruning.py): the cubic schedule, exactly the target
fraction of every pruned kernel zero after the end step and from then on (more steps, a resume, the
export), the same masks on every replica and every worker, and an exact resume after kills while
the masks are still changing."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests import crash
from tests.helpers import ROOT, read_metrics, run_trainer, trainer_env
from trainers.runtime.training.pruning import parse_layers, sparsity_at, update_due


def test_cubic_schedule_values():
    target, begin, end = 0.8, 10, 110
    assert sparsity_at(0, target, begin, end) == 0.0
    assert sparsity_at(10, target, begin, end) == 0.0
    # Halfway: s_f * (1 - 0.5**3) = 0.8 * 0.875
    assert sparsity_at(60, target, begin, end) == pytest.approx(0.7)
    assert sparsity_at(35, target, begin, end) == pytest.approx(0.8 * (1 - 0.75**3))
    assert sparsity_at(110, target, begin, end) == target
    assert sparsity_at(10_000, target, begin, end) == target
    values = [sparsity_at(s, target, begin, end) for s in range(0, 130)]
    assert values == sorted(values)  # never decreases
    # Fast at first, slow near the end (the point of the cubic): the first tenth of the way
    # prunes more than the last tenth.
    assert values[20] - values[10] > values[110] - values[100]


def test_masks_update_every_n_steps_and_at_the_end():
    due = [s for s in range(0, 40) if update_due(s, begin=5, end=27, every=10)]
    assert due == [15, 25, 27]


def test_prune_layers_are_named_kinds():
    assert parse_layers("dense, embedding") == ("dense", "embedding")
    with pytest.raises(ValueError, match="unknown: \\['bias'\\]"):
        parse_layers("dense,bias")


def _checkpoint(model_dir):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir / "checkpoints")))
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if "OPTIMIZER" not in n}


def _export_weights(model_dir):
    import tensorflow as tf

    from trainers.runtime.versions import complete_versions

    version = model_dir / "export" / complete_versions(model_dir / "export")[-1]
    reader = tf.train.load_checkpoint(str(version / "variables" / "variables"))
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if n.endswith("VARIABLE_VALUE")}


@pytest.mark.slow
def test_exactly_the_target_fraction_is_zero_after_the_end_and_stays_zero(tmp_path):
    data = crash.write_data(tmp_path / "data")
    # 12 steps an epoch, 3 epochs: pruning ends at step 20, then 16 more steps train around the zeros.
    values = {**crash.RUN, **data, "modelDir": str(tmp_path / "run")}
    values.update(pruneSparsity="0.75", pruneBeginStep="2", pruneEndStep="20", pruneEvery="3", exportBest="false")
    result = run_trainer(values, tiny=False)
    assert result.returncode == 0, result.stderr[-2000:]
    checkpoint = _checkpoint(tmp_path / "run")
    masks = {n: v for n, v in checkpoint.items() if n.startswith("actions/pruning/")}
    assert len(masks) == 3, sorted(checkpoint)  # cnn: the embedding table, the convolution, the output layer
    for name, mask in masks.items():
        assert int(np.sum(mask == 0)) == round(0.75 * mask.size), name
    kernels = {n: v for n, v in checkpoint.items() if n.startswith("model_weights/") and v.ndim >= 2}
    assert len(kernels) == 3
    for name, value in kernels.items():
        assert int(np.sum(value == 0)) == round(0.75 * value.size), name
    biases = [v for n, v in checkpoint.items() if n.startswith("model_weights/") and v.ndim == 1]
    assert biases and all(np.count_nonzero(b) == b.size for b in biases)  # never pruned
    exported = [v for v in _export_weights(tmp_path / "run").values() if v.ndim >= 2]
    assert len(exported) == 3
    for value in exported:
        assert int(np.sum(value == 0)) == round(0.75 * value.size)
    history = read_metrics(tmp_path / "run")["history"]
    # Epoch 1 ends at step 12, mid-schedule; epochs 2 and 3 after the end step.
    assert 0 < history[0]["sparsity"] < 0.75
    assert [row["sparsity"] for row in history[1:]] == [0.75, 0.75]
    assert "sparsity=0.75" in result.stdout  # the Katib line


def test_pruning_keys_without_a_sparsity_are_refused(tmp_path):
    result = run_trainer({"modelDir": str(tmp_path / "run"), "pruneEndStep": "10"})
    assert result.returncode == 2
    assert "pruneEndStep='10' applies only with pruneSparsity > 0" in result.stderr


def test_an_end_step_after_the_run_is_refused(tmp_path):
    result = run_trainer(
        {"modelDir": str(tmp_path / "run"), "trainSteps": "5", "pruneSparsity": "0.5", "pruneEndStep": "9"}
    )
    assert result.returncode == 2
    assert "pruneEndStep='9' is after the run's last step (5)" in result.stderr


REPLICAS = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from trainers.runtime.training.pruning import Pruning
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = keras.Sequential([keras.Input((6,), dtype="int64"), keras.layers.Embedding(50, 8),
                                  keras.layers.GRU(8), keras.layers.Dense(4)])
        optimizer = keras.optimizers.Adam(0.05)
        optimizer.build(model.trainable_variables)
        pruning = Pruning(0.6, 0, 6, 2, ("dense", "embedding", "recurrent"))
        pruning.build(model, optimizer, strategy)
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices((rng.integers(0, 50, (64, 6)), rng.normal(size=(64, 4)).astype("float32")))
    iterator = iter(strategy.experimental_distribute_dataset(data.repeat().batch(8)))

    @tf.function
    def step():
        def replica(x, y):
            with tf.GradientTape() as tape:
                loss = tf.nn.compute_average_loss(tf.reduce_mean((model(x) - y) ** 2, -1), global_batch_size=8)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        strategy.run(replica, args=next(iterator))

    for i in range(1, 9):
        step()
        pruning.after_step(i)
    found = {"replicas": strategy.num_replicas_in_sync, "masks": [], "weights": []}
    for mask, weight in zip(pruning.masks, pruning.weights):
        copies = [v.numpy() for v in mask.values]
        found["masks"].append([bool(np.array_equal(copies[0], c)) for c in copies] + [int(np.sum(copies[0] == 0)), int(copies[0].size)])
        w = [v.numpy() for v in weight.value.values]
        found["weights"].append([bool(np.array_equal(w[0], c)) for c in w] + [int(np.sum(w[0] == 0))])
    print(json.dumps(found))
    """
)


@pytest.mark.slow
def test_masks_are_identical_on_every_replica():
    result = subprocess.run(
        [sys.executable, "-c", REPLICAS], cwd=ROOT, env=trainer_env(), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["replicas"] == 2
    # embedding, GRU kernel and recurrent kernel, dense kernel
    assert len(found["masks"]) == 4
    for (*same, zeros, size), (*same_weights, weight_zeros) in zip(found["masks"], found["weights"], strict=True):
        assert all(same) and all(same_weights)
        assert zeros == round(0.6 * size) == weight_zeros


@pytest.mark.slow
def test_kills_while_the_masks_change_resume_exactly(tmp_path):
    data = crash.write_data(tmp_path / "data")
    prune = {"pruneSparsity": "0.8", "pruneBeginStep": "3", "pruneEndStep": "30", "pruneEvery": "4"}
    reference = run_trainer({**crash.RUN, **data, **prune, "modelDir": str(tmp_path / "reference")}, tiny=False)
    assert reference.returncode == 0, reference.stderr[-2000:]
    values = {**crash.RUN, **data, **prune, "modelDir": str(tmp_path / "run")}
    # Killed after step 9 (masks updated at 7, next at 11), then inside the checkpoint of step 20.
    outcome = crash.run_scenario(0, values, None, crash.LOCAL_POINTS, faults=["step.done:9", "checkpoint.before:3:5"])
    assert outcome.kills == 2, outcome.log
    problems = outcome.problems or crash.problems_of(tmp_path / "run", crash.read_finished(tmp_path / "reference"))
    assert not problems, "\n".join([*problems, *outcome.log])
    ours, theirs = _checkpoint(tmp_path / "run"), _checkpoint(tmp_path / "reference")
    masks = [n for n in theirs if n.startswith("actions/pruning/")]
    assert masks
    for name in masks:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)


@pytest.mark.slow
def test_chief_and_worker_prune_the_same_weights(tmp_path):
    """MultiWorkerMirroredStrategy: each worker computes the masks from its own copy of the
    weights; the rule is deterministic, so both end with the same zeros (the worker's export, in
    its scratch space, equals the chief's)."""
    from tests.test_distributed import export_weights, run_pair

    data = crash.write_data(tmp_path / "data")
    prune = {"pruneSparsity": "0.5", "pruneBeginStep": "2", "pruneEndStep": "20", "pruneEvery": "5", "dropout": "0"}
    values = {**crash.RUN, **data, **prune, "exportBest": "false", "modelDir": str(tmp_path / "run")}
    chief, worker, log = run_pair(values, tmp_path)
    assert (chief, worker) == (0, 0), log
    (chief_export,) = (tmp_path / "run" / "export").iterdir()
    (worker_export,) = (tmp_path / "scratch-worker").glob("textjobs/local/worker-0/worker-export/*")
    a, b = export_weights(chief_export), export_weights(worker_export)
    kernels = [n for n in a if a[n].ndim >= 2]
    assert len(kernels) == 3
    for name in kernels:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        assert int(np.sum(a[name] == 0)) == round(0.5 * a[name].size), name
