"""`make new-serving EXP=capsule-b [CANARY=10]`: serve an experiment's exports from Git.

Writes serving/models/<EXP>/kustomization.yaml: the base InferenceService named after the
experiment, its storageUri set to where the experiment's trainer writes its exports (computed from
the rendered experiment as the trainer computes it: scripts/export_location.py). Run it again after
re-training (a new run suffix is a new export directory): it updates storageUri and
canaryTrafficPercent in place and keeps every other edit. The result is validated.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from scripts import validate
from scripts.export_location import ExportLocationError, export_location
from scripts.manifests import ROOT, RenderError, render, resolve

MODELS = "serving/models"
CREDENTIALS = ("storage-key", "workload-identity")
STORAGE_URI = re.compile(r"(path: /spec/predictor/model/storageUri, value: )([^}\s]+)")
CANARY = re.compile(r"(path: /spec/predictor/canaryTrafficPercent, value: )(\d+)")

TEMPLATE = """\
# Serving experiment {exp}: TensorFlow Serving over the exports of its run {job}.
# Written by `make new-serving EXP={exp}`. After re-training (a new run suffix), run it again: it
# points storageUri at the new run's exports; with CANARY=10 a tenth of the traffic goes there
# until canaryTrafficPercent is set back to 100.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
components:
  - ../../components/{credentials}
labels:
  - pairs:
      textjobs.dev/experiment: {exp}
patches:
  - target: {{kind: InferenceService, name: model}}
    patch: |-
      - {{op: replace, path: /metadata/name, value: {exp}}}
      - {{op: replace, path: /spec/predictor/model/storageUri, value: {uri}}}
      - {{op: replace, path: /spec/predictor/canaryTrafficPercent, value: {canary}}}
  - target: {{kind: ServiceAccount, name: model-reader}}
    patch: |-
      - {{op: replace, path: /metadata/name, value: {exp}-model-reader}}
"""


class ServingError(ValueError):
    pass


def scaffold(exp: str, canary: int, credentials: str, root: Path = ROOT) -> tuple[Path, str]:
    """Write or update serving/models/<exp>; returns (its kustomization file, the storageUri)."""
    if not 1 <= canary <= 100:
        raise ServingError(f"CANARY={canary}: a percentage of traffic from 1 to 100")
    try:
        name = resolve(exp, root)
        rendered = render(name, root)
    except RenderError as exc:
        raise ServingError(str(exc)) from exc
    if rendered.error:
        raise ServingError(f"{name} does not render: {rendered.error}")
    try:
        location = export_location(rendered)
    except ExportLocationError as exc:
        raise ServingError(f"{name}: {exc}") from exc
    if not location.remote:
        raise ServingError(
            f"{name} exports to {location.uri}, a path inside its pod; set bucket= (or exportDir=gs://…) in its "
            "ConfigMap so a model server can read the exports"
        )
    exp = Path(name).name
    target = root / MODELS / exp / "kustomization.yaml"
    if target.exists():
        text = target.read_text()
        if not (STORAGE_URI.search(text) and CANARY.search(text)):
            raise ServingError(
                f"{target.relative_to(root)} has no storageUri/canaryTrafficPercent patch lines to update; edit it by hand"
            )
        text = CANARY.sub(rf"\g<1>{canary}", STORAGE_URI.sub(rf"\g<1>{location.uri}", text))
    else:
        text = TEMPLATE.format(exp=exp, job=location.job, uri=location.uri, canary=canary, credentials=credentials)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target, location.uri


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make new-serving", description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="an experiment under overlays/, e.g. capsule-b")
    parser.add_argument("--canary", type=int, default=100, help="percent of traffic to this storageUri (default 100)")
    parser.add_argument("--credentials", choices=CREDENTIALS, default="storage-key", help="how pods reach the bucket")
    args = parser.parse_args(argv)
    try:
        path, uri = scaffold(args.experiment, args.canary, args.credentials)
    except ServingError as exc:
        print(f"new-serving: {exc}", file=sys.stderr)
        return 1
    relative = str(path.parent.relative_to(ROOT))
    problems, _, _ = validate.validate(ROOT, [relative], scan=False)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"new-serving: {relative} serves {uri} ({args.canary}% of traffic); commit it and Argo CD syncs it")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
