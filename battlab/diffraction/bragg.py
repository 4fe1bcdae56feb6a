"""Bragg's law, wavelengths, lattice-parameter least squares, Scherrer and Williamson–Hall."""

from __future__ import annotations

import numpy as np
import pandas as pd

from battlab.errors import InvalidParameterError, MissingDataError

__all__ = [
    "ANODES",
    "CU_KA1_A",
    "CU_KA2_A",
    "HC_KEV_A",
    "LatticeFit",
    "cu_doublet",
    "d_hkl_A",
    "d_spacing_A",
    "fit_lattice",
    "scherrer_size_nm",
    "strain",
    "two_theta_deg",
    "wavelength_A",
    "williamson_hall",
]

#: h·c in keV·Å (CODATA 2018): λ[Å] = 12.3984198 / E[keV].
HC_KEV_A = 12.398419843320026

#: Kα1, Kα2 wavelengths in Å (Cu, Co, Fe, Cr: Hölzer et al., Phys. Rev. A 56 (1997) 4554;
#: Mo, Ag: International Tables for Crystallography Vol. C) and the usual Kα2/Kα1 ratio.
ANODES = {
    "Cu": (1.540598, 1.544426, 0.5),
    "Mo": (0.709319, 0.713609, 0.5),
    "Co": (1.788996, 1.792850, 0.5),
    "Fe": (1.936042, 1.939980, 0.5),
    "Cr": (2.289760, 2.293663, 0.5),
    "Ag": (0.559421, 0.563813, 0.5),
}
CU_KA1_A, CU_KA2_A = ANODES["Cu"][0], ANODES["Cu"][1]

_SYSTEMS = {"cubic": ("a",), "tetragonal": ("a", "c"), "hexagonal": ("a", "c"), "orthorhombic": ("a", "b", "c")}


def wavelength_A(*, anode: str | None = None, energy_keV: float | None = None, line: str = "Ka1") -> float:
    """X-ray wavelength in Å from a tube anode (Kα1 by default) or a photon energy."""
    if (anode is None) == (energy_keV is None):
        raise InvalidParameterError("give exactly one of anode (e.g. 'Cu') or energy_keV.")
    if energy_keV is not None:
        if not energy_keV > 0:
            raise InvalidParameterError(f"photon energy must be positive, got {energy_keV} keV.")
        return HC_KEV_A / float(energy_keV)
    key = anode.strip().capitalize()
    if key not in ANODES:
        raise InvalidParameterError(f"unknown anode {anode!r}; known: {', '.join(ANODES)} (or give energy_keV).")
    lines = {"ka1": 0, "ka2": 1, "ka": None}
    sel = lines.get(line.lower().replace("α", "a"))
    if line.lower().replace("α", "a") not in lines:
        raise InvalidParameterError(f"line must be Ka1, Ka2 or Ka, got {line!r}.")
    l1, l2, ratio = ANODES[key]
    return (l1 + ratio * l2) / (1 + ratio) if sel is None else (l1, l2)[sel]


def cu_doublet(anode: str = "Cu") -> dict:
    """The ``doublet`` argument of :func:`battlab.peaks.fit_peaks` for a tube anode."""
    l1, l2, ratio = ANODES[anode.strip().capitalize()]
    return {"lambda1": l1, "lambda2": l2, "ratio": ratio}


def d_spacing_A(two_theta_deg, wavelength_A: float):
    """Bragg's law (first order): d = λ / (2 sin θ)."""
    _check_wavelength(wavelength_A)
    return wavelength_A / (2 * np.sin(np.radians(np.asarray(two_theta_deg, float)) / 2))


def two_theta_deg(d_A, wavelength_A: float):
    """2θ in degrees of a d-spacing; NaN where λ > 2d (no reflection)."""
    _check_wavelength(wavelength_A)
    s = wavelength_A / (2 * np.asarray(d_A, float))
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(s) <= 1, 2 * np.degrees(np.arcsin(np.clip(s, -1, 1))), np.nan)


def strain(d_A, d0_A):
    """Lattice strain ε = (d − d0)/d0."""
    return (np.asarray(d_A, float) - d0_A) / d0_A


def _check_wavelength(lam):
    if not np.all(np.asarray(lam, float) > 0):
        raise InvalidParameterError(f"wavelength must be positive (Å), got {lam}.")


def _inv_d2_terms(system, hkl):
    h, k, l = (np.asarray(hkl, float)[:, i] for i in range(3))
    if system == "cubic":
        return np.column_stack([h * h + k * k + l * l])  # 1/d² = (h²+k²+l²)/a²
    if system == "tetragonal":
        return np.column_stack([h * h + k * k, l * l])
    if system == "hexagonal":
        return np.column_stack([4.0 / 3.0 * (h * h + h * k + k * k), l * l])
    return np.column_stack([h * h, k * k, l * l])


def _check_system(system):
    if system not in _SYSTEMS:
        raise InvalidParameterError(f"unknown crystal system {system!r}; choose one of {list(_SYSTEMS)}.")


def d_hkl_A(hkl, *, system: str, a: float, b: float | None = None, c: float | None = None):
    """d-spacings of reflections ``hkl`` (N×3) for a cell of the given crystal system."""
    _check_system(system)
    hkl = np.atleast_2d(np.asarray(hkl, float))
    cell = {"a": a, "b": b if b is not None else a, "c": c if c is not None else a}
    coef = np.array([1 / cell[p] ** 2 for p in _SYSTEMS[system]])
    with np.errstate(divide="ignore"):
        return 1 / np.sqrt(_inv_d2_terms(system, hkl) @ coef)


class LatticeFit:
    """Least-squares lattice parameters from indexed d-spacings (fit/predict style).

    ``1/d²`` is linear in ``1/a²``, ``1/c²``…, so the fit is linear; parameters and
    standard errors are propagated back to Å.

    Parameters
    ----------
    system : {"cubic", "tetragonal", "hexagonal", "orthorhombic"}
    """

    def __init__(self, system: str):
        _check_system(system)
        self.system = system
        self.params_ = None

    def fit(self, hkl, d_A, *, d_err_A=None) -> LatticeFit:
        hkl = np.atleast_2d(np.asarray(hkl, float))
        d = np.asarray(d_A, float)
        names = _SYSTEMS[self.system]
        if hkl.shape[0] != d.size or hkl.shape[1] != 3:
            raise InvalidParameterError("hkl must be N×3 with one row per d-spacing.")
        if d.size < len(names):
            raise MissingDataError(f"a {self.system} cell needs at least {len(names)} indexed peaks, got {d.size}.")
        design = _inv_d2_terms(self.system, hkl)
        rhs = 1 / d ** 2
        # Weight by σ(1/d²) = 2σ_d/d³ when uncertainties are known.
        wts = np.ones_like(d) if d_err_A is None else d ** 3 / (2 * np.asarray(d_err_A, float))
        sol, *_ = np.linalg.lstsq(design * wts[:, None], rhs * wts, rcond=None)
        if np.linalg.matrix_rank(design) < len(names) or np.any(sol <= 0):
            raise MissingDataError(f"these reflections do not determine every {self.system} lattice parameter "
                                   "(e.g. only (00l) peaks cannot give a); add peaks with other indices.")
        resid = (rhs - design @ sol) * wts
        dof = d.size - len(names)
        if dof > 0:
            cov = np.linalg.pinv((design * wts[:, None]).T @ (design * wts[:, None])) * (resid @ resid) / dof
            serr = np.sqrt(np.clip(np.diag(cov), 0, None))
        else:
            serr = np.full(len(names), np.nan)
        values = 1 / np.sqrt(sol)
        self.params_ = dict(zip(names, values))
        self.errors_ = dict(zip(names, 0.5 * serr * values ** 3))  # |d(s^-1/2)/ds| = s^-3/2 / 2
        self.hkl_ = hkl
        self.d_A_ = d
        return self

    def predict(self, hkl):
        if self.params_ is None:
            raise InvalidParameterError("call fit() first.")
        return d_hkl_A(hkl, system=self.system, **self.params_)

    def to_frame(self) -> pd.DataFrame:
        out = {f"{k}_A": [v] for k, v in self.params_.items()}
        out.update({f"{k}_err_A": [v] for k, v in self.errors_.items()})
        out["volume_A3"] = [self.volume_A3]
        return pd.DataFrame(out)

    @property
    def volume_A3(self) -> float:
        p = self.params_
        a = p["a"]
        c = p.get("c", a)
        if self.system == "hexagonal":
            return float(np.sqrt(3) / 2 * a * a * c)
        return float(a * p.get("b", a) * c)


def fit_lattice(hkl, d_A, *, system: str, d_err_A=None) -> LatticeFit:
    """Shortcut: ``LatticeFit(system).fit(hkl, d_A)``."""
    return LatticeFit(system).fit(hkl, d_A, d_err_A=d_err_A)


def _sample_breadth_rad(fwhm_deg, instrument_fwhm_deg, correction):
    b = np.radians(np.asarray(fwhm_deg, float))
    bi = np.radians(np.asarray(instrument_fwhm_deg, float))
    if correction == "quadratic":  # Gaussian profiles: widths add in quadrature
        out = np.sqrt(np.clip(b ** 2 - bi ** 2, 0, None))
    elif correction == "linear":  # Lorentzian profiles: widths add
        out = np.clip(b - bi, 0, None)
    else:
        raise InvalidParameterError("instrument correction must be 'quadratic' (Gaussian) or 'linear' (Lorentzian).")
    return np.where(out > 0, out, np.nan)


def scherrer_size_nm(two_theta, fwhm_deg, *, wavelength_A: float, k: float = 0.9,
                     instrument_fwhm_deg=0.0, correction: str = "quadratic"):
    """Scherrer crystallite size τ = Kλ / (β cos θ), β the sample FWHM in radians.

    Parameters
    ----------
    two_theta : array_like
        Peak positions (degrees 2θ).
    fwhm_deg : array_like
        Measured FWHM (degrees 2θ).
    instrument_fwhm_deg : float or array_like
        Instrumental FWHM (from a standard such as LaB6 or Si), removed per ``correction``.
    correction : {"quadratic", "linear"}
        β² = β_obs² − β_inst² (Gaussian) or β = β_obs − β_inst (Lorentzian).

    Returns
    -------
    ndarray
        Size in nm (NaN where the peak is not broader than the instrument). A lower
        bound when strain also broadens the peak; see :func:`williamson_hall`.
    """
    _check_wavelength(wavelength_A)
    beta = _sample_breadth_rad(fwhm_deg, instrument_fwhm_deg, correction)
    theta = np.radians(np.asarray(two_theta, float)) / 2
    return k * wavelength_A / (beta * np.cos(theta)) / 10.0


def williamson_hall(two_theta, fwhm_deg, *, wavelength_A: float, k: float = 0.9,
                    instrument_fwhm_deg=0.0, correction: str = "quadratic") -> dict:
    """Williamson–Hall: β cos θ = Kλ/τ + 4 ε sin θ, fitted by a straight line.

    Returns
    -------
    dict
        ``size_nm``, ``microstrain`` (ε, dimensionless), ``r_squared``, ``intercept_rad`` and ``points``
        (a DataFrame with ``four_sin_theta`` and ``beta_cos_theta_rad`` for the plot).
    """
    _check_wavelength(wavelength_A)
    tt = np.asarray(two_theta, float)
    beta = _sample_breadth_rad(fwhm_deg, instrument_fwhm_deg, correction)
    theta = np.radians(tt) / 2
    xs, ys = 4 * np.sin(theta), beta * np.cos(theta)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if ok.sum() < 2:
        raise MissingDataError("Williamson–Hall needs at least two peaks broader than the instrument.")
    slope, intercept = np.polyfit(xs[ok], ys[ok], 1)
    pred = slope * xs[ok] + intercept
    ss = np.sum((ys[ok] - ys[ok].mean()) ** 2)
    r2 = float(1 - np.sum((ys[ok] - pred) ** 2) / ss) if ss > 0 else np.nan
    size = k * wavelength_A / intercept / 10.0 if intercept > 0 else np.inf
    return {"size_nm": float(size), "microstrain": float(slope), "r_squared": r2, "intercept_rad": float(intercept),
            "points": pd.DataFrame({"two_theta_deg": tt, "four_sin_theta": xs, "beta_cos_theta_rad": ys})}
