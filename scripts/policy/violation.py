"""What every policy rule reports: where (kustomization), which object, which field, and the fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    where: str
    obj: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.obj}: {self.field}: {self.message}"


def describe(doc: dict) -> str:
    metadata = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return f"{doc.get('kind')} {metadata.get('name', '?')}"
