"""Figures for diffraction: 2θ × time contour with the voltage curve, patterns with fits and
reference sticks, tracked peak quantities and Williamson–Hall."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import HEIGHT, WIDTH, cycle_colors, empty

__all__ = [
    "TRACK_QUANTITIES",
    "contour",
    "contour_with_voltage",
    "pattern",
    "pca_plot",
    "tracking",
    "voltage_vs_time",
    "waterfall",
    "williamson_hall_plot",
]

#: tracked column -> axis label
TRACK_QUANTITIES = {"two_theta_deg": "Peak position (° 2θ)", "d_A": "d (Å)", "strain": "Strain (d − d0)/d0",
                    "fwhm_deg": "FWHM (° 2θ)", "area": "Integrated intensity (counts·°)"}

# Fits are drawn red; sticks avoid red so the two never look alike.
_STICK_COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


def _hours(series):
    if "elapsed_s" in series.coords:
        return series["elapsed_s"].to_numpy() / 3600.0
    return np.arange(series.sizes["time"], dtype=float)


def contour(series, *, log: bool = False, width=WIDTH + 220, height=HEIGHT, current: int | None = None,
            cmap: str = "viridis"):
    """Intensity map: 2θ on x, elapsed time (h) on y; a marker line at pattern ``current``."""
    if series is None or "time" not in series.dims or series.sizes["time"] < 2:
        return empty("A series of at least two patterns is needed for the map.", width=width, height=height)
    z = np.asarray(series.to_numpy(), float)
    if log:
        z = np.log10(np.clip(z - np.nanmin(z) + 1, 1, None))
    x = series["two_theta_deg"].to_numpy()
    y = _hours(series)
    img = hv.QuadMesh((x, y, z), kdims=["2θ (°)", "Time (h)"], vdims=["log10 I" if log else "Intensity"]).opts(
        cmap=cmap, colorbar=True, width=width, height=height, title="Operando pattern map", tools=["hover"])
    if current is not None:
        img = img * hv.HLine(float(y[min(current, y.size - 1)])).opts(color="white", line_dash="dashed",
                                                                        line_width=1.5)
    return img


def voltage_vs_time(echem: pd.DataFrame, start_time, *, width=WIDTH + 220, height=200, current_h=None):
    """Cell voltage against hours since the first pattern (shared y of the map turned to x)."""
    if echem is None or echem.empty:
        return empty("No cycling data to align.", width=width, height=height)
    t0 = pd.Timestamp(start_time)
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0
    hours = (echem["unix_time_s"].to_numpy() - t0.timestamp()) / 3600.0
    curve = hv.Curve((hours, echem["voltage_V"].to_numpy()), "Time (h)", "Voltage (V)").opts(
        color="black", width=width, height=height, title="Voltage on the same clock", tools=["hover"])
    if current_h is not None:
        curve = curve * hv.VLine(float(current_h)).opts(color="#d62728", line_dash="dashed")
    return curve


def contour_with_voltage(series, echem, *, current=None, log=False, width=WIDTH + 220):
    """The map and, beside it, the voltage curve on the same time axis (time vertical)."""
    c = contour(series, log=log, current=current, width=width - 160)
    if echem is None or series is None or "time" not in series.dims:
        return c
    start = pd.Timestamp(series["time"].to_numpy()[0]).tz_localize("UTC")
    hours = (echem["unix_time_s"].to_numpy() - start.timestamp()) / 3600.0
    v = hv.Curve((echem["voltage_V"].to_numpy(), hours), "Voltage (V)", "Time (h)").opts(
        color="black", width=220, height=HEIGHT, title="Voltage", tools=["hover"], xticks=3)
    if current is not None:
        v = v * hv.HLine(float(_hours(series)[min(current, series.sizes["time"] - 1)])).opts(
            color="#d62728", line_dash="dashed")
    return (c + v).opts(shared_axes=True)


def pattern(pat, *, fits=None, sticks: pd.DataFrame | None = None, windows=None, width=WIDTH + 220, height=HEIGHT,
            title="Pattern"):
    """One pattern with fitted peaks (red), peak windows (shaded) and reference sticks."""
    if pat is None:
        return empty("No pattern.", width=width, height=height)
    x = pat["two_theta_deg"].to_numpy()
    y = pat.to_numpy()
    layers = [hv.Curve((x, y), "2θ (°)", "Intensity", label="data").opts(color="#444444", line_width=1)]
    ymax = float(np.nanmax(y)) if np.isfinite(y).any() else 1.0
    ymin = float(np.nanmin(y)) if np.isfinite(y).any() else 0.0
    for lo, hi in (windows or {}).values():
        layers.append(hv.VSpan(lo, hi).opts(color="#ffbb78", alpha=0.25))
    for k, (_name, fit) in enumerate((fits or {}).items()):
        xs = np.linspace(fit.x.min(), fit.x.max(), 300)
        layers.append(hv.Curve((xs, fit.evaluate(xs)), "2θ (°)", "Intensity",
                               label="fit" if k == 0 else "").opts(color="#d62728", line_width=2))
    if sticks is not None and not sticks.empty:
        lo, hi = x.min(), x.max()
        phases = list(dict.fromkeys(sticks["phase"]))
        for j, ph in enumerate(phases):
            sub = sticks[(sticks["phase"] == ph) & sticks["two_theta_deg"].between(lo, hi)]
            if sub.empty:
                continue
            top = ymin + (ymax - ymin) * (0.35 - 0.08 * (j % 4))
            segs = hv.Segments((sub["two_theta_deg"], np.full(len(sub), ymin), sub["two_theta_deg"],
                                np.full(len(sub), top)), ["2θ (°)", "Intensity", "x1", "y1"], label=ph)
            layers.append(segs.opts(color=_STICK_COLORS[j % len(_STICK_COLORS)], line_width=2))
    return hv.Overlay(layers).opts(width=width, height=height, title=title, legend_position="top_right",
                                   tools=["hover"])


def tracking(tracked: pd.DataFrame, quantity: str = "two_theta_deg", *, width=WIDTH + 220, height=260):
    """A tracked quantity against time (h), one coloured series per peak."""
    if tracked is None or tracked.empty or quantity not in tracked:
        return empty("No tracked peaks.", width=width, height=height)
    label = TRACK_QUANTITIES.get(quantity, quantity)
    names = list(dict.fromkeys(tracked["peak"]))
    colors = cycle_colors(names, cmap="Category10") if len(names) <= 10 else cycle_colors(names)
    layers = []
    for name in names:
        sub = tracked[tracked["peak"] == name]
        layers.append(hv.Curve((sub["elapsed_s"] / 3600.0, sub[quantity]), "Time (h)", label, label=str(name))
                      .opts(color=colors[name], line_width=1.5)
                      * hv.Scatter((sub["elapsed_s"] / 3600.0, sub[quantity]), "Time (h)", label)
                      .opts(color=colors[name], size=3))
    return hv.Overlay(layers).opts(width=width, height=height, title=label, legend_position="right",
                                   tools=["hover"])


def williamson_hall_plot(result: dict, *, width=WIDTH, height=HEIGHT):
    """β cos θ against 4 sin θ with the fitted line (intercept = Kλ/τ, slope = ε)."""
    pts = result.get("points") if result else None
    if pts is None or pts.empty:
        return empty("No Williamson–Hall points.", width=width, height=height)
    sc = hv.Scatter((pts["four_sin_theta"], pts["beta_cos_theta_rad"]), "4 sin θ", "β cos θ (rad)").opts(
        size=7, color="#1f77b4")
    xs = np.linspace(0, pts["four_sin_theta"].max() * 1.05, 50)
    line = hv.Curve((xs, result["intercept_rad"] + result["microstrain"] * xs)).opts(color="#d62728", line_dash="dashed")
    return (sc * line).opts(width=width, height=height,
                            title=f"Williamson–Hall: {result['size_nm']:.1f} nm, ε = {result['microstrain']:.2e}")


def waterfall(series, *, offset: float | None = None, every: int = 1, width=WIDTH + 220, height=HEIGHT,
              cmap: str = "viridis"):
    """Patterns stacked upwards in time order, each shifted by ``offset``, coloured by time (h).

    Parameters
    ----------
    series : DataArray (time, two_theta_deg)
    offset : float, optional
        Vertical shift between successive drawn patterns (intensity units); default a
        tenth of the intensity range.
    every : int
        Draw every n-th pattern (long series stay readable).
    """
    if series is None or "time" not in series.dims or series.sizes["time"] < 1:
        return empty("No series for the waterfall.", width=width, height=height)
    every = max(1, int(every))
    z = np.asarray(series.transpose("time", "two_theta_deg").to_numpy(), float)
    if offset is None:
        span = float(np.nanmax(z) - np.nanmin(z)) if np.isfinite(z).any() else 1.0
        offset = 0.1 * span if span > 0 else 1.0
    x = series["two_theta_deg"].to_numpy()
    hours = _hours(series)
    paths = [{"2θ (°)": x, "Intensity + offset": z[i] + k * offset, "Time (h)": float(hours[i])}
             for k, i in enumerate(range(0, z.shape[0], every))]
    return hv.Path(paths, kdims=["2θ (°)", "Intensity + offset"], vdims=["Time (h)"]).opts(
        color="Time (h)", cmap=cmap, colorbar=True, line_width=1, width=width, height=height,
        title=f"Waterfall (every {every} pattern{'s' if every > 1 else ''}, offset {offset:.3g})",
        tools=["hover"])


def pca_plot(result, *, n_components: int | None = None, width=WIDTH + 220, height=240):
    """Scores against time (h) and loadings against 2θ of a :class:`battlab.series.PCAResult`.

    Parameters
    ----------
    result : PCAResult
    n_components : int, optional
        Components drawn; default the significant ones (at least one, at most five).
    """
    if result is None:
        return empty("No PCA (needs at least three patterns).", width=width, height=height)
    avail = [c for c in result.scores.columns if c.startswith("pc")]
    n = n_components or min(max(1, result.n_significant), 5)
    names = avail[:n]
    colors = cycle_colors(names, cmap="Category10")
    t = (result.scores["elapsed_s"] / 3600.0 if "elapsed_s" in result.scores
         else pd.Series(np.arange(len(result.scores)), dtype=float))
    xlabel = "Time (h)" if "elapsed_s" in result.scores else "Pattern"
    ratio = result.explained_variance_ratio
    scores = hv.Overlay([hv.Curve((t, result.scores[c]), xlabel, "Score",
                                  label=f"{c} ({100 * ratio[k]:.1f} %)").opts(color=colors[c], line_width=1.5)
                         for k, c in enumerate(names)]).opts(
        width=width, height=height, legend_position="right", tools=["hover"],
        title=f"PCA scores ({result.n_significant} significant component{'s' if result.n_significant != 1 else ''})")
    axis = result.components.columns[0]
    loads = hv.Overlay([hv.Curve((result.components[axis], result.components[c]), "2θ (°)", "Loading",
                                 label=c).opts(color=colors[c], line_width=1) for c in names]).opts(
        width=width, height=height, legend_position="right", title="PCA loadings", tools=["hover"])
    return (scores + loads).cols(1)
