"""s3:// buckets through boto3: AWS, or any S3 API on premises (MinIO, Ceph RGW, versitygw).

Where and how, from the environment only (a pod gets these from its ConfigMap and, for the keys,
from a Secret: components/s3-credentials):

    AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3)   the server, e.g. http://minio.storage:9000;
                                                unset: AWS itself. The trainer's s3Endpoint key,
                                                where set, sets it (storage.configure)
    AWS_REGION (or AWS_DEFAULT_REGION)          default us-east-1 (what SigV4 signs with)
    TEXTJOBS_S3_ADDRESSING_STYLE                path (default: every S3 server serves it) or
                                                virtual (bucket.host, needs wildcard DNS)
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY   the keys; or AWS_SHARED_CREDENTIALS_FILE (a mounted
                                                Secret), or a web identity token (IRSA)

Requests are signed with SigV4. Credentials from instance metadata, container endpoints and
credential processes are switched off: a pod without the Secret fails at once, naming what to
set, instead of hanging on a metadata address or running a command.

Transient failures (throttling, 5xx, timeouts, refused or reset connections) are retried here
with exponential backoff for the storage retry budget (base.retry_seconds), botocore's own
retries off so the budget is one clock; past it, TransientStorageError (exit 200). A missing
bucket or key, or access denied, is StorageError (exit 3) naming bucket and key. One PUT writes
an object whole (S3 objects are never seen half-written); downloads go to a `.partial` file
renamed when complete.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from botocore import exceptions as bexc

from trainers.runtime.errors import StorageError, TransientStorageError
from trainers.runtime.storage.base import Backend, retry_seconds, split

T = TypeVar("T")

ADDRESSING_ENV = "TEXTJOBS_S3_ADDRESSING_STYLE"
DEFAULT_REGION = "us-east-1"
# Credential sources a pod must not reach for: metadata endpoints hang off-cloud, processes run code.
UNWANTED_PROVIDERS = ("container-role", "iam-role", "custom-process", "sso", "login")
MISSING_BUCKET = {"NoSuchBucket"}
MISSING_KEY = {"NoSuchKey", "404", "NotFound"}
DENIED = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
    "AccountProblem",
    "InvalidToken",
    "ExpiredToken",
}
THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "RequestTimeout"}
# botocore's errors for a connection that failed, broke or timed out: retried like a 5xx.
CONNECTION_ERRORS = (
    bexc.HTTPClientError,  # EndpointConnectionError, ConnectionClosedError, timeouts, proxy errors
    bexc.IncompleteReadError,
    bexc.ResponseStreamingError,
    ConnectionError,
    TimeoutError,
)
FIRST_DELAY, MAX_DELAY = 0.2, 5.0


def _code(exc: bexc.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: bexc.ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, bexc.ClientError):
        status = _status(exc)
        return status >= 500 or status == 429 or _code(exc) in THROTTLED
    return isinstance(exc, CONNECTION_ERRORS)


class S3Backend(Backend):
    scheme = "s3"
    remote = True

    @functools.lru_cache(maxsize=1)  # noqa: B019 - one backend object per process; reset() clears it
    def client(self):
        import boto3
        import botocore.session
        from botocore.config import Config

        core = botocore.session.Session()
        providers = core.get_component("credential_provider")
        for name in UNWANTED_PROVIDERS:
            if providers.get_provider(name) is not None:
                providers.remove(name)
        style = os.environ.get(ADDRESSING_ENV, "path")
        if style not in ("path", "virtual"):
            raise StorageError(f"{ADDRESSING_ENV}={style!r} must be path or virtual")
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": style},
            retries={"total_max_attempts": 1},  # the backoff below owns the retry budget
            connect_timeout=10,
            read_timeout=60,
            # Checksums only where the API requires them: servers other than AWS (and proxies)
            # do not all speak the newer aws-chunked trailing checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session(botocore_session=core)
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
        return session.client("s3", region_name=region, endpoint_url=endpoint, config=config)

    def reset(self) -> None:
        self.client.cache_clear()

    # -- errors ------------------------------------------------------------------------------

    def classify(self, exc: BaseException, uri: str) -> StorageError:
        """The StorageError (permanent) or TransientStorageError that `exc` amounts to."""
        if isinstance(exc, StorageError):
            return exc
        bucket, key = split(uri)
        if isinstance(exc, bexc.NoCredentialsError | bexc.PartialCredentialsError):
            return StorageError(
                f"no S3 credentials for {uri}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from a Secret "
                "(components/s3-credentials) or AWS_SHARED_CREDENTIALS_FILE"
            )
        if isinstance(exc, bexc.ClientError) and not is_transient(exc):
            code = _code(exc)
            if code in MISSING_BUCKET:
                return StorageError(f"bucket s3://{bucket} does not exist (needed for {uri})")
            if code in MISSING_KEY:
                return StorageError(f"{uri} does not exist (bucket s3://{bucket}, key {key!r})")
            if code in DENIED:
                return StorageError(
                    f"permission denied on {uri} ({code}): check the access key's policy on bucket s3://{bucket}, "
                    f"key {key!r}, and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the Secret)"
                )
            return StorageError(f"{uri}: request refused ({_status(exc)} {code}): {exc}")
        if isinstance(exc, bexc.ParamValidationError | bexc.NoRegionError | ValueError):
            return StorageError(f"{uri}: {exc}")
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return TransientStorageError(
            f"{uri}: the bucket stayed unreachable for the {retry_seconds():g} s retry budget ({detail}); "
            "exiting retryable so the pod restarts and resumes"
        )

    def _call(self, uri: str, action: Callable[[], T]) -> T:
        """Run `action`, retrying transient failures with backoff for the retry budget."""
        budget = retry_seconds()
        deadline = time.monotonic() + budget
        delay = FIRST_DELAY
        while True:
            try:
                return action()
            except StorageError:
                raise
            except (bexc.BotoCoreError, bexc.ClientError, ConnectionError, TimeoutError) as exc:
                if not is_transient(exc) or time.monotonic() + delay > deadline:
                    raise self.classify(exc, uri) from None
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)

    # -- primitives --------------------------------------------------------------------------

    def check_bucket(self, uri: str) -> None:
        bucket, _ = split(uri)

        def head():
            try:
                self.client().head_bucket(Bucket=bucket)
            except bexc.ClientError as exc:  # HEAD has no body: a 404 comes back as code "404"
                if _code(exc) in MISSING_KEY | MISSING_BUCKET:
                    raise StorageError(f"bucket s3://{bucket} does not exist (needed for {uri})") from None
                raise

        self._call(uri, head)

    def check_writable(self, uri: str, probe: str) -> None:
        # A key may allow reading and listing but not writing; only a write finds out. The probe's
        # name is the run's own, so one a kill left behind is overwritten and deleted next time.
        target = self.join(uri, probe)
        self.write_bytes(target, b"textjobs write probe\n")
        self.delete(target)

    def exists(self, uri: str) -> bool:
        bucket, key = split(uri)

        def head() -> bool:
            try:
                self.client().head_object(Bucket=bucket, Key=key)
                return True
            except bexc.ClientError as exc:
                if _code(exc) in MISSING_KEY:
                    return False
                raise

        return self._call(uri, head)

    def list_names(self, prefix: str) -> list[str]:
        bucket, key = split(prefix)
        key = f"{key}/" if key else ""

        def names() -> list[str]:
            found = []
            for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
                found += [item["Key"][len(key) :] for item in page.get("Contents", [])]
            return [name for name in found if name and not name.endswith("/")]  # no directory markers

        return self._call(prefix, names)

    def read_bytes(self, uri: str) -> bytes:
        bucket, key = split(uri)
        return self._call(uri, lambda: self.client().get_object(Bucket=bucket, Key=key)["Body"].read())

    def write_bytes(self, uri: str, data: bytes) -> None:
        bucket, key = split(uri)
        self._call(uri, lambda: self.client().put_object(Bucket=bucket, Key=key, Body=data))

    def upload_file(self, local: Path, uri: str) -> None:
        # One PUT (up to S3's 5 GB object limit): the object appears whole or not at all, and a
        # retry sends the file again from its start.
        bucket, key = split(uri)

        def put():
            with open(local, "rb") as body:
                self.client().put_object(Bucket=bucket, Key=key, Body=body)

        self._call(uri, put)

    def download_file(self, uri: str, local: Path) -> Path:
        bucket, key = split(uri)
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        partial = local.with_name(local.name + ".partial")

        def get():
            body = self.client().get_object(Bucket=bucket, Key=key)["Body"]
            with open(partial, "wb") as out:
                for chunk in body.iter_chunks(1 << 20):
                    out.write(chunk)

        try:
            self._call(uri, get)
        except StorageError:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(local)
        return local

    def delete(self, uri: str) -> None:
        bucket, key = split(uri)  # deleting an absent key succeeds in S3
        self._call(uri, lambda: self.client().delete_object(Bucket=bucket, Key=key))

    def create_bucket(self, uri: str) -> None:
        bucket, _ = split(uri)
        self._call(uri, lambda: self.client().create_bucket(Bucket=bucket))


BACKEND = S3Backend()
