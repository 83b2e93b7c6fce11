"""One derivation of what reaches the trainer from a pod spec (scripts/trainer_inputs.py), shared
by `make run` and the policy: the environment as the kubelet builds it, and the flags as absl
reads them, checked against the trainer's own absl parser for every form absl accepts."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts import trainer_inputs
from scripts.localrun import plan
from scripts.manifests import render
from scripts.trainer_inputs import Pod, Value
from trainers.runtime import cli_flags, keyset
from trainers.tasks import registry

CONFIGMAPS = {
    "cfg": {"data": {"numEpochs": "3", "learningRate": "0.1", "batchSize": "8"}},
    "more": {"data": {"Epochs": "9", "numEpochs": "4"}},
}
POD = Pod("exp-train-r1", "Worker", 2)


def test_envfrom_in_order_then_env_with_prefixes_and_references():
    container = {
        "envFrom": [{"configMapRef": {"name": "cfg"}}, {"prefix": "num", "configMapRef": {"name": "more"}}],
        "env": [
            {"name": "batchSize", "value": "16"},
            {
                "name": "runName",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['training.kubeflow.org/job-name']"}},
            },
            {"name": "podName", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "modelDir", "value": "gs://b/runs/$(runName)/$$(runName)/$(undefined)"},
            {"name": "seed", "valueFrom": {"configMapKeyRef": {"name": "more", "key": "Epochs"}}},
            {"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "t"}}},
        ],
    }
    inputs = trainer_inputs.environment(container, "c", CONFIGMAPS, POD)
    env = inputs.environment()
    # The prefix makes `Epochs` of the later ConfigMap into numEpochs, over the first one's.
    assert (
        env["numEpochs"] == "9"
        and inputs.env["numEpochs"].source == "ConfigMap more data[Epochs] (envFrom with prefix 'num')"
    )
    assert env["numnumEpochs"] == "4" and env["learningRate"] == "0.1"
    assert env["batchSize"] == "16"  # env wins over envFrom
    assert env["runName"] == "exp-train-r1" and env["podName"] == "exp-train-r1-worker-2"
    assert env["modelDir"] == "gs://b/runs/exp-train-r1/$(runName)/$(undefined)"
    assert env["seed"] == "9"
    assert "token" not in env and inputs.env["token"].text is None  # a Secret: run time only
    assert inputs.problems == []


def test_what_cannot_be_seen_is_a_problem_not_a_guess():
    container = {
        "envFrom": [{"secretRef": {"name": "keys"}}, {"configMapRef": {"name": "absent"}}],
        "env": [{"name": "x", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}],
        "command": ["sh", "-c", "python -m trainers train"],
    }
    inputs = trainer_inputs.derive(container, "c", CONFIGMAPS, POD)
    fields = [where for where, _ in inputs.problems]
    assert fields == [
        "c.envFrom[0].secretRef",
        "c.envFrom[1].configMapRef",
        "c.env[x].valueFrom.configMapKeyRef",
        "c.command",
    ]


def test_flags_in_command_and_args_reach_the_trainer_after_the_subcommand():
    container = {
        "command": ["/usr/bin/python3", "-m", "trainers", "train", "--numEpochs=$(EPOCHS)"],
        "args": ["-batchSize", "8"],
        "env": [{"name": "EPOCHS", "value": "7"}],
    }
    inputs = trainer_inputs.derive(container, "c", {}, POD)
    assert [v.text for v in inputs.argv] == ["--numEpochs=7", "-batchSize", "8"]
    assert inputs.argv[0].source == "c.command[4]" and inputs.argv[1].source == "c.args[0]"
    found, positional = trainer_inputs.flags(inputs.argv)
    assert [(f.name, f.text) for f in found] == [("numEpochs", "7"), ("batchSize", "8")] and positional == []


def test_no_command_means_the_images_entrypoint():
    inputs = trainer_inputs.derive({"args": ["--seed=3"]}, "c", {}, POD)
    assert [v.text for v in inputs.argv] == ["--seed=3"] and inputs.problems == []


def absl(argv: list[str]) -> dict[str, str] | None:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return cli_flags.parse(argv, registry())
        except SystemExit:
            return None


KEYS = ["numEpochs", "learningRate", "batchSize", "modelType", "seed", "bucket"]
value = st.text(alphabet="abc0123456789.-=/ _", max_size=8)


@st.composite
def argvs(draw) -> list[str]:
    argv = []
    for _ in range(draw(st.integers(0, 5))):
        key, text = draw(st.sampled_from(KEYS)), draw(value)
        dashes = draw(st.sampled_from(["-", "--"]))
        if draw(st.booleans()):
            argv.append(f"{dashes}{key}={text}")
        else:
            argv += [f"{dashes}{key}", text]
    return argv


@settings(max_examples=200, deadline=None)
@given(argvs())
def test_flags_are_read_as_the_trainers_absl_parser_reads_them(argv):
    found, positional = trainer_inputs.flags([Value("", a, "args") for a in argv])
    parsed = absl(argv)
    if parsed is None:  # absl refused (e.g. a value that looks like a flag): so must we, by a flag it cannot know
        assert positional or any(f.name not in KEYS or f.text is None for f in found), (argv, found)
        return
    assert positional == []
    assert {f.name: f.text for f in found} == parsed


def test_a_positional_argument_and_the_end_of_flags_are_seen():
    found, positional = trainer_inputs.flags([Value("", a, "args") for a in ["token123", "--seed=1", "--", "--x=1"]])
    assert [p.text for p in positional] == ["token123", "--x=1"] and [f.name for f in found] == ["seed"]


@pytest.mark.parametrize("overlay", ["capsule-b", "capsule-b-multilabel"])
def test_make_run_starts_replicas_with_exactly_what_the_policy_judges(tmp_path, overlay):
    """localrun's environment and command come from the same derivation: a replica's environment
    before localisation is the derived one, and the trainer parses it to the same configuration."""
    rendered = render(f"overlays/{overlay}")
    replicas, job = plan(rendered, overlay, tmp_path, use_gcs=True)
    configmaps = {d["metadata"]["name"]: d for d in rendered.of_kind("ConfigMap")}
    for replica in replicas:
        rtype = replica.role.split("-")[0].capitalize()
        container = job["spec"]["tfReplicaSpecs"][rtype]["template"]["spec"]["containers"][0]
        derived = trainer_inputs.derive(container, "c", configmaps, Pod(job["metadata"]["name"], rtype))
        for name, value in derived.environment().items():
            if name not in ("trainData", "evalData", "scratchDir", "HOME", "TMPDIR", "GOOGLE_APPLICATION_CREDENTIALS"):
                assert replica.env[name] == value, name
        assert replica.command[4:] == [v.text for v in derived.argv]  # after python -m trainers train
        cfg = keyset.load({}, replica.env, registry())
        assert cfg.run_name == job["metadata"]["name"]
