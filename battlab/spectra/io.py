"""Spectroscopy readers and the canonical spectrum representation.

A spectrum is an ``xarray.DataArray`` named ``intensity`` over one technique axis
(see :data:`AXES`); a series adds a ``time`` dimension (UTC timestamps plus
``elapsed_s``), exactly like a diffraction series (:mod:`battlab.series`).
``attrs["technique"]`` names the technique and ``attrs["battlab"]`` holds the source
record (format, sha256, source name, start time, notes).

Readers (registered with kind ``"spectrum"``, so ``battlab.load(..., kind="spectrum")``
refuses diffraction and cycler files and the XRD/echem apps refuse spectra):

``spectrum-text``  text/CSV tables whose x header names the axis (Raman, FTIR, NMR, XPS)
``jcamp-dx``       JCAMP-DX 4.24 (AFFN, SQZ/DIF/DUP with the Y-check, XY..XY tables)
``xas-columns``    Athena ``.xmu``, XDI 1.0, beamline column files, KEK-PF 9809
``vamas``          ISO 14976 XPS (a dict of spectra, one per region)
``bruker-bes3t``   Bruker EPR .DSC/.DTA pairs (1-D sweeps and 2-D series; see
                   :func:`battlab.spectra.epr.read_bes3t`)
``galactic-spc``   recognised and refused: export CSV or JCAMP-DX
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from battlab.errors import (
    CorruptFileError,
    InvalidParameterError,
    MissingDataError,
    TooLargeError,
    UnsupportedFormatError,
    UnsupportedVersionError,
)
from battlab.io.registry import DEFAULT_MAX_BYTES, Format, Source, _as_source, register
from battlab.series import series_files, stack_curves, times_for

__all__ = ["AXES", "MAX_POINTS", "describe", "load_spectra_series", "load_spectrum", "make_spectrum", "read_jcamp",
           "read_text_spectrum", "read_vamas", "read_xas", "stack_spectra"]

#: technique -> (axis name, units, long name, axis decreasing in plots)
AXES = {
    "raman": ("wavenumber_cm1", "cm⁻¹", "Raman shift", False),
    "ftir": ("wavenumber_cm1", "cm⁻¹", "wavenumber", True),
    "xps": ("binding_energy_eV", "eV", "binding energy", True),
    "xas": ("energy_eV", "eV", "photon energy", False),
    "nmr": ("shift_ppm", "ppm", "chemical shift", True),
    "mossbauer": ("velocity_mm_s", "mm/s", "Doppler velocity", False),
    "epr": ("field_mT", "mT", "magnetic field", False),
    "generic": ("x", "", "x", False),
}


def make_spectrum(x, intensity, *, technique: str, units: str = "a.u.", meta=None, **attrs):
    """Build a canonical spectrum DataArray (used by readers and generators).

    Parameters
    ----------
    x, intensity : array_like
        Axis values (any order; sorted ascending here) and intensities.
    technique : {"raman", "ftir", "xps", "xas", "nmr", "mossbauer", "epr", "generic"}
        Picks the axis name and units from :data:`AXES`.
    units : str
        Units of the intensity ("counts", "a.u.", "absorbance", "mu(E)" …).
    meta : dict, optional
        Source record stored in ``attrs["battlab"]``.
    **attrs
        Extra attributes (``excitation_nm``, ``edge``, ``photon_energy_eV`` …).
    """
    import xarray as xr

    if technique not in AXES:
        raise InvalidParameterError(f"unknown technique {technique!r}; choose one of {list(AXES)}.")
    axis, axis_units, long_name, _ = AXES[technique]
    xv = np.asarray(x, float)
    y = np.asarray(intensity, float)
    if xv.shape != y.shape or xv.ndim != 1:
        raise InvalidParameterError(f"x and intensity must be 1-D of one length, got {xv.shape} and {y.shape}.")
    order = np.argsort(xv, kind="stable")
    da = xr.DataArray(y[order], dims=(axis,), name="intensity",
                      coords={axis: (axis, xv[order], {"units": axis_units, "long_name": long_name})})
    da.attrs.update({"units": units, "long_name": "intensity", "technique": technique})
    da.attrs.update({k: v for k, v in attrs.items() if v is not None})
    da.attrs["battlab"] = dict(meta or {})
    da.attrs["battlab"].setdefault("technique", technique)
    da.attrs["battlab"].setdefault("notes", [])
    return da


def stack_spectra(spectra, *, times=None):
    """Stack spectra of one technique into a (time, axis) series; see :func:`battlab.series.stack_curves`."""
    return stack_curves(spectra, times=times, label="spectra")


# =========================================================================== readers
#
# Every reader takes a path, bytes or :class:`~battlab.io.registry.Source` and returns
# canonical spectra (VAMAS: a dict of them). Raw inputs are only read, never written.

#: Hostile inputs may declare or expand to many points (JCAMP DUP counts, VAMAS ordinate
#: counts); more than this is refused before it is allocated.
MAX_POINTS = 5_000_000
#: Text lines longer than this cannot be a spectrum row or header and are skipped.
MAX_LINE_CHARS = 20_000
#: Columns beyond this are not a spectrum table.
MAX_COLUMNS = 256

_HC_EV_A = 12398.419843  # h·c in eV·Å (CODATA 2018), for Bragg angle -> photon energy


def _src(source, name=None) -> Source:
    return source if isinstance(source, Source) else _as_source(source, name, DEFAULT_MAX_BYTES)


def _label(src: Source) -> str:
    return Path(src.name).name


def _meta(src: Source, fmt: str, technique: str) -> dict:
    return {"format": fmt, "source_name": src.name, "sha256": src.sha256, "technique": technique,
            "start_time_utc": None, "notes": []}


def _text(src: Source) -> str:
    """The file as text; NUL bytes mean a damaged file or a binary one, never a text export."""
    text = src.text()
    if "\x00" in text:
        raise CorruptFileError(f"{_label(src)} holds binary bytes (NUL) where a text spectrum should be; the file "
                               "is damaged or is not a text export. Export it again from the instrument software.")
    return text


def _lines(text: str):
    """Lines of a text file; over-long ones (damaged or hostile) are blanked, not parsed."""
    return [ln if len(ln) <= MAX_LINE_CHARS else "" for ln in text.splitlines()]


def _check_technique(technique):
    if technique is not None and technique not in AXES:
        raise InvalidParameterError(f"unknown technique {technique!r}; choose one of {list(AXES)}.")


# --------------------------------------------------------------------------- text tables

_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_COMMENT = ("#", "!", "%", "//", "'", "$$", "*")


def _to_float(tok: str, comma_decimal: bool):
    tok = tok.strip().strip('"')
    if comma_decimal and tok.count(",") == 1 and "." not in tok:
        tok = tok.replace(",", ".")
    if not _FLOAT.match(tok):
        if tok.lower() in ("nan", "-nan", "inf", "-inf", "+inf"):
            return float(tok)
        return None
    return float(tok)


def _split_numeric(s: str):
    """Numbers of one data line, trying tab, semicolon, comma and whitespace separators.

    Decimal commas are accepted with tab, semicolon and whitespace separators.
    """
    candidates = []
    if "\t" in s:
        candidates.append((s.split("\t"), True))
    if ";" in s:
        candidates.append((s.split(";"), True))
    if "," in s:
        candidates.append((s.split(","), False))
    candidates.append((s.split(), True))
    for parts, comma_ok in candidates:
        parts = [p for p in parts if p.strip()]
        if len(parts) < 1 or len(parts) > MAX_COLUMNS:
            continue
        vals = [_to_float(p, comma_ok) for p in parts]
        if all(v is not None for v in vals):
            return vals
    return None


def _split_header(s: str):
    s = s.strip().lstrip("#%!;'").strip()
    for sep in ("\t", ";", ","):
        if sep in s:
            return [p.strip().strip('"') for p in s.split(sep) if p.strip()]
    parts = re.split(r"\s{2,}", s)
    if len(parts) >= 2:
        return [p.strip() for p in parts]
    return s.split()


def _parse_table(text: str, name: str):
    """Header lines, the column-label line and a float array of the numeric rows.

    Returns
    -------
    header_lines : list of str
        Every non-numeric line before the first data row.
    labels : list of str or None
        The last header line, split into labels, when it has one label per column.
    rows : ndarray, shape (n, ncols)
    notes : list of str
    """
    header, rows, notes = [], [], []
    dropped = 0
    for line in _lines(text):
        s = line.strip()
        if not s:
            continue
        vals = None if s.startswith(_COMMENT) else _split_numeric(s)
        if vals is None:
            if not rows:
                header.append(s)
            else:
                dropped += 1
            continue
        rows.append(vals)
        if len(rows) > MAX_POINTS:
            raise TooLargeError(f"{name}: more than {MAX_POINTS:,} rows; split the file.")
    if len(rows) < 3:
        raise UnsupportedFormatError(f"{name}: no columns of numbers found (at least 3 rows of x, intensity).")
    widths = {}
    for r in rows[:1000]:
        widths[len(r)] = widths.get(len(r), 0) + 1
    width = max(widths, key=lambda w: (widths[w], w))
    good = [r for r in rows if len(r) == width]
    if len(good) < len(rows):
        dropped += len(rows) - len(good)
    if dropped:
        notes.append(f"{dropped} line(s) that were not rows of {width} numbers were skipped.")
    if width < 2:
        raise MissingDataError(f"{name}: only one column of numbers; a spectrum needs x and intensity columns.")
    arr = np.array(good, dtype=float)
    labels = None
    for cand in reversed(header[-3:]):
        parts = _split_header(cand)
        if len(parts) == width or (len(parts) > width and len(parts) <= width + 2 and not labels):
            labels = parts[:width] if len(parts) == width else parts
            break
    return header, labels, arr, notes


_TECH_PATTERNS = (
    ("raman", re.compile(r"raman", re.I)),
    ("xps", re.compile(r"binding[\s_-]*energy|kinetic[\s_-]*energy|\bB\.?E\.?\s*\(|\bBE\b", re.I)),
    ("nmr", re.compile(r"\bppm\b|chemical[\s_-]*shift|\bdelta\b|δ", re.I)),
    ("mossbauer", re.compile(r"velocity|mm/s|mm s-1|mm\*s\^-1|m(?:ö|o|oe)ssbauer", re.I)),
    ("epr", re.compile(r"magnetic[\s_-]*field|\bfield\b|\bgauss\b|\bB\s*[(\[]\s*(?:mT|G)\s*[)\]]|\bEPR\b|\bESR\b",
                       re.I)),
    ("ftir", re.compile(r"wave[\s_-]*number|cm-1|cm\^-1|cm⁻¹|1/cm|cm\*\*-1|absorbance|transmittance|ftir|\bIR\b", re.I)),
)
_CYCLER_WORDS = re.compile(r"volt|current|capacity|cycle|step|time|ewe|\bI/mA|\(V\)|\(A\)|ohm|freq|impedance|"
                           r"2[\s_-]*theta|2θ|angle", re.I)


def _guess_technique(first_label: str, header_text: str = ""):
    """Technique from the x-column label (and the header text); None when not stated."""
    for tech, pat in _TECH_PATTERNS:
        if pat.search(first_label):
            if tech == "ftir" and re.search(r"raman", header_text, re.I):
                return "raman"
            return tech
    return None


def read_text_spectrum(source, *, technique: str | None = None, x_column=0, y_column=1, name=None, **_options):
    """Read a spectrum from a text/CSV table (Raman, FTIR, NMR, XPS exports).

    Parameters
    ----------
    source : path, bytes or Source
    technique : {"raman", "ftir", "xps", "nmr", "xas", "generic"}, optional
        Default: guessed from the x-column label ("Raman shift", "Wavenumber (cm-1)",
        "Binding Energy (eV)", "ppm" …); ``"generic"`` when the header does not say.
    x_column, y_column : int or str
        Column index or label of the axis and of the intensity.

    Notes
    -----
    Separators may be commas, semicolons, tabs or spaces; decimal commas are read with
    semicolon, tab or space separators. Comment lines (``#``, ``%``, ``!``…) and header
    lines are skipped; the last header line gives the column labels. Descending axes are
    sorted ascending. XPS kinetic-energy columns need ``photon_energy_eV``; XAS tables are
    read by :func:`read_xas`.
    """
    src = _src(source, name)
    _check_technique(technique)
    label = _label(src)
    header, labels, arr, notes = _parse_table(_text(src), label)

    def col(which, default):
        if isinstance(which, str):
            if not labels or which not in labels:
                raise MissingDataError(f"{label}: no column {which!r}; columns are {labels}.")
            return labels.index(which)
        if not -arr.shape[1] <= int(which) < arr.shape[1]:
            raise InvalidParameterError(f"{label}: column {which} out of range ({arr.shape[1]} columns).")
        return int(which)

    ix, iy = col(x_column, 0), col(y_column, 1)
    xlab = labels[ix] if labels and ix < len(labels) else ""
    ylab = labels[iy] if labels and iy < len(labels) else ""
    header_text = " ".join(header[-5:])
    guessed = _guess_technique(xlab, header_text) or _guess_technique(header_text[-400:])
    tech = technique or guessed or "generic"
    meta = _meta(src, "spectrum-text", tech)
    meta["notes"] += notes
    if technique is None and guessed is None:
        meta["notes"].append("the header does not name a spectroscopic axis; read as a generic spectrum "
                             "(give technique= to set it).")
    x, y = arr[:, ix], arr[:, iy]
    finite = np.isfinite(x)
    if finite.sum() < 3:
        raise CorruptFileError(f"{label}: fewer than 3 finite axis values.")
    x, y = x[finite], y[finite]
    attrs = {}
    if tech == "xps" and re.search(r"kinetic", xlab, re.I):
        hv = _options.get("photon_energy_eV")
        if hv is None:
            raise MissingDataError(f"{label}: the axis is kinetic energy; give photon_energy_eV "
                                   "(1486.6 for Al Kα, 1253.6 for Mg Kα) to convert it to binding energy.")
        x = float(hv) - x
        attrs["photon_energy_eV"] = float(hv)
        meta["notes"].append(f"binding energy = {float(hv):g} eV − kinetic energy.")
    if tech == "ftir" and re.search(r"\bnm\b|nanomet", xlab, re.I):
        x = 1e7 / x
        meta["notes"].append("wavelength in nm converted to wavenumber (cm⁻¹ = 10⁷ / nm).")
    if tech == "ftir" and re.search(r"µm|μm|\bum\b|micromet", xlab, re.I):
        x = 1e4 / x
        meta["notes"].append("wavelength in µm converted to wavenumber (cm⁻¹ = 10⁴ / µm).")
    if tech == "xas":
        x, note = _kev_to_ev(x)
        if note:
            meta["notes"].append(note)
    if tech == "epr":
        x, freq = _epr_axis(xlab, " ".join(header), x, meta["notes"], _options.get("frequency_GHz"))
        attrs["microwave_frequency_GHz"] = freq
    units = _units_from_label(ylab) or "a.u."
    return make_spectrum(x, y, technique=tech, units=units, meta=meta, x_label=xlab or None,
                         intensity_label=ylab or None, **attrs)


def _epr_axis(xlab: str, header_text: str, x, notes, frequency_GHz):
    """EPR field in mT (gauss and tesla converted) and the microwave frequency stated in the header."""
    if re.search(r"\bgauss\b|[(\[]\s*G\s*[)\]]|\bG\b", xlab):
        x = x / 10.0
        notes.append("field converted from G to mT (1 mT = 10 G).")
    elif re.search(r"[(\[]\s*T\s*[)\]]", xlab):
        x = x * 1000.0
        notes.append("field converted from T to mT.")
    freq = frequency_GHz
    if freq is None:
        m = re.search(r"(?:frequency|freq|MWFQ|\bnu\b|ν)[^0-9]{0,20}"
                      r"([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?\d+)?)\s*(GHz|MHz|Hz)?", header_text, re.I)
        if m:
            value = float(m.group(1))
            unit = (m.group(2) or ("Hz" if value > 1e6 else "GHz")).lower()
            freq = value * {"ghz": 1.0, "mhz": 1e-3, "hz": 1e-9}[unit]
            notes.append(f"microwave frequency {freq:.6g} GHz read from the header.")
    return x, (float(freq) if freq is not None else None)


def _units_from_label(lab: str):
    m = re.search(r"[(\[]([^)\]]{1,20})[)\]]", lab or "")
    if m:
        return m.group(1).strip()
    low = (lab or "").lower()
    for word in ("counts", "cps", "absorbance", "transmittance", "intensity"):
        if word in low:
            return "a.u." if word == "intensity" else word
    return None


def _sniff_text_spectrum(head: bytes, name: str) -> float:
    low = name.lower()
    if b"\x00" in head[:4096] or not low.endswith((".csv", ".txt", ".dat", ".tsv", ".asc", ".prn", ".spe")):
        return 0.0
    text = head.decode("latin-1")
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n")[:200] if ln.strip()]
    if len(lines) > 1:
        lines = lines[:-1]
    header = []
    nrows = 0
    for s in lines:
        if len(s) > 2000:
            return 0.0
        if not s.startswith(_COMMENT) and _split_numeric(s) is not None:
            nrows += 1
            if nrows >= 3:
                break
        elif nrows == 0:
            header.append(s)
        else:
            break
    if nrows < 3 or not header:
        return 0.0
    # Claim the file only when the label of the x column names a spectroscopic axis and
    # nothing in the header belongs to a cycler, impedance or diffraction table.
    last = header[-1]
    if _CYCLER_WORDS.search(last) or _XAS_HEADER.search(last):
        return 0.0
    labels = _split_header(last)
    if not labels or _guess_technique(labels[0]) is None:
        return 0.0
    return 0.6


# --------------------------------------------------------------------------- JCAMP-DX

_SQZ = {"@": 0, **{c: i + 1 for i, c in enumerate("ABCDEFGHI")}, **{c: -(i + 1) for i, c in enumerate("abcdefghi")}}
_DIF = {"%": 0, **{c: i + 1 for i, c in enumerate("JKLMNOPQR")}, **{c: -(i + 1) for i, c in enumerate("jklmnopqr")}}
_DUP = {**{c: i + 1 for i, c in enumerate("STUVWXYZ")}, "s": 9}
_ASDF_CHARS = re.compile(r"[@A-DF-Ia-df-i%J-Rj-rS-Zs]")
_ASDF_TOKEN = re.compile(r"([@A-Ia-i])(\d*\.?\d*)|([%J-Rj-r])(\d*\.?\d*)|([S-Zs])(\d*)|([-+]?(?:\d+\.?\d*|\.\d+))|(\?)|([\s,;]+)")
_AFFN = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\?")

_JCAMP_TECH = (("RAMAN", "raman"), ("INFRARED", "ftir"), ("IR SPECTRUM", "ftir"), ("NMR", "nmr"),
               ("PHOTOELECTRON", "xps"), ("XPS", "xps"), ("X-RAY ABSORPTION", "xas"), ("XAS", "xas"))


def _jlabel(raw: str) -> str:
    """JCAMP label normalised as the spec says: upper case, no spaces, dashes, slashes or underscores."""
    return re.sub(r"[\s\-/_]", "", raw).upper()


def _decode_asdf_line(line: str, lineno: int, label: str):
    """X value and Y values of one ``(X++(Y..Y))`` line; whether it ended in DIF form."""
    line = line.split("$$", 1)[0].strip()
    if not line:
        return None, [], False
    if not _ASDF_CHARS.search(line):  # AFFN / PAC: plain numbers (exponents allowed)
        toks = _AFFN.findall(line)
        if not toks:
            raise CorruptFileError(f"{label}: line {lineno} of the data table holds no numbers.")
        vals = [np.nan if t == "?" else float(t) for t in toks]
        return vals[0], vals[1:], False
    pos, n = 0, len(line)
    x = None
    ys: list = []
    last_dif = None  # the difference of the last DIF token (for DUP after DIF)
    ended_dif = False
    while pos < n:
        m = _ASDF_TOKEN.match(line, pos)
        if m is None or m.end() == pos:
            raise CorruptFileError(f"{label}: line {lineno}: unexpected character {line[pos]!r} in "
                                   "compressed (ASDF) data.")
        pos = m.end()
        if m.group(9):
            continue
        if x is None:
            if not m.group(7):
                raise CorruptFileError(f"{label}: line {lineno} does not start with an X value.")
            x = float(m.group(7))
            continue
        if m.group(1):  # SQZ: an absolute value
            ys.append(float(f"{'-' if _SQZ[m.group(1)] < 0 else ''}{abs(_SQZ[m.group(1)])}{m.group(2)}"))
            last_dif, ended_dif = None, False
        elif m.group(3):  # DIF: a difference from the previous value
            if not ys:
                raise CorruptFileError(f"{label}: line {lineno} starts with a difference (DIF) and no value.")
            d = float(f"{'-' if _DIF[m.group(3)] < 0 else ''}{abs(_DIF[m.group(3)])}{m.group(4)}")
            ys.append(ys[-1] + d)
            last_dif, ended_dif = d, True
        elif m.group(5):  # DUP: repeat the previous token (count includes it)
            if not ys:
                raise CorruptFileError(f"{label}: line {lineno} starts with a repeat (DUP) count.")
            count = int(str(_DUP[m.group(5)]) + m.group(6)) if m.group(6) else _DUP[m.group(5)]
            if count - 1 > MAX_POINTS:
                raise TooLargeError(f"{label}: line {lineno} repeats a value {count:,} times; refused.")
            if last_dif is None:
                ys.extend([ys[-1]] * (count - 1))
            else:
                start = ys[-1]
                ys.extend((start + last_dif * np.arange(1, count)).tolist())
        elif m.group(7):  # AFFN / PAC number
            ys.append(float(m.group(7)))
            last_dif, ended_dif = None, False
        elif m.group(8):
            ys.append(np.nan)
            last_dif, ended_dif = None, False
        if len(ys) > MAX_POINTS:
            raise TooLargeError(f"{label}: more than {MAX_POINTS:,} points; refused.")
    return x, ys, ended_dif


def _jcamp_blocks(text: str, label: str):
    """Each ``##TITLE= … ##END=`` block as an ordered list of (label, value) records."""
    blocks, stack = [], []
    current = None
    for lineno, raw in enumerate(_lines(text), 1):
        line = raw.rstrip()
        if line.lstrip().startswith("##"):
            body = line.lstrip()[2:]
            key, sep, value = body.partition("=")
            if not sep:
                continue
            key = _jlabel(key)
            value = value.split("$$", 1)[0].strip() if not key.startswith("$") else value.strip()
            if key == "TITLE":
                current = {"records": [], "data": [], "title": value}
                stack.append(current)
                continue
            if current is None:
                raise CorruptFileError(f"{label}: a JCAMP-DX file must start with ##TITLE=.")
            if key == "END":
                done = stack.pop()
                blocks.append(done)
                current = stack[-1] if stack else None
                continue
            current["records"].append([key, value, lineno, []])
        elif current is not None and current["records"]:
            current["records"][-1][3].append((lineno, line))
    if stack:
        blocks.extend(reversed(stack))
        blocks[-1]["truncated"] = True
    if not blocks:
        raise UnsupportedFormatError(f"{label}: no JCAMP-DX ##TITLE= block found.")
    return blocks


def _jfloat(fields, key, label):
    if key not in fields:
        return None
    tok = _AFFN.search(fields[key])
    if tok is None or tok.group(0) == "?":
        raise CorruptFileError(f"{label}: ##{key}= is not a number ({fields[key][:40]!r}).")
    return float(tok.group(0))


def _jcamp_spectrum(block, src: Source, technique, label: str):
    fields = {}
    table = None
    for key, value, lineno, cont in block["records"]:
        if key not in fields:
            fields[key] = value
        if key in ("XYDATA", "XYPOINTS", "PEAKTABLE", "DATATABLE") and table is None:
            table = (key, value, lineno, cont)
        if key == "NTUPLES":
            raise UnsupportedVersionError(
                f"{label}: JCAMP-DX NTUPLES data (complex NMR FIDs, multi-page spectra) are not read; "
                "export the real spectrum as ##XYDATA=(X++(Y..Y)) or a CSV.")
    if table is None:
        return None
    key, form, lineno, cont = table
    xfac = _jfloat(fields, "XFACTOR", label) or 1.0
    yfac = _jfloat(fields, "YFACTOR", label) or 1.0
    firstx, lastx = _jfloat(fields, "FIRSTX", label), _jfloat(fields, "LASTX", label)
    npoints = _jfloat(fields, "NPOINTS", label)
    deltax = _jfloat(fields, "DELTAX", label)
    notes = []
    compact = form.replace(" ", "").upper()
    if key == "XYDATA" or (key == "DATATABLE" and "++" in compact):
        if "X++(Y..Y)" not in compact and "X++(R..R)" not in compact:
            raise UnsupportedVersionError(f"{label}: ##{key}={form} is not an (X++(Y..Y)) table; only that form "
                                          "and (XY..XY) are read.")
        ys, xs_line = [], []
        prev_dif, prev_last = False, None
        for ln, text_line in cont:
            x0, vals, ended = _decode_asdf_line(text_line, ln, label)
            if x0 is None:
                continue
            if prev_dif and vals:
                # DIF Y-check: the line repeats the previous line's last value first.
                if not np.isclose(vals[0], prev_last, rtol=1e-9, atol=1e-6):
                    raise CorruptFileError(
                        f"{label}: JCAMP-DX Y-check failed on line {ln} (expected {prev_last:g}, found "
                        f"{vals[0]:g}); the compressed data are damaged. Re-export the spectrum.")
                vals = vals[1:]
            xs_line.append((x0, len(ys)))
            ys.extend(vals)
            if len(ys) > MAX_POINTS:
                raise TooLargeError(f"{label}: more than {MAX_POINTS:,} points; refused.")
            prev_dif, prev_last = ended, (ys[-1] if ys else None)
        y = np.asarray(ys, float)
        n = y.size
        if n < 2:
            raise CorruptFileError(f"{label}: the ##XYDATA table holds {n} value(s).")
        if npoints is not None:
            if n < int(npoints):
                raise CorruptFileError(f"{label}: ##NPOINTS={int(npoints)} but the table holds {n} values; "
                                       "the file is truncated.")
            if n > int(npoints):
                notes.append(f"the table holds {n} values for ##NPOINTS={int(npoints)}; the extra values were dropped.")
                y, n = y[: int(npoints)], int(npoints)
        if firstx is not None and lastx is not None:
            x = np.linspace(firstx, lastx, n)
        else:
            if deltax is None:
                raise MissingDataError(f"{label}: the X axis needs ##FIRSTX/##LASTX or ##DELTAX.")
            x = np.empty(n)
            bounds = xs_line + [(None, n)]
            for (x0, i0), (_, i1) in zip(bounds[:-1], bounds[1:], strict=True):
                x[i0:i1] = x0 * xfac + deltax * np.arange(i1 - i0)
        y = y * yfac
    else:  # (XY..XY) points or peak tables
        if "XY..XY" not in compact and "XYW..XYW" not in compact:
            raise UnsupportedVersionError(f"{label}: ##{key}={form} is not an (XY..XY) table.")
        nums = []
        for _ln, text_line in cont:
            for t in _AFFN.findall(text_line.split("$$", 1)[0]):
                nums.append(np.nan if t == "?" else float(t))
            if len(nums) > 3 * MAX_POINTS:
                raise TooLargeError(f"{label}: more than {MAX_POINTS:,} points; refused.")
        width = 3 if "XYW" in compact else 2
        if len(nums) % width:
            raise CorruptFileError(f"{label}: the (XY..XY) table has an unpaired value; the file is truncated.")
        arr = np.asarray(nums, float).reshape(-1, width)
        if arr.shape[0] < 2:
            raise CorruptFileError(f"{label}: the ({'XY..XY'}) table holds fewer than 2 points.")
        x, y = arr[:, 0] * xfac, arr[:, 1] * yfac
    dtype = fields.get("DATATYPE", "").upper()
    tech = technique
    if tech is None:
        tech = next((t for word, t in _JCAMP_TECH if word in dtype), None)
    xunits = fields.get("XUNITS", "").strip().upper()
    if tech is None:
        tech = {"1/CM": "ftir", "PPM": "nmr"}.get(xunits, "generic")
        notes.append(f"##DATA TYPE={fields.get('DATATYPE', '') or '(missing)'} does not name a technique; "
                     f"read as {tech}.")
    attrs = {"title": block.get("title") or None}
    if xunits in ("MICROMETERS", "MICRONS", "UM"):
        x = 1e4 / x
        notes.append("X in micrometres converted to wavenumber (cm⁻¹ = 10⁴ / µm).")
    elif xunits in ("NANOMETERS", "NM") and tech in ("ftir", "raman"):
        x = 1e7 / x
        notes.append("X in nanometres converted to wavenumber (cm⁻¹ = 10⁷ / nm).")
    elif xunits == "HZ" and tech == "nmr":
        freq = _jfloat(fields, ".OBSERVEFREQUENCY", label)
        if not freq:
            raise MissingDataError(f"{label}: NMR X axis in Hz without ##.OBSERVE FREQUENCY; cannot convert to ppm.")
        x = x / freq
        attrs["observe_frequency_MHz"] = freq
        notes.append(f"X in Hz converted to ppm with ##.OBSERVE FREQUENCY={freq:g} MHz.")
    elif xunits == "EV" and tech == "xas":
        pass
    elif xunits == "KEV" and tech == "xas":
        x = x * 1e3
    elif tech in ("ftir", "raman") and xunits not in ("1/CM", ""):
        notes.append(f"##XUNITS={xunits} kept as given (expected 1/CM).")
    if tech == "nmr" and ".OBSERVENUCLEUS" in fields:
        attrs["nucleus"] = fields[".OBSERVENUCLEUS"].strip("^ ")
    meta = _meta(src, "jcamp-dx", tech)
    meta["notes"] += notes
    if block.get("truncated"):
        meta["notes"].append("the block has no ##END=; the file may be truncated.")
    stamp = _jcamp_time(fields)
    if stamp is not None:
        meta["start_time_utc"] = stamp
        meta["notes"].append("##LONGDATE has no time zone; taken as UTC.")
    finite = np.isfinite(x)
    if finite.sum() < 2:
        raise CorruptFileError(f"{label}: the X axis has fewer than 2 finite values.")
    yunits = fields.get("YUNITS", "").strip().lower() or "a.u."
    return make_spectrum(x[finite], y[finite], technique=tech, units=yunits, meta=meta, **attrs)


def _jcamp_time(fields):
    raw = fields.get("LONGDATE")
    if not raw:
        return None
    try:
        ts = pd.Timestamp(raw.replace("/", "-").strip())
    except (ValueError, TypeError, OverflowError):
        return None
    return (ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")).isoformat()


def read_jcamp(source, *, technique: str | None = None, block: int | None = None, name=None, **_options):
    """Read a JCAMP-DX 4.24 spectrum (``.jdx``, ``.dx``, ``.jcamp``), battlab's own parser.

    Parameters
    ----------
    source : path, bytes or Source
    technique : str, optional
        Override the technique taken from ``##DATA TYPE=``.
    block : int, optional
        For multi-block files (``##BLOCKS=``): which data block (0-based). Default: the
        first, with a note saying how many there are.

    Notes
    -----
    Reads ``##XYDATA=(X++(Y..Y))`` in AFFN/PAC and the compressed ASDF forms (SQZ, DIF,
    DUP, with the DIF Y-check verified: a mismatch raises CorruptFileError) and
    ``##XYPOINTS=`` / ``##PEAK TABLE=(XY..XY)``. ``XFACTOR``/``YFACTOR`` scale the
    values; ``FIRSTX``/``LASTX``/``NPOINTS`` give the axis. ``##XUNITS=MICROMETERS`` is
    converted to cm⁻¹ and ``HZ`` (NMR) to ppm with ``##.OBSERVE FREQUENCY``.
    """
    src = _src(source, name)
    _check_technique(technique)
    label = _label(src)
    blocks = _jcamp_blocks(_text(src), label)
    spectra = []
    for b in blocks:
        spec = _jcamp_spectrum(b, src, technique, label)
        if spec is not None:
            spectra.append(spec)
    if not spectra:
        raise MissingDataError(f"{label}: no ##XYDATA, ##XYPOINTS or ##PEAK TABLE in the JCAMP-DX file.")
    pick = 0 if block is None else int(block)
    if not 0 <= pick < len(spectra):
        raise InvalidParameterError(f"{label}: block {pick} asked for; the file holds {len(spectra)} spectra.")
    out = spectra[pick]
    if len(spectra) > 1:
        out.attrs["battlab"]["n_blocks"] = len(spectra)
        out.attrs["battlab"]["notes"].append(
            f"the file holds {len(spectra)} spectra; returned block {pick} ({out.attrs.get('title')!r}); "
            "pass block= for another.")
    return out


def _sniff_jcamp(head: bytes, name: str) -> float:
    start = head[:2048].lstrip()
    if start.startswith(b"##TITLE=") or start.startswith(b"##TITLE ="):
        return 0.95 if b"##JCAMP" in head[:8192].upper().replace(b" ", b"").replace(b"-", b"") else 0.8
    return 0.5 if name.lower().endswith((".jdx", ".dx", ".jcamp", ".jcm")) else 0.0


# --------------------------------------------------------------------------- XAS

_XAS_HEADER = re.compile(r"(^|[\s#,;])(i0|io|izero|mu|xmu|mutrans|mufluor|itrans|ifluor|ipfy)([\s,;_(]|$)", re.I)
_MU_NAMES = ("mu", "xmu", "mutrans", "mufluor", "xmutrans", "xmufluor", "mue", "mu_e", "absorption")
_I0_NAMES = ("i0", "io", "izero", "i_0", "mon", "monitor")
_IT_NAMES = ("it", "i1", "itrans", "i_t", "itrans", "i")
_IF_NAMES = ("if", "ifluor", "ipfy", "fluor", "ifl", "fl", "ff", "pfy", "tfy")
_ENERGY_NAMES = ("energy", "e", "ebraggenergy", "energyev", "energy_ev", "enc", "ene", "en", "braggenergy")


def _norm(lab: str) -> str:
    return re.sub(r"[^a-z0-9]", "", lab.lower())


def _find(labels, names, *, prefix=True, exclude=("ref",)):
    normed = [_norm(lab) for lab in labels]
    for want in names:  # exact names first, in priority order
        w = _norm(want)
        for i, lab in enumerate(normed):
            if lab == w:
                return i
    if prefix:
        for want in names:
            w = _norm(want)
            if len(w) < 2:
                continue
            for i, lab in enumerate(normed):
                if lab.startswith(w) and not any(x in lab for x in exclude):
                    return i
    return None


def _kev_to_ev(x):
    finite = x[np.isfinite(x)]
    if finite.size and 0.1 < np.nanmax(finite) < 200:
        return x * 1000.0, "energies were in keV (by magnitude) and were converted to eV."
    return x, None


def _xas_header_info(header_lines):
    """Element, edge, edge energy, d-spacing and start time stated in a header."""
    info = {}
    for line in header_lines:
        s = line.lstrip("#% ").strip()
        key, sep, val = s.partition(":")
        k = key.strip().lower()
        val = val.strip()
        if sep:
            if k in ("element.symbol",):
                info["element"] = val.split()[0] if val else None
            elif k in ("element.edge", "edge"):
                info["edge"] = val.split()[0] if val else None
            elif k in ("scan.edge_energy",):
                info["edge_energy"] = val
            elif k in ("mono.d_spacing",):
                info["d_spacing"] = val
            elif k in ("scan.start_time",):
                info["start_time"] = val
            elif k in ("column.1", "column.2", "column.3", "column.4", "column.5", "column.6", "column.7",
                       "column.8", "column.9", "column.10", "column.11", "column.12") or k.startswith("column."):
                info.setdefault("columns", {})[k] = val.split()[0] if val else ""
                if k == "column.1" and len(val.split()) > 1:
                    info["energy_units"] = val.split()[1]
        m = re.search(r"\bE0\s*=\s*([-+\d.]+)", s)
        if m:
            info.setdefault("edge_energy", m.group(1))
        m = re.search(r"EDGE IS\s+([\d.]+)\s*(KeV|eV)", s, re.I)
        if m:
            info.setdefault("edge_energy", str(float(m.group(1)) * (1000 if m.group(2).lower() == "kev" else 1)))
    return info


def _mu_from(labels, arr, mode, label, notes):
    """Pick mu(E) from the columns: a mu column, transmission ln(I0/It) or fluorescence If/I0."""
    if mode not in (None, "transmission", "fluorescence"):
        idx = _find(labels, (mode,), prefix=False)
        if idx is None:
            raise MissingDataError(f"{label}: no column {mode!r}; columns are {labels}.")
        notes.append(f"mu(E) is column {labels[idx]!r} (as asked).")
        return arr[:, idx], labels[idx]
    i0 = _find(labels, _I0_NAMES)
    it = _find(labels, _IT_NAMES, prefix=True)
    if it is not None and it == i0:
        it = None
    ifl = _find(labels, _IF_NAMES)
    if mode is None:
        mu = _find(labels, _MU_NAMES)
        if mu is not None:
            notes.append(f"mu(E) is the file's column {labels[mu]!r}.")
            return arr[:, mu], labels[mu]
    if mode in (None, "transmission") and i0 is not None and it is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = np.log(arr[:, i0] / arr[:, it])
        bad = ~np.isfinite(mu)
        if bad.any():
            notes.append(f"{int(bad.sum())} point(s) with non-positive I0 or It were set to NaN.")
            mu[bad] = np.nan
        notes.append(f"mu(E) = ln({labels[i0]}/{labels[it]}) (transmission).")
        return mu, "transmission"
    if mode in (None, "fluorescence") and i0 is not None and ifl is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = arr[:, ifl] / arr[:, i0]
        mu[~np.isfinite(mu)] = np.nan
        notes.append(f"mu(E) = {labels[ifl]}/{labels[i0]} (fluorescence).")
        return mu, "fluorescence"
    raise MissingDataError(f"{label}: no mu(E) column and no I0 with It (transmission) or If (fluorescence) "
                           f"for {mode or 'either mode'}; columns are {labels}. Give mode= a column name.")


def _xas_labels(header, width, info):
    cols = info.get("columns")
    if cols:
        labels = [cols.get(f"column.{k + 1}", f"col{k + 1}") for k in range(width)]
        return labels
    for line in reversed(header[-4:]):
        s = line.lstrip("#% ").strip()
        if not s or set(s) <= set("-=_*/ "):
            continue
        parts = s.split()
        if len(parts) == width:
            return parts
        if len(parts) > width:
            parts = _split_header(line)
            if len(parts) == width:
                return parts
    return None


def _read_pf9809(src: Source, lines, label, mode):
    """KEK Photon Factory 9809 format: Bragg angles, channel modes and dark offsets."""
    d = None
    for line in lines[:12]:
        m = re.search(r"\bD\s*=\s*([\d.]+)\s*A", line)
        if m:
            d = float(m.group(1))
    if not d or d <= 0:
        raise UnsupportedVersionError(
            f"{label}: a Photon Factory 9809 file records Bragg angles, and its header states no mono "
            "d-spacing (D= … A) to convert them to energy. Export the scan as energy columns (or add the "
            "d-spacing to the header) and load that.")
    modes = offsets = None
    start = None
    for k, line in enumerate(lines[:60]):
        s = line.split()
        try:
            if s and s[0] == "Mode":
                modes = [int(float(v)) for v in s[1:]]
            elif s and s[0] == "Offset":
                offsets = [float(v) for v in s[1:]]
                start = k + 1
                break
        except (ValueError, OverflowError):
            raise CorruptFileError(f"{label}: line {k + 1} of the 9809 header ({s[0]}) is not numbers; "
                                   "the file is damaged.") from None
    if modes is None or offsets is None or start is None:
        raise CorruptFileError(f"{label}: the 9809 header has no Mode/Offset rows; the file is damaged.")
    rows = []
    for line in lines[start:]:
        vals = _split_numeric(line.strip()) if line.strip() else None
        if vals is not None:
            rows.append(vals)
        if len(rows) > MAX_POINTS:
            raise TooLargeError(f"{label}: more than {MAX_POINTS:,} rows.")
    if len(rows) < 5:
        raise CorruptFileError(f"{label}: fewer than 5 data rows in the 9809 file.")
    width = max(set(len(r) for r in rows[:50]), key=[len(r) for r in rows[:50]].count)
    arr = np.array([r for r in rows if len(r) == width], float)
    if width < 4 or len(modes) > width or len(offsets) != len(modes):
        raise CorruptFileError(f"{label}: the 9809 columns do not match the Mode/Offset rows.")
    # Mode/Offset rows describe the last columns (after the commanded angle).
    first = width - len(modes)
    notes = []
    theta = arr[:, 1] if first >= 1 else arr[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        energy = _HC_EV_A / (2 * d * np.sin(np.radians(theta)))
    notes.append(f"energy from the observed Bragg angle with the header's d-spacing {d} Å "
                 f"(E = hc / 2d·sinθ).")
    tcol = next((first + k for k, (mm, off) in enumerate(zip(modes, offsets, strict=False)) if mm == 0 and off == 0
                 and first + k >= 2), 2)
    t = arr[:, tcol]
    chans = {}
    for k, mm in enumerate(modes):
        c = first + k
        if mm in (1, 2, 3) and mm not in chans:
            chans[mm] = arr[:, c] - offsets[k] * t
    notes.append("channel dark offsets (per second) × counting time were subtracted.")
    if 1 not in chans:
        raise MissingDataError(f"{label}: no I0 channel (mode 1) in the 9809 file.")
    use_fluo = (mode == "fluorescence") or (mode is None and 3 in chans and 2 not in chans)
    with np.errstate(divide="ignore", invalid="ignore"):
        if use_fluo and 3 in chans:
            mu = chans[3] / chans[1]
            notes.append("mu(E) = If/I0 (fluorescence, channel modes 3 and 1).")
        elif mode in (None, "transmission") and 2 in chans:
            mu = np.log(chans[1] / chans[2])
            notes.append("mu(E) = ln(I0/It) (transmission, channel modes 1 and 2).")
        else:
            raise MissingDataError(f"{label}: the 9809 file has no channel for mode {mode!r}.")
    mu[~np.isfinite(mu)] = np.nan
    header = lines[:2]
    sample = header[1].split()[0] if len(header) > 1 and header[1].split() else None
    return energy, mu, notes, {"sample": sample, "mono_d_spacing_A": d}


def read_xas(source, *, mode: str | None = None, name=None, **_options):
    """Read an XAS scan: Athena/IFEFFIT ``.xmu``, XDI 1.0 ``.xdi`` or a beamline column file.

    Parameters
    ----------
    source : path, bytes or Source
    mode : {"transmission", "fluorescence"} or str, optional
        Default: a mu/xmu/mutrans/mufluor column when present, else ln(I0/It) when
        I0 and It are present, else If/I0. A column name forces that column.

    Returns
    -------
    DataArray
        technique ``"xas"`` over ``energy_eV``; ``attrs`` keep ``element``, ``edge`` and
        ``edge_energy_eV`` when the file states them; the notes say how mu(E) was made.

    Notes
    -----
    Energies below 200 are taken as keV and converted to eV. KEK-PF 9809 files (Bragg
    angles) are converted to energy with the mono d-spacing in their header.
    """
    src = _src(source, name)
    label = _label(src)
    text = _text(src)
    lines = _lines(text)
    first_line = lines[0].split() if lines else []
    meta = _meta(src, "xas-columns", "xas")
    attrs = {}
    if first_line[:2] == ["9809", "KEK-PF"]:
        meta["format"] = "xas-pf9809"
        energy, mu, notes, extra = _read_pf9809(src, lines, label, mode)
        meta["notes"] += notes
        attrs["sample"] = extra["sample"]
        attrs["mono_d_spacing_A"] = extra["mono_d_spacing_A"]
        mu_label = "mu"
    else:
        if text.lstrip().startswith("# XDI/"):
            meta["format"] = "xdi"
        header, _labels, arr, notes = _parse_table(text, label)
        meta["notes"] += notes
        info = _xas_header_info(header)
        labels = _xas_labels(header, arr.shape[1], info)
        if labels is None:
            if arr.shape[1] == 2:
                labels = ["energy", "mu"]
                meta["notes"].append("no column labels; read as (energy, mu).")
            else:
                raise MissingDataError(f"{label}: no column labels, so mu(E) cannot be found among "
                                       f"{arr.shape[1]} columns; give mode= or add a header line.")
        ie = _find(labels, _ENERGY_NAMES, prefix=True, exclude=()) or 0
        energy = arr[:, ie]
        mu, mu_label = _mu_from(labels, arr, mode, label, meta["notes"])
        for key in ("element", "edge"):
            if info.get(key):
                attrs[key] = info[key]
        if info.get("edge_energy"):
            try:
                attrs["edge_energy_eV"] = float(info["edge_energy"].split()[0])
            except (ValueError, IndexError):
                pass
        if info.get("d_spacing"):
            try:
                attrs["mono_d_spacing_A"] = float(info["d_spacing"].split()[0])
            except (ValueError, IndexError):
                pass
        if info.get("energy_units", "").lower() == "kev":
            energy = energy * 1000
        if info.get("start_time"):
            try:
                ts = pd.Timestamp(info["start_time"])
                meta["start_time_utc"] = (ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")).isoformat()
                if not ts.tzinfo:
                    meta["notes"].append("Scan.start_time has no time zone; taken as UTC.")
            except (ValueError, TypeError, OverflowError):
                meta["notes"].append(f"Scan.start_time {info['start_time']!r} is not a date; ignored.")
        for line in header:
            m = re.match(r"#%\s*edge:\s*(\S+)", line)
            if m and "edge" not in attrs:
                attrs["edge"] = m.group(1)
    energy = np.asarray(energy, float)
    energy, note = _kev_to_ev(energy)
    if note:
        meta["notes"].append(note)
    keep = np.isfinite(energy)
    if keep.sum() < 5:
        raise CorruptFileError(f"{label}: fewer than 5 finite energies.")
    if np.nanmax(energy[keep]) > 1e6 or np.nanmin(energy[keep]) <= 0:
        raise CorruptFileError(f"{label}: energies {np.nanmin(energy[keep]):g}–{np.nanmax(energy[keep]):g} are "
                               "not photon energies in eV.")
    meta["mu_from"] = mu_label
    return make_spectrum(energy[keep], np.asarray(mu, float)[keep], technique="xas", units="mu(E)", meta=meta,
                         **attrs)


def _sniff_xas(head: bytes, name: str) -> float:
    if b"\x00" in head[:4096]:
        return 0.0
    low = name.lower()
    start = head[:256].lstrip()
    if start.startswith(b"# XDI/"):
        return 0.95
    if start.startswith(b"9809") and b"KEK-PF" in head[:200]:
        return 0.9
    if low.endswith((".xmu", ".xdi", ".chi")):
        return 0.8
    if not low.endswith((".dat", ".txt", ".csv", ".xas", ".nor", ".tsv")):
        return 0.0
    text = head.decode("latin-1")
    lines = text.replace("\r", "").split("\n")[:200]
    # The column-label line just before the first data row names energy and an XAS channel.
    prev = []
    for line in lines[:-1]:
        s = line.strip()
        if not s:
            continue
        if len(s) > 2000:
            return 0.0
        if not s.startswith(_COMMENT) and _split_numeric(s) is not None:
            break
        prev.append(s)
    else:
        return 0.0
    for cand in reversed(prev[-3:]):
        words = [_norm(w) for w in re.split(r"[\s,;\t]+", cand.lstrip("#% ")) if w]
        if words and (words[0].startswith(("e", "energy")) or "energy" in words[0]) and any(
                w.startswith(("i0", "io", "mu", "xmu", "it", "i1", "if")) for w in words[1:]):
            if _CYCLER_WORDS.search(cand) and not _XAS_HEADER.search(cand):
                return 0.0
            return 0.7
    return 0.0


# --------------------------------------------------------------------------- VAMAS

_VMS_MAP = ("MAP", "MAPDP", "MAPSV", "MAPSVDP", "SEM")
_VMS_REGIONS = ("MAP", "MAPDP", "MAPSV", "MAPSVDP", "NORM", "SDP", "SDPSV")
_VMS_SPUTTER_TECH = ("FABMS", "FABMS ENERGY SPEC", "ISS", "SIMS", "SIMS ENERGY SPEC", "SNMS", "SNMS ENERGY SPEC")


class _Lines:
    """Sequential reader over the lines of a VAMAS file; running out is a truncated file."""

    def __init__(self, lines, label):
        self.lines, self.i, self.label = lines, 0, label

    def next(self, what: str) -> str:
        if self.i >= len(self.lines):
            raise CorruptFileError(f"{self.label}: the VAMAS file ends before {what}; it is truncated.")
        line = self.lines[self.i]
        self.i += 1
        return line.strip()

    def num(self, what: str) -> float:
        s = self.next(what)
        try:
            return float(s)
        except ValueError:
            raise CorruptFileError(f"{self.label}: line {self.i} should be {what} (a number), found {s[:40]!r}.") \
                from None

    def count(self, what: str, limit: int = 100_000) -> int:
        v = self.num(what)
        if v != int(v) or v < 0:
            raise CorruptFileError(f"{self.label}: line {self.i}: {what} is {v:g}, not a count.")
        if v > limit:
            raise TooLargeError(f"{self.label}: line {self.i}: {what} is {int(v):,}, above the limit {limit:,}.")
        return int(v)

    def skip(self, n: int, what: str):
        if self.i + n > len(self.lines):
            raise CorruptFileError(f"{self.label}: the VAMAS file ends inside {what}; it is truncated.")
        self.i += n


def read_vamas(source, *, name=None, **_options):
    """Read an ISO 14976 VAMAS (``.vms``) XPS file, battlab's own parser.

    Returns
    -------
    dict of str -> DataArray
        One spectrum per block, keyed by ``"<species> <transition>"`` (``"C 1s"``,
        ``"Survey"`` …; repeats get ``" #2"``), in file order. Every block is a separate
        region with its own energy grid, so they are not stacked into a series; use
        :func:`stack_spectra` on repeated scans of one region if wanted. XPS blocks
        over kinetic energy are converted to binding energy
        (BE = source energy − KE − analyser work function; the notes say which values).
        The intensity is the first corresponding variable (usually counts); ``attrs``
        keep ``photon_energy_eV``, ``pass_energy_eV``, ``dwell_s``, ``n_scans``.

    Notes
    -----
    REGULAR scans in the NORM, SDP, SDPSV and MAP* experiment modes are read; IRREGULAR
    and MAPPING scans and files that use the parameter inclusion list raise
    UnsupportedVersionError.
    """
    src = _src(source, name)
    label = _label(src)
    lines = _lines(_text(src))
    r = _Lines(lines, label)
    first = r.next("the format identifier")
    if not first.upper().startswith("VAMAS"):
        raise UnsupportedFormatError(f"{label}: not a VAMAS file (the first line must start with 'VAMAS').")
    institution = r.next("the institution")
    instrument = r.next("the instrument model")
    r.next("the operator")
    experiment = r.next("the experiment identifier")
    r.skip(r.count("the number of comment lines"), "the experiment comment")
    exp_mode = r.next("the experiment mode").upper()
    scan_mode = r.next("the scan mode").upper()
    if exp_mode not in _VMS_REGIONS + ("SEM", "NOEXP"):
        raise CorruptFileError(f"{label}: unknown VAMAS experiment mode {exp_mode!r}.")
    if scan_mode != "REGULAR":
        raise UnsupportedVersionError(f"{label}: VAMAS scan mode {scan_mode!r} is not read (only REGULAR); "
                                      "re-export the spectra with a regular energy step.")
    if exp_mode in _VMS_REGIONS:
        r.count("the number of spectral regions")
    if exp_mode in _VMS_MAP:
        r.count("the number of analysis positions")
        r.count("the number of discrete x coordinates")
        r.count("the number of discrete y coordinates")
    n_var = r.count("the number of experimental variables", 1000)
    r.skip(2 * n_var, "the experimental variables")
    n_incl = r.num("the parameter inclusion list length")
    if n_incl != 0:
        raise UnsupportedVersionError(f"{label}: the VAMAS parameter inclusion/exclusion list is used "
                                      "(blocks omit items); re-export without it (CasaXPS: 'save as VAMAS').")
    r.count("the number of manually entered items")
    n_future_exp = r.count("the number of future experiment entries", 1000)
    n_future_blk = r.count("the number of future block entries", 1000)
    r.skip(n_future_exp, "the future experiment entries")
    n_blocks = r.count("the number of blocks", 100_000)
    out: dict = {}
    total = 0
    for b in range(n_blocks):
        block_id = r.next("a block identifier")
        sample = r.next("the sample identifier")
        stamp = [r.num("the acquisition date and time") for _ in range(7)]
        r.skip(r.count("the number of block comment lines"), "a block comment")
        technique = r.next("the technique").upper()
        if exp_mode in ("MAP", "MAPDP"):
            r.skip(2, "the x/y coordinates")
        r.skip(n_var, "the experimental variable values")
        r.next("the analysis source label")
        if exp_mode in ("MAPDP", "MAPSVDP", "SDP", "SDPSV") or technique in _VMS_SPUTTER_TECH:
            r.skip(3, "the sputtering ion")
        source_eV = r.num("the analysis source energy")
        r.skip(3, "the source strength and beam width")
        if exp_mode in _VMS_MAP:
            r.skip(2, "the field of view")
        if exp_mode in ("MAPSV", "MAPSVDP", "SEM"):
            r.skip(6, "the linescan coordinates")
        r.skip(2, "the source angles")
        r.next("the analyser mode")
        pass_eV = r.num("the pass energy")
        if technique == "AES DIFF":
            r.skip(1, "the differential width")
        r.skip(1, "the magnification")
        work_fn = r.num("the analyser work function")
        r.skip(5, "the target bias, analysis width and take-off angles")
        species = r.next("the species label")
        transition = r.next("the transition label")
        r.skip(1, "the particle charge")
        x_label = r.next("the abscissa label")
        r.next("the abscissa units")
        x_start = r.num("the abscissa start")
        x_step = r.num("the abscissa increment")
        n_corr = r.count("the number of corresponding variables", 100)
        if n_corr < 1:
            raise CorruptFileError(f"{label}: block {block_id!r} has no corresponding variable.")
        corr = [(r.next("a variable label"), r.next("a variable unit")) for _ in range(n_corr)]
        r.next("the signal mode")
        dwell = r.num("the signal collection time")
        n_scans = r.num("the number of scans")
        r.skip(1, "the signal time correction")
        if exp_mode in ("MAPDP", "MAPSVDP", "SDP", "SDPSV") and technique in (
                "AES DIFF", "AES DIR", "EDX", "ELS", "UPS", "XPS", "XRF"):
            r.skip(7, "the sputtering source")
        r.skip(3, "the sample tilt and rotation")
        n_add = r.count("the number of additional parameters", 10_000)
        extra = {}
        for _ in range(n_add):
            key, _unit, val = r.next("a parameter label"), r.next("a parameter unit"), r.next("a parameter value")
            extra[key] = val
        r.skip(n_future_blk, "the future block entries")
        n_ord = r.count("the number of ordinate values", MAX_POINTS)
        total += n_ord
        if total > MAX_POINTS:
            raise TooLargeError(f"{label}: more than {MAX_POINTS:,} values in all blocks; refused.")
        r.skip(2 * n_corr, "the ordinate ranges")
        if r.i + n_ord > len(lines):
            raise CorruptFileError(f"{label}: block {block_id!r} declares {n_ord:,} values but the file ends "
                                   f"after {len(lines) - r.i:,}; it is truncated.")
        try:
            vals = np.array([float(v) for v in lines[r.i:r.i + n_ord]], float)
        except ValueError as exc:
            raise CorruptFileError(f"{label}: block {block_id!r}: a data value is not a number ({exc}).") from None
        r.i += n_ord
        if n_ord % n_corr or n_ord < 2 * n_corr:
            raise CorruptFileError(f"{label}: block {block_id!r}: {n_ord} values for {n_corr} variables.")
        y = vals.reshape(-1, n_corr)[:, 0]
        x = x_start + x_step * np.arange(y.size)
        notes = []
        tech = "xps" if technique in ("XPS", "UPS") else "generic"
        attrs = {"photon_energy_eV": source_eV, "pass_energy_eV": pass_eV, "dwell_s": dwell,
                 "n_scans": n_scans, "species": species, "transition": transition, "block_id": block_id,
                 "sample": sample}
        if tech == "xps":
            if "kinetic" in x_label.lower():
                x = source_eV - x - work_fn
                notes.append(f"binding energy = {source_eV:g} eV (source) − kinetic energy − {work_fn:g} eV "
                             "(analyser work function).")
            elif "binding" not in x_label.lower():
                notes.append(f"abscissa {x_label!r} taken as binding energy.")
        else:
            notes.append(f"technique {technique!r}: kept the abscissa {x_label!r} as a generic axis.")
        if n_corr > 1:
            notes.append(f"the block has {n_corr} variables; the first ({corr[0][0]}) is the intensity.")
        meta = {"format": "vamas", "source_name": src.name, "sha256": src.sha256, "technique": tech,
                "start_time_utc": _vms_time(stamp), "notes": notes, "institution": institution,
                "instrument": instrument, "experiment": experiment, "additional": extra}
        key = f"{species} {transition}".strip() or block_id or f"block {b + 1}"
        base, k = key, 2
        while key in out:
            key, k = f"{base} #{k}", k + 1
        out[key] = make_spectrum(x, y, technique=tech, units=corr[0][0] if corr[0][1] in ("", "d") else corr[0][1],
                                 meta=meta, **attrs)
    if not out:
        raise MissingDataError(f"{label}: the VAMAS file holds no blocks.")
    tail = r.next("the end-of-experiment line") if r.i < len(lines) else ""
    if tail and "end of experiment" not in tail.lower():
        for spec in out.values():
            spec.attrs["battlab"]["notes"].append("no 'end of experiment' line after the last block.")
    return out


def _vms_time(stamp):
    try:
        year, month, day, hh, mm, ss, ahead = (int(v) for v in stamp)
        if year < 1900 or not (1 <= month <= 12 and 1 <= day <= 31):
            return None
        ts = pd.Timestamp(year=year, month=month, day=day, hour=hh % 24, minute=mm % 60, second=ss % 60)
        if abs(ahead) <= 14:
            ts = ts - pd.Timedelta(hours=ahead)
        return ts.tz_localize("UTC").isoformat()
    except (ValueError, OverflowError, TypeError):
        return None


def _sniff_vamas(head: bytes, name: str) -> float:
    if head.lstrip()[:80].upper().startswith(b"VAMAS SURFACE CHEMICAL ANALYSIS STANDARD"):
        return 0.95
    return 0.6 if name.lower().endswith((".vms", ".vamas")) else 0.0


# --------------------------------------------------------------------------- SPC


def _sniff_spc(head: bytes, name: str) -> float:
    if len(head) < 2 or head.startswith(b"PK"):
        return 0.0
    if name.lower().endswith(".spc"):
        return 0.9 if head[1] in (0x4B, 0x4C, 0x4D) else 0.5
    return 0.0


def _read_spc(source, **_options):
    src = _src(source)
    raise UnsupportedFormatError(
        f"{_label(src)} is a Galactic/Thermo GRAMS .spc spectrum (binary), which battlab does not read. "
        "Export it from the instrument software (OMNIC, GRAMS, WiRE, LabSpec …) as CSV or JCAMP-DX (.jdx) "
        "and load that.")


# --------------------------------------------------------------------------- public entry points

_SPECTRUM_EXT = (".csv", ".txt", ".dat", ".tsv", ".jdx", ".dx", ".jcamp", ".xmu", ".xdi", ".vms", ".asc", ".dsc")


def _is_spectrum(data) -> bool:
    return hasattr(data, "dims") and "technique" in data.attrs and any(
        AXES[t][0] in data.dims for t in AXES)


def load_spectrum(source, *, technique: str | None = None, name: str | None = None, **opts):
    """Read one spectrum (VAMAS: a dict of spectra) from a path or bytes.

    Parameters
    ----------
    source : path, bytes or Source
    technique : {"raman", "ftir", "xps", "xas", "nmr", "mossbauer", "epr", "generic"}, optional
        The technique, when the file does not say it or says it wrongly; also used to pick
        the reader of an ambiguous text file. A file of another technique is refused.
    name : str, optional
        Original file name for bytes input (detection uses the extension).
    **opts
        Passed to the reader: ``mode`` (XAS), ``block`` (JCAMP), ``x_column``/``y_column``
        and ``photon_energy_eV`` (text tables), ``format`` to force a reader.

    Returns
    -------
    DataArray or dict of str -> DataArray
    """
    import battlab

    _check_technique(technique)
    label = Path(name or (str(source) if isinstance(source, (str, Path)) else "upload")).name
    fmt = opts.pop("format", None)
    if fmt is None and technique is not None:
        # A two-column table whose header does not name the axis is still a spectrum when
        # the caller says which technique it is.
        try:
            detected = battlab.io.registry.detect(source, name=name)
        except UnsupportedFormatError:
            detected = None
        if detected is None or detected.kind != "spectrum":
            low = label.lower()
            if low.endswith((".csv", ".txt", ".dat", ".tsv", ".asc")):
                fmt = "xas-columns" if technique == "xas" else "spectrum-text"
    if fmt in ("spectrum-text", "jcamp-dx") and technique is not None:
        opts["technique"] = technique
    data = battlab.load(source, name=name, format=fmt, kind=None if fmt else "spectrum", **opts)
    items = data.values() if isinstance(data, dict) else [data]
    for spec in items:
        if not _is_spectrum(spec):
            raise UnsupportedFormatError(f"{label} is not a spectrum (it reads as a {type(spec).__name__}).")
        if technique is not None and spec.attrs["technique"] != technique:
            if spec.attrs["technique"] == "generic":
                continue
            raise UnsupportedFormatError(f"{label} holds a {spec.attrs['technique']} spectrum, not {technique}.")
    return data


def load_spectra_series(folder_or_files, *, technique: str | None = None, timestamps=None, pattern: str = "*",
                        **opts):
    """Read a folder (or list) of spectra into a (time, axis) series.

    Parameters
    ----------
    folder_or_files : path or sequence of paths
        A folder of spectrum files (sorted by name) or explicit files.
    technique : str, optional
        As in :func:`load_spectrum`; every file must be of one technique.
    timestamps : path or sequence, optional
        A CSV with columns ``file`` and ``time`` (ISO 8601, UTC), or one time per file.
        Default: the times stated in the files.
    pattern : str
        Glob pattern for a folder.

    Returns
    -------
    DataArray
        ``(time, axis)`` series from :func:`stack_spectra`.
    """
    if isinstance(folder_or_files, (str, Path)) and Path(folder_or_files).is_file():
        files = [Path(folder_or_files)]
    else:
        files = series_files(folder_or_files, suffixes=_SPECTRUM_EXT, pattern=pattern, label="spectrum")
    spectra = []
    for p in files:
        spec = load_spectrum(p, technique=technique, **opts)
        if isinstance(spec, dict):
            if len(spec) != 1:
                raise InvalidParameterError(f"{p.name} holds {len(spec)} regions; a series needs one spectrum "
                                            "per file (load it with load_spectrum).")
            spec = next(iter(spec.values()))
        spectra.append(spec)
    techs = {s.attrs["technique"] for s in spectra}
    if len(techs) > 1:
        raise InvalidParameterError(f"the files hold different techniques ({', '.join(sorted(techs))}); "
                                    "a series needs one.")
    times = times_for(files, timestamps, spectra, label="spectra")
    if len(spectra) == 1 and times[0] is None:
        spectra[0].attrs["battlab"]["notes"].append("no acquisition time in the file; time set to 1970-01-01.")
        times = ["1970-01-01T00:00:00Z"]
    return stack_spectra(spectra, times=times)


def describe(data) -> str:
    """A few lines for ``battlab info``: technique, axis range, points, spectra, start time, notes."""
    if isinstance(data, dict):
        parts = [f"regions:    {len(data)} ({', '.join(list(data)[:12])}{' …' if len(data) > 12 else ''})"]
        for key, spec in list(data.items())[:12]:
            parts.append(f"--- {key}")
            parts.append(describe(spec))
        return "\n".join(parts)
    axis = next(d for d in data.dims if d != "time")
    x = data[axis].to_numpy()
    units = data[axis].attrs.get("units", "")
    meta = data.attrs.get("battlab", {})
    lines = [f"technique:  {data.attrs.get('technique', meta.get('technique', '?'))}",
             f"spectra:    {data.sizes.get('time', 1)}",
             f"axis:       {axis} {np.nanmin(x):.6g} to {np.nanmax(x):.6g} {units}, {x.size} points",
             f"intensity:  {data.attrs.get('units', '')}"]
    for key in ("element", "edge", "edge_energy_eV", "photon_energy_eV", "nucleus", "title"):
        if data.attrs.get(key) is not None:
            lines.append(f"{key + ':':<11} {data.attrs[key]}")
    if meta.get("start_time_utc"):
        lines.append(f"started:    {meta['start_time_utc']}")
    lines += [f"note:       {note}" for note in meta.get("notes", [])]
    return "\n".join(lines)


# --------------------------------------------------------------------------- registry

register(Format(name="spectrum-text", kind="spectrum", extensions=(".csv", ".txt", ".tsv", ".asc"),
                description="a spectrum as a text table (Raman, FTIR, NMR, XPS: axis, intensity)",
                sniff=_sniff_text_spectrum, read=read_text_spectrum))
register(Format(name="jcamp-dx", kind="spectrum", extensions=(".jdx", ".dx", ".jcamp"),
                description="a JCAMP-DX spectrum (IR, Raman, NMR …)", sniff=_sniff_jcamp, read=read_jcamp))
register(Format(name="xas-columns", kind="spectrum", extensions=(".xmu", ".xdi"),
                description="an X-ray absorption scan (Athena .xmu, XDI, beamline columns, KEK-PF 9809)",
                sniff=_sniff_xas, read=read_xas))
register(Format(name="vamas", kind="spectrum", extensions=(".vms",),
                description="a VAMAS ISO 14976 XPS file (one spectrum per region)", sniff=_sniff_vamas,
                read=read_vamas))


def _read_bes3t(source, **options):
    from battlab.spectra.epr import read_bes3t

    return read_bes3t(source, **options)


def _sniff_bes3t(head: bytes, name: str) -> float:
    from battlab.spectra.epr import _sniff_bes3t as sniff

    return sniff(head, name)


register(Format(name="bruker-bes3t", kind="spectrum", extensions=(".dsc",),
                description="a Bruker BES3T EPR sweep (.DSC descriptor with its .DTA data)",
                sniff=_sniff_bes3t, read=_read_bes3t))
register(Format(name="galactic-spc", kind="spectrum", extensions=(".spc",),
                description="a Galactic/GRAMS .spc spectrum (not readable, export CSV or JCAMP-DX)",
                sniff=_sniff_spc, read=_read_spc))
