"""The Stages kwok runs: kwok's own node and pod stages from the pinned module, sped up, plus ours.

The bare kwok binary has no default Stages. kwok's pod stages wait 1 s plus up to 5 s of jitter at
each step; here each waits 0.2 s so an e2e run takes seconds. kwok's pod-complete stage matches only
pods owned by a Job and is replaced by cluster/kwok/tfjob-stages.yaml.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from scripts.localcluster.build import module_download
from scripts.localcluster.pins import GO_MODULES, KWOK

KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/general/pod-create.yaml",
    "kustomize/stage/pod/general/pod-init-container-running.yaml",
    "kustomize/stage/pod/general/pod-init-container-completed.yaml",
    "kustomize/stage/pod/general/pod-ready.yaml",
    "kustomize/stage/pod/general/pod-delete.yaml",
)
STEP_DELAY_MS = 200


def kwok_module_dir() -> Path:
    return Path(module_download("sigs.k8s.io/kwok", KWOK)["Dir"])


def quicken(stage: dict) -> dict:
    """Pod stages wait STEP_DELAY_MS without jitter; node heartbeats keep kwok's timing."""
    delay = stage["spec"].get("delay")
    if stage["spec"]["resourceRef"]["kind"] == "Pod" and delay:
        delay["durationMilliseconds"] = STEP_DELAY_MS
        delay.pop("jitterDurationMilliseconds", None)
        delay.pop("jitterDurationFrom", None)  # pod-delete would otherwise wait out the grace period
    return stage


def stages(module_dir: Path) -> list[dict]:
    found = [quicken(yaml.safe_load((module_dir / path).read_text())) for path in KWOK_STAGES]
    found += list(yaml.safe_load_all((GO_MODULES / "kwok" / "tfjob-stages.yaml").read_text()))
    return found


def write(module_dir: Path, target: Path) -> Path:
    target.write_text(yaml.safe_dump_all(stages(module_dir), sort_keys=False))
    return target
