"""Each policy rule catches its broken fixture with the expected message; the fixtures are the
real capsule-b render, broken one field at a time."""

import copy

import pytest

from scripts import policy
from scripts.manifests import render


@pytest.fixture(scope="module")
def good():
    return render("overlays/capsule-b-multilabel")


def chief(rendered):
    return next(d for d in rendered.documents if d["kind"] == "TFJob")["spec"]["tfReplicaSpecs"]["Chief"]


def container(rendered):
    return chief(rendered)["template"]["spec"]["containers"][0]


def broken(good, mutate):
    copy_ = copy.deepcopy(good)
    mutate(copy_)
    return [str(v) for v in policy.check(copy_)]


def test_the_good_render_passes(good):
    assert policy.check(good) == []


CASES = {
    "container renamed": (lambda r: container(r).update(name="trainer"), "no container named 'tensorflow'"),
    "two chiefs": (lambda r: chief(r).update(replicas=2), "2 Chief/Master replicas; at most 1"),
    "restart policy Never": (
        lambda r: chief(r).update(restartPolicy="Never"),
        "restartPolicy: 'Never'; use OnFailure or ExitCode",
    ),
    "bad job name": (
        lambda r: next(d for d in r.documents if d["kind"] == "TFJob")["metadata"].update(name="Capsule_B"),
        "metadata.name: must be DNS-1035",
    ),
    "no limits": (lambda r: container(r)["resources"].pop("limits"), "resources.limits: missing cpu, memory"),
    "no memory request": (
        lambda r: container(r)["resources"]["requests"].pop("memory"),
        "resources.requests: missing memory",
    ),
    "root": (
        lambda r: chief(r)["template"]["spec"]["securityContext"].update(runAsNonRoot=False),
        "runAsNonRoot: must be true",
    ),
    "escalation": (
        lambda r: container(r)["securityContext"].update(allowPrivilegeEscalation=True),
        "allowPrivilegeEscalation: must be false",
    ),
    "latest image": (lambda r: container(r).update(image="ghcr.io/example/trainer:latest"), "is not pinned"),
    "untagged image": (lambda r: container(r).update(image="ghcr.io/example/trainer"), "is not pinned"),
    "ttl": (
        lambda r: next(d for d in r.documents if d["kind"] == "TFJob")["spec"]["runPolicy"].update(
            ttlSecondsAfterFinished=60
        ),
        "ttlSecondsAfterFinished: must be unset",
    ),
    "inline secret": (
        lambda r: r.documents.append({"kind": "Secret", "metadata": {"name": "key"}, "data": {"key.json": "e30="}}),
        "Secret key: data: secret values never go in Git",
    ),
    "bad config": (
        lambda r: next(d for d in r.documents if d["kind"] == "ConfigMap")["data"].update(learningRate="-1"),
        "learningRate='-1' must be in (0, 10]",
    ),
    "typo key": (
        lambda r: next(d for d in r.documents if d["kind"] == "ConfigMap")["data"].update(numEpoch="3"),
        "unknown configuration key 'numEpoch'; did you mean 'numEpochs'",
    ),
    "unknown model": (
        lambda r: next(d for d in r.documents if d["kind"] == "ConfigMap")["data"].update(modelType="bert"),
        "modelType='bert' unknown model type",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_catches_its_fixture(good, case):
    mutate, expected = CASES[case]
    messages = broken(good, mutate)
    assert any(expected in m for m in messages), messages
    assert all(m.startswith("overlays/capsule-b-multilabel: ") for m in messages)


def test_secret_scan_finds_key_material(tmp_path):
    leaked = tmp_path / "overlays" / "x" / "key.json"
    leaked.parent.mkdir(parents=True)
    marker = "-----BEGIN " + "PRIVATE KEY-----"  # built at run time so the repository scan stays clean
    leaked.write_text('{"type": "service_account", "private_key": "' + marker + '\\nMIIE"}')
    clean = tmp_path / "README.md"
    clean.write_text("Keys live in the user-gcp-sa Secret.")
    found = policy.scan_repository_for_secrets([leaked, clean], tmp_path)
    assert [str(v) for v in found] == ["overlays/x/key.json: line 1: content: looks like a private key"]
