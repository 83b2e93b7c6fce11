"""The served model: the newest export version, replaced in place when a newer one appears.

Each request takes the version that is current when it starts and finishes on it, so a swap never
mixes versions inside one answer. A version that fails to load is logged and skipped (the old one
keeps serving) until an even newer one appears. Signatures run on a thread pool, off the event
loop: health checks and metrics answer while the model computes.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tensorflow as tf
from prometheus_client import Counter, Gauge

from trainers.serving.errors import BadRequest
from trainers.serving.exported import DEFAULT_SIGNATURE, Export, load
from trainers.serving.kserve_api import InferRequest, Model
from trainers.serving.protocols import v1_predict, v2_infer
from trainers.serving.source import ExportSource
from trainers.serving.tensors import v2_datatype

log = logging.getLogger("trainers.serving")

VERSION = Gauge("textjobs_model_version", "export version being served", ["model_name"])
IN_FLIGHT = Gauge("textjobs_requests_in_flight", "predict and infer requests being computed", ["model_name"])
RELOADS = Counter("textjobs_model_reloads_total", "attempts to load a new export version", ["model_name", "outcome"])


class ServedModel(Model):
    def __init__(self, name: str, source: ExportSource, cache: Path, threads: int):
        super().__init__(name)
        self.source = source
        self.cache = cache
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="predict")
        self.current: Export | None = None
        self.failed: set[str] = set()
        self._lock = threading.Lock()  # one load at a time (start-up and the poller)

    def _load(self, version: str) -> Export:
        return load(version, self.source.fetch(version, self.cache))

    def load(self) -> bool:
        version = self.source.newest()
        self.current = self._load(version)
        VERSION.labels(self.name).set(int(version))
        self.ready = True
        return True

    def refresh(self) -> str | None:
        """Serve the newest complete version if it is not the one being served; its name when swapped."""
        with self._lock:
            newest = self.source.newest()
            if newest is None or self.current is None or newest == self.current.version or newest in self.failed:
                return None
            try:
                export = self._load(newest)
            except Exception as exc:  # a broken export must not take the server down
                self.failed.add(newest)
                RELOADS.labels(self.name, "failed").inc()
                log.error("version %s failed to load, still serving %s: %s", newest, self.current.version, exc)
                return None
            old, self.current = self.current, export
            VERSION.labels(self.name).set(int(newest))
            RELOADS.labels(self.name, "loaded").inc()
            log.info("now serving version %s (was %s)", newest, old.version)
            if old.path.is_relative_to(self.cache):  # a downloaded copy; the loaded graph keeps what it needs
                shutil.rmtree(self.cache / old.version, ignore_errors=True)
            return newest

    async def predict(self, payload, headers=None):
        export = self.current
        loop = asyncio.get_running_loop()
        if isinstance(payload, InferRequest):
            call = (v2_infer, export, payload, self.name)
        else:
            call = (v1_predict, export, payload)
        try:
            with IN_FLIGHT.labels(self.name).track_inprogress():
                return await loop.run_in_executor(self.executor, *call)
        except tf.errors.InvalidArgumentError as exc:  # the graph itself refused the values
            raise BadRequest(f"the model refused the input: {exc.message.splitlines()[0]}") from exc

    def _types(self, side: str) -> list[dict]:
        signature = self.current.signatures.get(DEFAULT_SIGNATURE) or next(iter(self.current.signatures.values()))
        specs = getattr(signature, side).values()
        return [{"name": s.name, "datatype": v2_datatype(s.dtype), "shape": s.dims} for s in specs]

    def get_input_types(self) -> list[dict]:
        return self._types("inputs")

    def get_output_types(self) -> list[dict]:
        return self._types("outputs")

    def stop(self):
        self.ready = False
        self.executor.shutdown(wait=True)


class Poller(threading.Thread):
    """Looks for a newer export version every `seconds` until stopped."""

    def __init__(self, model: ServedModel, seconds: float):
        super().__init__(name="version-poller", daemon=True)
        self.model, self.seconds = model, seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.seconds):
            try:
                self.model.refresh()
            except Exception as exc:  # storage hiccups: try again next round
                log.warning("looking for a new version failed: %s", exc)

    def stop(self) -> None:
        self.stopped.set()
