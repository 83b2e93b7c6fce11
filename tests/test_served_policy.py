"""Served applications (serving/*) are judged by `make validate` with the pod rules experiments
pass and their own (probes, read-only root filesystem): the shipped one passes, and each way of
breaking it fails naming the field."""

from __future__ import annotations

import copy

import pytest

from scripts import policy
from scripts.manifests import ROOT, Rendered, kustomizations, render


@pytest.fixture(scope="module")
def game() -> Rendered:
    rendered = render("serving/apps/game")
    assert not rendered.error, rendered.error
    return rendered


def broken(rendered: Rendered, change) -> list[str]:
    docs = copy.deepcopy(rendered.documents)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    change(deployment["spec"]["template"]["spec"])
    return [f"{v.field}: {v.message}" for v in policy.check(Rendered(rendered.name, "", docs), ROOT)]


def test_the_game_service_is_validated_and_passes(game):
    assert "serving/apps/game" in kustomizations()
    assert {d["kind"] for d in game.documents} == {"Deployment", "Service"}
    assert policy.check(game, ROOT) == []


def container(spec):
    return spec["containers"][0]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda s: container(s).pop("readinessProbe"), "containers[game].readinessProbe", "probes"),
        (lambda s: container(s).pop("livenessProbe"), "containers[game].livenessProbe", "probes"),
        (
            lambda s: container(s)["securityContext"].update(readOnlyRootFilesystem=False),
            "readOnlyRootFilesystem",
            "must be true",
        ),
        (lambda s: s["securityContext"].update(runAsNonRoot=False), "runAsNonRoot", ""),
        (
            lambda s: container(s)["securityContext"].update(allowPrivilegeEscalation=True),
            "allowPrivilegeEscalation",
            "",
        ),
        (lambda s: container(s)["resources"].pop("limits"), "resources", "limit"),
        (lambda s: container(s).update(image="ghcr.io/example/textjobs-trainer:latest"), "image", ""),
        (lambda s: container(s).update(image="docker.io/someone/game:1.0"), "image", "registr"),
        (lambda s: s.update(hostNetwork=True), "hostNetwork", ""),
        (
            lambda s: container(s)["env"].append({"name": "AWS_SECRET_ACCESS_KEY", "value": "abc123secretvalue"}),
            "env",
            "Secret",
        ),
    ],
)
def test_each_way_of_breaking_it_is_named(game, change, field, message):
    found = broken(game, change)
    assert any(field in line and message in line for line in found), found
