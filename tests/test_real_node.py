"""End to end on the real node: TFJobs whose Chief trains in a container, as `make cluster-up
REAL_NODE=1` runs them (real kubelet, containerd and runc, the trainer image built here, Pod
Security `restricted`, RBAC as in production).

capsule-b and the summarizer train (one epoch) to Succeeded, `make logs` streams their real
training lines and the exported SavedModel is read back from the node's bucket emulator and
queried; a SIGTERM to the trainer ends its container with 143 and the restarted pod resumes from
the checkpoint (ExitCode restart policy); a pod over its memory limit is OOM-killed (137) and the
operator restarts it until the deadline fails the job; the kubelet is limited to its own node's
objects; and `make cluster-down` leaves the machine exactly as it found it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from scripts.localcluster.pins import binary
from scripts.manifests import ROOT
from tests.live_cluster import RealCluster, documents, render

pytestmark = pytest.mark.slow
SHORT = {"numEpochs": "1", "trainSteps": "30", "logEvery": "10"}
HOST_PATHS = ("/run/netns", "/var/lib/cni", "/var/log/containers", "/var/log/pods", "/run/containerd")


@pytest.fixture(scope="session")
def machine_before() -> dict:
    """What the checks at the end compare with (requested before real_cluster, so taken before it starts)."""
    return {"iptables": _iptables(), "paths": {p: os.path.exists(p) for p in HOST_PATHS}}


@pytest.fixture(scope="module")
def node(machine_before, real_cluster: RealCluster) -> RealCluster:
    return real_cluster


def _iptables() -> str:
    result = subprocess.run(["iptables-save"], capture_output=True, text=True)
    return "\n".join(line for line in result.stdout.splitlines() if not line.startswith("#"))


def tfjob(docs: list[dict]) -> dict:
    [job] = [d for d in docs if d["kind"] == "TFJob"]
    return job


def experiment(
    overlay: str, literals: dict[str, str], name: str = "", limits: dict | None = None, **run_policy
) -> list[dict]:
    """The overlay as rendered, with its ConfigMap's `literals` changed (a short run), optionally
    renamed, its Chief's resources replaced and its runPolicy extended."""
    docs = documents(render(f"overlays/{overlay}"))
    [config] = [d for d in docs if d["kind"] == "ConfigMap"]
    config["data"].update(literals)
    job = tfjob(docs)
    if name:
        job["metadata"]["name"] = name
    if limits:
        [container] = job["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]["containers"]
        container["resources"] = {"requests": limits, "limits": limits}
    job["spec"]["runPolicy"].update(run_policy)
    return docs


class PodWatch:
    """Every state the job's pods pass through (a watch, so a pod deleted a moment after its
    container ended is still seen)."""

    def __init__(self, node: RealCluster, job: str) -> None:
        self.statuses: list[dict] = []
        self.proc = subprocess.Popen(
            [str(binary("kubectl")), "-n", "textjobs", "get", "pods", "-w", "-o", "json"]
            + ["-l", f"training.kubeflow.org/job-name={job}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=node.env,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        decoder, buffer = json.JSONDecoder(), ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            buffer += line
            try:
                pod, end = decoder.raw_decode(buffer.lstrip())
            except ValueError:
                continue
            buffer = buffer.lstrip()[end:]
            self.statuses += (pod.get("status") or {}).get("containerStatuses") or []

    def terminated(self) -> list[dict]:
        return [s["state"]["terminated"] for s in self.statuses if "terminated" in s.get("state", {})]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make(command: str, overlay: str, node: RealCluster, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cluster", command, overlay],
        capture_output=True,
        text=True,
        env=node.env,
        cwd=ROOT,
        timeout=timeout,
    )


def wait_pod_running(node: RealCluster, job: str, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for pod in node.items("pods", f"training.kubeflow.org/job-name={job}"):
            if pod["status"].get("phase") in ("Running", "Succeeded"):
                return pod
        time.sleep(0.5)
    raise AssertionError(
        f"{job}: no pod running after {timeout_s}s: {node.run('-n', 'textjobs', 'get', 'events').stdout}"
    )


def bucket(node: RealCluster):
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project="textjobs-local",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=node.record.emulator),
    )
    return client.bucket("textjobs-experiments")


def download_export(node: RealCluster, job: str, target: Path) -> Path:
    """The run's SavedModel export, copied from the node's bucket emulator."""
    prefix = f"runs/{job}/export/"
    blobs = [b for b in bucket(node).list_blobs(prefix=prefix) if not b.name.endswith("/")]
    assert any(b.name.endswith("saved_model.pb") for b in blobs), [b.name for b in blobs]
    for blob in blobs:
        path = target / blob.name[len(prefix) :]
        path.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(path))
    return target


def predict(export: Path, text: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "trainers", "predict", "--model", str(export), text],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_capsule_b_trains_in_a_container_and_make_logs_streams_it(node: RealCluster, tmp_path):
    labels = node.get("namespace", "textjobs", "")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    docs = experiment("capsule-b", SHORT)
    job = tfjob(docs)["metadata"]["name"]
    node.apply(yaml.safe_dump_all(docs))
    pod = wait_pod_running(node, job)
    assert pod["spec"]["nodeName"] == "127.0.0.1"
    logs = make("logs", "capsule-b", node, timeout=600)  # follows the chief until its container ends
    assert logs.returncode == 0, logs.stderr
    assert "epoch 1/1" in logs.stdout and "epoch=1 " in logs.stdout, logs.stdout[-3000:]
    assert f"exported SavedModel to gs://textjobs-experiments/runs/{job}/export/" in logs.stdout
    node.wait_for_condition(job, "Succeeded", timeout_s=300)
    # The pod ran what the manifest says, adapted by the local cluster's admission policy only.
    [container] = node.get("pod", f"{job}-chief-0")["spec"]["containers"]
    assert container["image"] == node.record.image and container["imagePullPolicy"] == "Never"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["STORAGE_EMULATOR_HOST"] == node.record.emulator and env["TMPDIR"] == "/scratch/tmp"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    answer = predict(download_export(node, job, tmp_path / "export"), "the striker scored a late goal")
    assert answer.strip(), "predict printed nothing"


def test_summarizer_trains_in_a_container_and_its_export_writes_headlines(node: RealCluster, tmp_path):
    docs = experiment("summarizer", {**SHORT, "trainSteps": "20", "evalSamples": "10"})
    job = tfjob(docs)["metadata"]["name"]
    node.apply(yaml.safe_dump_all(docs))
    node.wait_for_condition(job, "Succeeded", timeout_s=600)
    logs = node.run("-n", "textjobs", "logs", f"{job}-chief-0").stdout
    assert "seq2seq-attention" in logs and "exported SavedModel" in logs, logs[-3000:]
    headline = predict(download_export(node, job, tmp_path / "export"), "the company said profits rose in the quarter")
    assert headline.strip(), "the summarizer's export wrote no headline"


def test_sigterm_ends_the_pod_with_143_and_the_restarted_pod_resumes(node: RealCluster):
    name = "sigterm-resume"
    docs = experiment("capsule-b", {"trainSteps": "40", "checkpointEvery": "10", "logEvery": "10"}, name=name)
    watch = PodWatch(node, name)
    try:
        node.apply(yaml.safe_dump_all(docs))
        wait_pod_running(node, name)
        pod = f"{name}-chief-0"
        # Inside: the image's user, and a root filesystem nothing can write (as restricted wants).
        assert node.run("-n", "textjobs", "exec", pod, "--", "id", "-u").stdout.strip() == "1000"
        assert node.run("-n", "textjobs", "exec", pod, "--", "touch", "/probe", check=False).returncode != 0
        deadline = time.monotonic() + 300
        while not list(bucket(node).list_blobs(prefix=f"runs/{name}/checkpoints/ckpt-")):
            assert time.monotonic() < deadline, "no checkpoint reached the bucket"
            time.sleep(1)
        node.run("-n", "textjobs", "exec", pod, "--", "sh", "-c", "kill -TERM 1")
        node.wait_for_condition(name, "Succeeded", timeout_s=600)
    finally:
        watch.stop()
    assert [t["exitCode"] for t in watch.terminated()][:1] == [143], watch.terminated()
    events = [e["message"] for e in node.items("events") if e["involvedObject"]["name"] == name]
    assert any("exited with code 143" in m for m in events), events
    logs = node.run("-n", "textjobs", "logs", f"{name}-chief-0").stdout
    assert "resumed from" in logs and "exported SavedModel" in logs, logs[-3000:]
    resumed_at = int(logs.split("resumed from", 1)[1].split(" at step ", 1)[1].split()[0])
    assert resumed_at >= 10, logs[-3000:]  # from the checkpoint the stopped pod saved, not from scratch


def test_a_pod_over_its_memory_limit_is_oom_killed_and_restarted_until_the_deadline(node: RealCluster):
    name = "oom-limited"
    docs = experiment(
        "capsule-b", SHORT, name=name, limits={"cpu": "500m", "memory": "200Mi"}, activeDeadlineSeconds=40
    )
    watch = PodWatch(node, name)
    try:
        node.apply(yaml.safe_dump_all(docs))
        failed = node.wait_for_condition(name, "Failed", timeout_s=300)
    finally:
        watch.stop()
    assert ("OOMKilled", 137) in {(t.get("reason"), t["exitCode"]) for t in watch.terminated()}, watch.terminated()
    assert failed["reason"] in ("DeadlineExceeded", "TFJobFailed") and "deadline" in failed["message"].lower(), failed
    events = [e["message"] for e in node.items("events") if e["involvedObject"]["name"] == name]
    assert any("exited with code 137" in m for m in events), events
    assert any("restarting" in m.lower() for m in events) or "Restarting" in json.dumps(node.get("tfjob", name))


def test_the_kubelet_is_a_node_under_the_node_authorizer(node: RealCluster):
    from scripts.localcluster import control_plane
    from tests.live_cluster import Kube

    kubelet = Kube(control_plane.load(node.state).kubeconfig_for("kubelet"))
    identity = json.loads(kubelet.run("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    assert identity["username"] == "system:node:127.0.0.1" and "system:nodes" in identity["groups"]
    node.run("-n", "textjobs", "create", "secret", "generic", "unrelated", "--from-literal=k=v")
    refused = kubelet.run("-n", "textjobs", "get", "secret", "unrelated", check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr
    taints = node.get("node", "127.0.0.1", "")["spec"]["taints"]
    assert {"key": "textjobs.dev/real-node", "value": "true", "effect": "NoSchedule"} in taints


def test_cluster_down_leaves_the_machine_as_it_found_it(node: RealCluster, machine_before):
    from scripts.localcluster import control_plane, node_cgroups, node_network, real_node

    record = node.record
    control_plane.down(node.state)  # raises if the node left anything behind
    assert real_node.leftovers(node.state, record.slot) == []
    assert not node_cgroups.exists(record.slot.cgroup) and not node_network.bridge_exists(record.slot.bridge)
    assert not real_node.namespace_holders(record.namespace)
    assert not node.state.exists()
    assert _iptables() == machine_before["iptables"]
    assert {p: os.path.exists(p) for p in HOST_PATHS} == machine_before["paths"]
