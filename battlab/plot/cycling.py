"""Figures for galvanostatic cycling."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import CE_COLOR, CHARGE_COLOR, DISCHARGE_COLOR, HEIGHT, WIDTH, cycle_colors, empty

__all__ = ["voltage_profile", "capacity_vs_cycle", "efficiency_vs_cycle", "dqdv", "rate_capability", "X_AXES"]

#: x-axis choice -> (column of voltage_profiles output, axis label)
X_AXES = {
    "capacity": ("capacity_mAh", "Capacity (mAh)"),
    "specific capacity": ("specific_capacity_mAh_g", "Specific capacity (mAh/g)"),
    "time": ("time_h", "Time in half cycle (h)"),
    "SOC": ("soc", "State of charge of the half cycle"),
}


#: Up to this many cycles get one line each with a legend entry; more share one coloured glyph.
MAX_LEGEND_CYCLES = 10


def _curves_by_cycle(frame, x_col, y_col, x_label, y_label, title, width, height):
    """One line per cycle (its half cycles joined by a gap), coloured along viridis.

    Up to :data:`MAX_LEGEND_CYCLES` cycles are separate lines named in the legend. More
    cycles are drawn as one multi-line glyph coloured by cycle number with a colour bar:
    the legend would be unreadable, and a figure whose glyphs do not depend on how many
    cycles are selected is updated in place when the selection changes, not rebuilt.
    """
    cycles = sorted(frame["cycle"].unique())
    lines = []
    for cycle, g in frame.groupby("cycle", sort=True):
        breaks = np.flatnonzero(np.diff(g["half_cycle"].to_numpy())) + 1
        xs = np.insert(g[x_col].to_numpy(dtype=float), breaks, np.nan)
        ys = np.insert(g[y_col].to_numpy(dtype=float), breaks, np.nan)
        lines.append((cycle, xs, ys))
    if len(cycles) > MAX_LEGEND_CYCLES:
        paths = [{x_label: xs, y_label: ys, "cycle": int(cycle)} for cycle, xs, ys in lines]
        drawn = hv.Contours(paths, kdims=[x_label, y_label], vdims=[hv.Dimension("cycle", label="Cycle")]).opts(
            color="cycle", cmap="viridis", colorbar=True, line_width=1.5)
        return hv.Overlay([drawn]).opts(width=width, height=height, title=title, tools=["hover"])
    colors = cycle_colors(cycles)
    curves = [hv.Curve((xs, ys), kdims=[x_label], vdims=[y_label], label=f"cycle {cycle}")
              .opts(color=colors[cycle], line_width=1.5) for cycle, xs, ys in lines]
    return hv.Overlay(curves).opts(width=width, height=height, title=title, legend_position="right",
                                   tools=["hover"])


def voltage_profile(profiles: pd.DataFrame, *, x: str = "capacity", width=WIDTH, height=HEIGHT):
    """Voltage against capacity/time/SOC, one line per half cycle, coloured by cycle."""
    if x not in X_AXES:
        raise ValueError(f"x must be one of {list(X_AXES)}")
    col, label = X_AXES[x]
    if profiles.empty or col not in profiles:
        why = "Enter the active mass to plot specific capacity." if col not in profiles else "No cycles selected."
        return empty(why, width=width, height=height)
    return _curves_by_cycle(profiles, col, "voltage_V", label, "Voltage (V)", "Voltage profiles", width, height)


def capacity_vs_cycle(summary: pd.DataFrame, *, specific: bool = False, width=WIDTH, height=HEIGHT):
    """Charge and discharge capacity per cycle."""
    if summary.empty:
        return empty("No complete cycles.", width=width, height=height)
    suffix, unit = ("_mAh_g", "mAh/g") if specific and "charge_capacity_mAh_g" in summary else ("_mAh", "mAh")
    kd = hv.Dimension("cycle", label="Cycle")
    vd = hv.Dimension("capacity", label=f"Capacity ({unit})")
    ch = hv.Scatter((summary["cycle"], summary[f"charge_capacity{suffix}"]), kd, vd, label="charge")
    dis = hv.Scatter((summary["cycle"], summary[f"discharge_capacity{suffix}"]), kd, vd, label="discharge")
    return (ch.opts(color=CHARGE_COLOR, size=5, marker="triangle") *
            dis.opts(color=DISCHARGE_COLOR, size=5)).opts(
        width=width, height=height, title="Capacity per cycle", legend_position="right", tools=["hover"])


def efficiency_vs_cycle(summary: pd.DataFrame, *, width=WIDTH, height=HEIGHT // 2 + 40):
    """Coulombic efficiency per cycle (first cycle usually far lower: SEI formation)."""
    if summary.empty:
        return empty("No complete cycles.", width=width, height=height)
    cycle = summary["cycle"].to_numpy()
    ce_pct = summary["coulombic_efficiency_pct"].to_numpy(dtype=float)
    finite = ce_pct[np.isfinite(ce_pct)]
    # Zoom on the steady cycles (CE differences of 0.01 % matter); cycles below the
    # window, usually the first (SEI formation), are pinned to its bottom edge as
    # down-triangles whose hover shows the true value, so none is hidden.
    low = float(np.percentile(finite, 5)) if len(finite) else 90.0
    y_min = max(0.0, min(low - 1.0, 99.0))
    kdims = hv.Dimension("cycle", label="Cycle")
    vdims = [hv.Dimension("ce", label="Coulombic eff. (%)"), hv.Dimension("ce_true", label="CE (%)")]
    inside = ce_pct >= y_min
    ce = hv.Scatter((cycle[inside], ce_pct[inside], ce_pct[inside]), kdims, vdims).opts(
        color=CE_COLOR, size=4, tools=["hover"])
    below = hv.Scatter((cycle[~inside], np.full((~inside).sum(), y_min + 0.05), ce_pct[~inside]), kdims, vdims,
                       label=f"below {y_min:.1f} % (hover for value)").opts(
        color=CHARGE_COLOR, size=9, marker="inverted_triangle", tools=["hover"])
    plot = ce * below if (~inside).any() else ce
    return plot.opts(width=width, height=height, title="Coulombic efficiency", ylim=(y_min, 100.5),
                     legend_position="bottom_right")


def dqdv(ica: pd.DataFrame, *, width=WIDTH, height=HEIGHT):
    """Incremental capacity dQ/dV against voltage (charge up, discharge down)."""
    if ica.empty:
        return empty("No half cycle long enough for dQ/dV.", width=width, height=height)
    return _curves_by_cycle(ica, "voltage_V", "dqdv_mAh_V", "Voltage (V)", "dQ/dV (mAh/V)",
                           "Incremental capacity dQ/dV", width, height)


def rate_capability(table: pd.DataFrame, *, width=WIDTH, height=HEIGHT):
    """Mean capacity of each constant-rate block, in protocol order."""
    if table.empty:
        return empty("No rate blocks found.", width=width, height=height)
    labels = [f"{b}: {lab}" for b, lab in zip(table["block"], table["c_rate_label"])]
    col = "out_capacity_mAh_g" if "out_capacity_mAh_g" in table else "out_capacity_mAh"
    unit = "mAh/g" if col.endswith("_g") else "mAh"
    bars = hv.Bars((labels, table[col]), hv.Dimension("block", label="Block: C-rate"),
                   hv.Dimension("capacity", label=f"Reversible capacity ({unit})"))
    return bars.opts(width=width, height=height, title="Rate capability", xrotation=45, color="#4c72b0",
                     tools=["hover"])
