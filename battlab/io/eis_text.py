"""Impedance spectra in text files: generic CSV/TSV, Autolab/ZView, CH Instruments, ZPlot, VersaStudio.

Every reader returns a :class:`pandas.DataFrame` whose first columns are the canonical
impedance columns of :mod:`battlab.io.schema` (``frequency_Hz``, ``z_real_ohm``,
``z_imag_ohm`` = Im(Z) with its true sign, negative for a capacitive arc), followed by
``test_time_s`` / ``voltage_V`` / ``current_A`` when the file records them, and then every
vendor column under its own name. ``attrs["battlab"]`` has ``technique = "eis"``,
``z_imag_stored_as`` (``"Im(Z)"`` or ``"-Im(Z)"``) and notes saying how the sign was decided.

Sign conventions
----------------
Vendor formats with a documented convention (ZView ``Z''(b)``, ZPlot, CH Instruments
``Z"``, VersaStudio ``Z Imag``: all Im(Z)) are read with it. A generic table cannot be
trusted that way: many people store −Z″ under the name ``Z''``. Unless the column name
carries the minus sign (``-Z''``, ``-Im(Z)``), the convention is detected from the data:
a physical cell is capacitive over most of its spectrum, so most points have Im(Z) ≤ 0
and only an inductive high-frequency tail is positive. The same rule decides the sign of
a phase column. The decision is written to the notes.
"""

from __future__ import annotations

import datetime as _dt
import re
import warnings

import numpy as np
import pandas as pd

from battlab.errors import (
    BattlabWarning,
    CorruptFileError,
    MissingDataError,
    UnsupportedFormatError,
)
from battlab.io import schema as S
from battlab.io.registry import DEFAULT_MAX_BYTES, Format, Source, _as_source, register

__all__ = ["read_eis_csv", "read_zview_txt", "read_chi_txt", "read_zplot", "read_versastudio_par",
           "imag_sign_from_data", "impedance_frame"]

_CLOCK_NOTE = ("The file records its start as local wall-clock time without a time zone; "
               "start_time_utc treats that clock as UTC, so it may be offset by the lab's UTC offset.")

# --------------------------------------------------------------------------- shared helpers


def _coerce(source, name) -> Source:
    if isinstance(source, Source):
        return source
    return _as_source(source, name, DEFAULT_MAX_BYTES)


def _display(src: Source) -> str:
    return src.name.replace("\\", "/").rsplit("/", 1)[-1]


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _is_number(text: str) -> bool:
    try:
        float(text.strip().replace(",", "."))
    except ValueError:
        return False
    return True


def imag_sign_from_data(values) -> tuple[int, str]:
    """Decide whether a column holds Im(Z) (+1) or −Im(Z) (−1) from its values.

    A physical cell is capacitive over most of a spectrum (Im(Z) < 0); only an inductive
    high-frequency tail (cables, current collectors) is positive. So when most non-zero
    values are negative the column is Im(Z), otherwise −Im(Z).

    Returns
    -------
    sign : int
        +1 if the values are Im(Z), −1 if they are −Im(Z).
    reason : str
        Plain-language count behind the decision, for the notes.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v != 0)]
    if v.size == 0:
        return 1, "all imaginary parts are zero, so the sign convention could not be detected; taken as Im(Z)"
    neg = int((v < 0).sum())
    sign = 1 if neg * 2 >= v.size else -1
    return sign, f"{neg} of {v.size} non-zero points are negative"


def impedance_frame(freq, z_real, z_imag, *, vendor: pd.DataFrame | None, meta: dict,
                    extra: dict | None = None) -> pd.DataFrame:
    """Assemble the canonical impedance table: canonical columns first, vendor columns after.

    ``extra`` maps further canonical names (``test_time_s``, ``voltage_V``, ``current_A``)
    to arrays placed after the impedance columns.
    """
    data = {S.FREQUENCY: np.asarray(freq, dtype=np.float64),
            S.Z_REAL: np.asarray(z_real, dtype=np.float64),
            S.Z_IMAG: np.asarray(z_imag, dtype=np.float64)}
    for key in (S.TEST_TIME, S.VOLTAGE, S.CURRENT, S.CYCLE):
        if extra and key in extra:
            data[key] = np.asarray(extra[key])
    canon = pd.DataFrame(data)
    if vendor is not None:
        # A vendor column already under a canonical name (a table battlab wrote) is that column.
        vendor = vendor.drop(columns=[c for c in vendor.columns if c in canon.columns])
    out = canon if vendor is None else pd.concat([canon, vendor.reset_index(drop=True)], axis=1)
    meta["technique"] = "eis"
    out.attrs["battlab"] = meta
    return out


def _cells_frame(rows, columns, label: str, *, required=(), decimal_comma: bool = False,
                 hint: str = "Export it again.") -> pd.DataFrame:
    """Turn ``[(line_number, cells), ...]`` into a frame, numeric where the text is numeric.

    Columns in ``required`` must be numeric everywhere; the first bad cell is reported
    with its line number. Other columns that are not all numbers are kept as text.
    """
    ncol = len(columns)
    for lineno, cells in rows:
        if len(cells) != ncol:
            raise CorruptFileError(
                f"{label}, line {lineno}: {len(cells)} values where the table has {ncol} columns "
                f"({', '.join(columns[:12])}). The file was edited or damaged. {hint}"
            )
    out = {}
    for j, col in enumerate(columns):
        raw = np.array([cells[j].strip() for _, cells in rows], dtype=object)
        text = pd.Series(raw, dtype=object)
        if decimal_comma:
            text = text.str.replace(",", ".", regex=False)
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & (text.str.lower() != "nan")
        if col in required and bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            what = "an empty cell" if raw[i] == "" else repr(raw[i])
            raise CorruptFileError(
                f"{label}, line {rows[i][0]}: {what} in column {col!r} is not a number; "
                f"the file is damaged or was edited. {hint}"
            )
        bad &= text != ""
        if bad.any():
            # Python strings, not numpy's fixed-width ones: one 2 MB damaged cell would
            # otherwise make every row 8 MB wide (found by fuzzing: ~600 MB for a 2 MB file).
            out[col] = raw
        else:
            out[col] = values.to_numpy(dtype=np.float64)
    return pd.DataFrame(out)


def _drop_truncated_last(rows, ncol: int, text_ends_with_newline: bool, label: str):
    """A transfer cut short leaves a partial last row: drop it with a warning."""
    if rows and not text_ends_with_newline:
        lineno, cells = rows[-1]
        if len(cells) != ncol or not all(_is_number(c) for c in cells if c.strip()) or not cells[-1].strip():
            warnings.warn(f"{label}: the last data row (line {lineno}) is incomplete (file truncated?) "
                          "and was dropped.", BattlabWarning, stacklevel=3)
            rows = rows[:-1]
    return rows


def _check_frequencies(freq: np.ndarray, rows_lines, label: str):
    bad = ~(np.isfinite(freq) & (freq > 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CorruptFileError(
            f"{label}, line {rows_lines[i]}: frequency {float(freq[i])!r} is not a positive number; an "
            "impedance spectrum needs a frequency on every row. Remove the row or export again."
        )


def _start(meta: dict, when: _dt.datetime | None):
    if when is not None:
        meta["start_time_utc"] = when.isoformat()
        meta["notes"].append(_CLOCK_NOTE)


def _vendor_convention_note(meta: dict, column: str, values, vendor: str):
    """State the vendor's documented convention; flag data that look the other way round."""
    meta["z_imag_stored_as"] = "Im(Z)"
    note = f"{vendor} stores {column!r} as Im(Z) with its true sign; z_imag_ohm is that column unchanged."
    sign, reason = imag_sign_from_data(values)
    if sign < 0:
        note += (f" Unusually, most points are positive ({reason}): check whether this file was "
                 "edited to hold -Im(Z).")
    meta["notes"].append(note)


# --------------------------------------------------------------------------- generic CSV / TSV

_FREQ_RE = re.compile(r"^(freq(uency)?|f)$")
_REAL_RE = re.compile(r"^(z'|zre|zreal|re\(z\)|re z|z_?real|real|z_re|real\(z\)|zr|z1|real part)$")
_IMAG_RE = re.compile(r"^(z''|z\"|zim|zimag|im\(z\)|im z|z_?imag|imag|z_im|imag\(z\)|zi|z2|"
                      r"imaginary|imaginary part)$")
_MOD_RE = re.compile(r"^(\|z\||zmod|mod\(z\)|modulus|z|abs\(z\)|\|z\| ?mod|impedance)$")
_PHASE_RE = re.compile(r"^(phase|phase\(z\)|zphz|phi|theta|phase angle|zphase|phz)$")

_F_SCALES = {"hz": 1.0, "khz": 1e3, "mhz": 1e-3, "": 1.0}
_PHASE_SCALES = {"deg": 1.0, "°": 1.0, "degree": 1.0, "degrees": 1.0, "rad": 180.0 / np.pi, "": 1.0}


def _z_scale(unit: str | None) -> float | None:
    """Ohm multiplier of an impedance unit (``Ohm``, ``mOhm``, ``kΩ``, ``MOhm``...)."""
    if unit is None:
        return 1.0
    u = unit.replace(" ", "").replace("Ω", "ohm").replace("ω", "ohm")
    prefix, sep, rest = u.lower().partition("ohm")
    if not sep or rest not in ("", "s", ".cm2", "cm2", "·cm2", "*cm2", "cm^2", ".cm^2"):
        return None if u else 1.0
    prefixes = {"": 1.0, "k": 1e3, "m": 1e-3 if u[:1] == "m" else 1e6}
    return prefixes.get(prefix)


#: Longer cells are data or damage, never a column name (found by fuzzing: a 2 MB
#: cell made the unit regex backtrack for minutes).
_MAX_HEADER_CELL = 256
_MAX_HEADER_CELLS = 200


def _split_header_name(name: str) -> tuple[str, str | None, bool]:
    """``"-Z'' (Ohm)"`` -> (``"z''"``, ``"ohm"``, negated=True)."""
    text = name.strip().strip('"').strip()
    unit = None
    m = re.match(r"^(.*?)\s*[\(\[]\s*([^()\[\]]*)\s*[\)\]]\s*$", text)
    if m and m.group(2).strip().lower() != "z":  # "Re(Z)", "Phase(Z)" name a part, not a unit
        text, unit = m.group(1), m.group(2)
    elif "/" in text:
        base, _, u = text.rpartition("/")
        text, unit = base, u
    else:
        m2 = re.match(r"^(.*?)\s+(ohms?|hz|khz|deg|°|rad)$", text, re.IGNORECASE)
        # battlab's own names carry the unit after an underscore (frequency_Hz, z_real_ohm),
        # so a table battlab exported reads back.
        m3 = re.match(r"^(.*?)_(hz|khz|k?ohm|deg|rad)$", text, re.IGNORECASE)
        if m2:
            text, unit = m2.group(1), m2.group(2)
        elif m3:
            text, unit = m3.group(1), m3.group(2)
    base = text.strip().lower().replace("’", "'").replace("′", "'").replace("″", "''").replace("−", "-")
    negated = False
    if base.startswith("-"):
        negated, base = True, base[1:].strip()
    base = re.sub(r"\s+", " ", base)
    base = base.replace("_", "") if base in ("z_real", "z_imag") else base
    return base, unit.strip() if unit is not None else None, negated


def _classify_eis(name: str):
    if len(name) > _MAX_HEADER_CELL:  # no column name is this long; the regexes would crawl
        return None
    base, unit, negated = _split_header_name(name)
    for quantity, pattern in (("frequency", _FREQ_RE), ("real", _REAL_RE), ("imag", _IMAG_RE),
                              ("modulus", _MOD_RE), ("phase", _PHASE_RE)):
        if pattern.match(base):
            return quantity, unit, negated
    return None


def _eis_columns(cells) -> dict:
    """Quantity -> (column index, unit, negated) for a candidate header row."""
    found: dict = {}
    # An impedance header names its columns within the first few dozen cells; looking
    # further only costs time on damaged lines (found by fuzzing: 10^6 cells took seconds).
    for j, cell in enumerate(cells[:_MAX_HEADER_CELLS]):
        hit = _classify_eis(cell)
        if hit and hit[0] not in found:
            found[hit[0]] = (j, hit[1], hit[2])
    return found


def _has_eis_header(found: dict) -> bool:
    return "frequency" in found and (("real" in found and "imag" in found)
                                     or ("modulus" in found and "phase" in found))


def _guess_delimiter(lines) -> str:
    sample = [ln for ln in lines[:50] if ln.strip()]
    for delim in ("\t", ";", ","):
        if sample and sum(delim in ln for ln in sample) >= max(1, len(sample) // 2):
            return delim
    return "ws"


def _split(line: str, delim: str) -> list[str]:
    if delim == "ws":
        return line.split()
    cells = line.split(delim)
    return [c.strip() for c in cells]


def _find_eis_header(lines, delim):
    for i, line in enumerate(lines[:200]):
        cells = _split(line, delim)
        found = _eis_columns(cells)
        if _has_eis_header(found):
            return i, cells, found
    return None


def _headerless_numeric(lines, delim) -> bool:
    rows = [_split(ln, delim) for ln in lines[:200] if ln.strip()]
    if len(rows) < 5:
        return False
    widths = {len(r) for r in rows}
    if len(widths) != 1 or min(widths) < 3:
        return False
    try:
        freq = np.array([float(r[0].replace(",", ".")) if delim != "," else float(r[0]) for r in rows])
        for r in rows:
            for c in r[:3]:
                float(c.replace(",", ".") if delim != "," else c)
    except ValueError:
        return False
    return _looks_like_sweep(freq)


def _looks_like_sweep(freq: np.ndarray) -> bool:
    """Positive, strictly monotonic and log-spaced over more than a decade: a frequency sweep."""
    if freq.size < 5 or not np.all(np.isfinite(freq)) or np.any(freq <= 0):
        return False
    steps = np.diff(np.log10(freq))
    if not (np.all(steps > 0) or np.all(steps < 0)):
        return False
    if abs(np.log10(freq.max() / freq.min())) < 1:
        return False
    # log spacing: the log-steps are nearly equal (a linear time axis is not)
    return float(np.std(steps) / abs(np.mean(steps))) < 0.5


def read_eis_csv(source, *, name: str | None = None) -> pd.DataFrame:
    """Read an impedance spectrum from a generic CSV/TSV table.

    Parameters
    ----------
    source : Source, path or bytes
        A table with named columns (frequency plus Z′ and Z″, or |Z| and phase in
        degrees), or a headerless table whose first three columns are frequency, Z′ and Z″.
    name : str, optional
        Original file name when ``source`` is bytes.

    Returns
    -------
    pandas.DataFrame
        ``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm`` (Im(Z), true sign) and the original
        columns. ``attrs["battlab"]["z_imag_stored_as"]`` and the notes say which sign
        convention the file used and how that was decided.

    Raises
    ------
    UnsupportedFormatError
        Not a text table.
    MissingDataError
        No frequency and impedance columns, or no data rows.
    CorruptFileError
        Ragged rows, text in a number column, or a missing/non-positive frequency.
    """
    src = _coerce(source, name)
    label = _display(src)
    if b"\x00" in src.data[:8192]:
        raise UnsupportedFormatError(f"{label} is a binary file, not an impedance text table.")
    text = src.text()
    lines = _lines(text)
    delim = _guess_delimiter(lines)
    header = _find_eis_header(lines, delim)
    meta = S.empty_metadata(format_name="eis-csv", source_name=src.name, sha256=src.sha256)
    if header is None:
        if not _headerless_numeric(lines, delim):
            raise MissingDataError(
                f"{label}: no frequency and impedance columns found. battlab needs a header naming "
                "frequency plus Z' and Z'' (or |Z| and phase), or a headerless table whose first three "
                "columns are frequency, Z' and Z''."
            )
        start, columns = 0, None
    else:
        start, columns, found = header[0] + 1, header[1], header[2]

    body = [(i + 1, _split(ln, delim)) for i, ln in enumerate(lines) if i >= start and ln.strip()]
    if header is not None and body and not any(_is_number(c) for c in body[0][1] if c):
        units_row = body[0][1]
        meta["notes"].append(f"Line {body[0][0]} ({', '.join(units_row)}) was read as the units row.")
        found = {q: (j, unit if unit is not None or j >= len(units_row) else units_row[j].strip(), neg)
                 for q, (j, unit, neg) in found.items()}
        body = body[1:]
    if columns is None:
        columns = ["frequency", "z_real", "z_imag"] + [f"column {k + 4}" for k in range(len(body[0][1]) - 3)]
        found = {"frequency": (0, None, False), "real": (1, None, False), "imag": (2, None, False)}
    columns = [c.strip().strip('"') for c in columns]
    while columns and not columns[-1] and body and all(len(c) == len(columns) - 1 for _, c in body[:5]):
        columns.pop()
    body = _drop_truncated_last(body, len(columns), text.endswith(("\n", "\r")), label)
    if not body:
        raise MissingDataError(f"{label} has a header but no data rows.")
    decimal_comma = delim in ("\t", ";", "ws") and any(re.search(r"\d,\d", c) for c in body[0][1])
    required = [columns[v[0]] for v in found.values()]
    frame = _cells_frame(body, _dedupe(columns), label, required=required, decimal_comma=decimal_comma)
    cols = list(frame.columns)
    lines_no = [ln for ln, _ in body]

    fj, funit, _ = found["frequency"]
    fscale = _F_SCALES.get((funit or "").lower())
    if fscale is None:
        raise MissingDataError(f"{label}: frequency unit {funit!r} is not Hz, kHz or mHz; convert it to Hz.")
    freq = frame[cols[fj]].to_numpy() * fscale
    _check_frequencies(freq, lines_no, label)
    cmap = meta["column_map"]
    cmap[cols[fj]] = S.FREQUENCY

    def zscale(unit):
        s = _z_scale(unit)
        if s is None:
            raise MissingDataError(f"{label}: impedance unit {unit!r} is not ohm, mOhm, kOhm or MOhm.")
        return s

    if "real" in found and "imag" in found:
        rj, runit, rneg = found["real"]
        ij, iunit, ineg = found["imag"]
        z_real = frame[cols[rj]].to_numpy() * zscale(runit) * (-1 if rneg else 1)
        stored = frame[cols[ij]].to_numpy() * zscale(iunit)
        if header is None:
            what = "third column"
        else:
            what = f"column {cols[ij]!r}"
        if ineg:
            sign = -1
            meta["notes"].append(f"The {what} is named as -Im(Z); z_imag_ohm is its negative (Im(Z), true sign).")
        else:
            sign, reason = imag_sign_from_data(stored)
            stored_as = "Im(Z)" if sign > 0 else "-Im(Z)"
            meta["notes"].append(
                f"Sign convention detected from the data: the {what} holds {stored_as} ({reason}; a "
                "physical cell is capacitive, Im(Z) < 0, except an inductive high-frequency tail)"
                + ("; z_imag_ohm is its negative." if sign < 0 else "; z_imag_ohm is that column unchanged.")
            )
        meta["z_imag_stored_as"] = "Im(Z)" if sign > 0 else "-Im(Z)"
        z_imag = stored * sign
        cmap[cols[rj]] = S.Z_REAL
        cmap[cols[ij]] = S.Z_IMAG
    else:
        mj, munit, _ = found["modulus"]
        pj, punit, pneg = found["phase"]
        modulus = frame[cols[mj]].to_numpy() * zscale(munit)
        pscale = _PHASE_SCALES.get((punit or "").lower())
        if pscale is None:
            raise MissingDataError(f"{label}: phase unit {punit!r} is not degrees or radians.")
        phase = frame[cols[pj]].to_numpy() * pscale
        if pneg:
            psign = -1
            meta["notes"].append(f"The phase column {cols[pj]!r} is named as -phase; its sign was reversed.")
        else:
            psign, reason = imag_sign_from_data(phase)
            meta["notes"].append(
                f"Phase sign detected from the data: {cols[pj]!r} holds "
                + ("the phase of Z" if psign > 0 else "minus the phase of Z")
                + f" ({reason}; a physical cell has a negative phase except an inductive tail)."
            )
        meta["z_imag_stored_as"] = "from |Z| and phase"
        phi = np.deg2rad(phase * psign)
        z_real, z_imag = modulus * np.cos(phi), modulus * np.sin(phi)
        meta["notes"].append(f"z_real_ohm and z_imag_ohm were computed from {cols[mj]!r} and {cols[pj]!r}.")
        cmap[cols[mj]] = "|Z| -> z_real_ohm, z_imag_ohm"
        cmap[cols[pj]] = "phase -> z_real_ohm, z_imag_ohm"
    vendor = None if header is None else frame
    return impedance_frame(freq, z_real, z_imag, vendor=vendor, meta=meta)


def _dedupe(names) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        n = n or "unnamed"
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} {seen[n]}")
    return out


# --------------------------------------------------------------------------- ZView / Autolab

ZVIEW_MAGIC = "Z60W Data File"
_ZVIEW_NAMES = ["Freq (Hz)", "Ampl", "Bias", "Time(Sec)", "Z'(a)", "Z''(b)", "GD", "Err", "Range"]


def read_zview_txt(source, *, name: str | None = None) -> pd.DataFrame:
    """Read a ZView 'Z60W Data File' text export (written by Metrohm Autolab/Nova and ZView).

    Parameters
    ----------
    source : Source, path or bytes
    name : str, optional
        Original file name when ``source`` is bytes.

    Returns
    -------
    pandas.DataFrame
        Canonical impedance columns, then the file's columns (``Freq (Hz)``, ``Z'(a)``,
        ``Z''(b)``...). ``Z''(b)`` is Im(Z) with its true sign, so it is copied unchanged.

    Raises
    ------
    UnsupportedFormatError, CorruptFileError, MissingDataError
    """
    src = _coerce(source, name)
    label = _display(src)
    text = src.text()
    lines = _lines(text)
    if not lines or ZVIEW_MAGIC not in lines[0]:
        raise UnsupportedFormatError(f"{label} is not a ZView/Autolab text export (no 'Z60W Data File' first line).")
    header_at = next((i for i, ln in enumerate(lines[:100]) if re.search(r"freq", ln, re.IGNORECASE)), None)
    if header_at is None:
        raise CorruptFileError(f"{label}: no column header line (with 'Freq (Hz)') in the first 100 lines; "
                               "export it again.")
    declared = None
    if header_at >= 1 and lines[header_at - 1].strip().isdigit():
        declared = int(lines[header_at - 1].strip())
    names = [n for n in re.split(r"\s{2,}", lines[header_at].strip().strip('"').strip()) if n]
    body = [(i + 1, [c.strip() for c in ln.split(",")]) for i, ln in enumerate(lines)
            if i > header_at and ln.strip()]
    body = _drop_truncated_last(body, len(body[0][1]) if body else 0, text.endswith(("\n", "\r")), label)
    if not body:
        raise MissingDataError(f"{label} has a header but no data rows.")
    ncol = len(body[0][1])
    if len(names) != ncol:
        names = (_ZVIEW_NAMES + [f"column {k + 1}" for k in range(len(_ZVIEW_NAMES), ncol)])[:ncol]
    if ncol < 6:
        raise MissingDataError(f"{label}: rows have {ncol} values; a Z60W file needs at least frequency, "
                               "amplitude, bias, time, Z' and Z''.")
    frame = _cells_frame(body, _dedupe(names), label, required=[names[0], names[4], names[5]])
    meta = S.empty_metadata(format_name="zview-txt", source_name=src.name, sha256=src.sha256)
    _check_declared(meta, declared, len(frame), label)
    return _zplot_like(frame, names, [ln for ln, _ in body], meta, label, "ZView/Autolab (Z60W)")


def _check_declared(meta, declared, found, label):
    # The declared count is the programmed one: a sweep stopped early (or a cut file) has fewer.
    if declared is not None and declared != found:
        meta["notes"].append(f"The header declares {declared} points but {found} were recorded "
                             "(the sweep was stopped early, or the file is truncated).")


def _zplot_like(frame, names, lines_no, meta, label, vendor) -> pd.DataFrame:
    cols = list(frame.columns)
    freq = frame[cols[0]].to_numpy()
    _check_frequencies(freq, lines_no, label)
    meta["column_map"].update({cols[0]: S.FREQUENCY, cols[4]: S.Z_REAL, cols[5]: S.Z_IMAG})
    _vendor_convention_note(meta, cols[5], frame[cols[5]], vendor)
    extra = {}
    if names[3].lower().startswith("time"):
        extra[S.TEST_TIME] = frame[cols[3]].to_numpy()
        meta["column_map"][cols[3]] = S.TEST_TIME
    return impedance_frame(freq, frame[cols[4]], frame[cols[5]], vendor=frame, meta=meta, extra=extra)


# --------------------------------------------------------------------------- ZPlot .z

ZPLOT_MAGIC = "ZPLOT2 ASCII"


def read_zplot(source, *, name: str | None = None) -> pd.DataFrame:
    """Read a Scribner ZPlot ``.z`` ASCII file (sweep-frequency experiments).

    Parameters
    ----------
    source : Source, path or bytes
    name : str, optional

    Returns
    -------
    pandas.DataFrame
        Canonical impedance columns then ZPlot's columns (``Freq(Hz)``, ``Z'(a)``,
        ``Z''(b)``...); ``Z''(b)`` is Im(Z) with its true sign. The start time comes
        from the header's Date/Time.

    Raises
    ------
    UnsupportedFormatError, CorruptFileError, MissingDataError
    """
    src = _coerce(source, name)
    label = _display(src)
    text = src.text()
    lines = _lines(text)
    if not lines or not lines[0].startswith(ZPLOT_MAGIC):
        raise UnsupportedFormatError(f"{label} is not a ZPlot ASCII file (first line 'ZPLOT2 ASCII').")
    end = next((i for i, ln in enumerate(lines) if ln.strip() == "End Comments"), None)
    if end is None or end < 1:
        raise CorruptFileError(f"{label}: no 'End Comments' line closing the ZPlot header; the file is "
                               "truncated or damaged. Export it again.")
    header = {}
    for ln in lines[:end]:
        key, sep, value = ln.partition(":")
        if sep:
            header.setdefault(key.strip(), value.strip())
    if "Sweep Frequency" not in header.get("Experiment Type", "Sweep Frequency"):
        raise UnsupportedFormatError(
            f"{label} is a ZPlot '{header.get('Experiment Type')}' experiment; battlab reads only "
            "sweep-frequency (impedance) .z files."
        )
    names = [n.strip() for n in lines[end - 1].split("\t") if n.strip()]
    body = [(i + 1, ln.split("\t")) for i, ln in enumerate(lines) if i > end and ln.strip()]
    body = _drop_truncated_last(body, len(names), text.endswith(("\n", "\r")), label)
    if not body:
        raise MissingDataError(f"{label} has a header but no data rows; the sweep may have stopped at once.")
    if len(names) < 6:
        raise CorruptFileError(f"{label}, line {end}: expected the column names (Freq(Hz) ... Z'(a) Z''(b)); "
                               "the header is damaged.")
    decimal_comma = any(re.search(r"\d,\d", c) for c in body[0][1])
    frame = _cells_frame(body, _dedupe(names), label, required=[names[0], names[4], names[5]],
                         decimal_comma=decimal_comma)
    meta = S.empty_metadata(format_name="zplot-z", source_name=src.name, sha256=src.sha256)
    declared = header.get("Data Points")
    _check_declared(meta, int(declared) if declared and declared.isdigit() else None, len(frame), label)
    when = None
    try:
        when = _dt.datetime.strptime(f"{header.get('Date', '')} {header.get('Time', '')}", "%m-%d-%Y %H:%M:%S")
    except ValueError:
        pass
    _start(meta, when)
    return _zplot_like(frame, names, [ln for ln, _ in body], meta, label, "ZPlot")


# --------------------------------------------------------------------------- CH Instruments


def read_chi_txt(source, *, name: str | None = None) -> pd.DataFrame:
    """Read a CH Instruments 'A.C. Impedance' text export (Convert to Text in the CHI software).

    Parameters
    ----------
    source : Source, path or bytes
    name : str, optional

    Returns
    -------
    pandas.DataFrame
        Canonical impedance columns then ``Freq/Hz``, ``Z'/ohm``, ``Z"/ohm``, ``Z/ohm``,
        ``Phase/deg``. CHI writes ``Z"`` as Im(Z) with its true sign.

    Raises
    ------
    UnsupportedFormatError
        A CHI export of another technique (CV, amperometry...).
    CorruptFileError, MissingDataError
    """
    src = _coerce(source, name)
    label = _display(src)
    text = src.text()
    lines = _lines(text)
    head = [ln.strip() for ln in lines[:3]]
    if "A.C. Impedance" not in head:
        technique = head[1] if len(head) > 1 else ""
        raise UnsupportedFormatError(
            f"{label} is a CH Instruments export of '{technique}', not 'A.C. Impedance'; battlab reads "
            "only impedance from CHI text files."
        )
    at = next((i for i, ln in enumerate(lines[:200]) if ln.strip().lower().startswith("freq/hz")), None)
    if at is None:
        raise CorruptFileError(f"{label}: no 'Freq/Hz, Z'/ohm, ...' column line in the header; export again.")
    names = [c.strip() for c in lines[at].split(",")]
    body = [(i + 1, [c.strip() for c in ln.split(",")]) for i, ln in enumerate(lines) if i > at and ln.strip()]
    body = _drop_truncated_last(body, len(names), text.endswith(("\n", "\r")), label)
    if not body:
        raise MissingDataError(f"{label} has a header but no data rows.")
    found = _eis_columns(names)
    if not ("frequency" in found and "real" in found and "imag" in found):
        raise MissingDataError(f"{label}: columns {', '.join(names)} lack frequency, Z' or Z\".")
    cols = _dedupe(names)
    fj, rj, ij = found["frequency"][0], found["real"][0], found["imag"][0]
    frame = _cells_frame(body, cols, label, required=[cols[fj], cols[rj], cols[ij]])
    meta = S.empty_metadata(format_name="chi-txt", source_name=src.name, sha256=src.sha256)
    meta["instrument"] = next((ln.split(":", 1)[1].strip() for ln in lines[:20]
                               if ln.startswith("Instrument Model:")), None)
    when = None
    stamp = re.sub(r"\s+", " ", lines[0].strip())
    for fmt in ("%b. %d, %Y %H:%M:%S", "%b %d, %Y %H:%M:%S", "%B %d, %Y %H:%M:%S"):
        try:
            when = _dt.datetime.strptime(stamp, fmt)
            break
        except ValueError:
            continue
    _start(meta, when)
    freq = frame[cols[fj]].to_numpy()
    _check_frequencies(freq, [ln for ln, _ in body], label)
    meta["column_map"].update({cols[fj]: S.FREQUENCY, cols[rj]: S.Z_REAL, cols[ij]: S.Z_IMAG})
    _vendor_convention_note(meta, cols[ij], frame[cols[ij]], "CH Instruments")
    return impedance_frame(freq, frame[cols[rj]], frame[cols[ij]], vendor=frame, meta=meta)


# --------------------------------------------------------------------------- VersaStudio .par


def read_versastudio_par(source, *, name: str | None = None) -> pd.DataFrame:
    """Read the impedance segments of a Princeton Applied Research VersaStudio ``.par`` file.

    Parameters
    ----------
    source : Source, path or bytes
    name : str, optional

    Returns
    -------
    pandas.DataFrame
        Canonical impedance columns, ``test_time_s`` (Elapsed Time), ``voltage_V`` (E),
        ``current_A`` (I), then every column of the segments' ``Definition`` line.
        Several segments are stacked in file order (their ``Segment #`` column tells them
        apart). ``Z Imag`` is Im(Z) with its true sign.

    Raises
    ------
    UnsupportedFormatError
        Not a VersaStudio file.
    MissingDataError
        A ``.par`` of a DC technique (no Frequency column), or no data rows.
    CorruptFileError
        Ragged or non-numeric rows (with the line number).
    """
    src = _coerce(source, name)
    label = _display(src)
    text = src.text()
    lines = _lines(text)
    if not any(ln.strip() == "Name=VersaStudio" for ln in lines[:20]):
        raise UnsupportedFormatError(f"{label} is not a VersaStudio .par file (no 'Name=VersaStudio' "
                                     "in its <Application> block).")
    names, rows, in_seg = None, [], False
    for i, ln in enumerate(lines):
        s = ln.strip()
        if re.fullmatch(r"<Segment\d+>", s):
            in_seg = True
            continue
        if re.fullmatch(r"</Segment\d+>", s):
            in_seg = False
            continue
        if not in_seg or not s:
            continue
        if s.startswith("Definition="):
            defined = [c.strip() for c in s[len("Definition="):].split(",")]
            names = names or defined
            continue
        if "=" in s and not _is_number(s.split(",", 1)[0]):
            continue  # Type=..., Version=... lines of the segment block
        rows.append((i + 1, [c.strip() for c in s.split(",")]))
    if names is None:
        raise MissingDataError(f"{label}: no <Segment> with a Definition= line; the file holds no data.")
    if not rows:
        raise MissingDataError(f"{label} has segment definitions but no data rows.")
    ncol = len(rows[0][1])
    # VersaStudio ends the Definition list with a placeholder ("0") that has no data column.
    names = names[:ncol] if len(names) > ncol else names
    if "Frequency(Hz)" not in names:
        raise MissingDataError(
            f"{label} holds no Frequency(Hz) column: it is a DC technique ({', '.join(names[:8])}...), "
            "not impedance. battlab reads only EIS from .par files; export the data as text for other techniques."
        )
    cols = _dedupe(names)
    need = ["Frequency(Hz)", "Z Real", "Z Imag"]
    missing = [c for c in need if c not in cols]
    if missing:
        raise MissingDataError(f"{label}: the impedance segment lacks {', '.join(missing)}.")
    rows = _drop_truncated_last(rows, len(cols), True, label)
    frame = _cells_frame(rows, cols, label, required=need)
    meta = S.empty_metadata(format_name="versastudio-par", source_name=src.name, sha256=src.sha256)
    keys = dict(ln.strip().split("=", 1) for ln in lines[:200] if "=" in ln and not ln.startswith("<"))
    when = None
    try:
        when = _dt.datetime.strptime(f"{keys.get('DateAcquired', '')} {keys.get('TimeAcquired', '')}",
                                     "%A, %B %d, %Y %I:%M:%S %p")
    except ValueError:
        pass
    _start(meta, when)
    freq = frame["Frequency(Hz)"].to_numpy()
    _check_frequencies(freq, [ln for ln, _ in rows], label)
    cmap = meta["column_map"]
    cmap.update({"Frequency(Hz)": S.FREQUENCY, "Z Real": S.Z_REAL, "Z Imag": S.Z_IMAG})
    _vendor_convention_note(meta, "Z Imag", frame["Z Imag"], "VersaStudio")
    extra = {}
    for vendor_col, key in (("Elapsed Time(s)", S.TEST_TIME), ("E(V)", S.VOLTAGE), ("I(A)", S.CURRENT)):
        if vendor_col in frame and frame[vendor_col].dtype == np.float64:
            extra[key] = frame[vendor_col].to_numpy()
            cmap[vendor_col] = key
    return impedance_frame(freq, frame["Z Real"], frame["Z Imag"], vendor=frame, meta=meta, extra=extra)


# --------------------------------------------------------------------------- sniffing


def _head_text(head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.decode("utf-8", errors="replace") if b"\x00" not in head[:4096] else ""


def _sniff_eis_csv(head: bytes, name: str) -> float:
    text = _head_text(head)
    if not text:
        return 0.0
    lines = _lines(text)
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]
    delim = _guess_delimiter(lines)
    if _find_eis_header(lines, delim) is not None:
        return 0.5  # above the generic cycler table (0.3): frequency + impedance names are specific
    if _headerless_numeric(lines, delim):
        return 0.35
    return 0.0


def _sniff_zview(head: bytes, name: str) -> float:
    return 0.95 if ZVIEW_MAGIC in _head_text(head[:200]).split("\n", 1)[0] else 0.0


def _sniff_zplot(head: bytes, name: str) -> float:
    return 0.95 if _head_text(head[:64]).startswith(ZPLOT_MAGIC) else 0.0


def _sniff_chi(head: bytes, name: str) -> float:
    lines = [ln.strip() for ln in _lines(_head_text(head[:4096]))[:12]]
    if len(lines) > 1 and lines[1] == "A.C. Impedance" and any(ln.startswith(("Instrument Model:", "Data Source:"))
                                                               for ln in lines):
        return 0.95
    return 0.0


def _sniff_par(head: bytes, name: str) -> float:
    text = _head_text(head[:2048])
    return 0.95 if text.lstrip().startswith("<Application>") and "Name=VersaStudio" in text else 0.0


for _name, _desc, _ext, _sniff, _read in (
    ("eis-csv", "an impedance spectrum table (CSV/TSV: frequency, Z', Z'' or |Z|, phase)",
     (".csv", ".tsv", ".txt"), _sniff_eis_csv, read_eis_csv),
    ("zview-txt", "a ZView / Metrohm Autolab impedance text export (Z60W Data File)", (".txt", ".z"),
     _sniff_zview, read_zview_txt),
    ("zplot-z", "a Scribner ZPlot impedance file (.z)", (".z",), _sniff_zplot, read_zplot),
    ("chi-txt", "a CH Instruments A.C. Impedance text export", (".txt",), _sniff_chi, read_chi_txt),
    ("versastudio-par", "a Princeton Applied Research VersaStudio file (.par)", (".par",), _sniff_par,
     read_versastudio_par),
):
    register(Format(name=_name, description=_desc, kind="echem", extensions=_ext, sniff=_sniff, read=_read))
