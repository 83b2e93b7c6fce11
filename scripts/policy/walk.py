"""Walk a render down to what the rules inspect: TFJob specs, replica pod templates, containers.

Katib trial templates are TFJobs too, and are walked the same way. Served applications
(serving/: Deployments) have pods too: `all_pods` and `all_containers` walk them beside the TFJobs'
replicas, for the rules that hold for every pod (Pod Security, wiring, images, credentials); the
operator's and the trainer's rules keep to TFJobs. Every replica type the
operator knows is walked, not only those the base uses, so a PS or Evaluator replica added by an
overlay is held to the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from scripts.manifests import Rendered

CONTAINER_KINDS = ("containers", "initContainers", "ephemeralContainers")


@dataclass(frozen=True)
class Job:
    doc: dict  # the document: a TFJob, or a Katib Experiment carrying one
    prefix: str  # field path of the TFJob spec inside doc
    spec: dict
    git_owned: bool  # synced by Argo CD (a TFJob), not created per trial by Katib


@dataclass(frozen=True)
class Pod:
    job: Job
    replica_type: str
    replica: dict
    field: str  # field path of the pod spec
    spec: dict


@dataclass(frozen=True)
class Container:
    pod: Pod
    kind: str  # containers, initContainers or ephemeralContainers
    field: str
    spec: dict


def mapping(value: object) -> dict:
    """`value` if it is a mapping, else empty: a render that breaks its schema (kubeconform reports
    it) is still walked by the other rules without failing them."""
    return value if isinstance(value, dict) else {}


def jobs(rendered: Rendered) -> Iterator[Job]:
    for doc in rendered.of_kind("TFJob"):
        yield Job(doc, "spec", mapping(doc.get("spec")), True)
    for doc in rendered.of_kind("Experiment"):
        trial = mapping(mapping(mapping(doc.get("spec")).get("trialTemplate")).get("trialSpec"))
        if trial.get("kind") == "TFJob":
            yield Job(doc, "spec.trialTemplate.trialSpec.spec", mapping(trial.get("spec")), False)


def pods(rendered: Rendered) -> Iterator[Pod]:
    for job in jobs(rendered):
        for replica_type, replica in mapping(job.spec.get("tfReplicaSpecs")).items():
            replica = mapping(replica)
            spec = mapping(mapping(replica.get("template")).get("spec"))
            yield Pod(job, replica_type, replica, f"{job.prefix}.tfReplicaSpecs.{replica_type}.template.spec", spec)


def containers(rendered: Rendered, kinds: tuple[str, ...] = CONTAINER_KINDS) -> Iterator[Container]:
    for pod in pods(rendered):
        for kind in kinds:
            listed = pod.spec.get(kind)
            for index, container in enumerate(listed if isinstance(listed, list) else []):
                if isinstance(container, dict):
                    yield Container(pod, kind, f"{pod.field}.{kind}[{container.get('name', index)}]", container)


SERVED_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def served_pods(rendered: Rendered) -> Iterator[Pod]:
    """The pod templates of served applications (a Deployment's spec.template.spec)."""
    for kind in SERVED_KINDS:
        for doc in rendered.of_kind(kind):
            spec = mapping(doc.get("spec"))
            job = Job(doc, "spec", spec, True)
            yield Pod(job, kind, spec, "spec.template.spec", mapping(mapping(spec.get("template")).get("spec")))


def all_pods(rendered: Rendered) -> Iterator[Pod]:
    yield from pods(rendered)
    yield from served_pods(rendered)


def all_containers(rendered: Rendered, kinds: tuple[str, ...] = CONTAINER_KINDS) -> Iterator[Container]:
    yield from containers(rendered, kinds)
    for pod in served_pods(rendered):
        for kind in kinds:
            listed = pod.spec.get(kind)
            for index, container in enumerate(listed if isinstance(listed, list) else []):
                if isinstance(container, dict):
                    yield Container(pod, kind, f"{pod.field}.{kind}[{container.get('name', index)}]", container)
