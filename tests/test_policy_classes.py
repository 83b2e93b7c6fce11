"""Every class of broken experiment the allowlist policy closes, through real overlays: each case
below is an overlay written into one copy of the repository, rendered by kustomize and judged by
`make validate`'s own function (all at once, so the suite stays quick). Each case is expected to
fail naming its field; one clean overlay beside them must pass, so the batch proves each rule
fires for its case and not for everything.

The cases are ours, not the hidden review's: several per class, where the same hole could be dug
another way. Credential-looking values are generated at run time, so nothing here trips gitleaks.
"""

from __future__ import annotations

import json
import secrets
import string
from pathlib import Path

import pytest

from tests.test_policy_overlays import copy_repository, patch, problems, write

CHIEF = "/spec/tfReplicaSpecs/Chief/template/spec"
TENSORFLOW = f"{CHIEF}/containers/0"
JOB = "TFJob {name}-train-r1"


def op(path: str, value: object, action: str = "add") -> str:
    return f"- op: {action}\n  path: {json.dumps(path)}\n  value: {json.dumps(value)}\n"


def random_token(length: int = 40, alphabet: str = string.ascii_letters + string.digits) -> str:
    token = "".join(secrets.choice(alphabet) for _ in range(length))
    return "aB3" + token[3:]  # every class of character, so it reads as random


def pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class Case:
    """An overlay: JSON-patch `ops` on `target`, ConfigMap `literals`, `extra` kustomization text,
    `files` beside it. `expect`: parts one reported line must all hold; or a list of such tuples,
    each matched by some line."""

    def __init__(self, ops="", literals=(), extra="", files=None, expect=(), target="TFJob", prefix=True):
        self.ops, self.literals, self.extra, self.files, self.expect = ops, literals, extra, files or {}, expect
        self.target, self.prefix = target, prefix

    def kustomization(self, name: str) -> str:
        config = "".join(
            f"      - {json.dumps(literal)}\n" for literal in ("bucket=textjobs-experiments", *self.literals)
        )
        names = f"namePrefix: {name}-\nnameSuffix: -r1\n" if self.prefix else ""
        body = (
            f"resources:\n  - ../../base\n{names}"
            f"configMapGenerator:\n  - name: experiment-config\n    behavior: merge\n    literals:\n{config}"
        )
        patches = patch(self.ops).replace("{kind: TFJob}", f"{{kind: {self.target}}}") if self.ops else ""
        return body + self.extra + patches


def pod_field(ops: str, field: str) -> Case:
    return Case(ops, expect=(JOB, field, "not a field an experiment may change"))


KEY_PEM = pem()
HALF = len(KEY_PEM) // 2
AWS_SECRET = random_token(40, string.ascii_letters + string.digits + "/+")
POSITIONAL = "gh" + "p_" + random_token(36)
CASES: dict[str, Case] = {
    # --- pod fields beyond the experiment: refused by construction, whatever they are ---------------
    "cmd-shell": pod_field(
        op(f"{TENSORFLOW}/command", ["sh", "-c", "gsutil cp /var/secrets/google/key.json gs://x"], "replace"),
        "containers[tensorflow].command",
    ),
    "post-start": pod_field(
        op(f"{TENSORFLOW}/lifecycle", {"postStart": {"exec": {"command": ["sh", "-c", "env"]}}}),
        "containers[tensorflow].lifecycle",
    ),
    "init-upload": pod_field(
        op(
            f"{CHIEF}/initContainers",
            [{"name": "up", "image": "ghcr.io/example/textjobs-trainer:0.1.0", "command": ["cat"]}],
        ),
        "spec.initContainers",
    ),
    "sidecar": pod_field(
        op(f"{CHIEF}/containers/-", {"name": "shipper", "image": "ghcr.io/example/textjobs-trainer:0.1.0"}),
        "containers[shipper]",
    ),
    "node-name": pod_field(op(f"{CHIEF}/nodeName", "control-plane-0"), "spec.nodeName"),
    "node-selector": pod_field(
        op(f"{CHIEF}/nodeSelector", {"node-role.kubernetes.io/control-plane": ""}), "spec.nodeSelector"
    ),
    "affinity": pod_field(
        op(
            f"{CHIEF}/affinity",
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}
                                ]
                            }
                        ]
                    }
                }
            },
        ),
        "spec.affinity",
    ),
    "tolerate-all": pod_field(op(f"{CHIEF}/tolerations", [{"operator": "Exists"}]), "spec.tolerations"),
    "priority": pod_field(op(f"{CHIEF}/priorityClassName", "system-node-critical"), "spec.priorityClassName"),
    "scheduler": pod_field(op(f"{CHIEF}/schedulerName", "my-scheduler"), "spec.schedulerName"),
    "runtime-class": pod_field(op(f"{CHIEF}/runtimeClassName", "unsandboxed"), "spec.runtimeClassName"),
    "gang": pod_field(
        op("/spec/runPolicy/schedulingPolicy", {"minAvailable": 1, "queue": "vip"}), "spec.runPolicy.schedulingPolicy"
    ),
    "host-aliases": pod_field(
        op(f"{CHIEF}/hostAliases", [{"ip": "203.0.113.9", "hostnames": ["storage.googleapis.com"]}]), "spec.hostAliases"
    ),
    "dns-none": pod_field(
        op(f"{CHIEF}/dnsPolicy", "None") + op(f"{CHIEF}/dnsConfig", {"nameservers": ["203.0.113.53"]}), "spec.dnsPolicy"
    ),
    "proxy-env": pod_field(
        op(f"{TENSORFLOW}/env/-", {"name": "HTTPS_PROXY", "value": "http://203.0.113.1:3128"}), "env[HTTPS_PROXY]"
    ),
    "emulator-env": Case(
        op(f"{TENSORFLOW}/env/-", {"name": "STORAGE_EMULATOR_HOST", "value": "http://203.0.113.1"}),
        expect=(JOB, "env[STORAGE_EMULATOR_HOST]", "may not be set in an experiment"),
    ),
    "projected-token": pod_field(
        op(
            f"{CHIEF}/volumes/-",
            {"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "t", "audience": "vault"}}]}},
        ),
        "volumes[tok]",
    ),
    "default-token": pod_field(
        op(f"{CHIEF}/automountServiceAccountToken", True, "replace"), "spec.automountServiceAccountToken"
    ),
    "csi": pod_field(
        op(f"{CHIEF}/volumes/-", {"name": "c", "csi": {"driver": "secrets-store.csi.k8s.io"}}), "volumes[c]"
    ),
    "nfs": pod_field(
        op(f"{CHIEF}/volumes/-", {"name": "n", "nfs": {"server": "203.0.113.2", "path": "/"}}), "volumes[n]"
    ),
    "git-repo": pod_field(
        op(f"{CHIEF}/volumes/-", {"name": "g", "gitRepo": {"repository": "https://example.com/x.git"}}), "volumes[g]"
    ),
    "proc-mount": pod_field(op(f"{TENSORFLOW}/securityContext/procMount", "Unmasked"), "securityContext.procMount"),
    "apparmor": pod_field(
        op(f"{CHIEF}/securityContext/appArmorProfile", {"type": "Unconfined"}), "securityContext.appArmorProfile"
    ),
    "selinux": pod_field(
        op(f"{CHIEF}/securityContext/seLinuxOptions", {"type": "spc_t"}), "securityContext.seLinuxOptions"
    ),
    "sysctls": pod_field(
        op(f"{CHIEF}/securityContext/sysctls", [{"name": "kernel.msgmax", "value": "65536"}]), "securityContext.sysctls"
    ),
    "windows": pod_field(
        op(f"{TENSORFLOW}/securityContext/windowsOptions", {"hostProcess": True}), "securityContext.windowsOptions"
    ),
    "root-group": pod_field(op(f"{CHIEF}/securityContext/runAsGroup", 0, "replace"), "securityContext.runAsGroup"),
    "supplemental-root": pod_field(
        op(f"{CHIEF}/securityContext/supplementalGroups", [0]), "securityContext.supplementalGroups"
    ),
    "share-pid": pod_field(op(f"{CHIEF}/shareProcessNamespace", True), "spec.shareProcessNamespace"),
    "no-grace": pod_field(op(f"{CHIEF}/terminationGracePeriodSeconds", 0), "spec.terminationGracePeriodSeconds"),
    "pull-never": pod_field(op(f"{TENSORFLOW}/imagePullPolicy", "Never"), "containers[tensorflow].imagePullPolicy"),
    "memory-scratch": pod_field(op(f"{CHIEF}/volumes/0/emptyDir/medium", "Memory"), "volumes[scratch].emptyDir.medium"),
    "huge-scratch": Case(
        op(f"{CHIEF}/volumes/0/emptyDir/sizeLimit", "10Ti", "replace"),
        expect=(JOB, "volumes[scratch].emptyDir", "not a field"),
    ),
    "host-port": pod_field(op(f"{TENSORFLOW}/ports/0/hostPort", 2222), "ports[tfjob-port].hostPort"),
    # images: a pinned tag from anywhere, a digest of nothing
    "other-registry": Case(
        extra="images:\n  - name: ghcr.io/example/textjobs-trainer\n    newName: docker.io/someone/trainer\n    newTag: 1.0.0\n",
        expect=(JOB, "containers[tensorflow].image", "not from an allowed registry"),
    ),
    "zero-digest": Case(
        extra="images:\n  - name: ghcr.io/example/textjobs-trainer\n    digest: sha256:" + "0" * 64 + "\n",
        expect=(JOB, "containers[tensorflow].image", "all-zero digest"),
    ),
    # --- objects beyond the experiment ------------------------------------------------------------
    "default-sa": Case(
        op("/metadata/name", "default", "replace"),
        extra="components:\n  - ../../components/workload-identity\n",
        target="ServiceAccount",
        prefix=False,
        expect=("ServiceAccount default", "metadata.name", "reservedNames"),
    ),
    "shared-sa": Case(
        extra="components:\n  - ../../components/workload-identity\n",
        prefix=False,
        expect=[
            ("ServiceAccount trainer", "metadata.name", "reservedNames"),
            ("TFJob train", "metadata.name", "must start with 'shared-sa-'"),
        ],
    ),
    "root-ca": Case(
        extra="  - name: kube-root-ca.crt\n    literals: [ca.crt=x]\n    options: {disableNameSuffixHash: true}\n",
        expect=("ConfigMap", "(object)", "not rendered by base/"),
    ),
    "reannotated-sa": Case(
        op(
            "/metadata/annotations/iam.gke.io~1gcp-service-account",
            "owner@my-project.iam.gserviceaccount.com",
            "replace",
        ),
        extra="components:\n  - ../../components/workload-identity\n",
        target="ServiceAccount",
        expect=("ServiceAccount", "metadata.annotations[iam.gke.io/gcp-service-account]", "not an allowed value"),
    ),
    "never-prune": pod_field(
        op("/metadata/annotations", {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}),
        "metadata.annotations",
    ),
    "sync-hook": pod_field(
        op(
            "/metadata/annotations",
            {"argocd.argoproj.io/hook": "Sync", "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation"},
        ),
        "metadata.annotations",
    ),
    "managed-by": pod_field(op("/spec/runPolicy/managedBy", "kueue.x-k8s.io/multikueue"), "spec.runPolicy.managedBy"),
    "kube-system": Case(
        extra="namespace: kube-system\n",
        expect=("kustomization.yaml", "namespace", "not a field an experiment's kustomization may use"),
    ),
    "extra-object": Case(
        extra="",
        files={"role.yaml": "kind: Role\n"},
        expect=("role.yaml", "file", "not referenced by the kustomization"),
    ),
    # --- cost: platform/budget.yaml ---------------------------------------------------------------
    "many-workers": Case(
        extra="components:\n  - ../../components/multi-worker\n",
        ops=op("/spec/tfReplicaSpecs/Worker/replicas", 499, "replace"),
        literals=("batchSize=500",),
        expect=(JOB, "spec.tfReplicaSpecs", "pods in one job is over the budget (platform/budget.yaml: job.replicas"),
    ),
    "gpu-pod": Case(
        op(f"{TENSORFLOW}/resources/limits/nvidia.com~1gpu", 64),
        literals=("batchSize=64",),
        expect=(JOB, "gpus in one Chief pod is over the budget (platform/budget.yaml: pod.gpus = 8)"),
    ),
    "huge-limits": Case(
        op(f"{TENSORFLOW}/resources/limits/cpu", "1000", "replace")
        + op(f"{TENSORFLOW}/resources/limits/memory", "10Ti", "replace"),
        expect=[(JOB, "platform/budget.yaml: pod.cpu"), (JOB, "platform/budget.yaml: pod.memory")],
    ),
    "endless-epochs": Case(
        literals=("numEpochs=100000",),
        expect=(JOB, "numEpochs=100000 is outside the budget (platform/budget.yaml: config.numEpochs.max"),
    ),
    "endless-steps": Case(literals=("trainSteps=900000000",), expect=(JOB, "config.trainSteps.max")),
    "restart-forever": Case(
        op("/spec/tfReplicaSpecs/Chief/restartPolicy", "OnFailure", "replace")
        + op("/spec/runPolicy/backoffLimit", 100000, "replace"),
        expect=(JOB, "runPolicy.backoffLimit", "platform/budget.yaml: job.backoffLimit"),
    ),
    "long-deadline": Case(
        op("/spec/runPolicy/activeDeadlineSeconds", 600000, "replace"),
        expect=(JOB, "platform/budget.yaml: job.activeDeadlineSeconds"),
    ),
    "crash-loop-off": Case(
        literals=("maxStartsWithoutProgress=0", "peerTimeoutSeconds=86400"),
        expect=[(JOB, "config.maxStartsWithoutProgress.min"), (JOB, "config.peerTimeoutSeconds.max")],
    ),
    "sizes-together": Case(
        literals=("vocabSize=1000000", "embeddingDim=420"), expect=(JOB, "platform/budget.yaml: memory.estimates")
    ),
    # --- the trainer's configuration, exactly ------------------------------------------------------
    "case-key": Case(literals=("NumEpochs=3",), expect=(JOB, "'NumEpochs' is not 'numEpochs'", "case")),
    "snake-key": Case(
        literals=("learning_rate=0.1",), expect=(JOB, "'learning_rate' is not 'learningRate'", "separators")
    ),
    "space-key": Case(
        op("/data/batchSize ", "16"),
        target="ConfigMap",
        expect=("ConfigMap", "the API server refuses this key", "surrounding whitespace"),
    ),
    "zero-width-key": Case(
        op("/data/num\u200bEpochs", "50"),
        target="ConfigMap",
        expect=("ConfigMap", "the API server refuses this key", "invisible characters"),
    ),
    "homoglyph-key": Case(
        op(f"{TENSORFLOW}/env/-", {"name": "l\u0435arningRate", "value": "5"}),
        expect=(JOB, "look-alike characters", "'learningRate'"),
    ),
    "prefix-key": Case(
        op(f"{TENSORFLOW}/envFrom/-", {"prefix": "num", "configMapRef": {"name": "experiment-config"}}),
        expect=(JOB, "envFrom"),
    ),
    "configmap-key-ref": Case(
        op(
            f"{TENSORFLOW}/env/-",
            {"name": "numEpochs", "valueFrom": {"configMapKeyRef": {"name": "experiment-config", "key": "bucket"}}},
        ),
        expect=(JOB, "env[numEpochs].valueFrom.configMapKeyRef", "not rendered by this experiment"),
    ),
    "flag-space-form": Case(
        op(f"{TENSORFLOW}/args", ["--numEpochs", "100000"]), expect=(JOB, "numEpochs=100000 is outside the budget")
    ),
    "flag-single-dash": Case(
        op(f"{TENSORFLOW}/args", ["-learningRate=40"]), expect=(JOB, "learningRate='40' must be in (0, 10]")
    ),
    "flagfile": Case(
        op(f"{TENSORFLOW}/args", ["--flagfile=/var/secrets/google/key.json"]),
        expect=(JOB, "absl's --flagfile reads flags from a file"),
    ),
    "flag-in-command": Case(
        op(f"{TENSORFLOW}/command/-", "-undefok=numEpoch"), expect=(JOB, "command[4]", "absl's --undefok")
    ),
    "fault-hook": Case(
        op(f"{TENSORFLOW}/env/-", {"name": "TEXTJOBS_FAULT", "value": "checkpoint.saved:1"}),
        expect=(JOB, "'TEXTJOBS_FAULT' may not be set"),
    ),
    "task-modules": Case(
        op(f"{TENSORFLOW}/env/-", {"name": "TEXTJOBS_TASK_MODULES", "value": "evil"}),
        expect=(JOB, "'TEXTJOBS_TASK_MODULES' may not be set"),
    ),
    # --- outputs owned by their run -------------------------------------------------------------
    "into-other-run": Case(
        literals=("modelDir=gs://textjobs-experiments/runs/capsule-b-train-r1",),
        expect=(JOB, "modelDir=", "outside this run's own path gs://textjobs-experiments/runs/into-other-run-train-r1"),
    ),
    "bucket-root": Case(
        literals=("exportDir=gs://textjobs-experiments",),
        expect=(JOB, "exportDir='gs://textjobs-experiments' is outside this run's own path"),
    ),
    "parent-dots": Case(
        literals=("exportDir=gs://textjobs-experiments/runs/parent-dots-train-r1/../capsule-b-train-r1/export",),
        expect=(JOB, "'.' and '..' are not allowed"),
    ),
    "local-path": Case(
        literals=("modelDir=/scratch/model",), expect=(JOB, "modelDir='/scratch/model' is a path inside the pod")
    ),
    # --- credentials, wherever they hide -------------------------------------------------------
    "pem-split": Case(
        op(f"{TENSORFLOW}/env/-", {"name": "PART_A", "value": KEY_PEM[:HALF]})
        + op(f"{TENSORFLOW}/env/-", {"name": "PART_B", "value": KEY_PEM[HALF:]}),
        expect=(JOB, "env[PART_A].value", "key material (PEM)"),
    ),
    "db-url": Case(
        literals=(f"dsn=postgres://trainer:{random_token(16)}@db.example.com:5432/runs",),
        expect=("ConfigMap", "data.dsn", "a password inside a URL"),
    ),
    "positional-token": Case(op(f"{TENSORFLOW}/args", [POSITIONAL]), expect=(JOB, "args[0]", "GitHub token")),
    "aws-spellings": Case(
        literals=(f"aws_secret_access_key={AWS_SECRET}", "secretKey=x", "AWS_SECRET_ACCESS_KEY=y"),
        expect=[
            ("ConfigMap", f"data.{k}", "a credential in a ConfigMap")
            for k in ("aws_secret_access_key", "secretKey", "AWS_SECRET_ACCESS_KEY")
        ],
    ),
    "binary-data": Case(
        extra="  - name: blob\n    files: [blob.bin]\n",
        files={"blob.bin": b"\xff\xfe" + KEY_PEM.encode()},
        expect=("binaryData.blob.bin", "key material (PEM)"),
    ),
    "annotation-token": pod_field(
        op("/metadata/annotations", {"ci.example.com/deploy-token": random_token(40)}), "metadata.annotations"
    ),
    # --- application names and directories -----------------------------------------------------
    "x" * 56: Case(expect=("directory", "name", "Argo CD's tracking label holds at most 63")),
    "argocd-source": Case(
        files={
            ".argocd-source.yaml": "kustomize:\n  images: [busybox:1.36]\n",
            ".argocd-source-textjobs-argocd-source.yaml": "{}\n",
        },
        expect=(".argocd-source.yaml", "Argo CD merges it into the Application's source"),
    ),
    "helm-switch": Case(
        files={"values-Chart.yaml": "name: x\n"}, expect=("values-Chart.yaml", "build this directory with Helm")
    ),
    "zero-replicas": Case(
        extra="components:\n  - ../../components/multi-worker\n",
        ops=op("/spec/tfReplicaSpecs/Worker/replicas", 0, "replace"),
        expect=(JOB, "Worker.replicas", "1 or more replicas"),
    ),
}
# Directory names that are not valid Application names (written as they are; see write_cases).
BAD_NAMES = {"Upper_Case": "must be lower-case letters", "-dash": "must be lower-case letters"}


def write_cases(repo: Path) -> list[str]:
    names = []
    for name, case in CASES.items():
        write(repo, f"overlays/{name}/kustomization.yaml", case.kustomization(name))
        for filename, content in case.files.items():
            path = repo / "overlays" / name / filename
            path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        names.append(f"overlays/{name}")
    for name in BAD_NAMES:
        write(repo, f"overlays/{name}/kustomization.yaml", "resources:\n  - ../../base\n")
        names.append(f"overlays/{name}")
    write(repo, "overlays/clean/kustomization.yaml", Case().kustomization("clean"))
    return [*names, "overlays/clean"]


@pytest.fixture(scope="module")
def found(tmp_path_factory) -> dict[str, list[str]]:
    repo = copy_repository(tmp_path_factory.mktemp("classes"))
    names = write_cases(repo)
    lines = problems(repo, names)
    return {name.removeprefix("overlays/"): [line for line in lines if line.startswith(f"{name}:")] for name in names}


def test_the_clean_overlay_beside_them_passes(found):
    assert found["clean"] == []


def test_no_rule_failed_on_any_case(found):
    assert not [line for lines in found.values() for line in lines if "could not judge" in line]


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_fails_naming_its_field(found, case):
    expect = CASES[case].expect
    lines = found[case]
    assert lines, f"{case}: passed"
    for parts in expect if isinstance(expect, list) else [expect]:
        expected = [part.format(name=case) for part in parts]
        assert any(all(part in line for part in expected) for line in lines), "\n".join(lines)


@pytest.mark.parametrize("name", sorted(BAD_NAMES))
def test_a_directory_name_that_is_no_application_name_fails(found, name):
    assert any(BAD_NAMES[name] in line for line in found[name]), found[name]


def test_a_token_from_gitleaks_rules_is_caught_even_when_split(found):
    assert any("env[PART_B].value" in line and "key material" in line for line in found["pem-split"])


def test_no_credential_reaches_a_report(found):
    """Reports name where a credential is, never the credential (CI logs are not secret)."""
    text = "\n".join(line for lines in found.values() for line in lines)
    body = KEY_PEM.splitlines()[1]
    assert AWS_SECRET not in text and body not in text and POSITIONAL not in text
