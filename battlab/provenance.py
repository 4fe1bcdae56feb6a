"""Provenance records and atomic exports.

Every result battlab exports carries a record of how it was made: battlab and
dependency versions, the sha256 of each input, every parameter (defaults included)
and the UTC time. Files are written atomically (temporary file in the same folder,
then ``os.replace``) so a crash leaves the old file or the new one, never half a file.
Raw inputs are never opened for writing.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

__all__ = ["Provenance", "atomic_write", "sha256_of", "write_results", "dependency_versions"]

_DEPENDENCIES = ("numpy", "pandas", "scipy", "xarray", "galvani", "openpyxl", "defusedxml", "tifffile",
                 "dask", "distributed", "imageio", "imageio-ffmpeg", "h5py", "pyFAI", "holoviews", "bokeh", "panel", "ipywidgets",
                 "voila")


def dependency_versions() -> dict[str, str]:
    """Installed versions of battlab's dependencies (absent ones are left out)."""
    out = {"python": platform.python_version()}
    for name in ("battlab",) + _DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def sha256_of(data_or_path) -> str:
    """sha256 of bytes or of a file's content (read-only, streamed)."""
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        return hashlib.sha256(data_or_path).hexdigest()
    h = hashlib.sha256()
    with open(data_or_path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_input(path, *, role: str | None = None, format: str | None = None) -> dict:
    """The provenance ``inputs`` entry of a file an analysis read: its name and content (sha256).

    Every file that sets a number (timestamps, calibrations, references, geometries…) is
    recorded this way, so a re-run finds it by content and a changed copy is noticed.
    """
    record = {"name": Path(path).name, "sha256": sha256_of(path), "format": format}
    if role is not None:
        record["role"] = role
    return record


def data_input(meta: dict, *, role: str | None = None, fallback_name: str = "") -> dict:
    """The provenance ``inputs`` entry of data a reader loaded, from its ``attrs["battlab"]``.

    The reader hashed the file as it read it, so nothing is read again here.
    """
    record = {"name": Path(str(meta.get("source_name") or fallback_name)).name, "sha256": meta.get("sha256"),
              "format": meta.get("format")}
    if role is not None:
        record["role"] = role
    return record


def _jsonable(value):
    """Make numpy scalars, paths and tuples JSON-friendly without losing meaning."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


@dataclass
class Provenance:
    """How a result was made.

    Parameters
    ----------
    analysis : str
        Dotted name of the analysis, e.g. ``"battlab.echem.cycling.summarize_cycles"``.
    parameters : dict
        Every parameter with the value used, defaults included.
    inputs : list of dict
        One entry per input: ``{"name", "sha256", "format"}``.
    """

    analysis: str
    parameters: dict = field(default_factory=dict)
    inputs: list = field(default_factory=list)
    versions: dict = field(default_factory=dependency_versions)
    created_utc: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    )
    command: str | None = None

    @classmethod
    def for_data(cls, analysis: str, data, parameters: dict, **kwargs) -> "Provenance":
        """Build a record from a table whose ``attrs["battlab"]`` describes its source."""
        meta = getattr(data, "attrs", {}).get("battlab", {}) if data is not None else {}
        inputs = []
        if meta.get("inputs"):  # a series stacked from several files: every one of them
            inputs = [dict(record) for record in meta["inputs"]]
        elif meta:
            inputs.append(data_input(meta))
        return cls(analysis=analysis, parameters=dict(parameters), inputs=inputs, **kwargs)

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def atomic_write(path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically (same-folder temp file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_results(out_dir, tables: dict, provenance: Provenance, *, figures: dict | None = None) -> list[Path]:
    """Write tidy tables as CSV, figures as standalone HTML, and ``provenance.json``.

    Parameters
    ----------
    out_dir : path
        Output folder (created). Refuses to write over any file listed as an input.
    tables : dict of str -> DataFrame
        ``{"cycles": df}`` writes ``cycles.csv``.
    provenance : Provenance
    figures : dict of str -> str, optional
        ``{"capacity": html}`` writes ``capacity.html``.
    """
    out_dir = Path(out_dir)
    written = []
    for name, table in tables.items():
        written.append(atomic_write(out_dir / f"{name}.csv", table.to_csv(index=False)))
    for name, html in (figures or {}).items():
        written.append(atomic_write(out_dir / f"{name}.html", html))
    record = provenance.to_dict()
    record["outputs"] = [p.name for p in written]
    written.append(atomic_write(out_dir / "provenance.json", json.dumps(record, indent=2, sort_keys=True)))
    return written


def _python_command() -> str:
    return " ".join([Path(sys.executable).name] + sys.argv)


def _path_parts(token: str) -> list[tuple[str, str, str]]:
    """``(prefix, path, suffix)`` readings of a command-line token that may hold a file path.

    Options name files inside their values too (``--table xrd=x.csv@-420``, ``--map LiF-=m.h5:LiF-``,
    ``--reference LFP=lfp.csv``, ``--echem=cell.csv``), so the ``NAME=`` prefixes (a NAME holds no
    ``/``) and an ``@OFFSET`` or ``:DATASET`` tail are split off too; the most specific reading comes first.
    """
    prefix, rest = "", token
    heads = [(prefix, rest)]
    while "=" in rest and "/" not in rest.split("=", 1)[0]:
        name, rest = rest.split("=", 1)
        prefix += name + "="
        heads.append((prefix, rest))
    parts = []
    for prefix, rest in reversed(heads):
        parts.append((prefix, rest, ""))
        for sep in ("@", ":"):
            if sep in rest:
                path, tail = rest.rsplit(sep, 1)
                parts.append((prefix, path, sep + tail))
    return [part for part in parts if part[1]]


def _moved_folder(path: str, moved: set[Path], *, renamed_ok: bool) -> Path | None:
    """Where a recorded input folder that is gone now is, among the folders ``--input`` led to.

    The folder of the same name; else, for a path (it holds a ``/``) that is a whole
    positional argument (``renamed_ok``: positionals name inputs, unlike option values such
    as ``--ratio A/B``, and subcommand words hold no ``/``), the one folder all moved inputs
    share. Anything else stays as recorded.
    """
    if not moved or path.startswith("-") or Path(path).exists():
        return None
    same_name = [folder for folder in moved if folder.name == Path(path).name]
    if len(same_name) == 1:
        return same_name[0]
    if renamed_ok and "/" in path and len(moved) == 1:
        return next(iter(moved))
    return None


def rerun_argv(record_path, *, out_dir, inputs=()) -> list[str]:
    """The ``battlab`` arguments that repeat a recorded command-line analysis.

    Parameters
    ----------
    record_path : path
        A ``provenance.json`` written by the battlab command line.
    out_dir : path
        Where the repeated results go; must differ from the recorded output folder.
    inputs : sequence of path
        Where inputs are now, when they were moved (files, or folders searched by name).
        A recorded input folder that is gone is replaced by the folder its files are found in.

    Every recorded input must be found with its recorded sha256, at the recorded path,
    in the upload store (``stored_at``) or among ``inputs``; otherwise
    :class:`~battlab.errors.MissingDataError` names what is missing.
    """
    from battlab.errors import InvalidParameterError, MissingDataError

    record_path = Path(record_path)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MissingDataError(f"{record_path} is not a readable provenance.json ({exc}).") from exc
    command = record.get("command") if isinstance(record, dict) else None
    if not command:
        raise MissingDataError(f"{record_path.name} records no command: it was exported from an app, whose "
                               "parameters are listed in it; set them in the app or the matching command.")
    tokens = shlex.split(command)[1:]
    wanted = {i["sha256"]: i for i in record.get("inputs", []) if isinstance(i, dict) and i.get("sha256")}

    # Where to look: the recorded paths, stored uploads and the user's --input paths
    # (folders are searched for the recorded names); content decides, not the name.
    names = {i.get("name") for i in wanted.values()}
    inputs_given = {Path(p) for p in inputs}
    places = [Path(t) for t in tokens if not t.startswith("-")] + [Path(p) for p in inputs]
    places += [Path(i["stored_at"]) for i in wanted.values() if i.get("stored_at")]
    # Files named inside option values too (only files: no folder search started from a value).
    places += [Path(path) for t in tokens for prefix, path, suffix in _path_parts(t)
               if (prefix or suffix) and Path(path).is_file()]
    found: dict[str, Path] = {}
    moved: set[Path] = set()  # folders that hold inputs found through the user's --input paths
    for place in places:
        files = [f for f in place.rglob("*") if f.name in names] if place.is_dir() else [place]
        for f in files:
            if f.is_file():
                digest = sha256_of(f)
                found.setdefault(digest, f)
                if place in inputs_given and found[digest] == f:
                    moved.add(f.parent)
    missing = [i.get("name") or sha for sha, i in wanted.items() if sha not in found]
    if missing:
        raise MissingDataError(f"input(s) {', '.join(map(str, missing))} not found with the recorded content "
                               "(sha256); pass where they are now with --input PATH.")

    by_name = {i.get("name"): found[sha] for sha, i in wanted.items()}
    argv, out_seen, k = [], False, 0
    while k < len(tokens):
        tok = tokens[k]
        if tok.startswith("--out="):
            tokens[k:k + 1] = ["--out", tok.split("=", 1)[1]]
            tok = "--out"
        if tok == "--out" and k + 1 < len(tokens):
            if Path(tokens[k + 1]).resolve() == Path(out_dir).resolve():
                raise InvalidParameterError("the re-run would write over the recorded results; choose another "
                                            "--out folder.")
            argv += ["--out", str(out_dir)]
            out_seen, k = True, k + 2
            continue
        if Path(tok) not in found.values():
            readings = _path_parts(tok)
            # The recorded file, wherever its content is now (inside the option value, if there);
            # failing that, the folder a recorded input folder was moved to.
            file_at = [(prefix, by_name[Path(path).name], suffix) for prefix, path, suffix in readings
                       if Path(path).name in by_name and not Path(path).is_dir()]
            positional = k == 0 or not tokens[k - 1].startswith("-")
            folder_at = [(prefix, folder, suffix) for prefix, path, suffix in readings
                         if (folder := _moved_folder(path, moved, renamed_ok=positional and path == tok)) is not None]
            for prefix, place, suffix in (file_at + folder_at)[:1]:
                tok = prefix + str(place) + suffix
        argv.append(tok)
        k += 1
    if not out_seen:
        raise MissingDataError(f"{record_path.name}: the recorded command has no --out; it cannot be repeated.")
    return argv
