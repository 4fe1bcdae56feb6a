"""One call per step of a correlation: the functions the app, the notebook and the CLI share.

An :class:`~battlab.datasets.correlation.Experiment` holds the cycling record (master
clock), one results table per technique on its own instrument clock, and maps. The steps:

1. :func:`estimate_offsets` finds each instrument's clock offset from a signal that
   follows the charge passed;
2. :func:`on_timeline` puts every table on the cycling timeline with those offsets;
3. :func:`lithiation_estimates` / :func:`reality_check` compare the state of lithiation
   each technique reports (electrochemistry, optical colour, XRD phases);
4. :func:`common_table` puts everything on one time grid for statistics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.correlate import timeline as tl
from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["on_timeline", "estimate_offsets", "graphite_lithiation_from_xrd", "lithiation_estimates",
           "reality_check", "common_table", "DEFAULT_SIGNALS", "read_table"]

#: The column of each technique table that follows the charge passed (for offsets). EIS is
#: left out: spectra are usually taken by the cycler itself (offset 0), and R_ct is not
#: monotonic in the charge.
DEFAULT_SIGNALS = {"optical": "thickness_um", "xrd": "x_xrd"}


def _table(experiment, name):
    if name not in experiment.tables:
        raise MissingDataError(f"no {name!r} table in this experiment (it has: {', '.join(experiment.tables)}).")
    return experiment.tables[name]


def _with_derived(name, table):
    """Add derived columns a technique table needs for correlation (XRD: lithiation)."""
    if {"fraction_graphite", "fraction_LiC12", "fraction_LiC6"} <= set(table.columns) and "x_xrd" not in table:
        table = table.assign(x_xrd=graphite_lithiation_from_xrd(table))
    return table


def graphite_lithiation_from_xrd(table: pd.DataFrame, *, pristine_deg: float = 26.55,
                                 dilute_end_deg: float = 26.20, dilute_end_x: float = 0.2) -> np.ndarray:
    """State of lithiation x in LixC6 from graphite XRD phase fractions (lever rule).

    ``x = f_g·x_g + 0.5·f_LiC12 + 1.0·f_LiC6``: LiC12 and LiC6 carry x = 0.5 and 1; the
    graphite-like (dilute-stage) phase carries x_g from its (002) position, shifting
    linearly from ``pristine_deg`` (x = 0) to ``dilute_end_deg`` (x = ``dilute_end_x``)
    in the solid-solution region (Cu Kα1 angles). Without a ``graphite_002_deg`` column,
    x_g = ``dilute_end_x`` wherever LiC12 is present and 0 otherwise.
    """
    need = {"fraction_graphite", "fraction_LiC12", "fraction_LiC6"}
    if not need <= set(table.columns):
        raise MissingDataError("graphite lithiation from XRD needs fraction_graphite, fraction_LiC12 and "
                               "fraction_LiC6 (battlab.diffraction.phase_fractions).")
    fg, f12, f6 = (table[c].to_numpy(dtype=float) for c in sorted(need, key=["fraction_graphite",
                                                                              "fraction_LiC12",
                                                                              "fraction_LiC6"].index))
    if "graphite_002_deg" in table:
        pos = table["graphite_002_deg"].to_numpy(dtype=float)
        xg = np.clip((pristine_deg - pos) / (pristine_deg - dilute_end_deg), 0, 1) * dilute_end_x
        xg = np.where(np.isfinite(xg), xg, np.where(f12 > 0, dilute_end_x, 0.0))
    else:
        xg = np.where(f12 > 0, dilute_end_x, 0.0)
    return fg * xg + 0.5 * f12 + 1.0 * f6


def estimate_offsets(experiment, *, signals: dict | None = None, echem_column: str = "charge_mAh",
                     max_offset_s: float | None = None) -> pd.DataFrame:
    """Clock offset of each technique by cross-correlating a signal with the charge passed.

    Parameters
    ----------
    experiment : Experiment
    signals : dict of str to str, optional
        Table name → column that follows ``echem_column`` (default
        :data:`DEFAULT_SIGNALS` for the tables present).

    Returns
    -------
    DataFrame
        One row per table: ``dataset``, ``signal``, ``clock_offset_s``,
        ``resolution_s``, ``correlation`` (|r| at the optimum; below ~0.9 the estimate
        is doubtful and the offset should be set by hand).
    """
    signals = signals if signals is not None else {k: v for k, v in DEFAULT_SIGNALS.items()
                                                   if k in experiment.tables}
    rows = []
    for name, column in signals.items():
        table = _with_derived(name, _table(experiment, name))
        if column not in table:
            raise MissingDataError(f"the {name} table has no {column!r} column.")
        tcol = experiment.time_columns.get(name, "time_s")
        est = tl.estimate_clock_offset(table[tcol], table[column], experiment.cycling, method="xcorr",
                                       echem_column=echem_column, max_offset_s=max_offset_s)
        rows.append({"dataset": name, "signal": column, "clock_offset_s": est["clock_offset_s"],
                     "resolution_s": est["resolution_s"], "correlation": est["correlation"]})
    return pd.DataFrame(rows)


def on_timeline(experiment, *, offsets: dict | None = None, lithiation_is_negative_current: bool = True) -> dict:
    """Every technique table joined onto the cycling timeline.

    Parameters
    ----------
    offsets : dict of str to float, optional
        Clock offset per table (cycler time = instrument time + offset); default
        ``experiment.clock_offsets_s``.
    lithiation_is_negative_current : bool
        For the ``x_echem`` column (state of lithiation from the charge passed, 0–1 per
        cycle): a graphite or silicon half cell lithiates on negative current.

    Returns
    -------
    dict of str to DataFrame
        ``"cycling"`` (the :func:`~battlab.correlate.timeline.charge_timeline`) and each
        table with ``test_time_s``, voltage, current, cycle labels, charge, ``soc`` and
        ``x_echem`` added (rows outside the cycling record dropped, with a warning).
    """
    offsets = {**experiment.clock_offsets_s, **(offsets or {})}
    out = {"cycling": _x_echem(tl.charge_timeline(experiment.cycling), lithiation_is_negative_current)}
    for name, table in experiment.tables.items():
        tcol = experiment.time_columns.get(name, "time_s")
        offset = float(offsets.get(name, 0.0))
        if not np.isfinite(offset):
            raise InvalidParameterError(f"the clock offset of {name} must be a finite number of seconds.")
        aligned = tl.align_to_cycling(_with_derived(name, table), experiment.cycling, clock_offset_s=offset,
                                      time_column=tcol)
        out[name] = _x_echem(aligned, lithiation_is_negative_current)
    return out


def _x_echem(table, negative):
    return table.assign(x_echem=(1.0 - table["soc"]) if negative else table["soc"])


def lithiation_estimates(aligned: dict) -> pd.DataFrame:
    """Each technique's state of lithiation on one table (long form).

    Returns
    -------
    DataFrame
        ``test_time_s``, ``technique``, ``x`` (0–1) and ``x_echem`` at the same instant:
        electrochemistry (charge passed), optical (colour lithiation index) and XRD
        (lever rule over the staging phases), whichever are present.
    """
    parts = []
    sources = {"electrochemistry": ("cycling", "x_echem"), "optical": ("optical", "lithiation_index"),
               "xrd": ("xrd", "x_xrd")}
    for technique, (name, column) in sources.items():
        if name in aligned and column in aligned[name]:
            t = aligned[name]
            parts.append(pd.DataFrame({"test_time_s": t["test_time_s"].to_numpy(), "technique": technique,
                                       "x": t[column].to_numpy(dtype=float),
                                       "x_echem": t["x_echem"].to_numpy(dtype=float)}))
    if not parts:
        raise MissingDataError("no technique here reports a state of lithiation.")
    return pd.concat(parts, ignore_index=True)


def reality_check(aligned: dict) -> pd.DataFrame:
    """Does each technique's state of lithiation agree with the charge passed?

    Returns
    -------
    DataFrame
        One row per technique: ``n``, ``mean_difference`` (x − x_echem), ``rms_difference``,
        Bland–Altman 95 % limits (``loa_low``, ``loa_high``), ``pearson_r`` and a plain
        ``verdict`` (consistent within 0.05 / follows but offset or lagging / inconsistent).
    """
    est = lithiation_estimates(aligned)
    rows = []
    for technique, part in est.groupby("technique", sort=False):
        if technique == "electrochemistry":
            continue
        ok = part[["x", "x_echem"]].dropna()
        if len(ok) < 3:
            continue
        d = ok["x"] - ok["x_echem"]
        sd = float(d.std(ddof=1))
        rms = float(np.sqrt(np.mean(d ** 2)))
        r = float(np.corrcoef(ok["x"], ok["x_echem"])[0, 1]) if ok["x"].std() > 0 else np.nan
        if rms <= 0.05:
            verdict = "consistent with the charge passed (RMS ≤ 0.05)"
        elif np.isfinite(r) and r >= 0.9:
            verdict = "follows the charge but is offset or lags (kinetics, calibration)"
        else:
            verdict = "inconsistent: check calibration, region imaged or clock offset"
        rows.append({"technique": technique, "n": len(ok), "mean_difference": float(d.mean()),
                     "rms_difference": rms, "loa_low": float(d.mean() - 1.96 * sd),
                     "loa_high": float(d.mean() + 1.96 * sd), "pearson_r": r, "verdict": verdict})
    return pd.DataFrame(rows)


def common_table(aligned: dict, *, columns: dict, every_s: float | None = None,
                 method: str = "interpolate") -> pd.DataFrame:
    """Chosen columns of the aligned tables on one time grid (for statistics and plots).

    ``columns`` maps table name → list of columns (e.g. ``{"cycling": ["voltage_V"],
    "optical": ["thickness_um"], "xrd": ["x_xrd"]}``). See
    :func:`~battlab.correlate.timeline.on_common_times`.
    """
    tables = {}
    for name, cols in columns.items():
        if name not in aligned:
            raise MissingDataError(f"no {name!r} table on the timeline.")
        tables[name] = aligned[name][["test_time_s", *cols]]
    return tl.on_common_times(tables, every_s=every_s, method=method)


def read_table(path, *, time_column: str | None = None) -> tuple[pd.DataFrame, str]:
    """Read an exported results table (CSV) of any battlab app and find its time column.

    Returns the table and the name of the column holding the instrument's time in
    seconds (``time_s``, ``test_time_s``, ``elapsed_s`` or ``sensor_time_s`` unless
    ``time_column`` names one).
    """
    from pathlib import Path

    path = Path(path)
    if path.suffix.lower() not in (".csv", ".txt", ".tsv"):
        raise InvalidParameterError(f"{path.name}: give a results table as CSV (exported by a battlab app or CLI).")
    try:
        table = pd.read_csv(path, comment="#", sep=None, engine="python")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidParameterError(f"{path.name} is not a readable CSV table ({exc}).") from exc
    candidates = [time_column] if time_column else ["time_s", "test_time_s", "elapsed_s", "sensor_time_s"]
    for c in candidates:
        if c in table and pd.api.types.is_numeric_dtype(table[c]):
            return table, c
    raise MissingDataError(f"{path.name} has no time column in seconds (looked for {', '.join(candidates)}); "
                           "name it with time_column=.")
