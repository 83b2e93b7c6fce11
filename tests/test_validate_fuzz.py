"""`make validate` never ends in a traceback: broken overlays of every shape, written into a copy
of the repository, end in problem lines naming where (and no rule reports that it could not
judge). Fixed regressions first, then fuzzed kustomizations (Hypothesis, bounded examples)."""

from __future__ import annotations

import shutil

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts import validate
from tests.test_policy_overlays import copy_repository, write

NAME = "overlays/fuzzed"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repository(tmp_path_factory.mktemp("fuzz"))


def judge(repo, text: str | bytes) -> list[str]:
    shutil.rmtree(repo / NAME, ignore_errors=True)
    path = repo / NAME / "kustomization.yaml"
    path.parent.mkdir(parents=True)
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    found, _, _ = validate.validate(repo, [NAME], scan=False)
    lines = [str(p) for p in found]
    assert all(line.count(": ") >= 3 for line in lines), lines
    assert not [line for line in lines if "could not judge" in line], lines
    return lines


REGRESSIONS = {
    "multi-document": (
        "resources:\n  - ../../base\nnamePrefix: fuzzed-\n---\nnamePrefix: other-\n",
        "2 YAML documents",
    ),
    "zero replicas": (
        "resources:\n  - ../../base\nnamePrefix: fuzzed-\ncomponents:\n  - ../../components/multi-worker\n"
        "patches:\n  - target: {kind: TFJob}\n    patch: |-\n      - {op: replace, path: /spec/tfReplicaSpecs/Chief/replicas, value: 0}\n"
        "      - {op: replace, path: /spec/tfReplicaSpecs/Worker/replicas, value: 0}\n",
        "1 or more replicas",
    ),
    "a list": ("- ../../base\n", "not a list"),
    "a string resource": ("resources: ../../base\n", "resources"),
    "bad YAML": ("resources: [../../base\nnamePrefix: x\n", "not valid YAML"),
    "tabs": ("resources:\n\t- ../../base\n", "not valid YAML"),
    "not UTF-8": (b"resources:\n  - ../../base\nnamePrefix: \xff\xfe-\n", ""),
    "patch of a number": ("resources:\n  - ../../base\npatches:\n  - patch: 12\n", ""),
    "generator of numbers": ("resources:\n  - ../../base\nconfigMapGenerator: [1, 2]\n", ""),
    "replicas as text": (
        "resources:\n  - ../../base\nnamePrefix: fuzzed-\npatches:\n  - target: {kind: TFJob}\n    patch: |-\n"
        "      - {op: replace, path: /spec/tfReplicaSpecs/Chief/replicas, value: two}\n",
        "",
    ),
    "gpu as text": (
        "resources:\n  - ../../base\nnamePrefix: fuzzed-\npatches:\n  - target: {kind: TFJob}\n    patch: |-\n"
        "      - {op: add, path: /spec/tfReplicaSpecs/Chief/template/spec/containers/0/resources/limits/nvidia.com~1gpu, value: 1.5x}\n",
        "",
    ),
    "empty": ("", ""),
}


@pytest.mark.parametrize("case", sorted(REGRESSIONS))
def test_broken_overlays_end_in_problem_lines(repo, case):
    text, expected = REGRESSIONS[case]
    lines = judge(repo, text)
    assert lines, "a broken overlay passed"
    assert any(expected in line for line in lines), "\n".join(lines)


FIELDS = [
    "resources",
    "components",
    "patches",
    "configMapGenerator",
    "namePrefix",
    "nameSuffix",
    "images",
    "labels",
    "replicas",
    "namespace",
]
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(
        [
            "../../base",
            "../../components/gpu",
            "../../components/multi-worker",
            "x",
            "",
            "/",
            "..",
            "https://example.com/x",
        ]
    ),
    st.text(max_size=6),
)
value = st.recursive(
    leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["name", "path", "patch", "op", "value", "literals", "behavior", "newTag", "target", "kind"]
            ),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(st.dictionaries(st.sampled_from(FIELDS), value, max_size=5), st.booleans())
def test_fuzzed_kustomizations_never_end_in_a_traceback(repo, fields, with_base):
    if with_base:
        fields = {"resources": ["../../base"], **{k: v for k, v in fields.items() if k != "resources"}}
    judge(repo, yaml.safe_dump(fields))


def test_a_broken_platform_file_is_one_clear_problem(tmp_path):
    copy_repository(tmp_path)
    write(tmp_path, "platform/budget.yaml", "job: [not, a, mapping]\n")
    found, _, _ = validate.validate(tmp_path, scan=False)
    assert [str(p) for p in found] == [
        "platform: platform/budget.yaml: -: job: expected dict, got ['not', 'a', 'mapping']"
    ]
