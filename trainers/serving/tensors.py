"""JSON values to the tensors a signature takes, and its outputs back to JSON, with a clear
400 for every value that does not fit (wrong type, ragged lists, wrong rank or size).

Strings travel as UTF-8 text, or as `{"b64": "..."}` for arbitrary bytes (TF Serving's REST
convention; an output whose name ends in `_bytes` is always base64).
"""

from __future__ import annotations

import base64
import binascii
import math

import numpy as np
import tensorflow as tf

from trainers.serving.errors import BadRequest
from trainers.serving.exported import TensorSpec

# The Open Inference Protocol's datatypes.
V2_DATATYPES = {
    tf.bool: "BOOL",
    tf.uint8: "UINT8",
    tf.uint16: "UINT16",
    tf.uint32: "UINT32",
    tf.uint64: "UINT64",
    tf.int8: "INT8",
    tf.int16: "INT16",
    tf.int32: "INT32",
    tf.int64: "INT64",
    tf.float16: "FP16",
    tf.float32: "FP32",
    tf.float64: "FP64",
    tf.string: "BYTES",
}


def v2_datatype(dtype: tf.DType) -> str:
    return V2_DATATYPES.get(dtype, dtype.name.upper())


def shape_of(value, where: str) -> list[int]:
    """The shape of nested lists, refusing ragged ones."""
    if not isinstance(value, list):
        return []
    if not value:
        return [0]
    inner = shape_of(value[0], f"{where}[0]")
    for index, item in enumerate(value[1:], 1):
        if shape_of(item, f"{where}[{index}]") != inner:
            raise BadRequest(
                f"{where}: ragged: {where}[{index}] has shape {shape_of(item, '')} but {where}[0] has {inner}; "
                "every row must have the same shape"
            )
    return [len(value), *inner]


def _flatten(value) -> list:
    if not isinstance(value, list):
        return [value]
    return [leaf for item in value for leaf in _flatten(item)]


def _string(item, where: str) -> bytes:
    if isinstance(item, str):
        return item.encode("utf-8")
    if isinstance(item, dict) and set(item) == {"b64"} and isinstance(item["b64"], str):
        try:
            return base64.b64decode(item["b64"], validate=True)
        except binascii.Error as exc:
            raise BadRequest(f"{where}: b64 is not valid base64 ({exc})") from exc
    raise BadRequest(f'{where}: expected a string (or {{"b64": ...}}), got {type(item).__name__} {item!r:.40}')


def _check_shape(spec: TensorSpec, shape: list[int], where: str) -> None:
    if spec.shape is None:
        return
    fits = len(shape) == len(spec.shape) and all(
        want is None or want == got for want, got in zip(spec.shape, shape, strict=True)
    )
    if not fits:
        raise BadRequest(f"{where}: shape {shape} does not fit input {spec.name!r} of shape {spec.dims} (-1: any size)")


def to_tensor(spec: TensorSpec, flat: list, shape: list[int], where: str) -> tf.Tensor:
    """A tensor of `spec`'s type from row-major values and a shape."""
    _check_shape(spec, shape, where)
    if spec.dtype == tf.string:
        data = np.array([_string(item, f"{where}[{i}]") for i, item in enumerate(flat)], dtype=object)
    else:
        bad = next((i for i, item in enumerate(flat) if isinstance(item, (str, dict, list)) or item is None), None)
        if bad is not None:
            raise BadRequest(
                f"{where}[{bad}]: expected a number for {spec.dtype.name} input {spec.name!r}, got {flat[bad]!r:.40}"
            )
        try:
            data = np.asarray(flat, dtype=spec.dtype.as_numpy_dtype)
        except (ValueError, OverflowError, TypeError) as exc:
            raise BadRequest(f"{where}: not {spec.dtype.name} values ({exc})") from exc
    return tf.constant(data.reshape(shape), dtype=spec.dtype)


def from_json(spec: TensorSpec, value, where: str) -> tf.Tensor:
    """A tensor from a (possibly nested) JSON value."""
    return to_tensor(spec, _flatten(value), shape_of(value, where), where)


def from_v2(spec: TensorSpec, tensor: dict, where: str) -> tf.Tensor:
    """A tensor from an Open Inference Protocol input: name, shape, datatype, data (row-major)."""
    datatype = str(tensor.get("datatype", "")).upper()
    if datatype != v2_datatype(spec.dtype):
        raise BadRequest(f"{where}: datatype {datatype!r}, but input {spec.name!r} takes {v2_datatype(spec.dtype)}")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise BadRequest(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    if tensor.get("data") is None:
        raise BadRequest(f"{where}: no data (binary tensor data is not supported here; send data as JSON)")
    flat = _flatten(tensor.get("data"))
    if len(flat) != math.prod(shape):
        raise BadRequest(f"{where}: {len(flat)} values for shape {shape} ({math.prod(shape)} expected)")
    return to_tensor(spec, flat, shape, where)


def to_json(name: str, array: np.ndarray):
    """An output as nested lists; strings as text (base64 for `*_bytes` names or invalid UTF-8)."""
    if array.dtype != object:
        return array.tolist()
    return np.vectorize(lambda b: _text(name, b), otypes=[object])(array).tolist() if array.size else array.tolist()


def _text(name: str, value: bytes):
    if not name.endswith("_bytes"):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return {"b64": base64.b64encode(value).decode("ascii")}


def to_v2_data(name: str, array: np.ndarray) -> list:
    """Row-major values of an output for the V2 protocol (BYTES as text)."""
    if array.dtype == object:
        return [value.decode("utf-8", errors="replace") for value in array.reshape(-1)]
    return array.reshape(-1).tolist()
