"""Readers never select an incomplete SavedModel version, locally or in a bucket."""

import pytest

from tests.gcs import fake_gcs, make_bucket
from trainers.runtime import storage
from trainers.runtime.versions import NoVersionError, resolve_version


def _version(root, name, complete=True):
    directory = root / name
    (directory / "variables").mkdir(parents=True)
    (directory / "variables" / "variables.index").write_text("i")
    if complete:
        (directory / "saved_model.pb").write_text(f"model {name}")
    return directory


def test_local_newest_complete_version_wins_over_a_newer_incomplete_one(tmp_path):
    _version(tmp_path, "100")
    _version(tmp_path, "9")
    _version(tmp_path, "200", complete=False)
    (tmp_path / ".tmp-300").mkdir()
    assert resolve_version(str(tmp_path), tmp_path / "cache").name == "100"
    assert resolve_version(str(tmp_path / "9"), tmp_path / "cache").name == "9"


def test_no_complete_version_is_a_clear_error(tmp_path):
    _version(tmp_path, "200", complete=False)
    with pytest.raises(NoVersionError, match="no complete SavedModel version under"):
        resolve_version(str(tmp_path), tmp_path / "cache")


def test_bucket_newest_complete_version_wins_over_a_half_uploaded_one(monkeypatch, tmp_path):
    with fake_gcs(monkeypatch):
        make_bucket("versions")
        local = tmp_path / "local"
        _version(local, "100")
        _version(local, "200", complete=False)  # an upload killed before saved_model.pb
        storage.upload_tree(local / "100", "gs://versions/export/100")
        storage.upload_tree(local / "200", "gs://versions/export/200")
        chosen = resolve_version("gs://versions/export", tmp_path / "cache")
        assert (chosen / "saved_model.pb").read_text() == "model 100"
