"""KServe's CRDs on the local cluster, so serving/ manifests are applied (and dry-run by `make
validate`) against the real InferenceService schema of the pinned release.

KServe's controller does not run here (see the README's Serving section): the InferenceServices are
stored and validated by the API server, not reconciled into pods.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from scripts.localcluster.api import wait_until
from scripts.localcluster.build import module_download
from scripts.localcluster.daemons import Cluster
from scripts.localcluster.pins import KSERVE

KSERVE_MODULE = "github.com/kserve/kserve"
CRDS = ("serving.kserve.io_inferenceservices.yaml", "serving.kserve.io_servingruntimes.yaml")
CRDS += ("serving.kserve.io_clusterservingruntimes.yaml",)


def crd_documents() -> list[dict]:
    directory = Path(module_download(KSERVE_MODULE, KSERVE)["Dir"]) / "config" / "crd" / "full"
    return [yaml.safe_load((directory / name).read_text()) for name in CRDS]


def install_crds(cluster: Cluster) -> None:
    """Server-side: the InferenceService CRD (about 2 MB) is far over client-side apply's limit."""
    crds = crd_documents()
    for crd in crds:
        cluster.api.apply(crd)

    def established() -> bool:
        for crd in crds:
            status, answer = cluster.api.get(
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
            )
            conditions = (answer.get("status") or {}).get("conditions") or [] if isinstance(answer, dict) else []
            if status != 200 or not any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                return False
        return True

    wait_until("KServe CRDs", established, 60)
