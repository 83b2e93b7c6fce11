"""TFJob-level rules: what the operator's webhook refuses, and what keeps a failing job from
running for ever."""

from __future__ import annotations

import re
from collections.abc import Iterator

from scripts.manifests import Rendered
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import jobs, pods

DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Pod names are <job>-<replica type>-<index>; keep room for "-worker-NN" within 63 characters.
MAX_JOB_NAME = 50
RESTART_POLICIES = ("OnFailure", "ExitCode")
# Operator v1.9.4 never counts ExitCode restarts against backoffLimit (each restart is a new pod),
# so a replica that keeps exiting 137/143 restarts until activeDeadlineSeconds ends the job.
MAX_ACTIVE_DEADLINE_S = 7 * 24 * 3600


def rule_tensorflow_container(r: Rendered) -> Iterator[Violation]:
    for pod in pods(r):
        field = f"{pod.field}.containers"
        named = [c for c in pod.spec.get("containers") or [] if c.get("name") == "tensorflow"]
        if not named:
            yield Violation(
                r.name,
                describe(pod.job.doc),
                field,
                "no container named 'tensorflow' (the operator's webhook refuses the job); rename the trainer container",
            )
        elif not named[0].get("image"):
            yield Violation(
                r.name,
                describe(pod.job.doc),
                field + "[tensorflow].image",
                "missing; the base sets it through kustomize images:",
            )


def rule_replica_counts(r: Rendered) -> Iterator[Violation]:
    for pod in pods(r):
        count = pod.replica.get("replicas", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            yield Violation(
                r.name,
                describe(pod.job.doc),
                f"{pod.job.prefix}.tfReplicaSpecs.{pod.replica_type}.replicas",
                f"{count!r}; a replica type has 1 or more replicas (remove the type instead of setting 0)",
            )


def _count(replica: dict) -> int:
    count = (replica or {}).get("replicas", 1)
    return count if isinstance(count, int) and count > 0 else 0


def rule_one_chief(r: Rendered) -> Iterator[Violation]:
    for job in jobs(r):
        replicas = job.spec.get("tfReplicaSpecs") or {}
        chiefs = sum(_count(rep) for t, rep in replicas.items() if t in ("Chief", "Master"))
        if chiefs > 1:
            yield Violation(
                r.name,
                describe(job.doc),
                f"{job.prefix}.tfReplicaSpecs",
                f"{chiefs} Chief/Master replicas; at most 1 (add Workers instead)",
            )


def rule_restart_policy(r: Rendered) -> Iterator[Violation]:
    for pod in pods(r):
        policy = pod.replica.get("restartPolicy")
        if policy not in RESTART_POLICIES:
            yield Violation(
                r.name,
                describe(pod.job.doc),
                f"{pod.job.prefix}.tfReplicaSpecs.{pod.replica_type}.restartPolicy",
                f"{policy!r}; use {' or '.join(RESTART_POLICIES)} so preempted replicas resume",
            )


def rule_names(r: Rendered) -> Iterator[Violation]:
    for doc in r.of_kind("TFJob"):
        name = doc.get("metadata", {}).get("name", "")
        if not DNS_1035.match(name) or len(name) > MAX_JOB_NAME:
            yield Violation(
                r.name,
                describe(doc),
                "metadata.name",
                f"must be DNS-1035 (lower-case letters, digits, '-', starting with a letter) and <= {MAX_JOB_NAME} chars; shorten namePrefix/nameSuffix",
            )


def rule_no_ttl(r: Rendered) -> Iterator[Violation]:
    for job in jobs(r):
        if job.git_owned and "ttlSecondsAfterFinished" in (job.spec.get("runPolicy") or {}):
            yield Violation(
                r.name,
                describe(job.doc),
                f"{job.prefix}.runPolicy.ttlSecondsAfterFinished",
                "must be unset: Argo CD would recreate the deleted job and train again; remove it",
            )


def rule_bounded_runtime(r: Rendered) -> Iterator[Violation]:
    for job in jobs(r):
        run_policy = job.spec.get("runPolicy") or {}
        deadline = run_policy.get("activeDeadlineSeconds")
        field = f"{job.prefix}.runPolicy.activeDeadlineSeconds"
        if not isinstance(deadline, int) or not 0 < deadline <= MAX_ACTIVE_DEADLINE_S:
            yield Violation(
                r.name,
                describe(job.doc),
                field,
                f"{deadline!r}; set 1..{MAX_ACTIVE_DEADLINE_S} (7 days): backoffLimit does not stop ExitCode restarts, only this deadline does",
            )
        if not isinstance(run_policy.get("backoffLimit"), int):
            yield Violation(
                r.name,
                describe(job.doc),
                f"{job.prefix}.runPolicy.backoffLimit",
                "unset; keep the base's backoffLimit (it bounds OnFailure restarts)",
            )


RULES = [
    rule_tensorflow_container,
    rule_replica_counts,
    rule_one_chief,
    rule_restart_policy,
    rule_names,
    rule_no_ttl,
    rule_bounded_runtime,
]
