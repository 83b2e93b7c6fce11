"""Serving manifests (serving/models/*, serving/apps/*): KServe InferenceServices held to the same
rules as experiments, on every pod and container an InferenceService declares.

Data-driven: the tables below say what is walked and what is allowed. Per render:
- the InferenceService: a DNS-1035 name short enough for the objects KServe derives from it; the
  `tensorflow` model format, a pinned runtime version, a gs:// or s3:// storageUri, credentials
  through a ServiceAccount the model renders; canaryTrafficPercent only where it works (Knative);
- Pod Security `restricted` on the predictor, transformer, explainer, a multi-node worker and
  canary predictors: their pod fields, the framework container (predictor.model, ...), containers
  and init containers;
- requests and limits for CPU and memory on every container, requests within limits; pinned images;
  credential-named env vars only by reference.
Across renders: storageUri is where an existing experiment writes its exports (computed as the
trainer computes it), the serving AppProject whitelists exactly what serving/ renders, and every
ApplicationSet syncs only directories that `make validate` judges.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scripts.export_location import ExportLocationError, export_location
from scripts.manifests import Rendered, render
from scripts.policy import appproject, quantity, secrets, sources
from scripts.policy.images import pin_problem
from scripts.policy.violation import Violation, describe

SERVING_PARENTS = ("serving/models", "serving/apps")
SERVING_PROJECT = "textjobs-serving"
NAMESPACE = "textjobs"
KIND = "InferenceService"
MODEL_FORMATS = ("tensorflow",)
STORAGE_SCHEMES = ("gs://", "s3://")
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
DEPLOYMENT_MODES = ("Knative", "Serverless", "Standard", "RawDeployment")  # Serverless, RawDeployment: old names
CANARY_MODES = ("Knative", "Serverless")  # canaryTrafficPercent splits Knative revisions; Standard ignores it
# KServe derives `<name>-predictor-<namespace>` host names and Knative revision names from the
# InferenceService's name, each at most 63 characters.
MAX_NAME = 45
NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
COMPONENTS = ("predictor", "transformer", "explainer")
# Fields of a component that hold one container (KServe's ModelSpec and framework specs embed it).
FRAMEWORKS = ("model", "tensorflow", "sklearn", "xgboost", "pytorch", "triton", "onnx", "huggingface", "pmml")
FRAMEWORKS += ("lightgbm", "paddle", "art")
CONTAINER_LISTS = ("containers", "initContainers")
HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
SECCOMP = ("RuntimeDefault", "Localhost")


def is_serving(name: str) -> bool:
    return any(name.startswith(parent + "/") for parent in SERVING_PARENTS)


@dataclass(frozen=True)
class Pod:
    doc: dict
    field: str
    spec: dict  # a KServe component: pod fields inline, plus its containers


@dataclass(frozen=True)
class Container:
    pod: Pod
    field: str
    spec: dict
    framework: bool  # the model server container KServe builds from a runtime (no image of its own needed)


def inference_services(r: Rendered) -> list[dict]:
    return r.of_kind(KIND)


def pods(r: Rendered) -> Iterator[Pod]:
    for doc in inference_services(r):
        spec = doc.get("spec") or {}
        for component in COMPONENTS:
            if isinstance(spec.get(component), dict):
                yield Pod(doc, f"spec.{component}", spec[component])
        worker = (spec.get("predictor") or {}).get("workerSpec")
        if isinstance(worker, dict):
            yield Pod(doc, "spec.predictor.workerSpec", worker)
        for index, canary in enumerate(spec.get("canary") or []):
            if isinstance((canary or {}).get("predictor"), dict):
                yield Pod(doc, f"spec.canary[{index}].predictor", canary["predictor"])


def containers(r: Rendered, lists: tuple[str, ...] = CONTAINER_LISTS) -> Iterator[Container]:
    for pod in pods(r):
        for framework in FRAMEWORKS:
            if isinstance(pod.spec.get(framework), dict):
                yield Container(pod, f"{pod.field}.{framework}", pod.spec[framework], True)
        for kind in lists:
            for index, container in enumerate(pod.spec.get(kind) or []):
                yield Container(pod, f"{pod.field}.{kind}[{container.get('name', index)}]", container, False)


# --- the InferenceService itself ------------------------------------------------------------


def rule_inference_service(r: Rendered) -> Iterator[Violation]:
    accounts = {d.get("metadata", {}).get("name") for d in r.of_kind("ServiceAccount")}
    for doc in inference_services(r):
        obj, meta, spec = describe(doc), doc.get("metadata") or {}, doc.get("spec") or {}
        name = meta.get("name", "")
        if not NAME.match(name) or len(name) > MAX_NAME:
            yield Violation(
                r.name,
                obj,
                "metadata.name",
                f"{name!r}: lower-case DNS-1035 (letters, digits, '-'; a letter first) of at most {MAX_NAME} characters, "
                "since KServe derives host and revision names from it",
            )
        mode = (meta.get("annotations") or {}).get(DEPLOYMENT_MODE)
        if mode is not None and mode not in DEPLOYMENT_MODES:
            yield Violation(
                r.name, obj, f"metadata.annotations[{DEPLOYMENT_MODE}]", f"{mode!r}; use one of {DEPLOYMENT_MODES}"
            )
        predictor = spec.get("predictor") or {}
        yield from _model(r, obj, predictor.get("model"))
        for component in COMPONENTS:
            part = spec.get(component)
            if isinstance(part, dict):
                yield from _account(r, obj, f"spec.{component}", part, accounts, component == "predictor")
                yield from _canary(r, obj, f"spec.{component}", part, mode)
        if spec.get("canary") and mode not in ("Standard", "RawDeployment"):
            yield Violation(
                r.name,
                obj,
                "spec.canary",
                f"canary predictors need {DEPLOYMENT_MODE}: Standard (KServe refuses them otherwise)",
            )


def _model(r: Rendered, obj: str, model) -> Iterator[Violation]:
    if not isinstance(model, dict):
        yield Violation(
            r.name,
            obj,
            "spec.predictor.model",
            "missing: serve an export with predictor.model (modelFormat tensorflow, runtimeVersion, storageUri)",
        )
        return
    fmt = (model.get("modelFormat") or {}).get("name")
    if fmt not in MODEL_FORMATS:
        yield Violation(
            r.name, obj, "spec.predictor.model.modelFormat.name", f"{fmt!r}; exports are SavedModels: use tensorflow"
        )
    version = str(model.get("runtimeVersion", ""))
    problem = pin_problem(f"runtime:{version}") if version else "unset"
    if problem:
        yield Violation(
            r.name,
            obj,
            "spec.predictor.model.runtimeVersion",
            f'{version or "unset"}: pin the model server\'s release (the image tag), e.g. "2.20.0"; '
            "without it the cluster's runtime default ships, and changes under you",
        )
    uri = str(model.get("storageUri", ""))
    if not uri.startswith(STORAGE_SCHEMES):
        yield Violation(
            r.name,
            obj,
            "spec.predictor.model.storageUri",
            f"{uri or 'unset'}: an experiment's export directory in a bucket ({' or '.join(STORAGE_SCHEMES)}); "
            "`make new-serving EXP=<exp>` writes it",
        )


def _account(r, obj, field, part, accounts, required) -> Iterator[Violation]:
    account = part.get("serviceAccountName")
    if account is None and required:
        yield Violation(
            r.name,
            obj,
            f"{field}.serviceAccountName",
            "unset: the storage initializer reads the bucket as this ServiceAccount; use serving/base's",
        )
    elif account is not None and account not in accounts:
        yield Violation(
            r.name,
            obj,
            f"{field}.serviceAccountName",
            f"{account!r} is not rendered here; pods would run without the bucket credentials (render it, as serving/base does)",
        )


def _canary(r, obj, field, part, mode) -> Iterator[Violation]:
    percent = part.get("canaryTrafficPercent")
    if percent is None:
        return
    if not isinstance(percent, int) or not 0 <= percent <= 100:
        yield Violation(r.name, obj, f"{field}.canaryTrafficPercent", f"{percent!r}: a percentage, 0 to 100")
    elif mode not in CANARY_MODES:
        yield Violation(
            r.name,
            obj,
            f"{field}.canaryTrafficPercent",
            f"ignored in {mode or 'the default (Standard)'} deployment mode: set {DEPLOYMENT_MODE}: Knative, "
            "or use spec.canary in Standard mode",
        )


# --- pods and containers ---------------------------------------------------------------------


def _security(c: Container) -> dict:
    return c.spec.get("securityContext") or {}


def _effective(c: Container, key: str):
    own = _security(c).get(key)
    return own if own is not None else (c.pod.spec.get("securityContext") or {}).get(key)


def rule_pod_security(r: Rendered) -> Iterator[Violation]:
    for pod in pods(r):
        obj, context = describe(pod.doc), pod.spec.get("securityContext") or {}
        for key in HOST_NAMESPACES:
            if pod.spec.get(key):
                yield Violation(
                    r.name,
                    obj,
                    f"{pod.field}.{key}",
                    "must not be true: a model server has no business in the node's namespaces",
                )
        for volume in pod.spec.get("volumes") or []:
            if "hostPath" in volume:
                yield Violation(
                    r.name,
                    obj,
                    f"{pod.field}.volumes[{volume.get('name')}].hostPath",
                    "hostPath volumes are refused; the model comes from storageUri",
                )
        if context.get("runAsUser") == 0:
            yield Violation(
                r.name, obj, f"{pod.field}.securityContext.runAsUser", "0 is root; use a non-zero UID such as 1000"
            )
        profile = (context.get("seccompProfile") or {}).get("type")
        if profile is not None and profile not in SECCOMP:
            yield Violation(
                r.name, obj, f"{pod.field}.securityContext.seccompProfile.type", f"{profile!r}; use RuntimeDefault"
            )
    for c in containers(r):
        yield from _container_security(r, c)


def _container_security(r: Rendered, c: Container) -> Iterator[Violation]:
    obj, context, field = describe(c.pod.doc), _security(c), f"{c.field}.securityContext"
    if _effective(c, "runAsNonRoot") is not True:
        yield Violation(
            r.name, obj, f"{field}.runAsNonRoot", "must be true (in the component's or the container's securityContext)"
        )
    if context.get("runAsUser") == 0:
        yield Violation(r.name, obj, f"{field}.runAsUser", "0 is root; use a non-zero UID such as 1000")
    if context.get("privileged"):
        yield Violation(r.name, obj, f"{field}.privileged", "must not be true; remove it")
    if context.get("allowPrivilegeEscalation") is not False:
        yield Violation(
            r.name, obj, f"{field}.allowPrivilegeEscalation", "must be false; set allowPrivilegeEscalation: false"
        )
    capabilities = context.get("capabilities") or {}
    if capabilities.get("add"):
        yield Violation(
            r.name, obj, f"{field}.capabilities.add", f"{capabilities['add']} refused; a model server needs none"
        )
    if "ALL" not in (capabilities.get("drop") or []):
        yield Violation(
            r.name, obj, f"{field}.capabilities.drop", 'must include "ALL"; set capabilities: {drop: ["ALL"]}'
        )
    own = (context.get("seccompProfile") or {}).get("type")
    if own is not None and own not in SECCOMP:
        yield Violation(r.name, obj, f"{field}.seccompProfile.type", f"{own!r}; use RuntimeDefault")
    elif _effective(c, "seccompProfile") is None:
        yield Violation(
            r.name,
            obj,
            f"{field}.seccompProfile",
            "unset; set seccompProfile: {type: RuntimeDefault} in the component's securityContext",
        )


def rule_resources(r: Rendered) -> Iterator[Violation]:
    for c in containers(r):
        obj, resources = describe(c.pod.doc), c.spec.get("resources") or {}
        for kind in ("requests", "limits"):
            missing = [k for k in ("cpu", "memory") if k not in (resources.get(kind) or {})]
            if missing:
                yield Violation(
                    r.name, obj, f"{c.field}.resources.{kind}", f"missing {', '.join(missing)}; set both cpu and memory"
                )
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for name in sorted(set(requests) & set(limits)):
            try:
                above = quantity.parse(requests[name]) > quantity.parse(limits[name])
            except ValueError as exc:
                yield Violation(r.name, obj, f"{c.field}.resources", str(exc))
                continue
            if above:
                yield Violation(
                    r.name,
                    obj,
                    f"{c.field}.resources.requests.{name}",
                    f"{requests[name]} is above the limit {limits[name]}; the API server refuses the pod",
                )


def rule_images(r: Rendered) -> Iterator[Violation]:
    for c in containers(r, (*CONTAINER_LISTS, "ephemeralContainers")):
        if c.framework and "image" not in c.spec:
            continue  # the runtime's image at the pinned runtimeVersion (rule_inference_service)
        problem = pin_problem(str(c.spec.get("image", "")))
        if problem:
            yield Violation(r.name, describe(c.pod.doc), f"{c.field}.image", problem)


def rule_credentials(r: Rendered) -> Iterator[Violation]:
    """The experiments' credential rules (scripts/policy/secrets.py) on every serving container."""
    for c in containers(r):
        for where, problem in secrets.container_problems(c):
            yield Violation(r.name, describe(c.pod.doc), where, problem)


RULES = [rule_inference_service, rule_pod_security, rule_resources, rule_images, rule_credentials]


# --- across renders --------------------------------------------------------------------------


def rule_storage_matches_an_experiment(
    served: list[Rendered], experiments: list[Rendered], root: Path
) -> Iterator[Violation]:
    """storageUri must be where an experiment under overlays/ writes its exports; when the model is
    labelled with its experiment, that experiment's."""
    renders = {r.name: r for r in experiments}
    known = sorted(p.name for p in (root / "overlays").glob("*") if p.is_dir())
    for name in known:
        renders.setdefault(f"overlays/{name}", None)
    locations: dict[str, str] = {}
    for name in sorted(renders):
        try:
            locations[name] = export_location(renders[name] or render(name, root)).uri
        except ExportLocationError:
            continue  # the experiment's own rules report why its configuration does not parse
    for r in served:
        for doc in inference_services(r):
            uri = str(((doc.get("spec") or {}).get("predictor") or {}).get("model", {}).get("storageUri", "")).rstrip(
                "/"
            )
            if not uri.startswith(STORAGE_SCHEMES):
                continue  # rule_inference_service reports it
            label = (doc.get("metadata", {}).get("labels") or {}).get("textjobs.dev/experiment")
            field, fix = "spec.predictor.model.storageUri", f"run `make new-serving EXP={label}`"
            if label is not None:
                wanted = locations.get(f"overlays/{label}")
                if wanted is None:
                    yield Violation(
                        r.name,
                        describe(doc),
                        "metadata.labels[textjobs.dev/experiment]",
                        f"{label!r}: no such experiment under overlays/ (known: {', '.join(known)})",
                    )
                elif uri != wanted:
                    yield Violation(
                        r.name, describe(doc), field, f"{uri} is not where overlays/{label} exports ({wanted}); {fix}"
                    )
            elif uri not in locations.values():
                yield Violation(
                    r.name,
                    describe(doc),
                    field,
                    f"{uri} is no experiment's export directory; label the model with textjobs.dev/experiment and "
                    "run `make new-serving EXP=<exp>`",
                )


def _group(doc: dict) -> str:
    api = doc.get("apiVersion", "")
    return api.split("/", 1)[0] if "/" in api else ""


def serving_project(bootstrap: Rendered) -> dict | None:
    return next(
        (d for d in bootstrap.of_kind("AppProject") if d.get("metadata", {}).get("name") == SERVING_PROJECT), None
    )


def without_serving_project(bootstrap: Rendered) -> Rendered:
    """The bootstrap as the experiments' rules see it: their AppProject only."""
    docs = [d for d in bootstrap.documents if d is not serving_project(bootstrap)]
    return Rendered(bootstrap.name, bootstrap.text, docs, bootstrap.error)


def rule_serving_project(bootstrap: Rendered, served: list[Rendered]) -> Iterator[Violation]:
    project = serving_project(bootstrap)
    if project is None:
        if served:
            yield Violation(
                bootstrap.name,
                f"AppProject {SERVING_PROJECT}",
                "(object)",
                "missing: serving/ is synced into it (argocd/serving-project.yaml)",
            )
        return
    obj, spec = describe(project), project.get("spec") or {}
    if spec.get("clusterResourceWhitelist"):
        yield Violation(
            bootstrap.name,
            obj,
            "spec.clusterResourceWhitelist",
            "model servers need no cluster-scoped kind; set it to []",
        )
    needed = {(_group(d), d.get("kind")) for r in served for d in r.documents}
    allowed = {(k.get("group") or "", k.get("kind")) for k in spec.get("namespaceResourceWhitelist") or []}
    for group, kind in sorted(allowed):
        if "*" in (group, kind):
            yield Violation(
                bootstrap.name,
                obj,
                "spec.namespaceResourceWhitelist",
                f"wildcard {group or 'core'}/{kind}: list the kinds serving/ renders",
            )
    for group, kind in sorted(needed - allowed):
        yield Violation(
            bootstrap.name,
            obj,
            "spec.namespaceResourceWhitelist",
            f"{group or 'core'}/{kind} is rendered under serving/ but not whitelisted: Argo CD would refuse to sync it; add it",
        )
    for group, kind in sorted(allowed - needed):
        if "*" not in (group, kind):
            yield Violation(
                bootstrap.name,
                obj,
                "spec.namespaceResourceWhitelist",
                f"{group or 'core'}/{kind} is whitelisted but nothing under serving/ renders it; remove it",
            )
    yield from appproject.rule_destinations_and_sources(bootstrap.name, project, "model servers")


def rule_applicationsets(bootstrap: Rendered) -> Iterator[Violation]:
    """Argo CD syncs what the ApplicationSets' directory generators find: only directories that
    `make validate` judges, experiments into their project, serving/ into the serving one."""
    judged = {f"{parent}/*" for parent in sources.APPLICATION_PARENTS}
    for appset in bootstrap.of_kind("ApplicationSet"):
        spec = appset.get("spec") or {}
        project = ((spec.get("template") or {}).get("spec") or {}).get("project")
        for index, generator in enumerate(spec.get("generators") or []):
            for entry in (generator.get("git") or {}).get("directories") or []:
                path, field = entry.get("path", ""), f"spec.generators[{index}].git.directories"
                if entry.get("exclude"):
                    continue
                if path not in judged:
                    yield Violation(
                        bootstrap.name,
                        describe(appset),
                        field,
                        f"{path!r}: `make validate` judges only {sorted(judged)}; Argo CD would sync unvalidated directories",
                    )
                elif is_serving(path) and project != SERVING_PROJECT:
                    yield Violation(
                        bootstrap.name,
                        describe(appset),
                        "spec.template.spec.project",
                        f"{project!r} syncs {path}; use {SERVING_PROJECT!r}",
                    )
                elif not is_serving(path) and project == SERVING_PROJECT:
                    yield Violation(
                        bootstrap.name,
                        describe(appset),
                        "spec.template.spec.project",
                        f"{project!r} is for serving/; {path} belongs in the experiments' project",
                    )


def check_all(
    served: list[Rendered], experiments: list[Rendered], bootstrap: list[Rendered], root: Path
) -> list[Violation]:
    problems = list(rule_storage_matches_an_experiment(served, experiments, root))
    for root_render in bootstrap:
        problems += rule_serving_project(root_render, served)
        problems += rule_applicationsets(root_render)
    return problems
