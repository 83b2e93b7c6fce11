"""What every Argo CD AppProject of this repository must say, whichever directories it syncs
(experiments: project.py, model servers: serving.py, platform services: services.py): it deploys
only to the training namespace, and only from this repository."""

from __future__ import annotations

from collections.abc import Iterator

from scripts.policy.violation import Violation, describe

NAMESPACE = "textjobs"


def rule_destinations_and_sources(where: str, project: dict, who: str) -> Iterator[Violation]:
    """`who` names what the project deploys, as its messages say it ("experiments", ...)."""
    spec, obj = project.get("spec") or {}, describe(project)
    for destination in spec.get("destinations") or []:
        if destination.get("namespace") != NAMESPACE:
            yield Violation(
                where,
                obj,
                "spec.destinations",
                f"namespace {destination.get('namespace')!r}: {who} deploy only to {NAMESPACE!r}",
            )
    if "*" in (spec.get("sourceRepos") or []):
        yield Violation(where, obj, "spec.sourceRepos", "'*' lets an Application sync any repository; name this one")
