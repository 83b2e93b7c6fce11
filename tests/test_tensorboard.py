"""`make tensorboard EXP=...` (scripts/tensorboard.py): which logs it serves, and a real TensorBoard
answering on 127.0.0.1 with a run's scalars."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from scripts import tensorboard
from scripts.manifests import ROOT
from tests.mlflow_server import wait_until


def test_logdir_of_an_experiment_a_run_directory_and_a_bucket(tmp_path):
    (tmp_path / "runs" / "capsule-b" / "logs").mkdir(parents=True)
    assert tensorboard.logdir("capsule-b", tmp_path) == str(tmp_path / "runs/capsule-b/logs")
    assert tensorboard.logdir(str(tmp_path / "runs/capsule-b"), tmp_path) == str(tmp_path / "runs/capsule-b/logs")
    assert tensorboard.logdir("", tmp_path) == str(tmp_path / "runs")  # every local run
    bucket = "gs://textjobs-experiments/runs/capsule-b-train-r1/logs"
    assert tensorboard.logdir(bucket, tmp_path) == bucket
    with pytest.raises(SystemExit, match=r"`make run EXP=kimcnn` writes one"):
        tensorboard.logdir("kimcnn", tmp_path)


def test_serves_a_runs_scalars_on_loopback(tmp_path):
    import tensorflow as tf

    logs = tmp_path / "run" / "logs"
    with tf.summary.create_file_writer(str(logs)).as_default():
        for step in (1, 2):
            tf.summary.scalar("val_accuracy", 0.5 * step, step=step)
    port = tensorboard.free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "scripts.tensorboard", str(tmp_path / "run"), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert f"http://127.0.0.1:{port}/ serving {logs}" in server.stdout.readline()

        def tags():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", timeout=5) as answer:
                    return json.loads(answer.read())
            except OSError:
                return None

        assert "val_accuracy" in wait_until(tags, "TensorBoard to list the run's scalars", every_s=1)["."]
    finally:
        server.terminate()
        server.wait(30)
