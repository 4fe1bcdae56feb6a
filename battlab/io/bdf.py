"""Battery Data Format (BDF) CSV: battlab's exchange format for cycling time series.

The canonical columns are written under their BDF labels (``"Test Time / s"``,
``"Voltage / V"``, ``"Current / A"``…, see :data:`battlab.io.schema.BDF_LABELS`), extra
columns under their own names. Floats are written with the shortest text that reads
back to the same double, so write → read is exact for the canonical columns.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from battlab.errors import CorruptFileError, MissingDataError, UnsupportedFormatError
from battlab.io import schema as S
from battlab.io.registry import DEFAULT_MAX_BYTES, Format, Source, _as_source, register
from battlab.provenance import atomic_write

__all__ = ["read_bdf_csv", "write_bdf_csv"]

_LABEL_TO_COLUMN = {label: col for col, label in S.BDF_LABELS.items()}
_INTEGER_COLUMNS = (S.CYCLE, S.STEP, S.HALF_CYCLE)


def _label(src: Source) -> str:
    return src.name.replace("\\", "/").rsplit("/", 1)[-1]


def read_bdf_csv(source, *, name: str | None = None) -> pd.DataFrame:
    """Read a Battery Data Format CSV into the canonical schema.

    Parameters
    ----------
    source : Source, path or bytes
        The BDF CSV file.
    name : str, optional
        Original file name when ``source`` is bytes.

    Returns
    -------
    pandas.DataFrame
        BDF-labelled columns renamed to battlab's names (``"Voltage / V"`` →
        ``voltage_V``); other columns unchanged.

    Raises
    ------
    MissingDataError
        ``Test Time / s``, ``Voltage / V`` or ``Current / A`` is absent.
    """
    src = source if isinstance(source, Source) else _as_source(source, name, DEFAULT_MAX_BYTES)
    label = _label(src)
    if b"\x00" in src.data[:65536]:
        raise UnsupportedFormatError(f"{label} is a binary file, not a BDF CSV table.")
    text = src.text()
    try:
        frame = pd.read_csv(io.StringIO(text), sep=",", header=0,
                            engine="c", index_col=False)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise CorruptFileError(f"{label}: not a readable BDF CSV table ({str(exc)[:160]}).") from exc
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = columns
    missing = [S.BDF_LABELS[c] for c in S.REQUIRED_COLUMNS if S.BDF_LABELS[c] not in columns]
    if missing:
        raise MissingDataError(
            f"{label}: a BDF CSV needs the columns {', '.join(repr(m) for m in missing)}; found "
            f"{', '.join(repr(c) for c in columns[:30])}. Load it as a generic cycler CSV "
            "(format='cycler-csv') with column_map instead."
        )
    rename = {c: _LABEL_TO_COLUMN[c] for c in columns if c in _LABEL_TO_COLUMN}
    frame = frame.rename(columns=rename)
    for col in rename.values():
        values = frame[col]
        if not pd.api.types.is_numeric_dtype(values):
            nums = pd.to_numeric(values, errors="coerce")
            if (nums.isna() & values.notna()).any():
                bad = values[nums.isna() & values.notna()].iloc[0]
                raise CorruptFileError(f"{label}: column {S.BDF_LABELS[col]!r} holds a non-number ({bad!r}).")
            frame[col] = nums.astype(np.float64)
        elif col not in _INTEGER_COLUMNS and values.dtype.kind in "iu":
            frame[col] = values.astype(np.float64)
    meta = S.empty_metadata(format_name="bdf-csv", source_name=src.name, sha256=src.sha256)
    meta["column_map"] = {S.BDF_LABELS[c]: c for c in rename.values()}
    frame.attrs["battlab"] = meta
    return frame


def write_bdf_csv(df: pd.DataFrame, path) -> Path:
    """Write a canonical table as Battery Data Format CSV, atomically.

    Parameters
    ----------
    df : pandas.DataFrame
        Canonical table; needs ``test_time_s``, ``voltage_V`` and ``current_A``.
    path : path
        Destination. Written to a temporary file in the same folder, then moved into
        place, so readers never see half a file.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    missing = [c for c in S.REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise MissingDataError(
            f"cannot write BDF: the table lacks {', '.join(missing)} (columns: {', '.join(map(str, df.columns[:30]))})."
        )
    canonical = [c for c in S.BDF_LABELS if c in df.columns]
    labels = set(S.BDF_LABELS.values())
    extras = [c for c in df.columns if c not in S.BDF_LABELS and str(c) not in labels]
    out = df[canonical + extras].rename(columns=S.BDF_LABELS)
    # repr-style shortest round-trip floats; NaN as an empty cell.
    text = out.to_csv(index=False, lineterminator="\n", float_format=None, na_rep="")
    return atomic_write(path, text)


def _sniff(head: bytes, name: str) -> float:
    first = head.split(b"\n", 1)[0].lstrip(b"\xef\xbb\xbf")
    if all(S.BDF_LABELS[c].encode() in first for c in S.REQUIRED_COLUMNS):
        return 0.9
    return 0.0


register(Format(
    name="bdf-csv",
    description="a Battery Data Format CSV",
    kind="echem",
    extensions=(".csv",),
    sniff=_sniff,
    read=read_bdf_csv,
))
