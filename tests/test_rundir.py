"""The run directory: a start removes only what this run's interrupted writes left, by what it knows
it wrote (its checkpoints directory, its own files' staging names, the export marker), never by a
name pattern over a directory or bucket it shares with a user or other runs; an export is
published once per content."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from trainers.runtime import artifacts, export, faults, storage
from trainers.runtime.rundir import Run

OWN_LEFTOVERS = [
    "checkpoints/ckpt-10_temp/part-00000-of-00001.data-00000-of-00001",  # TensorFlow's sharded save
    "checkpoints/ckpt-10.index.tempstate1234567",  # TensorFlow's atomic write of an index
    "checkpoints/checkpoint.tmp3f2a9c",  # TensorFlow's atomic write of the state file
    "checkpoints/.tmp-remote-state/checkpoint",
    "metrics.json.tmp",
    "vocab.json.tmp",
    "starts.json.tmp",
    "export.json.tmp",
    ".tmp-best.weights.h5",
]
KEPT = [
    "checkpoints/checkpoint",
    "checkpoints/ckpt-5.index",
    "checkpoints/ckpt-5.data-00000-of-00001",
    "export/1795538000/saved_model.pb",
    "export/1795538000/variables/variables.index",
    "metrics.json",
    "vocab.json",
    "best.weights.h5",
    "logs/events.out.tfevents.1795538000.host.123.0.v2",
    "notes.tmpl",
    # A user's files that merely look like interrupted writes: not this run's, never touched.
    "foo_temp/a.txt",
    ".tmp-x",
    "x.partial",
    "project_temp/notes.txt",
    "checkpoints/foo_temp",
    "other.json.tmp",
    # An export staging directory that no marker names is no proof of anything: kept.
    "export/.tmp-1795538000/saved_model.pb",
]


def _run(model_dir, export_dir, scratch) -> Run:
    cfg = SimpleNamespace(model_dir=str(model_dir), export_dir=str(export_dir), scratch_dir=str(scratch), run_name="r")
    return Run(cfg, "chief", "vocab.json")


def test_clean_leftovers_removes_exactly_this_runs_interrupted_writes(tmp_path):
    model_dir = tmp_path / "users-directory"
    for name in OWN_LEFTOVERS + KEPT:
        (model_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (model_dir / name).write_text(name)
    removed = _run(model_dir, model_dir / "export", tmp_path / "scratch").clean_leftovers()
    assert len(removed) == len(OWN_LEFTOVERS)  # a directory (ckpt-10_temp/) goes whole
    remaining = sorted(str(p.relative_to(model_dir)) for p in model_dir.rglob("*") if p.is_file())
    assert remaining == sorted(KEPT)


class Blob:
    """A tiny artifact kind, so export logic is tested without TensorFlow."""

    kind = artifacts.Kind("blob", ("model.bin",))

    def write(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        (directory / "model.bin").write_bytes(b"weights")


class Killed(BaseException):
    """Stands for a SIGKILL at a crash point: nothing after it runs, no handler catches it."""


@pytest.fixture
def blob_kind(monkeypatch):
    monkeypatch.setitem(artifacts.KINDS, "blob", Blob.kind)


def _kill_at(monkeypatch, name: str):
    def point(reached):
        if reached == name:
            raise Killed(name)

    monkeypatch.setattr(faults, "point", point)


def _content(step=36, weights="w1", threshold="0.5"):
    info = {"task": "t", "run_name": "r", "step": step, "epoch": 3}
    return export.Export(Blob(), info, {"labels.json": threshold}, weights)


def _shared_root(store):
    """An export root that is a bucket's root (or a user's directory) holding other people's files."""
    root = store.bucket("shared")
    for name in ("555/model.bin", ".tmp-999/model.bin", "runs/other/export/.tmp-7/model.bin", "foo_temp"):
        storage.write_bytes(storage.join(root, name), b"not ours")
    return root


def _others_intact(root):
    names = storage.list_names(root)
    for name in ("555/model.bin", ".tmp-999/model.bin", "runs/other/export/.tmp-7/model.bin", "foo_temp"):
        assert name in names and storage.read_bytes(storage.join(root, name)) == b"not ours", name
    return names


def _versions(root):
    return sorted({n.split("/")[0] for n in storage.list_names(root) if n.split("/")[0].isdigit()} - {"555"})


@pytest.mark.parametrize("point", ["export.staged", "export.uploading"])
def test_an_interrupted_export_deletes_exactly_what_its_marker_names(store, tmp_path, monkeypatch, blob_kind, point):
    if point == "export.uploading" and not store.remote:
        pytest.skip("local exports are not uploaded")
    root = _shared_root(store)
    run = _run(storage.join(root, "runs", "mine"), root, tmp_path / "scratch")
    _kill_at(monkeypatch, point)
    with pytest.raises(Killed):
        export.write_version(_content(), run)
    assert storage.exists(storage.join(root, "runs", "mine", export.PENDING_FILE))  # written before anything
    monkeypatch.undo()
    monkeypatch.setitem(artifacts.KINDS, "blob", Blob.kind)

    removed = export.finish_pending(_run(storage.join(root, "runs", "mine"), root, tmp_path / "new-pod"))
    assert removed
    names = _others_intact(root)
    assert _versions(root) == [], names  # the killed version is gone, nothing else
    assert not [n for n in names if n.endswith(export.PENDING_FILE)]
    assert [n for n in names if n.startswith(".tmp-")] == [".tmp-999/model.bin"]  # the user's, not ours
    assert not list((tmp_path / "scratch").rglob(".tmp-*")), "the staging directory the marker named is gone"


@pytest.mark.parametrize("point", ["export.renamed", "export.done"])
def test_a_killed_or_restarted_run_publishes_its_content_once(store, tmp_path, monkeypatch, blob_kind, point):
    root = _shared_root(store)
    model_dir = storage.join(root, "runs", "mine")
    if point == "export.renamed":  # killed after the rename, before the upload (bucket) or the record
        _kill_at(monkeypatch, point)
        with pytest.raises(Killed):
            export.write_version(_content(), _run(model_dir, root, tmp_path / "scratch"))
        monkeypatch.undo()
        monkeypatch.setitem(artifacts.KINDS, "blob", Blob.kind)
    else:  # finished normally: a restart of the finished run comes next
        export.write_version(_content(), _run(model_dir, root, tmp_path / "scratch"))

    restarted = _run(model_dir, root, tmp_path / "scratch")
    export.finish_pending(restarted)
    location = export.published(_content(), restarted) or export.write_version(_content(), restarted)
    _others_intact(root)
    assert len(_versions(root)) == 1, storage.list_names(root)
    assert storage.join(root, _versions(root)[0]) == location
    info = json.loads(storage.read_bytes(storage.join(location, "textjobs.json")))
    assert info["artifact"] == "blob" and info["step"] == 36

    # Other content (more training, other weights at the same step, other files) is a new
    # version; so is the same content once its version was deleted.
    assert export.published(_content(step=48), restarted) is None
    assert export.published(_content(weights="w2"), restarted) is None
    assert export.published(_content(threshold="0.7"), restarted) is None
    storage.delete_tree(location)
    assert export.published(_content(), restarted) is None


def test_a_full_disk_while_staging_an_export_is_retryable_and_leaves_nothing(tmp_path, monkeypatch, blob_kind):
    class FullDisk(Blob):
        def write(self, directory):
            super().write(directory)
            raise OSError(28, "No space left on device")

    run = _run(tmp_path / "run", tmp_path / "export", tmp_path / "scratch")
    content = _content()
    content.writer = FullDisk()
    with pytest.raises(storage.TransientStorageError, match="no space left while writing the export") as info:
        export.write_version(content, run)
    assert info.value.exit_code == 200
    assert list((tmp_path / "export").iterdir()) == []  # the staging directory went at once
