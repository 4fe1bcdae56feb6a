"""Untrusted pieces of an upload and of widget state, made harmless.

Everything in a ``FileUpload`` value comes from the browser (name, size, content) and a
crafted comm message can set any synced widget value, so the apps re-check them here.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import secrets
import shutil
import unicodedata
from pathlib import Path

__all__ = ["MAX_NAME_CHARS", "new_error_id", "safe_display_name", "store_upload", "upload_store"]

log = logging.getLogger("battlab.apps")

#: Default size cap of the upload store; the oldest uploads are removed beyond it.
DEFAULT_STORE_MB = 2000

#: Display names are cut to this many characters (the extension is kept).
MAX_NAME_CHARS = 80


def safe_display_name(name, *, default: str = "upload") -> str:
    """A file name fit for showing on the page; never used as a path.

    Folders (``/`` or ``\\``), NUL and other control characters, leading dots and
    surrounding spaces are removed and the result is shortened to
    :data:`MAX_NAME_CHARS`; an empty result becomes ``default``.

    Examples
    --------
    >>> safe_display_name("../../etc/passwd")
    'passwd'
    >>> safe_display_name("..\\\\x")
    'x'
    >>> safe_display_name("")
    'upload'
    """
    text = name.decode("utf-8", "replace") if isinstance(name, (bytes, bytearray)) else str(name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")  # NUL, controls, bidi marks
    text = text.replace("\\", "/").rsplit("/", 1)[-1].strip().lstrip(".").strip()
    if not text:
        return default
    if len(text) > MAX_NAME_CHARS:
        stem, dot, ext = text.rpartition(".")
        ext = ext if dot and 0 < len(ext) <= 10 else ""
        keep = MAX_NAME_CHARS - len(ext) - 2
        text = f"{(stem if ext else text)[:keep]}…" + (f".{ext}" if ext else "")
    return text


def new_error_id() -> str:
    """Eight hex characters that tie a page message to its server-log traceback."""
    return secrets.token_hex(4)


def _finite(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    return math.isfinite(value)


def check_numeric_widget(widget):
    """``(ok, replacement, reason)`` for one widget's current value.

    Values outside a widget's ``min``/``max`` are clamped; non-finite numbers are
    refused (``replacement`` None means: restore the last good value).
    """
    value = getattr(widget, "value", None)
    values = value if isinstance(value, tuple) else (value,)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return True, value, ""
    if not all(_finite(v) for v in values):
        return False, None, "is not a finite number"
    lo, hi = getattr(widget, "min", None), getattr(widget, "max", None)
    base = getattr(widget, "base", None)
    if base is not None and lo is not None and hi is not None:  # FloatLogSlider: bounds are exponents
        lo, hi = base ** lo, base ** hi
        if all(lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9) for v in values):
            return True, value, ""
    if lo is None and hi is None:
        return True, value, ""
    clamped = tuple(min(max(v, lo if lo is not None else v), hi if hi is not None else v) for v in values)
    if clamped != values:
        return False, clamped if isinstance(value, tuple) else clamped[0], "was outside its range"
    return True, value, ""


def upload_store() -> Path:
    """The folder uploads are kept in: ``$BATTLAB_UPLOAD_DIR``, else the user cache.

    ``~/.cache/battlab/uploads`` (or under ``$XDG_CACHE_HOME``), private to the user.
    """
    from battlab._cache import private_folder

    return private_folder("BATTLAB_UPLOAD_DIR", "uploads")


def store_upload(content: bytes, name, *, root: Path | None = None, cap_mb: float | None = None) -> Path:
    """Keep an uploaded file under its sha256; return the stored (read-only) path.

    The file goes to ``<store>/<sha256>/<display name>``: the same content uploaded
    twice is stored once, the browser's name never chooses the folder, and the stored
    copy is made read-only so no analysis can change the raw input. Beyond ``cap_mb``
    (``$BATTLAB_UPLOAD_STORE_MB``, default 2,000 MB) the least recently uploaded
    entries are removed, never the one just stored.
    """
    root = Path(root) if root is not None else upload_store()
    digest = hashlib.sha256(content).hexdigest()
    folder = root / digest
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / safe_display_name(name)
    if not path.exists():
        tmp = folder / f".{secrets.token_hex(6)}.part"
        tmp.write_bytes(content)
        tmp.chmod(0o400)
        os.replace(tmp, path)  # atomic: a reader never sees half a file
    os.utime(folder)  # marks the entry as recently used for pruning
    _prune(root, keep=folder, cap_mb=cap_mb)
    return path


def _prune(root: Path, *, keep: Path, cap_mb: float | None) -> None:
    if cap_mb is None:
        try:
            cap_mb = float(os.environ.get("BATTLAB_UPLOAD_STORE_MB", DEFAULT_STORE_MB))
        except ValueError:
            cap_mb = DEFAULT_STORE_MB
    entries = []
    for folder in root.iterdir():
        if folder.is_dir() and len(folder.name) == 64:
            size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
            entries.append((folder.stat().st_mtime, folder, size))
    total = sum(e[2] for e in entries)
    for _mtime, folder, size in sorted(entries):
        if total <= cap_mb * 1e6:
            break
        if folder == keep:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        log.info("battlab upload store: removed %s (%d bytes) to stay under %g MB", folder.name, size, cap_mb)
        total -= size
