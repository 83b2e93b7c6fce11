"""End to end on a real API server with the real Training Operator (webhook on) and kwok nodes.

Every shipped experiment and every Katib trial template is server-side applied (dry run, then for
real, without warnings) and driven to Succeeded; every served model (serving/models/*) is applied
against KServe's pinned CRDs; every platform service (platform/*: MLflow tracking, TensorBoard) is
applied, and its Deployment's pods are admitted by the restricted namespace; a failing replica fails its job; a preempted one
(137/143) restarts; `make status/diff/delete` work against it; the Argo CD bootstrap applies with
Argo CD's pinned CRDs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import yaml

from scripts.manifests import ROOT
from scripts.trials import trial_tfjob
from tests.live_cluster import Kube, documents, render, require_binaries

OVERLAYS = sorted(p.parent.name for p in (ROOT / "overlays").glob("*/kustomization.yaml"))
SEARCHES = sorted(p.parent.name for p in (ROOT / "katib" / "experiments").glob("*/kustomization.yaml"))
SERVED = sorted(p.parent.name for p in (ROOT / "serving" / "models").glob("*/kustomization.yaml"))
PLATFORM = sorted(p.parent.name for p in (ROOT / "platform").glob("*/kustomization.yaml"))
pytestmark = pytest.mark.slow


def tfjob_of_documents(docs: list[dict]) -> dict:
    [job] = [d for d in docs if d["kind"] == "TFJob"]
    return job


def tfjob_of(text: str) -> dict:
    return tfjob_of_documents(documents(text))


def assert_no_warnings(result: subprocess.CompletedProcess, what: str) -> None:
    warnings = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert not warnings, f"{what}: {warnings}"


@pytest.fixture(scope="module")
def applied(cluster: Kube) -> dict[str, str]:
    """Every overlay applied (after a clean server-side dry run); overlay -> TFJob name."""
    names = {}
    for overlay in OVERLAYS:
        text = render(f"overlays/{overlay}")
        assert_no_warnings(cluster.apply(text, "--dry-run=server"), f"{overlay} dry run")
        assert_no_warnings(cluster.apply(text), overlay)
        names[overlay] = tfjob_of(text)["metadata"]["name"]
    return names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_experiment_reaches_succeeded(cluster: Kube, applied: dict[str, str], overlay: str):
    name = applied[overlay]
    cluster.wait_for_condition(name, "Succeeded")
    job = cluster.get("tfjob", name)
    assert job["status"]["replicaStatuses"]["Chief"].get("succeeded") == 1
    # Workers still running when the Chief succeeds are removed (cleanPodPolicy: Running), shortly
    # after the job's status says Succeeded: wait (bounded) until every pod left has succeeded.
    deadline = time.monotonic() + 60
    while True:
        pods = cluster.items("pods", f"training.kubeflow.org/job-name={name}")
        unfinished = [p["metadata"]["name"] for p in pods if p["status"]["phase"] != "Succeeded"]
        if not unfinished or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert unfinished == [], f"pods neither succeeded nor cleaned up: {unfinished}"
    assert any(p["metadata"]["name"] == f"{name}-chief-0" for p in pods)
    # The hashed ConfigMap the pods read is the one the experiment rendered.
    [configmap] = [d for d in documents(render(f"overlays/{overlay}")) if d["kind"] == "ConfigMap"]
    for pod in pods:
        [container] = pod["spec"]["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": configmap["metadata"]["name"]}}]


def variant(
    overlay: str, name: str, annotations: dict[str, str] | None = None, run_policy: dict | None = None
) -> list[dict]:
    """The overlay's render with its TFJob renamed, `annotations` on every replica's pods (kwok reads
    textjobs.dev/kwok-*) and `run_policy` merged into its runPolicy."""
    docs = documents(render(f"overlays/{overlay}"))
    job = tfjob_of_documents(docs)
    job["metadata"]["name"] = name
    for replica in job["spec"]["tfReplicaSpecs"].values():
        replica["template"]["metadata"].setdefault("annotations", {}).update(annotations or {})
    job["spec"]["runPolicy"].update(run_policy or {})
    return docs


def test_chief_and_workers_get_tf_config_and_services(cluster: Kube):
    # Checked while the pods run: once the Chief succeeds, cleanPodPolicy removes running Workers.
    multi = [o for o in OVERLAYS if "Worker" in tfjob_of(render(f"overlays/{o}"))["spec"]["tfReplicaSpecs"]]
    assert multi, "no multi-worker overlay shipped"
    for overlay in multi:
        name = f"{overlay}-tfconfig"[:50]
        cluster.apply(yaml.safe_dump_all(variant(overlay, name, {"textjobs.dev/kwok-run-time": "1h"})))
        cluster.wait_for(name, "Running")
        pods = {p["metadata"]["name"]: p for p in cluster.items("pods", f"training.kubeflow.org/job-name={name}")}
        services = {s["metadata"]["name"] for s in cluster.items("services", f"training.kubeflow.org/job-name={name}")}
        assert set(pods) == services == {f"{name}-chief-0", f"{name}-worker-0"}
        for pod_name, pod in pods.items():
            [container] = pod["spec"]["containers"]
            tf_config = json.loads(next(e["value"] for e in container["env"] if e["name"] == "TF_CONFIG"))
            assert tf_config["cluster"] == {
                "chief": [f"{name}-chief-0.textjobs.svc:2222"],
                "worker": [f"{name}-worker-0.textjobs.svc:2222"],
            }
            role = pod_name.rsplit("-", 2)[1]
            assert tf_config["task"] == {"type": role, "index": 0}
        cluster.run("-n", "textjobs", "delete", "tfjob", name)


@pytest.mark.parametrize("search", SEARCHES)
def test_every_katib_trial_template_runs_as_a_tfjob(cluster: Kube, search: str):
    docs = documents(render(f"katib/experiments/{search}"))
    [experiment] = [d for d in docs if d["kind"] == "Experiment"]
    configmaps = [d for d in docs if d["kind"] == "ConfigMap"]
    for edge in ("min", "max"):
        job = trial_tfjob(experiment, edge, name=f"{search}-trial-{edge}")
        text = yaml.safe_dump_all([*configmaps, job])
        assert_no_warnings(cluster.apply(text, "--dry-run=server"), f"{search} trial dry run")
        assert_no_warnings(cluster.apply(text), f"{search} trial")
        cluster.wait_for_condition(job["metadata"]["name"], "Succeeded")


def test_a_replica_exiting_1_fails_the_job(cluster: Kube):
    cluster.apply(yaml.safe_dump_all(variant("capsule-b", "exit-one", {"textjobs.dev/kwok-exit-code": "1"})))
    failed = cluster.wait_for_condition("exit-one", "Failed")
    assert "exit-one" in failed["message"]
    assert len(cluster.items("pods", "training.kubeflow.org/job-name=exit-one")) == 1  # never restarted


@pytest.mark.parametrize("code", [137, 143])
def test_a_preempted_replica_restarts_and_only_the_deadline_ends_it(cluster: Kube, code: int):
    """Operator v1.9.4 with restartPolicy ExitCode: backoffLimit (4 in the base) never stops
    retryable exits, because each restart is a new pod whose restartCount is 0. The job runs until
    activeDeadlineSeconds, which is why the policy requires a bounded deadline."""
    name = f"exit-{code}"
    docs = variant("capsule-b", name, {"textjobs.dev/kwok-exit-code": str(code)}, {"activeDeadlineSeconds": 30})
    cluster.apply(yaml.safe_dump_all(docs))
    restarting = cluster.wait_for_condition(name, "Restarting", timeout_s=120)
    assert "restarting" in restarting["message"].lower()
    failed = cluster.wait_for_condition(name, "Failed", timeout_s=300)
    assert failed["reason"] in ("DeadlineExceeded", "TFJobFailed"), failed
    assert "deadline" in failed["message"].lower(), failed
    job = cluster.get("tfjob", name)
    backoff_limit = job["spec"]["runPolicy"]["backoffLimit"]
    # Repeated events are folded into one with a count.
    created = sum(
        e.get("count") or 1
        for e in cluster.items("events")
        if e.get("involvedObject", {}).get("name") == name and e.get("reason") == "SuccessfulCreatePod"
    )
    assert created > backoff_limit + 1, f"{created} pods created; backoffLimit {backoff_limit} did stop it"


def test_each_daemon_acts_as_itself_and_its_rbac_suffices(cluster: Kube, applied: dict[str, str]):
    """The operator runs under the ClusterRole its release ships, the controller-manager and the
    scheduler under the API server's bootstrap roles: a permission the release forgot shows as a
    job that never succeeds or as a "forbidden" line in a daemon's log."""
    from scripts.localcluster import control_plane, processes

    for name in applied.values():
        cluster.wait_for_condition(name, "Succeeded")
    local = control_plane.load(cluster.kubeconfig.parent)
    operator = Kube(local.kubeconfig_for("training-operator"))
    identity = json.loads(operator.run("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    assert identity["username"] == "system:serviceaccount:kubeflow:training-operator"
    assert "system:masters" not in identity.get("groups", [])
    assert operator.run("auth", "can-i", "create", "pods", "-n", "textjobs").stdout.strip() == "yes"
    refused = operator.run("auth", "can-i", "delete", "namespaces", check=False)
    assert refused.returncode == 1 and refused.stdout.strip() == "no"  # not an admin
    for daemon in ("training-operator", "kube-controller-manager", "kube-scheduler"):
        log = processes.log_path(local.state, daemon).read_text(errors="replace")
        forbidden = [line for line in log.splitlines() if "forbidden" in line.lower()]
        assert not forbidden, f"{daemon} was refused by RBAC:\n" + "\n".join(forbidden[:5])


def make(command: str, overlay: str, kube: Kube) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cluster", command, overlay],
        capture_output=True,
        text=True,
        env=kube.env,
        cwd=ROOT,
    )


def test_make_status_diff_and_delete(cluster: Kube, applied: dict[str, str]):
    overlay = "capsule-b"
    cluster.wait_for_condition(applied[overlay], "Succeeded")
    status = make("status", overlay, cluster)
    assert status.returncode == 0, status.stderr
    assert "Succeeded" in status.stdout.splitlines()[-1]
    diff = make("diff", overlay, cluster)
    assert diff.returncode == 0 and diff.stdout == "", diff.stdout + diff.stderr  # applied as rendered
    delete = make("delete", overlay, cluster)
    assert delete.returncode == 0, delete.stderr
    assert cluster.run("-n", "textjobs", "get", "tfjob", applied[overlay], check=False).returncode != 0
    gone = make("status", overlay, cluster)
    assert gone.returncode != 0 and "not found" in gone.stderr.lower()
    changes = make("diff", overlay, cluster)
    assert changes.returncode == 1 and f"name: {applied[overlay]}" in changes.stdout  # diff now shows the job to create


def test_argocd_bootstrap_applies_with_argocd_crds(cluster: Kube):
    from scripts.localcluster import argocd

    crds = argocd.crd_documents()
    cluster.apply(yaml.safe_dump_all(crds))
    cluster.wait_established([c["metadata"]["name"] for c in crds])
    cluster.run("create", "namespace", "argocd")
    # Argo CD installed with server-side apply: kubectl's default field manager owns argocd-cm.
    cluster.apply(yaml.safe_dump(argocd.preinstalled_argocd_cm()))
    # The bootstrap as the README gives it. Its own field manager matters: under kubectl's
    # default one, server-side apply would drop every argocd-cm key the bootstrap does not name.
    result = cluster.run("apply", "--server-side", "--field-manager=textjobs-bootstrap", "-k", str(ROOT))
    assert_no_warnings(result, "bootstrap")
    assert cluster.get("appproject", "textjobs", "argocd")["spec"]["destinations"][0]["namespace"] == "textjobs"
    assert cluster.get("applicationset", "textjobs-experiments", "argocd")
    assert (
        cluster.get("applicationset", "textjobs-serving", "argocd")["spec"]["template"]["spec"]["project"]
        == (cluster.get("appproject", "textjobs-serving", "argocd")["metadata"]["name"])
    )
    data = cluster.get("configmap", "argocd-cm", "argocd")["data"]
    assert data["url"] == "https://argocd.example.com"  # Argo CD's own keys survive the merge
    assert data["resource.customizations.health.kubeflow.org_TFJob"] == (ROOT / "argocd/health/tfjob.lua").read_text()
    labels = cluster.get("namespace", "textjobs", "")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def live_tfjob(
    cluster: Kube,
    name: str,
    wanted: str | None,
    run_time: str = "1s",
    code: int | None = None,
    suspend: bool = False,
    break_pod: bool = False,
) -> dict:
    """A capsule-b TFJob driven to `wanted` on the cluster, returned as the cluster has it then."""
    annotations = {"textjobs.dev/kwok-run-time": run_time}
    run_policy: dict = {"suspend": True} if suspend else {}
    if code is not None:
        annotations["textjobs.dev/kwok-exit-code"] = str(code)
        run_policy["activeDeadlineSeconds"] = 600
    docs = variant("capsule-b", name, annotations, run_policy)
    if break_pod:
        # A mount without a volume: the API server refuses the pod, so the operator never gets
        # as far as writing a status (what static checks now refuse; here it is the "no status" case).
        chief = tfjob_of_documents(docs)["spec"]["tfReplicaSpecs"]["Chief"]
        chief["template"]["spec"]["containers"][0]["volumeMounts"].append({"name": "missing", "mountPath": "/missing"})
    cluster.apply(yaml.safe_dump_all(docs))
    if wanted is None:
        time.sleep(5)  # give the operator time to (not) write a status; asserted below
        return cluster.get("tfjob", name)
    return cluster.wait_for(name, wanted)


def test_argocd_cli_judges_live_tfjobs_with_the_shipped_health_check(cluster: Kube):
    require_binaries(("argocd",))  # `make argocd-health` builds it and runs this test
    from scripts.localcluster import argocd
    from tests.test_argocd_health import health as lua51_health

    [argocd_cm] = [
        d for d in documents(render(".")) if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "argocd-cm"
    ]
    cases = {
        "Succeeded": (live_tfjob(cluster, "health-succeeded", "Succeeded"), "Healthy"),
        "Failed": (live_tfjob(cluster, "health-failed", "Failed", code=1), "Degraded"),
        "Running": (live_tfjob(cluster, "health-running", "Running", run_time="1h"), "Progressing"),
        "Restarting": (live_tfjob(cluster, "health-restarting", "Restarting", code=143), "Progressing"),
        "Suspended": (live_tfjob(cluster, "health-suspended", "Suspended", suspend=True), "Suspended"),
        "no status": (live_tfjob(cluster, "health-no-status", None, break_pod=True), "Progressing"),
    }
    assert "status" not in cases["no status"][0] or not cases["no status"][0]["status"].get("conditions")
    for state, (job, expected) in cases.items():
        status, message = argocd.health(job, argocd_cm)
        assert status == expected, f"{state}: Argo CD says {status} ({message})"
        assert lua51_health(job)[0] == status, f"{state}: lupa's Lua 5.1 disagrees with Argo CD"


def test_validate_adds_the_server_side_dry_run_which_catches_what_static_checks_miss(
    cluster: Kube, monkeypatch, tmp_path
):
    """A GPU request below its limit passes kustomize, kubeconform and the policy (every field it
    touches is one an experiment may set); the TFJob's own dry run accepts it too, since the CRD
    does not validate pods. Only the API server's Pod validation refuses it, so `make validate`
    also sends each replica's pod template as a Pod."""
    from scripts import validate
    from tests.test_policy_overlays import copy_repository, experiment, patch

    copy_repository(tmp_path)
    container = "/spec/tfReplicaSpecs/Chief/template/spec/containers/0/resources"
    ops = f"""
- op: add
  path: {container}/limits/nvidia.com~1gpu
  value: 2
- op: add
  path: {container}/requests/nvidia.com~1gpu
  value: 1
"""
    name = experiment(tmp_path, "odd-gpus", patch(ops))
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    static, _, _ = validate.validate(tmp_path, [name], scan=False)
    assert static == []
    served, _, _ = validate.validate(tmp_path, [name], scan=False, server="test cluster")
    shown = [str(p) for p in served]
    assert any(
        "TFJob odd-gpus-train-r1: spec.tfReplicaSpecs.Chief.template.spec: server-side dry run as a Pod" in line
        and "nvidia.com/gpu" in line
        for line in shown
    ), shown
    clean, _, _ = validate.validate(ROOT, scan=False, server="test cluster")
    assert clean == []


def test_kubernetes_pod_security_agrees_with_the_static_rules_on_every_case(cluster: Kube, monkeypatch):
    """Each case of tests/pod_security_cases.py, and seeded combinations of them, sent as Pods to
    the restricted namespace with --dry-run=server: Kubernetes' Pod Security admission refuses
    exactly what the static mirror refuses, and for Pod Security's own reason."""
    from scripts import dry_run
    from scripts.localcluster.pins import binary
    from scripts.policy import pod_security
    from tests import pod_security_cases

    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    base_job = tfjob_of(render("overlays/capsule-b"))
    rendered, expected = pod_security_cases.jobs(base_job)
    names = pod_security_cases.names()
    served = dry_run.check_pods(rendered, str(binary("kubectl")))
    refused = {v.obj.split(" ", 1)[1]: v.message for v in served}
    # The local API server runs with --allow-privileged=false, which refuses a privileged container
    # in validation, before admission; every other refusal must be Pod Security's.
    not_pod_security = {
        names[job]: message
        for job, message in refused.items()
        if "PodSecurity" not in message and "privileged: Forbidden: disallowed by cluster policy" not in message
    }
    assert not_pod_security == {}, "refused for another reason than Pod Security"
    static = {v.obj.split(" ", 1)[1] for rule in pod_security.RULES for v in rule(rendered)}
    disagree = {
        names[
            job
        ]: f"expected {'refused' if want else 'allowed'}, server {'refused' if job in refused else 'allowed'}, "
        f"static {'refused' if job in static else 'allowed'}"
        for job, want in expected.items()
        if (job in refused) != want or (job in static) != want
    }
    assert disagree == {}


@pytest.mark.parametrize("model", SERVED)
def test_every_served_model_applies_against_kserve_crds(cluster: Kube, model: str):
    """KServe's controller does not run here (README, Serving): the API server stores and validates
    the InferenceService against KServe's pinned CRD, with server-side apply as Argo CD syncs it."""
    text = render(f"serving/models/{model}")
    assert_no_warnings(cluster.apply(text, "--dry-run=server"), f"{model} dry run")
    assert_no_warnings(cluster.apply(text), model)
    [isvc] = [d for d in documents(text) if d["kind"] == "InferenceService"]
    stored = cluster.get("inferenceservice", isvc["metadata"]["name"])
    assert stored["spec"]["predictor"]["model"] == isvc["spec"]["predictor"]["model"]  # nothing pruned
    account = cluster.get("serviceaccount", stored["spec"]["predictor"]["serviceAccountName"])
    assert account["secrets"] == [{"name": "textjobs-model-storage"}]


def test_the_api_server_refuses_an_inference_service_the_crd_does_not_allow(cluster: Kube):
    [isvc] = [d for d in documents(render(f"serving/models/{SERVED[0]}")) if d["kind"] == "InferenceService"]
    isvc = json.loads(json.dumps(isvc))
    isvc["metadata"]["name"] = "refused"
    isvc["spec"]["predictor"]["canaryTrafficPercent"] = "ten"
    refused = cluster.run("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(isvc), check=False)
    assert refused.returncode != 0 and "canaryTrafficPercent" in refused.stderr, refused.stderr


def missing_fields(rendered: object, stored: object, path: str = "") -> list[str]:
    """Where `stored` lacks or changed what `rendered` says (the server may add defaults, never drop
    or change a field: that would be a schema pruning or rewriting what Git holds)."""
    if isinstance(rendered, dict):
        if not isinstance(stored, dict):
            return [f"{path or '.'}: {stored!r}"]
        return [m for key, value in rendered.items() for m in missing_fields(value, stored.get(key), f"{path}.{key}")]
    if isinstance(rendered, list):
        if not isinstance(stored, list) or len(stored) != len(rendered):
            return [f"{path}: {len(rendered)} items rendered, stored {stored!r}"[:300]]
        return [
            m
            for i, (r, s) in enumerate(zip(rendered, stored, strict=True))
            for m in missing_fields(r, s, f"{path}[{i}]")
        ]
    return [] if rendered == stored else [f"{path}: rendered {rendered!r}, stored {stored!r}"]


def admitted_pods(cluster: Kube, deployment: dict, timeout_s: float = 120) -> list[dict]:
    """The pods the Deployment's ReplicaSet created: the controller-manager creating them is the
    namespace's Pod Security admitting them (enforce: restricted). A refusal shows as the
    ReplicaSet's ReplicaFailure condition, reported at once."""
    selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pods = cluster.items("pods", selector)
        if len(pods) >= deployment["spec"]["replicas"]:
            return pods
        for replica_set in cluster.items("replicasets", selector):
            for condition in (replica_set.get("status") or {}).get("conditions") or []:
                if condition["type"] == "ReplicaFailure" and condition["status"] == "True":
                    raise AssertionError(f"{replica_set['metadata']['name']}: {condition['message']}")
        time.sleep(0.5)
    raise AssertionError(f"Deployment {deployment['metadata']['name']}: no pods after {timeout_s:.0f}s")


@pytest.mark.parametrize("service", PLATFORM)
def test_every_platform_service_applies_and_its_pods_are_admitted(cluster: Kube, monkeypatch, service: str):
    """What Argo CD syncs from platform/<service>: applied server-side (a dry run, then for real)
    without warnings, stored as rendered, and each Deployment's pod template passes the restricted
    namespace's Pod Security, sent as a Pod (as `make validate` does) and created by its ReplicaSet."""
    from scripts import dry_run
    from scripts.localcluster.pins import binary
    from scripts.manifests import Rendered

    text = render(f"platform/{service}")
    docs = documents(text)
    assert_no_warnings(cluster.apply(text, "--dry-run=server"), f"platform/{service} dry run")
    assert_no_warnings(cluster.apply(text), f"platform/{service}")
    for doc in docs:
        stored = cluster.get(doc["kind"].lower(), doc["metadata"]["name"])
        for part in ("spec", "data"):
            if part in doc:
                assert missing_fields(doc[part], stored.get(part), part) == [], (
                    f"{doc['kind']} {doc['metadata']['name']}"
                )
        assert (
            missing_fields(doc["metadata"].get("annotations") or {}, stored["metadata"].get("annotations") or {}) == []
        )
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    rendered = Rendered(f"platform/{service}", text=text, documents=docs)
    deployments = rendered.of_kind("Deployment")
    assert deployments, f"platform/{service} renders no Deployment"
    assert [str(v) for v in dry_run.check_pods(rendered, str(binary("kubectl")))] == []
    for deployment in deployments:
        pods = admitted_pods(cluster, deployment)
        for pod in pods:
            assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_a_platform_pod_that_breaks_pod_security_is_refused(cluster: Kube, monkeypatch):
    """The check above can fail: the tracking Deployment with its pod allowed to run as root is
    refused as a Pod (dry run), warned about on apply, and its ReplicaSet creates no pod."""
    from scripts import dry_run
    from scripts.localcluster.pins import binary
    from scripts.manifests import Rendered

    docs = documents(render("platform/tracking"))
    [deployment] = [d for d in docs if d["kind"] == "Deployment"]
    deployment["metadata"]["name"] = "mlflow-as-root"
    labels = {"app.kubernetes.io/name": "mlflow-as-root"}
    deployment["spec"]["selector"]["matchLabels"] = labels
    deployment["spec"]["template"]["metadata"]["labels"] = labels
    pod = deployment["spec"]["template"]["spec"]
    pod["securityContext"]["runAsNonRoot"] = False
    del pod["securityContext"]["runAsUser"]
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    refused = dry_run.check_pods(Rendered("platform/tracking", documents=[deployment]), str(binary("kubectl")))
    assert len(refused) == 1 and "PodSecurity" in refused[0].message and "runAsNonRoot" in refused[0].message
    assert refused[0].obj == "Deployment mlflow-as-root"
    applied = cluster.apply(yaml.safe_dump(deployment))
    assert "would violate PodSecurity" in applied.stderr, applied.stderr
    with pytest.raises(AssertionError, match="forbidden.*PodSecurity|PodSecurity.*forbidden"):
        admitted_pods(cluster, deployment)
    assert cluster.items("pods", "app.kubernetes.io/name=mlflow-as-root") == []
    cluster.run("-n", "textjobs", "delete", "deployment", "mlflow-as-root")


def test_the_served_game_applies_and_its_pods_are_admitted(cluster: Kube):
    """serving/apps/game: server-side applied without a warning (Pod Security `restricted` warns on a
    workload whose pod template would be refused), and the Deployment's pods are created, i.e.
    admitted by the namespace's enforcing Pod Security."""
    text = render("serving/apps/game")
    assert_no_warnings(cluster.apply(text, "--dry-run=server"), "serving/apps/game dry run")
    assert_no_warnings(cluster.apply(text), "serving/apps/game")
    deadline = time.monotonic() + 60
    while True:
        pods = cluster.items("pods", "app.kubernetes.io/name=word-game")
        if len(pods) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
    [container] = pods[0]["spec"]["containers"]
    assert container["image"] == "ghcr.io/example/textjobs-trainer:0.1.0"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
