"""Serving manifests under `make validate`: each rule of scripts/policy/serving.py catches its broken
fixture (the real serving/models/capsule-b render, broken one field at a time), the rules across
renders catch drift from the experiments on a copy of the repository, and `make new-serving`
writes what validation accepts and follows the experiment's run."""

from __future__ import annotations

import copy

import pytest

from scripts import new_serving, policy
from scripts.manifests import render
from tests.test_policy_overlays import assert_reported, copy_repository, problems, write


@pytest.fixture(scope="module")
def good():
    return render("serving/models/capsule-b")


@pytest.fixture
def repo(tmp_path):
    return copy_repository(tmp_path)


def isvc(r):
    return next(d for d in r.documents if d["kind"] == "InferenceService")


def predictor(r):
    return isvc(r)["spec"]["predictor"]


def model(r):
    return predictor(r)["model"]


def broken(good, mutate) -> list[str]:
    copy_ = copy.deepcopy(good)
    mutate(copy_)
    return [str(v) for v in policy.check(copy_)]


def test_the_shipped_models_pass():
    for name in ("serving/models/capsule-b", "serving/models/summarizer"):
        assert policy.check(render(name)) == []


def sidecar(**security):
    return {
        "name": "helper",
        "image": "ghcr.io/example/helper:1.0.0",
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, **security},
    }


def transformer(r, **changes):
    isvc(r)["spec"]["transformer"] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{**sidecar(), **changes}],
    }


CASES = {
    "another model format": (
        lambda r: model(r)["modelFormat"].update(name="sklearn"),
        "'sklearn'; exports are SavedModels",
    ),
    "no runtime version": (
        lambda r: model(r).pop("runtimeVersion"),
        "runtimeVersion: unset: pin the model server's release",
    ),
    "latest runtime": (lambda r: model(r).update(runtimeVersion="latest"), "runtimeVersion: latest: pin"),
    "a volume, not a bucket": (
        lambda r: model(r).update(storageUri="pvc://models/x"),
        "pvc://models/x: an experiment's export directory in a bucket",
    ),
    "no model": (lambda r: predictor(r).pop("model"), "spec.predictor.model: missing"),
    "upper-case name": (
        lambda r: isvc(r)["metadata"].update(name="Capsule-B"),
        "metadata.name: 'Capsule-B': lower-case DNS-1035",
    ),
    "name too long": (lambda r: isvc(r)["metadata"].update(name="c" * 46), "of at most 45 characters"),
    "canary in Standard mode": (
        lambda r: isvc(r)["metadata"]["annotations"].update({"serving.kserve.io/deploymentMode": "Standard"}),
        "canaryTrafficPercent: ignored in Standard deployment mode",
    ),
    "unknown mode": (
        lambda r: isvc(r)["metadata"]["annotations"].update({"serving.kserve.io/deploymentMode": "Fast"}),
        "'Fast'; use one of",
    ),
    "canary over 100": (
        lambda r: predictor(r).update(canaryTrafficPercent=150),
        "canaryTrafficPercent: 150: a percentage",
    ),
    "no service account": (lambda r: predictor(r).pop("serviceAccountName"), "serviceAccountName: unset"),
    "a service account not rendered": (
        lambda r: predictor(r).update(serviceAccountName="default"),
        "'default' is not rendered here",
    ),
    # Pod Security restricted, on the component and on the model container
    "host network": (lambda r: predictor(r).update(hostNetwork=True), "spec.predictor.hostNetwork: must not be true"),
    "host path": (
        lambda r: predictor(r).update(volumes=[{"name": "node", "hostPath": {"path": "/"}}]),
        "spec.predictor.volumes[node].hostPath",
    ),
    "pod as root": (
        lambda r: predictor(r)["securityContext"].update(runAsUser=0),
        "spec.predictor.securityContext.runAsUser: 0 is root",
    ),
    "model may run as root": (
        lambda r: (
            predictor(r)["securityContext"].pop("runAsNonRoot"),
            model(r)["securityContext"].pop("runAsNonRoot"),
        ),
        "spec.predictor.model.securityContext.runAsNonRoot: must be true",
    ),
    "escalation allowed": (
        lambda r: model(r)["securityContext"].pop("allowPrivilegeEscalation"),
        "spec.predictor.model.securityContext.allowPrivilegeEscalation: must be false",
    ),
    "capability added": (
        lambda r: model(r)["securityContext"]["capabilities"].update(add=["NET_ADMIN"]),
        "capabilities.add: ['NET_ADMIN'] refused",
    ),
    "capabilities kept": (
        lambda r: model(r)["securityContext"].pop("capabilities"),
        'capabilities.drop: must include "ALL"',
    ),
    "seccomp unconfined": (
        lambda r: predictor(r)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "'Unconfined'; use RuntimeDefault",
    ),
    "seccomp unset": (
        lambda r: predictor(r)["securityContext"].pop("seccompProfile"),
        "spec.predictor.model.securityContext.seccompProfile: unset",
    ),
    # resources, images and credentials, on every container KServe would run
    "requests above limits": (
        lambda r: model(r)["resources"]["requests"].update(memory="8Gi"),
        "spec.predictor.model.resources.requests.memory: 8Gi is above the limit 4Gi",
    ),
    "no limits": (
        lambda r: model(r)["resources"].pop("limits"),
        "spec.predictor.model.resources.limits: missing cpu, memory",
    ),
    "a transformer image that moves": (
        lambda r: transformer(r, image="ghcr.io/example/helper:latest"),
        "spec.transformer.containers[helper].image",
    ),
    "a transformer without resources": (
        lambda r: transformer(r, resources={}),
        "spec.transformer.containers[helper].resources.requests: missing cpu, memory",
    ),
    "a privileged transformer": (
        lambda r: transformer(r, securityContext={**sidecar()["securityContext"], "privileged": True}),
        "spec.transformer.containers[helper].securityContext.privileged: must not be true",
    ),
    "an init container as root": (
        lambda r: predictor(r).update(initContainers=[sidecar(runAsUser=0)]),
        "spec.predictor.initContainers[helper].securityContext.runAsUser: 0 is root",
    ),
    "a literal secret in env": (
        lambda r: model(r).update(env=[{"name": "AWS_SECRET_ACCESS_KEY", "value": "abc"}]),
        "spec.predictor.model.env[AWS_SECRET_ACCESS_KEY].value: a credential as a literal value",
    ),
    "a canary predictor that escalates": (
        lambda r: isvc(r)["spec"].update(
            canary=[
                {
                    "trafficPercent": 10,
                    "predictor": {"name": "next", "containers": [sidecar(allowPrivilegeEscalation=True)]},
                }
            ]
        ),
        "spec.canary[0].predictor.containers[helper].securityContext.allowPrivilegeEscalation: must be false",
    ),
    "a privileged multi-node worker": (
        lambda r: predictor(r).update(workerSpec={"containers": [sidecar(privileged=True)]}),
        "spec.predictor.workerSpec.containers[helper].securityContext.privileged",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_catches_its_broken_model(good, case):
    mutate, expected = CASES[case]
    found = broken(good, mutate)
    assert any(expected in line for line in found), "\n".join(found)
    assert all(line.startswith("serving/models/capsule-b: InferenceService ") for line in found if expected in line)


def bump_run(repo, exp="capsule-b", to="-r2"):
    path = repo / "overlays" / exp / "kustomization.yaml"
    path.write_text(path.read_text().replace("nameSuffix: -r1", f"nameSuffix: {to}"))


def test_a_storage_uri_that_drifted_from_its_experiment_fails_until_new_serving_updates_it(repo):
    bump_run(repo)  # re-training: a new TFJob name, so a new export directory
    assert_reported(
        problems(repo),
        "serving/models/capsule-b: InferenceService capsule-b: spec.predictor.model.storageUri: "
        "gs://textjobs-experiments/runs/capsule-b-train-r1/export is not where overlays/capsule-b exports "
        "(gs://textjobs-experiments/runs/capsule-b-train-r2/export); run `make new-serving EXP=capsule-b`",
    )
    kustomization = repo / "serving/models/capsule-b/kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "namespace: textjobs\n")  # a hand edit
    path, uri = new_serving.scaffold("capsule-b", 10, "storage-key", root=repo)
    assert uri == "gs://textjobs-experiments/runs/capsule-b-train-r2/export"
    text = path.read_text()
    assert uri in text and "canaryTrafficPercent, value: 10}" in text and "namespace: textjobs" in text  # edits kept
    assert problems(repo) == []


def test_an_unlabelled_model_must_still_serve_some_experiment(repo):
    write(
        repo,
        "serving/models/stray/kustomization.yaml",
        """resources: [../../base]
patches:
  - target: {kind: InferenceService}
    patch: '[{"op": "replace", "path": "/metadata/name", "value": "stray"}, {"op": "replace", "path": "/spec/predictor/model/storageUri", "value": "gs://elsewhere/export"}]'
  - target: {kind: ServiceAccount}
    patch: '[{"op": "replace", "path": "/metadata/name", "value": "stray-model-reader"}]'
""",
    )
    assert_reported(
        problems(repo),
        "serving/models/stray: InferenceService stray: spec.predictor.model.storageUri: gs://elsewhere/export is no experiment's export directory",
    )


def test_a_model_labelled_with_a_missing_experiment_fails(repo):
    path = repo / "serving/models/summarizer/kustomization.yaml"
    path.write_text(
        path.read_text().replace("textjobs.dev/experiment: summarizer", "textjobs.dev/experiment: summariser")
    )
    assert_reported(
        problems(repo), "metadata.labels[textjobs.dev/experiment]: 'summariser': no such experiment under overlays/"
    )


def test_two_models_rendering_one_object_fail(repo):
    write(repo, "serving/models/twin/kustomization.yaml", "resources:\n  - ../capsule-b\n")
    assert_reported(
        problems(repo),
        "serving/models/twin: InferenceService capsule-b: metadata.name: also rendered by serving/models/capsule-b",
    )


def test_a_served_directory_without_kustomization_and_a_remote_resource_fail(repo):
    write(repo, "serving/apps/other/deployment.yaml", "kind: Deployment\n")
    write(
        repo, "serving/models/remote/kustomization.yaml", "resources:\n  - https://github.com/example/models.git//x\n"
    )
    found = problems(repo)
    assert_reported(
        found, "serving/apps/other: directory: kustomization.yaml: missing", "move the directory out of serving/apps/"
    )
    assert_reported(found, "serving/models/remote", "remote resource")


def test_the_serving_project_whitelists_exactly_what_serving_renders(repo):
    project = repo / "argocd/serving-project.yaml"
    text = project.read_text()
    project.write_text(
        text.replace(
            "    - group: serving.kserve.io\n      kind: InferenceService\n",
            "    - group: batch\n      kind: Job\n",
        )
    )
    found = problems(repo)
    assert_reported(
        found,
        ".: AppProject textjobs-serving: spec.namespaceResourceWhitelist: serving.kserve.io/InferenceService is rendered under serving/ but not whitelisted",
    )
    assert_reported(found, "batch/Job is whitelisted but nothing under serving/ renders it")
    # The experiments' project is judged against the experiments alone, as before.
    assert not [line for line in found if "AppProject textjobs:" in line]


def test_an_applicationset_may_sync_only_what_validate_judges_into_the_right_project(repo):
    appset = repo / "argocd/serving-applicationset.yaml"
    appset.write_text(
        appset.read_text()
        .replace("- path: serving/apps/*", "- path: serving/*")
        .replace("project: textjobs-serving", "project: textjobs")
    )
    found = problems(repo)
    assert_reported(
        found,
        "ApplicationSet textjobs-serving: spec.generators[0].git.directories: 'serving/*': `make validate` judges only",
    )
    assert_reported(
        found, "ApplicationSet textjobs-serving: spec.template.spec.project: 'textjobs' syncs serving/models/*"
    )


def test_new_serving_refuses_what_cannot_be_served(repo):
    with pytest.raises(new_serving.ServingError, match="a percentage of traffic from 1 to 100"):
        new_serving.scaffold("capsule-b", 0, "storage-key", root=repo)
    with pytest.raises(new_serving.ServingError, match="no experiment 'nope'"):
        new_serving.scaffold("nope", 100, "storage-key", root=repo)
    path = repo / "overlays/cnn/kustomization.yaml"
    path.write_text(path.read_text().replace("      - bucket=textjobs-experiments\n", ""))
    with pytest.raises(new_serving.ServingError, match="exports to runs/cnn-train-r1/export, a path inside its pod"):
        new_serving.scaffold("cnn", 100, "storage-key", root=repo)


def test_new_serving_scaffolds_a_model_validate_accepts(repo):
    path, uri = new_serving.scaffold("capsule-b-multilabel", 100, "workload-identity", root=repo)
    assert uri == "gs://textjobs-experiments/runs/capsule-b-multilabel-train-r1/export"
    assert problems(repo, ["serving/models/capsule-b-multilabel"]) == []
    rendered = render("serving/models/capsule-b-multilabel", repo)
    account = next(d for d in rendered.documents if d["kind"] == "ServiceAccount")
    assert (
        account["metadata"]["name"] == "capsule-b-multilabel-model-reader"
        and "iam.gke.io/gcp-service-account" in account["metadata"]["annotations"]
    )
    assert isvc(rendered)["spec"]["predictor"]["serviceAccountName"] == account["metadata"]["name"]
