"""`make argocd-health`: the TFJob health check judged by the real Argo CD v2.14 CLI.

Builds the CLI once (about 3 minutes cold, cached), then runs the end-to-end test that drives
TFJobs on a private local cluster to Succeeded, Failed, Running, Restarting, Suspended and "no
status", and asks `argocd admin settings resource-overrides health` what each one is. `make test`
runs the same test whenever the CLI is already built; CI builds it.
"""

from __future__ import annotations

import sys

import pytest

from scripts.localcluster.build import BuildError, build_all


def main(argv: list[str]) -> int:
    try:
        build_all(("etcd", "kubernetes", "training-operator", "kwok", "argocd"))
    except BuildError as exc:
        print(f"argocd-health: {exc}", file=sys.stderr)
        return 1
    return int(pytest.main(["-q", "tests/test_cluster_e2e.py", "-k", "argocd_cli or bootstrap", *argv]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
