"""What a run is called in MLflow, and what it logs as parameters.

The experiment is the overlay (or the Katib experiment); the run is the TFJob (or the Katib
trial), so every re-run of an overlay (a new nameSuffix) is one more run of one experiment.
`trackingExperiment` names the experiment outright; otherwise it comes from the run name, which
the TFJob's name sets (base/tfjob.yaml: runName from the job-name label):

- an overlay's TFJob is `<namePrefix>train<nameSuffix>` (base/tfjob.yaml names it `train`;
  `make new` gives every overlay the prefix `<overlay>-`): `capsule-b-train-r1` -> `capsule-b`;
- a Katib trial is `<experiment>-<8 random characters>` (Katib's trial naming, from the alphabet
  of k8s.io/apimachinery's rand.String): `capsule-b-search-tpe-x7bq2kzd` -> `capsule-b-search-tpe`;
- anything else (`local`) is its own experiment.

tests/test_tracking_units.py holds every shipped overlay and Katib search to these rules.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from trainers.runtime.config import snake

OVERLAY_JOB = re.compile(r"^(?P<experiment>.+)-train(-.*)?$")
KATIB_TRIAL = re.compile(r"^(?P<experiment>.+)-[bcdfghjklmnpqrstvwxz2456789]{8}$")


def experiment_name(run_name: str, explicit: str = "") -> str:
    if explicit:
        return explicit
    for pattern in (OVERLAY_JOB, KATIB_TRIAL):
        found = pattern.match(run_name)
        if found:
            return found["experiment"]
    return run_name


def without_credentials(uri: str) -> str:
    """A URI as it may be shown and logged: user information dropped."""
    parts = urlsplit(uri)
    if not parts.username and not parts.password:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    return "" if value is None else str(value)


def parameters(cfg) -> dict[str, str]:
    """Every configuration key of the run (the runtime's and its task's), by its ConfigMap name,
    with the value the run used: defaults filled in and derived paths resolved."""
    values = cfg.as_dict()
    found = {key: _text(values.get(snake(key))) for key in sorted(cfg.texts)}
    if found.get("trackingUri"):
        found["trackingUri"] = without_credentials(found["trackingUri"])
    return found
