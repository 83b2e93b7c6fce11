"""Bucket I/O against a real fake-gcs-server on 127.0.0.1: data in, checkpoints and export out,
resume from checkpoints that live only in the bucket, retries, and clear errors."""

import json
import shutil
from urllib.parse import urlparse

import pytest

from tests import crash
from tests.gcs import FlakyProxy, fake_gcs, make_bucket
from tests.helpers import ROOT, katib_metrics, read_metrics, run_trainer
from trainers.runtime import storage
from trainers.runtime.errors import EXIT_TRANSIENT, is_retryable

SAMPLE = ROOT / "trainers" / "tasks" / "classify" / "sample_data"


@pytest.fixture
def gcs(monkeypatch):
    with fake_gcs(monkeypatch) as server:
        yield server


def test_upload_download_round_trip_and_listing(gcs, tmp_path):
    make_bucket("roundtrip")
    source = tmp_path / "tree"
    (source / "variables").mkdir(parents=True)
    (source / "variables" / "v.data").write_bytes(b"\x00" * 10)
    (source / "saved_model.pb").write_bytes(b"pb")
    (source / "empty").write_bytes(b"")
    storage.upload_tree(source, "gs://roundtrip/exp/1", last=("saved_model.pb",))
    assert sorted(storage.list_names("gs://roundtrip/exp/1")) == ["empty", "saved_model.pb", "variables/v.data"]
    assert storage.exists("gs://roundtrip/exp/1/saved_model.pb")
    assert not storage.exists("gs://roundtrip/exp/1/missing.pb")
    back = storage.download_tree("gs://roundtrip/exp/1", tmp_path / "back")
    assert (back / "variables" / "v.data").read_bytes() == b"\x00" * 10
    assert (back / "empty").read_bytes() == b""


def test_saved_model_pb_is_uploaded_last(gcs, tmp_path, monkeypatch):
    make_bucket("order")
    source = tmp_path / "v"
    (source / "variables").mkdir(parents=True)
    for name in ("saved_model.pb", "fingerprint.pb", "variables/variables.index", "labels.json"):
        (source / name).write_text(name)
    uploaded = []
    real = storage.upload_file
    monkeypatch.setattr(storage, "upload_file", lambda local, uri: (uploaded.append(uri), real(local, uri)))
    storage.upload_tree(source, "gs://order/export/7", last=("saved_model.pb",))
    assert uploaded[-1] == "gs://order/export/7/saved_model.pb"
    assert len(uploaded) == 4


def test_missing_bucket_is_a_clear_error(gcs):
    with pytest.raises(storage.StorageError, match="bucket gs://no-such-bucket does not exist"):
        storage.check_bucket("gs://no-such-bucket/runs/x")
    with pytest.raises(storage.StorageError, match="bucket gs://no-such-bucket does not exist"):
        storage.list_names("gs://no-such-bucket/runs/x")


def test_missing_object_is_a_clear_error(gcs, tmp_path):
    make_bucket("present")
    with pytest.raises(storage.StorageError, match="gs://present/nope.tsv does not exist"):
        storage.download_file("gs://present/nope.tsv", tmp_path / "x")
    assert not list(tmp_path.iterdir())  # no partial file left behind


def test_transient_503s_are_retried(gcs, monkeypatch, tmp_path):
    make_bucket("flaky")
    target = urlparse(gcs.url)
    proxy = FlakyProxy(target.hostname, target.port, failures=3)
    try:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        storage.client.cache_clear()
        local = tmp_path / "f.txt"
        local.write_text("survives 503s")
        storage.upload_file(local, "gs://flaky/f.txt")
        assert proxy.failed == 3
        proxy.failures += 2
        storage.download_file("gs://flaky/f.txt", tmp_path / "back.txt")
        assert (tmp_path / "back.txt").read_text() == "survives 503s"
        assert proxy.failed == 5
    finally:
        proxy.close()
        storage.client.cache_clear()


@pytest.mark.slow
def test_training_reads_and_writes_the_bucket_and_resumes_from_it(gcs, tmp_path):
    make_bucket("textjobs-test")
    storage.upload_file(SAMPLE / "topics.train.tsv", "gs://textjobs-test/data/train.tsv")
    storage.upload_file(SAMPLE / "topics.eval.tsv", "gs://textjobs-test/data/eval.tsv")
    values = {
        "modelType": "cnn",
        "numEpochs": "1",
        "bucket": "textjobs-test",
        "runName": "gcs-run",
        "trainData": "gs://textjobs-test/data/train.tsv",
        "evalData": "gs://textjobs-test/data/eval.tsv",
        "scratchDir": str(tmp_path / "scratch"),
    }
    env = {"STORAGE_EMULATOR_HOST": gcs.url}
    first = run_trainer(values, env=env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    names = storage.list_names("gs://textjobs-test/runs/gcs-run")
    assert "checkpoints/checkpoint" in names and "checkpoints/ckpt-62.index" in names
    assert "metrics.json" in names and "vocab.json" in names
    assert any(n.startswith("logs/events.out.tfevents.") for n in names), names  # TensorBoard reaches the bucket
    exports = [n for n in names if n.startswith("export/") and n.endswith("/saved_model.pb")]
    assert len(exports) == 1, names

    shutil.rmtree(tmp_path / "scratch")  # a new pod: nothing local survives
    second = run_trainer({**values, "numEpochs": "2"}, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resumed from" in second.stdout and "at step 62" in second.stdout
    assert [row["epoch"] for row in katib_metrics(second.stdout)] == [2]
    names = storage.list_names("gs://textjobs-test/runs/gcs-run")
    assert "checkpoints/ckpt-124.index" in names
    # The new pod's metrics.json still holds the first pod's epoch, taken from the bucket.
    storage.download_file("gs://textjobs-test/runs/gcs-run/metrics.json", tmp_path / "metrics.json")
    history = json.loads((tmp_path / "metrics.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [1, 2]


def test_training_with_a_missing_bucket_fails_fast(gcs, tmp_path):
    result = run_trainer(
        {"modelType": "cnn", "bucket": "absent-bucket", "scratchDir": str(tmp_path)},
        env={"STORAGE_EMULATOR_HOST": gcs.url},
    )
    assert result.returncode == 3  # permanent: under 128, so the TFJob's ExitCode policy does not retry
    assert "bucket gs://absent-bucket does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_derived_eval_file_in_the_bucket_names_the_rule_that_derived_it(gcs, tmp_path):
    make_bucket("textjobs-derived")
    storage.upload_file(SAMPLE / "topics.train.tsv", "gs://textjobs-derived/data/topics.train.tsv")
    result = run_trainer(
        {
            "modelType": "cnn",
            "bucket": "textjobs-derived",
            "trainData": "gs://textjobs-derived/data/topics.train.tsv",
            "scratchDir": str(tmp_path),
        },
        env={"STORAGE_EMULATOR_HOST": gcs.url},
    )
    assert result.returncode == 2, result.stderr[-1500:]  # bad input: no retry helps
    assert "gs://textjobs-derived/data/topics.eval.tsv: file not found; evalData is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert storage.list_names("gs://textjobs-derived/runs/") == []  # nothing written for the run


def test_an_outage_longer_than_the_retry_budget_is_a_retryable_error(gcs, monkeypatch, tmp_path):
    make_bucket("down")
    target = urlparse(gcs.url)
    proxy = FlakyProxy(target.hostname, target.port, failures=10**9)  # 503 for ever
    monkeypatch.setenv("TEXTJOBS_GCS_RETRY_SECONDS", "1")
    local = tmp_path / "f.txt"
    local.write_text("x")
    try:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        storage.client.cache_clear()
        for action in (
            lambda: storage.upload_file(local, "gs://down/f.txt"),
            lambda: storage.download_file("gs://down/f.txt", tmp_path / "back"),
            lambda: storage.list_names("gs://down/runs"),
            lambda: storage.check_bucket("gs://down/runs"),
        ):
            with pytest.raises(
                storage.TransientStorageError, match="stayed unreachable for the 1 s retry budget"
            ) as info:
                action()
            assert is_retryable(info.value.exit_code)
        assert proxy.failed > 4
    finally:
        proxy.close()
    # Nothing listening at all (connection refused) is the same kind of failure.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    storage.client.cache_clear()
    with pytest.raises(storage.TransientStorageError):
        storage.check_bucket("gs://down/runs")
    storage.client.cache_clear()


@pytest.mark.slow
def test_trainer_exits_retryable_during_an_outage_and_resumes_after_it(gcs, tmp_path):
    make_bucket("outage")
    data = crash.write_data(tmp_path / "data")
    values = {**crash.RUN, **data, "bucket": "outage", "runName": "outage", "scratchDir": str(tmp_path / "s")}
    healthy = {"STORAGE_EMULATOR_HOST": gcs.url}
    killed = run_trainer(values, env={**healthy, "TEXTJOBS_FAULT": "epoch.recorded:1"}, tiny=False)
    assert killed.returncode == -9

    target = urlparse(gcs.url)
    proxy = FlakyProxy(target.hostname, target.port, failures=10**9)
    try:
        down = run_trainer(
            values, env={"STORAGE_EMULATOR_HOST": proxy.url, "TEXTJOBS_GCS_RETRY_SECONDS": "1"}, tiny=False
        )
    finally:
        proxy.close()
    assert down.returncode == EXIT_TRANSIENT, down.stderr[-2000:]
    assert "Traceback" not in down.stderr
    errors = [line for line in down.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "retry budget" in errors[0] and "resumes" in errors[0], down.stderr[-2000:]

    healed = run_trainer(values, env=healthy, tiny=False)
    assert healed.returncode == 0, healed.stderr[-2000:]
    assert "resumed from" in healed.stdout
    storage.download_file("gs://outage/runs/outage/metrics.json", tmp_path / "m" / "metrics.json")
    assert [row["epoch"] for row in read_metrics(tmp_path / "m")["history"]] == [1, 2, 3]
