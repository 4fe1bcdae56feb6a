"""Size limits shared by the apps and the gallery server (no widget imports here)."""

from __future__ import annotations

import os

__all__ = ["default_upload_limit_mb", "websocket_limit_bytes"]


def default_upload_limit_mb() -> float:
    """The apps' upload limit: ``BATTLAB_UPLOAD_LIMIT_MB``, 100 MB when unset."""
    return float(os.environ.get("BATTLAB_UPLOAD_LIMIT_MB", "100"))


def websocket_limit_bytes(upload_limit_mb: float | None = None) -> int:
    """Largest websocket message the server accepts from a page: the upload limit plus 1 MiB.

    Uploads travel in chunks well below it; the cap bounds what a crafted page can make
    the server buffer for one message.
    """
    limit_mb = default_upload_limit_mb() if upload_limit_mb is None else float(upload_limit_mb)
    return int(limit_mb * 1e6) + 1024**2
