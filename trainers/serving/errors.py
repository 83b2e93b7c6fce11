"""A request the server refuses: HTTP 400 with `{"error": "<what is wrong and how to fix it>"}`."""

from __future__ import annotations

from trainers.serving.kserve_api import InvalidInput


class BadRequest(InvalidInput):
    """KServe answers its InvalidInput with 400 and the message; the server keeps running."""
