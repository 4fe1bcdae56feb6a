"""Figures for GITT and PITT."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import CHARGE_COLOR, DISCHARGE_COLOR, HEIGHT, WIDTH, empty

__all__ = [
    "X_AXES",
    "diffusion_vs_composition",
    "ocv_curve",
    "pitt_decay",
    "pitt_diffusion",
    "pitt_titration",
    "pulse_train",
    "pulse_zoom",
]

#: x-axis choice -> (column prefix in the GITT results, label)
X_AXES = {"x": ("x", "x in LixM"), "SOC": ("soc", "State of charge of the titration")}
VALID_COLOR, FLAGGED_COLOR, SQRT_COLOR = "#1f77b4", "#bbbbbb", "#ff7f0e"


def _thin(n, max_points):
    return slice(None, None, max(1, int(np.ceil(n / max_points))))


def pulse_train(data: pd.DataFrame, results: pd.DataFrame, *, selected: int | None = None, max_points: int = 8000,
                signal: str = "voltage_V", title: str = "Pulse train", width=2 * WIDTH, height=HEIGHT):
    """Voltage (or ``signal="current_A"``) against time, with the OCV points (rest ends)
    and the selected pulse marked when GITT results are given."""
    if data is None or data.empty:
        return empty("No data.", width=width, height=height)
    sl = _thin(len(data), max_points)
    t = data["test_time_s"].to_numpy(dtype=float)[sl] / 3600.0
    y = data[signal].to_numpy(dtype=float)[sl]
    label = "Voltage (V)" if signal == "voltage_V" else "Current (A)"
    curve = hv.Curve((t, y), hv.Dimension("t", label="Time (h)"), hv.Dimension("v", label=label),
                     label=signal.split("_")[0]).opts(color="#444444", line_width=1)
    layers = [curve]
    if results is not None and not results.empty:
        t_end = (results["t_on_s"] + results["tau_s"] + results["rest_s"]).to_numpy() / 3600.0
        layers.append(hv.Scatter((t_end, results["ocv_V"]), "t", "v", label="OCV point (rest end)")
                      .opts(color=DISCHARGE_COLOR, size=4))
        if selected is not None and selected in set(results["pulse"]):
            row = results.loc[results["pulse"] == selected].iloc[0]
            t0 = row["t_on_s"] / 3600.0
            layers.append(hv.VSpan(t0, t0 + (row["tau_s"] + row["rest_s"]) / 3600.0)
                          .opts(color=CHARGE_COLOR, alpha=0.2))
    return hv.Overlay(layers).opts(width=width, height=height, title=title, legend_position="right",
                                   tools=["hover"])


def pulse_zoom(trace: pd.DataFrame, row, fit: dict | None = None, *, fit_window=(0.1, 0.9), width=WIDTH,
               height=HEIGHT):
    """One pulse and its relaxation against √t, with the √t fit over the window."""
    if trace is None or trace.empty:
        return empty("Select a pulse.", width=width, height=height)
    kd = hv.Dimension("sqrt_t", label="√(t − t_on) (s^½)")
    vd = hv.Dimension("v", label="Voltage (V)")
    pulse = trace[trace["phase"] == "pulse"]
    rest = trace[trace["phase"] == "rest"]
    # The rest spans far more time than the pulse; show its first 4 τ only.
    tau = float(row["tau_s"])
    rest = rest[rest["time_s"] <= 5 * tau]
    layers = [hv.Scatter((pulse["sqrt_time_s05"], pulse["voltage_V"]), kd, vd, label="pulse")
              .opts(color="#444444", size=3),
              hv.Scatter((rest["sqrt_time_s05"], rest["voltage_V"]), kd, vd, label="rest (first 4 τ)")
              .opts(color=FLAGGED_COLOR, size=3)]
    if fit and np.isfinite(fit.get("slope_V_s05", np.nan)):
        lo, hi = fit_window
        xs = np.sqrt(np.array([lo, hi]) * tau)
        layers.append(hv.Curve((xs, fit["intercept_V"] + fit["slope_V_s05"] * xs), kd, vd, label="√t fit")
                      .opts(color=SQRT_COLOR, line_width=3))
    flags = str(row.get("flags", "")) or "none"
    title = f"Pulse {int(row['pulse'])}: τ = {tau:g} s, flags: {flags}"
    return hv.Overlay(layers).opts(width=width, height=height, title=title[:90], legend_position="bottom_right",
                                   tools=["hover"])


def diffusion_vs_composition(results: pd.DataFrame, *, x: str = "x", truth: pd.DataFrame | None = None,
                             width=WIDTH, height=HEIGHT):
    """D against x (or SOC) on a log axis: valid pulses filled, flagged ones grey."""
    prefix, label = X_AXES[x]
    col = f"{prefix}_mid" if prefix == "x" else None
    if results is None or results.empty:
        return empty("No pulses.", width=width, height=height)
    xs = results[col] if col else 0.5 * (results["soc_start"] + results["soc_end"])
    if not np.isfinite(xs).any():
        return empty("Enter the mass and molar mass to place pulses on x (or choose SOC).", width=width,
                     height=height)
    d = results["diffusion_coefficient_cm2_s"]
    if not np.isfinite(d).any():
        d = results["diffusion_coefficient_L_cm2_s"]
    if not np.isfinite(d).any():
        return empty("Enter the geometry (mass, molar mass, molar volume, area or thickness) to compute D.",
                     width=width, height=height)
    kd = hv.Dimension("xc", label=label)
    vd = hv.Dimension("D", label="D (cm²/s)")
    ok = results["valid"].to_numpy() & np.isfinite(d.to_numpy()) & (d.to_numpy() > 0)
    bad = ~results["valid"].to_numpy() & np.isfinite(d.to_numpy()) & (d.to_numpy() > 0)
    layers = []
    if truth is not None and not truth.empty and prefix == "x":
        layers.append(hv.Curve((truth["x_mid"], truth["diffusion_coefficient_cm2_s"]), kd, vd, label="true D(x)")
                      .opts(color="black", line_dash="dashed"))
    layers.append(hv.Scatter((xs[ok], d[ok]), kd, vd, label="Weppner–Huggins (valid)")
                  .opts(color=VALID_COLOR, size=5))
    layers.append(hv.Scatter((xs[bad], d[bad]), kd, vd, label="flagged").opts(color=FLAGGED_COLOR, size=5))
    ds = results["diffusion_coefficient_sqrt_t_cm2_s"]
    okq = results["valid"].to_numpy() & np.isfinite(ds.to_numpy()) & (ds.to_numpy() > 0)
    if okq.any():
        layers.append(hv.Scatter((xs[okq], ds[okq]), kd, vd, label="√t fit (valid)")
                      .opts(color=SQRT_COLOR, size=4, marker="triangle"))
    return hv.Overlay(layers).opts(width=width, height=height, logy=True, title="Diffusion coefficient",
                                   legend_position="bottom_left", tools=["hover"])


def ocv_curve(ocv: pd.DataFrame, *, x: str = "x", width=WIDTH, height=HEIGHT):
    """Quasi-equilibrium OCV from the relaxation end points."""
    prefix, label = X_AXES[x]
    if ocv is None or ocv.empty or not np.isfinite(ocv[prefix]).any():
        return empty("Enter the mass and molar mass to place OCV points on x (or choose SOC).", width=width,
                     height=height)
    kd, vd = hv.Dimension("xc", label=label), hv.Dimension("ocv", label="OCV (V)")
    return (hv.Curve((ocv[prefix], ocv["ocv_V"]), kd, vd).opts(color=DISCHARGE_COLOR) *
            hv.Scatter((ocv[prefix], ocv["ocv_V"]), kd, vd).opts(color=DISCHARGE_COLOR, size=4)).opts(
        width=width, height=height, title="OCV from relaxation ends", tools=["hover"])


def pitt_decay(trace: pd.DataFrame, row, *, fit_window=(0.4, 0.9), width=WIDTH, height=HEIGHT):
    """|I| of one potential step on a log axis, with the long-time exponential fit."""
    if trace is None or trace.empty:
        return empty("Select a step.", width=width, height=height)
    kd, vd = hv.Dimension("t", label="Time in step (s)"), hv.Dimension("i", label="|I| (A)")
    pos = trace["abs_current_A"] > 0
    layers = [hv.Scatter((trace["time_s"][pos], trace["abs_current_A"][pos]), kd, vd, label="|I|")
              .opts(color="#444444", size=3)]
    rate = float(row.get("decay_rate_1_s", np.nan))
    if np.isfinite(rate):
        lo, hi = fit_window
        dur = float(row["duration_s"])
        sel = (trace["time_s"] >= lo * dur) & (trace["time_s"] <= hi * dur) & pos
        if sel.any():
            t_fit = trace["time_s"][sel].to_numpy()
            y = np.log(trace["abs_current_A"][sel].to_numpy())
            a = float(np.mean(y + rate * t_fit))
            layers.append(hv.Curve((t_fit, np.exp(a - rate * t_fit)), kd, vd, label="exp fit")
                          .opts(color=SQRT_COLOR, line_width=3))
    title = f"Step {int(row['step'])} at {row['potential_V']:.3f} V"
    return hv.Overlay(layers).opts(width=width, height=height, logy=True, title=title, tools=["hover"],
                                   legend_position="top_right")


def pitt_diffusion(steps: pd.DataFrame, *, width=WIDTH, height=HEIGHT):
    """D of each potential step against its potential (log axis)."""
    d = steps["diffusion_coefficient_cm2_s"] if steps is not None and not steps.empty else None
    if d is None or not np.isfinite(d).any():
        return empty("Enter the thickness (or mass, molar mass, molar volume and area) to compute D.",
                     width=width, height=height)
    color = CHARGE_COLOR if (steps["step_V"].dropna() > 0).mean() > 0.5 else DISCHARGE_COLOR
    return hv.Scatter((steps["potential_V"], d), hv.Dimension("E", label="Step potential (V)"),
                      hv.Dimension("D", label="D (cm²/s)")).opts(
        color=color, size=6, logy=True, width=width, height=height, title="PITT diffusion coefficient",
        tools=["hover"])


def pitt_titration(steps: pd.DataFrame, *, width=WIDTH, height=HEIGHT):
    """Step potential against the cumulative charge passed (the coulometric titration curve)."""
    if steps is None or steps.empty:
        return empty("No potential steps.", width=width, height=height)
    q = np.cumsum(steps["charge_mAh"].to_numpy())
    kd, vd = hv.Dimension("q", label="Cumulative charge (mAh)"), hv.Dimension("E", label="Step potential (V)")
    return (hv.Curve((q, steps["potential_V"]), kd, vd).opts(color=DISCHARGE_COLOR) *
            hv.Scatter((q, steps["potential_V"]), kd, vd).opts(color=DISCHARGE_COLOR, size=4)).opts(
        width=width, height=height, title="PITT titration curve", tools=["hover"])
