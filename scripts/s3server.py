"""A real S3 server on 127.0.0.1 for tests and local runs: versitygw (bin/versitygw, pinned by
`make setup`) serving a directory, on a free port, with throwaway root keys.

    with S3Server(Path("runs/.s3")) as server:     # AWS_* set in this process while it runs
        subprocess.run(cmd, env={**os.environ, **server.env()})

    python -m scripts.s3server DIR [--bucket NAME ...]   # serve DIR until Ctrl-C (prints the env)

The keys are fixed, local-only values: the server holds nothing but what a test or a local run
puts there, and listens on loopback only.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "bin" / "versitygw"
# Local-only credentials of the loopback server (never a real account's).
ACCESS_KEY = "textjobs-local"
SECRET_KEY = "textjobs-local-secret"  # noqa: S105 - a loopback test server's fixed key
REGION = "us-east-1"
START_TIMEOUT = 20.0


class S3ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """versitygw's posix backend over `root` (each bucket a directory)."""

    def __init__(self, root: Path, binary: Path = BINARY):
        self.root = Path(root)
        self.binary = Path(binary)
        self.process: subprocess.Popen | None = None
        self.port = 0
        self._saved: dict[str, str | None] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, url: str | None = None) -> dict[str, str]:
        """What a client needs to reach this server (or `url`, a proxy in front of it)."""
        return {
            "AWS_ENDPOINT_URL": url or self.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        }

    def start(self) -> S3Server:
        if not self.binary.exists():
            raise S3ServerError(f"{self.binary} is missing: run `make setup` (it installs versitygw v1.8.0)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = {
            **os.environ,
            "ROOT_ACCESS_KEY_ID": ACCESS_KEY,
            "ROOT_SECRET_ACCESS_KEY": SECRET_KEY,
        }
        self.process = subprocess.Popen(
            [str(self.binary), "--port", f"127.0.0.1:{self.port}", "--region", REGION, "posix", str(self.root)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace")[-1500:]
                raise S3ServerError(f"versitygw exited {self.process.returncode}: {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise S3ServerError(f"versitygw did not listen on 127.0.0.1:{self.port} within {START_TIMEOUT:g} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> S3Server:
        self.start()
        self._saved = {key: os.environ.get(key) for key in self.env()}
        os.environ.update(self.env())
        _reset_clients()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reset_clients()


def _reset_clients() -> None:
    from trainers.runtime import storage

    storage.reset()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.s3server", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="directory the server keeps its buckets in")
    parser.add_argument("--bucket", action="append", default=[], help="create this bucket (repeatable)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from trainers.runtime import storage

    with S3Server(args.root) as server:
        for bucket in args.bucket:
            if not (args.root / bucket).is_dir():
                storage.create_bucket(f"s3://{bucket}")
        for key, value in server.env().items():
            print(f"export {key}={value}", flush=True)
        try:
            while server.process is not None and server.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
