"""Figures for impedance: Nyquist (equal axes), Bode, DRT, KK residuals, series trends."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import HEIGHT, WIDTH, cycle_colors, empty

__all__ = ["nyquist", "bode", "drt", "kk_residuals", "fit_residuals", "parameter_trend"]

DATA_COLOR, FIT_COLOR = "#1f77b4", "#d62728"
_RE = hv.Dimension("z_real", label="Z′ (Ω)")
_MIM = hv.Dimension("minus_z_imag", label="−Z″ (Ω)")


MARKER_COLOR = "#ff7f0e"


def _marker(x, y, f, kdim, vdim):
    """One highlighted point (the frequency marked in the app), with its f on hover.

    The legend entry does not carry the value: a label that changes as the marker moves
    would make the app draw the figure anew instead of patching it.
    """
    return hv.Scatter(([x], [y], [f]), kdim, [vdim, hv.Dimension("f", label="f (Hz)")],
                      label="marked f").opts(color=MARKER_COLOR, size=14, marker="circle",
                                                     fill_alpha=0.0, line_width=3, tools=["hover"])


def nyquist(frequency_Hz, Z, *, fit=None, fit_label="fit", marker=None, width=WIDTH, height=HEIGHT,
            title="Nyquist"):
    """−Z″ against Z′ with equal scales on both axes (arcs look like arcs).

    ``fit`` is a complex array at the same frequencies (or a dict label -> array);
    ``marker`` is the index of a data point to highlight (the same one :func:`bode` marks).
    """
    z = np.asarray(Z, dtype=complex)
    if z.size == 0:
        return empty("No impedance data.", width=width, height=height)
    f = np.asarray(frequency_Hz, float)
    data = hv.Scatter((z.real, -z.imag, f), _RE, [_MIM, hv.Dimension("f", label="f (Hz)")],
                      label="data").opts(color=DATA_COLOR, size=5, tools=["hover"])
    layers = [data]
    fits = fit if isinstance(fit, dict) else ({fit_label: fit} if fit is not None else {})
    for k, (label, zf) in enumerate(fits.items()):
        zf = np.asarray(zf, dtype=complex)
        layers.append(hv.Curve((zf.real, -zf.imag), _RE, _MIM, label=label)
                      .opts(color=FIT_COLOR if k == 0 else "#2ca02c", line_width=2))
    if marker is not None:
        layers.append(_marker(z.real[marker], -z.imag[marker], f[marker], _RE, _MIM))
    # Framed on the measured points: a model drawn with trial values may run far off, and
    # axes that follow the data alone let a slider move patch the figure in place.
    re_lo, re_hi = np.nanmin(z.real), np.nanmax(z.real)
    im_lo, im_hi = min(0.0, np.nanmin(-z.imag)), np.nanmax(-z.imag)
    pad = 0.05 * max(re_hi - re_lo, im_hi - im_lo, 1e-12)
    return hv.Overlay(layers).opts(width=width, height=height, title=title, data_aspect=1,
                                   xlim=(float(re_lo - pad), float(re_hi + pad)),
                                   ylim=(float(im_lo - pad), float(im_hi + pad)),
                                   legend_position="top_left", show_grid=True)


def bode(frequency_Hz, Z, *, fit=None, marker=None, width=WIDTH, height=HEIGHT):
    """|Z| and phase against frequency (log axes), data as points and fit as lines.

    ``marker`` is the index of a data point to highlight on both panels.
    """
    z = np.asarray(Z, dtype=complex)
    f = np.asarray(frequency_Hz, float)
    if z.size == 0:
        return empty("No impedance data.", width=width, height=height)
    fd = hv.Dimension("frequency_Hz", label="Frequency (Hz)")
    md = hv.Dimension("modulus", label="|Z| (Ω)")
    pd_ = hv.Dimension("phase", label="−phase (°)")
    mod = [hv.Scatter((f, np.abs(z)), fd, md, label="data").opts(color=DATA_COLOR, size=4)]
    ph = [hv.Scatter((f, -np.angle(z, deg=True)), fd, pd_, label="data").opts(color=DATA_COLOR, size=4)]
    if fit is not None:
        zf = np.asarray(fit, dtype=complex)
        mod.append(hv.Curve((f, np.abs(zf)), fd, md, label="fit").opts(color=FIT_COLOR, line_width=2))
        ph.append(hv.Curve((f, -np.angle(zf, deg=True)), fd, pd_, label="fit")
                  .opts(color=FIT_COLOR, line_width=2))
    if marker is not None:
        mod.append(_marker(f[marker], np.abs(z[marker]), f[marker], fd, md))
        ph.append(_marker(f[marker], -np.angle(z[marker], deg=True), f[marker], fd, pd_))
    top = hv.Overlay(mod).opts(logx=True, logy=True, width=width, height=height // 2 + 30,
                               title="Bode", show_legend=False, tools=["hover"])
    bottom = hv.Overlay(ph).opts(logx=True, width=width, height=height // 2 + 30, show_legend=False,
                                 tools=["hover"])
    return (top + bottom).cols(1).opts(shared_axes=True)


def drt(result, *, width=WIDTH, height=HEIGHT):
    """γ(τ) on a log τ axis with the peaks marked (a :class:`~battlab.echem.eis.DRTResult`)."""
    if result is None:
        return empty("No DRT computed.", width=width, height=height)
    td = hv.Dimension("tau_s", label="τ (s)")
    gd = hv.Dimension("gamma_ohm", label="γ (Ω)")
    curve = hv.Curve((result.tau_s, result.gamma_ohm), td, gd).opts(color="black", line_width=2)
    layers = [curve]
    pk = result.peaks
    if len(pk):
        layers.append(hv.Scatter((pk["tau_s"], pk["gamma_ohm"], pk["resistance_ohm"]), td,
                                 [gd, hv.Dimension("R", label="R (Ω)")])
                      .opts(color=FIT_COLOR, size=8, marker="triangle", tools=["hover"]))
    return hv.Overlay(layers).opts(logx=True, width=width, height=height,
                                   title=f"DRT (λ = {result.lambda_:.2g}, {result.lambda_method})")


def kk_residuals(result, *, width=WIDTH, height=HEIGHT // 2 + 60):
    """Lin-KK relative residuals (%) against frequency, with the ±threshold band."""
    if result is None:
        return empty("No KK test.", width=width, height=height)
    r = result.residuals
    fd = hv.Dimension("frequency_Hz", label="Frequency (Hz)")
    rd = hv.Dimension("residual_pct", label="Δ/|Z| (%)")
    thr = 100 * result.threshold
    band = hv.Area((np.r_[r.frequency_Hz.min(), r.frequency_Hz.max()], [thr, thr], [-thr, -thr]),
                   fd, [rd, "lower"]).opts(color="#dddddd", alpha=0.6, line_alpha=0)
    re = hv.Curve((r.frequency_Hz, 100 * r.residual_real), fd, rd, label="Δ real") \
        .opts(color=DATA_COLOR, line_width=1.5)
    im = hv.Curve((r.frequency_Hz, 100 * r.residual_imag), fd, rd, label="Δ imag") \
        .opts(color=FIT_COLOR, line_width=1.5)
    title = ("KK residuals: pass" if result.passed else "KK residuals: FAIL")
    return (band * re * im).opts(logx=True, width=width, height=height, title=title,
                                 legend_position="right")


def fit_residuals(frequency_Hz, Z, fit, *, chi_squared=None, width=WIDTH, height=HEIGHT // 2 + 60):
    """Relative fit residuals (Z − Z_fit)/|Z| in % against frequency, real and imaginary.

    Random scatter around zero is a good fit; a wave says the circuit misses a process.
    """
    if fit is None:
        return empty("No fit yet.", width=width, height=height)
    z = np.asarray(Z, dtype=complex)
    zf = np.asarray(fit, dtype=complex)
    f = np.asarray(frequency_Hz, float)
    rel = (z - zf) / np.abs(z) * 100
    fd = hv.Dimension("frequency_Hz", label="Frequency (Hz)")
    rd = hv.Dimension("residual_pct", label="(Z − Z_fit)/|Z| (%)")
    re = hv.Curve((f, rel.real), fd, rd, label="real").opts(color=DATA_COLOR, line_width=1.5)
    im = hv.Curve((f, rel.imag), fd, rd, label="imag").opts(color=FIT_COLOR, line_width=1.5)
    zero = hv.HLine(0.0).opts(color="grey", line_width=1)
    title = "Fit residuals" + (f" (χ² = {chi_squared:.3g})" if chi_squared is not None else "")
    return (zero * re * im).opts(logx=True, width=width, height=height, title=title, legend_position="right",
                                 tools=["hover"])


def parameter_trend(table: pd.DataFrame, parameters, *, x: str = "spectrum", current=None,
                    width=WIDTH, height=HEIGHT):
    """Fitted parameters against SOC/time/spectrum index, with ±1σ error bars.

    ``current`` marks the spectrum shown in the other plots.
    """
    if table is None or table.empty or x not in table:
        return empty("Run the series fit to see parameter trends.", width=width, height=height)
    params = [p for p in parameters if p in table]
    if not params:
        return empty("No fitted parameters to show.", width=width, height=height)
    colors = cycle_colors(params, cmap="Category10") if len(params) <= 10 else cycle_colors(params)
    xd = hv.Dimension(x, label=x)
    vd = hv.Dimension("value", label="value (unit in legend)")
    layers = []
    for p in params:
        g = table[[x, p] + ([f"{p}_se"] if f"{p}_se" in table else [])].dropna()
        layers.append(hv.Curve((g[x], g[p]), xd, vd, label=p).opts(color=colors[p], line_width=2))
        if f"{p}_se" in g:
            layers.append(hv.ErrorBars((g[x], g[p], g[f"{p}_se"]), xd, [vd, "err"])
                          .opts(color=colors[p], alpha=0.5))
    if current is not None:
        layers.append(hv.VLine(float(current)).opts(color="grey", line_dash="dashed"))
    return hv.Overlay(layers).opts(width=width, height=height, title="Fitted parameters",
                                   legend_position="right", tools=["hover"])
