"""BioLogic EC-Lab / BT-Lab files: ``.mpt`` text exports and ``.mpr`` binaries.

``.mpt`` is parsed natively. ``.mpr`` goes through the optional `galvani
<https://github.com/echemdata/galvani>`_ package (GPL-3.0-or-later, installed with
``battlab[biologic]``); battlab only maps its output onto the canonical schema.

Both readers return the canonical table of :mod:`battlab.io.schema`. Every vendor
column is kept under its EC-Lab name (``"Ewe/V"``, ``"<I>/mA"``, ``"Ns"``…); the
canonical columns are added copies in SI-style units. BioLogic's current sign already
matches battlab's (positive = oxidation at the working electrode), so it is kept.

Impedance files (PEIS, GEIS, and Modulo Bat runs with impedance steps) also get
``frequency_Hz``, ``z_real_ohm`` and ``z_imag_ohm``. EC-Lab stores ``-Im(Z)/Ohm``; battlab's
``z_imag_ohm`` is Im(Z) with its true sign, so it is that column negated. Rows recorded
outside an impedance step (frequency 0) get NaN in the three columns.

EC-Lab writes the acquisition start as local wall-clock time without a time zone.
battlab treats that clock as if it were UTC: ``unix_time_s`` is exact relative to other
files from the same computer, but may be offset by the lab's UTC offset.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import struct
import warnings

import numpy as np
import pandas as pd

from battlab.errors import (
    BattlabWarning,
    CorruptFileError,
    MissingDataError,
    UnsupportedFormatError,
    UnsupportedVersionError,
)
from battlab.io import schema as S
from battlab.io.registry import DEFAULT_MAX_BYTES, Format, Source, _as_source, register

__all__ = ["read_mpt", "read_mpr", "MPT_MAGICS", "MPR_MAGIC"]

#: First line of an EC-Lab (or BT-Lab) text export.
MPT_MAGICS = (b"EC-Lab ASCII FILE", b"BT-Lab ASCII FILE")
#: First bytes of an EC-Lab binary ``.mpr`` file.
MPR_MAGIC = b"BIO-LOGIC MODULAR FILE"

# EC-Lab counts the column header line in "Nb header lines"; a real header is never
# this long, so anything above is a damaged file, not a reason to scan megabytes.
_MAX_HEADER_LINES = 10_000
_MAX_COLUMNS = 1_000

_CLOCK_NOTE = ("EC-Lab records the acquisition start as local wall-clock time without a time "
               "zone; unix_time_s treats that clock as UTC, so it may be offset by the lab's "
               "UTC offset.")

# Technique names as EC-Lab prints them on the header's fourth line -> battlab technique.
_TECHNIQUE_WORDS = (
    # intermittent titration first: its names also contain "galvano"/"potentio"
    ("potentiostatic intermittent titration", "pitt"),
    ("potentio intermittent titration", "pitt"),
    ("intermittent titration", "gitt"),
    ("gitt", "gitt"),
    ("pitt", "pitt"),
    ("galvanostatic cycling", "cycling"),
    ("potentiostatic cycling", "cycling"),
    ("potentiodynamic cycling", "cycling"),
    ("modulo bat", "cycling"),
    ("battery capacity determination", "cycling"),
    ("cyclic voltammetry", "cv"),
    ("linear sweep voltammetry", "lsv"),
    ("impedance spectroscopy", "eis"),
    ("open circuit voltage", "ocv"),
    ("chronoamperometry", "ca"),
    ("chronopotentiometry", "cp"),
)

# Technique ids seen in the first byte of the .mpr settings module (checked against the
# paired .mpt headers of the real test files). Others fall back to the columns.
_MPR_TECHNIQUE_IDS = {4: "cycling", 6: "cv", 11: "ocv", 29: "eis", 127: "cycling"}

# Column ids that galvani 0.5 does not know yet, checked against the paired .mpt export
# (yadg_mb.issue_223: an 8-byte float sitting between "half cycle" and "z cycle" whose
# values equal the .mpt's "Energy we/W.h"). Only ever added, never overriding galvani.
_EXTRA_MPR_COLUMNS = {112: ("Energy we/W.h", "<f8")}

# EC-Lab columns that are counters or flags; stored as integers when every value is whole.
_INTEGER_COLUMNS = {"mode", "ox/red", "error", "control changes", "Ns changes", "counter inc.", "Ns",
                    "I Range", "half cycle", "z cycle", "cycle number"}

_CURRENT_SCALE = {"A": 1.0, "mA": 1e-3, "uA": 1e-6, "µA": 1e-6, "μA": 1e-6, "nA": 1e-9}
_VOLTAGE_SCALE = {"V": 1.0, "mV": 1e-3}


# --------------------------------------------------------------------------- helpers


def _coerce(source, name) -> Source:
    if isinstance(source, Source):
        return source
    return _as_source(source, name, DEFAULT_MAX_BYTES)


def _display(src: Source) -> str:
    return src.name.replace("\\", "/").rsplit("/", 1)[-1]


def _technique_from_text(line: str) -> str | None:
    low = line.strip().lower()
    for words, technique in _TECHNIQUE_WORDS:
        if words in low:
            return technique
    return None


def _technique_from_columns(columns) -> str | None:
    """Best guess when the file does not name its technique (minimal headers, new ids)."""
    cols = set(columns)
    if "freq/Hz" in cols:
        return "eis"
    # Ns / half cycle / dq belong to the battery techniques (GCPL, MB, ...); a CV has
    # control/V and a cycle number but no sequence index.
    if cols & {"Ns", "half cycle", "Q charge/discharge/mA.h", "dq/mA.h"}:
        return "cycling"
    # Only time and potentials recorded, no current at all: an open-circuit rest.
    if cols <= {"mode", "error", "time/s", "Ewe/V", "Ece/V", "Ewe-Ece/V", "Temperature/°C"}:
        return "ocv"
    return None


def _parse_start(text: str) -> _dt.datetime | None:
    text = text.strip()
    for fmt in ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%m/%d/%y %H:%M:%S.%f",
                "%m/%d/%y %H:%M:%S", "%m-%d-%Y %H:%M:%S.%f", "%m-%d-%Y %H:%M:%S",
                "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:
            return _dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _unix_seconds(naive: _dt.datetime) -> float:
    # The wall clock is taken as UTC (see module docs); naive arithmetic keeps it exact.
    return (naive - _dt.datetime(1970, 1, 1)).total_seconds()


def _split_unit(col: str) -> tuple[str, str | None]:
    base, sep, unit = col.rpartition("/")
    return (base, unit) if sep else (col, None)


def _pick(columns, bases, scales):
    """First column whose base name is in ``bases`` (in order) with a known unit."""
    for base in bases:
        for col in columns:
            b, unit = _split_unit(col)
            if b == base and unit in scales:
                return col, scales[unit]
    return None, None


def _add_canonical(df: pd.DataFrame, meta: dict, *, technique: str | None,
                   start: _dt.datetime | None, src_label: str) -> pd.DataFrame:
    """Add the canonical columns (copies) in front of the vendor columns."""
    cols = list(df.columns)
    canon: dict[str, pd.Series] = {}
    cmap = meta["column_map"]

    if "time/s" not in cols:
        raise MissingDataError(
            f"{src_label} has no 'time/s' column (columns: {', '.join(cols[:40])}). "
            "Re-export it from EC-Lab with the time/s variable selected."
        )
    canon[S.TEST_TIME] = df["time/s"].astype(np.float64)
    cmap["time/s"] = S.TEST_TIME

    if start is not None:
        canon[S.UNIX_TIME] = canon[S.TEST_TIME] + _unix_seconds(start)
        meta["start_time_utc"] = start.isoformat()
        meta["notes"].append(_CLOCK_NOTE)

    vcol, vscale = _pick(cols, ("Ewe", "<Ewe>", "Ecell", "<Ecell>"), _VOLTAGE_SCALE)
    if vcol is None:
        raise MissingDataError(
            f"{src_label} has no working-electrode or cell voltage column (Ewe/V, <Ewe>/V or "
            f"Ecell/V); columns: {', '.join(cols[:40])}. Re-export it from EC-Lab with Ewe selected."
        )
    canon[S.VOLTAGE] = df[vcol].astype(np.float64) * vscale
    cmap[vcol] = S.VOLTAGE

    # <I> is the mean over the recording interval, which is what capacity integration wants.
    icol, iscale = _pick(cols, ("<I>", "I"), _CURRENT_SCALE)
    if icol is not None:
        canon[S.CURRENT] = df[icol].astype(np.float64) * iscale
        cmap[icol] = S.CURRENT
    elif "dq/mA.h" in cols:
        canon[S.CURRENT] = _current_from_dq(df["time/s"], df["dq/mA.h"])
        cmap["dq/mA.h"] = S.CURRENT
        meta["notes"].append(
            "The file has no current column; current_A was derived as dq/mA.h divided by the "
            "time since the previous point (mean current over each interval, as EC-Lab's <I>)."
        )
    elif technique == "ocv":
        canon[S.CURRENT] = pd.Series(0.0, index=df.index)
        meta["notes"].append("Open-circuit voltage record without a current column: current_A is 0.")
    else:
        raise MissingDataError(
            f"{src_label} has no current column (I/mA, <I>/mA or dq/mA.h); columns: "
            f"{', '.join(cols[:40])}. Re-export it from EC-Lab with I or <I> selected."
        )

    if "Ns" in cols:
        canon[S.STEP] = _as_int(df["Ns"])
        cmap["Ns"] = S.STEP
    if "cycle number" in cols:
        canon[S.CYCLE] = _as_int(df["cycle number"])
        cmap["cycle number"] = S.CYCLE
    for col in cols:
        base, unit = _split_unit(col)
        if base == "Temperature" and unit in ("°C", "degC"):
            canon[S.TEMPERATURE] = df[col].astype(np.float64)
            cmap[col] = S.TEMPERATURE
            break
    for vendor, target in (("Q charge/mA.h", S.CHARGE_CAPACITY), ("Q discharge/mA.h", S.DISCHARGE_CAPACITY)):
        if vendor in cols:
            canon[target] = df[vendor].astype(np.float64) * 1e-3
            cmap[vendor] = target

    if "freq/Hz" in cols:
        canon.update(_impedance_columns(df, meta))

    order = [c for c in (S.TEST_TIME, S.UNIX_TIME, S.VOLTAGE, S.CURRENT, S.CYCLE, S.STEP,
                         S.TEMPERATURE, S.CHARGE_CAPACITY, S.DISCHARGE_CAPACITY,
                         S.FREQUENCY, S.Z_REAL, S.Z_IMAG) if c in canon]
    out = pd.concat([pd.DataFrame({c: canon[c] for c in order}), df], axis=1)
    out.attrs["battlab"] = meta
    return out


def _impedance_columns(df: pd.DataFrame, meta: dict) -> dict[str, pd.Series]:
    """frequency_Hz, z_real_ohm and z_imag_ohm (Im(Z), true sign) from EC-Lab's EIS columns.

    Rows recorded outside an impedance step (frequency 0 or missing, as in Modulo Bat or
    linked techniques) get NaN in all three.
    """
    freq = df["freq/Hz"].astype(np.float64)
    is_eis = np.isfinite(freq) & (freq > 0)
    cmap = meta["column_map"]
    out = {S.FREQUENCY: freq.where(is_eis)}
    cmap["freq/Hz"] = S.FREQUENCY
    if "Re(Z)/Ohm" in df and "-Im(Z)/Ohm" in df:
        out[S.Z_REAL] = df["Re(Z)/Ohm"].astype(np.float64).where(is_eis)
        out[S.Z_IMAG] = -df["-Im(Z)/Ohm"].astype(np.float64).where(is_eis)
        cmap["Re(Z)/Ohm"] = S.Z_REAL
        cmap["-Im(Z)/Ohm"] = S.Z_IMAG
        meta["notes"].append("EC-Lab stores -Im(Z)/Ohm; z_imag_ohm = -(-Im(Z)/Ohm) is Im(Z) with its true "
                             "sign (negative for a capacitive arc).")
    elif "|Z|/Ohm" in df and "Phase(Z)/deg" in df:
        # EC-Lab's Phase(Z) is the phase of Z itself (negative when capacitive).
        modulus = df["|Z|/Ohm"].astype(np.float64)
        phase = np.deg2rad(df["Phase(Z)/deg"].astype(np.float64))
        out[S.Z_REAL] = (modulus * np.cos(phase)).where(is_eis)
        out[S.Z_IMAG] = (modulus * np.sin(phase)).where(is_eis)
        meta["notes"].append("The file has no Re(Z)/-Im(Z) columns; z_real_ohm and z_imag_ohm were computed "
                             "from |Z|/Ohm and Phase(Z)/deg (Im(Z) with its true sign).")
    else:
        out[S.Z_REAL] = pd.Series(np.nan, index=df.index)
        out[S.Z_IMAG] = pd.Series(np.nan, index=df.index)
        meta["notes"].append("The file has freq/Hz but neither Re(Z)/-Im(Z) nor |Z|/Phase(Z) columns; "
                             "z_real_ohm and z_imag_ohm are empty (NaN).")
    n_other = int((~is_eis).sum())
    if n_other:
        meta["notes"].append(f"{n_other} rows were recorded outside an impedance step (frequency 0 or "
                             "missing); their frequency_Hz, z_real_ohm and z_imag_ohm are NaN.")
    return out


def _as_int(series: pd.Series) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce")
    if values.notna().all() and np.all(np.isfinite(values)) and (values == np.round(values)).all():
        return values.astype(np.int64)
    return values.astype(np.float64)


def _current_from_dq(time_s: pd.Series, dq_mAh: pd.Series) -> pd.Series:
    """Mean current over each interval, from the charge passed since the previous point."""
    t = time_s.to_numpy(dtype=np.float64)
    dq = dq_mAh.to_numpy(dtype=np.float64)
    dt = np.diff(t, prepend=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        current_A = dq * 3.6 / dt  # mA·h -> A·s is ×3.6, then ÷ s
    # No interval before the first point, or two points at one instant: no charge
    # passed means no current; otherwise the current is unknown.
    no_interval = ~np.isfinite(dt) | (dt <= 0)
    current_A[no_interval] = np.where(dq[no_interval] == 0, 0.0, np.nan)
    return pd.Series(current_A, index=time_s.index)


# --------------------------------------------------------------------------- .mpt


def read_mpt(source, *, name: str | None = None) -> pd.DataFrame:
    """Read an EC-Lab ``.mpt`` text export.

    Parameters
    ----------
    source : Source, path or bytes
        The ``.mpt`` file.
    name : str, optional
        Original file name when ``source`` is bytes.

    Returns
    -------
    pandas.DataFrame
        Canonical columns (``test_time_s``, ``voltage_V``, ``current_A``, and when the
        file has them ``unix_time_s``, ``step``, ``cycle``, ``temperature_degC``,
        ``charge_capacity_Ah``, ``discharge_capacity_Ah``, and for impedance
        ``frequency_Hz``, ``z_real_ohm``, ``z_imag_ohm``) followed by every EC-Lab
        column under its own name. ``attrs["battlab"]`` holds the technique, the start
        time and notes.

    Raises
    ------
    UnsupportedFormatError
        Not an EC-Lab text export.
    CorruptFileError
        Damaged header or non-numeric data.
    MissingDataError
        No time, voltage or current column.

    Notes
    -----
    German and French EC-Lab installations export with decimal commas; those are
    detected from the data and give the same numbers as an English export.
    """
    src = _coerce(source, name)
    label = _display(src)
    data = src.data
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.startswith(MPT_MAGICS):
        raise UnsupportedFormatError(
            f"{label} is not an EC-Lab text export (its first line should be 'EC-Lab ASCII FILE'). "
            "In EC-Lab use File > Export as Text (.mpt), or load the binary .mpr."
        )
    if b"\x00" in data[:65536]:
        raise CorruptFileError(f"{label}: binary bytes inside an EC-Lab text export; the file is damaged.")
    # Only the header is decoded; the numeric block goes to the parser as bytes so a
    # multi-GB export is never held as one Python string plus a list of lines.
    first_lines = data[:4096].split(b"\n", 2)
    match = re.match(rb"\s*Nb header lines\s*:\s*(\d+)", first_lines[1] if len(first_lines) > 1 else b"")
    if match is None:
        raise CorruptFileError(
            f"{label}: the second line should read 'Nb header lines : N'; the file is damaged "
            "or was edited. Export it again from EC-Lab."
        )
    n_header = int(match.group(1))
    if not 3 <= n_header <= _MAX_HEADER_LINES:
        raise CorruptFileError(f"{label}: implausible header length ({n_header} lines); the file is damaged.")
    body_offset = 0
    for _ in range(n_header):
        nl = data.find(b"\n", body_offset)
        if nl < 0:
            body_offset = -1
            break
        body_offset = nl + 1
    if body_offset < 0 or not data[body_offset:body_offset + 4096].strip():
        if body_offset < 0 and data.count(b"\n") < n_header - 1:
            raise CorruptFileError(
                f"{label} ends inside its {n_header}-line header: the file is truncated. Export it again."
            )
        body_offset = len(data)
    header_text = Source(data=data[:body_offset], name=src.name).text()
    parts = header_text.split("\n", n_header)
    header_lines = [ln.rstrip("\r") for ln in parts[: n_header - 1]]
    column_line = parts[n_header - 1].rstrip("\r") if len(parts) >= n_header else ""

    columns = column_line.split("\t")
    while columns and not columns[-1].strip():
        columns.pop()
    columns = [c.strip() for c in columns]
    if len(columns) > _MAX_COLUMNS:
        # EC-Lab writes well under a hundred; a huge count means damage and would make
        # the table parser crawl (found by fuzzing: a 2 MB run of tabs took minutes).
        raise CorruptFileError(f"{label}: the column header has {len(columns)} columns; the file is damaged.")
    if "time/s" not in columns:
        raise CorruptFileError(
            f"{label}: line {n_header} should be the column header with 'time/s'; the header "
            "length does not match the file. Export it again from EC-Lab."
        )
    if len(set(columns)) != len(columns):
        seen: dict[str, int] = {}
        for i, c in enumerate(columns):
            seen[c] = seen.get(c, 0) + 1
            if seen[c] > 1:
                columns[i] = f"{c} {seen[c]}"

    technique = None
    if n_header > 4:
        technique = _technique_from_text(header_lines[3] if len(header_lines) > 3 else "")
    if technique is None:
        technique = _technique_from_columns(columns)

    start = None
    for line in header_lines:
        if line.startswith("Acquisition started on"):
            start = _parse_start(line.split(":", 1)[1])
            break

    frame = _parse_mpt_body(data, body_offset, columns, label)

    meta = S.empty_metadata(format_name="biologic-mpt", source_name=src.name, sha256=src.sha256)
    meta["technique"] = technique
    meta["technique_name"] = header_lines[3].strip() if n_header > 4 and len(header_lines) > 3 else None
    if n_header <= 4:
        meta["notes"].append("Minimal EC-Lab header: no technique line and no start time in the file.")
    return _add_canonical(frame, meta, technique=technique, start=start, src_label=label)


def _parse_mpt_body(data: bytes, offset: int, columns: list[str], label: str) -> pd.DataFrame:
    end = len(data)
    while end > offset and data[end - 1:end] in (b"\n", b"\r", b" ", b"\t"):
        end -= 1
    if end <= offset:
        raise MissingDataError(
            f"{label} has a header but no data rows; the run may have stopped before its first point."
        )
    ncol = len(columns)
    # A transfer cut short leaves a partial last row; drop it (with a warning) rather
    # than reject the whole run.
    last_start = data.rfind(b"\n", offset, end) + 1 or offset
    last_start = max(last_start, offset)
    last = data[last_start:end].decode("latin-1").rstrip("\r\t").split("\t")
    if not data.endswith(b"\n") and (len(last) != ncol or not all(_is_number(v) for v in last)):
        end = last_start
        warnings.warn(f"{label}: the last data row is incomplete (file truncated?) and was dropped.",
                      BattlabWarning, stacklevel=2)
        if end <= offset or not data[offset:end].strip():
            raise CorruptFileError(f"{label}: the only data row is incomplete; the file is truncated.")
    first_end = data.find(b"\n", offset, end)
    first = data[offset:first_end if first_end >= 0 else end]
    # Columns are tab separated, so a comma between digits can only be a decimal comma.
    decimal = "," if re.search(rb"\d,\d", first) else "."
    # BytesIO shares an unmodified bytes object, so a whole-file buffer costs no copy.
    buffer = io.BytesIO(data if end == len(data) else data[:end])
    buffer.seek(offset)
    try:
        frame = pd.read_csv(buffer, sep="\t", header=None, decimal=decimal, encoding="latin-1",
                            names=list(range(ncol + 1)), index_col=False, engine="c",
                            skip_blank_lines=True, dtype=np.float64, on_bad_lines="error")
    except (ValueError, pd.errors.ParserError) as exc:
        raise CorruptFileError(
            f"{label}: the data block is not a table of numbers ({_short(exc)}); the file is damaged."
        ) from exc
    extra = frame[ncol]
    if extra.notna().any():
        raise CorruptFileError(f"{label}: some data rows have more values than the header has columns.")
    frame = frame.drop(columns=[ncol])
    frame.columns = columns
    return _integer_columns(frame.reset_index(drop=True))


def _integer_columns(frame: pd.DataFrame) -> pd.DataFrame:
    for col in frame.columns:
        if col in _INTEGER_COLUMNS:
            frame[col] = _as_int(frame[col])
    return frame


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__


def _is_number(text: str) -> bool:
    try:
        float(text.strip().replace(",", "."))
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- .mpr


def read_mpr(source, *, name: str | None = None) -> pd.DataFrame:
    """Read an EC-Lab ``.mpr`` binary file through galvani.

    Parameters
    ----------
    source : Source, path or bytes
        The ``.mpr`` file.
    name : str, optional
        Original file name when ``source`` is bytes.

    Returns
    -------
    pandas.DataFrame
        The same layout as :func:`read_mpt`. The packed flag byte is expanded into
        EC-Lab's ``mode``, ``ox/red``, ``error``… columns. Files written without a
        current column (some GCPL settings) get ``current_A`` from ``dq/mA.h`` per
        interval, as noted in ``attrs["battlab"]["notes"]``.

    Raises
    ------
    UnsupportedFormatError
        Not an ``.mpr`` (for example the ``.mps`` settings file), or galvani missing.
    UnsupportedVersionError
        An EC-Lab version or column galvani does not know; export ``.mpt`` instead.
    CorruptFileError
        Truncated or damaged file.
    """
    src = _coerce(source, name)
    label = _display(src)
    if not src.data.startswith(MPR_MAGIC):
        raise UnsupportedFormatError(
            f"{label} is not a BioLogic .mpr data file (it does not start with 'BIO-LOGIC MODULAR "
            "FILE'); did you pick the .mps/.mgr settings file? Load the .mpr or an exported .mpt."
        )
    try:
        from galvani import BioLogic as galvani_biologic
    except ImportError as exc:
        raise UnsupportedFormatError(
            f"{label} is a BioLogic .mpr; reading it needs the optional package galvani "
            "(pip install battlab[biologic]). Or export the file as .mpt from EC-Lab."
        ) from exc
    for col_id, spec in _EXTRA_MPR_COLUMNS.items():
        galvani_biologic.VMPdata_colID_dtype_map.setdefault(col_id, spec)

    mpr = _run_galvani(galvani_biologic, src.data, label)

    data = mpr.data
    columns: dict[str, np.ndarray] = {}
    flags_dict = getattr(mpr, "flags_dict", {}) or {}
    for field in data.dtype.names:
        if field == "flags":
            for flag in flags_dict:
                columns[flag] = np.asarray(mpr.get_flag(flag))
            continue
        values = np.asarray(data[field])
        # float32 columns are widened exactly; integers stay integers.
        columns[field] = values.astype(np.float64) if values.dtype.kind == "f" else values.astype(np.int64)
    frame = _integer_columns(pd.DataFrame(columns))
    if frame.empty:
        raise MissingDataError(f"{label} contains no data points; the run may have stopped before its first point.")

    technique = None
    settings = [m for m in mpr.modules if bytes(m.get("shortname", b"")).startswith(b"VMP Set")]
    if settings and len(settings[0].get("data", b"")) > 0:
        technique = _MPR_TECHNIQUE_IDS.get(settings[0]["data"][0])
    if technique is None:
        technique = _technique_from_columns(frame.columns)

    start = getattr(mpr, "timestamp", None)
    meta = S.empty_metadata(format_name="biologic-mpr", source_name=src.name, sha256=src.sha256)
    meta["technique"] = technique
    meta["mpr_version"] = int(getattr(mpr, "version", -1))
    if start is None:
        startdate = getattr(mpr, "startdate", None)
        meta["notes"].append(
            "The .mpr has no log module with the acquisition time"
            + (f"; only the start date ({startdate.isoformat()}) is known" if startdate else "")
            + ", so unix_time_s is absent."
        )
    return _add_canonical(frame, meta, technique=technique, start=start, src_label=label)


def _run_galvani(galvani_biologic, data: bytes, label: str):
    """Parse with galvani from memory and translate its failures into battlab errors."""
    export_hint = "Export the file as .mpt from EC-Lab (File > Export as Text) and load that instead."
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return galvani_biologic.MPRfile(io.BytesIO(data))
        except NotImplementedError as exc:
            raise UnsupportedVersionError(
                f"{label} uses an .mpr column galvani does not know ({exc}). {export_hint}"
            ) from exc
        except ValueError as exc:
            msg = str(exc)
            if "Invalid magic" in msg:
                raise UnsupportedFormatError(
                    f"{label} is not a BioLogic .mpr data file; did you pick the .mps/.mgr settings "
                    "file? Load the .mpr or an exported .mpt."
                ) from exc
            if "Unrecognised version" in msg:
                raise UnsupportedVersionError(
                    f"{label} is written by an EC-Lab version whose .mpr layout galvani does not "
                    f"know ({_short(exc)}). {export_hint}"
                ) from exc
            if "Could not find timestamp" in msg or "Date mismatch" in msg:
                raise UnsupportedVersionError(
                    f"{label}: the acquisition time in the .mpr log could not be read ({_short(exc)}). "
                    f"{export_hint}"
                ) from exc
            raise CorruptFileError(f"{label} is damaged or truncated ({_short(exc)}). {export_hint}") from exc
        except (EOFError, OSError, struct.error, AssertionError, IndexError, KeyError, TypeError,
                OverflowError) as exc:
            raise CorruptFileError(
                f"{label} is damaged or truncated ({type(exc).__name__}: {_short(exc)}). {export_hint}"
            ) from exc
        except MemoryError as exc:
            raise CorruptFileError(f"{label} declares more data than it holds; the file is damaged.") from exc


# --------------------------------------------------------------------------- sniffing


def _sniff_mpt(head: bytes, name: str) -> float:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if head.startswith(MPT_MAGICS):
        return 0.95
    return 0.0


def _sniff_mpr(head: bytes, name: str) -> float:
    return 0.95 if head.startswith(MPR_MAGIC) else 0.0


register(Format(
    name="biologic-mpt",
    description="a BioLogic EC-Lab text export (.mpt)",
    kind="echem",
    extensions=(".mpt",),
    sniff=_sniff_mpt,
    read=read_mpt,
))

register(Format(
    name="biologic-mpr",
    description="a BioLogic EC-Lab binary file (.mpr)",
    kind="echem",
    extensions=(".mpr",),
    sniff=_sniff_mpr,
    read=read_mpr,
    requires=("galvani",),
))
