"""Figures for spectroscopy: one spectrum with its baseline, fitted bands and windows; a
Mössbauer transmission fit with its sites; an EPR derivative fit with its lines."""

from __future__ import annotations

import holoviews as hv
import numpy as np

from battlab.plot._core import HEIGHT, WIDTH, empty
from battlab.plot.series import axis_label

__all__ = ["epr_fit", "mossbauer_fit", "spectrum"]

_COMPONENT_COLORS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e"]


def spectrum(spec, *, baseline=None, components=None, total=None, windows=None, reverse_x: bool = False,
             width=WIDTH + 220, height=HEIGHT, title: str = "Spectrum"):
    """One spectrum (grey) with its baseline (dashed), fitted components and their sum (red).

    Parameters
    ----------
    spec : DataArray
        A 1-D spectrum.
    baseline : array_like, optional
        Baseline on the spectrum's axis.
    components : dict of name -> (x, y), optional
        Fitted component curves (baseline included or not, as the caller draws them).
    total : (x, y), optional
        The full fitted model.
    windows : dict of name -> (low, high), optional
        Shaded analysis windows.
    reverse_x : bool
        Draw the axis decreasing (binding energy, FTIR wavenumbers, NMR shifts by convention).
    """
    if spec is None:
        return empty("No spectrum.", width=width, height=height)
    from battlab.series import curve_axis

    axis = curve_axis(spec)
    xl = axis_label(spec, axis)
    x = spec[axis].to_numpy()
    y = spec.to_numpy()
    layers = [hv.Curve((x, y), xl, "Intensity", label="data").opts(color="#444444", line_width=1)]
    for lo, hi in (windows or {}).values():
        layers.append(hv.VSpan(lo, hi).opts(color="#ffbb78", alpha=0.25))
    if baseline is not None:
        layers.append(hv.Curve((x, np.asarray(baseline, float)), xl, "Intensity", label="baseline")
                      .opts(color="#7f7f7f", line_dash="dashed", line_width=1.5))
    for k, (name, (cx, cy)) in enumerate((components or {}).items()):
        layers.append(hv.Curve((cx, cy), xl, "Intensity", label=str(name))
                      .opts(color=_COMPONENT_COLORS[k % len(_COMPONENT_COLORS)], line_width=1.5))
    if total is not None:
        layers.append(hv.Curve(total, xl, "Intensity", label="fit").opts(color="#d62728", line_width=2))
    opts = {"width": width, "height": height, "title": title, "legend_position": "top_right", "tools": ["hover"]}
    if reverse_x:
        opts["invert_xaxis"] = True
    return hv.Overlay(layers).opts(**opts)


def mossbauer_fit(fit, *, width=WIDTH + 220, height=HEIGHT, title: str = "Mössbauer spectrum"):
    """Relative transmission (points), every site's absorption and the total fit (red).

    Parameters
    ----------
    fit : battlab.spectra.mossbauer.MossbauerFit or None
    """
    if fit is None:
        return empty("No Mössbauer fit.", width=width, height=height)
    xl, yl = "Velocity (mm/s)", "Relative transmission"
    base = fit.baseline_counts
    v = fit.velocity_mm_s
    layers = [hv.Scatter((v, fit.counts / base), xl, yl, label="data").opts(color="#444444", size=2)]
    for k, (name, curve) in enumerate(fit.components.items()):
        layers.append(hv.Curve((v, curve / base), xl, yl, label=str(name))
                      .opts(color=_COMPONENT_COLORS[k % len(_COMPONENT_COLORS)], line_width=1.5))
    layers.append(hv.Curve((v, fit.model / base), xl, yl, label="fit").opts(color="#d62728", line_width=2))
    return hv.Overlay(layers).opts(width=width, height=height, title=title, legend_position="bottom_right",
                                   tools=["hover"])


def epr_fit(fit, *, spectrum=None, width=WIDTH + 220, height=HEIGHT, title: str = "EPR spectrum"):
    """A first-derivative EPR spectrum (grey), its fitted lines and their sum (red).

    Parameters
    ----------
    fit : battlab.spectra.epr.EPRFit or None
        Without a fit, ``spectrum`` is drawn alone.
    spectrum : DataArray, optional
    """
    xl, yl = "Magnetic field (mT)", "dχ''/dB (a.u.)"
    if fit is None:
        if spectrum is None:
            return empty("No EPR spectrum.", width=width, height=height)
        return hv.Curve((spectrum["field_mT"].to_numpy(), spectrum.to_numpy()), xl, yl, label="data").opts(
            color="#444444", line_width=1, width=width, height=height, title=title, tools=["hover"])
    b = fit.field_mT
    layers = [hv.Curve((b, fit.signal), xl, yl, label="data").opts(color="#444444", line_width=1)]
    for k, (name, curve) in enumerate(fit.components.items()):
        layers.append(hv.Curve((b, curve), xl, yl, label=str(name))
                      .opts(color=_COMPONENT_COLORS[k % len(_COMPONENT_COLORS)], line_width=1.5))
    layers.append(hv.Curve((b, fit.model), xl, yl, label="fit").opts(color="#d62728", line_width=1.5))
    # Zoom on the lines: ± 6 × the broadest fitted FWHM around the centre.
    widest = float(fit.table["fwhm_mT"].max()) if len(fit.table) else float(np.ptp(b))
    center = float(np.average(fit.table["center_mT"], weights=fit.table["area"].clip(lower=1e-30)))
    lo, hi = max(b.min(), center - 6 * widest), min(b.max(), center + 6 * widest)
    return hv.Overlay(layers).opts(width=width, height=height, title=title, legend_position="top_right",
                                   tools=["hover"], xlim=(lo, hi))
