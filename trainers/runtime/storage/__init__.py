"""Every file the runtime reads or writes, local or in a bucket, through one interface.

Callers pass paths or URIs and never test a scheme themselves: `is_remote(uri)` says whether a
location is outside this machine (the run then works in a scratch copy and mirrors to it), and
each function below hands the call to the backend of the URI's scheme (base.py has the
interface). A plain path is local; `gs://` is Google Cloud Storage; `s3://` any S3 API (s3.py). Every failure is a
StorageError (permanent, exit 3) or TransientStorageError (exit 200) naming the bucket and key.

    is_remote(uri)                       the location is in a bucket, not on this machine
    join(base, *parts)                   a child location of the same scheme
    exists(uri) / list_names(prefix)     one object / the names under a prefix, relative to it
    read_bytes(uri) / write_bytes(uri)   one object whole
    upload_file / download_file          one object to or from a local file
    upload_tree(dir, prefix, last=...)   mirror a directory, commit markers (`last`) uploaded last
    download_tree / local_tree           a tree under a prefix as a local directory
    fetch(uri, cache_dir)                a local path for one object (local paths as they are)
    delete(uri) / delete_tree(prefix)    one object / every object under a prefix
    check_buckets(uris)                  each distinct bucket exists and is reachable (one lookup each)
    check_writable(uri, probe)           something can be written under uri; leaves nothing behind
    configure(s3_endpoint=...)           a run's storage keys (s3Endpoint)
    guarded_write(what)                  a full disk inside the block is one retryable error
    bucket_root(value)                   'name' or 'scheme://name' as 'scheme://name' (default gs)
    create_bucket(uri)                   local tooling and tests (emulators)
    reset()                              forget cached clients (the emulator's address changed)

A new scheme is a backend module and one `register` line below.
"""

from __future__ import annotations

import os
from pathlib import Path

from trainers.runtime.errors import StorageError, TransientStorageError
from trainers.runtime.storage.base import Backend, backend_for, register, reset, retry_seconds, scheme_of, schemes
from trainers.runtime.storage.local import disk_full, guarded_write

register("", "trainers.runtime.storage.local")
register("gs", "trainers.runtime.storage.gcs")
register("s3", "trainers.runtime.storage.s3")

# `bucket=NAME` without a scheme means this one (the only one before other schemes existed).
DEFAULT_BUCKET_SCHEME = "gs"

__all__ = [
    "DEFAULT_BUCKET_SCHEME",
    "Backend",
    "StorageError",
    "TransientStorageError",
    "backend_for",
    "bucket_root",
    "check_buckets",
    "check_writable",
    "configure",
    "create_bucket",
    "delete",
    "delete_tree",
    "disk_full",
    "download_file",
    "download_tree",
    "exists",
    "fetch",
    "guarded_write",
    "is_remote",
    "join",
    "list_names",
    "local_tree",
    "read_bytes",
    "reset",
    "retry_seconds",
    "schemes",
    "upload_file",
    "upload_tree",
    "write_bytes",
]


def is_remote(uri: str | Path) -> bool:
    if not uri:
        return False
    try:
        return backend_for(uri).remote
    except StorageError:
        return True  # an unknown scheme is no local path; using it fails, naming the scheme


def join(base: str | Path, *parts: str) -> str:
    return backend_for(base).join(str(base), *parts)


def exists(uri: str | Path) -> bool:
    return backend_for(uri).exists(str(uri))


def list_names(prefix: str | Path) -> list[str]:
    return backend_for(prefix).list_names(str(prefix))


def read_bytes(uri: str | Path) -> bytes:
    return backend_for(uri).read_bytes(str(uri))


def write_bytes(uri: str | Path, data: bytes) -> None:
    backend_for(uri).write_bytes(str(uri), data)


def upload_file(local: Path, uri: str | Path) -> None:
    backend_for(uri).upload_file(Path(local), str(uri))


def download_file(uri: str | Path, local: Path) -> Path:
    return backend_for(uri).download_file(str(uri), Path(local))


def upload_tree(local_dir: Path, prefix: str | Path, last: tuple[str, ...] = (), on_file=None) -> None:
    backend_for(prefix).upload_tree(Path(local_dir), str(prefix), last, on_file)


def download_tree(prefix: str | Path, local_dir: Path) -> Path:
    return backend_for(prefix).download_tree(str(prefix), Path(local_dir))


def local_tree(prefix: str | Path, cache_dir: Path) -> Path:
    """A local directory with the tree under `prefix`: the directory itself when local."""
    return backend_for(prefix).local_tree(str(prefix), Path(cache_dir))


def fetch(uri: str | Path, cache_dir: Path) -> Path:
    """A local path for `uri`: itself when local, a downloaded copy when in a bucket."""
    return backend_for(uri).fetch(str(uri), Path(cache_dir))


def delete(uri: str | Path) -> None:
    backend_for(uri).delete(str(uri))


def delete_tree(prefix: str | Path) -> None:
    backend_for(prefix).delete_tree(str(prefix))


def check_buckets(uris) -> None:
    """Fail fast, before training, when a bucket of these locations is missing or unreachable:
    one lookup per bucket (modelDir, exportDir and the data usually share one)."""
    by_bucket: dict[str, str] = {}
    for uri in sorted({str(u) for u in uris if u}):
        root = backend_for(uri).bucket_of(uri)
        if root:
            by_bucket.setdefault(root, uri)
    for uri in by_bucket.values():
        backend_for(uri).check_bucket(uri)


def check_writable(uri: str | Path, probe: str) -> None:
    backend_for(uri).check_writable(str(uri), probe)


def configure(s3_endpoint: str = "") -> None:
    """Settings a run's keys give the backends: the s3Endpoint key, where set, is the S3
    backend's endpoint (it reads AWS_ENDPOINT_URL, as boto3 and the AWS tools do)."""
    if s3_endpoint:
        os.environ["AWS_ENDPOINT_URL"] = s3_endpoint
        reset()


def create_bucket(uri: str | Path) -> None:
    backend_for(uri).create_bucket(str(uri))


def bucket_root(value: str) -> str:
    """'name' -> 'gs://name'; 'scheme://name' stays; '' stays '' (no bucket)."""
    if not value:
        return ""
    return value if scheme_of(value) else f"{DEFAULT_BUCKET_SCHEME}://{value}"
