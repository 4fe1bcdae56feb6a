"""Electrochemical dilatometry: electrode thickness change during cycling.

A displacement sensor above the electrode logs its height change Δh; divided by the
initial thickness h₀ it gives the relative expansion Δh/h₀ (%). Per cycle battlab
reports the breathing (max − min within the cycle), the part recovered on the reverse
half cycle (max − end of cycle, the reversible expansion) and the drift from the end of
the previous cycle to the end of this one (irreversible expansion, "ratcheting"), whose
running sum is the accumulated irreversible thickness gain.

Reference values (Sb anode, sodium cell): +110 % at full sodiation, +40 % remaining after
desodiation; Sb₂Se₃ about 50 %, fully recovered (see the project's research notes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["relative_thickness_change", "summarize_dilatometry", "compare_electrodes"]


def relative_thickness_change(table: pd.DataFrame, *, initial_thickness_um: float | None) -> pd.DataFrame:
    """Add ``strain_pct`` = 100·Δh/h₀ (and ``thickness_um``) to a displacement table.

    A table that already holds ``strain_pct`` (Δh/h in %) keeps it; ``initial_thickness_um``
    is then only used for ``thickness_um``. The displacement is taken relative to the
    first sample.
    """
    out = table.copy(deep=False)  # new columns only; copy-on-write keeps the input intact
    h0 = initial_thickness_um
    if h0 is not None and not (np.isfinite(h0) and h0 > 0):
        raise InvalidParameterError(f"initial_thickness_um must be a positive number, not {h0!r}.")
    if "displacement_um" in out:
        if h0 is None:
            raise InvalidParameterError("enter the initial electrode thickness (µm): Δh/h₀ needs it.")
        dh = out["displacement_um"].to_numpy(dtype=float)
        dh = dh - dh[0]
        out["strain_pct"] = 100.0 * dh / h0
        out["thickness_um"] = h0 + dh
    elif "strain_pct" in out:
        if h0 is not None:
            out["thickness_um"] = h0 * (1.0 + out["strain_pct"] / 100.0)
    else:
        raise MissingDataError("the table has neither displacement_um nor strain_pct; read it with "
                               "battlab.sensors.read_sensor_table(..., kind='dilatometry').")
    meta = dict(table.attrs.get("battlab", {}))
    meta["dilatometry"] = {"initial_thickness_um": h0}
    out.attrs["battlab"] = meta
    return out


def summarize_dilatometry(table: pd.DataFrame) -> pd.DataFrame:
    """One row per cycle: expansion extremes, breathing, reversible and irreversible parts.

    Parameters
    ----------
    table : DataFrame
        :func:`relative_thickness_change` output aligned on the cycling (``cycle``,
        ``strain_pct``, ``charge_mAh``).

    Returns
    -------
    DataFrame
        cycle, start_pct (end of the previous cycle, or the first sample), end_pct,
        max_pct, min_pct, breathing_pct (max − min), reversible_expansion_pct (max − end),
        irreversible_expansion_pct (end − start), cumulative_irreversible_pct (end −
        first sample), charge_swing_mAh (the cycle's capacity) and
        expansion_per_mAh_pct (breathing / charge swing).
    """
    if not {"cycle", "strain_pct"} <= set(table.columns):
        raise MissingDataError("summarize_dilatometry needs cycle and strain_pct: run align_to_cycling and "
                               "relative_thickness_change first.")
    s = table["strain_pct"].to_numpy(dtype=float)
    cyc = table["cycle"].to_numpy()
    first = float(s[np.isfinite(s)][0]) if np.isfinite(s).any() else np.nan
    rows = []
    prev_end = first
    for cycle in np.unique(cyc[cyc > 0]):
        sel = cyc == cycle
        v = s[sel]
        v = v[np.isfinite(v)]
        if len(v) < 2:
            continue
        start = prev_end
        end = float(v[-1])
        hi = float(v.max())
        lo = float(min(v.min(), start))
        q = table.loc[sel, "charge_mAh"].to_numpy(dtype=float) if "charge_mAh" in table else np.array([np.nan])
        swing = float(np.nanmax(q) - np.nanmin(q)) if np.isfinite(q).any() else np.nan
        rows.append({"cycle": int(cycle), "start_pct": start, "end_pct": end, "max_pct": hi, "min_pct": lo,
                     "breathing_pct": hi - lo, "reversible_expansion_pct": hi - end,
                     "irreversible_expansion_pct": end - start, "cumulative_irreversible_pct": end - first,
                     "charge_swing_mAh": swing,
                     "expansion_per_mAh_pct": (hi - lo) / swing if swing and np.isfinite(swing) else np.nan})
        prev_end = end
    cols = ["cycle", "start_pct", "end_pct", "max_pct", "min_pct", "breathing_pct", "reversible_expansion_pct",
            "irreversible_expansion_pct", "cumulative_irreversible_pct", "charge_swing_mAh",
            "expansion_per_mAh_pct"]
    return pd.DataFrame(rows, columns=cols)


def compare_electrodes(summaries: dict) -> pd.DataFrame:
    """One row per electrode from several :func:`summarize_dilatometry` tables.

    Returns electrode, n_cycles, peak_expansion_pct (largest expansion seen),
    first_cycle_peak_pct, first_cycle_irreversible_pct, mean_reversible_expansion_pct,
    final_cumulative_irreversible_pct and the correlation between breathing and the
    cycle's capacity (``breathing_capacity_correlation``; strain amplitude that fades
    with capacity gives values near 1).
    """
    rows = []
    for name, s in summaries.items():
        if s is None or s.empty:
            continue
        corr = np.nan
        if len(s) >= 3 and s["charge_swing_mAh"].std() > 0 and s["breathing_pct"].std() > 0:
            corr = float(np.corrcoef(s["breathing_pct"], s["charge_swing_mAh"])[0, 1])
        rows.append({"electrode": name, "n_cycles": len(s), "peak_expansion_pct": float(s["max_pct"].max()),
                     "first_cycle_peak_pct": float(s["max_pct"].iloc[0]),
                     "first_cycle_irreversible_pct": float(s["irreversible_expansion_pct"].iloc[0]),
                     "mean_reversible_expansion_pct": float(s["reversible_expansion_pct"].mean()),
                     "final_cumulative_irreversible_pct": float(s["cumulative_irreversible_pct"].iloc[-1]),
                     "breathing_capacity_correlation": corr})
    return pd.DataFrame(rows, columns=["electrode", "n_cycles", "peak_expansion_pct", "first_cycle_peak_pct",
                                       "first_cycle_irreversible_pct", "mean_reversible_expansion_pct",
                                       "final_cumulative_irreversible_pct", "breathing_capacity_correlation"])
