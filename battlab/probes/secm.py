"""SECM feedback theory for a disk ultramicroelectrode (UME) and approach-curve fitting.

Normalised quantities: ``L = d / a`` (tip–substrate distance over the electroactive disk
radius ``a``), ``RG = r_glass / a`` (insulating sheath), ``Ni = I_T / I_T,∞`` (tip current
over its value far from the substrate) and ``κ = k·a / D`` (dimensionless first-order
heterogeneous rate constant of mediator regeneration at the substrate).

The closed forms are the analytic approximations of Cornut and Lefrou, written out here
from the published equations:

* conductor (diffusion-limited positive feedback): R. Cornut, C. Lefrou,
  J. Electroanal. Chem. 604 (2007) 91–100;
* insulator (negative feedback, finite sheath): C. Lefrou, J. Electroanal. Chem. 592
  (2006) 103–112 and R. Cornut, C. Lefrou, J. Electroanal. Chem. 608 (2007) 59–66;
* finite first-order kinetics: R. Cornut, C. Lefrou, J. Electroanal. Chem. 621 (2008)
  178–184, which interpolates between the two limits with ``κ``;
* bulk current ``I_T,∞ = 4·n·F·D·c·a·β(RG)`` with ``β(RG) = 1 + 0.23 / (RG³ − 0.81)^0.36``
  (Lefrou 2006).

Checked in the test suite against an independent finite-volume solution of the same
diffusion problem (tests/probes/test_secm_numerical.py): for 0.1 ≤ L ≤ 2 and RG = 2 or 10
the conductor curve agrees within 2 % (0.1 % at L = 1, RG = 10), the insulator curve within
3.3 % (1.3 % at L = 1), and β(10) within 0.5 %. Fits of κ therefore carry a model error of
a few %, on top of the statistical error they report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["FARADAY", "bulk_current_factor", "bulk_current_nA", "feedback_conductor", "feedback_insulator",
           "feedback_kinetic", "normalise_approach", "fit_approach_curve", "fit_approach_curves",
           "kappa_from_feedback", "rate_constant_cm_s", "classify_kappa"]

FARADAY = 96485.33212  # C/mol

#: κ above which a substrate behaves as a diffusion-limited conductor, and below which
#: it is indistinguishable from an insulator, for the usual L ≥ 0.1 (Cornut & Lefrou 2008
#: show curves within a few % of the limits there).
KAPPA_CONDUCTOR = 10.0
KAPPA_INSULATOR = 0.03


def _rg(rg):
    rg = float(rg)
    if not np.isfinite(rg) or rg < 1.1:
        raise InvalidParameterError(f"RG (sheath radius / disk radius) must be ≥ 1.1, got {rg!r}; a UME has RG "
                                    "of about 2–20 (10 is common).")
    return rg


def _l(L):
    L = np.asarray(L, dtype=float)
    if np.any(L[np.isfinite(L)] <= 0):
        raise InvalidParameterError("L = d/a must be positive: the tip cannot be at or below the substrate.")
    return L


def bulk_current_factor(rg: float) -> float:
    """β(RG) of ``I_T,∞ = 4·n·F·D·c·a·β(RG)`` (Lefrou 2006); β → 1 for a thick sheath."""
    rg = _rg(rg)
    return float(1.0 + 0.23 / (rg ** 3 - 0.81) ** 0.36)


def bulk_current_nA(*, radius_um: float, diffusion_cm2_s: float, concentration_mM: float, n: int = 1,
                    rg: float = 10.0) -> float:
    """Steady-state tip current far from the substrate, ``4·n·F·D·c·a·β(RG)``, in nA.

    Parameters
    ----------
    radius_um : float
        Disk radius a (µm).
    diffusion_cm2_s : float
        Mediator diffusion coefficient (cm²/s; ~7e-6 for ferrocenemethanol in water).
    concentration_mM : float
        Mediator bulk concentration (mM = mol/m³).
    n : int
        Electrons per mediator molecule.
    """
    for label, v in (("radius_um", radius_um), ("diffusion_cm2_s", diffusion_cm2_s),
                     ("concentration_mM", concentration_mM), ("n", n)):
        if not np.isfinite(float(v)) or float(v) <= 0:
            raise InvalidParameterError(f"{label} must be positive, got {v!r}.")
    i_a = 4 * n * FARADAY * (diffusion_cm2_s * 1e-4) * concentration_mM * (radius_um * 1e-6) * bulk_current_factor(rg)
    return float(i_a * 1e9)


def _alpha_beta(rg):
    # Cornut & Lefrou 2007: both coefficients of the conductor curve are polynomials in
    # t = (2/π)·arccos(1/RG), which runs from 0 (RG = 1) to 1 (RG → ∞).
    t = 2.0 / np.pi * np.arccos(1.0 / rg)
    ln2 = np.log(2.0)
    alpha = ln2 + ln2 * (1 - t) - ln2 * (1 - t * t)
    beta = 1 + 0.639 * (1 - t) - 0.186 * (1 - t * t)
    return alpha, beta


def feedback_conductor(L, *, rg: float = 10.0):
    """Normalised tip current over a conductor (diffusion-limited positive feedback).

    ``Ni = α + π / (4·β·arctan L) + (1 − α − 1/(2β))·(2/π)·arctan L`` (Cornut & Lefrou
    2007), which tends to 1 as ``L → ∞`` and to ``1/L`` growth as the tip touches.
    """
    rg = _rg(rg)
    L = _l(L)
    alpha, beta = _alpha_beta(rg)
    at = np.arctan(L)
    return alpha + np.pi / (4 * beta * at) + (1 - alpha - 1 / (2 * beta)) * (2 / np.pi) * at


def feedback_insulator(L, *, rg: float = 10.0):
    """Normalised tip current over an insulator (hindered diffusion, negative feedback).

    Cornut & Lefrou 2007 / Lefrou 2006::

        Ni = (2.08/RG^0.358·(L − 0.145/RG) + 1.585)
             / (2.08/RG^0.358·(L + 0.0023·RG) + 1.57 + ln(RG)/L + 2/(π·RG)·ln(1 + π·RG/(2L)))
    """
    rg = _rg(rg)
    L = _l(L)
    c = 2.08 / rg ** 0.358
    num = c * (L - 0.145 / rg) + 1.585
    den = c * (L + 0.0023 * rg) + 1.57 + np.log(rg) / L + 2 / (np.pi * rg) * np.log(1 + np.pi * rg / (2 * L))
    return num / den


def feedback_kinetic(L, kappa, *, rg: float = 10.0):
    """Normalised tip current over a substrate with first-order kinetics ``κ = k·a/D``.

    Cornut & Lefrou 2008::

        Ni(L, κ) = Ni_cond(L + 1/κ) + (Ni_ins(L) − 1)
                   / ((1 + 2.47·RG^0.31·L·κ)·(1 + L^(0.006·RG + 0.113)·κ^(−0.0236·RG + 0.91)))

    ``κ → ∞`` gives the conductor curve and ``κ → 0`` the insulator curve. ``L`` and
    ``κ`` broadcast.
    """
    rg = _rg(rg)
    L = _l(L)
    kappa = np.asarray(kappa, dtype=float)
    if np.any(kappa < 0):
        raise InvalidParameterError("κ = k·a/D cannot be negative.")
    with np.errstate(divide="ignore", invalid="ignore"):
        shifted = np.where(kappa > 0, L + 1.0 / np.where(kappa > 0, kappa, 1.0), np.inf)
        cond = np.where(np.isfinite(shifted), feedback_conductor(np.where(np.isfinite(shifted), shifted, 1.0), rg=rg),
                        1.0)
        ins = feedback_insulator(L, rg=rg)
        damp = (1 + 2.47 * rg ** 0.31 * L * kappa) * (1 + L ** (0.006 * rg + 0.113) * kappa ** (-0.0236 * rg + 0.91))
    out = cond + (ins - 1) / damp
    return np.where(np.isinf(kappa), feedback_conductor(L, rg=rg), out)


def rate_constant_cm_s(kappa, *, radius_um: float, diffusion_cm2_s: float):
    """``k = κ·D/a`` in cm/s (a in µm, D in cm²/s)."""
    return np.asarray(kappa, dtype=float) * diffusion_cm2_s / (radius_um * 1e-4)


def classify_kappa(kappa) -> str:
    """"conductor" (κ ≥ 10), "insulator" (κ ≤ 0.03) or "kinetic" in between."""
    if not np.isfinite(kappa) or kappa >= KAPPA_CONDUCTOR:
        return "conductor"
    if kappa <= KAPPA_INSULATOR:
        return "insulator"
    return "kinetic"


def _curve_columns(curve):
    if not isinstance(curve, pd.DataFrame) or not {"distance_um", "current_nA"} <= set(curve.columns):
        raise InvalidParameterError("an approach curve is a DataFrame with columns distance_um and current_nA "
                                    "(battlab.probes.read_approach_curve).")
    d = curve["distance_um"].to_numpy(float)
    i = curve["current_nA"].to_numpy(float)
    ok = np.isfinite(d) & np.isfinite(i)
    if ok.sum() < 5:
        raise MissingDataError("an approach curve needs at least 5 finite (distance, current) points.")
    return d[ok], i[ok]


def normalise_approach(curve, *, radius_um: float, bulk_current_nA: float | None = None, far_fraction: float = 0.1,
                       contact_um: float = 0.0) -> pd.DataFrame:
    """Add ``L`` (= (d − contact)/a) and ``Ni`` (= I/I_T,∞) columns to an approach curve.

    Parameters
    ----------
    radius_um : float
        Disk radius a (µm).
    bulk_current_nA : float, optional
        I_T,∞ (e.g. from :func:`bulk_current_nA`); otherwise the median current of the
        farthest ``far_fraction`` of the points. That is exact only where the curve is
        flat (L ≳ 10); :func:`fit_approach_curve` refines it.
    contact_um : float
        Distance reading at which the tip touches the substrate.
    """
    d, i = _curve_columns(curve)
    if not radius_um or radius_um <= 0:
        raise InvalidParameterError(f"radius_um must be positive, got {radius_um!r}.")
    if bulk_current_nA is None:
        if not 0 < far_fraction <= 0.5:
            raise InvalidParameterError(f"far_fraction must be in (0, 0.5], got {far_fraction!r}.")
        far = d >= np.quantile(d, 1 - far_fraction)
        bulk_current_nA = float(np.median(i[far]))
    if bulk_current_nA == 0:
        raise InvalidParameterError("the bulk current is zero: check the current column and its sign.")
    out = pd.DataFrame({"distance_um": d, "current_nA": i, "L": (d - contact_um) / radius_um,
                        "Ni": i / bulk_current_nA})
    out.attrs = dict(curve.attrs)
    out.attrs["bulk_current_nA"] = float(bulk_current_nA)
    return out


def _model(L, model, logk, rg):
    if model == "conductor":
        return feedback_conductor(L, rg=rg)
    if model == "insulator":
        return feedback_insulator(L, rg=rg)
    return feedback_kinetic(L, 10.0 ** logk, rg=rg)


def fit_approach_curve(curve, *, radius_um: float, rg: float = 10.0, model: str = "kinetic",
                       diffusion_cm2_s: float | None = None, bulk_current_nA: float | None = None,
                       fit_bulk: bool | None = None, min_L: float = 0.05) -> dict:
    """Fit an SECM approach curve: contact offset d0, κ (→ k) and the bulk current.

    The model is ``I(d) = I_T,∞ · Ni((d − d0)/a, κ, RG)``, where d is the distance the
    instrument reports and d0 the reading at which the tip would touch the substrate.

    Parameters
    ----------
    curve : DataFrame
        Columns ``distance_um`` and ``current_nA`` (sign as recorded; a reduction current
        is treated by its magnitude relative to I_T,∞).
    radius_um : float
        Disk radius a (µm).
    rg : float
        Sheath ratio RG = r_glass / a.
    model : {"kinetic", "conductor", "insulator", "auto"}
        "auto" fits all three and keeps the kinetic fit unless a limit is as good
        (within 2 % of its residual sum of squares), which avoids reporting a meaningless
        κ for a pure conductor or insulator.
    diffusion_cm2_s : float, optional
        Mediator D; required to convert κ into k (cm/s).
    bulk_current_nA : float, optional
        Known I_T,∞. Fixed unless ``fit_bulk`` is True.
    fit_bulk : bool, optional
        Fit I_T,∞ as a third parameter; default: when ``bulk_current_nA`` is not given.
    min_L : float
        Points closer than this (after the fit's d0) are left out: the closed forms are
        not validated below L ≈ 0.05 and real tips touch first.

    Returns
    -------
    dict
        model, d0_um (± d0_err_um), kappa (± kappa_err), k_cm_s (± k_err_cm_s), bulk_current_nA
        (± bulk_err_nA), rg, radius_um, rmse (in Ni), n_points, classification, note (a warning
        when the curve never came within one tip radius, else empty), and ``fit``
        (DataFrame: distance_um, L, Ni, Ni_fit, residual).
    """
    from scipy.optimize import least_squares

    if model == "auto":
        fits = {m: fit_approach_curve(curve, radius_um=radius_um, rg=rg, model=m, diffusion_cm2_s=diffusion_cm2_s,
                                      bulk_current_nA=bulk_current_nA, fit_bulk=fit_bulk, min_L=min_L)
                for m in ("kinetic", "conductor", "insulator")}
        best = fits["kinetic"]
        sse = {m: f["rmse"] ** 2 * f["n_points"] for m, f in fits.items()}
        for m in ("conductor", "insulator"):
            if sse[m] <= 1.02 * sse["kinetic"] + 1e-15:
                best = fits[m]
        best = dict(best)
        best["model_selected_by"] = "auto"
        return best
    if model not in ("kinetic", "conductor", "insulator"):
        raise InvalidParameterError(f"model must be kinetic, conductor, insulator or auto, got {model!r}.")
    rg = _rg(rg)
    if not radius_um or radius_um <= 0:
        raise InvalidParameterError(f"radius_um must be positive, got {radius_um!r}.")
    d, i = _curve_columns(curve)
    order = np.argsort(d)
    d, i = d[order], i[order]
    fit_bulk = bulk_current_nA is None if fit_bulk is None else bool(fit_bulk)
    far = d >= np.quantile(d, 0.9)
    i_bulk0 = float(bulk_current_nA) if bulk_current_nA is not None else float(np.median(i[far]))
    if i_bulk0 == 0:
        raise InvalidParameterError("the bulk current is zero: check the current column.")
    sign = np.sign(i_bulk0)
    i = i * sign
    i_bulk0 = abs(i_bulk0)
    a = float(radius_um)
    ni0 = i / i_bulk0
    # Starting values: positive feedback when the closest current exceeds the bulk one.
    closest = ni0[: max(3, len(ni0) // 20)].mean()
    logk0 = 1.0 if closest > 1.05 else (-1.5 if closest < 0.8 else 0.0)
    # d0 starts just below the closest reading (the tip never passed through the substrate).
    span = d.max() - d.min()
    d0_starts = [d.min() - f * a for f in (0.05, 0.2, 0.5)]

    def unpack(p):
        d0 = p[0]
        logk = p[1] if model == "kinetic" else 0.0
        ib = p[-1] if fit_bulk else i_bulk0
        return d0, logk, ib

    def resid(p):
        d0, logk, ib = unpack(p)
        L = np.clip((d - d0) / a, min_L, None)
        return i / ib - _model(L, model, logk, rg)

    lo, hi = [d.min() - max(span, 5 * a)], [d.min() - 1e-6 * a]
    if model == "kinetic":
        lo.append(-4.0)
        hi.append(4.0)
    if fit_bulk:
        lo.append(0.3 * i_bulk0)
        hi.append(3.0 * i_bulk0)
    best = None
    for d0s in d0_starts:
        p0 = [d0s] + ([logk0] if model == "kinetic" else []) + ([i_bulk0] if fit_bulk else [])
        p0 = np.clip(p0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
        r = least_squares(resid, p0, bounds=(lo, hi), x_scale="jac")
        if best is None or r.cost < best.cost:
            best = r
    d0, logk, ib = unpack(best.x)
    L = (d - d0) / a
    use = L >= min_L
    if use.sum() < 4:
        raise MissingDataError("fewer than 4 points lie beyond L = min_L after the fit; record the curve farther "
                               "from the substrate.")
    res = resid(best.x)[use]
    dof = max(int(use.sum()) - len(best.x), 1)
    s2 = float(res @ res) / dof
    jac = best.jac[use]
    try:
        cov = np.linalg.pinv(jac.T @ jac) * s2
        err = np.sqrt(np.clip(np.diag(cov), 0, None))
    except np.linalg.LinAlgError:
        err = np.full(len(best.x), np.nan)
    kappa = {"kinetic": 10.0 ** logk, "conductor": np.inf, "insulator": 0.0}[model]
    kappa_err = float(kappa * np.log(10) * err[1]) if model == "kinetic" else np.nan
    out = {"model": model, "d0_um": float(d0), "d0_err_um": float(err[0]), "kappa": float(kappa),
           "kappa_err": kappa_err, "log10_kappa_err": float(err[1]) if model == "kinetic" else np.nan,
           "bulk_current_nA": float(ib * sign), "bulk_err_nA": float(err[-1]) if fit_bulk else 0.0,
           "bulk_fitted": fit_bulk, "rg": rg, "radius_um": a, "rmse": float(np.sqrt(np.mean(res ** 2))),
           "n_points": int(use.sum()), "min_L_reached": float(L[use].min())}
    if diffusion_cm2_s is not None:
        out["k_cm_s"] = float(rate_constant_cm_s(kappa, radius_um=a, diffusion_cm2_s=diffusion_cm2_s))
        out["k_err_cm_s"] = float(rate_constant_cm_s(kappa_err, radius_um=a, diffusion_cm2_s=diffusion_cm2_s))
    else:
        out["k_cm_s"] = out["k_err_cm_s"] = np.nan
    out["classification"] = {"conductor": "conductor", "insulator": "insulator"}.get(model) or classify_kappa(kappa)
    # Feedback only develops within about one tip radius: a curve that stops farther away
    # cannot pin κ and d0 down, whatever the fit's formal errors say.
    out["note"] = (f"the closest point is at L = {L[use].min():.2g}; approach to L ≲ 1 for a reliable κ and d0"
                   if L[use].min() > 1.0 else "")
    Lf = np.clip(L, min_L, None)
    out["fit"] = pd.DataFrame({"distance_um": d, "L": L, "Ni": i / ib, "Ni_fit": _model(Lf, model, logk, rg),
                               "used": use})
    out["fit"]["residual"] = out["fit"]["Ni"] - out["fit"]["Ni_fit"]
    return out


def fit_approach_curves(curves, **options) -> pd.DataFrame:
    """Fit several approach curves (dict name → curve, or a list): one row per curve."""
    items = curves.items() if isinstance(curves, dict) else ((c.attrs.get("name", f"curve {j}"), c)
                                                            for j, c in enumerate(curves))
    rows = []
    for name, c in items:
        r = fit_approach_curve(c, **options)
        r.pop("fit")
        rows.append({"curve": name, **r})
    if not rows:
        raise MissingDataError("no approach curves given.")
    return pd.DataFrame(rows)


def kappa_from_feedback(ni, *, L: float, rg: float = 10.0, kappa_range=(1e-3, 1e3), n_grid: int = 601):
    """Invert ``Ni = feedback_kinetic(L, κ)`` for κ at a known working distance L.

    Ni grows monotonically with κ at fixed L, so κ is read off a dense log-spaced table.
    Values at or below the insulator limit give κ = 0, at or above the conductor limit
    κ = inf; NaN stays NaN.
    """
    L = float(_l(L))
    ni = np.asarray(ni, dtype=float)
    grid = np.logspace(np.log10(kappa_range[0]), np.log10(kappa_range[1]), n_grid)
    table = feedback_kinetic(L, grid, rg=rg)
    if not np.all(np.diff(table) > 0):
        raise InvalidParameterError(f"the feedback curve is not monotonic in κ at L = {L:g}; choose 0.05 < L < 10.")
    logk = np.interp(ni, table, np.log10(grid))
    kappa = 10.0 ** logk
    kappa = np.where(ni <= table[0], 0.0, kappa)
    kappa = np.where(ni >= table[-1], np.inf, kappa)
    return np.where(np.isfinite(ni), kappa, np.nan)
