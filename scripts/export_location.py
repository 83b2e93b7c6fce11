"""Where an experiment's trainer will write its exports, computed from the rendered experiment
exactly as the trainer computes it, so a serving manifest's storageUri cannot drift from it.

The Chief's configuration is what Kubernetes gives its `tensorflow` container (ConfigMap keys via
envFrom, overridden by literal `env`, overridden by `--key=value` args), with `runName` set to the
TFJob's name (the container reads it from the job-name label), then the trainer's own parser and
`trainers.runtime.keys.resolve` fill in modelDir and exportDir.
"""

from __future__ import annotations

from dataclasses import dataclass

from scripts.manifests import Rendered
from trainers.runtime import keys as runtime_keys
from trainers.runtime.config import CONFIG_LIKE_ENV, ConfigError, parse_values
from trainers.tasks import registry

REMOTE_SCHEMES = ("gs://", "s3://")
LEADER_REPLICAS = ("Chief", "Master")
JOB_NAME_FIELD = "metadata.labels['training.kubeflow.org/job-name']"


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


def _chief_container(job: dict) -> dict:
    replicas = (job.get("spec") or {}).get("tfReplicaSpecs") or {}
    leader = next((replicas[t] for t in LEADER_REPLICAS if t in replicas), None) or next(iter(replicas.values()), None)
    containers = ((((leader or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    container = next((c for c in containers if c.get("name") == "tensorflow"), None)
    if container is None:
        raise ExportLocationError("its TFJob has no Chief container named tensorflow")
    return container


def _layers(rendered: Rendered, container: dict, job_name: str) -> list[tuple[str, dict[str, str]]]:
    configmaps = {d.get("metadata", {}).get("name"): d.get("data") or {} for d in rendered.of_kind("ConfigMap")}
    layers = []
    for source in container.get("envFrom") or []:
        name = (source.get("configMapRef") or {}).get("name")
        if name in configmaps:
            layers.append(
                (f"ConfigMap {name}", {k: str(v) for k, v in configmaps[name].items() if CONFIG_LIKE_ENV.match(k)})
            )
    env = {}
    for item in container.get("env") or []:
        if "valueFrom" not in item:
            env[item["name"]] = str(item.get("value", ""))
        elif ((item["valueFrom"].get("fieldRef") or {}).get("fieldPath")) == JOB_NAME_FIELD:
            env[item["name"]] = job_name  # what the pod reads there: the base names the run after the job
    layers.append(("env", {k: v for k, v in env.items() if CONFIG_LIKE_ENV.match(k)}))
    args = dict(a[2:].split("=", 1) for a in container.get("args") or [] if a.startswith("--") and "=" in a)
    layers.append(("args", {k: v for k, v in args.items() if CONFIG_LIKE_ENV.match(k)}))
    return layers


def export_location(rendered: Rendered) -> ExportLocation:
    """Raise ExportLocationError when the render is not one TFJob whose configuration parses."""
    jobs = rendered.of_kind("TFJob")
    if len(jobs) != 1:
        raise ExportLocationError(f"renders {len(jobs)} TFJobs; an experiment has exactly one")
    job_name = jobs[0].get("metadata", {}).get("name", "")
    try:
        tasks = registry()
        cfg = parse_values(_layers(rendered, _chief_container(jobs[0]), job_name), tasks)
        cfg = runtime_keys.resolve(cfg, tasks.for_model_type(cfg.model_type))
    except ConfigError as exc:
        raise ExportLocationError(f"its trainer configuration does not parse: {exc}") from exc
    return ExportLocation(rendered.name, job_name, cfg.export_dir.rstrip("/"))
