"""Small-angle scattering (SAXS/SANS): reduction, Guinier, Porod, the seed's Eq. (1) and the invariant.

Eq. (1) of the anode review (He et al., in situ SANS of Cu3P and Sn4P3), a Porod term
plus a unified Guinier/Porod "globule" term, with a flat incoherent background:

    dΣ/dΩ(Q) = A_Porod·Q⁻⁴ + A_globule·[exp(−Q²R_g²/3) + 8·erf¹²(1.06·Q·R_g/√6)/(Q⁴R_g⁴)] + B_inc

A_Porod falls when the particle surface shrinks (a smooth SEI coat), rises when particles
fracture; R_g of the globules follows their swelling (volume ∝ R_g³).

Units: q in Å⁻¹; intensities in cm⁻¹ when absolute (then the Porod constant K is in
cm⁻¹·Å⁻⁴, the invariant in cm⁻¹·Å⁻³); contrasts Δρ in 10⁻⁶ Å⁻².
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab._cancel import checkpoint
from battlab.errors import BattlabError, InvalidParameterError, MissingDataError
from battlab.scattering.io import Q_DIM, join_echem, make_curve

__all__ = ["GLOBULE_PARAMETERS", "GuinierFit", "PorodFit", "GlobuleFit", "fit_globule", "fit_guinier", "fit_porod",
           "fit_saxs_series", "globule_model", "invariant", "mask_q", "merge_curves", "reduce_saxs", "specific_surface",
           "saxs_trends"]

#: Parameters of Eq. (1), named as in the seed (R_g in Å, B_inc the incoherent background).
GLOBULE_PARAMETERS = ("A_Porod", "A_globule", "R_g_A", "B_inc")

_SLD_TO_CM2 = 1e10        # 1e-6 Å⁻² -> cm⁻²
_PER_A4_TO_PER_CM4 = 1e32  # Å⁻⁴ -> cm⁻⁴
_PER_A3_TO_PER_CM3 = 1e24  # Å⁻³ -> cm⁻³


def _arrays(curve):
    if not hasattr(curve, "dims") or Q_DIM not in curve.dims or curve.ndim != 1:
        raise InvalidParameterError("expected one I(q) curve over q_inv_A (battlab.scattering.read_saxs); "
                                    "pick one curve of a series with .isel(time=i).")
    q = curve[Q_DIM].to_numpy().astype(float)
    y = curve.to_numpy().astype(float)
    s = curve["sigma"].to_numpy().astype(float) if "sigma" in curve.coords else np.full_like(q, np.nan)
    return q, y, s


def _weights(y, s):
    """1σ used in the fits: the file's σ where it has one, else 2 % of |I| (relative weighting)."""
    fallback = 0.02 * np.maximum(np.abs(y), np.nanmax(np.abs(y)) * 1e-12 + 1e-300)
    return np.where(np.isfinite(s) & (s > 0), s, fallback)


# --------------------------------------------------------------------------- reduction


def mask_q(curve, *, q_min_inv_A: float | None = None, q_max_inv_A: float | None = None):
    """The part of a curve (or series) with q_min ≤ q ≤ q_max (Å⁻¹); at least 5 points must remain."""
    q = curve[Q_DIM].to_numpy()
    lo = -np.inf if q_min_inv_A is None else float(q_min_inv_A)
    hi = np.inf if q_max_inv_A is None else float(q_max_inv_A)
    if not lo < hi:
        raise InvalidParameterError(f"q range {lo:g}–{hi:g} Å⁻¹ is empty; q_min must be below q_max.")
    keep = (q >= lo) & (q <= hi)
    if keep.sum() < 5:
        raise InvalidParameterError(f"only {int(keep.sum())} points lie in {lo:g}–{hi:g} Å⁻¹ (data span "
                                    f"{q.min():.4g}–{q.max():.4g} Å⁻¹); widen the q range.")
    out = curve.isel({Q_DIM: np.flatnonzero(keep)})
    out.attrs = dict(curve.attrs)
    return out


def reduce_saxs(sample, *, background=None, sample_transmission: float = 1.0, background_transmission: float = 1.0,
                background_scale: float = 1.0, thickness_cm: float | None = None, calibration_factor: float = 1.0,
                q_min_inv_A: float | None = None, q_max_inv_A: float | None = None):
    """Subtract a scaled background (empty cell, electrolyte) and normalise to thickness.

    I = calibration_factor · (I_sample / T_sample − background_scale · I_background / T_background) / thickness

    Parameters
    ----------
    sample, background : DataArray
        I(q) curves; the background is interpolated onto the sample's q (points outside
        its range are dropped).
    sample_transmission, background_transmission : float
        Transmissions (0 < T ≤ 1).
    background_scale : float
        Factor on the background (e.g. the volume fraction of electrolyte it stands for).
    thickness_cm : float, optional
        Sample thickness; with it (and a calibration factor to absolute units) the result
        is dΣ/dΩ in cm⁻¹. Without it the intensity is per unit thickness of nothing: the
        units stay relative.
    calibration_factor : float
        Detector-to-absolute scale (from a standard such as water or glassy carbon).
    q_min_inv_A, q_max_inv_A : float, optional
        q range kept (Å⁻¹).

    Returns
    -------
    DataArray
        The reduced curve; σ propagated from both inputs; ``attrs["reduction"]`` records
        every parameter.
    """
    for label, value in (("sample_transmission", sample_transmission),
                         ("background_transmission", background_transmission)):
        if not (np.isfinite(value) and 0 < value <= 1):
            raise InvalidParameterError(f"{label} must lie in (0, 1], got {value!r}.")
    if thickness_cm is not None and not (np.isfinite(thickness_cm) and thickness_cm > 0):
        raise InvalidParameterError(f"thickness_cm must be a positive thickness in cm, got {thickness_cm!r}.")
    if not (np.isfinite(calibration_factor) and calibration_factor > 0):
        raise InvalidParameterError("calibration_factor must be positive.")
    q, y, s = _arrays(sample)
    s = np.where(np.isfinite(s), s, 0.0)
    y = y / sample_transmission
    s = s / sample_transmission
    notes = []
    if background is not None:
        qb, yb, sb = _arrays(background)
        inside = (q >= qb.min()) & (q <= qb.max())
        if inside.sum() < 5:
            raise InvalidParameterError("the background curve does not cover the sample's q range.")
        if (~inside).any():
            notes.append(f"{int((~inside).sum())} sample point(s) outside the background's q range were dropped.")
        q, y, s = q[inside], y[inside], s[inside]
        yb_i = np.interp(q, qb, yb)
        sb_i = np.interp(q, qb, np.where(np.isfinite(sb), sb, 0.0))
        factor = background_scale / background_transmission
        y = y - factor * yb_i
        s = np.hypot(s, factor * sb_i)
    norm = calibration_factor / (thickness_cm if thickness_cm is not None else 1.0)
    y, s = y * norm, s * norm
    units = "cm⁻¹" if thickness_cm is not None and calibration_factor != 1.0 else sample.attrs.get("units", "a.u.")
    meta = dict(sample.attrs.get("battlab", {}))
    meta["notes"] = list(meta.get("notes", [])) + notes
    dq = sample["dq_inv_A"].to_numpy() if "dq_inv_A" in sample.coords else None
    if dq is not None and dq.size != q.size:
        dq = np.interp(q, sample[Q_DIM].to_numpy(), dq)
    out = make_curve(q, y, sigma=np.where(s > 0, s, np.nan), dq_inv_A=dq,
                     technique=sample.attrs.get("technique", "saxs"), units=units, meta=meta)
    out.attrs["reduction"] = {"sample_transmission": sample_transmission,
                              "background_transmission": background_transmission,
                              "background_scale": background_scale, "thickness_cm": thickness_cm,
                              "calibration_factor": calibration_factor, "background": background is not None}
    if q_min_inv_A is not None or q_max_inv_A is not None:
        out = mask_q(out, q_min_inv_A=q_min_inv_A, q_max_inv_A=q_max_inv_A)
    return out


def merge_curves(curves, *, scale: bool = True):
    """Merge curves of overlapping q ranges (e.g. two detector distances) into one.

    Curves are taken in order of their lowest q. With ``scale``, each next curve is
    scaled to the merged one by the weighted mean ratio over their overlap (the first
    curve sets the scale). Points in an overlap are combined by the inverse-variance
    mean on the first curve's q; points beyond it are appended.

    Returns
    -------
    merged : DataArray
    factors : list of float
        The scale applied to each curve, in the order given.
    """
    if len(curves) < 2:
        raise InvalidParameterError("merging needs at least two curves.")
    order = sorted(range(len(curves)), key=lambda i: float(curves[i][Q_DIM].min()))
    factors = [1.0] * len(curves)
    q, y, s = _arrays(curves[order[0]])
    s = _weights(y, s)
    for i in order[1:]:
        qn, yn, sn = _arrays(curves[i])
        sn = _weights(yn, sn)
        lo, hi = max(q.min(), qn.min()), min(q.max(), qn.max())
        overlap = (q >= lo) & (q <= hi)
        if hi <= lo or overlap.sum() < 2:
            raise InvalidParameterError(f"curve {i} does not overlap the q range of the curves before it "
                                        f"({q.min():.4g}–{q.max():.4g} Å⁻¹); merging needs an overlap.")
        yi = np.interp(q[overlap], qn, yn)
        si = np.interp(q[overlap], qn, sn)
        f = 1.0
        if scale:
            ratio, w = y[overlap] / yi, 1.0 / ((s[overlap] / yi) ** 2 + (y[overlap] * si / yi ** 2) ** 2)
            good = np.isfinite(ratio) & np.isfinite(w) & (yi != 0)
            if not good.any():
                raise InvalidParameterError(f"curve {i}: no usable points in the overlap to scale it.")
            f = float(np.sum(w[good] * ratio[good]) / np.sum(w[good]))
        factors[i] = f
        yi, si = yi * f, si * f
        wa, wb = 1 / s[overlap] ** 2, 1 / si ** 2
        y = y.copy()
        s = s.copy()
        y[overlap] = (wa * y[overlap] + wb * yi) / (wa + wb)
        s[overlap] = 1 / np.sqrt(wa + wb)
        beyond = qn > q.max()
        q = np.r_[q, qn[beyond]]
        y = np.r_[y, yn[beyond] * f]
        s = np.r_[s, sn[beyond] * f]
    first = curves[order[0]]
    meta = dict(first.attrs.get("battlab", {}))
    meta["notes"] = list(meta.get("notes", [])) + [f"merged from {len(curves)} curves (scales "
                                                   f"{', '.join(f'{f:.4g}' for f in factors)})."]
    merged = make_curve(q, y, sigma=s, technique=first.attrs.get("technique", "saxs"),
                        units=first.attrs.get("units", "a.u."), meta=meta)
    return merged, factors


# --------------------------------------------------------------------------- Guinier


@dataclass
class GuinierFit:
    """ln I = ln I0 − q²R_g²/3 over ``q_min``–``q_max`` (Å⁻¹)."""

    Rg_A: float
    Rg_err_A: float
    I0: float
    I0_err: float
    q_min_inv_A: float
    q_max_inv_A: float
    qRg_max: float
    n_points: int
    reduced_chi_squared: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def predict(self, q):
        q = np.asarray(q, float)
        return self.I0 * np.exp(-(q * self.Rg_A) ** 2 / 3)


def _linear_fit(x, y, sigma):
    """Weighted straight line y = a + b·x: (a, b), their covariance (scaled by χ²_red when > 1) and χ²_red."""
    w = 1 / sigma ** 2
    A = np.column_stack([np.ones_like(x), x])
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    coef = cov @ (A.T @ (w * y))
    resid = (y - A @ coef) / sigma
    dof = max(len(x) - 2, 1)
    chi2 = float(resid @ resid / dof)
    return coef, cov * max(chi2, 1.0), chi2


def fit_guinier(curve, *, q_min_inv_A: float | None = None, q_max_inv_A: float | None = None,
                qRg_limit: float = 1.3, min_points: int = 5) -> GuinierFit:
    """Guinier fit of ln I against q² with an automatic range q·R_g ≤ ``qRg_limit``.

    From the lowest q (or ``q_min_inv_A``), the widest range whose fitted R_g keeps
    q_max·R_g ≤ ``qRg_limit`` is taken (every upper end is tried). With
    ``q_max_inv_A`` the range is fixed and ``qRg_max`` tells whether it is valid.

    Returns
    -------
    GuinierFit
        R_g (Å) and I0 with 1σ uncertainties from the weighted fit (σ(ln I) = σ(I)/I).
    """
    q, y, s = _arrays(curve)
    s = _weights(y, s)
    lo = q.min() if q_min_inv_A is None else float(q_min_inv_A)
    base = (q >= lo) & (y > 0)
    if base.sum() < min_points:
        raise MissingDataError(f"fewer than {min_points} positive intensities above q = {lo:.4g} Å⁻¹ for a Guinier fit.")

    def fit(hi):
        sel = base & (q <= hi)
        if sel.sum() < min_points:
            return None
        coef, cov, chi2 = _linear_fit(q[sel] ** 2, np.log(y[sel]), s[sel] / y[sel])
        if coef[1] >= 0:
            return None
        return coef, cov, chi2, sel

    if q_max_inv_A is not None:
        res = fit(float(q_max_inv_A))
    else:
        # Widest range from the lowest q whose own R_g keeps q_max·R_g within the limit.
        res = None
        for hi in q[base][min_points - 1:]:
            cand = fit(hi)
            if cand is not None and hi * np.sqrt(-3 * cand[0][1]) <= qRg_limit:
                res = cand
    if res is None:
        raise MissingDataError("no Guinier region: ln I does not fall linearly with q² at the lowest q "
                               f"(tried from {lo:.4g} Å⁻¹). Check the background subtraction or the q range.")
    (a, b), cov, chi2, sel = res
    rg = float(np.sqrt(-3 * b))
    rg_err = float(np.sqrt(cov[1, 1]) * 3 / (2 * rg))
    i0 = float(np.exp(a))
    return GuinierFit(Rg_A=rg, Rg_err_A=rg_err, I0=i0, I0_err=float(i0 * np.sqrt(cov[0, 0])),
                      q_min_inv_A=float(q[sel].min()), q_max_inv_A=float(q[sel].max()),
                      qRg_max=float(q[sel].max() * rg), n_points=int(sel.sum()), reduced_chi_squared=chi2)


# --------------------------------------------------------------------------- Porod


@dataclass
class PorodFit:
    """I = K/q⁴ + B over ``q_min``–``q_max``; specific surface when a contrast was given."""

    K: float
    K_err: float
    background: float
    background_err: float
    q_min_inv_A: float
    q_max_inv_A: float
    n_points: int
    reduced_chi_squared: float
    contrast_1e6_per_A2: float | None = None
    specific_surface_cm2_per_cm3: float | None = None
    specific_surface_m2_per_cm3: float | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def predict(self, q):
        q = np.asarray(q, float)
        return self.K / q ** 4 + self.background


def specific_surface(K, contrast_1e6_per_A2: float) -> float:
    """S/V (cm²/cm³ = cm⁻¹) from the Porod constant K (cm⁻¹·Å⁻⁴): S/V = K / (2π·Δρ²)."""
    if not (np.isfinite(contrast_1e6_per_A2) and contrast_1e6_per_A2 != 0):
        raise InvalidParameterError("the contrast Δρ (10⁻⁶ Å⁻²) must be a non-zero number.")
    drho_cm2 = contrast_1e6_per_A2 * _SLD_TO_CM2
    return float(K * _PER_A4_TO_PER_CM4 / (2 * np.pi * drho_cm2 ** 2))


def fit_porod(curve, *, q_min_inv_A: float | None = None, q_max_inv_A: float | None = None,
              fraction: float = 0.3, background: bool = True,
              contrast_1e6_per_A2: float | None = None) -> PorodFit:
    """Porod fit I = K/q⁴ + B at high q, as the straight line I·q⁴ = K + B·q⁴.

    Parameters
    ----------
    q_min_inv_A, q_max_inv_A : float, optional
        Fit range; default the upper ``fraction`` of the points.
    background : bool
        Fit a flat background B (else B = 0).
    contrast_1e6_per_A2 : float, optional
        Scattering-length-density difference Δρ between the two phases (10⁻⁶ Å⁻²); with
        absolute intensities (cm⁻¹) it gives the specific surface S/V = K/(2πΔρ²).
    """
    q, y, s = _arrays(curve)
    s = _weights(y, s)
    if q_min_inv_A is None:
        q_min_inv_A = float(np.quantile(q, 1 - fraction))
    hi = q.max() if q_max_inv_A is None else float(q_max_inv_A)
    sel = (q >= q_min_inv_A) & (q <= hi)
    if sel.sum() < 4:
        raise MissingDataError(f"fewer than 4 points in the Porod range {q_min_inv_A:.4g}–{hi:.4g} Å⁻¹.")
    x4 = q[sel] ** 4
    yq4 = y[sel] * x4
    sq4 = s[sel] * x4
    if background:
        (k, b), cov, chi2 = _linear_fit(x4, yq4, sq4)
        k_err, b_err = np.sqrt(cov[0, 0]), np.sqrt(cov[1, 1])
    else:
        w = 1 / sq4 ** 2
        k = float(np.sum(w * yq4) / np.sum(w))
        resid = (yq4 - k) / sq4
        chi2 = float(resid @ resid / max(sel.sum() - 1, 1))
        k_err, b, b_err = float(np.sqrt(max(chi2, 1.0) / np.sum(w))), 0.0, 0.0
    fit = PorodFit(K=float(k), K_err=float(k_err), background=float(b), background_err=float(b_err),
                   q_min_inv_A=float(q[sel].min()), q_max_inv_A=float(q[sel].max()), n_points=int(sel.sum()),
                   reduced_chi_squared=chi2)
    if contrast_1e6_per_A2 is not None:
        sv = specific_surface(fit.K, contrast_1e6_per_A2)
        fit.contrast_1e6_per_A2 = float(contrast_1e6_per_A2)
        fit.specific_surface_cm2_per_cm3 = sv
        fit.specific_surface_m2_per_cm3 = sv * 1e-4
    return fit


# --------------------------------------------------------------------------- Eq. (1)


def globule_model(q, *, A_Porod: float, A_globule: float, R_g_A: float, B_inc: float = 0.0,
                  components: bool = False):
    """The seed's Eq. (1): Porod term + unified Guinier/Porod globule term (+ flat background).

    With ``components`` returns ``{"Porod": ..., "globule": ..., "background": ..., "total": ...}``.
    """
    from scipy.special import erf

    q = np.asarray(q, float)
    if R_g_A <= 0:
        raise InvalidParameterError("R_g must be positive (Å).")
    x = q * R_g_A
    porod = A_Porod * q ** -4.0
    glob = A_globule * (np.exp(-x ** 2 / 3) + 8 * erf(1.06 * x / np.sqrt(6)) ** 12 / x ** 4)
    total = porod + glob + B_inc
    if components:
        return {"Porod": porod, "globule": glob, "background": np.full_like(q, B_inc), "total": total}
    return total


@dataclass
class GlobuleFit:
    """Fitted Eq. (1): parameters, 1σ errors, χ²_red and the q range."""

    params: dict
    errors: dict
    reduced_chi_squared: float
    q_min_inv_A: float
    q_max_inv_A: float
    n_points: int
    fixed: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def predict(self, q, *, components: bool = False):
        return globule_model(q, **self.params, components=components)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{"parameter": k, "value": v, "error": self.errors.get(k, np.nan),
                              "fixed": k in self.fixed} for k, v in self.params.items()])


def _globule_start(q, y, s, fixed=None):
    """Starting values: the amplitudes are linear for a given R_g, so R_g is scanned on a log grid and
    A_Porod, A_globule, B_inc solved by non-negative least squares at each; the best R_g wins."""
    from scipy.optimize import nnls

    fixed = fixed or {}
    grid = [fixed["R_g_A"]] if "R_g_A" in fixed else np.geomspace(0.5 / q.max(), 3.0 / q.min(), 60)
    best = None
    for rg in grid:
        cols = globule_model(q, A_Porod=1.0, A_globule=0.0, R_g_A=rg), \
            globule_model(q, A_Porod=0.0, A_globule=1.0, R_g_A=rg), np.ones_like(q)
        A = np.column_stack(cols) / s[:, None]
        scale = np.linalg.norm(A, axis=0)
        coef, rnorm = nnls(A / scale, y / s)
        if best is None or rnorm < best[0]:
            best = (rnorm, rg, coef / scale)
    _, rg, (a_por, a_glob, b) = best
    tiny = 1e-12 * float(np.max(np.abs(y)))
    return {"A_Porod": max(a_por, tiny * q.min() ** 4), "A_globule": max(a_glob, tiny), "R_g_A": float(rg),
            "B_inc": float(b)}


def fit_globule(curve, *, start: dict | None = None, fixed: dict | None = None,
                q_min_inv_A: float | None = None, q_max_inv_A: float | None = None,
                bounds: dict | None = None) -> GlobuleFit:
    """Fit the seed's Eq. (1) (A_Porod, A_globule, R_g, B_inc) by weighted least squares.

    Parameters
    ----------
    start : dict, optional
        Starting values by name (:data:`GLOBULE_PARAMETERS`); default from Guinier and
        Porod fits of the curve.
    fixed : dict, optional
        Parameters held at a value (e.g. ``{"B_inc": 0.0}``).
    bounds : dict, optional
        ``name -> (low, high)``; amplitudes are ≥ 0 and 0.3/q_max ≤ R_g ≤ 10/q_min by
        default (a fit at a bound says so in ``notes``).

    Notes
    -----
    Residuals are (I − model)/σ with the file's σ (2 % of I where it has none); the
    amplitudes and R_g are fitted in log space so they stay positive. Errors come from
    the Jacobian (covariance scaled by χ²_red when it exceeds 1).
    """
    from scipy.optimize import least_squares

    q, y, s = _arrays(curve)
    lo = q.min() if q_min_inv_A is None else float(q_min_inv_A)
    hi = q.max() if q_max_inv_A is None else float(q_max_inv_A)
    sel = (q >= lo) & (q <= hi) & np.isfinite(y)
    q, y, s = q[sel], y[sel], _weights(y[sel], s[sel])
    if q.size < 8:
        raise MissingDataError("fewer than 8 points to fit Eq. (1); widen the q range.")
    fixed = dict(fixed or {})
    unknown = set(fixed) | set(start or {}) | set(bounds or {})
    unknown -= set(GLOBULE_PARAMETERS)
    if unknown:
        raise InvalidParameterError(f"unknown Eq. (1) parameter(s) {sorted(unknown)}; names are "
                                    f"{list(GLOBULE_PARAMETERS)}.")
    p0 = _globule_start(q, y, s, fixed)
    p0.update(start or {})
    p0.update(fixed)
    free = [k for k in GLOBULE_PARAMETERS if k not in fixed]
    logp = {"A_Porod", "A_globule", "R_g_A"}
    scale_b = max(float(np.median(np.abs(y))), 1e-300)
    # R_g is only measurable while q·R_g ≈ 1 falls inside the data: 0.3/q_max to 10/q_min.
    bounds = {"R_g_A": (0.3 / q.max(), 10.0 / q.min()), **(bounds or {})}
    lb, ub = [], []
    for k in free:
        blo, bhi = bounds.get(k, (None, None))
        if k in logp:
            lb.append(np.log(blo) if blo else -np.inf)
            ub.append(np.log(bhi) if bhi else np.inf)
        else:
            lb.append(blo / scale_b if blo is not None else -np.inf)
            ub.append(bhi / scale_b if bhi is not None else np.inf)

    def unpack(v):
        p = dict(p0)
        for k, x in zip(free, v, strict=True):
            p[k] = float(np.exp(x)) if k in logp else float(x * scale_b)
        return p

    def resid(v):
        return (globule_model(q, **unpack(v)) - y) / s

    x0 = np.array([np.log(max(p0[k], 1e-300)) if k in logp else p0[k] / scale_b for k in free])
    x0 = np.clip(x0, np.array(lb) + 1e-9, np.array(ub) - 1e-9)
    res = least_squares(resid, x0, bounds=(lb, ub), x_scale="jac", max_nfev=2000)
    params = unpack(res.x)
    dof = max(q.size - len(free), 1)
    chi2 = float(res.fun @ res.fun / dof)
    errors = {}
    try:
        cov = np.linalg.pinv(res.jac.T @ res.jac) * max(chi2, 1.0)
        for j, k in enumerate(free):
            sd = float(np.sqrt(max(cov[j, j], 0.0)))
            errors[k] = params[k] * sd if k in logp else sd * scale_b
    except np.linalg.LinAlgError:
        errors = {k: np.nan for k in free}
    for k in fixed:
        errors[k] = 0.0
    notes = []
    for j, k in enumerate(free):
        if np.isfinite(lb[j]) and res.x[j] - lb[j] < 1e-6 or np.isfinite(ub[j]) and ub[j] - res.x[j] < 1e-6:
            notes.append(f"{k} at its bound ({params[k]:.4g}): the q range does not constrain it; widen the q "
                         "range or fix it.")
    return GlobuleFit(params=params, errors=errors, reduced_chi_squared=chi2, q_min_inv_A=float(q.min()),
                      q_max_inv_A=float(q.max()), n_points=int(q.size), fixed=fixed, notes=notes)


# --------------------------------------------------------------------------- invariant


def invariant(curve, *, background: float = 0.0, porod_K: float | None = None, guinier: GuinierFit | None = None,
              contrast_1e6_per_A2: float | None = None) -> dict:
    """Scattering invariant Q = ∫ q² I dq with the unmeasured ends extrapolated.

    The measured part is integrated by the trapezoid rule after subtracting
    ``background``; below q_min the Guinier curve (or a flat I(q_min) when none is
    given) and above q_max the Porod tail K/q⁴ (∫ = K/q_max) are added.

    Returns
    -------
    dict
        ``invariant`` (units of I × Å⁻³), its ``measured``, ``low_q`` and ``high_q`` parts,
        and with a contrast (10⁻⁶ Å⁻²) and absolute I (cm⁻¹) the volume fraction φ from
        Q = 2π²Δρ²φ(1 − φ) (the root below 0.5), ``phi_times_1_minus_phi``.
    """
    q, y, _ = _arrays(curve)
    y = y - background
    measured = float(np.trapezoid(q ** 2 * y, q))
    q0 = q.min()
    if guinier is not None:
        qq = np.linspace(0, q0, 200)
        low = float(np.trapezoid(qq ** 2 * guinier.predict(qq), qq))
    else:
        low = float(y[0] * q0 ** 3 / 3)
    high = float(porod_K / q.max()) if porod_K is not None else 0.0
    total = measured + low + high
    out = {"invariant": total, "measured": measured, "low_q": low, "high_q": high}
    if contrast_1e6_per_A2 is not None:
        drho = contrast_1e6_per_A2 * _SLD_TO_CM2
        pp = total * _PER_A3_TO_PER_CM3 / (2 * np.pi ** 2 * drho ** 2)
        out["phi_times_1_minus_phi"] = float(pp)
        out["volume_fraction"] = float((1 - np.sqrt(1 - 4 * pp)) / 2) if pp <= 0.25 else np.nan
    return out


# --------------------------------------------------------------------------- series


def _curves(data):
    if hasattr(data, "dims") and "time" in data.dims:
        return [data.isel(time=i) for i in range(data.sizes["time"])]
    if hasattr(data, "dims"):
        return [data]
    return list(data)


def fit_saxs_series(series, *, echem: pd.DataFrame | None = None, clock_offset_s: float = 0.0,
                    time_basis: str = "auto", q_min_inv_A: float | None = None, q_max_inv_A: float | None = None,
                    porod_fraction: float = 0.3, contrast_1e6_per_A2: float | None = None,
                    fixed: dict | None = None) -> pd.DataFrame:
    """One row per curve: Eq. (1), Guinier, Porod and invariant, with the cell's state beside it.

    Each curve's Eq. (1) fit starts from the previous curve's result. With ``echem`` the
    cycling record is joined at each curve's time by :func:`battlab.series.curve_echem`
    (which is :func:`battlab.correlate.timeline.echem_at`): voltage, capacity and SOC.

    Returns
    -------
    DataFrame
        ``curve``, ``time``, ``elapsed_s``, ``A_Porod``, ``A_globule``, ``R_g_A``,
        ``B_inc`` (each with ``_err``), ``chi2_red``, ``guinier_Rg_A`` (+ ``_err``; Guinier of
        the globules alone: the fitted A_Porod·q⁻⁴ and B_inc are subtracted first),
        ``guinier_I0``, ``porod_K`` (+ ``_err``), ``porod_background``, ``invariant``,
        ``specific_surface_cm2_per_cm3`` and ``volume_fraction`` with a contrast, and the
        electrochemistry columns with ``echem``. ``attrs["notes"]`` lists curves where
        a fit failed (their cells are NaN).
    """
    curves = _curves(series)
    rows, notes = [], []
    start = None
    for i, c in enumerate(curves):
        checkpoint()  # an app stops here when its user has already moved on
        if q_min_inv_A is not None or q_max_inv_A is not None:
            c = mask_q(c, q_min_inv_A=q_min_inv_A, q_max_inv_A=q_max_inv_A)
        row = {"curve": i}
        if "time" in c.coords:
            row["time"] = c["time"].to_numpy()
            row["elapsed_s"] = float(c["elapsed_s"]) if "elapsed_s" in c.coords else np.nan
        try:
            fit = fit_globule(c, start=start, fixed=fixed)
            start = {k: v for k, v in fit.params.items() if k not in (fixed or {})}
            for k in GLOBULE_PARAMETERS:
                row[k], row[f"{k}_err"] = fit.params[k], fit.errors.get(k, np.nan)
            row["chi2_red"] = fit.reduced_chi_squared
            notes += [f"curve {i}: {n}" for n in fit.notes]
        except BattlabError as exc:
            notes.append(f"curve {i}: Eq. (1) not fitted ({exc})")
        gu = None
        try:
            q = c[Q_DIM].to_numpy()
            # Guinier of the globules alone: the fitted Porod term of the large particles and the
            # incoherent background are taken off first (they would bend ln I at low and high q).
            sub = c - (row.get("A_Porod", 0.0) * q ** -4.0 + row.get("B_inc", 0.0))
            sub.attrs = c.attrs
            a_p, a_g = row.get("A_Porod", 0.0), row.get("A_globule", 0.0)
            start_q = (4 * a_p / a_g) ** 0.25 if a_p > 0 and a_g > 0 else None  # Porod term < ¼ of the plateau
            gu = fit_guinier(sub, q_min_inv_A=start_q)
            row.update(guinier_Rg_A=gu.Rg_A, guinier_Rg_err_A=gu.Rg_err_A, guinier_I0=gu.I0,
                       guinier_qRg_max=gu.qRg_max)
        except BattlabError as exc:
            notes.append(f"curve {i}: no Guinier fit ({exc})")
        try:
            por = fit_porod(c, fraction=porod_fraction, contrast_1e6_per_A2=contrast_1e6_per_A2)
            row.update(porod_K=por.K, porod_K_err=por.K_err, porod_background=por.background)
            if por.specific_surface_cm2_per_cm3 is not None:
                row["specific_surface_cm2_per_cm3"] = por.specific_surface_cm2_per_cm3
            inv = invariant(c, background=por.background, porod_K=por.K, contrast_1e6_per_A2=contrast_1e6_per_A2)
            row["invariant"] = inv["invariant"]
            if "volume_fraction" in inv:
                row["volume_fraction"] = inv["volume_fraction"]
        except BattlabError as exc:
            notes.append(f"curve {i}: no Porod fit ({exc})")
        rows.append(row)
    table = join_echem(pd.DataFrame(rows), series, echem, clock_offset_s=clock_offset_s, time_basis=time_basis,
                       label="SAXS/SANS curves")
    table.attrs["notes"] = notes
    return saxs_trends(table)


def saxs_trends(table: pd.DataFrame) -> pd.DataFrame:
    """Add relative trends to a per-curve fit table (against the first curve).

    ``volume_ratio`` = (R_g/R_g,first)³ (swelling of the globules: > 1 expansion),
    ``volume_change_pct``, ``A_Porod_ratio`` (surface: < 1 smoother, a coat; > 1 new
    surface, fracture) and ``A_globule_ratio``.
    """
    out = table.copy()
    if "R_g_A" in out and out["R_g_A"].notna().any():
        ref = out["R_g_A"].dropna().iloc[0]
        out["volume_ratio"] = (out["R_g_A"] / ref) ** 3
        out["volume_change_pct"] = (out["volume_ratio"] - 1) * 100
    for k in ("A_Porod", "A_globule"):
        if k in out and out[k].notna().any():
            out[f"{k}_ratio"] = out[k] / out[k].dropna().iloc[0]
    out.attrs = dict(table.attrs)
    return out
