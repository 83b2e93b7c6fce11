"""MirroredStrategy on 2 logical CPUs and MultiWorkerMirroredStrategy with 2 real processes on
127.0.0.1, driven by TF_CONFIG exactly as the Training Operator writes it."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tests import crash
from tests.helpers import run_trainer
from tests.procs import Trainer, free_ports
from trainers.runtime.errors import EXIT_PREEMPTED

# No dropout: replicas draw different dropout masks, which would make weights differ.
DETERMINISTIC = {"modelType": "cnn", "dropout": "0", "trainSteps": "40", "batchSize": "32", "checkpointEvery": "1000"}


def final_weights(model_dir):
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(model_dir / "checkpoints")))
    names = sorted(
        n for n in reader.get_variable_to_shape_map() if n.startswith("model_weights/") and "OPTIMIZER" not in n
    )
    return {n: reader.get_tensor(n) for n in names}


def export_weights(version_dir):
    reader = tf.train.load_checkpoint(str(version_dir / "variables" / "variables"))
    names = sorted(n for n in reader.get_variable_to_shape_map() if not n.startswith("_CHECKPOINTABLE"))
    return {n: reader.get_tensor(n) for n in names}


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus_matches_one_replica(tmp_path):
    one = run_trainer({**DETERMINISTIC, "modelDir": str(tmp_path / "one")})
    two = run_trainer({**DETERMINISTIC, "modelDir": str(tmp_path / "two")}, env={"TEXTJOBS_CPU_REPLICAS": "2"})
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-2000:]
    assert "2 replica(s) on 1 worker(s)" in two.stdout
    a, b = final_weights(tmp_path / "one"), final_weights(tmp_path / "two")
    assert a.keys() == b.keys() and a
    for name in a:  # the same global batch split over 2 replicas gives the same update
        np.testing.assert_allclose(a[name], b[name], rtol=2e-3, atol=2e-4, err_msg=name)


def tf_config(ports, task_type, index):
    cluster = {"chief": [f"127.0.0.1:{ports[0]}"], "worker": [f"127.0.0.1:{ports[1]}"]}
    return json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}, "environment": "cloud"})


@pytest.mark.slow
def test_multi_worker_chief_and_worker_end_with_identical_weights(tmp_path):
    ports = free_ports(2)
    values = {**DETERMINISTIC, "modelDir": str(tmp_path / "run"), "scratchDir": str(tmp_path / "scratch")}
    chief = Trainer(values, env={"TF_CONFIG": tf_config(ports, "chief", 0)})
    worker = Trainer(values, env={"TF_CONFIG": tf_config(ports, "worker", 0)})
    try:
        assert chief.wait(300) == 0, chief.output[-3000:]
        assert worker.wait(60) == 0, worker.output[-3000:]
    finally:
        chief.kill()
        worker.kill()
    assert "1 replica(s)" not in chief.output and "2 replica(s) on 2 worker(s)" in chief.output
    assert "[worker-0]" not in worker.output  # only the chief reports
    # Only the chief wrote the run directory; the worker's export went to its scratch space.
    chief_exports = list((tmp_path / "run" / "export").iterdir())
    worker_exports = list((tmp_path / "scratch").glob("textjobs/local/worker-0/worker-export/*"))
    assert len(chief_exports) == 1 and len(worker_exports) == 1
    assert not list((tmp_path / "scratch").glob("textjobs/local/worker-0/worker-checkpoints"))
    a, b = export_weights(chief_exports[0]), export_weights(worker_exports[0])
    assert a.keys() == b.keys() and a
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_parameter_servers_are_refused_with_a_clear_message(tmp_path):
    config = {"cluster": {"chief": ["127.0.0.1:1"], "ps": ["127.0.0.1:2"]}, "task": {"type": "chief", "index": 0}}
    result = run_trainer({"modelDir": str(tmp_path)}, env={"TF_CONFIG": json.dumps(config)})
    assert result.returncode == 2
    assert "use Chief and Worker replicas only" in result.stderr


def run_pair(values: dict, work, chief_fault: str = "", worker_fault: str = "") -> tuple[int, int, str]:
    """Chief + worker on loopback, as the Training Operator starts them; returns both exit codes."""
    ports = free_ports(2)
    processes = []
    for role, fault in (("chief", chief_fault), ("worker", worker_fault)):
        env = {"TF_CONFIG": tf_config(ports, role, 0), **({"TEXTJOBS_FAULT": fault} if fault else {})}
        processes.append(Trainer({**values, "scratchDir": str(work / f"scratch-{role}")}, env=env, tiny=False))
    try:
        codes = [p.wait(300) for p in processes]
    finally:
        for p in processes:
            p.kill()
    return codes[0], codes[1], "\n".join(p.output[-2500:] for p in processes)


@pytest.mark.slow
def test_chief_and_worker_resume_exactly_after_sigterm_to_either(tmp_path):
    """The crash properties under MultiWorkerMirroredStrategy: a SIGTERM to either process stops
    both at the same step with a checkpoint (exit 143); the restarted pair ends exactly where an
    uninterrupted pair does, every epoch recorded once. Dropout stays on (0.5)."""
    data = crash.write_data(tmp_path / "data")
    reference_dir, run_dir = tmp_path / "reference", tmp_path / "run"
    chief, worker, log = run_pair({**crash.RUN, **data, "modelDir": str(reference_dir)}, tmp_path / "ref")
    assert (chief, worker) == (0, 0), log
    values = {**crash.RUN, **data, "modelDir": str(run_dir)}
    # The worker is told to stop during its 5th step: both save after step 6 and exit 143.
    assert run_pair(values, tmp_path, worker_fault="step.done:5:term")[:2] == (EXIT_PREEMPTED, EXIT_PREEMPTED)
    # Then the chief, 14 steps after the restart (step 20 of 36).
    chief, worker, log = run_pair(values, tmp_path, chief_fault="step.done:14:term")
    assert (chief, worker) == (EXIT_PREEMPTED, EXIT_PREEMPTED), log
    assert "resumed from" in log and "at step 6 " in log
    chief, worker, log = run_pair(values, tmp_path)
    assert (chief, worker) == (0, 0), log
    assert "at step 21 " in log
    problems = crash.problems_of(run_dir, crash.read_finished(reference_dir))
    assert not problems, "\n".join([*problems, log])
