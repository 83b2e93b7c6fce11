"""A crash loop ends with a permanent exit code instead of restarting until the job's deadline;
restarts that make progress, and finished runs, never use the budget up."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests import crash
from tests.helpers import run_trainer
from trainers.runtime import storage
from trainers.runtime.errors import EXIT_CRASH_LOOP, CrashLoopError, is_retryable
from trainers.runtime.restarts import LEDGER, StartLedger
from trainers.runtime.rundir import Run


def run_dir(model_dir: str, scratch) -> Run:
    cfg = SimpleNamespace(
        model_dir=model_dir, export_dir=f"{model_dir}/export", scratch_dir=str(scratch), run_name="loop"
    )
    return Run(cfg, "chief", "vocab.json")


def test_starts_from_one_step_are_counted_and_stopped_past_the_budget(tmp_path):
    ledger = StartLedger(run_dir(str(tmp_path / "run"), tmp_path / "scratch"))
    assert [ledger.record_start(40, budget=3) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(CrashLoopError, match=r"4 starts in a row resumed from step 40 .*maxStartsWithoutProgress=3"):
        ledger.record_start(40, budget=3)
    assert not is_retryable(EXIT_CRASH_LOOP)  # the operator fails the job instead of restarting it


def test_progress_and_a_finished_run_reset_the_count(tmp_path):
    ledger = StartLedger(run_dir(str(tmp_path / "run"), tmp_path / "scratch"))
    assert [ledger.record_start(40, budget=2), ledger.record_start(40, budget=2)] == [1, 2]
    assert ledger.record_start(55, budget=2) == 1  # a newer checkpoint: progress
    ledger.finished(90)
    assert [ledger.record_start(90, budget=2) for _ in range(2)] == [1, 2]  # re-runs of a finished run


def test_no_budget_never_stops(tmp_path):
    ledger = StartLedger(run_dir(str(tmp_path / "run"), tmp_path / "scratch"))
    assert [ledger.record_start(0, budget=0) for _ in range(10)][-1] == 10


def test_the_count_follows_the_run_to_a_new_pod_through_the_bucket(bucket_store, tmp_path):
    model_dir = storage.join(bucket_store.bucket("loops"), "runs", "loop")
    for pod in range(3):  # each restart is a new pod with empty scratch space
        assert StartLedger(run_dir(model_dir, tmp_path / f"pod-{pod}")).record_start(7, budget=3) == pod + 1
    with pytest.raises(CrashLoopError):
        StartLedger(run_dir(model_dir, tmp_path / "pod-3")).record_start(7, budget=3)


@pytest.mark.slow
def test_the_trainer_stops_a_crash_loop_and_keeps_what_it_saved(tmp_path):
    """Killed every time before its first new checkpoint: the third start fails with exit 4 and one
    line; the checkpoints and metrics already saved are untouched, and a start with more budget resumes."""
    data = crash.write_data(tmp_path / "data")
    values = {**crash.RUN, **data, "numEpochs": "2", "modelDir": str(tmp_path / "run"), "maxStartsWithoutProgress": "2"}
    first = run_trainer(values, env={"TEXTJOBS_FAULT": "epoch.recorded:1"}, tiny=False)
    assert first.returncode == -9, first.stderr[-1500:]
    saved = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    for _ in range(2):  # the crash recurs two steps after the resume point, before any new checkpoint
        looping = run_trainer(values, env={"TEXTJOBS_FAULT": "step.done:2"}, tiny=False)
        assert looping.returncode == -9, looping.stderr[-1500:]
    stopped = run_trainer(values, env={"TEXTJOBS_FAULT": "step.done:2"}, tiny=False)
    assert stopped.returncode == EXIT_CRASH_LOOP, stopped.stderr[-1500:]
    assert "error: crash loop: 3 starts in a row resumed from step" in stopped.stderr
    assert "Traceback" not in stopped.stderr
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == saved
    assert [row["epoch"] for row in json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]] == [1]
    assert json.loads((tmp_path / "run" / LEDGER).read_text())["starts"] == 2
    resumed = run_trainer({**values, "maxStartsWithoutProgress": "5"}, tiny=False)
    assert resumed.returncode == 0, resumed.stderr[-1500:]
    assert json.loads((tmp_path / "run" / LEDGER).read_text())["starts"] == 0
