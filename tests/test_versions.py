"""Readers never select an incomplete export version, on any storage backend; a version is
complete when textjobs.json and the files its artifact kind requires are there."""

import json

import pytest

from trainers.runtime import artifacts, storage
from trainers.runtime.versions import NoVersionError, complete_versions, resolve_version


def _version(local_root, name, info=None, files=("saved_model.pb",)):
    """A version directory: variables, the given artifact files, and textjobs.json when `info`."""
    directory = local_root / name
    (directory / "variables").mkdir(parents=True)
    (directory / "variables" / "variables.index").write_text("i")
    for file in files:
        (directory / file).parent.mkdir(parents=True, exist_ok=True)
        (directory / file).write_text(f"model {name}")
    if info is not None:
        (directory / "textjobs.json").write_text(json.dumps(info))
    return directory


NEW = {"task": "classify", "step": 5, "epoch": 1, "artifact": "saved_model"}
OLD = {"task": "classify", "step": 5, "epoch": 1}  # exported before artifact kinds: a SavedModel


def _publish(store, tmp_path, versions: dict) -> str:
    """Upload local version directories under a new export root in `store`; returns the root."""
    root = storage.join(store.bucket("versions"), "export")
    for name, (info, files) in versions.items():
        storage.upload_tree(_version(tmp_path / "local", name, info, files), storage.join(root, name))
    return root


def test_newest_complete_version_wins_over_newer_incomplete_ones(store, tmp_path):
    root = _publish(
        store,
        tmp_path,
        {
            "9": (NEW, ("saved_model.pb",)),
            "100": (OLD, ("saved_model.pb",)),  # the previous release's versions stay readable
            "200": (None, ("saved_model.pb",)) if store.remote else (NEW, ()),  # killed before its last file
            "300": (NEW, ()),  # textjobs.json without the kind's saved_model.pb
        },
    )
    storage.write_bytes(storage.join(root, ".tmp-400", "saved_model.pb"), b"staging")
    assert complete_versions(root) == ["9", "100"]
    assert (resolve_version(root, tmp_path / "cache") / "saved_model.pb").read_text() == "model 100"
    version_9 = resolve_version(storage.join(root, "9"), tmp_path / "cache9")
    assert (version_9 / "saved_model.pb").read_text() == "model 9"


def test_a_version_without_textjobs_json_is_complete_only_locally(store, tmp_path):
    """The first trainer's exports had no textjobs.json: locally a version appears by a rename, so
    it is whole; in a bucket it cannot be told from an upload killed before its last file."""
    root = _publish(store, tmp_path, {"100": (None, ("saved_model.pb",))})
    assert complete_versions(root) == ([] if store.remote else ["100"])


def test_no_complete_version_is_a_clear_error(store, tmp_path):
    root = _publish(store, tmp_path, {"200": (NEW, ())})
    with pytest.raises(NoVersionError, match="no complete export version under"):
        resolve_version(root, tmp_path / "cache")


def test_each_kind_has_its_own_completeness_rule(store, tmp_path, monkeypatch):
    monkeypatch.setitem(artifacts.KINDS, "blob", artifacts.Kind("blob", ("model.bin", "meta/shape.json")))
    blob = {**NEW, "artifact": "blob"}
    root = _publish(
        store,
        tmp_path,
        {
            "100": (NEW, ("saved_model.pb",)),
            "200": (blob, ("model.bin", "meta/shape.json")),
            "300": (blob, ("model.bin",)),  # its kind needs meta/shape.json too
            "400": ({**NEW, "artifact": "from-a-newer-trainer"}, ("saved_model.pb",)),  # unknown kind: skipped
        },
    )
    assert complete_versions(root) == ["100", "200"]
    assert (resolve_version(root, tmp_path / "cache") / "model.bin").read_text() == "model 200"
