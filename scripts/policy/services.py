"""Policy for the platform's shared services (platform/*: MLflow tracking, TensorBoard).

Experiments are TFJobs and have their own rules; platform services are Deployments, so they are
judged here, by allowlist:

- a platform render holds only ConfigMaps, PersistentVolumeClaims, Services and Deployments, in
  the training namespace;
- every Deployment's pod meets Pod Security `restricted` (non-root, no privilege or escalation,
  capabilities drop ALL, seccomp RuntimeDefault/Localhost, no host namespaces or hostPath), has
  CPU and memory requests and limits with requests within limits, pinned images, mounts only
  declared volumes, claims only PersistentVolumeClaims and reads only ConfigMaps it renders;
- the bootstrap's platform AppProject whitelists exactly the kinds platform/* renders (nothing
  cluster-scoped, no wildcard, the training namespace only), and an ApplicationSet over
  platform/* syncs them in that project.

Each problem names the kustomization, the object, the field and the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from scripts.manifests import Rendered
from scripts.policy import appproject, quantity
from scripts.policy.images import pin_problem, split
from scripts.policy.sources import load_kustomization
from scripts.policy.violation import Violation, describe

PROJECT = "textjobs-platform"
NAMESPACE = "textjobs"
ALLOWED_KINDS = {("", "ConfigMap"), ("", "PersistentVolumeClaim"), ("", "Service"), ("apps", "Deployment")}
CONTAINER_KINDS = ("containers", "initContainers")
HOST_FIELDS = ("hostNetwork", "hostPID", "hostIPC")


def _group(doc: dict) -> str:
    api_version = doc.get("apiVersion", "")
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _kind(group: str, kind: str) -> str:
    return f"{group or 'core'}/{kind}"


def is_platform(r: Rendered) -> bool:
    return r.name.startswith("platform/")


def rule_allowed_kinds(r: Rendered) -> Iterator[Violation]:
    for doc in r.documents:
        kind = (_group(doc), doc.get("kind"))
        if kind not in ALLOWED_KINDS:
            allowed = ", ".join(sorted(_kind(*k) for k in ALLOWED_KINDS))
            yield Violation(
                r.name,
                describe(doc),
                "kind",
                f"{_kind(*kind)} is not a platform kind ({allowed}); extend scripts/policy/services.py "
                "and the textjobs-platform AppProject together if it must be",
            )
        namespace = (doc.get("metadata") or {}).get("namespace")
        if namespace != NAMESPACE:
            yield Violation(r.name, describe(doc), "metadata.namespace", f"{namespace!r}; set `namespace: {NAMESPACE}`")


def _pods(r: Rendered) -> Iterator[tuple[dict, str, dict]]:
    for doc in r.of_kind("Deployment"):
        spec = ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}
        yield doc, "spec.template.spec", spec


def _containers(pod: dict, field: str) -> Iterator[tuple[str, dict]]:
    for kind in CONTAINER_KINDS:
        for index, container in enumerate(pod.get(kind) or []):
            yield f"{field}.{kind}[{container.get('name', index)}]", container


def _pod_security(pod: dict, field: str) -> Iterator[tuple[str, str]]:
    pod_context = pod.get("securityContext") or {}
    for host in HOST_FIELDS:
        if pod.get(host):
            yield f"{field}.{host}", "host namespaces are refused by Pod Security restricted; remove it"
    for volume in pod.get("volumes") or []:
        if "hostPath" in volume:
            yield f"{field}.volumes[{volume.get('name')}]", "hostPath is refused by Pod Security restricted; use a PVC"
    if pod_context.get("runAsUser") == 0:
        yield f"{field}.securityContext.runAsUser", "0 is root; run as a non-root UID (1000)"
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    for where, container in _containers(pod, field):
        context = container.get("securityContext") or {}
        non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
        if non_root is not True:
            yield f"{where}.securityContext.runAsNonRoot", "must be true (pod or container); Pod Security restricted"
        if context.get("runAsUser") == 0:
            yield f"{where}.securityContext.runAsUser", "0 is root; run as a non-root UID (1000)"
        if context.get("privileged"):
            yield f"{where}.securityContext.privileged", "privileged containers are refused; remove it"
        if context.get("allowPrivilegeEscalation") is not False:
            yield f"{where}.securityContext.allowPrivilegeEscalation", "must be false"
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            yield f"{where}.securityContext.capabilities.drop", "must include ALL"
        if capabilities.get("add"):
            yield f"{where}.securityContext.capabilities.add", f"{capabilities['add']}: add none"
        seccomp = (context.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"{where}.securityContext.seccompProfile.type", f"{seccomp!r}; set RuntimeDefault (pod or container)"


def _pod_wiring(pod: dict, field: str, rendered_names: dict[str, set[str]]) -> Iterator[tuple[str, str]]:
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    for name, volume in volumes.items():
        claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        if claim is not None and claim not in rendered_names["PersistentVolumeClaim"]:
            yield f"{field}.volumes[{name}]", f"claims {claim!r}, which this kustomization does not render; add it"
        configmap = (volume.get("configMap") or {}).get("name")
        if configmap is not None and configmap not in rendered_names["ConfigMap"]:
            yield f"{field}.volumes[{name}]", f"ConfigMap {configmap!r} is not rendered here; add it"
    for where, container in _containers(pod, field):
        problem = pin_problem(container.get("image", ""))
        if problem:
            yield f"{where}.image", problem
        resources = container.get("resources") or {}
        for resource in ("cpu", "memory"):
            request = (resources.get("requests") or {}).get(resource)
            limit = (resources.get("limits") or {}).get(resource)
            if request is None or limit is None:
                yield f"{where}.resources", f"{resource} needs both a request and a limit"
            elif quantity.parse(request) > quantity.parse(limit):
                yield f"{where}.resources.requests.{resource}", f"{request} is above its limit {limit}"
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") not in volumes:
                yield f"{where}.volumeMounts[{mount.get('name')}]", "names no volume of the pod; declare it in volumes"
        for item in container.get("env") or []:
            ref = ((item.get("valueFrom") or {}).get("configMapKeyRef") or {}).get("name")
            if ref is not None and ref not in rendered_names["ConfigMap"]:
                yield f"{where}.env[{item.get('name')}]", f"ConfigMap {ref!r} is not rendered here; add it"


def rule_pods(r: Rendered) -> Iterator[Violation]:
    names = {
        kind: {(d.get("metadata") or {}).get("name") for d in r.of_kind(kind)}
        for kind in ("ConfigMap", "PersistentVolumeClaim")
    }
    for doc, field, pod in _pods(r):
        for where, problem in [*_pod_security(pod, field), *_pod_wiring(pod, field, names)]:
            yield Violation(r.name, describe(doc), where, problem)


def rule_image_overrides(r: Rendered, root: Path) -> Iterator[Violation]:
    """A kustomize `images:` entry that matches no container is silently ignored: an error."""
    data = load_kustomization(root / r.name) or {}
    rendered = {c.get("image", "") for _, _, pod in _pods(r) for _, c in _containers(pod, "")}
    for override in data.get("images") or []:
        name = override.get("newName") or override.get("name")
        tag = str(override.get("newTag") or "")
        if not any(split(image)[0] == name and (not tag or split(image)[1] == tag) for image in rendered):
            yield Violation(
                r.name,
                f"{r.name}/kustomization.yaml",
                f"images[{override.get('name')}]",
                f"matches no container (images here: {sorted(rendered)}); set name: to the container's image",
            )


def rule_platform_project(bootstrap: Rendered, platform: list[Rendered]) -> Iterator[Violation]:
    projects = [p for p in bootstrap.of_kind("AppProject") if (p.get("metadata") or {}).get("name") == PROJECT]
    if platform and not projects:
        yield Violation(
            bootstrap.name, f"AppProject {PROJECT}", "(object)", "missing: platform/* has no Argo CD project"
        )
    needed = {(_group(d), d.get("kind")) for r in platform for d in r.documents}
    for project in projects:
        spec, obj = project.get("spec") or {}, describe(project)
        if spec.get("clusterResourceWhitelist"):
            yield Violation(
                bootstrap.name,
                obj,
                "spec.clusterResourceWhitelist",
                "platform services need no cluster-scoped kind; set it to []",
            )
        allowed = {(k.get("group") or "", k.get("kind")) for k in spec.get("namespaceResourceWhitelist") or []}
        for group, kind in sorted(needed - allowed):
            yield Violation(
                bootstrap.name,
                obj,
                "spec.namespaceResourceWhitelist",
                f"{_kind(group, kind)} is rendered by platform/* but not whitelisted; add it",
            )
        for group, kind in sorted(allowed - needed):
            yield Violation(
                bootstrap.name,
                obj,
                "spec.namespaceResourceWhitelist",
                f"{_kind(group, kind)} is whitelisted but platform/* renders none; remove it",
            )
        yield from appproject.rule_destinations_and_sources(bootstrap.name, project, "platform services")
    synced = [
        a
        for a in bootstrap.of_kind("ApplicationSet")
        if ((a.get("spec") or {}).get("template") or {}).get("spec", {}).get("project") == PROJECT
        and any(
            d.get("path") == "platform/*"
            for g in (a.get("spec") or {}).get("generators") or []
            for d in (g.get("git") or {}).get("directories") or []
        )
    ]
    if platform and not synced:
        yield Violation(
            bootstrap.name,
            "ApplicationSet",
            "(object)",
            f"no ApplicationSet syncs platform/* in project {PROJECT}; add one",
        )


def check_all(rendered: list[Rendered], root: Path) -> list[Violation]:
    ok = [r for r in rendered if not r.error]
    platform = [r for r in ok if is_platform(r)]
    problems = [v for r in platform for rule in (rule_allowed_kinds, rule_pods) for v in rule(r)]
    problems += [v for r in platform for v in rule_image_overrides(r, root)]
    for bootstrap in (r for r in ok if r.name == "."):
        problems += rule_platform_project(bootstrap, platform)
    return list(dict.fromkeys(problems))
