"""Where an experiment's trainer will write its exports, computed from the rendered experiment
exactly as the trainer computes it, so a serving manifest's storageUri cannot drift from it.

The Chief's configuration is what Kubernetes gives its `tensorflow` container (ConfigMap keys via
envFrom, overridden by literal `env`, overridden by `--key=value` args), with `runName` set to the
TFJob's name (the container reads it from the job-name label), then the trainer's own parser and
`trainers.runtime.keys.resolve` fill in modelDir and exportDir.
"""

from __future__ import annotations

from dataclasses import dataclass

from scripts import trainer_inputs
from scripts.manifests import Rendered
from trainers.runtime import keys as runtime_keys
from trainers.runtime.config import CONFIG_LIKE_ENV, ConfigError
from trainers.runtime.keyset import parse_values
from trainers.tasks import registry

REMOTE_SCHEMES = ("gs://", "s3://")
LEADER_REPLICAS = ("Chief", "Master")


class ExportLocationError(ValueError):
    pass


@dataclass(frozen=True)
class ExportLocation:
    experiment: str  # the kustomization, e.g. overlays/capsule-b
    job: str  # the TFJob's name, which is the run's name
    uri: str  # the export root: <modelDir>/export unless exportDir says otherwise

    @property
    def remote(self) -> bool:
        return self.uri.startswith(REMOTE_SCHEMES)


def _chief_container(job: dict) -> tuple[str, dict]:
    """(replica type, its `tensorflow` container) of the replica that exports."""
    replicas = (job.get("spec") or {}).get("tfReplicaSpecs") or {}
    leader = next((t for t in LEADER_REPLICAS if t in replicas), None) or next(iter(replicas), None)
    spec = replicas.get(leader) or {}
    containers = (((spec.get("template") or {}).get("spec") or {}).get("containers")) or []
    container = next((c for c in containers if c.get("name") == "tensorflow"), None)
    if container is None:
        raise ExportLocationError("its TFJob has no Chief container named tensorflow")
    return leader, container


def _layers(rendered: Rendered, container: dict, job_name: str, replica: str) -> list[tuple[str, dict[str, str]]]:
    """The Chief's configuration as the trainer reads it, derived once by scripts/trainer_inputs.py
    (as `make run` and the policy derive it): environment, then --key=value flags."""
    configmaps = {d.get("metadata", {}).get("name"): d for d in rendered.of_kind("ConfigMap")}
    inputs = trainer_inputs.derive(container, "tensorflow", configmaps, trainer_inputs.Pod(job_name, replica))
    env = {k: v for k, v in inputs.environment().items() if CONFIG_LIKE_ENV.match(k)}
    found, _ = trainer_inputs.flags(inputs.argv)
    args = {f.name: f.text for f in found if f.text is not None and CONFIG_LIKE_ENV.match(f.name)}
    return [("env", env), ("args", args)]


def export_location(rendered: Rendered) -> ExportLocation:
    """Raise ExportLocationError when the render is not one TFJob whose configuration parses."""
    jobs = rendered.of_kind("TFJob")
    if len(jobs) != 1:
        raise ExportLocationError(f"renders {len(jobs)} TFJobs; an experiment has exactly one")
    job_name = jobs[0].get("metadata", {}).get("name", "")
    try:
        tasks = registry()
        replica, container = _chief_container(jobs[0])
        cfg = parse_values(_layers(rendered, container, job_name, replica), tasks)
        cfg = runtime_keys.resolve(cfg, tasks.for_model_type(cfg.model_type))
    except ConfigError as exc:
        raise ExportLocationError(f"its trainer configuration does not parse: {exc}") from exc
    return ExportLocation(rendered.name, job_name, cfg.export_dir.rstrip("/"))
