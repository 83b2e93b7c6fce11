"""The allowlist, property-style: an experiment's render compared with its reference render
(base/ with the experiment's components, prefix and suffix). Any field outside
platform/allowlist.yaml, set to any value, anywhere in any object, fails naming that field; any
change inside it passes this rule (its values are other rules' business). In memory, on the real
renders of a shipped experiment, so hundreds of cases run in seconds; the same rule through real
overlays is in test_policy_classes.py."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scripts.manifests import ROOT, render
from scripts.policy import allowlist, fieldpath, platform

EXPERIMENT = "overlays/capsule-b-multilabel"  # Chief + Worker, a ServiceAccount from a component
IDENTITY = {("metadata", "name"), ("metadata", "namespace"), ("kind",), ("apiVersion",)}


@pytest.fixture(scope="module")
def renders():
    workload = platform.allowlist(ROOT).workload_of(EXPERIMENT)
    reference = allowlist.render_reference(EXPERIMENT, ROOT, workload, {})
    return workload, reference.documents, render(EXPERIMENT).documents


def problems(workload, reference, documents) -> list[tuple[str, str, str]]:
    return list(allowlist.compare(reference, documents, workload, "capsule-b-multilabel"))


def test_the_shipped_experiment_differs_only_where_allowed(renders):
    assert problems(*renders) == []


def nodes(value, path=()):
    """Every mapping inside `value` with its path, in fieldpath's own segments."""
    if isinstance(value, dict):
        yield path, value
    children = fieldpath._children(value) or {}
    for key, child in children.items():
        if isinstance(child, dict | list):
            yield from nodes(child, (*path, key))


def allowed(workload, kind: str, path: fieldpath.Path) -> bool | None:
    """True where some rule lists the path with no value constraint; None where it lists values
    (the value decides); False elsewhere."""
    rules = [f for f in workload.fields if f.kind in ("*", kind)]
    listing = [r for r in rules if any(fieldpath.matches(p, path) for p in r.paths)]
    if not listing:
        return False
    return True if any(not r.values for r in listing) else None


# Keys Kubernetes, the operator and Argo CD know, and made-up ones: the rule must not care which.
FIELD_NAMES = [
    "nodeName",
    "hostAliases",
    "dnsPolicy",
    "priorityClassName",
    "schedulerName",
    "runtimeClassName",
    "shareProcessNamespace",
    "terminationGracePeriodSeconds",
    "tolerations",
    "affinity",
    "lifecycle",
    "procMount",
    "sysctls",
    "schedulingPolicy",
    "managedBy",
    "suspend",
    "imagePullPolicy",
    "workingDir",
    "annotations",
    "argocd.argoproj.io/sync-options",
    "argocd.argoproj.io/hook",
    "stdin",
    "tty",
    "os",
    "hostUsers",
    "resourceClaims",
    "overhead",
    "preemptionPolicy",
    "readinessGates",
    "setHostnameAsFQDN",
    "futureFieldFromKubernetes2031",
]
scalars = st.one_of(st.integers(-5, 10**6), st.booleans(), st.text(max_size=12), st.just("0"), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELD_NAMES), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_field_outside_the_allowlist_set_to_any_value_fails_naming_it(renders, data):
    workload, reference, documents = renders
    documents = copy.deepcopy(documents)
    index = data.draw(st.integers(0, len(documents) - 1))
    doc = documents[index]
    path, node = data.draw(st.sampled_from(list(nodes(doc))))
    if data.draw(st.booleans()) or not node:
        key = data.draw(st.sampled_from(FIELD_NAMES) | st.text(alphabet="abcXYZ_-.", min_size=1, max_size=8))
        assume(key not in node)
    else:
        key = data.draw(st.sampled_from(sorted(node)))
    value = data.draw(values)
    old = node.get(key, fieldpath.MISSING)
    assume(old != value)
    node[key] = value
    target = (*path, str(key))
    before = dict(fieldpath.leaves(old, target)) if old is not fieldpath.MISSING else {}
    after = dict(fieldpath.leaves(value, target))
    changed = [
        p
        for p in {*before, *after}
        if before.get(p, fieldpath.MISSING) != after.get(p, fieldpath.MISSING)
        # an emptied mapping or list is the removal of what it held, not a change at its own path
        and not (after.get(p) in ({}, []) and any(q[: len(p)] == p and q != p for q in before))
    ]

    # A change wholly under allowed paths is judged by the values' own rules (budget, images, ...).
    def fine(p):  # listed with no values, or listed with values and removed
        verdict = allowed(workload, doc.get("kind"), p)
        return verdict is True or (verdict is None and p not in after)

    assume(not all(fine(p) for p in changed))
    found = problems(workload, reference, documents)
    shown = fieldpath.show(target)
    # The violation names the changed field, or the field inside it where the change shows, or (a
    # change of the object's identity) the object.
    identity = any(target == i[: len(target)] for i in IDENTITY)
    assert any(
        shown.startswith(field) or field.startswith(shown) or (identity and field == "(object)")
        for _, field, _ in found
    ), f"{shown} = {value!r} passed: {found}"


RESOURCE_PATHS = [
    (kind, f"spec.tfReplicaSpecs.{replica}.template.spec.containers[tensorflow].resources.{part}[{name}]")
    for kind in ["TFJob"]
    for replica in ["Chief", "Worker"]
    for part in ["requests", "limits"]
    for name in ["cpu", "memory", "nvidia.com/gpu", "ephemeral-storage"]
]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_change_inside_the_allowlist_passes_this_rule(renders, data):
    workload, reference, documents = renders
    documents = copy.deepcopy(documents)
    for _ in range(data.draw(st.integers(1, 5))):
        what = data.draw(st.sampled_from(["resource", "config", "replicas", "lifetime", "image"]))
        job = next(d for d in documents if d["kind"] == "TFJob")
        if what == "resource":
            _, shown = data.draw(st.sampled_from(RESOURCE_PATHS))
            *parents, leaf = fieldpath.parse(shown)
            node = job
            for segment in parents:
                node = (
                    node[segment]
                    if not segment.startswith("[")
                    else next(c for c in node if c.get("name") == segment[1:-1])
                )
            node[leaf[1:-1]] = data.draw(st.sampled_from(["1", "500m", "2Gi", 3, "64"]))
        elif what == "config":
            config = next(d for d in documents if d["kind"] == "ConfigMap")
            config["data"][data.draw(st.text(alphabet="abcdefXYZ", min_size=1, max_size=9))] = data.draw(
                st.text(max_size=9)
            )
        elif what == "replicas":
            job["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = data.draw(st.integers(1, 600))
        elif what == "lifetime":
            job["spec"]["runPolicy"][data.draw(st.sampled_from(["activeDeadlineSeconds", "backoffLimit"]))] = data.draw(
                st.integers(0, 10**7)
            )
        else:
            job["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]["containers"][0]["image"] = data.draw(
                st.text(max_size=20)
            )
    assert problems(workload, reference, documents) == []


def test_an_allowed_path_with_listed_values_takes_only_those(renders):
    workload, reference, documents = renders
    documents = copy.deepcopy(documents)
    account = next(d for d in documents if d["kind"] == "ServiceAccount")
    account["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] = "owner@other-project.iam.gserviceaccount.com"
    account["metadata"]["labels"]["textjobs.dev/experiment"] = "someone-else"
    fields = {field: message for _, field, message in problems(workload, reference, documents)}
    assert (
        "is not an allowed value ('textjobs-*@my-project.iam.gserviceaccount.com')"
        in fields["metadata.annotations[iam.gke.io/gcp-service-account]"]
    )
    assert "('capsule-b-multilabel')" in fields["metadata.labels[textjobs.dev/experiment]"]


def test_an_object_the_reference_lacks_or_a_dropped_one_fails(renders):
    workload, reference, documents = renders
    extra = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": "textjobs"}}
    found = problems(workload, reference, [d for d in documents if d["kind"] != "ServiceAccount"] + [extra])
    assert ("ConfigMap kube-root-ca.crt", "(object)") in [(o, f) for o, f, _ in found]
    assert any(o.startswith("ServiceAccount") and "dropped" in m for o, f, m in found)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("data.*", "data.numEpochs", True),
        ("data.*", "data", False),
        ("data.*", "binaryData.x", False),
        ("spec.x.*.image", "spec.x.Chief.image", True),
        ("spec.x.*.image", "spec.x.Chief.template.image", False),
        ("a.**", "a", True),
        ("a.**", "a.b[c].d", True),
        ("containers[tensorflow].image", "containers[tensorflow].image", True),
        ("containers[tensorflow].image", "containers[sidecar].image", False),
        ("limits[nvidia.com/gpu]", "limits[nvidia.com/gpu]", True),
        ("limits.*", "limits[nvidia.com/gpu]", True),
        ("env.name", "env[name]", False),
    ],
)
def test_path_patterns(pattern, path, expected):
    assert fieldpath.matches(fieldpath.parse(pattern), fieldpath.parse(path)) is expected
