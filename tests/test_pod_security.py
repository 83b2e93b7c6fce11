"""The static Pod Security rules (scripts/policy/pod_security.py) refuse exactly the pod templates
Kubernetes' restricted profile refuses, on every case in tests/pod_security_cases.py and on
seeded combinations of them. The same cases go to a real API server in test_cluster_e2e.py."""

from __future__ import annotations

import pytest

from scripts.manifests import Rendered, render
from scripts.policy import pod_security
from tests import pod_security_cases


@pytest.fixture(scope="module")
def base_job():
    return next(d for d in render("overlays/capsule-b").documents if d["kind"] == "TFJob")


def static_verdicts(rendered: Rendered) -> dict[str, bool]:
    refused = {str(v.obj).split(" ", 1)[1] for rule in pod_security.RULES for v in rule(rendered)}
    return {doc["metadata"]["name"]: doc["metadata"]["name"] in refused for doc in rendered.documents}


def test_the_static_rules_refuse_exactly_what_restricted_refuses(base_job):
    rendered, expected = pod_security_cases.jobs(base_job)
    names = pod_security_cases.names()
    verdicts = static_verdicts(rendered)
    wrong = {
        names[job]: ("refused" if verdicts[job] else "allowed") for job in expected if verdicts[job] != expected[job]
    }
    assert wrong == {}
