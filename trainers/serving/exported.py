"""One loaded export version: its signatures as callables, and what they take and return.

Everything is read from the SavedModel itself (`tf.saved_model.load` for the callables,
`saved_model.pb` for TF Serving's metadata), so an export of any task, with any number of named
signatures, is served without the server knowing the task.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from trainers.runtime.errors import StorageError
from trainers.serving.source import SAVED_MODEL, export_info

DEFAULT_SIGNATURE = "serving_default"
SERVABLE_ARTIFACTS = ("saved_model",)  # textjobs.json "artifact"; absent in older exports


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: tf.DType
    shape: tuple[int | None, ...] | None  # None: unknown rank

    @property
    def dims(self) -> list[int]:
        """The shape with -1 for any size, as TF Serving and the V2 protocol write it."""
        return [-1 if d is None else d for d in self.shape or ()]


@dataclass(frozen=True)
class Signature:
    name: str
    function: object  # a ConcreteFunction taking the inputs as keyword arguments
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]

    def __call__(self, tensors: dict[str, tf.Tensor]) -> dict[str, np.ndarray]:
        return {name: value.numpy() for name, value in self.function(**tensors).items()}


@dataclass
class Export:
    version: str
    path: Path
    info: dict
    signatures: dict[str, Signature]
    signature_defs: dict = field(default_factory=dict)  # TF Serving's SignatureDefMap as JSON
    loaded: object = None  # the signatures' variables live as long as the loaded SavedModel

    def signature(self, name: str | None) -> Signature:
        from trainers.serving.errors import BadRequest

        wanted = name or DEFAULT_SIGNATURE
        if wanted not in self.signatures:
            raise BadRequest(
                f"signature {wanted!r} not found; this export has {sorted(self.signatures)} "
                "(set signature_name, or parameters.signature_name in a V2 request)"
            )
        return self.signatures[wanted]


def _spec(name: str, spec) -> TensorSpec:
    shape = None if spec.shape.rank is None else tuple(spec.shape.as_list())
    return TensorSpec(name, spec.dtype, shape)


def _signature(name: str, function) -> Signature:
    _, kwargs = function.structured_input_signature
    inputs = {key: _spec(key, spec) for key, spec in sorted(kwargs.items())}
    outputs = {key: _spec(key, spec) for key, spec in sorted(function.structured_outputs.items())}
    return Signature(name, function, inputs, outputs)


def _signature_defs(version_dir: Path) -> dict:
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((version_dir / SAVED_MODEL).read_bytes())
    graph = next((g for g in proto.meta_graphs if "serve" in g.meta_info_def.tags), proto.meta_graphs[0])
    defs = {k: v for k, v in graph.signature_def.items() if not k.startswith("__")}
    return {k: json_format.MessageToDict(v, preserving_proto_field_name=True) for k, v in defs.items()}


def load(version: str, version_dir: Path) -> Export:
    info = export_info(version_dir)
    artifact = info.get("artifact", "saved_model")
    if artifact not in SERVABLE_ARTIFACTS:
        raise StorageError(
            f"{version_dir}: textjobs.json says the artifact is {artifact!r}; this server serves SavedModels only"
        )
    loaded = tf.saved_model.load(str(version_dir))
    signatures = {name: _signature(name, fn) for name, fn in loaded.signatures.items()}
    if not signatures:
        raise StorageError(f"{version_dir}: the SavedModel has no signatures to serve")
    export = Export(version, version_dir, info, signatures, _signature_defs(version_dir), loaded)
    warm_up(export)
    return export


def _example(spec: TensorSpec) -> tf.Tensor:
    """A one-row input of the signature's type: '' for strings, zeros otherwise."""
    dims = [1 if d is None else d for d in (spec.shape or (None,))]
    if spec.dtype == tf.string:
        return tf.fill(dims, "")
    return tf.zeros(dims, spec.dtype)


def warm_up(export: Export) -> None:
    """Call every signature once, so the first client request does not pay for tracing and
    kernel set-up. Best effort: a signature that rejects the dummy row is simply not warmed."""
    for signature in export.signatures.values():
        with contextlib.suppress(tf.errors.OpError, ValueError, TypeError):
            signature({name: _example(spec) for name, spec in signature.inputs.items()})
