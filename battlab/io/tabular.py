"""Generic cycler exports: CSV / TSV / TXT tables and XLSX workbooks.

One reader handles the text and Excel exports of most cyclers (Neware, Maccor, PEC,
Arbin, Basytec, Landt, ...) by recognising column names and their units instead of
knowing each vendor's layout:

* the delimiter (``,`` ``;`` tab), decimal comma and encoding (UTF-8, cp1252, latin-1)
  are detected;
* the header is the first row holding recognisable time, voltage and current names, so
  key/value header blocks above it (Maccor, PEC) are skipped;
* units are read from names such as ``Voltage(V)``, ``Current (mA)``, ``Voltage/V``,
  ``U[V]``, ``Test Time (sec)``, ``Capacity(mAh)`` and converted to V, A, s, Ah, degC;
* elapsed times written as ``h:mm:ss(.f)``, ``d-hh:mm:ss`` or ``2d 02:52:51.57`` become
  seconds; absolute date-times become ``unix_time_s``;
* Neware's "regular" export, which nests cycle, step and record rows, is read at the
  record level with the cycle and step indices carried down;
* an unsigned current with a charge/discharge state column (Maccor ``State`` C/D/R)
  is signed: charge positive, discharge negative.

What the names cannot tell, the caller can: ``column_map={"Spannung": "voltage_V"}``
and ``current_unit="mA"``-style overrides.

Neware ``.nda``/``.ndax`` and Arbin ``.res`` binaries are recognised only to say which
export to use instead.
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import io
import re
import struct
import warnings
import zipfile

import numpy as np
import pandas as pd

from battlab.errors import (
    BattlabError,
    BattlabWarning,
    CorruptFileError,
    InvalidParameterError,
    MissingDataError,
    TooLargeError,
    UnsupportedFormatError,
)
from battlab.io import schema as S
from battlab.io.registry import DEFAULT_MAX_BYTES, Format, Source, _as_source, register

__all__ = ["read_cycler_csv", "read_cycler_xlsx", "DEFAULT_MAX_ROWS"]

#: Tables with more data rows than this are refused (override with ``max_rows``).
DEFAULT_MAX_ROWS = 20_000_000
#: Budget for the summed uncompressed size of an XLSX's parts.
DEFAULT_MAX_XLSX_UNCOMPRESSED_BYTES = 1024**3
#: Compression ratio above which an XLSX part is treated as a zip bomb.
DEFAULT_MAX_XLSX_RATIO = 200.0

_HEADER_SCAN_ROWS = 1000
_MAX_COLUMNS = 5000
_DELIMITERS = ("\t", ";", ",")

# --------------------------------------------------------------------------- names

# Normalised column base name -> (quantity, rank). Lower rank wins when a table has
# several candidates (Neware has "Time" = step time and "Total Time" = test time).
_ALIASES: dict[str, tuple[str, int]] = {}


def _alias(quantity: str, rank: int, *names: str):
    for n in names:
        _ALIASES[n] = (quantity, rank)


_alias("test_time", 0, "test time", "testtime", "total time", "totaltime", "test time s",
       "elapsed time", "run time", "runtime", "total time s")
_alias("test_time", 5, "time", "t", "zeit", "temps")
_alias("test_time", 0, "gesamtzeit", "testzeit", "prüfzeit")
_alias("step_time", 0, "step time", "steptime", "relative time")
_alias("unix_time", 0, "date", "date time", "datetime", "real time", "realtime", "timestamp",
       "time stamp", "dpt time", "dpttime", "absolute time", "abs time", "system time",
       "unix time", "record time", "date and time", "datum")
_alias("voltage", 0, "voltage", "cell voltage", "volts", "volt", "potential", "cell potential",
       "u", "v", "ewe", "ecell", "e", "spannung", "tension")
_alias("current", 0, "current", "cell current", "amps", "amp", "i", "cur", "strom", "courant")
_alias("step", 0, "step", "step index", "stepindex", "ns", "step id", "step no", "line")
_alias("step", 1, "step number", "step count", "step no.")
_alias("cycle", 0, "cycle", "cycle index", "cycleindex", "cycle number", "cyc#", "cyc", "cycle id",
       "cycle no", "cycle count", "cycle nr", "zyklus")
_alias("temperature", 0, "temperature", "temp", "cell temperature", "t1", "temperature 1", "temp 1",
       "aux temperature", "aux temperature 1", "auxiliary temperature")
_alias("charge_capacity", 0, "charge capacity", "chg cap", "chg capacity", "charging capacity",
       "q charge", "capacity charge")
_alias("discharge_capacity", 0, "discharge capacity", "dchg cap", "dchg capacity",
       "discharging capacity", "q discharge", "capacity discharge")
_alias("state", 0, "state", "status", "md", "step type", "steptype", "mode", "step mode")

# Names whose unit is implied (Maccor "Amps", "Volts").
_IMPLIED_UNITS = {"amps": "a", "amp": "a", "volts": "v", "volt": "v"}

_TIME_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3,
               "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hr": 3600.0,
               "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0, "d": 86400.0, "day": 86400.0,
               "days": 86400.0}
_CURRENT_UNITS = {"a": 1.0, "ma": 1e-3, "µa": 1e-6, "ua": 1e-6, "na": 1e-9}
_VOLTAGE_UNITS = {"v": 1.0, "mv": 1e-3, "µv": 1e-6, "uv": 1e-6}
_CAPACITY_UNITS = {"ah": 1.0, "mah": 1e-3, "µah": 1e-6, "uah": 1e-6, "a.h": 1.0, "ma.h": 1e-3,
                   "a·h": 1.0, "ma·h": 1e-3, "as": 1 / 3600, "mas": 1 / 3.6e6, "c": 1 / 3600}
# Degree signs get mangled by code pages ("T1(?)" in Neware exports); all mean Celsius.
_CELSIUS = {"°c", "degc", "deg c", "c", "℃", "?", "oc", "celsius", "deg", "�c", "�", "ºc"}

_QUANTITY_UNITS = {
    "test_time": _TIME_UNITS, "step_time": _TIME_UNITS, "current": _CURRENT_UNITS,
    "voltage": _VOLTAGE_UNITS, "charge_capacity": _CAPACITY_UNITS,
    "discharge_capacity": _CAPACITY_UNITS,
}
_DEFAULT_UNIT = {"test_time": "s", "step_time": "s", "current": "a", "voltage": "v",
                 "charge_capacity": "ah", "discharge_capacity": "ah", "temperature": "°c"}
_CANONICAL_OF = {
    "test_time": S.TEST_TIME, "unix_time": S.UNIX_TIME, "voltage": S.VOLTAGE, "current": S.CURRENT,
    "step": S.STEP, "cycle": S.CYCLE, "temperature": S.TEMPERATURE,
    "charge_capacity": S.CHARGE_CAPACITY, "discharge_capacity": S.DISCHARGE_CAPACITY,
}
_QUANTITY_OF = {v: k for k, v in _CANONICAL_OF.items()}
_DISPLAY_UNIT = {"s": "s", "a": "A", "v": "V", "ah": "Ah", "°c": "degC"}
_OPTION_OF = {"test_time": "time_unit", "step_time": "time_unit", "current": "current_unit",
              "voltage": "voltage_unit", "charge_capacity": "capacity_unit",
              "discharge_capacity": "capacity_unit", "temperature": "temperature_unit"}
_PLAIN_NAME = {S.TEST_TIME: "time", S.VOLTAGE: "voltage", S.CURRENT: "current"}
_CANONICAL_ORDER = (S.TEST_TIME, S.UNIX_TIME, S.VOLTAGE, S.CURRENT, S.CYCLE, S.STEP,
                    S.TEMPERATURE, S.CHARGE_CAPACITY, S.DISCHARGE_CAPACITY)

_UNIT_PATTERNS = (
    re.compile(r"^(?P<base>.*?)\s*\((?P<unit>[^()]*)\)\s*$"),     # Voltage(V), Voltage (V)
    re.compile(r"^(?P<base>.*?)\s*\[(?P<unit>[^\[\]]*)\]\s*$"),   # U[V]
    re.compile(r"^(?P<base>[^/]*?)\s*/\s*(?P<unit>[^/]+)$"),        # Voltage/V, Test Time / s
)
_SUFFIX_UNIT = re.compile(r"^(?P<base>.*?)[\s_]+(?P<unit>[A-Za-zµμ°·.]+)$")  # voltage_V, Current mA
_ALL_UNITS = (set(_TIME_UNITS) | set(_CURRENT_UNITS) | set(_VOLTAGE_UNITS) | set(_CAPACITY_UNITS)
              | {"degc", "k"})


def _norm_unit(unit: str | None) -> str | None:
    if unit is None:
        return None
    u = unit.strip().replace("μ", "µ").replace(" ", "").lower()
    return u or None


def _norm_base(base: str) -> str:
    b = base.strip().lstrip("\ufeff").lower()
    b = re.sub(r"[_\-]+", " ", b)
    b = re.sub(r"\.(?=\s|$)", "", b)  # "Chg. Cap." -> "chg cap"
    return re.sub(r"\s+", " ", b).strip()


@functools.lru_cache(maxsize=4096)
def _split_name(name: str) -> tuple[str, str | None]:
    """``"Voltage(V)"`` -> ``("voltage", "v")``; the unit is None when absent."""
    raw = str(name).strip().lstrip("\ufeff")
    for pat in _UNIT_PATTERNS:
        m = pat.match(raw)
        if m and m.group("base").strip():
            return _norm_base(m.group("base")), m.group("unit").strip()
    m = _SUFFIX_UNIT.match(raw)
    if m and _norm_unit(m.group("unit")) in _ALL_UNITS and _norm_base(m.group("base")) in _ALIASES:
        return _norm_base(m.group("base")), m.group("unit")
    return _norm_base(raw), None


@functools.lru_cache(maxsize=4096)
def _classify(name: str):
    """(quantity, rank, unit) for a recognisable column name, else None."""
    if len(name) > 120:  # not a column name; also keeps the regexes linear on junk
        return None
    base, unit = _split_name(name)
    hit = _ALIASES.get(base)
    if hit is None:
        return None
    quantity, rank = hit
    u = _norm_unit(unit)
    if u is None:
        u = _IMPLIED_UNITS.get(base)
    if u is not None and not _unit_fits(quantity, u):
        return None
    return quantity, rank, u


def _unit_fits(quantity: str, u: str) -> bool:
    if quantity in ("test_time", "step_time"):
        return u in _TIME_UNITS or _is_clock_unit(u)
    if quantity in _QUANTITY_UNITS:
        return u in _QUANTITY_UNITS[quantity]
    if quantity == "temperature":
        return u in _CELSIUS or u == "k"
    if quantity == "unix_time":
        return u in _TIME_UNITS or _is_clock_unit(u) or u in ("utc", "local")
    return True  # step, cycle, state: a unit is just decoration


def _is_clock_unit(u: str) -> bool:
    return "hh:mm" in u or "h:mm" in u or "mm:ss" in u


# --------------------------------------------------------------------------- values


def _numbers(values: pd.Series, *, decimal: str | None) -> tuple[pd.Series, int]:
    """Parse strings to float64; returns the numbers and how many non-empty cells failed."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(np.float64), 0
    arr = values.to_numpy(dtype=object)
    if decimal == ",":
        arr = _comma_to_point(arr)
    nums, failed = _to_float(arr)
    if failed and decimal is None:
        # A decimal comma in a file whose delimiter is not a comma (or in text cells of a
        # workbook): retry with points.
        alt, alt_failed = _to_float(_comma_to_point(arr))
        if alt_failed < failed:
            nums, failed = alt, alt_failed
    return pd.Series(nums, index=values.index, dtype=np.float64), failed


def _comma_to_point(arr: np.ndarray) -> np.ndarray:
    return np.array([v.replace(",", ".") if isinstance(v, str) else v for v in arr], dtype=object)


def _to_float(arr: np.ndarray) -> tuple[np.ndarray, int]:
    # Text columns (dates, states) fail on their first cells; skip the full parse then.
    head = arr[:50]
    head_nums = np.asarray(pd.to_numeric(head, errors="coerce"), dtype=np.float64)
    if len(head) and np.isnan(head_nums).all() and _count_nonempty(head) == len(head):
        return np.full(len(arr), np.nan), _count_nonempty(arr)
    nums = np.asarray(pd.to_numeric(arr, errors="coerce"), dtype=np.float64)
    bad = np.isnan(nums)
    if not bad.any():
        return nums, 0
    return nums, _count_nonempty(arr[bad])


_MISSING_TEXT = ["", "nan", "none", "null", "na", "n/a", "-"]


def _count_nonempty(arr: np.ndarray) -> int:
    rest = pd.Series(arr, dtype=object)
    rest = rest[rest.notna()].astype(str).str.strip().str.lower()
    return int((~rest.isin(_MISSING_TEXT)).sum())


_DURATION = re.compile(
    r"^\s*(?:(?P<d1>\d+)\s*d\s*|(?P<d2>\d+)[-.](?=\d+:))?"
    r"(?P<a>\d+):(?P<b>\d+(?:[.,]\d*)?)(?::(?P<c>\d+(?:[.,]\d*)?))?\s*$"
)


def _durations(values: pd.Series) -> tuple[pd.Series, int]:
    """``h:mm:ss(.f)``, ``d-hh:mm:ss``, ``2d 02:52:51.5``, ``d.hh:mm:ss`` or ``mm:ss.f`` -> s."""
    text = values.astype("object").where(values.notna(), "").astype(str)
    empty = text.str.strip() == ""
    parts = text.str.extract(_DURATION)
    days = pd.to_numeric(parts["d1"].fillna(parts["d2"]), errors="coerce").fillna(0.0)
    a = pd.to_numeric(parts["a"], errors="coerce")
    b = pd.to_numeric(parts["b"].str.replace(",", ".", regex=False), errors="coerce")
    c = pd.to_numeric(parts["c"].str.replace(",", ".", regex=False), errors="coerce")
    has_seconds = parts["c"].notna()
    seconds = np.where(has_seconds, a * 3600.0 + b * 60.0 + c, a * 60.0 + b)
    out = pd.Series(days.to_numpy() * 86400.0 + seconds, index=values.index, dtype=np.float64)
    out[~parts["a"].notna().to_numpy()] = np.nan
    return out, int((out.isna() & ~empty).sum())


_DATETIME_FORMATS = (
    "ISO8601",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S.%f", "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f",
    "%d-%b-%y %I:%M:%S %p", "%d-%b-%Y %H:%M:%S", "%m/%d/%y %H:%M:%S",
)


def _datetimes(values: pd.Series, *, dayfirst: bool | None) -> tuple[pd.Series | None, int]:
    """Parse date-time strings; returns naive datetime64 (or tz-aware converted to UTC)."""
    text = values.astype("object").where(values.notna(), "").astype(str).str.strip()
    empty = text == ""
    sample = text[~empty]
    if sample.empty:
        return None, 0
    formats = list(_DATETIME_FORMATS)
    if dayfirst:
        formats.sort(key=lambda f: 0 if f.startswith("%d") else 1)
    best, best_failed = None, None
    probe = sample.iloc[: min(len(sample), 200)]
    for fmt in formats:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parsed = pd.to_datetime(probe, format=fmt, errors="coerce")
            except (ValueError, TypeError, OverflowError):
                continue
        if parsed.notna().all():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    full = pd.to_datetime(text.where(~empty, None), format=fmt, errors="coerce")
                except (ValueError, TypeError, OverflowError):
                    continue
            failed = int((full.isna() & ~empty).sum())
            if best_failed is None or failed < best_failed:
                best, best_failed = full, failed
            if failed == 0:
                break
    if best is None:
        return None, int((~empty).sum())
    if getattr(best.dt, "tz", None) is not None:
        best = best.dt.tz_convert("UTC").dt.tz_localize(None)
    return best, best_failed


def _unix_seconds(dt: pd.Series) -> pd.Series:
    ns = dt.astype("datetime64[ns]")
    out = (ns - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
    return out.astype(np.float64)


def _integers(values: pd.Series) -> pd.Series:
    if values.notna().all() and np.isfinite(values).all() and (values == np.round(values)).all():
        return values.astype(np.int64)
    return values


def _sign_from_state(state: pd.Series) -> np.ndarray:
    """+1 charge, -1 discharge, 0 anything else, from vendor state labels."""
    s = state.astype("object").where(state.notna(), "").astype(str).str.strip().str.lower()
    discharge = s.str.contains(r"dchg|dis|entlad", regex=True) | (s == "d")
    charge = ~discharge & (s.str.contains(r"chg|charge|lad", regex=True) | (s == "c"))
    return np.where(discharge, -1.0, np.where(charge, 1.0, 0.0))


# --------------------------------------------------------------------------- header


def _row_quantities(cells, column_map) -> set[str]:
    found = set()
    for cell in cells:
        cell = str(cell).strip()
        if not cell:
            continue
        if column_map and cell in column_map:
            q = _QUANTITY_OF.get(column_map[cell])
            if q:
                found.add(q)
            continue
        hit = _classify(cell)
        if hit:
            found.add(hit[0])
    return found


def _is_header(cells, column_map) -> bool:
    q = _row_quantities(cells, column_map)
    return {"voltage", "current"} <= q and bool(q & {"test_time", "unix_time", "step_time"})


def _find_header(rows, column_map) -> int | None:
    for i, cells in enumerate(rows):
        if sum(1 for c in cells if str(c).strip()) >= 2 and _is_header(cells, column_map):
            return i
    return None


def _best_guess_columns(rows) -> list[str]:
    """The row that looks most like a header, for error messages."""
    best, best_score = [], -1
    for cells in rows[:200]:
        named = [str(c).strip() for c in cells if str(c).strip()]
        if len(named) < 2:
            continue
        texty = sum(1 for c in named if not _looks_numeric(c))
        score = texty * 10 + sum(1 for c in named if _classify(c))
        if score > best_score:
            best, best_score = named, score
    return best


def _looks_numeric(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


def _missing_message(label: str, columns, missing: list[str]) -> str:
    shown = ", ".join(repr(c) for c in list(columns)[:40]) or "(none)"
    more = f" and {len(columns) - 40} more" if len(columns) > 40 else ""
    example = ", ".join(f"'<your {_PLAIN_NAME.get(m, m)} column>': '{m}'" for m in missing)
    return (
        f"{label}: could not find {' and '.join(missing)} among the columns {shown}{more}. "
        f"Tell battlab which column is which, e.g. battlab.load(path, column_map={{{example}}}), "
        "and give units with current_unit='mA' / voltage_unit='mV' / time_unit='h' if the names "
        "do not carry them."
    )


# --------------------------------------------------------------------------- building


def _dedupe(names) -> list[str]:
    out, seen = [], {}
    for i, n in enumerate(names):
        n = str(n).strip().lstrip("\ufeff") if n is not None else ""
        if not n:
            n = f"column_{i + 1}"
        if n in seen:
            seen[n] += 1
            n = f"{n}.{seen[n] - 1}"
        else:
            seen[n] = 1
        out.append(n)
    return out


def _build(frame: pd.DataFrame, *, src: Source, format_name: str, column_map, units: dict,
           decimal: str | None, dayfirst: bool | None, notes: list[str], extra_meta: dict) -> pd.DataFrame:
    label = _label(src)
    # Drop unnamed columns that hold nothing (trailing delimiters).
    keep = []
    for col in frame.columns:
        if col.startswith("column_") and (frame[col].isna() | (frame[col].astype(str).str.strip() == "")).all():
            continue
        keep.append(col)
    frame = frame[keep]
    columns = list(frame.columns)

    column_map = dict(column_map or {})
    for vendor, target in column_map.items():
        if target not in _QUANTITY_OF:
            raise InvalidParameterError(
                f"column_map value {target!r} is not a battlab column; use one of "
                f"{', '.join(_CANONICAL_ORDER)}."
            )
        if vendor not in columns:
            raise InvalidParameterError(
                f"column_map names {vendor!r}, which is not a column of {label}; columns are "
                f"{', '.join(repr(c) for c in columns[:40])}."
            )

    chosen: dict[str, tuple[str, str | None]] = {}  # quantity -> (column, unit)
    for vendor, target in column_map.items():
        hit = _classify(vendor)
        unit = hit[2] if hit and hit[0] == _QUANTITY_OF[target] else _norm_unit(_split_name(vendor)[1])
        chosen[_QUANTITY_OF[target]] = (vendor, unit)
    candidates: dict[str, list] = {}
    for i, col in enumerate(columns):
        if col in column_map:
            continue
        hit = _classify(col)
        if hit:
            candidates.setdefault(hit[0], []).append((hit[1], i, col, hit[2]))
    for quantity, cands in candidates.items():
        if quantity not in chosen:
            _, _, col, unit = min(cands)
            chosen[quantity] = (col, unit)

    missing = []
    if "voltage" not in chosen:
        missing.append(S.VOLTAGE)
    if "current" not in chosen:
        missing.append(S.CURRENT)
    if "test_time" not in chosen and "unix_time" not in chosen:
        missing.append(S.TEST_TIME)
    if missing:
        raise MissingDataError(_missing_message(label, columns, missing))

    cmap: dict[str, str] = {}
    canon: dict[str, pd.Series] = {}

    def unit_for(quantity, parsed):
        override = units.get(quantity)
        if override is not None:
            u = _norm_unit(override)
            if not _unit_fits(quantity, u):
                raise InvalidParameterError(f"{override!r} is not a unit battlab knows for {quantity}.")
            return u
        if parsed is None:
            default = _DEFAULT_UNIT.get(quantity)
            if default:
                notes.append(f"Column {chosen[quantity][0]!r} has no unit in its name; assumed "
                             f"{_DISPLAY_UNIT[default]}. Pass {_OPTION_OF[quantity]}=... if that is wrong.")
            return default
        return parsed

    def numeric(quantity):
        col = chosen[quantity][0]
        nums, failed = _numbers(frame[col], decimal=decimal)
        if failed:
            if nums.notna().sum() == 0:
                raise CorruptFileError(
                    f"{label}: column {col!r} ({_CANONICAL_OF[quantity]}) holds no numbers "
                    f"(first value {str(frame[col].iloc[0])!r}). Check column_map."
                )
            warnings.warn(f"{label}: {failed} value(s) in column {col!r} are not numbers and were set "
                          "to NaN.", BattlabWarning, stacklevel=4)
        return nums

    # Absolute clock first: test time can be derived from it.
    if "unix_time" in chosen:
        col, parsed_unit = chosen["unix_time"]
        nums, failed = _numbers(frame[col], decimal=decimal)
        if failed == 0 and nums.notna().any():
            canon[S.UNIX_TIME] = nums * _TIME_UNITS.get(parsed_unit or "s", 1.0)
            cmap[col] = S.UNIX_TIME
        else:
            dts, failed = _datetimes(frame[col], dayfirst=dayfirst)
            if dts is not None and dts.notna().any():
                if failed:
                    warnings.warn(f"{label}: {failed} date-time value(s) in {col!r} could not be read "
                                  "and were set to NaN.", BattlabWarning, stacklevel=3)
                canon[S.UNIX_TIME] = _unix_seconds(dts)
                cmap[col] = S.UNIX_TIME
                first = dts.dropna().iloc[0]
                extra_meta["start_time_utc"] = first.isoformat()
                notes.append(f"Column {col!r} holds clock times without a time zone; unix_time_s "
                             "treats them as UTC, so it may be offset by the lab's UTC offset.")

    if "test_time" in chosen:
        col, parsed_unit = chosen["test_time"]
        u = units.get("test_time")
        u = _norm_unit(u) if u is not None else parsed_unit
        raw = frame[col]
        text_like = not pd.api.types.is_numeric_dtype(raw) and raw.astype(str).str.contains(":", regex=False).any()
        if (u is not None and _is_clock_unit(u)) or text_like:
            secs, failed = _durations(raw)
            if failed:
                warnings.warn(f"{label}: {failed} time value(s) in {col!r} could not be read and were "
                              "set to NaN.", BattlabWarning, stacklevel=3)
        else:
            u = unit_for("test_time", u)
            secs = numeric("test_time") * _TIME_UNITS[u]
        canon[S.TEST_TIME] = secs
        cmap[col] = S.TEST_TIME
    elif S.UNIX_TIME in canon:
        unix = canon[S.UNIX_TIME]
        canon[S.TEST_TIME] = unix - unix.dropna().iloc[0]
        notes.append("No elapsed-time column: test_time_s is the clock time since the first row.")
    else:
        raise MissingDataError(_missing_message(label, columns, [S.TEST_TIME]))

    col, parsed_unit = chosen["voltage"]
    canon[S.VOLTAGE] = numeric("voltage") * _VOLTAGE_UNITS[unit_for("voltage", parsed_unit)]
    cmap[col] = S.VOLTAGE

    col, parsed_unit = chosen["current"]
    current = numeric("current") * _CURRENT_UNITS[unit_for("current", parsed_unit)]
    cmap[col] = S.CURRENT
    if "state" in chosen and not (current < 0).any():
        sign = _sign_from_state(frame[chosen["state"][0]])
        if (sign < 0).any():
            current = current * np.where(sign == 0, 1.0, sign)
            notes.append(f"Current in {col!r} is unsigned; signed from the state column "
                         f"{chosen['state'][0]!r} (charge positive, discharge negative).")
    canon[S.CURRENT] = current

    for quantity in ("cycle", "step"):
        if quantity in chosen:
            col = chosen[quantity][0]
            nums, failed = _numbers(frame[col], decimal=decimal)
            if failed == 0 and nums.notna().any():
                canon[_CANONICAL_OF[quantity]] = _integers(nums)
                cmap[col] = _CANONICAL_OF[quantity]
    if "temperature" in chosen:
        col, parsed_unit = chosen["temperature"]
        nums, failed = _numbers(frame[col], decimal=decimal)
        if failed == 0 and nums.notna().any():
            u = _norm_unit(units.get("temperature")) or parsed_unit
            canon[S.TEMPERATURE] = nums - 273.15 if u == "k" else nums
            cmap[col] = S.TEMPERATURE
    for quantity in ("charge_capacity", "discharge_capacity"):
        if quantity in chosen:
            col, parsed_unit = chosen[quantity]
            u = _norm_unit(units.get("capacity")) or parsed_unit or "ah"
            canon[_CANONICAL_OF[quantity]] = numeric(quantity) * _CAPACITY_UNITS[u]
            cmap[col] = _CANONICAL_OF[quantity]

    out = {c: canon[c].reset_index(drop=True) for c in _CANONICAL_ORDER if c in canon}
    for col in columns:
        if col in out:
            continue  # the file already used a canonical name; the converted copy wins
        nums, failed = _numbers(frame[col], decimal=decimal)
        if failed == 0:
            out[col] = _integers(nums).reset_index(drop=True)
        else:
            out[col] = frame[col].reset_index(drop=True)
    df = pd.DataFrame(out)

    # Rows without voltage and current carry no measurement (blank separators, stray
    # cells below a sheet's table).
    blank = df[S.VOLTAGE].isna() & df[S.CURRENT].isna()
    if blank.any():
        df = df[~blank].reset_index(drop=True)
        if not frame.loc[blank.to_numpy()].isna().all(axis=None):
            notes.append(f"{int(blank.sum())} row(s) without voltage and current were skipped.")

    meta = S.empty_metadata(format_name=format_name, source_name=src.name, sha256=src.sha256)
    # Both current signs: a charge/discharge record. Otherwise (rests, OCV logs, other
    # techniques exported as tables) the table alone does not say.
    cur = df[S.CURRENT]
    meta["technique"] = "cycling" if (cur > 0).any() and (cur < 0).any() else None
    meta["column_map"] = cmap
    meta["notes"] = notes
    meta.update(extra_meta)
    df.attrs["battlab"] = meta
    return df


def _label(src: Source) -> str:
    return src.name.replace("\\", "/").rsplit("/", 1)[-1]


def _coerce(source, name) -> Source:
    if isinstance(source, Source):
        return source
    return _as_source(source, name, DEFAULT_MAX_BYTES)


def _check_options(max_rows, column_map):
    if not isinstance(max_rows, (int, np.integer)) or max_rows < 1:
        raise InvalidParameterError("max_rows must be a positive integer.")
    if column_map is not None and not isinstance(column_map, dict):
        raise InvalidParameterError("column_map must be a dict like {'Spannung': 'voltage_V'}.")
    for target in (column_map or {}).values():
        if target not in _QUANTITY_OF:
            raise InvalidParameterError(
                f"column_map value {target!r} is not a battlab column; use one of "
                f"{', '.join(_CANONICAL_ORDER)}."
            )


# --------------------------------------------------------------------------- text


def _decode(src: Source, encoding: str | None) -> str:
    head = src.data[:65536]
    if b"\x00" in head:
        raise UnsupportedFormatError(
            f"{_label(src)} is a binary file, not a text table. Export the data from the cycler "
            "software as CSV, TXT or XLSX."
        )
    if encoding:
        try:
            return src.data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise InvalidParameterError(f"{_label(src)} cannot be decoded as {encoding!r}: {exc}") from exc
    return src.text()


def _split_rows(lines, delimiter):
    # One line at a time, so a stray quote cannot swallow the following lines and shift
    # row numbers.
    rows = []
    for ln in lines:
        try:
            rows.append(next(csv.reader([ln], delimiter=delimiter), []))
        except csv.Error:
            rows.append(ln.split(delimiter))
    return rows


def _leading(line: str, delimiter: str) -> int:
    return len(line) - len(line.lstrip(delimiter))


def read_cycler_csv(source, *, name: str | None = None, column_map: dict | None = None,
                    current_unit: str | None = None, voltage_unit: str | None = None,
                    time_unit: str | None = None, capacity_unit: str | None = None,
                    temperature_unit: str | None = None, delimiter: str | None = None,
                    decimal: str | None = None, encoding: str | None = None,
                    dayfirst: bool | None = None, max_rows: int = DEFAULT_MAX_ROWS) -> pd.DataFrame:
    """Read a cycler's CSV / TSV / TXT export into the canonical schema.

    Parameters
    ----------
    source : Source, path or bytes
        The text file.
    name : str, optional
        Original file name when ``source`` is bytes.
    column_map : dict, optional
        ``{"vendor column": "voltage_V", ...}`` for columns the automatic mapping does not
        recognise or gets wrong. Targets are battlab column names.
    current_unit, voltage_unit, time_unit, capacity_unit, temperature_unit : str, optional
        Units of the mapped columns when their names carry none or the wrong one
        (``"mA"``, ``"mV"``, ``"h"``, ``"mAh"``, ``"K"``).
    delimiter, decimal, encoding : str, optional
        Force what is otherwise detected (``";"``, ``","``, ``"cp1252"``).
    dayfirst : bool, optional
        Read ambiguous dates like 01/09/2026 as day/month. By default month/day is tried
        first, as most cycler software writes it, and day/month when that fails.
    max_rows : int
        Refuse tables with more data rows (:class:`~battlab.errors.TooLargeError`).

    Returns
    -------
    pandas.DataFrame
        Canonical columns first, then every vendor column under its own name (numbers
        parsed where the whole column is numeric). ``attrs["battlab"]["column_map"]``
        says which vendor column became which canonical one; ``notes`` lists every
        assumption (units, clock zone, current sign).

    Raises
    ------
    MissingDataError
        No recognisable time, voltage or current column; the message lists the columns
        found and shows how to pass ``column_map``.
    TooLargeError
        More than ``max_rows`` data rows.
    """
    _check_options(max_rows, column_map)
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
        raise InvalidParameterError("delimiter must be one character, e.g. ';' or '\\t'.")
    if decimal not in (None, ".", ","):
        raise InvalidParameterError("decimal must be '.' or ','.")
    src = _coerce(source, name)
    label = _label(src)
    text = _decode(src, encoding)
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    head_lines = text.split("\n", _HEADER_SCAN_ROWS)
    tail = head_lines.pop() if len(head_lines) > _HEADER_SCAN_ROWS else ""
    scan = head_lines

    found = None
    for delim in ((delimiter,) if delimiter else _DELIMITERS):
        rows = _split_rows(scan, delim)
        h = _find_header(rows, column_map)
        if h is not None and (found is None or h < found[1]):
            found = (delim, h, rows)
    if found is None:
        rows = _split_rows(scan, delimiter or _guess_delimiter(scan))
        columns = _best_guess_columns(rows)
        if not any(not _looks_numeric(c) for c in columns):
            raise MissingDataError(
                f"{label}: no header row with column names in the first {_HEADER_SCAN_ROWS} lines, so "
                "battlab cannot tell time, voltage and current apart. Export the table with its "
                "column names, then pass column_map={'<time column>': 'test_time_s', "
                "'<voltage column>': 'voltage_V', '<current column>': 'current_A'} if needed."
            )
        raise MissingDataError(_missing_message(label, columns, _missing_from(columns, column_map)))
    delim, h, rows = found
    header = rows[h]
    notes: list[str] = []
    extra_meta: dict = {"vendor_header": _key_values(rows[:h])}

    body_lines = scan[h + 1:]
    body = "\n".join(body_lines) + ("\n" + tail if tail else "")
    body = body.rstrip("\n")
    n_rows = body.count("\n") + 1 if body else 0
    if n_rows > max_rows:
        raise TooLargeError(
            f"{label} has about {n_rows:,} data rows, above max_rows={max_rows:,}; split the "
            "export or raise max_rows."
        )
    if decimal is None and delim != ",":
        decimal = _guess_decimal(body_lines[:100] or tail.split("\n", 100)[:100], delim)

    k = _leading_cells(header)
    if k and any(_leading_cells(r) < k and any(c.strip() for c in r) for r in rows[:h]):
        frame = _nested_records(body, header, rows[:h], delim, k, label, notes, decimal)
    else:
        frame = _parse_body(body, header, delim, label, decimal)
    if frame.empty:
        raise MissingDataError(f"{label} has a header row but no data rows.")
    units = {"current": current_unit, "voltage": voltage_unit, "test_time": time_unit,
             "capacity": capacity_unit, "temperature": temperature_unit}
    return _build(frame, src=src, format_name="cycler-csv", column_map=column_map, units=units,
                  decimal=decimal, dayfirst=dayfirst, notes=notes, extra_meta=extra_meta)


def _leading_cells(cells) -> int:
    n = 0
    for c in cells:
        if str(c).strip():
            break
        n += 1
    return n


def _missing_from(columns, column_map) -> list[str]:
    q = _row_quantities(columns, column_map)
    missing = [c for q_, c in (("voltage", S.VOLTAGE), ("current", S.CURRENT)) if q_ not in q]
    if not q & {"test_time", "unix_time", "step_time"}:
        missing.insert(0, S.TEST_TIME)
    return missing or [S.TEST_TIME, S.VOLTAGE, S.CURRENT]


def _guess_delimiter(lines) -> str:
    counts = {d: sum(ln.count(d) for ln in lines[:50]) for d in _DELIMITERS}
    return max(counts, key=counts.get)


_DECIMAL_COMMA_CELL = re.compile(r"^\s*[+-]?\d*,\d+([eE][+-]?\d+)?\s*$")


def _guess_decimal(lines, delim: str) -> str | None:
    # With ';' or tab between fields a number like 3,45 has a decimal comma.
    for ln in lines:
        if any(_DECIMAL_COMMA_CELL.match(cell) for cell in ln.split(delim)):
            return ","
    return None


def _key_values(rows) -> dict:
    """Key/value pairs of a header block ("Test:,25209" / "Today's Date:\t14 ...")."""
    out = {}
    for cells in rows[:200]:
        cells = [c.strip() for c in cells]
        i = 0
        while i < len(cells) - 1:
            key = cells[i].rstrip(":").strip()
            if cells[i].endswith(":") and key:
                out[key[:100]] = cells[i + 1][:500]
                i += 2
            else:
                i += 1
    return out


def _parse_body(body: str, header, delim: str, label: str, decimal: str | None) -> pd.DataFrame:
    width = max([len(header)] + [ln.count(delim) + 1 for ln in body.split("\n") if ln])
    if width > _MAX_COLUMNS:
        raise CorruptFileError(f"{label}: a data row has {width} fields; this is not a cycler table.")
    try:
        # The C parser types the numeric columns (fast); text columns stay strings and
        # are interpreted later (durations, dates, states).
        frame = pd.read_csv(io.StringIO(body), sep=delim, header=None, names=list(range(width)),
                            keep_default_na=False, na_values=[""], index_col=False, engine="c",
                            skip_blank_lines=True, decimal=decimal or ".", low_memory=False)
    except (ValueError, pd.errors.ParserError, csv.Error) as exc:
        raise CorruptFileError(f"{label}: the data table could not be split into columns ({exc}).") from exc
    names = _dedupe(list(header) + [""] * (width - len(header)))
    frame.columns = names
    return frame


def _nested_records(body: str, header, parent_rows, delim: str, k: int, label: str, notes,
                    decimal: str | None) -> pd.DataFrame:
    """Neware-style nested table: record rows indented ``k`` cells under cycle/step rows."""
    levels = {}  # indent -> header cells of that level
    for cells in parent_rows:
        n = _leading_cells(cells)
        if n < k and any(c.strip() for c in cells):
            levels[n] = cells
    lines = body.split("\n")
    rec_idx, parents = [], []
    for i, ln in enumerate(lines):
        if not ln.strip(delim + " \r"):
            continue
        n = _leading(ln, delim)
        if n == k:
            rec_idx.append(i)
        elif n in levels:
            parents.append((i, n, ln))
    rec_lines = [lines[i] for i in rec_idx]
    frame = _parse_body("\n".join(rec_lines), header, delim, label, decimal)
    rec_pos = np.asarray(rec_idx)

    # Which parent columns to carry down: identifiers, not per-step totals.
    carry: dict[str, tuple[list[int], list[str]]] = {}
    order = sorted(levels)
    for pos, n, ln in parents:
        cells = next(csv.reader([ln], delimiter=delim))
        level = n
        start = n
        while level is not None:
            names = levels[level]
            span = len(names) - start
            for name, value in zip(names[start:], cells[start:start + span]):
                name = name.strip()
                if name and _carried(name) and name not in frame.columns:
                    carry.setdefault(name, ([], []))
                    carry[name][0].append(pos)
                    carry[name][1].append(value)
            rest = cells[start + span:]
            nxt = [lv for lv in order if lv > level]
            if not rest or not nxt:
                break
            # A parent row can run on into the next level's fields (Neware merges the first
            # step onto the first cycle row); those fields line up with that level's names.
            level = nxt[0]
            cells = [""] * level + rest
            start = level
    for name, (positions, values) in carry.items():
        positions = np.asarray(positions)
        orderp = np.argsort(positions, kind="stable")
        positions = positions[orderp]
        values = np.asarray(values, dtype=object)[orderp]
        idx = np.searchsorted(positions, rec_pos, side="right") - 1
        col = np.where(idx >= 0, values[np.clip(idx, 0, None)] if len(values) else "", "")
        frame[name] = pd.Series(col, dtype=object).astype(str)
    if carry:
        notes.append("Nested export (cycle/step/record rows): read the record rows and carried "
                     f"{', '.join(repr(c) for c in carry)} down from the cycle and step rows.")
    return frame


def _carried(name: str) -> bool:
    hit = _classify(name)
    if hit and hit[0] in ("cycle", "step", "state"):
        return True
    base = _norm_base(name)
    return any(w in base.split() for w in ("index", "number", "type", "id"))


# --------------------------------------------------------------------------- xlsx


def _check_zip(src: Source, max_uncompressed_bytes: int, max_ratio: float) -> zipfile.ZipFile:
    label = _label(src)
    try:
        zf = zipfile.ZipFile(io.BytesIO(src.data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError,
            NotImplementedError, struct.error, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{label} is not a readable XLSX (zip) file ({exc}); save it again from Excel.") from exc
    if not any(i.filename == "xl/workbook.xml" for i in infos):
        raise UnsupportedFormatError(
            f"{label} is a zip file but not an Excel workbook (no xl/workbook.xml). "
            "Save the data as .xlsx or .csv."
        )
    # Declared sizes are enforced by zipfile while reading (it stops at file_size and
    # checks the CRC), so checking them up front bounds what openpyxl can inflate.
    total = sum(i.file_size for i in infos)
    if total > max_uncompressed_bytes:
        raise TooLargeError(
            f"{label} expands to {total / 1e6:.0f} MB, above the {max_uncompressed_bytes / 1e6:.0f} MB "
            "budget; export fewer rows or as CSV, or raise max_uncompressed_bytes."
        )
    for info in infos:
        if info.file_size > 1_000_000 and info.file_size > max_ratio * max(info.compress_size, 1):
            raise TooLargeError(
                f"{label}: part {info.filename} compresses {info.file_size / max(info.compress_size, 1):.0f}:1, "
                f"above the {max_ratio:.0f}:1 limit for spreadsheets; refusing a possible zip bomb."
            )
    return zf


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, _dt.datetime):
        if value < _dt.datetime(1900, 3, 1):
            # A duration of a day or more in an h:mm:ss-formatted cell comes back as a
            # date in Excel's first months; turn it back into elapsed time.
            return _fmt_duration(value - _dt.datetime(1899, 12, 30))
        return value.isoformat(sep=" ")
    if isinstance(value, _dt.timedelta):
        return _fmt_duration(value)
    if isinstance(value, _dt.time):
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return str(value)


def _fmt_duration(td: _dt.timedelta) -> str:
    total = td.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{sign}{int(h)}:{int(m):02d}:{s:09.6f}"


def _read_sheet(ws, column_map, max_rows: int, label: str, sheet_name: str):
    """Rows of one sheet as text: (rows up to the header, header index or None, data rows)."""
    head, h = [], None
    rows_iter = ws.iter_rows(values_only=True)
    for row in rows_iter:
        head.append([_cell_text(v) for v in row])
        if _is_header(head[-1], column_map):
            h = len(head) - 1
            break
        if len(head) >= 200:
            break
    if h is None:
        return head, None, []
    data = []
    for row in rows_iter:
        data.append([_cell_text(v) for v in row])
        if len(data) > max_rows:
            raise TooLargeError(
                f"{label} sheet {sheet_name!r} has more than max_rows={max_rows:,} rows; "
                "split the export or raise max_rows."
            )
    return head, h, data


def read_cycler_xlsx(source, *, name: str | None = None, sheet: str | int | None = None,
                     column_map: dict | None = None, current_unit: str | None = None,
                     voltage_unit: str | None = None, time_unit: str | None = None,
                     capacity_unit: str | None = None, temperature_unit: str | None = None,
                     dayfirst: bool | None = None, max_rows: int = DEFAULT_MAX_ROWS,
                     max_uncompressed_bytes: int = DEFAULT_MAX_XLSX_UNCOMPRESSED_BYTES,
                     max_compression_ratio: float = DEFAULT_MAX_XLSX_RATIO) -> pd.DataFrame:
    """Read a cycler's Excel (.xlsx) export into the canonical schema.

    Parameters
    ----------
    source : Source, path or bytes
        The workbook.
    name : str, optional
        Original file name when ``source`` is bytes.
    sheet : str or int, optional
        Sheet name or 0-based index. By default the first sheet whose header row holds
        time, voltage and current; sheets named like "record", "detail" or "data" are
        tried first (Neware puts per-point data there).
    column_map, current_unit, voltage_unit, time_unit, capacity_unit, temperature_unit, dayfirst
        As for :func:`read_cycler_csv`.
    max_rows : int
        Refuse sheets with more data rows.
    max_uncompressed_bytes : int
        Budget for the workbook's summed uncompressed size, checked before opening it.
    max_compression_ratio : float
        Parts compressing better than this are refused as a possible zip bomb.

    Returns
    -------
    pandas.DataFrame
        As :func:`read_cycler_csv`.
    """
    _check_options(max_rows, column_map)
    src = _coerce(source, name)
    label = _label(src)
    _check_zip(src, max_uncompressed_bytes, max_compression_ratio)
    try:
        import openpyxl
    except ImportError as exc:  # a hard dependency, but keep the message useful
        raise UnsupportedFormatError(f"{label}: reading XLSX needs openpyxl; export the sheet as CSV.") from exc
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(src.data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        raise CorruptFileError(f"{label} could not be opened as a workbook ({type(exc).__name__}: "
                               f"{str(exc)[:160]}); save it again from Excel or export CSV.") from exc
    try:
        names = list(wb.sheetnames)
        if sheet is not None:
            if isinstance(sheet, int) and 0 <= sheet < len(names):
                order = [names[sheet]]
            elif isinstance(sheet, str) and sheet in names:
                order = [sheet]
            else:
                raise InvalidParameterError(f"{label} has no sheet {sheet!r}; sheets: {', '.join(names)}.")
        else:
            pref = [n for n in names if re.search(r"record|detail|data|channel", n, re.I)]
            order = pref + [n for n in names if n not in pref]
        tried = {}
        for sheet_name in order:
            try:
                head, h, data = _read_sheet(wb[sheet_name], column_map, max_rows, label, sheet_name)
            except (BattlabError, MemoryError):
                raise
            except Exception as exc:  # openpyxl/zipfile parse the sheet lazily
                raise CorruptFileError(
                    f"{label}: sheet {sheet_name!r} could not be read ({type(exc).__name__}: "
                    f"{str(exc)[:160]}); save the workbook again from Excel or export it as CSV."
                ) from exc
            if h is None:
                tried[sheet_name] = _best_guess_columns(head)
                continue
            header = head[h]
            while data and not any(c.strip() for c in data[-1]):
                data.pop()
            if not data:
                raise MissingDataError(f"{label} sheet {sheet_name!r} has a header row but no data rows.")
            width = max(len(header), max(len(r) for r in data))
            data = [r + [""] * (width - len(r)) for r in data]
            frame = pd.DataFrame(data, columns=_dedupe(list(header) + [""] * (width - len(header))), dtype=object)
            units = {"current": current_unit, "voltage": voltage_unit, "test_time": time_unit,
                     "capacity": capacity_unit, "temperature": temperature_unit}
            extra = {"sheet": sheet_name, "vendor_header": _key_values(head[:h])}
            return _build(frame, src=src, format_name="cycler-xlsx", column_map=column_map, units=units,
                          decimal=None, dayfirst=dayfirst, notes=[], extra_meta=extra)
        cols = next((c for c in tried.values() if c), [])
        listing = "; ".join(f"{k!r}: {', '.join(v[:12]) or '(empty)'}" for k, v in tried.items())
        raise MissingDataError(
            _missing_message(label, cols, _missing_from(cols, column_map)) + f" Sheets looked at: {listing}."
        )
    finally:
        wb.close()


# --------------------------------------------------------------------------- sniffing


def _sniff_text(head: bytes, name: str) -> float:
    if not head or b"\x00" in head[:8192]:
        return 0.0
    text = head.decode("utf-8", errors="replace") if _is_utf8ish(head) else head.decode("latin-1")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")[:300]
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the 64 kB cut may split the last line
    for delim in _DELIMITERS:
        if _find_header(_split_rows(lines, delim), None) is not None:
            return 0.3
    suffix = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    return 0.05 if suffix in ("csv", "tsv", "txt") else 0.0


def _is_utf8ish(head: bytes) -> bool:
    try:
        head[:-4].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _sniff_xlsx(head: bytes, name: str) -> float:
    if not head.startswith(b"PK\x03\x04"):
        return 0.0
    low = name.lower()
    if low.endswith((".xlsx", ".xlsm")):
        return 0.5
    return 0.4 if b"xl/" in head else 0.0


def _sniff_neware(head: bytes, name: str) -> float:
    low = name.lower()
    if head.startswith(b"NEWARE"):
        return 0.95
    if head.startswith(b"PK\x03\x04") and (low.endswith(".ndax") or b".ndc" in head
                                           or b"TestInfo.xml" in head or b"Step.xml" in head):
        return 0.95
    return 0.6 if low.endswith((".nda", ".ndax")) else 0.0


def _sniff_access(head: bytes, name: str) -> float:
    if head[4:19] in (b"Standard Jet DB", b"Standard ACE DB"):
        return 0.95
    return 0.6 if name.lower().endswith(".res") else 0.0


def _read_neware_binary(source, **_options):
    src = _coerce(source, None)
    raise UnsupportedFormatError(
        f"{_label(src)} is a Neware BTS binary file (.nda/.ndax), which battlab does not read. "
        "Open it in Neware BTSDA (BTS Data Analyzer) and export the record data as CSV or XLSX "
        "(File > Export), then load that file."
    )


def _read_arbin_res(source, **_options):
    src = _coerce(source, None)
    raise UnsupportedFormatError(
        f"{_label(src)} is an Arbin MITS .res file (a Microsoft Access database), which battlab "
        "does not read. Export the test from Arbin MITS Pro / Data Watcher as CSV or Excel "
        "(.xlsx) and load that file."
    )


register(Format(
    name="cycler-csv",
    description="a cycler text export (CSV/TSV/TXT table)",
    kind="echem",
    extensions=(".csv", ".tsv", ".txt"),
    sniff=_sniff_text,
    read=read_cycler_csv,
))

register(Format(
    name="cycler-xlsx",
    description="a cycler Excel export (.xlsx)",
    kind="echem",
    extensions=(".xlsx",),
    sniff=_sniff_xlsx,
    read=read_cycler_xlsx,
    requires=("openpyxl",),
))

# Recognised only to point at the export that battlab can read; no extensions, so
# file pickers do not offer them as readable.
register(Format(
    name="neware-nda",
    description="a Neware BTS binary file (.nda/.ndax; not readable, export CSV/XLSX from BTSDA)",
    kind="echem",
    extensions=(),
    sniff=_sniff_neware,
    read=_read_neware_binary,
))

register(Format(
    name="arbin-res",
    description="an Arbin MITS .res database (not readable, export CSV/XLSX from MITS Pro)",
    kind="echem",
    extensions=(),
    sniff=_sniff_access,
    read=_read_arbin_res,
))
