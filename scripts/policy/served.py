"""Rules for served applications (serving/*: Deployments and their Services), beside the pod
rules every workload passes (Pod Security restricted, requests and limits, pinned images from
allowed registries, credentials by reference): a long-running server must say when it is ready
and alive, and must not write to its image."""

from __future__ import annotations

from collections.abc import Iterator

from scripts.manifests import Rendered
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import served_pods

PROBES = ("readinessProbe", "livenessProbe")


def rule_probes_and_read_only_root(r: Rendered) -> Iterator[Violation]:
    for pod in served_pods(r):
        obj = describe(pod.job.doc)
        containers = pod.spec.get("containers")
        for index, c in enumerate(containers if isinstance(containers, list) else []):
            if not isinstance(c, dict):
                continue
            field = f"{pod.field}.containers[{c.get('name', index)}]"
            for probe in PROBES:
                if not isinstance(c.get(probe), dict):
                    yield Violation(
                        r.name,
                        obj,
                        f"{field}.{probe}",
                        "missing: a served container needs readiness and liveness probes",
                    )
            context = c.get("securityContext") if isinstance(c.get("securityContext"), dict) else {}
            if context.get("readOnlyRootFilesystem") is not True:
                yield Violation(
                    r.name,
                    obj,
                    f"{field}.securityContext.readOnlyRootFilesystem",
                    "must be true: write to a mounted emptyDir (e.g. TMPDIR=/scratch), never to the image",
                )


RULES = [rule_probes_and_read_only_root]
