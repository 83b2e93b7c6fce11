"""Local paths and gs:// buckets behind one small interface.

All bucket I/O goes through google-cloud-storage, which honours GOOGLE_APPLICATION_CREDENTIALS
and STORAGE_EMULATOR_HOST (TensorFlow's own gs:// filesystem cannot be pointed at an emulator).
Transient failures (429, 5xx, connection resets, timeouts) are retried with exponential backoff
by google-api-core's Retry for TEXTJOBS_GCS_RETRY_SECONDS (default 60). Every failure leaves this
module as one of two errors, never as a library traceback:

- StorageError (permanent, exit 3): a missing bucket or object, permission denied, bad request;
- TransientStorageError (retryable, exit 200): the outage outlived the retry budget, so the
  TFJob's ExitCode policy restarts the pod, which resumes from its checkpoint.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.cloud.storage import retry as storage_retry

from trainers.runtime.errors import StorageError, TransientStorageError

__all__ = ["StorageError", "TransientStorageError"]

T = TypeVar("T")
PERMANENT_STATUS = {400, 401, 403, 404, 405, 409, 411, 412, 413, 416}


def retry_seconds() -> float:
    return float(os.environ.get("TEXTJOBS_GCS_RETRY_SECONDS", "60"))


@functools.lru_cache(maxsize=4)
def _retry(seconds: float):
    # Our writes overwrite whole objects with the same bytes, so retrying them is safe.
    return storage_retry.DEFAULT_RETRY.with_delay(initial=0.2, maximum=5.0, multiplier=2.0).with_timeout(seconds)


def retry():
    return _retry(retry_seconds())


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


def _bucket_name(uri: str) -> str:
    return uri.removeprefix("gs://").split("/", 1)[0]


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _missing(uri: str) -> StorageError:
    bucket = _bucket_name(uri)
    try:
        exists = client().lookup_bucket(bucket, retry=retry()) is not None
    except Exception:  # noqa: BLE001 - the lookup only refines the message
        exists = True
    if not exists:
        return StorageError(f"bucket gs://{bucket} does not exist (needed for {uri})")
    return StorageError(f"{uri} does not exist")


def classify(exc: BaseException, uri: str) -> StorageError:
    """The StorageError (permanent) or TransientStorageError that `exc` amounts to."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, gexc.NotFound):
        return _missing(uri)
    if isinstance(exc, gexc.Forbidden | gexc.Unauthorized | auth_exc.RefreshError | auth_exc.DefaultCredentialsError):
        return StorageError(
            f"permission denied on {uri}: check the service account's roles on gs://{_bucket_name(uri)} "
            "and GOOGLE_APPLICATION_CREDENTIALS or workload identity"
        )
    status = _status(exc)
    if status in PERMANENT_STATUS:
        return StorageError(f"{uri}: request refused ({status}): {exc}")
    detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return TransientStorageError(
        f"{uri}: the bucket stayed unreachable for the {retry_seconds():g} s retry budget ({detail}); "
        "exiting retryable so the pod restarts and resumes"
    )


def _guarded(uri: str, action: Callable[[], T]) -> T:
    try:
        return action()
    except StorageError:
        raise
    except (
        gexc.GoogleAPIError,
        auth_exc.GoogleAuthError,
        storage_retry.InvalidResponse,
        ConnectionError,
        TimeoutError,
    ) as exc:
        raise classify(exc, uri) from None
    except Exception as exc:  # requests/urllib3 errors that escape the retry wrapper; local OSErrors pass
        if type(exc).__module__.split(".")[0] in ("requests", "urllib3", "http", "google"):
            raise classify(exc, uri) from None
        raise


def _blob(uri: str):
    bucket, name = split_gcs(uri)
    return client().bucket(bucket).blob(name)


def check_bucket(uri: str) -> None:
    """Fail fast, before training, when the bucket of `uri` is missing or unreadable."""
    bucket, _ = split_gcs(uri)
    found = _guarded(uri, lambda: client().lookup_bucket(bucket, retry=retry()))
    if found is None:
        raise StorageError(f"bucket gs://{bucket} does not exist (needed for {uri})")


def download_file(uri: str, local: Path) -> Path:
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(local.name + ".partial")
    try:
        _guarded(uri, lambda: _blob(uri).download_to_filename(str(partial), retry=retry()))
    except StorageError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(local)
    return local


def list_names(uri_prefix: str) -> list[str]:
    """Object names under a prefix (a 'directory'), relative to it."""
    bucket, prefix = split_gcs(uri_prefix)
    prefix = f"{prefix}/" if prefix else ""

    def names():
        return [b.name[len(prefix) :] for b in client().list_blobs(bucket, prefix=prefix, retry=retry())]

    return _guarded(uri_prefix, names)


def exists(uri: str) -> bool:
    """Whether one object exists: a single lookup, not a listing of its directory."""
    return _guarded(uri, lambda: _blob(uri).exists(retry=retry()))


def upload_file(local: Path, uri: str) -> None:
    _guarded(uri, lambda: _blob(uri).upload_from_filename(str(local), retry=retry()))


def upload_tree(local_dir: Path, uri_prefix: str, last: tuple[str, ...] = (), on_file=None) -> None:
    """Upload a directory; files named in `last` go up after all others (commit markers)."""
    files = sorted(p for p in local_dir.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name in last)
    for path in files:
        upload_file(path, join(uri_prefix, *path.relative_to(local_dir).parts))
        if on_file is not None:
            on_file(path)


def download_tree(uri_prefix: str, local_dir: Path) -> Path:
    names = list_names(uri_prefix)
    if not names:
        raise StorageError(f"{uri_prefix} is empty or does not exist")
    for name in names:
        download_file(join(uri_prefix, name), local_dir / name)
    return local_dir


def delete(uri: str) -> None:
    def remove():
        with contextlib.suppress(gexc.NotFound):
            _blob(uri).delete(retry=retry())

    _guarded(uri, remove)


def delete_tree(uri_prefix: str) -> None:
    for name in list_names(uri_prefix):
        delete(join(uri_prefix, name))


def fetch(path: str, cache_dir: Path) -> Path:
    """A local path for `path`: itself when local, a downloaded copy when in a bucket."""
    if not is_gcs(path):
        return Path(path)
    bucket, name = split_gcs(path)
    return download_file(path, cache_dir / bucket / name)
