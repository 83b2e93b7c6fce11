"""Wire the served model into KServe's REST server and run it until SIGTERM or Ctrl-C.

The listening socket is bound here, before the server starts, so port 0 gives a free port whose
address can be printed; the line is printed once the model is loaded and the socket accepts
connections. On SIGTERM uvicorn stops accepting, lets requests in flight finish (up to
`grace_seconds`), and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from trainers.serving import kserve_api, routes
from trainers.serving.model import Poller, ServedModel
from trainers.serving.source import ExportSource

log = logging.getLogger("trainers.serving")


@dataclass(frozen=True)
class Options:
    model: str
    name: str
    host: str = "127.0.0.1"
    port: int = 0
    poll_seconds: float = 5.0
    max_body_bytes: int = routes.DEFAULT_MAX_BODY_BYTES
    threads: int = 4
    grace_seconds: int = 30
    access_log: bool = False


def configure_logging(access_log: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name, level in (("trainers.serving", logging.INFO), ("uvicorn.error", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.handlers, logger.level, logger.propagate = [handler], level, False
    access = logging.getLogger("uvicorn.access")
    access.handlers, access.propagate = ([handler] if access_log else []), False
    access.setLevel(logging.INFO if access_log else logging.CRITICAL)


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _exit_quietly(signum, frame):
    # uvicorn re-raises the signal it caught once it has drained; end the process cleanly then.
    raise SystemExit(0)


def announce(options: Options, served: ServedModel, address: str) -> None:
    export = served.current
    url = f"http://{address}"
    print(
        f"serving {served.name!r} version {export.version} ({export.info.get('task', 'unknown task')}; "
        f"signatures {', '.join(sorted(export.signatures))}) from {options.model}\n"
        f"  listening on {url}  (TF Serving REST /v1, Open Inference Protocol /v2, /metrics)\n"
        f"  curl {url}/v1/models/{served.name}\n"
        f"  curl {url}/v2/models/{served.name}",
        flush=True,
    )


def serve(options: Options) -> int:
    configure_logging(options.access_log)
    # KServe 0.21 answers with FastAPI's ORJSONResponse, which FastAPI now marks deprecated: not ours to fix.
    warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")
    source = ExportSource.open(options.model)
    with tempfile.TemporaryDirectory(prefix="textjobs-serve-") as cache:
        served = ServedModel(options.name, source, Path(cache), options.threads)
        served.load()
        repository = kserve_api.ModelRepository()
        repository.update(served)
        dataplane = kserve_api.DataPlane(model_registry=repository)
        extension = kserve_api.ModelRepositoryExtension(model_registry=repository)
        routes.install(kserve_api.app, served, options.max_body_bytes)
        rest = kserve_api.RESTServer(
            "kserve.model_server:app", dataplane, extension, options.port, grace_period=options.grace_seconds
        )
        sock = listen(options.host, options.port)
        host, port = sock.getsockname()[:2]
        poller = Poller(served, options.poll_seconds) if options.poll_seconds > 0 and not source.single else None
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _exit_quietly)
        announce(options, served, f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
        if poller is not None:
            poller.start()
        try:
            rest.run(sockets=[sock])
        finally:
            if poller is not None:
                poller.stop()
            served.stop()
            log.info("stopped")
    return 0
