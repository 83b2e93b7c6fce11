"""Local paths (no scheme) as a storage backend: the same operations as a bucket, on files.

Writes are staged under `<name>.partial` and renamed, so a reader sees the old file or the new one.
A full disk (ENOSPC, a quota) is a TransientStorageError: the pod that restarts may get a fresh
volume, and resumes from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from trainers.runtime.errors import StorageError, TransientStorageError
from trainers.runtime.storage.base import Backend

T = TypeVar("T")
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
DISK_FULL_TEXTS = tuple(os.strerror(code) for code in DISK_FULL_ERRNOS)


def disk_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk (or the user's quota) is full: an OSError, or the same failure
    reported by TensorFlow's C++ file writers (ResourceExhaustedError) or h5py."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    library = type(exc).__module__.split(".")[0]
    return library in ("tensorflow", "h5py", "keras") and any(text in str(exc) for text in DISK_FULL_TEXTS)


def disk_full_error(what: str, exc: BaseException) -> TransientStorageError:
    detail = next((text for text in DISK_FULL_TEXTS if text in str(exc)), DISK_FULL_TEXTS[0])
    return TransientStorageError(
        f"no space left while writing {what} ({detail}): free space or give the pod a larger volume "
        "(ephemeral-storage, emptyDir sizeLimit); exiting retryable so the pod restarts and resumes"
    )


@contextlib.contextmanager
def guarded_write(what: str) -> Iterator[None]:
    """Turn a full disk inside the block (a checkpoint, an export) into one clear, retryable error."""
    try:
        yield
    except Exception as exc:
        if disk_full(exc):
            raise disk_full_error(what, exc) from None
        raise


def _guarded(path: Path, action: Callable[[], T]) -> T:
    try:
        return action()
    except FileNotFoundError:
        raise StorageError(f"{path} does not exist") from None
    except PermissionError:
        raise StorageError(f"permission denied on {path} (uid {os.getuid()})") from None
    except OSError as exc:
        if disk_full(exc):
            raise disk_full_error(str(path), exc) from None
        raise StorageError(f"{path}: {exc.strerror or exc}") from None


def _staged_copy(write: Callable[[Path], None], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        write(partial)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def nearest_writable(path: Path) -> bool:
    """Whether `path` exists writable, or could be created: checked on its nearest existing
    ancestor, so the check creates nothing."""
    path = path.absolute()
    while not path.exists():
        if path.parent == path:
            return False
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


class LocalBackend(Backend):
    scheme = ""
    remote = False

    def check_bucket(self, uri: str) -> None:
        return None

    def check_writable(self, uri: str, probe: str) -> None:
        if not nearest_writable(Path(uri)):
            raise StorageError(f"cannot create or write {uri} (check the path and its permissions)")

    def exists(self, uri: str) -> bool:
        return Path(uri).is_file()

    def list_names(self, prefix: str) -> list[str]:
        root = Path(prefix)
        if not root.is_dir():
            return []
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def read_bytes(self, uri: str) -> bytes:
        return _guarded(Path(uri), Path(uri).read_bytes)

    def write_bytes(self, uri: str, data: bytes) -> None:
        _guarded(Path(uri), lambda: _staged_copy(lambda p: p.write_bytes(data), Path(uri)))

    def upload_file(self, local: Path, uri: str) -> None:
        if not Path(local).is_file():
            raise StorageError(f"{local} does not exist")
        _guarded(Path(uri), lambda: _staged_copy(lambda p: shutil.copyfile(local, p), Path(uri)))

    def download_file(self, uri: str, local: Path) -> Path:
        if not Path(uri).is_file():
            raise StorageError(f"{uri} does not exist")
        _guarded(Path(local), lambda: _staged_copy(lambda p: shutil.copyfile(uri, p), Path(local)))
        return Path(local)

    def delete(self, uri: str) -> None:
        _guarded(Path(uri), lambda: Path(uri).unlink(missing_ok=True))

    def create_bucket(self, uri: str) -> None:
        Path(uri).mkdir(parents=True, exist_ok=True)

    def join(self, base: str, *parts: str) -> str:
        return str(Path(base, *parts))

    def bucket_of(self, uri: str) -> str:
        return ""

    def delete_tree(self, prefix: str) -> None:
        path = Path(prefix)
        if path.is_dir():
            _guarded(path, lambda: shutil.rmtree(path))
        else:
            self.delete(prefix)

    def fetch(self, uri: str, cache_dir: Path) -> Path:
        return Path(uri)  # already local: read in place, as before

    def local_tree(self, prefix: str, cache_dir: Path) -> Path:
        return Path(prefix)


BACKEND = LocalBackend()
