"""gs:// buckets through google-cloud-storage.

The client honours GOOGLE_APPLICATION_CREDENTIALS and STORAGE_EMULATOR_HOST (TensorFlow's own
gs:// filesystem cannot be pointed at an emulator). Transient failures (429, 5xx, connection
resets, timeouts) are retried with exponential backoff by google-api-core's Retry for the storage
retry budget (base.retry_seconds). Every failure leaves this module as StorageError or
TransientStorageError naming the bucket and object, never as a library traceback.
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
from trainers.runtime.storage.base import Backend, retry_seconds, split

T = TypeVar("T")
PERMANENT_STATUS = {400, 401, 403, 404, 405, 409, 411, 412, 413, 416}


@functools.lru_cache(maxsize=4)
def _retry(seconds: float):
    # Our writes overwrite whole objects with the same bytes, so retrying them is safe.
    return storage_retry.DEFAULT_RETRY.with_delay(initial=0.2, maximum=5.0, multiplier=2.0).with_timeout(seconds)


def retry():
    return _retry(retry_seconds())


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


class GcsBackend(Backend):
    scheme = "gs"
    remote = True

    @functools.lru_cache(maxsize=1)  # noqa: B019 - one backend object per process; reset() clears it
    def client(self):
        from google.cloud import storage

        if os.environ.get("STORAGE_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials

            return storage.Client(project="textjobs-local", credentials=AnonymousCredentials())
        return storage.Client()

    def reset(self) -> None:
        self.client.cache_clear()

    # -- errors ------------------------------------------------------------------------------

    def _missing(self, uri: str) -> StorageError:
        bucket = split(uri)[0]
        try:
            exists = self.client().lookup_bucket(bucket, retry=retry()) is not None
        except Exception:  # noqa: BLE001 - the lookup only refines the message
            exists = True
        if not exists:
            return StorageError(f"bucket gs://{bucket} does not exist (needed for {uri})")
        return StorageError(f"{uri} does not exist")

    def classify(self, exc: BaseException, uri: str) -> StorageError:
        """The StorageError (permanent) or TransientStorageError that `exc` amounts to."""
        if isinstance(exc, StorageError):
            return exc
        if isinstance(exc, gexc.NotFound):
            return self._missing(uri)
        if isinstance(
            exc, gexc.Forbidden | gexc.Unauthorized | auth_exc.RefreshError | auth_exc.DefaultCredentialsError
        ):
            return StorageError(
                f"permission denied on {uri}: check the service account's roles on gs://{split(uri)[0]} "
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

    def _guarded(self, uri: str, action: Callable[[], T]) -> T:
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
            raise self.classify(exc, uri) from None
        except Exception as exc:  # requests/urllib3 errors that escape the retry wrapper; local OSErrors pass
            if type(exc).__module__.split(".")[0] in ("requests", "urllib3", "http", "google"):
                raise self.classify(exc, uri) from None
            raise

    def _blob(self, uri: str):
        bucket, name = split(uri)
        return self.client().bucket(bucket).blob(name)

    # -- primitives --------------------------------------------------------------------------

    def check_bucket(self, uri: str) -> None:
        bucket, _ = split(uri)
        found = self._guarded(uri, lambda: self.client().lookup_bucket(bucket, retry=retry()))
        if found is None:
            raise StorageError(f"bucket gs://{bucket} does not exist (needed for {uri})")

    def check_writable(self, uri: str, probe: str) -> None:
        # Bucket IAM may allow reading and listing but not creating or deleting objects; only a
        # write finds out. The probe's name is the run's own, so a probe a kill left behind is
        # overwritten and deleted by the next start's.
        target = self.join(uri, probe)
        self.write_bytes(target, b"textjobs write probe\n")
        self.delete(target)

    def exists(self, uri: str) -> bool:
        return self._guarded(uri, lambda: self._blob(uri).exists(retry=retry()))

    def list_names(self, prefix: str) -> list[str]:
        bucket, key = split(prefix)
        key = f"{key}/" if key else ""

        def names():
            return [b.name[len(key) :] for b in self.client().list_blobs(bucket, prefix=key, retry=retry())]

        return self._guarded(prefix, names)

    def read_bytes(self, uri: str) -> bytes:
        return self._guarded(uri, lambda: self._blob(uri).download_as_bytes(retry=retry()))

    def write_bytes(self, uri: str, data: bytes) -> None:
        self._guarded(uri, lambda: self._blob(uri).upload_from_string(data, retry=retry()))

    def upload_file(self, local: Path, uri: str) -> None:
        self._guarded(uri, lambda: self._blob(uri).upload_from_filename(str(local), retry=retry()))

    def download_file(self, uri: str, local: Path) -> Path:
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(local.name + ".partial")
        try:
            self._guarded(uri, lambda: self._blob(uri).download_to_filename(str(partial), retry=retry()))
        except StorageError:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(local)
        return local

    def delete(self, uri: str) -> None:
        def remove():
            with contextlib.suppress(gexc.NotFound):
                self._blob(uri).delete(retry=retry())

        self._guarded(uri, remove)

    def create_bucket(self, uri: str) -> None:
        bucket, _ = split(uri)
        self._guarded(uri, lambda: self.client().create_bucket(bucket))


BACKEND = GcsBackend()
