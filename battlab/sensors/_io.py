"""A tolerant reader for operando sensor time series (EQCM, dilatometry, MOSS, AE).

Sensor instruments export plain text tables: a time column plus one or more sensor
columns, units in the header (``Δf3 (Hz)``, ``Displacement [µm]``, ``curvature / km-1``,
``Amplitude (dB)``). Columns are recognised by name *and* unit and converted onto
battlab's names:

================================  =========================================================
column                            recognised as
================================  =========================================================
``sensor_time_s``                 time, t, elapsed time, time_s (s, ms, µs, min, h)
``unix_time_s``                   timestamp, date time, unix time (dates or epoch seconds)
``frequency_shift_Hz``            Δf, df, frequency (shift), f3 (Hz, kHz, MHz); absolute
                                  frequencies (> 100 kHz) become shifts from the first row
``dissipation_shift``             ΔD, D, dissipation (ppm, 1e-6 or absolute)
``displacement_um``               displacement, height, thickness, Δh (m, mm, µm, nm)
``strain_pct``                    Δh/h, strain, relative height (%)
``curvature_1_m``                 curvature, κ (1/m, 1/km, 1/mm)
``spot_spacing``                  spot spacing, d (any unit: only ratios are used)
``stress_thickness_N_m``          stress thickness, σh (N/m, GPa·nm)
``amplitude_V``                   raw AE waveform: amplitude, signal, ch1 (V, mV, µV)
``amplitude_dB``                  AE hit list: amplitude (dB, dB_AE)
``counts`` ``energy_aJ`` ``duration_s`` ``rise_time_s`` ``peak_frequency_Hz``
``centroid_frequency_Hz``         further AE hit features
``voltage_V`` ``current_A``       electrode potential and current logged by the sensor
================================  =========================================================

Anything else is kept under its own name. ``column_map={"my column": "displacement_um"}``
overrides the recognition. A table the reader cannot use raises a :mod:`battlab.errors`
exception whose message lists the columns it found.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab.errors import (
    BattlabWarning,
    CorruptFileError,
    InvalidParameterError,
    MissingDataError,
    UnsupportedFormatError,
)
from battlab.io.registry import DEFAULT_MAX_BYTES, Source, _as_source

__all__ = ["read_sensor_table", "SensorRun", "KINDS", "SENSOR_COLUMNS", "TABLE_SUFFIXES"]

#: File name endings of the sensor text exports the reader is offered.
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")

#: Sensor kinds and the columns each one needs (any one of each inner tuple).
KINDS = {
    "eqcm": (("frequency_shift_Hz",),),
    "dilatometry": (("displacement_um", "strain_pct"),),
    "stress": (("curvature_1_m", "spot_spacing", "stress_thickness_N_m"),),
    "acoustic": (("amplitude_V", "amplitude_dB"),),
}

TIME = "sensor_time_s"
UNIX = "unix_time_s"

_TIME_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "seconds": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6,
               "min": 60.0, "mins": 60.0, "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hours": 3600.0,
               "d": 86400.0, "days": 86400.0}
_FREQ_UNITS = {"Hz": 1.0, "hz": 1.0, "kHz": 1e3, "khz": 1e3, "MHz": 1e6, "mHz": 1e-3}
_DISS_UNITS = {"ppm": 1e-6, "1e-6": 1e-6, "10^-6": 1e-6, "x1e-6": 1e-6, "×1e-6": 1e-6, "1": 1.0}
_LENGTH_UM = {"m": 1e6, "mm": 1e3, "µm": 1.0, "um": 1.0, "micron": 1.0, "nm": 1e-3}
_CURV_UNITS = {"1/m": 1.0, "m-1": 1.0, "m^-1": 1.0, "m⁻¹": 1.0, "1/km": 1e-3, "km-1": 1e-3, "km^-1": 1e-3,
               "km⁻¹": 1e-3, "1/mm": 1e3, "mm-1": 1e3, "mm^-1": 1e3}
_STRESS_THICKNESS = {"n/m": 1.0, "gpa·nm": 1.0, "gpa nm": 1.0, "gpa*nm": 1.0, "gpanm": 1.0, "mpa·µm": 1.0,
                     "mpa um": 1.0, "mpa·um": 1.0}
_VOLT_UNITS = {"v": 1.0, "mv": 1e-3, "µv": 1e-6, "uv": 1e-6}
_CURRENT_UNITS = {"a": 1.0, "ma": 1e-3, "µa": 1e-6, "ua": 1e-6, "na": 1e-9}
_DB_UNITS = {"db", "dbae", "db_ae", "db ae", "db(ae)"}
_ENERGY_AJ = {"aj": 1.0, "fj": 1e3, "pj": 1e6, "nj": 1e9, "j": 1e18}

# normalised base name -> quantity
_ALIASES = {}


def _alias(quantity, *names):
    for n in names:
        _ALIASES[n] = quantity


_alias("time", "time", "t", "elapsed time", "test time", "relative time", "time elapsed", "run time",
       "sensor time", "sensor time s", "time s")
_alias("unix", "timestamp", "time stamp", "date time", "datetime", "date", "unix time", "absolute time",
       "unix time s", "clock time")
_alias("frequency", "f", "df", "frequency", "frequency shift", "freq", "freq shift", "resonance frequency",
       "frequency change", "frequency shift hz")
_alias("dissipation", "d", "dd", "dissipation", "dissipation shift", "dissipation change", "dissipation factor")
_alias("displacement", "displacement", "height", "thickness", "dh", "height change", "thickness change",
       "electrode height", "position", "displacement um")
_alias("strain", "dh/h", "dh/h0", "dh/h₀", "dh/ho", "strain", "relative height", "relative height change",
       "relative thickness change", "expansion", "strain pct")
_alias("curvature", "curvature", "kappa", "κ", "dkappa", "curvature change", "curvature 1 m")
_alias("spacing", "spot spacing", "spacing", "spot distance", "mean spot spacing", "d/d0")
_alias("stress_thickness", "stress thickness", "stress-thickness", "σh", "sigma h", "force per width",
       "stress thickness n m")
_alias("amplitude", "amplitude", "signal", "ch1", "channel 1", "waveform", "amp", "amplitude v", "amplitude db",
       "peak amplitude")
_alias("counts", "counts", "count", "ring down counts", "ringdown counts")
_alias("energy", "energy", "abs energy", "absolute energy", "ener", "energy aj")
_alias("duration", "duration", "dur", "duration s")
_alias("rise_time", "rise time", "rise", "risetime", "rise time s")
_alias("peak_frequency", "peak frequency", "peak freq", "freq pp", "pk freq", "fpeak", "f peak",
       "peak frequency hz")
_alias("centroid_frequency", "centroid frequency", "freq c", "frequency centroid", "fc", "centroid freq",
       "centroid frequency hz")
_alias("voltage", "voltage", "potential", "ewe", "e", "e we", "cell voltage", "working electrode potential",
       "voltage v", "potential v", "u")
_alias("current", "current", "i", "<i>", "cell current", "current a")

_UNIT_PATTERNS = (
    re.compile(r"^(?P<base>.*?)\s*\((?P<unit>[^()]*)\)\s*$"),
    re.compile(r"^(?P<base>.*?)\s*\[(?P<unit>[^\[\]]*)\]\s*$"),
    re.compile(r"^(?P<base>[^/]*?)\s*/\s*(?P<unit>[^/]+)$"),
)
_SUFFIX = re.compile(r"^(?P<base>[A-Za-zΔδκσ][\w\sΔδκσ/.-]*?)_(?P<unit>[A-Za-zµμ%0-9^/]+)$")
_OVERTONE = re.compile(r"^(?P<base>.*?)[\s_]*(?:n\s*=?\s*|overtone\s*)?(?P<n>1[13]|[13579])(?:st|rd|th)?$")
_SUFFIX_UNITS = ({k.lower() for k in _TIME_UNITS} | {k.lower() for k in _FREQ_UNITS} | set(_LENGTH_UM)
                 | {"pct", "1_m", "n_m", "v", "mv", "a", "ma", "ua", "db", "aj", "ppm"})


@dataclass
class SensorRun:
    """One operando sensor record and the cycling it ran next to.

    ``sensor`` is a table from :func:`read_sensor_table`; ``echem`` a canonical cycling
    table (``battlab.load``) or None when the sensor file logs potential and current
    itself; ``label`` names the run in plots and comparisons.
    """

    kind: str
    sensor: pd.DataFrame
    echem: pd.DataFrame | None = None
    label: str = ""
    meta: dict = field(default_factory=dict)


def _norm(name: str) -> str:
    b = str(name).strip().lstrip("\ufeff").replace("Δ", "d").replace("δ", "d").lower()
    b = re.sub(r"^delta[\s_]*", "d", b)
    b = re.sub(r"[_]+", " ", b)
    return re.sub(r"\s+", " ", b).strip()


#: Longer cells are data or damage, never a column name: the unit patterns backtrack
#: quadratically on them (found by fuzzing: a 2 MB cell took minutes).
_MAX_HEADER_CELL = 256
#: A sensor header names its columns within the first few dozen cells.
_MAX_HEADER_CELLS = 200


def _split(name: str):
    """``"Δf3 (Hz)"`` -> ("df", "Hz", 3); unit and overtone None when absent."""
    raw = str(name).strip().lstrip("\ufeff")
    if len(raw) > _MAX_HEADER_CELL:
        return "", None, None
    unit = None
    for pat in _UNIT_PATTERNS:
        m = pat.match(raw)
        # "Δh/h₀" and "d/d0" are names, not a quantity with a unit after the slash.
        if pat is _UNIT_PATTERNS[2] and _norm(raw).startswith(("dh/h", "d/d0")):
            continue
        if m and m.group("base").strip():
            raw, unit = m.group("base"), m.group("unit").strip()
            break
    if unit is None:
        m = _SUFFIX.match(raw)
        if m and m.group("unit").lower() in _SUFFIX_UNITS:
            raw, unit = m.group("base"), m.group("unit")
            unit = {"pct": "%", "1_m": "1/m", "n_m": "N/m"}.get(unit, unit)
    base = _norm(raw)
    overtone = None
    if base not in _ALIASES:
        m = _OVERTONE.match(base)
        if m and _norm(m.group("base")) in ("f", "df", "frequency", "frequency shift", "d", "dd", "dissipation",
                                            "dissipation shift", "freq"):
            base, overtone = _norm(m.group("base")), int(m.group("n"))
    return base, unit, overtone


def _decode(src: Source) -> str:
    if b"\x00" in src.data[:65536]:
        raise UnsupportedFormatError(
            f"{_label(src)} is a binary file, not a sensor table. Export the sensor record as CSV or "
            "tab-separated text with a header row (time column plus sensor columns with units).")
    return src.text()


def _label(src):
    return str(src.name).replace("\\", "/").rsplit("/", 1)[-1]


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
        return True
    except ValueError:
        return False


def _find_header(lines, delim):
    """First non-comment line whose cells are mostly words and that names a time column."""
    for k, ln in enumerate(lines[:500]):
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        cells = [c.strip().strip('"') for c in ln.split(delim)]
        if len(cells) < 2 or len(cells) > _MAX_HEADER_CELLS or len(ln) > _MAX_HEADER_CELLS * _MAX_HEADER_CELL:
            continue
        if sum(_is_number(c) for c in cells if c) > len(cells) // 2:
            continue
        if any(_ALIASES.get(_split(c)[0]) in ("time", "unix") for c in cells):
            return k, cells
    return None, None


def _unit_factor(quantity, unit, values, notes, column):
    """Scale factor onto the canonical unit (None = unit does not fit this quantity)."""
    u = None if unit is None else unit.strip().replace("μ", "µ")
    ul = None if u is None else u.lower().replace(" ", "")
    if quantity == "time":
        if ul is None:
            return 1.0
        return _TIME_UNITS.get(ul)
    if quantity == "frequency":
        if u is None:
            return 1.0
        return _FREQ_UNITS.get(u.replace(" ", "")) or _FREQ_UNITS.get(ul)
    if quantity == "dissipation":
        if ul is None:
            finite = np.abs(values[np.isfinite(values)])
            if len(finite) and np.median(finite) > 0.01:
                notes.append(f"{column}: no unit; values above 0.01 read as ppm (1e-6).")
                return 1e-6
            return 1.0
        return _DISS_UNITS.get(ul)
    if quantity == "displacement":
        if ul is None:
            notes.append(f"{column}: no unit; read as µm.")
            return 1.0
        return _LENGTH_UM.get(ul)
    if quantity == "strain":
        if ul in (None, "%", "pct", "percent"):
            return 1.0
        return None
    if quantity == "curvature":
        if ul is None:
            notes.append(f"{column}: no unit; read as 1/m.")
            return 1.0
        return _CURV_UNITS.get(ul)
    if quantity == "stress_thickness":
        return 1.0 if ul is None else _STRESS_THICKNESS.get(ul)
    if quantity == "spacing":
        return 1.0  # only d/d0 is used
    if quantity in ("voltage",):
        return 1.0 if ul is None else _VOLT_UNITS.get(ul)
    if quantity == "current":
        if ul is None:
            notes.append(f"{column}: no unit; read as A.")
            return 1.0
        return _CURRENT_UNITS.get(ul)
    if quantity in ("duration", "rise_time"):
        if ul is None:
            notes.append(f"{column}: no unit; read as µs (the AE convention).")
            return 1e-6
        return _TIME_UNITS.get(ul)
    if quantity in ("peak_frequency", "centroid_frequency"):
        if u is None:
            finite = values[np.isfinite(values)]
            if len(finite) and np.max(np.abs(finite)) < 5000:
                notes.append(f"{column}: no unit; read as kHz.")
                return 1e3
            return 1.0
        return _FREQ_UNITS.get(u.replace(" ", "")) or _FREQ_UNITS.get(ul)
    if quantity == "energy":
        return 1.0 if ul is None else _ENERGY_AJ.get(ul)
    if quantity == "counts":
        return 1.0
    return 1.0


_CANONICAL = {"time": TIME, "unix": UNIX, "frequency": "frequency_shift_Hz", "dissipation": "dissipation_shift",
              "displacement": "displacement_um", "strain": "strain_pct", "curvature": "curvature_1_m",
              "spacing": "spot_spacing", "stress_thickness": "stress_thickness_N_m", "counts": "counts",
              "energy": "energy_aJ", "duration": "duration_s", "rise_time": "rise_time_s",
              "peak_frequency": "peak_frequency_Hz", "centroid_frequency": "centroid_frequency_Hz",
              "voltage": "voltage_V", "current": "current_A"}
SENSOR_COLUMNS = tuple(_CANONICAL.values()) + ("amplitude_V", "amplitude_dB")


def _numbers(series: pd.Series, decimal: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=float)
    s = series.astype(str).str.strip()
    if decimal == ",":
        s = s.str.replace(",", ".", regex=False)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)


def _unix_seconds(series: pd.Series) -> np.ndarray | None:
    nums = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    if np.isfinite(nums).mean() > 0.9 and np.nanmedian(nums) > 1e8:
        return nums
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dt = pd.to_datetime(series, errors="coerce", utc=True)
    if dt.notna().mean() < 0.9:
        return None
    return (dt - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy(dtype=float)


def read_sensor_table(source, *, kind: str, name: str | None = None, column_map: dict | None = None,
                      max_bytes: int = DEFAULT_MAX_BYTES) -> pd.DataFrame:
    """Read a sensor time series (CSV, TSV or TXT with a header row) for one sensor ``kind``.

    Parameters
    ----------
    source : path, bytes or Source
        The text table. Lines starting with ``#`` and key/value lines above the header
        are skipped; the delimiter (tab, ``;``, ``,``) and a decimal comma are detected.
    kind : {"eqcm", "dilatometry", "stress", "acoustic"}
        Which sensor columns must be present.
    name : str, optional
        Original file name for bytes input.
    column_map : dict, optional
        ``{"file column": "battlab column"}`` for names the reader does not recognise;
        values are taken in battlab's units (see the module table).

    Returns
    -------
    DataFrame
        ``sensor_time_s`` (from 0 at the first row unless the file's clock is absolute,
        then also ``unix_time_s``) plus the recognised columns, sorted by time.
        ``attrs["battlab"]`` holds source name, sha256, kind, column map, overtones
        (EQCM) and notes about every assumption.

    Raises
    ------
    MissingDataError
        No header, no time column, or none of the columns ``kind`` needs.
    """
    if kind not in KINDS:
        raise InvalidParameterError(f"kind must be one of {list(KINDS)}, not {kind!r}.")
    src = _as_source(source, name, max_bytes)
    label = _label(src)
    text = _decode(src).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    delim = max(("\t", ";", ","), key=lambda d: sum(ln.count(d) for ln in lines[:50]))
    h, header = _find_header(lines, delim)
    if h is None:
        raise MissingDataError(
            f"{label}: no header row with a time column (time, t, elapsed time, timestamp) in the first "
            "500 lines. Export the sensor record with column names, e.g. 'time (s), Δf (Hz)'.")
    body_lines = [ln for ln in lines[h + 1:] if ln.strip() and not ln.lstrip().startswith("#")]
    if not body_lines:
        raise MissingDataError(f"{label} has a header row but no data rows.")
    # A row with far more cells than the header is damage; the C parser would spend
    # minutes splitting it only to skip it (found by fuzzing: one 2 MB row of separators).
    max_cells = 4 * len(header) + 16
    damaged = [k for k, ln in enumerate(body_lines) if ln.count(delim) > max_cells]
    if damaged:
        warnings.warn(f"{label}: skipped {len(damaged)} damaged rows with more than {max_cells} cells "
                      f"(first at data row {damaged[0] + 1}).", BattlabWarning, stacklevel=2)
        drop = set(damaged)
        body_lines = [ln for k, ln in enumerate(body_lines) if k not in drop]
        if not body_lines:
            raise MissingDataError(f"{label} has a header row but no readable data rows.")
    decimal = "."
    if delim != "," and any(re.search(r"\d,\d", ln) for ln in body_lines[:50]):
        decimal = ","
    try:
        with warnings.catch_warnings():
            # Rows longer than the header lose their extra cells; the header defines the table.
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            frame = pd.read_csv(io.StringIO("\n".join(body_lines)), sep=delim, header=None, dtype=str,
                                keep_default_na=False, engine="c", names=range(len(header)), index_col=False,
                                on_bad_lines="skip")
    except (ValueError, pd.errors.ParserError) as exc:
        raise CorruptFileError(f"{label}: the data rows could not be split into columns ({exc}).") from exc
    frame.columns = [c or f"column {k + 1}" for k, c in enumerate(header)]

    notes: list[str] = []
    column_map = dict(column_map or {})
    bad = [v for v in column_map.values() if v not in SENSOR_COLUMNS]
    if bad:
        raise InvalidParameterError(f"column_map targets {bad} are not battlab sensor columns; use one of "
                                    f"{', '.join(SENSOR_COLUMNS)}.")
    out: dict[str, np.ndarray] = {}
    mapping: dict[str, str] = {}
    overtones: dict[int, str] = {}
    for col in frame.columns:
        raw = frame[col]
        if col in column_map:
            target = column_map[col]
            values = _unix_seconds(raw) if target == UNIX else _numbers(raw, decimal)
            if values is None:
                raise MissingDataError(f"{label}: column {col!r} mapped to {target} holds no dates.")
            out.setdefault(target, values)
            mapping[col] = target
            continue
        base, unit, overtone = _split(col)
        quantity = _ALIASES.get(base)
        if quantity is None:
            continue
        if quantity == "unix":
            values = _unix_seconds(raw)
            if values is not None and UNIX not in out:
                out[UNIX] = values
                mapping[col] = UNIX
            continue
        values = _numbers(raw, decimal)
        if not np.isfinite(values).any():
            if quantity == "time" and UNIX not in out:  # "Time" holding date-times
                stamps = _unix_seconds(raw)
                if stamps is not None:
                    out[UNIX] = stamps
                    mapping[col] = UNIX
            continue
        if quantity == "amplitude":
            ul = (unit or "").lower().replace(" ", "")
            if ul in _DB_UNITS or base.endswith(" db"):
                target, factor = "amplitude_dB", 1.0
            elif ul in _VOLT_UNITS or ul == "":
                target, factor = "amplitude_V", _VOLT_UNITS.get(ul, 1.0)
                if not ul:
                    notes.append(f"{col}: no unit; read as V.")
            else:
                continue
        else:
            factor = _unit_factor(quantity, unit, values, notes, col)
            if factor is None:
                notes.append(f"{col}: unit {unit!r} does not fit a {quantity} column; kept as is.")
                continue
            target = _CANONICAL[quantity]
        if quantity in ("frequency", "dissipation") and overtone is not None:
            if quantity == "frequency":
                overtones.setdefault(overtone, col)
            suffix = "_Hz" if quantity == "frequency" else ""
            alt = f"{target.removesuffix('_Hz')}_n{overtone}{suffix}"
            out[alt] = values * factor
            mapping[col] = alt
            continue
        if target in out:
            continue
        out[target] = values * factor
        mapping[col] = target
    # The lowest overtone found becomes the working frequency/dissipation column.
    overtone_used = None
    if overtones and "frequency_shift_Hz" not in out:
        overtone_used = min(overtones)
        out["frequency_shift_Hz"] = out[f"frequency_shift_n{overtone_used}_Hz"]
        if f"dissipation_shift_n{overtone_used}" in out and "dissipation_shift" not in out:
            out["dissipation_shift"] = out[f"dissipation_shift_n{overtone_used}"]
        notes.append(f"EQCM overtones found: {sorted(overtones)}; using n = {overtone_used}.")

    if TIME not in out and UNIX not in out:
        raise MissingDataError(_missing(label, frame.columns, "a time column (time, t, elapsed time, timestamp)"))
    needed = KINDS[kind][0]
    if not any(c in out for c in needed):
        raise MissingDataError(_missing(label, frame.columns, f"a {kind} column ({' or '.join(needed)})"))

    table = pd.DataFrame(out)
    if TIME not in table:
        table.insert(0, TIME, table[UNIX] - table[UNIX].iloc[0])
        notes.append("no elapsed-time column; sensor time counted from the first timestamp.")
    keep = np.isfinite(table[TIME].to_numpy()) & np.isfinite(table[list(set(needed) & set(table))[0]].to_numpy())
    if not keep.all():
        notes.append(f"dropped {int((~keep).sum())} rows without a time or sensor value.")
        table = table.loc[keep]
    if len(table) < 2:
        raise MissingDataError(f"{label}: fewer than two usable rows of time and sensor values.")
    if (np.diff(table[TIME].to_numpy()) < 0).any():
        notes.append("rows were not in time order; sorted them.")
        table = table.sort_values(TIME, kind="stable")
    table = table.reset_index(drop=True)
    if "frequency_shift_Hz" in table:
        f = table["frequency_shift_Hz"].to_numpy()
        if np.nanmedian(np.abs(f)) > 1e5:  # absolute resonance frequency, not a shift
            table["resonance_frequency_Hz"] = f
            table["frequency_shift_Hz"] = f - f[0]
            notes.append("frequency column holds the absolute resonance; Δf taken from the first row.")
    if "dissipation_shift" in table:
        d = table["dissipation_shift"].to_numpy()
        if np.nanmedian(np.abs(d)) > 2e-5 and np.nanstd(d) < 0.5 * np.nanmedian(np.abs(d)):
            table["dissipation_shift"] = d - d[0]
            notes.append("dissipation column holds absolute values; ΔD taken from the first row.")
    # Waveform vs hit list for AE: a hit list has one row per hit in dB.
    table = table[[c for c in [TIME, UNIX] if c in table] + [c for c in table.columns if c not in (TIME, UNIX)]]
    table.attrs["battlab"] = {
        "format": "sensor-table", "source_name": src.name, "sha256": src.sha256, "technique": kind,
        "kind": kind, "column_map": mapping, "notes": notes,
        "overtone": overtone_used, "overtones": sorted(overtones),
    }
    for note in notes:
        if note.startswith("dropped") or "sorted" in note:
            warnings.warn(f"{label}: {note}", BattlabWarning, stacklevel=2)
    return table


def _missing(label, columns, what):
    shown = ", ".join(repr(str(c)) for c in list(columns)[:20])
    return (f"{label}: no {what} among the columns {shown}. Rename the column or pass "
            "column_map={'<your column>': '<battlab column>'} (see battlab.sensors.SENSOR_COLUMNS).")
