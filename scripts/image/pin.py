"""Pin the published trainer image by digest in base/kustomization.yaml (what the release workflow runs).

`python -m scripts.image pin ghcr.io/example/textjobs-trainer:0.2.0@sha256:<64 hex>` rewrites the
`training-image` entry's newName, newTag and digest in place, keeping every comment and every other
line, so every experiment runs exactly the image that was built and pushed (kustomize renders
`name:tag@sha256:...`). Standard library only.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_KUSTOMIZATION = ROOT / "base" / "kustomization.yaml"
REFERENCE = re.compile(
    r"(?P<name>[a-z0-9][a-z0-9._/-]*[a-z0-9]):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})@(?P<digest>sha256:[0-9a-f]{64})"
)
ENTRY = re.compile(r"^(?P<indent>\s*)- name: training-image\s*$")


class PinError(ValueError):
    pass


def parse(reference: str) -> tuple[str, str, str]:
    match = REFERENCE.fullmatch(reference)
    if match is None:
        raise PinError(f"{reference!r} is not NAME:TAG@sha256:<64 hex> (a tag and the pushed digest, both needed)")
    if match["tag"] == "latest":
        raise PinError(f"{reference!r}: pin a version tag, never latest")
    return match["name"], match["tag"], match["digest"]


def pinned(text: str, reference: str, path: Path = BASE_KUSTOMIZATION) -> str:
    """`text` with the training-image entry set to `reference`; other lines untouched."""
    name, tag, digest = parse(reference)
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if ENTRY.match(line)]
    if len(starts) != 1:
        raise PinError(f"{path}: expected one `- name: training-image` entry under images:, found {len(starts)}")
    start = starts[0]
    field_indent = ENTRY.match(lines[start])["indent"] + "  "
    end = start + 1
    while end < len(lines) and lines[end].startswith(field_indent) and lines[end][len(field_indent)] != " ":
        end += 1
    fields = {"newName": name, "newTag": tag, "digest": digest}
    kept = [line for line in lines[start + 1 : end] if line.strip().split(":", 1)[0] not in fields]
    entry = [f"{field_indent}{key}: {value}\n" for key, value in fields.items()]
    return "".join(lines[: start + 1] + entry + kept + lines[end:])


def pin(reference: str, path: Path = BASE_KUSTOMIZATION) -> None:
    path.write_text(pinned(path.read_text(), reference, path))
