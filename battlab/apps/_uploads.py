"""Untrusted pieces of an upload and of widget state, made harmless.

Everything in a ``FileUpload`` value comes from the browser (name, size, content) and a
crafted comm message can set any synced widget value, so the apps re-check them here.
"""

from __future__ import annotations

import math
import secrets
import unicodedata

__all__ = ["MAX_NAME_CHARS", "new_error_id", "safe_display_name"]

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
