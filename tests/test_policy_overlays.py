"""Rules that need real kustomizations: each broken overlay is written into a copy of the
repository and judged by `make validate`'s own function, so kustomize really renders it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scripts import validate
from scripts.manifests import ROOT, VALIDATED_TREE

COPIED = VALIDATED_TREE
CHIEF = "/spec/tfReplicaSpecs/Chief/template/spec"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_repository(tmp_path)


def copy_repository(target: Path) -> Path:
    """What `make validate` reads, copied to `target`, to be broken there."""
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy(source, target / name)
    return target


def write(repo: Path, relative: str, text: str) -> Path:
    path = repo / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def experiment(
    repo: Path, name: str, extra: str = "", filename: str = "kustomization.yaml", literals: tuple[str, ...] = ()
) -> str:
    """An experiment on top of the base, with its own names and bucket, plus `extra` kustomization
    lines and `literals` in its ConfigMap."""
    config = "".join(f"      - {literal}\n" for literal in ("bucket=textjobs-experiments", *literals))
    write(
        repo,
        f"overlays/{name}/{filename}",
        f"""\
resources:
  - ../../base
namePrefix: {name}-
nameSuffix: -r1
configMapGenerator:
  - name: experiment-config
    behavior: merge
    literals:
{config}{extra}""",
    )
    return f"overlays/{name}"


def problems(repo: Path, names: list[str] | None = None) -> list[str]:
    found, _, _ = validate.validate(repo, names, scan=False)
    return [str(p) for p in found]


def assert_reported(found: list[str], *parts: str) -> None:
    assert any(all(part in line for part in parts) for line in found), "\n".join(found)


def test_the_copied_repository_is_clean(repo):
    assert problems(repo) == []


@pytest.mark.parametrize("filename", ["kustomization.yml", "Kustomization"])
def test_every_name_kustomize_accepts_is_validated(repo, filename):
    experiment(repo, "odd", "images:\n  - name: ghcr.io/example/textjobs-trainer\n    newTag: latest\n", filename)
    assert_reported(
        problems(repo), "overlays/odd: TFJob odd-train-r1:", "containers[tensorflow].image", "tag 'latest' moves"
    )


def test_a_directory_without_kustomization_fails(repo):
    write(repo, "overlays/plain/tfjob.yaml", (ROOT / "base" / "tfjob.yaml").read_text())
    assert_reported(
        problems(repo), "overlays/plain: directory: kustomization.yaml: missing: Argo CD would apply", "plain manifests"
    )


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("https://github.com/example/textjobs//base?ref=main", "remote resource"),
        ("github.com/example/textjobs/base?ref=v1", "remote resource"),
        ("file:///etc/textjobs/base", "remote resource"),
        ("/srv/base", "points outside the repository"),
        ("../../../elsewhere", "points outside the repository"),
    ],
)
def test_remote_and_outside_resources_are_refused(repo, reference, message):
    write(
        repo,
        "overlays/remote/kustomization.yaml",
        f"resources:\n  - ../../base\n  - {reference}\nnamePrefix: remote-\n",
    )
    found, _, _ = validate.validate(repo, scan=False)
    assert_reported(
        [str(p) for p in found],
        "overlays/remote: overlays/remote/kustomization.yaml:",
        f"resources[{reference}]",
        message,
    )


def test_a_remote_resource_inside_a_component_is_refused(repo):
    write(
        repo,
        "components/fetch/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - https://example.com/extra.yaml\n",
    )
    name = experiment(repo, "uses-fetch", "components:\n  - ../../components/fetch\n")
    assert_reported(
        problems(repo, [name]),
        "components/fetch/kustomization.yaml",
        "resources[https://example.com/extra.yaml]",
        "remote resource",
    )


def test_an_image_override_that_matches_nothing_fails(repo):
    # The base already renamed training-image, so this override matches no container.
    name = experiment(repo, "stale-image", "images:\n  - name: training-image\n    newTag: 0.2.0\n")
    assert_reported(
        problems(repo, [name]),
        "overlays/stale-image/kustomization.yaml: images[training-image]: matches no container",
        "old image ships",
    )


def test_an_image_override_that_applies_passes(repo):
    name = experiment(repo, "new-image", "images:\n  - name: ghcr.io/example/textjobs-trainer\n    newTag: 0.2.0\n")
    assert problems(repo, [name]) == []


def test_two_experiments_rendering_one_object_fail(repo):
    write(repo, "overlays/twin/kustomization.yaml", "resources:\n  - ../capsule-b\n")
    assert_reported(
        problems(repo), "overlays/twin: TFJob capsule-b-train-r1: metadata.name: also rendered by overlays/capsule-b"
    )


def patch(ops: str) -> str:
    return "patches:\n  - target: {kind: TFJob}\n    patch: |-\n" + "".join(
        f"      {line}\n" for line in ops.strip().splitlines()
    )


def test_a_ps_replica_the_kustomize_configuration_does_not_rewrite_fails(repo):
    ops = """
- op: copy
  from: /spec/tfReplicaSpecs/Chief
  path: /spec/tfReplicaSpecs/PS
"""
    name = experiment(repo, "with-ps", patch(ops))
    assert_reported(
        problems(repo, [name]),
        "tfReplicaSpecs.PS.template.spec.containers[tensorflow].envFrom.configMapRef",
        "base/kustomizeconfig.yaml",
    )


def test_a_config_key_typo_in_env_fails(repo):
    ops = f"""
- op: add
  path: {CHIEF}/containers/0/env/-
  value: {{name: numEpoch, value: "3"}}
"""
    name = experiment(repo, "env-typo", patch(ops))
    assert_reported(
        problems(repo, [name]),
        "overlays/env-typo: TFJob env-typo-train-r1:",
        ".env:",
        "unknown configuration key 'numEpoch'",
    )


def test_a_batch_that_does_not_split_over_workers_fails(repo):
    name = experiment(repo, "odd-batch", "components:\n  - ../../components/multi-worker\n", literals=("batchSize=33",))
    assert_reported(problems(repo, [name]), "batchSize=33 does not split over 2 replicas")


def test_requests_above_limits_fail(repo):
    ops = f"""
- op: replace
  path: {CHIEF}/containers/0/resources/requests/memory
  value: 16Gi
"""
    name = experiment(repo, "greedy", patch(ops))
    assert_reported(problems(repo, [name]), "resources.requests.memory: 16Gi is above the limit 8Gi")


def test_host_path_in_a_worker_fails(repo):
    ops = """
- op: add
  path: /spec/tfReplicaSpecs/Worker/template/spec/volumes/-
  value: {name: node, hostPath: {path: /var/lib}}
"""
    name = experiment(repo, "host-worker", "components:\n  - ../../components/multi-worker\n" + patch(ops))
    assert_reported(problems(repo, [name]), "tfReplicaSpecs.Worker.template.spec.volumes[node].hostPath")


def test_the_project_whitelists_exactly_what_experiments_render(repo):
    project = repo / "argocd" / "project.yaml"
    project.write_text(
        project.read_text().replace(
            "clusterResourceWhitelist: []", 'clusterResourceWhitelist:\n    - group: ""\n      kind: Namespace'
        )
    )
    write(
        repo,
        "overlays/with-role/kustomization.yaml",
        "resources:\n  - ../../base\n  - role.yaml\nnamePrefix: with-role-\n",
    )
    write(
        repo,
        "overlays/with-role/role.yaml",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\n  namespace: textjobs\nrules: []\n",
    )
    found = problems(repo)
    assert_reported(found, ".: AppProject textjobs: spec.clusterResourceWhitelist: ['core/Namespace']")
    assert_reported(found, "rbac.authorization.k8s.io/Role is rendered by an experiment but not whitelisted")


def test_an_unused_whitelist_entry_and_a_wildcard_fail(repo):
    project = repo / "argocd" / "project.yaml"
    project.write_text(project.read_text() + '    - group: "*"\n      kind: "*"\n')
    assert_reported(problems(repo), "spec.namespaceResourceWhitelist: wildcard */*")


def test_the_namespace_must_enforce_restricted(repo):
    namespace = repo / "argocd" / "namespace.yaml"
    namespace.write_text(namespace.read_text().replace("enforce: restricted", "enforce: baseline"))
    assert_reported(
        problems(repo),
        ".: Namespace textjobs: metadata.labels[pod-security.kubernetes.io/enforce]: 'baseline'; set it to restricted",
    )


def search(repo: Path, name: str, ops: str) -> str:
    """A Katib experiment on the repository's search base, with JSON-patch `ops` on the Experiment."""
    write(
        repo,
        f"katib/experiments/{name}/kustomization.yaml",
        f"""\
resources:
  - ../../base
nameSuffix: -{name}
patches:
  - target: {{kind: Experiment}}
    patch: |-
"""
        + "".join(f"      {line}\n" for line in ops.strip().splitlines()),
    )
    return f"katib/experiments/{name}"


def test_a_search_range_that_reaches_a_bad_value_fails(repo):
    ops = """
- op: replace
  path: /spec/parameters/0/feasibleSpace/max
  value: "20"
"""
    name = search(repo, "too-hot", ops)
    found = problems(repo, [name])
    assert_reported(
        found, "(the trial with learningRate=20, batchSize=16", "args: learningRate='20' must be in (0, 10]"
    )
    assert sum("learningRate='20'" in line for line in found) == 1, found  # once, not once per corner


def test_a_searched_batch_size_that_does_not_split_over_the_replicas_fails(repo):
    ops = """
- op: replace
  path: /spec/parameters/1/feasibleSpace/list
  value: ["16", "33"]
- op: copy
  from: /spec/trialTemplate/trialSpec/spec/tfReplicaSpecs/Chief
  path: /spec/trialTemplate/trialSpec/spec/tfReplicaSpecs/Worker
"""
    name = search(repo, "odd-batches", ops)
    found = problems(repo, [name])
    assert_reported(found, "batchSize=33, routingIterations=1)", "batchSize=33 does not split over 2 replicas")
    assert not any("batchSize=16" in line and "does not split" in line for line in found), found


def test_a_search_is_judged_at_its_middle_values_and_mixed_corners(repo):
    """Both ends of every range can pass while a listed middle value or a mix of ends fails:
    batch 17 does not split over two workers; marginNegative at its top reaches marginPositive at
    its bottom, though all-low and all-high are each fine."""
    ops = """
- op: replace
  path: /spec/parameters/1/feasibleSpace/list
  value: ["16", "17", "32"]
- op: copy
  from: /spec/trialTemplate/trialSpec/spec/tfReplicaSpecs/Chief
  path: /spec/trialTemplate/trialSpec/spec/tfReplicaSpecs/Worker
- op: add
  path: /spec/parameters/-
  value: {name: marginPositive, parameterType: double, feasibleSpace: {min: "0.5", max: "0.9"}}
- op: add
  path: /spec/parameters/-
  value: {name: marginNegative, parameterType: double, feasibleSpace: {min: "0.1", max: "0.6"}}
- op: add
  path: /spec/trialTemplate/trialParameters/-
  value: {name: marginPositive, reference: marginPositive}
- op: add
  path: /spec/trialTemplate/trialParameters/-
  value: {name: marginNegative, reference: marginNegative}
- op: add
  path: /spec/trialTemplate/trialSpec/spec/tfReplicaSpecs/Chief/template/spec/containers/0/args/-
  value: --marginPositive=${trialParameters.marginPositive}
- op: add
  path: /spec/trialTemplate/trialSpec/spec/tfReplicaSpecs/Chief/template/spec/containers/0/args/-
  value: --marginNegative=${trialParameters.marginNegative}
"""
    name = search(repo, "corners", ops)
    found = problems(repo, [name])
    assert_reported(found, "batchSize=17,", "batchSize=17 does not split over 2 replicas")
    assert_reported(found, "marginPositive=0.5, marginNegative=0.6)", "must be below marginPositive=0.5")
    # Each problem once, though each shows in several corners (the Worker's un-rewritten ConfigMap
    # reference, and the Worker the search adds, are reported too, by their own rules).
    assert sum("does not split over" in line for line in found) == 1, "\n".join(found)
    assert sum("must be below marginPositive" in line for line in found) == 1, "\n".join(found)


def test_the_project_whitelist_follows_the_allowlist(repo):
    allowlist = repo / "platform" / "allowlist.yaml"
    text = allowlist.read_text()
    text = text.replace('      - {group: "", kind: ServiceAccount}   # components/workload-identity\n', "")
    text = text.replace(
        "      - {group: kubeflow.org, kind: TFJob}\n",
        "      - {group: kubeflow.org, kind: TFJob}\n      - {group: apps, kind: Deployment}\n",
        1,
    )
    allowlist.write_text(text)
    found = problems(repo)
    assert_reported(
        found,
        ".: AppProject textjobs: spec.namespaceResourceWhitelist: apps/Deployment is in platform/allowlist.yaml but not whitelisted",
    )
    assert_reported(
        found,
        "overlays/capsule-b-multilabel: ServiceAccount capsule-b-multilabel-trainer-r1: kind: core/ServiceAccount is not something overlays/ may render",
    )


def test_a_new_component_needs_no_policy_change(repo):
    """What a component in components/ adds is the platform's: an experiment listing it passes."""
    write(
        repo,
        "components/frequent-checkpoints/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - target: {kind: TFJob}\n    patch: |-\n"
        "      - op: add\n        path: /spec/tfReplicaSpecs/Chief/template/spec/containers/0/env/-\n"
        '        value: {name: checkpointEvery, value: "10"}\n',
    )
    name = experiment(repo, "checkpointed", "components:\n  - ../../components/frequent-checkpoints\n")
    assert problems(repo, [name]) == []
    # The same change written in the overlay itself is the experiment's, and refused.
    ops = f"""
- op: add
  path: {CHIEF}/containers/0/env/-
  value: {{name: checkpointEvery, value: "10"}}
"""
    name = experiment(repo, "self-checkpointed", patch(ops))
    assert_reported(problems(repo, [name]), "env[checkpointEvery]", "not a field an experiment may change")


def test_a_component_from_elsewhere_is_the_experiments_own_change(repo):
    write(
        repo,
        "overlays/sneaky/extra/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - target: {kind: TFJob}\n    patch: |-\n"
        "      - {op: add, path: /spec/tfReplicaSpecs/Chief/template/spec/nodeName, value: cp-0}\n",
    )
    name = experiment(repo, "sneaky", "components:\n  - extra\n")
    found = problems(repo, [name])
    assert_reported(
        found, "overlays/sneaky/kustomization.yaml: components[extra]: components come from components/ only"
    )
    assert_reported(found, "TFJob sneaky-train-r1: spec.tfReplicaSpecs.Chief.template.spec.nodeName: added")


def test_a_search_is_held_to_the_allowlist_and_the_budget(repo):
    ops = """
- op: replace
  path: /spec/maxTrialCount
  value: 5000
- op: add
  path: /spec/trialTemplate/trialSpec/spec/tfReplicaSpecs/Chief/template/spec/nodeName
  value: gpu-node-7
- op: add
  path: /spec/trialTemplate/trialSpec/spec/tfReplicaSpecs/Chief/template/spec/containers/0/args/-
  value: --numEpochs
- op: add
  path: /spec/trialTemplate/trialSpec/spec/tfReplicaSpecs/Chief/template/spec/containers/0/args/-
  value: "5000"
"""
    name = search(repo, "greedy", ops)
    found = problems(repo, [name])
    assert_reported(
        found, "spec.maxTrialCount: 5000 is over the budget (platform/budget.yaml: search.maxTrialCount = 100)"
    )
    assert_reported(found, "spec.trialTemplate.trialSpec.spec.tfReplicaSpecs.Chief.template.spec.nodeName: added")
    assert_reported(found, "(the trial with", "numEpochs=5000 is outside the budget")


def test_the_validation_benchmark_copies_everything_validation_reads(capsys):
    """scripts/bench_validate.py validates a copy of the repository plus generated overlays: it
    must copy every part `make validate` reads (it failed when serving/ was added)."""
    from scripts import bench_validate

    assert bench_validate.main(["--count", "2", "--repeats", "1"]) == 0
    assert "ms per kustomization" in capsys.readouterr().out
