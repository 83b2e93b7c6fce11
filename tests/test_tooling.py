"""The repository's own commands: make help, the test runner's exit codes, cluster commands
without a cluster, the trainer CLI's usage."""

import os
import re
import subprocess
import sys

import pytest

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


def test_a_task_registers_a_command_that_help_lists_and_the_cli_runs(tmp_path):
    env = dict(os.environ, TEXTJOBS_TASK_MODULES="tests.regression_task")
    usage = subprocess.run(
        [sys.executable, "-m", "trainers", "--help"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert usage.returncode == 0
    assert re.search(r"^  regress-stats +count and mean target .* \(task regress\)$", usage.stdout, re.M), usage.stdout
    assert re.search(r"^  train +train one model", usage.stdout, re.M)
    data = tmp_path / "d.tsv"
    data.write_text("1.5\t1,2,3\n2.5\t0,0,0\n")
    ran = subprocess.run(
        [sys.executable, "-m", "trainers", "regress-stats", str(data)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0 and f"{data}: 2 examples, mean y 2.000" in ran.stdout, ran.stderr
    without = subprocess.run(
        [sys.executable, "-m", "trainers", "regress-stats"], cwd=ROOT, capture_output=True, text=True
    )
    assert without.returncode == 2 and "unknown command 'regress-stats'" in without.stderr


def test_a_task_command_may_not_take_a_taken_name():
    from types import SimpleNamespace

    from trainers.runtime.commands import Command, table

    def task(name, command_name):
        return SimpleNamespace(name=name, commands=lambda: {command_name: Command("x", lambda argv, registry: 0)})

    with pytest.raises(ValueError, match="task chat registers command 'train', which runtime already has"):
        table(SimpleNamespace(tasks=[task("chat", "train")]))
    with pytest.raises(ValueError, match="task game registers command 'play', which chat already has"):
        table(SimpleNamespace(tasks=[task("chat", "play"), task("game", "play")]))


def test_task_tools_run_beside_their_task(tmp_path):
    from scripts import task_tools

    assert task_tools.tasks_with("benchmark") == ["classify", "summarize", "chat", "embeddings"]
    assert task_tools.tasks_with("sample-data") == ["classify", "summarize", "chat", "embeddings"]
    assert task_tools.main(["sample-data", "summarize", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "headlines.eval.tsv",
        "headlines.train.tsv",
        "headlines_copy.eval.tsv",
        "headlines_copy.train.tsv",
    ]
    missing = subprocess.run(
        ["make", "-s", "benchmark", "TASK=nope"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert missing.returncode != 0
    assert (
        "task 'nope' has no benchmark tool (tasks that have one: classify, summarize, chat, embeddings)"
        in missing.stderr
    )
    # The default task of `make benchmark` is still the classifiers'.
    usage = subprocess.run(["make", "-s", "benchmark", "ARGS=--help"], cwd=ROOT, capture_output=True, text=True)
    assert usage.returncode == 0 and "usage: make benchmark" in usage.stdout and "--accuracy" in usage.stdout


def test_bundled_classify_samples_are_what_the_generator_writes(tmp_path):
    from trainers.tasks.classify.task import SAMPLE_DIR
    from trainers.tasks.classify.tools import sample_data

    sample_data.main(["--out", str(tmp_path)])
    names = sorted(p.name for p in SAMPLE_DIR.glob("*.tsv"))
    assert names == sorted(p.name for p in tmp_path.iterdir()) and len(names) == 4
    for name in names:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), name
