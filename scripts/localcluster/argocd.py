"""Argo CD's pinned CRDs and CLI, for the bootstrap and health-check tests on the local cluster.

Argo CD itself does not run here: its CRDs make the bootstrap (`kubectl apply --server-side --field-manager=textjobs-bootstrap -k .`)
testable, and its CLI's `admin settings resource-overrides health` runs the same Lua evaluation
the Argo CD controller runs, offline, on objects taken from the live cluster.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import yaml

from scripts.localcluster.build import module_download
from scripts.localcluster.pins import ARGOCD, binary

ARGOCD_MODULE = "github.com/argoproj/argo-cd/v2"


def module_dir() -> Path:
    return Path(module_download(ARGOCD_MODULE, ARGOCD)["Dir"])


def crd_documents() -> list[dict]:
    directory = module_dir() / "manifests" / "crds"
    return [yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*-crd.yaml"))]


def preinstalled_argocd_cm() -> dict:
    """The argocd-cm an Argo CD install already has, which the bootstrap merges its key into."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "argocd-cm",
            "namespace": "argocd",
            "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
        },
        "data": {"url": "https://argocd.example.com"},
    }


def health(obj: dict, argocd_cm: dict) -> tuple[str, str]:
    """(status, message) as Argo CD's own health evaluation reports them for `obj`."""
    with tempfile.TemporaryDirectory() as tmp:
        obj_path, cm_path = Path(tmp) / "obj.yaml", Path(tmp) / "argocd-cm.yaml"
        obj_path.write_text(yaml.safe_dump(obj))
        cm_path.write_text(yaml.safe_dump(argocd_cm))
        result = subprocess.run(
            [
                str(binary("argocd")),
                "admin",
                "settings",
                "resource-overrides",
                "health",
                str(obj_path),
                "--argocd-cm-path",
                str(cm_path),
            ],
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        raise RuntimeError(f"argocd health failed ({result.returncode}): {result.stderr.strip()}")
    fields = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    return fields.get("STATUS", "").strip(), fields.get("MESSAGE", "").strip()
