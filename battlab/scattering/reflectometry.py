"""Specular reflectometry (neutron and X-ray): Parratt recursion, SLD profiles and layer fits.

A sample is a layer table (one row per medium, top to bottom):

``name``, ``thickness_A``, ``sld_1e-6_per_A2``, ``roughness_A`` and optionally
``sld_imag_1e-6_per_A2`` (absorption). The first row is the fronting medium the beam
comes through (air, or the Si block in a solid–liquid cell), the last the semi-infinite
backing (substrate or electrolyte); their thicknesses are ignored. ``roughness_A`` of a
row is the r.m.s. roughness of the interface on top of that medium (Névot–Croce factor).

R(q) = |X₀|² with the Parratt recursion from the backing upwards,

    k_j = √((q/2)² − 4π(ρ_j − ρ_0)),  r_j = (k_j − k_{j+1})/(k_j + k_{j+1})·exp(−2k_j k_{j+1}σ²),
    X_j = (r_j + X_{j+1}·e^{2ik_{j+1}d_{j+1}}) / (1 + r_j X_{j+1}·e^{2ik_{j+1}d_{j+1}}),

then scaled and a flat background added; instrument resolution is a Gaussian in q.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from battlab._cancel import checkpoint
from battlab.errors import BattlabError, InvalidParameterError, MissingDataError
from battlab.scattering.io import Q_DIM, join_echem

__all__ = ["LAYER_COLUMNS", "ReflectivityFit", "critical_q", "fit_reflectivity", "fit_reflectivity_series",
           "fresnel_reflectivity", "layer_table", "parratt", "read_layers", "reflectivity", "sld_profile"]

#: Columns of a layer table (SLD in 10⁻⁶ Å⁻²).
LAYER_COLUMNS = ("name", "thickness_A", "sld_1e-6_per_A2", "roughness_A")
SLD = "sld_1e-6_per_A2"
SLD_IMAG = "sld_imag_1e-6_per_A2"
_GLOBAL = ("scale", "background")
_HERMITE_NODES = 17


def layer_table(rows) -> pd.DataFrame:
    """A checked layer table from a DataFrame, a list of dicts or a list of tuples.

    Tuples are ``(name, thickness_A, sld, roughness_A)``. At least a fronting medium and a
    backing are needed; thicknesses of the inner layers must be ≥ 0, roughness ≥ 0.
    """
    if isinstance(rows, pd.DataFrame):
        table = rows.copy()
    elif rows and isinstance(rows[0], dict):
        table = pd.DataFrame(list(rows))
    else:
        table = pd.DataFrame([tuple(r) for r in rows], columns=list(LAYER_COLUMNS)[: len(rows[0])] if rows else None)
    missing = [c for c in LAYER_COLUMNS if c not in table]
    if missing:
        raise MissingDataError(f"the layer table lacks column(s) {missing}; it needs {list(LAYER_COLUMNS)} "
                               f"(SLD in 10⁻⁶ Å⁻², thickness and roughness in Å), one row per medium from the "
                               "fronting medium to the backing.")
    if len(table) < 2:
        raise InvalidParameterError("a layer table needs at least the fronting medium and the backing.")
    table["name"] = table["name"].astype(str)
    if table["name"].duplicated().any():
        raise InvalidParameterError(f"layer names must be unique: {list(table['name'])}.")
    for col in ("thickness_A", SLD, "roughness_A") + ((SLD_IMAG,) if SLD_IMAG in table else ()):
        try:
            table[col] = pd.to_numeric(table[col])
        except (ValueError, TypeError):
            raise InvalidParameterError(f"layer table column {col!r} must hold numbers.") from None
    inner = table.iloc[1:-1]
    if not np.all(np.isfinite(inner["thickness_A"])) or (inner["thickness_A"] < 0).any():
        raise InvalidParameterError("every layer between the fronting medium and the backing needs a thickness ≥ 0 Å.")
    if not np.all(np.isfinite(table[SLD])):
        raise InvalidParameterError("every medium needs a finite SLD (10⁻⁶ Å⁻²).")
    rough = table["roughness_A"].fillna(0.0)
    if (rough < 0).any():
        raise InvalidParameterError("roughness must be ≥ 0 Å.")
    table["roughness_A"] = rough
    if SLD_IMAG not in table:
        table[SLD_IMAG] = 0.0
    table[SLD_IMAG] = table[SLD_IMAG].fillna(0.0)
    return table.reset_index(drop=True)


def read_layers(path) -> pd.DataFrame:
    """A layer table from a CSV file with the :data:`LAYER_COLUMNS`."""
    from pathlib import Path

    from battlab.io.small_table import read_small_csv

    table = read_small_csv(Path(path), what="layer table", comment="#", skipinitialspace=True)
    table.columns = [str(c).strip() for c in table.columns]
    return layer_table(table)


def critical_q(delta_sld_1e6_per_A2: float) -> float:
    """Critical edge q_c = 4·√(π·Δρ) (Å⁻¹) for a backing Δρ (10⁻⁶ Å⁻²) above the fronting medium."""
    return float(4 * np.sqrt(np.pi * delta_sld_1e6_per_A2 * 1e-6)) if delta_sld_1e6_per_A2 > 0 else 0.0


def fresnel_reflectivity(q, delta_sld_1e6_per_A2: float):
    """Fresnel reflectivity of a bare, smooth interface (analytic): 1 below q_c, else ((q − q')/(q + q'))²."""
    q = np.asarray(q, float)
    qc = critical_q(delta_sld_1e6_per_A2)
    qp = np.sqrt(np.clip(q ** 2 - qc ** 2, 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = ((q - qp) / (q + qp)) ** 2
    return np.where(q <= qc, 1.0, r)


def parratt(q, thickness_A, sld, roughness_A, sld_imag=None):
    """Reflectivity of a stack by the Parratt recursion with Névot–Croce roughness.

    Parameters
    ----------
    q : array_like
        Momentum transfer (Å⁻¹).
    thickness_A, sld, roughness_A : array_like
        Per medium from fronting (index 0) to backing (last); SLD in 10⁻⁶ Å⁻²;
        roughness of the interface on top of each medium (index 0 unused).
    sld_imag : array_like, optional
        Imaginary SLD (absorption, ≥ 0) in 10⁻⁶ Å⁻².
    """
    q = np.asarray(q, float)
    d = np.asarray(thickness_A, float)
    rho = np.asarray(sld, float) * 1e-6
    rho_i = np.zeros_like(rho) if sld_imag is None else np.asarray(sld_imag, float) * 1e-6
    sig = np.asarray(roughness_A, float)
    k0 = q[:, None] / 2
    # Wave vector in each medium relative to the fronting one; +i·absorption keeps Im k ≥ 0 (decaying).
    kz = np.sqrt((k0 ** 2 - 4 * np.pi * (rho[None, :] - rho[0]) + 4j * np.pi * rho_i[None, :]).astype(complex))
    n = len(rho)
    X = np.zeros(len(q), complex)
    for j in range(n - 2, -1, -1):
        kj, kn = kz[:, j], kz[:, j + 1]
        r = (kj - kn) / (kj + kn) * np.exp(-2 * kj * kn * sig[j + 1] ** 2)
        phase = np.exp(2j * kn * d[j + 1]) if j + 1 < n - 1 else 0.0
        X = (r + X * phase) / (1 + r * X * phase)
    return np.abs(X) ** 2


def _smear(func, q, dq_sigma):
    """Gaussian resolution: ∫ R(q + t) N(t; 0, σ_q) dt by Gauss–Hermite quadrature (17 nodes)."""
    dq_sigma = np.broadcast_to(np.asarray(dq_sigma, float), q.shape)
    if not np.any(dq_sigma > 0):
        return func(q)
    x, w = np.polynomial.hermite_e.hermegauss(_HERMITE_NODES)
    w = w / w.sum()
    qq = q[:, None] + dq_sigma[:, None] * x[None, :]
    # R is even in q; negative nodes near q = 0 reflect like |q|.
    r = func(np.abs(qq).ravel()).reshape(qq.shape)
    return r @ w


def reflectivity(q, layers, *, scale: float = 1.0, background: float = 0.0, resolution_pct: float | None = None,
                 dq_inv_A=None):
    """Model R(q) of a layer table: Parratt, scale, background and Gaussian resolution.

    Parameters
    ----------
    layers : DataFrame or rows
        See :func:`layer_table`.
    resolution_pct : float, optional
        Constant dq/q as a FWHM in percent (σ_q = q·pct/100/2.3548).
    dq_inv_A : array_like, optional
        Point-wise 1σ resolution (Å⁻¹), e.g. the file's fourth column; used when given.
    """
    table = layer_table(layers)
    arrays = [table[c].to_numpy(float) for c in ("thickness_A", SLD, "roughness_A", SLD_IMAG)]
    return _model(np.asarray(q, float), arrays, scale, background, resolution_pct, dq_inv_A)


def _model(q, arrays, scale, background, resolution_pct, dq_inv_A):
    """R(q) from (thickness, sld, roughness, sld_imag) arrays: the fast path the fits use."""
    def bare(qv):
        return parratt(qv, *arrays)

    if dq_inv_A is not None and np.any(np.isfinite(dq_inv_A)):
        dq = np.where(np.isfinite(dq_inv_A), dq_inv_A, 0.0)
    elif resolution_pct:
        dq = q * float(resolution_pct) / 100 / (2 * np.sqrt(2 * np.log(2)))
    else:
        dq = np.zeros_like(q)
    return scale * _smear(bare, q, dq) + background


def sld_profile(layers, *, z_A=None, points: int = 500) -> pd.DataFrame:
    """SLD against depth z (Å) with error-function interfaces; z = 0 at the top of the first layer.

    Returns
    -------
    DataFrame
        ``z_A``, ``sld_1e-6_per_A2`` (and the interface positions in ``attrs["interfaces_A"]``).
    """
    from scipy.special import erf

    table = layer_table(layers)
    d = table["thickness_A"].to_numpy(float)
    rho = table[SLD].to_numpy(float)
    sig = table["roughness_A"].to_numpy(float)
    edges = np.r_[0.0, np.cumsum(d[1:-1])]  # interface j sits on top of medium j+1
    if z_A is None:
        pad = 4 * max(float(sig.max()), 5.0) + 0.15 * max(edges[-1], 50.0)
        z_A = np.linspace(-pad, edges[-1] + pad, points)
    z = np.asarray(z_A, float)
    profile = np.full_like(z, rho[0])
    for j, zj in enumerate(edges):
        step = rho[j + 1] - rho[j]
        s = sig[j + 1]
        profile = profile + (step * (z >= zj) if s <= 0 else step * 0.5 * (1 + erf((z - zj) / (np.sqrt(2) * s))))
    out = pd.DataFrame({"z_A": z, SLD: profile})
    out.attrs["interfaces_A"] = edges.tolist()
    return out


# --------------------------------------------------------------------------- fitting


def _parse_name(name, table):
    if name in _GLOBAL:
        return None, name
    layer, sep, col = name.partition(":")
    if not sep or col not in ("thickness_A", SLD, "roughness_A", SLD_IMAG):
        raise InvalidParameterError(f"free parameter {name!r}: write LAYER:thickness_A, LAYER:{SLD}, "
                                    "LAYER:roughness_A, scale or background.")
    if layer not in set(table["name"]):
        raise InvalidParameterError(f"free parameter {name!r}: no layer {layer!r} in the table "
                                    f"({', '.join(table['name'])}).")
    row = int(np.flatnonzero(table["name"].to_numpy() == layer)[0])
    if col == "thickness_A" and row in (0, len(table) - 1):
        raise InvalidParameterError(f"{layer!r} is semi-infinite (fronting or backing); it has no thickness to fit.")
    return row, col


def _default_bounds(name, value):
    if name == "scale":
        return 0.5 * value, 2.0 * value
    if name == "background":
        return 0.0, max(10 * abs(value), 1e-4)
    col = name.partition(":")[2]
    if col == "thickness_A":
        return 0.0, max(3.0 * value, value + 200.0)
    if col == "roughness_A":
        return 0.0, max(3.0 * value, 30.0)
    return value - max(3.0, abs(value)), value + max(3.0, abs(value))


@dataclass
class ReflectivityFit:
    """Fitted layer table, free parameters with 1σ errors, χ²_red, scale and background."""

    layers: pd.DataFrame
    params: dict
    errors: dict
    scale: float
    background: float
    reduced_chi_squared: float
    n_points: int
    resolution_pct: float | None = None
    notes: list = field(default_factory=list)

    def predict(self, q, *, dq_inv_A=None):
        return reflectivity(q, self.layers, scale=self.scale, background=self.background,
                            resolution_pct=self.resolution_pct, dq_inv_A=dq_inv_A)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{"parameter": k, "value": v, "error": self.errors.get(k, np.nan)}
                             for k, v in self.params.items()])


def fit_reflectivity(curve, layers, *, free, bounds: dict | None = None, scale: float = 1.0,
                     background: float = 0.0, resolution_pct: float | None = None, use_file_resolution: bool = True,
                     q_min_inv_A: float | None = None, q_max_inv_A: float | None = None,
                     scan_points: int = 41) -> ReflectivityFit:
    """Fit chosen layer parameters to R(q) by bounded least squares in log R.

    Parameters
    ----------
    curve : DataArray
        ``reflectivity`` over ``q_inv_A`` (:func:`battlab.scattering.read_reflectivity`).
    layers : DataFrame or rows
        Starting layer table (:func:`layer_table`); parameters not listed in ``free`` stay.
    free : sequence of str
        ``"LAYER:thickness_A"``, ``"LAYER:sld_1e-6_per_A2"``, ``"LAYER:roughness_A"``,
        ``"scale"``, ``"background"``.
    bounds : dict, optional
        ``name -> (low, high)``; defaults: thickness 0–max(3d, d + 200 Å), roughness
        0–max(3σ, 30 Å), SLD ± max(3, |ρ|), scale 0.5–2×, background 0–10×.
    resolution_pct : float, optional
        dq/q FWHM (%) when the file has no dq column (or ``use_file_resolution`` is off).
    scan_points : int
        Thickness is multimodal in fringe fits: the first free thickness is scanned over
        its bounds on this many points and the best start kept (0 = no scan).

    Notes
    -----
    Residuals are (log₁₀ R_data − log₁₀ R_model)/σ(log₁₀ R) with σ(log₁₀ R) = σ_R/(R ln 10)
    (5 % of R where the file has no σ); points with R ≤ 0 are left out. Errors: Jacobian
    covariance scaled by χ²_red when it exceeds 1.
    """
    from scipy.optimize import least_squares

    if Q_DIM not in getattr(curve, "dims", ()) or curve.ndim != 1:
        raise InvalidParameterError("expected one R(q) curve over q_inv_A; pick one curve of a series with "
                                    ".isel(time=i).")
    table = layer_table(layers)
    free = list(free)
    if not free:
        raise InvalidParameterError("choose at least one free parameter to fit.")
    q = curve[Q_DIM].to_numpy().astype(float)
    r = curve.to_numpy().astype(float)
    s = curve["sigma"].to_numpy().astype(float) if "sigma" in curve.coords else np.full_like(q, np.nan)
    dq = curve["dq_inv_A"].to_numpy().astype(float) if "dq_inv_A" in curve.coords else np.full_like(q, np.nan)
    lo = -np.inf if q_min_inv_A is None else q_min_inv_A
    hi = np.inf if q_max_inv_A is None else q_max_inv_A
    sel = (r > 0) & np.isfinite(r) & (q >= lo) & (q <= hi)
    if sel.sum() < len(free) + 3:
        raise MissingDataError(f"only {int(sel.sum())} points with R > 0 in the fit range for {len(free)} free "
                               "parameters.")
    q, r, s, dq = q[sel], r[sel], s[sel], dq[sel]
    s = np.where(np.isfinite(s) & (s > 0), s, 0.05 * r)
    slog = s / (r * np.log(10))
    ylog = np.log10(r)
    file_dq = dq if use_file_resolution and np.isfinite(dq).any() else None
    notes = []
    if file_dq is None and not resolution_pct:
        notes.append("no resolution (no dq column and no resolution_pct): R(q) not smeared.")

    where = [_parse_name(name, table) for name in free]
    globals_ = {"scale": float(scale), "background": float(background)}

    def value(k):
        row, col = where[k]
        return globals_[col] if row is None else float(table.at[row, col])

    p0 = np.array([value(k) for k in range(len(free))])
    bnd = [(bounds or {}).get(name) or _default_bounds(name, p0[k]) for k, name in enumerate(free)]
    lb = np.array([b[0] for b in bnd], float)
    ub = np.array([b[1] for b in bnd], float)
    if np.any(lb >= ub):
        raise InvalidParameterError("every bound needs low < high.")
    p0 = np.clip(p0, lb, ub)
    norm = np.where(ub - lb > 0, ub - lb, 1.0)

    columns = ("thickness_A", SLD, "roughness_A", SLD_IMAG)
    base = [table[c].to_numpy(float).copy() for c in columns]

    def build_arrays(p):
        arrays = [a.copy() for a in base]
        g = dict(globals_)
        for k, v in enumerate(p):
            row, col = where[k]
            if row is None:
                g[col] = float(v)
            else:
                arrays[columns.index(col)][row] = float(v)
        return arrays, g

    def build(p):
        arrays, g = build_arrays(p)
        t = table.copy()
        for c, a in zip(columns, arrays, strict=True):
            t[c] = a
        return t, g

    def model(p):
        arrays, g = build_arrays(p)
        return _model(q, arrays, g["scale"], g["background"], resolution_pct, file_dq)

    def resid(x):
        m = model(lb + x * norm)
        return (ylog - np.log10(np.clip(m, 1e-300, None))) / slog

    x0 = (p0 - lb) / norm
    thick = [k for k, name in enumerate(free) if name.endswith(":thickness_A")]
    if scan_points and thick:
        k = thick[0]
        best = (np.sum(resid(x0) ** 2), x0)
        for frac in np.linspace(0, 1, int(scan_points)):
            x = x0.copy()
            x[k] = frac
            cost = float(np.sum(resid(x) ** 2))
            if cost < best[0]:
                best = (cost, x)
        x0 = best[1]
    res = least_squares(resid, x0, bounds=(np.zeros_like(x0), np.ones_like(x0)), x_scale="jac", max_nfev=3000)
    p = lb + res.x * norm
    dof = max(len(q) - len(free), 1)
    chi2 = float(res.fun @ res.fun / dof)
    try:
        cov = np.linalg.pinv(res.jac.T @ res.jac) * max(chi2, 1.0)
        err = np.sqrt(np.clip(np.diag(cov), 0, None)) * norm
    except np.linalg.LinAlgError:
        err = np.full(len(free), np.nan)
    at_bound = [free[k] for k in range(len(free)) if res.x[k] < 1e-6 or res.x[k] > 1 - 1e-6]
    if at_bound:
        notes.append(f"at a bound (widen it or check the model): {', '.join(at_bound)}.")
    t, g = build(p)
    return ReflectivityFit(layers=t, params=dict(zip(free, map(float, p), strict=True)),
                           errors=dict(zip(free, map(float, err), strict=True)), scale=g["scale"],
                           background=g["background"], reduced_chi_squared=chi2, n_points=int(len(q)),
                           resolution_pct=resolution_pct if file_dq is None else None, notes=notes)


def fit_reflectivity_series(series, layers, *, free, potentials_V=None, echem: pd.DataFrame | None = None,
                            clock_offset_s: float = 0.0, time_basis: str = "auto", **options):
    """Fit every R(q) of a series; one row per curve with the fitted parameters against potential.

    Each fit starts from the previous result (layers change little between curves).
    The potential of each curve is ``potentials_V`` when given, else the curve's
    ``attrs["potential_V"]``, else joined from ``echem`` at the curve's time
    (:func:`battlab.series.curve_echem`, i.e. :func:`battlab.correlate.timeline.echem_at`).

    Returns
    -------
    table : DataFrame
        ``curve``, ``time``, ``elapsed_s``, ``potential_V`` (and the echem columns),
        each free parameter with ``_err``, ``scale``, ``background``, ``chi2_red``.
    fits : list of ReflectivityFit
    """
    if hasattr(series, "dims") and "time" in series.dims:
        curves = [series.isel(time=i) for i in range(series.sizes["time"])]
    else:
        curves = list(series) if not hasattr(series, "dims") else [series]
    if potentials_V is not None and len(potentials_V) != len(curves):
        raise InvalidParameterError(f"{len(potentials_V)} potentials for {len(curves)} curves.")
    start = layer_table(layers)
    rows, fits, notes = [], [], []
    opts = dict(options)
    # Bounds come from the starting table once: bounds that followed each previous answer
    # could shut the true value out as the layer grows.
    given = dict(opts.pop("bounds", None) or {})
    glob = {"scale": float(opts.get("scale", 1.0)), "background": float(opts.get("background", 0.0))}
    bounds = {}
    for name in free:
        row, col = _parse_name(name, start)
        bounds[name] = given.get(name) or _default_bounds(name, glob[col] if row is None else float(start.at[row, col]))
    opts["bounds"] = bounds
    for i, c in enumerate(curves):
        checkpoint()  # an app stops here when its user has already moved on
        row = {"curve": i}
        if "time" in c.coords:
            row["time"] = c["time"].to_numpy()
            row["elapsed_s"] = float(c["elapsed_s"]) if "elapsed_s" in c.coords else np.nan
        if potentials_V is not None:
            row["potential_V"] = float(potentials_V[i])
        elif c.attrs.get("potential_V") is not None:
            row["potential_V"] = float(c.attrs["potential_V"])
        try:
            fit = fit_reflectivity(c, start, free=free, **opts)
        except BattlabError as exc:
            notes.append(f"curve {i}: not fitted ({exc})")
            rows.append(row)
            fits.append(None)
            continue
        start = fit.layers
        opts["scale"], opts["background"] = fit.scale, fit.background
        for k, v in fit.params.items():
            row[k], row[f"{k}_err"] = v, fit.errors[k]
        row.update(scale=fit.scale, background=fit.background, chi2_red=fit.reduced_chi_squared)
        rows.append(row)
        fits.append(fit)
    table = join_echem(pd.DataFrame(rows), series, echem, clock_offset_s=clock_offset_s, time_basis=time_basis,
                       label="reflectivity curves")
    if "potential_V" not in table and "voltage_V" in table:
        table["potential_V"] = table["voltage_V"]
    table.attrs["notes"] = notes
    return table, fits
