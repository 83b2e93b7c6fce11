"""Checks of the tracking keys (declared with the runtime's keys in runtime/keys.py); no imports
beyond the standard library, because `make validate` checks every ConfigMap with them."""

from __future__ import annotations

from urllib.parse import urlsplit


def tracking_uri(value: str) -> str | None:
    if value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL of an MLflow tracking server (empty turns tracking off)"
    if parts.password:
        return "must not carry a password: give credentials as MLFLOW_TRACKING_USERNAME/PASSWORD from a Secret"
    return None
