"""Reaction fronts: front position in a kymograph, kinetic models, two-regime fits.

Front detection (:func:`detect_front`) per kymograph row:

* ``"threshold"`` — first crossing of a level, walking from the line's start (linear
  interpolation between samples);
* ``"gradient"`` — steepest point of the smoothed profile near that crossing, refined by
  a parabola;
* ``"erf"`` — least-squares fit of a + b·erf((s − s₀)/w) near that crossing; also gives
  the interface width (10–90 % = 1.8124 w).

Kinetic models (:func:`fit_front_models`), x the reacted depth and t the time:

=====================  ==========================================  ======================
linear                 x = x₀ + k t                                interface-controlled
parabolic              x² = x₀² + 2 D t                             diffusion-controlled
power law              x = k tⁿ                                     n ≈ 1 reaction, 0.5 diffusion
Deal–Grove             x²/B + x/(B/A) = t + τ                       linear then parabolic
shrinking core (GB)    1 − 2X/3 − (1 − X)^{2/3} = k t,              sphere, product-layer
                       X = 1 − ((r₀ − x)/r₀)³                       diffusion (needs r₀)
JMAK                   x = x∞ (1 − exp(−(k t)ⁿ))                     nucleation-driven
=====================  ==========================================  ======================

Each fit reports the parameters, AIC = N ln(SSE/N) + 2p (lower is better), R² and
bootstrap 95 % intervals (residuals resampled and refitted). :func:`fit_two_regime`
fits two power laws joined at a free breakpoint (grid over the frame times, linear least
squares in log–log space for each candidate).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["FrontFits", "MODELS", "detect_front", "fit_front_models", "fit_shrinking_core", "fit_two_regime",
           "front_velocity", "shrinking_core_conversion"]

_ERF_10_90 = 1.8124


def _smooth(y, sigma):
    if sigma and sigma > 0:
        from scipy.ndimage import gaussian_filter1d

        return gaussian_filter1d(y, sigma, mode="nearest")
    return y


def _first_crossing(s, y, level):
    above = y > level
    flips = np.nonzero(above[1:] != above[:-1])[0]
    if flips.size == 0:
        return np.nan
    i = flips[0]
    y0, y1 = y[i], y[i + 1]
    return s[i] + (level - y0) / (y1 - y0) * (s[i + 1] - s[i])


def detect_front(kymo, *, method: str = "threshold", level: float | None = None, smooth_px: float = 1.0,
                 window_px: float = 8.0, search_px=None, direction: str = "forward") -> pd.DataFrame:
    """Sub-pixel front position in every row of a kymograph.

    Parameters
    ----------
    kymo : DataArray
        From :func:`battlab.imaging.kymograph.kymograph`, dims ``(time, s)``.
    method : {"threshold", "gradient", "erf"}
    level : float, optional
        Intensity of the front (threshold). Default: halfway between the first and last
        3 samples of the first row inside the search range (the two sides of the front).
    smooth_px : float
        Gaussian smoothing (σ in samples) before the search.
    window_px : float
        Half-width around the threshold crossing used by "gradient" and "erf".
    search_px : (float, float), optional
        Only this s range (px along the line) is searched.
    direction : {"forward", "backward"}
        Walk from the line's start or from its end to the first crossing. A line across
        a wire gives both edges of its core (forward and backward): their distance is
        free of stage drift across the line.

    Returns
    -------
    DataFrame
        ``frame``, ``time_s``, ``front_px`` and ``front_<unit>`` (when calibrated);
        "erf" adds ``width_px`` (10–90 %).
    """
    from scipy.optimize import curve_fit
    from scipy.special import erf

    if method not in ("threshold", "gradient", "erf"):
        raise InvalidParameterError("method must be 'threshold', 'gradient' or 'erf'.")
    if tuple(kymo.dims) != ("time", "s"):
        raise InvalidParameterError("expected a kymograph with dims (time, s).")
    s_all = kymo["s_px"].to_numpy()
    data = np.asarray(kymo.values, float)
    sel = np.ones_like(s_all, bool) if search_px is None else (s_all >= search_px[0]) & (s_all <= search_px[1])
    if sel.sum() < 5:
        raise InvalidParameterError("the search range holds fewer than 5 samples.")
    if direction not in ("forward", "backward"):
        raise InvalidParameterError("direction must be 'forward' or 'backward'.")
    s = s_all[sel]
    if direction == "backward":
        s, data, sel = s[::-1], data[:, ::-1], sel[::-1]
    step = float(np.median(np.abs(np.diff(s))))
    if level is None:
        first = _smooth(data[0, sel], smooth_px)
        level = 0.5 * (np.median(first[:3]) + np.median(first[-3:]))
    rows = []
    for i, row in enumerate(data):
        y = _smooth(row[sel], smooth_px)
        x = _first_crossing(s, y, level)
        width = np.nan
        if method != "threshold" and np.isfinite(x):
            win = np.abs(s - x) <= window_px
            if win.sum() >= 5:
                sw, yw = s[win], y[win]
                if method == "gradient":
                    g = np.abs(np.gradient(yw, sw))
                    j = int(np.argmax(g))
                    if 0 < j < g.size - 1:
                        den = g[j - 1] - 2 * g[j] + g[j + 1]
                        x = sw[j] + (0.5 * (g[j - 1] - g[j + 1]) / den * (sw[j + 1] - sw[j]) if den < 0 else 0.0)
                    else:
                        x = sw[j]
                else:
                    raw = row[sel][win]
                    a0, b0 = 0.5 * (raw[0] + raw[-1]), 0.5 * (raw[-1] - raw[0]) * np.sign(sw[-1] - sw[0])
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            p, _ = curve_fit(lambda t, a, b, s0, w: a + b * erf((t - s0) / w), sw, raw,
                                             p0=(a0, b0, x, 2 * step), maxfev=2000)
                        if abs(p[2] - x) <= window_px:
                            x, width = p[2], _ERF_10_90 * abs(p[3])
                    except RuntimeError:
                        pass
        rows.append((i, x, width))
    arr = np.array(rows, float)
    times = kymo["time_s"].to_numpy() if "time_s" in kymo.coords else np.arange(len(arr), dtype=float)
    out = pd.DataFrame({"frame": arr[:, 0].astype(int), "time_s": times, "front_px": arr[:, 1]})
    px = kymo.attrs.get("pixel_size")
    if px:
        out[f"front_{kymo.attrs.get('length_unit', 'nm')}"] = out["front_px"] * px
    if method == "erf":
        out["width_px"] = arr[:, 2]
    out.attrs["battlab"] = {"front": {"method": method, "level": float(level), "smooth_px": smooth_px,
                                      "direction": direction,
                                      "window_px": window_px, "search_px": search_px}}
    return out


# --------------------------------------------------------------------------- models


def _gb_inverse(y):
    """X from g(X) = 1 − 2X/3 − (1 − X)^{2/3} (monotonic on [0, 1], g(1) = 1/3)."""
    grid = np.linspace(0, 1, 4001)
    g = 1 - 2 * grid / 3 - (1 - grid) ** (2 / 3)
    return np.interp(np.clip(y, 0, 1 / 3), g, grid)


def _m_linear(t, k, x0):
    return x0 + k * t


def _m_parabolic(t, D, x0):
    return np.sqrt(np.clip(x0 ** 2 + 2 * D * t, 0, None))


def _m_power(t, k, n):
    return k * np.clip(t, 0, None) ** n


def _m_deal_grove(t, A, B, tau):
    return A / 2 * (np.sqrt(np.clip(1 + 4 * B * (t + tau) / A ** 2, 0, None)) - 1)


def _m_jmak(t, x_inf, k, n):
    return x_inf * (1 - np.exp(-(np.clip(k * t, 0, None)) ** n))


@dataclass(frozen=True)
class _Model:
    func: object
    params: tuple
    meaning: str


MODELS = {
    "linear": _Model(_m_linear, ("k", "x0"), "interface (reaction) controlled: x = x0 + k t"),
    "parabolic": _Model(_m_parabolic, ("D", "x0"), "diffusion controlled: x² = x0² + 2 D t (D_eff)"),
    "power_law": _Model(_m_power, ("k", "n"), "x = k tⁿ (n = 1 reaction, 0.5 diffusion limited)"),
    "deal_grove": _Model(_m_deal_grove, ("A", "B", "tau"), "mixed: x²/B + x/(B/A) = t + τ"),
    "jmak": _Model(_m_jmak, ("x_inf", "k", "n"), "JMAK/Avrami: x = x∞ (1 − exp(−(k t)ⁿ))"),
    "shrinking_core_diffusion": _Model(None, ("k",), "sphere, product-layer diffusion (Ginstling–Brounshtein)"),
}


def _p0(name, t, x):
    span_t = max(float(np.ptp(t)), 1e-12)
    xmax = max(float(np.max(np.abs(x))), 1e-12)
    if name == "linear":
        k, x0 = np.polyfit(t, x, 1)
        return (k, x0)
    if name == "parabolic":
        slope, icpt = np.polyfit(t, x ** 2, 1)
        return (max(slope / 2, 1e-12), np.sqrt(max(icpt, 0)))
    if name == "power_law":
        ok = (t > 0) & (x > 0)
        if ok.sum() >= 2:
            n, lk = np.polyfit(np.log(t[ok]), np.log(x[ok]), 1)
            return (np.exp(lk), n)
        return (xmax / span_t, 1.0)
    if name == "deal_grove":
        return (xmax, xmax ** 2 / span_t, 0.0)
    if name == "jmak":
        return (1.2 * xmax, 1.0 / span_t, 1.5)
    raise InvalidParameterError(name)


def _fit_one(name, t, x, r0=None, p0=None):
    from scipy.optimize import curve_fit

    if name == "shrinking_core_diffusion":
        X = 1 - ((r0 - np.clip(x, 0, r0)) / r0) ** 3
        g = 1 - 2 * X / 3 - (1 - X) ** (2 / 3)
        k = float(np.sum(g * t) / np.sum(t * t))

        def pred(tt, k=k):
            Xp = _gb_inverse(k * tt)
            return r0 * (1 - (1 - Xp) ** (1 / 3))
        return np.array([k]), pred
    model = MODELS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, _ = curve_fit(model.func, t, x, p0=p0 if p0 is not None else _p0(name, t, x), maxfev=20000)
    return p, (lambda tt, p=p: model.func(tt, *p))


@dataclass
class FrontFits:
    """Kinetic model fits of one front trajectory.

    Attributes
    ----------
    summary : DataFrame
        One row per model: ``model``, ``meaning``, ``aic``, ``delta_aic``, ``r_squared``,
        ``sse``, ``n_points``, ``n_params``, ranked by AIC.
    parameters : DataFrame
        One row per (model, parameter): ``value``, ``ci_low``, ``ci_high`` (bootstrap 95 %).
    """

    summary: pd.DataFrame
    parameters: pd.DataFrame
    t: np.ndarray
    x: np.ndarray
    predictors: dict = field(default_factory=dict, repr=False)

    def predict(self, model: str, t):
        if model not in self.predictors:
            raise InvalidParameterError(f"no fit for {model!r}; fitted: {list(self.predictors)}.")
        return self.predictors[model](np.asarray(t, float))

    def value(self, model: str, parameter: str) -> float:
        row = self.parameters[(self.parameters["model"] == model) & (self.parameters["parameter"] == parameter)]
        if row.empty:
            raise InvalidParameterError(f"{model!r} has no parameter {parameter!r}.")
        return float(row["value"].iloc[0])


def _check_tx(t, x):
    t, x = np.asarray(t, float), np.asarray(x, float)
    if t.shape != x.shape or t.ndim != 1:
        raise InvalidParameterError("time and position must be 1-D arrays of equal length.")
    ok = np.isfinite(t) & np.isfinite(x)
    t, x = t[ok], x[ok]
    if t.size < 5:
        raise MissingDataError(f"only {t.size} finite front positions; a kinetics fit needs at least 5.")
    return t, x


def fit_front_models(time_s, position, *, models=("linear", "parabolic", "power_law", "deal_grove", "jmak"),
                     t0_s: float = 0.0, r0: float | None = None, n_bootstrap: int = 200, rng=0) -> FrontFits:
    """Fit kinetic models to a front trajectory x(t) and rank them by AIC.

    Parameters
    ----------
    time_s, position : array_like
        Time and reacted depth (any length unit; rates come out in that unit).
    models : sequence of str
        Any of :data:`MODELS`; ``"shrinking_core_diffusion"`` needs ``r0``.
    t0_s : float
        Reaction start; times are measured from it and earlier points dropped.
    r0 : float, optional
        Particle/wire radius in the position's unit (shrinking-core model).
    n_bootstrap : int
        Bootstrap refits for the 95 % intervals (0 = none).
    """
    t, x = _check_tx(time_s, position)
    keep = t >= t0_s
    t, x = t[keep] - t0_s, x[keep]
    if t.size < 5:
        raise MissingDataError("fewer than 5 points after t0_s.")
    gen = np.random.default_rng(rng)
    rows, prows, predictors = [], [], {}
    for name in models:
        if name not in MODELS:
            raise InvalidParameterError(f"unknown model {name!r}; choose from {list(MODELS)}.")
        if name == "shrinking_core_diffusion" and not r0:
            raise MissingDataError("the shrinking-core model needs r0= (the particle radius).")
        tt, xx = (t[t > 0], x[t > 0]) if name == "power_law" else (t, x)
        try:
            p, pred = _fit_one(name, tt, xx, r0=r0)
        except (RuntimeError, ValueError, ZeroDivisionError):
            rows.append({"model": name, "meaning": MODELS[name].meaning, "aic": np.nan, "r_squared": np.nan,
                         "sse": np.nan, "n_points": tt.size, "n_params": len(MODELS[name].params)})
            continue
        fitted = pred(tt)
        resid = xx - fitted
        sse = float(np.sum(resid ** 2))
        n, k = tt.size, len(p)
        aic = n * np.log(max(sse, 1e-300) / n) + 2 * k
        ss_tot = float(np.sum((xx - xx.mean()) ** 2))
        r2 = 1 - sse / ss_tot if ss_tot > 0 else np.nan
        boots = []
        for _ in range(int(n_bootstrap)):
            yb = fitted + gen.choice(resid, resid.size, replace=True)
            try:
                pb, _ = _fit_one(name, tt, yb, r0=r0, p0=p if name != "shrinking_core_diffusion" else None)
                boots.append(pb)
            except (RuntimeError, ValueError, ZeroDivisionError):
                continue
        boots = np.array(boots) if boots else np.full((1, k), np.nan)
        for j, pname in enumerate(MODELS[name].params):
            lo, hi = (np.nanpercentile(boots[:, j], [2.5, 97.5]) if len(boots) > 1 else (np.nan, np.nan))
            prows.append({"model": name, "parameter": pname, "value": float(p[j]), "ci_low": float(lo),
                          "ci_high": float(hi)})
        predictors[name] = pred
        rows.append({"model": name, "meaning": MODELS[name].meaning, "aic": float(aic), "r_squared": float(r2),
                     "sse": sse, "n_points": n, "n_params": k})
    summary = pd.DataFrame(rows)
    summary["delta_aic"] = summary["aic"] - summary["aic"].min()
    summary = summary.sort_values("aic", na_position="last").reset_index(drop=True)
    params = pd.DataFrame(prows, columns=["model", "parameter", "value", "ci_low", "ci_high"])
    if "parabolic" in predictors:
        d = params[(params["model"] == "parabolic") & (params["parameter"] == "D")]
        summary.attrs["D_eff"] = float(d["value"].iloc[0]) if len(d) else np.nan
    return FrontFits(summary=summary, parameters=params, t=t, x=x, predictors=predictors)


def fit_two_regime(time_s, position, *, min_points: int = 4, t0_s: float = 0.0) -> dict:
    """Two power laws x = k₁tⁿ¹ (t ≤ t_b) and x = k₁t_bⁿ¹ (t/t_b)ⁿ² (t > t_b), continuous at t_b.

    For every candidate breakpoint (each frame time with ``min_points`` on both sides)
    log x = a + n₁ min(log t, log t_b) + n₂ max(log t − log t_b, 0) is a linear least-
    squares problem; the breakpoint with the smallest SSE wins.

    Returns
    -------
    dict
        ``t_break_s``, ``n1``, ``n2``, ``k1``, ``sse_log``, ``bic`` (two-regime) and
        ``bic_single`` (one power law), so a regime change is only claimed when it pays.
    """
    t, x = _check_tx(time_s, position)
    keep = (t > t0_s) & (x > 0)
    t, x = t[keep] - t0_s, x[keep]
    if t.size < 2 * min_points + 1:
        raise MissingDataError(f"a two-regime fit needs at least {2 * min_points + 1} positive points.")
    lt, lx = np.log(t), np.log(x)
    best = None
    for j in range(min_points - 1, t.size - min_points):
        lb = lt[j]
        a = np.column_stack([np.ones_like(lt), np.minimum(lt, lb), np.maximum(lt - lb, 0)])
        coef, *_ = np.linalg.lstsq(a, lx, rcond=None)
        sse = float(np.sum((a @ coef - lx) ** 2))
        if best is None or sse < best[0]:
            best = (sse, j, coef)
    sse, j, coef = best
    n = t.size
    single = np.polyfit(lt, lx, 1)
    sse1 = float(np.sum((np.polyval(single, lt) - lx) ** 2))
    bic = n * np.log(max(sse, 1e-300) / n) + 4 * np.log(n)
    bic1 = n * np.log(max(sse1, 1e-300) / n) + 2 * np.log(n)
    return {"t_break_s": float(t[j] + t0_s), "break_index": int(np.nonzero(keep)[0][j]), "n1": float(coef[1]),
            "n2": float(coef[2]), "k1": float(np.exp(coef[0])), "sse_log": sse, "bic": float(bic),
            "bic_single": float(bic1), "n_single": float(single[0])}


def front_velocity(time_s, position, *, window_points: int = 5) -> pd.DataFrame:
    """Front velocity dx/dt by a local quadratic (Savitzky–Golay) derivative.

    Returns
    -------
    DataFrame
        ``time_s``, ``position``, ``velocity`` (position unit per s).
    """
    from scipy.signal import savgol_filter

    t, x = _check_tx(time_s, position)
    w = int(window_points) | 1
    if w < 3 or w > t.size:
        raise InvalidParameterError(f"window_points must be odd, ≥ 3 and ≤ {t.size}.")
    dt = float(np.median(np.diff(t)))
    v = savgol_filter(x, w, 2, deriv=1, delta=dt)
    return pd.DataFrame({"time_s": t, "position": x, "velocity": v})


def shrinking_core_conversion(core_radius, r0: float):
    """Converted fraction X = 1 − (r_c/r₀)³ of a sphere with an unreacted core of radius r_c."""
    if not r0 or r0 <= 0:
        raise InvalidParameterError("r0 must be positive.")
    rc = np.clip(np.asarray(core_radius, float), 0, r0)
    return 1 - (rc / r0) ** 3


def fit_shrinking_core(time_s, core_radius, *, r0: float | None = None) -> pd.DataFrame:
    """Rate constants of the shrinking-core laws from a core radius r_c(t).

    Reaction control: 1 − (1 − X)^{1/3} = k t; product-layer diffusion
    (Ginstling–Brounshtein): 1 − 2X/3 − (1 − X)^{2/3} = k t (lines through the origin).

    Returns
    -------
    DataFrame
        ``mechanism``, ``k_per_s``, ``r_squared`` (of the linearised law), best first.
    """
    t, rc = _check_tx(time_s, core_radius)
    r0 = float(r0 if r0 is not None else rc[0])
    X = shrinking_core_conversion(rc, r0)
    rows = []
    for mech, g in (("reaction", 1 - (1 - X) ** (1 / 3)), ("diffusion (Ginstling–Brounshtein)",
                                                              1 - 2 * X / 3 - (1 - X) ** (2 / 3))):
        k = float(np.sum(g * t) / np.sum(t * t))
        ss = float(np.sum((g - g.mean()) ** 2))
        r2 = 1 - float(np.sum((g - k * t) ** 2)) / ss if ss > 0 else np.nan
        rows.append({"mechanism": mech, "k_per_s": k, "r_squared": r2})
    return pd.DataFrame(rows).sort_values("r_squared", ascending=False).reset_index(drop=True)
