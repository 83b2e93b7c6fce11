"""The local cluster's parts that need no cluster: wrapper modules, build cache, PKI, daemons,
kwok stages, Katib trials, and which cluster the commands pick."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from scripts import kube
from scripts.localcluster import build, certs, kwok_stages, pins, processes
from scripts.localcluster.api import NotReady
from scripts.trials import trial_tfjob

GOMOD = """module k8s.io/kubernetes

go 1.26.0

require (
\tk8s.io/api v0.0.0
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/kubectl => ./staging/src/k8s.io/kubectl
\tk8s.io/sample-cli-plugin => ./staging/src/k8s.io/sample-cli-plugin
\tgithub.com/example/fork => github.com/example/fork v1.2.3
)
"""


def test_staging_modules_are_replaced_by_their_releases():
    assert build.staging_replacements(GOMOD, "v1.36.3") == [
        "k8s.io/api => k8s.io/api v0.36.3",
        "k8s.io/kubectl => k8s.io/kubectl v0.36.3",
    ]


def test_the_committed_wrapper_matches_kubernetes_own_replace_block():
    info = build.module_download("k8s.io/kubernetes", pins.KUBERNETES)
    wanted = build.staging_replacements(Path(info["GoMod"]).read_text(), pins.KUBERNETES)
    committed = (pins.GO_MODULES / "kubernetes" / "go.mod").read_text()
    block = committed.split("replace (", 1)[1].split(")", 1)[0]
    assert [line.strip() for line in block.strip().splitlines()] == wanted
    assert len(wanted) > 25  # every staging module, not a handful


def test_a_cached_build_is_reused_only_when_it_matches(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTJOBS_CACHE", str(tmp_path))
    component = pins.COMPONENTS["kwok"]
    directory = pins.component_dir(component)
    assert directory == tmp_path / "cluster" / f"kwok-{pins.KWOK}"
    assert not build.is_built(component)
    directory.mkdir(parents=True)
    (directory / "kwok").write_text("binary")
    (directory / build.STAMP).write_text(json.dumps({**build.fingerprint(component), "version": "v0.7.0"}))
    assert not build.is_built(component)  # another version
    (directory / build.STAMP).write_text(json.dumps(build.fingerprint(component)))
    assert build.is_built(component)
    (directory / "kwok").unlink()
    assert not build.is_built(component)  # stamp without binary


def test_a_wrapper_component_is_rebuilt_when_its_go_sum_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTJOBS_CACHE", str(tmp_path))
    component = pins.COMPONENTS["etcd"]
    directory = pins.component_dir(component)
    directory.mkdir(parents=True)
    (directory / "etcd").write_text("binary")
    stale = {**build.fingerprint(component), "go.sum": "an older go.sum"}
    (directory / build.STAMP).write_text(json.dumps(stale))
    assert not build.is_built(component)


def test_the_operator_webhook_pki_passes_the_operators_own_checks(tmp_path):
    """cert-controller accepts the Secret only if: the CA is valid for `training-operator-ca` with a
    PKCS#1 key, and the serving pair verifies for the Service name for more than 90 days."""
    pki = certs.ensure_operator_pki(tmp_path / "operator")
    ca, serving = pki.pair("operator-ca"), pki.pair("operator-webhook")
    assert ca.key.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    leaf = x509.load_pem_x509_certificate(serving.cert.read_bytes())
    in_100_days = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=100)
    for name in (x509.DNSName(certs.OPERATOR_SERVICE_DNS), x509.IPAddress(certs.LOOPBACK)):
        verifier = PolicyBuilder().store(Store([ca_cert])).time(in_100_days).build_server_verifier(name)
        verifier.verify(leaf, [])
    san = ca_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [certs.OPERATOR_CA_NAME]
    again = certs.ensure_operator_pki(tmp_path / "operator")  # made once per machine, then reused
    assert again.pair("operator-ca").cert.read_bytes() == ca.cert.read_bytes()


def test_the_admin_client_certificate_is_cluster_admin(tmp_path):
    pki = certs.ensure_pki(tmp_path)
    admin = x509.load_pem_x509_certificate(pki.pair("admin").cert.read_bytes())
    organizations = admin.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)
    assert [o.value for o in organizations] == ["system:masters"]


def test_each_daemon_gets_its_own_identity_and_an_older_pki_keeps_its_ca(tmp_path):
    pki = certs.ensure_pki(tmp_path)
    ca = x509.load_pem_x509_certificate(pki.pair("ca").cert.read_bytes())
    for name, (user, group) in certs.CLIENT_IDENTITIES.items():
        leaf = x509.load_pem_x509_certificate(pki.pair(name).cert.read_bytes())
        assert leaf.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)[0].value == user
        groups = [o.value for o in leaf.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)]
        assert groups == ([group] if group else [])
        leaf.verify_directly_issued_by(ca)
    # A cache made before an identity existed (a running cluster trusts its CA): the identity is
    # added under the same CA, nothing else is made anew.
    pki.pair("training-operator").cert.unlink()
    admin = pki.pair("admin").cert.read_bytes()
    again = certs.ensure_pki(tmp_path)
    assert again.pair("ca").cert.read_bytes() == pki.pair("ca").cert.read_bytes()
    assert again.pair("admin").cert.read_bytes() == admin
    x509.load_pem_x509_certificate(again.pair("training-operator").cert.read_bytes()).verify_directly_issued_by(ca)


def test_daemons_are_stopped_by_pid_and_only_while_the_pid_is_theirs(tmp_path):
    sleeper = processes.start(tmp_path, "sleeper", ["/bin/sleep", "300"])
    assert sleeper.alive() and processes.recorded(tmp_path) == [sleeper]
    assert processes.stop(tmp_path, sleeper) == "stopped"
    assert not sleeper.alive() and processes.recorded(tmp_path) == []
    # A PID file naming a live process that runs another binary (a recycled PID): never signalled.
    impostor = processes.Daemon("etcd", os.getpid(), "/no/such/etcd")
    assert not impostor.alive()
    assert processes.stop(tmp_path, impostor) == "not running"


def test_a_test_clusters_daemon_dies_with_the_process_that_started_it(tmp_path):
    """A test killed with SIGKILL cannot run `down`; its cluster must not outlive it."""
    starter = (
        "import sys; from pathlib import Path; from scripts.localcluster import processes; "
        "d = processes.start(Path(sys.argv[1]), 'orphan', ['/bin/sleep', '300'], die_with_parent=True); "
        "print(d.pid, flush=True); import time; time.sleep(300)"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", starter, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=pins.ROOT
    )
    child_pid = int(parent.stdout.readline())
    [daemon] = processes.recorded(tmp_path)
    assert daemon.pid == child_pid and daemon.alive()
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 60  # the kernel's SIGTERM is asynchronous; a bound, not a speed check
    while daemon.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not daemon.alive()


def test_a_daemon_that_ignores_sigterm_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(processes, "STOP_GRACE_S", 0.5)
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(300)"
    stubborn = processes.start(tmp_path, "stubborn", [sys.executable, "-c", script])
    log = processes.log_path(tmp_path, "stubborn")
    while "ready" not in log.read_text():
        assert stubborn.alive()
    assert processes.stop(tmp_path, stubborn) == "killed"
    assert not stubborn.alive()


def test_kwok_stages_are_quick_and_tfjob_pods_end_one_way_only():
    quick = kwok_stages.quicken(
        {
            "spec": {
                "resourceRef": {"kind": "Pod"},
                "delay": {"durationMilliseconds": 1000, "jitterDurationMilliseconds": 5000},
            }
        }
    )
    assert quick["spec"]["delay"] == {"durationMilliseconds": kwok_stages.STEP_DELAY_MS}
    node = kwok_stages.quicken({"spec": {"resourceRef": {"kind": "Node"}, "delay": {"durationMilliseconds": 600000}}})
    assert node["spec"]["delay"] == {"durationMilliseconds": 600000}
    ours = list(yaml.safe_load_all((pins.GO_MODULES / "kwok" / "tfjob-stages.yaml").read_text()))
    exit_code_rule = {
        s["metadata"]["name"]: next(
            e for e in s["spec"]["selector"]["matchExpressions"] if "kwok-exit-code" in e["key"]
        )["operator"]
        for s in ours
    }
    assert exit_code_rule == {"tfjob-pod-succeed": "DoesNotExist", "tfjob-pod-fail": "Exists"}


def test_a_katib_trial_becomes_the_tfjob_katib_would_create():
    experiment = {
        "metadata": {"name": "tpe", "namespace": "textjobs"},
        "spec": {
            "parameters": [
                {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.001", "max": "0.01"}},
                {"name": "batch", "parameterType": "discrete", "feasibleSpace": {"list": ["16", "64"]}},
            ],
            "trialTemplate": {
                "trialParameters": [
                    {"name": "learningRate", "reference": "lr"},
                    {"name": "batchSize", "reference": "batch"},
                ],
                "trialSpec": {
                    "kind": "TFJob",
                    "spec": {
                        "args": [
                            "--learningRate=${trialParameters.learningRate}",
                            "--batchSize=${trialParameters.batchSize}",
                        ]
                    },
                },
            },
        },
    }
    low, high = trial_tfjob(experiment, "min"), trial_tfjob(experiment, "max", name="tpe-high")
    assert low["spec"]["args"] == ["--learningRate=0.001", "--batchSize=16"]
    assert high["spec"]["args"] == ["--learningRate=0.01", "--batchSize=64"]
    assert (low["metadata"], high["metadata"]["name"]) == ({"name": "tpe-trial", "namespace": "textjobs"}, "tpe-high")


def test_a_searchs_corners_are_every_combination_or_for_a_wide_search_one_change_at_a_time():
    from scripts.trials import MAX_COMBINATIONS, trial_assignments

    def experiment(parameters: list[dict]) -> dict:
        refs = [{"name": f"t{p['name']}", "reference": p["name"]} for p in parameters]
        refs.append({"name": "trialName", "reference": "${trialSpec.Name}"})  # not a search parameter
        return {"spec": {"parameters": parameters, "trialTemplate": {"trialParameters": refs}}}

    small = experiment(
        [
            {"name": "lr", "feasibleSpace": {"min": "0.1", "max": "0.5"}},
            {"name": "batch", "feasibleSpace": {"list": ["32", "17", "64"]}},  # unsorted: every value
            {"name": "fixed", "feasibleSpace": {"min": "3", "max": "3"}},
        ]
    )
    corners = trial_assignments(small)
    assert len(corners) == 2 * 3 * 1
    assert {(c["tlr"], c["tbatch"], c["tfixed"]) for c in corners} == {
        (lr, b, "3") for lr in ("0.1", "0.5") for b in ("32", "17", "64")
    }
    assert all(c["trialName"] == "${trialSpec.Name}" for c in corners)
    wide = experiment([{"name": f"p{i}", "feasibleSpace": {"min": "0", "max": "1"}} for i in range(9)])
    assert MAX_COMBINATIONS < 2**9
    corners = trial_assignments(wide)
    lows = [sum(c[f"tp{i}"] == "0" for i in range(9)) for c in corners]
    assert sorted(lows) == [0] + [8] * 9 + [9]  # all high, each one high alone, all low


def test_an_object_is_applied_at_the_path_its_own_fields_name():
    from scripts.localcluster.api import resource_path

    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cert", "namespace": "kubeflow"}}
    assert resource_path(secret) == "/api/v1/namespaces/kubeflow/secrets/cert"
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kwok-gpu"}}
    assert resource_path(node) == "/api/v1/nodes/kwok-gpu"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "op"}}
    assert resource_path(role) == "/apis/rbac.authorization.k8s.io/v1/clusterroles/op"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": "p"},
    }
    assert resource_path(policy) == "/apis/admissionregistration.k8s.io/v1/mutatingadmissionpolicies/p"


def test_an_explicit_kubeconfig_wins_over_the_local_cluster(tmp_path, monkeypatch):
    assert kube.select_kubeconfig({"KUBECONFIG": "/elsewhere/config"}) == "/elsewhere/config"
    monkeypatch.setattr(kube, "STATE", tmp_path / "no-cluster")
    assert kube.select_kubeconfig({}) is None


def test_cluster_status_says_down_when_there_is_no_cluster(tmp_path, monkeypatch):
    from scripts.localcluster import __main__ as cli

    monkeypatch.setattr(cli, "STATE", tmp_path / "none")
    assert cli.main(["status"]) == 1


def test_cluster_down_without_a_cluster_is_harmless(tmp_path):
    from scripts.localcluster import control_plane

    control_plane.down(tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_no_process_survives_a_failed_start(tmp_path, monkeypatch):
    """A start that fails half-way stops what it started and keeps the logs."""
    from scripts.localcluster import control_plane

    def broken_apiserver(cluster, real_node=False):
        processes.start(cluster.state, "kube-apiserver", ["/bin/sleep", "300"])
        raise NotReady("kube-apiserver not ready after 0s")

    monkeypatch.setattr(control_plane, "build_all", lambda: None)
    monkeypatch.setattr(
        control_plane, "start_etcd", lambda cluster: processes.start(cluster.state, "etcd", ["/bin/sleep", "300"])
    )
    monkeypatch.setattr(control_plane, "start_apiserver", broken_apiserver)
    monkeypatch.setattr(control_plane, "cache_dir", lambda: tmp_path / "cache")
    with pytest.raises(NotReady):
        control_plane.up(tmp_path / "state")
    assert processes.recorded(tmp_path / "state") == []
    assert (tmp_path / "state" / "logs").is_dir()
