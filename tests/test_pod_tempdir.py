"""The trainer starts as a TFJob pod sees the world: a read-only root filesystem and a fresh, empty
emptyDir at /scratch, with the base's TMPDIR pointing inside it.

Before the fix every shipped experiment died on a real node in `import tensorflow` (no usable
temporary directory): TMPDIR=/scratch/tmp did not exist and every fallback was read-only. kwok
never runs a container, so this test recreates the pod's filesystem with a private mount
namespace (unshare): the root is remounted read-only there, and only the run directory stays
writable. A control run of `tempfile.gettempdir()` in the same sandbox shows the sandbox really is
that hostile.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from scripts.localrun import plan
from scripts.manifests import KUSTOMIZE, render
from tests.helpers import ROOT, TINY, flags, trainer_env
from trainers.runtime.errors import ConfigError
from trainers.runtime.tempdir import ensure_temp_dir

# Inside a new mount namespace: keep `writable` as its own mount, turn the root read-only, run.
SANDBOX = 'mount --bind "$0" "$0" && mount -o remount,ro,bind / && exec "$@"'


def test_ensure_temp_dir_creates_a_missing_tmpdir(tmp_path):
    target = tmp_path / "scratch" / "tmp"
    assert ensure_temp_dir({"TMPDIR": str(target)}) == str(target)
    assert target.is_dir()
    assert ensure_temp_dir({}) is None


def test_ensure_temp_dir_names_a_tmpdir_it_cannot_create(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match=r"TMPDIR='.*file/tmp': cannot create"):
        ensure_temp_dir({"TMPDIR": str(blocker / "tmp")})


def test_an_uncreatable_tmpdir_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "trainers", "train", "--help"],
        cwd=ROOT,
        env=trainer_env({"TMPDIR": str(blocker / "tmp")}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot create the temporary directory" in result.stderr
    assert "Traceback" not in result.stderr


def _sandbox_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", "mount -o remount,ro,bind / 2>&1 || true"],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0


def _in_pod_sandbox(writable, command, env, timeout=300):
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", SANDBOX, str(writable), *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.slow
def test_shipped_experiment_starts_on_a_read_only_root_with_an_empty_scratch(tmp_path):
    if not _sandbox_available():
        pytest.skip("needs unshare and mount (root) for a private read-only root")
    if not KUSTOMIZE.exists():
        pytest.skip("bin/kustomize missing: run make setup")
    run_dir = tmp_path / "run"
    replicas, _ = plan(render("overlays/capsule-b"), "capsule-b", run_dir, use_gcs=False)
    chief = replicas[0]
    scratch = run_dir / ".scratch" / chief.role  # the emptyDir: present, empty
    scratch.mkdir(parents=True)
    assert chief.env["TMPDIR"].startswith(str(scratch)), chief.env  # the base's TMPDIR is in the emptyDir
    env = {**trainer_env(), "PYTHONDONTWRITEBYTECODE": "1", **chief.env}

    control = _in_pod_sandbox(run_dir, [sys.executable, "-c", "import tempfile; tempfile.gettempdir()"], env)
    assert control.returncode != 0 and "No usable temporary directory" in control.stderr, (
        "the sandbox must reproduce the pod: no usable temporary directory without the trainer's fix"
    )

    overrides = {**TINY, "trainSteps": "2", "checkpointEvery": "1000", "logEvery": "1"}
    result = _in_pod_sandbox(run_dir, [*chief.command, *flags(overrides)], env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "exported SavedModel" in result.stdout
    assert list((run_dir / "export").glob("*/saved_model.pb")), "no export written"
