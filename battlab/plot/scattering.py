"""Figures for small-angle scattering and reflectometry: I(q) with fits, Guinier and Porod plots,
trends against the cycling, R(q) (log R or R·q⁴) with the model, SLD depth profiles."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd

from battlab.plot._core import HEIGHT, WIDTH, cycle_colors, empty

__all__ = ["TREND_X", "guinier_plot", "intensity_plot", "porod_plot", "reflectivity_plot", "sld_profile_plot",
           "trend_plot"]

#: x axes of the trend plots: column -> label ("time" is elapsed_s in hours)
TREND_X = {"time": "Time (h)", "voltage_V": "Potential (V)", "potential_V": "Potential (V)",
           "capacity_mAh": "Capacity (mAh)", "soc": "SOC"}
_COMPONENT_COLORS = {"Porod": "#1f77b4", "globule": "#2ca02c", "background": "#7f7f7f"}
_Q = hv.Dimension("q_inv_A", label="q (Å⁻¹)")


def _positive(x, y):
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    return x[keep], y[keep]


def intensity_plot(curve, *, model=None, components=None, guinier_range=None, porod_range=None,
                   width=WIDTH + 160, height=HEIGHT + 40, title="I(q)"):
    """Log–log I(q) (grey points with σ) with the fitted model (red) and its Eq. (1) components.

    ``model`` is (q, I) of the fit; ``components`` a dict name -> (q, I); the Guinier
    and Porod ranges (q_min, q_max) are shaded.
    """
    if curve is None:
        return empty("No curve.", width=width, height=height)
    ylab = f"I ({curve.attrs.get('units', 'a.u.')})"
    q, y = _positive(curve["q_inv_A"].to_numpy(), curve.to_numpy())
    layers = [hv.Scatter((q, y), _Q, ylab, label="data").opts(color="#555555", size=3)]
    for rng, color in ((guinier_range, "#ffbb78"), (porod_range, "#aec7e8")):
        if rng is not None:
            layers.append(hv.VSpan(*rng).opts(color=color, alpha=0.3))
    for name, (cq, cy) in (components or {}).items():
        cq, cy = _positive(np.asarray(cq, float), np.asarray(cy, float))
        if cq.size:
            layers.append(hv.Curve((cq, cy), _Q, ylab, label=name).opts(
                color=_COMPONENT_COLORS.get(name, "#9467bd"), line_dash="dashed", line_width=1.5))
    if model is not None:
        mq, my = _positive(np.asarray(model[0], float), np.asarray(model[1], float))
        layers.append(hv.Curve((mq, my), _Q, ylab, label="fit").opts(color="#d62728", line_width=2))
    return hv.Overlay(layers).opts(width=width, height=height, title=title, logx=True, logy=True,
                                   legend_position="bottom_left", tools=["hover"])


def guinier_plot(curve, fit=None, *, background: float = 0.0, width=WIDTH, height=HEIGHT):
    """ln I against q² at low q with the Guinier line over its fitted range."""
    if curve is None:
        return empty("No curve.", width=width, height=height)
    q = curve["q_inv_A"].to_numpy()
    y = curve.to_numpy() - background
    upper = 2.0 * fit.q_max_inv_A if fit is not None else np.quantile(q, 0.3)
    keep = (q <= upper) & (y > 0)
    x2 = hv.Dimension("q2", label="q² (Å⁻²)")
    lny = hv.Dimension("lnI", label="ln I")
    layers = [hv.Scatter((q[keep] ** 2, np.log(y[keep])), x2, lny, label="data").opts(color="#555555", size=4)]
    title = "Guinier plot"
    if fit is not None:
        qq = np.linspace(0, fit.q_max_inv_A, 50)
        layers.append(hv.Curve((qq ** 2, np.log(fit.I0) - (qq * fit.Rg_A) ** 2 / 3), x2, lny, label="Guinier")
                      .opts(color="#d62728", line_width=2))
        layers.append(hv.VSpan(fit.q_min_inv_A ** 2, fit.q_max_inv_A ** 2).opts(color="#ffbb78", alpha=0.3))
        title = f"Guinier: R_g = {fit.Rg_A:.1f} ± {fit.Rg_err_A:.1f} Å (q·R_g ≤ {fit.qRg_max:.2f})"
    return hv.Overlay(layers).opts(width=width, height=height, title=title, tools=["hover"],
                                   legend_position="top_right")


def porod_plot(curve, fit=None, *, width=WIDTH, height=HEIGHT):
    """I·q⁴ against q: the Porod plateau K (+ B·q⁴ rising with a flat background)."""
    if curve is None:
        return empty("No curve.", width=width, height=height)
    q = curve["q_inv_A"].to_numpy()
    y = curve.to_numpy()
    iq4 = hv.Dimension("Iq4", label="I·q⁴")
    layers = [hv.Scatter((q, y * q ** 4), _Q, iq4, label="data").opts(color="#555555", size=3)]
    title = "Porod plot"
    if fit is not None:
        qq = np.linspace(fit.q_min_inv_A, fit.q_max_inv_A, 80)
        layers.append(hv.Curve((qq, fit.K + fit.background * qq ** 4), _Q, iq4, label="K + B·q⁴")
                      .opts(color="#d62728", line_width=2))
        layers.append(hv.HLine(fit.K).opts(color="#1f77b4", line_dash="dashed"))
        title = f"Porod: K = {fit.K:.3g} ± {fit.K_err:.2g}"
    return hv.Overlay(layers).opts(width=width, height=height, title=title, logx=True, tools=["hover"],
                                   legend_position="top_left")


def trend_plot(table: pd.DataFrame, columns: dict, *, x: str = "time", title: str = "", ylabel: str = "",
               width=WIDTH, height=HEIGHT - 40, logy: bool = False):
    """Per-curve fit results (``columns`` {column: legend}) against time, potential, capacity or SOC.

    Error bars are drawn where the table has ``<column>_err``. Points are joined in time
    order, so lithiation and delithiation draw a loop against potential or SOC.
    """
    present = {c: lab for c, lab in columns.items() if table is not None and c in table and table[c].notna().any()}
    if not present:
        return empty("Nothing fitted yet.", width=width, height=height)
    if x == "time":
        xs = table["elapsed_s"].to_numpy(float) / 3600 if "elapsed_s" in table else np.arange(len(table), dtype=float)
    elif x in table and table[x].notna().any():
        xs = table[x].to_numpy(float)
    else:
        return empty(f"{TREND_X.get(x, x)} needs the cycling record of the cell.", width=width, height=height)
    xd = hv.Dimension(x, label=TREND_X.get(x, x))
    yd = hv.Dimension("value", label=ylabel or next(iter(present.values())))
    colors = cycle_colors(list(present), cmap="Category10")
    layers = []
    for col, lab in present.items():
        ys = table[col].to_numpy(float)
        layers.append(hv.Curve((xs, ys), xd, yd, label=lab).opts(color=colors[col], line_width=1.5))
        layers.append(hv.Scatter((xs, ys), xd, yd).opts(color=colors[col], size=4))
        if f"{col}_err" in table:
            err = table[f"{col}_err"].to_numpy(float)
            ok = np.isfinite(err) & np.isfinite(ys)
            if ok.any():
                layers.append(hv.ErrorBars((xs[ok], ys[ok], err[ok]), xd, [yd, "err"]).opts(color=colors[col]))
    return hv.Overlay(layers).opts(width=width, height=height, title=title, logy=logy, tools=["hover"],
                                   legend_position="top_left")


def reflectivity_plot(curve, *, model=None, mode: str = "rq4", width=WIDTH + 160, height=HEIGHT + 40,
                      title: str = "Reflectivity"):
    """R(q) as log R or R·q⁴ (data with σ, model in red); R·q⁴ removes the Fresnel q⁻⁴ fall."""
    if curve is None:
        return empty("No curve.", width=width, height=height)
    if mode not in ("rq4", "log"):
        from battlab.errors import InvalidParameterError

        raise InvalidParameterError("mode must be 'rq4' or 'log'.")
    q = curve["q_inv_A"].to_numpy()
    r = curve.to_numpy()
    s = curve["sigma"].to_numpy() if "sigma" in curve.coords else np.full_like(q, np.nan)
    f = q ** 4 if mode == "rq4" else np.ones_like(q)
    ylab = "R·q⁴ (Å⁻⁴)" if mode == "rq4" else "R"
    yd = hv.Dimension("R", label=ylab)
    keep = (r > 0) & np.isfinite(r)
    layers = [hv.Scatter((q[keep], (r * f)[keep]), _Q, yd, label="data").opts(color="#555555", size=3)]
    ok = keep & np.isfinite(s) & (s < r)  # log axes cannot draw bars reaching below zero
    if ok.any():
        layers.append(hv.ErrorBars((q[ok], (r * f)[ok], (s * f)[ok]), _Q, [yd, "err"]).opts(color="#999999"))
    if model is not None:
        mq, mr = np.asarray(model[0], float), np.asarray(model[1], float)
        mf = mq ** 4 if mode == "rq4" else 1.0
        layers.append(hv.Curve((mq, mr * mf), _Q, yd, label="model").opts(color="#d62728", line_width=2))
    return hv.Overlay(layers).opts(width=width, height=height, title=title, logy=True, tools=["hover"],
                                   legend_position="top_right")


def sld_profile_plot(profiles, *, width=WIDTH, height=HEIGHT + 40, title: str = "SLD depth profile"):
    """SLD against depth: one profile (DataFrame from :func:`battlab.scattering.sld_profile`) or a dict of them."""
    if profiles is None or (isinstance(profiles, dict) and not profiles):
        return empty("No layer model.", width=width, height=height)
    if isinstance(profiles, pd.DataFrame):
        profiles = {"model": profiles}
    colors = cycle_colors(list(profiles))
    zd = hv.Dimension("z_A", label="Depth z (Å)")
    sd = hv.Dimension("sld", label="SLD (10⁻⁶ Å⁻²)")
    layers = [hv.Curve((p["z_A"], p["sld_1e-6_per_A2"]), zd, sd, label=str(name)).opts(color=colors[name],
                                                                                       line_width=2)
              for name, p in profiles.items()]
    return hv.Overlay(layers).opts(width=width, height=height, title=title, tools=["hover"],
                                   legend_position="top_left", show_legend=len(layers) > 1)
