"""Gamry Framework ``.DTA`` files (the text "EXPLAIN" format), parsed natively.

A ``.DTA`` file is a list of tab-separated header lines ``KEY<TAB>TYPE<TAB>value...``
(``TAG``, ``TITLE``, ``DATE``, ``TIME``, ``AREA``, ``SCANRATE``...) with data tables
among them. A table starts with ``NAME<TAB>TABLE[<TAB>rows]``, followed by a line of
column names and a line of units, each starting with a tab, then one tab-led line per
point. The tables battlab reads:

* ``CURVE`` or ``CURVE1``..``CURVEn`` (a CV writes one per cycle) -> a time series in the
  canonical schema: ``test_time_s`` from ``T``, ``voltage_V`` from ``Vf``, ``current_A``
  from ``Im`` and, for numbered curves, ``cycle`` from the curve number;
* ``ZCURVE`` (EISPOT/EISGALV) -> an impedance table: ``frequency_Hz`` from ``Freq``,
  ``z_real_ohm`` from ``Zreal`` and ``z_imag_ohm`` from ``Zimag``, which Gamry writes as
  Im(Z) with its true sign (negative for a capacitive arc), plus ``test_time_s``,
  ``voltage_V`` and ``current_A`` from ``Time``, ``Vdc`` and ``Idc``;
* ``OCVCURVE`` (the open-circuit rest before an EIS sweep) on request, ``table="OCVCURVE"``.

Every vendor column is kept under its Gamry name. Gamry writes currents with anodic
(oxidation) current positive, battlab's convention, so ``Im`` is copied unchanged.
European installations write decimal commas; those are detected from the data.
DATE and TIME are local wall-clock time without a zone and are treated as UTC.
"""

from __future__ import annotations

import datetime as _dt
import re
import warnings

import numpy as np
import pandas as pd

from battlab.errors import BattlabWarning, CorruptFileError, MissingDataError, UnsupportedFormatError
from battlab.io import schema as S
from battlab.io.eis_text import (
    _CLOCK_NOTE,
    _cells_frame,
    _check_frequencies,
    _coerce,
    _display,
    _lines,
    _vendor_convention_note,
    impedance_frame,
)
from battlab.io.registry import Format, register

__all__ = ["read_dta", "DTA_MAGIC"]

#: First line of every Gamry Framework data file.
DTA_MAGIC = "EXPLAIN"

# TAG -> battlab technique. Checked in order; the first entry whose key equals the TAG
# wins, then the substring rules below.
_TAG_TECHNIQUES = {
    "CV": "cv", "RCV": "cv", "LSV": "lsv", "SQUARE_WAVE": "swv",
    "CHRONOP": "cp", "CHRONOA": "ca", "CHRONOC": "cc",
    "EISPOT": "eis", "EISGALV": "eis", "EISMON": "eis",
    "CORPOT": "ocv", "OCP": "ocv", "OCV": "ocv",
    "GALVPULSE": "cp", "POTPULSE": "ca",
    "PWR800_CHARGE": "cycling", "PWR800_DISCHARGE": "cycling",
    "PWR800_CYCLICCHARGEDISCHARGE": "cycling", "PWR800_CCD": "cycling",
}
_TAG_WORDS = (("GITT", "gitt"), ("PITT", "pitt"), ("EIS", "eis"), ("CHRONOP", "cp"), ("CHRONOA", "ca"),
              ("CORPOT", "ocv"), ("OCV", "ocv"), ("CV", "cv"), ("PWR", "cycling"))

_COPY_HINT = ("Copy the original .DTA again from the instrument computer (Gamry writes it as the "
              "experiment runs); do not edit it by hand.")

_NUMERIC_TYPES = {"QUANT", "IQUANT", "POTEN", "SELECTOR"}
_CURVE_RE = re.compile(r"^CURVE(\d*)$")


def _technique(tag: str) -> str | None:
    tag = tag.strip().upper()
    if tag in _TAG_TECHNIQUES:
        return _TAG_TECHNIQUES[tag]
    for word, technique in _TAG_WORDS:
        if word in tag:
            return technique
    return None


def _number(text: str):
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        return text.strip()


def _parse(lines: list[str], label: str):
    """Header dict and tables ``{name: {"line", "columns", "units", "rows", "declared"}}``."""
    header: dict = {}
    tables: dict = {}
    n = len(lines)
    i = 1
    while i < n:
        line = lines[i]
        if not line.strip() or line.startswith("\t"):
            i += 1  # notes continuation lines and blank separators
            continue
        parts = line.split("\t")
        key = parts[0].strip()
        kind = parts[1].strip() if len(parts) > 1 else ""
        if kind == "TABLE":
            declared = int(parts[2]) if len(parts) > 2 and parts[2].strip().isdigit() else None
            if i + 2 >= n or not lines[i + 1].startswith("\t") or not lines[i + 2].startswith("\t"):
                raise CorruptFileError(
                    f"{label}, line {i + 1}: table {key} has no column-name and unit lines after it; the "
                    "file is truncated or damaged. Copy the .DTA again from the Gamry data folder."
                )
            columns = _cells(lines[i + 1])
            units = _cells(lines[i + 2])
            rows = []
            j = i + 3
            while j < n and lines[j].startswith("\t"):
                cells = lines[j].split("\t")[1:]
                if len(cells) == len(columns) + 1 and not cells[-1].strip():
                    cells = cells[:-1]  # a trailing tab
                rows.append((j + 1, cells))
                j += 1
            if key in tables:
                raise CorruptFileError(f"{label}, line {i + 1}: a second table named {key}; the file is damaged.")
            tables[key] = {"line": i + 1, "columns": columns, "units": units + [""] * (len(columns) - len(units)),
                           "rows": rows, "declared": declared}
            i = j
            continue
        if kind == "NOTES":
            count = int(parts[2]) if len(parts) > 2 and parts[2].strip().isdigit() else 0
            header[key] = "\n".join(ln.strip() for ln in lines[i + 1:i + 1 + count])
            i += 1 + count
            continue
        if kind in _NUMERIC_TYPES and len(parts) > 2:
            header[key] = _number(parts[2])
        elif key == "TAG":
            header[key] = kind
        elif len(parts) > 2:
            header[key] = parts[2].strip()
        elif key:
            header[key] = kind
        i += 1
    return header, tables


def _cells(line: str) -> list[str]:
    cells = [c.strip() for c in line.split("\t")[1:]]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _start_time(header: dict) -> _dt.datetime | None:
    date, time = str(header.get("DATE", "")).strip(), str(header.get("TIME", "")).strip()
    for fmt in ("%m/%d/%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M:%S"):
        try:
            return _dt.datetime.strptime(f"{date} {time}", fmt)
        except ValueError:
            continue
    return None


def read_dta(source, *, name: str | None = None, table: str | None = None) -> pd.DataFrame:
    """Read a Gamry Framework ``.DTA`` file.

    Parameters
    ----------
    source : Source, path or bytes
        The ``.DTA`` file.
    name : str, optional
        Original file name when ``source`` is bytes.
    table : str, optional
        Read this table (``"OCVCURVE"``, ``"CURVE2"``...) instead of the main one
        (``ZCURVE`` for impedance, else all ``CURVE``/``CURVEn`` tables stacked).

    Returns
    -------
    pandas.DataFrame
        For a time series: ``test_time_s``, ``voltage_V``, ``current_A`` (and ``cycle``
        for numbered curves) followed by Gamry's columns (``Pt``, ``T``, ``Vf``, ``Im``...).
        For impedance: ``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm`` (Im(Z), true sign),
        ``test_time_s``, ``voltage_V``, ``current_A`` then Gamry's columns.
        ``attrs["battlab"]`` holds the technique (from the TAG), the start time, the
        header values (``header``), ``area_cm2`` when given, and notes.

    Raises
    ------
    UnsupportedFormatError
        Not a Gamry EXPLAIN file.
    CorruptFileError
        Ragged rows or text in a number column (with the line number), or a table cut off
        before its column lines.
    MissingDataError
        No CURVE/ZCURVE table (the experiment stopped before recording), or a table without
        time, potential or impedance columns.
    """
    src = _coerce(source, name)
    label = _display(src)
    if b"\x00" in src.data[:65536]:
        raise UnsupportedFormatError(f"{label} is a binary file, not a Gamry .DTA text file.")
    text = src.text()
    lines = _lines(text)
    if not lines or lines[0].strip() != DTA_MAGIC:
        raise UnsupportedFormatError(
            f"{label} is not a Gamry Framework data file (its first line should be 'EXPLAIN'). "
            "Load the .DTA written by the Gamry software, not an exported or edited copy."
        )
    header, tables = _parse(lines, label)
    tag = str(header.get("TAG", "")).strip()
    meta = S.empty_metadata(format_name="gamry-dta", source_name=src.name, sha256=src.sha256)
    meta["technique"] = _technique(tag)
    meta["tag"] = tag or None
    meta["technique_name"] = header.get("TITLE") or None
    meta["header"] = header
    meta["tables"] = {k: len(v["rows"]) for k, v in tables.items()}
    if isinstance(header.get("AREA"), float):
        meta["area_cm2"] = header["AREA"]
    start = _start_time(header)
    if start is not None:
        meta["start_time_utc"] = start.isoformat()
        meta["notes"].append(_CLOCK_NOTE)
    if header.get("CONVENTION") not in (None, 1.0):
        meta["notes"].append(
            f"The file declares current convention {header['CONVENTION']!r}, not Gamry's default "
            "(1, anodic current positive); current_A is Im unchanged, so check its sign."
        )

    ends_with_newline = text.endswith(("\n", "\r"))
    last_table = max(tables, key=lambda k: tables[k]["line"]) if tables else None
    for key, tab in tables.items():
        _repair_truncation(key, tab, label, cut=(key == last_table and not ends_with_newline))

    curves = sorted((k for k in tables if _CURVE_RE.match(k)),
                    key=lambda k: int(_CURVE_RE.match(k).group(1) or 0))
    if table is not None:
        if table not in tables:
            raise MissingDataError(f"{label} has no table {table!r}; its tables are "
                                   f"{', '.join(tables) or 'none'}.")
        chosen = [table]
    elif "ZCURVE" in tables:
        chosen = ["ZCURVE"]
    elif curves:
        chosen = curves
    else:
        found = f"it has only {', '.join(tables)}" if tables else "it has no data table at all"
        aborted = " The file says the experiment was aborted." if header.get("EXPERIMENTABORTED") == "T" else ""
        n_lines = text.count("\n") + (0 if ends_with_newline else 1)
        raise MissingDataError(
            f"{label} ends at line {n_lines} without a CURVE or ZCURVE data table ({found}): the "
            f"experiment was stopped before it recorded a point, or the file was cut short.{aborted} "
            "Re-run the experiment, or read one of the tables present with table=\"NAME\"."
        )
    decimal_comma = _decimal_comma(tables[chosen[0]]["rows"])
    if chosen == ["ZCURVE"] or (table is not None and "Freq" in tables[table]["columns"]):
        return _impedance(tables[chosen[0]], chosen[0], meta, label, decimal_comma)
    if meta["technique"] == "eis" and table is None:
        meta["notes"].append("An impedance experiment without a ZCURVE table: the time series is read.")
    return _time_series(tables, chosen, meta, label, decimal_comma)


def _decimal_comma(rows) -> bool:
    # Columns are tab separated, so a comma between digits can only be a decimal comma.
    return any(re.search(r"\d,\d", c) for _, cells in rows[:20] for c in cells)


def _repair_truncation(key: str, tab: dict, label: str, *, cut: bool):
    rows, ncol = tab["rows"], len(tab["columns"])
    if cut and rows and (len(rows[-1][1]) != ncol or not rows[-1][1][-1].strip()):
        warnings.warn(f"{label}: the last row of {key} (line {rows[-1][0]}) is incomplete (file truncated?) "
                      "and was dropped.", BattlabWarning, stacklevel=4)
        rows.pop()
    if tab["declared"] is not None and len(rows) < tab["declared"]:
        warnings.warn(f"{label}: table {key} declares {tab['declared']} points but holds {len(rows)} "
                      "(file truncated or experiment aborted); the points present were read.",
                      BattlabWarning, stacklevel=4)


def _frame(tab: dict, key: str, label: str, required, decimal_comma: bool) -> pd.DataFrame:
    if not tab["rows"]:
        raise MissingDataError(
            f"{label}, line {tab['line']}: table {key} has column lines but no data points; the "
            "experiment stopped before its first point. Re-run it or load another file."
        )
    return _cells_frame(tab["rows"], _unique(tab["columns"]), label, required=required,
                        decimal_comma=decimal_comma, hint=_COPY_HINT)


def _unique(names) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} {seen[n]}")
    return out


def _impedance(tab: dict, key: str, meta: dict, label: str, decimal_comma: bool) -> pd.DataFrame:
    missing = [c for c in ("Freq", "Zreal", "Zimag") if c not in tab["columns"]]
    if missing:
        raise MissingDataError(
            f"{label}, line {tab['line'] + 1}: table {key} lacks {', '.join(missing)} "
            f"(columns: {', '.join(tab['columns'])}); it is not an impedance table."
        )
    frame = _frame(tab, key, label, ("Freq", "Zreal", "Zimag"), decimal_comma)
    freq = frame["Freq"].to_numpy()
    _check_frequencies(freq, [ln for ln, _ in tab["rows"]], label)
    cmap = meta["column_map"]
    cmap.update({"Freq": S.FREQUENCY, "Zreal": S.Z_REAL, "Zimag": S.Z_IMAG})
    _vendor_convention_note(meta, "Zimag", frame["Zimag"], "Gamry")
    extra = {}
    for vendor, canon in (("Time", S.TEST_TIME), ("Vdc", S.VOLTAGE), ("Idc", S.CURRENT)):
        if vendor in frame and frame[vendor].dtype == np.float64:
            extra[canon] = frame[vendor].to_numpy()
            cmap[vendor] = canon
    if "OCVCURVE" in meta["tables"] and key != "OCVCURVE":
        meta["notes"].append(f"The open-circuit rest before the sweep ({meta['tables']['OCVCURVE']} points) "
                             "is in table OCVCURVE: read it with table='OCVCURVE'.")
    return impedance_frame(freq, frame["Zreal"], frame["Zimag"], vendor=frame, meta=meta, extra=extra)


def _time_series(tables: dict, keys: list[str], meta: dict, label: str, decimal_comma: bool) -> pd.DataFrame:
    parts = []
    for key in keys:
        tab = tables[key]
        cols = tab["columns"]
        if "T" not in cols:
            raise MissingDataError(f"{label}, line {tab['line'] + 1}: table {key} has no time column T "
                                   f"(columns: {', '.join(cols)}).")
        vcol = next((c for c in ("Vf", "Vm", "V") if c in cols), None)
        if vcol is None:
            raise MissingDataError(f"{label}, line {tab['line'] + 1}: table {key} has no potential column Vf "
                                   f"(columns: {', '.join(cols)}).")
        required = ["T", vcol] + (["Im"] if "Im" in cols else [])
        frame = _frame(tab, key, label, required, decimal_comma)
        number = _CURVE_RE.match(key)
        frame.attrs = {}
        parts.append((key, int(number.group(1) or 1) if number else 1, vcol, frame))
    if len({tuple(p[3].columns) for p in parts}) > 1:
        raise CorruptFileError(f"{label}: the curves {', '.join(keys)} have different columns; the file is "
                               "damaged or hand-edited.")

    cmap = meta["column_map"]
    times, offset, shifted = [], 0.0, False
    for k, (_, _, _, frame) in enumerate(parts):
        t = frame["T"].to_numpy(dtype=np.float64)
        if k and t.size and times and times[-1].size and t[0] < times[-1][-1]:
            # this curve restarts its clock: continue from the previous curve's end
            step = np.median(np.diff(times[-1])) if times[-1].size > 1 else 0.0
            offset = times[-1][-1] + step - t[0]
            shifted = True
        else:
            offset = 0.0
        times.append(t + offset)
    if shifted:
        meta["notes"].append("Some curves restart their time at zero; test_time_s continues from the end of "
                             "the previous curve (T keeps Gamry's values).")
    vcol = parts[0][2]
    stacked = pd.concat([p[3] for p in parts], ignore_index=True)
    canon = {S.TEST_TIME: np.concatenate(times), S.VOLTAGE: stacked[vcol].to_numpy(dtype=np.float64)}
    cmap["T"] = S.TEST_TIME
    cmap[vcol] = S.VOLTAGE
    if "Im" in stacked:
        canon[S.CURRENT] = stacked["Im"].to_numpy(dtype=np.float64)
        cmap["Im"] = S.CURRENT
    elif meta["technique"] == "ocv" or keys == ["OCVCURVE"]:
        canon[S.CURRENT] = np.zeros(len(stacked))
        meta["notes"].append("Open-circuit record without a current column: current_A is 0.")
    else:
        raise MissingDataError(f"{label}: table {keys[0]} has no current column Im "
                               f"(columns: {', '.join(stacked.columns)}).")
    if "Cycle" in stacked and stacked["Cycle"].dtype == np.float64:
        canon[S.CYCLE] = stacked["Cycle"].to_numpy().astype(np.int64)
        cmap["Cycle"] = S.CYCLE
    elif any(_CURVE_RE.match(p[0]) and _CURVE_RE.match(p[0]).group(1) for p in parts):
        canon[S.CYCLE] = np.concatenate([np.full(len(p[3]), p[1], dtype=np.int64) for p in parts])
        meta["notes"].append(f"cycle is the CURVE table number ({keys[0]}..{keys[-1]}).")
    if "Pt" in stacked and stacked["Pt"].dtype == np.float64:
        pt = stacked["Pt"].to_numpy()
        if np.all(pt == np.round(pt)):
            stacked["Pt"] = pt.astype(np.int64)
    if meta["technique"] is None:
        meta["technique"] = "ocv" if "Im" not in stacked else None
    out = pd.concat([pd.DataFrame(canon), stacked], axis=1)
    out.attrs["battlab"] = meta
    return out


# --------------------------------------------------------------------------- sniffing


def _sniff_dta(head: bytes, name: str) -> float:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    first = head[:16].replace(b"\r", b"").split(b"\n", 1)[0].strip()
    if first == DTA_MAGIC.encode():
        return 0.95 if b"\nTAG\t" in head[:4096] or name.lower().endswith(".dta") else 0.6
    return 0.0


register(Format(
    name="gamry-dta",
    description="a Gamry Framework data file (.DTA)",
    kind="echem",
    extensions=(".dta",),
    sniff=_sniff_dta,
    read=read_dta,
))
