"""Every kustomization renders, validates, and wires the ConfigMap into every replica."""

import pytest
import yaml

from scripts import validate
from scripts.manifests import ROOT, kustomizations, render

OVERLAYS = [
    "cnn",
    "kimcnn",
    "capsule-a",
    "capsule-b",
    "capsule-b-multilabel",
    "summarizer",
    "summarizer-copy",
    "summarizer-finetune",
    "chatbot",
    "hat-explainer",
    "hat-guesser",
]
SERVED = ["capsule-b", "summarizer"]
SERVED_APPS = ["game"]
PLATFORM = ["tensorboard", "tracking"]


def test_the_repository_validates_clean():
    problems, count, objects = validate.validate(ROOT)
    assert problems == []
    searches = len(list((ROOT / "katib" / "experiments").glob("*/kustomization.yaml")))
    assert searches == 8
    assert count == 1 + len(OVERLAYS) + searches + len(SERVED) + len(SERVED_APPS) + len(PLATFORM) and objects > 20


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hashed_configmap_name_is_what_every_replica_references(overlay):
    rendered = render(f"overlays/{overlay}")
    assert not rendered.error
    [configmap] = rendered.of_kind("ConfigMap")
    [job] = rendered.of_kind("TFJob")
    name = configmap["metadata"]["name"]
    assert name.startswith(f"{overlay}-experiment-config-r1-")  # hash suffix present
    for rtype, replica in job["spec"]["tfReplicaSpecs"].items():
        [container] = replica["template"]["spec"]["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": name}}], rtype
        assert container["image"] == "ghcr.io/example/textjobs-trainer:0.1.0"
    assert job["metadata"]["name"] == f"{overlay}-train-r1"


def test_multi_worker_overlay_has_chief_and_worker_with_the_same_pod():
    [job] = render("overlays/capsule-b-multilabel").of_kind("TFJob")
    specs = job["spec"]["tfReplicaSpecs"]
    assert set(specs) == {"Chief", "Worker"}
    assert specs["Chief"]["replicas"] == 1 and specs["Worker"]["replicas"] == 1
    assert specs["Chief"]["template"] == specs["Worker"]["template"]
    [sa] = render("overlays/capsule-b-multilabel").of_kind("ServiceAccount")
    assert specs["Worker"]["template"]["spec"]["serviceAccountName"] == sa["metadata"]["name"]


def test_gpu_and_key_components():
    [job] = render("overlays/kimcnn").of_kind("TFJob")
    pod = job["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert {"name": "gcp-credentials", "secret": {"secretName": "user-gcp-sa"}} in pod["volumes"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/var/secrets/google/key.json"


def test_applicationset_covers_overlays_but_not_katib():
    docs = {
        d["kind"]: d
        for d in render(".").documents
        if d["metadata"]["name"] not in ("textjobs-serving", "textjobs-platform")
    }
    directories = docs["ApplicationSet"]["spec"]["generators"][0]["git"]["directories"]
    assert directories == [{"path": "overlays/*"}]
    sync = docs["ApplicationSet"]["spec"]["template"]["spec"]["syncPolicy"]
    assert sync["automated"] == {"prune": True, "selfHeal": True}
    assert "SkipDryRunOnMissingResource=true" in sync["syncOptions"]
    assert "CreateNamespace=true" not in sync["syncOptions"]  # the bootstrap creates it, with Pod Security labels
    assert "resource.customizations.health.kubeflow.org_TFJob" in docs["ConfigMap"]["data"]
    assert all(not k.startswith("overlays/") for k in kustomizations() if k.startswith("katib"))


@pytest.mark.parametrize("algorithm", ["random", "grid", "bayesianoptimization", "tpe"])
def test_katib_experiments_search_capsule_b_on_the_printed_metric(algorithm):
    rendered = render(f"katib/experiments/{algorithm}")
    [experiment] = rendered.of_kind("Experiment")
    spec = experiment["spec"]
    assert spec["algorithm"]["algorithmName"] == algorithm
    assert spec["objective"]["objectiveMetricName"] == "val_accuracy"
    assert {p["name"] for p in spec["parameters"]} == {"learningRate", "batchSize", "routingIterations"}
    template = spec["trialTemplate"]
    assert template["primaryPodLabels"] == {"training.kubeflow.org/job-role": "master"}
    assert "Succeeded" in template["successCondition"] and "Failed" in template["failureCondition"]
    container = template["trialSpec"]["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]["containers"][0]
    [configmap] = rendered.of_kind("ConfigMap")
    assert container["envFrom"][0]["configMapRef"]["name"] == configmap["metadata"]["name"]
    assert configmap["data"]["modelType"] == "capsule-b"


def test_kubeconform_rejects_a_misspelled_tfjob_field(tmp_path):
    rendered = render("overlays/cnn")
    docs = rendered.documents
    job = next(d for d in docs if d["kind"] == "TFJob")
    job["spec"]["tfReplicaSpec"] = job["spec"].pop("tfReplicaSpecs")
    rendered.text = yaml.safe_dump_all(docs)
    problems = validate.kubeconform([rendered], ROOT / "schemas")
    assert any("tfReplicaSpec" in p.message or "tfReplicaSpec" in p.field for p in problems), problems
    assert all(p.where == "overlays/cnn" for p in problems)


def test_katib_summarizer_searches_learning_rate_and_hidden_size_on_rouge_l():
    rendered = render("katib/experiments/summarizer")
    [experiment] = rendered.of_kind("Experiment")
    spec = experiment["spec"]
    assert spec["objective"]["objectiveMetricName"] == "val_rougeL" and spec["objective"]["type"] == "maximize"
    assert {p["name"] for p in spec["parameters"]} == {"learningRate", "hiddenSize"}
    container = spec["trialTemplate"]["trialSpec"]["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]["containers"][
        0
    ]
    assert container["args"] == [
        "--learningRate=${trialParameters.learningRate}",
        "--hiddenSize=${trialParameters.hiddenSize}",
    ]
    [configmap] = rendered.of_kind("ConfigMap")
    assert container["envFrom"][0]["configMapRef"]["name"] == configmap["metadata"]["name"]
    assert configmap["data"]["modelType"] == "seq2seq-attention"
