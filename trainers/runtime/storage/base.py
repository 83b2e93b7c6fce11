"""The storage backend interface, and how backends register by URI scheme.

A backend serves one scheme (`gs`, later `s3`; the empty scheme is a local path). It implements
the primitives below; trees, fetching and deleting a prefix are built on them here, once for every
backend. Each primitive raises only the runtime's StorageError (permanent, exit 3: a missing
bucket or object, permission denied, a bad request) or TransientStorageError (exit 200: an outage
that outlived the retry budget), with the bucket and key in the message. Retries with backoff
happen inside the backend, within `retry_seconds()`.

A new backend is one module with a `Backend` subclass named `BACKEND`, and one `register` line in
`storage/__init__.py`. Its module is imported on first use, so a run that never touches that
scheme never loads its client library.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from abc import ABC, abstractmethod
from pathlib import Path

from trainers.runtime.errors import ConfigError, StorageError

# TEXTJOBS_GCS_RETRY_SECONDS is the name the first (GCS-only) release read; it still works.
RETRY_ENV = ("TEXTJOBS_STORAGE_RETRY_SECONDS", "TEXTJOBS_GCS_RETRY_SECONDS")
DEFAULT_RETRY_SECONDS = 60.0
SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://")


def retry_seconds() -> float:
    """How long a backend keeps retrying a transient failure before it gives up (exit 200)."""
    for name in RETRY_ENV:
        value = os.environ.get(name)
        if value:
            try:
                seconds = float(value)
            except ValueError:
                seconds = -1.0
            if seconds < 0:
                raise ConfigError(f"{name}={value!r} must be a number of seconds >= 0")
            return seconds
    return DEFAULT_RETRY_SECONDS


def scheme_of(uri: str | Path) -> str:
    """`gs` for gs://bucket/key; '' for a local path."""
    match = SCHEME.match(str(uri))
    return match.group(1) if match else ""


def split(uri: str) -> tuple[str, str]:
    """(bucket, key) of scheme://bucket/key; the key has no leading or trailing '/'."""
    scheme = scheme_of(uri)
    bucket, _, key = uri[len(scheme) + 3 :].partition("/")
    if not bucket:
        raise StorageError(f"{uri!r} names no bucket")
    return bucket, key.strip("/")


class Backend(ABC):
    """One storage scheme. URIs passed in are always of this backend's scheme."""

    scheme: str = ""
    # Whether paths of this scheme live outside this machine: the run then works in a local
    # scratch copy and mirrors its files there.
    remote: bool = True

    # -- primitives --------------------------------------------------------------------------

    @abstractmethod
    def check_bucket(self, uri: str) -> None:
        """Fail fast, before training, when the bucket of `uri` is missing or unreadable."""

    @abstractmethod
    def check_writable(self, uri: str, probe: str) -> None:
        """Fail when nothing can be written under `uri`; leave nothing behind. `probe` is a name
        (unique to the run) the backend may write and delete under `uri` to find out."""

    @abstractmethod
    def exists(self, uri: str) -> bool:
        """Whether one object (file) exists: a single lookup, not a listing."""

    @abstractmethod
    def list_names(self, prefix: str) -> list[str]:
        """Names of the objects (files) under a prefix (a 'directory'), relative to it."""

    @abstractmethod
    def read_bytes(self, uri: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write one object whole: readers see the old content or the new, never a part."""

    @abstractmethod
    def upload_file(self, local: Path, uri: str) -> None:
        """Copy a local file to `uri`, whole (as write_bytes)."""

    @abstractmethod
    def download_file(self, uri: str, local: Path) -> Path:
        """Copy `uri` to a local file; a failed copy leaves no partial file."""

    @abstractmethod
    def delete(self, uri: str) -> None:
        """Delete one object; an absent one is no error."""

    def create_bucket(self, uri: str) -> None:
        """Create the bucket of `uri` (local tooling and tests against an emulator)."""
        raise StorageError(f"{uri}: creating buckets is not supported for {self.scheme}://")

    def reset(self) -> None:  # noqa: B027 - a backend without a cached client has nothing to forget
        """Forget cached clients (after the environment, e.g. an emulator's address, changed)."""

    # -- built on the primitives -------------------------------------------------------------

    def join(self, base: str, *parts: str) -> str:
        return "/".join([str(base).rstrip("/"), *parts])

    def bucket_of(self, uri: str) -> str:
        return f"{self.scheme}://{split(uri)[0]}"

    def upload_tree(self, local_dir: Path, prefix: str, last: tuple[str, ...] = (), on_file=None) -> None:
        """Mirror a directory to `prefix`. Files named in `last` (paths relative to `local_dir`) go
        up after every other file, in that order: a reader that waits for them (commit markers)
        never sees a partial tree."""

        def order(path: Path) -> int:
            name = path.relative_to(local_dir).as_posix()
            return last.index(name) + 1 if name in last else 0

        files = sorted(p for p in Path(local_dir).rglob("*") if p.is_file())
        files.sort(key=order)
        for path in files:
            self.upload_file(path, self.join(prefix, *path.relative_to(local_dir).parts))
            if on_file is not None:
                on_file(path)

    def download_tree(self, prefix: str, local_dir: Path) -> Path:
        names = self.list_names(prefix)
        if not names:
            raise StorageError(f"{prefix} is empty or does not exist")
        for name in names:
            self.download_file(self.join(prefix, name), Path(local_dir) / name)
        return Path(local_dir)

    def delete_tree(self, prefix: str) -> None:
        """Delete every object under `prefix` (a 'directory': not its siblings that share a start)."""
        for name in self.list_names(prefix):
            self.delete(self.join(prefix, name))

    def fetch(self, uri: str, cache_dir: Path) -> Path:
        """A local copy of one object, under cache_dir/<bucket>/<key>."""
        bucket, key = split(uri)
        return self.download_file(uri, Path(cache_dir) / bucket / key)

    def local_tree(self, prefix: str, cache_dir: Path) -> Path:
        """A local directory holding the tree under `prefix`, downloaded into cache_dir."""
        return self.download_tree(prefix, cache_dir)


_MODULES: dict[str, str] = {}


def register(scheme: str, module: str) -> None:
    """Serve `scheme://` URIs with the `BACKEND` of `module` (imported on first use)."""
    _MODULES[scheme] = module


def schemes() -> tuple[str, ...]:
    """The registered bucket schemes (the local backend's empty scheme left out)."""
    return tuple(sorted(s for s in _MODULES if s))


def backend(scheme: str) -> Backend:
    if scheme not in _MODULES:
        known = ", ".join(f"{s}://" for s in schemes())
        raise StorageError(f"no storage backend for {scheme}:// (this trainer knows {known} and local paths)")
    found = importlib.import_module(_MODULES[scheme]).BACKEND
    assert found.scheme == scheme, (found, scheme)
    return found


def backend_for(uri: str | Path) -> Backend:
    return backend(scheme_of(uri))


def reset() -> None:
    """Make every backend loaded so far forget its cached client."""
    for module in _MODULES.values():
        if module in sys.modules:
            sys.modules[module].BACKEND.reset()
