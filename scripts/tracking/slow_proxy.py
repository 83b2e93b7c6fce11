"""A TCP proxy on 127.0.0.1 that delays every chunk it forwards: a slow tracking server, for real.

Each direction of each connection is pumped by its own thread, which holds every chunk it reads
for `delay_s` before passing it on, so a request/response exchange costs about 2 x delay_s more
than without the proxy (a far server, or one under load), and kept-alive connections stay slow.
The tracking benchmark puts it between the trainer and a real MLflow server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

CHUNK = 65536


class SlowProxy:
    def __init__(self, target_port: int, delay_s: float):
        self.target_port = target_port
        self.delay_s = delay_s
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, name="slow-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> SlowProxy:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        self.listener.close()
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.close()
        self.thread.join(5)

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()  # the server is down: so is the proxy's answer
                continue
            with self.lock:
                self.connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(None)
        try:
            while chunk := source.recv(CHUNK):
                time.sleep(self.delay_s)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            # One side closed: close both, as a proxy does (the client's pool opens a new one).
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
