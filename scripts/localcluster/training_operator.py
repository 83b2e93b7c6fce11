"""The Training Operator on the local cluster: its CRD, its webhook plumbing, the process.

Operator v1.9.4's webhook cannot be switched off. Without kube-proxy the API server reaches it by
URL on 127.0.0.1; the operator's cert-controller accepts only a Secret whose CA and serving pair
pass its checks (certs.py), and waits until the serving pair appears at its fixed path.
"""

from __future__ import annotations

import base64
import os
import urllib.request
from pathlib import Path

import yaml

from scripts.localcluster.api import wait_until
from scripts.localcluster.build import module_download
from scripts.localcluster.certs import WEBHOOK_CERT_DIR, ensure_operator_pki
from scripts.localcluster.daemons import Cluster, start, wait_for_daemon
from scripts.localcluster.pins import TRAINING_OPERATOR, binary

OPERATOR_NAMESPACE = "kubeflow"
WEBHOOK_CONFIGURATION = "validator.training-operator.kubeflow.org"  # the name the operator patches


def operator_manifests_dir() -> Path:
    return (
        Path(module_download("github.com/kubeflow/training-operator", TRAINING_OPERATOR)["Dir"]) / "manifests" / "base"
    )


def install_operator_rbac(cluster: Cluster) -> None:
    """The operator's ServiceAccount, ClusterRole and binding exactly as its release ships them (the
    release's kustomization supplies the namespace), so the e2e suite fails if they fall short."""
    rbac = operator_manifests_dir() / "rbac"
    account = yaml.safe_load((rbac / "service-account.yaml").read_text())
    account["metadata"]["namespace"] = OPERATOR_NAMESPACE
    cluster.api.apply(account)
    role = yaml.safe_load((rbac / "role.yaml").read_text())
    cluster.api.apply(role)
    binding = yaml.safe_load((rbac / "cluster-role-binding.yaml").read_text())
    for subject in binding["subjects"]:
        subject.setdefault("namespace", OPERATOR_NAMESPACE)
    cluster.api.apply(binding)


def install_operator_resources(cluster: Cluster) -> None:
    """TFJob CRD (server-side: too big for client-side apply), RBAC, the webhook Secret and registration."""
    api = cluster.api
    crd = yaml.safe_load((operator_manifests_dir() / "crds" / "kubeflow.org_tfjobs.yaml").read_text())
    api.apply(crd)
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}})
    install_operator_rbac(cluster)
    operator_pki = ensure_operator_pki()
    pair, ca = operator_pki.pair("operator-webhook"), operator_pki.pair("operator-ca")

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    api.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "training-operator-webhook-cert", "namespace": OPERATOR_NAMESPACE},
            "data": {
                "ca.crt": b64(ca.cert),
                "ca.key": b64(ca.key),
                "tls.crt": b64(pair.cert),
                "tls.key": b64(pair.key),
            },
        },
    )
    # In a pod the kubelet mounts the Secret at this fixed path; the operator waits for the files.
    WEBHOOK_CERT_DIR.mkdir(parents=True, exist_ok=True)
    for source, name in ((pair.cert, "tls.crt"), (pair.key, "tls.key"), (ca.cert, "ca.crt")):
        target = WEBHOOK_CERT_DIR / name
        if not target.exists() or target.read_bytes() != source.read_bytes():
            staged = target.with_name(f".{name}.{os.getpid()}")
            staged.write_bytes(source.read_bytes())
            staged.chmod(0o600)
            staged.replace(target)
    # No kube-proxy here, so the API server reaches the webhook by URL rather than through a Service.
    api.apply(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": WEBHOOK_CONFIGURATION},
            "webhooks": [
                {
                    "name": "validator.tfjob.training-operator.kubeflow.org",
                    "admissionReviewVersions": ["v1"],
                    "sideEffects": "None",
                    "failurePolicy": "Fail",
                    "clientConfig": {
                        "url": f"https://127.0.0.1:{cluster.ports['webhook']}/validate-kubeflow-org-v1-tfjob",
                        "caBundle": b64(ca.cert),
                    },
                    "rules": [
                        {
                            "apiGroups": ["kubeflow.org"],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["tfjobs"],
                        }
                    ],
                }
            ],
        },
    )
    wait_until("TFJob CRD", lambda: cluster.api.get("/apis/kubeflow.org/v1/tfjobs")[0] == 200, 60)


def start_operator(cluster: Cluster) -> None:
    env = dict(
        os.environ, KUBECONFIG=str(cluster.kubeconfig_for("training-operator")), MY_POD_NAMESPACE=OPERATOR_NAMESPACE
    )
    daemon = start(
        cluster,
        "training-operator",
        [
            str(binary("training-operator.v1")),
            "--enable-scheme=tfjob",
            f"--webhook-server-port={cluster.ports['webhook']}",
            f"--metrics-bind-address=127.0.0.1:{cluster.ports['operator-metrics']}",
            f"--health-probe-bind-address=127.0.0.1:{cluster.ports['operator-health']}",
        ],
        env=env,
    )

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{cluster.ports['operator-health']}/readyz", timeout=2) as answer:
            return answer.status == 200

    wait_for_daemon(cluster, daemon, ready, 120)
