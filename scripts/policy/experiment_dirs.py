"""What an experiment's directory may hold, and say, before anything is rendered.

Argo CD reads more than the kustomization: it merges `.argocd-source.yaml` and
`.argocd-source-<app>.yaml` into the Application's source (kustomize images, patches, even the
source type) and switches a directory holding any `*Chart.yaml` to Helm. So a directory under
overlays/ may hold only its kustomization file and the files that file references. Its name
becomes an Application's name (argocd/applicationset.yaml) and Argo CD's tracking label value, so
it must make a valid one. Its kustomization may use only the fields platform/allowlist.yaml lists,
build on the workload's reference directory alone, and take components from components/ only.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import yaml

from scripts.manifests import kustomization_file
from scripts.policy import platform
from scripts.policy.sources import KustomizationError, load_kustomization, local_references, shown
from scripts.policy.violation import Violation

ARGOCD_FILES = {
    ".argocd-source*": "Argo CD merges it into the Application's source (images, patches) after CI has judged the "
    "directory; delete it and put the change in the kustomization",
    "*Chart.yaml": "Argo CD would build this directory with Helm instead of kustomize; delete it",
}
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE_MAX = 63  # Argo CD puts the Application's name in the app.kubernetes.io/instance label
APPLICATION_SET = "argocd/applicationset.yaml"
BASENAME = re.compile(r"\{\{\s*\.path\.basename\s*\}\}")


def files_under(directory: Path, root: Path) -> list[Path]:
    """The files Git would hold under `directory` (tracked or not ignored); every file when the
    repository is not a Git checkout (a copy under test)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", str(directory)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        if (root / ".git").exists():
            return sorted(root / name for name in listed if (root / name).is_file())
    except (subprocess.CalledProcessError, FileNotFoundError):
        pass
    return sorted(p for p in directory.rglob("*") if p.is_file() or p.is_symlink())


def rule_only_referenced_files(name: str, root: Path) -> Iterator[Violation]:
    directory = root / name
    own = kustomization_file(directory)
    referenced = {p for _, p in local_references(directory)} | {own.resolve() if own else None}
    for path in files_under(directory, root):
        relative = shown(path, root)
        special = next((why for pattern, why in ARGOCD_FILES.items() if fnmatch.fnmatch(path.name, pattern)), None)
        if special:
            yield Violation(name, relative, "file", special)
        elif path.is_symlink():
            yield Violation(name, relative, "file", "a symbolic link: it can point anywhere; put the file itself here")
        elif path.resolve() not in referenced:
            yield Violation(
                name,
                relative,
                "file",
                "not referenced by the kustomization: an experiment directory holds only its kustomization and "
                "the files it references (Argo CD may read others); delete it or reference it",
            )


def application_prefix(root: Path) -> tuple[str, str]:
    """The text around `{{.path.basename}}` in the ApplicationSet's Application name template."""
    try:
        for doc in yaml.safe_load_all((root / APPLICATION_SET).read_text()):
            template = str(
                ((((doc or {}).get("spec") or {}).get("template") or {}).get("metadata") or {}).get("name", "")
            )
            parts = BASENAME.split(template)
            if len(parts) == 2:
                return parts[0], parts[1]
    except (OSError, yaml.YAMLError):
        pass
    return "", ""


def rule_application_name(name: str, root: Path) -> Iterator[Violation]:
    basename = Path(name).name
    before, after = application_prefix(root)
    application = f"{before}{basename}{after}"
    if not DNS_1035.match(basename):
        yield Violation(
            name,
            "directory",
            "name",
            f"{basename!r} must be lower-case letters, digits and '-', starting with a letter and ending with a letter "
            "or digit: it names the Application and prefixes every object; rename the directory",
        )
    elif len(application) > LABEL_VALUE_MAX:
        yield Violation(
            name,
            "directory",
            "name",
            f"the Application {application!r} has {len(application)} characters; Argo CD's tracking label holds at most "
            f"{LABEL_VALUE_MAX}: shorten the directory name to {LABEL_VALUE_MAX - len(before) - len(after)} characters",
        )


def rule_kustomization_shape(name: str, root: Path) -> Iterator[Violation]:
    workload = platform.allowlist(root).workload_of(name)
    directory = root / name
    if workload is None or kustomization_file(directory) is None:
        return
    where = shown(kustomization_file(directory), root)
    try:
        data = load_kustomization(directory) or {}
    except KustomizationError:
        return  # sources.check_tree reports it
    for key in sorted(set(data) - workload.kustomization_keys, key=str):
        yield Violation(
            name,
            where,
            str(key),
            f"not a field an experiment's kustomization may use (platform/allowlist.yaml: "
            f"{', '.join(sorted(workload.kustomization_keys))}); remove it",
        )
    reference = (root / workload.reference).resolve()
    resources = data.get("resources")
    if not isinstance(resources, list) or [(directory / str(r)).resolve() for r in resources] != [reference]:
        yield Violation(
            name,
            where,
            "resources",
            f"{resources!r}: an experiment builds on {workload.reference}/ alone; set resources to "
            f"[{Path(*(['..'] * len(Path(name).parts)), workload.reference)}] and add components for the rest",
        )
    components = data.get("components")
    allowed = (root / workload.components).resolve()
    for entry in components if isinstance(components, list) else []:
        if not (directory / str(entry)).resolve().is_relative_to(allowed):
            yield Violation(
                name,
                where,
                f"components[{entry}]",
                f"components come from {workload.components}/ only (reviewed by the platform team); move it there",
            )
