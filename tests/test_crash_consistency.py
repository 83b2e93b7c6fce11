"""Crash consistency as a property: kill the real trainer at seeded points (inside checkpoint
writes, at epoch ends, during exports and uploads), restart it, and require the finished run to
equal an uninterrupted one exactly. See tests/crash.py for the harness and the checks."""

import pytest

from tests import crash
from tests.buckets import BUCKET_STORES, started
from tests.helpers import run_trainer

# Named scenarios for the defects found on main, then seeded ones.
NAMED = {
    # SIGTERM arrives during step 11; the stop vote rides on step 12, the last of epoch 1.
    "sigterm on the last step of an epoch": ["step.done:11:term"],
    "sigkill right after an epoch's checkpoint": ["epoch.checkpointed:1"],
    "sigkill inside a checkpoint write": ["checkpoint.before:3:5"],  # 5 ms measured to leave ckpt-N_temp
    "sigkill after the best weights, before the epoch's row": ["best.saved:2"],
    "sigkill with the export staged": ["export.staged:1"],
    # A restart must not add a second identical version (problems_of counts the versions).
    "sigkill right after the export's rename": ["export.renamed:1"],
    "sigkill after the export, before the final metrics": ["export.done:1"],
}
SEEDS = range(6)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    work = tmp_path_factory.mktemp("crash")
    data = crash.write_data(work / "data")
    result = run_trainer({**crash.RUN, **data, "modelDir": str(work / "reference")}, tiny=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return work, data, crash.read_finished(work / "reference")


def _check(outcome: crash.Outcome, model_dir, finished) -> None:
    problems = outcome.problems or crash.problems_of(model_dir, finished)
    assert not problems, "\n".join([*problems, *outcome.log])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NAMED))
def test_named_crash_points_resume_exactly(reference, name):
    work, data, finished = reference
    model_dir = work / name.replace(" ", "-").replace(",", "")
    values = {**crash.RUN, **data, "modelDir": str(model_dir)}
    outcome = crash.run_scenario(0, values, None, crash.LOCAL_POINTS, faults=NAMED[name])
    assert outcome.kills == len(NAMED[name]), outcome.log
    _check(outcome, model_dir, finished)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_seeded_kills_resume_exactly(reference, seed):
    work, data, finished = reference
    model_dir = work / f"seed-{seed}"
    outcome = crash.run_scenario(seed, {**crash.RUN, **data, "modelDir": str(model_dir)}, None, crash.LOCAL_POINTS)
    _check(outcome, model_dir, finished)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BUCKET_STORES)
@pytest.mark.parametrize(
    "faults",
    [
        ["export.uploading:3"],
        ["checkpoint.uploading:5:3", "export.uploading:5"],
        ["epoch.checkpointed:2"],
        ["export.done:1"],
    ],
    ids=[
        "killed-export-upload",
        "killed-checkpoint-and-export-uploads",
        "killed-after-epoch-checkpoint",
        "killed-after-export",
    ],
)
def test_bucket_run_directory_survives_kills_during_uploads(reference, faults, backend):
    work, data, finished = reference
    name = f"bucket-{backend}-{abs(hash(tuple(faults))) % 10**6}"
    with started(backend, work / f"{name}-store") as store:
        root = store.bucket("crash-bucket")
        values = {**crash.RUN, **data, "bucket": root, "runName": name, "scratchDir": str(work / name)}
        outcome = crash.run_scenario(0, values, store.env(), crash.BUCKET_POINTS, faults=faults)
        assert outcome.kills == len(faults), outcome.log
        problems = outcome.problems or crash.bucket_problems(f"{root}/runs/{name}", work / f"{name}-copy")
    assert not problems, "\n".join([*problems, *outcome.log])
    _check(outcome, work / f"{name}-copy", finished)
