"""Readers for scanning-probe electrochemistry: SECM approach curves and SECM/SICM/ESM maps.

Approach curves come back as a DataFrame with ``distance_um`` and ``current_nA`` (plus any
other columns of the file, kept) and ``attrs["battlab"]`` (source name, sha256, format).
Maps come back in the AFM convention of :func:`battlab.afm.height_map`: a DataArray with
dims ``("y", "x")``, ``y_um``/``x_um`` pixel-centre coordinates, ``units``,
``channel`` and ``pixel_size_um`` attrs, so that every :mod:`battlab.afm.topography` tool
(levelling, roughness, histogram, grains) applies to them unchanged.
"""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from battlab.errors import (
    BattlabError,
    CorruptFileError,
    InvalidParameterError,
    MissingDataError,
    UnsupportedFormatError,
)

__all__ = ["read_approach_curve", "read_probe_map", "probe_map", "CURVE_EXTENSIONS", "MAP_EXTENSIONS"]

CURVE_EXTENSIONS = (".csv", ".txt", ".dat", ".tsv", ".asc")
MAP_EXTENSIONS = (".csv", ".txt", ".dat", ".tsv", ".asc", ".tif", ".tiff")

#: factor to µm for distances and to nA for currents
_LENGTH = {"m": 1e6, "mm": 1e3, "um": 1.0, "µm": 1.0, "μm": 1.0, "micron": 1.0, "microns": 1.0, "nm": 1e-3}
_CURRENT = {"a": 1e9, "ma": 1e6, "ua": 1e3, "µa": 1e3, "μa": 1e3, "na": 1.0, "pa": 1e-3, "fa": 1e-6}
#: value units of maps, to the unit battlab shows
_MAP_UNITS = {"a": (1e9, "nA"), "ua": (1e3, "nA"), "µa": (1e3, "nA"), "na": (1.0, "nA"), "pa": (1e-3, "nA"),
              "m": (1e9, "nm"), "um": (1e3, "nm"), "µm": (1e3, "nm"), "nm": (1.0, "nm"),
              "v": (1.0, "V"), "mv": (1e-3, "V"), "deg": (1.0, "deg"), "°": (1.0, "deg"), "rad": (1.0, "rad")}
_KINDS = {"secm": ("tip current", "nA"), "sicm-current": ("ion current", "nA"), "sicm-height": ("height", "nm"),
          "esm-amplitude": ("ESM amplitude", "pm"), "esm-phase": ("ESM phase", "deg")}


def _read(source, name):
    """(bytes, source name, provenance meta) of a path or bytes: the AFM reader's size-checked read."""
    from battlab.afm.io import _read_bytes

    data, src = _read_bytes(source, name)
    return data, src, {"source_name": src, "sha256": hashlib.sha256(data).hexdigest()}


def _text(data, src):
    if b"\x00" in data[:4096]:
        raise UnsupportedFormatError(f"{Path(src).name} is binary, not a text table.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _unit_in(header):
    m = re.search(r"[\(\[]\s*([^\)\]]+?)\s*[\)\]]|/\s*([A-Za-zµμ°]+)\s*$", header)
    return (m.group(1) or m.group(2)).strip() if m else None


def _table(text, src):
    from battlab.io.small_table import check_table_lines

    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "%", ";"))]
    check_table_lines(lines, name=str(src), what="probe table")
    if not lines:
        raise CorruptFileError(f"{Path(src).name} holds no data rows.")
    sep = "," if lines[0].count(",") else ("\t" if lines[0].count("\t") else r"\s+")
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, engine="python", header=None)
    except (pd.errors.ParserError, ValueError) as exc:
        raise CorruptFileError(f"{Path(src).name}: not a delimited table ({exc}).") from None
    first = list(frame.iloc[0]) if len(frame) else []
    if first and not all(_is_number(v) for v in first):  # a header row names the columns
        frame = frame.iloc[1:].reset_index(drop=True)
        frame.columns = [str(v) for v in first]
        frame = frame.apply(pd.to_numeric, errors="coerce")
    else:
        frame.columns = [f"col{j}" for j in range(frame.shape[1])]
    return frame


def _is_number(v):
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _pick(columns, patterns):
    for pat in patterns:
        for c in columns:
            if re.search(pat, str(c), re.IGNORECASE):
                return c
    return None


def read_approach_curve(source, *, name: str | None = None, distance_unit: str | None = None,
                        current_unit: str | None = None, distance_column: str | None = None,
                        current_column: str | None = None) -> pd.DataFrame:
    """Read an SECM approach curve (current vs tip–substrate distance) from a text/CSV table.

    Parameters
    ----------
    source : path or bytes
        Comma-, tab- or space-separated table. Columns are found by name (``distance``,
        ``z``, ``d`` …; ``current``, ``i`` …) or taken as the first two columns.
    distance_unit, current_unit : str, optional
        Units used when the header does not state them ("Distance (µm)", "I / pA" in a
        header win).
        Distance: m, mm, µm/um, nm; current: A, mA, µA/uA, nA, pA, fA.

    Returns
    -------
    DataFrame
        ``distance_um``, ``current_nA`` (in file order) plus the file's other columns.
    """
    data, src, meta = _read(source, name)
    try:
        frame = _table(_text(data, src), src)
        dcol = distance_column or _pick(frame.columns, [r"dist", r"^\s*z\b", r"^\s*d\b", r"height", r"col0"])
        icol = current_column or _pick(frame.columns, [r"current", r"^\s*i[_\s(\[/]", r"^\s*i\s*$", r"col1"])
        if dcol is None or icol is None:
            if frame.shape[1] < 2:
                raise MissingDataError(f"{Path(src).name}: an approach curve needs two columns, distance and current.")
            dcol, icol = dcol or frame.columns[0], icol or frame.columns[1]
        for c in (dcol, icol):
            if c not in frame.columns:
                raise MissingDataError(f"{Path(src).name}: no column {c!r}; columns are {list(frame.columns)}.")
        # a unit the file states wins over the caller's fallback
        du = (_unit_in(str(dcol)) or distance_unit or "").strip().lower().replace("μ", "µ")
        iu = (_unit_in(str(icol)) or current_unit or "").strip().lower().replace("μ", "µ")
        if du not in _LENGTH:
            raise MissingDataError(f"{Path(src).name}: the distance unit is not stated (column {dcol!r}); pass "
                                   "distance_unit='µm' or 'nm' (CLI: --distance-unit).")
        if iu not in _CURRENT:
            raise MissingDataError(f"{Path(src).name}: the current unit is not stated (column {icol!r}); pass "
                                   "current_unit='nA' or 'pA' (CLI: --current-unit).")
        d = pd.to_numeric(frame[dcol], errors="coerce").to_numpy(float) * _LENGTH[du]
        i = pd.to_numeric(frame[icol], errors="coerce").to_numpy(float) * _CURRENT[iu]
    except BattlabError:
        raise
    except Exception as exc:  # a damaged file ends in a message, not a traceback
        raise CorruptFileError(f"{Path(src).name} could not be read as an approach curve ({type(exc).__name__}: "
                               f"{exc}).") from exc
    ok = np.isfinite(d) & np.isfinite(i)
    if ok.sum() < 5:
        raise MissingDataError(f"{Path(src).name}: fewer than 5 numeric (distance, current) rows.")
    out = frame.drop(columns=[dcol, icol]).loc[ok].reset_index(drop=True)
    out.insert(0, "current_nA", i[ok])
    out.insert(0, "distance_um", d[ok])
    out.attrs["battlab"] = {**meta, "format": "text-table", "distance_column": str(dcol),
                            "current_column": str(icol)}
    out.attrs["name"] = Path(src).stem
    return out


def probe_map(values, *, pixel_size_um: float, kind: str = "secm", units: str | None = None,
              channel: str | None = None, source_name: str = "array", pixel_size_y_um: float | None = None,
              meta: dict | None = None) -> xr.DataArray:
    """Wrap a 2-D array as a probe map in the AFM map convention (:func:`battlab.afm.height_map`).

    ``kind`` is one of secm, sicm-current, sicm-height, esm-amplitude, esm-phase and sets
    the default channel name and unit.
    """
    from battlab.afm.io import height_map

    if kind not in _KINDS:
        raise InvalidParameterError(f"kind must be one of {list(_KINDS)}, got {kind!r}.")
    default_channel, default_units = _KINDS[kind]
    da = height_map(values, pixel_size_um=pixel_size_um, units=units or default_units,
                    channel=channel or default_channel, source_name=source_name, pixel_size_y_um=pixel_size_y_um,
                    meta=meta)
    da.attrs["probe_kind"] = kind
    return da


def _convert(values, unit):
    key = (unit or "").strip().lower().replace("μ", "µ")
    factor, shown = _MAP_UNITS.get(key, (1.0, unit or ""))
    return np.asarray(values, float) * factor, shown


def _xyz_grid(frame, src, value_column):
    cols = list(frame.columns)
    xc = _pick(cols, [r"^\s*x\b", r"col0"])
    yc = _pick(cols, [r"^\s*y\b", r"col1"])
    vc = value_column or next((c for c in cols if c not in (xc, yc)), None)
    if xc is None or yc is None or vc is None or vc not in cols:
        raise MissingDataError(f"{Path(src).name}: an x, y, value table needs x and y columns and a value column; "
                               f"columns are {cols}.")
    x = pd.to_numeric(frame[xc], errors="coerce").to_numpy(float)
    y = pd.to_numeric(frame[yc], errors="coerce").to_numpy(float)
    v = pd.to_numeric(frame[vc], errors="coerce").to_numpy(float)
    xu, yu = (_unit_in(str(xc)) or "µm").lower(), (_unit_in(str(yc)) or "µm").lower()
    for u in (xu, yu):
        if u.replace("μ", "µ") not in _LENGTH:
            raise MissingDataError(f"{Path(src).name}: unknown position unit {u!r}; use µm, nm or mm.")
    x, y = x * _LENGTH[xu.replace("μ", "µ")], y * _LENGTH[yu.replace("μ", "µ")]
    ux, uy = np.unique(np.round(x, 9)), np.unique(np.round(y, 9))
    if ux.size < 2 or uy.size < 2 or ux.size * uy.size > 4 * len(x):
        raise CorruptFileError(f"{Path(src).name}: the x, y positions do not form a regular grid.")
    dx, dy = np.diff(ux), np.diff(uy)
    if np.ptp(dx) > 1e-3 * dx.mean() or np.ptp(dy) > 1e-3 * dy.mean():
        raise CorruptFileError(f"{Path(src).name}: the x, y positions are not evenly spaced.")
    grid = np.full((uy.size, ux.size), np.nan)
    grid[np.searchsorted(uy, np.round(y, 9)), np.searchsorted(ux, np.round(x, 9))] = v
    return grid, float(dx.mean()), float(dy.mean()), str(vc)


def read_probe_map(source, *, name: str | None = None, kind: str = "secm", pixel_size_um: float | None = None,
                   value_unit: str | None = None, value_column: str | None = None) -> xr.DataArray:
    """Read an SECM, SICM or ESM map into the AFM map convention.

    Parameters
    ----------
    source : path or bytes
        * an ``x, y, value`` table (CSV/text; positions in µm unless the header says
          nm/mm), the usual export of SECM software; the grid and pixel size follow from
          the positions;
        * a plain matrix (text/CSV, rows along y) or a one-page TIFF, which need
          ``pixel_size_um`` and ``value_unit``.
    kind : str
        secm, sicm-current, sicm-height, esm-amplitude or esm-phase.
    value_unit : str, optional
        Unit of the values (A, nA, pA, m, nm, V, deg …) when the header does not give it.
        Currents are shown in nA and heights in nm.

    Returns
    -------
    DataArray
        dims ``("y", "x")``, attrs ``units``, ``channel``, ``pixel_size_um``, ``probe_kind``.
    """
    data, src, meta = _read(source, name)
    if kind not in _KINDS:
        raise InvalidParameterError(f"kind must be one of {list(_KINDS)}, got {kind!r}.")
    ext = Path(src).suffix.lower()
    try:
        if ext in (".tif", ".tiff") or data[:4] in (b"II*\x00", b"MM\x00*"):
            from battlab.io.arrays import read_tiff_array

            if value_unit is None or pixel_size_um is None:
                raise MissingDataError(f"{Path(src).name}: a TIFF map carries no scale; pass pixel_size_um and "
                                       "value_unit.")
            # declared size checked before decoding: a probe map is far below 256 MB (8k² float32)
            arr = read_tiff_array(data, name=Path(src).name, max_bytes=256 * 1024**2)
            if arr.ndim != 2:
                raise UnsupportedFormatError(f"{Path(src).name}: a TIFF probe map must be one 2-D page, got shape "
                                             f"{arr.shape}.")
            vals, unit = _convert(arr, value_unit)
            return probe_map(vals, pixel_size_um=pixel_size_um, kind=kind, units=unit, source_name=src,
                             meta={**meta, "format": "tiff-map"})
        text = _text(data, src)
        frame = _table(text, src)
        numeric_header = frame.columns[0] == "col0"
        # three or four columns are x, y, value(s) unless a pixel size says it is a small matrix
        xyz = not numeric_header or (pixel_size_um is None and len(frame) > 3 * frame.shape[1])
        if frame.shape[1] in (3, 4) and xyz:
            grid, dx, dy, vc = _xyz_grid(frame, src, value_column)
            unit = value_unit or _unit_in(vc)
            if unit is None:
                raise MissingDataError(f"{Path(src).name}: the value unit is not stated in column {vc!r}; pass "
                                       "value_unit (e.g. 'nA', 'pA', 'nm').")
            vals, shown = _convert(grid, unit)
            return probe_map(vals, pixel_size_um=dx, pixel_size_y_um=dy, kind=kind, units=shown, source_name=src,
                             meta={**meta, "format": "xyz-table"})
        if pixel_size_um is None or value_unit is None:
            raise MissingDataError(f"{Path(src).name}: a plain matrix carries no scale; pass pixel_size_um "
                                   "(µm per pixel) and value_unit.")
        mat = frame.apply(pd.to_numeric, errors="coerce").to_numpy(float)
        vals, shown = _convert(mat, value_unit)
        return probe_map(vals, pixel_size_um=pixel_size_um, kind=kind, units=shown, source_name=src,
                         meta={**meta, "format": "text-matrix"})
    except BattlabError:
        raise
    except Exception as exc:
        raise CorruptFileError(f"{Path(src).name} could not be read as a probe map ({type(exc).__name__}: "
                               f"{exc}).") from exc
