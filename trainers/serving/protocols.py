"""The two request formats, on one loaded export.

- TF Serving's REST predict (`/v1/models/<name>:predict`): `{"signature_name": ..., "instances":
  [...]}` (row format, answered with `predictions`) or `{"inputs": ...}` (columnar, answered with
  `outputs`). A signature with one input takes bare values; with several, objects keyed by input.
- The Open Inference Protocol V2 (`/v2/models/<name>/infer`): named, typed, shaped tensors;
  `parameters.signature_name` picks a signature, `outputs` selects outputs.

Both run the same signature callables; both refuse what does not fit with a 400 naming the field.
"""

from __future__ import annotations

import uuid

import numpy as np
import orjson

from trainers.serving.errors import BadRequest
from trainers.serving.exported import Export, Signature
from trainers.serving.kserve_api import InferOutput, InferRequest, InferResponse
from trainers.serving.tensors import from_json, from_v2, to_json, v2_datatype

V1_KEYS = {"signature_name", "instances", "inputs"}


def _named(value, name: str) -> bool:
    return isinstance(value, dict) and set(value) == {name}


def _keyed(value) -> bool:
    """An object of named inputs (not the {"b64": ...} form of one string)."""
    return isinstance(value, dict) and set(value) != {"b64"}


def _row_columns(signature: Signature, rows) -> dict[str, list]:
    if not isinstance(rows, list) or not rows:
        raise BadRequest('"instances" must be a non-empty list, one element per example')
    names = list(signature.inputs)
    if len(names) == 1:
        only = names[0]
        for index, row in enumerate(rows):
            if _keyed(row) and not _named(row, only):
                raise BadRequest(
                    f"instances[{index}]: keys {sorted(row)}; signature {signature.name!r} takes [{only!r}]"
                )
        return {only: [row[only] if _named(row, only) else row for row in rows]}
    columns: dict[str, list] = {name: [] for name in names}
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != set(names):
            got = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise BadRequest(
                f"instances[{index}]: signature {signature.name!r} takes an object with keys {names}, got {got}"
            )
        for name in names:
            columns[name].append(row[name])
    return columns


def _columnar(signature: Signature, inputs) -> dict:
    names = list(signature.inputs)
    if len(names) == 1 and not _keyed(inputs):
        return {names[0]: inputs}
    if not isinstance(inputs, dict):
        raise BadRequest(f'"inputs": signature {signature.name!r} takes an object with keys {names}')
    missing, unknown = sorted(set(names) - set(inputs)), sorted(set(inputs) - set(names))
    if missing or unknown:
        raise BadRequest(f'"inputs": signature {signature.name!r} takes {names}; missing {missing}, unknown {unknown}')
    return inputs


def v1_predict(export: Export, body) -> dict:
    if isinstance(body, (bytes, str)):  # KServe passes the body through undecoded unless it is sent as JSON
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object with "instances" or "inputs"')
    unknown = sorted(set(body) - V1_KEYS)
    if unknown:
        raise BadRequest(f"unknown key(s) {unknown}; a predict request has {sorted(V1_KEYS)}")
    if ("instances" in body) == ("inputs" in body):
        raise BadRequest('give exactly one of "instances" (row format) or "inputs" (columnar format)')
    name = body.get("signature_name")
    if name is not None and not isinstance(name, str):
        raise BadRequest('"signature_name" must be a string')
    signature = export.signature(name)
    if "instances" in body:
        columns = _row_columns(signature, body["instances"])
        tensors = {k: from_json(signature.inputs[k], v, f"instances.{k}") for k, v in columns.items()}
        return {"predictions": _rows(signature(tensors), len(body["instances"]))}
    columns = _columnar(signature, body["inputs"])
    tensors = {k: from_json(signature.inputs[k], v, f"inputs.{k}") for k, v in columns.items()}
    outputs = {k: to_json(k, v) for k, v in signature(tensors).items()}
    return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}


def _rows(outputs: dict[str, np.ndarray], count: int) -> list:
    sizes = {name: (value.shape[0] if value.ndim else None) for name, value in outputs.items()}
    uneven = {name: size for name, size in sizes.items() if size != count}
    if uneven:
        raise BadRequest(
            f"outputs {sorted(uneven)} do not have one row per instance ({uneven} for {count}); use the columnar "
            '"inputs" format for this signature'
        )
    columns = {name: to_json(name, value) for name, value in outputs.items()}
    if len(columns) == 1:
        return next(iter(columns.values()))
    return [{name: column[i] for name, column in columns.items()} for i in range(count)]


def _signature_name(request: InferRequest) -> str | None:
    name = (request.parameters or {}).get("signature_name")
    if name is not None and not isinstance(name, str):
        raise BadRequest("parameters.signature_name must be a string")
    return name


def v2_infer(export: Export, request: InferRequest, model_name: str) -> InferResponse:
    signature = export.signature(_signature_name(request))
    given = [tensor.name for tensor in request.inputs]
    expected = list(signature.inputs)
    if sorted(given) != sorted(expected):
        raise BadRequest(f"inputs {given}: signature {signature.name!r} takes exactly {expected}")
    tensors = {}
    for index, tensor in enumerate(request.inputs):
        spec = signature.inputs[tensor.name]
        raw = {"datatype": tensor.datatype, "shape": list(tensor.shape), "data": tensor.data}
        tensors[tensor.name] = from_v2(spec, raw, f"inputs[{index}] ({tensor.name})")
    outputs = signature(tensors)
    wanted = [o.name for o in request.request_outputs or []] or list(outputs)
    unknown = sorted(set(wanted) - set(outputs))
    if unknown:
        raise BadRequest(f"outputs {unknown} requested; signature {signature.name!r} returns {sorted(outputs)}")
    infer_outputs = [
        InferOutput(name, list(outputs[name].shape), v2_datatype(signature.outputs[name].dtype), _v2(outputs[name]))
        for name in wanted
    ]
    return InferResponse(request.id or str(uuid.uuid4()), model_name, infer_outputs, model_version=export.version)


def _v2(array: np.ndarray) -> np.ndarray:
    if array.dtype == object:  # bytes -> text; KServe refuses bytes that are not UTF-8
        return np.vectorize(lambda b: b.decode("utf-8", errors="replace"), otypes=[object])(array)
    return array
