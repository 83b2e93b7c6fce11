"""What KServe's server lacks for TF Serving's REST contract, and a cap on request bodies.

KServe's V1 protocol answers `GET /v1/models/<name>` with `{"name", "ready"}`; TF Serving (what
KServe runs for a `tensorflow` InferenceService in the cluster) answers with
`model_version_status`, and adds `/metadata` with the signature definitions; KServe's V2 model metadata leaves the
version out. These routes are
registered before KServe's own, so the same client code works locally and in the cluster. The
predict route (`:predict`) and the whole V2 protocol are KServe's.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from trainers.serving.model import ServedModel

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


def _not_found(name: str, served: ServedModel, version: str | None = None) -> JSONResponse:
    if name != served.name:
        return JSONResponse({"error": f"no model named {name!r}; this server serves {served.name!r}"}, 404)
    return JSONResponse(
        {
            "error": f"version {version} of {name!r} is not loaded; the newest complete version, {served.current.version}, is"
        },
        404,
    )


def _status(served: ServedModel) -> dict:
    return {
        "model_version_status": [
            {
                "version": served.current.version,
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }


def tf_serving_router(served: ServedModel) -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/models/{name}")
    async def model_status(name: str):
        return _status(served) if name == served.name else _not_found(name, served)

    @router.get("/models/{name}/versions/{version}")
    async def version_status(name: str, version: str):
        if name != served.name or version != served.current.version:
            return _not_found(name, served, version)
        return _status(served)

    @router.get("/models/{name}/metadata")
    async def metadata(name: str):
        if name != served.name:
            return _not_found(name, served)
        export = served.current
        return {
            "model_spec": {"name": name, "signature_name": "", "version": export.version},
            "metadata": {"signature_def": {"signature_def": export.signature_defs}},
        }

    return router


def v2_metadata_router(served: ServedModel) -> APIRouter:
    """KServe's V2 model metadata leaves `versions` empty and `platform` blank; say which."""
    router = APIRouter(prefix="/v2")

    @router.get("/models/{name}")
    async def metadata(name: str):
        if name != served.name:
            return _not_found(name, served)
        return {
            "name": name,
            "versions": [served.current.version],
            "platform": "tensorflow_savedmodel",
            "inputs": served.get_input_types(),
            "outputs": served.get_output_types(),
        }

    return router


JSON_TYPES = (b"application/json", b"application/cloudevents+json", b"application/ld+json")
BINARY_V2_HEADER = b"inference-header-content-length"


def _as_json(scope) -> dict:
    """`curl -d` sends JSON as a form; TF Serving reads the body as JSON whatever its type, and so
    do we: without this KServe takes a V2 body that is not labelled JSON for binary tensor data."""
    headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
    given = dict(scope.get("headers") or [])
    content_type = given.get(b"content-type", b"").split(b";")[0].strip().lower()
    if content_type in JSON_TYPES or BINARY_V2_HEADER in given or content_type == b"application/octet-stream":
        return scope
    return {**scope, "headers": [*headers, (b"content-type", b"application/json")]}


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413, whether or not Content-Length is sent,
    before anything parses them; read every other body as JSON (see _as_json)."""

    def __init__(self, app, max_bytes: int = DEFAULT_MAX_BODY_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope.get("method") == "POST":
            scope = _as_json(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message]), send)  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(send)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        return await self.app(
            scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send
        )

    async def _refuse(self, send):
        body = json.dumps(
            {"error": f"request body over {self.max_bytes} bytes; send fewer examples per request (--max-body-bytes)"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[dict], then=None):
    async def receive():
        if messages:
            return messages.pop(0)
        return await then() if then is not None else {"type": "http.disconnect"}

    return receive


def install(app: FastAPI, served: ServedModel, max_body_bytes: int) -> None:
    """Before KServe registers its routes: ours must match first."""
    app.include_router(tf_serving_router(served))
    app.include_router(v2_metadata_router(served))
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
