"""A private local cluster for the end-to-end tests, and kubectl against it.

Each test session starts its own cluster (seconds once the binaries are built) in a temporary
state directory, so the tests never touch a cluster a developer has up. Without the binaries the
tests skip, unless TEXTJOBS_REQUIRE_CLUSTER=1 (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from scripts.localcluster import control_plane
from scripts.localcluster.build import is_built
from scripts.localcluster.pins import CLUSTER_COMPONENTS, COMPONENTS, ROOT, binary
from scripts.manifests import KUSTOMIZE

NAMESPACE = "textjobs"
TERMINAL = ("Succeeded", "Failed")


def require_binaries(names: tuple[str, ...] = CLUSTER_COMPONENTS) -> None:
    missing = [name for name in names if not is_built(COMPONENTS[name])]
    if not missing:
        return
    message = (
        f"local-cluster binaries not built ({', '.join(missing)}); run `make cluster-build ARGS='{' '.join(missing)}'`"
    )
    if os.environ.get("TEXTJOBS_REQUIRE_CLUSTER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Kube:
    kubeconfig: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(binary("kubectl")), *args], input=stdin, capture_output=True, text=True, env=self.env
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def apply(self, manifest: str, *extra: str) -> subprocess.CompletedProcess:
        return self.run("apply", "--server-side", "--force-conflicts", *extra, "-f", "-", stdin=manifest)

    def get(self, kind: str, name: str, namespace: str = NAMESPACE) -> dict:
        scope = ["-n", namespace] if namespace else []
        return json.loads(self.run(*scope, "get", kind, name, "-o", "json").stdout)

    def items(self, kind: str, selector: str = "", namespace: str = NAMESPACE) -> list[dict]:
        args = ["-n", namespace, "get", kind, "-o", "json"] + (["-l", selector] if selector else [])
        return json.loads(self.run(*args).stdout)["items"]

    def wait_for(self, name: str, wanted: str, timeout_s: float = 240) -> dict:
        """Poll until the TFJob has condition `wanted` True; return the TFJob as it was then.
        A generous bound against a stuck job, not a speed check."""
        deadline = time.monotonic() + timeout_s
        seen: dict[str, dict] = {}
        while time.monotonic() < deadline:
            job = self.get("tfjob", name)
            seen = true_conditions(job)
            if wanted in seen:
                return job
            if wanted in TERMINAL and set(TERMINAL) & set(seen):
                break
            time.sleep(0.5)
        raise AssertionError(f"TFJob {name}: wanted {wanted}, conditions now {sorted(seen)}: {json.dumps(seen)[:800]}")

    def wait_established(self, crds: list[str], timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        pending = list(crds)
        while pending and time.monotonic() < deadline:
            pending = [name for name in pending if "Established" not in established(self.get("crd", name, ""))]
            time.sleep(0.2)
        assert not pending, f"CRDs not established: {pending}"

    def wait_for_condition(self, name: str, wanted: str, timeout_s: float = 240) -> dict:
        return true_conditions(self.wait_for(name, wanted, timeout_s))[wanted]


def established(crd: dict) -> set[str]:
    return {c["type"] for c in (crd.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}


def true_conditions(job: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (job.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}


def render(path: str) -> str:
    return subprocess.run(
        [str(KUSTOMIZE), "build", str(ROOT / path)], capture_output=True, text=True, check=True
    ).stdout


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    require_binaries()
    state = tmp_path_factory.mktemp("cluster")
    started = control_plane.up(state, ephemeral=True)
    try:
        yield Kube(started.kubeconfig)
    finally:
        control_plane.down(state)


def require_real_node() -> None:
    """Skip (fail under TEXTJOBS_REQUIRE_CLUSTER=1) unless a real node can start without a long build:
    root, the Debian packages, the kubelet and the trainer image's base layer (`make cluster-build
    ARGS=node` makes them all)."""
    from scripts.image import base_layer, local
    from scripts.localcluster import node_packages

    require_binaries()
    problems = []
    if os.geteuid() != 0:
        problems.append("root")
    if missing := node_packages.missing():
        problems.append(f"Debian packages {', '.join(missing)}")
    if base_layer.load(local.image_cache() / f"base-{base_layer.base_key()}") is None:
        problems.append("the trainer image's base layer")
    if not problems:
        return
    message = f"real node: needs {'; '.join(problems)}; `make cluster-build ARGS=node` as root makes them"
    if os.environ.get("TEXTJOBS_REQUIRE_CLUSTER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class RealCluster(Kube):
    state: Path = Path()

    @property
    def record(self):
        from scripts.localcluster import real_node

        return real_node.load(self.state)


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory):
    """A private cluster started as `make cluster-up REAL_NODE=1` starts one (the image's code layer is
    rebuilt when trainers/ changed; nothing longer is built here)."""
    require_real_node()
    state = tmp_path_factory.mktemp("real-cluster")
    started = control_plane.up(state, ephemeral=True, real_node=True, build=False)
    try:
        yield RealCluster(started.kubeconfig, state)
    finally:
        if (state / "ports.json").exists():
            control_plane.down(state)
