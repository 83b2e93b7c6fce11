"""Generate the JSON schemas kubeconform validates against, so `make validate` works offline.

Custom resources come from the pinned releases, fetched through the Go module proxy: TFJob from
the kubeflow/training-operator v1.9.4 CRD, Experiment from kubeflow/katib v0.19.0's OpenAPI spec, and
Application, ApplicationSet and AppProject from argoproj/argo-cd v2.14.21. Built-in kinds come from
the pinned `kubernetes-validate` wheel's Kubernetes 1.32 schemas. Every schema is made strict
(unknown fields are errors, like `kubectl --validate=strict`) and standalone ($refs inlined).

Output: schemas/<kind>-<group>-<version>.json, the layout `scripts.validate` points kubeconform at.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "schemas"

CRD_SOURCES = {
    # module@version: CRD files inside the module
    "github.com/kubeflow/training-operator@v1.9.4": ["manifests/base/crds/kubeflow.org_tfjobs.yaml"],
    "github.com/argoproj/argo-cd/v2@v2.14.21": [
        "manifests/crds/application-crd.yaml",
        "manifests/crds/applicationset-crd.yaml",
        "manifests/crds/appproject-crd.yaml",
    ],
}
# Katib's CRDs carry no schema (x-kubernetes-preserve-unknown-fields); its OpenAPI spec, generated
# from the Go types of the same release, does.
KATIB_MODULE = "github.com/kubeflow/katib@v0.19.0"
KATIB_OPENAPI = "api/openapi-spec/swagger.json"
K8S_WHEEL = "kubernetes-validate==1.37.0"
K8S_VERSION = "v1.32.0"
BUILTIN_KINDS = ["configmap", "namespace", "serviceaccount", "secret", "service"]
# Kinds of an API group (kind, group): what serving/ renders.
GROUP_KINDS = [("deployment", "apps")]


def schema_filename(kind: str, group: str, version: str) -> str:
    """The names scripts.validate's kubeconform schema locations expect."""
    if not group:  # core kinds: {{ .ResourceKind }}-{{ .ResourceAPIVersion }}.json
        return f"{kind.lower()}-{version}.json"
    return f"{kind.lower()}-{group}-{version}.json"


def strict(schema):
    """Forbid unknown fields on every object that lists its properties."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        if schema.get("x-kubernetes-int-or-string"):
            schema.pop("type", None)
            schema["oneOf"] = [{"type": "string"}, {"type": "integer"}]
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def download_module(module: str) -> Path:
    env = dict(os.environ, GOFLAGS="-mod=mod")
    # katib v0.19.0 is missing from the checksum database; its files are pinned by version here.
    env["GONOSUMDB"] = "github.com/kubeflow/katib"
    env["GONOSUMCHECK"] = "1"
    out = subprocess.run(["go", "mod", "download", "-json", module], capture_output=True, text=True, env=env)
    info = json.loads(out.stdout or "{}")
    if "Dir" not in info:
        raise SystemExit(f"gen_schemas: could not download {module}: {info.get('Error') or out.stderr}")
    return Path(info["Dir"])


def crd_schemas(crd_path: Path) -> dict[str, dict]:
    crd = yaml.safe_load(crd_path.read_text())
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    result = {}
    for version in crd["spec"]["versions"]:
        schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
        schema["properties"]["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
        schema["properties"]["kind"] = {"type": "string", "enum": [kind]}
        # Top-level metadata is checked by the API server, not the CRD: keep it open.
        schema["properties"]["metadata"] = {"type": "object"}
        schema.setdefault("required", [])
        for field in ("apiVersion", "kind"):
            if field not in schema["required"]:
                schema["required"].append(field)
        result[schema_filename(kind, group, version["name"])] = strict(schema)
    return result


def inline_refs(schema, definitions, seen=()):
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name in seen:  # recursive types (JSONSchemaProps) stay open
                return {}
            return inline_refs(definitions[name], definitions, (*seen, name))
        return {k: inline_refs(v, definitions, seen) for k, v in schema.items()}
    if isinstance(schema, list):
        return [inline_refs(item, definitions, seen) for item in schema]
    return schema


def katib_schemas() -> dict[str, dict]:
    spec = json.loads((download_module(KATIB_MODULE) / KATIB_OPENAPI).read_text())
    definitions = spec["components"]["schemas"]
    schema = inline_refs(definitions["v1beta1.Experiment"], definitions)
    schema["properties"]["apiVersion"] = {"type": "string", "enum": ["kubeflow.org/v1beta1"]}
    schema["properties"]["kind"] = {"type": "string", "enum": ["Experiment"]}
    schema["properties"]["metadata"] = {"type": "object"}
    schema["required"] = ["apiVersion", "kind", "spec"]
    return {schema_filename("Experiment", "kubeflow.org", "v1beta1"): strict(schema)}


def builtin_schemas() -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, K8S_WHEEL], check=True
        )
        wheel = zipfile.ZipFile(next(Path(tmp).glob("*.whl")))
        base = f"kubernetes_validate/kubernetes-json-schema/{K8S_VERSION}-local-strict"
        definitions = json.loads(wheel.read(f"{base}/_definitions.json"))["$defs"]
        result = {}
        for kind in BUILTIN_KINDS:
            schema = json.loads(wheel.read(f"{base}/{kind}-v1.json"))
            result[schema_filename(kind, "", "v1")] = inline_refs(schema, definitions)
        for kind, group in GROUP_KINDS:
            schema = json.loads(wheel.read(f"{base}/{kind}-{group}-v1.json"))
            result[schema_filename(kind, group, "v1")] = inline_refs(schema, definitions)
        return result


def main() -> int:
    schemas = {}
    for module, files in CRD_SOURCES.items():
        directory = download_module(module)
        for relative in files:
            schemas.update(crd_schemas(directory / relative))
    schemas.update(katib_schemas())
    schemas.update(builtin_schemas())
    OUT.mkdir(exist_ok=True)
    for stale in OUT.glob("*.json"):
        stale.unlink()
    for name, schema in sorted(schemas.items()):
        (OUT / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        print(f"wrote schemas/{name}")
    sources = {
        "crds": CRD_SOURCES,
        "katib": f"{KATIB_MODULE} {KATIB_OPENAPI}",
        "kubernetes": f"{K8S_WHEEL} ({K8S_VERSION}-local-strict)",
    }
    (OUT / "SOURCES.json").write_text(json.dumps(sources, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
