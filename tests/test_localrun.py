"""`make run`: the rendered TFJob runs locally, replica for replica, and nothing is left behind."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts import validate
from scripts.new_experiment import scaffold
from tests.helpers import ROOT, TINY
from trainers.runtime.config import without_config_env


def overlay(tmp_path: Path, components=(), **literals) -> Path:
    """A throw-away experiment overlay outside the repository, built on the real base."""
    directory = tmp_path / "exp"
    directory.mkdir()
    values = {**TINY, "modelType": "cnn", "numEpochs": "2", "bucket": "local-test-bucket", **literals}
    lines = [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        f"resources: [{os.path.relpath(ROOT / 'base', directory)}]",
        f"components: [{', '.join(os.path.relpath(ROOT / 'components' / c, directory) for c in components)}]",
        "namePrefix: t-",
        "configMapGenerator:",
        "  - name: experiment-config",
        "    behavior: merge",
        "    literals:",
        *[f"      - {k}={v}" for k, v in values.items()],
    ]
    (directory / "kustomization.yaml").write_text("\n".join(lines) + "\n")
    return directory


def localrun(path: Path, runs: Path, *extra: str) -> subprocess.Popen:
    env = without_config_env(os.environ)
    return subprocess.Popen(
        [sys.executable, "-m", "scripts.localrun", str(path), "--runs", str(runs), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line or environment mentions `text` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if text.encode() in blob and state != "Z":
            found.append(int(entry.name))
    return found


def read_until(proc: subprocess.Popen, needle: str, timeout: float = 240) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    for line in proc.stdout:
        lines.append(line.rstrip())
        if needle in line:
            return lines
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"{needle!r} never appeared:\n" + "\n".join(lines[-40:]))


@pytest.mark.slow
def test_chief_and_worker_run_to_completion(tmp_path):
    # exportBest too: under MultiWorkerMirroredStrategy only the chief evaluates and keeps the
    # best weights, and the workers must still finish cleanly.
    path = overlay(tmp_path, components=["multi-worker"], dropout="0", exportBest="true")
    proc = localrun(path, tmp_path / "runs")
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-4000:]
    assert "[localrun] TFJob t-train: chief-0, worker-0" in out
    assert "[chief-0] epoch=2 " in out
    assert "2 replica(s) on 2 worker(s)" in out
    run = tmp_path / "runs" / "exp"
    assert (run / "metrics.json").exists() and (run / "checkpoints" / "checkpoint").exists()
    assert len(list((run / "export").iterdir())) == 1
    metrics = json.loads((run / "metrics.json").read_text())
    scores = [row["val_accuracy"] for row in metrics["history"]]
    assert metrics["export_epoch"] == scores.index(max(scores)) + 1
    assert "exportBest: exporting epoch" in out
    assert "[localrun] predict:" in out and "job succeeded" in out
    assert (run / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert processes_mentioning(str(tmp_path)) == []


@pytest.mark.slow
def test_killed_replica_is_restarted_and_resumes(tmp_path):
    path = overlay(tmp_path, numEpochs="3", checkpointEvery="10", logEvery="5")
    proc = localrun(path, tmp_path / "runs")
    try:
        lines = read_until(proc, "step 50/")
        trainers = [p for p in processes_mentioning(str(tmp_path / "runs")) if p != proc.pid]
        assert trainers, "trainer process not found"
        for pid in trainers:
            os.kill(pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out = "\n".join(lines) + "\n" + rest
    assert proc.returncode == 0, out[-4000:]
    assert "exited -9; restartPolicy ExitCode: restart 1/4" in out
    resumed = re.search(r"resumed from .* at step (\d+)", out)
    assert resumed, out[-3000:]
    step = int(resumed.group(1))
    # The kill lands a little after "step 50" is read: bound by what the first attempt reached.
    # A step is printed before its checkpoint is written, so one at `reached` may be mid-save.
    first_attempt = out.split("restartPolicy ExitCode: restart 1/4")[0]
    reached = max(int(n) for n in re.findall(r"step (\d+)/186", first_attempt))
    checkpoint_points = {*range(10, 186, 10), 62, 124}  # checkpointEvery=10 and each epoch end
    newest_before = max(p for p in checkpoint_points if p < reached)
    assert step in checkpoint_points and newest_before <= step <= reached + 5, (step, reached)
    assert "[chief-0] epoch=3 " in out
    assert processes_mentioning(str(tmp_path)) == []


def test_broken_overlay_fails_before_any_process_starts(tmp_path):
    path = overlay(tmp_path, learningRate="-1")
    proc = localrun(path, tmp_path / "runs")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "learningRate='-1' must be in (0, 10]" in out
    assert "no replica was started" in out
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_interrupt_ends_every_replica(tmp_path):
    path = overlay(tmp_path, components=["multi-worker"], numEpochs="20")
    proc = localrun(path, tmp_path / "runs")
    try:
        read_until(proc, "step 10/")
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode in (130, -signal.SIGINT)
    time.sleep(0.5)
    assert processes_mentioning(str(tmp_path)) == []


def test_make_new_scaffolds_a_valid_overlay(tmp_path):
    for part in ("base", "components", "platform", "overlays/capsule-b"):
        shutil.copytree(ROOT / part, tmp_path / part)
    created = scaffold("sentiment-v2", "capsule-b", tmp_path)
    text = (created / "kustomization.yaml").read_text()
    assert "namePrefix: sentiment-v2-" in text and "textjobs.dev/experiment: sentiment-v2" in text
    assert "modelType=capsule-b" in text  # the model is copied, only the identity changes
    problems, count, _ = validate.validate(tmp_path, ["overlays/sentiment-v2"], scan=False)
    assert count == 1 and problems == []
    with pytest.raises(ValueError, match="already exists"):
        scaffold("sentiment-v2", "capsule-b", tmp_path)
    with pytest.raises(ValueError, match="lower-case"):
        scaffold("Bad_Name", "capsule-b", tmp_path)


@pytest.mark.slow
def test_gcs_flag_runs_against_a_fake_gcs_server(tmp_path):
    path = overlay(tmp_path, numEpochs="1")
    proc = localrun(path, tmp_path / "runs", "--gcs")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-4000:]
    # The model went to the emulated bucket, named after the TFJob, not to the local run directory.
    assert "exported SavedModel to gs://local-test-bucket/runs/t-train/export/" in out
    # Copied out of the emulator before it stopped, so the model is still there to query.
    run = tmp_path / "runs" / "exp"
    assert "copied gs://local-test-bucket/runs/t-train from the emulated bucket" in out
    assert (run / "checkpoints" / "checkpoint").exists()
    assert len([p for p in (run / "export").iterdir() if (p / "saved_model.pb").exists()]) == 1
    assert processes_mentioning(str(tmp_path)) == []


@pytest.mark.slow
def test_s3_data_is_served_by_a_local_s3_server(tmp_path):
    """An overlay whose data is in s3:// (as overlays/chatbot) runs against versitygw on loopback
    without any flag: the bundled sample is uploaded to the overlay's data location, the run
    reads it from there and writes its checkpoints and export to the bucket, and the server stops."""
    directory = tmp_path / "exp"
    directory.mkdir()
    values = {
        "modelType": "transformer",
        "numEpochs": "1",
        "layers": "1",
        "modelDim": "32",
        "ffDim": "64",
        "heads": "2",
        "evalSamples": "16",
        "batchSize": "64",
        "xla": "false",
        "bucket": "s3://local-test-bucket",
        "trainData": "s3://local-test-bucket/data/dialogue.train.tsv",
    }
    (directory / "kustomization.yaml").write_text(
        "\n".join(
            [
                "apiVersion: kustomize.config.k8s.io/v1beta1",
                "kind: Kustomization",
                f"resources: [{os.path.relpath(ROOT / 'base', directory)}]",
                f"components: [{os.path.relpath(ROOT / 'components' / 's3-credentials', directory)}]",
                "namePrefix: t-",
                "configMapGenerator:",
                "  - name: experiment-config",
                "    behavior: merge",
                "    literals:",
                *[f"      - {k}={v}" for k, v in values.items()],
            ]
        )
        + "\n"
    )
    proc = localrun(directory, tmp_path / "runs")
    out, _ = proc.communicate(timeout=400)
    assert proc.returncode == 0, out[-4000:]
    assert "uploaded the bundled sample dialogue.train.tsv to s3://local-test-bucket/data/dialogue.train.tsv" in out
    assert "uploaded the bundled sample dialogue.eval.tsv to s3://local-test-bucket/data/dialogue.eval.tsv" in out
    assert "exported SavedModel to s3://local-test-bucket/runs/t-train/export/" in out
    assert "copied s3://local-test-bucket/runs/t-train from the emulated bucket" in out
    run = tmp_path / "runs" / "exp"
    assert len([p for p in (run / "export").iterdir() if (p / "saved_model.pb").exists()]) == 1
    # The server kept its buckets as directories (versitygw's posix backend) and has stopped.
    assert (tmp_path / "runs" / ".s3" / "local-test-bucket" / "data" / "dialogue.train.tsv").exists()
    assert processes_mentioning(str(tmp_path)) == []
