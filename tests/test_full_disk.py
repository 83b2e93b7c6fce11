"""A disk that fills up during a checkpoint or an export: one clear line and a retryable exit code
(before: a TensorFlow traceback and exit 1, which the TFJob's ExitCode policy never retries), the
interrupted write cleaned on the next start, and an exact resume once there is room.

The disk is a real, tiny tmpfs mounted in a private mount namespace (tests/full_disk.py).
"""

from __future__ import annotations

import re

import pytest

from tests import crash, full_disk
from tests.helpers import katib_metrics
from trainers.runtime.errors import EXIT_TRANSIENT, is_retryable

ONE_EPOCH = {**crash.RUN, "numEpochs": "1"}  # 12 steps, checkpoints at 5, 10 and 12


@pytest.fixture
def namespace(tmp_path):
    if not full_disk.available(tmp_path / "probe"):
        pytest.skip("needs unshare and mount (root) for a private tmpfs")
    return tmp_path


def _one_clear_line(outcome: dict, what: str) -> None:
    assert outcome["code"] == EXIT_TRANSIENT and is_retryable(outcome["code"]), outcome["stderr"]
    assert "Traceback" not in outcome["stderr"], outcome["stderr"]
    errors = [line for line in outcome["stderr"].splitlines() if line.startswith("error:")]
    assert len(errors) == 1, outcome["stderr"]
    assert f"no space left while writing {what}" in errors[0] and "No space left on device" in errors[0], errors


@pytest.mark.slow
def test_a_full_disk_during_a_checkpoint_is_retryable_and_the_run_resumes(namespace):
    data = crash.write_data(namespace / "data")
    model_dir = namespace / "disk" / "run"
    # 16 KiB: the vocabulary and the restart ledger fit, the first checkpoint (about 37 KB) does not.
    report = full_disk.in_namespace(
        {"mount": str(namespace / "disk"), "size": "16k", "values": {**ONE_EPOCH, **data, "modelDir": str(model_dir)}}
    )
    _one_clear_line(report["full"], "the checkpoint of step 5")
    assert "run/checkpoints/ckpt-5_temp/" in report["left"], report["left"]  # TensorFlow's interrupted save

    healed = report["healed"]
    assert healed["code"] == 0, healed["stderr"]
    assert "ckpt-5_temp, left by an interrupted write" in healed["stdout"]
    assert [row["epoch"] for row in katib_metrics(healed["stdout"])] == [1]
    assert not [n for n in report["after"] if any(crash.is_leftover(part) for part in n.split("/"))]
    assert len([n for n in report["after"] if n.startswith("run/export/") and n.endswith("/textjobs.json")]) == 1


@pytest.mark.slow
def test_a_full_disk_during_an_export_is_retryable_and_leaves_no_partial_version(namespace):
    data = crash.write_data(namespace / "data")
    export_dir = namespace / "disk" / "export"
    values = {**ONE_EPOCH, **data, "modelDir": str(namespace / "run"), "exportDir": str(export_dir)}
    # 32 KiB: the export (about 90 KB) does not fit; training (in modelDir, elsewhere) does.
    report = full_disk.in_namespace({"mount": str(namespace / "disk"), "size": "32k", "values": values})
    _one_clear_line(report["full"], f"the export {export_dir}/")
    assert report["left"] == ["export/"], report["left"]  # the staged part went at once, freeing the disk

    healed = report["healed"]
    assert healed["code"] == 0, healed["stderr"]
    assert "at step 12" in healed["stdout"] and "exported SavedModel to" in healed["stdout"]
    versions = [n for n in report["after"] if re.fullmatch(r"export/\d+/", n)]
    assert len(versions) == 1 and f"{versions[0]}textjobs.json" in report["after"], report["after"]
    assert not [n for n in report["after"] if any(crash.is_leftover(part) for part in n.split("/"))]
