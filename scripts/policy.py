"""Policy rules every rendered experiment must pass before it can merge.

Each rule takes one rendered kustomization and yields Violations that name the kustomization, the
object and the field, so a reviewer can fix the overlay without reading this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scripts.manifests import Rendered
from trainers.runtime.config import ConfigError, check_configmap_data
from trainers.tasks import registry

DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# Pod names are <job>-<replica type>-<index>; keep room for "-worker-NN" within 63 characters.
MAX_JOB_NAME = 50
RESTART_POLICIES = ("OnFailure", "ExitCode")
SECRET_PATTERNS = {
    "a private key": re.compile(r"-----BEGIN ([A-Z]+ )?PRIVATE KEY-----"),
    "a GCP service-account key": re.compile(r'"private_key_id"\s*:\s*"[0-9a-f]{20,}"'),
    "an AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "a GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
}


@dataclass(frozen=True)
class Violation:
    where: str
    obj: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.obj}: {self.field}: {self.message}"


def _obj(doc: dict) -> str:
    return f"{doc.get('kind')} {doc.get('metadata', {}).get('name', '?')}"


def tfjobs(rendered: Rendered) -> Iterator[tuple[dict, str, dict, bool]]:
    """(owner document, field prefix, TFJob spec, git_owned) for TFJobs and Katib trial templates."""
    for doc in rendered.of_kind("TFJob"):
        yield doc, "spec", doc.get("spec") or {}, True
    for doc in rendered.of_kind("Experiment"):
        trial = (doc.get("spec") or {}).get("trialTemplate", {}).get("trialSpec") or {}
        if trial.get("kind") == "TFJob":
            yield doc, "spec.trialTemplate.trialSpec.spec", trial.get("spec") or {}, False


def _replicas(spec: dict) -> Iterator[tuple[str, dict]]:
    yield from (spec.get("tfReplicaSpecs") or {}).items()


def rule_tensorflow_container(r: Rendered) -> Iterator[Violation]:
    for doc, prefix, spec, _ in tfjobs(r):
        for rtype, replica in _replicas(spec):
            containers = replica.get("template", {}).get("spec", {}).get("containers") or []
            field = f"{prefix}.tfReplicaSpecs.{rtype}.template.spec.containers"
            named = [c for c in containers if c.get("name") == "tensorflow"]
            if not named:
                yield Violation(r.name, _obj(doc), field, "no container named 'tensorflow' (the operator needs it)")
            elif not named[0].get("image"):
                yield Violation(r.name, _obj(doc), field + "[tensorflow].image", "missing")


def rule_one_chief(r: Rendered) -> Iterator[Violation]:
    for doc, prefix, spec, _ in tfjobs(r):
        chiefs = sum(int(rep.get("replicas", 1)) for t, rep in _replicas(spec) if t in ("Chief", "Master"))
        if chiefs > 1:
            yield Violation(r.name, _obj(doc), f"{prefix}.tfReplicaSpecs", f"{chiefs} Chief/Master replicas; at most 1")


def rule_restart_policy(r: Rendered) -> Iterator[Violation]:
    for doc, prefix, spec, _ in tfjobs(r):
        for rtype, replica in _replicas(spec):
            policy = replica.get("restartPolicy")
            if policy not in RESTART_POLICIES:
                yield Violation(
                    r.name,
                    _obj(doc),
                    f"{prefix}.tfReplicaSpecs.{rtype}.restartPolicy",
                    f"{policy!r}; use {' or '.join(RESTART_POLICIES)} so preempted replicas resume",
                )


def rule_names(r: Rendered) -> Iterator[Violation]:
    for doc in r.of_kind("TFJob"):
        name = doc.get("metadata", {}).get("name", "")
        if not DNS_1035.match(name) or len(name) > MAX_JOB_NAME:
            yield Violation(
                r.name,
                _obj(doc),
                "metadata.name",
                f"must be DNS-1035 (lower-case letters, digits, '-', starting with a letter) and <= {MAX_JOB_NAME} chars",
            )


def _containers(r: Rendered) -> Iterator[tuple[dict, str, dict, dict]]:
    for doc, prefix, spec, _ in tfjobs(r):
        for rtype, replica in _replicas(spec):
            pod = replica.get("template", {}).get("spec", {})
            for i, container in enumerate(pod.get("containers") or []):
                yield (
                    doc,
                    f"{prefix}.tfReplicaSpecs.{rtype}.template.spec.containers[{container.get('name', i)}]",
                    pod,
                    container,
                )


def rule_resources(r: Rendered) -> Iterator[Violation]:
    for doc, field, _, container in _containers(r):
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            missing = [k for k in ("cpu", "memory") if k not in (resources.get(kind) or {})]
            if missing:
                yield Violation(r.name, _obj(doc), f"{field}.resources.{kind}", f"missing {', '.join(missing)}")


def rule_non_root(r: Rendered) -> Iterator[Violation]:
    for doc, field, pod, container in _containers(r):
        pod_ctx, ctx = pod.get("securityContext") or {}, container.get("securityContext") or {}
        if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is not True:
            yield Violation(
                r.name, _obj(doc), f"{field}.securityContext.runAsNonRoot", "must be true (pod or container)"
            )
        if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
            yield Violation(r.name, _obj(doc), f"{field}.securityContext.runAsUser", "0 is root")
        if ctx.get("allowPrivilegeEscalation") is not False:
            yield Violation(r.name, _obj(doc), f"{field}.securityContext.allowPrivilegeEscalation", "must be false")
        if ctx.get("privileged"):
            yield Violation(r.name, _obj(doc), f"{field}.securityContext.privileged", "must not be true")


def rule_pinned_images(r: Rendered) -> Iterator[Violation]:
    for doc, field, _, container in _containers(r):
        image = container.get("image", "")
        last = image.rsplit("/", 1)[-1]
        if "@sha256:" in image:
            continue
        if ":" not in last or last.endswith(":latest"):
            yield Violation(
                r.name,
                _obj(doc),
                f"{field}.image",
                f"{image!r} is not pinned; use a version tag or digest, never latest",
            )


def rule_no_ttl(r: Rendered) -> Iterator[Violation]:
    for doc, prefix, spec, git_owned in tfjobs(r):
        if git_owned and "ttlSecondsAfterFinished" in (spec.get("runPolicy") or {}):
            yield Violation(
                r.name,
                _obj(doc),
                f"{prefix}.runPolicy.ttlSecondsAfterFinished",
                "must be unset: Argo CD would recreate the deleted job and train again",
            )


def rule_no_inline_secrets(r: Rendered) -> Iterator[Violation]:
    for doc in r.of_kind("Secret"):
        if doc.get("data") or doc.get("stringData"):
            yield Violation(
                r.name, _obj(doc), "data", "secret values never go in Git; reference an existing Secret by name"
            )


def rule_trainer_config(r: Rendered) -> Iterator[Violation]:
    referenced = {
        (source.get("configMapRef") or {}).get("name")
        for _, _, _, container in _containers(r)
        for source in container.get("envFrom") or []
    }
    for doc in r.of_kind("ConfigMap"):
        name = doc.get("metadata", {}).get("name")
        if name not in referenced:
            continue
        try:
            check_configmap_data(doc.get("data") or {}, f"{r.name}: {_obj(doc)}", registry())
        except ConfigError as exc:
            text = str(exc).split(": ", 2)[-1]
            yield Violation(r.name, _obj(doc), "data", text)


RULES = [
    rule_tensorflow_container,
    rule_one_chief,
    rule_restart_policy,
    rule_names,
    rule_resources,
    rule_non_root,
    rule_pinned_images,
    rule_no_ttl,
    rule_no_inline_secrets,
    rule_trainer_config,
]


def check(rendered: Rendered) -> list[Violation]:
    return [v for rule in RULES for v in rule(rendered)]


def scan_repository_for_secrets(files: list[Path], root: Path) -> list[Violation]:
    """Key material anywhere in the repository, whatever the file."""
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="ignore")
        except OSError:
            continue
        for what, pattern in SECRET_PATTERNS.items():
            match = pattern.search(text)
            if match:
                line = text.count("\n", 0, match.start()) + 1
                found.append(Violation(str(path.relative_to(root)), f"line {line}", "content", f"looks like {what}"))
    return found
