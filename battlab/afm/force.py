"""Force curves: baseline, contact point, contact-mechanics fits, adhesion and force-volume maps.

Conventions. A curve is the tidy table of :func:`battlab.afm.read_force_curves` (or of
:mod:`battlab.datasets.afm`): ``tip_height_nm`` (piezo height corrected for the cantilever
deflection; the piezo height is used when it is absent), ``force_nN`` and ``segment``.
The direction of approach is taken from the data (heights may fall or rise towards the
sample), so files of either sign convention fit the same way. Indentation δ is the tip
travel past the contact point; E is the sample's Young's modulus for a rigid tip, with
the reduced modulus E* = E/(1−ν²).

Models (R tip radius, α cone half-angle):
Hertz sphere F = 4/3·E*·√R·δ^1.5; Sneddon cone F = 2/π·E*·tanα·δ²;
DMT F = 4/3·E*·√R·δ^1.5 − F_adh; JKR (parametric in contact radius a)
F = 4E*a³/(3R) − √(8πγE*a³), δ = a²/R − √(2πγa/E*), with F_adh = 3/2·πγR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = ["prepare_curve", "fit_force_curve", "fit_force_curves", "fit_force_map", "modulus_vs_depth", "MODELS",
           "model_force"]

MODELS = ("hertz", "sneddon", "dmt", "jkr")


def _segment(curve, segment):
    if not isinstance(curve, pd.DataFrame) or "force_nN" not in curve:
        raise InvalidParameterError("expected a force-curve table with a force_nN column "
                                    "(battlab.afm.read_force_curves).")
    # Plain arrays, not DataFrame masks: this runs for every curve of a force map.
    keep = (np.asarray(curve["segment"]) == segment) if "segment" in curve else np.ones(len(curve), bool)
    if keep.sum() < 10:
        raise MissingDataError(f"the {segment} segment has {int(keep.sum())} points; at least 10 are needed.")
    h = curve["tip_height_nm"].to_numpy(float)[keep] if "tip_height_nm" in curve else np.full(keep.sum(), np.nan)
    if not np.isfinite(h).all():
        h = curve["piezo_height_nm"].to_numpy(float)[keep]
    return h, curve["force_nN"].to_numpy(float)[keep]


def prepare_curve(curve, *, segment: str = "approach", baseline_fraction: float = 0.4):
    """Travel towards the sample (nm, increasing) and baseline-corrected force (nN).

    The baseline is a straight line fitted to the first ``baseline_fraction`` of the
    approach travel (far from the surface); subtracting it removes the force offset
    and the virtual-deflection tilt. The retract segment uses the approach baseline.

    Returns
    -------
    travel_nm, force_nN, baseline_coefficients
    """
    h_app, f_app = _segment(curve, "approach")
    sign = 1.0 if h_app[-1] > h_app[0] else -1.0
    t_app = sign * h_app
    lo = t_app.min()
    span = t_app.max() - lo
    if not 0.05 <= baseline_fraction <= 0.9:
        raise InvalidParameterError("baseline_fraction must be within 0.05–0.9.")
    far = t_app <= lo + baseline_fraction * span
    if far.sum() < 5:
        raise MissingDataError("too few points far from the surface to fit a baseline.")
    coef = np.polyfit(t_app[far], f_app[far], 1)
    if segment == "approach":
        t, f = t_app, f_app
    else:
        h, f = _segment(curve, segment)
        t = sign * h
    order = np.argsort(t, kind="stable")
    return t[order], f[order] - np.polyval(coef, t[order]), coef


def _shape(delta, model, *, tip_radius_nm, half_angle_deg):
    """Force per unit reduced modulus (nN per GPa) at indentation δ (nm)."""
    d = np.clip(delta, 0, None)
    if model in ("hertz", "dmt"):
        # 1 GPa · 1 nm² = 1 nN
        return 4.0 / 3.0 * np.sqrt(tip_radius_nm) * d ** 1.5
    if model == "sneddon":
        return 2.0 / np.pi * np.tan(np.radians(half_angle_deg)) * d ** 2
    raise InvalidParameterError(f"unknown model {model!r}; choose one of {MODELS}.")


def _jkr_force(delta, e_red_GPa, gamma_N_per_m, radius_nm):
    """JKR force (nN) at indentation δ (nm) for reduced modulus (GPa) and work of adhesion (N/m)."""
    a = np.linspace(0, 1, 400) ** 2 * max(np.sqrt(radius_nm * (np.max(delta) + 50.0)) * 2, 1.0)
    g = gamma_N_per_m  # N/m = nN/nm
    dd = a ** 2 / radius_nm - np.sqrt(2 * np.pi * g * a / e_red_GPa)
    ff = 4 * e_red_GPa * a ** 3 / (3 * radius_nm) - np.sqrt(8 * np.pi * g * e_red_GPa * a ** 3)
    # Stable branch: beyond the minimum of δ(a), δ increases monotonically with a.
    k = int(np.argmin(dd))
    return np.interp(delta, dd[k:], ff[k:], left=np.nan)


def model_force(delta_nm, *, model: str = "hertz", modulus_GPa: float, poisson: float = 0.5,
                tip_radius_nm: float = 20.0, half_angle_deg: float = 20.0, adhesion_nN: float = 0.0):
    """Force (nN) of a model at indentation δ (nm); used by the generators and fit overlays."""
    delta = np.asarray(delta_nm, float)
    e_red = modulus_GPa / (1 - poisson ** 2)
    if model == "jkr":
        gamma = 2 * adhesion_nN / (3 * np.pi * tip_radius_nm)
        # Down to the end of the stable branch (δ < 0 under adhesion), then detached.
        return np.nan_to_num(_jkr_force(delta, e_red, gamma, tip_radius_nm), nan=0.0)
    f = e_red * _shape(delta, model, tip_radius_nm=tip_radius_nm, half_angle_deg=half_angle_deg)
    if model == "dmt":
        f = np.where(delta >= 0, f - adhesion_nN, 0.0)
    return f


def _profile_fit(t, f, shape, offset, c):
    """Best reduced modulus and SSE for contact point ``c`` (linear least squares).

    ``offset=None`` fits the adhesion step of DMT as a second linear parameter; the
    returned modulus is then a pair (E*, F_adh).
    """
    s = shape(t - c)
    if offset is None:
        step = (t >= c).astype(float)
        a = np.stack([s, -step], axis=1)
        if step.sum() < 3:
            return (0.0, 0.0), float(f @ f)
        coef = np.linalg.lstsq(a, f, rcond=None)[0]
        coef[0] = max(coef[0], 0.0)
        r = f - a @ coef
        return (float(coef[0]), float(coef[1])), float(r @ r)
    y = f + offset * (t >= c)
    ss = float(s @ s)
    if ss <= 0:
        return 0.0, float(f @ f)
    e = max(float(s @ y) / ss, 0.0)
    r = y - e * s
    return e, float(r @ r)


def fit_force_curve(curve, *, model: str = "hertz", tip_radius_nm: float = 20.0, half_angle_deg: float = 20.0,
                    poisson: float = 0.5, segment: str | None = None, max_indentation_nm: float | None = None,
                    baseline_fraction: float = 0.4) -> dict:
    """Fit one force curve: contact point, Young's modulus, adhesion, indentation depth.

    Parameters
    ----------
    curve : DataFrame
        One curve (``segment``, ``tip_height_nm``/``piezo_height_nm``, ``force_nN``).
    model : {"hertz", "sneddon", "dmt", "jkr"}
        Hertz (sphere), Sneddon (cone), DMT (sphere with adhesion offset) or JKR.
    tip_radius_nm, half_angle_deg : float
        Tip geometry (radius for hertz/dmt/jkr, cone half-angle for sneddon).
    poisson : float
        Sample Poisson ratio ν (E = E*·(1−ν²) for a rigid tip).
    segment : str, optional
        Segment fitted: approach for hertz/sneddon, retract for dmt/jkr (their adhesion
        acts on unloading) when the curve has one.
    max_indentation_nm : float, optional
        Fit only up to this indentation (e.g. to keep within a thin film).

    Returns
    -------
    dict
        modulus_GPa, contact_point_nm (in the file's height axis), indentation_nm,
        adhesion_nN (most negative retract force below the baseline), max_force_nN,
        r_squared, rms_residual_nN, model and the parameters used.
    """
    if model not in MODELS:
        raise InvalidParameterError(f"unknown model {model!r}; choose one of {MODELS}.")
    for name, v in (("tip_radius_nm", tip_radius_nm), ("half_angle_deg", half_angle_deg)):
        if not np.isfinite(v) or v <= 0:
            raise InvalidParameterError(f"{name} must be positive, got {v!r}.")
    if not 0 <= poisson < 0.5 + 1e-9:
        raise InvalidParameterError(f"poisson must be within 0–0.5, got {poisson!r}.")
    has_retract = "segment" in curve and int((np.asarray(curve["segment"]) == "retract").sum()) >= 10
    adhesion = 0.0
    if has_retract:
        from scipy.ndimage import uniform_filter1d

        _, f_ret, _ = prepare_curve(curve, segment="retract", baseline_fraction=baseline_fraction)
        # A short running mean keeps the noise's own minimum out of the pull-off force.
        f_smooth = uniform_filter1d(f_ret, size=5, mode="nearest")
        adhesion = float(max(0.0, -f_smooth.min()))
    seg = segment or ("retract" if model in ("dmt", "jkr") and has_retract else "approach")
    t, f, coef = prepare_curve(curve, segment=seg, baseline_fraction=baseline_fraction)
    h_app, _ = _segment(curve, "approach")
    sign = 1.0 if h_app[-1] > h_app[0] else -1.0
    noise = float(np.std(f[t <= t.min() + baseline_fraction * (t.max() - t.min())]))

    if model == "jkr":
        res = _fit_jkr(t, f, adhesion, tip_radius_nm, max_indentation_nm)
        e_red, c, sse = res
        pred = np.nan_to_num(_jkr_force(t - c, e_red, 2 * adhesion / (3 * np.pi * tip_radius_nm), tip_radius_nm))
    else:
        def shape(d):
            return _shape(d, model, tip_radius_nm=tip_radius_nm, half_angle_deg=half_angle_deg)

        # DMT: the pull-off force is fitted with the modulus (the retract minimum is one
        # noisy point at the contact); the other models have no adhesion term.
        offset = None if model == "dmt" else 0.0
        use = np.ones(t.size, bool)
        c = _contact_search(t, f, shape, offset)
        if max_indentation_nm is not None:
            # Refit on a fixed point set each pass (SSEs over different sets do not compare).
            for _ in range(4):
                use = t <= c + max_indentation_nm
                c_new = _contact_search(t[use], f[use], shape, offset)
                converged = abs(c_new - c) < 0.01
                c = c_new
                if converged:
                    break
            use = t <= c + max_indentation_nm
        e_red, sse = _profile_fit(t[use], f[use], shape, offset, c)
        if offset is None:
            e_red, adhesion = e_red[0], max(e_red[1], 0.0)
            offset = adhesion
        pred = e_red * shape(t - c) - offset * (t >= c)
        t, f, pred = t[use], f[use], pred[use]
    resid = f - pred
    sst = float(((f - f.mean()) ** 2).sum())
    contact = (t >= c)
    return {"model": model, "modulus_GPa": float(e_red * (1 - poisson ** 2)), "reduced_modulus_GPa": float(e_red),
            "contact_point_nm": float(sign * c), "indentation_nm": float(max(t.max() - c, 0.0)),
            "adhesion_nN": adhesion, "max_force_nN": float(f.max()),
            "r_squared": float(1 - (resid @ resid) / sst) if sst > 0 else np.nan,
            "rms_residual_nN": float(np.sqrt(np.mean(resid[contact] ** 2))) if contact.any() else np.nan,
            "baseline_noise_nN": noise, "segment": seg, "tip_radius_nm": tip_radius_nm,
            "half_angle_deg": half_angle_deg, "poisson": poisson, "baseline_slope_nN_per_nm": float(coef[0]),
            "_fit": (t, pred, c)}


def _sse_profile(t, f, shape, offset, cands):
    """Profiled SSE for many candidate contact points at once (rows of a matrix)."""
    if offset is None:
        return np.array([_profile_fit(t, f, shape, None, c)[1] for c in cands])
    s = shape(t[None, :] - cands[:, None])
    y = f[None, :] + offset * (t[None, :] >= cands[:, None])
    ss = np.einsum("ij,ij->i", s, s)
    sy = np.einsum("ij,ij->i", s, y)
    yy = np.einsum("ij,ij->i", y, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.where(ss > 0, np.maximum(sy / ss, 0.0), 0.0)
    return yy - 2 * e * sy + e * e * ss


def _contact_search(t, f, shape, offset):
    """Contact point minimising the profiled SSE: a coarse scan, then two finer scans
    around the best candidate (all candidates of a scan evaluated at once)."""
    lo = t.min()
    # Candidates from the far baseline to the last few points of the curve (at least 5
    # points must lie past the contact to fit anything).
    hi = t[max(t.size - 6, 0)]
    grid = np.linspace(lo + 0.2 * (t.max() - lo), hi, 60)
    for _ in range(3):
        vals = _sse_profile(t, f, shape, offset, grid)
        k = int(np.argmin(vals))
        best = float(grid[k])
        step = grid[1] - grid[0]
        grid = np.linspace(max(best - step, grid[0]), min(best + step, hi), 41)
    return best


def _fit_jkr(t, f, adhesion, radius, max_indentation_nm):
    from scipy.optimize import least_squares

    gamma = 2 * adhesion / (3 * np.pi * radius)
    # Start from a Hertz fit of the same data.
    def hshape(d):
        return _shape(d, "hertz", tip_radius_nm=radius, half_angle_deg=20.0)

    c0 = _contact_search(t, f, hshape, 0.0)
    e0, _ = _profile_fit(t, f, hshape, 0.0, c0)
    use = t <= c0 + max_indentation_nm if max_indentation_nm else np.ones(t.size, bool)

    def resid(p):
        e_red, c = p
        return np.nan_to_num(_jkr_force(t[use] - c, e_red, gamma, radius)) - f[use]

    sol = least_squares(resid, x0=[max(e0, 1e-4), c0], bounds=([1e-6, t.min()], [np.inf, t.max()]),
                        x_scale=[max(e0, 1e-3), 10.0])
    return float(sol.x[0]), float(sol.x[1]), float((sol.fun ** 2).sum())


def fit_force_curves(curves, *, model: str = "hertz", min_r_squared: float = 0.9, **options) -> pd.DataFrame:
    """Fit every curve of a table: one row per curve (grid position for maps).

    Curves that cannot be fitted keep a row with the reason in ``note``; ``fit_ok`` is
    False below ``min_r_squared``. ``**options`` go to :func:`fit_force_curve`.
    """
    from battlab.errors import BattlabError

    if "curve" not in curves:
        raise MissingDataError("the force table has no 'curve' column (battlab.afm.read_force_curves).")
    plain = curves.copy(deep=False)
    # pandas deep-copies attrs into every slice; a map's per-curve metadata would make
    # that quadratic in the number of curves.
    plain.attrs = {}
    rows = []
    for k, one in plain.groupby("curve", sort=True):
        row = {"curve": int(k)}
        if "grid_x" in one:
            row.update(grid_x=int(one["grid_x"].iloc[0]), grid_y=int(one["grid_y"].iloc[0]))
        try:
            res = fit_force_curve(one, model=model, **options)
        except BattlabError as exc:
            row.update(note=str(exc), fit_ok=False)
            rows.append(row)
            continue
        res.pop("_fit")
        row.update(res)
        row["fit_ok"] = bool(np.isfinite(res["r_squared"]) and res["r_squared"] >= min_r_squared)
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["battlab"] = dict(curves.attrs.get("battlab", {}))
    return out


def fit_force_map(curves, *, model: str = "hertz", min_r_squared: float = 0.9, fits=None, **options) -> xr.Dataset:
    """Fit every curve of a force-volume map into modulus, adhesion and contact maps.

    Parameters
    ----------
    curves : DataFrame
        Tidy curves with ``grid_x``/``grid_y`` (a ``.jpk-force-map`` or
        :func:`battlab.datasets.afm.make_force_map`).
    min_r_squared : float
        Pixels whose fit R² is below this are masked (NaN in ``modulus_GPa``) and flagged
        False in ``fit_ok``.
    fits : DataFrame, optional
        Per-curve results of :func:`fit_force_curves` already computed (not refitted).
    **options
        Passed to :func:`fit_force_curve` (tip_radius_nm, poisson, ...).

    Returns
    -------
    Dataset
        (y, x) maps modulus_GPa, adhesion_nN, contact_point_nm, indentation_nm,
        r_squared, fit_ok; failed curves are NaN.
    """
    if "grid_x" not in curves or "grid_y" not in curves:
        raise MissingDataError("the curves have no grid_x/grid_y: not a force-volume map.")
    if fits is None:
        fits = fit_force_curves(curves, model=model, min_r_squared=min_r_squared, **options)
    nx, ny = int(curves["grid_x"].max()) + 1, int(curves["grid_y"].max()) + 1
    names = ["modulus_GPa", "adhesion_nN", "contact_point_nm", "indentation_nm", "r_squared"]
    maps = {n: np.full((ny, nx), np.nan) for n in names}
    for n in names:
        if n in fits:
            maps[n][fits["grid_y"].to_numpy(int), fits["grid_x"].to_numpy(int)] = fits[n].to_numpy(float)
    ok = np.nan_to_num(maps["r_squared"], nan=-1) >= min_r_squared
    maps["modulus_GPa"] = np.where(ok, maps["modulus_GPa"], np.nan)
    ds = xr.Dataset({n: (("y", "x"), v) for n, v in maps.items()})
    ds["fit_ok"] = (("y", "x"), ok)
    ds.attrs.update({"model": model, "min_r_squared": min_r_squared, **dict(options)})
    ds.attrs["battlab"] = dict(curves.attrs.get("battlab", {}))
    return ds


def modulus_vs_depth(curve, *, tip_radius_nm: float = 20.0, poisson: float = 0.5, step_nm: float = 1.0,
                     contact_window_nm: float = 2.0, baseline_fraction: float = 0.4) -> pd.DataFrame:
    """Apparent modulus of successive indentation-depth slices (Hertz sphere, layered films).

    The contact point comes from a Hertz fit of the first ``contact_window_nm`` of
    indentation only (a fit of the whole curve would bend it to the deeper layer); the
    modulus of each slice [δ, δ+step] is the slope of F against 4/3·√R·δ^1.5 within it, so
    a stiff SEI on a soft electrode (or the reverse) shows as a change of modulus with depth.
    """
    fit = fit_force_curve(curve, model="hertz", tip_radius_nm=tip_radius_nm, poisson=poisson,
                          baseline_fraction=baseline_fraction, segment="approach",
                          max_indentation_nm=contact_window_nm)
    t, f, _ = prepare_curve(curve, segment="approach", baseline_fraction=baseline_fraction)
    h_app, _ = _segment(curve, "approach")
    sign = 1.0 if h_app[-1] > h_app[0] else -1.0
    d = t - sign * fit["contact_point_nm"]
    x = 4.0 / 3.0 * np.sqrt(tip_radius_nm) * np.clip(d, 0, None) ** 1.5
    edges = np.arange(0.0, d.max() + step_nm, step_nm)
    rows = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        sel = (d >= a) & (d < b)
        if sel.sum() < 3 or np.ptp(x[sel]) <= 0:
            continue
        slope = np.polyfit(x[sel], f[sel], 1)[0]
        rows.append({"depth_nm": 0.5 * (a + b), "modulus_GPa": float(slope * (1 - poisson ** 2)),
                     "points": int(sel.sum())})
    out = pd.DataFrame(rows, columns=["depth_nm", "modulus_GPa", "points"])
    out.attrs["contact_point_nm"] = fit["contact_point_nm"]
    return out
