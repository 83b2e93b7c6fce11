"""Images must be pinned, and a kustomize `images:` override must change something.

A tag is a pin when it names a release: it carries a digit and is not some spelling of `latest`.
`main`, `dev`, `Latest` or `stable` move under you. An override whose `name` matches no container
is silently ignored by kustomize and the old image ships: that is an error here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from scripts.manifests import Rendered, render
from scripts.policy import platform
from scripts.policy.sources import kustomization_file, local_references, shown, try_load_kustomization
from scripts.policy.violation import Violation, describe
from scripts.policy.walk import all_containers as containers

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def split(image: str) -> tuple[str, str, str]:
    """(name, tag, digest) of an image reference."""
    digest = ""
    if "@" in image:
        image, digest = image.split("@", 1)
    name, tag = image, ""
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = image.rsplit(":", 1)
    return name, tag, digest


def pin_problem(image: str) -> str:
    name, tag, digest = split(image)
    if digest:
        if not DIGEST.search("@" + digest):
            return f"{image!r}: malformed digest"
        if set(digest.removeprefix("sha256:")) == {"0"}:
            return f"{image!r}: an all-zero digest names no image; pin the real digest"
        return ""
    if not tag:
        return f"{image!r} has no tag; pin a release tag (1.4.2) or a digest (@sha256:…)"
    if tag.lower() == "latest" or not re.search(r"\d", tag):
        return f"{image!r}: tag {tag!r} moves (latest or a branch name); pin a release tag (1.4.2) or a digest"
    return ""


def rule_pinned_images(r: Rendered) -> Iterator[Violation]:
    for c in containers(r):
        problem = pin_problem(c.spec.get("image", ""))
        if problem:
            yield Violation(r.name, describe(c.pod.job.doc), f"{c.field}.image", problem)


def rule_allowed_registries(r: Rendered, root: Path) -> Iterator[Violation]:
    """Every image from a registry platform/budget.yaml lists, pulled as pinned (never a node's copy)."""
    registries = platform.budget(root).registries
    for c in containers(r):
        image = str(c.spec.get("image", ""))
        if not any(image.startswith(prefix) for prefix in registries):
            yield Violation(
                r.name,
                describe(c.pod.job.doc),
                f"{c.field}.image",
                f"{image!r} is not from an allowed registry (platform/budget.yaml: images.registries: "
                f"{', '.join(registries)}); build and push the image there",
            )
        if c.spec.get("imagePullPolicy") == "Never":
            yield Violation(
                r.name,
                describe(c.pod.job.doc),
                f"{c.field}.imagePullPolicy",
                "Never runs whatever image a node already holds under that name, not the pinned one; remove it",
            )


def _overrides(directory: Path) -> list[dict]:
    images = (try_load_kustomization(directory) or {}).get("images")
    return [i for i in images if isinstance(i, dict)] if isinstance(images, list) else []


def _components(directory: Path) -> list[Path]:
    return [p for field, p in local_references(directory) if field == "components"]


def _applied(override: dict, images: set[str]) -> bool:
    name = override.get("newName") or override.get("name")
    for image in images:
        image_name, tag, digest = split(image)
        if image_name != name:
            continue
        if (
            override.get("digest")
            and digest != override["digest"].removeprefix("sha256:")
            and digest != override["digest"]
        ):
            continue
        if override.get("newTag") and not override.get("digest") and tag != str(override["newTag"]):
            continue
        return True
    return False


def rule_image_overrides_match(r: Rendered, root: Path, cache: dict[str, Rendered]) -> Iterator[Violation]:
    """Each Kustomization in the experiment's tree is rendered on its own (cached) and its own
    `images:` entries, and those of the components it lists, are looked for in that render."""
    top = (root / r.name).resolve()
    for directory in [top, *[p for field, p in local_references(top, recursive=True) if field == "resources"]]:
        if kustomization_file(directory) is None:
            continue
        key = shown(directory, root)
        own = r if directory == top else cache.setdefault(key, render(key, root))
        if own.error:
            continue
        images = {c.spec.get("image", "") for c in containers(own)}
        for source in [directory, *_components(directory)]:
            for override in _overrides(source):
                if not _applied(override, images):
                    file = shown(kustomization_file(source), root)
                    yield Violation(
                        r.name,
                        f"{file}",
                        f"images[{override.get('name')}]",
                        f"matches no container (images here: {sorted(images)}); kustomize ignores it and the old image ships: "
                        f"set name: to the image as it is before this override",
                    )
