"""The repository's own commands: make help, the test runner's exit codes, cluster commands
without a cluster, the trainer CLI's usage."""

import os
import re
import subprocess
import sys

from scripts.make_help import described_targets
from tests.helpers import ROOT


def test_make_help_describes_every_target():
    makefile = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY: (.+)$", makefile, re.M).group(1).split())
    described = {name for name, _ in described_targets(makefile)}
    assert phony == described
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and "validate" in out.stdout and "Train experiment EXP" in out.stdout


def test_a_test_run_that_collects_nothing_fails():
    result = subprocess.run(
        [sys.executable, "-m", "scripts.run_tests", "tests/test_image.py", "-k", "matches_no_test_at_all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "collected no tests; failing on purpose" in result.stderr


def test_cluster_commands_without_a_cluster_say_so_in_one_line(tmp_path):
    env = dict(os.environ, KUBECONFIG=str(tmp_path / "missing-kubeconfig"))
    for command in ("status", "apply", "logs"):
        result = subprocess.run(
            [sys.executable, "-m", "scripts.cluster", command, "capsule-b"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{command}: ")
        assert "cluster" in lines[0] or "kubectl" in lines[0]


def test_build_needs_no_cluster_and_unknown_experiments_are_named():
    built = subprocess.run(
        [sys.executable, "-m", "scripts.cluster", "build", "cnn"], cwd=ROOT, capture_output=True, text=True
    )
    assert built.returncode == 0 and "kind: TFJob" in built.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "scripts.cluster", "build", "nope"], cwd=ROOT, capture_output=True, text=True
    )
    assert unknown.returncode == 1
    assert "no experiment 'nope'" in unknown.stderr and "capsule-b" in unknown.stderr


def test_trainer_usage_and_unknown_command():
    usage = subprocess.run([sys.executable, "-m", "trainers", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert usage.returncode == 0 and "check-config" in usage.stdout
    unknown = subprocess.run([sys.executable, "-m", "trainers", "fly"], cwd=ROOT, capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown command 'fly'" in unknown.stderr
