"""Local paths and gs:// buckets behind one small interface.

All bucket I/O goes through google-cloud-storage, which honours GOOGLE_APPLICATION_CREDENTIALS
and STORAGE_EMULATOR_HOST (TensorFlow's own gs:// filesystem cannot be pointed at an emulator).
Transient failures (429, 5xx, connection resets, timeouts) are retried with exponential backoff
by google-api-core's Retry; a missing bucket or a permission problem becomes a StorageError that
says which bucket and what to check.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from google.api_core import exceptions as gexc
from google.cloud.storage.retry import DEFAULT_RETRY

# Our writes overwrite whole objects with the same bytes, so retrying them is safe.
RETRY = DEFAULT_RETRY.with_delay(initial=0.2, maximum=5.0, multiplier=2.0).with_timeout(
    float(os.environ.get("TEXTJOBS_GCS_RETRY_SECONDS", "60"))
)


class StorageError(RuntimeError):
    pass


def is_gcs(path: str) -> bool:
    return str(path).startswith("gs://")


def split_gcs(uri: str) -> tuple[str, str]:
    without = uri[len("gs://") :]
    bucket, _, prefix = without.partition("/")
    if not bucket:
        raise StorageError(f"{uri!r} names no bucket")
    return bucket, prefix.strip("/")


def join(base: str, *parts: str) -> str:
    if is_gcs(base):
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base, *parts))


@functools.lru_cache(maxsize=1)
def client():
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project="textjobs-local", credentials=AnonymousCredentials())
    return storage.Client()


def _bucket(name: str):
    return client().bucket(name)


def _explain(exc: Exception, uri: str) -> StorageError:
    bucket = uri.removeprefix("gs://").split("/", 1)[0]
    if isinstance(exc, gexc.NotFound):
        try:
            exists = client().lookup_bucket(bucket, retry=RETRY) is not None
        except gexc.GoogleAPICallError:
            exists = True
        if not exists:
            return StorageError(f"bucket gs://{bucket} does not exist (needed for {uri})")
        return StorageError(f"{uri} does not exist")
    if isinstance(exc, gexc.Forbidden | gexc.Unauthorized):
        return StorageError(
            f"permission denied on {uri}: check the service account's roles on gs://{bucket} "
            "and GOOGLE_APPLICATION_CREDENTIALS or workload identity"
        )
    return StorageError(f"{uri}: {exc}")


def check_bucket(uri: str) -> None:
    """Fail fast, before training, when the bucket of `uri` is missing or unreadable."""
    bucket, _ = split_gcs(uri)
    try:
        found = client().lookup_bucket(bucket, retry=RETRY)
    except gexc.GoogleAPICallError as exc:
        raise _explain(exc, uri) from None
    if found is None:
        raise StorageError(f"bucket gs://{bucket} does not exist (needed for {uri})")


def download_file(uri: str, local: Path) -> Path:
    bucket, name = split_gcs(uri)
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(local.name + ".partial")
    try:
        _bucket(bucket).blob(name).download_to_filename(str(partial), retry=RETRY)
    except gexc.GoogleAPICallError as exc:
        partial.unlink(missing_ok=True)
        raise _explain(exc, uri) from None
    partial.replace(local)
    return local


def list_names(uri_prefix: str) -> list[str]:
    """Object names under a prefix (a 'directory'), relative to it."""
    bucket, prefix = split_gcs(uri_prefix)
    prefix = f"{prefix}/" if prefix else ""
    try:
        blobs = client().list_blobs(bucket, prefix=prefix, retry=RETRY)
        return [b.name[len(prefix) :] for b in blobs]
    except gexc.GoogleAPICallError as exc:
        raise _explain(exc, uri_prefix) from None


def exists(uri: str) -> bool:
    """Whether one object exists: a single lookup, not a listing of its directory."""
    bucket, name = split_gcs(uri)
    try:
        return _bucket(bucket).blob(name).exists(retry=RETRY)
    except gexc.GoogleAPICallError as exc:
        raise _explain(exc, uri) from None


def upload_file(local: Path, uri: str) -> None:
    bucket, name = split_gcs(uri)
    try:
        _bucket(bucket).blob(name).upload_from_filename(str(local), retry=RETRY)
    except gexc.GoogleAPICallError as exc:
        raise _explain(exc, uri) from None


def upload_tree(local_dir: Path, uri_prefix: str, last: tuple[str, ...] = ()) -> None:
    """Upload a directory; files named in `last` go up after all others (commit markers)."""
    files = sorted(p for p in local_dir.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name in last)
    for path in files:
        upload_file(path, join(uri_prefix, *path.relative_to(local_dir).parts))


def download_tree(uri_prefix: str, local_dir: Path) -> Path:
    names = list_names(uri_prefix)
    if not names:
        raise StorageError(f"{uri_prefix} is empty or does not exist")
    for name in names:
        download_file(join(uri_prefix, name), local_dir / name)
    return local_dir


def delete(uri: str) -> None:
    bucket, name = split_gcs(uri)
    try:
        _bucket(bucket).blob(name).delete(retry=RETRY)
    except gexc.NotFound:
        pass
    except gexc.GoogleAPICallError as exc:
        raise _explain(exc, uri) from None


def fetch(path: str, cache_dir: Path) -> Path:
    """A local path for `path`: itself when local, a downloaded copy when in a bucket."""
    if not is_gcs(path):
        return Path(path)
    bucket, name = split_gcs(path)
    return download_file(path, cache_dir / bucket / name)
