"""Tracking against a real MLflow 3.17.2 server on 127.0.0.1 (tests/mlflow_server.py).

For every task: each configuration key arrives as a parameter, each period's metrics with the
period as step (the same values as metrics.json), timing, the final metrics, the export's tags,
metrics.json and the plot as artifacts. A resumed run continues its MLflow run without logging a
period twice. A dead, a silent and a killed-then-restarted server cost the training nothing: the
same metrics.json and export as an untracked run, a warning, and the backlog once the server is
back. Waits are bounded polls, never sleeps that race the machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from pathlib import Path

import pytest

from tests.helpers import TINY, read_metrics, run_trainer
from tests.mlflow_server import wait_until
from tests.procs import Trainer, free_ports

pytestmark = pytest.mark.slow

# One entry per task: the flags of a small run. A new task adds its line here.
TASKS = {
    "classify": ({"modelType": "cnn", "numEpochs": "2"}, True),
    "summarize": (
        {
            "modelType": "seq2seq-attention",
            "hiddenSize": "32",
            "embeddingDim": "16",
            "evalSamples": "16",
            "numEpochs": "2",
        },
        False,
    ),
}
CNN = {"modelType": "cnn", "numEpochs": "3", "checkpointEvery": "25"}


def period_metrics(model_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """metrics.json's history as MLflow should hold it: metric -> [(period, value)]."""
    found: dict[str, list[tuple[int, float]]] = {}
    for row in read_metrics(model_dir)["history"]:
        for key, value in row.items():
            if key not in ("epoch", "step"):
                found.setdefault(key, []).append((row["epoch"], value))
    return found


def assert_run_matches(tracking, model_dir: Path, experiment: str, run_name: str, tmp_path: Path):
    run = tracking.run(experiment, run_name)
    metrics = read_metrics(model_dir)
    assert run.info.status == "FINISHED"
    for key, expected in period_metrics(model_dir).items():
        logged = tracking.history(run.info.run_id, key)
        assert [step for step, _ in logged] == [step for step, _ in expected], key  # each period once
        assert [value for _, value in logged] == pytest.approx([value for _, value in expected], rel=1e-6), key
    for key, value in metrics["final"].items():
        if key not in ("epoch", "step"):
            assert run.data.metrics[f"final/{key}"] == pytest.approx(value, rel=1e-6)
    assert run.data.metrics["timing/median_step_seconds"] == pytest.approx(metrics["timing"]["median_step_seconds"])
    assert run.data.tags["textjobs.export"] == metrics["export"]
    assert run.data.tags["textjobs.export_version"] == Path(metrics["export"]).name
    assert run.data.tags["textjobs.run_dir"] == str(model_dir.resolve())
    client = tracking.client()
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "metrics.png"} <= artifacts
    copy = Path(client.download_artifacts(run.info.run_id, "metrics.json", str(tmp_path)))
    assert json.loads(copy.read_text()) == metrics
    return run


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_task_logs_parameters_metrics_and_artifacts(tracking, tmp_path, task):
    from trainers.runtime import keyset
    from trainers.tasks import registry

    flags, tiny = TASKS[task]
    model_dir = tmp_path / "run"
    values = {**flags, "modelDir": str(model_dir), "runName": f"{task}-train-r1", "trackingUri": tracking.url}
    result = run_trainer(values, tiny=tiny)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "warning" not in result.stdout.lower(), result.stdout[-3000:]
    run = assert_run_matches(tracking, model_dir, task, f"{task}-train-r1", tmp_path)  # experiment: the overlay
    # Every configuration key of the runtime and the task, with the value the run used.
    cfg = keyset.load({**(TINY if tiny else {}), **values}, {}, registry())
    assert set(run.data.params) == set(cfg.texts)
    assert run.data.params["modelType"] == flags["modelType"]
    assert run.data.params["numEpochs"] == "2"
    assert run.data.params["learningRate"] == (TINY["learningRate"] if tiny else "0.001")
    assert run.data.params["optimizer"] == "adam"  # a default is a parameter too
    assert run.data.params["modelDir"] == str(model_dir)
    assert run.data.params["trackingUri"] == tracking.url


def test_a_resumed_run_continues_its_mlflow_run_and_logs_no_period_twice(tracking, tmp_path):
    model_dir = tmp_path / "run"
    values = {**CNN, "modelDir": str(model_dir), "runName": "resumed-train-r1", "trackingUri": tracking.url}
    # Killed right after period 2 is recorded: its row may or may not have reached the server.
    first = run_trainer(values, env={"TEXTJOBS_FAULT": "epoch.recorded:2"})
    assert first.returncode == -signal.SIGKILL, first.stdout[-2000:]
    second = run_trainer(values)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "continuing MLflow run" in second.stdout
    run = assert_run_matches(tracking, model_dir, "resumed", "resumed-train-r1", tmp_path)
    assert tracking.history(run.info.run_id, "loss")[0][0] == 1


def test_a_fresh_run_directory_is_a_new_mlflow_run(tracking, tmp_path):
    model_dir = tmp_path / "run"
    values = {
        **CNN,
        "numEpochs": "1",
        "modelDir": str(model_dir),
        "runName": "fresh-train-r1",
        "trackingUri": tracking.url,
    }
    assert run_trainer(values).returncode == 0
    key = json.loads((model_dir / "tracking.json").read_text())["run_key"]
    import shutil

    shutil.rmtree(model_dir)  # make run ARGS=--fresh: same name, same directory, a new run
    assert run_trainer(values).returncode == 0
    client = tracking.client()
    experiment = client.get_experiment_by_name("fresh")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2 and {r.data.tags["textjobs.run_key"] for r in runs} >= {key}
    for run in runs:
        assert tracking.history(run.info.run_id, "loss") == [(1, pytest.approx(run.data.metrics["loss"]))]


def untracked_and_tracked(tmp_path: Path, uri: str, extra: dict[str, str] | None = None):
    """The same run twice, without tracking and with `uri`; both must succeed."""
    plain_dir, tracked_dir = tmp_path / "plain", tmp_path / "tracked"
    plain = run_trainer({**CNN, "modelDir": str(plain_dir)})
    tracked = run_trainer({**CNN, "modelDir": str(tracked_dir), "trackingUri": uri, **(extra or {})})
    assert plain.returncode == 0, plain.stdout[-2000:]
    assert tracked.returncode == 0, tracked.stdout[-3000:]
    return plain_dir, tracked_dir, tracked


def assert_same_training(plain_dir: Path, tracked_dir: Path) -> None:
    plain, tracked = read_metrics(plain_dir), read_metrics(tracked_dir)
    assert tracked["history"] == plain["history"]
    assert tracked["final"] == plain["final"]
    variables = [Path(m["export"]) / "variables" / "variables.data-00000-of-00001" for m in (plain, tracked)]
    assert variables[0].read_bytes() == variables[1].read_bytes()  # the same exported weights


def test_a_dead_server_costs_the_training_nothing(tmp_path):
    [port] = free_ports(1)  # nothing listens there
    plain_dir, tracked_dir, tracked = untracked_and_tracked(tmp_path, f"http://127.0.0.1:{port}")
    assert_same_training(plain_dir, tracked_dir)
    assert f"warning: tracking: http://127.0.0.1:{port} failed (ConnectionRefusedError" in tracked.stdout
    assert "not sent to" in tracked.stdout and "periods [1, 2, 3]" in tracked.stdout  # reported as lost


@pytest.fixture
def silent_server():
    """Accepts connections and never answers: a hung server, the worst case for timeouts."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for connection in held:
        connection.close()
    listener.close()


def test_a_server_that_never_answers_costs_the_run_only_its_bounded_wait(tmp_path, silent_server):
    extra = {"trackingTimeoutSeconds": "1", "trackingFinishSeconds": "5"}
    plain_dir, tracked_dir, tracked = untracked_and_tracked(tmp_path, silent_server, extra)
    assert_same_training(plain_dir, tracked_dir)
    assert f"warning: tracking: {silent_server} failed (TimeoutError: timed out)" in tracked.stdout, tracked.stdout
    assert "not sent to" in tracked.stdout  # what the run could not send is reported, the run ends


def test_a_server_killed_mid_run_gets_the_backlog_when_it_is_back(own_tracking, tmp_path):
    model_dir = tmp_path / "run"
    values = {**CNN, "numEpochs": "6", "modelDir": str(model_dir), "runName": "outage-train-r1"}
    values["trackingUri"] = own_tracking.url
    # The trainer stops itself (SIGSTOP) after its export, before its end is reported, so the
    # server can be brought back while the run is still going, whatever the machine's speed.
    trainer = Trainer(values, env={"TEXTJOBS_FAULT": "export.done:1:stop"})
    try:

        def period_one_arrived():
            try:
                run = own_tracking.run("outage", "outage-train-r1")
            except AssertionError:
                return None
            return own_tracking.history(run.info.run_id, "loss")

        wait_until(period_one_arrived, "period 1 on the server")
        trainer.signal(signal.SIGSTOP)  # five periods are still to come: they meet a dead server
        own_tracking.kill()
        trainer.signal(signal.SIGCONT)
        wait_until(lambda: _stopped(trainer.proc.pid), "the trainer to stop itself after its export")
        assert "warning: tracking:" in trainer.output and "retrying" in trainer.output
        own_tracking.restart()
        trainer.signal(signal.SIGCONT)
        assert trainer.wait() == 0, trainer.output[-3000:]
    finally:
        trainer.kill()
    assert "is back after" in trainer.output
    plain = run_trainer({**CNN, "numEpochs": "6", "modelDir": str(tmp_path / "plain")})
    assert plain.returncode == 0
    assert_same_training(tmp_path / "plain", model_dir)
    assert_run_matches(own_tracking, model_dir, "outage", "outage-train-r1", tmp_path)


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def test_runs_without_tracking_never_import_mlflow(tmp_path):
    probe = (
        "import sys, runpy; sys.argv = ['trainers', 'train', '--modelType=cnn', '--numEpochs=1', "
        f"'--embeddingDim=16', '--numFilters=8', '--maxLength=16', '--xla=false', '--modelDir={tmp_path}'];\n"
        "try:\n    runpy.run_module('trainers', run_name='__main__')\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print('mlflow imported:', 'mlflow' in sys.modules)"
    )
    import subprocess
    import sys

    from tests.helpers import ROOT, trainer_env

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=trainer_env(), capture_output=True, text=True, timeout=240
    )
    assert "mlflow imported: False" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    assert os.path.exists(tmp_path / "metrics.json")
