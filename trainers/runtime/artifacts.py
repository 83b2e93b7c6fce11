"""Artifact kinds: what an export version holds, and when it is complete.

Every version directory holds one artifact and `textjobs.json`, which names its kind
(`"artifact": "saved_model"`) beside the task, run, step and epoch. The export writes the
artifact's files first and `textjobs.json` last (locally inside a staging directory that is renamed
into place; in a bucket it is the last object uploaded), so a version is complete when
`textjobs.json` and the files its kind requires are all present. Versions exported before kinds
existed have no `artifact` field: they are SavedModels.

A kind is registered once (`register(Kind(...))`) with the files a complete version needs; an
`ArtifactWriter` of that kind writes the files into a directory. SavedModel is what training
exports; a TFLite flat buffer is what `optimize` writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

EXPORT_INFO = "textjobs.json"


@dataclass(frozen=True)
class Kind:
    name: str
    # Files (relative to the version directory) a complete version holds besides textjobs.json.
    required: tuple[str, ...]

    def complete(self, names: set[str]) -> bool:
        return all(name in names for name in self.required)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


SAVED_MODEL = register(Kind("saved_model", ("saved_model.pb",)))
# A TFLite flat buffer (runtime/lite/), written by `python -m trainers optimize` beside the
# assets its task needs to tokenize outside the graph (textjobs-run.json).
TFLITE = register(Kind("tflite", ("model.tflite", "textjobs-run.json")))
# What an export's textjobs.json without an "artifact" field holds.
LEGACY_KIND = SAVED_MODEL.name


def kind_of(info: dict) -> Kind | None:
    """The kind a version's textjobs.json names; None when this trainer does not know it."""
    return KINDS.get(info.get("artifact", LEGACY_KIND))


class ArtifactWriter(Protocol):
    kind: Kind

    def write(self, directory: Path) -> None:
        """Write the artifact's files into `directory` (a new, empty staging directory)."""


class SavedModelWriter:
    """A task's serving module as a SavedModel: `serve` is serving_default, plus the module's
    `signatures()` when it has any, plus `extra_signatures` (name -> tf.function with an input
    signature; the runtime adds the bare model's signature this way).

    `weights` (the Keras model's, in `model.weights` order) are tracked as the module's
    `model_weights` list: the SavedModel's object graph then names each weight by its position,
    so rebuild.py reads them back into a rebuilt model one for one, whatever path the task's
    layers take."""

    kind = SAVED_MODEL

    def __init__(self, module, extra_signatures: dict | None = None, weights=None):
        self.module = module
        self.extra_signatures = dict(extra_signatures or {})
        self.weights = list(weights) if weights is not None else None

    def write(self, directory: Path) -> None:
        import tensorflow as tf

        if self.weights is not None:
            self.module.model_weights = self.weights

        own = self.module.signatures() if callable(getattr(self.module, "signatures", None)) else {}
        signatures = {"serving_default": self.module.serve, **own, **self.extra_signatures}
        tf.saved_model.save(self.module, str(directory), signatures=signatures)
