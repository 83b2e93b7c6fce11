"""Each per-render policy rule catches its broken fixture with the expected message; the fixtures
are the real capsule-b-multilabel render (Chief + Worker), broken one field at a time. Rules on
kustomizations and across experiments are tested on real overlays in test_policy_overlays.py."""

import copy
import json
import secrets
import string

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scripts import policy
from scripts.manifests import ROOT, render
from scripts.policy import secrets as secrets_rules


@pytest.fixture(scope="module")
def good():
    return render("overlays/capsule-b-multilabel")


def chief(rendered):
    return next(d for d in rendered.documents if d["kind"] == "TFJob")["spec"]["tfReplicaSpecs"]["Chief"]


def container(rendered):
    return chief(rendered)["template"]["spec"]["containers"][0]


def broken(good, mutate):
    copy_ = copy.deepcopy(good)
    mutate(copy_)
    return [str(v) for v in policy.check(copy_, ROOT)]


def test_the_good_render_passes(good):
    assert policy.check(good, ROOT) == []


def tfjob(r):
    return next(d for d in r.documents if d["kind"] == "TFJob")


def pod(r):
    return chief(r)["template"]["spec"]


def configmap(r):
    return next(d for d in r.documents if d["kind"] == "ConfigMap")


def add_replica(r, rtype, **changes):
    replica = copy.deepcopy(chief(r))
    replica.update(changes)
    tfjob(r)["spec"]["tfReplicaSpecs"][rtype] = replica
    return replica


CASES = {
    # the operator's webhook and the job's lifetime
    "container renamed": (lambda r: container(r).update(name="trainer"), "no container named 'tensorflow'"),
    "two chiefs": (lambda r: chief(r).update(replicas=2), "2 Chief/Master replicas; at most 1"),
    "restart policy Never": (
        lambda r: chief(r).update(restartPolicy="Never"),
        "restartPolicy: 'Never'; use OnFailure or ExitCode",
    ),
    "bad job name": (lambda r: tfjob(r)["metadata"].update(name="Capsule_B"), "metadata.name: must be DNS-1035"),
    "ttl": (
        lambda r: tfjob(r)["spec"]["runPolicy"].update(ttlSecondsAfterFinished=60),
        "ttlSecondsAfterFinished: must be unset",
    ),
    "no deadline": (
        lambda r: tfjob(r)["spec"]["runPolicy"].pop("activeDeadlineSeconds"),
        "activeDeadlineSeconds: None; set 1..604800",
    ),
    "deadline of a month": (
        lambda r: tfjob(r)["spec"]["runPolicy"].update(activeDeadlineSeconds=2592000),
        "activeDeadlineSeconds: 2592000; set 1..604800",
    ),
    "no backoffLimit": (lambda r: tfjob(r)["spec"]["runPolicy"].pop("backoffLimit"), "backoffLimit: unset"),
    # resources and wiring
    "no limits": (lambda r: container(r)["resources"].pop("limits"), "resources.limits: missing cpu, memory"),
    "no memory request": (
        lambda r: container(r)["resources"]["requests"].pop("memory"),
        "resources.requests: missing memory",
    ),
    "cpu request above limit": (
        lambda r: container(r)["resources"]["requests"].update(cpu="8"),
        "requests.cpu: 8 is above the limit 4",
    ),
    "memory request above limit": (
        lambda r: container(r)["resources"]["requests"].update(memory="9000Mi"),
        "requests.memory: 9000Mi is above the limit 8Gi",
    ),
    "bad quantity": (
        lambda r: container(r)["resources"]["limits"].update(cpu="four"),
        "'four' is not a Kubernetes quantity",
    ),
    "mount without volume": (
        lambda r: container(r)["volumeMounts"].append({"name": "data", "mountPath": "/data"}),
        "volumeMounts[data]: no volume named 'data'",
    ),
    "unsupported field path": (
        lambda r: container(r)["env"].append(
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.generateName"}}}
        ),
        "'metadata.generateName' is not a field the kubelet exposes",
    ),
    "labels without key": (
        lambda r: container(r)["env"].append(
            {"name": "LABELS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels"}}}
        ),
        "'metadata.labels' is not a field the kubelet exposes",
    ),
    "PS replica keeps the bare ConfigMap name": (
        lambda r: add_replica(r, "PS")["template"]["spec"]["containers"][0].update(
            envFrom=[{"configMapRef": {"name": "experiment-config"}}]
        ),
        "tfReplicaSpecs.PS.template.spec.containers[tensorflow].envFrom.configMapRef: ConfigMap 'experiment-config' is not rendered",
    ),
    "duplicate env var": (
        lambda r: container(r)["env"].append({"name": "HOME", "value": "/tmp"}),
        "env: env var 'HOME' appears twice",
    ),
    "duplicate port": (
        lambda r: container(r)["ports"].append({"name": "second", "containerPort": 2222}),
        "ports: containerPort 2222 appears twice",
    ),
    "duplicate volume": (
        lambda r: pod(r)["volumes"].append({"name": "scratch", "emptyDir": {}}),
        "volumes: volume name 'scratch' appears twice",
    ),
    # pod security, on every replica type and container kind
    "root": (lambda r: pod(r)["securityContext"].update(runAsNonRoot=False), "runAsNonRoot: must be true"),
    "uid 0 on the pod": (
        lambda r: pod(r)["securityContext"].update(runAsUser=0),
        "template.spec.securityContext.runAsUser: 0 is root",
    ),
    "escalation": (
        lambda r: container(r)["securityContext"].update(allowPrivilegeEscalation=True),
        "allowPrivilegeEscalation: must be false",
    ),
    "privileged": (lambda r: container(r)["securityContext"].update(privileged=True), "privileged: must not be true"),
    "added capability": (
        lambda r: container(r)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
        "capabilities.add: ['SYS_ADMIN'] refused",
    ),
    "capabilities kept": (
        lambda r: container(r)["securityContext"].pop("capabilities"),
        'capabilities.drop: must include "ALL"',
    ),
    "unconfined seccomp": (
        lambda r: pod(r)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        "seccompProfile.type: 'Unconfined'; use RuntimeDefault",
    ),
    "host network": (lambda r: pod(r).update(hostNetwork=True), "template.spec.hostNetwork: must not be true"),
    "host PID": (lambda r: pod(r).update(hostPID=True), "template.spec.hostPID: must not be true"),
    "host IPC": (lambda r: pod(r).update(hostIPC=True), "template.spec.hostIPC: must not be true"),
    "hostPath": (
        lambda r: pod(r)["volumes"].append({"name": "node", "hostPath": {"path": "/"}}),
        "volumes[node].hostPath: hostPath volumes are refused",
    ),
    "root init container": (
        lambda r: pod(r).update(
            initContainers=[
                {
                    **copy.deepcopy(container(r)),
                    "name": "fetch",
                    "securityContext": {
                        "runAsUser": 0,
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ]
        ),
        "initContainers[fetch].securityContext.runAsUser: 0 is root",
    ),
    "privileged ephemeral container": (
        lambda r: pod(r).update(
            ephemeralContainers=[{"name": "debug", "image": "busybox:1.36", "securityContext": {"privileged": True}}]
        ),
        "ephemeralContainers[debug].securityContext.privileged: must not be true",
    ),
    "Evaluator replica escalates": (
        lambda r: add_replica(r, "Evaluator")["template"]["spec"]["containers"][0]["securityContext"].update(
            allowPrivilegeEscalation=True
        ),
        "tfReplicaSpecs.Evaluator.template.spec.containers[tensorflow].securityContext.allowPrivilegeEscalation",
    ),
    "Master replica on the host network": (
        lambda r: add_replica(r, "Master", replicas=0)["template"]["spec"].update(hostNetwork=True),
        "tfReplicaSpecs.Master.template.spec.hostNetwork",
    ),
    # images
    "latest image": (lambda r: container(r).update(image="ghcr.io/example/trainer:latest"), "tag 'latest' moves"),
    "Latest image": (lambda r: container(r).update(image="ghcr.io/example/trainer:Latest"), "tag 'Latest' moves"),
    "branch tag": (lambda r: container(r).update(image="ghcr.io/example/trainer:main"), "tag 'main' moves"),
    "untagged image": (lambda r: container(r).update(image="ghcr.io/example/trainer"), "has no tag"),
    "unpinned init image": (
        lambda r: pod(r).update(initContainers=[{**copy.deepcopy(container(r)), "name": "fetch", "image": "busybox"}]),
        "initContainers[fetch].image: 'busybox' has no tag",
    ),
    # credentials
    "inline secret": (
        lambda r: r.documents.append({"kind": "Secret", "metadata": {"name": "key"}, "data": {"key.json": "e30="}}),
        "Secret key: data: secret values never go in Git",
    ),
    "password in env": (
        lambda r: container(r)["env"].append({"name": "DB_PASSWORD", "value": "hunter2"}),
        "env[DB_PASSWORD].value: a credential as a literal value; use valueFrom.secretKeyRef",
    ),
    "token in ConfigMap": (
        lambda r: configmap(r)["data"].update(WANDB_API_KEY="abc"),
        "data.WANDB_API_KEY: a credential in a ConfigMap",
    ),
    # the trainer's configuration, from the ConfigMap and from env
    "bad config": (lambda r: configmap(r)["data"].update(learningRate="-1"), "learningRate='-1' must be in (0, 10]"),
    "typo key": (
        lambda r: configmap(r)["data"].update(numEpoch="3"),
        "unknown configuration key 'numEpoch'; did you mean 'numEpochs'",
    ),
    "unknown model": (lambda r: configmap(r)["data"].update(modelType="bert"), "modelType='bert' unknown model type"),
    "typo key in env": (
        lambda r: container(r)["env"].append({"name": "learningRat", "value": "0.1"}),
        "unknown configuration key 'learningRat'; did you mean 'learningRate'",
    ),
    "bad value in env": (lambda r: container(r)["env"].append({"name": "batchSize", "value": "-4"}), "batchSize='-4'"),
    "typo key from valueFrom": (
        lambda r: container(r)["env"].append(
            {"name": "runNam", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
        ),
        "unknown configuration key 'runNam'",
    ),
    "batch does not split over chief and worker": (
        lambda r: configmap(r)["data"].update(batchSize="33"),
        "batchSize=33 does not split over 2 replicas (pods x GPUs)",
    ),
    "batch does not split over GPUs": (
        lambda r: [
            c["resources"]["limits"].update({"nvidia.com/gpu": 3})
            for rep in tfjob(r)["spec"]["tfReplicaSpecs"].values()
            for c in rep["template"]["spec"]["containers"]
        ],
        "batchSize=32 does not split over 6 replicas (pods x GPUs)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_catches_its_fixture(good, case):
    mutate, expected = CASES[case]
    messages = broken(good, mutate)
    assert any(expected in m for m in messages), messages
    assert all(m.startswith("overlays/capsule-b-multilabel: ") for m in messages)


def fake_service_account_key() -> str:
    """A freshly generated key in a GCP key file's shape, so no key material is ever committed."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return json.dumps({"type": "service_account", "private_key_id": secrets.token_hex(20), "private_key": pem.decode()})


def test_gitleaks_finds_key_material_and_tokens_in_any_file(tmp_path):
    leaked = tmp_path / "overlays" / "x" / "key.json"
    leaked.parent.mkdir(parents=True)
    leaked.write_text(fake_service_account_key())
    comment = tmp_path / "overlays" / "x" / "kustomization.yaml"
    access_key = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))
    comment.write_text(f"# old key, do not use: {access_key}\nresources: [../../base]\n")
    clean = tmp_path / "README.md"
    clean.write_text("Keys live in the user-gcp-sa Secret.")
    found = sorted(str(v) for v in policy.scan_repository_for_secrets([leaked, comment, clean], tmp_path))
    assert len(found) == 2, found
    assert found[0].startswith("overlays/x/key.json: line 1: private-key: gitleaks:")
    assert found[1].startswith("overlays/x/kustomization.yaml: line 1: aws-access-token: gitleaks:")
    assert access_key not in " ".join(found)  # findings are redacted


def test_the_history_has_no_credentials():
    assert [str(v) for v in secrets_rules.scan_history(ROOT)] == []
