"""What a real-node cluster changes in TFJob pods, as a MutatingAdmissionPolicy (Kubernetes 1.36 GA).

`make apply EXP=capsule-b` must run the experiment exactly as rendered, yet on this machine a pod
cannot pull the registry image or reach Google's storage. The local cluster itself adapts the pods
at admission, the way a production cluster's admission adds what its platform provides, and only
for TFJob pods (label training.kubeflow.org/job-name) in the project's namespace:

- the `tensorflow` container runs the image built from this checkout (imagePullPolicy Never), the
  name the base gives it without any digest pin (a local build cannot have the pushed digest);
- STORAGE_EMULATOR_HOST points the trainer's bucket I/O at the node's emulator (node_bucket.py);
- the pod tolerates the real node's taint and is bound to it (nodeSelector), not to kwok's nodes.

Everything else (security context, resources, volumes, ExitCode restarts) is the manifest's own,
and Pod Security `restricted` judges the mutated pod.
"""

from __future__ import annotations

from scripts.localcluster.kubelet import NODE_NAME, TAINT

POLICY = "textjobs-local-real-node"
NAMESPACE = "textjobs"
CONTAINER = "tensorflow"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _add_to(path: str, present: str, item: str, whole: str) -> str:
    """JSONPatch adding `item` to the list or map at `path`, or creating it as `whole` when absent."""
    return (
        f'({present} ? [JSONPatch{{op: "add", path: {path} + "/{item[0]}", value: {item[1]}}}]'
        f' : [JSONPatch{{op: "add", path: {path}, value: {whole}}}])'
    )


def mutations(image: str, emulator: str) -> str:
    """One CEL expression: the JSON patches. (Pod spec lists and nodeSelector are atomic for
    server-side apply, so an ApplyConfiguration may not touch them.)"""
    container = '"/spec/containers/" + string(variables.container)'
    env = f'Object.spec.containers.env{{name: "STORAGE_EMULATOR_HOST", value: {_quote(emulator)}}}'
    toleration = (
        f'Object.spec.tolerations{{key: {_quote(TAINT["key"])}, operator: "Exists", effect: {_quote(TAINT["effect"])}}}'
    )
    return " + ".join(
        [
            f'[JSONPatch{{op: "replace", path: {container} + "/image", value: {_quote(image)}}}, '
            f'JSONPatch{{op: "add", path: {container} + "/imagePullPolicy", value: "Never"}}]',
            _add_to(
                f'{container} + "/env"',
                "has(object.spec.containers[variables.container].env)",
                ("-", env),
                f"[{env}]",
            ),
            _add_to(
                '"/spec/nodeSelector"',
                "has(object.spec.nodeSelector)",
                ("kubernetes.io~1hostname", _quote(NODE_NAME)),
                f'{{"kubernetes.io/hostname": {_quote(NODE_NAME)}}}',
            ),
            _add_to('"/spec/tolerations"', "has(object.spec.tolerations)", ("-", toleration), f"[{toleration}]"),
        ]
    )


def policy(image: str, emulator: str) -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicy",
        "metadata": {"name": POLICY},
        "spec": {
            "matchConstraints": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
                ],
            },
            "matchConditions": [
                {
                    "name": "tfjob-pod",
                    "expression": "has(object.metadata.labels) && 'training.kubeflow.org/job-name' in object.metadata.labels"
                    f" && object.spec.containers.exists(c, c.name == {_quote(CONTAINER)})",
                }
            ],
            "variables": [
                {
                    "name": "container",
                    "expression": f"object.spec.containers.map(c, c.name).indexOf({_quote(CONTAINER)})",
                }
            ],
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "mutations": [{"patchType": "JSONPatch", "jsonPatch": {"expression": mutations(image, emulator)}}],
        },
    }


def binding() -> dict:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": POLICY},
        "spec": {"policyName": POLICY},
    }
