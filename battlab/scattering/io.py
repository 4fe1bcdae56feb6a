"""Readers and the canonical curves of small-angle scattering and reflectometry.

A SAXS/SANS curve is an ``xarray.DataArray`` named ``intensity`` over ``q_inv_A``
(scattering vector in Å⁻¹) with the coordinates ``sigma`` (1σ uncertainty of the
intensity, NaN where the file has none) and ``dq_inv_A`` (1σ q resolution, NaN where
unknown). A reflectivity curve is the same with the name ``reflectivity``. A series
stacks curves over ``time`` (UTC, plus ``elapsed_s``) exactly like spectra and
diffraction patterns (:func:`battlab.series.stack_curves`), with ``sigma`` and
``dq_inv_A`` as (time, q) coordinates.

Files are text tables of 2, 3 or 4 (or more) columns: q, I (or R), σ(I), σ(q); comment
and header lines are skipped. The unit of q is read from the header (``1/nm``,
``nm^-1``, ``Å⁻¹``, ``1/A``…) or given with ``q_units``; q in nm⁻¹ is converted to Å⁻¹.
ORSO ``.ort`` reflectivity files and NIST-style reduced SANS ``.abs`` tables are text
tables of this kind.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from battlab.errors import CorruptFileError, InvalidParameterError, MissingDataError
from battlab.io.registry import Format, register
from battlab.series import series_files, stack_curves, times_for

__all__ = ["Q_DIM", "describe", "join_echem", "load_reflectivity", "load_reflectivity_series", "load_saxs", "load_saxs_series",
           "make_curve", "read_reflectivity", "read_saxs", "stack_scattering"]

#: Name of the q dimension (Å⁻¹) of every scattering and reflectivity curve.
Q_DIM = "q_inv_A"
_TECHNIQUES = {"saxs": "intensity", "sans": "intensity", "xrr": "reflectivity", "nr": "reflectivity"}
_SAXS_EXT = (".dat", ".txt", ".csv", ".abs", ".tsv")
_REFL_EXT = (".dat", ".txt", ".csv", ".ort", ".refl", ".tsv")
_MIN_POINTS = 5

_NM = re.compile(r"nm\s*\^?\s*-\s*1|nm⁻¹|1\s*/\s*nm|nm\*\*-1|inverse\s+nanomet|\[nm-1\]|\(nm-1\)", re.I)
_ANG = re.compile(r"Å|1\s*/\s*A\b|A\s*\^?\s*-\s*1\b|A⁻¹|angstrom|\bang\b|1/Ang", re.I)
_PER_CM = re.compile(r"1\s*/\s*cm|cm\s*\^?\s*-\s*1|cm⁻¹", re.I)
_Q_LABEL = re.compile(r"^\s*(q|qz|q_z|q\s*\(|q\s*\[|scattering\s*vector|momentum\s*transfer)", re.I)
_I_LABEL = re.compile(r"^\s*(i\b|i\s*\(|i\s*\[|iq\b|i_q|intensity|dsigma|dΣ|d\s*sigma|counts)", re.I)
_R_LABEL = re.compile(r"^\s*(r\b|r\s*\(|r\s*\[|refl|reflectivity)", re.I)
_ERR_LABEL = re.compile(r"err|sigma|std|^\s*d\s*i\b|^\s*di\b|^\s*dr\b|^\s*sr\b|unc|dev", re.I)
_DQ_LABEL = re.compile(r"^\s*(dq|sq|s_?qz?|sigma_?q|sigq|res|q_?res|dqz)", re.I)


def make_curve(q_inv_A, values, *, sigma=None, dq_inv_A=None, technique: str = "saxs", units: str = "a.u.",
               meta=None, **attrs):
    """Build a canonical I(q) or R(q) curve (used by readers, reductions and generators).

    Parameters
    ----------
    q_inv_A : array_like
        Scattering vector in Å⁻¹ (any order; sorted ascending here).
    values : array_like
        Intensity (SAXS/SANS) or reflectivity (XRR/NR).
    sigma, dq_inv_A : array_like, optional
        1σ uncertainty of the values and 1σ q resolution (Å⁻¹); NaN when not given.
    technique : {"saxs", "sans", "xrr", "nr"}
        SAXS/SANS give an ``intensity`` curve, XRR/NR a ``reflectivity`` curve.
    units : str
        Units of the values (``"cm⁻¹"`` for absolute intensity, ``"a.u."``, ``""`` for R).
    meta : dict, optional
        Source record stored in ``attrs["battlab"]``.
    """
    import xarray as xr

    if technique not in _TECHNIQUES:
        raise InvalidParameterError(f"unknown technique {technique!r}; choose one of {list(_TECHNIQUES)}.")
    q = np.asarray(q_inv_A, float).ravel()
    y = np.asarray(values, float).ravel()
    s = np.full_like(q, np.nan) if sigma is None else np.asarray(sigma, float).ravel()
    dq = np.full_like(q, np.nan) if dq_inv_A is None else np.asarray(dq_inv_A, float).ravel()
    if not (q.shape == y.shape == s.shape == dq.shape):
        raise InvalidParameterError(f"q, values, sigma and dq must have one length; got {q.size}, {y.size}, "
                                    f"{s.size} and {dq.size}.")
    order = np.argsort(q, kind="stable")
    name = _TECHNIQUES[technique]
    da = xr.DataArray(y[order], dims=(Q_DIM,), name=name,
                      coords={Q_DIM: (Q_DIM, q[order], {"units": "Å⁻¹", "long_name": "q"}),
                              "sigma": (Q_DIM, s[order], {"units": units, "long_name": f"σ({name})"}),
                              "dq_inv_A": (Q_DIM, dq[order], {"units": "Å⁻¹", "long_name": "σ(q)"})})
    da.attrs.update({"units": units, "long_name": name, "technique": technique})
    da.attrs.update({k: v for k, v in attrs.items() if v is not None})
    da.attrs["battlab"] = dict(meta or {})
    da.attrs["battlab"].setdefault("technique", technique)
    da.attrs["battlab"].setdefault("notes", [])
    return da


# --------------------------------------------------------------------------- text tables


def _table(source, name):
    # One text-table parser for the project: the spectroscopy one (separators, decimal
    # commas, comment/header lines, ragged rows dropped with a note).
    from battlab.spectra.io import _label, _parse_table, _src, _text

    src = _src(source, name)
    label = _label(src)
    header, labels, arr, notes = _parse_table(_text(src), label)
    return src, label, header, labels, arr, notes


def _q_scale(header_text: str, q_label: str, q_units: str | None, notes: list) -> float:
    """Factor that turns the file's q into Å⁻¹."""
    if q_units is not None:
        key = q_units.replace(" ", "").replace("⁻¹", "-1").replace("^", "").lower()
        if key in ("a-1", "1/a", "å-1", "1/å", "inv_a", "angstrom"):
            return 1.0
        if key in ("nm-1", "1/nm", "inv_nm", "nm"):
            notes.append("q in nm⁻¹ converted to Å⁻¹ (÷ 10), as requested.")
            return 0.1
        raise InvalidParameterError(f"q_units {q_units!r}: use 'A-1' (Å⁻¹) or 'nm-1'.")
    for text in (q_label, header_text):
        if _NM.search(text):
            notes.append("q in nm⁻¹ (from the header) converted to Å⁻¹ (÷ 10).")
            return 0.1
        if _ANG.search(text):
            return 1.0
    notes.append("the file does not state the unit of q; read as Å⁻¹ (give q_units='nm-1' if it is nm⁻¹).")
    return 1.0


def _columns(labels, width, value_pattern):
    """Column indices of q, the value, σ(value) and σ(q): by label where the header names them."""
    idx = {"q": 0, "value": 1, "sigma": 2 if width > 2 else None, "dq": 3 if width > 3 else None}
    if not labels or len(labels) != width:
        return idx, ""
    q = next((i for i, lab in enumerate(labels) if _Q_LABEL.match(lab) and not _DQ_LABEL.match(lab)), None)
    v = next((i for i, lab in enumerate(labels) if value_pattern.match(lab) and not _ERR_LABEL.search(lab)), None)
    if q is None or v is None:
        return idx, labels[0] if labels else ""
    rest = [i for i in range(width) if i not in (q, v)]
    dq = next((i for i in rest if _DQ_LABEL.match(labels[i])), None)
    err = next((i for i in rest if i != dq and _ERR_LABEL.search(labels[i])), None)
    if err is None and dq is None:
        err = rest[0] if rest else None
        dq = rest[1] if len(rest) > 1 else None
    return {"q": q, "value": v, "sigma": err, "dq": dq}, labels[q]


def _read_curve(source, *, kind: str, technique: str | None, q_units: str | None, name=None):
    src, label, header, labels, arr, notes = _table(source, name)
    header_text = " ".join(header[-40:])
    value_pattern = _I_LABEL if kind == "intensity" else _R_LABEL
    if labels is None and header:
        from battlab.spectra.io import _split_header

        merged = _merge_units(_split_header(header[-1].lstrip("#%!;' ")))
        labels = merged if len(merged) == arr.shape[1] else None
    idx, q_label = _columns(labels, arr.shape[1], value_pattern)
    if technique is None:
        if kind == "intensity":
            technique = "sans" if re.search(r"\bSANS\b|neutron", header_text, re.I) else "saxs"
        else:
            technique = "xrr" if re.search(r"x-?ray|\bXRR\b", header_text, re.I) else "nr"
    elif _TECHNIQUES.get(technique) != kind:
        want = [t for t, k in _TECHNIQUES.items() if k == kind]
        raise InvalidParameterError(f"technique {technique!r} does not fit a {kind} curve; choose one of {want}.")
    scale = _q_scale(header_text, q_label, q_units, notes)
    q = arr[:, idx["q"]] * scale
    y = arr[:, idx["value"]]
    s = arr[:, idx["sigma"]] if idx["sigma"] is not None else np.full_like(q, np.nan)
    dq = arr[:, idx["dq"]] * scale if idx["dq"] is not None else np.full_like(q, np.nan)
    keep = np.isfinite(q) & (q > 0) & np.isfinite(y)
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} row(s) with q ≤ 0 or a missing value were left out.")
    q, y, s, dq = q[keep], y[keep], s[keep], dq[keep]
    if q.size < _MIN_POINTS:
        raise CorruptFileError(f"{label}: fewer than {_MIN_POINTS} usable rows of q and "
                               f"{'I' if kind == 'intensity' else 'R'}; is this a 1-D {technique.upper()} curve?")
    bad_sigma = ~(np.isfinite(s) & (s > 0))
    if idx["sigma"] is not None and bad_sigma.any():
        notes.append(f"{int(bad_sigma.sum())} uncertainty value(s) ≤ 0 or missing were set to NaN.")
    s = np.where(bad_sigma, np.nan, s)
    dq = np.where(np.isfinite(dq) & (dq > 0), dq, np.nan)
    units = "cm⁻¹" if kind == "intensity" and _PER_CM.search(" ".join(labels or []) + " " + header_text) else (
        "a.u." if kind == "intensity" else "")
    meta = {"format": "saxs-text" if kind == "intensity" else "reflectivity-text", "source_name": src.name,
            "sha256": src.sha256, "technique": technique, "start_time_utc": None, "notes": notes}
    return make_curve(q, y, sigma=s, dq_inv_A=dq, technique=technique, units=units, meta=meta)


def read_saxs(source, *, q_units: str | None = None, technique: str | None = None, name=None, **_options):
    """Read a 1-D SAXS/SANS curve I(q) from a text/CSV table.

    Parameters
    ----------
    source : path, bytes or Source
    q_units : {"A-1", "nm-1"}, optional
        Unit of the q column when the header does not say it (nm⁻¹ is converted to Å⁻¹).
    technique : {"saxs", "sans"}, optional
        Default: ``"sans"`` when the header mentions SANS or neutrons, else ``"saxs"``.

    Returns
    -------
    DataArray
        ``intensity`` over ``q_inv_A`` with ``sigma`` and ``dq_inv_A`` coordinates; units
        ``cm⁻¹`` when the header says the intensity is absolute (1/cm).

    Notes
    -----
    Columns: q, I, σ(I), σ(q) in that order, unless the header labels them (``q``,
    ``I(q)``, ``error``, ``dq``…). Rows with q ≤ 0 or a missing value are left out (the
    notes say how many).
    """
    return _read_curve(source, kind="intensity", technique=technique, q_units=q_units, name=name)


def read_reflectivity(source, *, q_units: str | None = None, technique: str | None = None, name=None,
                      **_options):
    """Read a specular reflectivity curve R(q) (neutron or X-ray) from a text table (.dat, .txt, .ort …).

    Columns: q (Qz), R, dR, dq (1σ), unless the header labels them. ORSO ``.ort`` text
    files have exactly these columns. See :func:`read_saxs` for ``q_units``; ``technique``
    is ``"nr"`` (default) or ``"xrr"`` (when the header mentions X-rays).
    """
    return _read_curve(source, kind="reflectivity", technique=technique, q_units=q_units, name=name)


def load_saxs(source, **options):
    """A SAXS/SANS curve from a path or bytes (see :func:`read_saxs`)."""
    return read_saxs(source, **options)


def load_reflectivity(source, **options):
    """A reflectivity curve from a path or bytes (see :func:`read_reflectivity`)."""
    return read_reflectivity(source, **options)


# --------------------------------------------------------------------------- series


def stack_scattering(curves, *, times=None):
    """Stack I(q) or R(q) curves into a (time, q_inv_A) series; σ and dq stay as (time, q) coordinates.

    Curves on other q grids are interpolated onto the first one
    (:func:`battlab.series.stack_curves`).
    """
    if not len(curves):
        raise MissingDataError("no curves to stack.")
    names = {c.name for c in curves}
    if len(names) > 1:
        raise InvalidParameterError("a series needs curves of one kind (all I(q) or all R(q)).")
    if times is None:
        times = [c.attrs.get("battlab", {}).get("start_time_utc") for c in curves]
    if len(times) != len(curves):
        raise InvalidParameterError(f"{len(times)} times for {len(curves)} curves.")
    if any(t is None for t in times):
        raise MissingDataError("some curves have no acquisition time: give times=[...] or a timestamps CSV.")
    import pandas as pd

    stamps = pd.to_datetime(pd.Series([pd.Timestamp(t) for t in times]), utc=True)
    order = np.argsort(stamps.to_numpy(), kind="stable")
    curves = [curves[i] for i in order]
    times = [stamps.iloc[i] for i in order]
    series = stack_curves(curves, times=times, label="curves")
    for coord in ("sigma", "dq_inv_A"):
        parts = []
        for c in curves:
            part = c[coord].reset_coords(drop=True).rename(c.name)
            part.attrs = {}
            parts.append(part)
        stacked = stack_curves(parts, times=times, label="curves")
        series = series.assign_coords({coord: (("time", Q_DIM), stacked.to_numpy(), dict(curves[0][coord].attrs))})
    return series


def _load_series(reader, folder_or_files, suffixes, timestamps, pattern, label, options):
    if isinstance(folder_or_files, (str, Path)) and Path(folder_or_files).is_file():
        files = [Path(folder_or_files)]
    else:
        files = series_files(folder_or_files, suffixes=suffixes, pattern=pattern, label=label)
    curves = [reader(p, **options) for p in files]
    times = times_for(files, timestamps, curves, label=f"{label} curves")
    if all(t is None for t in times):
        # Text curves carry no clock: order by name and count whole minutes from 1970, so the
        # series keeps the file order; a timestamps CSV gives real times.
        times = [np.datetime64("1970-01-01T00:00:00") + np.timedelta64(60 * i, "s") for i in range(len(files))]
        for c in curves:
            c.attrs["battlab"]["notes"].append("no acquisition time: curves are in file-name order, one minute "
                                               "apart (give a timestamps CSV file,time for real times).")
    return stack_scattering(curves, times=times)


def load_saxs_series(folder_or_files, *, timestamps=None, pattern: str = "*", **options):
    """Read a folder (or list) of I(q) files into a (time, q_inv_A) series.

    ``timestamps`` is a CSV with columns ``file`` and ``time`` (ISO 8601, UTC) or one
    time per file; without it the curves keep the file-name order one minute apart.
    """
    return _load_series(read_saxs, folder_or_files, _SAXS_EXT, timestamps, pattern, "SAXS/SANS", options)


def load_reflectivity_series(folder_or_files, *, timestamps=None, pattern: str = "*", **options):
    """Read a folder (or list) of R(q) files into a (time, q_inv_A) series (see :func:`load_saxs_series`)."""
    return _load_series(read_reflectivity, folder_or_files, _REFL_EXT, timestamps, pattern, "reflectivity",
                        options)


def describe(curve) -> str:
    """A few lines for ``battlab info``."""
    q = curve[Q_DIM].to_numpy()
    meta = curve.attrs.get("battlab", {})
    has_sigma = bool(np.isfinite(curve["sigma"].to_numpy()).any())
    lines = [f"technique:  {curve.attrs.get('technique', '?')}",
             f"curves:     {curve.sizes.get('time', 1)}",
             f"q:          {q.min():.4g} to {q.max():.4g} Å⁻¹, {q.size} points",
             f"{curve.name + ':':<11} {curve.attrs.get('units', '') or 'dimensionless'}"
             f"{', with uncertainties' if has_sigma else ', no uncertainties'}"]
    lines += [f"note:       {n}" for n in meta.get("notes", [])]
    return "\n".join(lines)


# --------------------------------------------------------------------------- registry


def _header_labels(head: bytes):
    """Labels of the last header line before the numeric rows (None when the head is no table)."""
    from battlab.errors import BattlabError
    from battlab.spectra.io import _parse_table, _split_header

    try:
        header, _, _, _ = _parse_table(head.decode("latin-1"), "head")
    except BattlabError:
        return None
    if not header or any(len(h) > 2000 for h in header[-3:]):
        return None
    return _merge_units(_split_header(header[-1].replace("|", ",")))


def _merge_units(labels):
    """``["q", "(1/nm)", "I(q)"]`` → ``["q (1/nm)", "I(q)"]``: a unit split off by spaces rejoins its label."""
    out = []
    for lab in labels:
        if out and lab[:1] in "([":
            out[-1] = f"{out[-1]} {lab}"
        else:
            out.append(lab)
    return out


def join_echem(table, series, echem, *, clock_offset_s: float = 0.0, time_basis: str = "auto",
               label: str = "curves"):
    """A per-curve table with the cell's electrochemistry at each curve's time.

    The join is :func:`battlab.series.curve_echem` (:func:`battlab.correlate.timeline.echem_at`);
    without a cycling table or a (time, q) series the table comes back unchanged.
    """
    if echem is None or not hasattr(series, "dims") or "time" not in series.dims:
        return table
    from battlab.series import add_echem, curve_echem

    notes = table.attrs.get("notes", [])
    per_curve = curve_echem(series, echem, clock_offset_s=clock_offset_s, time_basis=time_basis, label=label)
    out = add_echem(table, per_curve, index="curve")
    out.attrs["notes"] = notes
    return out


def _sniffer(value_pattern, extensions, orso: bool):
    def sniff(head: bytes, name: str) -> float:
        if b"\x00" in head[:4096] or not name.lower().endswith(extensions):
            return 0.0
        if orso and head.lstrip()[:64].lower().startswith(b"# # orso reflectivity"):
            return 0.95
        labels = _header_labels(head)
        if not labels or len(labels) < 2:
            return 0.0
        # Only claim tables whose first column is q and whose second is I (or R).
        if _Q_LABEL.match(labels[0]) and value_pattern.match(labels[1]):
            return 0.7
        return 0.0

    return sniff


register(Format(name="saxs-text", kind="saxs", extensions=_SAXS_EXT,
                description="a SAXS/SANS curve as a text table (q, I, σ(I)[, σ(q)])",
                sniff=_sniffer(_I_LABEL, _SAXS_EXT, False), read=read_saxs))
register(Format(name="reflectivity-text", kind="reflectivity", extensions=_REFL_EXT,
                description="a reflectivity curve as a text table (q, R, dR[, dq]; ORSO .ort)",
                sniff=_sniffer(_R_LABEL, _REFL_EXT, True), read=read_reflectivity))
