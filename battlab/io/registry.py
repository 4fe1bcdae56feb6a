"""Format registry: detect a file's format from its bytes and name, then read it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from battlab.errors import (
    BattlabError,
    CorruptFileError,
    TooLargeError,
    UnsupportedFormatError,
)

__all__ = ["Format", "register", "formats", "detect", "load", "Source", "DEFAULT_MAX_BYTES"]

#: Inputs larger than this are refused before parsing (override with ``max_bytes``).
DEFAULT_MAX_BYTES = 512 * 1024**2


@dataclass(frozen=True)
class Source:
    """Bytes of one input plus the name it came with (a path or an upload's name)."""

    data: bytes
    name: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()

    def text(self, encodings=("utf-8-sig", "cp1252", "latin-1")) -> str:
        """Decode as text, trying UTF-8 first and Windows code pages after."""
        for enc in encodings:
            try:
                return self.data.decode(enc)
            except UnicodeDecodeError:
                continue
        raise UnsupportedFormatError(f"{self.name}: not a text file in a known encoding.")


@dataclass(frozen=True)
class Format:
    """One readable format.

    ``sniff(head, name)`` returns a confidence in [0, 1] from the first 64 kB and the
    file name; ``read(source, **options)`` returns the canonical object.
    """

    name: str
    description: str
    kind: str  # "echem" (DataFrame in the canonical schema), later "image", "spectrum"...
    extensions: tuple[str, ...]
    sniff: Callable[[bytes, str], float]
    read: Callable[..., object]
    requires: tuple[str, ...] = field(default=())  # optional packages it needs

    def available(self) -> bool:
        import importlib.util

        return all(importlib.util.find_spec(mod) is not None for mod in self.requires)


_REGISTRY: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    _REGISTRY[fmt.name] = fmt
    return fmt


def formats() -> list[Format]:
    """All registered formats, readers imported on first call."""
    _import_readers()
    return sorted(_REGISTRY.values(), key=lambda f: f.name)


def _import_readers():
    # Importing the reader modules registers them; kept lazy so `import battlab` is fast.
    from battlab.afm import io as _afm_io  # noqa: F401  kind="afm"
    from battlab.diffraction import io as _xrd_io  # noqa: F401  kind="xrd"
    from battlab.io import bdf, biologic, eis_text, gamry, tabular  # noqa: F401  # noqa: F401
    from battlab.spectra import io as _spectra_io  # noqa: F401  kind="spectrum"
    from battlab.scattering import io as _scattering_io  # noqa: F401  kind="saxs", "reflectivity"
    from battlab.xrm import io as _xrm_io  # noqa: F401  kind="volume"


def _as_source(source, name: str | None, max_bytes: int) -> Source:
    if isinstance(source, Source):
        data, src_name = source.data, source.name
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data, src_name = bytes(source), name or "upload"
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise UnsupportedFormatError(f"{path}: no such file.")
        size = path.stat().st_size
        if size > max_bytes:
            raise TooLargeError(
                f"{path.name} is {size / 1e6:.1f} MB, above the {max_bytes / 1e6:.0f} MB limit; "
                "split the file or raise max_bytes."
            )
        # Raw inputs are only ever opened read-only.
        with open(path, "rb") as fh:
            data = fh.read()
        src_name = name or str(path)
    else:
        raise UnsupportedFormatError(f"cannot read a {type(source).__name__}; give a path or bytes.")
    if len(data) > max_bytes:
        raise TooLargeError(
            f"{Path(src_name).name} is {len(data) / 1e6:.1f} MB, above the {max_bytes / 1e6:.0f} MB limit."
        )
    if not data:
        raise CorruptFileError(f"{Path(src_name).name} is empty.")
    return Source(data=data, name=src_name)


def detect(source, *, name: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Format:
    """Return the most likely :class:`Format` of a path or bytes."""
    src = _as_source(source, name, max_bytes)
    return _detect(src)


#: Plain words for each kind of data, for messages.
KIND_WORDS = {"echem": "an electrochemistry record (cycler, potentiostat, impedance)",
              "xrd": "a diffraction pattern",
              "spectrum": "a spectrum (Raman, FTIR, NMR, XPS, XAS)",
              "afm": "an AFM scan or force curves",
              "saxs": "a small-angle scattering curve I(q)",
              "reflectivity": "a reflectivity curve R(q)",
              "volume": "a tomography volume (z, y, x)"}


def _detect(src: Source, kind: str | None = None) -> Format:
    head = src.data[:65536]
    scored = []
    for fmt in formats():
        try:
            score = float(fmt.sniff(head, src.name))
        except Exception:  # a sniffer must never decide the outcome by crashing
            score = 0.0
        if score > 0:
            scored.append((score, fmt.name, fmt))
    if not scored:
        known = ", ".join(sorted({e for f in formats() for e in f.extensions}))
        raise UnsupportedFormatError(
            f"{Path(src.name).name}: not a format battlab recognises. Readable extensions: {known}."
        )
    scored.sort(key=lambda t: (-t[0], t[1]))
    if kind is not None:
        wanted = [t for t in scored if t[2].kind == kind]
        # A file that looks more like another kind of data (a diffraction CSV is also a
        # CSV) is refused rather than forced through a reader of the wanted kind.
        if not wanted or wanted[0][0] < scored[0][0]:
            best = scored[0][2]
            raise UnsupportedFormatError(
                f"{Path(src.name).name} looks like {best.description}, which is "
                f"{KIND_WORDS.get(best.kind, best.kind + ' data')}; this analysis needs "
                f"{KIND_WORDS.get(kind, kind + ' data')}. Open it where that kind of data is analysed."
            )
        return wanted[0][2]
    return scored[0][2]


def load(source, *, format: str | None = None, name: str | None = None,
         max_bytes: int = DEFAULT_MAX_BYTES, kind: str | None = None, isolate=False, **options):
    """Read an instrument file into battlab's canonical object.

    Parameters
    ----------
    source : path, bytes or Source
        The file. Bytes need ``name`` (the original file name) for detection by extension.
    format : str, optional
        Force a format by name (see ``battlab formats``); detected when omitted.
    name : str, optional
        Original file name for bytes input.
    max_bytes : int
        Inputs above this size are refused with :class:`~battlab.errors.TooLargeError`.
    kind : str, optional
        Only accept formats of this kind (``"echem"``, ``"xrd"``): a file of another kind
        is refused with a message saying what it is, instead of being read as something
        the caller cannot use. Apps pass the kind they analyse.
    isolate : bool or {"native", "all", "off"}
        Run the reader in a child process with a memory and time budget
        (:mod:`battlab.io.isolate`), so that a crash or a decompression bomb in native
        code costs the child, not this process. ``True``/``"all"``: always;
        ``"native"``: only for natively decoded formats (HDF5, TIFF, vendor binaries);
        ``False`` (default for library calls): in this process. The apps use ``"native"``.
    **options
        Passed to the reader (for example ``column_map`` for generic CSV).

    Returns
    -------
    pandas.DataFrame
        For cycler files: the canonical schema of :mod:`battlab.io.schema`, with
        ``df.attrs["battlab"]`` holding format, sha256, start time and column map.
    """
    src = _as_source(source, name, max_bytes)
    if format is None:
        fmt = _detect(src, kind)
    else:
        _import_readers()
        if format not in _REGISTRY:
            raise UnsupportedFormatError(
                f"unknown format {format!r}; known: {', '.join(sorted(_REGISTRY))}."
            )
        fmt = _REGISTRY[format]
        if kind is not None and fmt.kind != kind:
            raise UnsupportedFormatError(
                f"format {format!r} holds {KIND_WORDS.get(fmt.kind, fmt.kind)}; this analysis needs "
                f"{KIND_WORDS.get(kind, kind)}."
            )
    if not fmt.available():
        raise UnsupportedFormatError(
            f"{Path(src.name).name} is {fmt.description}, which needs the optional package(s) "
            f"{', '.join(fmt.requires)}: install battlab[all], or export the file as text."
        )
    if _isolated(isolate, src, fmt):
        from battlab.io.isolate import run_isolated

        return run_isolated(_read_in_child, fmt.name, src, options, name=src.name)
    return _read(fmt, src, options)


def _isolated(policy, src: Source, fmt: Format) -> bool:
    if policy in (True, "all"):
        return True
    if policy == "native":
        from battlab.io.isolate import is_native

        # by the file's name, or by the detected format's (an upload may come nameless)
        return is_native(src.name) or any(is_native(f"x{ext}") for ext in fmt.extensions)
    return False


def _read_in_child(format_name: str, src: Source, options: dict):
    """The reader, as run inside :func:`battlab.io.isolate.run_isolated`."""
    _import_readers()
    return _read(_REGISTRY[format_name], src, options)


def _read(fmt: Format, src: Source, options: dict):
    try:
        return fmt.read(src, **options)
    except BattlabError:
        raise
    except MemoryError as exc:
        raise TooLargeError(f"{Path(src.name).name}: not enough memory to read it.") from exc
    except Exception as exc:  # reader bugs and library errors become one clear message
        raise CorruptFileError(
            f"{Path(src.name).name} looks like {fmt.description} but could not be read "
            f"({type(exc).__name__}: {exc}). If it opens in the vendor software, export it as text/CSV."
        ) from exc
