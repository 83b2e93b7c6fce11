"""The storage interface, the same tests on every backend: local paths, and each bucket backend
against its real server on 127.0.0.1 (tests/buckets.py), with faults injected by a proxy. Data in,
checkpoints and export out, resume from checkpoints that live only in the bucket, retries, clear
errors, probes that leave nothing behind."""

import json
import shutil

import pytest

from tests import crash
from tests.helpers import ROOT, katib_metrics, read_metrics, run_trainer
from trainers.runtime import storage
from trainers.runtime.errors import EXIT_BAD_INPUT, EXIT_PERMANENT_STORAGE, EXIT_TRANSIENT, ConfigError, is_retryable

SAMPLE = ROOT / "trainers" / "tasks" / "classify" / "sample_data"


def _tree(root, files: dict[str, bytes]):
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


# -- the interface, on every backend ---------------------------------------------------------


def test_upload_download_round_trip_and_listing(store, tmp_path):
    root = store.bucket("roundtrip")
    source = _tree(tmp_path / "tree", {"variables/v.data": b"\x00" * 10, "saved_model.pb": b"pb", "empty": b""})
    target = storage.join(root, "exp", "1")
    storage.upload_tree(source, target, last=("saved_model.pb",))
    assert sorted(storage.list_names(target)) == ["empty", "saved_model.pb", "variables/v.data"]
    assert storage.exists(storage.join(target, "saved_model.pb"))
    assert not storage.exists(storage.join(target, "missing.pb"))
    assert storage.list_names(storage.join(root, "nothing-here")) == []
    back = storage.download_tree(target, tmp_path / "back")
    assert (back / "variables" / "v.data").read_bytes() == b"\x00" * 10
    assert (back / "empty").read_bytes() == b""


def test_commit_files_are_uploaded_last_in_the_order_given(store, tmp_path):
    root = store.bucket("order")
    names = ("saved_model.pb", "fingerprint.pb", "variables/variables.index", "labels.json", "textjobs.json")
    source = _tree(tmp_path / "v", {name: name.encode() for name in names})
    uploaded = []
    storage.upload_tree(
        source,
        storage.join(root, "export", "7"),
        last=("saved_model.pb", "textjobs.json"),
        on_file=lambda path: uploaded.append(path.relative_to(source).as_posix()),
    )
    assert uploaded[-2:] == ["saved_model.pb", "textjobs.json"] and len(uploaded) == 5
    assert storage.read_bytes(storage.join(root, "export", "7", "textjobs.json")) == b"textjobs.json"


def test_write_and_read_whole_objects(store):
    uri = storage.join(store.bucket("bytes"), "runs", "r", "marker.json")
    storage.write_bytes(uri, b'{"a": 1}')
    storage.write_bytes(uri, b'{"a": 2}')  # overwritten whole
    assert storage.read_bytes(uri) == b'{"a": 2}'
    assert storage.list_names(storage.join(store.uri("bytes"), "runs", "r")) == ["marker.json"]  # no staging left
    storage.delete(uri)
    storage.delete(uri)  # deleting what is gone is no error
    assert not storage.exists(uri)


def test_a_missing_object_is_a_clear_permanent_error(store, tmp_path):
    missing = storage.join(store.bucket("present"), "nope.tsv")
    for action in (lambda: storage.download_file(missing, tmp_path / "x"), lambda: storage.read_bytes(missing)):
        with pytest.raises(storage.StorageError, match=f"{missing} does not exist") as info:
            action()
        assert info.value.exit_code == EXIT_PERMANENT_STORAGE
    assert not list(tmp_path.glob("x*"))  # no partial file left behind


def test_delete_tree_removes_one_prefix_and_not_its_neighbours(store, tmp_path):
    root = store.bucket("prefixes")
    for version in ("1", "10", "1x"):
        storage.upload_tree(
            _tree(tmp_path / version, {"a": b"a", "sub/b": b"b"}), storage.join(root, "export", version)
        )
    storage.delete_tree(storage.join(root, "export", "1"))
    assert sorted(storage.list_names(storage.join(root, "export"))) == ["10/a", "10/sub/b", "1x/a", "1x/sub/b"]


def test_fetch_gives_a_local_path(store, tmp_path):
    uri = storage.join(store.bucket("fetch"), "data", "train.tsv")
    storage.write_bytes(uri, b"sports\tgoal\n")
    local = storage.fetch(uri, tmp_path / "cache")
    assert local.read_bytes() == b"sports\tgoal\n"
    if not store.remote:
        assert str(local) == uri  # read in place, never copied


def test_a_write_probe_leaves_nothing_behind(store):
    root = store.bucket("probe")
    storage.write_bytes(storage.join(root, "runs", "other", "keep.txt"), b"someone else's")
    for location in (root, storage.join(root, "runs", "mine", "export")):
        storage.check_writable(location, probe=".textjobs-write-probe-mine")
    assert storage.list_names(root) == ["runs/other/keep.txt"]


def test_an_unwritable_location_is_a_permanent_error_naming_it(store, tmp_path):
    root = store.bucket("readonly")
    if store.remote:
        proxy = store.proxy(denied=store.denial())
        try:
            with store.through(proxy), pytest.raises(storage.StorageError, match=f"permission denied on {root}/"):
                storage.check_writable(storage.join(root, "export"), probe=".textjobs-write-probe-r")
        finally:
            proxy.close()
        assert proxy.refused >= 1
        assert storage.list_names(root) == []
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        with pytest.raises(storage.StorageError, match="cannot create or write"):
            storage.check_writable(str(blocker / "export"), probe="")
        storage.check_writable(storage.join(root, "new", "dir"), probe="")
        assert not (tmp_path / "store" / "readonly" / "new").exists()  # the check creates nothing


def test_an_unknown_scheme_is_a_clear_error_and_is_not_a_local_path():
    with pytest.raises(storage.StorageError, match=r"no storage backend for zz:// \(this trainer knows gs://, s3://"):
        storage.exists("zz://bucket/key")
    assert storage.is_remote("zz://bucket/key")
    assert not storage.is_remote("runs/zz") and not storage.is_remote("")


def test_bucket_defaults_to_gs_and_keeps_a_given_scheme():
    assert storage.bucket_root("my-bucket") == "gs://my-bucket"
    assert storage.bucket_root("gs://my-bucket") == "gs://my-bucket"
    assert storage.bucket_root("s3://my-bucket") == "s3://my-bucket"
    assert storage.bucket_root("") == ""


def test_bucket_and_model_dir_defaults_work_for_any_registered_scheme(monkeypatch):
    from trainers.runtime import keyset
    from trainers.runtime.storage import base
    from trainers.tasks import registry

    with pytest.raises(ConfigError, match="bucket='zz://my-bucket' is not a valid bucket name"):
        keyset.load({}, {"bucket": "zz://my-bucket"}, registry())  # no zz backend
    monkeypatch.setitem(base._MODULES, "zz", "a.backend.module")  # what registering a backend adds
    cfg = keyset.load({}, {"bucket": "zz://my-bucket", "runName": "exp-1"}, registry())
    assert (cfg.model_dir, cfg.export_dir) == ("zz://my-bucket/runs/exp-1", "zz://my-bucket/runs/exp-1/export")
    cfg = keyset.load({}, {"bucket": "s3://my-bucket", "runName": "exp-1"}, registry())
    assert cfg.model_dir == "s3://my-bucket/runs/exp-1"  # s3 is registered
    cfg = keyset.load({}, {"bucket": "my-bucket", "runName": "exp-1"}, registry())
    assert cfg.model_dir == "gs://my-bucket/runs/exp-1"  # no scheme: gs, as before


def test_the_retry_budget_has_a_generic_name_and_the_old_one_still_works(monkeypatch):
    monkeypatch.delenv("TEXTJOBS_STORAGE_RETRY_SECONDS", raising=False)
    monkeypatch.delenv("TEXTJOBS_GCS_RETRY_SECONDS", raising=False)
    assert storage.retry_seconds() == 60
    monkeypatch.setenv("TEXTJOBS_GCS_RETRY_SECONDS", "7")
    assert storage.retry_seconds() == 7
    monkeypatch.setenv("TEXTJOBS_STORAGE_RETRY_SECONDS", "3")
    assert storage.retry_seconds() == 3
    monkeypatch.setenv("TEXTJOBS_STORAGE_RETRY_SECONDS", "soon")
    with pytest.raises(ConfigError, match="TEXTJOBS_STORAGE_RETRY_SECONDS='soon' must be a number of seconds"):
        storage.retry_seconds()


# -- bucket backends: missing buckets, retries, outages -------------------------------------


def test_missing_bucket_is_a_clear_error(bucket_store):
    absent = bucket_store.uri("no-such-bucket", "runs", "x")
    for action in (lambda: storage.check_buckets([absent]), lambda: storage.list_names(absent)):
        with pytest.raises(storage.StorageError, match=f"bucket {bucket_store.uri('no-such-bucket')} does not exist"):
            action()


def test_transient_503s_are_retried(bucket_store, tmp_path):
    uri = storage.join(bucket_store.bucket("flaky"), "f.txt")
    proxy = bucket_store.proxy(failures=3)
    try:
        with bucket_store.through(proxy):
            local = tmp_path / "f.txt"
            local.write_text("survives 503s")
            storage.upload_file(local, uri)
            assert proxy.failed == 3
            proxy.failures += 2
            storage.download_file(uri, tmp_path / "back.txt")
            assert (tmp_path / "back.txt").read_text() == "survives 503s"
            assert proxy.failed == 5
    finally:
        proxy.close()


def test_an_outage_longer_than_the_retry_budget_is_a_retryable_error(bucket_store, monkeypatch, tmp_path):
    root = bucket_store.bucket("down")
    proxy = bucket_store.proxy(failures=10**9)  # 503 for ever
    monkeypatch.setenv("TEXTJOBS_STORAGE_RETRY_SECONDS", "1")
    local = tmp_path / "f.txt"
    local.write_text("x")
    try:
        with bucket_store.through(proxy):
            for action in (
                lambda: storage.upload_file(local, storage.join(root, "f.txt")),
                lambda: storage.download_file(storage.join(root, "f.txt"), tmp_path / "back"),
                lambda: storage.list_names(storage.join(root, "runs")),
                lambda: storage.check_buckets([storage.join(root, "runs")]),
                lambda: storage.check_writable(storage.join(root, "runs"), probe=".probe"),
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
    with bucket_store.through(proxy), pytest.raises(storage.TransientStorageError):
        storage.check_buckets([storage.join(root, "runs")])


# -- the trainer on each backend ---------------------------------------------------------------


@pytest.mark.slow
def test_training_reads_and_writes_the_bucket_and_resumes_from_it(bucket_store, tmp_path):
    root = bucket_store.bucket("textjobs-test")
    storage.upload_file(SAMPLE / "topics.train.tsv", storage.join(root, "data", "train.tsv"))
    storage.upload_file(SAMPLE / "topics.eval.tsv", storage.join(root, "data", "eval.tsv"))
    values = {
        "modelType": "cnn",
        "numEpochs": "1",
        "bucket": root,
        "runName": "bucket-run",
        "trainData": storage.join(root, "data", "train.tsv"),
        "evalData": storage.join(root, "data", "eval.tsv"),
        "scratchDir": str(tmp_path / "scratch"),
    }
    run_dir = storage.join(root, "runs", "bucket-run")
    first = run_trainer(values, env=bucket_store.env())
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    names = storage.list_names(run_dir)
    assert "checkpoints/checkpoint" in names and "checkpoints/ckpt-62.index" in names
    assert "metrics.json" in names and "vocab.json" in names and "export.json" in names
    assert any(n.startswith("logs/events.out.tfevents.") for n in names), names  # TensorBoard reaches the bucket
    exports = [n for n in names if n.startswith("export/") and n.endswith("/textjobs.json")]
    assert len(exports) == 1, names
    assert not [n for n in names if "probe" in n or n.endswith("export-pending.json")], names

    shutil.rmtree(tmp_path / "scratch")  # a new pod: nothing local survives
    second = run_trainer({**values, "numEpochs": "2"}, env=bucket_store.env())
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resumed from" in second.stdout and "at step 62" in second.stdout
    assert [row["epoch"] for row in katib_metrics(second.stdout)] == [2]
    names = storage.list_names(run_dir)
    assert "checkpoints/ckpt-124.index" in names
    assert len([n for n in names if n.startswith("export/") and n.endswith("/textjobs.json")]) == 2  # new weights
    # The new pod's metrics.json still holds the first pod's epoch, taken from the bucket.
    history = json.loads(storage.read_bytes(storage.join(run_dir, "metrics.json")))["history"]
    assert [row["epoch"] for row in history] == [1, 2]


def test_training_with_a_missing_bucket_fails_fast(bucket_store, tmp_path):
    absent = bucket_store.uri("absent-bucket")
    result = run_trainer({"modelType": "cnn", "bucket": absent, "scratchDir": str(tmp_path)}, env=bucket_store.env())
    assert result.returncode == EXIT_PERMANENT_STORAGE  # under 128: the TFJob's ExitCode policy does not retry
    assert f"bucket {absent} does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_derived_eval_file_names_the_rule_that_derived_it(store, tmp_path):
    root = store.bucket("textjobs-derived")
    train = storage.join(root, "data", "topics.train.tsv")
    storage.upload_file(SAMPLE / "topics.train.tsv", train)
    result = run_trainer(
        {
            "modelType": "cnn",
            "trainData": train,
            "modelDir": storage.join(root, "runs", "r"),
            "scratchDir": str(tmp_path),
        },
        env=store.env(),
    )
    assert result.returncode == EXIT_BAD_INPUT, result.stderr[-1500:]  # bad input: no retry helps
    derived = storage.join(root, "data", "topics.eval.tsv")
    assert f"{derived}: file not found; evalData is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert storage.list_names(storage.join(root, "runs")) == []  # nothing written for the run


def test_an_unwritable_export_location_fails_before_training(store, tmp_path):
    """exportDir that cannot be written is found at the start, not after training: a local path
    under a file, or a bucket whose credentials may read but not write (the proxy refuses writes)."""
    data = crash.write_data(tmp_path / "data")
    model_dir = tmp_path / "run"
    values = {**crash.RUN, **data, "numEpochs": "1", "modelDir": str(model_dir), "scratchDir": str(tmp_path / "s")}
    if store.remote:
        export_dir = storage.join(store.bucket("read-only"), "exports", "r")
        proxy = store.proxy(denied=store.denial())
        try:
            result = run_trainer({**values, "exportDir": export_dir}, env=store.env(via=proxy), tiny=False)
        finally:
            proxy.close()
        assert result.returncode == EXIT_PERMANENT_STORAGE, result.stdout[-1500:] + result.stderr[-1500:]
        assert f"exportDir: permission denied on {export_dir}/" in result.stderr
        assert storage.list_names(store.uri("read-only")) == []  # the probe left nothing
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        result = run_trainer({**values, "exportDir": str(blocker / "export")}, tiny=False)
        assert result.returncode == EXIT_BAD_INPUT
        assert "exportDir: cannot create or write" in result.stderr
    assert "Traceback" not in result.stderr
    assert "step " not in result.stdout and not model_dir.exists()  # nothing trained, nothing written


@pytest.mark.slow
def test_a_run_touches_nothing_it_did_not_write(store, tmp_path):
    """modelDir and exportDir hold a user's files and other runs' objects whose names look like
    interrupted writes; a run that is killed mid-export, finished, then started again removes only
    its own leftovers and publishes exactly one version."""
    root = store.bucket("shared")
    model_dir = storage.join(root, "runs", "mine")
    others = {
        "project_temp/notes.txt": b"a user's directory",
        "foo_temp": b"f",
        ".tmp-x": b"t",
        "x.partial": b"p",
        "runs/other/checkpoints/ckpt-3_temp/part-0": b"another run's interrupted save",
        "runs/other/export/.tmp-5/saved_model.pb": b"another run's staging",
        "runs/other/metrics.json.tmp": b"another run's staging",
        "1700000000/notes.txt": b"a directory that looks like a version",
        "runs/mine/foo_temp": b"a user's file in the run directory",
        "runs/mine/.tmp-x": b"t",
        "runs/mine/x.partial": b"p",
    }
    for name, data in others.items():
        storage.write_bytes(storage.join(root, name), data)
    data = crash.write_data(tmp_path / "data")
    values = {
        **crash.RUN,
        **data,
        "numEpochs": "1",
        "modelDir": model_dir,
        "exportDir": root,  # the bucket's root (or a user's directory) as the export root
        "scratchDir": str(tmp_path / "scratch"),
    }
    # Killed with the export staged (local) or half-uploaded (bucket); then finished; then again.
    fault = "export.uploading:3" if store.remote else "export.staged:1"
    killed = run_trainer(values, env={**store.env(), "TEXTJOBS_FAULT": fault}, tiny=False)
    assert killed.returncode == -9, killed.stderr[-2000:]
    finished = run_trainer(values, env=store.env(), tiny=False)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "removed the incomplete export" in finished.stdout, finished.stdout[-2000:]
    again = run_trainer(values, env=store.env(), tiny=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "already published: not written again" in again.stdout

    names = storage.list_names(root)
    for name, data in others.items():
        assert storage.read_bytes(storage.join(root, name)) == data, name
    versions = sorted({n.split("/")[0] for n in names if n.split("/")[0].isdigit()} - {"1700000000"})
    assert len(versions) == 1, names  # one version: the killed one removed, none added on the restart
    assert storage.exists(storage.join(root, versions[0], "textjobs.json"))
    assert not [n for n in names if n.startswith(".tmp-") and n != ".tmp-x"], names
    assert not [n for n in names if n.endswith("export-pending.json") or ".textjobs-write-probe" in n], names
    assert read_metrics_of(model_dir, tmp_path)["export"] == storage.join(root, versions[0])


def read_metrics_of(model_dir: str, tmp_path) -> dict:
    return read_metrics(
        storage.download_tree(model_dir, tmp_path / "copy") if storage.is_remote(model_dir) else model_dir
    )


@pytest.mark.slow
def test_trainer_exits_retryable_during_an_outage_and_resumes_after_it(bucket_store, tmp_path):
    root = bucket_store.bucket("outage")
    data = crash.write_data(tmp_path / "data")
    values = {**crash.RUN, **data, "bucket": root, "runName": "outage", "scratchDir": str(tmp_path / "s")}
    killed = run_trainer(values, env={**bucket_store.env(), "TEXTJOBS_FAULT": "epoch.recorded:1"}, tiny=False)
    assert killed.returncode == -9

    proxy = bucket_store.proxy(failures=10**9)
    try:
        down = run_trainer(
            values, env={**bucket_store.env(via=proxy), "TEXTJOBS_STORAGE_RETRY_SECONDS": "1"}, tiny=False
        )
    finally:
        proxy.close()
    assert down.returncode == EXIT_TRANSIENT, down.stderr[-2000:]
    assert "Traceback" not in down.stderr
    errors = [line for line in down.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "retry budget" in errors[0] and "resumes" in errors[0], down.stderr[-2000:]

    healed = run_trainer(values, env=bucket_store.env(), tiny=False)
    assert healed.returncode == 0, healed.stderr[-2000:]
    assert "resumed from" in healed.stdout
    storage.download_file(storage.join(root, "runs", "outage", "metrics.json"), tmp_path / "m" / "metrics.json")
    assert [row["epoch"] for row in read_metrics(tmp_path / "m")["history"]] == [1, 2, 3]


def test_s3_without_credentials_is_a_permanent_error_naming_the_secret(monkeypatch):
    """No keys in the environment: a clear exit-3 error before any request, never a metadata lookup."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    storage.reset()
    try:
        with pytest.raises(
            storage.StorageError, match="no S3 credentials for s3://b/k.*components/s3-credentials"
        ) as info:
            storage.exists("s3://b/k")
        assert info.value.exit_code == EXIT_PERMANENT_STORAGE
    finally:
        storage.reset()


def test_the_s3_endpoint_key_points_the_backend_at_a_server(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    storage.configure(s3_endpoint="http://127.0.0.1:7070")
    try:
        from trainers.runtime.storage import s3

        assert s3.BACKEND.client().meta.endpoint_url == "http://127.0.0.1:7070"
    finally:
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        storage.reset()
