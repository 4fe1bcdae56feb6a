"""Tools shared by every depth profile: reading small tables, interfaces, layers.

A depth profile here is any signal against one monotonic depth-like axis (µm for NDP,
nm or sputter seconds for SIMS and XPS). Interfaces are found in one way for all of
them so that NDP, SIMS and XPS thicknesses are comparable.
"""

from __future__ import annotations

import csv
import io as _io
from pathlib import Path

import numpy as np
import pandas as pd

from battlab.errors import CorruptFileError, InvalidParameterError, MissingDataError, UnsupportedFormatError

__all__ = ["find_interfaces", "layer_bounds", "read_table"]


def read_table(source, *, name: str | None = None, max_bytes: int | None = None, what: str = "table") -> pd.DataFrame:
    """A delimited text table (CSV, TSV, semicolons) as a DataFrame, read-only.

    Parameters
    ----------
    source : path, bytes or DataFrame
        The file; a DataFrame is returned as a copy.
    name : str, optional
        Name for messages (uploads).
    what : str
        What the table should be, for messages.

    Returns
    -------
    DataFrame
        ``attrs["battlab"]`` holds ``source_name``, ``sha256`` and ``format``.
    """
    from battlab.io.registry import DEFAULT_MAX_BYTES, _as_source
    from battlab.io.small_table import check_table_lines

    if isinstance(source, pd.DataFrame):
        return source.copy()
    src = _as_source(source, name, max_bytes or DEFAULT_MAX_BYTES)
    text = src.text()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "%", "//"))]
    check_table_lines(lines, name=src.name, what=what)
    if len(lines) < 2:
        raise MissingDataError(f"{Path(src.name).name}: a {what} needs a header line and at least one row.")
    try:
        frame = pd.read_csv(_io.StringIO("\n".join(lines)), sep=None, engine="python")
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise CorruptFileError(f"{Path(src.name).name}: not a readable {what} ({exc}); save it as CSV.") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] < 2:
        raise UnsupportedFormatError(f"{Path(src.name).name}: a {what} needs at least two columns "
                                     "(comma, tab or semicolon separated).")
    frame.attrs["battlab"] = {"source_name": src.name, "sha256": src.sha256, "format": "csv"}
    return frame


def numeric_column(frame: pd.DataFrame, column: str, *, what: str) -> np.ndarray:
    """A column as floats; a non-number cell is an error naming the column."""
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
    if np.isnan(values).all():
        raise CorruptFileError(f"column {column!r} of the {what} holds no numbers.")
    return values


def find_interfaces(x, y, *, method: str = "half", min_step_fraction: float = 0.25) -> pd.DataFrame:
    """Interfaces (steps) of a depth profile.

    Parameters
    ----------
    x : array_like
        Depth-like axis, increasing (µm, nm or s).
    y : array_like
        Signal (counts, concentration, ratio).
    method : {"half", "gradient"}
        ``"half"``: every crossing of the level halfway between the lowest and highest
        signal (linear interpolation between samples; exact at the centre of an
        error-function step between two plateaus at those levels). ``"gradient"``: every
        local maximum of |dy/dx| (refined with a parabola) across which the signal
        changes by at least ``min_step_fraction`` of its range; use it for steps between
        intermediate plateaus.
    min_step_fraction : float
        Gradient method only: smaller steps (noise) are ignored.

    Returns
    -------
    DataFrame
        ``position`` (x units), ``direction`` ("rising"/"falling" with depth), ``level``.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1:
        raise InvalidParameterError(f"x and y must be 1-D of one length, got {x.shape} and {y.shape}.")
    good = np.isfinite(x) & np.isfinite(y)
    x, y = x[good], y[good]
    if x.size < 3:
        raise MissingDataError("a profile needs at least 3 finite points to find interfaces.")
    if np.any(np.diff(x) <= 0):
        raise InvalidParameterError("the depth axis must increase strictly; sort the profile first.")
    rows = []
    if method == "half":
        level = 0.5 * (np.min(y) + np.max(y))
        s = np.sign(y - level)
        for i in np.nonzero(s[:-1] * s[1:] < 0)[0]:
            pos = x[i] + (level - y[i]) * (x[i + 1] - x[i]) / (y[i + 1] - y[i])
            rows.append({"position": pos, "direction": "rising" if y[i + 1] > y[i] else "falling", "level": level})
        # a sample exactly on the level counts once
        for i in np.nonzero(s == 0)[0]:
            if 0 < i < x.size - 1 and s[i - 1] * s[i + 1] < 0:
                rows.append({"position": x[i], "direction": "rising" if y[i + 1] > y[i - 1] else "falling",
                             "level": level})
    elif method == "gradient":
        g = np.gradient(y, x)
        a = np.abs(g)
        top = a.max()
        span = np.max(y) - np.min(y)
        if top > 0:
            for i in range(1, x.size - 1):
                if not (a[i] >= a[i - 1] and a[i] > a[i + 1] and a[i] >= 0.1 * top):
                    continue
                # A real step changes the signal by a good part of its range across the
                # gradient peak (above half its height); a noise spike does not.
                lo, hi = i, i
                while lo > 0 and a[lo - 1] >= a[i] / 2:
                    lo -= 1
                while hi < x.size - 1 and a[hi + 1] >= a[i] / 2:
                    hi += 1
                if a[lo:hi + 1].max() > a[i]:
                    continue  # a ripple on the flank of a bigger step
                if abs(y[min(hi + 1, x.size - 1)] - y[max(lo - 1, 0)]) >= min_step_fraction * span:
                    den = a[i - 1] - 2 * a[i] + a[i + 1]
                    shift = 0.5 * (a[i - 1] - a[i + 1]) / den if den != 0 else 0.0
                    pos = x[i] + shift * 0.5 * (x[i + 1] - x[i - 1])
                    rows.append({"position": pos, "direction": "rising" if g[i] > 0 else "falling",
                                 "level": float(np.interp(pos, x, y))})
    else:
        raise InvalidParameterError(f"unknown interface method {method!r}; use 'half' or 'gradient'.")
    return pd.DataFrame(rows, columns=["position", "direction", "level"]).sort_values("position",
                                                                                        ignore_index=True)


def layer_bounds(x, y, *, method: str = "half") -> tuple[float, float]:
    """Top and bottom of the layer a marker signal is high in.

    The layer starts at the first rising interface (or at the first sample when the
    signal starts high) and ends at the first falling interface after it (or at the
    last sample).
    """
    x = np.asarray(x, float)
    found = find_interfaces(x, y, method=method)
    y = np.asarray(y, float)
    level = 0.5 * (np.nanmin(y) + np.nanmax(y))
    rising = found[found.direction == "rising"].position.to_numpy()
    starts_high = y[np.isfinite(y)][0] > level
    top = float(x[0]) if starts_high or rising.size == 0 else float(rising[0])
    falling = found[(found.direction == "falling") & (found.position > top)].position.to_numpy()
    bottom = float(falling[0]) if falling.size else float(x[-1])
    return top, bottom
