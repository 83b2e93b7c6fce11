"""The trainer's own configuration check, on what each replica's trainer will really see.

A replica's configuration is its ConfigMap (envFrom) overridden by its container `env`, exactly as
Kubernetes builds the environment, overridden in turn by `--key=value` arguments (the trainer's
command line); all are checked with the trainer's parser, so a typo'd key in `env` fails here as it
would in a ConfigMap. A Katib experiment is judged as the trials it will create at the corners of
its search space (every listed value, both ends of a range, in combination). The global batch must
split evenly over the replicas that train in sync (pods × GPUs per pod), as the trainer requires at
start.
"""

from __future__ import annotations

from collections.abc import Iterator

from scripts.manifests import Rendered
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import Container, containers
from scripts.trials import trial_assignments, trial_tfjob
from trainers.runtime import keyset
from trainers.runtime.config import CONFIG_LIKE_ENV, Config, ConfigError
from trainers.tasks import registry

SYNC_REPLICA_TYPES = ("Chief", "Master", "Worker")
TRIAL_WITH = " (the trial with "  # how a Katib trial's values are shown after its experiment


def _layers(r: Rendered, c: Container) -> list[tuple[str, dict[str, str]]]:
    configmaps = {d.get("metadata", {}).get("name"): d for d in r.of_kind("ConfigMap")}
    layers = []
    for source in c.spec.get("envFrom") or []:
        name = (source.get("configMapRef") or {}).get("name")
        if name in configmaps:
            data = configmaps[name].get("data") or {}
            layers.append((f"ConfigMap {name}", {k: v for k, v in data.items() if CONFIG_LIKE_ENV.match(k)}))
    literal = {
        e["name"]: e.get("value", "")
        for e in c.spec.get("env") or []
        if "valueFrom" not in e and CONFIG_LIKE_ENV.match(e.get("name", ""))
    }
    if literal:
        layers.append((f"{c.field}.env", literal))
    arguments = dict(
        a[2:].split("=", 1)
        for a in c.spec.get("args") or []
        if a.startswith("--") and "=" in a and CONFIG_LIKE_ENV.match(a[2:].split("=", 1)[0])
    )
    if arguments:
        layers.append((f"{c.field}.args", arguments))
    return layers


def views(r: Rendered) -> Iterator[tuple[Rendered, str]]:
    """(render, what to call its jobs) to judge: the render's own TFJobs, and each Katib experiment
    as the trial TFJobs at the corners of its search (scripts/trials.py)."""
    yield Rendered(r.name, documents=[d for d in r.documents if d.get("kind") != "Experiment"]), ""
    configmaps = r.of_kind("ConfigMap")
    for experiment in r.of_kind("Experiment"):
        for values in trial_assignments(experiment):
            trial = Rendered(r.name, documents=[*configmaps, trial_tfjob(experiment, values=values)])
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            yield trial, f"{describe(experiment)}{TRIAL_WITH}{shown})"


def first_per_problem(violations: Iterator[Violation]) -> Iterator[Violation]:
    """One report per experiment, field and message: a bad value shows in many corners of a search,
    and the first trial that has it says enough."""
    seen = set()
    for v in violations:
        key = (v.obj.split(TRIAL_WITH)[0], v.field, v.message)
        if key not in seen:
            seen.add(key)
            yield v


def _runtime_only_keys(c: Container) -> list[str]:
    """Keys whose value the cluster fills in at run time (valueFrom): only their names are checked."""
    return [e["name"] for e in c.spec.get("env") or [] if "valueFrom" in e and CONFIG_LIKE_ENV.match(e.get("name", ""))]


def _parse(r: Rendered, c: Container) -> Config:
    layers = _layers(r, c)
    for _, data in layers:
        bad = [k for k, v in data.items() if not isinstance(v, str)]
        if bad:
            raise ConfigError(f"{bad[0]}={data[bad[0]]!r} must be a string (quote it in YAML)")
    config = keyset.parse_values(layers, registry())
    known = keyset.for_task(registry().by_name(config.task_name)).keys
    placeholders = {key: known[key].default if key in known else "" for key in _runtime_only_keys(c)}
    if placeholders:
        config = keyset.parse_values([*layers, (f"{c.field}.env (valueFrom)", placeholders)], registry())
    return config


def trainer_containers(r: Rendered) -> Iterator[Container]:
    yield from (c for c in containers(r, ("containers",)) if c.spec.get("name") == "tensorflow")


def rule_trainer_config(r: Rendered) -> Iterator[Violation]:
    yield from first_per_problem(_trainer_config(r))


def _trainer_config(r: Rendered) -> Iterator[Violation]:
    for view, name in views(r):
        for c in trainer_containers(view):
            if not _layers(view, c) and not _runtime_only_keys(c):
                continue
            try:
                _parse(view, c)
            except ConfigError as exc:
                yield Violation(r.name, name or describe(c.pod.job.doc), f"{c.field}.env", str(exc))


def _gpus(c: Container) -> int:
    limits = (c.spec.get("resources") or {}).get("limits") or {}
    return int(limits.get("nvidia.com/gpu", 0) or 0)


def rule_batch_splits_over_replicas(r: Rendered) -> Iterator[Violation]:
    yield from first_per_problem(_batch_splits(r))


def _batch_splits(r: Rendered) -> Iterator[Violation]:
    for view, name in views(r):
        by_job: dict[int, list[Container]] = {}
        for c in trainer_containers(view):
            if c.pod.replica_type in SYNC_REPLICA_TYPES:
                by_job.setdefault(id(c.pod.job.doc), []).append(c)
        for group in by_job.values():
            replicas = sum(int(c.pod.replica.get("replicas", 1)) * max(_gpus(c), 1) for c in group)
            try:
                batch = _parse(view, group[0]).batch_size
            except ConfigError:
                continue  # rule_trainer_config reports it
            if batch % replicas:
                job = group[0].pod.job
                yield Violation(
                    r.name,
                    name or describe(job.doc),
                    f"{job.prefix}.tfReplicaSpecs",
                    f"batchSize={batch} does not split over {replicas} replicas (pods x GPUs); the trainer would refuse to start: use a multiple of {replicas}",
                )


RULES = [rule_trainer_config, rule_batch_splits_over_replicas]
