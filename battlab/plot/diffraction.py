"""Figures for diffraction: 2θ × time contour with the voltage curve, patterns with fits and
reference sticks, tracked peak quantities and Williamson–Hall."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot import series as S
from battlab.plot._core import HEIGHT, WIDTH, empty

__all__ = [
    "TRACK_QUANTITIES",
    "contour",
    "contour_with_voltage",
    "pattern",
    "pca_plot",
    "tracking",
    "waterfall",
    "williamson_hall_plot",
]

#: tracked column -> axis label
TRACK_QUANTITIES = {"two_theta_deg": "Peak position (° 2θ)", "d_A": "d (Å)", "strain": "Strain (d − d0)/d0",
                    "fwhm_deg": "FWHM (° 2θ)", "area": "Integrated intensity (counts·°)"}

# Fits are drawn red; sticks avoid red so the two never look alike.
_STICK_COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]


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
            # A phase with no reflection in range keeps its (empty) layer and legend entry, so
            # that a wavelength change redraws the figure in place rather than anew.
            sub = sticks[(sticks["phase"] == ph) & sticks["two_theta_deg"].between(lo, hi)]
            top = ymin + (ymax - ymin) * (0.35 - 0.08 * (j % 4))
            segs = hv.Segments((sub["two_theta_deg"], np.full(len(sub), ymin), sub["two_theta_deg"],
                                np.full(len(sub), top)), ["2θ (°)", "Intensity", "x1", "y1"], label=ph)
            layers.append(segs.opts(color=_STICK_COLORS[j % len(_STICK_COLORS)], line_width=2))
    return hv.Overlay(layers).opts(width=width, height=height, title=title, legend_position="top_right",
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


def contour(series, *, log: bool = False, width=WIDTH + 220, height=HEIGHT, current: int | None = None,
            cmap: str = "viridis"):
    """Intensity map: 2θ on x, elapsed time (h) on y; a marker line at pattern ``current``."""
    return S.series_map(series, log=log, width=width, height=height, current=current, cmap=cmap,
                        title="Operando pattern map")


def contour_with_voltage(series, echem, *, x: str = "time", clock_offset_s: float = 0.0, time_basis: str = "auto",
                         current=None, log=False, width=WIDTH + 220):
    """The map and, beside it, the voltage curve on a shared time, capacity or SOC axis (vertical).

    See :func:`battlab.plot.series.series_map_with_voltage`.
    """
    return S.series_map_with_voltage(series, echem, x=x, clock_offset_s=clock_offset_s, time_basis=time_basis,
                                     current=current, log=log, width=width, title="Operando pattern map")


def tracking(tracked: pd.DataFrame, quantity: str = "two_theta_deg", *, x: str = "time", width=WIDTH + 220,
             height=260):
    """A tracked quantity against time (h), capacity or SOC (``x``), one coloured series per peak."""
    return S.tracked_quantity(tracked, quantity, group="peak", label=TRACK_QUANTITIES.get(quantity, quantity),
                              x=x, width=width, height=height)


def waterfall(series, *, offset: float | None = None, every: int = 1, width=WIDTH + 220, height=HEIGHT,
              cmap: str = "viridis", x: str = "time", per_curve: pd.DataFrame | None = None):
    """Patterns stacked upwards in time order, coloured by time, capacity or SOC
    (see :func:`battlab.plot.series.waterfall`)."""
    return S.waterfall(series, offset=offset, every=every, width=width, height=height, cmap=cmap, what="patterns",
                       x=x, per_curve=per_curve)


def pca_plot(result, *, n_components: int | None = None, width=WIDTH + 220, height=240):
    """Scores against time (h) and loadings against 2θ of a :class:`battlab.series.PCAResult`."""
    return S.pca_plot(result, n_components=n_components, axis_title="2θ (°)", width=width, height=height)
