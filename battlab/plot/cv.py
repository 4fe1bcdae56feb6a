"""Figures for cyclic voltammetry."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import (
    CHARGE_COLOR,
    DISCHARGE_COLOR,
    HEIGHT,
    WIDTH,
    cycle_colors,
    empty,
)

__all__ = ["b_values", "capacitive_fraction", "dunn_decomposed", "randles_sevcik", "voltammograms"]

_E = hv.Dimension("voltage_V", label="Potential (V)")
_MAX_ROWS_PER_SWEEP = 2000  # thinned evenly for the browser


def _unit(values):
    """Scale factor and unit so that currents read as plain numbers (µA or mA)."""
    top = float(np.nanmax(np.abs(values))) if np.size(values) and np.isfinite(values).any() else 1.0
    return (1e6, "µA") if top < 1e-3 else (1e3, "mA")


def _idim(unit, prefix="Current"):
    return hv.Dimension("current", label=f"{prefix} ({unit})")


def _rate_label(rate):
    return f"{rate:.3g} mV/s"


def voltammograms(labelled: pd.DataFrame, *, sweeps=None, peaks: pd.DataFrame | None = None,
                  width=WIDTH + 100, height=HEIGHT):
    """Current against potential, one line per scan-rate group (its sweeps joined).

    ``sweeps`` limits the lines to those sweep numbers; ``peaks`` (from
    :func:`battlab.echem.cv.find_peaks`) adds markers at the peak potentials.
    """
    lab = labelled if sweeps is None else labelled.loc[labelled["sweep"].isin(list(sweeps))]
    if lab.empty:
        return empty("No sweeps selected.", width=width, height=height)
    rates = sorted(lab["scan_rate_group_mV_s"].dropna().unique())
    colors = cycle_colors(rates) if rates else {}
    scale, unit = _unit(lab["current_A"].to_numpy(dtype=float))
    _I = _idim(unit)
    curves = []
    for rate, g in lab.groupby("scan_rate_group_mV_s", sort=True):
        parts = []
        for _, s in g.groupby("sweep", sort=True):
            stride = max(1, len(s) // _MAX_ROWS_PER_SWEEP)
            parts.append(s.iloc[::stride][["voltage_V", "current_A"]].to_numpy(dtype=float))
            parts.append(np.array([[np.nan, np.nan]]))
        xy = np.vstack(parts)
        curves.append(hv.Curve((xy[:, 0], xy[:, 1] * scale), _E, _I, label=_rate_label(rate))
                      .opts(color=colors[rate], line_width=1.5))
    overlay = hv.Overlay(curves)
    if peaks is not None and not peaks.dropna(subset=["peak_current_A"]).empty:
        p = peaks.dropna(subset=["peak_current_A"])
        p = p.loc[p["sweep"].isin(lab["sweep"].unique())]
        if len(p):
            raw = (p["baseline_current_A"] + p["peak_current_A"]).to_numpy() * scale
            overlay = overlay * hv.Scatter((p["peak_potential_V"].to_numpy(), raw), _E, _I, label="peaks").opts(
                color="black", marker="x", size=9)
    return overlay.opts(width=width, height=height, title="Cyclic voltammograms", legend_position="right",
                        show_legend=len(rates) <= 12, tools=["hover"])


def randles_sevcik(result: dict | None, *, width=WIDTH, height=HEIGHT, reason: str = ""):
    """|ip| against √v with the straight-line fit and the diffusion coefficient."""
    if not result:
        return empty(reason or "Randles–Ševčík needs a peak at two or more scan rates.", width=width,
                     height=height)
    pts = result["points"]
    x = pts["sqrt_scan_rate_V_s"].to_numpy()
    kd = hv.Dimension("sqrt_v", label="√v (√(V/s))")
    scale, unit = _unit(pts["peak_current_A"].to_numpy())
    vd = _idim(unit, "|ip|")
    xs = np.linspace(0, x.max() * 1.05, 50)
    fit = result["slope_A_sqrt_s_V"] * xs + result["intercept_A"]
    title = (f"Randles–Ševčík: D = {result['diffusion_coefficient_cm2_s']:.3g} cm²/s, "
             f"R² = {result['r_squared']:.4f}")
    return (hv.Scatter((x, pts["peak_current_A"].to_numpy() * scale), kd, vd, label="peaks").opts(
        color="black", size=7) * hv.Curve((xs, fit * scale), kd, vd, label="fit").opts(color=CHARGE_COLOR)).opts(
        width=width, height=height, title=title, legend_position="bottom_right", tools=["hover"])


def b_values(table: pd.DataFrame | None, *, width=WIDTH, height=HEIGHT, reason: str = ""):
    """log |ip| against log v per peak with the fitted power law (b on hover, and in the title for ≤ 2 peaks).

    The legend names the peaks only: a label that changes with every fit would make the
    app draw the figure anew instead of patching it.
    """
    if table is None or table.empty:
        return empty(reason or "b-values need peaks at two or more scan rates.", width=width, height=height)
    pts = table.attrs["battlab"]["points"]
    kd = hv.Dimension("v", label="Scan rate (mV/s)")
    scale, unit = _unit(pts["peak_current_A"].to_numpy())
    vd = _idim(unit, "|ip|")
    layers, fitted = [], []
    colors = [CHARGE_COLOR, DISCHARGE_COLOR, "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
    for k, row in table.reset_index(drop=True).iterrows():
        p = pts.loc[(pts["peak"] == row["peak"]) & (pts["direction"] == row["direction"])]
        v = p["scan_rate_mV_s"].to_numpy()
        c = colors[k % len(colors)]
        name = f"{row['peak']} ({row['direction']})"
        fitted.append(f"b = {row['b_value']:.3f} {name}")
        b = np.full(len(v), float(row["b_value"]))
        layers.append(hv.Scatter((v, p["peak_current_A"].to_numpy() * scale, b), kd, [vd, "b"], label=name).opts(
            color=c, size=7))
        vs = np.geomspace(v.min(), v.max(), 30)
        layers.append(hv.Curve((vs, row["a_A"] * vs ** row["b_value"] * scale), kd, vd).opts(color=c))
    title = "|ip| = a·v^b (0.5 diffusion, 1 capacitive)"
    if len(fitted) <= 2:
        title = f"{title}: {', '.join(fitted)}"
    return hv.Overlay(layers).opts(width=width, height=height, logx=True, logy=True, legend_position="bottom_right",
                                   title=title, tools=["hover"])


def dunn_decomposed(decomposed: pd.DataFrame | None, *, width=WIDTH + 100, height=HEIGHT, reason: str = ""):
    """Measured CV with the capacitive part (k1·v) shaded, at one scan rate."""
    if decomposed is None or decomposed.empty:
        return empty(reason or "The Dunn decomposition needs two or more scan rates.", width=width, height=height)
    rate = float(decomposed["scan_rate_mV_s"].iloc[0])
    scale, unit = _unit(decomposed["current_A"].to_numpy())
    _I = _idim(unit)
    layers = []
    for direction, g in decomposed.groupby("direction", sort=True):
        e = g["voltage_V"].to_numpy()
        layers.append(hv.Area((e, g["capacitive_current_A"].to_numpy() * scale), _E, _I,
                              label="capacitive k1·v").opts(color="#ff7f0e", alpha=0.45, line_alpha=0))
        measured = g["measured_current_A"].to_numpy()
        y = measured if np.isfinite(measured).any() else g["current_A"].to_numpy()
        layers.append(hv.Curve((e, y * scale), _E, _I, label="total").opts(color="black", line_width=1.5))
    return hv.Overlay(layers).opts(width=width, height=height, legend_position="right",
                                   title=f"Dunn decomposition at {_rate_label(rate)}", tools=["hover"])


def capacitive_fraction(fractions: pd.DataFrame | None, *, width=WIDTH, height=HEIGHT, reason: str = ""):
    """Capacitive and diffusive share of the charge at each scan rate (stacked bars)."""
    if fractions is None or fractions.empty:
        return empty(reason or "The Dunn decomposition needs two or more scan rates.", width=width, height=height)
    labels = [_rate_label(r) for r in fractions["scan_rate_mV_s"]]
    cap = fractions["capacitive_fraction_pct"].to_numpy()
    rows = [(lab, "capacitive", c) for lab, c in zip(labels, cap)] + \
           [(lab, "diffusive", 100.0 - c) for lab, c in zip(labels, cap)]
    bars = hv.Bars(rows, [hv.Dimension("rate", label="Scan rate"), "part"],
                   hv.Dimension("pct", label="Share of charge (%)"))
    return bars.opts(stacked=True, width=width, height=height, title="Capacitive fraction per scan rate",
                     cmap=["#ff7f0e", "#1f77b4"], tools=["hover"], legend_position="right", ylim=(0, 100), xrotation=45)
