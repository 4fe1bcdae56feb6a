"""Figures for operando sensors (EQCM, dilatometry, MOSS stress, acoustic emission)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import CHARGE_COLOR, DISCHARGE_COLOR, HEIGHT, WIDTH, cycle_colors, empty

__all__ = ["SIGNALS", "X_AXES", "signal_vs_time", "signal_vs_x", "cycle_metrics", "compare_electrodes",
           "hit_clusters", "mpe_vs_potential"]

#: kind -> (column of the aligned table, axis label)
SIGNALS = {
    "eqcm": ("mass_ng", "Δm (ng)"),
    "dilatometry": ("strain_pct", "Δh/h₀ (%)"),
    "stress": ("stress_GPa", "Film stress σ (GPa)"),
    "acoustic": ("cumulative_hits", "Cumulative hits"),
}
#: x-axis choice -> (column, label)
X_AXES = {
    "charge": ("charge_mAh", "Net charge passed (mAh)"),
    "potential": ("voltage_V", "Potential (V)"),
    "SOC": ("soc", "Position in the cycle's charge swing (SOC)"),
    "time": ("time_h", "Time (h)"),
}
MAX_POINTS = 4000


def _thin(df, n=MAX_POINTS):
    if len(df) <= n:
        return df
    return df.iloc[np.unique(np.linspace(0, len(df) - 1, n).round().astype(int))]


def _time_h(df):
    col = "test_time_s" if "test_time_s" in df else "sensor_time_s"
    return df[col].to_numpy(dtype=float) / 3600.0


def signal_vs_time(aligned: pd.DataFrame, kind: str, *, width=2 * WIDTH, height=HEIGHT):
    """The sensor signal against time with the electrode potential underneath (shared time axis)."""
    col, label = SIGNALS[kind]
    if aligned is None or aligned.empty or col not in aligned:
        return empty("No sensor data to show.", width=width, height=height)
    df = aligned if kind == "acoustic" else _thin(aligned)
    t = hv.Dimension("time_h", label="Time (h)")
    if kind == "acoustic":
        sig = hv.Curve((_time_h(df), df[col]), t, hv.Dimension(col, label=label)).opts(
            interpolation="steps-post", color="#444444", line_width=2)
    else:
        sig = hv.Curve((_time_h(df), df[col]), t, hv.Dimension(col, label=label)).opts(color="#2a7f62", line_width=2)
    sig = sig.opts(width=width, height=height, title=f"{label} and potential", tools=["hover"])
    if "voltage_V" not in aligned:
        return sig
    v = _thin(aligned)
    volt = hv.Curve((_time_h(v), v["voltage_V"]), t, hv.Dimension("voltage_V", label="Potential (V)")).opts(
        color="#1f77b4", width=width, height=HEIGHT // 2 + 30, tools=["hover"])
    return (sig + volt).cols(1)


def signal_vs_x(aligned: pd.DataFrame, kind: str, *, x: str = "charge", width=WIDTH, height=HEIGHT):
    """The sensor signal against charge, potential or SOC, one line per cycle."""
    if x not in X_AXES:
        raise ValueError(f"x must be one of {list(X_AXES)}")
    col, label = SIGNALS[kind]
    xcol, xlabel = X_AXES[x]
    if aligned is None or aligned.empty or col not in aligned or ("cycle" not in aligned and x != "time"):
        return empty("Align with cycling data to plot against charge or potential.", width=width, height=height)
    df = aligned.assign(time_h=_time_h(aligned))
    df = df.loc[df["cycle"] > 0] if "cycle" in df else df.assign(cycle=1)  # unaligned: one line
    if df.empty or xcol not in df:
        return empty("No cycles to show.", width=width, height=height)
    cycles = sorted(df["cycle"].unique())
    colors = cycle_colors(cycles)
    curves = []
    for cycle, g in df.groupby("cycle", sort=True):
        g = _thin(g, 1500)
        if kind == "acoustic":  # hits counted from the start of each cycle
            g = g.assign(**{col: g[col] - g[col].iloc[0] + 1})
        curves.append(hv.Curve((g[xcol], g[col]), hv.Dimension(xcol, label=xlabel), hv.Dimension(col, label=label),
                               label=f"cycle {cycle}").opts(color=colors[cycle], line_width=1.5))
    return hv.Overlay(curves).opts(width=width, height=height, title=f"{label} against {x}",
                                   show_legend=len(cycles) <= 10, legend_position="right", tools=["hover"])


def cycle_metrics(cycles: pd.DataFrame, kind: str, *, width=WIDTH, height=HEIGHT):
    """The per-cycle numbers of each sensor (m.p.e., expansion, stress extremes, hits)."""
    if cycles is None or cycles.empty:
        return empty("No complete cycles.", width=width, height=height)
    kd = hv.Dimension("cycle", label="Cycle")
    if kind == "eqcm":
        dis = cycles.loc[cycles["direction"] == "discharge"]
        ch = cycles.loc[cycles["direction"] == "charge"]
        vd = hv.Dimension("mpe", label="Mass per electron (g/mol)")
        plot = (hv.Scatter((dis["cycle"], dis["mass_per_electron_g_mol"]), kd, vd, label="discharge (reduction)")
                .opts(color=DISCHARGE_COLOR, size=7) *
                hv.Scatter((ch["cycle"], ch["mass_per_electron_g_mol"]), kd, vd, label="charge (oxidation)")
                .opts(color=CHARGE_COLOR, size=7, marker="triangle") *
                hv.HLine(6.94).opts(color="#888888", line_dash="dashed"))
        return plot.opts(width=width, height=height, title="Mass per electron (Li⁺ = 6.94 g/mol)",
                         legend_position="top_right", tools=["hover"])
    if kind == "dilatometry":
        vd = hv.Dimension("pct", label="Expansion (%)")
        parts = [("breathing_pct", "breathing (max − min)", "#2a7f62"),
                 ("reversible_expansion_pct", "reversible (max − end)", CHARGE_COLOR),
                 ("irreversible_expansion_pct", "irreversible (end − start)", DISCHARGE_COLOR),
                 ("cumulative_irreversible_pct", "accumulated irreversible", "#444444")]
        plot = hv.Overlay([hv.Curve((cycles["cycle"], cycles[c]), kd, vd, label=lab).opts(color=col) *
                           hv.Scatter((cycles["cycle"], cycles[c]), kd, vd).opts(color=col, size=6)
                           for c, lab, col in parts])
        return plot.opts(width=width, height=height, title="Expansion per cycle", legend_position="right",
                         tools=["hover"])
    if kind == "stress":
        vd = hv.Dimension("stress", label="Stress (GPa)")
        plot = (hv.Scatter((cycles["cycle"], cycles["max_compressive_GPa"]), kd, vd, label="max compressive")
                .opts(color=DISCHARGE_COLOR, size=7) *
                hv.Scatter((cycles["cycle"], cycles["max_tensile_GPa"]), kd, vd, label="max tensile")
                .opts(color=CHARGE_COLOR, size=7, marker="triangle") * hv.HLine(0).opts(color="#888888"))
        return plot.opts(width=width, height=height, title="Stress extremes per cycle", legend_position="right",
                         tools=["hover"])
    labels = [f"{c} {d}" for c, d in zip(cycles["cycle"], cycles["direction"], strict=True)]
    bars = hv.Bars((labels, cycles["n_hits"]), hv.Dimension("half", label="Cycle, half cycle"),
                   hv.Dimension("n_hits", label="Hits"))
    return bars.opts(width=width, height=height, title="Hits per half cycle", xrotation=45, color="#555555",
                     tools=["hover"])


def compare_electrodes(aligned_by_label: dict, *, width=WIDTH, height=HEIGHT):
    """Δh/h₀ against time for several electrodes on one axis."""
    curves = []
    palette = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"]
    for k, (label, df) in enumerate(aligned_by_label.items()):
        if df is None or "strain_pct" not in df:
            continue
        d = _thin(df)
        curves.append(hv.Curve((_time_h(d), d["strain_pct"]), hv.Dimension("time_h", label="Time (h)"),
                               hv.Dimension("strain_pct", label="Δh/h₀ (%)"), label=str(label))
                      .opts(color=palette[k % len(palette)], line_width=2))
    if not curves:
        return empty("No electrodes to compare.", width=width, height=height)
    return hv.Overlay(curves).opts(width=width, height=height, title="Electrode comparison",
                                   legend_position="top_left", tools=["hover"])


def hit_clusters(hits: pd.DataFrame, *, width=WIDTH, height=HEIGHT):
    """Peak against centroid frequency of every hit, coloured by hit type."""
    if hits is None or hits.empty or "peak_frequency_Hz" not in hits:
        return empty("No hit frequencies to cluster.", width=width, height=height)
    colors = {"particle cracking": "#d62728", "gas evolution": "#1f77b4"}
    y = "centroid_frequency_Hz" if "centroid_frequency_Hz" in hits else "amplitude_dB"
    pts = []
    for name, g in hits.groupby("hit_type" if "hit_type" in hits else np.zeros(len(hits))):
        pts.append(hv.Scatter((g["peak_frequency_Hz"] / 1e3, g[y] / (1e3 if y.endswith("_Hz") else 1)),
                              hv.Dimension("f_peak", label="Peak frequency (kHz)"),
                              hv.Dimension("y", label="Centroid frequency (kHz)" if y.endswith("_Hz")
                                           else "Amplitude (dB_AE)"), label=str(name))
                   .opts(color=colors.get(name, "#7f7f7f"), size=5, alpha=0.7))
    return hv.Overlay(pts).opts(width=width, height=height, title="Hit types (k-means on frequency)",
                                legend_position="top_left", tools=["hover"])


def mpe_vs_potential(table: pd.DataFrame, *, width=WIDTH, height=HEIGHT):
    """Mass per electron in potential windows, reduction and oxidation separately."""
    if table is None or table.empty:
        return empty("No potential window passed enough charge.", width=width, height=height)
    kd = hv.Dimension("voltage_V", label="Potential (V)")
    vd = hv.Dimension("mpe", label="Mass per electron (g/mol)")
    parts = []
    for direction, color, marker in (("discharge", DISCHARGE_COLOR, "circle"), ("charge", CHARGE_COLOR, "triangle")):
        g = table.loc[table["direction"] == direction]
        parts.append(hv.Scatter((g["voltage_V"], g["mass_per_electron_g_mol"]), kd, vd, label=direction)
                     .opts(color=color, size=6, marker=marker, alpha=0.7))
    return (hv.Overlay(parts) * hv.HLine(6.94).opts(color="#888888", line_dash="dashed")).opts(
        width=width, height=height, title="Mass per electron against potential", legend_position="top_right",
        tools=["hover"])
