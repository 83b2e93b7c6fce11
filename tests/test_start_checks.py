"""A start that cannot succeed fails at once, with one line and a permanent or retryable code, and
leaves nothing behind; values that pass the configuration check do not crash later."""

import json
import signal

import pytest

from tests import crash
from tests.helpers import read_metrics, run_trainer
from tests.procs import Trainer, free_ports
from trainers.runtime.errors import EXIT_BAD_INPUT, EXIT_PREEMPTED, EXIT_TRANSIENT


def _fails_cleanly(result, message: str, code: int = EXIT_BAD_INPUT) -> None:
    assert result.returncode == code, result.stdout[-1500:] + result.stderr[-1500:]
    assert message in result.stderr, result.stderr[-1500:]
    assert "Traceback" not in result.stderr


def test_a_failed_start_persists_nothing_so_the_corrected_start_is_clean(tmp_path):
    data = crash.write_data(tmp_path / "data")
    with open(data["evalData"], "a") as handle:
        handle.write("opinion\ta label the training data lacks\n")
    run_dir = tmp_path / "run"
    failed = run_trainer({**crash.RUN, **data, "numEpochs": "1", "modelDir": str(run_dir)}, tiny=False)
    _fails_cleanly(failed, "label 'opinion' is not one the model was trained on")
    assert not run_dir.exists(), sorted(p.name for p in run_dir.rglob("*"))

    # The user adds the label to the training data; the run must see it, not a stale vocab.json.
    with open(data["trainData"], "a") as handle:
        handle.write("opinion\ti think this film is wonderful\n" * 8)
    fixed = run_trainer({**crash.RUN, **data, "numEpochs": "1", "modelDir": str(run_dir)}, tiny=False)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert "opinion" in json.loads((run_dir / "vocab.json").read_text())["labels"]


def _a_file(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    return blocker


@pytest.mark.parametrize(
    ("values", "env", "message"),
    [
        ({"seed": "4294967296"}, {}, "seed='4294967296' must be between 0 and 2147483647"),
        ({"vocabSize": "2"}, {}, "vocabSize='2' must be between 3 and"),
        ({"embeddingsFile": "{tmp}/missing.vec"}, {}, "missing.vec: file not found"),
        ({"modelDir": "{blocker}/run"}, {}, "modelDir: cannot create or write"),
        ({"exportDir": "{blocker}/export"}, {}, "exportDir: cannot create or write"),
        (
            {},
            {
                "TF_CONFIG": '{"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": -1}}'
            },
            "TF_CONFIG task index -1 must be a non-negative integer",
        ),
        (
            {},
            {
                "TF_CONFIG": '{"cluster": {"chief": ["h:2222"], "worker": ["w:1", "h:2222"]}, '
                '"task": {"type": "chief", "index": 0}}'
            },
            "TF_CONFIG gives chief-0 and worker-1 the same address h:2222",
        ),
        ({}, {"TEXTJOBS_CPU_REPLICAS": "lots"}, "TEXTJOBS_CPU_REPLICAS='lots' is not an integer"),
        ({"trainData": "{tmp}/no-such.tsv"}, {}, "no-such.tsv: file not found"),
    ],
    ids=[
        "seed",
        "vocab",
        "embeddings",
        "model-dir",
        "export-dir",
        "tf-config-index",
        "tf-config-shared-address",
        "cpu-replicas",
        "train-data",
    ],
)
def test_values_that_would_crash_later_fail_before_training(tmp_path, values, env, message):
    blocker = _a_file(tmp_path)
    filled = {k: v.format(tmp=tmp_path, blocker=blocker) for k, v in values.items()}
    run_dir = tmp_path / "run"
    result = run_trainer({"modelType": "cnn", "modelDir": str(run_dir), **filled}, env=env)
    _fails_cleanly(result, message)
    assert not run_dir.exists()


def test_a_missing_derived_eval_file_names_the_rule_and_an_explicit_one_does_not(tmp_path):
    data = crash.write_data(tmp_path / "data")
    run_dir = tmp_path / "run"
    eval_file = data.pop("evalData")
    (tmp_path / "data" / "crash.eval.tsv").unlink()
    derived = run_trainer({**crash.RUN, **data, "modelDir": str(run_dir)}, tiny=False)
    _fails_cleanly(derived, f"{eval_file}: file not found; evalData is not set, so it defaults to trainData")
    assert not run_dir.exists()
    explicit = run_trainer({**crash.RUN, **data, "evalData": eval_file, "modelDir": str(run_dir)}, tiny=False)
    _fails_cleanly(explicit, f"{eval_file}: file not found")
    assert "evalData is not set" not in explicit.stderr


def test_batch_not_divisible_by_the_replicas_fails_before_anything_is_written(tmp_path):
    run_dir = tmp_path / "run"
    result = run_trainer(
        {"modelType": "cnn", "batchSize": "33", "modelDir": str(run_dir)}, env={"TEXTJOBS_CPU_REPLICAS": "2"}
    )
    _fails_cleanly(result, "batchSize='33' must be a multiple of the 2 replicas")
    assert not run_dir.exists()


def _lonely_chief_config() -> str:
    chief_port, worker_port = free_ports(2)
    cluster = {"chief": [f"127.0.0.1:{chief_port}"], "worker": [f"127.0.0.1:{worker_port}"]}
    return json.dumps({"cluster": cluster, "task": {"type": "chief", "index": 0}}), worker_port


@pytest.mark.slow
def test_a_chief_whose_worker_never_comes_names_it_and_gives_up_retryable(tmp_path):
    tf_config, worker_port = _lonely_chief_config()
    result = run_trainer(
        {"modelType": "cnn", "modelDir": str(tmp_path / "run"), "peerTimeoutSeconds": "6"}, env={"TF_CONFIG": tf_config}
    )
    _fails_cleanly(result, f"waited 6 s (peerTimeoutSeconds) for worker-0 at 127.0.0.1:{worker_port}", EXIT_TRANSIENT)
    assert f"[chief-0] waiting for worker-0 at 127.0.0.1:{worker_port}" in result.stdout


@pytest.mark.slow
def test_sigterm_while_waiting_for_peers_ends_the_process(tmp_path):
    tf_config, worker_port = _lonely_chief_config()
    chief = Trainer({"modelType": "cnn", "modelDir": str(tmp_path / "run")}, env={"TF_CONFIG": tf_config})
    try:
        chief.wait_for(f"waiting for worker-0 at 127.0.0.1:{worker_port}", timeout=120)
        chief.signal(signal.SIGTERM)
        assert chief.wait(60) == EXIT_PREEMPTED, chief.output[-2000:]
    finally:
        chief.kill()
    assert "SIGTERM while waiting for the other workers" in chief.output
    assert not (tmp_path / "run" / "checkpoints").exists() or not any((tmp_path / "run" / "checkpoints").iterdir())


def test_metrics_history_is_untouched_by_a_failed_start(tmp_path):
    data = crash.write_data(tmp_path / "data")
    run_dir = tmp_path / "run"
    assert run_trainer({**crash.RUN, **data, "numEpochs": "1", "modelDir": str(run_dir)}, tiny=False).returncode == 0
    before = read_metrics(run_dir)
    broken = run_trainer(
        {**crash.RUN, **data, "numEpochs": "2", "modelDir": str(run_dir), "trainData": str(tmp_path / "gone.tsv")},
        tiny=False,
    )
    _fails_cleanly(broken, "gone.tsv: file not found")
    assert read_metrics(run_dir) == before
