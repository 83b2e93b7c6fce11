"""Make sure the process has a usable temporary directory before TensorFlow is imported.

A TFJob pod runs on a read-only root filesystem with a fresh, empty emptyDir as its only
writable place, and the base points TMPDIR inside it. Python's `tempfile` (which `import
tensorflow` calls) does not create a missing TMPDIR: it falls back to /tmp, /var/tmp and the
working directory, all read-only in the pod, and the import dies with `FileNotFoundError: No
usable temporary directory`. So the trainer creates TMPDIR itself, first thing, whatever the
manifest names; a TMPDIR it cannot create is one clear line and exit 2, not a traceback.

Pure Python, no TensorFlow: `trainers/__main__.py` calls this before importing anything else.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from trainers.runtime.errors import ConfigError


def ensure_temp_dir(environ: MutableMapping[str, str] | None = None) -> str | None:
    """Create $TMPDIR (and its parents) when it is set and missing; returns it (None when unset).

    Raises ConfigError naming the path when it cannot be created or written."""
    environ = os.environ if environ is None else environ
    path = environ.get("TMPDIR", "")
    if not path:
        return None
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"TMPDIR={path!r}: cannot create the temporary directory ({exc.strerror}); point TMPDIR "
            "inside a writable volume (the pod's /scratch emptyDir)"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"TMPDIR={path!r}: the temporary directory is not writable by uid {os.getuid()}")
    return path
