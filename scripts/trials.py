"""Turn a Katib Experiment's trial template into the TFJob Katib would create for one trial.

Used where Katib itself is absent (the local cluster, the server-side dry run of `make validate`):
each `${trialParameters.x}` takes a value from the edge of its parameter's feasible space, so the
resulting TFJob is one Katib could really create.
"""

from __future__ import annotations

import copy
import json
import re

PLACEHOLDER = re.compile(r"\$\{trialParameters\.([A-Za-z0-9_-]+)\}")


def feasible_value(parameter: dict, edge: str = "min") -> str:
    space = parameter.get("feasibleSpace") or {}
    if space.get("list"):
        return str(space["list"][0] if edge == "min" else space["list"][-1])
    return str(space.get(edge, space.get("min", "")))


def trial_values(experiment: dict, edge: str = "min") -> dict[str, str]:
    spec = experiment.get("spec") or {}
    parameters = {p["name"]: p for p in spec.get("parameters") or []}
    values = {}
    for trial_parameter in (spec.get("trialTemplate") or {}).get("trialParameters") or []:
        reference = trial_parameter.get("reference", trial_parameter["name"])
        values[trial_parameter["name"]] = (
            feasible_value(parameters[reference], edge) if reference in parameters else reference
        )
    return values


def trial_tfjob(experiment: dict, edge: str = "min", name: str | None = None) -> dict:
    """The trial TFJob with placeholders filled; named `<experiment>-trial` unless `name` is given."""
    template = (experiment.get("spec") or {}).get("trialTemplate") or {}
    values = trial_values(experiment, edge)
    text = PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), json.dumps(template.get("trialSpec") or {}))
    job = copy.deepcopy(json.loads(text))
    metadata = job.setdefault("metadata", {})
    metadata["name"] = name or f"{experiment['metadata']['name']}-trial"
    metadata["namespace"] = experiment["metadata"].get("namespace", "default")
    return job
