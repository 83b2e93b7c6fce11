"""Turn a Katib Experiment's trial template into the TFJobs Katib would create for its trials.

Used where Katib itself is absent (the local cluster, the server-side dry run and the policy of
`make validate`). Each `${trialParameters.x}` takes a value from its parameter's feasible space,
so every resulting TFJob is one Katib could really create.

The policy judges the search's corners (`trial_assignments`): every value of a listed parameter
(a list need not be sorted, and a middle batch size can fail to split where both ends do) and both
ends of a range, in every combination, because some checks relate two keys (marginNegative must
stay below marginPositive). The cluster tests send only the two extreme trials (`edge`).
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re

PLACEHOLDER = re.compile(r"\$\{trialParameters\.([A-Za-z0-9_-]+)\}")
# Past this many combinations (a wide search), each parameter's values are tried one at a time
# with the others at their first value, plus every parameter at its first and at its last.
MAX_COMBINATIONS = 256


def feasible_value(parameter: dict, edge: str = "min") -> str:
    space = parameter.get("feasibleSpace") or {}
    if space.get("list"):
        return str(space["list"][0] if edge == "min" else space["list"][-1])
    return str(space.get(edge, space.get("min", "")))


def corner_values(parameter: dict) -> list[str]:
    """The values a check must see: a list's every value, a range's two ends."""
    space = parameter.get("feasibleSpace") or {}
    values = (
        [str(v) for v in space["list"]] if space.get("list") else [feasible_value(parameter, e) for e in ("min", "max")]
    )
    return list(dict.fromkeys(values))


def _spec(experiment: dict) -> tuple[dict[str, dict], list[dict]]:
    spec = experiment.get("spec") or {}
    parameters = {p["name"]: p for p in spec.get("parameters") or []}
    return parameters, (spec.get("trialTemplate") or {}).get("trialParameters") or []


def _resolve(experiment: dict, chosen: dict[str, str]) -> dict[str, str]:
    """Trial parameter name -> value, from the search parameters' chosen values; a trial parameter
    whose reference is not a search parameter (a trial's own name, say) keeps the reference."""
    _, trial_parameters = _spec(experiment)
    return {
        p["name"]: chosen.get(p.get("reference", p["name"]), p.get("reference", p["name"])) for p in trial_parameters
    }


def trial_values(experiment: dict, edge: str = "min") -> dict[str, str]:
    parameters, _ = _spec(experiment)
    return _resolve(experiment, {name: feasible_value(p, edge) for name, p in parameters.items()})


def trial_assignments(experiment: dict) -> list[dict[str, str]]:
    """The corners of the search (see the module docstring): a list of trial-parameter values."""
    parameters, _ = _spec(experiment)
    names = list(parameters)
    choices = [corner_values(parameters[n]) for n in names]
    if math.prod(len(values) for values in choices) <= MAX_COMBINATIONS:
        picked = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]
    else:
        first = {n: values[0] for n, values in zip(names, choices, strict=True)}
        last = {n: values[-1] for n, values in zip(names, choices, strict=True)}
        picked = [first, last] + [{**first, n: v} for n, values in zip(names, choices, strict=True) for v in values[1:]]
    unique = {json.dumps(chosen, sort_keys=True): chosen for chosen in picked}
    return [_resolve(experiment, chosen) for chosen in unique.values()]


def trial_tfjob(
    experiment: dict, edge: str = "min", name: str | None = None, values: dict[str, str] | None = None
) -> dict:
    """The trial TFJob with placeholders filled from `values` (trial parameter -> value) or else
    with every parameter at `edge`; named `<experiment>-trial` unless `name` is given."""
    template = (experiment.get("spec") or {}).get("trialTemplate") or {}
    values = values if values is not None else trial_values(experiment, edge)
    text = PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), json.dumps(template.get("trialSpec") or {}))
    job = copy.deepcopy(json.loads(text))
    metadata = job.setdefault("metadata", {})
    metadata["name"] = name or f"{experiment['metadata']['name']}-trial"
    metadata["namespace"] = experiment["metadata"].get("namespace", "default")
    return job
